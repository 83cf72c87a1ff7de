// The in-call panel's conference and recording controls, rendered in
// jsdom with the IPC module replaced: Merge appears with a second answered
// call and merges the two, the conference shows with Split, Record and
// Stop recording toggle with an indicator, and the file (or the failure)
// shows once the engine reports the recording complete. The engine side
// is proven against baresip by crates/cli/tests/conference.rs.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup } from "@testing-library/svelte";
import type { Event } from "../src/lib/bindings/Event";
import { info, ms } from "./fixtures";

let emit: (e: Event) => void = () => {};
const accounts = [
  { name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } },
];
vi.mock("../src/lib/ipc", () => ({
  engineStatus: vi.fn(async () => ({ version: "9.9.9", accounts })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return () => {};
  }),
  contacts: vi.fn(async () => []),
  conversations: vi.fn(async () => []),
  onLinkError: vi.fn(async () => () => {}),
  unseenMissedCalls: vi.fn(async () => 0),
  holdCall: vi.fn(async () => {}),
  hangupCall: vi.fn(async () => {}),
  muteCall: vi.fn(async () => {}),
  mergeCalls: vi.fn(async () => 1),
  splitCall: vi.fn(async () => {}),
  startRecording: vi.fn(async () => "/data/recordings/x.wav"),
  stopRecording: vi.fn(async () => {}),
}));

import App from "../src/App.svelte";
import { app } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

async function start() {
  location.hash = "";
  render(App);
  await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Registered"));
}

const bob = (over = {}) => info({ id: 1, state: "connected", answered_ms: ms(Date.now()), peer_name: "Bob", ...over });
const carol = (over = {}) =>
  info({ id: 2, state: "connected", answered_ms: ms(Date.now()), peer_name: "Carol", peer_uri: "sip:carol@127.0.0.1", ...over });

beforeEach(() => {
  vi.clearAllMocks();
  localStorage.clear();
  app.calls = [];
  app.pickedCall = null;
});
afterEach(() => cleanup());

describe("conference", () => {
  it("offers Merge only with a second answered call, merges, shows the conference and splits", async () => {
    await start();
    emit({ event: "call_state", call: bob() });
    await screen.findByTestId("call-panel");
    expect(screen.queryByTestId("call-merge")).toBeNull();
    emit({ event: "call_state", call: bob({ state: "on_hold", held_by_us: true }) });
    emit({ event: "call_state", call: carol({ state: "ringing", answered_ms: null }) });
    app.pickedCall = 2;
    await waitFor(() => expect(screen.getByTestId("call-peer").textContent).toBe("Carol"));
    expect(screen.queryByTestId("call-merge")).toBeNull();

    emit({ event: "call_state", call: carol() });
    const merge = await screen.findByRole("button", { name: "Merge with Bob into a conference" });
    await fireEvent.click(merge);
    expect(ipc.mergeCalls).toHaveBeenCalledWith(2, 1);

    emit({ event: "call_state", call: bob({ conference: 1 }) });
    emit({ event: "call_state", call: carol({ conference: 1 }) });
    await waitFor(() => expect(screen.getByTestId("call-conference").textContent?.trim()).toBe("Conference with Carol, Bob"));
    expect(screen.queryByTestId("call-merge")).toBeNull();
    await fireEvent.click(screen.getByTestId("call-split"));
    expect(ipc.splitCall).toHaveBeenCalledWith(2);

    emit({ event: "call_state", call: carol({ conference: null, state: "on_hold", held_by_us: true }) });
    emit({ event: "call_state", call: bob({ conference: null }) });
    await waitFor(() => expect(screen.queryByTestId("call-conference")).toBeNull());
    expect(screen.queryByTestId("call-split")).toBeNull();
  });

  it("shows a refused merge next to the call", async () => {
    vi.mocked(ipc.mergeCalls).mockRejectedValueOnce(new Error("call 1: cannot join a conference now"));
    await start();
    emit({ event: "call_state", call: bob() });
    emit({ event: "call_state", call: carol() });
    app.pickedCall = 2;
    await fireEvent.click(await screen.findByTestId("call-merge"));
    expect((await screen.findByRole("alert")).textContent).toBe("call 1: cannot join a conference now");
  });
});

describe("recording", () => {
  it("records, shows the indicator, stops and shows where the file went", async () => {
    await start();
    emit({ event: "call_state", call: bob() });
    const rec = await screen.findByTestId("call-record");
    expect(rec.textContent).toBe("Record");
    await fireEvent.click(rec);
    expect(ipc.startRecording).toHaveBeenCalledWith(1);
    const path = "/data/recordings/2026-11-24_09-30-15Z_Bob.wav";
    emit({ event: "call_state", call: bob({ recording: path }) });
    emit({ event: "recording", id: 1, path, active: true, error: null });
    await waitFor(() => expect(screen.getByTestId("call-recording").textContent).toBe("Recording"));
    expect(screen.getByTestId("call-record").getAttribute("aria-pressed")).toBe("true");
    await fireEvent.click(screen.getByRole("button", { name: "Stop recording" }));
    expect(ipc.stopRecording).toHaveBeenCalledWith(1);

    emit({ event: "call_state", call: bob({ recording: null }) });
    emit({ event: "recording", id: 1, path, active: false, error: null });
    await waitFor(() => expect(screen.getByTestId("call-recorded").textContent?.trim()).toBe(`Recording saved to ${path}`));
    expect(screen.queryByTestId("call-recording")).toBeNull();
  });

  it("says why a recording stopped early, and the call goes on", async () => {
    await start();
    const path = "/full/disk.wav";
    emit({ event: "call_state", call: bob({ recording: path }) });
    emit({ event: "call_state", call: bob({ recording: null }) });
    emit({ event: "recording", id: 1, path, active: false, error: "recording to /full/disk.wav failed: No space left on device" });
    await waitFor(() =>
      expect(screen.getByTestId("call-recorded").textContent?.trim()).toBe(
        "Recording stopped: recording to /full/disk.wav failed: No space left on device",
      ),
    );
    expect(screen.getByTestId("call-state").textContent).toBe("Connected");
    expect(screen.getByTestId("call-record").textContent).toBe("Record");
  });
});

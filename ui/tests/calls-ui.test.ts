// The call screens rendered in jsdom with the IPC module replaced: the
// dialpad starts calls, the incoming panel answers/declines, the in-call
// panel drives hold/mute/DTMF/hang-up, call waiting and switching hold the
// right call. The real engine is exercised by tests/e2e.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup } from "@testing-library/svelte";
import type { Event } from "../src/lib/bindings/Event";
import { info, ms } from "./fixtures";

let emit: (e: Event) => void = () => {};
const accounts = [
  { name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } },
  { name: "Home", uri: "sip:alice@home.example", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } },
];
vi.mock("../src/lib/ipc", () => ({
  engineStatus: vi.fn(async () => ({ version: "9.9.9", accounts })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return () => {};
  }),
  addAccount: vi.fn(async () => {}),
  removeAccount: vi.fn(async () => {}),
  contacts: vi.fn(async () => []),
  conversations: vi.fn(async () => []),
  onLinkError: vi.fn(async () => () => {}),
  unseenMissedCalls: vi.fn(async () => 0),
  dial: vi.fn(async () => 7),
  answerCall: vi.fn(async () => {}),
  rejectCall: vi.fn(async () => {}),
  hangupCall: vi.fn(async () => {}),
  holdCall: vi.fn(async () => {}),
  muteCall: vi.fn(async () => {}),
  sendDtmf: vi.fn(async () => {}),
}));

import App from "../src/App.svelte";
import { app } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

async function start(hash = "") {
  location.hash = hash;
  render(App);
  await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Registered"));
}

beforeEach(() => {
  vi.clearAllMocks();
  localStorage.clear();
  app.calls = [];
  app.pickedCall = null;
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("dialpad", () => {
  it("calls the typed number from the first account, by button and by Enter", async () => {
    await start("#/dialpad");
    const input = screen.getByRole("textbox", { name: "Number or SIP address" });
    await fireEvent.input(input, { target: { value: "bob" } });
    expect(screen.getByTestId("dial-target").textContent).toBe("sip:bob@127.0.0.1");
    await fireEvent.click(screen.getByRole("button", { name: "Call" }));
    await waitFor(() => expect(ipc.dial).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1"));
    await waitFor(() => expect((input as HTMLInputElement).value).toBe(""));

    await fireEvent.input(input, { target: { value: "sip:carol@example.org" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(ipc.dial).toHaveBeenLastCalledWith("Work", "sip:carol@example.org"));
  });

  it("calls from the chosen account and takes keypad keys and paste", async () => {
    await start("#/dialpad");
    await fireEvent.change(screen.getByTestId("dial-account"), { target: { value: "Home" } });
    await fireEvent.keyDown(window, { key: "1" });
    await fireEvent.keyDown(window, { key: "2" });
    await fireEvent.click(screen.getByRole("button", { name: "Digit 3" }));
    expect(screen.getByTestId("dial-target").textContent).toBe("sip:123@home.example");
    await fireEvent.keyDown(window, { key: "Backspace" });
    await fireEvent.keyDown(window, { key: "Enter" });
    await waitFor(() => expect(ipc.dial).toHaveBeenCalledWith("Home", "sip:12@home.example"));

    const paste = new Event("paste", { bubbles: true, cancelable: true }) as ClipboardEvent;
    Object.defineProperty(paste, "clipboardData", { value: { getData: () => "+49 30 1234-56\n" } });
    window.dispatchEvent(paste);
    await waitFor(() => expect(screen.getByTestId("dial-target").textContent).toBe("sip:+4930123456@home.example"));
  });

  it("offers redial of the last target and shows a failed call's reason", async () => {
    localStorage.setItem("parley.lastDialled", "bob");
    await start("#/dialpad");
    vi.mocked(ipc.dial).mockRejectedValueOnce(new Error("no account \"Work\""));
    await fireEvent.click(screen.getByRole("button", { name: "Redial bob" }));
    expect(ipc.dial).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1");
    await waitFor(() => expect(screen.getByTestId("dial-error").textContent).toBe('no account "Work"'));
    expect(screen.getByRole("button", { name: "Call" })).toBeTruthy();
  });

  it("shows progress while the engine starts the call", async () => {
    let finish: (id: number) => void = () => {};
    vi.mocked(ipc.dial).mockImplementationOnce(() => new Promise((r) => (finish = r)));
    await start("#/dialpad");
    await fireEvent.input(screen.getByRole("textbox", { name: "Number or SIP address" }), { target: { value: "bob" } });
    await fireEvent.click(screen.getByRole("button", { name: "Call" }));
    const busy = screen.getByRole("button", { name: "Calling…" });
    expect(busy.getAttribute("aria-busy")).toBe("true");
    expect((busy as HTMLButtonElement).disabled).toBe(true);
    finish(7);
    await waitFor(() => expect(screen.queryByRole("button", { name: "Calling…" })).toBeNull());
  });
});

describe("incoming call", () => {
  it("takes focus and answers, declines or sends busy", async () => {
    await start();
    emit({ event: "incoming_call", call: info({ id: 3, direction: "incoming", state: "incoming", peer_name: "Bob" }) });
    const dialog = await screen.findByRole("alertdialog", { name: "Incoming call" });
    const answer = screen.getByRole("button", { name: "Answer" });
    await waitFor(() => expect(document.activeElement).toBe(answer));
    expect(dialog.textContent).toContain("Bob");
    await fireEvent.click(answer);
    expect(ipc.answerCall).toHaveBeenCalledWith(3);
    expect(ipc.holdCall).not.toHaveBeenCalled();

    await fireEvent.click(screen.getByRole("button", { name: "Busy" }));
    expect(ipc.rejectCall).toHaveBeenLastCalledWith(3, true);
    await fireEvent.click(screen.getByRole("button", { name: "Decline" }));
    expect(ipc.rejectCall).toHaveBeenLastCalledWith(3, false);
    await fireEvent.keyDown(dialog, { key: "Escape" });
    expect(ipc.rejectCall).toHaveBeenCalledTimes(3);

    emit({ event: "call_ended", call: info({ id: 3, direction: "incoming", state: "ended", peer_name: "Bob" }), end: { outcome: "rejected", status: 603, reason: "Decline" } });
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    expect(screen.getByTestId("call-end").textContent).toBe("Decline (603)");
  });

  it("rings as call waiting and holds the talking call before answering", async () => {
    await start();
    emit({ event: "call_state", call: info({ id: 1, state: "connected", answered_ms: ms(Date.now()) }) });
    emit({ event: "incoming_call", call: info({ id: 2, direction: "incoming", state: "incoming", peer_uri: "sip:carol@127.0.0.1" }) });
    await screen.findByRole("alertdialog", { name: "Call waiting" });
    expect(screen.getByTestId("call-peer").textContent).toBe("bob");
    await fireEvent.click(screen.getByRole("button", { name: "Hold and answer" }));
    await waitFor(() => expect(ipc.answerCall).toHaveBeenCalledWith(2));
    expect(ipc.holdCall).toHaveBeenCalledWith(1, true);
    expect(vi.mocked(ipc.holdCall).mock.invocationCallOrder[0]).toBeLessThan(vi.mocked(ipc.answerCall).mock.invocationCallOrder[0]);

    // The engine reports both: call 2 talks, call 1 is held; switch back.
    emit({ event: "call_state", call: info({ id: 1, state: "on_hold", held_by_us: true, answered_ms: ms(Date.now()) }) });
    emit({ event: "call_state", call: info({ id: 2, direction: "incoming", state: "connected", peer_uri: "sip:carol@127.0.0.1", answered_ms: ms(Date.now()) }) });
    await waitFor(() => expect(screen.getByTestId("call-peer").textContent).toBe("carol"));
    vi.mocked(ipc.holdCall).mockClear();
    await fireEvent.click(screen.getByRole("button", { name: "Switch to the call with bob" }));
    await waitFor(() => expect(ipc.holdCall).toHaveBeenCalledTimes(2));
    expect(vi.mocked(ipc.holdCall).mock.calls).toEqual([
      [2, true],
      [1, false],
    ]);
    await waitFor(() => expect(screen.getByTestId("call-peer").textContent).toBe("bob"));
  });
});

describe("in-call panel", () => {
  it("follows the state, runs the timer and drives the call", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const t0 = Date.now();
    await start();
    emit({ event: "call_state", call: info({ id: 5, state: "ringing", started_ms: ms(t0) }) });
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toBe("Ringing…"));
    await fireEvent.click(screen.getByRole("button", { name: "Cancel call" }));
    expect(ipc.hangupCall).toHaveBeenCalledWith(5);

    emit({ event: "call_state", call: info({ id: 5, state: "connected", started_ms: ms(t0), answered_ms: ms(t0), codec: "PCMU/8000" }) });
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toBe("Connected"));
    vi.advanceTimersByTime(65_000);
    await waitFor(() => expect(screen.getByTestId("call-timer").textContent).toBe("1:05"));
    expect(screen.getByTestId("call-codec").textContent).toBe("PCMU/8000");

    emit({ event: "call_quality", id: 5, quality: { loss_pct: 0, jitter_ms: 2, rtt_ms: null, mos: 4.4 } });
    await waitFor(() => expect(screen.getByTestId("call-quality").textContent).toContain("Quality: Good"));
    expect(screen.getByTestId("call-quality").getAttribute("title")).toBe("MOS 4.4, loss 0.0%, jitter 2 ms, PCMU/8000");

    await fireEvent.click(screen.getByRole("button", { name: "Hold" }));
    expect(ipc.holdCall).toHaveBeenCalledWith(5, true);
    emit({ event: "call_state", call: info({ id: 5, state: "on_hold", held_by_us: true, started_ms: ms(t0), answered_ms: ms(t0) }) });
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toBe("On hold"));
    const resume = screen.getByRole("button", { name: "Resume" });
    expect(resume.getAttribute("aria-pressed")).toBe("true");
    await fireEvent.click(resume);
    expect(ipc.holdCall).toHaveBeenLastCalledWith(5, false);

    emit({ event: "call_state", call: info({ id: 5, state: "connected", started_ms: ms(t0), answered_ms: ms(t0) }) });
    await fireEvent.click(await screen.findByRole("button", { name: "Mute" }));
    expect(ipc.muteCall).toHaveBeenCalledWith(5, true);

    await fireEvent.click(screen.getByRole("button", { name: "Keypad" }));
    await fireEvent.click(screen.getByRole("button", { name: "Tone 4" }));
    await fireEvent.keyDown(screen.getByRole("group", { name: "Send tones" }), { key: "#" });
    expect(vi.mocked(ipc.sendDtmf).mock.calls).toEqual([
      [5, "4"],
      [5, "#"],
    ]);
    expect(screen.getByTestId("dtmf-sent").textContent).toBe("4#");
    emit({ event: "dtmf", id: 5, digit: "9" });
    await waitFor(() => expect(screen.getByTestId("dtmf-in").textContent).toBe("Received: 9"));

    await fireEvent.click(screen.getByRole("button", { name: "Hang up" }));
    expect(ipc.hangupCall).toHaveBeenLastCalledWith(5);
  });

  it("shows why a call ended, then clears it", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    await start();
    emit({ event: "call_state", call: info({ id: 6 }) });
    emit({ event: "call_ended", call: info({ id: 6, state: "ended" }), end: { outcome: "rejected", status: 486, reason: "Busy Here" } });
    await waitFor(() => expect(screen.getByTestId("call-end").textContent).toBe("Busy Here (486)"));
    expect(screen.getByTestId("call-state").textContent).toBe("Call ended");
    vi.advanceTimersByTime(6500);
    await waitFor(() => expect(screen.queryByTestId("calls")).toBeNull());
  });

  it("reports a refused command next to the call", async () => {
    vi.mocked(ipc.holdCall).mockRejectedValueOnce(new Error("no such call"));
    await start();
    emit({ event: "call_state", call: info({ id: 8, state: "connected", answered_ms: ms(Date.now()) }) });
    await fireEvent.click(await screen.findByRole("button", { name: "Hold" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("no such call"));
  });
});

// Settings → Sound and codecs: the logic, and the section with the IPC
// module replaced.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup } from "@testing-library/svelte";
import { codecRows, codecsFromRows, deviceChoices, moveRow } from "../src/lib/media";
import type { MediaSettings } from "../src/lib/bindings/MediaSettings";

const base = (): MediaSettings => ({
  input: null,
  output: "Headset",
  ringer: null,
  echo_cancellation: true,
  noise_suppression: true,
  auto_gain: true,
  codecs: ["g722", "opus"],
});

vi.mock("../src/lib/ipc", () => ({
  mediaSettings: vi.fn(async () => base()),
  setMediaSettings: vi.fn(async () => {}),
  // The sound test runs while the section is shown (tests in sound-test.test.ts).
  onEngineEvent: vi.fn(async () => () => {}),
  startAudioTest: vi.fn(async () => {}),
  stopAudioTest: vi.fn(async () => {}),
  playTestSound: vi.fn(async () => {}),
  audioDevices: vi.fn(async () => ({
    inputs: [{ id: "mic1", name: "Built-in Mic", is_default: true }],
    outputs: [
      { id: "spk1", name: "Speakers", is_default: true },
      { id: "hs1", name: "Headset", is_default: false },
    ],
  })),
}));

import AudioSettings from "../src/components/AudioSettings.svelte";
import * as ipc from "../src/lib/ipc";

describe("codec rows", () => {
  it("lists used codecs in order, then the rest off", () => {
    expect(codecRows(base())).toEqual([
      { codec: "g722", on: true },
      { codec: "opus", on: true },
      { codec: "pcmu", on: false },
      { codec: "pcma", on: false },
    ]);
  });

  it("moves within bounds and needs one codec on", () => {
    const rows = codecRows(base());
    expect(moveRow(rows, 1, -1).map((r) => r.codec)).toEqual(["opus", "g722", "pcmu", "pcma"]);
    expect(moveRow(rows, 0, -1)).toBe(rows);
    expect(moveRow(rows, 3, 1)).toBe(rows);
    expect(codecsFromRows(rows)).toEqual({ codecs: ["g722", "opus"] });
    expect(codecsFromRows(rows.map((r) => ({ ...r, on: false })))).toEqual({ error: "Keep at least one codec." });
  });

  it("offers the default, each device, and a saved one that is gone", () => {
    const outs = [
      { id: "spk1", name: "Speakers", is_default: true },
      { id: "hs1", name: "Headset", is_default: false },
    ];
    expect(deviceChoices(outs, "Headset", "System default")).toEqual([
      { value: "", label: "System default" },
      { value: "spk1", label: "Speakers (default)" },
      { value: "Headset", label: "Headset" },
    ]);
    expect(deviceChoices(outs, "USB Phone", "System default").at(-1)).toEqual({
      value: "USB Phone",
      label: "USB Phone (not connected)",
    });
  });
});

describe("sound settings section", () => {
  beforeEach(() => vi.clearAllMocks());
  afterEach(cleanup);

  it("loads, reorders codecs, switches a stage off and saves", async () => {
    render(AudioSettings);
    expect(screen.getByText("Reading the sound devices…")).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId("codec-list")).toBeTruthy());
    expect((screen.getByTestId("audio-output") as HTMLSelectElement).value).toBe("Headset");
    await fireEvent.click(screen.getByLabelText("Move Opus up"));
    await fireEvent.click(screen.getByTestId("codec-pcmu"));
    await fireEvent.click(screen.getByTestId("audio-ns"));
    await fireEvent.submit(screen.getByTestId("audio-save").closest("form")!);
    await waitFor(() => expect(screen.getByTestId("audio-status").textContent).toBe("Saved. New calls use these settings."));
    expect(ipc.setMediaSettings).toHaveBeenCalledWith({
      ...base(),
      noise_suppression: false,
      codecs: ["opus", "g722", "pcmu"],
    });
  });

  it("refuses no codec at all and shows the engine's refusal", async () => {
    render(AudioSettings);
    await waitFor(() => expect(screen.getByTestId("codec-list")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("codec-g722"));
    await fireEvent.click(screen.getByTestId("codec-opus"));
    await fireEvent.submit(screen.getByTestId("audio-save").closest("form")!);
    expect(screen.getByTestId("audio-status").textContent).toBe("Keep at least one codec.");
    expect(ipc.setMediaSettings).not.toHaveBeenCalled();

    await fireEvent.click(screen.getByTestId("codec-pcma"));
    vi.mocked(ipc.setMediaSettings).mockRejectedValueOnce(new Error("media settings: device must be a device name"));
    await fireEvent.submit(screen.getByTestId("audio-save").closest("form")!);
    await waitFor(() =>
      expect(screen.getByTestId("audio-status").textContent).toBe("Cannot save: media settings: device must be a device name"),
    );
  });

  it("says so when the settings cannot be read", async () => {
    vi.mocked(ipc.mediaSettings).mockRejectedValueOnce(new Error("the engine has stopped"));
    render(AudioSettings);
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("Cannot read the sound settings: the engine has stopped"));
  });
});

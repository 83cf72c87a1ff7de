// Settings → Sound: the live level meter, the echo test and the test
// sound; the logic, and the section with the IPC module replaced (engine
// events are fed in by hand).
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup } from "@testing-library/svelte";
import { echoRunning, idleTest, levelText, meterValue, soundTestEvent, soundTestStatus, type SoundTest } from "../src/lib/media";
import type { Event } from "../src/lib/bindings/Event";
import type { MediaSettings } from "../src/lib/bindings/MediaSettings";

const settings = (): MediaSettings => ({
  input: "mic1",
  output: null,
  ringer: "bell",
  echo_cancellation: true,
  noise_suppression: true,
  auto_gain: true,
  codecs: ["opus"],
});

let emit: (e: Event) => void = () => {};
const unlisten = vi.fn();

vi.mock("../src/lib/ipc", () => ({
  mediaSettings: vi.fn(async () => settings()),
  setMediaSettings: vi.fn(async () => {}),
  audioDevices: vi.fn(async () => ({
    inputs: [{ id: "mic1", name: "Built-in Mic", is_default: true }],
    outputs: [
      { id: "spk1", name: "Speakers", is_default: true },
      { id: "bell", name: "Desk bell", is_default: false },
    ],
  })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return unlisten;
  }),
  startAudioTest: vi.fn(async () => {}),
  stopAudioTest: vi.fn(async () => {}),
  playTestSound: vi.fn(async () => {}),
}));

import AudioSettings from "../src/components/AudioSettings.svelte";
import * as ipc from "../src/lib/ipc";

const level = (rms_db: number, peak_db: number): Event => ({ event: "audio_test_level", rms_db, peak_db });
const state = (s: "metering" | "recording" | "playing_back"): Event => ({ event: "audio_test", state: { state: s } });

describe("sound test logic", () => {
  it("maps dBFS onto the meter's 0-100 scale", () => {
    expect(meterValue(-100)).toBe(0);
    expect(meterValue(-60)).toBe(0);
    expect(meterValue(-30)).toBe(50);
    expect(meterValue(0)).toBe(100);
    expect(meterValue(3)).toBe(100);
    expect(meterValue(Number.NaN)).toBe(0);
    expect(levelText(-100)).toBe("silence");
    expect(levelText(-12.4)).toBe("-12 dBFS");
  });

  it("follows the engine's events: levels only while running, phases, stop reasons", () => {
    let s: SoundTest = idleTest();
    s = soundTestEvent(s, level(-20, -10));
    expect(s.rmsDb).toBe(-100);
    s = soundTestEvent(s, state("metering"));
    s = soundTestEvent(s, level(-20, -10));
    expect(s).toMatchObject({ phase: "metering", rmsDb: -20, peakDb: -10 });
    expect(soundTestStatus(s)).toBe("Listening to the microphone.");
    s = soundTestEvent(s, state("recording"));
    expect(echoRunning(s)).toBe(true);
    expect(soundTestStatus(s)).toBe("Recording: say something…");
    s = soundTestEvent(s, state("playing_back"));
    expect(soundTestStatus(s)).toBe("Playing back what you said…");
    const other: Event = { event: "dtmf", id: 1, digit: "5" };
    expect(soundTestEvent(s, other)).toBe(s);
    s = soundTestEvent(s, { event: "audio_test", state: { state: "stopped", reason: { why: "call_started" } } });
    expect(s).toMatchObject({ phase: "stopped", rmsDb: -100 });
    expect(echoRunning(s)).toBe(false);
    expect(soundTestStatus(s)).toBe("Stopped: a call is using the sound devices.");
    const failed = soundTestEvent(s, {
      event: "audio_test",
      state: { state: "stopped", reason: { why: "device_failed", reason: "Built-in Mic: device unplugged" } },
    });
    expect(soundTestStatus(failed)).toBe("Stopped: Built-in Mic: device unplugged");
    expect(soundTestStatus(soundTestEvent(s, { event: "audio_test", state: { state: "stopped", reason: { why: "timed_out" } } }))).toBe(
      "Stopped after 15 minutes.",
    );
  });
});

describe("sound test in the section", () => {
  beforeEach(() => {
    vi.clearAllMocks();
    emit = () => {};
  });
  afterEach(cleanup);

  const meter = () => screen.getByRole("meter", { name: "Microphone level" });

  it("meters from opening, runs the echo test, and stops when closed", async () => {
    const { unmount } = render(AudioSettings);
    await waitFor(() => expect(ipc.startAudioTest).toHaveBeenCalledWith({ input: "mic1", output: null, echo: false }));
    expect(screen.getByTestId("audio-test-status").textContent).toBe("Opening the sound devices…");
    emit(state("metering"));
    emit(level(-30, -12));
    await waitFor(() => expect(meter().getAttribute("aria-valuenow")).toBe("50"));
    expect(meter().getAttribute("aria-valuetext")).toBe("-30 dBFS");
    emit(level(-6, -1));
    await waitFor(() => expect(meter().getAttribute("aria-valuenow")).toBe("90"));

    await fireEvent.click(screen.getByRole("button", { name: "Echo test" }));
    expect(ipc.startAudioTest).toHaveBeenLastCalledWith({ input: "mic1", output: null, echo: true });
    emit(state("recording"));
    await waitFor(() => expect(screen.getByTestId("audio-test-status").textContent).toBe("Recording: say something…"));
    emit(state("playing_back"));
    await waitFor(() => expect(screen.getByTestId("audio-test-status").textContent).toBe("Playing back what you said…"));
    await fireEvent.click(screen.getByRole("button", { name: "Stop echo test" }));
    expect(ipc.startAudioTest).toHaveBeenLastCalledWith({ input: "mic1", output: null, echo: false });
    emit(state("metering"));
    await waitFor(() => expect(screen.getByRole("button", { name: "Echo test" })).toBeTruthy());

    // Another microphone: the test moves to it.
    await fireEvent.change(screen.getByTestId("audio-input"), { target: { value: "" } });
    expect(ipc.startAudioTest).toHaveBeenLastCalledWith({ input: null, output: null, echo: false });

    unmount();
    expect(ipc.stopAudioTest).toHaveBeenCalledTimes(1);
    expect(unlisten).toHaveBeenCalled();
  });

  it("shows a refusal and a stop, and starts again on request", async () => {
    vi.mocked(ipc.startAudioTest).mockRejectedValueOnce(new Error("no input device named \"mic1\""));
    render(AudioSettings);
    await waitFor(() =>
      expect(screen.getByTestId("audio-test-status").textContent).toBe('The sound test cannot start: no input device named "mic1"'),
    );
    await fireEvent.click(screen.getByRole("button", { name: "Start the sound test again" }));
    emit(state("metering"));
    await waitFor(() => expect(screen.getByRole("button", { name: "Echo test" })).toBeTruthy());
    emit({ event: "audio_test", state: { state: "stopped", reason: { why: "call_started" } } });
    await waitFor(() =>
      expect(screen.getByTestId("audio-test-status").textContent).toBe("Stopped: a call is using the sound devices."),
    );
    expect(meter().getAttribute("aria-valuenow")).toBe("0");
    expect(screen.getByRole("button", { name: "Start the sound test again" })).toBeTruthy();
  });

  it("plays the test sound on the speaker or the ringtone device, with progress and errors", async () => {
    let done: () => void = () => {};
    vi.mocked(ipc.playTestSound).mockImplementationOnce(() => new Promise<void>((r) => (done = r)));
    render(AudioSettings);
    await waitFor(() => expect(screen.getByTestId("audio-play-ringer")).toBeTruthy());
    await fireEvent.click(screen.getByRole("button", { name: "Play test sound on the ringtone device" }));
    expect(ipc.playTestSound).toHaveBeenCalledWith("bell");
    expect(screen.getByTestId("audio-play-ringer").textContent).toBe("Playing…");
    expect((screen.getByTestId("audio-play-output") as HTMLButtonElement).disabled).toBe(true);
    done();
    await waitFor(() => expect(screen.getByTestId("audio-play-ringer").textContent).toBe("Play test sound"));

    vi.mocked(ipc.playTestSound).mockRejectedValueOnce(new Error("a call is using the sound devices"));
    await fireEvent.click(screen.getByRole("button", { name: "Play test sound on the speaker" }));
    expect(ipc.playTestSound).toHaveBeenLastCalledWith(null);
    await waitFor(() =>
      expect(screen.getByTestId("audio-sound-error").textContent).toBe("Cannot play the test sound: a call is using the sound devices"),
    );
  });
});

// Sound settings logic: the codec list as the screen shows it (every codec,
// the used ones first in their order), the choices of a device select, and
// the sound test's state (meter, echo test) from the engine's events.
import type { AudioDevice } from "./bindings/AudioDevice";
import type { AudioTestState } from "./bindings/AudioTestState";
import type { AudioTestStop } from "./bindings/AudioTestStop";
import type { Event } from "./bindings/Event";
import type { CodecName } from "./bindings/CodecName";
import type { MediaSettings } from "./bindings/MediaSettings";
import { t } from "./i18n.svelte";

/** Every codec Parley has, in its default order. */
export const ALL_CODECS: CodecName[] = ["opus", "g722", "pcmu", "pcma"];

/** How a codec is named to people. */
export const CODEC_LABELS: Record<CodecName, string> = {
  opus: "Opus",
  g722: "G.722",
  pcmu: "G.711 µ-law (PCMU)",
  pcma: "G.711 A-law (PCMA)",
};

export interface CodecRow {
  codec: CodecName;
  on: boolean;
}

/** The rows: used codecs in the settings' order, then the unused ones. */
export function codecRows(s: MediaSettings): CodecRow[] {
  const used = s.codecs.filter((c) => ALL_CODECS.includes(c));
  const rest = ALL_CODECS.filter((c) => !used.includes(c));
  return [...used.map((codec) => ({ codec, on: true })), ...rest.map((codec) => ({ codec, on: false }))];
}

/** Moves row `i` one place up (-1) or down (+1); out of range: unchanged. */
export function moveRow(rows: CodecRow[], i: number, by: -1 | 1): CodecRow[] {
  const j = i + by;
  if (i < 0 || i >= rows.length || j < 0 || j >= rows.length) return rows;
  const out = rows.slice();
  [out[i], out[j]] = [out[j], out[i]];
  return out;
}

/** The settings' codec list from the rows, or an error when none is on. */
export function codecsFromRows(rows: CodecRow[]): { codecs: CodecName[] } | { error: string } {
  const codecs = rows.filter((r) => r.on).map((r) => r.codec);
  return codecs.length ? { codecs } : { error: t("audio.oneCodec") };
}

export interface DeviceChoice {
  /** `""` for the default. */
  value: string;
  label: string;
}

/**
 * The options of a device select: the default first, then each device
 * (marked when it is the system's default), and the saved choice kept
 * visible when that device is not connected now.
 */
export function deviceChoices(devices: AudioDevice[], saved: string | null, defaultLabel: string): DeviceChoice[] {
  const out: DeviceChoice[] = [{ value: "", label: defaultLabel }];
  for (const d of devices) {
    const label = d.is_default ? t("audio.defaultMark", { name: d.name }) : d.name;
    // A choice saved by name keeps matching its device.
    out.push({ value: saved && d.name === saved ? saved : d.id || d.name, label });
  }
  if (saved && !devices.some((d) => d.id === saved || d.name === saved)) {
    out.push({ value: saved, label: t("audio.missing", { name: saved }) });
  }
  return out;
}

// --- The sound test: live microphone level, echo test, test sound. ---

/** The bottom of the level meter's scale, dBFS (quieter reads empty). */
export const METER_FLOOR_DB = -60;

/** A level in dBFS as the meter's 0-100 value. */
export function meterValue(db: number): number {
  if (!Number.isFinite(db)) return 0;
  const v = ((db - METER_FLOOR_DB) / -METER_FLOOR_DB) * 100;
  return Math.round(Math.min(100, Math.max(0, v)));
}

/** Where the screen's sound test stands: `starting` until the engine has opened the devices. */
export type SoundTestPhase = AudioTestState["state"] | "starting" | "idle" | "failed";

export interface SoundTest {
  phase: SoundTestPhase;
  /** Microphone RMS and peak, dBFS. */
  rmsDb: number;
  peakDb: number;
  /** Why it stopped or failed, shown as is. */
  text: string | null;
}

export const idleTest = (): SoundTest => ({ phase: "idle", rmsDb: -100, peakDb: -100, text: null });

/** Applies one engine event to the sound test (others leave it as it is). */
export function soundTestEvent(s: SoundTest, e: Event): SoundTest {
  switch (e.event) {
    case "audio_test_level":
      if (s.phase === "idle" || s.phase === "stopped" || s.phase === "failed") return s;
      return { ...s, rmsDb: e.rms_db, peakDb: e.peak_db };
    case "audio_test":
      if (e.state.state === "stopped") {
        return { phase: "stopped", rmsDb: -100, peakDb: -100, text: stopText(e.state.reason) };
      }
      return { ...s, phase: e.state.state, text: null };
    default:
      return s;
  }
}

function stopText(r: AudioTestStop): string {
  switch (r.why) {
    case "requested":
      return t("audio.stopped.requested");
    case "call_started":
      return t("audio.stopped.call");
    case "timed_out":
      return t("audio.stopped.timeout");
    case "device_failed":
      return t("audio.stopped.device", { reason: r.reason });
  }
}

/** The line under the meter. */
export function soundTestStatus(s: SoundTest): string {
  switch (s.phase) {
    case "starting":
      return t("audio.state.starting");
    case "metering":
      return t("audio.state.metering");
    case "recording":
      return t("audio.state.recording");
    case "playing_back":
      return t("audio.state.playingBack");
    case "stopped":
    case "failed":
      return s.text ?? t("audio.stopped.requested");
    case "idle":
      return "";
  }
}

/** Whether the echo test runs (the button then stops it). */
export const echoRunning = (s: SoundTest): boolean => s.phase === "recording" || s.phase === "playing_back";

/** The meter's spoken value. */
export function levelText(db: number): string {
  return db <= -100 ? t("audio.silence") : t("audio.levelValue", { db: Math.round(db) });
}

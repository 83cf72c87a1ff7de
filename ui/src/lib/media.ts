// Sound settings logic: the codec list as the screen shows it (every codec,
// the used ones first in their order), and the choices of a device select.
import type { AudioDevice } from "./bindings/AudioDevice";
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

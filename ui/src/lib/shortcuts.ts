// Global shortcuts in Settings: a key press recorded as a combination the
// shell understands (global-hotkey's `Ctrl+Alt+A` form), and the checks
// that can be made before asking the system. The shell checks again and
// reports what the system refuses (a combination another app holds).

export type ShortcutAction = "answer" | "hangup" | "mute";
export const SHORTCUT_ACTIONS: readonly ShortcutAction[] = ["answer", "hangup", "mute"];
export type Bindings = Record<ShortcutAction, string | null>;

/** The parts of a KeyboardEvent a recording reads. */
export interface KeyLike {
  key: string;
  code: string;
  ctrlKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  metaKey: boolean;
}

const MODIFIER_KEYS = new Set(["Control", "Alt", "AltGraph", "Shift", "Meta", "OS", "Super", "Hyper"]);

/** Keys taken under their KeyboardEvent.code name. */
const NAMED = new Set([
  "Backquote", "Backslash", "BracketLeft", "BracketRight", "Pause", "Comma", "Equal", "Minus", "Period",
  "Quote", "Semicolon", "Slash", "Backspace", "Enter", "Escape", "Space", "Tab", "Delete", "End", "Home", "Insert",
  "PageDown", "PageUp", "PrintScreen", "ScrollLock", "NumpadAdd", "NumpadDecimal", "NumpadDivide",
  "NumpadEnter", "NumpadEqual", "NumpadMultiply", "NumpadSubtract", "AudioVolumeDown", "AudioVolumeUp",
  "AudioVolumeMute", "MediaPlayPause", "MediaPlay", "MediaPause", "MediaStop", "MediaTrackNext", "MediaTrackPrevious",
]);

/** Keys nobody types with: they may go without Ctrl, Alt or Super. */
const ALONE = /^(F([1-9]|1[0-9]|2[0-4])|MediaPlayPause|MediaPlay|MediaPause|MediaStop|MediaTrackNext|MediaTrackPrevious|AudioVolumeMute)$/;

const MOD_ORDER = ["Ctrl", "Alt", "Shift", "Super"] as const;
const MOD_ALIASES: Record<string, (typeof MOD_ORDER)[number]> = {
  CTRL: "Ctrl", CONTROL: "Ctrl", ALT: "Alt", OPTION: "Alt", SHIFT: "Shift",
  SUPER: "Super", CMD: "Super", COMMAND: "Super", META: "Super",
};

/** The shell's name of the key with this KeyboardEvent.code, or null for keys it cannot take. */
export function keyName(code: string): string | null {
  let m = /^Key([A-Z])$/.exec(code);
  if (m) return m[1];
  m = /^Digit([0-9])$/.exec(code);
  if (m) return m[1];
  m = /^Numpad([0-9])$/.exec(code);
  if (m) return `Numpad${m[1]}`;
  m = /^Arrow(Up|Down|Left|Right)$/.exec(code);
  if (m) return m[1];
  if (/^F([1-9]|1[0-9]|2[0-4])$/.test(code)) return code;
  return NAMED.has(code) ? code : null;
}

/** What a key press while recording gives. */
export type Recorded =
  | { kind: "partial"; text: string } // only modifiers so far
  | { kind: "done"; text: string }
  | { kind: "cancel" } // Escape without modifiers
  | { kind: "unsupported"; key: string };

export function recordKey(e: KeyLike): Recorded {
  const mods = [e.ctrlKey && "Ctrl", e.altKey && "Alt", e.shiftKey && "Shift", e.metaKey && "Super"].filter(Boolean) as string[];
  if (MODIFIER_KEYS.has(e.key)) return { kind: "partial", text: mods.join("+") };
  if (e.key === "Escape" && mods.length === 0) return { kind: "cancel" };
  const key = keyName(e.code);
  if (!key) return { kind: "unsupported", key: e.key || e.code };
  return { kind: "done", text: [...mods, key].join("+") };
}

/** A combination split into its modifiers (in a fixed order) and key; null when malformed. */
export function parseAccel(text: string): { mods: string[]; key: string } | null {
  const parts = text.split("+").map((p) => p.trim());
  if (parts.some((p) => p === "")) return null;
  const mods = new Set<string>();
  let key: string | null = null;
  for (const p of parts) {
    const mod = MOD_ALIASES[p.toUpperCase()];
    if (mod && key === null && parts.length > 1) mods.add(mod);
    else if (key === null) key = p;
    else return null; // two keys, or a modifier after the key
  }
  if (key === null) return null;
  return { mods: MOD_ORDER.filter((m) => mods.has(m)), key };
}

/** The same combination however it was written (`alt+ctrl+a` is `Ctrl+Alt+A`). */
export function sameAccel(a: string, b: string): boolean {
  const x = parseAccel(a);
  const y = parseAccel(b);
  if (!x || !y) return false;
  return x.mods.join("+") === y.mods.join("+") && x.key.toUpperCase() === y.key.toUpperCase();
}

export type AccelProblem =
  | { error: "empty" }
  | { error: "malformed" }
  | { error: "needsModifier" }
  | { error: "taken"; by: ShortcutAction };

/** What is wrong with `text` as the shortcut of `action`, or null when the shell may try it. */
export function checkAccel(text: string, action: ShortcutAction, bindings: Bindings): AccelProblem | null {
  if (!text.trim()) return { error: "empty" };
  const p = parseAccel(text);
  if (!p) return { error: "malformed" };
  if (!p.mods.some((m) => m !== "Shift") && !ALONE.test(p.key)) return { error: "needsModifier" };
  for (const other of SHORTCUT_ACTIONS) {
    const b = bindings[other];
    if (other !== action && b && sameAccel(b, text)) return { error: "taken", by: other };
  }
  return null;
}

// The screens every later feature hangs on, and how to reach them.
import { t, type MessageKey } from "./i18n.svelte";

export type ScreenId = "contacts" | "dialpad" | "chats" | "history" | "settings" | "trace";

export interface Screen {
  id: ScreenId;
  /** The name shown, in the current language. */
  readonly label: string;
  /** Alt+key switches to the screen. */
  key: string;
}

export const SCREENS: readonly Screen[] = [
  screen("contacts", "1"),
  screen("dialpad", "2"),
  screen("chats", "3"),
  screen("history", "4"),
  screen("settings", "5"),
  screen("trace", "6"),
];

function screen(id: ScreenId, key: string): Screen {
  const k: MessageKey = `nav.${id}`;
  return {
    id,
    key,
    get label() {
      return t(k);
    },
  };
}

export const DEFAULT_SCREEN: ScreenId = "contacts";

/** The screen named by a location hash like `#/chats`, else the default. */
export function screenFromHash(hash: string): ScreenId {
  const id = hash.replace(/^#\/?/, "");
  return SCREENS.find((s) => s.id === id)?.id ?? DEFAULT_SCREEN;
}

/** The screen an Alt+key press selects, if any. */
export function screenForShortcut(e: { altKey: boolean; ctrlKey: boolean; metaKey: boolean; key: string }): ScreenId | null {
  if (!e.altKey || e.ctrlKey || e.metaKey) return null;
  return SCREENS.find((s) => s.key === e.key)?.id ?? null;
}

/** Arrow-key movement within the navigation list, wrapping around. */
export function neighbour(current: ScreenId, direction: 1 | -1): ScreenId {
  const i = SCREENS.findIndex((s) => s.id === current);
  return SCREENS[(i + direction + SCREENS.length) % SCREENS.length].id;
}

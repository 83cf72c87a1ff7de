// The screens every later feature hangs on, and how to reach them.

export type ScreenId = "contacts" | "dialpad" | "chats" | "history" | "settings";

export interface Screen {
  id: ScreenId;
  label: string;
  /** Alt+key switches to the screen. */
  key: string;
}

export const SCREENS: readonly Screen[] = [
  { id: "contacts", label: "Contacts", key: "1" },
  { id: "dialpad", label: "Dialpad", key: "2" },
  { id: "chats", label: "Chats", key: "3" },
  { id: "history", label: "History", key: "4" },
  { id: "settings", label: "Settings", key: "5" },
];

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

// The window's side of the desktop shell: the saved theme (again after a
// reload), the UI language for the tray and notifications, and what a
// notification or the tray asks the window to show.
import type { UnlistenFn } from "@tauri-apps/api/event";
import * as ipc from "./ipc";
import { app } from "./app.svelte";
import { applyTheme } from "./theme";
import type { Locale } from "./i18n.svelte";
import type { ScreenId } from "./nav";

/** Focuses the panel of the incoming call `id` (its first button, Answer), if it rings. */
export function focusIncoming(id: number, root: ParentNode = document): boolean {
  const panel = root.querySelector<HTMLElement>(`[data-testid="incoming-call"][aria-labelledby="incoming-${id}-title"]`);
  const target = panel?.querySelector<HTMLElement>("button") ?? panel;
  target?.focus();
  return !!target;
}

/** Where the shell's request leads: the screen to open, if any. */
export function screenFor(show: ipc.OsShow): ScreenId | null {
  return show.screen === "history" || show.screen === "chats" ? show.screen : null;
}

/**
 * Listens to the shell and applies the saved theme. Outside the shell (a
 * browser preview, component tests) there is nothing to connect: the
 * window then works without it. Returns the unsubscribe function.
 */
export async function connectOs(go: (s: ScreenId) => void): Promise<() => void> {
  const stops: UnlistenFn[] = [];
  try {
    stops.push(
      await ipc.onOsShow((s) => {
        const screen = screenFor(s);
        if (screen) go(screen);
        // The panel renders with the call's event; wait a frame for it.
        if (s.call !== null) requestAnimationFrame(() => focusIncoming(s.call as number));
      }),
    );
    stops.push(
      await ipc.onTrayPresence((a) => {
        // The result follows as `presence_published`.
        app.me.availability = a;
        app.me.publishing = true;
        app.me.result = null;
      }),
    );
    applyTheme((await ipc.osSettings()).theme);
  } catch {
    // No shell: nothing to follow.
  }
  return () => stops.forEach((stop) => stop());
}

/** Tells the shell the UI's language (for the tray menu and notifications). */
export function tellLanguage(l: Locale): void {
  try {
    void ipc.setOsLanguage(l).catch(() => {});
  } catch {
    // No shell.
  }
}

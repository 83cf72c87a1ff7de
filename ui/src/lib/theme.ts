// The theme setting: System follows the OS (app.css reads
// prefers-color-scheme), Light and Dark set data-theme on <html>. The shell
// sets the saved theme before the page's first paint; this module applies
// changes and re-applies the saved one after a reload.

export type ThemeChoice = "system" | "light" | "dark";

export const THEMES: readonly ThemeChoice[] = ["system", "light", "dark"];

export function isThemeChoice(v: unknown): v is ThemeChoice {
  return v === "system" || v === "light" || v === "dark";
}

/** The theme on screen for `choice` when the OS prefers dark (`prefersDark`) or not. */
export function resolveTheme(choice: ThemeChoice, prefersDark: boolean): "light" | "dark" {
  if (choice === "system") return prefersDark ? "dark" : "light";
  return choice;
}

/** Sets `choice` on the document: data-theme for Light/Dark, none for System. */
export function applyTheme(choice: ThemeChoice, root: HTMLElement | undefined = globalThis.document?.documentElement): void {
  if (!root) return;
  if (choice === "system") delete root.dataset.theme;
  else root.dataset.theme = choice;
}

/** The choice the document shows now (what applyTheme or the shell set). */
export function currentTheme(root: HTMLElement | undefined = globalThis.document?.documentElement): ThemeChoice {
  const v = root?.dataset.theme;
  return isThemeChoice(v) ? v : "system";
}

// Settings → Desktop: theme resolution, shortcut recording and checks, the
// section with the IPC module replaced, and the window's side of the shell
// (tray and notification requests).
import { describe, expect, it, vi, afterEach, beforeEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup } from "@testing-library/svelte";
import { applyTheme, currentTheme, isThemeChoice, resolveTheme } from "../src/lib/theme";
import type { OsSettings } from "../src/lib/ipc";
import { checkAccel, keyName, parseAccel, recordKey, sameAccel, type Bindings, type KeyLike } from "../src/lib/shortcuts";

// Hoisted with the IPC mock below, which answers with one of these.
const { none, osWith } = vi.hoisted(() => {
  const none = (): Bindings => ({ answer: null, hangup: null, mute: null });
  /** What the shell reports on Linux with a tray host, changed by `o`. */
  const osWith = (o: Partial<OsSettings>): OsSettings => ({
    theme: "system",
    notifications: true,
    shortcuts: none(),
    inactive_shortcuts: [],
    start_at_login: false,
    tray: true,
    close_to_tray: true,
    tray_host: true,
    hardware_acceleration: false,
    hardware_acceleration_now: false,
    hardware_acceleration_switch: true,
    ...o,
  });
  return { none, osWith };
});

let showHandler: ((s: { screen: "history" | "chats" | null; call: number | null }) => void) | null = null;
let presenceHandler: ((a: string) => void) | null = null;

vi.mock("../src/lib/ipc", () => ({
  osSettings: vi.fn(async () => osWith({ shortcuts: { ...none(), hangup: "Ctrl+Alt+H" } })),
  setTheme: vi.fn(async () => {}),
  setNotifications: vi.fn(async () => {}),
  setCloseToTray: vi.fn(async () => {}),
  setHardwareAcceleration: vi.fn(async () => {}),
  setStartAtLogin: vi.fn(async (on: boolean) => on),
  setShortcut: vi.fn(async (action: string, accelerator: string | null) => ({
    answer: action === "answer" ? accelerator : null,
    hangup: action === "hangup" ? accelerator : "Ctrl+Alt+H",
    mute: action === "mute" ? accelerator : null,
  })),
  setOsLanguage: vi.fn(async () => {}),
  onOsShow: vi.fn(async (h: typeof showHandler) => {
    showHandler = h;
    return () => (showHandler = null);
  }),
  onTrayPresence: vi.fn(async (h: typeof presenceHandler) => {
    presenceHandler = h;
    return () => (presenceHandler = null);
  }),
}));

import AppSettings from "../src/components/AppSettings.svelte";
import * as ipc from "../src/lib/ipc";
import { connectOs, focusIncoming, screenFor, tellLanguage } from "../src/lib/os";
import { app } from "../src/lib/app.svelte";

const key = (code: string, key: string, mods: Partial<KeyLike> = {}): KeyLike => ({
  code,
  key,
  ctrlKey: false,
  altKey: false,
  shiftKey: false,
  metaKey: false,
  ...mods,
});

describe("theme", () => {
  it("resolves System by the OS preference and keeps a chosen one", () => {
    expect(resolveTheme("system", true)).toBe("dark");
    expect(resolveTheme("system", false)).toBe("light");
    expect(resolveTheme("light", true)).toBe("light");
    expect(resolveTheme("dark", false)).toBe("dark");
  });

  it("sets data-theme for Light and Dark and removes it for System", () => {
    const root = document.createElement("html");
    applyTheme("dark", root);
    expect(root.dataset.theme).toBe("dark");
    expect(currentTheme(root)).toBe("dark");
    applyTheme("light", root);
    expect(root.getAttribute("data-theme")).toBe("light");
    applyTheme("system", root);
    expect(root.hasAttribute("data-theme")).toBe(false);
    expect(currentTheme(root)).toBe("system");
    root.dataset.theme = "purple";
    expect(currentTheme(root)).toBe("system");
    expect(isThemeChoice("dark")).toBe(true);
    expect(isThemeChoice("purple")).toBe(false);
  });
});

describe("shortcut recording", () => {
  it("names keys as the shell takes them, and refuses the rest", () => {
    expect(keyName("KeyA")).toBe("A");
    expect(keyName("Digit7")).toBe("7");
    expect(keyName("Numpad3")).toBe("Numpad3");
    expect(keyName("ArrowUp")).toBe("Up");
    expect(keyName("F12")).toBe("F12");
    expect(keyName("F24")).toBe("F24");
    expect(keyName("F25")).toBeNull();
    expect(keyName("MediaPlayPause")).toBe("MediaPlayPause");
    expect(keyName("Minus")).toBe("Minus");
    expect(keyName("IntlRo")).toBeNull();
    expect(keyName("")).toBeNull();
  });

  it("records modifiers as held, then the combination", () => {
    expect(recordKey(key("ControlLeft", "Control", { ctrlKey: true }))).toEqual({ kind: "partial", text: "Ctrl" });
    expect(recordKey(key("AltLeft", "Alt", { ctrlKey: true, altKey: true }))).toEqual({ kind: "partial", text: "Ctrl+Alt" });
    expect(recordKey(key("KeyA", "a", { ctrlKey: true, altKey: true }))).toEqual({ kind: "done", text: "Ctrl+Alt+A" });
    // The layout's character does not matter: the physical key does.
    expect(recordKey(key("KeyA", "ф", { metaKey: true, shiftKey: true }))).toEqual({ kind: "done", text: "Shift+Super+A" });
    expect(recordKey(key("Escape", "Escape"))).toEqual({ kind: "cancel" });
    expect(recordKey(key("Escape", "Escape", { ctrlKey: true }))).toEqual({ kind: "done", text: "Ctrl+Escape" });
    expect(recordKey(key("IntlRo", "ro", { ctrlKey: true }))).toEqual({ kind: "unsupported", key: "ro" });
  });

  it("parses and compares combinations however they were written", () => {
    expect(parseAccel("alt + ctrl + a")).toEqual({ mods: ["Ctrl", "Alt"], key: "a" });
    expect(parseAccel("F9")).toEqual({ mods: [], key: "F9" });
    expect(parseAccel("Ctrl+")).toBeNull();
    expect(parseAccel("Ctrl+A+B")).toBeNull();
    expect(parseAccel("")).toBeNull();
    expect(sameAccel("alt+ctrl+a", "Ctrl+Alt+A")).toBe(true);
    expect(sameAccel("Ctrl+Alt+A", "Ctrl+Shift+A")).toBe(false);
    expect(sameAccel("Ctrl+A+B", "Ctrl+A+B")).toBe(false);
  });

  it("checks a combination before the shell tries it", () => {
    expect(checkAccel("", "answer", none())).toEqual({ error: "empty" });
    expect(checkAccel("Ctrl++", "answer", none())).toEqual({ error: "malformed" });
    expect(checkAccel("A", "answer", none())).toEqual({ error: "needsModifier" });
    expect(checkAccel("Shift+A", "answer", none())).toEqual({ error: "needsModifier" });
    expect(checkAccel("Ctrl+Alt+A", "answer", none())).toBeNull();
    expect(checkAccel("F9", "answer", none())).toBeNull();
    expect(checkAccel("Shift+F9", "answer", none())).toBeNull();
    expect(checkAccel("MediaPlayPause", "answer", none())).toBeNull();
    const b = { ...none(), hangup: "Ctrl+Alt+H" };
    expect(checkAccel("alt+ctrl+h", "answer", b)).toEqual({ error: "taken", by: "hangup" });
    // Its own combination again is no conflict.
    expect(checkAccel("Ctrl+Alt+H", "hangup", b)).toBeNull();
  });
});

describe("desktop settings section", () => {
  beforeEach(() => vi.clearAllMocks());
  afterEach(() => {
    cleanup();
    delete document.documentElement.dataset.theme;
  });

  it("switches the theme on the document and saves it", async () => {
    render(AppSettings);
    const select = (await screen.findByTestId("theme")) as HTMLSelectElement;
    expect(select.value).toBe("system");
    await fireEvent.change(select, { target: { value: "dark" } });
    expect(document.documentElement.dataset.theme).toBe("dark");
    await waitFor(() => expect(ipc.setTheme).toHaveBeenCalledWith("dark"));
  });

  it("puts the theme back when the shell cannot save it", async () => {
    vi.mocked(ipc.setTheme).mockRejectedValueOnce(new Error("cannot save desktop.json: disk full"));
    render(AppSettings);
    const select = (await screen.findByTestId("theme")) as HTMLSelectElement;
    await fireEvent.change(select, { target: { value: "light" } });
    await waitFor(() => expect(screen.getByTestId("desktop-status").textContent).toBe("Not saved: cannot save desktop.json: disk full"));
    expect(document.documentElement.hasAttribute("data-theme")).toBe(false);
    expect(select.value).toBe("system");
  });

  it("round-trips start at login and notifications", async () => {
    render(AppSettings);
    const login = (await screen.findByRole("switch", { name: "Start at login" })) as HTMLInputElement;
    expect(login.checked).toBe(false);
    expect(screen.getByText("Parley then starts in the tray, ready for calls.")).toBeTruthy();
    await fireEvent.click(login);
    await waitFor(() => expect(ipc.setStartAtLogin).toHaveBeenCalledWith(true));
    await waitFor(() => expect(login.checked).toBe(true));
    // The OS may refuse: what it reports shows.
    vi.mocked(ipc.setStartAtLogin).mockResolvedValueOnce(true);
    await fireEvent.click(login);
    await waitFor(() => expect(ipc.setStartAtLogin).toHaveBeenCalledWith(false));
    await waitFor(() => expect(login.checked).toBe(true));
    const notes = screen.getByRole("switch", { name: "Notifications for calls and messages" }) as HTMLInputElement;
    expect(notes.checked).toBe(true);
    await fireEvent.click(notes);
    await waitFor(() => expect(ipc.setNotifications).toHaveBeenCalledWith(false));
  });

  it("switches close-to-tray, saved by the shell, and says when closing quits instead", async () => {
    render(AppSettings);
    const close = (await screen.findByRole("switch", {
      name: "Closing the window keeps Parley running in the tray",
    })) as HTMLInputElement;
    expect(close.checked).toBe(true);
    expect(screen.getByTestId("close-hint").textContent).toBe("Calls and messages still come in; Quit is in the tray menu.");
    await fireEvent.click(close);
    await waitFor(() => expect(ipc.setCloseToTray).toHaveBeenCalledWith(false));
    await waitFor(() => expect(close.checked).toBe(false));
    // The shell cannot save it: the switch goes back.
    vi.mocked(ipc.setCloseToTray).mockRejectedValueOnce(new Error("disk full"));
    await fireEvent.click(close);
    await waitFor(() => expect(ipc.setCloseToTray).toHaveBeenCalledWith(true));
    await waitFor(() => expect(close.checked).toBe(false));
    cleanup();
    // No tray host on this desktop: closing quits, and the hint says so.
    vi.mocked(ipc.osSettings).mockResolvedValueOnce(osWith({ tray_host: false, hardware_acceleration_switch: false }));
    render(AppSettings);
    await waitFor(() =>
      expect(screen.getByTestId("close-hint").textContent).toBe(
        "No tray is shown on this desktop now, so closing the window quits Parley.",
      ),
    );
  });

  it("switches GPU drawing for the next start, says so, and hides the switch where it does nothing", async () => {
    render(AppSettings);
    const gpu = (await screen.findByRole("switch", { name: "Use the graphics card to draw the window" })) as HTMLInputElement;
    expect(gpu.checked).toBe(false);
    expect(screen.getByTestId("gpu-hint").textContent).toContain("80 MB less memory");
    await fireEvent.click(gpu);
    await waitFor(() => expect(ipc.setHardwareAcceleration).toHaveBeenCalledWith(true));
    await waitFor(() => expect(gpu.checked).toBe(true));
    // This run still draws without it: the hint says when it applies.
    expect(screen.getByTestId("gpu-hint").textContent).toBe("Takes effect the next time Parley starts.");
    // The shell cannot save it: the switch goes back, and so does the hint.
    vi.mocked(ipc.setHardwareAcceleration).mockRejectedValueOnce(new Error("disk full"));
    await fireEvent.click(gpu);
    await waitFor(() => expect(ipc.setHardwareAcceleration).toHaveBeenCalledWith(false));
    await waitFor(() => expect(gpu.checked).toBe(true));
    cleanup();
    // Windows and macOS: the web view decides; no switch.
    vi.mocked(ipc.osSettings).mockResolvedValueOnce(osWith({ hardware_acceleration_switch: false }));
    render(AppSettings);
    await screen.findByTestId("close-hint");
    expect(screen.queryByTestId("hardware-acceleration")).toBeNull();
  });

  it("records a shortcut by keyboard, refuses bad ones with the reason, and clears", async () => {
    render(AppSettings);
    const answer = await screen.findByTestId("shortcut-answer");
    expect(answer.textContent).toBe("Not set");
    // Named by its label and what it holds.
    expect(screen.getByRole("button", { name: "Hang up Ctrl+Alt+H" })).toBeTruthy();
    await fireEvent.click(answer);
    expect(answer.getAttribute("aria-pressed")).toBe("true");
    expect(answer.textContent).toBe("Press the keys…");
    // A plain letter would steal typing everywhere.
    await fireEvent.keyDown(answer, { key: "a", code: "KeyA" });
    expect(screen.getByTestId("shortcut-answer-error").textContent).toBe(
      "A: add Ctrl, Alt or Super, or the key stops working in other apps",
    );
    expect(ipc.setShortcut).not.toHaveBeenCalled();
    // Another action's combination.
    await fireEvent.click(answer);
    await fireEvent.keyDown(answer, { key: "h", code: "KeyH", ctrlKey: true, altKey: true });
    expect(screen.getByTestId("shortcut-answer-error").textContent).toBe("Ctrl+Alt+H is already the shortcut to Hang up");
    // The system refuses it (another app holds it).
    vi.mocked(ipc.setShortcut).mockRejectedValueOnce(new Error("the system refused Ctrl+Alt+T: another app probably uses it"));
    await fireEvent.click(answer);
    await fireEvent.keyDown(answer, { key: "t", code: "KeyT", ctrlKey: true, altKey: true });
    await waitFor(() =>
      expect(screen.getByTestId("shortcut-answer-error").textContent).toBe(
        "Not set: the system refused Ctrl+Alt+T: another app probably uses it",
      ),
    );
    expect(answer.textContent).toBe("Not set");
    // Modifiers first, then the key: saved.
    await fireEvent.click(answer);
    await fireEvent.keyDown(answer, { key: "Control", code: "ControlLeft", ctrlKey: true });
    expect(answer.textContent).toBe("Ctrl");
    await fireEvent.keyDown(answer, { key: "a", code: "KeyA", ctrlKey: true, altKey: true });
    await waitFor(() => expect(ipc.setShortcut).toHaveBeenLastCalledWith("answer", "Ctrl+Alt+A"));
    await waitFor(() => expect(answer.textContent).toBe("Ctrl+Alt+A"));
    expect(screen.getByTestId("shortcut-answer-error").textContent).toBe("");
    // Escape cancels a recording.
    await fireEvent.click(answer);
    await fireEvent.keyDown(answer, { key: "Escape", code: "Escape" });
    expect(answer.getAttribute("aria-pressed")).toBe("false");
    expect(answer.textContent).toBe("Ctrl+Alt+A");
    await fireEvent.click(screen.getByRole("button", { name: "Clear the shortcut to Answer" }));
    await waitFor(() => expect(ipc.setShortcut).toHaveBeenLastCalledWith("answer", null));
    await waitFor(() => expect(answer.textContent).toBe("Not set"));
  });

  it("says which saved shortcut the system did not grant at start", async () => {
    vi.mocked(ipc.osSettings).mockResolvedValueOnce(
      osWith({
        shortcuts: { answer: null, hangup: "Ctrl+Alt+H", mute: null },
        inactive_shortcuts: ["hangup"],
        tray: false,
        tray_host: false,
        hardware_acceleration_switch: false,
      }),
    );
    render(AppSettings);
    await waitFor(() =>
      expect(screen.getByTestId("shortcut-hangup-error").textContent).toBe(
        "Saved, but the system did not give Parley this combination at start (another app may hold it). Record it again or pick another.",
      ),
    );
    expect(screen.getByTestId("shortcut-hangup").textContent).toBe("Ctrl+Alt+H");
    expect(screen.getByText("Parley then starts minimised, ready for calls.")).toBeTruthy();
  });

  it("says when the settings cannot be loaded", async () => {
    vi.mocked(ipc.osSettings).mockRejectedValueOnce(new Error("the engine has stopped"));
    render(AppSettings);
    await waitFor(() =>
      expect(screen.getByRole("alert").textContent).toBe("Cannot load the desktop settings: the engine has stopped"),
    );
  });
});

describe("the window's side of the shell", () => {
  afterEach(() => {
    document.body.innerHTML = "";
    delete document.documentElement.dataset.theme;
  });

  it("applies the saved theme, opens screens, and follows the tray's presence", async () => {
    vi.mocked(ipc.osSettings).mockResolvedValueOnce(
      osWith({ theme: "dark", start_at_login: null, tray: false, tray_host: false, hardware_acceleration_switch: false }),
    );
    const go = vi.fn();
    const stop = await connectOs(go);
    expect(document.documentElement.dataset.theme).toBe("dark");
    showHandler?.({ screen: "history", call: null });
    expect(go).toHaveBeenCalledWith("history");
    presenceHandler?.("away");
    expect(app.me.availability).toBe("away");
    expect(app.me.publishing).toBe(true);
    stop();
    expect(showHandler).toBeNull();
    expect(presenceHandler).toBeNull();
  });

  it("focuses the ringing call's panel", () => {
    document.body.innerHTML = `<div data-testid="incoming-call" tabindex="-1" aria-labelledby="incoming-4-title"><button>Answer</button><button>Decline</button></div>`;
    expect(focusIncoming(5)).toBe(false);
    expect(focusIncoming(4)).toBe(true);
    expect(document.activeElement?.textContent).toBe("Answer");
    expect(screenFor({ screen: "chats", call: null })).toBe("chats");
    expect(screenFor({ screen: null, call: 4 })).toBeNull();
  });

  it("tells the shell the language, and does not break without one", () => {
    tellLanguage("ru");
    expect(ipc.setOsLanguage).toHaveBeenCalledWith("ru");
    vi.mocked(ipc.setOsLanguage).mockImplementationOnce(() => {
      throw new Error("no shell");
    });
    expect(() => tellLanguage("en")).not.toThrow();
  });
});

import { describe, expect, it } from "vitest";
import { DEFAULT_SCREEN, SCREENS, neighbour, screenForShortcut, screenFromHash } from "../src/lib/nav";

describe("navigation", () => {
  it("lists the main screens in order", () => {
    expect(SCREENS.map((s) => s.label)).toEqual(["Contacts", "Dialpad", "Chats", "History", "Settings", "SIP trace"]);
  });

  it("reads the screen from the location hash", () => {
    expect(screenFromHash("#/chats")).toBe("chats");
    expect(screenFromHash("#settings")).toBe("settings");
    expect(screenFromHash("")).toBe(DEFAULT_SCREEN);
    expect(screenFromHash("#/nope")).toBe(DEFAULT_SCREEN);
  });

  it("maps Alt+digit shortcuts and ignores other chords", () => {
    const k = (key: string, mods: Partial<{ altKey: boolean; ctrlKey: boolean; metaKey: boolean }> = {}) => ({
      altKey: true, ctrlKey: false, metaKey: false, key, ...mods,
    });
    expect(screenForShortcut(k("2"))).toBe("dialpad");
    expect(screenForShortcut(k("5"))).toBe("settings");
    expect(screenForShortcut(k("6"))).toBe("trace");
    expect(screenForShortcut(k("9"))).toBeNull();
    expect(screenForShortcut(k("2", { altKey: false }))).toBeNull();
    expect(screenForShortcut(k("2", { ctrlKey: true }))).toBeNull();
  });

  it("moves with arrow keys and wraps", () => {
    expect(neighbour("contacts", 1)).toBe("dialpad");
    expect(neighbour("contacts", -1)).toBe("trace");
    expect(neighbour("settings", 1)).toBe("trace");
    expect(neighbour("trace", 1)).toBe("contacts");
  });
});

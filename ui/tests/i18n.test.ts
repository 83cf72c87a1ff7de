// The i18n layer: both catalogues have the same keys and placeholders,
// parameters are filled in, Russian plurals take the right form, and the
// chosen language is remembered and announced through <html lang>.
import { afterEach, describe, expect, it } from "vitest";
import { en } from "../src/lib/locales/en";
import { ru } from "../src/lib/locales/ru";
import { formatDate, initialLocale, interpolate, locale, setLocale, t, tn } from "../src/lib/i18n.svelte";
import { SCREENS } from "../src/lib/nav";
import { callStateLabel } from "../src/lib/calls";
import { outcomeLabel } from "../src/lib/history";
import { info, ms } from "./fixtures";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

afterEach(() => {
  setLocale("en");
  localStorage.clear();
});

describe("catalogues", () => {
  it("have exactly the same keys", () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
  });

  it("use the same parameters in every message and plural form", () => {
    for (const [key, text] of Object.entries(en)) {
      const other = ru[key as keyof typeof ru];
      if (typeof text === "string") {
        expect(typeof other, key).toBe("string");
        expect(placeholders(other as string), key).toEqual(placeholders(text));
      } else {
        expect(typeof other, key).toBe("object");
        const forms = other as Record<string, string>;
        // Russian needs one, few and many (1 звонок, 2 звонка, 5 звонков).
        for (const f of ["one", "few", "many", "other"]) expect(forms[f], `${key}.${f}`).toBeTruthy();
        for (const f of Object.values(forms)) expect(placeholders(f), key).toEqual(placeholders(text.other));
      }
    }
  });

  it("have no empty message", () => {
    for (const cat of [en, ru]) for (const [k, v] of Object.entries(cat)) if (typeof v === "string") expect(v.trim(), k).not.toBe("");
  });
});

describe("interpolate", () => {
  it("fills named parameters and leaves unknown ones as written", () => {
    expect(interpolate("Call {target} from {account}", { target: "sip:bob@x", account: "Work" })).toBe("Call sip:bob@x from Work");
    expect(interpolate("{a} and {b}", { a: 1 })).toBe("1 and {b}");
    expect(interpolate("no params")).toBe("no params");
  });

  it("is what t() does in each language", () => {
    expect(t("dial.callFrom", { target: "sip:bob@x", account: "Work" })).toBe("Call sip:bob@x from Work");
    setLocale("ru");
    expect(t("dial.callFrom", { target: "sip:bob@x", account: "Work" })).toBe("Позвонить sip:bob@x с Work");
  });
});

describe("plurals", () => {
  it("takes the Russian one/few/many forms", () => {
    setLocale("ru");
    const cases: [number, string][] = [
      [1, "Добавлен 1 контакт"],
      [2, "Добавлено 2 контакта"],
      [5, "Добавлено 5 контактов"],
      [11, "Добавлено 11 контактов"],
      [21, "Добавлен 21 контакт"],
      [22, "Добавлено 22 контакта"],
      [25, "Добавлено 25 контактов"],
    ];
    for (const [n, text] of cases) expect(tn("contacts.added", n)).toBe(text);
    expect(tn("chats.found", 3)).toBe("Найдено 3 сообщения");
    expect(tn("chats.found", 12)).toBe("Найдено 12 сообщений");
  });

  it("takes the English one/other forms", () => {
    expect(tn("contacts.added", 1)).toBe("Added 1 contact");
    expect(tn("contacts.added", 2)).toBe("Added 2 contacts");
    expect(tn("contacts.added", 21)).toBe("Added 21 contacts");
  });
});

describe("locale", () => {
  it("starts from the remembered choice, else the OS language", () => {
    const store = (v: string | null) => ({ getItem: () => v });
    expect(initialLocale(store(null), "ru-RU")).toBe("ru");
    expect(initialLocale(store(null), "ru")).toBe("ru");
    expect(initialLocale(store(null), "en-US")).toBe("en");
    expect(initialLocale(store(null), "de-DE")).toBe("en");
    expect(initialLocale(store(null), undefined)).toBe("en");
    expect(initialLocale(store("en"), "ru-RU")).toBe("en");
    expect(initialLocale(store("ru"), "en-US")).toBe("ru");
    expect(initialLocale(store("xx"), "en-US")).toBe("en");
    expect(initialLocale({ getItem: () => { throw new Error("denied"); } }, "ru-RU")).toBe("ru");
  });

  it("is English in the test environment", () => {
    expect(navigator.language).toMatch(/^en/);
    expect(locale()).toBe("en");
    expect(document.documentElement.lang).toBe("en");
  });

  it("switches at once, is remembered and sets <html lang>", () => {
    setLocale("ru");
    expect(locale()).toBe("ru");
    expect(localStorage.getItem("parley.language")).toBe("ru");
    expect(document.documentElement.lang).toBe("ru");
    expect(initialLocale()).toBe("ru");
    expect(SCREENS.map((s) => s.label)).toEqual(["Контакты", "Набор номера", "Чаты", "История", "Настройки", "SIP-трассировка"]);
    expect(callStateLabel(info({ state: "on_hold", held_by_us: true })).text).toBe("На удержании");
    setLocale("en");
    expect(localStorage.getItem("parley.language")).toBe("en");
    expect(document.documentElement.lang).toBe("en");
    expect(SCREENS[0].label).toBe("Contacts");
  });

  it("formats dates and history outcomes in the current language", () => {
    const d = new Date(2026, 10, 3, 9, 5);
    expect(formatDate(d, { day: "numeric", month: "long" })).toBe("November 3");
    setLocale("ru");
    expect(formatDate(d, { day: "numeric", month: "long" })).toBe("3 ноября");
    const entry = {
      id: 1, account: "Work", direction: "incoming", peer_uri: "sip:bob@x", peer_name: null,
      started_ms: ms(0), answered_ms: null, ended_ms: ms(0), seen: false,
      outcome: { kind: "failed", status: 503, reason: "Service Unavailable" },
    } as never;
    expect(outcomeLabel(entry).text).toBe("Ошибка: 503 Service Unavailable");
    // The outcome of one call, apart from the "Missed" filter (plural in Russian).
    expect(outcomeLabel({ ...(entry as object), outcome: { kind: "missed" } } as never).text).toBe("Пропущен");
    expect(t("history.missed")).toBe("Пропущенные");
  });
});

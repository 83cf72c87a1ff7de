// The UI's languages: English (the source of every key) and Russian. The
// current language is reactive state, so text re-renders when it changes;
// it follows the OS language at first start and is remembered after.
import { en, type Messages, type PluralForms } from "./locales/en";
import { ru } from "./locales/ru";

export type Locale = "en" | "ru";
export const LOCALES: readonly { id: Locale; label: string }[] = [
  { id: "en", label: "English" },
  { id: "ru", label: "Русский" },
];

export const CATALOGUES: Record<Locale, Messages> = { en, ru };

type En = typeof en;
/** Keys of plain messages. */
export type MessageKey = { [K in keyof En]: En[K] extends string ? K : never }[keyof En];
/** Keys of messages with plural forms. */
export type PluralKey = { [K in keyof En]: En[K] extends string ? never : K }[keyof En];
export type Params = Record<string, string | number>;

const STORAGE_KEY = "parley.language";

/** The language to start in: the remembered choice, else the OS/browser language. */
export function initialLocale(
  storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage,
  language: string | undefined = globalThis.navigator?.language,
): Locale {
  try {
    const saved = storage?.getItem(STORAGE_KEY);
    if (saved === "en" || saved === "ru") return saved;
  } catch {
    // Storage unavailable: fall back to the OS language.
  }
  return language?.toLowerCase().startsWith("ru") ? "ru" : "en";
}

const state = $state({ locale: initialLocale() });
if (typeof document !== "undefined") document.documentElement.lang = state.locale;

/** The current language. */
export function locale(): Locale {
  return state.locale;
}

/** Switches the language now, remembers it, and tells assistive tech via `<html lang>`. */
export function setLocale(l: Locale, storage: Pick<Storage, "setItem"> | undefined = globalThis.localStorage): void {
  state.locale = l;
  if (typeof document !== "undefined") document.documentElement.lang = l;
  try {
    storage?.setItem(STORAGE_KEY, l);
  } catch {
    // Not remembered; still applied for this run.
  }
}

/** Replaces `{name}` with `params.name`; unknown names stay as written. */
export function interpolate(text: string, params?: Params): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

/** The message `key` in the current language. */
export function t(key: MessageKey, params?: Params): string {
  const text = (CATALOGUES[state.locale][key] ?? en[key]) as string;
  return interpolate(text, params);
}

const rules: Partial<Record<Locale, Intl.PluralRules>> = {};

/** The plural form of `key` for `count` (also available as `{n}`) in the current language. */
export function tn(key: PluralKey, count: number, params?: Params): string {
  const l = state.locale;
  const pr = (rules[l] ??= new Intl.PluralRules(l));
  const forms = CATALOGUES[l][key] as PluralForms;
  const text = forms[pr.select(count)] ?? forms.other;
  return interpolate(text, { n: count, ...params });
}

/** Date/time formatting options in the current language. */
export function formatDate(at: number | Date, options: Intl.DateTimeFormatOptions): string {
  return new Intl.DateTimeFormat(state.locale, options).format(at);
}

// Pure logic over the engine's account types: how a state reads, which
// account the status bar shows, how events update the list.
import type { AccountInfo } from "./bindings/AccountInfo";
import type { AccountInput } from "./bindings/AccountInput";
import type { Event } from "./bindings/Event";
import type { RegistrationState } from "./bindings/RegistrationState";
import { t } from "./i18n.svelte";

export type Tone = "ok" | "busy" | "warn" | "error" | "off";

export function stateLabel(s: RegistrationState): { text: string; tone: Tone } {
  switch (s.state) {
    case "local":
      return { text: t("reg.local"), tone: "ok" };
    case "disabled":
      return { text: t("reg.disabled"), tone: "off" };
    case "not_registering":
      return { text: t("reg.notRegistering"), tone: "off" };
    case "unregistered":
      return { text: t("reg.unregistered"), tone: "warn" };
    case "registering":
      return { text: t("reg.registering"), tone: "busy" };
    case "registered":
      return { text: t("reg.registered"), tone: "ok" };
    case "failed":
      return { text: t("reg.failed", { reason: s.reason }), tone: "error" };
  }
}

/** Applies one engine event to the account list. */
export function applyEvent(accounts: AccountInfo[], e: Event): AccountInfo[] {
  switch (e.event) {
    case "accounts_changed":
      return e.accounts;
    case "registration":
      return accounts.map((a) => (a.name === e.account ? { ...a, registration: e.state } : a));
    default:
      return accounts;
  }
}

/** The account the status bar summarises: the first one that is enabled. */
export function primaryAccount(accounts: AccountInfo[]): AccountInfo | undefined {
  return accounts.find((a) => a.registration.state !== "disabled") ?? accounts[0];
}

export interface AccountForm {
  name: string;
  uri: string;
  displayName: string;
  authUser: string;
  proxy: string;
  transport: "udp" | "tcp" | "tls";
  register: boolean;
  password: string;
  /** The PBX's call-pickup code (`*8`, `**`); empty for none. */
  pickupCode?: string;
  /** Advanced: digest realm to answer; empty for any. */
  realm?: string;
  /** Advanced: registration lifetime in seconds; empty for the default (600). */
  expires?: string;
  /** Advanced: OPTIONS keep-alive period in seconds; empty or 0 for off. */
  optionsKeepalive?: string;
}

/** The engine's limits (store::AccountConfig): registration lifetime. */
export const EXPIRES_RANGE = { min: 10, max: 86400 } as const;
/** The engine's limits (store::OPTIONS_KEEPALIVE_SECS); 0 is off. */
export const KEEPALIVE_RANGE = { min: 5, max: 3600 } as const;

/** A whole number of seconds, or null when the text is not one. */
const seconds = (s: string): number | null => (/^\d{1,9}$/.test(s.trim()) ? Number(s.trim()) : null);

/** The expiry field's error, or null (empty: the engine's default). Like the
 * engine, the range only matters when the account registers. */
export function expiresError(text: string, register: boolean): string | null {
  if (!text.trim()) return null;
  const n = seconds(text);
  if (n === null) return t("account.err.expires");
  return register && (n < EXPIRES_RANGE.min || n > EXPIRES_RANGE.max) ? t("account.err.expires") : null;
}

/** The keep-alive field's error, or null (empty or 0: off). */
export function keepaliveError(text: string): string | null {
  if (!text.trim()) return null;
  const n = seconds(text);
  if (n === 0) return null;
  return n === null || n < KEEPALIVE_RANGE.min || n > KEEPALIVE_RANGE.max ? t("account.err.keepalive") : null;
}

export type FormErrors = Partial<Record<keyof AccountForm, string>>;

const SIP_URI = /^sips?:[^@\s]+@[^@\s]+$/i;

/** Field-level checks shown next to the inputs; the engine checks again. */
export function validateAccount(f: AccountForm, existing: string[]): FormErrors {
  const errors: FormErrors = {};
  const name = f.name.trim();
  if (!name) errors.name = t("account.err.name");
  else if (name.length > 64) errors.name = t("account.err.nameLong");
  else if (existing.includes(name)) errors.name = t("account.err.nameTaken");
  if (!SIP_URI.test(f.uri.trim())) errors.uri = t("account.err.uri");
  if (f.proxy.trim() && !/^sips?:\S+$/i.test(f.proxy.trim())) errors.proxy = t("account.err.proxy");
  if (f.register && !f.password) errors.password = t("account.err.password");
  const code = (f.pickupCode ?? "").trim();
  if (code && !/^[0-9*#]{1,16}$/.test(code)) errors.pickupCode = t("account.err.pickup");
  const expires = expiresError(f.expires ?? "", f.register);
  if (expires) errors.expires = expires;
  const keepalive = keepaliveError(f.optionsKeepalive ?? "");
  if (keepalive) errors.optionsKeepalive = keepalive;
  return errors;
}

/** The engine input of a form that passed validateAccount. Empty advanced
 * fields are left out (the engine's defaults: any realm, 600 s, no
 * keep-alive); a keep-alive of 0 is off and left out too. */
export function toInput(f: AccountForm): AccountInput {
  const opt = (s: string) => (s.trim() ? s.trim() : null);
  const input: AccountInput = {
    name: f.name.trim(),
    uri: f.uri.trim(),
    display_name: opt(f.displayName),
    auth_user: opt(f.authUser),
    proxy: opt(f.proxy),
    transport: f.transport,
    register: f.register,
    pickup_code: opt(f.pickupCode ?? ""),
  };
  const realm = opt(f.realm ?? "");
  if (realm) input.realm = realm;
  const expires = seconds(f.expires ?? "");
  if (expires !== null) input.expires = expires;
  const keepalive = seconds(f.optionsKeepalive ?? "");
  if (keepalive) input.options_keepalive_secs = keepalive;
  return input;
}

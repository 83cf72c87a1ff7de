// Pure logic over the engine's account types: how a state reads, which
// account the status bar shows, how events update the list.
import type { AccountInfo } from "./bindings/AccountInfo";
import type { AccountInput } from "./bindings/AccountInput";
import type { Event } from "./bindings/Event";
import type { RegistrationState } from "./bindings/RegistrationState";

export type Tone = "ok" | "busy" | "warn" | "error" | "off";

export function stateLabel(s: RegistrationState): { text: string; tone: Tone } {
  switch (s.state) {
    case "local":
      return { text: "Local: direct calls", tone: "ok" };
    case "disabled":
      return { text: "Disabled", tone: "off" };
    case "not_registering":
      return { text: "Not registering", tone: "off" };
    case "unregistered":
      return { text: "Not registered", tone: "warn" };
    case "registering":
      return { text: "Registering…", tone: "busy" };
    case "registered":
      return { text: "Registered", tone: "ok" };
    case "failed":
      return { text: `Failed: ${s.reason}`, tone: "error" };
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
}

export type FormErrors = Partial<Record<keyof AccountForm, string>>;

const SIP_URI = /^sips?:[^@\s]+@[^@\s]+$/i;

/** Field-level checks shown next to the inputs; the engine checks again. */
export function validateAccount(f: AccountForm, existing: string[]): FormErrors {
  const errors: FormErrors = {};
  const name = f.name.trim();
  if (!name) errors.name = "Give the account a name";
  else if (name.length > 64) errors.name = "At most 64 characters";
  else if (existing.includes(name)) errors.name = "An account with this name exists";
  if (!SIP_URI.test(f.uri.trim())) errors.uri = "Use the form sip:user@domain";
  if (f.proxy.trim() && !/^sips?:\S+$/i.test(f.proxy.trim())) errors.proxy = "Use the form sip:host[:port]";
  if (f.register && !f.password) errors.password = "The registrar needs a password";
  const code = (f.pickupCode ?? "").trim();
  if (code && !/^[0-9*#]{1,16}$/.test(code)) errors.pickupCode = "Up to 16 of 0-9, * and #";
  return errors;
}

export function toInput(f: AccountForm): AccountInput {
  const opt = (s: string) => (s.trim() ? s.trim() : null);
  return {
    name: f.name.trim(),
    uri: f.uri.trim(),
    display_name: opt(f.displayName),
    auth_user: opt(f.authUser),
    proxy: opt(f.proxy),
    transport: f.transport,
    register: f.register,
    pickup_code: opt(f.pickupCode ?? ""),
  };
}

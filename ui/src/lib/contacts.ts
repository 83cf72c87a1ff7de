// Pure logic over the engine's contact and presence types: how presence
// and line states read, search, the add/edit form, and which
// subscriptions the contact list needs.
import type { Availability } from "./bindings/Availability";
import type { ContactEntry } from "./bindings/ContactEntry";
import type { ContactInput } from "./bindings/ContactInput";
import type { LineState } from "./bindings/LineState";
import type { PendingWatcher } from "./bindings/PendingWatcher";
import type { Tone } from "./accounts";
import { dialTarget } from "./dial";
import { t } from "./i18n.svelte";

/** The key the engine reports a watched URI under: no `<>`, no parameters, lower-case. */
export function peerKey(uri: string): string {
  return uri.trim().replace(/^<|>$/g, "").split(";")[0].split("?")[0].toLowerCase();
}

export interface PresenceView {
  availability: Availability;
  note: string | null;
}

export const AVAILABILITY: readonly { id: Availability; label: string }[] = [
  { id: "available", get label() { return t("presence.available"); } },
  { id: "away", get label() { return t("presence.away"); } },
  { id: "busy", get label() { return t("presence.busy"); } },
  { id: "on_the_phone", get label() { return t("presence.onThePhone"); } },
  { id: "offline", get label() { return t("presence.appearOffline"); } },
];

export function presenceLabel(a: Availability): { text: string; tone: Tone } {
  switch (a) {
    case "available":
      return { text: t("presence.available"), tone: "ok" };
    case "away":
      return { text: t("presence.away"), tone: "warn" };
    case "busy":
      return { text: t("presence.busy"), tone: "error" };
    case "on_the_phone":
      return { text: t("presence.onThePhone"), tone: "error" };
    case "offline":
      return { text: t("presence.offline"), tone: "off" };
    case "unknown":
      return { text: t("presence.unknown"), tone: "off" };
  }
}

export function lineLabel(s: LineState): { text: string; tone: Tone } {
  switch (s) {
    case "idle":
      return { text: t("line.idle"), tone: "ok" };
    case "ringing":
      return { text: t("line.ringing"), tone: "busy" };
    case "in_call":
      return { text: t("line.busy"), tone: "error" };
  }
}

/** Contacts whose name, SIP address or a number contains every word of `query`. */
export function filterContacts(list: ContactEntry[], query: string): ContactEntry[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return list;
  return list.filter((e) => {
    const c = e.contact;
    const hay = [c.name, c.sip_uri ?? "", ...c.phones.map((p) => p.number)].join(" ").toLowerCase();
    const digits = c.phones.map((p) => p.number.replace(/[^0-9+*#]/g, "")).join(" ");
    return words.every((w) => hay.includes(w) || (/^[0-9+*#]+$/.test(w) && digits.includes(w)));
  });
}

/** What to call for a contact: its SIP address, else its first number in the account's domain. */
export function contactTarget(c: ContactInput, accountUri: string): string | null {
  if (c.sip_uri) return dialTarget(c.sip_uri, accountUri);
  const first = c.phones[0];
  return first ? dialTarget(first.number, accountUri) : null;
}

export interface ContactForm {
  name: string;
  sipUri: string;
  phone: string;
  favourite: boolean;
  presence: boolean;
  blf: boolean;
}

export type ContactErrors = Partial<Record<keyof ContactForm, string>>;

export const emptyContactForm = (): ContactForm => ({ name: "", sipUri: "", phone: "", favourite: false, presence: true, blf: false });

export function formFromContact(c: ContactInput): ContactForm {
  return {
    name: c.name,
    sipUri: c.sip_uri ?? "",
    phone: c.phones[0]?.number ?? "",
    favourite: c.favourite,
    presence: c.presence,
    blf: c.blf,
  };
}

export function validateContact(f: ContactForm): ContactErrors {
  const e: ContactErrors = {};
  if (!f.name.trim()) e.name = t("contact.err.name");
  const uri = f.sipUri.trim();
  if (uri && !/^(sips?:)?[^@\s:]+@[^@\s]+$/i.test(uri)) e.sipUri = t("contact.err.uri");
  if (f.phone.trim() && !/^\+?[0-9*#\s\-().]+$/.test(f.phone.trim())) e.phone = t("contact.err.phone");
  if (!uri && (f.presence || f.blf)) e.sipUri = t("contact.err.needsUri");
  return e;
}

/**
 * The contact to store; `previous` keeps numbers beyond the first one
 * (the form edits only the first).
 */
export function contactFromForm(f: ContactForm, previous?: ContactInput): ContactInput {
  const uri = f.sipUri.trim();
  const phone = f.phone.trim();
  const rest = previous?.phones.slice(1) ?? [];
  return {
    name: f.name.trim(),
    sip_uri: uri ? (/^sips?:/i.test(uri) ? uri : `sip:${uri}`) : null,
    phones: phone ? [{ number: phone, kind: previous?.phones[0]?.kind ?? null }, ...rest] : rest,
    favourite: f.favourite,
    presence: f.presence && !!uri,
    blf: f.blf && !!uri,
  };
}

export type Package = "presence" | "dialog";

/** A subscription key: `package account uri`. */
export const watchKey = (pkg: Package, account: string, uri: string) => `${pkg} ${account} ${peerKey(uri)}`;

export interface WatchPlan {
  start: { pkg: Package; account: string; uri: string }[];
  stop: { pkg: Package; account: string; uri: string }[];
}

/**
 * The subscriptions to start and stop so that `account` watches exactly
 * the contacts that ask for it, given those `active` now.
 */
export function watchPlan(contacts: ContactEntry[], account: string | null, active: Set<string>): WatchPlan {
  const want = new Map<string, { pkg: Package; account: string; uri: string }>();
  if (account) {
    for (const { contact: c } of contacts) {
      if (!c.sip_uri) continue;
      const uri = peerKey(c.sip_uri);
      if (c.presence) want.set(watchKey("presence", account, uri), { pkg: "presence", account, uri });
      if (c.blf) want.set(watchKey("dialog", account, uri), { pkg: "dialog", account, uri });
    }
  }
  const start = [...want].filter(([k]) => !active.has(k)).map(([, v]) => v);
  const stop = [...active]
    .filter((k) => !want.has(k))
    .map((k) => {
      const [pkg, acc, uri] = k.split(" ");
      return { pkg: pkg as Package, account: acc, uri };
    });
  return { start, stop };
}

/** A line can be picked up while it rings (and the contact has a SIP address to name it). */
export function canPickUp(line: LineState | undefined, sipUri: string | null): boolean {
  return line === "ringing" && !!sipUri;
}

/** The waiting watchers after a `watcher_pending` event: added once, removed when decided or gone. */
export function applyWatcherPending(
  list: PendingWatcher[],
  e: { account: string; watcher: string; waiting: boolean },
): PendingWatcher[] {
  const same = (w: PendingWatcher) => w.account === e.account && peerKey(w.watcher) === peerKey(e.watcher);
  const rest = list.filter((w) => !same(w));
  return e.waiting ? [...rest, { account: e.account, watcher: e.watcher }] : rest;
}

// Pure logic of the contacts, chat and in-call transfer screens.
import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../src/lib/bindings/ChatMessage";
import type { ContactEntry } from "../src/lib/bindings/ContactEntry";
import type { ConversationInfo } from "../src/lib/bindings/ConversationInfo";
import { applyComposing, applyToConversations, canRetry, deliveryLabel, totalUnread, upsertMessage } from "../src/lib/chat";
import {
  contactFromForm,
  contactTarget,
  emptyContactForm,
  filterContacts,
  formFromContact,
  peerKey,
  presenceLabel,
  validateContact,
  watchKey,
  watchPlan,
} from "../src/lib/contacts";
import { levelPercent, transferCandidates } from "../src/lib/transfer";
import { info, ms, msg } from "./fixtures";

const entry = (id: number, name: string, over: Partial<ContactEntry["contact"]> = {}): ContactEntry => ({
  id: ms(id),
  contact: { name, sip_uri: null, phones: [], favourite: false, presence: false, blf: false, ...over },
});

describe("contacts", () => {
  const list = [
    entry(1, "Bob Builder", { sip_uri: "sip:bob@example.com", presence: true }),
    entry(2, "Carol", { phones: [{ number: "+49 30 1234-56", kind: "work" }] }),
  ];

  it("searches names, addresses and numbers by every word", () => {
    expect(filterContacts(list, "")).toHaveLength(2);
    expect(filterContacts(list, "bob build").map((e) => e.contact.name)).toEqual(["Bob Builder"]);
    expect(filterContacts(list, "example.com").map((e) => e.contact.name)).toEqual(["Bob Builder"]);
    expect(filterContacts(list, "301234").map((e) => e.contact.name)).toEqual(["Carol"]);
    expect(filterContacts(list, "dave")).toEqual([]);
  });

  it("keys watched URIs the way the engine reports them", () => {
    expect(peerKey("<sip:Bob@Example.com;transport=tcp>")).toBe("sip:bob@example.com");
  });

  it("reads presence states", () => {
    expect(presenceLabel("available")).toEqual({ text: "Available", tone: "ok" });
    expect(presenceLabel("unknown").tone).toBe("off");
  });

  it("calls the SIP address, else the first number in the account's domain", () => {
    expect(contactTarget(list[0].contact, "sip:alice@127.0.0.1")).toBe("sip:bob@example.com");
    expect(contactTarget(list[1].contact, "sip:alice@127.0.0.1")).toBe("sip:+4930123456@127.0.0.1");
    expect(contactTarget(entry(3, "Nobody").contact, "sip:alice@127.0.0.1")).toBeNull();
  });

  it("validates the form and builds the contact, keeping extra numbers", () => {
    expect(validateContact(emptyContactForm())).toMatchObject({ name: expect.any(String), sipUri: expect.any(String) });
    const f = { ...emptyContactForm(), name: "Bob", sipUri: "bob@host" };
    expect(validateContact(f)).toEqual({});
    expect(validateContact({ ...f, sipUri: "not an address" }).sipUri).toBeDefined();
    expect(contactFromForm(f)).toEqual({ name: "Bob", sip_uri: "sip:bob@host", phones: [], favourite: false, presence: true, blf: false });
    const prev = { ...list[1].contact, phones: [{ number: "1", kind: "work" }, { number: "2", kind: "cell" }] };
    const edited = contactFromForm({ ...formFromContact(prev), phone: "3" }, prev);
    expect(edited.phones).toEqual([{ number: "3", kind: "work" }, { number: "2", kind: "cell" }]);
    // Without an address there is nothing to watch.
    expect(contactFromForm({ ...emptyContactForm(), name: "X", presence: true, blf: true }).presence).toBe(false);
  });

  it("plans the subscriptions the contacts ask for", () => {
    const contacts = [entry(1, "Bob", { sip_uri: "sip:bob@h", presence: true, blf: true }), entry(2, "Carol", { sip_uri: "sip:carol@h" })];
    const plan = watchPlan(contacts, "Work", new Set([watchKey("presence", "Work", "sip:dave@h")]));
    expect(plan.start).toEqual([
      { pkg: "presence", account: "Work", uri: "sip:bob@h" },
      { pkg: "dialog", account: "Work", uri: "sip:bob@h" },
    ]);
    expect(plan.stop).toEqual([{ pkg: "presence", account: "Work", uri: "sip:dave@h" }]);
    // No account able to watch: everything stops.
    const none = watchPlan(contacts, null, new Set([watchKey("dialog", "Work", "sip:bob@h")]));
    expect(none).toEqual({ start: [], stop: [{ pkg: "dialog", account: "Work", uri: "sip:bob@h" }] });
  });
});

describe("chat", () => {
  const conv = (id: number, unread: number, last: ChatMessage | null): ConversationInfo => ({
    id: ms(id),
    account: "Work",
    peer: last?.peer ?? "sip:x@h",
    last,
    unread,
  });

  it("counts unread messages unless the conversation is open, and moves it to the top", () => {
    const other = conv(11, 0, msg({ id: ms(5), conversation: ms(11), peer: "sip:carol@h" }));
    const bob = conv(10, 1, msg());
    const e = { event: "message_received" as const, message: msg({ id: ms(6), text: "again" }) };
    const after = applyToConversations([other, bob], e, null);
    expect(after.map((c) => Number(c.id))).toEqual([10, 11]);
    expect(after[0]).toMatchObject({ unread: 2, last: { text: "again" } });
    const open = applyToConversations([other, bob], e, { account: "Work", peer: "<sip:bob@127.0.0.1>" });
    expect(open[0].unread).toBe(1);
    expect(totalUnread(after)).toBe(2);
  });

  it("adds a conversation for a first message and follows delivery states", () => {
    const sending = msg({ id: ms(7), conversation: ms(12), outgoing: true, state: { state: "sending" }, unread: false });
    const list = applyToConversations([], { event: "message_status", message: sending }, null);
    expect(list).toHaveLength(1);
    expect(list[0].unread).toBe(0);
    const failed = { ...sending, state: { state: "failed" as const, status: 404, reason: "404 Not Found" } };
    const updated = applyToConversations(list, { event: "message_status", message: failed }, null);
    expect(updated[0].last?.state).toEqual(failed.state);
    expect(deliveryLabel(failed.state)).toBe("Not delivered: 404 Not Found");
    expect(deliveryLabel({ state: "sending" })).toBe("Sending…");
    expect(deliveryLabel({ state: "received" })).toBe("");
    expect(canRetry(failed)).toBe(true);
    expect(canRetry(sending)).toBe(false);
  });

  it("keeps messages in time order and replaces them by id", () => {
    const a = msg({ id: ms(1), at_ms: ms(100) });
    const b = msg({ id: ms(2), at_ms: ms(50) });
    const list = upsertMessage(upsertMessage([], a), b);
    expect(list.map((m) => Number(m.id))).toEqual([2, 1]);
    const sent = upsertMessage(list, { ...a, text: "edited" });
    expect(sent).toHaveLength(2);
    expect(sent[1].text).toBe("edited");
  });

  it("shows typing until the peer stops or its message arrives", () => {
    let t = applyComposing({}, { event: "composing", account: "Work", peer: "sip:bob@127.0.0.1", active: true });
    expect(t["Work sip:bob@127.0.0.1"]).toBe(true);
    t = applyComposing(t, { event: "message_received", message: msg() });
    expect(t["Work sip:bob@127.0.0.1"]).toBe(false);
  });
});

describe("in-call transfer and levels", () => {
  it("offers other answered calls for an attended transfer", () => {
    const calls = [
      { info: info({ id: 1, state: "connected" }), quality: null, dtmfIn: "", end: null },
      { info: info({ id: 2, state: "on_hold" }), quality: null, dtmfIn: "", end: null },
      { info: info({ id: 3, state: "ringing" }), quality: null, dtmfIn: "", end: null },
      { info: info({ id: 4, state: "connected" }), quality: null, dtmfIn: "", end: { outcome: "cancelled" as const } },
    ];
    expect(transferCandidates(calls, 1).map((c) => c.info.id)).toEqual([2]);
  });

  it("maps dBFS to a meter", () => {
    expect(levelPercent(-Infinity)).toBe(0);
    expect(levelPercent(-60)).toBe(0);
    expect(levelPercent(-30)).toBe(50);
    expect(levelPercent(3)).toBe(100);
  });
});

// Contacts, chat, presence selector and in-call transfer rendered in jsdom
// with the IPC module replaced. The real engine is exercised by tests/e2e.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup, within } from "@testing-library/svelte";
import type { Event } from "../src/lib/bindings/Event";
import type { ContactEntry } from "../src/lib/bindings/ContactEntry";
import { info, ms, msg } from "./fixtures";

let emit: (e: Event) => void = () => {};
const accounts = [
  { name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } },
];
let stored: ContactEntry[] = [];
vi.mock("../src/lib/ipc", () => ({
  engineStatus: vi.fn(async () => ({ version: "9.9.9", accounts, calls: [] })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return () => {};
  }),
  dial: vi.fn(async () => 7),
  hangupCall: vi.fn(async () => {}),
  holdCall: vi.fn(async () => {}),
  muteCall: vi.fn(async () => {}),
  sendDtmf: vi.fn(async () => {}),
  answerCall: vi.fn(async () => {}),
  rejectCall: vi.fn(async () => {}),
  transferCall: vi.fn(async () => {}),
  transferAttended: vi.fn(async () => {}),
  contacts: vi.fn(async () => stored),
  addContact: vi.fn(async () => ms(9)),
  updateContact: vi.fn(async () => {}),
  deleteContact: vi.fn(async () => {}),
  importVcards: vi.fn(async () => ({ added: 2, errors: ["card 3: no name"] })),
  watchPresence: vi.fn(async () => {}),
  watchLine: vi.fn(async () => {}),
  conversations: vi.fn(async () => []),
  onLinkError: vi.fn(async () => () => {}),
  unseenMissedCalls: vi.fn(async () => 0),
  messages: vi.fn(async () => []),
  markRead: vi.fn(async () => 0),
  sendMessage: vi.fn(async () => ms(1)),
  retryMessage: vi.fn(async () => {}),
  setComposing: vi.fn(async () => {}),
  searchMessages: vi.fn(async () => []),
  deleteConversation: vi.fn(async () => {}),
  publishPresence: vi.fn(async () => {}),
}));

import App from "../src/App.svelte";
import { app, resetWatches } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

const bob: ContactEntry = {
  id: ms(1),
  contact: { name: "Bob", sip_uri: "sip:bob@127.0.0.1", phones: [], favourite: false, presence: true, blf: true },
};

async function start(hash = "") {
  location.hash = hash;
  render(App);
  await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Registered"));
}

beforeEach(() => {
  vi.clearAllMocks();
  stored = [bob];
  resetWatches();
  Object.assign(app, { calls: [], contacts: [], conversations: [], chatMessages: [], openChat: null, presence: {}, lines: {}, typing: {}, levels: {} });
});
afterEach(() => cleanup());

describe("contacts screen", () => {
  it("watches presence and line of contacts that ask, and shows them", async () => {
    await start();
    await waitFor(() => expect(ipc.watchPresence).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1", true));
    expect(ipc.watchLine).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1", true);
    const row = await screen.findByTestId("contact");
    expect(within(row).getByTestId("contact-presence").textContent).toContain("Unknown");
    emit({ event: "presence", account: "Work", uri: "sip:bob@127.0.0.1", availability: "away", note: "lunch" });
    emit({ event: "blf", account: "Work", uri: "sip:bob@127.0.0.1", state: "ringing" });
    await waitFor(() => expect(within(row).getByTestId("contact-presence").textContent).toContain("Away — lunch"));
    expect(within(row).getByTestId("contact-line").textContent).toBe("Line ringing");
  });

  it("adds, edits, favourites, deletes, calls and searches", async () => {
    await start();
    await screen.findByTestId("contact");
    await fireEvent.click(screen.getByRole("button", { name: "Add contact" }));
    const form = screen.getByRole("form", { name: "New contact" });
    await fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    expect(within(form).getByText("Give the contact a name")).toBeTruthy();
    expect(ipc.addContact).not.toHaveBeenCalled();
    await fireEvent.input(within(form).getByLabelText("Name"), { target: { value: "Carol" } });
    await fireEvent.input(within(form).getByLabelText("SIP address"), { target: { value: "carol@127.0.0.1" } });
    await fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    await waitFor(() =>
      expect(ipc.addContact).toHaveBeenCalledWith({ name: "Carol", sip_uri: "sip:carol@127.0.0.1", phones: [], favourite: false, presence: true, blf: false }),
    );

    await fireEvent.click(screen.getByRole("button", { name: "Favourite Bob" }));
    await waitFor(() => expect(ipc.updateContact).toHaveBeenCalledWith(bob.id, { ...bob.contact, favourite: true }));

    await fireEvent.click(screen.getByRole("button", { name: "Edit Bob" }));
    const edit = screen.getByRole("form", { name: "Edit Bob" });
    await fireEvent.input(within(edit).getByLabelText("Name"), { target: { value: "Robert" } });
    await fireEvent.click(within(edit).getByRole("button", { name: "Save" }));
    await waitFor(() => expect(ipc.updateContact).toHaveBeenLastCalledWith(bob.id, { ...bob.contact, name: "Robert" }));

    await fireEvent.click(screen.getByRole("button", { name: "Call Bob" }));
    expect(ipc.dial).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1");

    await fireEvent.input(screen.getByRole("searchbox", { name: "Search contacts" }), { target: { value: "zed" } });
    expect(screen.queryByTestId("contact")).toBeNull();
    await fireEvent.input(screen.getByRole("searchbox", { name: "Search contacts" }), { target: { value: "" } });

    stored = [];
    await fireEvent.click(screen.getByRole("button", { name: "Delete Bob" }));
    await waitFor(() => expect(ipc.deleteContact).toHaveBeenCalledWith(bob.id));
    await waitFor(() => expect(ipc.watchPresence).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1", false));
    expect(screen.getByText("No contacts yet.")).toBeTruthy();
  });

  it("imports pasted vCards and reports what was skipped", async () => {
    await start();
    await fireEvent.click(screen.getByRole("button", { name: "Import vCards" }));
    await fireEvent.input(screen.getByTestId("vcard-text"), { target: { value: "BEGIN:VCARD\nFN:X\nEND:VCARD" } });
    await fireEvent.click(screen.getByRole("button", { name: "Import" }));
    expect(ipc.importVcards).toHaveBeenCalledWith("BEGIN:VCARD\nFN:X\nEND:VCARD");
    await waitFor(() => expect(screen.getByTestId("import-report").textContent).toContain("Added 2 contacts, skipped 1"));
    expect(screen.getByText("card 3: no name")).toBeTruthy();
  });

  it("opens a chat with a contact", async () => {
    await start();
    await fireEvent.click(await screen.findByRole("button", { name: "Message Bob" }));
    await waitFor(() => expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Chats"));
    expect(screen.getByTestId("thread").getAttribute("aria-label")).toBe("Conversation with Bob");
  });
});

describe("chat screen", () => {
  it("sends, shows delivery state, retries a failure, and shows typing and unread", async () => {
    await start("#/chats");
    await fireEvent.input(screen.getByRole("textbox", { name: "New chat with" }), { target: { value: "bob" } });
    await fireEvent.click(screen.getByRole("button", { name: "Start" }));
    const box = screen.getByTestId("composer");
    await fireEvent.input(box, { target: { value: "hello" } });
    expect(ipc.setComposing).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1", true);
    await fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(ipc.sendMessage).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1", "hello"));

    const out = msg({ id: ms(1), outgoing: true, text: "hello", state: { state: "sending" }, unread: false });
    emit({ event: "message_status", message: out });
    await waitFor(() => expect(screen.getByTestId("message-state").textContent).toBe("Sending…"));
    emit({ event: "message_status", message: { ...out, state: { state: "failed", status: 480, reason: "480 Temporarily Unavailable" } } });
    await waitFor(() => expect(screen.getByTestId("message-state").textContent).toBe("Not delivered: 480 Temporarily Unavailable"));
    await fireEvent.click(screen.getByRole("button", { name: "Retry sending “hello”" }));
    expect(ipc.retryMessage).toHaveBeenCalledWith(out.id);
    emit({ event: "message_status", message: { ...out, state: { state: "sent" } } });
    await waitFor(() => expect(screen.getByTestId("message-state").textContent).toBe("Sent"));

    emit({ event: "composing", account: "Work", peer: "sip:bob@127.0.0.1", active: true });
    await waitFor(() => expect(screen.getByTestId("typing").textContent).toBe("Bob is typing…"));
    emit({ event: "message_received", message: msg({ id: ms(2), at_ms: ms(2000), text: "hi alice" }) });
    await waitFor(() => expect(screen.getAllByTestId("message")).toHaveLength(2));
    expect(screen.getByTestId("typing").textContent).toBe("");
    // Open: read at once, no badge.
    expect(ipc.markRead).toHaveBeenCalled();
    expect(screen.queryByTestId("unread")).toBeNull();

    emit({ event: "message_received", message: msg({ id: ms(3), conversation: ms(11), peer: "sip:carol@127.0.0.1", text: "psst" }) });
    await waitFor(() => expect(screen.getByTestId("unread").textContent).toBe("1"));
  });

  it("searches across history and opens the hit's conversation", async () => {
    vi.mocked(ipc.searchMessages).mockResolvedValueOnce([msg({ text: "the hello you wanted" })]);
    await start("#/chats");
    await fireEvent.input(screen.getByRole("searchbox", { name: "Search messages" }), { target: { value: "hello" } });
    await fireEvent.click(screen.getByRole("button", { name: "Search" }));
    const results = await screen.findByTestId("search-results");
    expect(results.textContent).toContain("1 message found");
    await fireEvent.click(within(results).getByText("the hello you wanted"));
    expect(screen.getByTestId("thread").getAttribute("aria-label")).toBe("Conversation with Bob");
  });
});

describe("status bar presence", () => {
  it("publishes the chosen state with its note and shows the outcome", async () => {
    await start();
    await fireEvent.input(screen.getByTestId("my-note"), { target: { value: "in a meeting" } });
    await fireEvent.change(screen.getByTestId("my-presence"), { target: { value: "busy" } });
    expect(ipc.publishPresence).toHaveBeenCalledWith("Work", "busy", "in a meeting");
    expect(screen.getByTestId("publish-state").textContent?.trim()).toBe("Publishing…");
    emit({ event: "presence_published", account: "Work", ok: false, reason: "489 Bad Event" });
    await waitFor(() => expect(screen.getByTestId("publish-state").textContent?.trim()).toBe("Not published: 489 Bad Event"));
  });
});

describe("in-call transfer and levels", () => {
  it("transfers blind to an address or attended to another call, and shows levels", async () => {
    await start();
    const now = ms(Date.now());
    emit({ event: "call_state", call: info({ id: 1, state: "connected", answered_ms: now }) });
    emit({ event: "audio_level", id: 1, input_db: -30, output_db: -60 });
    await waitFor(() => expect(screen.getByRole("meter", { name: "Microphone level" }).getAttribute("value")).toBe("50"));
    await fireEvent.click(screen.getByTestId("call-transfer"));
    await fireEvent.input(screen.getByTestId("transfer-to"), { target: { value: "carol" } });
    await fireEvent.click(within(screen.getByRole("form", { name: "Transfer" })).getByRole("button", { name: "Transfer" }));
    await waitFor(() => expect(ipc.transferCall).toHaveBeenCalledWith(1, "sip:carol@127.0.0.1"));

    emit({ event: "call_state", call: info({ id: 2, state: "on_hold", peer_uri: "sip:carol@127.0.0.1", answered_ms: now }) });
    await fireEvent.change(await screen.findByTestId("transfer-call"), { target: { value: "2" } });
    await fireEvent.click(screen.getByRole("button", { name: "Connect calls" }));
    await waitFor(() => expect(ipc.transferAttended).toHaveBeenCalledWith(1, 2));
  });
});

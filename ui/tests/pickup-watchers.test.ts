// BLF pickup and presence watchers waiting for Allow / Block: the pure
// logic, and the Contacts screen in jsdom with the IPC module replaced.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup, within } from "@testing-library/svelte";
import type { Event } from "../src/lib/bindings/Event";
import type { ContactEntry } from "../src/lib/bindings/ContactEntry";
import type { PendingWatcher } from "../src/lib/bindings/PendingWatcher";
import { applyWatcherPending, canPickUp } from "../src/lib/contacts";
import { ms } from "./fixtures";

let emit: (e: Event) => void = () => {};
let waiting: PendingWatcher[] = [];
const accounts = [
  { name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } },
];
const bob: ContactEntry = {
  id: ms(1),
  contact: { name: "Bob", sip_uri: "sip:bob@127.0.0.1", phones: [], favourite: false, presence: false, blf: true },
};
vi.mock("../src/lib/ipc", () => ({
  engineStatus: vi.fn(async () => ({ version: "9.9.9", accounts, calls: [] })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return () => {};
  }),
  onLinkError: vi.fn(async () => () => {}),
  contacts: vi.fn(async () => [bob]),
  conversations: vi.fn(async () => []),
  unseenMissedCalls: vi.fn(async () => 0),
  watchPresence: vi.fn(async () => {}),
  watchLine: vi.fn(async () => {}),
  dial: vi.fn(async () => 7),
  pickupLine: vi.fn(async () => 8),
  pendingWatchers: vi.fn(async () => waiting),
  decideWatcher: vi.fn(async () => {}),
}));

import App from "../src/App.svelte";
import { app, resetWatches } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

describe("pickup and watcher logic", () => {
  it("offers pickup only while the line rings", () => {
    expect(canPickUp("ringing", "sip:bob@h")).toBe(true);
    expect(canPickUp("in_call", "sip:bob@h")).toBe(false);
    expect(canPickUp("idle", "sip:bob@h")).toBe(false);
    expect(canPickUp(undefined, "sip:bob@h")).toBe(false);
    expect(canPickUp("ringing", null)).toBe(false);
  });

  it("keeps each waiting watcher once and drops them when decided", () => {
    let list = applyWatcherPending([], { account: "Work", watcher: "sip:dave@h", waiting: true });
    list = applyWatcherPending(list, { account: "Work", watcher: "sip:Dave@h", waiting: true });
    list = applyWatcherPending(list, { account: "Home", watcher: "sip:dave@h", waiting: true });
    expect(list).toEqual([
      { account: "Work", watcher: "sip:Dave@h" },
      { account: "Home", watcher: "sip:dave@h" },
    ]);
    list = applyWatcherPending(list, { account: "Work", watcher: "sip:dave@h", waiting: false });
    expect(list).toEqual([{ account: "Home", watcher: "sip:dave@h" }]);
  });
});

describe("contacts screen", () => {
  beforeEach(() => {
    vi.clearAllMocks();
    waiting = [];
    resetWatches();
    Object.assign(app, { contacts: [], presence: {}, lines: {}, pendingWatchers: [] });
  });
  afterEach(() => cleanup());

  async function start() {
    location.hash = "#/contacts";
    render(App);
    await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Registered"));
    return screen.findByTestId("contact");
  }

  it("shows Pick up while Bob's line rings and picks up his call", async () => {
    const row = await start();
    expect(within(row).queryByRole("button", { name: "Pick up Bob's call" })).toBeNull();
    emit({ event: "blf", account: "Work", uri: "sip:bob@127.0.0.1", state: "ringing" });
    const button = await within(row).findByRole("button", { name: "Pick up Bob's call" });
    await fireEvent.click(button);
    await waitFor(() => expect(ipc.pickupLine).toHaveBeenCalledWith("Work", "sip:bob@127.0.0.1"));
    emit({ event: "blf", account: "Work", uri: "sip:bob@127.0.0.1", state: "in_call" });
    await waitFor(() => expect(within(row).queryByRole("button", { name: "Pick up Bob's call" })).toBeNull());
  });

  it("keeps the contact list raw (no proxy per contact) and still redraws when it is replaced", async () => {
    const row = await start();
    expect(within(row).getByText("Bob")).toBeTruthy();
    // What the engine returned is what the screens read: the same array
    // and the same objects, not deep-state proxies of them.
    const list = (await vi.mocked(ipc.contacts).mock.results[0].value) as ContactEntry[];
    expect(app.contacts).toBe(list);
    expect(app.contacts[0]).toBe(list[0]);
    const carol: ContactEntry = {
      id: ms(2),
      contact: { name: "Carol", sip_uri: "sip:carol@127.0.0.1", phones: [], favourite: false, presence: false, blf: false },
    };
    app.contacts = [bob, carol];
    await waitFor(() => expect(screen.getAllByTestId("contact").map((r) => r.textContent)).toEqual([
      expect.stringContaining("Bob"),
      expect.stringContaining("Carol"),
    ]));
  });

  it("lists watchers who wait, and allows or blocks them", async () => {
    waiting = [{ account: "Work", watcher: "sip:dave@127.0.0.1" }];
    await start();
    const list = await screen.findByTestId("pending-watchers");
    expect(within(list).getByText("Wants to see your status")).toBeTruthy();
    emit({ event: "watcher_pending", account: "Work", watcher: "sip:eve@127.0.0.1", waiting: true });
    await waitFor(() => expect(within(list).getAllByTestId("pending-watcher")).toHaveLength(2));

    await fireEvent.click(within(list).getByRole("button", { name: "Allow sip:dave@127.0.0.1" }));
    expect(ipc.decideWatcher).toHaveBeenCalledWith("Work", "sip:dave@127.0.0.1", true);
    await fireEvent.click(within(list).getByRole("button", { name: "Block sip:eve@127.0.0.1" }));
    expect(ipc.decideWatcher).toHaveBeenCalledWith("Work", "sip:eve@127.0.0.1", false);

    emit({ event: "watcher_pending", account: "Work", watcher: "sip:dave@127.0.0.1", waiting: false });
    emit({ event: "watcher_pending", account: "Work", watcher: "sip:eve@127.0.0.1", waiting: false });
    await waitFor(() => expect(screen.queryByTestId("pending-watchers")).toBeNull());
  });
});

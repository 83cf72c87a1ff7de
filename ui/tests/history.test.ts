// The call history: pure logic, and the History screen and its badge
// rendered in jsdom with the IPC module replaced. The real engine is
// exercised by tests/e2e.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup, within } from "@testing-library/svelte";
import type { Event } from "../src/lib/bindings/Event";
import type { HistoryEntry } from "../src/lib/bindings/HistoryEntry";
import type { AccountInfo } from "../src/lib/bindings/AccountInfo";
import {
  appendPage,
  applyHistoryChange,
  badgeText,
  callBackAccount,
  cursor,
  directionIcon,
  formatDuration,
  formatWhen,
  HISTORY_PAGE,
  outcomeLabel,
  peerLabel,
} from "../src/lib/history";

let emit: (e: Event) => void = () => {};
let linkError: (m: string) => void = () => {};
let unseen = 0;
let stored: HistoryEntry[] = [];
const accounts: AccountInfo[] = [
  { name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } },
];
vi.mock("../src/lib/ipc", () => ({
  engineStatus: vi.fn(async () => ({ version: "9.9.9", accounts, calls: [] })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return () => {};
  }),
  contacts: vi.fn(async () => []),
  conversations: vi.fn(async () => []),
  onLinkError: vi.fn(async (h: (m: string) => void) => {
    linkError = h;
    return () => {};
  }),
  watchPresence: vi.fn(async () => {}),
  watchLine: vi.fn(async () => {}),
  dial: vi.fn(async () => 7),
  unseenMissedCalls: vi.fn(async () => unseen),
  callHistory: vi.fn(async (filter: string, before: number | null, limit: number) =>
    stored
      .filter((e) => (filter === "all" || e.outcome.kind === "missed") && (before === null || e.id < before))
      .slice(0, limit),
  ),
  markMissedSeen: vi.fn(async () => {
    const n = unseen;
    unseen = 0;
    // The engine reports the change as an event.
    emit({ event: "history_changed", change: { change: "seen" }, unseen_missed: 0 });
    return n;
  }),
  deleteCallRecord: vi.fn(async (id: number) => {
    stored = stored.filter((e) => e.id !== id);
    emit({ event: "history_changed", change: { change: "deleted", id }, unseen_missed: unseen });
  }),
  clearCallHistory: vi.fn(async () => {
    const n = stored.length;
    stored = [];
    emit({ event: "history_changed", change: { change: "cleared" }, unseen_missed: 0 });
    return n;
  }),
}));

import App from "../src/App.svelte";
import { app } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

function entry(over: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    id: 1,
    account: "Work",
    direction: "outgoing",
    peer_uri: "sip:bob@127.0.0.1",
    peer_name: null,
    started_ms: 1_000_000,
    answered_ms: 1_002_000,
    ended_ms: 1_067_000,
    outcome: { kind: "answered" },
    seen: true,
    ...over,
  };
}

const missed = (id: number, seen = false) =>
  entry({ id, direction: "incoming", answered_ms: null, outcome: { kind: "missed" }, seen, peer_name: "Carol", peer_uri: "sip:carol@127.0.0.1" });

describe("history logic", () => {
  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(65_000)).toBe("1:05");
    expect(formatDuration(3_725_000)).toBe("1:02:05");
    expect(formatDuration(-5)).toBe("0:00");
  });

  it("labels every outcome", () => {
    expect(outcomeLabel(entry())).toEqual({ text: "1:05", tone: "ok" });
    expect(outcomeLabel(missed(2))).toEqual({ text: "Missed", tone: "missed" });
    expect(outcomeLabel(entry({ outcome: { kind: "busy" } })).text).toBe("Busy");
    expect(outcomeLabel(entry({ direction: "incoming", outcome: { kind: "rejected" } })).text).toBe("Declined");
    expect(outcomeLabel(entry({ outcome: { kind: "cancelled" } })).text).toBe("Cancelled");
    expect(outcomeLabel(entry({ direction: "incoming", outcome: { kind: "cancelled" } })).text).toBe("Answered elsewhere");
    expect(outcomeLabel(entry({ outcome: { kind: "failed", status: 404, reason: "Not Found" } })).text).toBe("Failed: 404 Not Found");
    expect(outcomeLabel(entry({ outcome: { kind: "failed", status: null, reason: "" } })).text).toBe("Failed: no response");
  });

  it("names the direction and the peer", () => {
    expect(directionIcon(entry()).label).toBe("Outgoing call");
    expect(directionIcon(entry({ direction: "incoming" })).label).toBe("Incoming call");
    expect(directionIcon(missed(2)).label).toBe("Missed call");
    expect(peerLabel(entry())).toBe("bob@127.0.0.1");
    expect(peerLabel(entry({ peer_name: "Bob B." }))).toBe("Bob B.");
    expect(peerLabel(entry({ peer_name: "Bob B." }), "Bob (contact)")).toBe("Bob (contact)");
  });

  it("shows today's calls by time and older ones with the date", () => {
    const now = new Date(2026, 10, 24, 15, 0).getTime();
    const today = formatWhen(new Date(2026, 10, 24, 9, 5).getTime(), now);
    expect(today).not.toMatch(/Yesterday|Nov/);
    expect(formatWhen(new Date(2026, 10, 23, 9, 5).getTime(), now)).toMatch(/^Yesterday /);
    expect(formatWhen(new Date(2025, 0, 2, 9, 5).getTime(), now)).toMatch(/2025/);
  });

  it("applies engine changes to the loaded list", () => {
    const list = [entry({ id: 3 }), missed(2), entry({ id: 1 })];
    const rec = applyHistoryChange(list, { change: "recorded", entry: entry({ id: 4 }) }, "all");
    expect(rec.map((e) => e.id)).toEqual([4, 3, 2, 1]);
    // Replayed events do not duplicate.
    expect(applyHistoryChange(rec, { change: "recorded", entry: entry({ id: 4 }) }, "all")).toBe(rec);
    // The missed filter ignores answered calls.
    expect(applyHistoryChange([missed(2)], { change: "recorded", entry: entry({ id: 4 }) }, "missed").map((e) => e.id)).toEqual([2]);
    expect(applyHistoryChange(list, { change: "deleted", id: 2 }, "all").map((e) => e.id)).toEqual([3, 1]);
    expect(applyHistoryChange(list, { change: "cleared" }, "all")).toEqual([]);
    const seen = applyHistoryChange(list, { change: "seen" }, "all");
    expect(seen.every((e) => e.seen)).toBe(true);
    expect(applyHistoryChange(seen, { change: "seen" }, "all")).toBe(seen);
  });

  it("pages by the oldest id shown without duplicates", () => {
    expect(cursor([])).toBeNull();
    const list = [entry({ id: 9 }), entry({ id: 7 })];
    expect(cursor(list)).toBe(7);
    expect(appendPage(list, [entry({ id: 7 }), entry({ id: 5 })]).map((e) => e.id)).toEqual([9, 7, 5]);
  });

  it("calls back from the call's account, else the primary one", () => {
    const home: AccountInfo = { ...accounts[0], name: "Home" };
    expect(callBackAccount(entry({ account: "Home" }), [accounts[0], home])?.name).toBe("Home");
    expect(callBackAccount(entry({ account: "Gone" }), [accounts[0], home])?.name).toBe("Work");
    const disabled: AccountInfo = { ...home, registration: { state: "disabled" } };
    expect(callBackAccount(entry({ account: "Home" }), [disabled, accounts[0]])?.name).toBe("Work");
    expect(callBackAccount(entry(), [])).toBeUndefined();
  });

  it("caps the badge", () => {
    expect(badgeText(0)).toBeNull();
    expect(badgeText(3)).toBe("3");
    expect(badgeText(250)).toBe("99+");
  });
});

describe("history screen", () => {
  async function start(hash: string) {
    location.hash = hash;
    render(App);
    await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Registered"));
  }

  beforeEach(() => {
    vi.clearAllMocks();
    Object.assign(app, { calls: [], missedCalls: 0, error: null, history: { filter: "all", entries: [] } });
  });
  afterEach(() => cleanup());

  it("shows the missed-call badge, which opening History clears", async () => {
    unseen = 2;
    stored = [missed(2), missed(1)];
    await start("#/contacts");
    const badge = await screen.findByTestId("missed-badge");
    expect(badge.textContent).toBe("2");
    expect(ipc.markMissedSeen).not.toHaveBeenCalled();
    // A new missed call bumps it.
    emit({ event: "history_changed", change: { change: "recorded", entry: missed(3) }, unseen_missed: 3 });
    await waitFor(() => expect(screen.getByTestId("missed-badge").textContent).toBe("3"));

    await fireEvent.click(screen.getByRole("tab", { name: /History/ }));
    await waitFor(() => expect(ipc.markMissedSeen).toHaveBeenCalledTimes(1));
    await waitFor(() => expect(screen.queryByTestId("missed-badge")).toBeNull());
    const rows = await screen.findAllByTestId("history-entry");
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByTestId("history-outcome").textContent).toBe("Missed");
    expect(within(rows[0]).getByTestId("history-peer").textContent).toBe("Carol");
  });

  it("lists calls, filters missed ones, updates live and calls back", async () => {
    unseen = 0;
    stored = [entry({ id: 3, peer_name: "Bob" }), missed(2, true), entry({ id: 1, outcome: { kind: "busy" }, answered_ms: null })];
    await start("#/history");
    await waitFor(() => expect(screen.getAllByTestId("history-entry")).toHaveLength(3));
    expect(ipc.callHistory).toHaveBeenCalledWith("all", null, HISTORY_PAGE);
    const outcomes = screen.getAllByTestId("history-outcome").map((e) => e.textContent);
    expect(outcomes).toEqual(["1:05", "Missed", "Busy"]);
    expect(ipc.markMissedSeen).not.toHaveBeenCalled();

    // A call ending while the screen is open appears at the top.
    emit({ event: "history_changed", change: { change: "recorded", entry: entry({ id: 4, peer_name: "Dave" }) }, unseen_missed: 0 });
    await waitFor(() => expect(screen.getAllByTestId("history-peer")[0].textContent).toBe("Dave"));

    await fireEvent.click(screen.getByTestId("history-filter-missed"));
    await waitFor(() => expect(screen.getAllByTestId("history-entry")).toHaveLength(1));
    expect(ipc.callHistory).toHaveBeenLastCalledWith("missed", null, HISTORY_PAGE);

    await fireEvent.click(screen.getByRole("button", { name: "Call Carol back" }));
    await waitFor(() => expect(ipc.dial).toHaveBeenCalledWith("Work", "sip:carol@127.0.0.1"));
  });

  it("deletes one call, clears all after confirming, and loads more", async () => {
    unseen = 0;
    stored = Array.from({ length: HISTORY_PAGE + 5 }, (_, i) => entry({ id: HISTORY_PAGE + 5 - i, peer_name: `Peer ${HISTORY_PAGE + 5 - i}` }));
    await start("#/history");
    await waitFor(() => expect(screen.getAllByTestId("history-entry")).toHaveLength(HISTORY_PAGE));
    await fireEvent.click(screen.getByTestId("history-more"));
    await waitFor(() => expect(screen.getAllByTestId("history-entry")).toHaveLength(HISTORY_PAGE + 5));
    expect(ipc.callHistory).toHaveBeenLastCalledWith("all", 6, HISTORY_PAGE);
    expect(screen.queryByTestId("history-more")).toBeNull();

    await fireEvent.click(screen.getByRole("button", { name: `Delete call with Peer ${HISTORY_PAGE + 5} from the history` }));
    await waitFor(() => expect(screen.getAllByTestId("history-entry")).toHaveLength(HISTORY_PAGE + 4));
    expect(ipc.deleteCallRecord).toHaveBeenCalledWith(HISTORY_PAGE + 5);

    await fireEvent.click(screen.getByTestId("history-clear"));
    expect(ipc.clearCallHistory).not.toHaveBeenCalled();
    const confirm = screen.getByTestId("history-confirm");
    await fireEvent.click(within(confirm).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByTestId("history-confirm")).toBeNull();
    await fireEvent.click(screen.getByTestId("history-clear"));
    await fireEvent.click(screen.getByTestId("history-clear-confirm"));
    await waitFor(() => expect(screen.getByTestId("history-empty").textContent).toContain("No calls yet."));
    expect(ipc.clearCallHistory).toHaveBeenCalledTimes(1);
  });

  it("shows why a sip:/tel: link could not be called", async () => {
    unseen = 0;
    stored = [];
    await start("#/contacts");
    await waitFor(() => expect(ipc.onLinkError).toHaveBeenCalled());
    linkError("Cannot call the link: the tel: link has no phone number");
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("Cannot call the link: the tel: link has no phone number"));
  });

  it("shows a failed load as an error", async () => {
    unseen = 0;
    vi.mocked(ipc.callHistory).mockRejectedValueOnce(new Error("database is busy"));
    await start("#/history");
    await waitFor(() => expect(screen.getByTestId("history-error").textContent).toBe("database is busy"));
  });
});

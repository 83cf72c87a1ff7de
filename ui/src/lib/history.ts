// Pure logic of the call history screen: how an entry reads, how engine
// changes update the loaded list, and which account calls back.
import type { AccountInfo } from "./bindings/AccountInfo";
import type { HistoryChange } from "./bindings/HistoryChange";
import type { HistoryEntry } from "./bindings/HistoryEntry";
import type { HistoryFilter } from "./bindings/HistoryFilter";
import { primaryAccount } from "./accounts";
import { formatDate, t } from "./i18n.svelte";

/** Records loaded per page ("Load more" fetches the next). */
export const HISTORY_PAGE = 50;

/** `m:ss`, or `h:mm:ss` from an hour on. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export type OutcomeTone = "ok" | "missed" | "warn";

/** What the entry's outcome column says: the talk time of an answered call, else how it ended. */
export function outcomeLabel(e: HistoryEntry): { text: string; tone: OutcomeTone } {
  const o = e.outcome;
  switch (o.kind) {
    case "answered":
      return { text: formatDuration(e.ended_ms - (e.answered_ms ?? e.ended_ms)), tone: "ok" };
    case "missed":
      return { text: t("history.outcomeMissed"), tone: "missed" };
    case "rejected":
      return { text: t("history.declined"), tone: "warn" };
    case "busy":
      return { text: t("history.busy"), tone: "warn" };
    case "cancelled":
      return { text: e.direction === "outgoing" ? t("history.cancelled") : t("history.elsewhere"), tone: "warn" };
    case "failed": {
      const reason = o.reason || t("history.noResponse");
      return { text: o.status === null ? t("history.failed", { reason }) : t("history.failedStatus", { status: o.status, reason }), tone: "warn" };
    }
  }
}

/** Icon and accessible name for the entry's direction. */
export function directionIcon(e: HistoryEntry): { icon: string; label: string } {
  if (e.outcome.kind === "missed") return { icon: "↙", label: t("history.missedCall") };
  return e.direction === "incoming" ? { icon: "↙", label: t("history.incoming") } : { icon: "↗", label: t("history.outgoing") };
}

/** The peer as shown: its display name, else the address without the scheme. */
export function peerLabel(e: HistoryEntry, contactName?: string | null): string {
  return contactName || e.peer_name || e.peer_uri.replace(/^sips?:/i, "");
}

/** Day heading or time: today's calls show the time, older ones the date too. */
export function formatWhen(at: number, now = Date.now()): string {
  const d = new Date(at);
  const time = formatDate(d, { hour: "2-digit", minute: "2-digit" });
  const today = new Date(now);
  if (today.toDateString() === d.toDateString()) return time;
  const yesterday = new Date(now - 86_400_000);
  if (yesterday.toDateString() === d.toDateString()) return t("history.yesterday", { time });
  return `${formatDate(d, { day: "numeric", month: "short", year: d.getFullYear() === today.getFullYear() ? undefined : "numeric" })} ${time}`;
}

function matches(e: HistoryEntry, filter: HistoryFilter): boolean {
  return filter === "all" || e.outcome.kind === "missed";
}

/** The loaded list after an engine change (newest first, as loaded). */
export function applyHistoryChange(list: HistoryEntry[], change: HistoryChange, filter: HistoryFilter): HistoryEntry[] {
  switch (change.change) {
    case "recorded":
      if (!matches(change.entry, filter) || list.some((e) => e.id === change.entry.id)) return list;
      return [change.entry, ...list];
    case "deleted":
      return list.filter((e) => e.id !== change.id);
    case "cleared":
      return [];
    case "seen":
      return list.some((e) => !e.seen) ? list.map((e) => (e.seen ? e : { ...e, seen: true })) : list;
  }
}

/** Appends an older page, skipping records already shown (a change may have moved the cursor). */
export function appendPage(list: HistoryEntry[], page: HistoryEntry[]): HistoryEntry[] {
  const have = new Set(list.map((e) => e.id));
  return [...list, ...page.filter((e) => !have.has(e.id))];
}

/** The paging cursor: the oldest record shown. */
export function cursor(list: HistoryEntry[]): number | null {
  return list.length ? list[list.length - 1].id : null;
}

/**
 * The account a call back goes out from: the call's own account while it
 * exists and is enabled, else the one the dialpad would use.
 */
export function callBackAccount(e: HistoryEntry, accounts: AccountInfo[]): AccountInfo | undefined {
  const own = accounts.find((a) => a.name === e.account && a.registration.state !== "disabled");
  return own ?? primaryAccount(accounts);
}

/** Badge text for the navigation entry; null hides it. */
export function badgeText(unseen: number): string | null {
  if (unseen <= 0) return null;
  return unseen > 99 ? "99+" : String(unseen);
}

// Pure logic over the engine's chat types: how the event stream updates
// the conversation list and the open conversation, how delivery states
// read, and the unread total.
import type { ChatMessage } from "./bindings/ChatMessage";
import type { ChatState } from "./bindings/ChatState";
import type { ConversationInfo } from "./bindings/ConversationInfo";
import type { Event } from "./bindings/Event";
import { peerKey } from "./contacts";
import { formatDate, t } from "./i18n.svelte";

/** ts-rs types i64 as bigint; over JSON they are numbers. */
export const num = (n: bigint | number): number => Number(n);

/** A conversation is the same when account and peer match (ids come with the first message). */
export const sameConversation = (a: { account: string; peer: string }, b: { account: string; peer: string }) =>
  a.account === b.account && peerKey(a.peer) === peerKey(b.peer);

/** Applies a message event to the conversation list (most recent first). `open` is read as it arrives. */
export function applyToConversations(
  convs: ConversationInfo[],
  e: Event,
  open: { account: string; peer: string } | null,
): ConversationInfo[] {
  if (e.event !== "message_received" && e.event !== "message_status") return convs;
  const m = e.message;
  const i = convs.findIndex((c) => num(c.id) === num(m.conversation));
  const isOpen = open !== null && sameConversation(open, m);
  const fresh = e.event === "message_received" && m.unread && !isOpen;
  if (i < 0) {
    return [{ id: m.conversation, account: m.account, peer: m.peer, last: m, unread: fresh ? 1 : 0 }, ...convs];
  }
  const c = convs[i];
  const newest = !c.last || num(c.last.id) <= num(m.id);
  const updated: ConversationInfo = { ...c, last: newest ? m : c.last, unread: c.unread + (fresh ? 1 : 0) };
  if (!newest) return convs.map((x, j) => (j === i ? updated : x));
  return [updated, ...convs.filter((_, j) => j !== i)];
}

/** Inserts or replaces `m` in a conversation's messages, keeping them oldest first. */
export function upsertMessage(list: ChatMessage[], m: ChatMessage): ChatMessage[] {
  const i = list.findIndex((x) => num(x.id) === num(m.id));
  if (i >= 0) return list.map((x, j) => (j === i ? m : x));
  const out = [...list, m];
  out.sort((a, b) => num(a.at_ms) - num(b.at_ms) || num(a.id) - num(b.id));
  return out;
}

/** The delivery state a message shows; empty for received ones. */
export function deliveryLabel(s: ChatState): string {
  switch (s.state) {
    case "sending":
      return t("delivery.sending");
    case "sent":
      return t("delivery.sent");
    case "delivered":
      return t("delivery.delivered");
    case "failed":
      return t("delivery.failed", { reason: s.reason });
    case "received":
      return "";
  }
}

export const canRetry = (m: ChatMessage) => m.outgoing && m.state.state === "failed";

export const totalUnread = (convs: ConversationInfo[]) => convs.reduce((n, c) => n + c.unread, 0);

/** Peers typing now, keyed `account peer`. */
export function applyComposing(typing: Record<string, boolean>, e: Event): Record<string, boolean> {
  if (e.event === "composing") return { ...typing, [`${e.account} ${peerKey(e.peer)}`]: e.active };
  // A message from the peer ends its typing (RFC 3994 §3).
  if (e.event === "message_received") return { ...typing, [`${e.message.account} ${peerKey(e.message.peer)}`]: false };
  return typing;
}

/** How long after the last keystroke we tell the peer we stopped typing. */
export const COMPOSING_IDLE_MS = 5000;

export function formatTime(at: bigint | number, now = Date.now()): string {
  const d = new Date(num(at));
  const today = new Date(now).toDateString() === d.toDateString();
  const time = formatDate(d, { hour: "2-digit", minute: "2-digit" });
  return today ? time : formatDate(d, { day: "numeric", month: "short" }) + " " + time;
}

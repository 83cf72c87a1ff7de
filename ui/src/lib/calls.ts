// Pure logic over the engine's call types: how the event stream builds the
// list of calls the UI shows, how states, ends and quality read, and which
// call is in front.
import type { CallEnd } from "./bindings/CallEnd";
import type { CallInfo } from "./bindings/CallInfo";
import type { CallQuality } from "./bindings/CallQuality";
import type { Event } from "./bindings/Event";
import type { Tone } from "./accounts";
import { t } from "./i18n.svelte";

/** A call as the UI holds it: the engine's view plus what arrived beside it. */
export interface CallView {
  info: CallInfo;
  quality: CallQuality | null;
  /** Digits the peer sent, in order. */
  dtmfIn: string;
  /** Set once the call is over; the panel shows why, then drops it. */
  end: CallEnd | null;
  /** The last finished recording of this call: its file, or why it failed. */
  recorded?: { path: string; error: string | null };
}

/** How long an ended call stays on screen with its reason. */
export const ENDED_LINGER_MS = 6000;

/** Applies one engine event to the call list (other events leave it as is). */
export function applyCallEvent(calls: CallView[], e: Event): CallView[] {
  switch (e.event) {
    case "incoming_call":
    case "call_state": {
      const i = calls.findIndex((c) => c.info.id === e.call.id);
      if (i < 0) return [...calls, { info: e.call, quality: null, dtmfIn: "", end: null }];
      // A late state after the end must not bring a call back to life.
      if (calls[i].end) return calls;
      return calls.map((c, j) => (j === i ? { ...c, info: e.call } : c));
    }
    case "call_ended": {
      const i = calls.findIndex((c) => c.info.id === e.call.id);
      const ended: CallView = { info: e.call, quality: i >= 0 ? calls[i].quality : null, dtmfIn: i >= 0 ? calls[i].dtmfIn : "", end: e.end };
      return i < 0 ? [...calls, ended] : calls.map((c, j) => (j === i ? ended : c));
    }
    case "call_quality":
      return calls.map((c) => (c.info.id === e.id && !c.end ? { ...c, quality: e.quality } : c));
    case "dtmf":
      return calls.map((c) => (c.info.id === e.id ? { ...c, dtmfIn: (c.dtmfIn + e.digit).slice(-32) } : c));
    case "recording":
      // Started: the call's own state shows it. Stopped: keep where it went.
      if (e.active) return calls;
      return calls.map((c) => (c.info.id === e.id ? { ...c, recorded: { path: e.path, error: e.error } } : c));
    default:
      return calls;
  }
}

/** Calls that are not over. */
export const liveCalls = (calls: CallView[]): CallView[] => calls.filter((c) => !c.end);

/** Incoming calls still ringing here, oldest first. */
export const ringingIn = (calls: CallView[]): CallView[] =>
  calls.filter((c) => !c.end && c.info.state === "incoming");

/**
 * The call the in-call panel shows: the one the user picked while it
 * lives, else a live call that is not ringing here (connected before held),
 * else the most recent ended one so its reason stays readable.
 */
export function frontCall(calls: CallView[], picked: number | null): CallView | undefined {
  const live = calls.filter((c) => !c.end && c.info.state !== "incoming");
  const p = live.find((c) => c.info.id === picked);
  if (p) return p;
  const rank = (c: CallView) => (c.info.state === "connected" ? 0 : c.info.state === "on_hold" ? 2 : 1);
  const best = [...live].sort((a, b) => rank(a) - rank(b) || b.info.id - a.info.id)[0];
  if (best) return best;
  const ended = calls.filter((c) => c.end);
  return ended[ended.length - 1];
}

export function callStateLabel(c: CallInfo): { text: string; tone: Tone } {
  switch (c.state) {
    case "dialing":
      return { text: t("call.dialing"), tone: "busy" };
    case "ringing":
      return { text: t("call.ringing"), tone: "busy" };
    case "early_media":
      return { text: t("call.earlyMedia"), tone: "busy" };
    case "incoming":
      return { text: t("call.incoming"), tone: "busy" };
    case "connected":
      return { text: t("call.connected"), tone: "ok" };
    case "on_hold":
      if (c.held_by_us && c.held_by_peer) return { text: t("call.heldBoth"), tone: "warn" };
      return { text: c.held_by_peer ? t("call.heldByPeer") : t("call.onHold"), tone: "warn" };
    case "transferring":
      return { text: t("call.transferring"), tone: "busy" };
    case "ended":
      return { text: t("call.ended"), tone: "off" };
  }
}

/** What the user reads when a call is over. */
export function endReason(end: CallEnd, direction: CallInfo["direction"]): string {
  switch (end.outcome) {
    case "hung_up":
      return end.by_us ? t("end.youHungUp") : t("end.peerHungUp");
    case "transferred":
      return t("end.transferred");
    case "cancelled":
      return direction === "outgoing" ? t("end.cancelled") : t("end.callerGaveUp");
    case "missed":
      return direction === "outgoing" ? t("end.noAnswer") : t("end.missed");
    case "rejected":
      return `${end.reason} (${end.status})`;
    case "failed":
      return end.status ? `${end.reason} (${end.status})` : end.reason;
  }
}

/** `m:ss`, or `h:mm:ss` from an hour on. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Time on the call's timer at `now`: talk time once answered, else time since it started. */
export function callElapsed(c: CallInfo, now: number): number {
  // ts-rs types i64 as bigint; over JSON it arrives as a number.
  return now - Number(c.answered_ms ?? c.started_ms);
}

/** MOS bands as users read them (ITU-T G.107 user satisfaction). */
export function qualityLevel(q: CallQuality): { text: string; tone: Tone; bars: number } {
  if (q.mos >= 4.0) return { text: t("quality.good"), tone: "ok", bars: 4 };
  if (q.mos >= 3.6) return { text: t("quality.fair"), tone: "ok", bars: 3 };
  if (q.mos >= 3.1) return { text: t("quality.poor"), tone: "warn", bars: 2 };
  return { text: t("quality.bad"), tone: "error", bars: 1 };
}

export function qualityDetail(q: CallQuality, codec: string | null): string {
  const parts = [t("quality.detail", { mos: q.mos.toFixed(1), loss: q.loss_pct.toFixed(1), jitter: Math.round(q.jitter_ms) })];
  if (q.rtt_ms !== null) parts.push(t("quality.rtt", { rtt: Math.round(q.rtt_ms) }));
  if (codec) parts.push(codec);
  return parts.join(", ");
}

/** The name to show for the peer: its display name, else the user part of its URI. */
export function peerLabel(c: CallInfo): string {
  if (c.peer_name?.trim()) return c.peer_name.trim();
  const m = c.peer_uri.match(/^(?:sips?|tel):([^@;>]+)/i);
  return m ? m[1] : c.peer_uri;
}

/** The live call that should be held when `id` comes to the front (call waiting, switching). */
export function toHoldFor(calls: CallView[], id: number): CallView[] {
  return calls.filter(
    (c) => !c.end && c.info.id !== id && (c.info.state === "connected" || c.info.state === "on_hold") && !c.info.held_by_us,
  );
}

/** Answered calls that are not over. */
const answeredLive = (c: CallView) => !c.end && (c.info.state === "connected" || c.info.state === "on_hold");

/**
 * The call that "Merge" joins with call `id` into a 3-way conference: the
 * one other answered call that is not in the same conference already
 * (none, so no button, when there is no such call or more than one).
 */
export function mergeCandidate(calls: CallView[], id: number): CallView | null {
  const me = calls.find((c) => c.info.id === id);
  if (!me || !answeredLive(me)) return null;
  const others = calls.filter(
    (c) => c.info.id !== id && answeredLive(c) && (me.info.conference === null || c.info.conference !== me.info.conference),
  );
  return others.length === 1 ? others[0] : null;
}

/** The other parties of the conference call `id` is in (empty when it is in none). */
export function conferencePeers(calls: CallView[], id: number): CallView[] {
  const me = calls.find((c) => c.info.id === id);
  const conf = me?.info.conference ?? null;
  if (conf === null) return [];
  return calls.filter((c) => c.info.id !== id && !c.end && c.info.conference === conf);
}

import { describe, expect, it } from "vitest";
import type { Event } from "../src/lib/bindings/Event";
import {
  applyCallEvent,
  callElapsed,
  callStateLabel,
  conferencePeers,
  endReason,
  formatDuration,
  frontCall,
  liveCalls,
  mergeCandidate,
  peerLabel,
  qualityDetail,
  qualityLevel,
  ringingIn,
  toHoldFor,
  type CallView,
} from "../src/lib/calls";
import { info, ms } from "./fixtures";

const run = (events: Event[], start: CallView[] = []) => events.reduce(applyCallEvent, start);
const quality = { loss_pct: 0.5, jitter_ms: 3.4, rtt_ms: 21.2, mos: 4.3 };

describe("call list from the event stream", () => {
  it("adds calls and follows their state", () => {
    const calls = run([
      { event: "call_state", call: info() },
      { event: "call_state", call: info({ state: "ringing" }) },
      { event: "incoming_call", call: info({ id: 2, direction: "incoming", state: "incoming" }) },
      { event: "call_state", call: info({ state: "connected", answered_ms: ms(1_005_000) }) },
    ]);
    expect(calls.map((c) => [c.info.id, c.info.state])).toEqual([
      [1, "connected"],
      [2, "incoming"],
    ]);
    expect(ringingIn(calls).map((c) => c.info.id)).toEqual([2]);
  });

  it("keeps the end and ignores a late state after it", () => {
    const calls = run([
      { event: "call_state", call: info({ state: "connected" }) },
      { event: "call_quality", id: 1, quality },
      { event: "dtmf", id: 1, digit: "5" },
      { event: "dtmf", id: 1, digit: "#" },
      { event: "call_ended", call: info({ state: "ended" }), end: { outcome: "hung_up", by_us: false } },
      { event: "call_state", call: info({ state: "connected" }) },
      { event: "call_quality", id: 1, quality: { ...quality, mos: 1 } },
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0].end).toEqual({ outcome: "hung_up", by_us: false });
    expect(calls[0].info.state).toBe("ended");
    expect(calls[0].quality?.mos).toBe(4.3);
    expect(calls[0].dtmfIn).toBe("5#");
    expect(liveCalls(calls)).toEqual([]);
  });

  it("leaves the list alone for account events", () => {
    const calls = run([{ event: "call_state", call: info() }]);
    expect(applyCallEvent(calls, { event: "registration", account: "Work", state: { state: "registered", expires_in_s: 600 } })).toBe(calls);
  });
});

describe("the call in front", () => {
  const calls = run([
    { event: "call_state", call: info({ id: 1, state: "on_hold", held_by_us: true }) },
    { event: "call_state", call: info({ id: 2, state: "connected" }) },
    { event: "incoming_call", call: info({ id: 3, direction: "incoming", state: "incoming" }) },
  ]);

  it("prefers the connected call, never one ringing here", () => {
    expect(frontCall(calls, null)?.info.id).toBe(2);
  });

  it("honours the user's pick while that call lives", () => {
    expect(frontCall(calls, 1)?.info.id).toBe(1);
    expect(frontCall(calls, 3)?.info.id).toBe(2);
    expect(frontCall(calls, 99)?.info.id).toBe(2);
  });

  it("shows the last ended call when nothing lives", () => {
    const ended = run([{ event: "call_ended", call: info({ id: 4, state: "ended" }), end: { outcome: "cancelled" } }]);
    expect(frontCall(ended, null)?.info.id).toBe(4);
    expect(frontCall([], null)).toBeUndefined();
  });

  it("holds only talking calls we have not held", () => {
    expect(toHoldFor(calls, 3).map((c) => c.info.id)).toEqual([2]);
    const peerHeld = run([{ event: "call_state", call: info({ id: 5, state: "on_hold", held_by_peer: true }) }]);
    expect(toHoldFor(peerHeld, 6).map((c) => c.info.id)).toEqual([5]);
  });
});

describe("how calls read", () => {
  it("labels every state", () => {
    expect(callStateLabel(info()).text).toBe("Calling…");
    expect(callStateLabel(info({ state: "ringing" })).text).toBe("Ringing…");
    expect(callStateLabel(info({ state: "early_media" })).text).toBe("Early media");
    expect(callStateLabel(info({ state: "connected" }))).toEqual({ text: "Connected", tone: "ok" });
    expect(callStateLabel(info({ state: "on_hold", held_by_us: true })).text).toBe("On hold");
    expect(callStateLabel(info({ state: "on_hold", held_by_peer: true })).text).toBe("Held by the other side");
    expect(callStateLabel(info({ state: "on_hold", held_by_us: true, held_by_peer: true })).text).toBe("On hold (both sides)");
  });

  it("explains every end", () => {
    expect(endReason({ outcome: "hung_up", by_us: true }, "outgoing")).toBe("You hung up");
    expect(endReason({ outcome: "hung_up", by_us: false }, "incoming")).toBe("The other side hung up");
    expect(endReason({ outcome: "transferred" }, "outgoing")).toBe("Transferred");
    expect(endReason({ outcome: "cancelled" }, "incoming")).toBe("The caller gave up");
    expect(endReason({ outcome: "missed" }, "outgoing")).toBe("No answer");
    expect(endReason({ outcome: "missed" }, "incoming")).toBe("Missed call");
    expect(endReason({ outcome: "rejected", status: 486, reason: "Busy Here" }, "outgoing")).toBe("Busy Here (486)");
    expect(endReason({ outcome: "failed", status: null, reason: "No route to host" }, "outgoing")).toBe("No route to host");
    expect(endReason({ outcome: "failed", status: 404, reason: "Not Found" }, "outgoing")).toBe("Not Found (404)");
  });

  it("formats the timer from the start, then from the answer", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(65_400)).toBe("1:05");
    expect(formatDuration(3_723_000)).toBe("1:02:03");
    expect(formatDuration(-5)).toBe("0:00");
    expect(callElapsed(info(), 1_003_000)).toBe(3000);
    expect(callElapsed(info({ answered_ms: ms(1_002_000) }), 1_003_000)).toBe(1000);
  });

  it("bands MOS and details the numbers", () => {
    expect(qualityLevel({ ...quality, mos: 4.3 })).toEqual({ text: "Good", tone: "ok", bars: 4 });
    expect(qualityLevel({ ...quality, mos: 3.7 }).bars).toBe(3);
    expect(qualityLevel({ ...quality, mos: 3.2 }).text).toBe("Poor");
    expect(qualityLevel({ ...quality, mos: 2.0 }).tone).toBe("error");
    expect(qualityDetail(quality, "PCMU/8000")).toBe("MOS 4.3, loss 0.5%, jitter 3 ms, RTT 21 ms, PCMU/8000");
    expect(qualityDetail({ ...quality, rtt_ms: null }, null)).toBe("MOS 4.3, loss 0.5%, jitter 3 ms");
  });

  it("names the peer", () => {
    expect(peerLabel(info({ peer_name: "Bob Smith" }))).toBe("Bob Smith");
    expect(peerLabel(info())).toBe("bob");
    expect(peerLabel(info({ peer_uri: "tel:+4930123" }))).toBe("+4930123");
    expect(peerLabel(info({ peer_uri: "weird" }))).toBe("weird");
  });
});

describe("conference and recording logic", () => {
  const live = (over: Partial<CallView["info"]>): CallView => ({
    info: info({ state: "connected", answered_ms: ms(1), ...over }),
    quality: null,
    dtmfIn: "",
    end: null,
  });

  it("merges with the one other answered call not already in the conference", () => {
    const a = live({ id: 1 });
    const b = live({ id: 2, state: "on_hold", held_by_us: true });
    expect(mergeCandidate([a, b], 1)?.info.id).toBe(2);
    expect(mergeCandidate([a, b], 2)?.info.id).toBe(1);
    // Not with a ringing call, nor with ourselves alone.
    expect(mergeCandidate([a, live({ id: 3, state: "ringing", answered_ms: null })], 1)).toBeNull();
    expect(mergeCandidate([a], 1)).toBeNull();
    // Two candidates: which one is ambiguous, so no button.
    expect(mergeCandidate([a, b, live({ id: 3 })], 1)).toBeNull();
    // Merged already: nothing to merge; a third call can join.
    const ma = live({ id: 1, conference: 5 });
    const mb = live({ id: 2, conference: 5 });
    expect(mergeCandidate([ma, mb], 1)).toBeNull();
    expect(mergeCandidate([ma, mb, live({ id: 3 })], 1)?.info.id).toBe(3);
    // An ended call is no candidate.
    expect(mergeCandidate([a, { ...b, end: { outcome: "hung_up", by_us: false } }], 1)).toBeNull();
  });

  it("lists the other parties of a conference", () => {
    const calls = [live({ id: 1, conference: 5 }), live({ id: 2, conference: 5 }), live({ id: 3 })];
    expect(conferencePeers(calls, 1).map((c) => c.info.id)).toEqual([2]);
    expect(conferencePeers(calls, 3)).toEqual([]);
  });

  it("keeps where a finished recording went, or why it failed", () => {
    const calls = [live({ id: 1, recording: "/r/a.wav" })];
    const started = applyCallEvent(calls, { event: "recording", id: 1, path: "/r/a.wav", active: true, error: null });
    expect(started).toBe(calls);
    const done = applyCallEvent(calls, { event: "recording", id: 1, path: "/r/a.wav", active: false, error: null });
    expect(done[0].recorded).toEqual({ path: "/r/a.wav", error: null });
    const failed = applyCallEvent(calls, { event: "recording", id: 1, path: "/r/a.wav", active: false, error: "disk full" });
    expect(failed[0].recorded).toEqual({ path: "/r/a.wav", error: "disk full" });
    expect(applyCallEvent(calls, { event: "recording", id: 9, path: "/x", active: false, error: null })).toEqual(calls);
  });
});

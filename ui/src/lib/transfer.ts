// In-call helpers: which calls an attended transfer can join, and how a
// level in dBFS fills a meter.
import type { CallView } from "./calls";

/** Other live, answered calls that call `id` can be connected with. */
export function transferCandidates(calls: CallView[], id: number): CallView[] {
  return calls.filter((c) => c.info.id !== id && !c.end && (c.info.state === "connected" || c.info.state === "on_hold"));
}

/** The meter floor: quieter than this shows empty. */
export const LEVEL_FLOOR_DB = -60;

/** 0-100 for a meter: -60 dBFS (or silence) is empty, 0 dBFS full. */
export function levelPercent(db: number): number {
  if (!Number.isFinite(db) || db <= LEVEL_FLOOR_DB) return 0;
  return Math.round(Math.min(100, ((db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB) * 100));
}

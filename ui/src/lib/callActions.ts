// What the call buttons do, as sequences of engine commands: answering a
// waiting call or bringing another call to the front first holds the call
// that is talking, so only one call has the microphone at a time.
import { answerCall, holdCall } from "./ipc";
import { toHoldFor, type CallView } from "./calls";

/** Answers incoming call `id`, holding the call(s) in progress first. */
export async function answerHolding(calls: CallView[], id: number): Promise<void> {
  for (const c of toHoldFor(calls, id)) await holdCall(c.info.id, true);
  await answerCall(id);
}

/** Brings call `id` to the front: holds the others, resumes it if we held it. */
export async function switchTo(calls: CallView[], id: number): Promise<void> {
  for (const c of toHoldFor(calls, id)) await holdCall(c.info.id, true);
  const target = calls.find((c) => c.info.id === id);
  if (target && target.info.held_by_us) await holdCall(id, false);
}

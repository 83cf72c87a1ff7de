// The UI's view of the engine: one snapshot at start, then the ordered
// event stream. Screens read `app`; only this module writes it.
import type { AccountInfo } from "./bindings/AccountInfo";
import type { Event } from "./bindings/Event";
import { applyEvent } from "./accounts";
import { applyCallEvent, ENDED_LINGER_MS, type CallView } from "./calls";
import { engineStatus, onEngineEvent } from "./ipc";

export const app = $state({
  connected: false,
  version: "",
  accounts: [] as AccountInfo[],
  /** Live calls, and ended ones for a few seconds so their reason shows. */
  calls: [] as CallView[],
  /** The call the user brought to the front (switching between calls). */
  pickedCall: null as number | null,
  error: null as string | null,
});

/** Drops an ended call from the list (the user closed it, or it lingered long enough). */
export function dismissCall(id: number): void {
  app.calls = app.calls.filter((c) => !(c.info.id === id && c.end));
}

/** Applies one engine event to the UI state. */
export function handleEvent(e: Event): void {
  app.accounts = applyEvent(app.accounts, e);
  app.calls = applyCallEvent(app.calls, e);
  if (e.event === "call_ended") {
    const id = e.call.id;
    if (app.pickedCall === id) app.pickedCall = null;
    setTimeout(() => dismissCall(id), ENDED_LINGER_MS);
  }
}

/** Subscribes to engine events, then loads the snapshot. Returns the unsubscribe function. */
export async function connect(): Promise<() => void> {
  // Subscribe first so no event between snapshot and subscription is lost;
  // a stale event applied before the snapshot is simply overwritten.
  const unlisten = await onEngineEvent(handleEvent);
  try {
    const s = await engineStatus();
    app.version = s.version;
    app.accounts = s.accounts;
    app.connected = true;
    app.error = null;
  } catch (e) {
    app.error = `Cannot reach the engine: ${e instanceof Error ? e.message : String(e)}`;
  }
  return unlisten;
}

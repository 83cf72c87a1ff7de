// The UI's view of the engine: one snapshot at start, then the ordered
// event stream. Screens read `app`; only this module writes it.
import type { AccountInfo } from "./bindings/AccountInfo";
import { applyEvent } from "./accounts";
import { engineStatus, onEngineEvent } from "./ipc";

export const app = $state({
  connected: false,
  version: "",
  accounts: [] as AccountInfo[],
  error: null as string | null,
});

/** Subscribes to engine events, then loads the snapshot. Returns the unsubscribe function. */
export async function connect(): Promise<() => void> {
  // Subscribe first so no event between snapshot and subscription is lost;
  // a stale event applied before the snapshot is simply overwritten.
  const unlisten = await onEngineEvent((e) => {
    app.accounts = applyEvent(app.accounts, e);
  });
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

// The only module that talks to the Rust side. Everything else imports
// typed functions from here, so screens can be tested without Tauri and
// the IPC surface stays in one reviewable place.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AccountInput } from "./bindings/AccountInput";
import type { EngineStatus } from "./bindings/EngineStatus";
import type { Event } from "./bindings/Event";

/** Name of the single ordered event stream the shell emits. */
export const ENGINE_EVENT = "engine://event";

/** Errors from Rust commands arrive as their display text. */
export class IpcError extends Error {}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw new IpcError(typeof e === "string" ? e : String(e));
  }
}

export const engineStatus = (): Promise<EngineStatus> => call("engine_status");

export const addAccount = (input: AccountInput, password: string | null): Promise<void> =>
  call("add_account", { input, password });

export const removeAccount = (name: string): Promise<void> => call("remove_account", { name });

export function onEngineEvent(handler: (e: Event) => void): Promise<UnlistenFn> {
  return listen<Event>(ENGINE_EVENT, (msg) => handler(msg.payload));
}

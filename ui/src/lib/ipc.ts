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

/** Starts a call from `account` to `target` (a SIP URI); resolves to the call id. */
export const dial = (account: string, target: string): Promise<number> => call("call_dial", { account, target });

export const answerCall = (id: number): Promise<void> => call("call_answer", { id });

/** Refuses an incoming call: 486 Busy Here when `busy`, else 603 Decline. */
export const rejectCall = (id: number, busy: boolean): Promise<void> => call("call_reject", { id, busy });

export const hangupCall = (id: number): Promise<void> => call("call_hangup", { id });

export const holdCall = (id: number, on: boolean): Promise<void> => call("call_hold", { id, on });

export const muteCall = (id: number, on: boolean): Promise<void> => call("call_mute", { id, on });

export const sendDtmf = (id: number, digits: string): Promise<void> => call("call_dtmf", { id, digits });

export function onEngineEvent(handler: (e: Event) => void): Promise<UnlistenFn> {
  return listen<Event>(ENGINE_EVENT, (msg) => handler(msg.payload));
}

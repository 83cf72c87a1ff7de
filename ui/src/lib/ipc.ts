// The only module that talks to the Rust side. Everything else imports
// typed functions from here, so screens can be tested without Tauri and
// the IPC surface stays in one reviewable place.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AccountInput } from "./bindings/AccountInput";
import type { Availability } from "./bindings/Availability";
import type { ChatMessage } from "./bindings/ChatMessage";
import type { ContactEntry } from "./bindings/ContactEntry";
import type { ContactInput } from "./bindings/ContactInput";
import type { ConversationInfo } from "./bindings/ConversationInfo";
import type { EngineStatus } from "./bindings/EngineStatus";
import type { HistoryEntry } from "./bindings/HistoryEntry";
import type { HistoryFilter } from "./bindings/HistoryFilter";
import type { AudioDevices } from "./bindings/AudioDevices";
import type { MediaSettings } from "./bindings/MediaSettings";
import type { AudioTestRequest } from "./bindings/AudioTestRequest";
import type { PendingWatcher } from "./bindings/PendingWatcher";
import type { SipTraceDialog } from "./bindings/SipTraceDialog";
import type { SipTraceMessage } from "./bindings/SipTraceMessage";
import type { WatcherDecision } from "./bindings/WatcherDecision";
import type { VcardReport } from "./bindings/VcardReport";
import type { Event } from "./bindings/Event";
import type { Locale } from "./i18n.svelte";
import type { ThemeChoice } from "./theme";
import type { Bindings, ShortcutAction } from "./shortcuts";

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

/** Sound devices, processing and codec order in force. */
export const mediaSettings = (): Promise<MediaSettings> => call("media_settings");

/** Checks, saves and applies sound settings (new calls use them). */
export const setMediaSettings = (settings: MediaSettings): Promise<void> =>
  call("media_settings_set", { settings });

/** The sound devices there are now. */
export const audioDevices = (): Promise<AudioDevices> => call("audio_devices");

/** Starts or changes the sound test (level, and the echo test with `echo`); resolves once the devices are open. */
export const startAudioTest = (request: AudioTestRequest): Promise<void> => call("audio_test_start", { request });

/** Stops the sound test. */
export const stopAudioTest = (): Promise<void> => call("audio_test_stop");

/** Plays the test sound on `output` (saved ringer or speaker when null); resolves once played. */
export const playTestSound = (output: string | null): Promise<void> => call("audio_test_sound", { output });

/** An account's settings for the editor (never its password). */
export const accountInput = (name: string): Promise<AccountInput> => call("account_get", { name });

/** Sets or (with null) clears an account's call-pickup code; the engine checks and saves it. */
export const setPickupCode = (account: string, code: string | null): Promise<void> =>
  call("account_pickup_code_set", { account, code });

export const addAccount = (input: AccountInput, password: string | null): Promise<void> =>
  call("add_account", { input, password });

export const removeAccount = (name: string): Promise<void> => call("remove_account", { name });

/** Changes every setting of account `name` (not its name); a null password keeps the keyring's. The registration restarts. */
export const updateAccount = (name: string, input: AccountInput, password: string | null): Promise<void> =>
  call("account_update", { name, input, password });

/** Enables (registers) or disables (unregisters) an account. */
export const setAccountEnabled = (name: string, on: boolean): Promise<void> => call("account_set_enabled", { name, on });

/** Registers an account again now; progress arrives as registration events. */
export const reregisterAccount = (name: string): Promise<void> => call("account_reregister", { name });

/** Starts a call from `account` to `target` (a SIP URI); resolves to the call id. */
export const dial = (account: string, target: string): Promise<number> => call("call_dial", { account, target });

export const answerCall = (id: number): Promise<void> => call("call_answer", { id });

/** Refuses an incoming call: 486 Busy Here when `busy`, else 603 Decline. */
export const rejectCall = (id: number, busy: boolean): Promise<void> => call("call_reject", { id, busy });

export const hangupCall = (id: number): Promise<void> => call("call_hangup", { id });

export const holdCall = (id: number, on: boolean): Promise<void> => call("call_hold", { id, on });

export const muteCall = (id: number, on: boolean): Promise<void> => call("call_mute", { id, on });

export const sendDtmf = (id: number, digits: string): Promise<void> => call("call_dtmf", { id, digits });

/** Blind transfer: the peer of call `id` is asked to call `target`. */
export const transferCall = (id: number, target: string): Promise<void> => call("call_transfer", { id, target });

/** Attended transfer: connects the peers of calls `id` and `other`. */
export const transferAttended = (id: number, other: number): Promise<void> => call("call_transfer_attended", { id, other });

/** Merges calls `a` and `b` into a local 3-way conference; resolves to its id. */
export const mergeCalls = (a: number, b: number): Promise<number> => call("call_merge", { a, b });

/** Takes call `id` out of its conference (it is held; the other talks on). */
export const splitCall = (id: number): Promise<void> => call("call_split", { id });

/** Starts recording call `id` to the recordings folder; resolves to the file. */
export const startRecording = (id: number): Promise<string> => call("call_record_start", { id });

/** Stops recording call `id`; a `recording` event follows once the file is complete. */
export const stopRecording = (id: number): Promise<void> => call("call_record_stop", { id });

// Chat. Ids are i64 (typed bigint by ts-rs, numbers over JSON).
type Id = bigint | number;

/** Stores and sends a message; resolves to its id, delivery follows as `message_status`. */
export const sendMessage = (account: string, uri: string, text: string): Promise<Id> => call("chat_send", { account, uri, text });

export const retryMessage = (id: Id): Promise<void> => call("chat_retry", { id });

export const setComposing = (account: string, uri: string, active: boolean): Promise<void> =>
  call("chat_composing", { account, uri, active });

export const conversations = (): Promise<ConversationInfo[]> => call("chat_conversations");

/** Up to `limit` messages older than `before` (newest when null), oldest first. */
export const messages = (conversation: Id, before: Id | null, limit: number): Promise<ChatMessage[]> =>
  call("chat_messages", { conversation, before, limit });

export const markRead = (conversation: Id): Promise<number> => call("chat_mark_read", { conversation });

export const searchMessages = (query: string): Promise<ChatMessage[]> => call("chat_search", { query });

export const deleteConversation = (conversation: Id): Promise<void> => call("chat_delete_conversation", { conversation });

// Presence and contacts.

/** Publishes our presence for `account`; the outcome arrives as `presence_published`. */
export const publishPresence = (account: string, availability: Availability, note: string | null): Promise<void> =>
  call("presence_publish", { account, availability, note });

export const watchPresence = (account: string, uri: string, on: boolean): Promise<void> => call("presence_watch", { account, uri, on });

/** Busy lamp (dialog state) of `uri`. */
export const watchLine = (account: string, uri: string, on: boolean): Promise<void> => call("line_watch", { account, uri, on });

/** Takes over a watched contact's ringing line; returns the new call's id. */
export const pickupLine = (account: string, uri: string): Promise<number> => call("line_pickup", { account, uri });

export const pendingWatchers = (): Promise<PendingWatcher[]> => call("watchers_pending");

/** The watchers `account` allowed or blocked. */
export const watcherDecisions = (account: string): Promise<WatcherDecision[]> => call("watcher_decisions", { account });

/** Forgets the answer given to `watcher` on `account`: they ask again next time. */
export const forgetWatcher = (account: string, watcher: string): Promise<void> =>
  call("watcher_forget", { account, watcher });

/** Lets (`allow`) or never lets `watcher` see our presence on `account`. */
export const decideWatcher = (account: string, watcher: string, allow: boolean): Promise<void> =>
  call("watcher_decide", { account, watcher, allow });

export const watchVoicemail = (account: string, on: boolean): Promise<void> => call("voicemail_watch", { account, on });

export const contacts = (): Promise<ContactEntry[]> => call("contacts_list");

export const addContact = (contact: ContactInput): Promise<Id> => call("contact_add", { contact });

export const updateContact = (id: Id, contact: ContactInput): Promise<void> => call("contact_update", { id, contact });

export const deleteContact = (id: Id): Promise<void> => call("contact_delete", { id });

/** Adds the contacts of vCard text; reports how many and what was skipped. */
export const importVcards = (vcards: string): Promise<VcardReport> => call("contacts_import", { vcards });

export const exportVcards = (): Promise<string> => call("contacts_export");

// Call history. Changes arrive as `history_changed` with the missed-call count.

/** Up to `limit` calls older than call `before` (the newest when null), newest first. */
export const callHistory = (filter: HistoryFilter, before: number | null, limit: number): Promise<HistoryEntry[]> =>
  call("history_list", { filter, before, limit });

export const deleteCallRecord = (id: number): Promise<void> => call("history_delete", { id });

/** Deletes the whole history; resolves to how many records went. */
export const clearCallHistory = (): Promise<number> => call("history_clear");

/** Marks every missed call seen; resolves to how many were unseen. */
export const markMissedSeen = (): Promise<number> => call("history_mark_seen");

export const unseenMissedCalls = (): Promise<number> => call("history_unseen_missed");

// SIP trace (secrets already masked by the engine).

/** The dialogs in the SIP trace, most recently active first. */
export const sipTraceDialogs = (): Promise<SipTraceDialog[]> => call("sip_trace_dialogs");

/** The messages of the dialog with `callId`. */
export const sipTrace = (callId: string): Promise<SipTraceMessage[]> => call("sip_trace", { callId });

/** Saves one dialog (every dialog when null) as text in Downloads; resolves to the file's path. */
export const exportSipTrace = (callId: string | null): Promise<string> => call("sip_trace_export", { callId });

export const clearSipTrace = (): Promise<void> => call("sip_trace_clear");

export const sipTraceEnabled = (): Promise<boolean> => call("sip_trace_enabled");

/** Turns recording on or off (off forgets what was recorded). */
export const setSipTraceEnabled = (on: boolean): Promise<void> => call("sip_trace_set_enabled", { on });

// Links and updates.

/** A `sip:`/`tel:` link the app was asked to call could not be called (display text). */
export function onLinkError(handler: (message: string) => void): Promise<UnlistenFn> {
  return listen<string>("link://error", (msg) => handler(msg.payload));
}

/** What an update check found: `available` is the newer version, if any. */
export interface UpdateStatus {
  current: string;
  available: string | null;
  notes: string | null;
}

export interface UpdateProgress {
  downloaded: number;
  total: number | null;
}

/** Asks the update server; fails with the reason when it cannot be reached. */
export const checkUpdate = (): Promise<UpdateStatus> => call("update_check");

/** Downloads, verifies and installs the update found by the last check, then restarts. */
export const installUpdate = (): Promise<void> => call("update_install");

export function onUpdateProgress(handler: (p: UpdateProgress) => void): Promise<UnlistenFn> {
  return listen<UpdateProgress>("update://progress", (msg) => handler(msg.payload));
}

// Desktop integration: theme, notifications, start at login, global
// shortcuts (the shell keeps them in desktop.json), and what the tray and
// notifications ask of the window.

/** The desktop settings as the shell reports them. */
export interface OsSettings {
  theme: ThemeChoice;
  notifications: boolean;
  shortcuts: Bindings;
  /** Saved shortcuts the system does not hold for Parley (refused at start). */
  inactive_shortcuts: ShortcutAction[];
  /** Whether the OS starts Parley at login; null when it cannot tell. */
  start_at_login: boolean | null;
  /** A tray icon exists. */
  tray: boolean;
  /** Closing the window hides it in the tray. */
  close_to_tray: boolean;
  /** A tray host shows the icon now (else closing quits). */
  tray_host: boolean;
  /** GPU compositing in the window from the next start (the saved choice). */
  hardware_acceleration: boolean;
  /** Whether this run composites on the GPU. */
  hardware_acceleration_now: boolean;
  /** Whether the choice does anything on this platform (Linux only). */
  hardware_acceleration_switch: boolean;
}

export const osSettings = (): Promise<OsSettings> => call("os_settings");

export const setTheme = (theme: ThemeChoice): Promise<void> => call("os_theme_set", { theme });

export const setNotifications = (on: boolean): Promise<void> => call("os_notifications_set", { on });

export const setCloseToTray = (on: boolean): Promise<void> => call("os_close_to_tray_set", { on });

/** GPU compositing in the window; takes effect at the next start. */
export const setHardwareAcceleration = (on: boolean): Promise<void> => call("os_hardware_acceleration_set", { on });

/** The UI's language, for the tray menu and the notifications. */
export const setOsLanguage = (language: Locale): Promise<void> => call("os_language_set", { language });

/** Resolves to whether the OS starts Parley at login afterwards. */
export const setStartAtLogin = (on: boolean): Promise<boolean> => call("os_autostart_set", { on });

/** Sets (or clears, with null) a global shortcut; fails with the reason when the system refuses it. */
export const setShortcut = (action: ShortcutAction, accelerator: string | null): Promise<Bindings> =>
  call("os_shortcut_set", { action, accelerator });

/** What a notification or the tray brings to the front. */
export interface OsShow {
  screen: "history" | "chats" | null;
  call: number | null;
}

export function onOsShow(handler: (s: OsShow) => void): Promise<UnlistenFn> {
  return listen<OsShow>("os://show", (msg) => handler(msg.payload));
}

/** The tray published our presence. */
export function onTrayPresence(handler: (a: Availability) => void): Promise<UnlistenFn> {
  return listen<{ availability: Availability }>("os://presence", (msg) => handler(msg.payload.availability));
}

export function onEngineEvent(handler: (e: Event) => void): Promise<UnlistenFn> {
  return listen<Event>(ENGINE_EVENT, (msg) => handler(msg.payload));
}

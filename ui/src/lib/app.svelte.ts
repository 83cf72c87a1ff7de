// The UI's view of the engine: one snapshot at start, then the ordered
// event stream. Screens read `app`; only this module (and the screens'
// loaders below) write it.
import type { AccountInfo } from "./bindings/AccountInfo";
import type { ChatMessage } from "./bindings/ChatMessage";
import type { Availability } from "./bindings/Availability";
import type { ContactEntry } from "./bindings/ContactEntry";
import type { ConversationInfo } from "./bindings/ConversationInfo";
import type { Event } from "./bindings/Event";
import type { HistoryEntry } from "./bindings/HistoryEntry";
import type { HistoryFilter } from "./bindings/HistoryFilter";
import type { LineState } from "./bindings/LineState";
import type { PendingWatcher } from "./bindings/PendingWatcher";
import { applyEvent, primaryAccount } from "./accounts";
import { applyCallEvent, ENDED_LINGER_MS, type CallView } from "./calls";
import { applyComposing, applyToConversations, sameConversation, upsertMessage } from "./chat";
import { applyWatcherPending, peerKey, watchKey, watchPlan, type PresenceView } from "./contacts";
import { applyHistoryChange } from "./history";
import * as ipc from "./ipc";
import { t } from "./i18n.svelte";

// The contact list is replaced whole (loadContacts), never edited in
// place, so it is kept raw: a deep `$state` wraps every contact, its
// phones and their fields in proxies with a signal each as soon as the
// search index reads them, about 20 KiB per contact in WebKit (11 MiB
// for 500 contacts, bench/memory.sh). `app.contacts` reads and assigns it.
let contactList: ContactEntry[] = $state.raw([]);

export const app = $state({
  connected: false,
  version: "",
  accounts: [] as AccountInfo[],
  /** Live calls, and ended ones for a few seconds so their reason shows. */
  calls: [] as CallView[],
  /** The call the user brought to the front (switching between calls). */
  pickedCall: null as number | null,
  /** Microphone and speaker levels (dBFS) per call. */
  levels: {} as Record<number, { input: number; output: number }>,
  get contacts(): ContactEntry[] {
    return contactList;
  },
  set contacts(list: ContactEntry[]) {
    contactList = list;
  },
  /** Watched presence by peer key. */
  presence: {} as Record<string, PresenceView>,
  /** Busy lamps by peer key. */
  lines: {} as Record<string, LineState>,
  /** Strangers who subscribed to our presence and wait for Allow / Block. */
  pendingWatchers: [] as PendingWatcher[],
  /** Subscriptions refused or ended, by peer key: the reason. */
  watchErrors: {} as Record<string, string>,
  conversations: [] as ConversationInfo[],
  /** The conversation on screen (account and peer), read as messages arrive. */
  openChat: null as { account: string; peer: string } | null,
  /** Messages of the open conversation, oldest first. */
  chatMessages: [] as ChatMessage[],
  /** Peers typing, keyed `account peerKey`. */
  typing: {} as Record<string, boolean>,
  /** Our own presence and whether the server took it. */
  me: {
    availability: "available" as Availability,
    note: "",
    publishing: false,
    result: null as { ok: boolean; reason: string | null } | null,
  },
  /** Missed calls not seen yet: the badge on History. */
  missedCalls: 0,
  /** The call history as loaded by the History screen, newest first. */
  history: { filter: "all" as HistoryFilter, entries: [] as HistoryEntry[] },
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
  switch (e.event) {
    case "call_ended": {
      const id = e.call.id;
      if (app.pickedCall === id) app.pickedCall = null;
      delete app.levels[id];
      setTimeout(() => dismissCall(id), ENDED_LINGER_MS);
      break;
    }
    case "audio_level":
      app.levels[e.id] = { input: e.input_db, output: e.output_db };
      break;
    case "message_received":
    case "message_status":
      app.conversations = applyToConversations(app.conversations, e, app.openChat);
      if (app.openChat && sameConversation(app.openChat, e.message)) {
        app.chatMessages = upsertMessage(app.chatMessages, e.message);
        // On screen means read.
        if (e.event === "message_received") void ipc.markRead(e.message.conversation).catch(() => {});
      }
      app.typing = applyComposing(app.typing, e);
      break;
    case "composing":
      app.typing = applyComposing(app.typing, e);
      break;
    case "presence":
      app.presence[peerKey(e.uri)] = { availability: e.availability, note: e.note };
      break;
    case "watcher_pending":
      app.pendingWatchers = applyWatcherPending(app.pendingWatchers, e);
      break;
    case "blf":
      app.lines[peerKey(e.uri)] = e.state;
      break;
    case "watch_status":
      if (e.active) delete app.watchErrors[peerKey(e.uri)];
      else if (e.reason) app.watchErrors[peerKey(e.uri)] = e.reason;
      break;
    case "presence_published":
      app.me.publishing = false;
      app.me.result = { ok: e.ok, reason: e.reason };
      break;
    case "history_changed":
      app.missedCalls = e.unseen_missed;
      app.history.entries = applyHistoryChange(app.history.entries, e.change, app.history.filter);
      break;
    case "registration":
    case "accounts_changed":
      void syncWatches();
      break;
  }
}

/** The account that watches contacts and publishes our presence: the first enabled one that has a server. */
export function presenceAccount(accounts: AccountInfo[] = app.accounts): AccountInfo | undefined {
  const a = primaryAccount(accounts.filter((x) => !x.local));
  return a && a.registration.state === "registered" ? a : undefined;
}

const active = new Set<string>();

/** Starts and stops subscriptions so the presence account watches the contacts that ask for it. */
export async function syncWatches(): Promise<void> {
  const account = presenceAccount()?.name ?? null;
  const plan = watchPlan(app.contacts, account, active);
  for (const w of plan.stop) {
    active.delete(watchKey(w.pkg, w.account, w.uri));
    const f = w.pkg === "presence" ? ipc.watchPresence : ipc.watchLine;
    // The account may be gone, which ends its subscriptions anyway.
    await f(w.account, w.uri, false).catch(() => {});
    if (w.pkg === "presence") delete app.presence[w.uri];
    else delete app.lines[w.uri];
  }
  for (const w of plan.start) {
    const key = watchKey(w.pkg, w.account, w.uri);
    active.add(key);
    const f = w.pkg === "presence" ? ipc.watchPresence : ipc.watchLine;
    try {
      await f(w.account, w.uri, true);
      delete app.watchErrors[w.uri];
    } catch (err) {
      active.delete(key);
      app.watchErrors[w.uri] = err instanceof Error ? err.message : String(err);
    }
  }
}

/** Reloads the contact list from the store and updates the subscriptions. */
export async function loadContacts(): Promise<void> {
  app.contacts = await ipc.contacts();
  await syncWatches();
}

export async function loadConversations(): Promise<void> {
  app.conversations = await ipc.conversations();
}

/** Who waits for Allow / Block now (events keep it current after). */
export async function loadPendingWatchers(): Promise<void> {
  try {
    app.pendingWatchers = await ipc.pendingWatchers();
  } catch {
    // Nobody waiting is the safe reading; the next event brings them.
    app.pendingWatchers = [];
  }
}

/** Forgets the subscriptions this module started (tests start over). */
export function resetWatches(): void {
  active.clear();
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Subscribes to engine events, then loads the snapshot. Returns the unsubscribe function. */
export async function connect(): Promise<() => void> {
  // Subscribe first so no event between snapshot and subscription is lost;
  // a stale event applied before the snapshot is simply overwritten.
  const unlistenEngine = await ipc.onEngineEvent(handleEvent);
  // Not awaited: the snapshot need not wait for this second listener.
  const links = ipc.onLinkError((m) => (app.error = m));
  const unlisten = () => {
    unlistenEngine();
    void links.then((stop) => stop()).catch(() => {});
  };
  try {
    const s = await ipc.engineStatus();
    app.version = s.version;
    app.accounts = s.accounts;
    app.connected = true;
    app.error = null;
  } catch (e) {
    app.error = t("app.noEngine", { error: message(e) });
    return unlisten;
  }
  await Promise.all([
    loadContacts().catch((e) => (app.error = t("app.noContacts", { error: message(e) }))),
    loadConversations().catch((e) => (app.error = t("app.noConversations", { error: message(e) }))),
    loadPendingWatchers(),
    ipc
      .unseenMissedCalls()
      .then((n) => (app.missedCalls = n))
      .catch((e) => (app.error = t("app.noHistory", { error: message(e) }))),
  ]);
  return unlisten;
}

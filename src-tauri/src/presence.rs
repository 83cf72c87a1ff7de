//! Presence and contact commands: forwarded to `ua::Engine`; states
//! arrive as `presence` / `blf` / `mwi` / `watch_status` /
//! `presence_published` events.

use tauri::State;
use ua::presence::{Availability, ContactEntry, ContactInput, PendingWatcher, VcardReport};
use ua::Engine;

use crate::{err, CmdResult};

/// Publishes our presence for `account`; the outcome arrives as
/// `presence_published`.
#[tauri::command]
pub(crate) async fn presence_publish(
    engine: State<'_, Engine>,
    account: String,
    availability: Availability,
    note: Option<String>,
) -> CmdResult<()> {
    engine
        .publish_presence(&account, availability, note)
        .await
        .map_err(err)
}

/// Starts (`on`) or ends watching `uri`'s presence.
#[tauri::command]
pub(crate) async fn presence_watch(
    engine: State<'_, Engine>,
    account: String,
    uri: String,
    on: bool,
) -> CmdResult<()> {
    let r = if on {
        engine.watch(&account, &uri).await
    } else {
        engine.unwatch(&account, &uri).await
    };
    r.map_err(err)
}

/// Starts (`on`) or ends watching `uri`'s line (BLF).
#[tauri::command]
pub(crate) async fn line_watch(
    engine: State<'_, Engine>,
    account: String,
    uri: String,
    on: bool,
) -> CmdResult<()> {
    engine.watch_line(&account, &uri, on).await.map_err(err)
}

/// Starts (`on`) or ends watching `account`'s voicemail (MWI).
#[tauri::command]
pub(crate) async fn voicemail_watch(
    engine: State<'_, Engine>,
    account: String,
    on: bool,
) -> CmdResult<()> {
    engine.watch_voicemail(&account, on).await.map_err(err)
}

#[tauri::command]
pub(crate) async fn contacts_list(engine: State<'_, Engine>) -> CmdResult<Vec<ContactEntry>> {
    engine.contacts().await.map_err(err)
}

#[tauri::command]
pub(crate) async fn contact_add(
    engine: State<'_, Engine>,
    contact: ContactInput,
) -> CmdResult<i64> {
    engine.add_contact(contact).await.map_err(err)
}

#[tauri::command]
pub(crate) async fn contact_update(
    engine: State<'_, Engine>,
    id: i64,
    contact: ContactInput,
) -> CmdResult<()> {
    engine.update_contact(id, contact).await.map_err(err)
}

#[tauri::command]
pub(crate) async fn contact_delete(engine: State<'_, Engine>, id: i64) -> CmdResult<()> {
    engine.delete_contact(id).await.map_err(err)
}

/// Adds the contacts of the vCards in `vcards` (text of a .vcf file).
#[tauri::command]
pub(crate) async fn contacts_import(
    engine: State<'_, Engine>,
    vcards: String,
) -> CmdResult<VcardReport> {
    engine.import_vcards(&vcards).await.map_err(err)
}

/// Every contact as vCard text.
#[tauri::command]
pub(crate) async fn contacts_export(engine: State<'_, Engine>) -> CmdResult<String> {
    engine.export_vcards().await.map_err(err)
}

/// Picks up `uri`'s ringing line (watched with `line_watch`); returns the
/// new call's id.
#[tauri::command]
pub(crate) async fn line_pickup(
    engine: State<'_, Engine>,
    account: String,
    uri: String,
) -> CmdResult<u32> {
    engine.pickup(&account, &uri).await.map_err(err)
}

/// An account's settings for the account editor (never its password).
#[tauri::command]
pub(crate) async fn account_get(
    engine: State<'_, Engine>,
    name: String,
) -> CmdResult<ua::AccountInput> {
    engine.account_input(&name).await.map_err(err)
}

/// Sets (or with an empty or null code clears) `account`'s call-pickup
/// code; the engine checks it (0-9, * and #) and saves it.
#[tauri::command]
pub(crate) async fn account_pickup_code_set(
    engine: State<'_, Engine>,
    account: String,
    code: Option<String>,
) -> CmdResult<()> {
    engine.set_pickup_code(&account, code).await.map_err(err)
}

/// Strangers who subscribed to our presence and wait for the user.
#[tauri::command]
pub(crate) async fn watchers_pending(engine: State<'_, Engine>) -> CmdResult<Vec<PendingWatcher>> {
    engine.pending_watchers().await.map_err(err)
}

/// The watchers `account` allowed or blocked.
#[tauri::command]
pub(crate) async fn watcher_decisions(
    engine: State<'_, Engine>,
    account: String,
) -> CmdResult<Vec<ua::presence::WatcherDecision>> {
    engine.watcher_decisions(&account).await.map_err(err)
}

/// Forgets the answer given to `watcher`: they ask again next time.
#[tauri::command]
pub(crate) async fn watcher_forget(
    engine: State<'_, Engine>,
    account: String,
    watcher: String,
) -> CmdResult<()> {
    engine.forget_watcher(&account, &watcher).await.map_err(err)
}

/// Lets (`allow`) or never lets `watcher` see `account`'s presence.
#[tauri::command]
pub(crate) async fn watcher_decide(
    engine: State<'_, Engine>,
    account: String,
    watcher: String,
    allow: bool,
) -> CmdResult<()> {
    let r = if allow {
        engine.allow_watcher(&account, &watcher).await
    } else {
        engine.block_watcher(&account, &watcher).await
    };
    r.map_err(err)
}

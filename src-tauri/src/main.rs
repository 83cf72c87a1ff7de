//! The Parley desktop app: a thin adapter between the web UI and the
//! engine. Commands are forwarded to `ua::Engine`; engine events are pushed
//! to the window as one ordered stream (`engine://event`).

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::Arc;

use tauri::{Emitter, Manager, State};
use tokio::sync::broadcast::error::RecvError;
use ua::{AccountInput, Engine, EngineOptions, EngineStatus};

const ENGINE_EVENT: &str = "engine://event";

/// Command errors reach the UI as display text; they never carry secrets
/// (see `store::SecretError`).
type CmdResult<T> = Result<T, String>;

/// An engine error as the text the UI shows.
fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

mod calls;
mod chat;
mod history;
mod links;
mod media;
#[cfg(desktop)]
mod notify;
#[cfg(desktop)]
mod os;
mod presence;
#[cfg(desktop)]
mod shortcuts;
#[cfg(desktop)]
mod texts;
mod trace;
#[cfg(desktop)]
mod tray;
#[cfg(desktop)]
mod tray_host;
#[cfg(desktop)]
mod updater;

#[tauri::command]
async fn engine_status(engine: State<'_, Engine>) -> CmdResult<EngineStatus> {
    engine.status().await.map_err(|e| e.to_string())
}

#[tauri::command]
async fn add_account(
    engine: State<'_, Engine>,
    input: AccountInput,
    password: Option<String>,
) -> CmdResult<()> {
    engine
        .add_account(input, password)
        .await
        .map_err(|e| e.to_string())
}

#[tauri::command]
async fn remove_account(engine: State<'_, Engine>, name: String) -> CmdResult<()> {
    engine
        .remove_account(&name)
        .await
        .map_err(|e| e.to_string())
}

/// Changes every setting of account `name`; `password` empty or null
/// keeps the keyring's. The registration restarts with the new settings.
#[tauri::command]
async fn account_update(
    engine: State<'_, Engine>,
    name: String,
    input: AccountInput,
    password: Option<String>,
) -> CmdResult<()> {
    let password = password.filter(|p| !p.is_empty());
    engine
        .update_account(&name, input, password)
        .await
        .map_err(err)
}

/// Enables (registers) or disables (unregisters) account `name`.
#[tauri::command]
async fn account_set_enabled(engine: State<'_, Engine>, name: String, on: bool) -> CmdResult<()> {
    engine.set_account_enabled(&name, on).await.map_err(err)
}

/// Registers account `name` again now; progress arrives as
/// `registration` events.
#[tauri::command]
async fn account_reregister(engine: State<'_, Engine>, name: String) -> CmdResult<()> {
    engine.reregister(&name).await.map_err(err)
}

/// Starts a call from `account` to `target`; progress arrives as
/// `call_state` events, the end as `call_ended`.
#[tauri::command]
async fn call_dial(engine: State<'_, Engine>, account: String, target: String) -> CmdResult<u32> {
    engine
        .call(&account, &target)
        .await
        .map_err(|e| e.to_string())
}

#[tauri::command]
async fn call_answer(engine: State<'_, Engine>, id: u32) -> CmdResult<()> {
    engine.answer(id).await.map_err(|e| e.to_string())
}

/// 486 Busy Here when `busy`, else 603 Decline.
#[tauri::command]
async fn call_reject(engine: State<'_, Engine>, id: u32, busy: bool) -> CmdResult<()> {
    engine.reject(id, busy).await.map_err(|e| e.to_string())
}

#[tauri::command]
async fn call_hangup(engine: State<'_, Engine>, id: u32) -> CmdResult<()> {
    engine.hangup(id).await.map_err(|e| e.to_string())
}

#[tauri::command]
async fn call_hold(engine: State<'_, Engine>, id: u32, on: bool) -> CmdResult<()> {
    engine.hold(id, on).await.map_err(|e| e.to_string())
}

#[tauri::command]
async fn call_mute(engine: State<'_, Engine>, id: u32, on: bool) -> CmdResult<()> {
    engine.mute(id, on).await.map_err(|e| e.to_string())
}

#[tauri::command]
async fn call_dtmf(engine: State<'_, Engine>, id: u32, digits: String) -> CmdResult<()> {
    engine.dtmf(id, &digits).await.map_err(|e| e.to_string())
}

/// Blind transfer: asks the peer of call `id` to call `target` (REFER);
/// progress arrives as `call_state` (transferring) and the end as
/// `call_ended` (transferred).
#[tauri::command]
async fn call_transfer(engine: State<'_, Engine>, id: u32, target: String) -> CmdResult<()> {
    engine.transfer(id, &target).await.map_err(err)
}

/// Attended transfer: connects the peer of call `id` with the peer of
/// call `other` (REFER with Replaces).
#[tauri::command]
async fn call_transfer_attended(engine: State<'_, Engine>, id: u32, other: u32) -> CmdResult<()> {
    engine.transfer_attended(id, other).await.map_err(err)
}

/// Errors that stop the app before its window opens.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Paths(#[from] store::PathsError),
    #[error(transparent)]
    Engine(#[from] ua::EngineError),
}

fn start_engine(app: &tauri::App) -> Result<Engine, StartError> {
    // PARLEY_CONFIG_DIR / PARLEY_DATA_DIR let tests and a second instance
    // use directories of their own.
    let config = std::env::var_os("PARLEY_CONFIG_DIR").map(std::path::PathBuf::from);
    let data = std::env::var_os("PARLEY_DATA_DIR").map(std::path::PathBuf::from);
    let paths = store::Paths::resolve(config.as_deref(), data.as_deref())?;
    let engine = tauri::async_runtime::block_on(async {
        Engine::start(EngineOptions {
            paths,
            secrets: Arc::new(store::OsKeyring),
            sip: ua::SipOptions::default(),
            auto_register: true,
            auto_answer: false,
            dnd: false,
            // The sound devices, with echo cancellation, noise suppression
            // and gain; PARLEY_NO_AUDIO=1 (headless tests) uses silence.
            call_audio: if std::env::var_os("PARLEY_NO_AUDIO").is_some() {
                ua::call::AudioChoice::Null
            } else {
                ua::call::AudioChoice::Device {
                    selection: ua::call::DeviceSelection::default(),
                    processing: ua::call::ProcessingConfig::default(),
                }
            },
        })
    })?;
    let mut events = engine.subscribe();
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Err(e) = handle.emit(ENGINE_EVENT, &event) {
                        tracing::warn!("emit engine event: {e}");
                    }
                }
                // The UI reloads the snapshot on its next action; tell it.
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "UI event stream lagged"),
                Err(RecvError::Closed) => break,
            }
        }
    });
    Ok(engine)
}

/// The D-Bus name (Linux) that makes one app per profile: the app's
/// identifier, plus a hash of PARLEY_CONFIG_DIR when one is set, so a
/// second profile (tests, a second instance) runs beside the first while
/// a second launch on the same profile hands its link to the first.
#[cfg(desktop)]
fn instance_id(identifier: &str) -> String {
    use std::hash::{Hash, Hasher};
    match std::env::var_os("PARLEY_CONFIG_DIR") {
        Some(dir) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut h);
            format!("{identifier}.p{:016x}", h.finish())
        }
        None => identifier.to_owned(),
    }
}

/// Calls the links the app was started with (Linux and Windows pass them
/// as arguments, macOS as an event the deep-link plugin stores), and
/// those that arrive while it runs.
fn handle_links(app: &tauri::App) {
    use tauri_plugin_deep_link::DeepLinkExt;
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            links::open(&handle, url.as_str());
        }
    });
    match app.deep_link().get_current() {
        Ok(Some(urls)) => {
            for url in urls {
                links::open(app.handle(), url.as_str());
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("cannot read the link the app was started with: {e}"),
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(ua::log_filter())
        .with_writer(std::io::stderr)
        .init();
    let builder = tauri::Builder::default();
    // Single-instance goes first: a second launch must hand over its link
    // and exit before any other plugin or the engine starts. With its
    // deep-link feature the link it receives goes to handle_links.
    #[cfg(desktop)]
    let builder = builder
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance_id("org.parley.Parley"))
                .callback(|app, _argv, _cwd| links::focus(app))
                .build(),
        )
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(updater::PendingUpdate::default());
    #[cfg(desktop)]
    let builder = match os::with_plugins(builder) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("parley: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let result = builder
        .plugin(tauri_plugin_deep_link::init())
        .setup(|app| {
            let engine = start_engine(app)?;
            app.manage(engine.clone());
            #[cfg(desktop)]
            os::setup(app.handle(), &engine);
            #[cfg(not(desktop))]
            if let Some(w) = app.get_webview_window("main") {
                w.show()?;
            }
            handle_links(app);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            engine_status,
            add_account,
            remove_account,
            account_update,
            account_set_enabled,
            account_reregister,
            call_dial,
            call_answer,
            call_reject,
            call_hangup,
            call_hold,
            call_mute,
            call_dtmf,
            call_transfer,
            call_transfer_attended,
            calls::call_merge,
            calls::call_split,
            calls::call_record_start,
            calls::call_record_stop,
            chat::chat_send,
            chat::chat_retry,
            chat::chat_composing,
            chat::chat_conversations,
            chat::chat_messages,
            chat::chat_mark_read,
            chat::chat_search,
            chat::chat_delete_conversation,
            presence::presence_publish,
            presence::presence_watch,
            presence::line_watch,
            presence::voicemail_watch,
            presence::contacts_list,
            presence::contact_add,
            presence::contact_update,
            presence::contact_delete,
            presence::contacts_import,
            presence::contacts_export,
            presence::line_pickup,
            presence::watchers_pending,
            presence::watcher_decide,
            presence::watcher_decisions,
            presence::watcher_forget,
            media::media_settings,
            media::media_settings_set,
            media::audio_devices,
            media::audio_test_start,
            media::audio_test_stop,
            media::audio_test_sound,
            presence::account_pickup_code_set,
            presence::account_get,
            history::history_list,
            history::history_delete,
            history::history_clear,
            history::history_mark_seen,
            history::history_unseen_missed,
            trace::sip_trace_dialogs,
            trace::sip_trace,
            trace::sip_trace_export,
            trace::sip_trace_clear,
            trace::sip_trace_enabled,
            trace::sip_trace_set_enabled,
            #[cfg(desktop)]
            updater::update_check,
            #[cfg(desktop)]
            updater::update_install,
            #[cfg(desktop)]
            os::os_settings,
            #[cfg(desktop)]
            os::os_theme_set,
            #[cfg(desktop)]
            os::os_notifications_set,
            os::os_close_to_tray_set,
            os::os_hardware_acceleration_set,
            #[cfg(desktop)]
            os::os_language_set,
            #[cfg(desktop)]
            os::os_autostart_set,
            #[cfg(desktop)]
            shortcuts::os_shortcut_set
        ])
        .build(tauri::generate_context!());
    let app = match result {
        Ok(app) => app,
        Err(e) => {
            eprintln!("parley: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            if let Some(engine) = handle.try_state::<Engine>() {
                let engine = engine.inner().clone();
                let _ = tauri::async_runtime::block_on(engine.shutdown());
            }
        }
    });
}

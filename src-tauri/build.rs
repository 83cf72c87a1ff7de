//! Tauri build step: embeds the config and generates the command permissions.

/// The app's IPC commands; each gets an `allow-*` permission that
/// `capabilities/default.json` grants to the main window only.
const COMMANDS: &[&str] = &[
    "engine_status",
    "add_account",
    "remove_account",
    "call_dial",
    "call_answer",
    "call_reject",
    "call_hangup",
    "call_hold",
    "call_mute",
    "call_dtmf",
    "call_transfer",
    "call_transfer_attended",
    "chat_send",
    "chat_retry",
    "chat_composing",
    "chat_conversations",
    "chat_messages",
    "chat_mark_read",
    "chat_search",
    "chat_delete_conversation",
    "presence_publish",
    "presence_watch",
    "line_watch",
    "voicemail_watch",
    "contacts_list",
    "contact_add",
    "contact_update",
    "contact_delete",
    "contacts_import",
    "contacts_export",
    "line_pickup",
    "watchers_pending",
    "watcher_decide",
    "watcher_decisions",
    "watcher_forget",
    "media_settings",
    "media_settings_set",
    "audio_devices",
    "history_list",
    "history_delete",
    "history_clear",
    "history_mark_seen",
    "history_unseen_missed",
    "sip_trace_dialogs",
    "sip_trace",
    "sip_trace_export",
    "sip_trace_clear",
    "sip_trace_enabled",
    "sip_trace_set_enabled",
    "update_check",
    "update_install",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri build step");
}

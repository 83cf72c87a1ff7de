//! Chat commands: forwarded to `ua::Engine`; message states arrive as
//! `message_received` / `message_status` / `composing` events.

use tauri::State;
use ua::chat::{ChatMessage, ConversationInfo};
use ua::Engine;

use crate::{err, CmdResult};

/// Stores and sends `text` to `uri` from `account`; resolves to the
/// message id once it is on disk (delivery follows as `message_status`).
#[tauri::command]
pub(crate) async fn chat_send(
    engine: State<'_, Engine>,
    account: String,
    uri: String,
    text: String,
) -> CmdResult<i64> {
    engine
        .send_message(&account, &uri, &text)
        .await
        .map_err(err)
}

/// Sends a failed outgoing message again.
#[tauri::command]
pub(crate) async fn chat_retry(engine: State<'_, Engine>, id: i64) -> CmdResult<()> {
    engine.retry_message(id).await.map_err(err)
}

/// Tells `uri` we are typing (`active`) or stopped (RFC 3994).
#[tauri::command]
pub(crate) async fn chat_composing(
    engine: State<'_, Engine>,
    account: String,
    uri: String,
    active: bool,
) -> CmdResult<()> {
    engine
        .set_composing(&account, &uri, active)
        .await
        .map_err(err)
}

#[tauri::command]
pub(crate) async fn chat_conversations(
    engine: State<'_, Engine>,
) -> CmdResult<Vec<ConversationInfo>> {
    engine.conversations().await.map_err(err)
}

/// Up to `limit` messages of `conversation` older than message `before`
/// (the newest when `None`), oldest first.
#[tauri::command]
pub(crate) async fn chat_messages(
    engine: State<'_, Engine>,
    conversation: i64,
    before: Option<i64>,
    limit: u32,
) -> CmdResult<Vec<ChatMessage>> {
    engine
        .messages(conversation, before, limit)
        .await
        .map_err(err)
}

#[tauri::command]
pub(crate) async fn chat_mark_read(engine: State<'_, Engine>, conversation: i64) -> CmdResult<u64> {
    engine.mark_read(conversation).await.map_err(err)
}

/// Messages across every conversation whose text matches `query`.
#[tauri::command]
pub(crate) async fn chat_search(
    engine: State<'_, Engine>,
    query: String,
) -> CmdResult<Vec<ChatMessage>> {
    engine.search_messages(&query).await.map_err(err)
}

#[tauri::command]
pub(crate) async fn chat_delete_conversation(
    engine: State<'_, Engine>,
    conversation: i64,
) -> CmdResult<()> {
    engine.delete_conversation(conversation).await.map_err(err)
}

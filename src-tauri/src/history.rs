//! Call history commands: forwarded to `ua::Engine`; changes arrive as
//! `history_changed` events with the missed-call count.

use tauri::State;
use ua::history::{HistoryEntry, HistoryFilter};
use ua::Engine;

use crate::{err, CmdResult};

/// Up to `limit` calls older than call `before` (the newest when `None`),
/// newest first.
#[tauri::command]
pub(crate) async fn history_list(
    engine: State<'_, Engine>,
    filter: HistoryFilter,
    before: Option<i64>,
    limit: u32,
) -> CmdResult<Vec<HistoryEntry>> {
    engine
        .call_history(filter, before, limit)
        .await
        .map_err(err)
}

#[tauri::command]
pub(crate) async fn history_delete(engine: State<'_, Engine>, id: i64) -> CmdResult<()> {
    engine.delete_call_record(id).await.map_err(err)
}

/// Deletes every record; resolves to how many went.
#[tauri::command]
pub(crate) async fn history_clear(engine: State<'_, Engine>) -> CmdResult<u64> {
    engine.clear_call_history().await.map_err(err)
}

/// Marks every missed call seen; resolves to how many were unseen.
#[tauri::command]
pub(crate) async fn history_mark_seen(engine: State<'_, Engine>) -> CmdResult<u64> {
    engine.mark_missed_calls_seen().await.map_err(err)
}

/// The missed-call badge.
#[tauri::command]
pub(crate) async fn history_unseen_missed(engine: State<'_, Engine>) -> CmdResult<u32> {
    engine.unseen_missed_calls().await.map_err(err)
}

//! Conference and recording commands of the in-call screen.

use tauri::State;
use ua::Engine;

use crate::{err, CmdResult};

/// Merges calls `a` and `b` into a local 3-way conference; each call's
/// `call_state` then carries the conference id.
#[tauri::command]
pub(crate) async fn call_merge(engine: State<'_, Engine>, a: u32, b: u32) -> CmdResult<u32> {
    engine.merge(a, b).await.map_err(err)
}

/// Takes call `id` out of the conference (it is held; the other talks on).
#[tauri::command]
pub(crate) async fn call_split(engine: State<'_, Engine>, id: u32) -> CmdResult<()> {
    engine.split(id).await.map_err(err)
}

/// Starts recording call `id` to the recordings folder; returns the file.
/// `recording` events tell when it starts and when the file is complete.
#[tauri::command]
pub(crate) async fn call_record_start(engine: State<'_, Engine>, id: u32) -> CmdResult<String> {
    engine
        .start_recording(id, None)
        .await
        .map(|p| p.display().to_string())
        .map_err(err)
}

/// Stops recording call `id`.
#[tauri::command]
pub(crate) async fn call_record_stop(engine: State<'_, Engine>, id: u32) -> CmdResult<()> {
    engine.stop_recording(id).await.map_err(err)
}

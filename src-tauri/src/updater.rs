//! "Check for updates" in Settings: Tauri's updater (`plugins.updater` in
//! tauri.conf.json) behind two commands. The check is bounded so an
//! unreachable server (or no network at all) ends in an error the UI
//! shows, never in a spinner that turns forever.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_updater::{Update, UpdaterExt};

use crate::CmdResult;

/// The whole check (DNS, connect, manifest) gives up after this.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);
/// Each request of a download may take this long (large installers on
/// slow links); progress is shown meanwhile.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Progress of a download, as `update://progress` events.
pub(crate) const PROGRESS_EVENT: &str = "update://progress";

/// Why a check or an install failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpdateError {
    #[error("the update server did not answer within {} seconds", CHECK_TIMEOUT.as_secs())]
    Timeout,
    #[error("no update to install: check for updates first")]
    NothingChecked,
    #[error(transparent)]
    Updater(#[from] tauri_plugin_updater::Error),
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UpdateStatus {
    /// The running version.
    current: String,
    /// The newer version on offer, if any.
    available: Option<String>,
    /// Its release notes.
    notes: Option<String>,
}

/// Bytes downloaded so far and the total when the server said.
#[derive(Debug, Clone, Serialize)]
struct Progress {
    downloaded: u64,
    total: Option<u64>,
}

/// The update found by the last check, kept for the install.
#[derive(Default)]
pub(crate) struct PendingUpdate(Mutex<Option<Update>>);

async fn check(app: &AppHandle) -> Result<Option<Update>, UpdateError> {
    let updater = app.updater_builder().timeout(DOWNLOAD_TIMEOUT).build()?;
    tokio::time::timeout(CHECK_TIMEOUT, updater.check())
        .await
        .map_err(|_| UpdateError::Timeout)?
        .map_err(Into::into)
}

/// Asks the update server whether a newer version exists.
#[tauri::command]
pub(crate) async fn update_check(
    app: AppHandle,
    pending: State<'_, PendingUpdate>,
) -> CmdResult<UpdateStatus> {
    let current = app.package_info().version.to_string();
    let found = check(&app).await.map_err(|e| {
        tracing::warn!("update check failed: {e}");
        e.to_string()
    })?;
    let status = UpdateStatus {
        current,
        available: found.as_ref().map(|u| u.version.clone()),
        notes: found.as_ref().and_then(|u| u.body.clone()),
    };
    *pending
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = found;
    Ok(status)
}

/// Downloads and installs the update the last check found (its signature
/// is verified against `plugins.updater.pubkey`), then restarts.
#[tauri::command]
pub(crate) async fn update_install(
    app: AppHandle,
    pending: State<'_, PendingUpdate>,
) -> CmdResult<()> {
    let update = pending
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .ok_or_else(|| UpdateError::NothingChecked.to_string())?;
    let mut downloaded = 0u64;
    let progress = app.clone();
    update
        .download_and_install(
            |chunk, total| {
                downloaded += chunk as u64;
                let _ = progress.emit(PROGRESS_EVENT, Progress { downloaded, total });
            },
            || {},
        )
        .await
        .map_err(|e| UpdateError::from(e).to_string())?;
    tracing::info!(version = %update.version, "update installed; restarting");
    app.restart()
}

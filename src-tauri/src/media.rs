//! Sound and codec settings: forwarded to `ua::Engine`, which checks,
//! saves and applies them.

use tauri::State;
use ua::settings::{AudioDevices, MediaSettings};
use ua::Engine;

use crate::{err, CmdResult};

/// The settings in force.
#[tauri::command]
pub(crate) async fn media_settings(engine: State<'_, Engine>) -> CmdResult<MediaSettings> {
    engine.media_settings().await.map_err(err)
}

/// Checks, saves and applies new settings (the ringer at once, calls from
/// the next one on).
#[tauri::command]
pub(crate) async fn media_settings_set(
    engine: State<'_, Engine>,
    settings: MediaSettings,
) -> CmdResult<()> {
    engine.set_media_settings(settings).await.map_err(err)
}

/// The sound devices there are now.
#[tauri::command]
pub(crate) async fn audio_devices(engine: State<'_, Engine>) -> CmdResult<AudioDevices> {
    engine.audio_devices().await.map_err(err)
}

//! Sound and codec settings: forwarded to `ua::Engine`, which checks,
//! saves and applies them.

use tauri::State;
use ua::settings::{AudioDevices, AudioTestRequest, MediaSettings};
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

/// Starts (or changes) the sound test of the settings: the microphone's
/// level, and with `echo` the echo test. Resolves once the devices are
/// open; progress and levels arrive as engine events.
#[tauri::command]
pub(crate) async fn audio_test_start(
    engine: State<'_, Engine>,
    request: AudioTestRequest,
) -> CmdResult<()> {
    engine.start_audio_test(request).await.map_err(err)
}

/// Stops the sound test (the settings screen closed).
#[tauri::command]
pub(crate) async fn audio_test_stop(engine: State<'_, Engine>) -> CmdResult<()> {
    engine.stop_audio_test().await.map_err(err)
}

/// Plays the test sound on `output` (the saved ringer or speaker when
/// unset); resolves when it has played.
#[tauri::command]
pub(crate) async fn audio_test_sound(
    engine: State<'_, Engine>,
    output: Option<String>,
) -> CmdResult<()> {
    engine.play_test_sound(output).await.map_err(err)
}

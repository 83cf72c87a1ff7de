//! SIP trace commands: the recorded dialogs and messages (secrets already
//! masked by the engine), clearing, and the text export saved to a file.

use std::path::{Path, PathBuf};

use tauri::{AppHandle, Manager, State};
use ua::trace::{SipTraceDialog, SipTraceMessage, TraceError};
use ua::Engine;

use crate::{err, CmdResult};

/// Errors of the trace export.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    /// Nothing to export.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// Neither a Downloads nor a home directory is known.
    #[error("no folder to save the export in")]
    NoFolder,
    /// Writing the file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The dialogs in the trace, most recently active first.
#[tauri::command]
pub(crate) fn sip_trace_dialogs(engine: State<'_, Engine>) -> Vec<SipTraceDialog> {
    engine.sip_trace_dialogs()
}

/// The messages of the dialog with `call_id`.
#[tauri::command]
pub(crate) fn sip_trace(
    engine: State<'_, Engine>,
    call_id: String,
) -> CmdResult<Vec<SipTraceMessage>> {
    engine.sip_trace(&call_id).map_err(err)
}

/// Forgets every recorded message.
#[tauri::command]
pub(crate) fn sip_trace_clear(engine: State<'_, Engine>) {
    engine.sip_trace_clear();
}

/// Whether messages are being recorded.
#[tauri::command]
pub(crate) fn sip_trace_enabled(engine: State<'_, Engine>) -> bool {
    engine.sip_trace_enabled()
}

/// Turns recording on or off (off forgets what was recorded).
#[tauri::command]
pub(crate) fn sip_trace_set_enabled(app: AppHandle, engine: State<'_, Engine>, on: bool) {
    engine.set_sip_trace(on);
    crate::os::remember(&app, |s| s.sip_trace = on);
}

/// Saves dialog `call_id` (every dialog when `None`) as text into the
/// Downloads folder (`PARLEY_EXPORT_DIR` in tests); resolves to the path.
#[tauri::command]
pub(crate) async fn sip_trace_export(
    app: AppHandle,
    engine: State<'_, Engine>,
    call_id: Option<String>,
) -> CmdResult<String> {
    let text = engine
        .sip_trace_export(call_id.as_deref())
        .map_err(|e| err(ExportError::from(e)))?;
    let dir = std::env::var_os("PARLEY_EXPORT_DIR")
        .map(PathBuf::from)
        .or_else(|| app.path().download_dir().ok())
        .or_else(|| app.path().home_dir().ok())
        .ok_or(ExportError::NoFolder)
        .map_err(err)?;
    // File I/O off the async runtime's threads.
    let path = tauri::async_runtime::spawn_blocking(move || save(&dir, &text))
        .await
        .map_err(err)?
        .map_err(err)?;
    Ok(path.display().to_string())
}

/// Writes `text` to a new `parley-sip-trace-<time>.txt` in `dir`.
fn save(dir: &Path, text: &str) -> Result<PathBuf, ExportError> {
    let write = |path: &Path, source| ExportError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| write(dir, e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    // "2026-11-24 08:51:35.123 UTC" -> "20261124-085135"
    let stamp: String = ua::trace::format_time(now)
        .chars()
        .take(19)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_ascii_digit() => Some(c),
            _ => None,
        })
        .collect();
    for n in 1..1000 {
        let name = if n == 1 {
            format!("parley-sip-trace-{stamp}.txt")
        } else {
            format!("parley-sip-trace-{stamp}-{n}.txt")
        };
        let path = dir.join(name);
        // create_new: never overwrite an earlier export.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(text.as_bytes()).map_err(|e| write(&path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(write(&path, e)),
        }
    }
    Err(write(
        dir,
        std::io::Error::new(std::io::ErrorKind::AlreadyExists, "too many exports"),
    ))
}

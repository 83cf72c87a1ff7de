//! The app's place in the desktop: its own settings (theme, notifications,
//! global shortcuts, the language of the tray and the notifications), start
//! at login, and how the window first appears.
//!
//! These settings live in `desktop.json` beside the engine's `config.toml`
//! rather than in it (as `[media]` does) because they belong to this
//! window, tray and keyboard only: parley-cli drives the same engine and
//! config and has none of them, and the engine never reads them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, State, WebviewWindow, WindowEvent};
use tauri_plugin_autostart::ManagerExt;

use crate::shortcuts::Bindings;
use crate::{err, CmdResult};

/// The argument the login item starts the app with: it then starts in the
/// tray (or minimised when there is no tray).
pub(crate) const AUTOSTART_ARG: &str = "--autostart";

const FILE: &str = "desktop.json";

/// The theme the user picked; `System` follows the OS (CSS
/// `prefers-color-scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ThemeChoice {
    #[default]
    System,
    Light,
    Dark,
}

/// The language of the tray menu and the notifications (the UI's own
/// choice, which it tells us).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Lang {
    #[default]
    En,
    Ru,
}

/// What `desktop.json` holds. Unknown or missing fields take their
/// defaults, so an older or newer file still loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DesktopSettings {
    pub(crate) theme: ThemeChoice,
    /// Desktop notifications for calls and messages.
    pub(crate) notifications: bool,
    pub(crate) language: Lang,
    pub(crate) shortcuts: Bindings,
    /// Do not disturb (the tray's switch), kept across restarts: someone
    /// who turned calls away does not want them ringing after a reboot.
    pub(crate) do_not_disturb: bool,
    /// The SIP trace screen's recording switch (on unless turned off).
    pub(crate) sip_trace: bool,
    /// Closing the window hides it in the tray (calls keep coming in)
    /// where a tray host shows the icon; quitting is in the tray menu.
    pub(crate) close_to_tray: bool,
    /// GPU compositing in the web view. Off by default on Linux: WebKitGTK's
    /// accelerated compositing costs the web process about 80 MiB (measured
    /// with `bench/memory.sh`: 185 against 105 MiB idle) for a window of
    /// lists and buttons that paints fast enough without it. Read once at
    /// start, before the web view exists (see `apply_rendering`).
    pub(crate) hardware_acceleration: bool,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        Self {
            theme: ThemeChoice::System,
            notifications: true,
            language: Lang::En,
            shortcuts: Bindings::default(),
            do_not_disturb: false,
            sip_trace: true,
            close_to_tray: true,
            hardware_acceleration: false,
        }
    }
}

/// Why the desktop settings cannot be read, saved or applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot save {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot change start at login: {0}")]
    Autostart(#[from] tauri_plugin_autostart::Error),
}

/// Reads `path`; a missing file means the defaults.
pub(crate) fn load(path: &Path) -> Result<DesktopSettings, OsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|source| OsError::Parse {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DesktopSettings::default()),
        Err(source) => Err(OsError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `settings` to `path` through a temporary file, so a crash
/// mid-write leaves the old file rather than half a new one.
pub(crate) fn save(path: &Path, settings: &DesktopSettings) -> Result<(), OsError> {
    let write = |source| OsError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let text = serde_json::to_string_pretty(settings).map_err(|e| write(e.into()))?;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(write)?;
    file.write_all(text.as_bytes()).map_err(write)?;
    file.sync_all().map_err(write)?;
    std::fs::rename(&tmp, path).map_err(write)
}

/// The desktop settings and what the shell knows about its window, shared
/// by the commands, the tray, the notifications and the shortcuts.
pub(crate) struct Desktop {
    path: PathBuf,
    settings: Mutex<DesktopSettings>,
    /// The main window has the keyboard focus (notifications are only
    /// needed when it does not).
    focused: AtomicBool,
    /// A tray icon was made (there may still be no host showing it).
    tray: AtomicBool,
    /// This run's web view composites on the GPU (fixed at start, see
    /// `apply_rendering`).
    accelerated: bool,
    /// Whether a tray host shows the icon, as its watchers last saw.
    tray_host: crate::tray_host::TrayHost,
}

impl Desktop {
    /// Loads `desktop.json` from `config_dir`; a broken file is reported
    /// and replaced by the defaults (saved over on the next change).
    pub(crate) fn open(config_dir: &Path) -> Self {
        let path = config_dir.join(FILE);
        let settings = load(&path).unwrap_or_else(|e| {
            tracing::warn!("desktop settings: {e}; using the defaults");
            DesktopSettings::default()
        });
        Self {
            path,
            settings: Mutex::new(settings),
            focused: AtomicBool::new(false),
            tray: AtomicBool::new(false),
            accelerated: false,
            tray_host: crate::tray_host::TrayHost::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DesktopSettings> {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings now.
    pub(crate) fn get(&self) -> DesktopSettings {
        self.lock().clone()
    }

    /// Changes the settings with `f` and saves them; on a failed save
    /// nothing changes. The lock is held through the write so two changes
    /// land in order.
    pub(crate) fn update<E: From<OsError>>(
        &self,
        f: impl FnOnce(&mut DesktopSettings) -> Result<(), E>,
    ) -> Result<DesktopSettings, E> {
        let mut current = self.lock();
        let mut next = current.clone();
        f(&mut next)?;
        save(&self.path, &next)?;
        *current = next.clone();
        Ok(next)
    }

    /// [`Desktop::update`] for a change that cannot fail itself (a switch
    /// or a choice), as a command's result.
    pub(crate) fn set(&self, f: impl FnOnce(&mut DesktopSettings)) -> CmdResult<()> {
        self.update(|s| {
            f(s);
            Ok::<_, OsError>(())
        })
        .map(drop)
        .map_err(err)
    }

    pub(crate) fn focused(&self) -> bool {
        self.focused.load(Ordering::Relaxed)
    }

    pub(crate) fn has_tray(&self) -> bool {
        self.tray.load(Ordering::Relaxed)
    }

    pub(crate) fn set_tray(&self, made: bool) {
        self.tray.store(made, Ordering::Relaxed);
    }
}

/// The config directory, as the engine resolves it (PARLEY_CONFIG_DIR or
/// the OS's).
fn config_dir() -> Result<PathBuf, store::PathsError> {
    let config = std::env::var_os("PARLEY_CONFIG_DIR").map(PathBuf::from);
    let data = std::env::var_os("PARLEY_DATA_DIR").map(PathBuf::from);
    Ok(store::Paths::resolve(config.as_deref(), data.as_deref())?.config_dir)
}

/// The environment variable that turns WebKitGTK's accelerated
/// compositing off for the UI process and the web process it starts.
#[cfg(target_os = "linux")]
const NO_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Applies the saved rendering choice before the web view is made; it
/// cannot change later in a running WebKit. Must run before any thread
/// starts (it sets a process environment variable). A value the user set
/// in the environment wins over the setting either way. Returns whether
/// the web view composites on the GPU in this run. `config_dir` takes the
/// EGL vendor file when the GPU does not draw (see `use_egl_stub`).
fn apply_rendering(saved: bool, config_dir: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        let (on, set) = rendering(saved, std::env::var_os(NO_COMPOSITING).as_deref());
        if set {
            std::env::set_var(NO_COMPOSITING, "1");
        }
        if !on {
            let node = first_render_node(Path::new("/dev/dri"));
            for (name, value) in no_gl_env(|n| std::env::var_os(n).is_some(), node) {
                std::env::set_var(name, value);
            }
        }
        use_egl_stub(config_dir, !on);
        on
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = config_dir;
        saved
    }
}

/// JavaScriptCore's switch for all its JIT tiers, read by each WebKit
/// process at start.
#[cfg(any(target_os = "linux", test))]
const JSC_JIT: &str = "JSC_useJIT";

/// Runs the UI's JavaScript in JavaScriptCore's interpreter (LLInt), unless
/// the environment says otherwise. The UI is one small page; its JIT code
/// and the JIT's own structures cost the web process 6 MiB idle and 11 MiB
/// with 500 watched contacts (`bench/memory.sh`), while the interpreter
/// still scrolls and searches 2,000 contacts within the frame budget
/// (`bench/frames.sh`: scroll p95 17 ms, search p99 23 ms, no frame over
/// 50 ms). No executable JIT memory in the process is a hardening bonus.
#[cfg(any(target_os = "linux", test))]
fn no_jit_env(is_set: impl Fn(&str) -> bool) -> Option<(&'static str, &'static str)> {
    (!is_set(JSC_JIT)).then_some((JSC_JIT, "0"))
}

/// libglvnd's variable naming the EGL vendor files to load.
#[cfg(any(target_os = "linux", test))]
const EGL_VENDOR_FILENAMES: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";

/// libglvnd's variables that choose the EGL vendor libraries.
#[cfg(any(target_os = "linux", test))]
const EGL_VENDOR_VARS: [&str; 2] = [EGL_VENDOR_FILENAMES, "__EGL_VENDOR_LIBRARY_DIRS"];

/// The display-only EGL vendor (`src-tauri/egl-stub`), as built.
#[cfg(any(target_os = "linux", test))]
const EGL_STUB: &str = "libparley_egl_stub.so";

/// Points libglvnd at Parley's display-only EGL vendor, for the WebKit
/// processes this one starts, when `wanted` (the GPU does not draw).
/// WebKitGTK's web process creates an EGL display at start even when
/// nothing composites on the GPU; on Mesa that loads the DRI driver and
/// its LLVM (26 MiB PSS, `bench/memory.sh`), for a page it then draws with
/// the CPU. The stub's display has no configs, so WebKit takes its CPU
/// paths without Mesa. Left alone when the user chose vendors themselves,
/// or when the library is not installed beside the binary (then Mesa
/// loads as before). A value naming our own vendor file was inherited
/// from an earlier Parley (a restart after an update): it is made again
/// for this binary, or taken away when not wanted.
#[cfg(target_os = "linux")]
fn use_egl_stub(config_dir: &Path, wanted: bool) {
    let dir = std::path::absolute(config_dir).unwrap_or_else(|_| config_dir.to_path_buf());
    let ours = std::env::var_os(EGL_VENDOR_FILENAMES)
        .is_some_and(|v| is_our_vendor_file(&dir, Path::new(&v)));
    let drop_ours = || {
        if ours {
            std::env::remove_var(EGL_VENDOR_FILENAMES);
        }
    };
    if !wanted {
        return drop_ours();
    }
    if !ours
        && EGL_VENDOR_VARS
            .iter()
            .any(|v| std::env::var_os(v).is_some())
    {
        return;
    }
    let Some(library) = std::env::current_exe()
        .ok()
        .and_then(|exe| egl_stub_beside(&exe))
    else {
        tracing::debug!("no {EGL_STUB} beside the binary: WebKit gets the system EGL");
        return drop_ours();
    };
    match write_egl_vendor(&dir, &library) {
        // libglvnd splits the variable at ':'.
        Ok(file) if !file.as_os_str().as_encoded_bytes().contains(&b':') => {
            std::env::set_var(EGL_VENDOR_FILENAMES, file)
        }
        Ok(_) => {
            tracing::debug!("the config dir's path holds a ':': WebKit gets the system EGL");
            drop_ours()
        }
        Err(e) => {
            tracing::warn!("cannot write the EGL vendor file: {e}; WebKit gets the system EGL");
            drop_ours()
        }
    }
}

/// Whether `file` is a vendor file Parley writes into `dir`.
#[cfg(any(target_os = "linux", test))]
fn is_our_vendor_file(dir: &Path, file: &Path) -> bool {
    file.parent() == Some(dir)
        && file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("egl-vendor-") && n.ends_with(".json"))
}

/// Where the stub is for the binary at `exe`: beside it (a cargo target
/// directory) or in `../lib/parley` (`/usr/bin/parley` of the packages).
#[cfg(any(target_os = "linux", test))]
fn egl_stub_beside(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    [dir.join(EGL_STUB), dir.join("../lib/parley").join(EGL_STUB)]
        .into_iter()
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// Writes libglvnd's vendor file for `library` into `dir` (the user's
/// own config directory: a file in a shared temporary directory could be
/// swapped for one naming another library) and returns its path. One file
/// per library path (FNV-1a of the path in the name), so another build of
/// Parley started on the same profile (a `sip:` link opening a second
/// binary that hands over and quits) never repoints the running one's
/// web processes. Written only when it changed, through a rename, so a
/// second instance starting meanwhile never reads half a file.
#[cfg(any(target_os = "linux", test))]
fn write_egl_vendor(dir: &Path, library: &Path) -> std::io::Result<PathBuf> {
    let Some(path) = library.to_str() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the library's path is not UTF-8 (JSON cannot name it)",
        ));
    };
    let hash = path.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let name = format!("egl-vendor-{hash:016x}.json");
    let file = dir.join(&name);
    let body = serde_json::json!({
        "file_format_version": "1.0.0",
        "ICD": { "library_path": path },
    })
    .to_string();
    if std::fs::read_to_string(&file).ok().as_deref() != Some(body.as_str()) {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{name}.{}", std::process::id()));
        std::fs::write(&tmp, &body)?;
        if let Err(e) = std::fs::rename(&tmp, &file) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    Ok(file)
}

/// What the saved choice and WebKit's own variable (as the user's
/// environment has it) give: whether the GPU composites, and whether we
/// must set the variable to turn it off. WebKit reads any value but an
/// empty one or "0" as "off".
#[cfg(any(target_os = "linux", test))]
fn rendering(saved: bool, env: Option<&std::ffi::OsStr>) -> (bool, bool) {
    match env {
        Some(v) => (v.is_empty() || v == "0", false),
        None => (saved, !saved),
    }
}

/// What else keeps OpenGL out of the UI process when the GPU does not
/// draw (each only where the user's environment does not set it):
/// without these, GTK probes GLX when it opens the display and WebKit
/// initialises EGL to find the DRM device and the DMA-BUF formats, and
/// on Mesa either loads the driver with its LLVM (about 20 MiB PSS in
/// a window that draws into shared memory anyway).
/// - `GDK_GL=disable`: GTK 3 skips its GLX probe.
/// - `WEBKIT_DISABLE_DMABUF_RENDERER=1`: frames come over shared memory,
///   which is what the non-composited web view uses.
/// - `WEBKIT_WEB_RENDER_DEVICE_FILE`: the render node WebKit would have
///   asked EGL for, named directly (the first `/dev/dri/renderD*`; a
///   placeholder when there is none, as under Xvfb, where EGL would not
///   have found one either).
#[cfg(any(target_os = "linux", test))]
fn no_gl_env(
    is_set: impl Fn(&str) -> bool,
    render_node: Option<PathBuf>,
) -> Vec<(&'static str, std::ffi::OsString)> {
    let node = render_node
        .map(PathBuf::into_os_string)
        .unwrap_or_else(|| "/dev/dri/renderD128".into());
    [
        ("GDK_GL", "disable".into()),
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1".into()),
        ("WEBKIT_WEB_RENDER_DEVICE_FILE", node),
    ]
    .into_iter()
    .filter(|(name, _)| !is_set(name))
    .collect()
}

/// The first DRM render node under `dir`, by name.
#[cfg(any(target_os = "linux", test))]
fn first_render_node(dir: &Path) -> Option<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        .map(|e| e.path())
        .collect();
    nodes.sort();
    nodes.into_iter().next()
}

/// Adds the OS plugins and the desktop settings to the app being built,
/// and applies the rendering choice: this runs in `main` before the app
/// (and any thread of it) starts.
pub(crate) fn with_plugins(
    builder: tauri::Builder<tauri::Wry>,
) -> Result<tauri::Builder<tauri::Wry>, store::PathsError> {
    use tauri_plugin_window_state::StateFlags;
    let dir = config_dir()?;
    let mut desktop = Desktop::open(&dir);
    desktop.accelerated = apply_rendering(desktop.get().hardware_acceleration, &dir);
    #[cfg(target_os = "linux")]
    if let Some((name, value)) = no_jit_env(|n| std::env::var_os(n).is_some()) {
        std::env::set_var(name, value);
    }
    let theme = desktop.get().theme;
    Ok(builder
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .arg(AUTOSTART_ARG)
                .build(),
        )
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(crate::shortcuts::on_shortcut)
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(
            // Size, position and maximised state per profile, beside
            // desktop.json; whether the window shows is first_show's call.
            tauri_plugin_window_state::Builder::new()
                .with_filename(dir.join("window-state.json").to_string_lossy())
                .with_state_flags(StateFlags::all() - StateFlags::VISIBLE)
                .build(),
        )
        .plugin(
            tauri::plugin::Builder::<tauri::Wry, ()>::new("parley-theme")
                .js_init_script(theme_script(theme))
                .build(),
        )
        .manage(desktop)
        .on_window_event(on_window_event))
}

/// Tray, notifications, saved shortcuts and the first showing of the
/// window, once the engine runs.
pub(crate) fn setup(app: &AppHandle, engine: &ua::Engine) {
    app.state::<Desktop>().tray_host.watch();
    crate::tray::create(app);
    restore_switches(app, engine);
    crate::tray::follow(app, engine);
    crate::notify::start(app, engine);
    first_show(app, std::env::args().any(|a| a == AUTOSTART_ARG));
    // Registration waits for the main thread's event loop, which runs
    // once setup returns.
    let handle = app.clone();
    tauri::async_runtime::spawn(async move { crate::shortcuts::register_saved(&handle) });
}

/// Puts back the switches saved in `desktop.json` (do not disturb, SIP
/// trace recording), as soon as the tray exists to show them.
fn restore_switches(app: &AppHandle, engine: &ua::Engine) {
    let Some(desktop) = app.try_state::<Desktop>() else {
        return;
    };
    let saved = desktop.get();
    engine.set_sip_trace(saved.sip_trace);
    if saved.do_not_disturb {
        if let Some(tray) = app.try_state::<crate::tray::TrayState>() {
            tray.with(|m| m.dnd = true);
            crate::tray::refresh(app);
        }
        let engine = engine.clone();
        tauri::async_runtime::spawn(async move {
            // The app never auto-answers; only DND is restored.
            if let Err(e) = engine.set_call_policy(true, false).await {
                tracing::warn!("do not disturb: {e}");
            }
        });
    }
}

/// Saves one of the switches [`restore_switches`] puts back; a failed
/// save is logged (the switch still applies for this run).
pub(crate) fn remember(app: &AppHandle, f: impl FnOnce(&mut DesktopSettings)) {
    if let Some(desktop) = app.try_state::<Desktop>() {
        if let Err(e) = desktop.update(|s| {
            f(s);
            Ok::<(), OsError>(())
        }) {
            tracing::warn!("desktop settings: {e}");
        }
    }
}

/// What closing the main window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnClose {
    /// Hide it: the phone goes on in the tray.
    Hide,
    /// Quit (unregistering, as the tray's Quit does).
    Quit,
}

/// Closing hides the window only when its icon can be seen and clicked
/// again: a tray icon made, a host showing it, and the user's setting.
/// Without a host a hidden window could not be brought back.
pub(crate) fn on_close(
    close_to_tray: bool,
    tray_made: bool,
    host_runs: impl FnOnce() -> bool,
) -> OnClose {
    if close_to_tray && tray_made && host_runs() {
        OnClose::Hide
    } else {
        OnClose::Quit
    }
}

/// Keeps [`Desktop::focused`] current; closing the main window hides it
/// in the tray where [`on_close`] says so.
pub(crate) fn on_window_event(window: &tauri::Window, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() == "main" {
            if let Some(desktop) = window.try_state::<Desktop>() {
                let setting = desktop.get().close_to_tray;
                let host = || desktop.tray_host.runs();
                if on_close(setting, desktop.has_tray(), host) == OnClose::Hide {
                    api.prevent_close();
                    let _ = window.hide();
                    crate::tray::refresh(window.app_handle());
                    return;
                }
            }
        }
    }
    if let WindowEvent::Focused(on) = event {
        if let Some(desktop) = window.try_state::<Desktop>() {
            desktop.focused.store(*on, Ordering::Relaxed);
        }
        // The tray's Show/Hide follows the window.
        crate::tray::refresh(window.app_handle());
    }
}

/// Script run in the page before its own: sets the saved theme on `<html>`
/// so the first paint already has it (no light flash before a dark UI).
/// It carries the theme of the start; the UI applies later changes itself
/// and re-reads the setting after a reload.
pub(crate) fn theme_script(theme: ThemeChoice) -> String {
    let value = match theme {
        ThemeChoice::System => return String::new(),
        ThemeChoice::Light => "light",
        ThemeChoice::Dark => "dark",
    };
    // At document start <html> may not exist yet: wait for it.
    format!(
        "(function(){{var t=\"{value}\";function a(){{document.documentElement.dataset.theme=t}}\
         if(document.documentElement)a();else new MutationObserver(function(_,o){{\
         if(document.documentElement){{a();o.disconnect()}}}}).observe(document,{{childList:true}})}})();"
    )
}

/// The window's own theme (title bar, GTK widgets) for `theme`.
fn window_theme(theme: ThemeChoice) -> Option<tauri::Theme> {
    match theme {
        ThemeChoice::System => None,
        ThemeChoice::Light => Some(tauri::Theme::Light),
        ThemeChoice::Dark => Some(tauri::Theme::Dark),
    }
}

/// Background of the window before the page paints, as `app.css` has it.
fn background(dark: bool) -> tauri::window::Color {
    if dark {
        tauri::window::Color(0x14, 0x18, 0x1f, 0xff)
    } else {
        tauri::window::Color(0xf6, 0xf7, 0xf9, 0xff)
    }
}

fn apply_theme(window: &WebviewWindow, theme: ThemeChoice) {
    if let Err(e) = window.set_theme(window_theme(theme)) {
        tracing::debug!("window theme: {e}");
    }
    let dark = match theme {
        ThemeChoice::System => matches!(window.theme(), Ok(tauri::Theme::Dark)),
        ThemeChoice::Light => false,
        ThemeChoice::Dark => true,
    };
    if let Err(e) = window.set_background_color(Some(background(dark))) {
        tracing::debug!("window background: {e}");
    }
}

/// How the window first appears: hidden in the tray when started at login
/// and a tray host shows our icon, minimised when started at login without
/// one (a hidden window could not be reached), else shown. The window is
/// created hidden (`tauri.conf.json`) so its theme is set before it shows.
pub(crate) fn first_show(app: &AppHandle, at_login: bool) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let desktop = app.state::<Desktop>();
    apply_theme(&window, desktop.get().theme);
    // Before the window shows, so a short wait for the watchers' first
    // look (local sockets: milliseconds) holds nothing up.
    if at_login
        && desktop.has_tray()
        && desktop
            .tray_host
            .runs_after_first_answers(Duration::from_millis(500))
    {
        tracing::info!("started at login: in the tray");
        return;
    }
    if let Err(e) = window.show() {
        tracing::warn!("cannot show the window: {e}");
    }
    if at_login {
        let _ = window.minimize();
    }
}

/// Whether the main window is on screen (not hidden, not minimised).
pub(crate) fn window_shown(app: &AppHandle) -> bool {
    app.get_webview_window("main").is_some_and(|w| shown(&w))
}

fn shown(w: &WebviewWindow) -> bool {
    w.is_visible().unwrap_or(false) && !w.is_minimized().unwrap_or(false)
}

/// Shows the window if hidden or minimised, hides it otherwise (the tray's
/// Show/Hide).
pub(crate) fn toggle_window(app: &AppHandle) {
    let Some(w) = app.get_webview_window("main") else {
        return;
    };
    if shown(&w) {
        let _ = w.hide();
    } else {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// The settings as the Settings screen shows them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OsSettings {
    theme: ThemeChoice,
    notifications: bool,
    shortcuts: Bindings,
    /// Saved shortcuts the system does not hold for us (refused at start).
    inactive_shortcuts: Vec<crate::shortcuts::Action>,
    /// Whether the OS starts Parley at login (asked each time: the user may
    /// have changed it in the OS's own settings); `None` when it cannot tell.
    start_at_login: Option<bool>,
    /// A tray icon exists (quick actions there).
    tray: bool,
    /// Closing the window hides it in the tray.
    close_to_tray: bool,
    /// A tray host shows the icon now (else closing quits whatever the
    /// setting says).
    tray_host: bool,
    /// GPU compositing from the next start (the saved choice).
    hardware_acceleration: bool,
    /// Whether this run composites on the GPU; differs from the choice
    /// until a restart, or when the environment overrides it.
    hardware_acceleration_now: bool,
    /// Whether the choice does anything on this platform (WebKitGTK only;
    /// WebView2 and WKWebView decide for themselves).
    hardware_acceleration_switch: bool,
}

#[tauri::command]
pub(crate) async fn os_settings(
    app: AppHandle,
    desktop: State<'_, Desktop>,
) -> CmdResult<OsSettings> {
    let s = desktop.get();
    let start_at_login = match app.autolaunch().is_enabled() {
        Ok(on) => Some(on),
        Err(e) => {
            tracing::warn!("cannot tell whether Parley starts at login: {e}");
            None
        }
    };
    Ok(OsSettings {
        theme: s.theme,
        notifications: s.notifications,
        inactive_shortcuts: crate::shortcuts::inactive(&app, &s.shortcuts),
        shortcuts: s.shortcuts,
        start_at_login,
        tray: desktop.has_tray(),
        close_to_tray: s.close_to_tray,
        tray_host: desktop.tray_host.runs(),
        hardware_acceleration: s.hardware_acceleration,
        hardware_acceleration_now: desktop.accelerated,
        hardware_acceleration_switch: cfg!(target_os = "linux"),
    })
}

/// Saves the theme and gives it to the window (the page sets its own).
#[tauri::command]
pub(crate) async fn os_theme_set(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    theme: ThemeChoice,
) -> CmdResult<()> {
    desktop.set(|s| s.theme = theme)?;
    if let Some(w) = app.get_webview_window("main") {
        apply_theme(&w, theme);
    }
    Ok(())
}

#[tauri::command]
pub(crate) async fn os_notifications_set(desktop: State<'_, Desktop>, on: bool) -> CmdResult<()> {
    desktop.set(|s| s.notifications = on)
}

/// Whether closing the window hides it in the tray.
#[tauri::command]
pub(crate) async fn os_close_to_tray_set(desktop: State<'_, Desktop>, on: bool) -> CmdResult<()> {
    desktop.set(|s| s.close_to_tray = on)
}

/// GPU compositing in the web view from the next start.
#[tauri::command]
pub(crate) async fn os_hardware_acceleration_set(
    desktop: State<'_, Desktop>,
    on: bool,
) -> CmdResult<()> {
    desktop.set(|s| s.hardware_acceleration = on)
}

/// The UI's language, for the tray and the notifications.
#[tauri::command]
pub(crate) async fn os_language_set(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    language: Lang,
) -> CmdResult<()> {
    if desktop.get().language == language {
        return Ok(());
    }
    desktop.set(|s| s.language = language)?;
    crate::tray::refresh(&app);
    Ok(())
}

/// Makes the OS start Parley at login (`on`) or not; returns what the OS
/// reports afterwards.
#[tauri::command]
pub(crate) async fn os_autostart_set(app: AppHandle, on: bool) -> CmdResult<bool> {
    let launcher = app.autolaunch();
    let r = if on {
        launcher.enable()
    } else {
        launcher.disable()
    };
    r.map_err(OsError::from).map_err(err)?;
    launcher.is_enabled().map_err(OsError::from).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shortcuts::Action;

    #[test]
    fn settings_round_trip_and_missing_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE);
        assert_eq!(load(&path).unwrap(), DesktopSettings::default());
        let mut s = DesktopSettings {
            theme: ThemeChoice::Dark,
            notifications: false,
            language: Lang::Ru,
            ..DesktopSettings::default()
        };
        s.shortcuts.set(Action::Mute, Some("Ctrl+Alt+M".into()));
        save(&path, &s).unwrap();
        assert_eq!(load(&path).unwrap(), s);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"theme\": \"dark\""), "{text}");
    }

    #[test]
    fn closing_hides_in_the_tray_only_where_the_icon_can_bring_it_back() {
        assert_eq!(on_close(true, true, || true), OnClose::Hide);
        // No host showing the icon (a bare X session): quit.
        assert_eq!(on_close(true, true, || false), OnClose::Quit);
        // No icon made at all; the host is not even asked.
        assert_eq!(on_close(true, false, || panic!("asked")), OnClose::Quit);
        // The user's choice.
        assert_eq!(on_close(false, true, || panic!("asked")), OnClose::Quit);
        // Older desktop.json files keep the default: hide.
        assert!(DesktopSettings::default().close_to_tray);
    }

    #[test]
    fn switches_are_kept_and_an_older_file_has_trace_on_and_dnd_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        // A file from before the switches were saved.
        std::fs::write(&path, r#"{"theme":"dark","notifications":true}"#).unwrap();
        let s = load(&path).unwrap();
        assert!(!s.do_not_disturb);
        assert!(s.sip_trace);
        let s = DesktopSettings {
            do_not_disturb: true,
            sip_trace: false,
            ..s
        };
        save(&path, &s).unwrap();
        let back = load(&path).unwrap();
        assert!(back.do_not_disturb);
        assert!(!back.sip_trace);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"do_not_disturb\": true"), "{text}");
    }

    #[test]
    fn compositing_is_off_unless_chosen_and_the_environment_wins() {
        use std::ffi::OsStr;
        // Nothing in the environment: the saved choice, off by default.
        assert!(!DesktopSettings::default().hardware_acceleration);
        assert_eq!(rendering(false, None), (false, true));
        assert_eq!(rendering(true, None), (true, false));
        // The user's own variable is left alone, whatever was saved.
        assert_eq!(rendering(true, Some(OsStr::new("1"))), (false, false));
        assert_eq!(rendering(false, Some(OsStr::new("0"))), (true, false));
        assert_eq!(rendering(false, Some(OsStr::new(""))), (true, false));
        // A file from before the switch keeps the default.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, r#"{"theme":"dark"}"#).unwrap();
        assert!(!load(&path).unwrap().hardware_acceleration);
    }

    #[test]
    fn without_the_gpu_gl_stays_out_of_the_ui_process_unless_the_user_says_otherwise() {
        let none = |_: &str| false;
        let env = no_gl_env(none, Some(PathBuf::from("/dev/dri/renderD129")));
        let names: Vec<_> = env.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "GDK_GL",
                "WEBKIT_DISABLE_DMABUF_RENDERER",
                "WEBKIT_WEB_RENDER_DEVICE_FILE"
            ]
        );
        assert_eq!(env[0].1, "disable");
        assert_eq!(env[1].1, "1");
        assert_eq!(env[2].1, "/dev/dri/renderD129");
        // No render node (Xvfb, a VM): a placeholder that is never opened
        // while the renderer is off.
        let env = no_gl_env(none, None);
        assert_eq!(env[2].1, "/dev/dri/renderD128");
        // What the user set wins: it is left alone.
        let env = no_gl_env(|n| n == "GDK_GL", None);
        assert!(env.iter().all(|(n, _)| *n != "GDK_GL"));
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn the_first_render_node_by_name_is_picked() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(first_render_node(dir.path()), None);
        for f in ["card0", "renderD129", "renderD128"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        assert_eq!(
            first_render_node(dir.path()),
            Some(dir.path().join("renderD128"))
        );
        assert_eq!(first_render_node(&dir.path().join("missing")), None);
    }

    #[test]
    fn the_jit_is_off_unless_the_environment_chose() {
        assert_eq!(no_jit_env(|_| false), Some(("JSC_useJIT", "0")));
        assert_eq!(no_jit_env(|n| n == "JSC_useJIT"), None);
        assert_eq!(
            no_jit_env(|n| n == "JSC_useDFGJIT"),
            Some(("JSC_useJIT", "0"))
        );
    }

    #[test]
    fn the_egl_stub_is_found_beside_the_binary_or_in_the_packages_lib_dir() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("usr/bin");
        let lib = root.path().join("usr/lib/parley");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&lib).unwrap();
        let exe = bin.join("parley");
        assert_eq!(egl_stub_beside(&exe), None, "nothing installed");

        std::fs::write(lib.join(EGL_STUB), b"").unwrap();
        let packaged = egl_stub_beside(&exe).unwrap();
        assert!(packaged.is_absolute() && !packaged.to_string_lossy().contains(".."));
        assert_eq!(packaged, lib.join(EGL_STUB).canonicalize().unwrap());

        // A cargo target directory: beside the binary wins.
        std::fs::write(bin.join(EGL_STUB), b"").unwrap();
        assert_eq!(
            egl_stub_beside(&exe).unwrap(),
            bin.join(EGL_STUB).canonicalize().unwrap()
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_egl_vendor_file_names_the_library_and_is_rewritten_only_when_it_changes() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("config");
        let lib = Path::new("/opt/p/libparley_egl_stub.so");
        let file = write_egl_vendor(&conf, lib).unwrap();
        assert!(is_our_vendor_file(&conf, &file), "{file:?}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(v["file_format_version"], "1.0.0");
        assert_eq!(v["ICD"]["library_path"], "/opt/p/libparley_egl_stub.so");

        // The same library again: the very same file, not rewritten.
        let inode = std::fs::metadata(&file).unwrap().ino();
        assert_eq!(write_egl_vendor(&conf, lib).unwrap(), file);
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);

        // Another build's library gets a file of its own; the first stays.
        let other =
            write_egl_vendor(&conf, Path::new("/usr/lib/parley/libparley_egl_stub.so")).unwrap();
        assert_ne!(other, file);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&other).unwrap()).unwrap();
        assert_eq!(
            v["ICD"]["library_path"],
            "/usr/lib/parley/libparley_egl_stub.so"
        );
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);
        let mut names: Vec<_> = std::fs::read_dir(&conf)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");

        // A path JSON cannot carry is refused, not written garbled.
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"/opt/\xff/lib.so"));
        assert!(write_egl_vendor(&conf, bad).is_err());
        assert_eq!(EGL_VENDOR_FILENAMES, "__EGL_VENDOR_LIBRARY_FILENAMES");
    }

    #[test]
    fn only_vendor_files_parley_writes_count_as_ours() {
        let conf = Path::new("/home/u/.config/parley");
        assert!(is_our_vendor_file(
            conf,
            &conf.join("egl-vendor-0123456789abcdef.json")
        ));
        assert!(!is_our_vendor_file(
            conf,
            Path::new("/usr/share/glvnd/egl_vendor.d/50_mesa.json")
        ));
        assert!(!is_our_vendor_file(
            conf,
            &conf.join("sub/egl-vendor-01.json")
        ));
        assert!(!is_our_vendor_file(
            conf,
            &conf.join("egl-vendor-01.json.123")
        ));
    }

    #[test]
    fn a_partial_file_keeps_defaults_and_a_broken_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, r#"{"theme":"light","future_field":1}"#).unwrap();
        let s = load(&path).unwrap();
        assert_eq!(s.theme, ThemeChoice::Light);
        assert!(s.notifications);
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(load(&path), Err(OsError::Parse { .. })));
        std::fs::write(&path, r#"{"theme":"purple"}"#).unwrap();
        assert!(matches!(load(&path), Err(OsError::Parse { .. })));
    }

    #[test]
    fn desktop_update_saves_and_a_refused_change_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = Desktop::open(dir.path());
        d.update(|s| {
            s.theme = ThemeChoice::Dark;
            Ok::<_, OsError>(())
        })
        .unwrap();
        assert_eq!(
            load(&dir.path().join(FILE)).unwrap().theme,
            ThemeChoice::Dark
        );
        #[derive(Debug)]
        struct No;
        impl From<OsError> for No {
            fn from(_: OsError) -> Self {
                No
            }
        }
        let r = d.update(|s| {
            s.theme = ThemeChoice::Light;
            Err(No)
        });
        assert!(r.is_err());
        assert_eq!(d.get().theme, ThemeChoice::Dark);
        // A broken file opens as the defaults.
        std::fs::write(dir.path().join(FILE), "[").unwrap();
        assert_eq!(Desktop::open(dir.path()).get(), DesktopSettings::default());
    }

    #[test]
    fn the_theme_script_sets_only_a_chosen_theme() {
        assert_eq!(theme_script(ThemeChoice::System), "");
        let dark = theme_script(ThemeChoice::Dark);
        assert!(dark.contains("var t=\"dark\""), "{dark}");
        assert!(theme_script(ThemeChoice::Light).contains("var t=\"light\""));
    }
}

//! Global shortcuts: answer, hang up and mute from any app. Each is a key
//! combination the user records in Settings; none is set by default, since
//! any default may take a combination another app relies on.
//!
//! Per platform (global-hotkey): Windows and macOS register system-wide;
//! X11 grabs the key on the root window, and a combination another client
//! grabbed already is refused, which the user sees; on Wayland only X11
//! (XWayland) apps' keys reach us, so the shortcuts work while an X11 window
//! has the focus, if at all.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_global_shortcut::{
    Code, GlobalShortcutExt, Modifiers, Shortcut, ShortcutEvent, ShortcutState,
};
use ua::api::{CallDirection, CallInfo, CallState};
use ua::Engine;

use crate::os::{Desktop, OsError};
use crate::{err, CmdResult};

/// Longest combination text taken (the longest real one is ~40).
const MAX_LEN: usize = 64;

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Answers the ringing call.
    Answer,
    /// Ends the current call (declines a ringing one when no other is on).
    Hangup,
    /// Mutes or unmutes the microphone in the current call.
    Mute,
}

impl Action {
    const ALL: [Action; 3] = [Action::Answer, Action::Hangup, Action::Mute];
}

/// The combination of each action, as the user recorded it (`Ctrl+Alt+A`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Bindings {
    pub(crate) answer: Option<String>,
    pub(crate) hangup: Option<String>,
    pub(crate) mute: Option<String>,
}

impl Bindings {
    pub(crate) fn get(&self, action: Action) -> Option<&str> {
        match action {
            Action::Answer => self.answer.as_deref(),
            Action::Hangup => self.hangup.as_deref(),
            Action::Mute => self.mute.as_deref(),
        }
    }

    pub(crate) fn set(&mut self, action: Action, accelerator: Option<String>) {
        let slot = match action {
            Action::Answer => &mut self.answer,
            Action::Hangup => &mut self.hangup,
            Action::Mute => &mut self.mute,
        };
        *slot = accelerator;
    }
}

/// Why a combination cannot be a shortcut.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShortcutError {
    #[error("the key combination is empty")]
    Empty,
    #[error("the key combination is too long")]
    TooLong,
    #[error("not a key combination: {0}")]
    Parse(String),
    #[error("add Ctrl, Alt or Super: a plain key would stop working in every other app")]
    NeedsModifier,
    #[error("{0} is already the shortcut to {1}")]
    Taken(String, &'static str),
    #[error("the system refused {0}: another app probably uses it ({1})")]
    Refused(String, String),
    #[error(transparent)]
    Save(#[from] OsError),
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Answer => "answer",
        Action::Hangup => "hang up",
        Action::Mute => "mute",
    }
}

/// Keys that may go without Ctrl, Alt or Super: nobody types with them.
fn stands_alone(code: Code) -> bool {
    use Code::*;
    matches!(
        code,
        F1 | F2
            | F3
            | F4
            | F5
            | F6
            | F7
            | F8
            | F9
            | F10
            | F11
            | F12
            | F13
            | F14
            | F15
            | F16
            | F17
            | F18
            | F19
            | F20
            | F21
            | F22
            | F23
            | F24
            | MediaPlayPause
            | MediaPlay
            | MediaPause
            | MediaStop
            | MediaTrackNext
            | MediaTrackPrevious
            | AudioVolumeMute
    )
}

/// Checks `text` and returns the shortcut with its text tidied
/// (`ctrl + alt + a` becomes `ctrl+alt+a`).
pub(crate) fn parse(text: &str) -> Result<(Shortcut, String), ShortcutError> {
    let tidy: String = text.split('+').map(str::trim).collect::<Vec<_>>().join("+");
    if tidy.is_empty() {
        return Err(ShortcutError::Empty);
    }
    if tidy.len() > MAX_LEN {
        return Err(ShortcutError::TooLong);
    }
    let shortcut: Shortcut = tidy
        .parse()
        .map_err(|e: <Shortcut as std::str::FromStr>::Err| ShortcutError::Parse(e.to_string()))?;
    let strong = Modifiers::CONTROL | Modifiers::ALT | Modifiers::SUPER;
    if !shortcut.mods.intersects(strong) && !stands_alone(shortcut.key) {
        return Err(ShortcutError::NeedsModifier);
    }
    Ok((shortcut, tidy))
}

/// The action `shortcut` is bound to in `bindings`.
pub(crate) fn action_of(bindings: &Bindings, shortcut: &Shortcut) -> Option<Action> {
    Action::ALL.into_iter().find(|&a| {
        bindings
            .get(a)
            .and_then(|t| parse(t).ok())
            .is_some_and(|(s, _)| s.id() == shortcut.id())
    })
}

/// What a shortcut does to which call, from the calls there are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOp {
    Answer(u32),
    Hangup(u32),
    Decline(u32),
    Mute(u32, bool),
}

fn live(c: &CallInfo) -> bool {
    !matches!(c.state, CallState::Incoming | CallState::Ended)
}

/// The call an action applies to: the ringing one for Answer; for Hang up
/// and Mute the connected call (the newest, as the UI brings it to the
/// front), else another live one; Hang up declines a ringing call when no
/// other is on.
pub(crate) fn call_op(action: Action, calls: &[CallInfo]) -> Option<CallOp> {
    let ringing = || {
        calls
            .iter()
            .filter(|c| c.state == CallState::Incoming && c.direction == CallDirection::Incoming)
            .min_by_key(|c| c.started_ms)
    };
    let current = || {
        calls
            .iter()
            .filter(|c| c.state == CallState::Connected)
            .max_by_key(|c| c.started_ms)
            .or_else(|| {
                calls
                    .iter()
                    .filter(|c| live(c))
                    .max_by_key(|c| c.started_ms)
            })
    };
    match action {
        Action::Answer => ringing().map(|c| CallOp::Answer(c.id)),
        Action::Hangup => current()
            .map(|c| CallOp::Hangup(c.id))
            .or_else(|| ringing().map(|c| CallOp::Decline(c.id))),
        Action::Mute => current().map(|c| CallOp::Mute(c.id, !c.muted)),
    }
}

/// Carries out `action` on the engine's calls.
pub(crate) fn run(app: &AppHandle, action: Action) {
    let engine = app.state::<Engine>().inner().clone();
    tauri::async_runtime::spawn(async move {
        let calls = match engine.status().await {
            Ok(s) => s.calls,
            Err(e) => return tracing::warn!("shortcut: {e}"),
        };
        let Some(op) = call_op(action, &calls) else {
            return tracing::debug!(?action, "shortcut: no call to act on");
        };
        let r = match op {
            CallOp::Answer(id) => engine.answer(id).await,
            CallOp::Hangup(id) => engine.hangup(id).await,
            CallOp::Decline(id) => engine.reject(id, false).await,
            CallOp::Mute(id, on) => engine.mute(id, on).await,
        };
        if let Err(e) = r {
            tracing::warn!(?action, "shortcut: {e}");
        }
    });
}

/// The global-shortcut plugin's handler: runs the bound action on press.
pub(crate) fn on_shortcut(app: &AppHandle, shortcut: &Shortcut, event: ShortcutEvent) {
    if event.state() != ShortcutState::Pressed {
        return;
    }
    let Some(desktop) = app.try_state::<Desktop>() else {
        return;
    };
    if let Some(action) = action_of(&desktop.get().shortcuts, shortcut) {
        run(app, action);
    }
}

/// Registers the saved shortcuts at start. One the system refuses (taken
/// by another app, or no X server to grab on) stays saved and unregistered,
/// with a warning: the app runs on without it and Settings shows it again.
pub(crate) fn register_saved(app: &AppHandle) {
    let bindings = app.state::<Desktop>().get().shortcuts;
    for action in Action::ALL {
        let Some(text) = bindings.get(action) else {
            continue;
        };
        match parse(text) {
            Ok((shortcut, _)) => {
                if let Err(e) = app.global_shortcut().register(shortcut) {
                    tracing::warn!(?action, "cannot register the saved shortcut: {e}");
                }
            }
            Err(e) => tracing::warn!(?action, "saved shortcut not usable: {e}"),
        }
    }
}

/// The saved shortcuts the system does not hold for us (refused at start,
/// or since taken): Settings says so next to them.
pub(crate) fn inactive(app: &AppHandle, bindings: &Bindings) -> Vec<Action> {
    let gs = app.global_shortcut();
    Action::ALL
        .into_iter()
        .filter(|&a| {
            bindings
                .get(a)
                .is_some_and(|t| parse(t).map_or(true, |(s, _)| !gs.is_registered(s)))
        })
        .collect()
}

/// Sets (or clears, with `None`) the shortcut of `action`: checks it,
/// registers it with the system, and saves it. Returns the bindings now.
#[tauri::command]
pub(crate) async fn os_shortcut_set(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    action: Action,
    accelerator: Option<String>,
) -> CmdResult<Bindings> {
    set(&app, &desktop, action, accelerator).map_err(err)
}

fn set(
    app: &AppHandle,
    desktop: &Desktop,
    action: Action,
    accelerator: Option<String>,
) -> Result<Bindings, ShortcutError> {
    let current = desktop.get().shortcuts;
    let new = accelerator.as_deref().map(parse).transpose()?;
    if let Some((shortcut, text)) = &new {
        if let Some(other) = action_of(&current, shortcut).filter(|&o| o != action) {
            return Err(ShortcutError::Taken(text.clone(), action_name(other)));
        }
    }
    let old = current
        .get(action)
        .and_then(|t| parse(t).ok())
        .map(|(s, _)| s);
    let gs = app.global_shortcut();
    if let Some(old) = old {
        if new.as_ref().is_some_and(|(s, _)| s.id() == old.id()) {
            // Same combination: keep it registered, save the tidied text.
        } else if gs.is_registered(old) {
            if let Err(e) = gs.unregister(old) {
                tracing::warn!(?action, "cannot unregister the old shortcut: {e}");
            }
        }
    }
    if let Some((shortcut, text)) = &new {
        if !gs.is_registered(*shortcut) {
            gs.register(*shortcut)
                .map_err(|e| ShortcutError::Refused(text.clone(), e.to_string()))?;
        }
    }
    let saved = desktop.update(|s| {
        s.shortcuts
            .set(action, new.as_ref().map(|(_, t)| t.clone()));
        Ok::<_, ShortcutError>(())
    });
    match saved {
        Ok(s) => Ok(s.shortcuts),
        Err(e) => {
            // Not saved: leave the system as the file says.
            if let Some((shortcut, _)) = &new {
                let _ = gs.unregister(*shortcut);
            }
            Err(e)
        }
    }
}

/// A call for the tests, built from JSON so fields added to `CallInfo`
/// later (with serde defaults) need no change here.
#[cfg(test)]
pub(crate) fn test_call(
    id: u32,
    direction: CallDirection,
    state: CallState,
    peer_name: Option<&str>,
    started_ms: i64,
    muted: bool,
) -> CallInfo {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "account": "work",
        "direction": direction,
        "peer_uri": "sip:Bob@127.0.0.1;transport=udp",
        "peer_name": peer_name,
        "state": state,
        "held_by_us": false,
        "held_by_peer": false,
        "muted": muted,
        "codec": null,
        "started_ms": started_ms,
        "answered_ms": null,
    }))
    .expect("a CallInfo")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: u32, state: CallState, started_ms: i64, muted: bool) -> CallInfo {
        let direction = if state == CallState::Incoming {
            CallDirection::Incoming
        } else {
            CallDirection::Outgoing
        };
        test_call(id, direction, state, None, started_ms, muted)
    }

    #[test]
    fn combinations_parse_tidy_and_need_a_real_modifier() {
        let (s, text) = parse(" Ctrl + Alt + A ").unwrap();
        assert_eq!(text, "Ctrl+Alt+A");
        assert!(s.mods.contains(Modifiers::CONTROL | Modifiers::ALT));
        assert_eq!(s.key, Code::KeyA);
        assert!(parse("Super+Shift+F").is_ok());
        assert!(parse("F9").is_ok());
        assert!(parse("Shift+F9").is_ok());
        assert!(parse("MediaPlayPause").is_ok());
        assert!(matches!(parse("  "), Err(ShortcutError::Empty)));
        assert!(matches!(parse("A"), Err(ShortcutError::NeedsModifier)));
        assert!(matches!(
            parse("Shift+A"),
            Err(ShortcutError::NeedsModifier)
        ));
        assert!(matches!(parse("Ctrl+"), Err(ShortcutError::Parse(_))));
        assert!(matches!(parse("Ctrl+A+B"), Err(ShortcutError::Parse(_))));
        assert!(matches!(parse("Ctrl+Nope"), Err(ShortcutError::Parse(_))));
        assert!(matches!(
            parse(&format!("Ctrl+{}", "A".repeat(80))),
            Err(ShortcutError::TooLong)
        ));
        // Odd input never panics.
        for t in ["+", "++", "Ctrl++", "Ctrl+\u{e9}", "\u{0}", "Ctrl+Alt"] {
            let _ = parse(t);
        }
    }

    #[test]
    fn a_pressed_shortcut_maps_to_its_action() {
        let mut b = Bindings::default();
        b.set(Action::Answer, Some("Ctrl+Alt+A".into()));
        b.set(Action::Mute, Some("Ctrl+Alt+M".into()));
        let (pressed, _) = parse("alt+ctrl+a").unwrap();
        assert_eq!(action_of(&b, &pressed), Some(Action::Answer));
        let (other, _) = parse("Ctrl+Alt+H").unwrap();
        assert_eq!(action_of(&b, &other), None);
        b.set(Action::Answer, None);
        assert_eq!(action_of(&b, &pressed), None);
    }

    #[test]
    fn actions_pick_their_call() {
        assert_eq!(call_op(Action::Answer, &[]), None);
        assert_eq!(call_op(Action::Hangup, &[]), None);
        assert_eq!(call_op(Action::Mute, &[]), None);

        let ringing = call(1, CallState::Incoming, 10, false);
        assert_eq!(
            call_op(Action::Answer, std::slice::from_ref(&ringing)),
            Some(CallOp::Answer(1))
        );
        // Hang up with only a ringing call declines it; mute has nothing.
        assert_eq!(
            call_op(Action::Hangup, std::slice::from_ref(&ringing)),
            Some(CallOp::Decline(1))
        );
        assert_eq!(call_op(Action::Mute, std::slice::from_ref(&ringing)), None);

        let connected = call(2, CallState::Connected, 5, false);
        let held = call(3, CallState::OnHold, 20, true);
        let calls = [ringing, connected, held];
        // The connected call wins over a newer held one and the ringing one.
        assert_eq!(call_op(Action::Hangup, &calls), Some(CallOp::Hangup(2)));
        assert_eq!(call_op(Action::Mute, &calls), Some(CallOp::Mute(2, true)));
        assert_eq!(call_op(Action::Answer, &calls), Some(CallOp::Answer(1)));
        // Only a held (muted) call: mute toggles it back on.
        assert_eq!(
            call_op(Action::Mute, &calls[2..]),
            Some(CallOp::Mute(3, false))
        );
        // An outgoing call still dialling can be hung up.
        let dialing = call(4, CallState::Dialing, 30, false);
        assert_eq!(call_op(Action::Hangup, &[dialing]), Some(CallOp::Hangup(4)));
    }
}

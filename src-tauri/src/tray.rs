//! The tray (status bar) icon: the account's state and the missed calls in
//! its tooltip (Windows, macOS) or label (Linux, where status icons have no
//! tooltip), and quick actions in its menu: show or hide the window, my
//! status, do not disturb, answer, hang up, quit.
//!
//! Without a tray host (a bare X session) the icon is simply not seen; the
//! app works the same from its window. On Linux the host is either a
//! StatusNotifierWatcher or, on X11, an XEmbed system tray, where
//! libayatana-appindicator falls back to a GTK status icon. The e2e run
//! uses the menu in both: docked in trayer (XEmbed), and drawn by
//! gtk-sni-tray-standalone from our dbusmenu (StatusNotifierItem).

use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::error::RecvError;
use ua::api::{CallInfo, CallState};
use ua::presence::Availability;
use ua::{AccountInfo, Engine, Event, RegistrationState};

use crate::os::{Desktop, Lang};
use crate::shortcuts::{call_op, Action, CallOp};
use crate::texts::{fill, tr, Text};

const TRAY: &str = "main";

/// Event telling the UI which presence the tray published (so its own
/// picker follows).
pub(crate) const PRESENCE_EVENT: &str = "os://presence";

/// What the tray shows, kept current from the engine's events.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub(crate) accounts: Vec<AccountInfo>,
    pub(crate) calls: Vec<CallInfo>,
    pub(crate) missed: u32,
    pub(crate) dnd: bool,
}

/// The tray's model, shared by the event loop and the menu.
#[derive(Default)]
pub(crate) struct TrayState(Mutex<Model>);

impl TrayState {
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Model) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The account the status line describes (as the UI's status bar picks).
fn shown_account(accounts: &[AccountInfo]) -> Option<&AccountInfo> {
    crate::links::pick_account(accounts).or_else(|| accounts.first())
}

/// The account that publishes our presence: the first registered one with
/// a server (the UI's `presenceAccount`).
pub(crate) fn presence_account(accounts: &[AccountInfo]) -> Option<&AccountInfo> {
    accounts
        .iter()
        .find(|a| !a.local && a.registration != RegistrationState::Disabled)
        .filter(|a| matches!(a.registration, RegistrationState::Registered { .. }))
}

/// `Work: registered`, or what stands instead.
pub(crate) fn status_line(model: &Model, lang: Lang) -> String {
    let Some(a) = shown_account(&model.accounts) else {
        return tr(lang, Text::NoAccount).to_owned();
    };
    let state = match &a.registration {
        RegistrationState::Local => Text::Local,
        RegistrationState::Registered { .. } => Text::Registered,
        RegistrationState::Registering => Text::Registering,
        RegistrationState::Failed { .. } => Text::RegistrationFailed,
        RegistrationState::Disabled
        | RegistrationState::NotRegistering
        | RegistrationState::Unregistered => Text::NotRegistered,
    };
    let name = a.display_name.as_deref().unwrap_or(&a.name);
    format!("{name}: {}", tr(lang, state))
}

fn in_call(model: &Model) -> bool {
    model
        .calls
        .iter()
        .any(|c| !matches!(c.state, CallState::Incoming | CallState::Ended))
}

/// The tooltip: the app, the status line, a call in progress, missed calls.
pub(crate) fn tooltip(model: &Model, lang: Lang) -> String {
    let mut lines = vec!["Parley".to_owned(), status_line(model, lang)];
    if in_call(model) {
        lines.push(tr(lang, Text::InCall).to_owned());
    }
    if model.missed > 0 {
        lines.push(fill(lang, Text::MissedCalls, "", model.missed));
    }
    if model.dnd {
        lines.push(tr(lang, Text::DoNotDisturb).to_owned());
    }
    lines.join("\n")
}

const PRESENCES: [(&str, Availability, Text); 4] = [
    (
        "presence-available",
        Availability::Available,
        Text::Available,
    ),
    ("presence-away", Availability::Away, Text::Away),
    ("presence-busy", Availability::Busy, Text::Busy),
    ("presence-offline", Availability::Offline, Text::Offline),
];

/// What the menu shows, from the model: labels and which items can be
/// picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MenuView {
    status: String,
    missed: (String, bool),
    toggle: String,
    presence: (String, bool),
    presences: [String; PRESENCES.len()],
    /// Label and checked (always enabled).
    dnd: (String, bool),
    answer: (String, bool),
    hangup: (String, bool),
    quit: String,
}

/// The menu for `model`, the window `shown` or not.
pub(crate) fn menu_view(model: &Model, lang: Lang, shown: bool) -> MenuView {
    let t = |x| tr(lang, x).to_owned();
    let can_publish = presence_account(&model.accounts).is_some();
    MenuView {
        status: status_line(model, lang),
        missed: (
            fill(lang, Text::MissedCalls, "", model.missed),
            model.missed > 0,
        ),
        toggle: t(if shown { Text::Hide } else { Text::Show }),
        presence: (t(Text::Status), can_publish),
        presences: PRESENCES.map(|(_, _, text)| t(text)),
        dnd: (t(Text::DoNotDisturb), model.dnd),
        answer: (
            t(Text::Answer),
            call_op(Action::Answer, &model.calls).is_some(),
        ),
        hangup: (
            t(Text::HangUp),
            matches!(
                call_op(Action::Hangup, &model.calls),
                Some(CallOp::Hangup(_))
            ),
        ),
        quit: t(Text::Quit),
    }
}

/// The menu's items, made once. Changes go into them in place, so each
/// keeps its id: a StatusNotifierItem host draws the menu in its own
/// process and sends back the id of the item clicked, and a menu rebuilt
/// in between (as every focus change did, and the host's popup itself
/// takes the focus) answered that click with "no such item". Found with
/// gtk-sni-tray-standalone: "Hide Parley" never arrived.
pub(crate) struct TrayMenu {
    menu: Menu<tauri::Wry>,
    status: MenuItem<tauri::Wry>,
    missed: MenuItem<tauri::Wry>,
    toggle: MenuItem<tauri::Wry>,
    presence: Submenu<tauri::Wry>,
    presences: Vec<MenuItem<tauri::Wry>>,
    dnd: CheckMenuItem<tauri::Wry>,
    answer: MenuItem<tauri::Wry>,
    hangup: MenuItem<tauri::Wry>,
    quit: MenuItem<tauri::Wry>,
    /// What the items show now.
    shown: Mutex<MenuView>,
}

impl TrayMenu {
    fn new(app: &AppHandle, v: MenuView) -> tauri::Result<TrayMenu> {
        let item = |id: &str, (text, on): &(String, bool)| {
            MenuItem::with_id(app, id, text, *on, None::<&str>)
        };
        let status = item("status", &(v.status.clone(), false))?;
        let missed = item("missed", &v.missed)?;
        let toggle = item("toggle", &(v.toggle.clone(), true))?;
        let presence = Submenu::with_id(app, "presence", &v.presence.0, v.presence.1)?;
        let mut presences = Vec::with_capacity(PRESENCES.len());
        for ((id, _, _), text) in PRESENCES.iter().zip(&v.presences) {
            let p = item(id, &(text.clone(), v.presence.1))?;
            presence.append(&p)?;
            presences.push(p);
        }
        let dnd = CheckMenuItem::with_id(app, "dnd", &v.dnd.0, true, v.dnd.1, None::<&str>)?;
        let answer = item("answer", &v.answer)?;
        let hangup = item("hangup", &v.hangup)?;
        let quit = item("quit", &(v.quit.clone(), true))?;
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &missed,
                &PredefinedMenuItem::separator(app)?,
                &toggle,
                &answer,
                &hangup,
                &PredefinedMenuItem::separator(app)?,
                &presence,
                &dnd,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        Ok(TrayMenu {
            menu,
            status,
            missed,
            toggle,
            presence,
            presences,
            dnd,
            answer,
            hangup,
            quit,
            shown: Mutex::new(v),
        })
    }

    /// Changes what differs from what the items show.
    fn show(&self, v: MenuView) -> tauri::Result<()> {
        let mut now = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        let item =
            |i: &MenuItem<tauri::Wry>, (text, on): (&str, bool), (was, was_on): (&str, bool)| {
                if text != was {
                    i.set_text(text)?;
                }
                if on != was_on {
                    i.set_enabled(on)?;
                }
                tauri::Result::Ok(())
            };
        item(&self.status, (&v.status, false), (&now.status, false))?;
        item(&self.missed, pair(&v.missed), pair(&now.missed))?;
        item(&self.toggle, (&v.toggle, true), (&now.toggle, true))?;
        item(&self.answer, pair(&v.answer), pair(&now.answer))?;
        item(&self.hangup, pair(&v.hangup), pair(&now.hangup))?;
        if v.presence != now.presence {
            self.presence.set_text(&v.presence.0)?;
            self.presence.set_enabled(v.presence.1)?;
        }
        for ((p, text), was) in self.presences.iter().zip(&v.presences).zip(&now.presences) {
            item(p, (text, v.presence.1), (was, now.presence.1))?;
        }
        if v.dnd.0 != now.dnd.0 {
            self.dnd.set_text(&v.dnd.0)?;
        }
        // Always: a click toggles the check mark itself before the engine
        // has said yes, and a refused change must put it back.
        self.dnd.set_checked(v.dnd.1)?;
        item(&self.quit, (&v.quit, true), (&now.quit, true))?;
        *now = v;
        Ok(())
    }
}

/// Makes the tray icon. Failure (no tray support at all) leaves the app
/// without one; it is reported and nothing else changes.
pub(crate) fn create(app: &AppHandle) {
    app.manage(TrayState::default());
    let lang = app.state::<Desktop>().get().language;
    let made = || -> tauri::Result<TrayIcon> {
        let menu = TrayMenu::new(
            app,
            menu_view(&Model::default(), lang, crate::os::window_shown(app)),
        )?;
        let mut builder = TrayIconBuilder::with_id(TRAY)
            .menu(&menu.menu)
            .tooltip("Parley")
            .show_menu_on_left_click(false)
            .on_menu_event(on_menu)
            .on_tray_icon_event(|tray, event| {
                // A left click shows or hides the window (Windows, macOS;
                // Linux status icons open the menu on any click).
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } = event
                {
                    crate::os::toggle_window(tray.app_handle());
                    refresh(tray.app_handle());
                }
            });
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        let tray = builder.build(app)?;
        app.manage(menu);
        Ok(tray)
    };
    // On Linux the icon needs libayatana-appindicator (or libappindicator),
    // loaded at run time; without it the loader panics rather than failing.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(made)) {
        Ok(Ok(_)) => app.state::<Desktop>().set_tray(true),
        Ok(Err(e)) => tracing::warn!("no tray icon: {e}"),
        Err(_) => tracing::warn!("no tray icon: the system's status icon library is missing"),
    }
}

/// Shows the model in the icon's tooltip, label and menu (after a change
/// or a new language). The work runs on the main thread, where the menu
/// lives: updates from the engine's events and from window events then
/// apply in order, and none waits for the main thread while it holds the
/// menu's lock (the main thread's own refresh would wait on that lock).
pub(crate) fn refresh(app: &AppHandle) {
    let handle = app.clone();
    if let Err(e) = app.run_on_main_thread(move || refresh_here(&handle)) {
        tracing::debug!("tray update: {e}");
    }
}

fn refresh_here(app: &AppHandle) {
    let Some(tray) = app.tray_by_id(TRAY) else {
        return;
    };
    let Some(state) = app.try_state::<TrayState>() else {
        return;
    };
    let Some(menu) = app.try_state::<TrayMenu>() else {
        return;
    };
    let lang = app.state::<Desktop>().get().language;
    let model = state.with(|m| m.clone());
    // Each on its own: a menu that cannot change still lets the tooltip
    // and the missed-call count do so.
    if let Err(e) = menu.show(menu_view(&model, lang, crate::os::window_shown(app))) {
        tracing::debug!("tray menu update: {e}");
    }
    if let Err(e) = tray.set_tooltip(Some(tooltip(&model, lang))) {
        tracing::debug!("tray tooltip update: {e}");
    }
    // Linux shows no tooltip: the missed calls go beside the icon.
    #[cfg(target_os = "linux")]
    if let Err(e) = tray.set_title((model.missed > 0).then(|| model.missed.to_string())) {
        tracing::debug!("tray title update: {e}");
    }
}

/// A view's (label, enabled) as the item setter takes it.
fn pair((text, on): &(String, bool)) -> (&str, bool) {
    (text, *on)
}

/// Whether `event` changes what the tray shows.
fn matters(event: &Event) -> bool {
    matches!(
        event,
        Event::AccountsChanged { .. }
            | Event::Registration { .. }
            | Event::IncomingCall { .. }
            | Event::CallState { .. }
            | Event::CallEnded { .. }
            | Event::HistoryChanged { .. }
    )
}

/// Keeps the tray current from the engine's events until it stops.
pub(crate) fn follow(app: &AppHandle, engine: &Engine) {
    if app.tray_by_id(TRAY).is_none() {
        return;
    }
    let mut events = engine.subscribe();
    let engine = engine.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut sync = true;
        loop {
            if sync {
                if let Ok(s) = engine.status().await {
                    let missed = engine.unseen_missed_calls().await.ok();
                    app.state::<TrayState>().with(|m| {
                        m.accounts = s.accounts;
                        m.calls = s.calls;
                        if let Some(n) = missed {
                            m.missed = n;
                        }
                    });
                    refresh(&app);
                }
                sync = false;
            }
            match events.recv().await {
                Ok(Event::HistoryChanged { unseen_missed, .. }) => {
                    app.state::<TrayState>().with(|m| m.missed = unseen_missed);
                    refresh(&app);
                }
                Ok(e) => sync = matters(&e),
                Err(RecvError::Lagged(_)) => sync = true,
                Err(RecvError::Closed) => break,
            }
        }
    });
}

#[derive(Clone, Serialize)]
struct PresenceChange {
    availability: Availability,
}

fn on_menu(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref();
    tracing::debug!(id, "tray menu");
    let engine = app.state::<Engine>().inner().clone();
    let model = app.state::<TrayState>().with(|m| m.clone());
    match id {
        "toggle" => {
            crate::os::toggle_window(app);
            refresh(app);
        }
        "missed" => {
            crate::links::focus(app);
            let _ = app.emit(
                crate::notify::SHOW_EVENT,
                crate::notify::Show {
                    screen: Some("history"),
                    call: None,
                },
            );
        }
        "answer" => {
            crate::links::focus(app);
            crate::shortcuts::run(app, Action::Answer);
        }
        "hangup" => crate::shortcuts::run(app, Action::Hangup),
        "dnd" => {
            // What the click made the check mark say (GTK toggles it
            // first): two quick clicks ask for on, then off.
            let on = app
                .try_state::<TrayMenu>()
                .and_then(|m| m.dnd.is_checked().ok())
                .unwrap_or(!model.dnd);
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                // The app never auto-answers; only DND changes here.
                match engine.set_call_policy(on, false).await {
                    Ok(()) => {
                        app.state::<TrayState>().with(|m| m.dnd = on);
                        crate::os::remember(&app, |s| s.do_not_disturb = on);
                    }
                    Err(e) => tracing::warn!("do not disturb: {e}"),
                }
                refresh(&app);
            });
        }
        "quit" => {
            // Exit runs the engine's shutdown (main.rs), which unregisters.
            app.exit(0);
        }
        _ => {
            let Some((_, availability, _)) = PRESENCES.iter().find(|(p, _, _)| *p == id) else {
                return;
            };
            let Some(account) = presence_account(&model.accounts).map(|a| a.name.clone()) else {
                return;
            };
            let availability = *availability;
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                // The outcome reaches the UI as `presence_published`.
                match engine.publish_presence(&account, availability, None).await {
                    Ok(()) => {
                        let _ = app.emit(PRESENCE_EVENT, PresenceChange { availability });
                    }
                    Err(e) => tracing::warn!("presence from the tray: {e}"),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ua::api::CallDirection;
    use ua::TransportKind;

    fn account(name: &str, local: bool, registration: RegistrationState) -> AccountInfo {
        AccountInfo {
            name: name.into(),
            uri: format!("sip:{name}@127.0.0.1"),
            display_name: None,
            transport: TransportKind::Udp,
            local,
            registration,
        }
    }

    fn call(state: CallState) -> CallInfo {
        crate::shortcuts::test_call(1, CallDirection::Incoming, state, None, 1, false)
    }

    #[test]
    fn the_tooltip_tells_account_calls_missed_and_dnd() {
        let mut m = Model::default();
        assert_eq!(tooltip(&m, Lang::En), "Parley\nNo account");
        m.accounts = vec![account(
            "Work",
            false,
            RegistrationState::Registered { expires_in_s: 60 },
        )];
        assert_eq!(tooltip(&m, Lang::En), "Parley\nWork: registered");
        m.missed = 2;
        m.dnd = true;
        m.calls = vec![call(CallState::Connected)];
        assert_eq!(
            tooltip(&m, Lang::En),
            "Parley\nWork: registered\nIn a call\nMissed calls: 2\nDo not disturb"
        );
        assert_eq!(
            tooltip(&m, Lang::Ru),
            "Parley\nWork: зарегистрирован\nИдёт звонок\nПропущенные звонки: 2\nНе беспокоить"
        );
        // A ringing call is not "in a call" yet.
        m.calls = vec![call(CallState::Incoming)];
        assert!(!tooltip(&m, Lang::En).contains("In a call"));
        assert_eq!(call_op(Action::Answer, &m.calls), Some(CallOp::Answer(1)));
    }

    #[test]
    fn presence_is_published_by_the_first_registered_server_account() {
        let local = account("Local", true, RegistrationState::Local);
        let off = account("Off", false, RegistrationState::Disabled);
        let failing = account(
            "Work",
            false,
            RegistrationState::Failed {
                reason: "403".into(),
            },
        );
        assert!(presence_account(std::slice::from_ref(&local)).is_none());
        assert!(presence_account(&[local.clone(), off.clone(), failing.clone()]).is_none());
        let home = account(
            "Home",
            false,
            RegistrationState::Registered { expires_in_s: 60 },
        );
        assert_eq!(
            presence_account(&[local, off, home.clone()]).unwrap().name,
            "Home"
        );
        let m = Model {
            accounts: vec![failing],
            ..Model::default()
        };
        assert_eq!(status_line(&m, Lang::En), "Work: registration failed");
    }

    #[test]
    fn the_menu_view_follows_window_calls_presence_and_dnd() {
        let mut m = Model::default();
        let v = menu_view(&m, Lang::En, true);
        assert_eq!(v.toggle, "Hide Parley");
        assert_eq!(menu_view(&m, Lang::En, false).toggle, "Show Parley");
        assert!(!v.missed.1 && !v.answer.1 && !v.hangup.1 && !v.presence.1 && !v.dnd.1);
        // A registered server account can publish; a ringing call can be
        // answered (not hung up from here); missed calls open history.
        m.accounts = vec![account(
            "work",
            false,
            RegistrationState::Registered { expires_in_s: 600 },
        )];
        m.calls = vec![call(CallState::Incoming)];
        m.missed = 2;
        m.dnd = true;
        let v = menu_view(&m, Lang::En, true);
        assert!(v.presence.1 && v.answer.1 && v.missed.1 && v.dnd.1);
        assert!(v.missed.0.contains('2'), "{}", v.missed.0);
        m.calls = vec![call(CallState::Connected)];
        let v = menu_view(&m, Lang::En, true);
        assert!(!v.answer.1 && v.hangup.1);
        // Same model, same view: nothing for the items to change.
        assert_eq!(v, menu_view(&m, Lang::En, true));
        assert_ne!(v, menu_view(&m, Lang::Ru, true));
    }
}

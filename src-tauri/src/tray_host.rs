//! Whether a tray host shows status icons, kept current by two watcher
//! threads, so that closing the window (on the UI thread) reads a flag
//! instead of asking D-Bus and the X server while the window waits.
//!
//! On Linux either kind of host counts: a StatusNotifierWatcher on the
//! session bus with a host registered (KDE, GNOME's extension, most
//! panels), or on X11 an XEmbed system tray holding its
//! `_NET_SYSTEM_TRAY_S<screen>` selection (trayer, stalonetray, older
//! panels), where libayatana-appindicator falls back to a GTK status
//! icon. Windows and macOS always have one.
//!
//! ```text
//!  each watcher:  [Unknown] ── first answer ──> [Yes] <── owner changes ──> [No]
//!                 (a watcher that cannot connect answers No and stops)
//! ```
//! Each watcher subscribes to changes before its first look, so a host
//! that appears in between is not missed.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

const UNKNOWN: u8 = 0;
const NO: u8 = 1;
const YES: u8 = 2;

#[derive(Debug, Default)]
struct Shared {
    sni: AtomicU8,
    xembed: AtomicU8,
    /// Watchers that have answered once; `first` waits on it.
    answered: Mutex<u8>,
    first: Condvar,
}

/// The two watchers.
const WATCHERS: u8 = 2;

impl Shared {
    fn set(&self, slot: &AtomicU8, shown: bool) {
        let was = slot.swap(if shown { YES } else { NO }, Ordering::Relaxed);
        if was == UNKNOWN {
            let mut n = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
            *n += 1;
            self.first.notify_all();
        }
    }
}

/// The tray host's presence as last seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrayHost {
    shared: Arc<Shared>,
}

impl TrayHost {
    /// Nothing known yet (counts as no host) until [`TrayHost::watch`].
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Whether a host shows status icons now. Never blocks.
    pub(crate) fn runs(&self) -> bool {
        if !cfg!(target_os = "linux") {
            return true;
        }
        let s = &self.shared;
        s.sni.load(Ordering::Relaxed) == YES || s.xembed.load(Ordering::Relaxed) == YES
    }

    /// [`TrayHost::runs`] once both watchers have answered, or after
    /// `limit` with what is known by then. For the start only, before the
    /// window shows.
    pub(crate) fn runs_after_first_answers(&self, limit: Duration) -> bool {
        if cfg!(target_os = "linux") {
            let n = self
                .shared
                .answered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (n, timeout) = self
                .shared
                .first
                .wait_timeout_while(n, limit, |n| *n < WATCHERS)
                .unwrap_or_else(PoisonError::into_inner);
            if timeout.timed_out() {
                tracing::debug!("tray host: {} of {WATCHERS} watchers answered", *n);
            }
        }
        self.runs()
    }

    /// Starts the watchers (once, at start).
    pub(crate) fn watch(&self) {
        #[cfg(target_os = "linux")]
        {
            let s = self.shared.clone();
            spawn("tray-host-sni", move || watch_sni(&s));
            let s = self.shared.clone();
            spawn("tray-host-xembed", move || watch_xembed(&s));
        }
    }
}

#[cfg(target_os = "linux")]
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new()
        .name(name.into())
        .stack_size(1024 * 1024)
        .spawn(f)
    {
        tracing::warn!("tray host: cannot start {name}: {e}");
    }
}

/// The StatusNotifierWatcher's well-known name (and its interface's).
#[cfg(target_os = "linux")]
const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Follows whether a StatusNotifierWatcher runs and a host has registered
/// with it (a watcher alone draws nothing): asked again on every change
/// of a bus name (watchers and hosts come and go with theirs) and on the
/// watcher's own signals.
#[cfg(target_os = "linux")]
fn watch_sni(s: &Shared) {
    use zbus::message::Type;
    use zbus::MatchRule;
    let run = || -> zbus::Result<()> {
        let bus = zbus::blocking::Connection::session()?;
        let dbus = zbus::blocking::fdo::DBusProxy::new(&bus)?;
        // Every message this connection receives; the rules below add the
        // bus's and the watcher's signals to them. Subscribed before the
        // first look, so nothing in between is missed.
        let messages = zbus::blocking::MessageIterator::from(&bus);
        dbus.add_match_rule(
            MatchRule::builder()
                .msg_type(Type::Signal)
                .sender("org.freedesktop.DBus")?
                .interface("org.freedesktop.DBus")?
                .member("NameOwnerChanged")?
                .build(),
        )?;
        dbus.add_match_rule(
            MatchRule::builder()
                .msg_type(Type::Signal)
                .interface(WATCHER)?
                .build(),
        )?;
        s.set(&s.sni, sni_shown(&bus, &dbus));
        for m in messages {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!("tray host: unreadable D-Bus message: {e}");
                    continue;
                }
            };
            if m.message_type() != Type::Signal {
                continue;
            }
            let h = m.header();
            let relevant = match h.interface().map(|i| i.as_str()) {
                Some("org.freedesktop.DBus") => {
                    h.member().is_some_and(|m| m.as_str() == "NameOwnerChanged")
                }
                Some(i) => i == WATCHER,
                None => false,
            };
            if relevant {
                let shown = sni_shown(&bus, &dbus);
                if shown != (s.sni.load(Ordering::Relaxed) == YES) {
                    tracing::debug!(shown, "tray host: StatusNotifierItem host changed");
                }
                s.set(&s.sni, shown);
            }
        }
        Ok(())
    };
    if let Err(e) = run() {
        tracing::debug!("tray host: no StatusNotifierWatcher to follow: {e}");
    }
    s.set(&s.sni, false);
}

/// A watcher on the bus with a host registered. A watcher that cannot
/// say (no such property) counts as having one: most run inside a host.
#[cfg(target_os = "linux")]
fn sni_shown(bus: &zbus::blocking::Connection, dbus: &zbus::blocking::fdo::DBusProxy<'_>) -> bool {
    let Ok(name) = zbus::names::BusName::try_from(WATCHER) else {
        return false;
    };
    if !dbus.name_has_owner(name).unwrap_or(false) {
        return false;
    }
    let host = || -> zbus::Result<bool> {
        let props = zbus::blocking::fdo::PropertiesProxy::builder(bus)
            .destination(WATCHER)?
            .path("/StatusNotifierWatcher")?
            .build()?;
        let iface = zbus::names::InterfaceName::try_from(WATCHER)?;
        let v = props.get(iface, "IsStatusNotifierHostRegistered")?;
        Ok(bool::try_from(v).unwrap_or(true))
    };
    host().unwrap_or_else(|e| {
        tracing::debug!("tray host: the watcher does not say whether a host runs: {e}");
        true
    })
}

/// Follows the owner of the XEmbed tray selection (XFixes selection
/// events), where GTK draws on X11 (the status icon fallback needs it).
#[cfg(target_os = "linux")]
fn watch_xembed(s: &Shared) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xfixes::{self, ConnectionExt as _, SelectionEventMask};
    use x11rb::protocol::xproto::ConnectionExt as _;
    use x11rb::protocol::Event;
    if !gtk_on_x11() {
        s.set(&s.xembed, false);
        return;
    }
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let (conn, screen) = x11rb::connect(None)?;
        conn.xfixes_query_version(5, 0)?.reply()?;
        let root = conn
            .setup()
            .roots
            .get(screen)
            .ok_or("no such X screen")?
            .root;
        let name = format!("_NET_SYSTEM_TRAY_S{screen}");
        let atom = conn.intern_atom(false, name.as_bytes())?.reply()?.atom;
        conn.xfixes_select_selection_input(
            root,
            atom,
            SelectionEventMask::SET_SELECTION_OWNER
                | SelectionEventMask::SELECTION_WINDOW_DESTROY
                | SelectionEventMask::SELECTION_CLIENT_CLOSE,
        )?
        .check()?;
        let owner = conn.get_selection_owner(atom)?.reply()?.owner;
        s.set(&s.xembed, owner != x11rb::NONE);
        loop {
            match conn.wait_for_event()? {
                Event::XfixesSelectionNotify(e) => {
                    let shown = e.subtype == xfixes::SelectionEvent::SET_SELECTION_OWNER
                        && e.owner != x11rb::NONE;
                    tracing::debug!(shown, "tray host: XEmbed tray changed");
                    s.set(&s.xembed, shown);
                }
                Event::Error(e) => tracing::debug!("tray host: X error: {e:?}"),
                _ => {}
            }
        }
    };
    if let Err(e) = run() {
        tracing::debug!("tray host: no XEmbed tray to follow: {e}");
    }
    s.set(&s.xembed, false);
}

/// GTK draws on X11: no Wayland display, or the X11 backend asked for.
#[cfg(target_os = "linux")]
fn gtk_on_x11() -> bool {
    let backend = std::env::var("GDK_BACKEND").unwrap_or_default();
    backend.starts_with("x11") || std::env::var_os("WAYLAND_DISPLAY").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_counts_as_no_host_and_either_kind_counts_as_one() {
        let h = TrayHost::new();
        if !cfg!(target_os = "linux") {
            assert!(h.runs());
            return;
        }
        assert!(!h.runs());
        h.shared.set(&h.shared.xembed, true);
        assert!(h.runs());
        h.shared.set(&h.shared.xembed, false);
        h.shared.set(&h.shared.sni, true);
        assert!(h.runs());
        h.shared.set(&h.shared.sni, false);
        assert!(!h.runs());
    }

    #[test]
    fn the_first_look_waits_for_both_answers_and_no_longer() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let h = TrayHost::new();
        // Nobody answers: the wait ends at its limit with "no host".
        let t = std::time::Instant::now();
        assert!(!h.runs_after_first_answers(Duration::from_millis(50)));
        assert!(t.elapsed() >= Duration::from_millis(50));
        // One answer is not enough; the second ends the wait at once.
        let h2 = h.clone();
        let answer = std::thread::spawn(move || {
            h2.shared.set(&h2.shared.sni, false);
            std::thread::sleep(Duration::from_millis(20));
            h2.shared.set(&h2.shared.xembed, true);
        });
        assert!(h.runs_after_first_answers(Duration::from_secs(10)));
        answer.join().unwrap();
        // Later changes do not count as answers again.
        h.shared.set(&h.shared.xembed, false);
        assert_eq!(*h.shared.answered.lock().unwrap(), WATCHERS);
    }
}

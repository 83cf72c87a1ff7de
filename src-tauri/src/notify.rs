//! Desktop notifications for incoming and missed calls and for chat
//! messages, while the window does not have the focus (the window itself
//! shows them otherwise) and the user has not switched them off.
//!
//! Peers appear by name (the contact's, else the name the caller sent,
//! else the user part of the address); nothing else of the account is
//! shown, and never a password.
//!
//! What each platform gets (tauri-plugin-notification on notify-rust):
//! - Linux and the BSDs (freedesktop notifications over D-Bus): Answer and
//!   Decline buttons where the notification server shows actions (GNOME,
//!   KDE, XFCE, dunst do), a click on the notification focuses the incoming
//!   call, and the notification closes when the call is answered or ends.
//!   Without a notification server (a bare X session) nothing shows and
//!   the app goes on. The e2e run answers a call from dunst's notification.
//! - Windows (toasts): Answer and Decline buttons and the click, while the
//!   toast is on screen (not from the Action Center); a toast is not closed
//!   when the call ends.
//! - macOS: Answer and Decline in the notification's "Options" menu; a
//!   click on the menu button itself answers (the plugin reports the first
//!   action), so the Answer title says what happens.

use std::sync::atomic::{AtomicI32, Ordering};

use serde::Serialize;
use serde_json::json;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_notification::{Action, ActionPerformed, ActionType, NotificationExt as _};
use tokio::sync::broadcast::error::RecvError;
use ua::api::{CallDirection, CallEnd, CallInfo, CallState};
use ua::presence::ContactEntry;
use ua::{Engine, Event};

use crate::os::{Desktop, Lang};
use crate::texts::{fill, tr, Text};

/// Event that brings a part of the UI to the front ([`Show`]).
pub(crate) const SHOW_EVENT: &str = "os://show";

/// What the UI should bring to the front.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Show {
    /// A screen (`history`, `chats`).
    pub(crate) screen: Option<&'static str>,
    /// An incoming call whose panel takes the focus.
    pub(crate) call: Option<u32>,
}

const CALL_ACTIONS: &str = "incoming-call";
const ANSWER: &str = "answer";
const DECLINE: &str = "decline";
/// Longest message preview, in characters.
const PREVIEW: usize = 120;
/// Notifications of other kinds get ids from here up; a call's
/// notification has the call's id, so it can be closed by it.
const OTHER_IDS: i32 = 1 << 24;

/// A notification the events call for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// A call rings here.
    Incoming { call: u32, peer: Peer },
    /// The ringing call's notification is no longer needed.
    Handled { call: u32 },
    /// An incoming call was not answered (its ringing notification goes).
    Missed { call: u32, peer: Peer },
    /// A chat message arrived.
    Message { peer: Peer, text: String },
}

/// Who a notification is about, before the contacts name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) uri: String,
    pub(crate) name: Option<String>,
}

/// Whether and how to notify about `event`. `enabled` is the user's switch,
/// `focused` whether the window has the keyboard focus. Closing a handled
/// call's notification does not depend on either.
pub(crate) fn decide(event: &Event, enabled: bool, focused: bool) -> Option<Notice> {
    let wanted = enabled && !focused;
    let peer = |c: &CallInfo| Peer {
        uri: c.peer_uri.clone(),
        name: c.peer_name.clone(),
    };
    match event {
        Event::IncomingCall { call } if call.direction == CallDirection::Incoming => {
            wanted.then(|| Notice::Incoming {
                call: call.id,
                peer: peer(call),
            })
        }
        Event::CallState { call }
            if call.direction == CallDirection::Incoming && call.state != CallState::Incoming =>
        {
            Some(Notice::Handled { call: call.id })
        }
        Event::CallEnded { call, end } if call.direction == CallDirection::Incoming => {
            if wanted && *end == CallEnd::Missed {
                Some(Notice::Missed {
                    call: call.id,
                    peer: peer(call),
                })
            } else {
                Some(Notice::Handled { call: call.id })
            }
        }
        Event::MessageReceived { message } if !message.outgoing => {
            wanted.then(|| Notice::Message {
                peer: Peer {
                    uri: message.peer.clone(),
                    name: None,
                },
                text: preview(&message.text),
            })
        }
        _ => None,
    }
}

/// The message on one line, cut to [`PREVIEW`] characters.
pub(crate) fn preview(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= PREVIEW {
        return line;
    }
    let mut cut: String = line.chars().take(PREVIEW - 1).collect();
    cut.push('…');
    cut
}

/// `sip:Bob@Example.com;transport=tcp` as `bob@example.com`, to match a
/// caller with a contact.
fn address_key(uri: &str) -> String {
    let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let rest = uri
        .split_once(':')
        .filter(|(s, _)| matches!(s.to_ascii_lowercase().as_str(), "sip" | "sips" | "tel"))
        .map_or(uri, |(_, r)| r);
    let rest = rest.split([';', '?', '>']).next().unwrap_or_default();
    rest.to_lowercase()
}

/// How to call `peer` in a notification: the contact's name, the name the
/// peer sent, else the user part of the address.
pub(crate) fn display_name(peer: &Peer, contacts: &[ContactEntry]) -> String {
    let key = address_key(&peer.uri);
    let contact = contacts.iter().find(|c| {
        c.contact
            .sip_uri
            .as_deref()
            .is_some_and(|u| address_key(u) == key)
    });
    if let Some(c) = contact.filter(|c| !c.contact.name.trim().is_empty()) {
        return c.contact.name.trim().to_owned();
    }
    if let Some(n) = peer
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        return n.to_owned();
    }
    let user = key.split('@').next().unwrap_or_default();
    if user.is_empty() {
        key
    } else {
        user.to_owned()
    }
}

/// Registers the action handler, then shows notifications as engine events
/// call for them, until the engine stops.
pub(crate) fn start(app: &AppHandle, engine: &Engine) {
    let handle = app.clone();
    if let Err(e) = app
        .notification()
        .on_action(move |performed| on_action(&handle, performed))
    {
        tracing::warn!("notification actions: {e}");
    }
    let mut events = engine.subscribe();
    let engine = engine.clone();
    let app = app.clone();
    let ids = AtomicI32::new(OTHER_IDS);
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "notifications lagged");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let desktop = app.state::<Desktop>();
            let s = desktop.get();
            let Some(notice) = decide(&event, s.notifications, desktop.focused()) else {
                continue;
            };
            let contacts = match &notice {
                Notice::Handled { .. } => Vec::new(),
                _ => engine.contacts().await.unwrap_or_default(),
            };
            let id = ids.fetch_add(1, Ordering::Relaxed);
            show(&app, s.language, notice, &contacts, id);
        }
    });
}

fn show(app: &AppHandle, lang: Lang, notice: Notice, contacts: &[ContactEntry], id: i32) {
    let n = app.notification();
    let r = match notice {
        Notice::Handled { call } => {
            // Only Linux can take a shown notification back.
            n.remove_active(vec![call as i32])
        }
        Notice::Incoming { call, peer } => {
            let who = display_name(&peer, contacts);
            // Registered again each time, so the buttons follow the language.
            let actions = ActionType::builder(CALL_ACTIONS)
                .actions(vec![
                    Action::builder(ANSWER, tr(lang, Text::Answer)).build(),
                    Action::builder(DECLINE, tr(lang, Text::Decline)).build(),
                ])
                .build();
            n.register_action_types(vec![actions]).and_then(|()| {
                n.builder()
                    .id(call as i32)
                    .title(tr(lang, Text::IncomingCall))
                    .body(fill(lang, Text::IsCalling, &who, 0))
                    .action_type_id(CALL_ACTIONS)
                    .extra("parley", json!({ "call": call }))
                    .show()
            })
        }
        Notice::Missed { call, peer } => n.remove_active(vec![call as i32]).and_then(|()| {
            n.builder()
                .id(id)
                .title(fill(
                    lang,
                    Text::MissedCall,
                    &display_name(&peer, contacts),
                    0,
                ))
                .extra("parley", json!({ "screen": "history" }))
                .show()
        }),
        Notice::Message { peer, text } => n
            .builder()
            .id(id)
            .title(fill(
                lang,
                Text::MessageFrom,
                &display_name(&peer, contacts),
                0,
            ))
            .body(text)
            .extra("parley", json!({ "screen": "chats" }))
            .show(),
    };
    if let Err(e) = r {
        tracing::debug!("notification not shown: {e}");
    }
}

/// Where a notification leads, from the data we gave it.
fn target(performed: &ActionPerformed) -> (Option<u32>, Option<&'static str>) {
    let data = performed
        .notification()
        .and_then(|n| n.extra().get("parley").cloned())
        .unwrap_or_default();
    let call = data
        .get("call")
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| u32::try_from(c).ok());
    let screen = match data.get("screen").and_then(serde_json::Value::as_str) {
        Some("history") => Some("history"),
        Some("chats") => Some("chats"),
        _ => None,
    };
    (call, screen)
}

/// A click on a notification or one of its buttons (on the plugin's thread).
fn on_action(app: &AppHandle, performed: &ActionPerformed) {
    let (call, screen) = target(performed);
    let engine = app.state::<Engine>().inner().clone();
    match (performed.action_id(), call) {
        (ANSWER, Some(id)) => {
            crate::links::focus(app);
            let _ = app.emit(
                SHOW_EVENT,
                Show {
                    screen: None,
                    call: Some(id),
                },
            );
            tauri::async_runtime::spawn(async move {
                if let Err(e) = engine.answer(id).await {
                    tracing::warn!("answer from a notification: {e}");
                }
            });
        }
        (DECLINE, Some(id)) => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = engine.reject(id, false).await {
                    tracing::warn!("decline from a notification: {e}");
                }
            });
        }
        _ => {
            crate::links::focus(app);
            let _ = app.emit(SHOW_EVENT, Show { screen, call });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ua::chat::{ChatMessage, ChatState};
    use ua::presence::ContactInput;

    fn call(direction: CallDirection, state: CallState, name: Option<&str>) -> CallInfo {
        crate::shortcuts::test_call(7, direction, state, name, 1, false)
    }

    fn message(outgoing: bool, text: &str) -> Event {
        Event::MessageReceived {
            message: ChatMessage {
                id: 1,
                conversation: 1,
                account: "work".into(),
                peer: "sip:bob@127.0.0.1".into(),
                outgoing,
                text: text.into(),
                at_ms: 1,
                state: ChatState::Received,
                unread: true,
            },
        }
    }

    #[test]
    fn calls_and_messages_notify_only_when_enabled_and_unfocused() {
        let ringing = Event::IncomingCall {
            call: call(CallDirection::Incoming, CallState::Incoming, Some("Bob")),
        };
        let n = decide(&ringing, true, false).unwrap();
        assert!(matches!(n, Notice::Incoming { call: 7, .. }), "{n:?}");
        assert_eq!(decide(&ringing, true, true), None);
        assert_eq!(decide(&ringing, false, false), None);

        let msg = message(false, "hello\n  there");
        assert_eq!(
            decide(&msg, true, false),
            Some(Notice::Message {
                peer: Peer {
                    uri: "sip:bob@127.0.0.1".into(),
                    name: None
                },
                text: "hello there".into()
            })
        );
        assert_eq!(decide(&msg, true, true), None);
        assert_eq!(decide(&msg, false, false), None);
        // Our own messages never notify.
        assert_eq!(decide(&message(true, "hi"), true, false), None);
    }

    #[test]
    fn a_missed_call_notifies_and_any_other_end_closes_the_ringing_one() {
        let incoming = call(CallDirection::Incoming, CallState::Ended, None);
        let missed = Event::CallEnded {
            call: incoming.clone(),
            end: CallEnd::Missed,
        };
        assert!(matches!(
            decide(&missed, true, false),
            Some(Notice::Missed { call: 7, .. })
        ));
        // Focused or switched off: no missed-call notice, but the ringing one goes.
        assert_eq!(
            decide(&missed, true, true),
            Some(Notice::Handled { call: 7 })
        );
        assert_eq!(
            decide(&missed, false, false),
            Some(Notice::Handled { call: 7 })
        );
        let answered = Event::CallState {
            call: call(CallDirection::Incoming, CallState::Connected, None),
        };
        assert_eq!(
            decide(&answered, true, false),
            Some(Notice::Handled { call: 7 })
        );
        let declined = Event::CallEnded {
            call: incoming,
            end: CallEnd::Rejected {
                status: 603,
                reason: "Decline".into(),
            },
        };
        assert_eq!(
            decide(&declined, true, false),
            Some(Notice::Handled { call: 7 })
        );
        // Outgoing calls never notify.
        let out = Event::CallEnded {
            call: call(CallDirection::Outgoing, CallState::Ended, None),
            end: CallEnd::Missed,
        };
        assert_eq!(decide(&out, true, false), None);
        let still_ringing = Event::CallState {
            call: call(CallDirection::Incoming, CallState::Incoming, None),
        };
        assert_eq!(decide(&still_ringing, true, false), None);
    }

    #[test]
    fn peers_are_named_by_contact_then_their_own_name_then_user() {
        let contacts = vec![ContactEntry {
            id: 1,
            contact: ContactInput {
                name: "Bob Builder".into(),
                sip_uri: Some("sip:bob@127.0.0.1".into()),
                phones: vec![],
                favourite: false,
                presence: false,
                blf: false,
            },
        }];
        let bob = Peer {
            uri: "<sip:BOB@127.0.0.1;transport=tcp>".into(),
            name: Some("B.".into()),
        };
        assert_eq!(display_name(&bob, &contacts), "Bob Builder");
        assert_eq!(display_name(&bob, &[]), "B.");
        let anon = Peer {
            uri: "sip:carol@127.0.0.1".into(),
            name: Some("  ".into()),
        };
        assert_eq!(display_name(&anon, &contacts), "carol");
        let odd = Peer {
            uri: "weird".into(),
            name: None,
        };
        assert_eq!(display_name(&odd, &[]), "weird");
    }

    #[test]
    fn previews_are_one_line_and_bounded() {
        assert_eq!(preview("a\tb\n\nc"), "a b c");
        let long = "я".repeat(500);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW);
        assert!(p.ends_with('…'));
    }
}

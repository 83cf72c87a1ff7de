//! Chat (RFC 3428 pager mode, RFC 3994 is-composing) over the engine:
//! the API types the UI sees, the store handle the engine shares, and the
//! delivery of one outgoing message.
//!
//! ```text
//!  send_message ──insert_outgoing (on disk, `sending`)──> event ──> deliver task
//!      deliver: Pager ──MESSAGE──> endpoint ──final──> set_state(sent | failed) ──> event
//!  incoming MESSAGE ──Pager check──> insert_incoming (dedup) ──> 200 ──> event
//! ```
//! A message is committed before it is shown or sent, and an incoming one
//! before it is acknowledged, so a crash loses nothing that was shown or
//! answered (the sender retransmits what we never answered).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sip_core::usage::pager::{Pager, PagerConfig, PagerEvent};
use sip_core::Credential;
use sip_message::{Request, Uri};
use store::db::{Direction, Message, MessageId, MessageState};
use store::{Db, DbError};
use tokio::sync::{broadcast, Semaphore};
use tracing::debug;
use ts_rs::TS;

use crate::api::Event;
use crate::call::AccountCtx;
use crate::dns::SipResolver;
use crate::endpoint::Endpoint;

/// Largest text we send (bytes). Larger requests go over TCP (§18.1.1),
/// but peers commonly refuse bodies beyond a few tens of KiB (413).
pub const MAX_TEXT: usize = 32 * 1024;
/// Messages delivered at once; the rest wait their turn.
const PARALLEL_SENDS: usize = 16;
/// Most stored messages re-sent by one automatic retry run.
pub(crate) const RETRY_BATCH: usize = 200;

/// Errors of the chat commands.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The text is too long to send.
    #[error("the message is {size} bytes long; the limit is {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nothing to send.
    #[error("the message is empty")]
    Empty,
    /// The recipient is not a SIP URI.
    #[error("not a SIP address: {0:?}")]
    BadUri(String),
    /// Only our own messages can be retried.
    #[error("message {0} is not an outgoing message")]
    NotOutgoing(i64),
    /// It is being sent right now.
    #[error("message {0} is being sent")]
    InFlight(i64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] DbError),
}

/// Delivery state of a chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum ChatState {
    /// Stored, on its way.
    Sending,
    /// The peer (or its server) took it (2xx).
    Sent,
    /// Confirmed delivered.
    Delivered,
    /// Not delivered.
    Failed {
        /// The final status, when a response came.
        status: Option<u16>,
        /// What the user sees.
        reason: String,
    },
    /// An incoming message.
    Received,
}

impl From<MessageState> for ChatState {
    fn from(s: MessageState) -> Self {
        match s {
            MessageState::Sending => Self::Sending,
            MessageState::Sent => Self::Sent,
            MessageState::Delivered => Self::Delivered,
            MessageState::Failed { status, reason } => Self::Failed { status, reason },
            MessageState::Received => Self::Received,
        }
    }
}

/// One chat message as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChatMessage {
    /// Its id (stable, from the store).
    pub id: i64,
    /// Its conversation.
    pub conversation: i64,
    /// The account.
    pub account: String,
    /// The peer's URI.
    pub peer: String,
    /// We sent it.
    pub outgoing: bool,
    /// The text.
    pub text: String,
    /// Unix ms when sent or received.
    pub at_ms: i64,
    /// Delivery state.
    pub state: ChatState,
    /// Incoming and not read yet.
    pub unread: bool,
}

impl From<Message> for ChatMessage {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.0,
            conversation: m.conversation.0,
            account: m.account,
            peer: m.peer,
            outgoing: m.direction == Direction::Out,
            text: m.text,
            at_ms: m.at,
            state: m.state.into(),
            unread: m.unread,
        }
    }
}

/// A conversation in the chat list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConversationInfo {
    /// Its id.
    pub id: i64,
    /// The account.
    pub account: String,
    /// The peer's URI.
    pub peer: String,
    /// The newest message.
    pub last: Option<ChatMessage>,
    /// Unread incoming messages.
    pub unread: u32,
}

impl From<store::db::Conversation> for ConversationInfo {
    fn from(c: store::db::Conversation) -> Self {
        Self {
            id: c.id.0,
            account: c.account,
            peer: c.peer,
            last: c.last.map(Into::into),
            unread: c.unread,
        }
    }
}

/// The SQLite store, opened on first use and shared by the engine and its
/// delivery tasks; every call runs off the runtime's threads.
#[derive(Clone)]
pub(crate) struct Store {
    path: PathBuf,
    db: Arc<Mutex<Option<Db>>>,
}

impl Store {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            db: Arc::default(),
        }
    }

    /// Runs `f` on the database (opening it first if needed).
    pub(crate) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let this = self.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = this.db.lock().unwrap_or_else(PoisonError::into_inner);
            let db = match guard.take() {
                Some(db) => db,
                None => Db::open(&this.path)?,
            };
            f(guard.insert(db))
        })
        .await
        .map_err(|e| DbError::Io {
            path,
            source: std::io::Error::other(e.to_string()),
        })?
    }
}

/// What delivering a message needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbox {
    pub(crate) store: Store,
    pub(crate) events: broadcast::Sender<Event>,
    /// Ids being delivered now (not retried twice at once).
    pub(crate) in_flight: Arc<Mutex<HashSet<i64>>>,
    pub(crate) limit: Arc<Semaphore>,
}

impl Outbox {
    pub(crate) fn new(store: Store, events: broadcast::Sender<Event>) -> Self {
        Self {
            store,
            events,
            in_flight: Arc::default(),
            limit: Arc::new(Semaphore::new(PARALLEL_SENDS)),
        }
    }

    /// Marks `id` as being delivered; false when it already is.
    pub(crate) fn claim(&self, id: i64) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id)
    }

    /// Stores a new state and tells the UI.
    pub(crate) async fn set_state(&self, id: MessageId, state: MessageState) {
        let r = self
            .store
            .with(move |db| {
                db.set_state(id, &state)?;
                db.message(id)
            })
            .await;
        match r {
            Ok(m) => {
                let _ = self.events.send(Event::MessageStatus { message: m.into() });
            }
            Err(e) => tracing::warn!("cannot store a message state: {e}"),
        }
    }
}

/// Checks a text before it is stored.
pub(crate) fn check_text(text: &str) -> Result<(), ChatError> {
    if text.trim().is_empty() {
        return Err(ChatError::Empty);
    }
    if text.len() > MAX_TEXT {
        return Err(ChatError::TooLarge {
            size: text.len(),
            limit: MAX_TEXT,
        });
    }
    Ok(())
}

/// Where the requests of an account go: its outbound proxy, else the
/// Request-URI's host (RFC 3263).
pub(crate) async fn targets(
    resolver: &SipResolver,
    ctx: &AccountCtx,
    request: &Request,
) -> Result<Vec<crate::dns::Target>, String> {
    let hop: &Uri = ctx.proxy.as_ref().unwrap_or(&request.uri);
    let dest = crate::registration::destination(hop, ctx.transport)
        .ok_or_else(|| "the next hop is not a SIP URI".to_owned())?;
    resolver.resolve(&dest).await.map_err(|e| e.to_string())
}

/// The user agent string of our requests.
pub(crate) fn user_agent() -> String {
    format!("Parley/{}", env!("CARGO_PKG_VERSION"))
}

/// Sends one body over the pager and returns its final outcome.
pub(crate) async fn send_pager(
    endpoint: &Endpoint,
    resolver: &SipResolver,
    ctx: &AccountCtx,
    to: &str,
    content_type: &str,
    body: Vec<u8>,
) -> MessageState {
    let failed = |reason: String| MessageState::Failed {
        status: None,
        reason,
    };
    let config = PagerConfig {
        aor: ctx.aor.to_string(),
        user_agent: user_agent(),
        max_body: MAX_TEXT,
    };
    let mut pager = match Pager::new(config, crate::util::os_seed()) {
        Ok(p) => p,
        Err(e) => return failed(e.to_string()),
    };
    let password = ctx.password.clone().unwrap_or_default();
    let creds = [Credential {
        realm: ctx.realm.as_deref(),
        username: &ctx.auth_user,
        password: &password,
    }];
    let creds: &[Credential<'_>] = if ctx.password.is_some() { &creds } else { &[] };
    if let Err(e) = pager.send(Instant::now(), to, content_type, body, creds) {
        return failed(e.to_string());
    }
    loop {
        if let Some(ev) = pager.poll_event() {
            return match ev {
                PagerEvent::Sent { .. } => MessageState::Sent,
                PagerEvent::Failed { status, reason, .. } => {
                    MessageState::Failed { status, reason }
                }
                // Only incoming requests produce these.
                PagerEvent::Received { .. } | PagerEvent::Composing { .. } => continue,
            };
        }
        let Some((id, req)) = pager.poll_request() else {
            return failed("no answer".to_owned());
        };
        match targets(resolver, ctx, &req).await {
            Err(e) => pager.handle_failure(Instant::now(), id, e),
            Ok(t) => match endpoint.request(req, t).await {
                Ok(resp) => pager.handle_response(Instant::now(), id, &resp, creds),
                Err(e) => pager.handle_failure(Instant::now(), id, e.to_string()),
            },
        }
    }
}

/// Delivers stored message `id` and records the outcome.
pub(crate) async fn deliver(
    outbox: Outbox,
    endpoint: Endpoint,
    resolver: SipResolver,
    ctx: AccountCtx,
    id: MessageId,
    peer: String,
    text: String,
) {
    let permit = outbox.limit.clone().acquire_owned().await;
    let state = send_pager(
        &endpoint,
        &resolver,
        &ctx,
        &peer,
        "text/plain;charset=UTF-8",
        text.into_bytes(),
    )
    .await;
    drop(permit);
    debug!(id = id.0, state = ?state, "message outcome");
    outbox.set_state(id, state).await;
    outbox
        .in_flight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id.0);
}

/// Delivers stored message `id` inside a call with `peer` (RFC 3428 §4:
/// the call task sends it with its dialog's route set and tags, and
/// answers `answer`); when the call could not carry it (it ended, or is
/// no longer connected), it goes out of dialog instead.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn deliver_in_dialog(
    outbox: Outbox,
    answer: tokio::sync::oneshot::Receiver<Option<sip_message::Response>>,
    endpoint: Endpoint,
    resolver: SipResolver,
    ctx: AccountCtx,
    id: MessageId,
    peer: String,
    text: String,
) {
    let Ok(Some(resp)) = answer.await else {
        debug!(
            id = id.0,
            "the call could not carry the message; out of dialog"
        );
        return deliver(outbox, endpoint, resolver, ctx, id, peer, text).await;
    };
    let state = match sip_core::usage::pager::in_dialog_outcome(&resp) {
        Ok(()) => MessageState::Sent,
        Err((status, reason)) => MessageState::Failed {
            status: Some(status),
            reason,
        },
    };
    debug!(id = id.0, state = ?state, "in-dialog message outcome");
    outbox.set_state(id, state).await;
    outbox
        .in_flight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id.0);
}

/// The address of record of a URI: scheme, user and host, without
/// parameters or headers, so one peer is one conversation.
pub(crate) fn peer_key(uri: &str) -> String {
    match uri.parse::<Uri>() {
        Ok(Uri::Sip(s)) => format!(
            "{}:{}{}{}",
            if s.secure { "sips" } else { "sip" },
            s.user
                .as_deref()
                .map(|u| format!("{u}@"))
                .unwrap_or_default(),
            s.host,
            s.port.map(|p| format!(":{p}")).unwrap_or_default()
        ),
        _ => uri.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_empty_texts_are_refused_with_a_clear_error() {
        let e = check_text(&"x".repeat(MAX_TEXT + 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the message is {} bytes long; the limit is {MAX_TEXT} bytes",
                MAX_TEXT + 1
            )
        );
        assert!(matches!(check_text("  "), Err(ChatError::Empty)));
        assert!(check_text("hello").is_ok());
    }

    #[test]
    fn peer_key_drops_parameters() {
        assert_eq!(
            peer_key("sip:bob@127.0.0.1;transport=tcp"),
            "sip:bob@127.0.0.1"
        );
        assert_eq!(peer_key("sip:bob@127.0.0.1:5070"), "sip:bob@127.0.0.1:5070");
    }

    #[tokio::test]
    async fn store_opens_on_first_use_and_keeps_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("x.sqlite"));
        let id = store
            .with(|db| db.insert_outgoing("a", "sip:b@127.0.0.1", "hi", 1))
            .await
            .unwrap();
        let m = store.with(move |db| db.message(id)).await.unwrap();
        let m = ChatMessage::from(m);
        assert_eq!((m.text.as_str(), m.outgoing), ("hi", true));
        assert_eq!(m.state, ChatState::Sending);
    }
}

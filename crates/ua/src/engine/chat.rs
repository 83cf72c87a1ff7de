//! The engine's side of chat: the `Engine` methods, sending and retrying
//! stored messages, and incoming MESSAGEs (stored before they are
//! acknowledged). History reads go straight to the store from the handle,
//! without a round trip through the engine task.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use sip_core::usage::pager::{Pager, PagerConfig, PagerEvent};
use sip_message::is_composing::{ComposeState, IsComposing, CONTENT_TYPE as IS_COMPOSING};
use sip_message::{Request, Uri};
use store::db::{
    ConversationId, IncomingMessage, IncomingOutcome, Message, MessageId, MessageState,
};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::{Command, Engine, EngineError, Task};
use crate::api::Event;
use crate::call::response;
use crate::chat::{
    check_text, deliver, deliver_in_dialog, peer_key, send_pager, user_agent, ChatError,
    ChatMessage, ConversationInfo, Outbox, Store, RETRY_BATCH,
};

/// How long a composing indication lasts without a refresh (RFC 3994 §3).
const COMPOSING_REFRESH: u32 = 60;

/// Chat commands for the engine task (they need the endpoint and accounts).
pub(super) enum ChatCommand {
    Send {
        account: String,
        uri: String,
        text: String,
        reply: oneshot::Sender<Result<i64, EngineError>>,
    },
    Composing {
        account: String,
        uri: String,
        active: bool,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    Retry {
        id: i64,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
}

/// The engine task's chat state.
pub(super) struct ChatSide {
    pub(super) outbox: Outbox,
    /// Accounts seen registered: a retry runs when one (re)appears.
    registered: HashSet<String>,
}

impl ChatSide {
    pub(super) fn new(outbox: Outbox) -> Self {
        Self {
            outbox,
            registered: HashSet::new(),
        }
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A recipient as typed: a SIP URI, reduced to its address of record.
fn recipient(uri: &str) -> Result<String, ChatError> {
    match uri.trim().parse::<Uri>() {
        Ok(Uri::Sip(_)) => Ok(peer_key(uri)),
        _ => Err(ChatError::BadUri(uri.to_owned())),
    }
}

impl Engine {
    /// Sends `text` to `uri` from `account`. The message is stored (state
    /// `sending`) before this returns its id; the outcome arrives as
    /// [`Event::MessageStatus`].
    pub async fn send_message(
        &self,
        account: &str,
        uri: &str,
        text: &str,
    ) -> Result<i64, EngineError> {
        self.ask(|reply| {
            Command::Chat(ChatCommand::Send {
                account: account.to_owned(),
                uri: uri.to_owned(),
                text: text.to_owned(),
                reply,
            })
        })
        .await?
    }

    /// Tells `uri` that we are typing (`active`) or stopped (RFC 3994).
    pub async fn set_composing(
        &self,
        account: &str,
        uri: &str,
        active: bool,
    ) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Chat(ChatCommand::Composing {
                account: account.to_owned(),
                uri: uri.to_owned(),
                active,
                reply,
            })
        })
        .await?
    }

    /// Sends a failed (or stuck) message of ours again.
    pub async fn retry_message(&self, id: i64) -> Result<(), EngineError> {
        self.ask(|reply| Command::Chat(ChatCommand::Retry { id, reply }))
            .await?
    }

    /// Conversations, most recent first, with unread counts.
    pub async fn conversations(&self) -> Result<Vec<ConversationInfo>, EngineError> {
        let c = self.store.with(|db| db.conversations()).await;
        Ok(c.map_err(ChatError::from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// A page of `conversation`'s messages before message `before` (the
    /// newest page when `None`), oldest first.
    pub async fn messages(
        &self,
        conversation: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, EngineError> {
        let m = self
            .store
            .with(move |db| db.messages(ConversationId(conversation), before.map(MessageId), limit))
            .await;
        Ok(m.map_err(ChatError::from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Marks a conversation read; returns how many messages were unread.
    pub async fn mark_read(&self, conversation: i64) -> Result<u64, EngineError> {
        let n = self
            .store
            .with(move |db| db.mark_read(ConversationId(conversation)))
            .await;
        Ok(n.map_err(ChatError::from)?)
    }

    /// Full-text search over every message, newest first.
    pub async fn search_messages(&self, query: &str) -> Result<Vec<ChatMessage>, EngineError> {
        let q = query.to_owned();
        let m = self.store.with(move |db| db.search(&q, 100)).await;
        Ok(m.map_err(ChatError::from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Deletes a conversation and its messages.
    pub async fn delete_conversation(&self, conversation: i64) -> Result<(), EngineError> {
        let r = self
            .store
            .with(move |db| db.delete_conversation(ConversationId(conversation)))
            .await;
        Ok(r.map_err(ChatError::from)?)
    }
}

impl Task {
    pub(super) async fn chat_command(&mut self, cmd: ChatCommand) {
        match cmd {
            ChatCommand::Send {
                account,
                uri,
                text,
                reply,
            } => {
                let _ = reply.send(self.send_message(&account, &uri, text).await);
            }
            ChatCommand::Composing {
                account,
                uri,
                active,
                reply,
            } => {
                let _ = reply.send(self.send_composing(&account, &uri, active).await);
            }
            ChatCommand::Retry { id, reply } => {
                let r = self
                    .chat
                    .outbox
                    .store
                    .with(move |db| db.message(MessageId(id)))
                    .await
                    .map_err(|e| EngineError::from(ChatError::from(e)));
                let r = match r {
                    Ok(m) if m.direction == store::db::Direction::Out => self.resend(m).await,
                    Ok(_) => Err(ChatError::NotOutgoing(id).into()),
                    Err(e) => Err(e),
                };
                let _ = reply.send(r);
            }
        }
    }

    async fn send_message(
        &mut self,
        account: &str,
        uri: &str,
        text: String,
    ) -> Result<i64, EngineError> {
        check_text(&text)?;
        let peer = recipient(uri)?;
        let ctx = self.account_ctx(account).await?;
        let env = self.call_env().await?;
        let outbox = self.chat.outbox.clone();
        let (acc, p, t) = (ctx.name.clone(), peer.clone(), text.clone());
        let now = unix_ms();
        // On disk before it is shown or sent: a crash loses nothing shown.
        let stored = outbox
            .store
            .with(move |db| {
                let id = db.insert_outgoing(&acc, &p, &t, now)?;
                db.message(id)
            })
            .await
            .map_err(ChatError::from)?;
        let id = stored.id;
        self.publish(Event::MessageStatus {
            message: stored.into(),
        });
        outbox.claim(id.0);
        if let Some(answer) = self.send_in_call(&ctx.name, &peer, &text) {
            tokio::spawn(deliver_in_dialog(
                outbox,
                answer,
                env.endpoint,
                env.resolver,
                ctx,
                id,
                peer,
                text,
            ));
            return Ok(id.0);
        }
        tokio::spawn(deliver(
            outbox,
            env.endpoint,
            env.resolver,
            ctx,
            id,
            peer,
            text,
        ));
        Ok(id.0)
    }

    /// During a connected call with `peer` on `account`, hands `text` to
    /// that call to send in its dialog (RFC 3428 §4); the receiver gets
    /// the final response. `None`: no such call.
    fn send_in_call(
        &self,
        account: &str,
        peer: &str,
        text: &str,
    ) -> Option<oneshot::Receiver<Option<sip_message::Response>>> {
        let call = self.live_calls.values().find(|c| {
            c.account == account
                && peer_key(&c.peer_uri) == peer
                && matches!(
                    c.state,
                    crate::api::CallState::Connected | crate::api::CallState::OnHold
                )
        })?;
        let (reply, answer) = oneshot::channel();
        let cmd = crate::call::CallCommand::Message {
            content_type: "text/plain;charset=UTF-8".to_owned(),
            body: text.as_bytes().to_vec(),
            reply,
        };
        self.calls.command(call.id, cmd).ok()?;
        debug!(call = call.id, "message goes inside the call's dialog");
        Some(answer)
    }

    /// Sends a stored outgoing message again.
    async fn resend(&mut self, m: Message) -> Result<(), EngineError> {
        let outbox = self.chat.outbox.clone();
        if !outbox.claim(m.id.0) {
            return Err(ChatError::InFlight(m.id.0).into());
        }
        let ready = async {
            let ctx = self.account_ctx(&m.account).await?;
            let env = self.call_env().await?;
            Ok::<_, EngineError>((ctx, env))
        }
        .await;
        let (ctx, env) = match ready {
            Ok(x) => x,
            Err(e) => {
                outbox
                    .in_flight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&m.id.0);
                return Err(e);
            }
        };
        outbox.set_state(m.id, MessageState::Sending).await;
        tokio::spawn(deliver(
            outbox,
            env.endpoint,
            env.resolver,
            ctx,
            m.id,
            m.peer,
            m.text,
        ));
        Ok(())
    }

    /// Re-sends what `account` could not deliver (oldest first, bounded).
    async fn retry_pending(&mut self, account: &str) {
        let acc = account.to_owned();
        let pending = match self
            .chat
            .outbox
            .store
            .with(move |db| db.pending_retry(&acc))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                warn!("cannot read messages to retry: {e}");
                return;
            }
        };
        if !pending.is_empty() {
            debug!(count = pending.len(), "retrying messages");
        }
        for m in pending.into_iter().take(RETRY_BATCH) {
            if let Err(e) = self.resend(m).await {
                debug!("retry skipped: {e}");
            }
        }
    }

    async fn send_composing(
        &mut self,
        account: &str,
        uri: &str,
        active: bool,
    ) -> Result<(), EngineError> {
        let peer = recipient(uri)?;
        let ctx = self.account_ctx(account).await?;
        let env = self.call_env().await?;
        let body = IsComposing {
            state: if active {
                ComposeState::Active
            } else {
                ComposeState::Idle
            },
            content_type: Some("text/plain".to_owned()),
            refresh: active.then_some(COMPOSING_REFRESH),
            last_active: None,
        }
        .build();
        // Best effort: a lost indication only shows typing a bit wrong.
        tokio::spawn(async move {
            let state = send_pager(
                &env.endpoint,
                &env.resolver,
                &ctx,
                &peer,
                IS_COMPOSING,
                body.into_bytes(),
            )
            .await;
            debug!(?state, "composing indication");
        });
        Ok(())
    }

    /// Our own events: a registration (again) triggers the retry of
    /// undelivered messages and the contacts' presence subscriptions.
    pub(super) async fn own_event(&mut self, ev: Event) {
        if matches!(ev, Event::CallState { .. } | Event::CallEnded { .. }) {
            self.calls_changed().await;
            return;
        }
        let Event::Registration { account, state } = ev else {
            return;
        };
        if matches!(state, crate::api::RegistrationState::Registered { .. }) {
            if self.chat.registered.insert(account.clone()) {
                self.retry_pending(&account).await;
                self.watch_contacts(&account).await;
            }
        } else {
            self.chat.registered.remove(&account);
        }
    }

    /// An incoming MESSAGE (outside a dialog, or inside a call's): stored
    /// (once) before the 200.
    pub(super) async fn incoming_message(
        &mut self,
        id: sip_core::TransactionId,
        request: Request,
        source: SocketAddr,
    ) {
        let Ok(env) = self.call_env().await else {
            return;
        };
        let Some(ctx) = self.account_for(&request, source).await else {
            let _ = env.endpoint.respond(id, response(&request, 404)).await;
            return;
        };
        let config = PagerConfig {
            aor: ctx.aor.to_string(),
            user_agent: user_agent(),
            max_body: crate::chat::MAX_TEXT,
        };
        let Ok(mut pager) = Pager::new(config, crate::util::os_seed()) else {
            let _ = env.endpoint.respond(id, response(&request, 500)).await;
            return;
        };
        let mut answer = pager.handle_request(Instant::now(), &request);
        let call_id = request
            .headers
            .get("Call-ID")
            .map(|c| c.trim().to_owned())
            .unwrap_or_default();
        let cseq = request
            .headers
            .get("CSeq")
            .and_then(|c| c.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap_or(0);
        while let Some(ev) = pager.poll_event() {
            match ev {
                PagerEvent::Received { from, text, .. } => {
                    let msg = IncomingMessage {
                        account: ctx.name.clone(),
                        peer: peer_key(&from),
                        text,
                        at: unix_ms(),
                        call_id: call_id.clone(),
                        cseq,
                    };
                    let stored = self
                        .chat
                        .outbox
                        .store
                        .with(move |db| {
                            let outcome = db.insert_incoming(&msg)?;
                            Ok((outcome, db.message(outcome.id())?))
                        })
                        .await;
                    match stored {
                        Ok((IncomingOutcome::New(_), m)) => {
                            self.publish(Event::MessageReceived { message: m.into() })
                        }
                        Ok((IncomingOutcome::Duplicate(_), _)) => debug!("duplicate MESSAGE"),
                        Err(e) => {
                            // Not acknowledged, so the sender tries again.
                            warn!("cannot store an incoming message: {e}");
                            answer = response(&request, 500);
                        }
                    }
                }
                PagerEvent::Composing { from, state } => self.publish(Event::Composing {
                    account: ctx.name.clone(),
                    peer: peer_key(&from),
                    active: state.state == ComposeState::Active,
                }),
                PagerEvent::Sent { .. } | PagerEvent::Failed { .. } => {}
            }
        }
        let _ = env.endpoint.respond(id, answer).await;
    }
}

/// The store a new engine uses.
pub(super) fn store_for(paths: &store::Paths) -> Store {
    Store::new(paths.data_dir.join("parley.sqlite"))
}

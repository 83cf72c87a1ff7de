//! The engine's side of presence, BLF and MWI: the `Engine` methods,
//! the subscription and publication tasks per account, routing NOTIFYs to
//! them, contacts over the store, and removing our state on quit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_message::{Method, Request};
use store::db::{ContactId, WatcherRule};
use tokio::sync::oneshot;
use tracing::{debug, info};

use super::{Command, Engine, EngineError, Task, LOCAL_ACCOUNT};
use crate::api::{CallState, Event};
use crate::call::response;
use crate::chat::peer_key;
use crate::presence::{
    document, mwi, notifier, pickup_plan, publisher, watch, AutoPresence, Availability,
    ContactEntry, ContactInput, Lines, NotifierCommand, NotifierHandle, Package, PendingWatcher,
    PendingWatchers, PickupPlan, PresenceError, PublishHandle, Routes, SubscribePacer, UsageEnv,
    VcardReport, WatchHandle, WatcherDecision, MAX_WATCHES,
};
use sip_core::usage::notifier::Decision;

/// How long quitting waits for un-PUBLISH and un-SUBSCRIBE answers.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Presence commands for the engine task.
pub(super) enum PresenceCommand {
    Publish {
        account: String,
        availability: Availability,
        note: Option<String>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    Watch {
        account: String,
        uri: String,
        package: Package,
        on: bool,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    UserActive(oneshot::Sender<()>),
    IdleTimeout(Option<Duration>, oneshot::Sender<()>),
    Pickup {
        account: String,
        uri: String,
        reply: oneshot::Sender<Result<u32, EngineError>>,
    },
    SetPickupCode {
        account: String,
        code: Option<String>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    PendingWatchers(oneshot::Sender<Vec<PendingWatcher>>),
    WatcherDecisions {
        account: String,
        reply: oneshot::Sender<Result<Vec<WatcherDecision>, EngineError>>,
    },
    ForgetWatcher {
        account: String,
        watcher: String,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    DecideWatcher {
        account: String,
        watcher: String,
        allow: bool,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
}

/// The engine task's presence state.
#[derive(Default)]
pub(super) struct PresenceSide {
    pub(super) routes: Routes,
    /// Keeps a long contact list from subscribing in one burst.
    pacer: SubscribePacer,
    watches: HashMap<(String, Package, String), WatchHandle>,
    publishers: HashMap<String, PublishHandle>,
    /// Peer-to-peer watchers' dialogs (in-dialog SUBSCRIBEs), by Call-ID.
    watchers: Routes,
    notifiers: HashMap<String, NotifierHandle>,
    /// What we show (user's choice, calls, idle time).
    auto: AutoPresence,
    /// What each account last published / notified.
    shown: HashMap<String, (Availability, Option<String>)>,
    /// Ringing lines of BLF subscriptions (for pickup).
    lines: Lines,
    /// Watchers waiting for the user's decision.
    pending: PendingWatchers,
}

impl PresenceSide {
    /// When the idle timer may turn us Away.
    pub(super) fn idle_deadline(&self) -> Option<Instant> {
        self.auto.idle_deadline()
    }
}

/// Sleeps until `at` (forever without one).
pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

impl Engine {
    /// Publishes our presence for `account` (kept fresh until quit, when
    /// it is removed); the outcome arrives as [`crate::Event::PresencePublished`].
    pub async fn publish_presence(
        &self,
        account: &str,
        availability: Availability,
        note: Option<String>,
    ) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Presence(PresenceCommand::Publish {
                account: account.to_owned(),
                availability,
                note,
                reply,
            })
        })
        .await?
    }

    async fn watch_command(
        &self,
        account: &str,
        uri: &str,
        package: Package,
        on: bool,
    ) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Presence(PresenceCommand::Watch {
                account: account.to_owned(),
                uri: uri.to_owned(),
                package,
                on,
                reply,
            })
        })
        .await?
    }

    /// The user did something (the UI calls this on input, at most every
    /// few seconds): an Away shown for idle time goes back to the chosen
    /// state.
    pub async fn user_active(&self) -> Result<(), EngineError> {
        self.ask(|reply| Command::Presence(PresenceCommand::UserActive(reply)))
            .await
    }

    /// After `idle` without [`Engine::user_active`], an Available user is
    /// shown Away (published and notified); `None` (the default) never.
    pub async fn set_idle_timeout(&self, idle: Option<Duration>) -> Result<(), EngineError> {
        self.ask(|reply| Command::Presence(PresenceCommand::IdleTimeout(idle, reply)))
            .await
    }

    /// Subscribes to `uri`'s presence; states arrive as [`crate::Event::Presence`].
    pub async fn watch(&self, account: &str, uri: &str) -> Result<(), EngineError> {
        self.watch_command(account, uri, Package::Presence, true)
            .await
    }

    /// Ends the presence subscription to `uri`.
    pub async fn unwatch(&self, account: &str, uri: &str) -> Result<(), EngineError> {
        self.watch_command(account, uri, Package::Presence, false)
            .await
    }

    /// Watches `uri`'s line (BLF, dialog event package); states arrive as
    /// [`crate::Event::Blf`]. `on: false` stops.
    pub async fn watch_line(&self, account: &str, uri: &str, on: bool) -> Result<(), EngineError> {
        self.watch_command(account, uri, Package::Dialog, on).await
    }

    /// Subscribes to `account`'s voicemail summary (MWI); counts arrive as
    /// [`crate::Event::Mwi`]. `on: false` stops.
    pub async fn watch_voicemail(&self, account: &str, on: bool) -> Result<(), EngineError> {
        // The resource is our own address of record (RFC 3842 §3).
        self.watch_command(account, "", Package::MessageSummary, on)
            .await
    }

    /// Picks up `uri`'s ringing line (watched with [`Engine::watch_line`]):
    /// an INVITE with Replaces to the caller when the dialog-info showed
    /// the ringing dialog's ids (RFC 4235 §4.1.6, RFC 3891), else the
    /// account's pickup code followed by the extension. The result is an
    /// ordinary outgoing call; returns its id.
    pub async fn pickup(&self, account: &str, uri: &str) -> Result<u32, EngineError> {
        self.ask(|reply| {
            Command::Presence(PresenceCommand::Pickup {
                account: account.to_owned(),
                uri: uri.to_owned(),
                reply,
            })
        })
        .await?
    }

    /// Sets (or with `None` clears) `account`'s call-pickup code (`*8`,
    /// `**`: dialled followed by the ringing extension); saved in the
    /// config.
    pub async fn set_pickup_code(
        &self,
        account: &str,
        code: Option<String>,
    ) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Presence(PresenceCommand::SetPickupCode {
                account: account.to_owned(),
                code,
                reply,
            })
        })
        .await?
    }

    /// Watchers of our presence who are not contacts and wait for the
    /// user ([`crate::Event::WatcherPending`] tells when this changes).
    pub async fn pending_watchers(&self) -> Result<Vec<PendingWatcher>, EngineError> {
        self.ask(|reply| Command::Presence(PresenceCommand::PendingWatchers(reply)))
            .await
    }

    /// The watchers `account` allowed or blocked, by address.
    pub async fn watcher_decisions(
        &self,
        account: &str,
    ) -> Result<Vec<WatcherDecision>, EngineError> {
        self.ask(|reply| {
            Command::Presence(PresenceCommand::WatcherDecisions {
                account: account.to_owned(),
                reply,
            })
        })
        .await?
    }

    /// Forgets the answer given to `watcher` (unblocks a blocked one,
    /// takes back an allowance): their next SUBSCRIBE waits for the user
    /// again. A subscription that is active now stays until it ends.
    pub async fn forget_watcher(&self, account: &str, watcher: &str) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Presence(PresenceCommand::ForgetWatcher {
                account: account.to_owned(),
                watcher: watcher.to_owned(),
                reply,
            })
        })
        .await?
    }

    /// Lets `watcher` see `account`'s presence: remembered, and a waiting
    /// subscription becomes active with a NOTIFY of our state.
    pub async fn allow_watcher(&self, account: &str, watcher: &str) -> Result<(), EngineError> {
        self.decide_watcher(account, watcher, true).await
    }

    /// Refuses `watcher` for good: remembered (later SUBSCRIBEs get 403),
    /// and a waiting subscription ends with reason=rejected.
    pub async fn block_watcher(&self, account: &str, watcher: &str) -> Result<(), EngineError> {
        self.decide_watcher(account, watcher, false).await
    }

    async fn decide_watcher(
        &self,
        account: &str,
        watcher: &str,
        allow: bool,
    ) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Presence(PresenceCommand::DecideWatcher {
                account: account.to_owned(),
                watcher: watcher.to_owned(),
                allow,
                reply,
            })
        })
        .await?
    }

    /// Every contact, favourites first, then by name.
    pub async fn contacts(&self) -> Result<Vec<ContactEntry>, EngineError> {
        let c = self.store.with(|db| db.contacts()).await;
        Ok(c.map_err(PresenceError::from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Adds a contact; returns its id.
    pub async fn add_contact(&self, contact: ContactInput) -> Result<i64, EngineError> {
        let info = contact.into();
        let id = self.store.with(move |db| db.add_contact(&info)).await;
        Ok(id.map_err(PresenceError::from)?.0)
    }

    /// Replaces contact `id`'s fields.
    pub async fn update_contact(&self, id: i64, contact: ContactInput) -> Result<(), EngineError> {
        let info = contact.into();
        let r = self
            .store
            .with(move |db| db.update_contact(ContactId(id), &info))
            .await;
        Ok(r.map_err(PresenceError::from)?)
    }

    /// Deletes contact `id`.
    pub async fn delete_contact(&self, id: i64) -> Result<(), EngineError> {
        let r = self
            .store
            .with(move |db| db.delete_contact(ContactId(id)))
            .await;
        Ok(r.map_err(PresenceError::from)?)
    }

    /// Imports contacts from vCard 3.0/4.0 text (bad cards are skipped and
    /// listed).
    pub async fn import_vcards(&self, text: &str) -> Result<VcardReport, EngineError> {
        let text = text.to_owned();
        let r = self
            .store
            .with(move |db| db.import_vcards(&text))
            .await
            .map_err(PresenceError::from)?;
        let mut errors: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
        if r.more_errors > 0 {
            errors.push(format!("... and {} more", r.more_errors));
        }
        Ok(VcardReport {
            added: u32::try_from(r.added.len()).unwrap_or(u32::MAX),
            errors,
        })
    }

    /// Every contact as vCard 4.0 text.
    pub async fn export_vcards(&self) -> Result<String, EngineError> {
        let r = self.store.with(|db| db.export_vcards()).await;
        Ok(r.map_err(PresenceError::from)?)
    }
}

impl Task {
    async fn usage_env(&mut self) -> Result<UsageEnv, EngineError> {
        let env = self.call_env().await?;
        Ok(UsageEnv {
            endpoint: env.endpoint,
            resolver: env.resolver,
            events: self.events.clone(),
            lines: self.presence.lines.clone(),
            pending: self.presence.pending.clone(),
        })
    }

    pub(super) async fn presence_command(&mut self, cmd: PresenceCommand) {
        match cmd {
            PresenceCommand::Publish {
                account,
                availability,
                note,
                reply,
            } => {
                let r = self.publish_state(&account, availability, note).await;
                let _ = reply.send(r);
            }
            PresenceCommand::Watch {
                account,
                uri,
                package,
                on,
                reply,
            } => {
                let r = if on {
                    self.start_watch(&account, &uri, package).await
                } else {
                    self.stop_watch(&account, &uri, package).await
                };
                let _ = reply.send(r);
            }
            PresenceCommand::UserActive(reply) => {
                self.presence.auto.user_active(Instant::now());
                self.auto_publish().await;
                let _ = reply.send(());
            }
            PresenceCommand::IdleTimeout(idle, reply) => {
                self.presence.auto.set_idle_after(idle, Instant::now());
                self.auto_publish().await;
                let _ = reply.send(());
            }
            PresenceCommand::Pickup {
                account,
                uri,
                reply,
            } => {
                let _ = reply.send(self.pickup(&account, &uri).await);
            }
            PresenceCommand::SetPickupCode {
                account,
                code,
                reply,
            } => {
                let _ = reply.send(self.set_pickup_code(&account, code));
            }
            PresenceCommand::PendingWatchers(reply) => {
                let p = self
                    .presence
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut list: Vec<PendingWatcher> = p
                    .iter()
                    .flat_map(|(account, ws)| {
                        ws.values().map(|w| PendingWatcher {
                            account: account.clone(),
                            watcher: w.clone(),
                        })
                    })
                    .collect();
                drop(p);
                list.sort_by(|a, b| (&a.account, &a.watcher).cmp(&(&b.account, &b.watcher)));
                list.dedup();
                let _ = reply.send(list);
            }
            PresenceCommand::DecideWatcher {
                account,
                watcher,
                allow,
                reply,
            } => {
                let _ = reply.send(self.decide_watcher(&account, &watcher, allow).await);
            }
            PresenceCommand::WatcherDecisions { account, reply } => {
                let _ = reply.send(self.watcher_decisions(&account).await);
            }
            PresenceCommand::ForgetWatcher {
                account,
                watcher,
                reply,
            } => {
                let _ = reply.send(self.forget_watcher(&account, &watcher).await);
            }
        }
    }

    async fn watcher_decisions(
        &mut self,
        account: &str,
    ) -> Result<Vec<WatcherDecision>, EngineError> {
        let name = self.account_ctx(account).await?.name;
        let acc = name.clone();
        let rules = self
            .chat
            .outbox
            .store
            .with(move |db| db.watcher_rules(&acc))
            .await
            .map_err(PresenceError::from)?;
        Ok(rules
            .into_iter()
            .map(|(watcher, rule)| WatcherDecision {
                account: name.clone(),
                watcher,
                allowed: rule == WatcherRule::Allow,
            })
            .collect())
    }

    /// The account's name and the watcher's address as rules key it; a
    /// watcher that is not a SIP address is refused.
    async fn watcher_of(
        &mut self,
        account: &str,
        watcher: &str,
    ) -> Result<(String, String), EngineError> {
        let name = self.account_ctx(account).await?.name;
        match watcher.trim().parse::<sip_message::Uri>() {
            Ok(sip_message::Uri::Sip(_)) => Ok((name, peer_key(watcher))),
            _ => Err(PresenceError::BadUri(watcher.to_owned()).into()),
        }
    }

    async fn forget_watcher(&mut self, account: &str, watcher: &str) -> Result<(), EngineError> {
        let (name, watcher) = self.watcher_of(account, watcher).await?;
        self.chat
            .outbox
            .store
            .with(move |db| db.clear_watcher_rule(&name, &watcher))
            .await
            .map_err(PresenceError::from)?;
        info!("presence watcher decision forgotten");
        Ok(())
    }

    /// Remembers the user's answer to `watcher` and applies it to their
    /// waiting subscriptions.
    async fn decide_watcher(
        &mut self,
        account: &str,
        watcher: &str,
        allow: bool,
    ) -> Result<(), EngineError> {
        let (name, watcher) = self.watcher_of(account, watcher).await?;
        let rule = if allow {
            WatcherRule::Allow
        } else {
            WatcherRule::Block
        };
        let (acc, w) = (name.clone(), watcher.clone());
        self.chat
            .outbox
            .store
            .with(move |db| db.set_watcher_rule(&acc, &w, rule))
            .await
            .map_err(PresenceError::from)?;
        info!(allow, "presence watcher decided");
        if let Some(n) = self.presence.notifiers.get(&name) {
            if !n.send(NotifierCommand::Decide { watcher, allow }) {
                debug!("notifier busy; the decision applies to the next SUBSCRIBE");
            }
        }
        Ok(())
    }

    async fn pickup(&mut self, account: &str, uri: &str) -> Result<u32, EngineError> {
        let ctx = self.account_ctx(account).await?;
        let watched = peer_key(uri);
        let line = self
            .presence
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(ctx.name.clone(), watched.clone()))
            .cloned();
        let code = self
            .config
            .account(&ctx.name)
            .and_then(|a| a.pickup_code.clone());
        match pickup_plan(line.as_ref(), &watched, code.as_deref())? {
            PickupPlan::Replaces { caller, replaces } => {
                let target: sip_message::Uri = caller
                    .parse()
                    .map_err(|_| PresenceError::BadUri(caller.clone()))?;
                let env = self.call_env().await?;
                let audio = self.options.call_audio.clone();
                // Require: a caller that ignored Replaces would ring as a
                // new call instead of being taken over (RFC 3891 §6.1).
                let headers = vec![
                    ("Replaces".to_owned(), replaces),
                    ("Require".to_owned(), "replaces".to_owned()),
                ];
                let id = self.calls.dial_uri(&env, ctx, target, audio, headers)?;
                info!(id, "picking up with Replaces");
                Ok(id)
            }
            PickupPlan::Code(number) => {
                info!("picking up with the pickup code");
                self.dial(account, &number, None).await
            }
        }
    }

    fn set_pickup_code(&mut self, account: &str, code: Option<String>) -> Result<(), EngineError> {
        let mut config = self.config.clone();
        let a = config
            .accounts
            .iter_mut()
            .find(|a| a.name == account)
            .ok_or_else(|| PresenceError::NoSuchAccount(account.to_owned()))?;
        a.pickup_code = code.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        a.validate().map_err(PresenceError::from)?;
        config
            .save(&self.options.paths.config_file())
            .map_err(PresenceError::from)?;
        self.config = config;
        Ok(())
    }

    async fn publish_state(
        &mut self,
        account: &str,
        availability: Availability,
        note: Option<String>,
    ) -> Result<(), EngineError> {
        self.presence.auto.choose(availability, note);
        self.push_state(account).await
    }

    /// Publishes what we show for `account` (to the presence server, and
    /// to our peer-to-peer watchers).
    async fn push_state(&mut self, account: &str) -> Result<(), EngineError> {
        let ctx = self.account_ctx(account).await?;
        let (availability, note) = self.presence.auto.shown();
        let body = document(&ctx, availability, note.as_deref());
        self.presence
            .shown
            .insert(ctx.name.clone(), (availability, note));
        if let Some(n) = self.presence.notifiers.get(&ctx.name) {
            if !n.send(NotifierCommand::State(body.clone())) {
                self.presence.notifiers.remove(&ctx.name);
            }
        }
        if self.config.accounts.is_empty() && ctx.name == LOCAL_ACCOUNT {
            // No presence server: watchers subscribe to us directly.
            let _ = self.events.send(Event::PresencePublished {
                account: ctx.name.clone(),
                ok: true,
                reason: None,
            });
            return Ok(());
        }
        if let Some(p) = self.presence.publishers.get(&ctx.name) {
            if p.publish(body.clone()).await {
                return Ok(());
            }
        }
        let env = self.usage_env().await?;
        let name = ctx.name.clone();
        let p = publisher(env, ctx)?;
        p.publish(body).await;
        self.presence.publishers.insert(name, p);
        info!(?availability, "publishing presence");
        Ok(())
    }

    /// Publishes again where what we show changed (a call, idle time).
    async fn auto_publish(&mut self) {
        self.presence.auto.tick(Instant::now());
        let shown = self.presence.auto.shown();
        let mut accounts: Vec<String> = self.presence.publishers.keys().cloned().collect();
        accounts.extend(self.presence.notifiers.keys().cloned());
        accounts.sort();
        accounts.dedup();
        for account in accounts {
            if self.presence.shown.get(&account) == Some(&shown) {
                continue;
            }
            debug!(availability = ?shown.0, "presence follows calls / idle time");
            if let Err(e) = self.push_state(&account).await {
                debug!("cannot publish presence: {e}");
            }
        }
    }

    /// A call changed: On the phone while any is connected.
    pub(super) async fn calls_changed(&mut self) {
        let in_call = self.live_calls.values().any(|c| {
            matches!(
                c.state,
                CallState::Connected | CallState::OnHold | CallState::Transferring
            )
        });
        self.presence.auto.set_in_call(in_call);
        self.auto_publish().await;
    }

    /// The idle timer fired.
    pub(super) async fn idle_check(&mut self) {
        self.auto_publish().await;
    }

    /// A SUBSCRIBE to our own presence (peer to peer, RFC 3856 §6): new
    /// ones go to the account's notifier (contacts are accepted, others
    /// held pending), in-dialog ones to their watcher's dialog. Returns
    /// the request when it is not ours.
    pub(super) async fn route_subscribe(
        &mut self,
        id: sip_core::TransactionId,
        request: Request,
        source: SocketAddr,
        in_dialog: bool,
    ) -> Option<Request> {
        if request.method != Method::Subscribe {
            return Some(request);
        }
        let env = self.usage_env().await.ok()?;
        if in_dialog {
            let cid = request.headers.get("Call-ID").map(|c| c.trim().to_owned());
            let route = cid.and_then(|c| {
                self.presence
                    .watchers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&c)
                    .cloned()
            });
            let Some(tx) = route else {
                return Some(request);
            };
            if let Err(e) = tx.try_send((id, Box::new(request))) {
                let req = match e {
                    tokio::sync::mpsc::error::TrySendError::Full((_, r))
                    | tokio::sync::mpsc::error::TrySendError::Closed((_, r)) => r,
                };
                let mut r = response(&req, 503);
                let _ = r.headers.push("Retry-After", "1");
                let _ = env.endpoint.respond(id, r).await;
            }
            return None;
        }
        let event = request.headers.get("Event").map(|e| {
            e.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        if event.as_deref() != Some("presence") {
            let mut r = response(&request, 489);
            let _ = r.headers.push("Allow-Events", "presence");
            let _ = env.endpoint.respond(id, r).await;
            return None;
        }
        let Some(ctx) = self.account_for(&request, source).await else {
            let _ = env.endpoint.respond(id, response(&request, 404)).await;
            return None;
        };
        let watcher = request
            .headers
            .from()
            .ok()
            .flatten()
            .map(|f| peer_key(&f.addr.uri.to_string()));
        let decision = match watcher {
            Some(w) if self.is_contact(&w).await => Decision::Accept,
            // Strangers: as the user decided before, else they wait.
            Some(w) => match self.watcher_rule(&ctx.name, &w).await {
                Some(WatcherRule::Allow) => Decision::Accept,
                Some(WatcherRule::Block) => Decision::Reject,
                None => Decision::Pending,
            },
            None => {
                let _ = env.endpoint.respond(id, response(&request, 400)).await;
                return None;
            }
        };
        let name = ctx.name.clone();
        if !self.presence.notifiers.contains_key(&name) {
            let (availability, note) = self.presence.auto.shown();
            let body = document(&ctx, availability, note.as_deref());
            let routes = self.presence.watchers.clone();
            match notifier(env.clone(), ctx, body, routes).await {
                Ok(n) => {
                    self.presence.notifiers.insert(name.clone(), n);
                    self.presence
                        .shown
                        .insert(name.clone(), (availability, note));
                }
                Err(e) => {
                    debug!("cannot serve presence watchers: {e}");
                    let _ = env.endpoint.respond(id, response(&request, 500)).await;
                    return None;
                }
            }
        }
        let mut busy = response(&request, 503);
        let _ = busy.headers.push("Retry-After", "5");
        let sent = self.presence.notifiers.get(&name).is_some_and(|n| {
            n.send(NotifierCommand::Subscribe {
                id,
                request: Box::new(request),
                decision,
            })
        });
        if !sent {
            let _ = env.endpoint.respond(id, busy).await;
        }
        None
    }

    /// The user's rule for `watcher` of `account`, if any.
    async fn watcher_rule(&self, account: &str, watcher: &str) -> Option<WatcherRule> {
        let (a, w) = (account.to_owned(), watcher.to_owned());
        let r = self
            .chat
            .outbox
            .store
            .with(move |db| db.watcher_rule(&a, &w))
            .await;
        r.unwrap_or_else(|e| {
            debug!("cannot read watcher rules: {e}");
            None
        })
    }

    /// Whether `uri` (a peer key) is one of our contacts.
    async fn is_contact(&self, uri: &str) -> bool {
        let uri = uri.to_owned();
        let found = self
            .chat
            .outbox
            .store
            .with(move |db| {
                db.contacts().map(|cs| {
                    cs.iter()
                        .any(|c| c.info.sip_uri.as_deref().map(peer_key).as_deref() == Some(&uri))
                })
            })
            .await;
        found.unwrap_or_else(|e| {
            debug!("cannot read contacts: {e}");
            false
        })
    }

    async fn start_watch(
        &mut self,
        account: &str,
        uri: &str,
        package: Package,
    ) -> Result<(), EngineError> {
        let ctx = self.account_ctx(account).await?;
        let target = if package == Package::MessageSummary {
            peer_key(&ctx.aor.to_string())
        } else {
            match uri.trim().parse::<sip_message::Uri>() {
                Ok(sip_message::Uri::Sip(_)) => peer_key(uri),
                _ => return Err(PresenceError::BadUri(uri.to_owned()).into()),
            }
        };
        let key = (ctx.name.clone(), package, target.clone());
        if self.presence.watches.contains_key(&key) {
            return Ok(());
        }
        if self.presence.watches.len() >= MAX_WATCHES {
            return Err(PresenceError::TooMany.into());
        }
        let env = self.usage_env().await?;
        let routes = self.presence.routes.clone();
        let pacer = self.presence.pacer.clone();
        let handle = watch(env, ctx, target, package, routes, pacer).await?;
        self.presence.watches.insert(key, handle);
        Ok(())
    }

    async fn stop_watch(
        &mut self,
        account: &str,
        uri: &str,
        package: Package,
    ) -> Result<(), EngineError> {
        let ctx = self.account_ctx(account).await?;
        let target = if package == Package::MessageSummary {
            peer_key(&ctx.aor.to_string())
        } else {
            peer_key(uri)
        };
        if package == Package::Dialog {
            // A line no longer watched cannot be picked up.
            self.presence
                .lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&(ctx.name.clone(), target.clone()));
        }
        if let Some(h) = self.presence.watches.remove(&(ctx.name, package, target)) {
            // The un-SUBSCRIBE runs on its own; the engine does not wait.
            tokio::spawn(h.stop());
        }
        Ok(())
    }

    /// Subscribes to the presence and lines of contacts that want it.
    pub(super) async fn watch_contacts(&mut self, account: &str) {
        let contacts = match self.chat.outbox.store.with(|db| db.contacts()).await {
            Ok(c) => c,
            Err(e) => {
                debug!("cannot read contacts: {e}");
                return;
            }
        };
        for c in contacts {
            let Some(uri) = c.info.sip_uri.clone() else {
                continue;
            };
            for (on, package) in [
                (c.info.presence, Package::Presence),
                (c.info.blf, Package::Dialog),
            ] {
                if on {
                    if let Err(e) = self.start_watch(account, &uri, package).await {
                        debug!("cannot watch a contact: {e}");
                    }
                }
            }
        }
    }

    /// A NOTIFY: to its subscription by Call-ID, or (out of dialog) an
    /// unsolicited voicemail summary. Returns the request when it is not ours.
    pub(super) async fn route_notify(
        &mut self,
        id: sip_core::TransactionId,
        request: Request,
        source: SocketAddr,
        in_dialog: bool,
    ) -> Option<Request> {
        if request.method != Method::Notify {
            return Some(request);
        }
        let cid = request.headers.get("Call-ID").map(|c| c.trim().to_owned());
        let route = cid.and_then(|c| {
            self.presence
                .routes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&c)
                .cloned()
        });
        let env = self.usage_env().await.ok()?;
        if let Some(tx) = route {
            if let Err(e) = tx.try_send((id, Box::new(request))) {
                // A subscription flooded with NOTIFYs: ask to retry later.
                let req = match e {
                    tokio::sync::mpsc::error::TrySendError::Full((_, r))
                    | tokio::sync::mpsc::error::TrySendError::Closed((_, r)) => r,
                };
                let mut r = response(&req, 503);
                let _ = r.headers.push("Retry-After", "1");
                let _ = env.endpoint.respond(id, r).await;
            }
            return None;
        }
        if in_dialog {
            return Some(request);
        }
        let event = request.headers.get("Event").map(|e| {
            e.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        if event.as_deref() != Some("message-summary") {
            let _ = env.endpoint.respond(id, response(&request, 489)).await;
            return None;
        }
        // Unsolicited MWI (RFC 3842 §3: some servers send it without a
        // subscription): for one of our accounts only.
        let Some(ctx) = self.account_for(&request, source).await else {
            let _ = env.endpoint.respond(id, response(&request, 404)).await;
            return None;
        };
        mwi(&env, &ctx.name, &request.body);
        let _ = env.endpoint.respond(id, response(&request, 200)).await;
        None
    }

    /// On quit: remove our published state and end the subscriptions.
    pub(super) async fn presence_shutdown(&mut self) {
        let mut tasks = Vec::new();
        for (_, p) in self.presence.publishers.drain() {
            tasks.push(tokio::spawn(p.stop()));
        }
        for (_, w) in self.presence.watches.drain() {
            tasks.push(tokio::spawn(w.stop()));
        }
        for (_, n) in self.presence.notifiers.drain() {
            tasks.push(tokio::spawn(n.stop()));
        }
        let all = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        let _ = tokio::time::timeout(STOP_WAIT, all).await;
    }
}

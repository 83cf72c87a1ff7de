//! Presence, busy lamps and voicemail over SIP events: the API types, and
//! one task per subscription (RFC 6665 SUBSCRIBE/NOTIFY for presence,
//! dialog and message-summary) and per published state (RFC 3903 PUBLISH),
//! each driving its sans-IO usage from `sip_core::usage`.
//!
//! ```text
//!  engine ──NOTIFY by Call-ID (Routes)──> watch task ──Subscription──> endpoint
//!                                              └── presence / blf / mwi events
//!  engine ──Publish(body) / Stop──> publish task ──Publication──> endpoint
//!  engine ──SUBSCRIBE (new, decided) / State / Stop──> notifier task ──Notifier──> endpoint
//!         ──in-dialog SUBSCRIBE by Call-ID (watchers)──┘   (peer-to-peer watchers)
//! ```
//!
//! [`AutoPresence`] decides what we show: the user's choice, On the phone
//! during a connected call, Away after idle time.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sip_core::usage::notifier::{
    Decision, Notifier, NotifierConfig, NotifierError, NotifierEvent, WatcherId,
};
use sip_core::usage::publication::{Publication, PublicationConfig, PublicationEvent};
use sip_core::usage::subscription::{
    NotifyState, Subscription, SubscriptionConfig, SubscriptionEvent, TerminationReason,
};
use sip_core::{Credential, TransactionId};
use sip_message::dialog_info::DialogInfo;
use sip_message::message_summary::MessageSummary;
use sip_message::{pidf, Request, Response, Uri};
use tokio::sync::{broadcast, mpsc, oneshot, OwnedSemaphorePermit};
use tracing::debug;
use ts_rs::TS;

use crate::api::Event;
use crate::call::AccountCtx;
use crate::chat::{targets, user_agent};
use crate::dns::SipResolver;
use crate::endpoint::{Endpoint, EndpointError};
use crate::transport::Proto;

/// Subscription and publication lifetime we ask for (seconds).
const EXPIRES: u32 = 600;
/// NOTIFYs waiting for one subscription task.
const NOTIFY_QUEUE: usize = 16;
/// Most subscriptions at once (contacts with presence or BLF, and MWI):
/// a large company directory, paced by [`SubscribePacer`].
pub(crate) const MAX_WATCHES: usize = 2000;
/// Most peer-to-peer watchers of one account's presence.
pub(crate) const MAX_WATCHERS: usize = 200;
/// Requests waiting for one notifier task.
const NOTIFIER_QUEUE: usize = 32;

/// Errors of the presence and contact commands.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    /// The address is not a SIP URI.
    #[error("not a SIP address: {0:?}")]
    BadUri(String),
    /// Too many subscriptions.
    #[error("too many subscriptions (limit {MAX_WATCHES})")]
    TooMany,
    /// The usage refused its settings.
    #[error("cannot subscribe: {0}")]
    Subscription(#[from] sip_core::usage::subscription::SubscriptionError),
    /// The usage refused its settings.
    #[error("cannot publish: {0}")]
    Publication(#[from] sip_core::usage::publication::PublicationError),
    /// The usage refused its settings.
    #[error("cannot serve watchers: {0}")]
    Notifier(#[from] NotifierError),
    /// The contact store failed.
    #[error(transparent)]
    Store(#[from] store::DbError),
    /// Pickup asked for a line that is not ringing (or not watched).
    #[error("that line is not ringing (watch it with BLF first)")]
    NotRinging,
    /// The ringing dialog's ids are unknown and no pickup code is set.
    #[error(
        "cannot pick up: the server does not reveal the ringing call, and the account has no pickup code"
    )]
    NoPickup,
    /// The account to change does not exist.
    #[error("no account {0:?}")]
    NoSuchAccount(String),
    /// The account settings could not be saved.
    #[error(transparent)]
    Config(#[from] store::ConfigError),
}

/// How a contact (or we) are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Availability {
    /// Online and free.
    Available,
    /// Away.
    Away,
    /// Busy.
    Busy,
    /// In a call.
    OnThePhone,
    /// Offline.
    Offline,
    /// Not known (no document, pending or ended subscription).
    Unknown,
}

impl From<pidf::Availability> for Availability {
    fn from(a: pidf::Availability) -> Self {
        match a {
            pidf::Availability::Available => Self::Available,
            pidf::Availability::Away => Self::Away,
            pidf::Availability::Busy => Self::Busy,
            pidf::Availability::OnThePhone => Self::OnThePhone,
            pidf::Availability::Offline => Self::Offline,
            pidf::Availability::Unknown => Self::Unknown,
        }
    }
}

impl From<Availability> for pidf::Availability {
    fn from(a: Availability) -> Self {
        match a {
            Availability::Available => Self::Available,
            Availability::Away => Self::Away,
            Availability::Busy => Self::Busy,
            Availability::OnThePhone => Self::OnThePhone,
            Availability::Offline => Self::Offline,
            Availability::Unknown => Self::Unknown,
        }
    }
}

/// What a busy lamp shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LineState {
    /// No call.
    Idle,
    /// Ringing: can be picked up.
    Ringing,
    /// In a call.
    InCall,
}

/// A phone number of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PhoneEntry {
    /// The number as entered.
    pub number: String,
    /// `work`, `cell`, ... when known.
    pub kind: Option<String>,
}

/// A contact as the user enters it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactInput {
    /// Name shown.
    pub name: String,
    /// SIP address.
    pub sip_uri: Option<String>,
    /// Phone numbers.
    pub phones: Vec<PhoneEntry>,
    /// Shown first.
    pub favourite: bool,
    /// Watch this contact's presence.
    pub presence: bool,
    /// Watch this contact's line (BLF).
    pub blf: bool,
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactEntry {
    /// Its id.
    pub id: i64,
    /// Its fields.
    pub contact: ContactInput,
}

/// Someone who subscribed to our presence and waits for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PendingWatcher {
    /// The account they watch.
    pub account: String,
    /// Their address of record.
    pub watcher: String,
}

/// A remembered answer to a watcher: allowed or blocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WatcherDecision {
    /// The account they watch.
    pub account: String,
    /// Their address of record.
    pub watcher: String,
    /// Allowed (true) or blocked (false).
    pub allowed: bool,
}

/// What a vCard import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct VcardReport {
    /// How many contacts were added.
    pub added: u32,
    /// Cards skipped, and why.
    pub errors: Vec<String>,
}

impl From<ContactInput> for store::db::ContactInfo {
    fn from(c: ContactInput) -> Self {
        Self {
            name: c.name,
            sip_uri: c.sip_uri,
            phones: c
                .phones
                .into_iter()
                .map(|p| store::db::Phone {
                    number: p.number,
                    kind: p.kind,
                })
                .collect(),
            favourite: c.favourite,
            presence: c.presence,
            blf: c.blf,
        }
    }
}

impl From<store::db::Contact> for ContactEntry {
    fn from(c: store::db::Contact) -> Self {
        let i = c.info;
        Self {
            id: c.id.0,
            contact: ContactInput {
                name: i.name,
                sip_uri: i.sip_uri,
                phones: i
                    .phones
                    .into_iter()
                    .map(|p| PhoneEntry {
                        number: p.number,
                        kind: p.kind,
                    })
                    .collect(),
                favourite: i.favourite,
                presence: i.presence,
                blf: i.blf,
            },
        }
    }
}

/// An event package we subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Package {
    /// RFC 3856 presence (PIDF).
    Presence,
    /// RFC 4235 dialog state (BLF).
    Dialog,
    /// RFC 3842 voicemail summary.
    MessageSummary,
}

impl Package {
    fn event(self) -> &'static str {
        match self {
            Self::Presence => "presence",
            Self::Dialog => "dialog",
            Self::MessageSummary => "message-summary",
        }
    }

    fn accept(self) -> &'static str {
        match self {
            Self::Presence => "application/pidf+xml",
            Self::Dialog => "application/dialog-info+xml",
            Self::MessageSummary => "application/simple-message-summary",
        }
    }
}

/// NOTIFYs in flight to subscription tasks, by the Call-ID of their dialog.
pub(crate) type Routes = Arc<Mutex<HashMap<String, mpsc::Sender<Routed>>>>;

/// A request routed to a subscription's task. Boxed: a tokio channel
/// allocates its first block of 32 slots up front, and with the request
/// inline (224 bytes) that was 7 KiB per watched contact (3.6 MiB for a
/// list of 500).
pub(crate) type Routed = (TransactionId, Box<Request>);

/// SUBSCRIBEs in flight at once, over all subscriptions.
const SUBSCRIBES_IN_FLIGHT: usize = 32;

/// Paces SUBSCRIBE requests: a contact list of hundreds subscribed at
/// start would otherwise go out in one burst, each with its 401/407
/// retry, and the server's NOTIFYs come back in one (Kamailio answered
/// late enough for Timer E retransmissions of the same SUBSCRIBE).
#[derive(Clone)]
pub(crate) struct SubscribePacer(Arc<tokio::sync::Semaphore>);

impl Default for SubscribePacer {
    fn default() -> Self {
        SubscribePacer(Arc::new(tokio::sync::Semaphore::new(SUBSCRIBES_IN_FLIGHT)))
    }
}

/// What the tasks share.
#[derive(Clone)]
pub(crate) struct UsageEnv {
    pub(crate) endpoint: Endpoint,
    pub(crate) resolver: SipResolver,
    pub(crate) events: broadcast::Sender<Event>,
    /// Ringing lines seen by BLF subscriptions, for pickup.
    pub(crate) lines: Lines,
    /// Presence watchers waiting for the user.
    pub(crate) pending: PendingWatchers,
}

/// A watched line that rings, as its last dialog-info document showed it
/// (RFC 4235 §4.1: the ids are optional; servers may hide them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RingingLine {
    /// Call-ID of the ringing dialog.
    pub(crate) call_id: Option<String>,
    /// The watched entity's tag (the To tag of the ringing INVITE).
    pub(crate) local_tag: Option<String>,
    /// The caller's tag (its From tag).
    pub(crate) remote_tag: Option<String>,
    /// The caller: its identity URI, else its target URI.
    pub(crate) caller: Option<String>,
}

impl RingingLine {
    fn from_entry(d: &sip_message::dialog_info::DialogEntry) -> Self {
        Self {
            call_id: d.call_id.clone(),
            local_tag: d.local_tag.clone(),
            remote_tag: d.remote_tag.clone(),
            caller: d.remote.identity.clone().or(d.remote.target.clone()),
        }
    }
}

/// Watchers waiting for the user, by account: their subscriptions' ids
/// and addresses of record.
pub(crate) type PendingWatchers = Arc<Mutex<HashMap<String, HashMap<WatcherId, String>>>>;

/// Ringing lines by (account, watched URI).
pub(crate) type Lines = Arc<Mutex<HashMap<(String, String), RingingLine>>>;

/// How to pick up a ringing line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PickupPlan {
    /// INVITE the caller with `Replaces` (RFC 3891 §3: only the UA that
    /// sent the ringing INVITE may replace its early dialog, so the new
    /// INVITE goes to the caller, not to the ringing phone).
    Replaces {
        /// The caller's URI (Request-URI of our INVITE).
        caller: String,
        /// The header value.
        replaces: String,
    },
    /// Dial the PBX's pickup code followed by the ringing extension.
    Code(String),
}

/// Picks how to take over `line` (ringing at `watched`): Replaces when the
/// dialog-info carried the dialog's Call-ID and both tags, else the pickup
/// code with the watched user's extension.
pub(crate) fn pickup_plan(
    line: Option<&RingingLine>,
    watched: &str,
    code: Option<&str>,
) -> Result<PickupPlan, PresenceError> {
    let line = line.ok_or(PresenceError::NotRinging)?;
    let sip_caller = line
        .caller
        .as_deref()
        .filter(|c| matches!(c.parse::<Uri>(), Ok(Uri::Sip(_))));
    if let (Some(cid), Some(local), Some(remote), Some(caller)) = (
        line.call_id.as_deref(),
        line.local_tag.as_deref(),
        line.remote_tag.as_deref(),
        sip_caller,
    ) {
        // Tags as the caller's dialog has them (§6.1): its To tag is the
        // ringing phone's, its From tag its own. early-only: never take
        // over a call that was answered meanwhile.
        return Ok(PickupPlan::Replaces {
            caller: caller.to_owned(),
            replaces: format!("{cid};to-tag={local};from-tag={remote};early-only"),
        });
    }
    let code = code.ok_or(PresenceError::NoPickup)?;
    let ext = match watched.parse::<Uri>() {
        Ok(Uri::Sip(s)) => s.user.clone(),
        _ => None,
    }
    .ok_or_else(|| PresenceError::BadUri(watched.to_owned()))?;
    Ok(PickupPlan::Code(format!("{code}{ext}")))
}

/// Stops a subscription (un-subscribing first); dropping it does too.
pub(crate) struct WatchHandle {
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl WatchHandle {
    /// Un-subscribes and waits (bounded by the usage's own 32 s).
    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            let _ = d.await;
        }
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<Response, EndpointError>> + Send>>;

/// Sends `req` to the account's next hop and waits for the final response.
fn send(env: &UsageEnv, ctx: &Arc<AccountCtx>, req: Request) -> Pending {
    let endpoint = env.endpoint.clone();
    let resolver = env.resolver.clone();
    let ctx = ctx.clone();
    Box::pin(async move {
        let t = targets(&resolver, &ctx, &req)
            .await
            .map_err(|_| EndpointError::Stopped)?;
        endpoint.request(req, t).await
    })
}

/// A paced request: its final response, and the pacer's slot it held.
type Paced = Pin<
    Box<
        dyn Future<
                Output = (
                    Result<Response, EndpointError>,
                    Option<OwnedSemaphorePermit>,
                ),
            > + Send,
    >,
>;

/// [`send`], once one of the pacer's slots is free, or at once with
/// `held`, a slot the subscription kept from its last request. The slot
/// comes back with the final response.
fn send_paced(
    env: &UsageEnv,
    ctx: &Arc<AccountCtx>,
    req: Request,
    pacer: &SubscribePacer,
    held: Option<OwnedSemaphorePermit>,
) -> Paced {
    let sem = pacer.0.clone();
    let inner = send(env, ctx, req);
    Box::pin(async move {
        let slot = match held {
            Some(s) => Some(s),
            // Never closed; a closed semaphore would only mean no pacing.
            None => sem.acquire_owned().await.ok(),
        };
        (inner.await, slot)
    })
}

/// Whether a subscription keeps its pacer slot after `r`: a 401/407 is
/// answered at once with credentials. Queued again behind a long contact
/// list's first round (FIFO), that retry waited for all of it: the first
/// contacts in the list, the ones on screen, got their presence last
/// (53 s with 2,000 contacts at the test Kamailio).
fn keeps_slot(r: &Result<Response, EndpointError>) -> bool {
    matches!(r, Ok(resp) if matches!(resp.status.as_u16(), 401 | 407))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// The request in flight, if any: its output; never ready without one.
async fn wait<T>(p: &mut Option<Pin<Box<dyn Future<Output = T> + Send>>>) -> T {
    match p {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// Our Contact for requests towards the account's next hop.
async fn contact(env: &UsageEnv, ctx: &AccountCtx, target: &Uri) -> Option<String> {
    let probe = Request::new(sip_message::Method::Subscribe, target.clone());
    let t = targets(&env.resolver, ctx, &probe).await.ok()?;
    let first = t.first()?;
    let via = env.endpoint.via_for(first);
    let user = match &ctx.aor {
        Uri::Sip(s) => s.user.clone().unwrap_or_default(),
        _ => String::new(),
    };
    let transport = match first.proto {
        Proto::Udp => "udp",
        Proto::Tcp => "tcp",
        Proto::Tls => "tls",
    };
    Some(format!(
        "sip:{user}@{}:{};transport={transport}",
        via.host,
        via.port.unwrap_or(5060)
    ))
}

fn credentials(ctx: &AccountCtx) -> Option<(Option<String>, String, String)> {
    ctx.password
        .clone()
        .map(|p| (ctx.realm.clone(), ctx.auth_user.clone(), p))
}

/// Starts subscribing to `package` at `target` for `ctx`'s account.
pub(crate) async fn watch(
    env: UsageEnv,
    ctx: AccountCtx,
    target: String,
    package: Package,
    routes: Routes,
    pacer: SubscribePacer,
) -> Result<WatchHandle, PresenceError> {
    let uri: Uri = target
        .parse()
        .map_err(|_| PresenceError::BadUri(target.clone()))?;
    let contact = contact(&env, &ctx, &uri)
        .await
        .ok_or_else(|| PresenceError::BadUri(target.clone()))?;
    let config = SubscriptionConfig {
        aor: ctx.aor.to_string(),
        target: target.clone(),
        contact,
        event: package.event().to_owned(),
        accept: vec![package.accept().to_owned()],
        expires: EXPIRES,
        user_agent: user_agent(),
        retry_base: Duration::from_secs(5),
    };
    let sub = Subscription::new(config, crate::util::os_seed())?;
    let (stop, stop_rx) = oneshot::channel();
    let done = tokio::spawn(run_watch(
        env,
        ctx,
        (target, package),
        (routes, pacer),
        sub,
        stop_rx,
    ));
    Ok(WatchHandle {
        stop: Some(stop),
        done: Some(done),
    })
}

async fn run_watch(
    env: UsageEnv,
    ctx: AccountCtx,
    (target, package): (String, Package),
    (routes, pacer): (Routes, SubscribePacer),
    mut sub: Subscription,
    mut stop_rx: oneshot::Receiver<()>,
) {
    let secret = credentials(&ctx);
    let creds_buf;
    let creds: &[Credential<'_>] = match &secret {
        Some((realm, user, pw)) => {
            creds_buf = [Credential {
                realm: realm.as_deref(),
                username: user,
                password: pw,
            }];
            &creds_buf
        }
        None => &[],
    };
    let account = ctx.name.clone();
    let ctx = Arc::new(ctx);
    let (ntx, mut nrx) = mpsc::channel(NOTIFY_QUEUE);
    let mut call_ids: Vec<String> = Vec::new();
    let mut pending: Option<Paced> = None;
    // The pacer slot kept across a challenge (see `keeps_slot`).
    let mut slot: Option<OwnedSemaphorePermit> = None;
    let mut stopping = false;
    sub.start(Instant::now(), creds);
    'run: loop {
        while let Some(ev) = sub.poll_event() {
            if report(&env, &account, &target, package, ev) {
                break 'run;
            }
        }
        if pending.is_none() {
            if let Some(req) = sub.poll_request() {
                if let Some(cid) = req.headers.get("Call-ID").map(|c| c.trim().to_owned()) {
                    if !call_ids.contains(&cid) {
                        let mut r = routes.lock().unwrap_or_else(PoisonError::into_inner);
                        // A new dialog replaces the old one (§4.1.3).
                        for old in call_ids.drain(..) {
                            r.remove(&old);
                        }
                        r.insert(cid.clone(), ntx.clone());
                        call_ids.push(cid);
                    }
                }
                pending = Some(send_paced(&env, &ctx, req, &pacer, slot.take()));
                continue;
            }
            // No retry followed: the slot goes to the next subscription.
            slot = None;
        }
        let deadline = sub.poll_timeout();
        tokio::select! {
            (r, held) = wait(&mut pending) => {
                pending = None;
                if keeps_slot(&r) {
                    slot = held;
                }
                match r {
                    Ok(resp) => sub.handle_response(Instant::now(), &resp, creds),
                    Err(e) => sub.handle_failure(Instant::now(), e.to_string()),
                }
            }
            () = sleep_until(deadline) => sub.handle_timeout(Instant::now(), creds),
            Some((tx, req)) = nrx.recv() => {
                let resp = sub.handle_request(Instant::now(), &req, creds);
                let _ = env.endpoint.respond(tx, resp).await;
            }
            _ = &mut stop_rx, if !stopping => {
                stopping = true;
                sub.stop(Instant::now(), creds);
            }
        }
    }
    let mut r = routes.lock().unwrap_or_else(PoisonError::into_inner);
    for cid in call_ids {
        r.remove(&cid);
    }
    debug!(package = package.event(), "subscription over");
}

/// Turns a usage event into engine events; true when the subscription is gone.
fn report(
    env: &UsageEnv,
    account: &str,
    target: &str,
    package: Package,
    ev: SubscriptionEvent,
) -> bool {
    let send = |e: Event| {
        let _ = env.events.send(e);
    };
    let status = |active: bool, reason: Option<String>| Event::WatchStatus {
        account: account.to_owned(),
        uri: target.to_owned(),
        package: package.event().to_owned(),
        active,
        reason,
    };
    match ev {
        SubscriptionEvent::Accepted { .. } => send(status(true, None)),
        SubscriptionEvent::Notify { state, body, .. } => {
            if state == NotifyState::Pending || body.is_empty() {
                return false;
            }
            match package {
                Package::Presence => match pidf::Presence::parse(&body) {
                    Ok(p) => send(Event::Presence {
                        account: account.to_owned(),
                        uri: target.to_owned(),
                        availability: p.availability.into(),
                        note: p.note,
                    }),
                    Err(e) => debug!("unusable presence document: {e}"),
                },
                Package::Dialog => match DialogInfo::parse(&body) {
                    Ok(d) => {
                        let key = (account.to_owned(), target.to_owned());
                        let mut lines = env.lines.lock().unwrap_or_else(PoisonError::into_inner);
                        match d.ringing() {
                            Some(r) => lines.insert(key, RingingLine::from_entry(r)),
                            None => lines.remove(&key),
                        };
                        drop(lines);
                        send(Event::Blf {
                            account: account.to_owned(),
                            uri: target.to_owned(),
                            state: match d.line_state() {
                                sip_message::dialog_info::LineState::Idle => LineState::Idle,
                                sip_message::dialog_info::LineState::Ringing => LineState::Ringing,
                                sip_message::dialog_info::LineState::InCall => LineState::InCall,
                            },
                        });
                    }
                    Err(e) => debug!("unusable dialog-info document: {e}"),
                },
                Package::MessageSummary => mwi(env, account, &body),
            }
        }
        SubscriptionEvent::Terminated { reason, retry_in } => {
            if package == Package::Dialog {
                env.lines
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&(account.to_owned(), target.to_owned()));
            }
            send(status(false, Some(format!("terminated: {reason:?}"))));
            if retry_in.is_none() && package == Package::Presence {
                send(Event::Presence {
                    account: account.to_owned(),
                    uri: target.to_owned(),
                    availability: Availability::Unknown,
                    note: None,
                });
            }
        }
        SubscriptionEvent::Failed { reason, .. } => send(status(false, Some(reason))),
        SubscriptionEvent::Ended => return true,
    }
    false
}

/// A message-summary body: the voicemail counts for the UI.
pub(crate) fn mwi(env: &UsageEnv, account: &str, body: &[u8]) {
    match MessageSummary::parse(body) {
        Ok(s) => {
            let (new, old) = s.voice.map_or((0, 0), |c| (c.new, c.old));
            let _ = env.events.send(Event::Mwi {
                account: account.to_owned(),
                waiting: s.waiting,
                new,
                old,
            });
        }
        Err(e) => debug!("unusable message-summary: {e}"),
    }
}

/// Commands of a publish task.
enum PublishCommand {
    Body(Vec<u8>),
    Stop(oneshot::Sender<()>),
}

/// Keeps one account's presence document published.
pub(crate) struct PublishHandle {
    tx: mpsc::Sender<PublishCommand>,
}

impl PublishHandle {
    /// Publishes a new document (modifying the current one).
    pub(crate) async fn publish(&self, body: Vec<u8>) -> bool {
        self.tx.send(PublishCommand::Body(body)).await.is_ok()
    }

    /// Removes the state from the server and waits for the answer.
    pub(crate) async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(PublishCommand::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The PIDF document for our state.
pub(crate) fn document(
    ctx: &AccountCtx,
    availability: Availability,
    note: Option<&str>,
) -> Vec<u8> {
    let entity = crate::chat::peer_key(&ctx.aor.to_string());
    pidf::Presence::build(&entity, "parley", availability.into(), note).into_bytes()
}

/// Starts the publish task of `ctx`'s account.
pub(crate) fn publisher(env: UsageEnv, ctx: AccountCtx) -> Result<PublishHandle, PresenceError> {
    let config = PublicationConfig {
        aor: crate::chat::peer_key(&ctx.aor.to_string()),
        event: "presence".to_owned(),
        content_type: "application/pidf+xml".to_owned(),
        expires: EXPIRES,
        user_agent: user_agent(),
        retry_base: Duration::from_secs(5),
    };
    let publication = Publication::new(config, crate::util::os_seed())?;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(run_publish(env, ctx, publication, rx));
    Ok(PublishHandle { tx })
}

async fn run_publish(
    env: UsageEnv,
    ctx: AccountCtx,
    mut p: Publication,
    mut rx: mpsc::Receiver<PublishCommand>,
) {
    let secret = credentials(&ctx);
    let creds_buf;
    let creds: &[Credential<'_>] = match &secret {
        Some((realm, user, pw)) => {
            creds_buf = [Credential {
                realm: realm.as_deref(),
                username: user,
                password: pw,
            }];
            &creds_buf
        }
        None => &[],
    };
    let account = ctx.name.clone();
    let ctx = Arc::new(ctx);
    let mut pending: Option<Pending> = None;
    let mut done: Option<oneshot::Sender<()>> = None;
    let mut closed = false;
    loop {
        while let Some(ev) = p.poll_event() {
            let (ok, reason) = match ev {
                PublicationEvent::Published { .. } => (true, None),
                PublicationEvent::Failed { reason, .. } => (false, Some(reason)),
                PublicationEvent::Removed => {
                    if let Some(d) = done.take() {
                        let _ = d.send(());
                    }
                    return;
                }
            };
            let _ = env.events.send(Event::PresencePublished {
                account: account.clone(),
                ok,
                reason,
            });
        }
        if pending.is_none() {
            if let Some(req) = p.poll_request() {
                pending = Some(send(&env, &ctx, req));
                continue;
            }
        }
        let deadline = p.poll_timeout();
        tokio::select! {
            r = wait(&mut pending) => {
                pending = None;
                match r {
                    Ok(resp) => p.handle_response(Instant::now(), &resp, creds),
                    Err(e) => p.handle_failure(Instant::now(), e.to_string()),
                }
            }
            () = sleep_until(deadline) => p.handle_timeout(Instant::now(), creds),
            cmd = rx.recv(), if !closed => match cmd {
                Some(PublishCommand::Body(b)) => p.publish(Instant::now(), b, creds),
                Some(PublishCommand::Stop(d)) => {
                    done = Some(d);
                    p.stop(Instant::now(), creds);
                }
                None => {
                    closed = true;
                    p.stop(Instant::now(), creds);
                }
            },
        }
    }
}

/// What we show, from the user's choice and what goes on around it: while
/// a call is connected we are On the phone, and after `idle_after` without
/// user activity an Available user is shown Away; both undo themselves.
/// Offline (invisible) is never overridden. Pure: time comes in as `now`.
#[derive(Debug, Clone)]
pub(crate) struct AutoPresence {
    chosen: Availability,
    note: Option<String>,
    in_call: bool,
    idle_after: Option<Duration>,
    last_active: Instant,
    idle: bool,
}

impl AutoPresence {
    /// Available, active, no call, no idle timeout.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            chosen: Availability::Available,
            note: None,
            in_call: false,
            idle_after: None,
            last_active: now,
            idle: false,
        }
    }

    /// The user picked a state (it is what we go back to).
    pub(crate) fn choose(&mut self, availability: Availability, note: Option<String>) {
        self.chosen = availability;
        self.note = note;
    }

    /// Whether any call is connected.
    pub(crate) fn set_in_call(&mut self, in_call: bool) {
        self.in_call = in_call;
    }

    /// The user did something: no longer idle.
    pub(crate) fn user_active(&mut self, now: Instant) {
        self.last_active = now;
        self.idle = false;
    }

    /// Idle time after which we show Away (`None`: never).
    pub(crate) fn set_idle_after(&mut self, idle_after: Option<Duration>, now: Instant) {
        self.idle_after = idle_after.filter(|d| !d.is_zero());
        self.tick(now);
    }

    /// When [`AutoPresence::tick`] may change something.
    pub(crate) fn idle_deadline(&self) -> Option<Instant> {
        match (self.idle, self.idle_after) {
            (false, Some(d)) => self.last_active.checked_add(d),
            _ => None,
        }
    }

    /// Time passed: idle once the deadline is reached.
    pub(crate) fn tick(&mut self, now: Instant) {
        if self.idle_deadline().is_some_and(|at| at <= now) {
            self.idle = true;
        }
        if self.idle_after.is_none() {
            self.idle = false;
        }
    }

    /// What to publish and notify.
    pub(crate) fn shown(&self) -> (Availability, Option<String>) {
        let a = match self.chosen {
            Availability::Offline => Availability::Offline,
            _ if self.in_call => Availability::OnThePhone,
            Availability::Available if self.idle => Availability::Away,
            other => other,
        };
        (a, self.note.clone())
    }
}

impl Default for AutoPresence {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

/// Commands of a notifier task.
pub(crate) enum NotifierCommand {
    /// A new (out-of-dialog) SUBSCRIBE, already decided by the engine.
    Subscribe {
        id: TransactionId,
        request: Box<Request>,
        decision: Decision,
    },
    /// Our state changed.
    State(Vec<u8>),
    /// The user allowed (they get our state now) or blocked (their
    /// subscription ends with reason=rejected) a pending watcher.
    Decide {
        /// The watcher's address of record.
        watcher: String,
        /// Allowed rather than blocked.
        allow: bool,
    },
    /// End every subscription (quit) and say when done.
    Stop(oneshot::Sender<()>),
}

/// Serves one account's peer-to-peer presence watchers.
pub(crate) struct NotifierHandle {
    tx: mpsc::Sender<NotifierCommand>,
}

impl NotifierHandle {
    /// Hands a command to the task; false when it is gone or flooded.
    pub(crate) fn send(&self, cmd: NotifierCommand) -> bool {
        self.tx.try_send(cmd).is_ok()
    }

    /// Terminates every watcher's subscription and waits for the task.
    pub(crate) async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(NotifierCommand::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Starts the notifier task of `ctx`'s account, with `state` as our
/// current document; in-dialog SUBSCRIBEs reach it through `routes`.
pub(crate) async fn notifier(
    env: UsageEnv,
    ctx: AccountCtx,
    state: Vec<u8>,
    routes: Routes,
) -> Result<NotifierHandle, PresenceError> {
    let contact = contact(&env, &ctx, &ctx.aor)
        .await
        .ok_or_else(|| PresenceError::BadUri(ctx.aor.to_string()))?;
    let config = NotifierConfig {
        contact,
        event: "presence".to_owned(),
        content_type: "application/pidf+xml".to_owned(),
        min_expires: 60,
        max_expires: EXPIRES * 6,
        max_watchers: MAX_WATCHERS,
    };
    let mut n = Notifier::new(config, crate::util::os_seed())?;
    n.set_state(Instant::now(), state);
    let (tx, rx) = mpsc::channel(NOTIFIER_QUEUE);
    tokio::spawn(run_notifier(env, ctx, n, rx, routes));
    Ok(NotifierHandle { tx })
}

async fn run_notifier(
    env: UsageEnv,
    ctx: AccountCtx,
    mut n: Notifier,
    mut rx: mpsc::Receiver<NotifierCommand>,
    routes: Routes,
) {
    let account = ctx.name.clone();
    let ctx = Arc::new(ctx);
    // In-dialog SUBSCRIBEs (refresh, un-subscribe), by Call-ID.
    let (dtx, mut drx) = mpsc::channel::<Routed>(NOTIFIER_QUEUE);
    // Answers to NOTIFYs: at most one in flight per watcher (bounded).
    let (atx, mut arx) =
        mpsc::channel::<(WatcherId, Result<Response, EndpointError>)>(MAX_WATCHERS + 1);
    let mut call_ids: HashMap<WatcherId, String> = HashMap::new();
    let mut stopped: Option<oneshot::Sender<()>> = None;
    let mut closed = false;
    loop {
        while let Some((wid, req)) = n.poll_request() {
            let fut = send(&env, &ctx, req);
            let atx = atx.clone();
            tokio::spawn(async move {
                let _ = atx.send((wid, fut.await)).await;
            });
        }
        watcher_events(&mut n, &mut call_ids, &routes, None, (&env, &account));
        if (stopped.is_some() || closed) && n.is_empty() {
            break;
        }
        let deadline = n.poll_timeout();
        tokio::select! {
            Some((wid, r)) = arx.recv() => match r {
                Ok(resp) => n.handle_response(Instant::now(), wid, &resp),
                Err(e) => n.handle_failure(Instant::now(), wid, e.to_string()),
            },
            () = sleep_until(deadline) => n.handle_timeout(Instant::now()),
            Some((tid, req)) = drx.recv() => {
                let resp = n.handle_request(Instant::now(), &req, |_| Decision::Reject);
                let _ = env.endpoint.respond(tid, resp).await;
            }
            cmd = rx.recv(), if !closed => match cmd {
                Some(NotifierCommand::Subscribe { id, request, decision }) => {
                    let resp = n.handle_request(Instant::now(), &request, |_| decision);
                    let cid = request.headers.get("Call-ID").map(|c| c.trim().to_owned());
                    let new = cid.as_deref().map(|c| (c, &dtx));
                    watcher_events(&mut n, &mut call_ids, &routes, new, (&env, &account));
                    let _ = env.endpoint.respond(id, resp).await;
                }
                Some(NotifierCommand::State(body)) => n.set_state(Instant::now(), body),
                Some(NotifierCommand::Decide { watcher, allow }) => {
                    let mut ids = take_pending(&env, &account, &watcher);
                    if !allow {
                        // Blocking also ends a subscription allowed before.
                        ids.extend(call_ids.keys().copied().filter(|id| {
                            n.watcher(*id)
                                .is_some_and(|w| crate::chat::peer_key(w).eq_ignore_ascii_case(&watcher))
                        }));
                        ids.sort();
                        ids.dedup();
                    }
                    for id in ids {
                        if allow {
                            n.authorize(Instant::now(), id);
                        } else {
                            n.terminate(Instant::now(), id, TerminationReason::Rejected);
                        }
                    }
                }
                Some(NotifierCommand::Stop(done)) => {
                    stopped = Some(done);
                    n.stop(Instant::now(), TerminationReason::NoResource);
                }
                None => {
                    closed = true;
                    n.stop(Instant::now(), TerminationReason::NoResource);
                }
            },
        }
    }
    let mut r = routes.lock().unwrap_or_else(PoisonError::into_inner);
    for cid in call_ids.into_values() {
        r.remove(&cid);
    }
    drop(r);
    if let Some(done) = stopped {
        let _ = done.send(());
    }
    debug!("presence notifier over");
}

/// Keeps the Call-ID routes of the watchers' dialogs up to date; `new` is
/// the Call-ID of the SUBSCRIBE just handled (and where its dialog goes).
fn watcher_events(
    n: &mut Notifier,
    call_ids: &mut HashMap<WatcherId, String>,
    routes: &Routes,
    new: Option<(&str, &mpsc::Sender<Routed>)>,
    (env, account): (&UsageEnv, &str),
) {
    while let Some(ev) = n.poll_event() {
        let mut r = routes.lock().unwrap_or_else(PoisonError::into_inner);
        match ev {
            NotifierEvent::Subscribed {
                id,
                pending,
                watcher,
            } => {
                // The watcher's address is personal data: debug only.
                debug!(id = id.0, pending, "presence watcher subscribed");
                if let Some((cid, tx)) = new {
                    r.insert(cid.to_owned(), tx.clone());
                    call_ids.insert(id, cid.to_owned());
                }
                if pending {
                    let watcher = crate::chat::peer_key(&watcher);
                    let first = {
                        let mut p = env.pending.lock().unwrap_or_else(PoisonError::into_inner);
                        let mine = p.entry(account.to_owned()).or_default();
                        let first = !mine.values().any(|w| *w == watcher);
                        mine.insert(id, watcher.clone());
                        first
                    };
                    if first {
                        let _ = env.events.send(Event::WatcherPending {
                            account: account.to_owned(),
                            watcher,
                            waiting: true,
                        });
                    }
                }
            }
            NotifierEvent::Ended { id, .. } => {
                if let Some(cid) = call_ids.remove(&id) {
                    r.remove(&cid);
                }
                drop(r);
                let gone = {
                    let mut p = env.pending.lock().unwrap_or_else(PoisonError::into_inner);
                    let mine = p.entry(account.to_owned()).or_default();
                    mine.remove(&id)
                        .filter(|w| !mine.values().any(|other| other == w))
                };
                if let Some(watcher) = gone {
                    let _ = env.events.send(Event::WatcherPending {
                        account: account.to_owned(),
                        watcher,
                        waiting: false,
                    });
                }
            }
        }
    }
}

/// The pending subscriptions of `watcher` on `account`, no longer pending
/// (the user decided); says so to the UI.
fn take_pending(env: &UsageEnv, account: &str, watcher: &str) -> Vec<WatcherId> {
    let ids: Vec<WatcherId> = {
        let mut p = env.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = p.entry(account.to_owned()).or_default();
        let ids: Vec<WatcherId> = mine
            .iter()
            .filter(|(_, w)| w.eq_ignore_ascii_case(watcher))
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            mine.remove(id);
        }
        ids
    };
    if !ids.is_empty() {
        let _ = env.events.send(Event::WatcherPending {
            account: account.to_owned(),
            watcher: watcher.to_owned(),
            waiting: false,
        });
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_challenge_keeps_the_pacer_slot() {
        let resp = |code| Ok(Response::new(sip_message::StatusCode::new(code).unwrap()));
        assert!(keeps_slot(&resp(401)));
        assert!(keeps_slot(&resp(407)));
        for code in [200, 202, 403, 404, 423, 489, 503] {
            assert!(!keeps_slot(&resp(code)), "{code}");
        }
        assert!(!keeps_slot(&Err(EndpointError::Stopped)));
    }

    #[test]
    fn availability_round_trips_through_pidf() {
        for a in [
            Availability::Available,
            Availability::Away,
            Availability::Busy,
            Availability::OnThePhone,
            Availability::Offline,
        ] {
            let doc = pidf::Presence::build("sip:a@127.0.0.1", "t", a.into(), Some("back at 3"));
            let p = pidf::Presence::parse(doc.as_bytes()).unwrap();
            assert_eq!(Availability::from(p.availability), a);
            assert_eq!(p.note.as_deref(), Some("back at 3"));
        }
    }

    #[test]
    fn on_the_phone_during_a_call_then_back_to_the_choice() {
        let t0 = Instant::now();
        let mut p = AutoPresence::new(t0);
        p.choose(Availability::Busy, Some("writing".into()));
        p.set_in_call(true);
        assert_eq!(
            p.shown(),
            (Availability::OnThePhone, Some("writing".into()))
        );
        p.set_in_call(false);
        assert_eq!(p.shown(), (Availability::Busy, Some("writing".into())));
        // Invisible stays invisible, call or not.
        p.choose(Availability::Offline, None);
        p.set_in_call(true);
        assert_eq!(p.shown().0, Availability::Offline);
    }

    #[test]
    fn away_after_idle_time_until_the_user_is_back() {
        let t0 = Instant::now();
        let mut p = AutoPresence::new(t0);
        assert_eq!(p.idle_deadline(), None, "no idle timeout by default");
        p.tick(t0 + Duration::from_secs(86_400));
        assert_eq!(p.shown().0, Availability::Available);

        p.set_idle_after(Some(Duration::from_secs(300)), t0);
        assert_eq!(p.idle_deadline(), Some(t0 + Duration::from_secs(300)));
        p.tick(t0 + Duration::from_secs(299));
        assert_eq!(p.shown().0, Availability::Available);
        p.user_active(t0 + Duration::from_secs(200));
        p.tick(t0 + Duration::from_secs(499));
        assert_eq!(p.shown().0, Availability::Available, "activity restarts");
        p.tick(t0 + Duration::from_secs(500));
        assert_eq!(p.shown().0, Availability::Away);
        assert_eq!(p.idle_deadline(), None, "no timer while idle");
        // A call wins over idle; after it, still idle.
        p.set_in_call(true);
        assert_eq!(p.shown().0, Availability::OnThePhone);
        p.set_in_call(false);
        assert_eq!(p.shown().0, Availability::Away);
        p.user_active(t0 + Duration::from_secs(600));
        assert_eq!(p.shown().0, Availability::Available);

        // Only Available turns Away: Busy stays Busy.
        p.choose(Availability::Busy, None);
        p.tick(t0 + Duration::from_secs(10_000));
        assert_eq!(p.shown().0, Availability::Busy);
        // Turning the timeout off ends idleness.
        p.choose(Availability::Available, None);
        assert_eq!(p.shown().0, Availability::Away);
        p.set_idle_after(None, t0 + Duration::from_secs(10_001));
        assert_eq!(p.shown().0, Availability::Available);
        // Zero means off.
        p.set_idle_after(Some(Duration::ZERO), t0);
        assert_eq!(p.idle_deadline(), None);
    }

    #[test]
    fn pickup_uses_replaces_when_the_ids_are_known_else_the_code() {
        let full = RingingLine {
            call_id: Some("c1@h".into()),
            local_tag: Some("bobtag".into()),
            remote_tag: Some("caroltag".into()),
            caller: Some("sip:carol@127.0.0.1".into()),
        };
        assert_eq!(
            pickup_plan(Some(&full), "sip:bob@127.0.0.1", Some("**")).unwrap(),
            PickupPlan::Replaces {
                caller: "sip:carol@127.0.0.1".into(),
                replaces: "c1@h;to-tag=bobtag;from-tag=caroltag;early-only".into(),
            }
        );
        // No tags (a server hiding them): the directed pickup code.
        let hidden = RingingLine {
            local_tag: None,
            ..full.clone()
        };
        assert_eq!(
            pickup_plan(Some(&hidden), "sip:201@pbx", Some("**")).unwrap(),
            PickupPlan::Code("**201".into())
        );
        // A caller that is not a SIP URI cannot be INVITEd.
        let tel = RingingLine {
            caller: Some("tel:+15551234".into()),
            ..full.clone()
        };
        assert_eq!(
            pickup_plan(Some(&tel), "sip:201@pbx", Some("*8")).unwrap(),
            PickupPlan::Code("*8201".into())
        );
        assert!(matches!(
            pickup_plan(Some(&hidden), "sip:201@pbx", None),
            Err(PresenceError::NoPickup)
        ));
        assert!(matches!(
            pickup_plan(None, "sip:201@pbx", Some("*8")),
            Err(PresenceError::NotRinging)
        ));
        assert!(matches!(
            pickup_plan(Some(&hidden), "sip:pbx", Some("*8")),
            Err(PresenceError::BadUri(_))
        ));
    }

    #[test]
    fn a_ringing_line_takes_the_ids_and_the_caller_from_the_document() {
        let ringing = br#"<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:bob@127.0.0.1">
<dialog id="d" call-id="c1@h" local-tag="bt" remote-tag="ct" direction="recipient"><state>early</state>
<remote><identity>sip:carol@127.0.0.1</identity><target uri="sip:carol@127.0.0.1:5099"/></remote></dialog></dialog-info>"#;
        let d = DialogInfo::parse(ringing).unwrap();
        let line = RingingLine::from_entry(d.ringing().unwrap());
        assert_eq!(line.caller.as_deref(), Some("sip:carol@127.0.0.1"));
        assert_eq!(line.call_id.as_deref(), Some("c1@h"));
        assert_eq!(
            (line.local_tag.as_deref(), line.remote_tag.as_deref()),
            (Some("bt"), Some("ct"))
        );
    }

    #[test]
    fn contacts_convert_both_ways() {
        let input = ContactInput {
            name: "Bob".into(),
            sip_uri: Some("sip:bob@127.0.0.1".into()),
            phones: vec![PhoneEntry {
                number: "+1 555".into(),
                kind: Some("work".into()),
            }],
            favourite: true,
            presence: true,
            blf: false,
        };
        let info: store::db::ContactInfo = input.clone().into();
        let back = ContactEntry::from(store::db::Contact {
            id: store::db::ContactId(7),
            info,
        });
        assert_eq!(back.id, 7);
        assert_eq!(back.contact, input);
    }
}

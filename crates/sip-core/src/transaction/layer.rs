//! The transaction layer: owns every transaction, matches incoming messages
//! to them (RFC 3261 §17.1.3, §17.2.3, with the RFC 2543 fallback), answers
//! CANCEL (§9.2) and turns machine actions into transmits and events.
//!
//! Driving it (str0m's loop): feed input with [`TransactionLayer::handle_message`]
//! / [`TransactionLayer::handle_timeout`], then drain
//! [`TransactionLayer::poll_transmit`] and [`TransactionLayer::poll_event`]
//! until both return `None`, then sleep until
//! [`TransactionLayer::poll_timeout`].
//!
//! ```text
//!   message in --> match? --yes--> machine --actions--> transmits / events
//!                    | no
//!                    +-- request: ACK --------------------> Ack event (2xx ACK)
//!                    |            no From/To/Call-ID/CSeq -> 400 (stateless)
//!                    |            merged (§8.2.2.2) -----> 482 (stateless)
//!                    |            table full ------------> 503 (stateless)
//!                    |            CANCEL -> 200/481, Cancelled event
//!                    |            other --> new server transaction, Request event
//!                    +-- response: 2xx to INVITE ----------> StrayResponse event
//!                                  other ---------------> dropped (debug)
//! ```
//!
//! Bounds: at most `max_transactions` live transactions and `max_queue`
//! queued transmits and events each. With full queues new input is
//! dropped (the peer retransmits) and `send_*` return
//! [`LayerError::QueueFull`]; output produced by timers past the cap is
//! dropped and counted in [`TransactionLayer::dropped`].
//!
//! Responses go back to the address the request came from (symmetric
//! response routing, RFC 3581 style); `received`/`rport` are filled into the
//! top Via of every incoming request (§18.2.1).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use sip_message::headers::{CSeq, HeaderError, Transport, Via};
use sip_message::{Message, Method, Request, Response};

use super::client_invite::{self, ClientInvite};
use super::client_non_invite::{self, ClientNonInvite};
use super::server_invite::{self, ServerInvite};
use super::server_non_invite::{self, ServerNonInvite};
use super::{Action, TransactionError, TransactionState};
use crate::rand::Rng;
use crate::timers::TimerConfig;

/// Errors returned to the caller of the layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    /// No live transaction has this id (it may have terminated).
    #[error("no transaction {0}")]
    UnknownTransaction(TransactionId),
    /// Responses can only be sent on server transactions.
    #[error("transaction {0} is not a server transaction")]
    NotServerTransaction(TransactionId),
    /// CANCEL applies to INVITE client transactions only.
    #[error("transaction {0} is not an INVITE client transaction")]
    NotClientInvite(TransactionId),
    /// The transaction table is at its configured limit.
    #[error("too many transactions (limit {limit})")]
    TooManyTransactions {
        /// The limit.
        limit: usize,
    },
    /// The transmit queue is full: drain `poll_transmit` first.
    #[error("transmit queue full (limit {limit})")]
    QueueFull {
        /// The limit.
        limit: usize,
    },
    /// A header every transaction needs is missing.
    #[error("request lacks a {0} header")]
    MissingHeader(&'static str),
    /// A header does not parse.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// ACK never opens a transaction; send it with `send_stateless`.
    #[error("ACK is not sent in a transaction; use send_stateless")]
    AckNeedsNoTransaction,
    /// A client transaction with this branch and method already exists.
    #[error("a client transaction with branch {0:?} already exists")]
    DuplicateBranch(String),
    /// The machine refused.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

/// Identifies a transaction for the lifetime of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(u64);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub dest: SocketAddr,
    /// Over which transport (for streams: the connection to `dest`).
    pub transport: Transport,
    /// The message.
    pub message: Message,
}

/// What happened, for the transaction user (dialogs, registration, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A new request opened server transaction `id`; answer it with
    /// [`TransactionLayer::send_response`].
    Request {
        /// The new server transaction.
        id: TransactionId,
        /// The request (top Via carries `received`/`rport`).
        request: Request,
        /// Where it came from.
        source: SocketAddr,
        /// Over which transport.
        transport: Transport,
    },
    /// A response for client transaction `id`. For INVITE every 2xx is
    /// reported, retransmissions and other forks included (RFC 6026), so
    /// the dialog can ACK each.
    Response {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Response,
    },
    /// A CANCEL matched INVITE server transaction `id` while it was still
    /// proceeding; the layer already answered the CANCEL with 200. The TU
    /// should now answer the INVITE with 487 (§9.2).
    Cancelled {
        /// The INVITE server transaction.
        id: TransactionId,
        /// The CANCEL request.
        cancel: Request,
    },
    /// An ACK that matched no transaction: the ACK for a 2xx (§13.3.1.4,
    /// §17.2.1 as amended by RFC 6026). It belongs to the dialog layer.
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: SocketAddr,
        /// Over which transport.
        transport: Transport,
    },
    /// A 2xx to INVITE that matched no transaction (Timer M has fired or
    /// the transaction is gone): the dialog re-sends its ACK (§13.2.2.4).
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        source: SocketAddr,
        /// Over which transport.
        transport: Transport,
    },
    /// Timer B, F or H fired: no (final) response, or no ACK.
    Timeout {
        /// The transaction.
        id: TransactionId,
    },
    /// The driver reported that it could not send for this transaction.
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// The transaction ended; its id is no longer valid.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// Tunables of a [`TransactionLayer`].
#[derive(Debug, Clone)]
pub struct LayerConfig {
    /// T1, T2, T4.
    pub timers: TimerConfig,
    /// Most live transactions; new requests beyond it get 503.
    pub max_transactions: usize,
    /// Most queued transmits and most queued events (each).
    pub max_queue: usize,
    /// Seed for branches and tags; pass OS randomness in production.
    pub seed: u64,
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            timers: TimerConfig::default(),
            // A presence list leaves a server transaction per NOTIFY for
            // Timer J (32 s on UDP) and two client transactions per
            // SUBSCRIBE (digest retry) for Timer K: 500 contacts passed
            // 1024 at start, and the NOTIFYs beyond it got 503.
            max_transactions: 8192,
            max_queue: 4096,
            seed: 0,
        }
    }
}

#[derive(Debug)]
#[allow(clippy::enum_variant_names)] // the RFC's names
enum Machine {
    ClientInvite(ClientInvite),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(ServerInvite),
    ServerNonInvite(ServerNonInvite),
}

impl Machine {
    fn next_timeout(&self) -> Option<Instant> {
        match self {
            Machine::ClientInvite(m) => m.next_timeout(),
            Machine::ClientNonInvite(m) => m.next_timeout(),
            Machine::ServerInvite(m) => m.next_timeout(),
            Machine::ServerNonInvite(m) => m.next_timeout(),
        }
    }

    fn state(&self) -> TransactionState {
        use TransactionState as S;
        match self {
            Machine::ClientInvite(m) => match m.state() {
                client_invite::State::Calling => S::Calling,
                client_invite::State::Proceeding => S::Proceeding,
                client_invite::State::Completed => S::Completed,
                client_invite::State::Accepted => S::Accepted,
                client_invite::State::Terminated => S::Terminated,
            },
            Machine::ClientNonInvite(m) => match m.state() {
                client_non_invite::State::Trying => S::Trying,
                client_non_invite::State::Proceeding => S::Proceeding,
                client_non_invite::State::Completed => S::Completed,
                client_non_invite::State::Terminated => S::Terminated,
            },
            Machine::ServerInvite(m) => match m.state() {
                server_invite::State::Proceeding => S::Proceeding,
                server_invite::State::Completed => S::Completed,
                server_invite::State::Confirmed => S::Confirmed,
                server_invite::State::Accepted => S::Accepted,
                server_invite::State::Terminated => S::Terminated,
            },
            Machine::ServerNonInvite(m) => match m.state() {
                server_non_invite::State::Trying => S::Trying,
                server_non_invite::State::Proceeding => S::Proceeding,
                server_non_invite::State::Completed => S::Completed,
                server_non_invite::State::Terminated => S::Terminated,
            },
        }
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self {
            Machine::ClientInvite(m) => m.on_timeout(now, out),
            Machine::ClientNonInvite(m) => m.on_timeout(now, out),
            Machine::ServerInvite(m) => m.on_timeout(now, out),
            Machine::ServerNonInvite(m) => m.on_timeout(now, out),
        }
    }

    fn on_transport_error(&mut self, out: &mut Vec<Action>) {
        match self {
            Machine::ClientInvite(m) => m.on_transport_error(out),
            Machine::ClientNonInvite(m) => m.on_transport_error(out),
            Machine::ServerInvite(m) => m.on_transport_error(out),
            Machine::ServerNonInvite(m) => m.on_transport_error(out),
        }
    }
}

/// Client transactions match on branch + CSeq method (§17.1.3); the method
/// tells a CANCEL from the INVITE it shares its branch with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    branch: String,
    method: Method,
}

/// Server transactions (§17.2.3). ACK is keyed as INVITE so it finds the
/// INVITE transaction; CANCEL has its own key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ServerKey {
    Rfc3261 {
        branch: String,
        host: String,
        port: u16,
        method: Method,
    },
    /// RFC 2543 peers: no magic cookie, so match on the dialog-ish fields.
    Rfc2543 {
        request_uri: String,
        from_tag: Option<String>,
        to_tag: Option<String>,
        call_id: String,
        cseq: u32,
        via: String,
        method: Method,
    },
}

impl ServerKey {
    fn with_method(&self, m: Method) -> ServerKey {
        let mut k = self.clone();
        match &mut k {
            ServerKey::Rfc3261 { method, .. } | ServerKey::Rfc2543 { method, .. } => *method = m,
        }
        k
    }

    fn without_to_tag(&self) -> Option<ServerKey> {
        match self {
            ServerKey::Rfc2543 {
                to_tag: Some(_), ..
            } => {
                let mut k = self.clone();
                if let ServerKey::Rfc2543 { to_tag, .. } = &mut k {
                    *to_tag = None;
                }
                Some(k)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(ClientKey),
    Server(ServerKey),
}

#[derive(Debug)]
struct Entry {
    machine: Machine,
    peer: SocketAddr,
    transport: Transport,
    key: Key,
    merge: Option<MergeKey>,
}

/// §8.2.2.2: a request without To tag is identified across forked paths
/// by From tag, Call-ID and CSeq; a second copy with another branch is a
/// merged request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MergeKey {
    call_id: String,
    from_tag: String,
    cseq: u32,
    method: Method,
}

fn merge_key(req: &Request) -> Option<MergeKey> {
    let h = &req.headers;
    if to_tag(h).is_some() || req.method == Method::Ack {
        return None;
    }
    let from = h.from().ok()??;
    Some(MergeKey {
        call_id: h.call_id().ok()??.as_str().to_owned(),
        from_tag: from.tag()?.to_owned(),
        cseq: h.cseq().ok()??.seq,
        method: req.method.clone(),
    })
}

/// Owns all transactions; see the module docs.
#[derive(Debug)]
pub struct TransactionLayer {
    config: LayerConfig,
    rng: Rng,
    next_id: u64,
    // BTreeMap: timers fire in id order, so runs replay deterministically.
    transactions: BTreeMap<TransactionId, Entry>,
    index: HashMap<Key, TransactionId>,
    merged: HashMap<MergeKey, TransactionId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
    dropped: u64,
}

fn default_port(t: &Transport) -> u16 {
    match t {
        Transport::Tls | Transport::Wss => 5061,
        _ => 5060,
    }
}

fn method_key(m: &Method) -> Method {
    if *m == Method::Ack {
        Method::Invite
    } else {
        m.clone()
    }
}

/// §17.2.3 key of an incoming request; `None` when headers are missing.
fn server_key(req: &Request) -> Option<ServerKey> {
    let via = req.headers.top_via().ok()??;
    let method = method_key(&req.method);
    if via.has_rfc3261_branch() {
        return Some(ServerKey::Rfc3261 {
            branch: via.branch()?.to_owned(),
            host: via.host.to_string().to_ascii_lowercase(),
            port: via.port.unwrap_or_else(|| default_port(&via.transport)),
            method,
        });
    }
    let cseq = req.headers.cseq().ok()??;
    Some(ServerKey::Rfc2543 {
        request_uri: req.uri.to_string(),
        from_tag: req
            .headers
            .from()
            .ok()
            .flatten()
            .and_then(|f| f.tag().map(str::to_owned)),
        to_tag: req
            .headers
            .to()
            .ok()
            .flatten()
            .and_then(|t| t.tag().map(str::to_owned)),
        call_id: req.headers.call_id().ok()??.as_str().to_owned(),
        cseq: cseq.seq,
        via: via.to_string(),
        method,
    })
}

fn to_tag(headers: &sip_message::Headers) -> Option<String> {
    headers
        .to()
        .ok()
        .flatten()
        .and_then(|t| t.tag().map(str::to_owned))
}

/// The CANCEL for `invite` (§9.1): same Request-URI, Call-ID, From, To,
/// CSeq number, top Via (same branch) and Route set.
pub fn build_cancel(invite: &Request) -> Request {
    let mut c = Request::new(Method::Cancel, invite.uri.clone());
    let h = &invite.headers;
    if let Ok(Some(top)) = h.top_via() {
        c.headers.push_typed(&top);
    }
    c.headers.push_typed(&sip_message::headers::MaxForwards(70));
    for name in ["From", "To", "Call-ID"] {
        if let Some(v) = h.get(name) {
            let _ = c.headers.push(name, v);
        }
    }
    if let Ok(Some(cs)) = h.cseq() {
        c.headers.push_typed(&CSeq {
            seq: cs.seq,
            method: Method::Cancel,
        });
    }
    for v in h.values(sip_message::HeaderName::Route) {
        let _ = c.headers.push("Route", v);
    }
    c.headers
        .push_typed(&sip_message::headers::ContentLength(0));
    c
}

impl TransactionLayer {
    /// A layer with the given configuration.
    pub fn new(config: LayerConfig) -> Self {
        TransactionLayer {
            rng: Rng::new(config.seed),
            config,
            next_id: 0,
            transactions: BTreeMap::new(),
            index: HashMap::new(),
            merged: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            dropped: 0,
        }
    }

    /// The timer configuration.
    pub fn timers(&self) -> TimerConfig {
        self.config.timers
    }

    /// A fresh RFC 3261 branch (`z9hG4bK` + 32 hex digits).
    pub fn new_branch(&mut self) -> String {
        format!("z9hG4bK{}", self.rng.token())
    }

    /// A fresh tag or Call-ID local part (32 hex digits).
    pub fn new_tag(&mut self) -> String {
        self.rng.token()
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// The state of live transaction `id`.
    pub fn state(&self, id: TransactionId) -> Option<TransactionState> {
        self.transactions.get(&id).map(|e| e.machine.state())
    }

    /// The request of live transaction `id` as sent (client: with the
    /// branch the layer assigned) or received (server INVITE). `None` for
    /// unknown ids and non-INVITE server transactions, which keep only
    /// their responses.
    pub fn request(&self, id: TransactionId) -> Option<&Request> {
        match &self.transactions.get(&id)?.machine {
            Machine::ClientInvite(m) => Some(m.request()),
            Machine::ClientNonInvite(m) => Some(m.request()),
            Machine::ServerInvite(m) => Some(m.request()),
            Machine::ServerNonInvite(_) => None,
        }
    }

    /// Where live transaction `id` sends (client) or answers (server), and
    /// over which transport.
    pub fn peer(&self, id: TransactionId) -> Option<(SocketAddr, &Transport)> {
        self.transactions.get(&id).map(|e| (e.peer, &e.transport))
    }

    /// Transmits and events dropped because a queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The next transmit, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.events.pop_front()
    }

    /// When to call [`TransactionLayer::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.transactions
            .values()
            .filter_map(|e| e.machine.next_timeout())
            .min()
    }

    fn alloc_id(&mut self) -> TransactionId {
        self.next_id += 1;
        TransactionId(self.next_id)
    }

    fn push_transmit(&mut self, t: Transmit) {
        if self.transmits.len() >= self.config.max_queue {
            self.dropped += 1;
            tracing::warn!(dest = %t.dest, "transmit queue full; message dropped");
        } else {
            self.transmits.push_back(t);
        }
    }

    fn push_event(&mut self, e: TransactionEvent) {
        if self.events.len() >= self.config.max_queue {
            self.dropped += 1;
            tracing::warn!(?e, "event queue full; event dropped");
        } else {
            self.events.push_back(e);
        }
    }

    fn queues_full(&self) -> bool {
        self.transmits.len() >= self.config.max_queue || self.events.len() >= self.config.max_queue
    }

    /// Turns a machine's actions into transmits and events.
    fn apply(&mut self, id: TransactionId, actions: Vec<Action>) {
        let Some(e) = self.transactions.get(&id) else {
            return;
        };
        let (peer, transport) = (e.peer, e.transport.clone());
        for a in actions {
            match a {
                Action::Transmit(message) => self.push_transmit(Transmit {
                    dest: peer,
                    transport: transport.clone(),
                    message,
                }),
                Action::Deliver(response) => {
                    self.push_event(TransactionEvent::Response { id, response })
                }
                Action::Timeout => self.push_event(TransactionEvent::Timeout { id }),
                Action::TransportError => self.push_event(TransactionEvent::TransportError { id }),
                Action::Terminated => {
                    if let Some(e) = self.transactions.remove(&id) {
                        self.index.remove(&e.key);
                        if let Some(m) = e.merge {
                            self.merged.remove(&m);
                        }
                    }
                    self.push_event(TransactionEvent::Terminated { id });
                }
            }
        }
    }

    /// Queues a message outside any transaction: the ACK for a 2xx, 2xx
    /// retransmissions after the transaction ended, stateless replies.
    pub fn send_stateless(
        &mut self,
        message: Message,
        dest: SocketAddr,
        transport: Transport,
    ) -> Result<(), LayerError> {
        if self.transmits.len() >= self.config.max_queue {
            return Err(LayerError::QueueFull {
                limit: self.config.max_queue,
            });
        }
        self.transmits.push_back(Transmit {
            dest,
            transport,
            message,
        });
        Ok(())
    }

    /// Starts a client transaction for `req` towards `dest` (already
    /// resolved by the driver, RFC 3263). The request needs a top Via with
    /// the local sent-by; a missing or pre-RFC 3261 branch is replaced with
    /// a fresh one. A CANCEL must keep its INVITE's branch (§9.1).
    pub fn send_request(
        &mut self,
        now: Instant,
        mut req: Request,
        dest: SocketAddr,
        transport: Transport,
    ) -> Result<TransactionId, LayerError> {
        if req.method == Method::Ack {
            return Err(LayerError::AckNeedsNoTransaction);
        }
        if self.transactions.len() >= self.config.max_transactions {
            return Err(LayerError::TooManyTransactions {
                limit: self.config.max_transactions,
            });
        }
        if self.transmits.len() >= self.config.max_queue {
            return Err(LayerError::QueueFull {
                limit: self.config.max_queue,
            });
        }
        let cseq = req
            .headers
            .cseq()?
            .ok_or(LayerError::MissingHeader("CSeq"))?;
        if cseq.method != req.method {
            return Err(LayerError::Header(HeaderError::Syntax {
                header: "CSeq",
                offset: 0,
                expected: "the request method",
            }));
        }
        let mut via = req
            .headers
            .top_via()?
            .ok_or(LayerError::MissingHeader("Via"))?;
        if !via.has_rfc3261_branch() {
            let b = self.new_branch();
            via.params.set("branch", Some(&b));
            replace_top_via(&mut req, &via);
        }
        let key = Key::Client(ClientKey {
            branch: via.branch().unwrap_or_default().to_owned(),
            method: req.method.clone(),
        });
        if self.index.contains_key(&key) {
            return Err(LayerError::DuplicateBranch(
                via.branch().unwrap_or_default().to_owned(),
            ));
        }
        let id = self.alloc_id();
        let reliable = transport.is_reliable();
        let mut out = Vec::new();
        let machine = if req.method == Method::Invite {
            Machine::ClientInvite(ClientInvite::start(
                now,
                req,
                reliable,
                self.config.timers,
                &mut out,
            ))
        } else {
            Machine::ClientNonInvite(ClientNonInvite::start(
                now,
                req,
                reliable,
                self.config.timers,
                &mut out,
            ))
        };
        self.index.insert(key.clone(), id);
        self.transactions.insert(
            id,
            Entry {
                machine,
                peer: dest,
                transport,
                key,
                merge: None,
            },
        );
        self.apply(id, out);
        Ok(id)
    }

    /// Cancels INVITE client transaction `id` (§9.1): sends a CANCEL in its
    /// own transaction to the same destination and returns that id. The TU
    /// should only cancel after a provisional response.
    pub fn cancel(&mut self, now: Instant, id: TransactionId) -> Result<TransactionId, LayerError> {
        let e = self
            .transactions
            .get(&id)
            .ok_or(LayerError::UnknownTransaction(id))?;
        let Machine::ClientInvite(m) = &e.machine else {
            return Err(LayerError::NotClientInvite(id));
        };
        let cancel = build_cancel(m.request());
        let (dest, transport) = (e.peer, e.transport.clone());
        self.send_request(now, cancel, dest, transport)
    }

    /// Answers server transaction `id`. The response goes to the source of
    /// the request.
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        resp: Response,
    ) -> Result<(), LayerError> {
        if self.transmits.len() >= self.config.max_queue {
            return Err(LayerError::QueueFull {
                limit: self.config.max_queue,
            });
        }
        let e = self
            .transactions
            .get_mut(&id)
            .ok_or(LayerError::UnknownTransaction(id))?;
        let mut out = Vec::new();
        match &mut e.machine {
            Machine::ServerInvite(m) => m.send_response(now, resp, &mut out)?,
            Machine::ServerNonInvite(m) => m.send_response(now, resp, &mut out)?,
            _ => return Err(LayerError::NotServerTransaction(id)),
        }
        self.apply(id, out);
        Ok(())
    }

    /// The driver could not send a message of transaction `id` (connection
    /// refused, ICMP unreachable, TLS failure...).
    pub fn transport_error(&mut self, now: Instant, id: TransactionId) {
        let _ = now;
        let Some(e) = self.transactions.get_mut(&id) else {
            tracing::debug!(%id, "transport error for unknown transaction");
            return;
        };
        let mut out = Vec::new();
        e.machine.on_transport_error(&mut out);
        self.apply(id, out);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TransactionId> = self
            .transactions
            .iter()
            .filter(|(_, e)| e.machine.next_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(e) = self.transactions.get_mut(&id) else {
                continue;
            };
            let mut out = Vec::new();
            e.machine.on_timeout(now, &mut out);
            self.apply(id, out);
        }
    }

    /// A complete message arrived from `source` over `transport` (for
    /// streams: one message cut by the framer). Never panics; anything
    /// unmatched or malformed is reported or dropped with a debug line.
    pub fn handle_message(
        &mut self,
        now: Instant,
        msg: Message,
        source: SocketAddr,
        transport: Transport,
    ) {
        if self.queues_full() {
            // Backpressure: the peer retransmits (or TCP holds it).
            self.dropped += 1;
            tracing::warn!(%source, "queues full; incoming message dropped");
            return;
        }
        match msg {
            Message::Request(r) => self.handle_request(now, r, source, transport),
            Message::Response(r) => self.handle_response(now, r, source, transport),
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        resp: Response,
        source: SocketAddr,
        transport: Transport,
    ) {
        let vias = match resp.headers.via() {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(%source, %e, "response with bad Via dropped");
                return;
            }
        };
        // §8.1.3.3: more than one Via means it was not meant for us.
        let [via] = vias.as_slice() else {
            tracing::debug!(%source, n = vias.len(), "response without exactly one Via dropped");
            return;
        };
        let Ok(Some(cseq)) = resp.headers.cseq() else {
            tracing::debug!(%source, "response without CSeq dropped");
            return;
        };
        let key = Key::Client(ClientKey {
            branch: via.branch().unwrap_or_default().to_owned(),
            method: cseq.method.clone(),
        });
        let Some(&id) = self.index.get(&key) else {
            if cseq.method == Method::Invite && resp.status.is_success() {
                self.push_event(TransactionEvent::StrayResponse {
                    response: resp,
                    source,
                    transport,
                });
            } else {
                tracing::debug!(%source, status = %resp.status, "unmatched response dropped");
            }
            return;
        };
        let Some(e) = self.transactions.get_mut(&id) else {
            return;
        };
        let mut out = Vec::new();
        match &mut e.machine {
            Machine::ClientInvite(m) => m.on_response(now, resp, &mut out),
            Machine::ClientNonInvite(m) => m.on_response(now, resp, &mut out),
            _ => return,
        }
        self.apply(id, out);
    }

    fn handle_request(
        &mut self,
        now: Instant,
        mut req: Request,
        source: SocketAddr,
        transport: Transport,
    ) {
        let Some(key) = server_key(&req) else {
            tracing::debug!(%source, "request without usable Via dropped");
            return;
        };
        stamp_via(&mut req, source);

        // Retransmission, or ACK for a non-2xx final response.
        if let Some(id) = self.find_server(&key, &req) {
            let Some(e) = self.transactions.get_mut(&id) else {
                return;
            };
            let mut out = Vec::new();
            match &mut e.machine {
                Machine::ServerInvite(m) => {
                    if req.method == Method::Ack && m.state() == server_invite::State::Accepted {
                        // RFC 2543 peers reuse the INVITE's Via for the
                        // 2xx ACK, so it lands here: hand it up.
                        self.push_event(TransactionEvent::Ack {
                            request: req,
                            source,
                            transport,
                        });
                        return;
                    }
                    m.on_request(now, &req, &mut out);
                }
                Machine::ServerNonInvite(m) => m.on_request(&mut out),
                _ => return,
            }
            self.apply(id, out);
            return;
        }

        match req.method {
            Method::Ack => self.push_event(TransactionEvent::Ack {
                request: req,
                source,
                transport,
            }),
            _ => {
                if missing_core_headers(&req) {
                    tracing::debug!(%source, "request lacking From/To/Call-ID/CSeq: 400");
                    let r = Response::for_request(&req, crate::status(400));
                    let _ = self.send_stateless(r.into(), source, transport);
                    return;
                }
                if self.transactions.len() >= self.config.max_transactions {
                    tracing::warn!(%source, "transaction table full: 503");
                    let mut r = Response::for_request(&req, crate::status(503));
                    let _ = r.headers.push("Retry-After", "5");
                    let _ = self.send_stateless(r.into(), source, transport);
                    return;
                }
                if let Some(other) = merge_key(&req).and_then(|m| self.merged.get(&m)) {
                    tracing::debug!(%source, %other, "merged request (§8.2.2.2): 482");
                    let r = Response::for_request(&req, crate::status(482));
                    let _ = self.send_stateless(r.into(), source, transport);
                    return;
                }
                let is_cancel = req.method == Method::Cancel;
                let id = self.new_server(now, key.clone(), req.clone(), source, transport);
                if is_cancel {
                    self.answer_cancel(now, id, &key, req);
                } else {
                    let transport = self.transactions.get(&id).map(|e| e.transport.clone());
                    if let Some(transport) = transport {
                        self.push_event(TransactionEvent::Request {
                            id,
                            request: req,
                            source,
                            transport,
                        });
                    }
                }
            }
        }
    }

    /// §17.2.3 lookup, with the RFC 2543 ACK rule: the ACK's To tag must be
    /// the tag of the response the transaction sent.
    fn find_server(&self, key: &ServerKey, req: &Request) -> Option<TransactionId> {
        if let Some(id) = self.index.get(&Key::Server(key.clone())) {
            return Some(*id);
        }
        if req.method != Method::Ack {
            return None;
        }
        let id = *self.index.get(&Key::Server(key.without_to_tag()?))?;
        let sent = match &self.transactions.get(&id)?.machine {
            Machine::ServerInvite(m) => m.last_response().and_then(|r| to_tag(&r.headers)),
            _ => None,
        };
        (sent.is_some() && sent == to_tag(&req.headers)).then_some(id)
    }

    fn new_server(
        &mut self,
        now: Instant,
        key: ServerKey,
        req: Request,
        source: SocketAddr,
        transport: Transport,
    ) -> TransactionId {
        let id = self.alloc_id();
        let reliable = transport.is_reliable();
        let merge = merge_key(&req);
        let machine = if req.method == Method::Invite {
            Machine::ServerInvite(ServerInvite::new(now, req, reliable, self.config.timers))
        } else {
            Machine::ServerNonInvite(ServerNonInvite::new(now, reliable, self.config.timers))
        };
        let key = Key::Server(key);
        self.index.insert(key.clone(), id);
        if let Some(m) = &merge {
            self.merged.insert(m.clone(), id);
        }
        self.transactions.insert(
            id,
            Entry {
                machine,
                peer: source,
                transport,
                key,
                merge,
            },
        );
        id
    }

    /// §9.2: 200 to a CANCEL that matches a live INVITE (and tell the TU
    /// if it can still act on it), 481 otherwise.
    fn answer_cancel(
        &mut self,
        now: Instant,
        cancel_id: TransactionId,
        key: &ServerKey,
        cancel: Request,
    ) {
        let invite = self
            .index
            .get(&Key::Server(key.with_method(Method::Invite)))
            .copied();
        let target = invite.and_then(|id| match &self.transactions.get(&id)?.machine {
            Machine::ServerInvite(m) => Some((
                id,
                m.state() == server_invite::State::Proceeding,
                m.last_response().and_then(|r| to_tag(&r.headers)),
            )),
            _ => None,
        });
        let mut resp;
        match &target {
            Some((_, _, tag)) => {
                resp = Response::for_request(&cancel, crate::status(200));
                // §9.2: same To tag as the INVITE's responses.
                let tag = tag.clone().unwrap_or_else(|| self.new_tag());
                if let Ok(Some(mut to)) = resp.headers.to() {
                    if to.tag().is_none() {
                        to.set_tag(&tag);
                        resp.headers.set_typed(&to);
                    }
                }
            }
            None => {
                resp = Response::for_request(&cancel, crate::status(481));
            }
        }
        if let Err(e) = self.send_response(now, cancel_id, resp) {
            tracing::debug!(%e, "could not answer CANCEL");
        }
        if let Some((id, true, _)) = target {
            self.push_event(TransactionEvent::Cancelled { id, cancel });
        }
    }
}

fn missing_core_headers(req: &Request) -> bool {
    let h = &req.headers;
    !matches!(h.from(), Ok(Some(_)))
        || !matches!(h.to(), Ok(Some(_)))
        || !matches!(h.call_id(), Ok(Some(_)))
        || !matches!(h.cseq(), Ok(Some(_)))
}

/// Replaces the topmost Via value, keeping any others on the same line.
fn replace_top_via(req: &mut Request, top: &Via) {
    let Ok(mut all) = req.headers.via() else {
        return;
    };
    if all.is_empty() {
        return;
    }
    all[0] = top.clone();
    req.headers.remove("Via");
    for v in all.iter().rev() {
        req.headers.prepend_typed(v);
    }
}

/// §18.2.1 (and RFC 3581): note where the request really came from.
fn stamp_via(req: &mut Request, source: SocketAddr) {
    let Ok(Some(mut via)) = req.headers.top_via() else {
        return;
    };
    let mut changed = false;
    if via.host.ip() != Some(source.ip()) {
        via.set_received(source.ip());
        changed = true;
    }
    if via.rport() == Some(None) {
        via.set_rport(source.port());
        changed = true;
    }
    if changed {
        replace_top_via(req, &via);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::transaction::test_util::{request, response};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const PEER: &str = "192.0.2.1:5060";

    fn drain(l: &mut TransactionLayer) -> (Vec<Transmit>, Vec<TransactionEvent>) {
        let mut t = Vec::new();
        let mut e = Vec::new();
        while let Some(x) = l.poll_transmit() {
            t.push(x);
        }
        while let Some(x) = l.poll_event() {
            e.push(x);
        }
        (t, e)
    }

    fn status_of(t: &Transmit) -> u16 {
        match &t.message {
            Message::Response(r) => r.status.as_u16(),
            Message::Request(_) => 0,
        }
    }

    fn layer() -> TransactionLayer {
        TransactionLayer::new(LayerConfig::default())
    }

    fn recv(l: &mut TransactionLayer, now: Instant, req: &Request) {
        l.handle_message(now, req.clone().into(), addr(PEER), Transport::Udp);
    }

    fn new_request_id(events: &[TransactionEvent]) -> TransactionId {
        events
            .iter()
            .find_map(|e| match e {
                TransactionEvent::Request { id, .. } => Some(*id),
                _ => None,
            })
            .expect("a Request event")
    }

    #[test]
    fn server_invite_trying_after_200ms_and_retransmission_matching() {
        let mut l = layer();
        let t0 = Instant::now();
        let inv = request("INVITE", "z9hG4bKlayer1");
        recv(&mut l, t0, &inv);
        let (tx, ev) = drain(&mut l);
        assert!(tx.is_empty());
        let id = new_request_id(&ev);
        assert_eq!(l.poll_timeout(), Some(t0 + ms(200)));
        l.handle_timeout(t0 + ms(200));
        let (tx, _) = drain(&mut l);
        assert_eq!(tx.len(), 1);
        assert_eq!(status_of(&tx[0]), 100);
        assert_eq!(tx[0].dest, addr(PEER));
        // Retransmission: same transaction, the 100 is resent, no event.
        recv(&mut l, t0 + ms(500), &inv);
        let (tx, ev) = drain(&mut l);
        assert_eq!(tx.len(), 1);
        assert!(ev.is_empty());
        // Same branch from another sent-by is a different transaction.
        let mut other = inv.clone();
        other.headers.remove("Via");
        other
            .headers
            .push("Via", "SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKlayer1")
            .unwrap();
        // (A different From tag: otherwise it would be a merged request.)
        other.headers.remove("From");
        other
            .headers
            .push("From", "<sip:carol@example.com>;tag=c9")
            .unwrap();
        recv(&mut l, t0 + ms(600), &other);
        let (_, ev) = drain(&mut l);
        assert_ne!(new_request_id(&ev), id);
        assert_eq!(l.len(), 2);
        assert_eq!(l.state(id), Some(TransactionState::Proceeding));
    }

    #[test]
    fn non_2xx_ack_absorbed_2xx_ack_surfaces() {
        let mut l = layer();
        let t0 = Instant::now();
        let inv = request("INVITE", "z9hG4bKa1");
        recv(&mut l, t0, &inv);
        let id = new_request_id(&drain(&mut l).1);
        l.send_response(t0, id, response(&inv, 486)).unwrap();
        drain(&mut l);
        let ack = request("ACK", "z9hG4bKa1");
        recv(&mut l, t0 + ms(10), &ack);
        let (tx, ev) = drain(&mut l);
        assert!(tx.is_empty() && ev.is_empty(), "ACK absorbed: {ev:?}");
        // An ACK with a new branch (the ACK for a 2xx) goes up.
        let ack2 = request("ACK", "z9hG4bKa2");
        recv(&mut l, t0 + ms(20), &ack2);
        let (_, ev) = drain(&mut l);
        assert!(matches!(&ev[..], [TransactionEvent::Ack { .. }]));
    }

    #[test]
    fn rfc2543_fallback_matches_retransmissions_and_ack() {
        let mut l = layer();
        let t0 = Instant::now();
        let inv = request("INVITE", "oldstyle1");
        recv(&mut l, t0, &inv);
        let id = new_request_id(&drain(&mut l).1);
        recv(&mut l, t0 + ms(10), &inv);
        assert!(drain(&mut l).1.is_empty(), "retransmission matched");
        l.send_response(t0, id, response(&inv, 404)).unwrap();
        drain(&mut l);
        // ACK: same Via, To carries the response's tag (b1).
        let mut ack = request("ACK", "oldstyle1");
        let mut to = ack.headers.to().unwrap().unwrap();
        to.set_tag("b1");
        ack.headers.set_typed(&to);
        recv(&mut l, t0 + ms(20), &ack);
        let (tx, ev) = drain(&mut l);
        assert!(tx.is_empty() && ev.is_empty(), "{ev:?}");
        // Wrong To tag: not ours, surfaces as a stray ACK.
        to.set_tag("zz");
        ack.headers.set_typed(&to);
        recv(&mut l, t0 + ms(30), &ack);
        assert!(matches!(
            &drain(&mut l).1[..],
            [TransactionEvent::Ack { .. }]
        ));
    }

    #[test]
    fn cancel_matching() {
        let mut l = layer();
        let t0 = Instant::now();
        let inv = request("INVITE", "z9hG4bKc1");
        recv(&mut l, t0, &inv);
        let id = new_request_id(&drain(&mut l).1);
        l.send_response(t0, id, response(&inv, 180)).unwrap();
        drain(&mut l);
        let cancel = build_cancel(&inv);
        recv(&mut l, t0 + ms(50), &cancel);
        let (tx, ev) = drain(&mut l);
        assert_eq!(tx.len(), 1);
        assert_eq!(status_of(&tx[0]), 200);
        let Message::Response(r) = &tx[0].message else {
            panic!()
        };
        assert_eq!(
            r.headers.to().unwrap().unwrap().tag(),
            Some("b1"),
            "same To tag as the 180"
        );
        assert!(ev
            .iter()
            .any(|e| matches!(e, TransactionEvent::Cancelled { id: x, .. } if *x == id)));
        // Unknown INVITE: 481.
        let cancel2 = build_cancel(&request("INVITE", "z9hG4bKnone"));
        recv(&mut l, t0 + ms(60), &cancel2);
        let (tx, ev) = drain(&mut l);
        assert_eq!(status_of(&tx[0]), 481);
        assert!(!ev
            .iter()
            .any(|e| matches!(e, TransactionEvent::Cancelled { .. })));
    }

    #[test]
    fn client_matching_by_branch_and_method_and_stray_2xx() {
        let mut l = layer();
        let t0 = Instant::now();
        let mut inv = request("INVITE", "z9hG4bKcl");
        inv.headers.remove("Via");
        inv.headers
            .push("Via", "SIP/2.0/UDP 192.0.2.5:5060")
            .unwrap();
        let id = l.send_request(t0, inv, addr(PEER), Transport::Udp).unwrap();
        let (tx, _) = drain(&mut l);
        let Message::Request(sent) = &tx[0].message else {
            panic!()
        };
        let branch = sent.headers.top_via().unwrap().unwrap();
        assert!(branch.has_rfc3261_branch(), "branch assigned");
        assert_eq!(l.request(id), Some(sent));
        assert_eq!(l.peer(id), Some((addr(PEER), &Transport::Udp)));
        // A CANCEL shares the branch but is another transaction.
        let cid = l.cancel(t0 + ms(10), id).unwrap();
        assert_ne!(cid, id);
        let (tx, _) = drain(&mut l);
        let Message::Request(c) = &tx[0].message else {
            panic!()
        };
        l.handle_message(
            t0 + ms(20),
            response(c, 200).into(),
            addr(PEER),
            Transport::Udp,
        );
        let (_, ev) = drain(&mut l);
        assert!(
            matches!(&ev[0], TransactionEvent::Response { id: x, .. } if *x == cid),
            "{ev:?}"
        );
        l.handle_message(
            t0 + ms(30),
            response(sent, 487).into(),
            addr(PEER),
            Transport::Udp,
        );
        let (tx, ev) = drain(&mut l);
        assert_eq!(tx.len(), 1, "ACK for the 487");
        assert!(matches!(&ev[0], TransactionEvent::Response { id: x, .. } if *x == id));
        // A 2xx to an unknown INVITE becomes a StrayResponse.
        let other = request("INVITE", "z9hG4bKgone");
        l.handle_message(
            t0 + ms(40),
            response(&other, 200).into(),
            addr(PEER),
            Transport::Udp,
        );
        assert!(matches!(
            &drain(&mut l).1[..],
            [TransactionEvent::StrayResponse { .. }]
        ));
        // Non-2xx unmatched and multi-Via responses are dropped.
        let mut r = response(&other, 404);
        l.handle_message(t0, r.clone().into(), addr(PEER), Transport::Udp);
        r.headers
            .push("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx")
            .unwrap();
        r.status = crate::status(200);
        l.handle_message(t0, r.into(), addr(PEER), Transport::Udp);
        assert_eq!(drain(&mut l), (vec![], vec![]));
    }

    #[test]
    fn received_and_rport_are_stamped() {
        let mut l = layer();
        let t0 = Instant::now();
        let mut req = request("OPTIONS", "z9hG4bKrp");
        req.headers.remove("Via");
        req.headers
            .push("Via", "SIP/2.0/UDP host.invalid;rport;branch=z9hG4bKrp")
            .unwrap();
        l.handle_message(t0, req.into(), addr("203.0.113.7:4000"), Transport::Udp);
        let (_, ev) = drain(&mut l);
        let TransactionEvent::Request { request, .. } = &ev[0] else {
            panic!()
        };
        let v = request.headers.top_via().unwrap().unwrap();
        assert_eq!(v.received(), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(v.rport(), Some(Some(4000)));
    }

    #[test]
    fn caps_and_errors() {
        let mut l = TransactionLayer::new(LayerConfig {
            max_transactions: 2,
            max_queue: 3,
            ..LayerConfig::default()
        });
        let t0 = Instant::now();
        recv(&mut l, t0, &request("OPTIONS", "z9hG4bK1"));
        recv(&mut l, t0, &request("OPTIONS", "z9hG4bK2"));
        drain(&mut l);
        recv(&mut l, t0, &request("OPTIONS", "z9hG4bK3"));
        let (tx, ev) = drain(&mut l);
        assert_eq!(status_of(&tx[0]), 503);
        assert!(ev.is_empty());
        assert_eq!(
            l.send_request(t0, request("BYE", "z9hG4bK4"), addr(PEER), Transport::Udp),
            Err(LayerError::TooManyTransactions { limit: 2 })
        );
        assert_eq!(
            l.send_request(t0, request("ACK", "z9hG4bK4"), addr(PEER), Transport::Udp),
            Err(LayerError::AckNeedsNoTransaction)
        );
        // Queue limit: further input is refused instead of growing.
        for i in 0..5 {
            let _ = l.send_stateless(
                request("ACK", &format!("z9hG4bKq{i}")).into(),
                addr(PEER),
                Transport::Udp,
            );
        }
        assert_eq!(l.transmits.len(), 3);
        recv(&mut l, t0, &request("OPTIONS", "z9hG4bK1"));
        assert!(l.dropped() > 0);
        let bogus = TransactionId(999);
        assert_eq!(
            l.send_response(t0, bogus, response(&request("BYE", "x"), 200)),
            Err(LayerError::QueueFull { limit: 3 })
        );
        drain(&mut l);
        assert_eq!(
            l.send_response(t0, bogus, response(&request("BYE", "x"), 200)),
            Err(LayerError::UnknownTransaction(bogus))
        );
        l.transport_error(t0, bogus);
    }

    #[test]
    fn malformed_requests_do_not_panic() {
        let mut l = layer();
        let t0 = Instant::now();
        let mut req = request("OPTIONS", "z9hG4bKm");
        req.headers.remove("Call-ID");
        recv(&mut l, t0, &req);
        let (tx, ev) = drain(&mut l);
        assert_eq!(status_of(&tx[0]), 400);
        assert!(ev.is_empty());
        req.headers.remove("Via");
        recv(&mut l, t0, &req);
        assert_eq!(drain(&mut l), (vec![], vec![]));
    }

    #[test]
    fn client_timeout_and_transport_error_events() {
        let mut l = layer();
        let t0 = Instant::now();
        let id = l
            .send_request(
                t0,
                request("OPTIONS", "z9hG4bKto"),
                addr(PEER),
                Transport::Tcp,
            )
            .unwrap();
        drain(&mut l);
        assert_eq!(l.poll_timeout(), Some(t0 + ms(32_000)), "TCP: only F");
        l.handle_timeout(t0 + ms(32_000));
        let (_, ev) = drain(&mut l);
        assert_eq!(
            ev,
            [
                TransactionEvent::Timeout { id },
                TransactionEvent::Terminated { id }
            ]
        );
        assert!(l.is_empty());
        let id = l
            .send_request(
                t0,
                request("OPTIONS", "z9hG4bKte"),
                addr(PEER),
                Transport::Tcp,
            )
            .unwrap();
        l.transport_error(t0, id);
        let (_, ev) = drain(&mut l);
        assert_eq!(
            ev,
            [
                TransactionEvent::TransportError { id },
                TransactionEvent::Terminated { id }
            ]
        );
        assert_eq!(l.poll_timeout(), None);
    }

    /// Runs `l` on its own timers until `until`, logging (ms, what).
    fn timeline(l: &mut TransactionLayer, t0: Instant, until: Duration) -> Vec<(u128, String)> {
        let mut log = Vec::new();
        while let Some(at) = l.poll_timeout() {
            if at > t0 + until {
                break;
            }
            l.handle_timeout(at);
            let (tx, ev) = drain(l);
            let ms = (at - t0).as_millis();
            for t in tx {
                let what = match &t.message {
                    Message::Request(r) => r.method.to_string(),
                    Message::Response(r) => r.status.to_string(),
                };
                log.push((ms, what));
            }
            for e in ev {
                let what = match e {
                    TransactionEvent::Timeout { .. } => "Timeout",
                    TransactionEvent::Terminated { .. } => "Terminated",
                    _ => "other",
                };
                log.push((ms, what.to_owned()));
            }
        }
        log
    }

    fn fast_layer() -> TransactionLayer {
        TransactionLayer::new(LayerConfig {
            timers: TimerConfig::new(ms(100), ms(400), ms(1000)).unwrap(),
            ..LayerConfig::default()
        })
    }

    fn at(log: &[(u128, String)], what: &str) -> Vec<u128> {
        log.iter()
            .filter(|(_, w)| w == what)
            .map(|(t, _)| *t)
            .collect()
    }

    #[test]
    fn configured_t1_t2_t4_drive_client_timers() {
        let t0 = Instant::now();
        // INVITE: A doubles without cap, B = 64*T1 = 6.4 s.
        let mut l = fast_layer();
        l.send_request(
            t0,
            request("INVITE", "z9hG4bKa"),
            addr(PEER),
            Transport::Udp,
        )
        .unwrap();
        drain(&mut l);
        let log = timeline(&mut l, t0, Duration::from_secs(60));
        assert_eq!(at(&log, "INVITE"), [100, 300, 700, 1500, 3100, 6300]);
        assert_eq!(at(&log, "Timeout"), [6400]);
        assert_eq!(at(&log, "Terminated"), [6400]);

        // Non-INVITE: E doubles up to T2 = 400 ms, F = 6.4 s.
        let mut l = fast_layer();
        l.send_request(
            t0,
            request("OPTIONS", "z9hG4bKe"),
            addr(PEER),
            Transport::Udp,
        )
        .unwrap();
        drain(&mut l);
        let log = timeline(&mut l, t0, Duration::from_secs(60));
        let e = at(&log, "OPTIONS");
        assert_eq!(&e[..5], [100, 300, 700, 1100, 1500]);
        assert_eq!(*e.last().unwrap(), 6300);
        assert_eq!(at(&log, "Timeout"), [6400]);

        // Timer D stays >= 32 s even with a short T1; Timer K = T4.
        let mut l = fast_layer();
        let inv = request("INVITE", "z9hG4bKd");
        l.send_request(t0, inv.clone(), addr(PEER), Transport::Udp)
            .unwrap();
        l.handle_message(
            t0 + ms(50),
            response(&inv, 404).into(),
            addr(PEER),
            Transport::Udp,
        );
        drain(&mut l);
        assert_eq!(
            l.poll_timeout(),
            Some(t0 + ms(50) + Duration::from_secs(32))
        );
        let mut l = fast_layer();
        let bye = request("BYE", "z9hG4bKk");
        l.send_request(t0, bye.clone(), addr(PEER), Transport::Udp)
            .unwrap();
        l.handle_message(
            t0 + ms(50),
            response(&bye, 200).into(),
            addr(PEER),
            Transport::Udp,
        );
        drain(&mut l);
        assert_eq!(l.poll_timeout(), Some(t0 + ms(1050)));
    }

    #[test]
    fn configured_t1_t2_t4_drive_server_timers() {
        let t0 = Instant::now();
        // INVITE answered 486, ACK lost: G doubles to T2, H = 6.4 s.
        let mut l = fast_layer();
        let inv = request("INVITE", "z9hG4bKg");
        recv(&mut l, t0, &inv);
        let id = new_request_id(&drain(&mut l).1);
        l.send_response(t0, id, response(&inv, 486)).unwrap();
        drain(&mut l);
        let log = timeline(&mut l, t0, Duration::from_secs(60));
        let g = at(&log, "486");
        assert_eq!(&g[..5], [100, 300, 700, 1100, 1500]);
        assert_eq!(at(&log, "Timeout"), [6400]);

        // With the ACK: Confirmed, then Timer I = T4.
        let mut l = fast_layer();
        recv(&mut l, t0, &inv);
        let id = new_request_id(&drain(&mut l).1);
        l.send_response(t0, id, response(&inv, 486)).unwrap();
        recv(&mut l, t0 + ms(150), &request("ACK", "z9hG4bKg"));
        drain(&mut l);
        assert_eq!(l.state(id), Some(TransactionState::Confirmed));
        // A late INVITE retransmission in Confirmed is absorbed.
        recv(&mut l, t0 + ms(500), &inv);
        assert_eq!(drain(&mut l), (vec![], vec![]));
        let log = timeline(&mut l, t0, Duration::from_secs(60));
        assert_eq!(log, [(1150, "Terminated".to_owned())]);

        // 2xx: Accepted until L = 64*T1.
        let mut l = fast_layer();
        recv(&mut l, t0, &inv);
        let id = new_request_id(&drain(&mut l).1);
        l.send_response(t0 + ms(10), id, response(&inv, 200))
            .unwrap();
        drain(&mut l);
        assert_eq!(l.state(id), Some(TransactionState::Accepted));
        let log = timeline(&mut l, t0, Duration::from_secs(60));
        assert_eq!(log, [(6410, "Terminated".to_owned())]);

        // Non-INVITE: J = 64*T1 over UDP, zero over TCP.
        let mut l = fast_layer();
        let opt = request("OPTIONS", "z9hG4bKj");
        recv(&mut l, t0, &opt);
        let id = new_request_id(&drain(&mut l).1);
        l.send_response(t0, id, response(&opt, 200)).unwrap();
        drain(&mut l);
        assert_eq!(
            timeline(&mut l, t0, Duration::from_secs(60)),
            [(6400, "Terminated".to_owned())]
        );
        let mut l = fast_layer();
        l.handle_message(t0, opt.clone().into(), addr(PEER), Transport::Tcp);
        let id = new_request_id(&drain(&mut l).1);
        l.send_response(t0, id, response(&opt, 200)).unwrap();
        let (_, ev) = drain(&mut l);
        assert_eq!(ev, [TransactionEvent::Terminated { id }]);
    }

    #[test]
    fn late_responses_after_termination() {
        let t0 = Instant::now();
        let mut l = layer();
        let opt = request("OPTIONS", "z9hG4bKlate");
        let id = l
            .send_request(t0, opt.clone(), addr(PEER), Transport::Udp)
            .unwrap();
        l.handle_message(
            t0 + ms(10),
            response(&opt, 200).into(),
            addr(PEER),
            Transport::Udp,
        );
        drain(&mut l);
        // Retransmitted 200 while Completed: absorbed.
        l.handle_message(
            t0 + ms(900),
            response(&opt, 200).into(),
            addr(PEER),
            Transport::Udp,
        );
        assert_eq!(drain(&mut l), (vec![], vec![]));
        l.handle_timeout(t0 + ms(5010));
        let (_, ev) = drain(&mut l);
        assert_eq!(ev, [TransactionEvent::Terminated { id }]);
        // After Timer K: unmatched, dropped.
        l.handle_message(
            t0 + ms(6000),
            response(&opt, 200).into(),
            addr(PEER),
            Transport::Udp,
        );
        assert_eq!(drain(&mut l), (vec![], vec![]));
    }

    #[test]
    fn merged_request_gets_482() {
        let t0 = Instant::now();
        let mut l = layer();
        let inv = request("INVITE", "z9hG4bKpath1");
        recv(&mut l, t0, &inv);
        let id = new_request_id(&drain(&mut l).1);
        // The same request forked back to us along another path.
        let mut copy = inv.clone();
        copy.headers.remove("Via");
        copy.headers
            .push("Via", "SIP/2.0/UDP proxy2.example.com;branch=z9hG4bKpath2")
            .unwrap();
        recv(&mut l, t0 + ms(5), &copy);
        let (tx, ev) = drain(&mut l);
        assert_eq!(tx.len(), 1);
        assert_eq!(status_of(&tx[0]), 482);
        assert!(ev.is_empty());
        // Once the first transaction is gone, the key is free again.
        l.send_response(t0, id, response(&inv, 200)).unwrap();
        l.handle_timeout(t0 + ms(40_000));
        drain(&mut l);
        assert!(l.is_empty());
        assert!(l.merged.is_empty());
        recv(&mut l, t0 + ms(40_001), &copy);
        new_request_id(&drain(&mut l).1);
    }
}

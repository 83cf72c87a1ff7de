//! The SIP driver: one tokio task owns the sans-IO [`TransactionLayer`],
//! the transports and the timer, and runs the loop
//!
//! ```text
//!   ┌──────────────── select ─────────────────┐
//!   │ network message ─> layer.handle_message │
//!   │ command         ─> layer.send_request / │
//!   │                    send_response        │
//!   │ timer fired     ─> layer.handle_timeout │
//!   └──────────────────────────────────────────┘
//!        then drain layer.poll_transmit() ─> sockets
//!             and layer.poll_event()    ─> callers / event queue
//!        and sleep until layer.poll_timeout()
//! ```
//! Nothing else touches the protocol state; [`Endpoint`] handles only
//! send commands. A request is tried against its RFC 3263 targets in
//! order: a transport error or a timeout (Timer B/F) before any response
//! moves it to the next target with a fresh branch (RFC 3263 §4.3).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use sip_core::{
    LayerConfig, LayerError, TimerConfig, TransactionEvent, TransactionId, TransactionLayer,
    Transmit,
};
use sip_message::headers::Via;
use sip_message::{Host, Message, Request, Response};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::dns::Target;
use crate::trace::{SipTrace, TraceDirection};
use crate::transport::{
    ConnId, Proto, TransportConfig, TransportError, TransportEvent, Transports,
    UDP_SWITCH_THRESHOLD,
};

/// Commands waiting for the driver; bounded so callers feel backpressure.
const COMMAND_QUEUE: usize = 256;
/// Events waiting for the user of the endpoint.
const EVENT_QUEUE: usize = 1024;

/// Errors of [`Endpoint`] calls.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Binding the sockets failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The transaction layer refused (full, malformed request, ...).
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// Every target timed out (Timer B/F) without a response.
    #[error("no response from {0}")]
    Timeout(String),
    /// Every target failed at the transport level.
    #[error("cannot reach {target}: {reason}")]
    Unreachable {
        /// The last target tried.
        target: String,
        /// The last transport error.
        reason: String,
    },
    /// No target to send to.
    #[error("no destination to send the request to")]
    NoTargets,
    /// The driver has stopped.
    #[error("the SIP endpoint has stopped")]
    Stopped,
    /// The caller stopped waiting for the answer (the call is hanging
    /// up); the transaction runs on without it.
    #[error("no longer waited for: the call is ending")]
    Abandoned,
}

/// How an endpoint is set up.
#[derive(Clone)]
pub struct EndpointConfig {
    /// Sockets.
    pub transport: TransportConfig,
    /// T1, T2, T4.
    pub timers: TimerConfig,
}

/// What arrives for the user of the endpoint.
#[derive(Debug)]
pub enum EndpointEvent {
    /// A new request; answer with [`Endpoint::respond`].
    Request {
        /// Its server transaction.
        id: TransactionId,
        /// The request.
        request: Request,
        /// Where it came from.
        source: SocketAddr,
        /// Over what.
        proto: Proto,
    },
    /// A CANCEL matched INVITE transaction `id` (already answered 200).
    Cancelled {
        /// The INVITE's server transaction.
        id: TransactionId,
    },
    /// An ACK for a 2xx (belongs to a dialog).
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: SocketAddr,
    },
    /// A 2xx retransmission no transaction claimed: re-send the ACK.
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        source: SocketAddr,
    },
    /// Server transaction `id` (a request we were answering) ended
    /// without completing: a timeout (Timer H: our final response was
    /// never acknowledged; or the 300 s guard: no final response in
    /// time) or its response could not be sent. Whoever owns the request
    /// (e.g. a ringing call) must not wait for it any longer.
    TransactionFailed {
        /// The server transaction.
        id: TransactionId,
        /// A timer fired (else a transport error).
        timed_out: bool,
    },
}

/// The path a request's final response came back on (an RFC 5626 flow):
/// the target the request went to in the end (after failover, or the
/// switch from UDP to TCP for size) and, over TCP/TLS, the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Where the request went.
    pub target: Target,
    /// The stream connection the response came on (`None` on UDP).
    pub conn: Option<ConnId>,
}

enum Command {
    Request {
        request: Request,
        targets: Vec<Target>,
        provisional: Option<mpsc::Sender<Response>>,
        reply: oneshot::Sender<Result<Response, EndpointError>>,
        /// Lets the caller CANCEL it later ([`ClientInvite::cancel`]).
        token: Option<u64>,
        /// Told which flow the final response came on.
        flow: Option<oneshot::Sender<Flow>>,
    },
    Cancel {
        token: u64,
    },
    Respond {
        id: TransactionId,
        response: Response,
        reply: oneshot::Sender<Result<(), EndpointError>>,
    },
    Stateless {
        message: Message,
        target: Target,
        reply: oneshot::Sender<Result<(), EndpointError>>,
    },
}

/// A handle to a running SIP driver.
#[derive(Clone)]
pub struct Endpoint {
    commands: mpsc::Sender<Command>,
    transports: Transports,
    learned: Learned,
}

/// Our address as peers see it, per transport (RFC 3581 `received` and
/// `rport` in responses): behind NAT this, not the socket's address, is
/// what a Contact must carry for requests to reach us.
type Learned = std::sync::Arc<std::sync::Mutex<HashMap<Proto, SocketAddr>>>;

impl Endpoint {
    /// Binds the transports and starts the driver task.
    pub async fn start(
        config: EndpointConfig,
    ) -> Result<(Self, mpsc::Receiver<EndpointEvent>), EndpointError> {
        Self::start_traced(config, None).await
    }

    /// As [`Endpoint::start`], recording every message sent and received
    /// into `trace`.
    pub async fn start_traced(
        config: EndpointConfig,
        trace: Option<SipTrace>,
    ) -> Result<(Self, mpsc::Receiver<EndpointEvent>), EndpointError> {
        let (transports, net) = Transports::bind(config.transport.clone()).await?;
        let (commands, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (events, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let layer = TransactionLayer::new(LayerConfig {
            timers: config.timers,
            seed: crate::util::os_seed(),
            ..LayerConfig::default()
        });
        let learned = Learned::default();
        let driver = Driver {
            learned: learned.clone(),
            layer,
            transports: transports.clone(),
            events,
            pending: HashMap::new(),
            branches: HashMap::new(),
            trace,
        };
        tokio::spawn(driver.run(net, cmd_rx));
        Ok((
            Self {
                commands,
                transports,
                learned,
            },
            ev_rx,
        ))
    }

    /// Where the endpoint listens for `proto`.
    pub fn local_addr(&self, proto: Proto) -> Option<SocketAddr> {
        self.transports.local_addr(proto)
    }

    /// TLS connections to `dest` must present a certificate for `domain`
    /// (RFC 5922), e.g. the registrar's domain it was resolved from.
    pub fn set_tls_domain(&self, dest: SocketAddr, domain: &str) {
        self.transports.set_tls_domain(dest, domain);
    }

    /// An RFC 5626 keep-alive to `target`: on streams a ping that must be
    /// answered by a pong (an error means the flow is dead and has been
    /// closed); on UDP a CRLFCRLF datagram that keeps NAT bindings open.
    pub async fn keep_alive(&self, target: &Target) -> Result<(), EndpointError> {
        Ok(self.transports.ping(target.addr, target.proto).await?)
    }

    /// An RFC 5626 keep-alive on `flow` only: over TCP/TLS a ping on its
    /// connection (an error when that connection is gone or no pong
    /// comes: the flow is dead, never silently replaced by a new one);
    /// on UDP a CRLFCRLF datagram to its target.
    pub async fn keep_alive_flow(&self, flow: &Flow) -> Result<(), EndpointError> {
        match flow.conn {
            Some(conn) => Ok(self.transports.ping_conn(conn).await?),
            None if flow.target.proto.is_reliable() => Err(TransportError::ConnectionGone.into()),
            None => Ok(self
                .transports
                .keep_alive(flow.target.addr, flow.target.proto)
                .await?),
        }
    }

    /// Resolves when `flow`'s connection closes (peer gone, error, dead
    /// keep-alive); never for a UDP flow, which has no connection.
    pub async fn flow_closed(&self, flow: &Flow) {
        match flow.conn {
            Some(conn) => self.transports.closed(conn).await,
            None => std::future::pending().await,
        }
    }

    /// Our address as the last responding peer saw it over `proto`
    /// (RFC 3581), if a response has told us.
    pub fn public_addr(&self, proto: Proto) -> Option<SocketAddr> {
        self.learned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&proto)
            .copied()
    }

    /// A Via for a request we send to `target`: our address as the
    /// target sees it, `rport` asked for (RFC 3581). The branch is filled
    /// in by the transaction layer.
    pub fn via_for(&self, target: &Target) -> Via {
        via_for(&self.transports, target)
    }

    /// Sends `request` (without a Via: the driver adds it per target) and
    /// waits for its final response, trying `targets` in order.
    pub async fn request(
        &self,
        request: Request,
        targets: Vec<Target>,
    ) -> Result<Response, EndpointError> {
        self.request_with_provisional(request, targets, None).await
    }

    /// As [`Endpoint::request`], also saying which flow the final
    /// response came on (e.g. a REGISTER's, to keep that flow alive).
    pub async fn request_on_flow(
        &self,
        request: Request,
        targets: Vec<Target>,
    ) -> Result<(Response, Flow), EndpointError> {
        let (reply, rx) = oneshot::channel();
        let (flow_tx, flow_rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                request,
                targets,
                provisional: None,
                reply,
                token: None,
                flow: Some(flow_tx),
            })
            .await
            .map_err(|_| EndpointError::Stopped)?;
        let response = rx.await.map_err(|_| EndpointError::Stopped)??;
        // Sent just before the response, by the same task.
        let flow = flow_rx.await.map_err(|_| EndpointError::Stopped)?;
        Ok((response, flow))
    }

    /// As [`Endpoint::request`], passing 1xx responses to `provisional`.
    pub async fn request_with_provisional(
        &self,
        request: Request,
        targets: Vec<Target>,
        provisional: Option<mpsc::Sender<Response>>,
    ) -> Result<Response, EndpointError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                request,
                targets,
                provisional,
                reply,
                token: None,
                flow: None,
            })
            .await
            .map_err(|_| EndpointError::Stopped)?;
        rx.await.map_err(|_| EndpointError::Stopped)?
    }

    /// Sends an INVITE and returns at once: provisional responses and the
    /// final one arrive on the handle, which can also CANCEL it (§9.1).
    /// Further 2xx (retransmissions, other forks) arrive as
    /// [`EndpointEvent::StrayResponse`], so the dialog can ACK each.
    pub async fn invite(
        &self,
        request: Request,
        targets: Vec<Target>,
    ) -> Result<ClientInvite, EndpointError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let token = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (reply, fin) = oneshot::channel();
        let (ptx, provisional) = mpsc::channel(16);
        self.commands
            .send(Command::Request {
                request,
                targets,
                provisional: Some(ptx),
                reply,
                token: Some(token),
                flow: None,
            })
            .await
            .map_err(|_| EndpointError::Stopped)?;
        Ok(ClientInvite {
            provisional,
            fin,
            token,
            commands: self.commands.clone(),
        })
    }

    /// Answers server transaction `id`.
    pub async fn respond(
        &self,
        id: TransactionId,
        response: Response,
    ) -> Result<(), EndpointError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Respond {
                id,
                response,
                reply,
            })
            .await
            .map_err(|_| EndpointError::Stopped)?;
        rx.await.map_err(|_| EndpointError::Stopped)?
    }

    /// Sends a message outside any transaction (an ACK for a 2xx).
    pub async fn send_stateless(
        &self,
        message: Message,
        target: Target,
    ) -> Result<(), EndpointError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Stateless {
                message,
                target,
                reply,
            })
            .await
            .map_err(|_| EndpointError::Stopped)?;
        rx.await.map_err(|_| EndpointError::Stopped)?
    }
}

/// An INVITE in flight (see [`Endpoint::invite`]).
pub struct ClientInvite {
    /// 1xx responses (bounded; a flood of them is dropped, not queued).
    pub provisional: mpsc::Receiver<Response>,
    /// The first final response, or why there is none.
    pub fin: oneshot::Receiver<Result<Response, EndpointError>>,
    token: u64,
    commands: mpsc::Sender<Command>,
}

impl ClientInvite {
    /// Sends a CANCEL for the INVITE (only once a provisional response
    /// came, §9.1; the INVITE then ends with 487).
    pub async fn cancel(&self) -> Result<(), EndpointError> {
        self.commands
            .send(Command::Cancel { token: self.token })
            .await
            .map_err(|_| EndpointError::Stopped)
    }
}

/// A client request in flight, with the targets not yet tried.
struct Pending {
    request: Request,
    target: Target,
    remaining: VecDeque<Target>,
    answered: bool,
    provisional: Option<mpsc::Sender<Response>>,
    reply: Option<oneshot::Sender<Result<Response, EndpointError>>>,
    last_error: Option<String>,
    /// The stream connection the current attempt went out on.
    conn: Option<ConnId>,
    /// The stream connection a response came back on.
    response_conn: Option<ConnId>,
    /// Who wants to know the flow of the final response.
    flow: Option<oneshot::Sender<Flow>>,
    /// The caller's handle for CANCEL.
    token: Option<u64>,
    /// The request is an INVITE (its extra 2xx go to the dialog).
    invite: bool,
}

struct Driver {
    learned: Learned,
    layer: TransactionLayer,
    transports: Transports,
    events: mpsc::Sender<EndpointEvent>,
    pending: HashMap<TransactionId, Pending>,
    /// Client branch -> transaction, to pin send failures.
    branches: HashMap<String, TransactionId>,
    /// Where every message sent and received is recorded (the SIP trace
    /// view); this driver is the one place all of them pass.
    trace: Option<SipTrace>,
}

impl Driver {
    async fn run(
        mut self,
        mut net: mpsc::Receiver<TransportEvent>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        loop {
            self.flush();
            let wake = self.layer.poll_timeout();
            tokio::select! {
                            ev = net.recv() => match ev {
                                Some(TransportEvent::Message(inc)) => {
                                    let inc = *inc;
                                    self.trace(TraceDirection::Received, inc.proto, inc.source, &inc.message);
                                    self.note_response_conn(&inc);
                                    self.layer.handle_message(Instant::now(), inc.message, inc.source, inc.proto.to_via());
                                }
            Some(TransportEvent::Closed { conn, peer, reason }) => {
                                    debug!(?conn, %peer, %reason, "connection closed");
                                    // Requests waiting on that connection will get no
                                    // answer over it: fail them now (and fail over)
                                    // instead of waiting for Timer B/F.
                                    let waiting: Vec<TransactionId> = self
                                        .pending
                                        .iter()
                                        .filter(|(_, p)| p.conn == Some(conn) && !p.answered)
                                        .map(|(id, _)| *id)
                                        .collect();
                                    for id in waiting {
                                        if let Some(p) = self.pending.get_mut(&id) {
                                            p.last_error = Some(format!("connection closed: {reason}"));
                                        }
                                        self.layer.transport_error(Instant::now(), id);
                                    }
                                }
                                Some(TransportEvent::Pong { .. }) => {}
                                None => return,
                            },
                            cmd = commands.recv() => match cmd {
                                Some(cmd) => self.command(cmd),
                                None => {
                                    debug!("every endpoint handle dropped; driver stopping");
                                    return;
                                }
                            },
                            () = crate::util::sleep_until(wake) => self.layer.handle_timeout(Instant::now()),
                        }
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Cancel { token } => {
                let id = self
                    .pending
                    .iter()
                    .find(|(_, p)| p.token == Some(token))
                    .map(|(id, _)| *id);
                if let Some(id) = id {
                    if let Err(e) = self.layer.cancel(Instant::now(), id) {
                        debug!("cannot cancel: {e}");
                    }
                }
            }
            Command::Request {
                request,
                targets,
                provisional,
                reply,
                token,
                flow,
            } => {
                let mut remaining: VecDeque<Target> = targets.into();
                let Some(target) = remaining.pop_front() else {
                    let _ = reply.send(Err(EndpointError::NoTargets));
                    return;
                };
                let invite = request.method == sip_message::Method::Invite;
                let p = Pending {
                    request,
                    target,
                    remaining,
                    answered: false,
                    provisional,
                    reply: Some(reply),
                    last_error: None,
                    conn: None,
                    response_conn: None,
                    flow,
                    token,
                    invite,
                };
                self.start(p);
            }
            Command::Respond {
                id,
                response,
                reply,
            } => {
                let _ = reply.send(
                    self.layer
                        .send_response(Instant::now(), id, response)
                        .map_err(Into::into),
                );
            }
            Command::Stateless {
                message,
                target,
                reply,
            } => {
                let _ = reply.send(
                    self.layer
                        .send_stateless(message, target.addr, target.proto.to_via())
                        .map_err(Into::into),
                );
            }
        }
    }

    /// Starts a transaction for `p` towards `p.target`, moving on to the
    /// next target when the layer refuses.
    fn start(&mut self, mut p: Pending) {
        loop {
            let mut req = p.request.clone();
            let mut target = p.target;
            // A UA's request carries exactly one Via, ours, for the
            // target actually used (dialog builders put a placeholder).
            req.headers.remove("Via");
            let branch = self.layer.new_branch();
            let mut with_via = req.clone();
            let mut via = via_for(&self.transports, &target);
            via.params.set("branch", Some(&branch));
            with_via.headers.prepend_typed(&via);
            // §18.1.1: a request within 200 bytes of the MTU goes over
            // TCP when we have it (measured as sent, Via included).
            if target.proto == Proto::Udp
                && self.transports.local_addr(Proto::Tcp).is_some()
                && with_via.to_bytes().len() > UDP_SWITCH_THRESHOLD
            {
                target.proto = Proto::Tcp;
                let mut via = via_for(&self.transports, &target);
                via.params.set("branch", Some(&branch));
                with_via = req.clone();
                with_via.headers.prepend_typed(&via);
            }
            req = with_via;
            match self
                .layer
                .send_request(Instant::now(), req, target.addr, target.proto.to_via())
            {
                Ok(id) => {
                    self.branches.insert(branch, id);
                    p.target = target;
                    p.conn = None;
                    p.response_conn = None;
                    self.pending.insert(id, p);
                    return;
                }
                Err(e) => match p.remaining.pop_front() {
                    Some(next) => p.target = next,
                    None => {
                        if let Some(reply) = p.reply.take() {
                            let _ = reply.send(Err(e.into()));
                        }
                        return;
                    }
                },
            }
        }
    }

    fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.layer.poll_transmit() {
                progressed = true;
                self.transmit(t);
            }
            while let Some(ev) = self.layer.poll_event() {
                progressed = true;
                self.event(ev);
            }
            if !progressed {
                return;
            }
        }
    }

    /// Hands a message to the transports without waiting: a slow
    /// connect or a stuck peer must never stall the loop. Failures known
    /// at once fail the transaction here; later ones arrive as
    /// [`TransportEvent::Closed`].
    fn transmit(&mut self, mut t: Transmit) {
        let proto = Proto::from_via(&t.transport);
        with_content_length(&mut t.message);
        self.trace(TraceDirection::Sent, proto, t.dest, &t.message);
        let bytes = t.message.to_bytes();
        let branch = match &t.message {
            Message::Request(r) => r
                .headers
                .top_via()
                .ok()
                .flatten()
                .and_then(|v| v.branch().map(str::to_owned)),
            Message::Response(_) => None,
        };
        let id = branch.and_then(|b| self.branches.get(&b).copied());
        let mut dest = t.dest;
        if let Message::Response(r) = &t.message {
            if proto.is_reliable() && !self.transports.is_connected(dest, proto) {
                if let Some(d) = stream_response_fallback(r, proto) {
                    debug!(from = %dest, to = %d, "request's connection gone; answering its Via sent-by");
                    dest = d;
                }
            }
        }
        match self.transports.enqueue(dest, proto, None, bytes) {
            // Remember the connection, so its closing fails exactly the
            // requests that were waiting on it.
            Ok(conn) => {
                if let Some(p) = id.and_then(|id| self.pending.get_mut(&id)) {
                    p.conn = conn;
                }
            }
            Err(e) => {
                debug!(dest = %t.dest, ?proto, "send failed: {e}");
                if let Some(id) = id {
                    if let Some(p) = self.pending.get_mut(&id) {
                        p.last_error = Some(e.to_string());
                    }
                    self.layer.transport_error(Instant::now(), id);
                }
            }
        }
    }

    fn event(&mut self, ev: TransactionEvent) {
        match ev {
            TransactionEvent::Request {
                id,
                request,
                source,
                transport,
            } => {
                let proto = Proto::from_via(&transport);
                let ev = EndpointEvent::Request {
                    id,
                    request,
                    source,
                    proto,
                };
                if let Err(
                    mpsc::error::TrySendError::Full(EndpointEvent::Request { request, .. })
                    | mpsc::error::TrySendError::Closed(EndpointEvent::Request { request, .. }),
                ) = self.events.try_send(ev)
                {
                    // Nobody will answer it: say so now (503), so the
                    // server transaction ends instead of holding a slot.
                    warn!("no room for a new request; answering 503");
                    if let Some(status) = sip_message::StatusCode::new(503) {
                        let _ = self.layer.send_response(
                            Instant::now(),
                            id,
                            Response::for_request(&request, status),
                        );
                    }
                }
            }
            TransactionEvent::Response { id, response } => {
                let Some(p) = self.pending.get_mut(&id) else {
                    return;
                };
                if let Some(addr) = observed_addr(&response) {
                    self.learned
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(p.target.proto, addr);
                }
                p.answered = true;
                if response.status.is_final() {
                    if let Some(tx) = p.flow.take() {
                        let _ = tx.send(Flow {
                            target: p.target,
                            conn: p.response_conn.or(p.conn),
                        });
                    }
                    // A waiter that gave up (a hang-up while a re-INVITE
                    // waited) hands the response back.
                    let unclaimed = match p.reply.take() {
                        Some(reply) => reply.send(Ok(response)).err().and_then(Result::ok),
                        None => Some(response),
                    };
                    // RFC 6026: later 2xx (retransmissions, forks), and a
                    // 2xx nobody waits for any more, still need an ACK
                    // from the dialog (RFC 3261 §13.2.2.4).
                    if let Some(response) = unclaimed {
                        if p.invite && response.status.is_success() {
                            let source = p.target.addr;
                            self.emit(EndpointEvent::StrayResponse { response, source });
                        }
                    }
                } else if let Some(tx) = &p.provisional {
                    let _ = tx.try_send(response);
                }
            }
            TransactionEvent::Cancelled { id, .. } => self.emit(EndpointEvent::Cancelled { id }),
            TransactionEvent::Ack {
                request, source, ..
            } => self.emit(EndpointEvent::Ack { request, source }),
            TransactionEvent::StrayResponse {
                response, source, ..
            } => self.emit(EndpointEvent::StrayResponse { response, source }),
            TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                let timed_out = matches!(ev, TransactionEvent::Timeout { .. });
                let Some(mut p) = self.pending.remove(&id) else {
                    // Not a request of ours: a server transaction failed.
                    // Its owner must learn it (a call ringing past the
                    // guard would otherwise wait forever).
                    debug!(?id, timed_out, "server transaction failed");
                    self.emit(EndpointEvent::TransactionFailed { id, timed_out });
                    return;
                };
                self.branches.retain(|_, v| *v != id);
                if p.answered || p.reply.is_none() {
                    return;
                }
                let failed = p.target;
                match p.remaining.pop_front() {
                    Some(next) => {
                        debug!(from = %failed.addr, to = %next.addr, "failing over to the next target");
                        p.target = next;
                        p.last_error = None;
                        self.start(p);
                    }
                    None => {
                        let err = if timed_out && p.last_error.is_none() {
                            EndpointError::Timeout(failed.addr.to_string())
                        } else {
                            EndpointError::Unreachable {
                                target: failed.addr.to_string(),
                                reason: p.last_error.unwrap_or_else(|| "transport error".into()),
                            }
                        };
                        if let Some(reply) = p.reply.take() {
                            let _ = reply.send(Err(err));
                        }
                    }
                }
            }
            TransactionEvent::Terminated { id } => {
                self.branches.retain(|_, v| *v != id);
                if let Some(mut p) = self.pending.remove(&id) {
                    if let Some(reply) = p.reply.take() {
                        let _ = reply.send(Err(EndpointError::Timeout(p.target.addr.to_string())));
                    }
                }
            }
        }
    }

    /// Remembers which connection a response to one of our requests came
    /// on: that is the request's flow (RFC 5626), e.g. a REGISTER's.
    fn note_response_conn(&mut self, inc: &crate::transport::Incoming) {
        let (Message::Response(r), Some(conn)) = (&inc.message, inc.conn) else {
            return;
        };
        let branch = r.headers.top_via().ok().flatten();
        let id = branch
            .as_ref()
            .and_then(|v| v.branch())
            .and_then(|b| self.branches.get(b));
        if let Some(p) = id.and_then(|id| self.pending.get_mut(id)) {
            p.response_conn = Some(conn);
        }
    }

    fn trace(&self, direction: TraceDirection, proto: Proto, remote: SocketAddr, m: &Message) {
        if let Some(trace) = self.trace.as_ref().filter(|t| t.is_enabled()) {
            // Bound to every interface: show the one the peer is reached on.
            let local = self
                .transports
                .local_addr(proto)
                .or_else(|| self.transports.local_addr(Proto::Udp))
                .map(|a| {
                    if a.ip().is_unspecified() {
                        SocketAddr::new(route_ip(remote), a.port())
                    } else {
                        a
                    }
                });
            trace.record(direction, proto, local, remote, m);
        }
    }

    fn emit(&self, ev: EndpointEvent) {
        if self.events.try_send(ev).is_err() {
            warn!("endpoint event queue full or closed; dropping an event");
        }
    }
}

/// Every message we send says how long its body is. RFC 3261 §20.14
/// lets UDP leave Content-Length out, but peers that frame by it (SIPp,
/// some SBCs) then cannot read an empty body, and a stream needs it
/// anyway; usages that build messages by hand may forget it.
fn with_content_length(m: &mut Message) {
    if !m.headers().contains("Content-Length") {
        let len = u32::try_from(m.body().len()).unwrap_or(u32::MAX);
        m.headers_mut()
            .push_typed(&sip_message::headers::ContentLength(len));
    }
}

/// RFC 3261 §18.2.2: a response whose request's connection is gone goes
/// over a new connection to the Via's `received` address (else its
/// sent-by host) at the sent-by port (else the transport's default).
/// Not `rport`: over a stream that is the gone connection's ephemeral
/// source port, where nobody listens.
fn stream_response_fallback(response: &Response, proto: Proto) -> Option<SocketAddr> {
    let via = response.headers.top_via().ok().flatten()?;
    let ip = via.received().or(match &via.host {
        Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        Host::Domain(_) => None,
    })?;
    let default = if proto == Proto::Tls { 5061 } else { 5060 };
    Some(SocketAddr::new(ip, via.port.unwrap_or(default)))
}

/// Where the peer saw the request come from: `received` and `rport` of
/// our Via in its response (RFC 3581 §4); each defaults to what we sent.
pub fn observed_addr(response: &Response) -> Option<SocketAddr> {
    let via = response.headers.top_via().ok().flatten()?;
    let sent_ip = match &via.host {
        Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        Host::Domain(_) => None,
    };
    let ip = via.received().or(sent_ip)?;
    let port = via.rport().flatten().or(via.port).unwrap_or(5060);
    (via.received().is_some() || via.rport().flatten().is_some())
        .then_some(SocketAddr::new(ip, port))
}

fn via_for(transports: &Transports, target: &Target) -> Via {
    let local = transports
        .local_addr(target.proto)
        .or_else(|| transports.local_addr(Proto::Udp));
    let port = local.map(|a| a.port());
    let ip = local
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or_else(|| route_ip(target.addr));
    let mut via = Via::new(target.proto.to_via(), host_of(ip), port, "");
    via.params.remove("branch");
    via.params.set("rport", None);
    via
}

fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) => Host::Ipv4(v4),
        IpAddr::V6(v6) => Host::Ipv6(v6),
    }
}

/// The local address the OS would route to `dest` from (no packet is sent).
pub(crate) fn route_ip(dest: SocketAddr) -> IpAddr {
    let bind: SocketAddr = if dest.is_ipv4() {
        "0.0.0.0:0".parse()
    } else {
        "[::]:0".parse()
    }
    .unwrap_or(dest);
    std::net::UdpSocket::bind(bind)
        .and_then(|s| s.connect(dest).and_then(|()| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or(bind.ip())
}

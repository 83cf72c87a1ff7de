//! SIP transports (RFC 3261 §18): UDP, TCP and TLS over IPv4 and IPv6.
//!
//! Reader tasks own the sockets' receive halves; they frame, parse, rate
//! limit and hand complete messages to the driver through one bounded
//! queue. Sending goes through [`Transports::enqueue`] (never waits: the
//! driver loop must not stall on a slow peer) or [`Transports::send`]
//! (waits for the write), which reuse an open connection to the
//! destination or open one in the background. No protocol state lives
//! here: the driver task owns it. When the last [`Transports`] handle is
//! dropped, every reader, accept loop and connection ends.
//!
//! ```text
//!  UDP socket ──datagram──┐
//!  TCP/TLS conn ─framer───┼──> rate limit ──> parse ──> Incoming queue ──> driver
//!  TCP/TLS conn ─framer───┘
//!  driver ──send(dest, proto, bytes)──> UDP socket | connection (reused or opened)
//! ```

mod conn;
mod limit;
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sip_message::Message;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tracing::{debug, warn};

pub use conn::ConnId;
use conn::{ConnHandle, ConnTable, FailKind};
use limit::RateLimiter;

/// RFC 3261 §18.1.1: a request within 200 bytes of the path MTU (1500 on
/// Ethernet) goes over a congestion-controlled transport instead.
pub const UDP_SWITCH_THRESHOLD: usize = 1300;
/// Largest datagram we read; IPv4/IPv6 UDP payloads cannot exceed this.
const MAX_DATAGRAM: usize = 65_535;
/// Complete messages waiting for the driver; a full queue drops new input
/// (UDP peers retransmit) instead of growing without bound.
pub const INCOMING_QUEUE: usize = 1024;
/// Inbound TLS handshakes in progress at once; more are refused, so a
/// flood of half-open TLS connections costs bounded work.
const MAX_HANDSHAKES: usize = 64;

/// The transport protocols Parley speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Proto {
    /// Whether the transport itself retransmits (RFC 3261 §17 timers differ).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// Our transport for a Via transport token; anything we do not speak
    /// is treated as UDP, the RFC 3261 default.
    pub fn from_via(t: &sip_message::headers::Transport) -> Self {
        use sip_message::headers::Transport as T;
        match t {
            T::Tcp => Self::Tcp,
            T::Tls => Self::Tls,
            _ => Self::Udp,
        }
    }

    /// The `sip_message` view of this transport.
    pub fn to_via(self) -> sip_message::headers::Transport {
        use sip_message::headers::Transport as T;
        match self {
            Self::Udp => T::Udp,
            Self::Tcp => T::Tcp,
            Self::Tls => T::Tls,
        }
    }
}

/// Errors of the transport layer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Binding a listening socket failed.
    #[error("cannot listen on {proto:?} {addr}: {source}")]
    Bind {
        /// Transport.
        proto: Proto,
        /// Address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Connecting to a peer failed.
    #[error("cannot connect to {proto:?} {addr}: {source}")]
    Connect {
        /// Transport.
        proto: Proto,
        /// The peer.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS handshake failed (e.g. an untrusted or mismatched certificate).
    #[error("TLS with {addr} ({server_name}) failed: {source}")]
    Tls {
        /// The peer.
        addr: SocketAddr,
        /// The name we verified the certificate against.
        server_name: String,
        /// What rustls reported.
        source: std::io::Error,
    },
    /// TLS was asked for but not configured.
    #[error("TLS is not configured")]
    NoTls,
    /// Writing failed.
    #[error("sending to {proto:?} {addr} failed: {source}")]
    Send {
        /// Transport.
        proto: Proto,
        /// The peer.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A datagram larger than UDP can carry.
    #[error("message of {0} bytes is too large for UDP")]
    TooLarge(usize),
    /// TCP is turned off in the configuration.
    #[error("{0:?} is not enabled")]
    Disabled(Proto),
    /// The connection (an RFC 5626 flow) asked for is closed.
    #[error("the connection is closed")]
    ConnectionGone,
}

/// How the transports are set up.
#[derive(Clone)]
pub struct TransportConfig {
    /// Address to bind (127.0.0.1 in tests, 0.0.0.0 / :: in the app).
    pub bind_ip: IpAddr,
    /// UDP and TCP port; 0 picks a free one (the same for both when possible).
    pub port: u16,
    /// Listen and connect over TCP.
    pub tcp: bool,
    /// TLS client (and optional server) settings.
    pub tls: Option<tls::TlsSettings>,
    /// Largest message head and body accepted on streams.
    pub max_head: usize,
    /// Largest body accepted on streams.
    pub max_body: usize,
    /// Connections idle this long are closed (RFC 5626 flows are kept
    /// alive by the registration's keep-alives).
    pub idle_timeout: Duration,
    /// Messages per second a single source IP may send us (burst = 2x).
    pub per_source_rate: u32,
    /// How long a stream keep-alive waits for its pong ([`PONG_TIMEOUT`];
    /// shorter only in tests).
    pub pong_timeout: Duration,
}

impl TransportConfig {
    /// Defaults on `bind_ip`, any port, TCP on, no TLS.
    pub fn new(bind_ip: IpAddr) -> Self {
        Self {
            bind_ip,
            port: 0,
            tcp: true,
            tls: None,
            max_head: 64 * 1024,
            max_body: sip_message::framer::DEFAULT_MAX_BODY,
            idle_timeout: Duration::from_secs(600),
            per_source_rate: 200,
            pong_timeout: PONG_TIMEOUT,
        }
    }
}

/// A complete message from the network.
#[derive(Debug)]
pub struct Incoming {
    /// The message.
    pub message: Message,
    /// Who sent it (the address packets came from, for rport/received).
    pub source: SocketAddr,
    /// Over what.
    pub proto: Proto,
    /// The connection it came on (streams only), so responses can reuse it.
    pub conn: Option<ConnId>,
}

/// What the reader tasks report besides messages.
#[derive(Debug)]
pub enum TransportEvent {
    /// A message arrived (boxed: messages are large, the other events tiny).
    Message(Box<Incoming>),
    /// A connection closed (peer closed, error, idle, or oversized input);
    /// transactions using it see a transport error.
    Closed {
        /// The connection.
        conn: ConnId,
        /// The peer.
        peer: SocketAddr,
        /// Why, for the log.
        reason: String,
    },
    /// An RFC 5626 pong (CRLF) arrived on a flow: the flow is alive.
    Pong {
        /// The connection.
        conn: ConnId,
    },
}

/// The bound sockets and open connections.
#[derive(Clone)]
pub struct Transports {
    inner: Arc<Inner>,
    /// Dropped with the last handle: its drop tells every task to stop
    /// (the tasks themselves hold only `inner`).
    _stop: Arc<watch::Sender<()>>,
}

struct Inner {
    udp: Arc<UdpSocket>,
    udp_local: SocketAddr,
    tcp_local: Option<SocketAddr>,
    tls_local: Option<SocketAddr>,
    conns: ConnTable,
    events: mpsc::Sender<TransportEvent>,
    limiter: Arc<Mutex<RateLimiter>>,
    config: TransportConfig,
    tls: Option<tls::TlsContext>,
    /// The SIP domain to verify per TLS destination (RFC 5922), as told
    /// by [`Transports::set_tls_domain`]; bounded.
    tls_domains: Mutex<HashMap<SocketAddr, String>>,
    /// Changes (closes) when the last [`Transports`] is dropped.
    shutdown: watch::Receiver<()>,
    /// Who waits for an RFC 5626 pong, per connection (bounded: one
    /// keep-alive per flow is outstanding at a time).
    pongs: Mutex<HashMap<ConnId, Vec<oneshot::Sender<()>>>>,
}

/// RFC 5626 §4.4.1: a pong must come within 10 seconds of the ping.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections with a keep-alive waiting for its pong, at most.
const MAX_PONG_WAITERS: usize = 1024;

/// TLS destinations whose domain we remember at once.
const MAX_TLS_DOMAINS: usize = 256;

impl Transports {
    /// Binds the sockets and starts the reader tasks. Events arrive on the
    /// returned receiver.
    pub async fn bind(
        config: TransportConfig,
    ) -> Result<(Self, mpsc::Receiver<TransportEvent>), TransportError> {
        let (events, rx) = mpsc::channel(INCOMING_QUEUE);
        let want = SocketAddr::new(config.bind_ip, config.port);
        // With any port asked for, the system picks UDP's and TCP must get
        // the same number, which another program may hold over TCP only
        // (seen in CI): pick again rather than fail.
        let attempts = if config.port == 0 { 16 } else { 1 };
        let mut attempt = 0;
        let (udp, udp_local, tcp) = loop {
            attempt += 1;
            let udp = UdpSocket::bind(want)
                .await
                .map_err(|source| TransportError::Bind {
                    proto: Proto::Udp,
                    addr: want,
                    source,
                })?;
            let udp_local = udp.local_addr().map_err(|source| TransportError::Bind {
                proto: Proto::Udp,
                addr: want,
                source,
            })?;
            if !config.tcp {
                break (udp, udp_local, None);
            }
            // Same port as UDP, so one Contact/Via port serves both.
            let addr = SocketAddr::new(config.bind_ip, udp_local.port());
            match TcpListener::bind(addr).await {
                Ok(l) => break (udp, udp_local, Some(l)),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < attempts => {
                    continue
                }
                Err(source) => {
                    return Err(TransportError::Bind {
                        proto: Proto::Tcp,
                        addr,
                        source,
                    })
                }
            }
        };
        let tls = config.tls.as_ref().map(tls::TlsContext::new).transpose()?;
        let tls_listener = match (&tls, config.tls.as_ref().and_then(|t| t.listen_port)) {
            (Some(ctx), Some(port)) if ctx.has_server() => {
                let addr = SocketAddr::new(config.bind_ip, port);
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| TransportError::Bind {
                            proto: Proto::Tls,
                            addr,
                            source,
                        })?,
                )
            }
            _ => None,
        };
        let tcp_local = tcp.as_ref().and_then(|l| l.local_addr().ok());
        let tls_local = tls_listener.as_ref().and_then(|l| l.local_addr().ok());
        let limiter = Arc::new(Mutex::new(RateLimiter::new(config.per_source_rate)));
        let (stop, shutdown) = watch::channel(());
        let inner = Arc::new(Inner {
            udp: Arc::new(udp),
            udp_local,
            tcp_local,
            tls_local,
            conns: ConnTable::default(),
            events,
            limiter,
            config,
            tls,
            tls_domains: Mutex::new(HashMap::new()),
            shutdown,
            pongs: Mutex::new(HashMap::new()),
        });
        tokio::spawn(udp_reader(inner.clone()));
        if let Some(l) = tcp {
            tokio::spawn(accept_loop(inner.clone(), l, Proto::Tcp));
        }
        if let Some(l) = tls_listener {
            tokio::spawn(accept_loop(inner.clone(), l, Proto::Tls));
        }
        Ok((
            Self {
                inner,
                _stop: Arc::new(stop),
            },
            rx,
        ))
    }

    /// Where we listen for `proto`, if we do.
    pub fn local_addr(&self, proto: Proto) -> Option<SocketAddr> {
        match proto {
            Proto::Udp => Some(self.inner.udp_local),
            Proto::Tcp => self.inner.tcp_local,
            Proto::Tls => self.inner.tls_local,
        }
    }

    /// Sends `bytes` to `dest` and waits until they are written. Over
    /// TCP/TLS, `conn` (the connection a request came in on) is used when
    /// still open; otherwise an open connection to `dest` is reused or a
    /// new one is opened (connect and handshake time out after 10 s).
    /// Returns the connection used.
    pub async fn send(
        &self,
        dest: SocketAddr,
        proto: Proto,
        conn: Option<ConnId>,
        bytes: &[u8],
    ) -> Result<Option<ConnId>, TransportError> {
        match proto {
            Proto::Udp => {
                check_datagram(bytes)?;
                self.inner
                    .udp
                    .send_to(bytes, dest)
                    .await
                    .map_err(|source| TransportError::Send {
                        proto,
                        addr: dest,
                        source,
                    })?;
                Ok(None)
            }
            Proto::Tcp | Proto::Tls => {
                let handle = self.connection(dest, proto, conn)?;
                handle.wait_ready().await?;
                let (done, result) = oneshot::channel();
                handle.enqueue(bytes.to_vec(), Some(done))?;
                result.await.unwrap_or_else(|_| {
                    Err(conn::error(
                        &FailKind::Send,
                        proto,
                        dest,
                        "connection closed",
                    ))
                })?;
                Ok(Some(handle.id))
            }
        }
    }

    /// Queues `bytes` for `dest` without waiting. A stream connection is
    /// opened in the background when needed; if that or a later write
    /// fails, a [`TransportEvent::Closed`] for `dest` reports it. Errors
    /// known at once (UDP socket error, full queue, no TLS) are returned.
    pub fn enqueue(
        &self,
        dest: SocketAddr,
        proto: Proto,
        conn: Option<ConnId>,
        bytes: Vec<u8>,
    ) -> Result<Option<ConnId>, TransportError> {
        match proto {
            Proto::Udp => {
                check_datagram(&bytes)?;
                match self.inner.udp.try_send_to(&bytes, dest) {
                    Ok(_) => Ok(None),
                    // The socket buffer is full: the datagram is lost, as
                    // on the wire; the transaction retransmits.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        debug!(%dest, "udp send buffer full; datagram dropped");
                        Ok(None)
                    }
                    Err(source) => Err(TransportError::Send {
                        proto,
                        addr: dest,
                        source,
                    }),
                }
            }
            Proto::Tcp | Proto::Tls => {
                let handle = self.connection(dest, proto, conn)?;
                handle.enqueue(bytes, None)?;
                Ok(Some(handle.id))
            }
        }
    }

    /// Sends an RFC 5626 keep-alive: a double CRLF ping on a stream
    /// (answered by a CRLF pong), or a CRLFCRLF datagram on UDP (which
    /// keeps NAT bindings open; the peer ignores it).
    pub async fn keep_alive(&self, dest: SocketAddr, proto: Proto) -> Result<(), TransportError> {
        self.send(dest, proto, None, b"\r\n\r\n").await.map(|_| ())
    }

    /// RFC 5626 §4.4.1 keep-alive on a stream flow: sends a double-CRLF
    /// ping and waits (up to [`PONG_TIMEOUT`]) for the CRLF pong. An error
    /// means the flow is dead and the registration over it must be
    /// refreshed over a new one. On UDP this is [`Self::keep_alive`]:
    /// STUN-less, nothing comes back.
    pub async fn ping(&self, dest: SocketAddr, proto: Proto) -> Result<(), TransportError> {
        if proto == Proto::Udp {
            return self.keep_alive(dest, proto).await;
        }
        let handle = self.connection(dest, proto, None)?;
        self.ping_handle(handle).await
    }

    /// As [`Self::ping`], on connection `conn` only: a registration's
    /// flow. A closed connection is an error at once, never replaced by a
    /// new one (the registrar would hold a binding over the dead flow).
    pub async fn ping_conn(&self, conn: ConnId) -> Result<(), TransportError> {
        let handle = self
            .inner
            .conns
            .by_id(conn)
            .ok_or(TransportError::ConnectionGone)?;
        self.ping_handle(handle).await
    }

    /// Resolves when connection `conn` closes (at once if it is gone).
    pub async fn closed(&self, conn: ConnId) {
        if let Some(handle) = self.inner.conns.by_id(conn) {
            handle.closed().await;
        }
    }

    /// Whether a stream connection to `dest` is open or opening.
    pub fn is_connected(&self, dest: SocketAddr, proto: Proto) -> bool {
        self.inner.conns.by_peer(dest, proto).is_some()
    }

    async fn ping_handle(&self, handle: conn::ConnHandle) -> Result<(), TransportError> {
        let (dest, proto) = (handle.peer, handle.proto);
        handle.wait_ready().await?;
        let (tx, rx) = oneshot::channel();
        {
            let mut pongs = self
                .inner
                .pongs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if pongs.len() >= MAX_PONG_WAITERS && !pongs.contains_key(&handle.id) {
                return Err(conn::error(
                    &FailKind::Send,
                    proto,
                    dest,
                    "too many keep-alives",
                ));
            }
            pongs.entry(handle.id).or_default().push(tx);
        }
        handle.enqueue(b"\r\n\r\n".to_vec(), None)?;
        let result = tokio::time::timeout(self.inner.config.pong_timeout, rx).await;
        match result {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.inner
                    .pongs
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&handle.id);
                // The flow is dead: close it, so the next request opens
                // a new one instead of queueing on a black hole.
                handle.close();
                Err(conn::error(
                    &FailKind::Send,
                    proto,
                    dest,
                    "no pong to keep-alive",
                ))
            }
        }
    }

    /// Records that TLS connections to `dest` are for SIP domain `domain`:
    /// the certificate must match that name (RFC 5922 §7), which is what
    /// a provider's certificate carries, not its IP address.
    pub fn set_tls_domain(&self, dest: SocketAddr, domain: &str) {
        let mut map = self
            .inner
            .tls_domains
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_TLS_DOMAINS && !map.contains_key(&dest) {
            map.clear(); // rare: forget and relearn rather than grow
        }
        map.insert(dest, domain.to_owned());
    }

    /// Open stream connections (for tests and diagnostics).
    pub fn open_connections(&self) -> usize {
        self.inner.conns.len()
    }

    fn connection(
        &self,
        dest: SocketAddr,
        proto: Proto,
        hint: Option<ConnId>,
    ) -> Result<ConnHandle, TransportError> {
        if proto == Proto::Tcp && !self.inner.config.tcp {
            return Err(TransportError::Disabled(proto));
        }
        if let Some(h) = hint.and_then(|id| self.inner.conns.by_id(id)) {
            return Ok(h);
        }
        let domain = match proto {
            Proto::Tls => {
                if self.inner.tls.is_none() {
                    return Err(TransportError::NoTls);
                }
                self.inner
                    .tls_domains
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&dest)
                    .cloned()
            }
            _ => None,
        };
        conn::connect(&self.inner, dest, proto, domain)
    }
}

fn check_datagram(bytes: &[u8]) -> Result<(), TransportError> {
    if bytes.len() > MAX_DATAGRAM - 48 {
        return Err(TransportError::TooLarge(bytes.len()));
    }
    Ok(())
}

impl Inner {
    /// A pong came on `conn`: wake whoever pinged.
    fn pong(&self, conn: ConnId) {
        let waiters = self
            .pongs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&conn);
        for w in waiters.into_iter().flatten() {
            let _ = w.send(());
        }
    }

    /// Tells the driver a connection is gone (waits for room: this is
    /// rare and must not be lost, or requests would wait for Timer B/F).
    async fn closed(&self, conn: ConnId, peer: SocketAddr, reason: String) {
        let _ = self
            .events
            .send(TransportEvent::Closed { conn, peer, reason })
            .await;
    }

    /// Whether one more message (or connection) from `ip` may pass now.
    fn allow(&self, ip: IpAddr) -> bool {
        self.limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .allow(ip, std::time::Instant::now())
    }
}

async fn udp_reader(inner: Arc<Inner>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut shutdown = inner.shutdown.clone();
    loop {
        let received = tokio::select! {
            r = inner.udp.recv_from(&mut buf) => r,
            _ = shutdown.changed() => return,
        };
        let (n, source) = match received {
            Ok(r) => r,
            Err(e) => {
                // ICMP port unreachable surfaces here on Linux; keep going.
                debug!("udp recv: {e}");
                continue;
            }
        };
        let data = &buf[..n];
        if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            continue; // keep-alive
        }
        if !inner.allow(source.ip()) {
            debug!(%source, "rate limited");
            continue;
        }
        match sip_message::parse(data) {
            Ok(message) => deliver(
                &inner,
                Incoming {
                    message,
                    source,
                    proto: Proto::Udp,
                    conn: None,
                },
            ),
            Err(e) => debug!(%source, len = n, "dropping malformed datagram: {e}"),
        }
    }
}

fn deliver(inner: &Inner, incoming: Incoming) {
    if let Err(mpsc::error::TrySendError::Full(_)) = inner
        .events
        .try_send(TransportEvent::Message(Box::new(incoming)))
    {
        warn!("incoming queue full; dropping a message");
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener, proto: Proto) {
    let mut shutdown = inner.shutdown.clone();
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off a little.
                warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if !inner.allow(peer.ip()) || !conn::has_room(&inner, peer.ip()) {
            debug!(%peer, "connection refused (rate or connection limit)");
            continue;
        }
        match proto {
            Proto::Tls => {
                let Some(ctx) = inner.tls.clone() else {
                    continue;
                };
                let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                    debug!(%peer, "too many TLS handshakes in progress; refused");
                    continue;
                };
                let inner = inner.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(conn::CONNECT_TIMEOUT, ctx.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            if conn::accepted(inner, Box::new(tls), peer, Proto::Tls).is_err() {
                                debug!(%peer, "connection table full; closed");
                            }
                        }
                        Ok(Err(e)) => debug!(%peer, "TLS accept failed: {e}"),
                        Err(_) => debug!(%peer, "TLS accept timed out"),
                    }
                });
            }
            _ => {
                if conn::accepted(inner.clone(), Box::new(stream), peer, proto).is_err() {
                    debug!(%peer, "connection table full; closed");
                }
            }
        }
    }
}

/// Connections by peer, for reuse.
pub(crate) type PeerKey = (SocketAddr, Proto);

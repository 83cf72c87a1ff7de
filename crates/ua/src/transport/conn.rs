//! Stream connections (TCP and TLS): one reader and one writer task per
//! connection, a bounded queue of messages to write, reuse by peer, idle
//! close.
//!
//! ```text
//!   outbound: registered at once (Connecting), so concurrent sends to the
//!   same peer share one connection instead of racing to open several
//!
//!  (none) ──send──> Connecting ──connect + handshake (timed)──> Open
//!                       │                                        │  ^
//!                       │ timeout / refused / bad certificate    │  └─ frames -> driver,
//!                       v                                        │     ping -> pong
//!                    Closed <── EOF / error / idle / bad input / write timeout / shutdown
//!       (removed from the table; queued sends fail; the driver is told)
//!
//!   inbound: accept (+ TLS handshake, timed) ──> Open
//! ```
//! A connection's writes go through its queue, so no send ever waits on
//! another's socket and a stuck peer costs one bounded queue, not tasks.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sip_message::framer::{Frame, KeepAliveRole, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::debug;

use super::{deliver, Incoming, Inner, PeerKey, Proto, TransportError, TransportEvent};

/// Inbound connections accepted at once, from everyone.
pub(crate) const MAX_INBOUND: usize = 1024;
/// Inbound connections one source (an IPv4 address or an IPv6 /64) may
/// hold, so one host cannot take the whole table.
pub(crate) const MAX_INBOUND_PER_SOURCE: usize = 32;
/// Outbound connections we open at once; counted apart from inbound, so
/// a flood of inbound connections never blocks our own requests.
pub(crate) const MAX_OUTBOUND: usize = 256;
/// Messages waiting to be written on one connection.
const WRITE_QUEUE: usize = 64;
/// TCP connect and TLS handshake, each.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One message's write; a peer that does not read for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// Identifies one connection for its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// One message to write, and who waits for the outcome (if anyone).
pub(crate) struct Outgoing {
    bytes: Vec<u8>,
    done: Option<oneshot::Sender<Result<(), TransportError>>>,
}

/// A way to write to one connection.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub(crate) id: ConnId,
    pub(crate) peer: SocketAddr,
    pub(crate) proto: Proto,
    queue: mpsc::Sender<Outgoing>,
    /// Set once the connection is up (streams are usable), for `send`
    /// callers that want connect errors rather than a queued message.
    ready: watch::Receiver<Readiness>,
    /// Closes the connection from outside (a flow found dead).
    kill: Arc<tokio::sync::Notify>,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    Connecting,
    Open,
    /// Why it failed or closed (shown to the user as the send error).
    Failed(FailKind, String),
}

/// What kind of failure, to rebuild a typed error for each waiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FailKind {
    Connect,
    /// With the name the certificate was checked against.
    Tls(String),
    Send,
}

impl ConnHandle {
    /// Queues `bytes`; never waits. A full queue is an error: the peer is
    /// not reading, and a SIP transaction will retry or fail over.
    pub(crate) fn enqueue(
        &self,
        bytes: Vec<u8>,
        done: Option<oneshot::Sender<Result<(), TransportError>>>,
    ) -> Result<(), TransportError> {
        self.queue.try_send(Outgoing { bytes, done }).map_err(|e| {
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "write queue full",
                mpsc::error::TrySendError::Closed(_) => "connection closed",
            };
            error(&FailKind::Send, self.proto, self.peer, reason)
        })
    }

    /// Closes the connection (e.g. its keep-alive went unanswered); the
    /// usual `Closed` event follows.
    pub(crate) fn close(&self) {
        self.kill.notify_one();
    }

    /// Waits until the connection has closed (or failed to open).
    pub(crate) async fn closed(&self) {
        let mut rx = self.ready.clone();
        // An error means the connection's tasks are gone: closed too.
        let _ = rx.wait_for(|r| matches!(r, Readiness::Failed(..))).await;
    }

    /// Waits until the connection is open (or has failed).
    pub(crate) async fn wait_ready(&self) -> Result<(), TransportError> {
        let mut rx = self.ready.clone();
        let state = rx
            .wait_for(|r| *r != Readiness::Connecting)
            .await
            .map(|r| r.clone())
            .unwrap_or(Readiness::Failed(
                FailKind::Send,
                "connection closed".into(),
            ));
        match state {
            Readiness::Open | Readiness::Connecting => Ok(()),
            Readiness::Failed(kind, reason) => Err(error(&kind, self.proto, self.peer, &reason)),
        }
    }
}

/// Builds the typed error for a failure kind (io errors cannot be cloned,
/// so each waiter gets its own, carrying the same text).
pub(crate) fn error(
    kind: &FailKind,
    proto: Proto,
    addr: SocketAddr,
    reason: &str,
) -> TransportError {
    let source = std::io::Error::other(reason.to_owned());
    match kind {
        FailKind::Connect => TransportError::Connect {
            proto,
            addr,
            source,
        },
        FailKind::Tls(server_name) => TransportError::Tls {
            addr,
            server_name: server_name.clone(),
            source,
        },
        FailKind::Send => TransportError::Send {
            proto,
            addr,
            source,
        },
    }
}

/// The key limiting inbound connections per source: the address, or its
/// /64 for IPv6 (one host usually owns a whole /64).
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[derive(Default)]
pub(crate) struct ConnTable {
    map: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    by_id: HashMap<ConnId, Entry>,
    by_peer: HashMap<PeerKey, ConnId>,
    per_source: HashMap<IpAddr, usize>,
    inbound: usize,
    outbound: usize,
}

struct Entry {
    handle: ConnHandle,
    inbound: bool,
}

/// Why a connection could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    TableFull,
    SourceFull,
}

impl ConnTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    pub(crate) fn by_id(&self, id: ConnId) -> Option<ConnHandle> {
        self.lock().by_id.get(&id).map(|e| e.handle.clone())
    }
    pub(crate) fn by_peer(&self, peer: SocketAddr, proto: Proto) -> Option<ConnHandle> {
        let t = self.lock();
        t.by_peer
            .get(&(peer, proto))
            .and_then(|id| t.by_id.get(id))
            .map(|e| e.handle.clone())
    }
    pub(crate) fn len(&self) -> usize {
        self.lock().by_id.len()
    }
    /// The connection to `peer` over `proto` if one is open or opening,
    /// else a new outbound one from `make`, added under the same lock: two
    /// concurrent sends to one peer cannot both miss and open two.
    fn peer_or_insert(
        &self,
        peer: SocketAddr,
        proto: Proto,
        make: impl FnOnce() -> (ConnHandle, Channels),
    ) -> Result<(ConnHandle, Option<Channels>), Refused> {
        let mut t = self.lock();
        if let Some(e) = t.by_peer.get(&(peer, proto)).and_then(|id| t.by_id.get(id)) {
            return Ok((e.handle.clone(), None));
        }
        let (handle, ch) = make();
        Self::insert_locked(&mut t, handle.clone(), false)?;
        Ok((handle, Some(ch)))
    }
    /// Adds a connection, or says why not. Outbound ones replace a stale
    /// peer mapping; inbound ones are counted per source.
    #[cfg(test)]
    fn insert(&self, handle: ConnHandle, inbound: bool) -> Result<(), Refused> {
        Self::insert_locked(&mut self.lock(), handle, inbound)
    }
    fn insert_inbound(&self, handle: ConnHandle) -> Result<(), Refused> {
        Self::insert_locked(&mut self.lock(), handle, true)
    }
    fn insert_locked(t: &mut Tables, handle: ConnHandle, inbound: bool) -> Result<(), Refused> {
        if inbound {
            if t.inbound >= MAX_INBOUND {
                return Err(Refused::TableFull);
            }
            let key = source_key(handle.peer.ip());
            let n = t.per_source.entry(key).or_insert(0);
            if *n >= MAX_INBOUND_PER_SOURCE {
                return Err(Refused::SourceFull);
            }
            *n += 1;
            t.inbound += 1;
        } else {
            if t.outbound >= MAX_OUTBOUND {
                return Err(Refused::TableFull);
            }
            t.outbound += 1;
        }
        t.by_peer.insert((handle.peer, handle.proto), handle.id);
        t.by_id.insert(handle.id, Entry { handle, inbound });
        Ok(())
    }
    fn remove(&self, id: ConnId) {
        let mut t = self.lock();
        let Some(e) = t.by_id.remove(&id) else {
            return;
        };
        let key = (e.handle.peer, e.handle.proto);
        if t.by_peer.get(&key) == Some(&id) {
            t.by_peer.remove(&key);
        }
        if e.inbound {
            t.inbound -= 1;
            let src = source_key(e.handle.peer.ip());
            if let Some(n) = t.per_source.get_mut(&src) {
                *n -= 1;
                if *n == 0 {
                    t.per_source.remove(&src);
                }
            }
        } else {
            t.outbound -= 1;
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn new_handle(peer: SocketAddr, proto: Proto, ready: Readiness) -> (ConnHandle, Channels) {
    let (queue, rx) = mpsc::channel(WRITE_QUEUE);
    let (ready_tx, ready_rx) = watch::channel(ready);
    let handle = ConnHandle {
        id: ConnId(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        peer,
        proto,
        queue,
        ready: ready_rx,
        kill: Arc::new(tokio::sync::Notify::new()),
    };
    (
        handle,
        Channels {
            rx,
            ready: ready_tx,
        },
    )
}

struct Channels {
    rx: mpsc::Receiver<Outgoing>,
    ready: watch::Sender<Readiness>,
}

/// The open (or opening) connection to `peer`, else one opened in the
/// background and registered at once so later sends queue behind it.
/// `server_name` is what a TLS certificate must match.
pub(crate) fn connect(
    inner: &Arc<Inner>,
    peer: SocketAddr,
    proto: Proto,
    server_name: Option<String>,
) -> Result<ConnHandle, TransportError> {
    let (handle, ch) = match inner.conns.peer_or_insert(peer, proto, || {
        new_handle(peer, proto, Readiness::Connecting)
    }) {
        Ok((handle, Some(ch))) => (handle, ch),
        Ok((existing, None)) => return Ok(existing),
        Err(_) => {
            return Err(error(
                &FailKind::Connect,
                proto,
                peer,
                "too many open connections",
            ))
        }
    };
    debug!(%peer, ?proto, "connecting");
    let task_inner = inner.clone();
    let task_handle = handle.clone();
    tokio::spawn(async move {
        let mut shutdown = task_inner.shutdown.clone();
        let opened = tokio::select! {
            r = open_stream(&task_inner, peer, proto, server_name) => r,
            _ = shutdown.changed() => Err((FailKind::Connect, "shutting down".to_owned())),
        };
        match opened {
            Ok(stream) => run(task_inner, stream, task_handle, ch, KeepAliveRole::Client).await,
            Err((kind, reason)) => {
                debug!(%peer, ?proto, %reason, "connect failed");
                task_inner.conns.remove(task_handle.id);
                fail_queued(ch, &kind, &reason, proto, peer);
                task_inner.closed(task_handle.id, peer, reason).await;
            }
        }
    });
    Ok(handle)
}

async fn open_stream(
    inner: &Inner,
    peer: SocketAddr,
    proto: Proto,
    server_name: Option<String>,
) -> Result<Box<dyn Stream>, (FailKind, String)> {
    let stream =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(peer)).await {
            Err(_) => return Err((FailKind::Connect, "connect timed out".into())),
            Ok(Err(e)) => return Err((FailKind::Connect, e.to_string())),
            Ok(Ok(s)) => s,
        };
    let _ = stream.set_nodelay(true);
    match proto {
        Proto::Tls => {
            let Some(ctx) = inner.tls.as_ref() else {
                return Err((FailKind::Tls(String::new()), "TLS is not configured".into()));
            };
            let name = ctx.name_for(peer, server_name.as_deref());
            match tokio::time::timeout(CONNECT_TIMEOUT, ctx.connect(peer, server_name, stream))
                .await
            {
                Err(_) => Err((FailKind::Tls(name), "TLS handshake timed out".into())),
                Ok(Err(TransportError::Tls {
                    server_name,
                    source,
                    ..
                })) => Err((FailKind::Tls(server_name), source.to_string())),
                Ok(Err(e)) => Err((FailKind::Tls(name), e.to_string())),
                Ok(Ok(tls)) => Ok(Box::new(tls)),
            }
        }
        _ => Ok(Box::new(stream)),
    }
}

/// Registers an accepted (and, for TLS, handshaken) stream and starts its
/// tasks; refused when the table or the source's share is full.
pub(crate) fn accepted(
    inner: Arc<Inner>,
    stream: Box<dyn Stream>,
    peer: SocketAddr,
    proto: Proto,
) -> Result<ConnHandle, Refused> {
    let (handle, ch) = new_handle(peer, proto, Readiness::Open);
    inner.conns.insert_inbound(handle.clone())?;
    // Peers that connected to us are the ones that ping (RFC 5626 §4.4.1).
    tokio::spawn(run(
        inner,
        stream,
        handle.clone(),
        ch,
        KeepAliveRole::Server,
    ));
    Ok(handle)
}

/// Whether one more inbound connection from `ip` could be accepted now
/// (checked before a TLS handshake is spent on it).
pub(crate) fn has_room(inner: &Inner, ip: IpAddr) -> bool {
    let t = inner.conns.lock();
    t.inbound < MAX_INBOUND
        && t.per_source.get(&source_key(ip)).copied().unwrap_or(0) < MAX_INBOUND_PER_SOURCE
}

fn fail_queued(mut ch: Channels, kind: &FailKind, reason: &str, proto: Proto, peer: SocketAddr) {
    let _ = ch
        .ready
        .send(Readiness::Failed(kind.clone(), reason.to_owned()));
    ch.rx.close();
    while let Ok(out) = ch.rx.try_recv() {
        if let Some(done) = out.done {
            let _ = done.send(Err(error(kind, proto, peer, reason)));
        }
    }
}

/// Runs an open connection: the reader here, the writer beside it; when
/// either ends (or the transports shut down), both stop.
async fn run(
    inner: Arc<Inner>,
    stream: Box<dyn Stream>,
    handle: ConnHandle,
    ch: Channels,
    role: KeepAliveRole,
) {
    let Channels { rx, ready } = ch;
    let _ = ready.send(Readiness::Open);
    let (read, write) = tokio::io::split(stream);
    let mut shutdown = inner.shutdown.clone();
    let mut writer = std::pin::pin!(write_loop(write, rx, handle.proto, handle.peer));
    let reason = tokio::select! {
        r = read_frames(&inner, read, &handle, role) => r,
        r = &mut writer => r,
        _ = shutdown.changed() => "shutting down".to_owned(),
        () = handle.kill.notified() => "closed: keep-alive unanswered".to_owned(),
    };
    inner.conns.remove(handle.id);
    // Pingers on this connection see their oneshot dropped: a dead flow.
    inner
        .pongs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&handle.id);
    let _ = ready.send(Readiness::Failed(FailKind::Send, reason.clone()));
    debug!(peer = %handle.peer, ?handle.proto, %reason, "connection closed");
    inner.closed(handle.id, handle.peer, reason).await;
}

async fn write_loop(
    mut write: WriteHalf<Box<dyn Stream>>,
    mut rx: mpsc::Receiver<Outgoing>,
    proto: Proto,
    peer: SocketAddr,
) -> String {
    while let Some(out) = rx.recv().await {
        let result = tokio::time::timeout(WRITE_TIMEOUT, async {
            write.write_all(&out.bytes).await?;
            write.flush().await
        })
        .await;
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("write error: {e}")),
            Err(_) => Some("write timed out".to_owned()),
        };
        if let Some(done) = out.done {
            let _ = done.send(match &failure {
                None => Ok(()),
                Some(r) => Err(error(&FailKind::Send, proto, peer, r)),
            });
        }
        if let Some(reason) = failure {
            rx.close();
            while let Ok(out) = rx.try_recv() {
                if let Some(done) = out.done {
                    let _ = done.send(Err(error(&FailKind::Send, proto, peer, &reason)));
                }
            }
            return reason;
        }
    }
    let _ = write.shutdown().await;
    "closed".to_owned()
}

async fn read_frames(
    inner: &Inner,
    mut read: ReadHalf<Box<dyn Stream>>,
    handle: &ConnHandle,
    role: KeepAliveRole,
) -> String {
    // Server: a ping split across reads is still one ping. Client: a
    // lone CRLF is our pong at once (the keep-alive waits on it).
    let mut framer =
        StreamFramer::with_limits(inner.config.max_head, inner.config.max_body).with_role(role);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout(inner.config.idle_timeout, read.read(&mut buf)).await {
            Err(_) => return "idle".to_owned(),
            Ok(Ok(0)) => return "closed by peer".to_owned(),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return format!("read error: {e}"),
        };
        if let Err(e) = framer.push(&buf[..n]) {
            return format!("bad input: {e}");
        }
        loop {
            match framer.next_frame() {
                Ok(None) => break,
                Ok(Some(Frame::Message(message))) => {
                    if inner.allow(handle.peer.ip()) {
                        deliver(
                            inner,
                            Incoming {
                                message,
                                source: handle.peer,
                                proto: handle.proto,
                                conn: Some(handle.id),
                            },
                        );
                    } else {
                        debug!(peer = %handle.peer, "rate limited");
                    }
                }
                Ok(Some(Frame::Invalid(e))) => {
                    debug!(peer = %handle.peer, "dropping malformed message: {e}")
                }
                // RFC 5626 §4.4.1: answer a double-CRLF ping with a single CRLF.
                Ok(Some(Frame::Ping)) => {
                    if let Err(e) = handle.enqueue(b"\r\n".to_vec(), None) {
                        return format!("pong failed: {e}");
                    }
                }
                Ok(Some(Frame::Pong)) => {
                    inner.pong(handle.id);
                    let _ = inner
                        .events
                        .try_send(TransportEvent::Pong { conn: handle.id });
                }
                Err(e) => return format!("bad input: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sources_are_grouped_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::7".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(source_key(v4), v4);
    }

    #[tokio::test]
    async fn looking_up_and_adding_a_peer_connection_is_one_step() {
        // While one sender makes a new connection for a peer, another
        // sender to that peer waits and then shares it, instead of
        // finding nothing and opening a second one.
        let t = Arc::new(ConnTable::default());
        let peer = SocketAddr::from(([192, 0, 2, 1], 5060));
        let mut other = None;
        let (mine, ch) = t
            .peer_or_insert(peer, Proto::Tcp, || {
                let t2 = t.clone();
                other = Some(std::thread::spawn(move || {
                    let (h, ch) = t2
                        .peer_or_insert(peer, Proto::Tcp, || {
                            new_handle(peer, Proto::Tcp, Readiness::Connecting)
                        })
                        .unwrap();
                    (h.id, ch.is_some())
                }));
                // Give the other sender every chance to get in between.
                std::thread::sleep(Duration::from_millis(100));
                new_handle(peer, Proto::Tcp, Readiness::Connecting)
            })
            .unwrap();
        assert!(ch.is_some(), "the first sender made the connection");
        let (theirs, made) = other.unwrap().join().unwrap();
        assert!(!made, "the second sender made none");
        assert_eq!(theirs, mine.id);
        assert_eq!(t.len(), 1);
    }

    #[tokio::test]
    async fn table_counts_inbound_per_source_and_outbound_apart() {
        let t = ConnTable::default();
        let peer = |i: u16| SocketAddr::from(([192, 0, 2, 1], 5000 + i));
        let mut ids = Vec::new();
        for i in 0..MAX_INBOUND_PER_SOURCE as u16 {
            let (h, _ch) = new_handle(peer(i), Proto::Tcp, Readiness::Open);
            ids.push(h.id);
            t.insert(h, true).unwrap();
        }
        let (h, _ch) = new_handle(peer(999), Proto::Tcp, Readiness::Open);
        assert_eq!(t.insert(h, true), Err(Refused::SourceFull));
        // Another host, and our own outbound connections, still get in.
        let (h, _ch) = new_handle(
            SocketAddr::from(([192, 0, 2, 2], 5060)),
            Proto::Tcp,
            Readiness::Open,
        );
        t.insert(h, true).unwrap();
        let (h, _ch) = new_handle(peer(1000), Proto::Tcp, Readiness::Connecting);
        t.insert(h, false).unwrap();
        // Closing one frees the source's slot.
        t.remove(ids[0]);
        let (h, _ch) = new_handle(peer(999), Proto::Tcp, Readiness::Open);
        t.insert(h, true).unwrap();
        assert_eq!(t.len(), MAX_INBOUND_PER_SOURCE + 2);
    }
}

//! Stream connections (TCP and TLS): one reader task each, a shared
//! writer, reuse by peer, idle close.
//!
//! ```text
//!            connect/accept
//!  (none) ──────────────────> Open ──read EOF / error / idle / bad input──> Closed
//!                              │  ^                                      (removed from the
//!                              └──┘ frames -> driver, ping -> pong        table, driver told)
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sip_message::framer::{Frame, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tracing::debug;

use super::{deliver, Incoming, Inner, PeerKey, Proto, TransportEvent};

/// Open connections are capped; beyond this, new inbound ones are refused.
const MAX_CONNECTIONS: usize = 1024;

/// Identifies one connection for its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

type Writer = Arc<tokio::sync::Mutex<WriteHalf<Box<dyn Stream>>>>;

/// A way to write to one connection.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub(crate) id: ConnId,
    peer: SocketAddr,
    proto: Proto,
    writer: Writer,
}

impl ConnHandle {
    pub(crate) async fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut w = self.writer.lock().await;
        w.write_all(bytes).await?;
        w.flush().await
    }
}

#[derive(Default)]
pub(crate) struct ConnTable {
    map: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    by_id: HashMap<ConnId, ConnHandle>,
    by_peer: HashMap<PeerKey, ConnId>,
}

impl ConnTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    pub(crate) fn by_id(&self, id: ConnId) -> Option<ConnHandle> {
        self.lock().by_id.get(&id).cloned()
    }
    pub(crate) fn by_peer(&self, peer: SocketAddr, proto: Proto) -> Option<ConnHandle> {
        let t = self.lock();
        t.by_peer
            .get(&(peer, proto))
            .and_then(|id| t.by_id.get(id))
            .cloned()
    }
    pub(crate) fn len(&self) -> usize {
        self.lock().by_id.len()
    }
    fn insert(&self, h: ConnHandle) -> bool {
        let mut t = self.lock();
        if t.by_id.len() >= MAX_CONNECTIONS {
            return false;
        }
        t.by_peer.insert((h.peer, h.proto), h.id);
        t.by_id.insert(h.id, h);
        true
    }
    fn remove(&self, id: ConnId) {
        let mut t = self.lock();
        if let Some(h) = t.by_id.remove(&id) {
            if t.by_peer.get(&(h.peer, h.proto)) == Some(&id) {
                t.by_peer.remove(&(h.peer, h.proto));
            }
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Registers a connected stream and starts its reader.
pub(crate) fn spawn<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(
    inner: Arc<Inner>,
    stream: S,
    peer: SocketAddr,
    proto: Proto,
) -> ConnHandle {
    let boxed: Box<dyn Stream> = Box::new(stream);
    let (read, write) = tokio::io::split(boxed);
    let id = ConnId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let handle = ConnHandle {
        id,
        peer,
        proto,
        writer: Arc::new(tokio::sync::Mutex::new(write)),
    };
    if inner.conns.insert(handle.clone()) {
        tokio::spawn(read_loop(inner, read, handle.clone()));
    } else {
        debug!(%peer, "connection table full; closing");
    }
    handle
}

async fn read_loop(inner: Arc<Inner>, mut read: ReadHalf<Box<dyn Stream>>, handle: ConnHandle) {
    let reason = read_frames(&inner, &mut read, &handle).await;
    inner.conns.remove(handle.id);
    let _ = handle.writer.lock().await.shutdown().await;
    debug!(peer = %handle.peer, ?handle.proto, %reason, "connection closed");
    let _ = inner.events.try_send(TransportEvent::Closed {
        conn: handle.id,
        peer: handle.peer,
        reason,
    });
}

async fn read_frames(
    inner: &Inner,
    read: &mut ReadHalf<Box<dyn Stream>>,
    handle: &ConnHandle,
) -> String {
    let mut framer = StreamFramer::with_limits(inner.config.max_head, inner.config.max_body);
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
                    let allowed = inner.allow(handle.peer.ip());
                    if allowed {
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
                    if let Err(e) = handle.send(b"\r\n").await {
                        return format!("pong failed: {e}");
                    }
                }
                Ok(Some(Frame::Pong)) => {
                    let _ = inner
                        .events
                        .try_send(TransportEvent::Pong { conn: handle.id });
                }
                Err(e) => return format!("bad input: {e}"),
            }
        }
    }
}

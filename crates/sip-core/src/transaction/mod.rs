//! SIP transactions (RFC 3261 §17, amended by RFC 6026).
//!
//! The four state machines live one per file and know nothing about
//! addresses or other transactions: they take `now` and a message or a timer
//! expiry and push `Action`s. [`layer::TransactionLayer`] owns them, matches
//! incoming messages to them (§17.1.3, §17.2.3) and turns actions into
//! transmits and events.
//!
//! Timers are plain data (a `TimerTable` of `Option<Instant>` per machine);
//! the next wake-up of a machine is the minimum of its table.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::time::Instant;

use sip_message::{Message, Response};

pub(crate) mod client_invite;
pub(crate) mod client_non_invite;
pub mod layer;
pub(crate) mod server_invite;
pub(crate) mod server_non_invite;

/// Errors a transaction state machine reports to its user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The transaction cannot send this response in its current state
    /// (e.g. a second final response).
    #[error("cannot send a {status} response in state {state}")]
    InvalidState {
        /// The machine's state.
        state: &'static str,
        /// Status of the refused response.
        status: u16,
    },
}

/// The state of a transaction, for diagnostics (the four machines share
/// these names; see each machine's diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionState {
    /// INVITE client, request sent, no response yet.
    Calling,
    /// Non-INVITE client/server, no response yet.
    Trying,
    /// A provisional response was received/sent.
    Proceeding,
    /// A final (non-2xx for INVITE) response was received/sent.
    Completed,
    /// INVITE server, ACK received.
    Confirmed,
    /// INVITE, 2xx received/sent (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// What a machine asks its owner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send a message to the transaction's peer.
    Transmit(Message),
    /// Hand a response to the transaction user (client transactions).
    Deliver(Response),
    /// Timer B, F or H fired: the transaction failed.
    Timeout,
    /// The transport reported a failure.
    TransportError,
    /// The machine reached Terminated; its owner drops it.
    Terminated,
}

/// Timer names of one machine, usable as table indices.
pub(crate) trait TimerKind: Copy + Eq + Debug + 'static {
    /// Every timer, index order.
    const ALL: &'static [Self];
    /// Index into the table.
    fn index(self) -> usize;
}

/// A machine's armed timers: plain deadlines, no callbacks (quinn-proto's
/// model), so the owner can compute the next wake-up as a minimum.
#[derive(Debug, Clone)]
pub(crate) struct TimerTable<T, const N: usize> {
    at: [Option<Instant>; N],
    _kind: PhantomData<T>,
}

impl<T: TimerKind, const N: usize> TimerTable<T, N> {
    pub(crate) fn new() -> Self {
        Self {
            at: [None; N],
            _kind: PhantomData,
        }
    }

    pub(crate) fn set(&mut self, t: T, at: Instant) {
        if let Some(slot) = self.at.get_mut(t.index()) {
            *slot = Some(at);
        }
    }

    pub(crate) fn stop(&mut self, t: T) {
        if let Some(slot) = self.at.get_mut(t.index()) {
            *slot = None;
        }
    }

    pub(crate) fn stop_all(&mut self) {
        self.at = [None; N];
    }

    #[cfg(test)]
    pub(crate) fn get(&self, t: T) -> Option<Instant> {
        self.at.get(t.index()).copied().flatten()
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// Disarms and returns the earliest timer due at `now`, if any. Ties go
    /// to the lower index, which each machine orders so that a retransmit
    /// timer never wins against the timeout that ends it.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<T> {
        let mut best: Option<(Instant, T)> = None;
        for &t in T::ALL {
            if let Some(at) = self.at.get(t.index()).copied().flatten() {
                if at <= now && best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, t));
                }
            }
        }
        let (_, t) = best?;
        self.stop(t);
        Some(t)
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Message builders for the machine tests.
    use sip_message::{Message, Request, Response, StatusCode};

    pub(crate) fn request(method: &str, branch: &str) -> Request {
        let text = format!(
            "{method} sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.com>;tag=a1\r\n\
             To: <sip:bob@example.com>\r\n\
             Call-ID: c-{branch}@192.0.2.1\r\n\
             CSeq: 1 {method}\r\n\
             Contact: <sip:alice@192.0.2.1>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match sip_message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("bad test request: {other:?}"),
        }
    }

    pub(crate) fn response(req: &Request, code: u16) -> Response {
        let mut r = Response::for_request(req, StatusCode::new(code).unwrap());
        if code > 100 {
            let mut to = req.headers.to().unwrap().unwrap();
            to.set_tag("b1");
            r.headers.set_typed(&to);
        }
        r
    }
}

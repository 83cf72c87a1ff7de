//! Non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!                         | request received: pass to TU
//!                         v
//!   retransmit:     +--------+
//!   absorb   +----->| Trying |
//!            +------+--------+
//!                     |    | 1xx from TU: send
//!                     |    v
//!                     | +------------+ 1xx from TU: send
//!                     | | Proceeding |<---+ retransmit: resend last 1xx
//!                     | +------------+----+
//!   200-699 from TU:  |    |    | transport error: tell TU --------+
//!   send, arm J       |    | 200-699 from TU: send, arm J          |
//!                     v    v                                       |
//!                   +-----------+ retransmit: resend final         |
//!                   | Completed |<---+                             |
//!                   +-----------+----+                             |
//!                         | J fires (64*T1; zero if reliable)      |
//!                         v                                        v
//!                   +----------------------------------------------+
//!                   |                 Terminated                   |
//!                   +----------------------------------------------+
//! ```
//!
//! Local guard, not in the RFC: if the TU has sent no final response
//! 64*T1 after the request arrived, the client has given up (its Timer F)
//! and the machine ends with a timeout, so a TU that forgets a request
//! cannot pin a slot of the transaction table forever.

use std::time::Instant;

use sip_message::{Message, Response};

use super::{Action, TimerKind, TimerTable, TransactionError};
use crate::timers::TimerConfig;

/// States of [`ServerNonInvite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Trying => "Trying",
            State::Proceeding => "Proceeding",
            State::Completed => "Completed",
            State::Terminated => "Terminated",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    J,
    /// The TU-answer guard (see module docs).
    Tu,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::J, Timer::Tu];
    fn index(self) -> usize {
        self as usize
    }
}

/// A non-INVITE server transaction; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct ServerNonInvite {
    state: State,
    reliable: bool,
    config: TimerConfig,
    timers: TimerTable<Timer, 2>,
    last: Option<Response>,
}

impl ServerNonInvite {
    /// A new request arrived; the owner passes it to the TU.
    pub(crate) fn new(now: Instant, reliable: bool, config: TimerConfig) -> Self {
        let mut t = ServerNonInvite {
            state: State::Trying,
            reliable,
            config,
            timers: TimerTable::new(),
            last: None,
        };
        t.timers.set(Timer::Tu, now + config.timeout_64t1());
        t
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// A retransmission of the request matched this transaction.
    pub(crate) fn on_request(&mut self, out: &mut Vec<Action>) {
        // In Trying the TU has not answered yet: nothing to resend.
        if let (State::Proceeding | State::Completed, Some(r)) = (self.state, &self.last) {
            out.push(Action::Transmit(Message::Response(r.clone())));
        }
    }

    /// The TU answers.
    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        resp: Response,
        out: &mut Vec<Action>,
    ) -> Result<(), TransactionError> {
        match self.state {
            State::Trying | State::Proceeding => {
                out.push(Action::Transmit(Message::Response(resp.clone())));
                let fin = resp.status.is_final();
                self.last = Some(resp);
                if !fin {
                    self.state = State::Proceeding;
                    return Ok(());
                }
                self.timers.stop(Timer::Tu);
                let j = self.config.timer_j(self.reliable);
                if j.is_zero() {
                    self.terminate(out);
                } else {
                    self.state = State::Completed;
                    self.timers.set(Timer::J, now + j);
                }
                Ok(())
            }
            state => Err(TransactionError::InvalidState {
                state: state.name(),
                status: resp.status.as_u16(),
            }),
        }
    }

    fn terminate(&mut self, out: &mut Vec<Action>) {
        self.state = State::Terminated;
        self.timers.stop_all();
        out.push(Action::Terminated);
    }

    /// Fires every timer due at `now`.
    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        while let Some(t) = self.timers.pop_expired(now) {
            match (t, self.state) {
                (Timer::J, State::Completed) => self.terminate(out),
                (Timer::Tu, State::Trying | State::Proceeding) => {
                    tracing::debug!("TU never answered a non-INVITE request");
                    out.push(Action::Timeout);
                    self.terminate(out);
                }
                (t, s) => tracing::debug!(?t, ?s, "stale timer ignored"),
            }
        }
    }

    /// The transport could not send for this transaction.
    pub(crate) fn on_transport_error(&mut self, out: &mut Vec<Action>) {
        if self.state != State::Terminated {
            out.push(Action::TransportError);
            self.terminate(out);
        }
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

    fn statuses(out: &[Action]) -> Vec<u16> {
        out.iter()
            .filter_map(|a| match a {
                Action::Transmit(Message::Response(r)) => Some(r.status.as_u16()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn retransmits_absorbed_in_trying_answered_later() {
        let t0 = Instant::now();
        let req = request("OPTIONS", "z9hG4bKsn");
        let mut t = ServerNonInvite::new(t0, false, TimerConfig::default());
        let mut out = Vec::new();
        t.on_request(&mut out);
        assert!(out.is_empty());
        assert_eq!(
            t.next_timeout(),
            Some(t0 + ms(32_000)),
            "only the TU guard in Trying"
        );
        t.send_response(t0 + ms(10), response(&req, 180), &mut out)
            .unwrap();
        assert_eq!(t.state(), State::Proceeding);
        t.on_request(&mut out);
        assert_eq!(statuses(&out), [180, 180]);
        out.clear();
        t.send_response(t0 + ms(20), response(&req, 200), &mut out)
            .unwrap();
        assert_eq!(t.state(), State::Completed);
        // Lost 200: the client's retransmission gets it again.
        t.on_request(&mut out);
        assert_eq!(statuses(&out), [200, 200]);
        assert!(t
            .send_response(t0 + ms(30), response(&req, 500), &mut out)
            .is_err());
        assert_eq!(t.next_timeout(), Some(t0 + ms(32_020)), "J = 64*T1");
        out.clear();
        t.on_timeout(t0 + ms(32_019), &mut out);
        assert!(out.is_empty());
        t.on_timeout(t0 + ms(32_020), &mut out);
        assert_eq!(out, [Action::Terminated]);
        out.clear();
        t.on_request(&mut out);
        assert!(out.is_empty(), "late retransmission after J ignored");
    }

    #[test]
    fn reliable_final_terminates_at_once() {
        let t0 = Instant::now();
        let req = request("BYE", "z9hG4bKsn");
        let mut t = ServerNonInvite::new(t0, true, TimerConfig::default());
        let mut out = Vec::new();
        t.send_response(t0, response(&req, 200), &mut out).unwrap();
        assert_eq!(statuses(&out), [200]);
        assert_eq!(out.last(), Some(&Action::Terminated));
    }

    #[test]
    fn unanswered_request_times_out_after_64_t1() {
        let t0 = Instant::now();
        let req = request("OPTIONS", "z9hG4bKsn");
        let mut t = ServerNonInvite::new(t0, false, TimerConfig::default());
        let mut out = Vec::new();
        t.send_response(t0 + ms(5), response(&req, 100), &mut out)
            .unwrap();
        out.clear();
        t.on_timeout(t0 + ms(31_999), &mut out);
        assert!(out.is_empty());
        t.on_timeout(t0 + ms(32_000), &mut out);
        assert_eq!(out, [Action::Timeout, Action::Terminated]);
        assert!(t
            .send_response(t0 + ms(33_000), response(&req, 200), &mut out)
            .is_err());
    }

    #[test]
    fn transport_error() {
        let t0 = Instant::now();
        let mut t = ServerNonInvite::new(t0, false, TimerConfig::default());
        let mut out = Vec::new();
        t.on_transport_error(&mut out);
        assert_eq!(out, [Action::TransportError, Action::Terminated]);
    }
}

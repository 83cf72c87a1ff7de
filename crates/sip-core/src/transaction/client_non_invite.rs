//! Non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!                         | request from TU: send, arm E (unreliable), F
//!     E fires: resend,    v
//!     E = min(2E, T2) +--------+  F fires / transport error: tell TU
//!              +----->| Trying |---------------------------------+
//!              +------+--------+                                 |
//!                     |     | 1xx: to TU                         |
//!                     |     v                                    |
//!     E fires: resend,| +------------+ F fires / transport error |
//!     E = T2   +----->| | Proceeding |-------------------------->|
//!              +------| +------------+ 1xx: to TU                |
//!                     |     |                                    |
//!      200-699: to TU,|     | 200-699: to TU, arm K              |
//!      arm K          v     v                                    |
//!                   +-----------+ response retransmits absorbed  |
//!                   | Completed |                                |
//!                   +-----------+                                |
//!                         | K fires (T4; zero if reliable)       |
//!                         v                                      v
//!                   +---------------------------------------------+
//!                   |                 Terminated                  |
//!                   +---------------------------------------------+
//! ```

use std::time::Instant;

use sip_message::{Message, Request, Response};

use super::{Action, TimerKind, TimerTable};
use crate::timers::TimerConfig;

/// States of [`ClientNonInvite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    F,
    K,
    E,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::F, Timer::K, Timer::E];
    fn index(self) -> usize {
        self as usize
    }
}

/// A non-INVITE client transaction; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct ClientNonInvite {
    state: State,
    request: Request,
    reliable: bool,
    config: TimerConfig,
    timers: TimerTable<Timer, 3>,
    retransmits: u32,
}

impl ClientNonInvite {
    /// Starts the transaction: sends the request.
    pub(crate) fn start(
        now: Instant,
        request: Request,
        reliable: bool,
        config: TimerConfig,
        out: &mut Vec<Action>,
    ) -> Self {
        let mut t = ClientNonInvite {
            state: State::Trying,
            request,
            reliable,
            config,
            timers: TimerTable::new(),
            retransmits: 0,
        };
        out.push(Action::Transmit(Message::Request(t.request.clone())));
        if !reliable {
            t.timers.set(Timer::E, now + config.timer_e(0));
        }
        t.timers.set(Timer::F, now + config.timeout_64t1());
        t
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn request(&self) -> &Request {
        &self.request
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// A response matched this transaction.
    pub(crate) fn on_response(&mut self, now: Instant, resp: Response, out: &mut Vec<Action>) {
        match self.state {
            State::Trying | State::Proceeding => {
                if resp.status.is_provisional() {
                    // Keep retransmitting (at T2) until a final response:
                    // the 1xx does not prove the final one will arrive.
                    self.state = State::Proceeding;
                    out.push(Action::Deliver(resp));
                } else {
                    self.timers.stop_all();
                    out.push(Action::Deliver(resp));
                    let k = self.config.timer_k(self.reliable);
                    if k.is_zero() {
                        self.terminate(out);
                    } else {
                        self.state = State::Completed;
                        self.timers.set(Timer::K, now + k);
                    }
                }
            }
            // Retransmitted responses are absorbed (§17.1.2.2).
            State::Completed | State::Terminated => {}
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
                (Timer::E, State::Trying) => {
                    self.retransmits += 1;
                    out.push(Action::Transmit(Message::Request(self.request.clone())));
                    self.timers
                        .set(Timer::E, now + self.config.timer_e(self.retransmits));
                }
                (Timer::E, State::Proceeding) => {
                    out.push(Action::Transmit(Message::Request(self.request.clone())));
                    self.timers.set(Timer::E, now + self.config.t2());
                }
                (Timer::F, State::Trying | State::Proceeding) => {
                    out.push(Action::Timeout);
                    self.terminate(out);
                }
                (Timer::K, State::Completed) => self.terminate(out),
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

    fn start(reliable: bool) -> (Instant, ClientNonInvite, Vec<Action>) {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let t = ClientNonInvite::start(
            t0,
            request("BYE", "z9hG4bKcn"),
            reliable,
            TimerConfig::default(),
            &mut out,
        );
        (t0, t, out)
    }

    fn sends(out: &[Action]) -> usize {
        out.iter()
            .filter(|a| matches!(a, Action::Transmit(_)))
            .count()
    }

    /// Runs the machine's timers until `until`, returning the retransmit
    /// instants (ms since t0).
    fn run(t: &mut ClientNonInvite, t0: Instant, until: Duration) -> (Vec<u128>, Vec<Action>) {
        let mut at_ms = Vec::new();
        let mut all = Vec::new();
        while let Some(at) = t.next_timeout() {
            if at > t0 + until {
                break;
            }
            let mut out = Vec::new();
            t.on_timeout(at, &mut out);
            if sends(&out) > 0 {
                at_ms.push((at - t0).as_millis());
            }
            all.extend(out);
        }
        (at_ms, all)
    }

    #[test]
    fn lost_request_timer_e_caps_at_t2_then_f_times_out() {
        let (t0, mut t, out) = start(false);
        assert_eq!(sends(&out), 1);
        let (at, actions) = run(&mut t, t0, Duration::from_secs(40));
        assert_eq!(
            &at[..6],
            [500, 1500, 3500, 7500, 11500, 15500],
            "E doubles to T2=4s"
        );
        assert_eq!(*at.last().unwrap(), 31500);
        assert_eq!(
            &actions[actions.len() - 2..],
            [Action::Timeout, Action::Terminated]
        );
        assert_eq!(t.state(), State::Terminated);
    }

    #[test]
    fn provisional_switches_retransmits_to_t2() {
        let (t0, mut t, mut out) = start(false);
        let req = t.request().clone();
        out.clear();
        t.on_response(t0 + ms(100), response(&req, 100), &mut out);
        assert_eq!(t.state(), State::Proceeding);
        assert_eq!(out.len(), 1);
        let (at, _) = run(&mut t, t0, Duration::from_secs(10));
        // E armed at 500 ms still fires, then every T2.
        assert_eq!(at, [500, 4500, 8500]);
    }

    #[test]
    fn final_response_then_k_and_late_retransmissions_absorbed() {
        let (t0, mut t, mut out) = start(false);
        let req = t.request().clone();
        t.on_response(t0 + ms(600), response(&req, 200), &mut out);
        assert_eq!(t.state(), State::Completed);
        assert_eq!(t.next_timeout(), Some(t0 + ms(5600)), "K = T4");
        out.clear();
        t.on_response(t0 + ms(1600), response(&req, 200), &mut out);
        assert!(out.is_empty(), "retransmitted final absorbed");
        t.on_timeout(t0 + ms(5600), &mut out);
        assert_eq!(out, [Action::Terminated]);
        out.clear();
        t.on_response(t0 + ms(7000), response(&req, 200), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn reliable_transport_no_e_and_k_zero() {
        let (t0, mut t, mut out) = start(true);
        assert_eq!(t.next_timeout(), Some(t0 + ms(32_000)));
        let req = t.request().clone();
        out.clear();
        t.on_response(t0 + ms(50), response(&req, 404), &mut out);
        assert!(matches!(&out[..], [Action::Deliver(_), Action::Terminated]));
    }

    #[test]
    fn timeout_in_proceeding_and_transport_error() {
        let (t0, mut t, mut out) = start(true);
        let req = t.request().clone();
        t.on_response(t0 + ms(50), response(&req, 180), &mut out);
        out.clear();
        t.on_timeout(t0 + ms(32_000), &mut out);
        assert_eq!(out, [Action::Timeout, Action::Terminated]);
        let (_, mut t, mut out) = start(false);
        out.clear();
        t.on_transport_error(&mut out);
        assert_eq!(out, [Action::TransportError, Action::Terminated]);
    }
}

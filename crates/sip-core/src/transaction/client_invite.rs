//! INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).
//!
//! ```text
//!                       | INVITE from TU: send it, arm A (unreliable), B
//!       A fires:        v
//!       resend, A*=2 +---------+  B fires / transport error: tell TU
//!            +------>| Calling |--------------------------------------+
//!            +-------+---------+                                      |
//!                      |  |  | 2xx: to TU, arm M ----------------+    |
//!                      |  |  1xx: to TU                         |    |
//!                      |  v                                     |    |
//!                      | +------------+ 1xx: to TU            |    |
//!                      | | Proceeding |<-----+                  |    |
//!                      | +------------+------+                  |    |
//!                      |   |  | 2xx: to TU, arm M --------------+    |
//!          300-699: ACK,   |  |                                 v    |
//!          to TU, arm D    |  300-699: ACK, to TU,     +----------+  |
//!                      v   v  arm D                    | Accepted |  |
//!                 +-----------+ 300-699: resend ACK    +----------+  |
//!                 | Completed |<----+                  2xx: to TU |  |
//!                 +-----------+-----+                   (RFC 6026) |  |
//!                      | D fires                        M fires    |  |
//!                      v                                           v  v
//!                 +--------------------------------------------------+
//!                 |                    Terminated                    |
//!                 +--------------------------------------------------+
//! ```
//!
//! Over reliable transports Timer A is never armed and Timer D is zero
//! (§17.1.1.2). The ACK for a non-2xx final response is built here
//! (§17.1.1.3); the ACK for a 2xx belongs to the dialog (§13.2.2.4).

use std::time::Instant;

use sip_message::headers::{CSeq, MaxForwards};
use sip_message::{Message, Method, Request, Response};

use super::{Action, TimerKind, TimerTable};
use crate::timers::TimerConfig;

/// States of [`ClientInvite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    // Timeouts first: on a tie the timeout wins over a retransmission.
    B,
    D,
    M,
    A,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::B, Timer::D, Timer::M, Timer::A];
    fn index(self) -> usize {
        self as usize
    }
}

/// An INVITE client transaction; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct ClientInvite {
    state: State,
    request: Request,
    reliable: bool,
    config: TimerConfig,
    timers: TimerTable<Timer, 4>,
    /// Retransmissions of the INVITE so far (Timer A doubling).
    retransmits: u32,
    /// The ACK for the non-2xx final response, resent on its retransmits.
    ack: Option<Request>,
}

impl ClientInvite {
    /// Starts the transaction: sends the INVITE.
    pub(crate) fn start(
        now: Instant,
        request: Request,
        reliable: bool,
        config: TimerConfig,
        out: &mut Vec<Action>,
    ) -> Self {
        let mut t = ClientInvite {
            state: State::Calling,
            request,
            reliable,
            config,
            timers: TimerTable::new(),
            retransmits: 0,
            ack: None,
        };
        out.push(Action::Transmit(Message::Request(t.request.clone())));
        if !reliable {
            t.timers.set(Timer::A, now + config.timer_a(0));
        }
        t.timers.set(Timer::B, now + config.timeout_64t1());
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
        let status = resp.status;
        match self.state {
            State::Calling | State::Proceeding => {
                // Any response means the INVITE arrived: stop resending.
                self.timers.stop(Timer::A);
                if status.is_provisional() {
                    // Timer B only guards Calling; after a 1xx the TU
                    // decides how long to wait (and CANCELs).
                    self.timers.stop(Timer::B);
                    self.state = State::Proceeding;
                    out.push(Action::Deliver(resp));
                } else if status.is_success() {
                    self.timers.stop(Timer::B);
                    self.state = State::Accepted;
                    self.timers.set(Timer::M, now + self.config.timeout_64t1());
                    out.push(Action::Deliver(resp));
                } else {
                    self.timers.stop(Timer::B);
                    let ack = build_ack(&self.request, &resp);
                    out.push(Action::Transmit(Message::Request(ack.clone())));
                    self.ack = Some(ack);
                    out.push(Action::Deliver(resp));
                    self.enter_completed(now, out);
                }
            }
            State::Completed => {
                // A retransmitted final response: our ACK was lost.
                if status.is_final() && !status.is_success() {
                    if let Some(ack) = &self.ack {
                        out.push(Action::Transmit(Message::Request(ack.clone())));
                    }
                }
            }
            State::Accepted => {
                // RFC 6026 §7.2: every 2xx (retransmissions, other forks)
                // goes up so the TU can ACK each one.
                if status.is_success() {
                    out.push(Action::Deliver(resp));
                } else {
                    tracing::debug!(%status, "non-2xx after 2xx in Accepted; dropped");
                }
            }
            State::Terminated => {}
        }
    }

    fn enter_completed(&mut self, now: Instant, out: &mut Vec<Action>) {
        let d = self.config.timer_d(self.reliable);
        if d.is_zero() {
            self.terminate(out);
        } else {
            self.state = State::Completed;
            self.timers.set(Timer::D, now + d);
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
                (Timer::A, State::Calling) => {
                    self.retransmits += 1;
                    out.push(Action::Transmit(Message::Request(self.request.clone())));
                    self.timers
                        .set(Timer::A, now + self.config.timer_a(self.retransmits));
                }
                (Timer::B, State::Calling) => {
                    out.push(Action::Timeout);
                    self.terminate(out);
                }
                (Timer::D, State::Completed) | (Timer::M, State::Accepted) => self.terminate(out),
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

/// The ACK for a non-2xx final response (§17.1.1.3): same Request-URI,
/// Call-ID, From, CSeq number and top Via as the INVITE, To from the
/// response (it carries the tag), Route headers of the INVITE.
pub(crate) fn build_ack(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    let h = &invite.headers;
    // Only the topmost Via (the first line may hold a list).
    if let Ok(Some(top)) = h.top_via() {
        ack.headers.push_typed(&top);
    }
    ack.headers.push_typed(&MaxForwards(70));
    for name in ["From", "Call-ID"] {
        if let Some(v) = h.get(name) {
            let _ = ack.headers.push(name, v);
        }
    }
    if let Some(v) = resp.headers.get("To").or_else(|| h.get("To")) {
        let _ = ack.headers.push("To", v);
    }
    if let Ok(Some(c)) = h.cseq() {
        ack.headers.push_typed(&CSeq {
            seq: c.seq,
            method: Method::Ack,
        });
    }
    for v in h.values(sip_message::HeaderName::Route) {
        let _ = ack.headers.push("Route", v);
    }
    ack.headers
        .push_typed(&sip_message::headers::ContentLength(0));
    ack
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::transaction::test_util::{request, response};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn start(reliable: bool) -> (Instant, ClientInvite, Vec<Action>) {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let t = ClientInvite::start(
            t0,
            request("INVITE", "z9hG4bKci"),
            reliable,
            TimerConfig::default(),
            &mut out,
        );
        (t0, t, out)
    }

    fn sent(out: &[Action]) -> Vec<String> {
        out.iter()
            .filter_map(|a| match a {
                Action::Transmit(Message::Request(r)) => Some(r.method.to_string()),
                Action::Transmit(Message::Response(r)) => Some(r.status.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lost_invite_is_resent_with_doubling_timer_a_until_timer_b() {
        let (t0, mut t, mut out) = start(false);
        assert_eq!(sent(&out), ["INVITE"]);
        out.clear();
        // A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B at 32 s.
        let mut fired = Vec::new();
        while let Some(at) = t.next_timeout() {
            t.on_timeout(at, &mut out);
            if sent(&out).len() == 1 {
                fired.push((at - t0).as_millis());
            }
            if out.contains(&Action::Timeout) {
                assert_eq!(at - t0, Duration::from_secs(32));
                break;
            }
            out.clear();
        }
        assert_eq!(fired, [500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(out, [Action::Timeout, Action::Terminated]);
        assert_eq!(t.state(), State::Terminated);
        assert_eq!(t.next_timeout(), None);
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let (t0, mut t, mut out) = start(true);
        out.clear();
        assert_eq!(t.next_timeout(), Some(t0 + Duration::from_secs(32)));
        t.on_timeout(t0 + Duration::from_secs(31), &mut out);
        assert!(out.is_empty());
        t.on_timeout(t0 + Duration::from_secs(32), &mut out);
        assert_eq!(out, [Action::Timeout, Action::Terminated]);
    }

    #[test]
    fn provisional_stops_a_and_b_then_2xx_enters_accepted_until_m() {
        let (t0, mut t, mut out) = start(false);
        out.clear();
        let req = t.request().clone();
        t.on_response(t0 + ms(100), response(&req, 180), &mut out);
        assert_eq!(t.state(), State::Proceeding);
        assert!(matches!(&out[..], [Action::Deliver(r)] if r.status.as_u16() == 180));
        assert_eq!(t.next_timeout(), None, "no timers in Proceeding");
        out.clear();
        // A late retransmission of the 1xx is still delivered.
        t.on_response(t0 + ms(200), response(&req, 180), &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        t.on_response(t0 + ms(1000), response(&req, 200), &mut out);
        assert_eq!(t.state(), State::Accepted);
        assert_eq!(out.len(), 1);
        assert_eq!(t.timers.get(Timer::M), Some(t0 + ms(1000) + ms(32_000)));
        out.clear();
        // 2xx retransmissions (lost ACK) reach the TU; stray 4xx do not.
        t.on_response(t0 + ms(1500), response(&req, 200), &mut out);
        t.on_response(t0 + ms(1600), response(&req, 486), &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        t.on_timeout(t0 + ms(33_000), &mut out);
        assert_eq!(out, [Action::Terminated]);
    }

    #[test]
    fn direct_2xx_from_calling() {
        let (t0, mut t, mut out) = start(false);
        out.clear();
        let req = t.request().clone();
        t.on_response(t0 + ms(700), response(&req, 200), &mut out);
        assert_eq!(t.state(), State::Accepted);
        assert_eq!(t.timers.get(Timer::A), None);
        assert_eq!(t.timers.get(Timer::B), None);
    }

    #[test]
    fn error_response_is_acked_and_ack_resent_on_retransmission_until_d() {
        let (t0, mut t, mut out) = start(false);
        out.clear();
        let req = t.request().clone();
        t.on_response(t0 + ms(100), response(&req, 486), &mut out);
        assert_eq!(sent(&out), ["ACK"]);
        assert_eq!(t.state(), State::Completed);
        let Action::Transmit(Message::Request(ack)) = &out[0] else {
            panic!()
        };
        assert_eq!(ack.uri, req.uri);
        assert_eq!(ack.headers.to().unwrap().unwrap().tag(), Some("b1"));
        assert_eq!(ack.headers.cseq().unwrap().unwrap().method, Method::Ack);
        assert_eq!(ack.headers.cseq().unwrap().unwrap().seq, 1);
        assert_eq!(
            ack.headers.top_via().unwrap().unwrap().branch(),
            Some("z9hG4bKci")
        );
        assert!(out
            .iter()
            .any(|a| matches!(a, Action::Deliver(r) if r.status.as_u16() == 486)));
        out.clear();
        // Late retransmission of the 486: ACK again, not delivered again.
        t.on_response(t0 + ms(5000), response(&req, 486), &mut out);
        assert_eq!(sent(&out), ["ACK"]);
        assert_eq!(out.len(), 1);
        out.clear();
        assert_eq!(t.next_timeout(), Some(t0 + ms(100) + ms(32_000)));
        t.on_timeout(t0 + ms(32_100), &mut out);
        assert_eq!(out, [Action::Terminated]);
    }

    #[test]
    fn error_response_over_reliable_terminates_at_once() {
        let (t0, mut t, mut out) = start(true);
        out.clear();
        let req = t.request().clone();
        t.on_response(t0 + ms(100), response(&req, 603), &mut out);
        assert_eq!(sent(&out), ["ACK"]);
        assert_eq!(out.last(), Some(&Action::Terminated));
        assert_eq!(t.state(), State::Terminated);
    }

    #[test]
    fn error_after_proceeding_and_transport_error() {
        let (t0, mut t, mut out) = start(false);
        let req = t.request().clone();
        t.on_response(t0 + ms(100), response(&req, 100), &mut out);
        t.on_response(t0 + ms(200), response(&req, 404), &mut out);
        assert_eq!(t.state(), State::Completed);
        out.clear();
        let (_, mut t2, _) = start(false);
        t2.on_transport_error(&mut out);
        assert_eq!(out, [Action::TransportError, Action::Terminated]);
        out.clear();
        t2.on_transport_error(&mut out);
        assert!(out.is_empty(), "terminated machines stay quiet");
    }

    #[test]
    fn late_timer_fires_retransmission_once_per_deadline() {
        // A driver that wakes late (e.g. at 2 s) fires A once and re-arms
        // relative to now, rather than bursting.
        let (t0, mut t, mut out) = start(false);
        out.clear();
        t.on_timeout(t0 + ms(2000), &mut out);
        assert_eq!(sent(&out), ["INVITE"]);
        assert_eq!(t.timers.get(Timer::A), Some(t0 + ms(3000)));
    }
}

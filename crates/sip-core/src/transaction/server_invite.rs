//! INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).
//!
//! ```text
//!                        | INVITE received: pass to TU, arm Trying (200 ms)
//!   INVITE retransmit:   v
//!   resend last 1xx +------------+ Trying fires: send 100 Trying
//!             +---->| Proceeding |<----+ 1xx from TU: send
//!             +-----+------------+-----+
//!                      |     |   | transport error: tell TU ------------+
//!   300-699 from TU:   |     | 2xx from TU: send, arm L (RFC 6026)    |
//!   send, arm G, H     |     v                                         |
//!                      |  +----------+ 2xx from TU: send               |
//!                      |  | Accepted |<---+ INVITE retransmit: absorb  |
//!                      |  +----------+----+                            |
//!                      v       | L fires                               |
//!   INVITE retransmit, +-----------+                                   |
//!   G fires: resend,   | Completed |--- H fires: tell TU ------------->|
//!   G = min(2G, T2) +->|           |                                   |
//!                   +--+-----------+                                   |
//!                            | ACK: arm I (T4; zero if reliable)       |
//!                            v                                         |
//!                      +-----------+ ACK: absorb                       |
//!                      | Confirmed |                                   |
//!                      +-----------+                                   |
//!                            | I fires                                 v
//!                      +------------------------------------------------+
//!                      |                  Terminated                    |
//!                      +------------------------------------------------+
//! ```
//!
//! The ACK for a 2xx carries its own branch (§17.1.1.3), so it never
//! reaches this machine: the layer hands it to the dialog. The 100 Trying
//! delay is §17.2.1's "200 ms".
//!
//! Local guard, not in the RFC: if the TU has sent no final response
//! [`TU_GUARD`] after the INVITE arrived, the machine answers 480 itself
//! (moving to Completed as for any non-2xx) and tells the TU with a
//! timeout, so a TU that forgets a call cannot pin a slot of the
//! transaction table, or the caller's phone, forever. It is longer than a
//! proxy's Timer C (§16.6: more than 3 minutes), so proxies time out first.

use std::time::{Duration, Instant};

use sip_message::headers::Timestamp;
use sip_message::{Message, Method, Request, Response};

use super::{Action, TimerKind, TimerTable, TransactionError};
use crate::timers::TimerConfig;

/// How long the TU may stay silent before the machine sends 100 Trying.
pub(crate) const TRYING_DELAY: Duration = Duration::from_millis(200);
/// How long the TU may leave an INVITE without a final response.
pub(crate) const TU_GUARD: Duration = Duration::from_secs(300);

/// States of [`ServerInvite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Proceeding => "Proceeding",
            State::Completed => "Completed",
            State::Confirmed => "Confirmed",
            State::Accepted => "Accepted",
            State::Terminated => "Terminated",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    H,
    I,
    L,
    G,
    Trying,
    /// The TU-answer guard (see module docs).
    Tu,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[
        Timer::H,
        Timer::I,
        Timer::L,
        Timer::G,
        Timer::Trying,
        Timer::Tu,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

/// An INVITE server transaction; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct ServerInvite {
    state: State,
    request: Request,
    reliable: bool,
    config: TimerConfig,
    timers: TimerTable<Timer, 6>,
    /// Last response sent: resent on INVITE retransmits and Timer G.
    last: Option<Response>,
    retransmits: u32,
}

impl ServerInvite {
    /// A new INVITE arrived; the owner passes it to the TU.
    pub(crate) fn new(now: Instant, request: Request, reliable: bool, config: TimerConfig) -> Self {
        let mut t = ServerInvite {
            state: State::Proceeding,
            request,
            reliable,
            config,
            timers: TimerTable::new(),
            last: None,
            retransmits: 0,
        };
        t.timers.set(Timer::Trying, now + TRYING_DELAY);
        t.timers.set(Timer::Tu, now + TU_GUARD);
        t
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn request(&self) -> &Request {
        &self.request
    }

    /// The last response sent (its To tag answers a matching CANCEL).
    pub(crate) fn last_response(&self) -> Option<&Response> {
        self.last.as_ref()
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// A retransmitted INVITE or an ACK matched this transaction.
    pub(crate) fn on_request(&mut self, now: Instant, req: &Request, out: &mut Vec<Action>) {
        let ack = req.method == Method::Ack;
        match (self.state, ack) {
            (State::Proceeding, false) | (State::Completed, false) => {
                // Our response was lost: send it again (nothing yet if the
                // TU has not answered and the 100 is still pending).
                if let Some(r) = &self.last {
                    out.push(Action::Transmit(Message::Response(r.clone())));
                }
            }
            (State::Completed, true) => {
                self.timers.stop(Timer::G);
                self.timers.stop(Timer::H);
                let i = self.config.timer_k(self.reliable);
                if i.is_zero() {
                    self.terminate(out);
                } else {
                    self.state = State::Confirmed;
                    self.timers.set(Timer::I, now + i);
                }
            }
            (state, ack) => {
                tracing::debug!(?state, ack, "request absorbed by server INVITE");
            }
        }
    }

    /// The TU answers.
    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        resp: Response,
        out: &mut Vec<Action>,
    ) -> Result<(), TransactionError> {
        let status = resp.status;
        match self.state {
            State::Proceeding => {
                self.timers.stop(Timer::Trying);
                out.push(Action::Transmit(Message::Response(resp.clone())));
                if status.is_provisional() {
                    self.last = Some(resp);
                    return Ok(());
                }
                self.timers.stop(Timer::Tu);
                if status.is_success() {
                    self.last = Some(resp);
                    self.state = State::Accepted;
                    self.timers.set(Timer::L, now + self.config.timeout_64t1());
                } else {
                    self.last = Some(resp);
                    self.state = State::Completed;
                    if !self.reliable {
                        self.timers.set(Timer::G, now + self.config.timer_e(0));
                    }
                    self.timers.set(Timer::H, now + self.config.timeout_64t1());
                }
                Ok(())
            }
            // RFC 6026 §7.1: the TU's 2xx retransmissions go out from here.
            State::Accepted if status.is_success() => {
                out.push(Action::Transmit(Message::Response(resp)));
                Ok(())
            }
            state => Err(TransactionError::InvalidState {
                state: state.name(),
                status: status.as_u16(),
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
                (Timer::Trying, State::Proceeding) if self.last.is_none() => {
                    let r = trying(&self.request);
                    out.push(Action::Transmit(Message::Response(r.clone())));
                    self.last = Some(r);
                }
                (Timer::G, State::Completed) => {
                    self.retransmits += 1;
                    if let Some(r) = &self.last {
                        out.push(Action::Transmit(Message::Response(r.clone())));
                    }
                    self.timers
                        .set(Timer::G, now + self.config.timer_e(self.retransmits));
                }
                (Timer::H, State::Completed) => {
                    // The ACK never came (§17.2.1).
                    out.push(Action::Timeout);
                    self.terminate(out);
                }
                (Timer::I, State::Confirmed) | (Timer::L, State::Accepted) => self.terminate(out),
                (Timer::Tu, State::Proceeding) => {
                    tracing::debug!("TU left an INVITE unanswered; answering 480");
                    let r = guard_response(&self.request, self.last.as_ref());
                    out.push(Action::Transmit(Message::Response(r.clone())));
                    self.last = Some(r);
                    self.state = State::Completed;
                    if !self.reliable {
                        self.timers.set(Timer::G, now + self.config.timer_e(0));
                    }
                    self.timers.set(Timer::H, now + self.config.timeout_64t1());
                    out.push(Action::Timeout);
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

/// The guard's 480, with the To tag of the TU's last provisional response
/// (the early dialog the caller may know), or one derived from the branch
/// when the TU sent none (§8.2.6.2: a final response needs a tag).
fn guard_response(req: &Request, last: Option<&Response>) -> Response {
    let mut r = Response::for_request(req, crate::status(480));
    let tag = last
        .and_then(|l| l.headers.to().ok().flatten())
        .and_then(|to| to.tag().map(str::to_owned))
        .unwrap_or_else(|| {
            let branch = req
                .headers
                .top_via()
                .ok()
                .flatten()
                .and_then(|v| v.branch().map(str::to_owned))
                .unwrap_or_default();
            let digest: u64 = branch.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            format!("g{digest:x}")
        });
    if let Ok(Some(mut to)) = r.headers.to() {
        to.set_tag(&tag);
        r.headers.set_typed(&to);
    }
    r
}

/// 100 Trying for `req` (§8.2.6.1: no To tag, Timestamp copied).
pub(crate) fn trying(req: &Request) -> Response {
    let mut r = Response::for_request(req, crate::status(100));
    if let Ok(Some(ts)) = req.headers.typed::<Timestamp>() {
        r.headers.push_typed(&ts);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_util::{request, response};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn new(reliable: bool) -> (Instant, ServerInvite) {
        let t0 = Instant::now();
        let t = ServerInvite::new(
            t0,
            request("INVITE", "z9hG4bKsi"),
            reliable,
            TimerConfig::default(),
        );
        (t0, t)
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
    fn trying_after_200ms_and_resent_on_invite_retransmission() {
        let (t0, mut t) = new(false);
        let mut out = Vec::new();
        let req = t.request().clone();
        // A retransmission before the 100 has nothing to resend.
        t.on_request(t0 + ms(100), &req, &mut out);
        assert!(out.is_empty());
        assert_eq!(t.next_timeout(), Some(t0 + ms(200)));
        t.on_timeout(t0 + ms(200), &mut out);
        assert_eq!(statuses(&out), [100]);
        let Action::Transmit(Message::Response(r)) = &out[0] else {
            panic!()
        };
        assert_eq!(r.headers.to().unwrap().unwrap().tag(), None);
        out.clear();
        t.on_request(t0 + ms(600), &req, &mut out);
        assert_eq!(statuses(&out), [100]);
    }

    #[test]
    fn unanswered_invite_gets_480_from_the_guard_then_waits_for_ack() {
        let (t0, mut t) = new(false);
        let mut out = Vec::new();
        let req = t.request().clone();
        let mut ringing = response(&req, 180);
        let mut to = ringing.headers.to().unwrap().unwrap();
        to.set_tag("ring1");
        ringing.headers.set_typed(&to);
        t.send_response(t0 + ms(50), ringing, &mut out).unwrap();
        out.clear();
        // Only the 100 timer is gone; the guard is the next wake-up.
        assert_eq!(t.next_timeout(), Some(t0 + TU_GUARD));
        t.on_timeout(t0 + TU_GUARD - ms(1), &mut out);
        assert!(out.is_empty());
        t.on_timeout(t0 + TU_GUARD, &mut out);
        assert_eq!(statuses(&out), [480]);
        assert!(out.iter().any(|a| matches!(a, Action::Timeout)));
        let Action::Transmit(Message::Response(r)) = &out[0] else {
            panic!()
        };
        assert_eq!(
            r.headers.to().unwrap().unwrap().tag(),
            Some("ring1"),
            "the early dialog's tag"
        );
        assert_eq!(t.state(), State::Completed);
        // The TU answering late is refused; the ACK completes as usual.
        assert!(t
            .send_response(t0 + TU_GUARD + ms(1), response(&req, 200), &mut out)
            .is_err());
        out.clear();
        t.on_request(
            t0 + TU_GUARD + ms(10),
            &request("ACK", "z9hG4bKsi"),
            &mut out,
        );
        assert_eq!(t.state(), State::Confirmed);
    }

    #[test]
    fn final_answer_disarms_the_guard_and_a_tagless_guard_480_gets_a_tag() {
        let (t0, mut t) = new(true);
        let mut out = Vec::new();
        let req = t.request().clone();
        t.send_response(t0 + ms(10), response(&req, 486), &mut out)
            .unwrap();
        assert!(t.next_timeout().unwrap() < t0 + TU_GUARD);

        let (t0, mut t) = new(true);
        out.clear();
        t.on_timeout(t0 + TU_GUARD, &mut out);
        assert_eq!(statuses(&out), [100, 480]);
        let Action::Transmit(Message::Response(r)) = &out[1] else {
            panic!()
        };
        let tag = r.headers.to().unwrap().unwrap().tag().map(str::to_owned);
        assert!(tag.is_some_and(|t| t.len() > 1));
    }

    #[test]
    fn quick_tu_answer_suppresses_trying() {
        let (t0, mut t) = new(false);
        let mut out = Vec::new();
        let req = t.request().clone();
        t.send_response(t0 + ms(50), response(&req, 180), &mut out)
            .unwrap();
        assert_eq!(statuses(&out), [180]);
        out.clear();
        t.on_timeout(t0 + ms(300), &mut out);
        assert!(out.is_empty());
        t.on_request(t0 + ms(500), &req, &mut out);
        assert_eq!(statuses(&out), [180], "lost 180 resent");
    }

    #[test]
    fn error_response_retransmitted_by_g_until_ack_then_i() {
        let (t0, mut t) = new(false);
        let mut out = Vec::new();
        let req = t.request().clone();
        t.send_response(t0, response(&req, 486), &mut out).unwrap();
        assert_eq!(t.state(), State::Completed);
        out.clear();
        // Lost response: G at 0.5, 1.5, 3.5, 7.5, 11.5 s.
        let mut fired = Vec::new();
        while let Some(at) = t.next_timeout() {
            if at > t0 + ms(12_000) {
                break;
            }
            t.on_timeout(at, &mut out);
            fired.push((at - t0).as_millis());
        }
        assert_eq!(fired, [500, 1500, 3500, 7500, 11500]);
        assert_eq!(statuses(&out), [486; 5]);
        out.clear();
        // INVITE retransmission also gets the final response again.
        t.on_request(t0 + ms(12_000), &req, &mut out);
        assert_eq!(statuses(&out), [486]);
        out.clear();
        let ack = request("ACK", "z9hG4bKsi");
        t.on_request(t0 + ms(12_100), &ack, &mut out);
        assert_eq!(t.state(), State::Confirmed);
        assert_eq!(t.next_timeout(), Some(t0 + ms(17_100)), "I = T4");
        // Duplicate ACK absorbed.
        t.on_request(t0 + ms(12_200), &ack, &mut out);
        assert!(out.is_empty());
        t.on_timeout(t0 + ms(17_100), &mut out);
        assert_eq!(out, [Action::Terminated]);
    }

    #[test]
    fn lost_ack_timer_h() {
        let (t0, mut t) = new(false);
        let mut out = Vec::new();
        let req = t.request().clone();
        t.send_response(t0, response(&req, 500), &mut out).unwrap();
        out.clear();
        t.on_timeout(t0 + ms(40_000), &mut out);
        // One overdue G resend is fine; H ends it.
        assert!(out.ends_with(&[Action::Timeout, Action::Terminated]));
        assert_eq!(t.state(), State::Terminated);
    }

    #[test]
    fn reliable_no_g_and_i_zero() {
        let (t0, mut t) = new(true);
        let mut out = Vec::new();
        let req = t.request().clone();
        t.send_response(t0, response(&req, 404), &mut out).unwrap();
        assert_eq!(t.next_timeout(), Some(t0 + ms(32_000)), "only H");
        out.clear();
        t.on_request(t0 + ms(10), &request("ACK", "z9hG4bKsi"), &mut out);
        assert_eq!(out, [Action::Terminated]);
    }

    #[test]
    fn accepted_sends_2xx_retransmissions_absorbs_invites_until_l() {
        let (t0, mut t) = new(false);
        let mut out = Vec::new();
        let req = t.request().clone();
        t.send_response(t0 + ms(10), response(&req, 200), &mut out)
            .unwrap();
        assert_eq!(t.state(), State::Accepted);
        out.clear();
        t.on_request(t0 + ms(600), &req, &mut out);
        assert!(out.is_empty(), "INVITE retransmission absorbed");
        t.send_response(t0 + ms(510), response(&req, 200), &mut out)
            .unwrap();
        assert_eq!(statuses(&out), [200]);
        assert!(matches!(
            t.send_response(t0 + ms(600), response(&req, 486), &mut out),
            Err(TransactionError::InvalidState {
                state: "Accepted",
                status: 486
            })
        ));
        out.clear();
        t.on_timeout(t0 + ms(32_010), &mut out);
        assert_eq!(out, [Action::Terminated]);
        assert!(t
            .send_response(t0 + ms(33_000), response(&req, 200), &mut out)
            .is_err());
    }

    #[test]
    fn second_final_response_refused_and_transport_error() {
        let (t0, mut t) = new(false);
        let mut out = Vec::new();
        let req = t.request().clone();
        t.send_response(t0, response(&req, 486), &mut out).unwrap();
        assert!(t.send_response(t0, response(&req, 200), &mut out).is_err());
        out.clear();
        t.on_transport_error(&mut out);
        assert_eq!(out, [Action::TransportError, Action::Terminated]);
    }
}

//! UAS 2xx retransmission until the ACK arrives (RFC 3261 §13.3.1.4).
//!
//! With RFC 6026 the INVITE server transaction no longer retransmits a
//! 2xx; the UAS core does, from here.
//!
//! ```text
//!              | 2xx sent: arm retransmit (T1, unreliable only), deadline 64*T1
//!              v
//!        +-----------+ retransmit fires: resend 2xx, interval = min(2x, T2)
//!        |  Waiting  |<---+
//!        +-----------+----+
//!          |        | deadline fires: GiveUp (the TU sends BYE, §13.3.1.4)
//!   ACK with|        v
//!   same CSeq  +------+
//!          |   | Done |
//!          +-->+------+
//! ```

use std::time::{Duration, Instant};

use sip_message::{Method, Request, Response};

use crate::timers::TimerConfig;

/// What the TU must do after [`AckWait::handle_timeout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckWaitAction {
    /// Send this 2xx again (through the INVITE server transaction while it
    /// is Accepted, statelessly after).
    Retransmit(Response),
    /// No ACK within 64*T1: confirm then end the dialog with BYE.
    GiveUp,
}

/// Retransmits one 2xx until its ACK; see the module docs.
#[derive(Debug, Clone)]
pub struct AckWait {
    response: Response,
    seq: Option<u32>,
    call_id: Option<String>,
    next: Option<Instant>,
    interval: Duration,
    deadline: Instant,
    t2: Duration,
    done: bool,
}

impl AckWait {
    /// Starts waiting; `response` is the 2xx just sent. Over reliable
    /// transports the 2xx is not retransmitted (the connection delivers
    /// it), but the 64*T1 deadline still applies.
    pub fn new(now: Instant, response: Response, timers: TimerConfig, reliable: bool) -> Self {
        let h = &response.headers;
        let seq = h.cseq().ok().flatten().map(|c| c.seq);
        let call_id = h.call_id().ok().flatten().map(|c| c.as_str().to_owned());
        AckWait {
            response,
            seq,
            call_id,
            next: (!reliable).then(|| now + timers.t1()),
            interval: timers.t1(),
            deadline: now + timers.timeout_64t1(),
            t2: timers.t2(),
            done: false,
        }
    }

    /// The 2xx being retransmitted.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// True once the ACK arrived or the wait gave up.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// When to call [`AckWait::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        Some(self.next.map_or(self.deadline, |n| n.min(self.deadline)))
    }

    /// Fires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<AckWaitAction> {
        if self.done {
            return None;
        }
        if now >= self.deadline {
            self.done = true;
            return Some(AckWaitAction::GiveUp);
        }
        match self.next {
            Some(n) if n <= now => {
                self.interval = (self.interval * 2).min(self.t2);
                self.next = Some(now + self.interval);
                Some(AckWaitAction::Retransmit(self.response.clone()))
            }
            _ => None,
        }
    }

    /// An ACK arrived; returns true (and stops) if it acknowledges this
    /// 2xx: same Call-ID and CSeq number.
    pub fn on_ack(&mut self, ack: &Request) -> bool {
        if self.done || ack.method != Method::Ack {
            return false;
        }
        let h = &ack.headers;
        let seq = h.cseq().ok().flatten().map(|c| c.seq);
        let call_id = h.call_id().ok().flatten().map(|c| c.as_str().to_owned());
        if seq.is_some() && seq == self.seq && call_id == self.call_id {
            self.done = true;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::tests::{answer, invite};

    #[test]
    fn retransmits_doubling_to_t2_until_ack() {
        let t0 = Instant::now();
        let inv = invite();
        let ok = answer(&inv, 200, "b", "<sip:b@h>", &[]);
        let mut w = AckWait::new(t0, ok, TimerConfig::default(), false);
        let mut at = Vec::new();
        while let Some(t) = w.poll_timeout() {
            if t > t0 + Duration::from_secs(10) {
                break;
            }
            if let Some(AckWaitAction::Retransmit(r)) = w.handle_timeout(t) {
                assert_eq!(r.status.as_u16(), 200);
                at.push((t - t0).as_millis());
            }
        }
        assert_eq!(at, [500, 1500, 3500, 7500]);
        let mut ack = inv.clone();
        ack.method = Method::Ack;
        ack.headers.set_typed(&sip_message::headers::CSeq {
            seq: 999,
            method: Method::Ack,
        });
        assert!(!w.on_ack(&ack), "other CSeq");
        ack.headers.set_typed(&sip_message::headers::CSeq {
            seq: 314159,
            method: Method::Ack,
        });
        assert!(w.on_ack(&ack));
        assert!(w.is_done());
        assert_eq!(w.poll_timeout(), None);
        assert_eq!(w.handle_timeout(t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn gives_up_after_64_t1_and_reliable_does_not_retransmit() {
        let t0 = Instant::now();
        let ok = answer(&invite(), 200, "b", "<sip:b@h>", &[]);
        let mut w = AckWait::new(t0, ok, TimerConfig::default(), true);
        assert_eq!(w.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert_eq!(w.handle_timeout(t0 + Duration::from_secs(31)), None);
        assert_eq!(
            w.handle_timeout(t0 + Duration::from_secs(32)),
            Some(AckWaitAction::GiveUp)
        );
        assert!(w.is_done());
    }
}

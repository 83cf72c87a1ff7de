//! Notifier side of SIP events (RFC 6665 §4.2), for peer-to-peer presence:
//! watchers SUBSCRIBE to our state directly and we NOTIFY them, sans-IO.
//!
//! ```text
//!   SUBSCRIBE (no To tag) ─ wrong Event: 489 ─ Expires < min: 423 (§4.2.1.1)
//!      │ caller decides (§4.2.1.3)
//!      ├── Reject ──> 403, nothing kept
//!      ├── Pending ─> 200 + NOTIFY pending ──authorize()──> Active
//!      └── Accept ──> 200 + NOTIFY active with the state  ──┐
//!   Active: set_state() -> NOTIFY to every active watcher    │
//!           in-dialog SUBSCRIBE -> 200 + NOTIFY (refresh, §4.2.1.2)
//!   any ──Expires: 0 / expiry (reason=timeout) / terminate(reason)──>
//!         NOTIFY terminated ──its final response──> gone (Ended)
//!   NOTIFY answered non-2xx, timed out or unsendable (§4.2.2) ──> gone (Ended)
//! ```
//! At most one NOTIFY per watcher is in flight (§4.2.2); a state change
//! meanwhile is sent once the answer comes, so watchers always end on the
//! latest state. Requests come out of [`Notifier::poll_request`] with the
//! [`WatcherId`] the caller hands back with the answer; they carry a
//! placeholder Via that the transport replaces.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use sip_message::headers::{Contact, ContentType, Event};
use sip_message::{Method, NameAddr, Request, Response, TypedHeader, Uri};

use crate::dialog::{Dialog, DialogError, DialogId};
use crate::usage::subscription::{placeholder_via, TerminationReason};

/// Expires when a SUBSCRIBE has none (RFC 3856 §6.4 for presence).
const DEFAULT_EXPIRES: u32 = 3600;

/// Errors building a notifier.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// Our Contact is not a URI.
    #[error("invalid contact URI")]
    BadContact,
    /// The event package is not a token.
    #[error("invalid event package")]
    BadEvent,
    /// The content type does not parse.
    #[error("invalid content type")]
    BadContentType,
}

/// Notifier settings.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Our Contact URI (in 200s and NOTIFYs).
    pub contact: String,
    /// Event package served, normally `presence`.
    pub event: String,
    /// Content type of the state bodies (`application/pidf+xml`).
    pub content_type: String,
    /// Shortest subscription accepted (shorter ones get 423).
    pub min_expires: u32,
    /// Longest subscription granted.
    pub max_expires: u32,
    /// Most watchers at once (more get 503).
    pub max_watchers: usize,
}

/// What the caller decides for a new watcher (§4.2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Authorised: they see our state.
    Accept,
    /// Not decided yet: they see nothing until [`Notifier::authorize`].
    Pending,
    /// Refused (403).
    Reject,
}

/// Identifies one watcher's subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatcherId(pub u64);

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifierEvent {
    /// A new subscription was accepted or held pending.
    Subscribed {
        /// Its id.
        id: WatcherId,
        /// The watcher's URI (From).
        watcher: String,
        /// Held pending.
        pending: bool,
    },
    /// A subscription is gone.
    Ended {
        /// Its id.
        id: WatcherId,
        /// Why, for logs and the UI.
        reason: String,
    },
}

struct Watch {
    dialog: Dialog,
    watcher: String,
    active: bool,
    expires_at: Instant,
    in_flight: bool,
    /// Our state changed while a NOTIFY was in flight.
    dirty: bool,
    /// Set once we decided to end it; sent as the last NOTIFY.
    terminate: Option<TerminationReason>,
    /// The terminating NOTIFY has been sent.
    final_sent: bool,
}

/// All watchers of our state; see the module docs.
pub struct Notifier {
    config: NotifierConfig,
    contact: Contact,
    content_type: ContentType,
    rng: crate::rand::Rng,
    next_id: u64,
    state: Option<Vec<u8>>,
    watches: BTreeMap<WatcherId, Watch>,
    out: VecDeque<(WatcherId, Request)>,
    events: VecDeque<NotifierEvent>,
}

fn reason_text(r: &TerminationReason) -> Option<&str> {
    Some(match r {
        TerminationReason::Deactivated => "deactivated",
        TerminationReason::Probation => "probation",
        TerminationReason::Rejected => "rejected",
        TerminationReason::Timeout => "timeout",
        TerminationReason::Giveup => "giveup",
        TerminationReason::NoResource => "noresource",
        TerminationReason::Invariant => "invariant",
        TerminationReason::Unspecified => return None,
        TerminationReason::Other(s) => s,
    })
}

impl Notifier {
    /// A notifier; `seed` makes the dialog tags unpredictable.
    pub fn new(config: NotifierConfig, seed: u64) -> Result<Self, NotifierError> {
        let uri: Uri = config
            .contact
            .parse()
            .map_err(|_| NotifierError::BadContact)?;
        let event = Event::parse(&config.event).map_err(|_| NotifierError::BadEvent)?;
        if !event.params.is_empty() {
            return Err(NotifierError::BadEvent);
        }
        let content_type =
            ContentType::parse(&config.content_type).map_err(|_| NotifierError::BadContentType)?;
        Ok(Notifier {
            contact: Contact::new(NameAddr::new(uri)),
            content_type,
            rng: crate::rand::Rng::new(seed),
            next_id: 1,
            state: None,
            watches: BTreeMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            config,
        })
    }

    /// How many subscriptions exist (pending ones included).
    pub fn len(&self) -> usize {
        self.watches.len()
    }

    /// True when nobody watches.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// The watcher's URI of subscription `id` (to show a pending request).
    pub fn watcher(&self, id: WatcherId) -> Option<&str> {
        self.watches.get(&id).map(|w| w.watcher.as_str())
    }

    /// Our state changed: every active watcher gets a NOTIFY with `body`.
    pub fn set_state(&mut self, now: Instant, body: Vec<u8>) {
        self.state = Some(body);
        let ids: Vec<WatcherId> = self.watches.keys().copied().collect();
        for id in ids {
            if self.watches.get(&id).is_some_and(|w| w.active) {
                self.notify(now, id);
            }
        }
    }

    /// Authorises a pending watcher: it gets our state now.
    pub fn authorize(&mut self, now: Instant, id: WatcherId) {
        if let Some(w) = self.watches.get_mut(&id) {
            if !w.active && w.terminate.is_none() {
                w.active = true;
                self.notify(now, id);
            }
        }
    }

    /// Ends a subscription with `reason` (a final NOTIFY is sent).
    pub fn terminate(&mut self, now: Instant, id: WatcherId, reason: TerminationReason) {
        if let Some(w) = self.watches.get_mut(&id) {
            if w.terminate.is_none() {
                w.terminate = Some(reason);
                self.notify(now, id);
            }
        }
    }

    /// Ends every subscription with `reason` (e.g. `NoResource` on quit).
    pub fn stop(&mut self, now: Instant, reason: TerminationReason) {
        let ids: Vec<WatcherId> = self.watches.keys().copied().collect();
        for id in ids {
            self.terminate(now, id, reason.clone());
        }
    }

    /// An incoming SUBSCRIBE: new subscriptions go through `decide` (given
    /// the watcher's URI); refreshes and un-subscriptions do not. Returns
    /// the response to send; NOTIFYs follow from
    /// [`Notifier::poll_request`].
    pub fn handle_request(
        &mut self,
        now: Instant,
        req: &Request,
        decide: impl FnOnce(&str) -> Decision,
    ) -> Response {
        let reply = |code| Response::for_request(req, crate::status(code));
        if req.method != Method::Subscribe {
            let mut r = reply(405);
            let _ = r.headers.push("Allow", "SUBSCRIBE");
            return r;
        }
        match req.headers.typed_first::<Event>() {
            Ok(Some(e)) if e.package.eq_ignore_ascii_case(&self.config.event) => {}
            Ok(_) | Err(_) => {
                let mut r = reply(489);
                let _ = r.headers.push("Allow-Events", &self.config.event);
                return r;
            }
        }
        let expires = match req.headers.get("Expires") {
            None => DEFAULT_EXPIRES,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(e) => e,
                Err(_) => return reply(400),
            },
        };
        if expires > 0 && expires < self.config.min_expires {
            let mut r = reply(423);
            let _ = r
                .headers
                .push("Min-Expires", &self.config.min_expires.to_string());
            return r;
        }
        let expires = expires.min(self.config.max_expires);
        let Ok(Some(to)) = req.headers.to() else {
            return reply(400);
        };
        let id = match to.tag() {
            Some(_) => {
                let Ok(did) = DialogId::for_incoming_request(req) else {
                    return reply(400);
                };
                let Some((id, w)) = self.watches.iter_mut().find(|(_, w)| *w.dialog.id() == did)
                else {
                    return crate::dialog::unknown_dialog_response(req);
                };
                match w.dialog.on_request(req) {
                    Ok(()) => {}
                    Err(DialogError::CSeqOutOfOrder { .. }) => {
                        return crate::dialog::out_of_order_response(req)
                    }
                    Err(_) => return crate::dialog::unknown_dialog_response(req),
                }
                if w.terminate.is_some() {
                    return crate::dialog::unknown_dialog_response(req);
                }
                *id
            }
            None => {
                if self.watches.len() >= self.config.max_watchers {
                    let mut r = reply(503);
                    let _ = r.headers.push("Retry-After", "60");
                    return r;
                }
                let Ok(Some(from)) = req.headers.from() else {
                    return reply(400);
                };
                let watcher = from.addr.uri.to_string();
                let pending = match decide(&watcher) {
                    Decision::Reject => return reply(403),
                    Decision::Accept => false,
                    Decision::Pending => true,
                };
                let tag = self.rng.token();
                let dialog =
                    match Dialog::from_uas_request(req, &tag, Some(self.contact.clone()), false) {
                        Ok(d) => d,
                        Err(_) => return reply(400),
                    };
                let id = WatcherId(self.next_id);
                self.next_id += 1;
                self.watches.insert(
                    id,
                    Watch {
                        dialog,
                        watcher: watcher.clone(),
                        active: !pending,
                        expires_at: now,
                        in_flight: false,
                        dirty: false,
                        terminate: None,
                        final_sent: false,
                    },
                );
                self.events.push_back(NotifierEvent::Subscribed {
                    id,
                    watcher,
                    pending,
                });
                id
            }
        };
        let mut resp = reply(200);
        if let Some(w) = self.watches.get_mut(&id) {
            let mut to = to.clone();
            if to.tag().is_none() {
                to.set_tag(&w.dialog.id().local_tag);
            }
            resp.headers.set_typed(&to);
            resp.headers.push_typed(&self.contact);
            let _ = resp.headers.push("Expires", &expires.to_string());
            w.expires_at = now + Duration::from_secs(u64::from(expires));
            if expires == 0 {
                // §4.2.1.4: un-subscribe (or a one-time fetch): one last NOTIFY.
                w.terminate = Some(TerminationReason::Timeout);
            }
        }
        // §4.2.1.2: every accepted SUBSCRIBE is followed by a NOTIFY.
        self.notify(now, id);
        resp
    }

    fn notify(&mut self, now: Instant, id: WatcherId) {
        let Some(w) = self.watches.get_mut(&id) else {
            return;
        };
        if w.final_sent {
            return;
        }
        if w.in_flight {
            w.dirty = true;
            return;
        }
        let Ok(mut r) = w.dialog.create_request(Method::Notify, placeholder_via()) else {
            self.remove(id, "the dialog cannot carry more requests".into());
            return;
        };
        let left = w.expires_at.saturating_duration_since(now).as_secs();
        let sub_state = match &w.terminate {
            Some(reason) => {
                w.final_sent = true;
                match reason_text(reason) {
                    Some(t) => format!("terminated;reason={t}"),
                    None => "terminated".to_owned(),
                }
            }
            None if w.active => format!("active;expires={left}"),
            None => format!("pending;expires={left}"),
        };
        // Values are our own tokens and numbers.
        let _ = r.headers.push("Event", &self.config.event);
        let _ = r.headers.push("Subscription-State", &sub_state);
        // Pending watchers learn nothing about us (§4.2.1.3).
        let reveal = w.active && !matches!(w.terminate, Some(TerminationReason::Rejected));
        match (&self.state, reveal) {
            (Some(body), true) => r.set_body(body.clone(), Some(self.content_type.clone())),
            _ => r.set_body(Vec::new(), None),
        }
        w.in_flight = true;
        w.dirty = false;
        self.out.push_back((id, r));
    }

    /// The final response to the NOTIFY last sent to `id`.
    pub fn handle_response(&mut self, now: Instant, id: WatcherId, resp: &Response) {
        let code = resp.status.as_u16();
        if code < 200 {
            return;
        }
        let Some(w) = self.watches.get_mut(&id) else {
            return;
        };
        w.in_flight = false;
        if !resp.status.is_success() {
            // §4.2.2: a failed NOTIFY ends the subscription.
            self.remove(id, format!("NOTIFY answered {code} {}", resp.reason));
        } else if w.final_sent {
            let reason = w
                .terminate
                .as_ref()
                .and_then(reason_text)
                .unwrap_or("terminated")
                .to_owned();
            self.remove(id, reason);
        } else if w.dirty || w.terminate.is_some() {
            self.notify(now, id);
        }
    }

    /// The NOTIFY last sent to `id` got no final response.
    pub fn handle_failure(&mut self, _now: Instant, id: WatcherId, reason: String) {
        if self.watches.get(&id).is_some_and(|w| w.in_flight) {
            self.remove(id, reason);
        }
    }

    /// Ends subscriptions that were not refreshed in time (reason=timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<WatcherId> = self
            .watches
            .iter()
            .filter(|(_, w)| w.terminate.is_none() && w.expires_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.terminate(now, id, TerminationReason::Timeout);
        }
    }

    /// The next NOTIFY to send, with its watcher.
    pub fn poll_request(&mut self) -> Option<(WatcherId, Request)> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NotifierEvent> {
        self.events.pop_front()
    }

    /// When to call [`Notifier::handle_timeout`]: the next expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.watches
            .values()
            .filter(|w| w.terminate.is_none())
            .map(|w| w.expires_at)
            .min()
    }

    fn remove(&mut self, id: WatcherId, reason: String) {
        if let Some(w) = self.watches.remove(&id) {
            // The watcher's address is personal data: not logged.
            tracing::debug!(id = id.0, active = w.active, "subscription ended: {reason}");
            self.events.push_back(NotifierEvent::Ended { id, reason });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::subscription::tests::reply;

    fn notifier() -> Notifier {
        Notifier::new(
            NotifierConfig {
                contact: "sip:alice@127.0.0.1:5999".into(),
                event: "presence".into(),
                content_type: "application/pidf+xml".into(),
                min_expires: 60,
                max_expires: 3600,
                max_watchers: 2,
            },
            1,
        )
        .unwrap()
    }

    fn subscribe(from_tag: &str, seq: u32, to_tag: Option<&str>, expires: Option<&str>) -> Request {
        let mut r = Request::new(
            Method::Subscribe,
            "sip:alice@127.0.0.1:5999".parse().unwrap(),
        );
        let to = match to_tag {
            Some(t) => format!("<sip:alice@127.0.0.1>;tag={t}"),
            None => "<sip:alice@127.0.0.1>".to_owned(),
        };
        for (n, v) in [
            (
                "Via",
                "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKs".to_owned(),
            ),
            ("From", format!("<sip:bob@127.0.0.1>;tag={from_tag}")),
            ("To", to),
            ("Call-ID", format!("c-{from_tag}")),
            ("CSeq", format!("{seq} SUBSCRIBE")),
            ("Contact", "<sip:bob@127.0.0.1:5070>".to_owned()),
            ("Event", "presence".to_owned()),
        ] {
            r.headers.push(n, &v).unwrap();
        }
        if let Some(e) = expires {
            r.headers.push("Expires", e).unwrap();
        }
        r
    }

    fn state_of(r: &Request) -> &str {
        r.headers.get("Subscription-State").unwrap()
    }

    #[test]
    fn accepts_notifies_at_once_and_on_every_change() {
        let t0 = Instant::now();
        let mut n = notifier();
        n.set_state(t0, b"<presence>1</presence>".to_vec());
        let resp = n.handle_request(t0, &subscribe("w1", 1, None, Some("600")), |w| {
            assert_eq!(w, "sip:bob@127.0.0.1");
            Decision::Accept
        });
        assert_eq!(resp.status.as_u16(), 200);
        assert_eq!(resp.headers.get("Expires"), Some("600"));
        let tag = resp
            .headers
            .to()
            .unwrap()
            .unwrap()
            .tag()
            .unwrap()
            .to_owned();
        let Some(NotifierEvent::Subscribed {
            id, pending: false, ..
        }) = n.poll_event()
        else {
            panic!()
        };
        let (nid, first) = n.poll_request().unwrap();
        assert_eq!(nid, id);
        assert_eq!(first.method, Method::Notify);
        assert_eq!(first.uri.to_string(), "sip:bob@127.0.0.1:5070");
        assert_eq!(state_of(&first), "active;expires=600");
        assert_eq!(first.body, b"<presence>1</presence>");
        assert_eq!(
            first.headers.from().unwrap().unwrap().tag(),
            Some(tag.as_str())
        );

        // A change while the first NOTIFY is in flight waits for its answer,
        // and only the latest state is sent.
        n.set_state(t0, b"<presence>2</presence>".to_vec());
        n.set_state(t0, b"<presence>3</presence>".to_vec());
        assert!(n.poll_request().is_none());
        n.handle_response(t0, id, &reply(&first, 200, None, &[]));
        let (_, second) = n.poll_request().unwrap();
        assert_eq!(second.body, b"<presence>3</presence>");
        assert!(n.poll_request().is_none());
        n.handle_response(t0, id, &reply(&second, 200, None, &[]));

        // Refresh in the dialog: 200 and a NOTIFY; expiry moves.
        let t1 = t0 + Duration::from_secs(500);
        let r = n.handle_request(
            t1,
            &subscribe("w1", 2, Some(&tag), Some("600")),
            |_| unreachable!(),
        );
        assert_eq!(r.status.as_u16(), 200);
        let (_, third) = n.poll_request().unwrap();
        assert_eq!(state_of(&third), "active;expires=600");
        n.handle_response(t1, id, &reply(&third, 200, None, &[]));
        assert_eq!(n.poll_timeout(), Some(t1 + Duration::from_secs(600)));

        // Un-subscribe: 200, final NOTIFY with timeout, then gone.
        let r = n.handle_request(
            t1,
            &subscribe("w1", 3, Some(&tag), Some("0")),
            |_| unreachable!(),
        );
        assert_eq!(r.status.as_u16(), 200);
        let (_, last) = n.poll_request().unwrap();
        assert_eq!(state_of(&last), "terminated;reason=timeout");
        n.handle_response(t1, id, &reply(&last, 200, None, &[]));
        assert_eq!(
            n.poll_event(),
            Some(NotifierEvent::Ended {
                id,
                reason: "timeout".into()
            })
        );
        assert!(n.is_empty());
        // A stale refresh now gets 481.
        let r = n.handle_request(
            t1,
            &subscribe("w1", 4, Some(&tag), Some("600")),
            |_| unreachable!(),
        );
        assert_eq!(r.status.as_u16(), 481);
    }

    #[test]
    fn pending_watchers_see_nothing_until_authorised_and_rejects_get_403() {
        let t0 = Instant::now();
        let mut n = notifier();
        n.set_state(t0, b"<presence/>".to_vec());
        assert_eq!(
            n.handle_request(t0, &subscribe("x", 1, None, None), |_| Decision::Reject)
                .status
                .as_u16(),
            403
        );
        assert!(n.is_empty() && n.poll_request().is_none());

        let r = n.handle_request(t0, &subscribe("p", 1, None, None), |_| Decision::Pending);
        assert_eq!(r.headers.get("Expires"), Some("3600"), "default, capped");
        let Some(NotifierEvent::Subscribed {
            id, pending: true, ..
        }) = n.poll_event()
        else {
            panic!()
        };
        assert_eq!(n.watcher(id), Some("sip:bob@127.0.0.1"));
        let (_, p) = n.poll_request().unwrap();
        assert_eq!(state_of(&p), "pending;expires=3600");
        assert!(p.body.is_empty(), "no state for pending watchers");
        n.handle_response(t0, id, &reply(&p, 200, None, &[]));
        n.set_state(t0, b"<presence>new</presence>".to_vec());
        assert!(n.poll_request().is_none(), "pending: not told");
        n.authorize(t0, id);
        let (_, a) = n.poll_request().unwrap();
        assert!(state_of(&a).starts_with("active"));
        assert_eq!(a.body, b"<presence>new</presence>");
    }

    #[test]
    fn expiry_termination_and_failed_notifies_end_subscriptions() {
        let t0 = Instant::now();
        let mut n = notifier();
        n.handle_request(t0, &subscribe("a", 1, None, Some("60")), |_| {
            Decision::Accept
        });
        n.handle_request(t0, &subscribe("b", 1, None, Some("120")), |_| {
            Decision::Accept
        });
        let Some(NotifierEvent::Subscribed { id: a, .. }) = n.poll_event() else {
            panic!()
        };
        let Some(NotifierEvent::Subscribed { id: b, .. }) = n.poll_event() else {
            panic!()
        };
        let (_, na) = n.poll_request().unwrap();
        let (_, nb) = n.poll_request().unwrap();
        n.handle_response(t0, a, &reply(&na, 200, None, &[]));
        n.handle_response(t0, b, &reply(&nb, 200, None, &[]));
        // A third watcher is over the limit.
        assert_eq!(
            n.handle_request(t0, &subscribe("c", 1, None, None), |_| Decision::Accept)
                .status
                .as_u16(),
            503
        );

        assert_eq!(n.poll_timeout(), Some(t0 + Duration::from_secs(60)));
        n.handle_timeout(t0 + Duration::from_secs(59));
        assert!(n.poll_request().is_none());
        n.handle_timeout(t0 + Duration::from_secs(60));
        let (ida, ta) = n.poll_request().unwrap();
        assert_eq!(ida, a);
        assert_eq!(state_of(&ta), "terminated;reason=timeout");
        n.handle_failure(t0, a, "no response".into());
        assert_eq!(
            n.poll_event(),
            Some(NotifierEvent::Ended {
                id: a,
                reason: "no response".into()
            })
        );

        n.stop(t0, TerminationReason::NoResource);
        let (_, tb) = n.poll_request().unwrap();
        assert_eq!(state_of(&tb), "terminated;reason=noresource");
        n.handle_response(t0, b, &reply(&tb, 481, None, &[]));
        assert!(
            matches!(n.poll_event(), Some(NotifierEvent::Ended { reason, .. }) if reason.starts_with("NOTIFY answered 481"))
        );
        assert!(n.is_empty());
    }

    #[test]
    fn bad_subscribes_are_answered() {
        let t0 = Instant::now();
        let mut n = notifier();
        let mut wrong = subscribe("a", 1, None, None);
        wrong.headers.remove("Event");
        wrong.headers.push("Event", "dialog").unwrap();
        let r = n.handle_request(t0, &wrong, |_| Decision::Accept);
        assert_eq!(r.status.as_u16(), 489);
        assert_eq!(r.headers.get("Allow-Events"), Some("presence"));
        let r = n.handle_request(t0, &subscribe("a", 1, None, Some("10")), |_| {
            Decision::Accept
        });
        assert_eq!(r.status.as_u16(), 423);
        assert_eq!(r.headers.get("Min-Expires"), Some("60"));
        assert_eq!(
            n.handle_request(t0, &subscribe("a", 1, None, Some("soon")), |_| {
                Decision::Accept
            })
            .status
            .as_u16(),
            400
        );
        assert_eq!(
            n.handle_request(t0, &subscribe("a", 1, Some("zz"), None), |_| {
                Decision::Accept
            })
            .status
            .as_u16(),
            481
        );
        // Out-of-order refresh: 500.
        let ok = n.handle_request(t0, &subscribe("a", 5, None, None), |_| Decision::Accept);
        let tag = ok.headers.to().unwrap().unwrap().tag().unwrap().to_owned();
        assert_eq!(
            n.handle_request(t0, &subscribe("a", 4, Some(&tag), None), |_| {
                Decision::Accept
            })
            .status
            .as_u16(),
            500
        );
        assert!(matches!(
            Notifier::new(
                NotifierConfig {
                    event: "a b".into(),
                    ..notifier().config
                },
                1
            ),
            Err(NotifierError::BadEvent)
        ));
    }
}

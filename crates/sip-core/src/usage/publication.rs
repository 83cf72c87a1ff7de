//! Event state publication (RFC 3903): keep our presence document at the
//! presence server with SIP-ETag refreshes, sans-IO.
//!
//! ```text
//!            publish(body)          2xx (SIP-ETag e, Expires E)
//!   Idle ───────────────> Publishing ──────────────────────> Published ──(85% of E)──┐
//!                          │  ^  │ 401/407: answer once per challenge  │ refresh: no body,│
//!                          │  │  │ 423: raise Expires to Min-Expires   │ SIP-If-Match: e  │
//!                          │  │  │ 412 (§6: e unknown): drop e,        │<─────────────────┘
//!                          │  │  └──── initial PUBLISH with the body    │ publish(body): modify,
//!                          │  └──────────────────────────────────────────┘ SIP-If-Match: e (§4.4)
//!                          │ 489 -> Stopped; other final / timeout / transport error
//!                          v
//!                        Failed ──(back-off, or Retry-After)──> Publishing (initial)
//!   any ──stop──> Removing (Expires: 0, SIP-If-Match: e, §4.5) ──final / error──> Removed
//! ```
//! One PUBLISH is in flight at a time (§4: a request must carry the
//! entity-tag of the last answer); a body handed over meanwhile is sent
//! when the answer comes. The same Call-ID is kept with CSeq increasing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sip_message::headers::ContentType;
use sip_message::{Method, Request, Response, TypedHeader, Uri};

use crate::auth::{Authenticator, Credential};
use crate::usage::subscription::{backoff, min_expires, refresh_in, retry_after, MAX_EXPIRES};

/// Most entity-tag characters kept (it is echoed back to the server).
const MAX_ETAG: usize = 256;

/// Errors building a publication or handing it a body.
#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    /// A URI in the configuration does not parse.
    #[error("invalid {field} URI")]
    BadUri {
        /// Which setting.
        field: &'static str,
    },
    /// The event package is not a token.
    #[error("invalid event package")]
    BadEvent,
    /// The content type does not parse.
    #[error("invalid content type")]
    BadContentType,
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublicationConfig {
    /// Our address of record (Request-URI, From and To).
    pub aor: String,
    /// Event package, normally `presence`.
    pub event: String,
    /// Content type of the bodies (`application/pidf+xml`).
    pub content_type: String,
    /// Requested lifetime in seconds.
    pub expires: u32,
    /// User-Agent header.
    pub user_agent: String,
    /// First back-off after a failure (doubles up to 30 minutes).
    pub retry_base: Duration,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicationEvent {
    /// The server holds our state for `expires` seconds.
    Published {
        /// Granted lifetime.
        expires: u32,
    },
    /// An attempt failed; `retry_in` says when the state is published
    /// again (`None`: never, the server does not take this package).
    Failed {
        /// Status line or transport problem, for the user.
        reason: String,
        /// When the next attempt starts.
        retry_in: Option<Duration>,
    },
    /// After [`Publication::stop`]: the state is removed (or was never
    /// there).
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Publishing,
    Published,
    Failed,
    Stopped,
    Removing,
    Removed,
}

/// One published state; see the module docs.
pub struct Publication {
    config: PublicationConfig,
    aor: Uri,
    content_type: ContentType,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    state: State,
    etag: Option<String>,
    body: Option<Vec<u8>>,
    /// A new body handed over while a PUBLISH was in flight.
    pending: bool,
    auth: Authenticator,
    in_flight: Option<Request>,
    challenges: u32,
    failures: u32,
    timer: Option<Instant>,
    out: VecDeque<Request>,
    events: VecDeque<PublicationEvent>,
}

impl Publication {
    /// A publication for `config`; `seed` makes Call-ID, tag and cnonces
    /// unpredictable (pass OS randomness).
    pub fn new(config: PublicationConfig, seed: u64) -> Result<Self, PublicationError> {
        let aor: Uri = config.aor.parse().map_err(|_| PublicationError::BadUri {
            field: "address of record",
        })?;
        let event = sip_message::headers::Event::parse(&config.event)
            .map_err(|_| PublicationError::BadEvent)?;
        if !event.params.is_empty() {
            return Err(PublicationError::BadEvent);
        }
        let content_type = ContentType::parse(&config.content_type)
            .map_err(|_| PublicationError::BadContentType)?;
        let mut rng = crate::rand::Rng::new(seed);
        Ok(Self {
            expires: config.expires.clamp(1, MAX_EXPIRES),
            aor,
            content_type,
            call_id: format!("{}@parley", rng.token()),
            from_tag: rng.token(),
            cseq: 0,
            state: State::Idle,
            etag: None,
            body: None,
            pending: false,
            auth: Authenticator::new(rng.next_u64()),
            in_flight: None,
            challenges: 0,
            failures: 0,
            timer: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            config,
        })
    }

    /// Whether the server currently holds our state.
    pub fn is_published(&self) -> bool {
        self.state == State::Published
    }

    /// The entity-tag of our state at the server.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// Publishes `body`: the initial PUBLISH, or a modification of the
    /// published state (§4.4).
    pub fn publish(&mut self, now: Instant, body: Vec<u8>, creds: &[Credential<'_>]) {
        if matches!(self.state, State::Removing | State::Removed) {
            // Starting over after a removal: the old tag is gone.
            self.etag = None;
        }
        self.body = Some(body);
        if self.in_flight.is_some() && self.state != State::Removing {
            self.pending = true;
            return;
        }
        self.in_flight = None;
        self.state = State::Publishing;
        self.challenges = 0;
        self.timer = None;
        self.send_body(now, creds);
    }

    /// Removes our state (§4.5: Expires 0 with SIP-If-Match), or reports
    /// `Removed` at once when nothing is published.
    pub fn stop(&mut self, now: Instant, creds: &[Credential<'_>]) {
        self.pending = false;
        match (&self.etag, self.state) {
            (_, State::Removing | State::Removed) => {}
            (Some(_), _) => {
                self.state = State::Removing;
                self.challenges = 0;
                self.timer = None;
                // An answer to a PUBLISH in flight is ignored from now on.
                self.in_flight = None;
                self.send(now, 0, false, creds);
            }
            (None, _) => {
                self.state = State::Removed;
                self.timer = None;
                self.in_flight = None;
                self.events.push_back(PublicationEvent::Removed);
            }
        }
    }

    fn send_body(&mut self, now: Instant, creds: &[Credential<'_>]) {
        self.send(now, self.expires, true, creds);
    }

    fn send(&mut self, _now: Instant, expires: u32, with_body: bool, creds: &[Credential<'_>]) {
        self.cseq = self.cseq.saturating_add(1);
        let mut r = Request::new(Method::Publish, self.aor.clone());
        for (name, value) in [
            ("Max-Forwards", "70".to_owned()),
            (
                "From",
                format!("<{}>;tag={}", self.config.aor, self.from_tag),
            ),
            ("To", format!("<{}>", self.config.aor)),
            ("Call-ID", self.call_id.clone()),
            ("CSeq", format!("{} PUBLISH", self.cseq)),
            ("Event", self.config.event.clone()),
            ("Expires", expires.to_string()),
            ("User-Agent", self.config.user_agent.clone()),
        ] {
            // Values are validated URIs, tokens and numbers.
            let _ = r.headers.push(name, &value);
        }
        if let Some(tag) = &self.etag {
            let _ = r.headers.push("SIP-If-Match", tag);
        }
        match (&self.body, with_body) {
            (Some(b), true) => r.set_body(b.clone(), Some(self.content_type.clone())),
            _ => r.set_body(Vec::new(), None),
        }
        let _ = self.auth.apply_cached(&mut r, creds);
        self.in_flight = Some(r.clone());
        self.out.push_back(r);
    }

    /// The final response to the PUBLISH last handed out.
    pub fn handle_response(&mut self, now: Instant, resp: &Response, creds: &[Credential<'_>]) {
        let Some(sent) = self.in_flight.clone() else {
            return;
        };
        let code = resp.status.as_u16();
        let seq = |h: &sip_message::Headers| h.cseq().ok().flatten().map(|c| c.seq);
        if code < 200 || seq(&resp.headers) != seq(&sent.headers) {
            return;
        }
        self.in_flight = None;
        let removing = self.state == State::Removing;
        match code {
            200..=299 if removing => self.finish_remove(),
            200..=299 => {
                // §11.3.1: every 2xx carries the tag for the next request.
                match resp.headers.get("SIP-ETag").map(str::trim) {
                    Some(t) if !t.is_empty() && t.len() <= MAX_ETAG => {
                        self.etag = Some(t.to_owned());
                    }
                    _ => {
                        self.etag = None;
                        self.fail(now, format!("{code} without a usable SIP-ETag"), None);
                        return;
                    }
                }
                let granted = resp
                    .headers
                    .get("Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .unwrap_or(self.expires)
                    .min(MAX_EXPIRES);
                self.state = State::Published;
                self.failures = 0;
                self.challenges = 0;
                self.timer = Some(now + refresh_in(granted));
                self.events
                    .push_back(PublicationEvent::Published { expires: granted });
                if std::mem::take(&mut self.pending) {
                    self.state = State::Publishing;
                    self.send_body(now, creds);
                }
            }
            401 | 407 if self.challenges < 2 => {
                self.challenges += 1;
                match self.auth.authorize(&sent, resp, creds) {
                    Ok(again) => {
                        self.cseq = seq(&again.headers).unwrap_or(self.cseq);
                        self.in_flight = Some(again.clone());
                        self.out.push_back(again);
                    }
                    Err(e) if removing => {
                        tracing::debug!("PUBLISH removal not authorised: {e}");
                        self.finish_remove();
                    }
                    Err(e) => self.fail(now, format!("{code} {}: {e}", resp.reason), None),
                }
            }
            _ if removing => self.finish_remove(),
            412 => {
                // §6: the server lost our state; publish it afresh.
                self.etag = None;
                self.pending = false;
                self.state = State::Publishing;
                self.send_body(now, creds);
            }
            423 => match min_expires(resp) {
                Some(m) if m > self.expires && m <= MAX_EXPIRES => {
                    self.expires = m;
                    let with_body = !sent.body.is_empty();
                    self.send(now, m, with_body, creds);
                }
                _ => self.fail(
                    now,
                    format!("423 {}: no usable Min-Expires", resp.reason),
                    None,
                ),
            },
            489 => {
                self.state = State::Stopped;
                self.timer = None;
                self.events.push_back(PublicationEvent::Failed {
                    reason: format!("489 {}", resp.reason),
                    retry_in: None,
                });
            }
            _ => {
                let reason = if matches!(code, 401 | 407) {
                    format!("{code} {}: the credentials were refused", resp.reason)
                } else {
                    format!("{code} {}", resp.reason)
                };
                self.fail(now, reason, retry_after(resp));
            }
        }
    }

    /// The PUBLISH last handed out got no final response.
    pub fn handle_failure(&mut self, now: Instant, reason: String) {
        if self.in_flight.take().is_none() {
            return;
        }
        if self.state == State::Removing {
            self.finish_remove();
        } else {
            self.fail(now, reason, None);
        }
    }

    /// Fires refreshes and retries that are due.
    pub fn handle_timeout(&mut self, now: Instant, creds: &[Credential<'_>]) {
        match self.timer {
            Some(t) if t <= now && self.in_flight.is_none() => {
                self.timer = None;
                self.challenges = 0;
                match self.state {
                    // §4.3: a refresh carries no body, only the tag.
                    State::Published => {
                        self.state = State::Publishing;
                        self.send(now, self.expires, false, creds);
                    }
                    State::Failed => {
                        // The server state may be gone: start from scratch.
                        self.etag = None;
                        self.state = State::Publishing;
                        self.send_body(now, creds);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// The next PUBLISH to send.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PublicationEvent> {
        self.events.pop_front()
    }

    /// When to call [`Publication::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    fn finish_remove(&mut self) {
        self.state = State::Removed;
        self.etag = None;
        self.timer = None;
        self.events.push_back(PublicationEvent::Removed);
    }

    fn fail(&mut self, now: Instant, reason: String, after: Option<Duration>) {
        self.state = State::Failed;
        let retry_in = after
            .unwrap_or_else(|| backoff(self.config.retry_base, self.failures))
            .min(crate::usage::subscription::MAX_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        self.timer = Some(now + retry_in);
        self.events.push_back(PublicationEvent::Failed {
            reason,
            retry_in: Some(retry_in),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::subscription::tests::reply;

    const CREDS: &[Credential<'static>] = &[Credential {
        realm: None,
        username: "alice",
        password: "alice123",
    }];

    fn config() -> PublicationConfig {
        PublicationConfig {
            aor: "sip:alice@127.0.0.1".into(),
            event: "presence".into(),
            content_type: "application/pidf+xml".into(),
            expires: 600,
            user_agent: "Parley test".into(),
            retry_base: Duration::from_secs(10),
        }
    }

    fn ok(req: &Request, etag: &str, expires: &str) -> Response {
        reply(req, 200, None, &[("SIP-ETag", etag), ("Expires", expires)])
    }

    #[test]
    fn publishes_refreshes_modifies_and_removes() {
        let t0 = Instant::now();
        let mut p = Publication::new(config(), 1).unwrap();
        p.publish(t0, b"<presence>1</presence>".to_vec(), CREDS);
        let r1 = p.poll_request().unwrap();
        assert_eq!(r1.method, Method::Publish);
        assert_eq!(r1.headers.get("Event"), Some("presence"));
        assert_eq!(r1.headers.get("Content-Type"), Some("application/pidf+xml"));
        assert!(r1.headers.get("SIP-If-Match").is_none(), "initial");
        let ch = reply(
            &r1,
            401,
            None,
            &[(
                "WWW-Authenticate",
                "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"",
            )],
        );
        p.handle_response(t0, &ch, CREDS);
        let r2 = p.poll_request().unwrap();
        assert!(r2.headers.get("Authorization").is_some());
        assert_eq!(r2.body, r1.body);
        // A new state while the PUBLISH is in flight waits for its answer.
        p.publish(t0, b"<presence>2</presence>".to_vec(), CREDS);
        assert!(p.poll_request().is_none());
        p.handle_response(t0, &ok(&r2, "e1", "120"), CREDS);
        assert_eq!(
            p.poll_event(),
            Some(PublicationEvent::Published { expires: 120 })
        );
        assert_eq!(p.etag(), Some("e1"));
        let m = p.poll_request().expect("queued modification");
        assert_eq!(m.headers.get("SIP-If-Match"), Some("e1"));
        assert_eq!(m.body, b"<presence>2</presence>");
        p.handle_response(t0, &ok(&m, "e2", "120"), CREDS);
        assert_eq!(
            p.poll_event(),
            Some(PublicationEvent::Published { expires: 120 })
        );

        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(102)));
        p.handle_timeout(t0 + Duration::from_secs(102), CREDS);
        let refresh = p.poll_request().unwrap();
        assert_eq!(refresh.headers.get("SIP-If-Match"), Some("e2"));
        assert!(
            refresh.body.is_empty() && refresh.headers.get("Content-Type").is_none(),
            "§4.3: no body"
        );
        assert!(refresh
            .headers
            .get("Authorization")
            .unwrap()
            .contains("nc=00000003"));
        p.handle_response(t0, &ok(&refresh, "e3", "120"), CREDS);
        p.poll_event();

        p.stop(t0, CREDS);
        let rm = p.poll_request().unwrap();
        assert_eq!(rm.headers.get("Expires"), Some("0"));
        assert_eq!(rm.headers.get("SIP-If-Match"), Some("e3"));
        assert_eq!(p.poll_timeout(), None);
        p.handle_response(t0, &reply(&rm, 200, None, &[("SIP-ETag", "e4")]), CREDS);
        assert_eq!(p.poll_event(), Some(PublicationEvent::Removed));
        assert!(!p.is_published());
    }

    #[test]
    fn precondition_failed_republishes_and_min_expires_is_honoured() {
        let t0 = Instant::now();
        let mut p = Publication::new(config(), 2).unwrap();
        p.publish(t0, b"A".to_vec(), CREDS);
        let r1 = p.poll_request().unwrap();
        p.handle_response(
            t0,
            &reply(&r1, 423, None, &[("Min-Expires", "1800")]),
            CREDS,
        );
        let r2 = p.poll_request().unwrap();
        assert_eq!(r2.headers.get("Expires"), Some("1800"));
        assert_eq!(r2.body, b"A");
        p.handle_response(t0, &ok(&r2, "x1", "1800"), CREDS);
        p.poll_event();
        p.handle_timeout(t0 + Duration::from_secs(1530), CREDS);
        let refresh = p.poll_request().unwrap();
        p.handle_response(t0, &reply(&refresh, 412, None, &[]), CREDS);
        let fresh = p.poll_request().expect("initial PUBLISH again");
        assert!(fresh.headers.get("SIP-If-Match").is_none());
        assert_eq!(fresh.body, b"A");
        p.handle_response(t0, &ok(&fresh, "x2", "1800"), CREDS);
        assert_eq!(p.etag(), Some("x2"));
    }

    #[test]
    fn failures_back_off_and_489_stops() {
        let t0 = Instant::now();
        let mut p = Publication::new(config(), 3).unwrap();
        p.publish(t0, b"A".to_vec(), CREDS);
        p.poll_request().unwrap();
        p.handle_failure(t0, "timed out".into());
        assert_eq!(
            p.poll_event(),
            Some(PublicationEvent::Failed {
                reason: "timed out".into(),
                retry_in: Some(Duration::from_secs(10))
            })
        );
        p.handle_timeout(t0 + Duration::from_secs(10), CREDS);
        let r = p.poll_request().unwrap();
        assert_eq!(r.body, b"A");
        p.handle_response(t0, &reply(&r, 503, None, &[("Retry-After", "60")]), CREDS);
        assert_eq!(
            p.poll_event(),
            Some(PublicationEvent::Failed {
                reason: "503 Service Unavailable".into(),
                retry_in: Some(Duration::from_secs(60))
            })
        );
        p.handle_timeout(t0 + Duration::from_secs(70), CREDS);
        let r = p.poll_request().unwrap();
        p.handle_response(t0, &ok(&r, "", "60"), CREDS);
        assert!(
            matches!(p.poll_event(), Some(PublicationEvent::Failed { .. })),
            "2xx without a tag"
        );
        p.handle_timeout(t0 + Duration::from_secs(200), CREDS);
        let r = p.poll_request().unwrap();
        p.handle_response(t0, &reply(&r, 489, None, &[]), CREDS);
        assert_eq!(
            p.poll_event(),
            Some(PublicationEvent::Failed {
                reason: "489 Bad Event".into(),
                retry_in: None
            })
        );
        assert_eq!(p.poll_timeout(), None);

        let mut idle = Publication::new(config(), 4).unwrap();
        idle.stop(t0, CREDS);
        assert_eq!(idle.poll_event(), Some(PublicationEvent::Removed));
        let mut c = config();
        c.content_type = "nope".into();
        assert!(matches!(
            Publication::new(c, 1),
            Err(PublicationError::BadContentType)
        ));
    }
}

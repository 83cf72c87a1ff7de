//! Registration (RFC 3261 §10, RFC 5626 §4.2): keep one binding of our
//! Contact at a registrar alive, sans-IO.
//!
//! ```text
//!            start                2xx (granted E)
//!   Idle ─────────────> Registering ───────────────> Registered ──(85% of E)──┐
//!                         │  ^  │ 401/407: answer once per challenge         │
//!                         │  │  │ 423: raise Expires to Min-Expires          │
//!                         │  └──┘                                            │
//!                         │ other final / timeout / transport error          │
//!                         v                                                  │
//!                       Failed ──(back-off, or Retry-After)──> Registering <─┘
//!   any ──stop──> Unregistering (Expires: 0) ──final / error──> Unregistered
//! ```
//! One REGISTER is in flight at a time; the caller sends what
//! [`Registration::poll_request`] hands out and feeds back the final
//! response or the failure. The same Call-ID is used for every REGISTER to
//! this registrar, with CSeq increasing (§10.2).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sip_message::{Method, Request, Response, Uri};

use crate::auth::{Authenticator, Credential};

/// Longest back-off between failed attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1800);
/// Largest expiry we ask for, whatever a 423 says.
const MAX_EXPIRES: u32 = 86_400;

/// Errors building a registration.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// A URI in the configuration does not parse.
    #[error("invalid {field}: {value:?}")]
    BadUri {
        /// Which setting.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// What to register.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// Address of record (From and To).
    pub aor: String,
    /// Request-URI: the registrar's domain (§10.2: `sip:domain`).
    pub registrar: String,
    /// Our Contact URI.
    pub contact: String,
    /// Requested lifetime in seconds.
    pub expires: u32,
    /// RFC 5626 `+sip.instance` (a `urn:uuid:...`) and `reg-id`.
    pub outbound: Option<(String, u32)>,
    /// User-Agent header.
    pub user_agent: String,
    /// First back-off after a failure (doubles up to 30 minutes).
    pub retry_base: Duration,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// The registrar accepted the binding for `expires` seconds.
    Registered {
        /// Granted lifetime.
        expires: u32,
    },
    /// An attempt failed; the next one is in `retry_in`.
    Failed {
        /// What the user sees: status line or transport problem.
        reason: String,
        /// When the next attempt starts.
        retry_in: Duration,
    },
    /// The binding is gone (or was never made) after [`Registration::stop`].
    Unregistered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Registering,
    Registered,
    Failed,
    Unregistering,
    Unregistered,
}

/// One registration binding; see the module docs.
pub struct Registration {
    config: RegistrationConfig,
    registrar: Uri,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    state: State,
    auth: Authenticator,
    in_flight: Option<Request>,
    challenges: u32,
    failures: u32,
    timer: Option<Instant>,
    out: VecDeque<Request>,
    events: VecDeque<RegistrationEvent>,
}

impl Registration {
    /// A registration for `config`; `seed` makes Call-ID, tag and cnonce
    /// unpredictable (pass OS randomness).
    pub fn new(config: RegistrationConfig, seed: u64) -> Result<Self, RegistrationError> {
        let registrar: Uri = config
            .registrar
            .parse()
            .map_err(|_| RegistrationError::BadUri {
                field: "registrar",
                value: config.registrar.clone(),
            })?;
        for (field, value) in [
            ("address of record", &config.aor),
            ("contact", &config.contact),
        ] {
            value
                .parse::<Uri>()
                .map_err(|_| RegistrationError::BadUri {
                    field,
                    value: value.clone(),
                })?;
        }
        let mut rng = crate::rand::Rng::new(seed);
        Ok(Self {
            expires: config.expires.clamp(1, MAX_EXPIRES),
            registrar,
            call_id: format!("{}@parley", rng.token()),
            from_tag: rng.token(),
            cseq: 0,
            state: State::Idle,
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

    /// Whether a binding is currently in place.
    pub fn is_registered(&self) -> bool {
        self.state == State::Registered
    }

    /// Registers (or re-registers at once, e.g. after a network change).
    pub fn start(&mut self, now: Instant, creds: &[Credential<'_>]) {
        if self.in_flight.is_some() {
            return;
        }
        self.state = State::Registering;
        self.challenges = 0;
        self.send(now, self.expires, creds);
    }

    /// Removes the binding (REGISTER with Expires: 0), or reports
    /// `Unregistered` at once when there is none.
    pub fn stop(&mut self, now: Instant, creds: &[Credential<'_>]) {
        match self.state {
            State::Registered | State::Registering => {
                self.state = State::Unregistering;
                self.challenges = 0;
                self.timer = None;
                self.out.clear();
                // A REGISTER in flight is left to finish; its answer is ignored.
                self.in_flight = None;
                self.send(now, 0, creds);
            }
            State::Unregistering | State::Unregistered => {}
            State::Idle | State::Failed => {
                self.state = State::Unregistered;
                self.timer = None;
                self.events.push_back(RegistrationEvent::Unregistered);
            }
        }
    }

    /// Changes our Contact (a new local address, or one learned from
    /// `received`/`rport`); a registered binding is moved at once.
    pub fn set_contact(&mut self, now: Instant, contact: String, creds: &[Credential<'_>]) {
        if contact == self.config.contact {
            return;
        }
        self.config.contact = contact;
        if matches!(self.state, State::Registered | State::Failed) {
            self.start(now, creds);
        }
    }

    fn send(&mut self, _now: Instant, expires: u32, creds: &[Credential<'_>]) {
        self.cseq = self.cseq.saturating_add(1);
        let mut r = Request::new(Method::Register, self.registrar.clone());
        let mut contact = format!("<{}>", self.config.contact);
        if let Some((instance, reg_id)) = &self.config.outbound {
            contact.push_str(&format!(";+sip.instance=\"<{instance}>\";reg-id={reg_id}"));
        }
        for (name, value) in [
            ("Max-Forwards", "70".to_owned()),
            (
                "From",
                format!("<{}>;tag={}", self.config.aor, self.from_tag),
            ),
            ("To", format!("<{}>", self.config.aor)),
            ("Call-ID", self.call_id.clone()),
            ("CSeq", format!("{} REGISTER", self.cseq)),
            ("Contact", contact),
            ("Expires", expires.to_string()),
            (
                "Supported",
                if self.config.outbound.is_some() {
                    "path, outbound"
                } else {
                    "path"
                }
                .to_owned(),
            ),
            ("User-Agent", self.config.user_agent.clone()),
            ("Content-Length", "0".to_owned()),
        ] {
            // Values are built from validated URIs and numbers.
            let _ = r.headers.push(name, &value);
        }
        // Reuse the last nonce (nc+1) so refreshes need no new challenge.
        let _ = self.auth.apply_cached(&mut r, creds);
        self.in_flight = Some(r.clone());
        self.out.push_back(r);
    }

    /// The final response to the REGISTER last handed out.
    pub fn handle_response(&mut self, now: Instant, resp: &Response, creds: &[Credential<'_>]) {
        let Some(sent) = self.in_flight.clone() else {
            return;
        };
        let code = resp.status.as_u16();
        if code < 200 {
            return;
        }
        self.in_flight = None;
        let unregistering = self.state == State::Unregistering;
        match code {
            200..=299 if unregistering => self.finish_unregister(),
            200..=299 => {
                let granted = self.granted(resp);
                self.state = State::Registered;
                self.failures = 0;
                self.challenges = 0;
                // RFC 5626 §4.4.1: refresh well before expiry.
                let refresh =
                    Duration::from_secs(u64::from(granted) * 85 / 100).max(Duration::from_secs(1));
                self.timer = Some(now + refresh);
                self.events
                    .push_back(RegistrationEvent::Registered { expires: granted });
            }
            401 | 407 if self.challenges < 2 => {
                self.challenges += 1;
                match self.auth.authorize(&sent, resp, creds) {
                    Ok(again) => {
                        self.cseq = again
                            .headers
                            .cseq()
                            .ok()
                            .flatten()
                            .map_or(self.cseq + 1, |c| c.seq);
                        self.in_flight = Some(again.clone());
                        self.out.push_back(again);
                    }
                    Err(e) if unregistering => {
                        tracing::debug!("unregister not authorised: {e}");
                        self.finish_unregister();
                    }
                    Err(e) => self.fail(now, format!("{code} {}: {e}", resp.reason), None),
                }
            }
            423 if !unregistering => {
                let min = resp
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok());
                match min {
                    Some(m) if m > self.expires && m <= MAX_EXPIRES => {
                        self.expires = m;
                        self.send(now, m, creds);
                    }
                    _ => self.fail(
                        now,
                        format!("423 {}: no usable Min-Expires", resp.reason),
                        None,
                    ),
                }
            }
            _ if unregistering => self.finish_unregister(),
            _ => {
                let retry_after = resp.headers.get("Retry-After").and_then(|v| {
                    v.split(|c: char| !c.is_ascii_digit())
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                });
                let reason = if matches!(code, 401 | 407) {
                    format!("{code} {}: the credentials were refused", resp.reason)
                } else {
                    format!("{code} {}", resp.reason)
                };
                self.fail(now, reason, retry_after.map(Duration::from_secs));
            }
        }
    }

    /// The REGISTER last handed out got no final response: `reason` is a
    /// timeout or transport error, for the user.
    pub fn handle_failure(&mut self, now: Instant, reason: String) {
        if self.in_flight.take().is_none() {
            return;
        }
        if self.state == State::Unregistering {
            self.finish_unregister();
        } else {
            self.fail(now, reason, None);
        }
    }

    /// Fires refreshes and retries that are due.
    pub fn handle_timeout(&mut self, now: Instant, creds: &[Credential<'_>]) {
        match self.timer {
            Some(t) if t <= now && self.in_flight.is_none() => {
                self.timer = None;
                if matches!(self.state, State::Registered | State::Failed) {
                    self.state = State::Registering;
                    self.challenges = 0;
                    self.send(now, self.expires, creds);
                }
            }
            _ => {}
        }
    }

    /// An OPTIONS to the registrar (§11), to learn whether it answers at
    /// all, e.g. while it is unreachable; a fresh Call-ID each time.
    pub fn options_probe(&self) -> Request {
        let mut r = Request::new(Method::Options, self.registrar.clone());
        let n = self.cseq;
        for (name, value) in [
            ("Max-Forwards", "70".to_owned()),
            (
                "From",
                format!("<{}>;tag={}", self.config.aor, self.from_tag),
            ),
            ("To", format!("<{}>", self.registrar)),
            ("Call-ID", format!("probe{n}-{}", self.call_id)),
            ("CSeq", "1 OPTIONS".to_owned()),
            ("Accept", "application/sdp".to_owned()),
            ("User-Agent", self.config.user_agent.clone()),
            ("Content-Length", "0".to_owned()),
        ] {
            let _ = r.headers.push(name, &value);
        }
        r
    }

    /// The next REGISTER to send.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }

    /// When to call [`Registration::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    fn finish_unregister(&mut self) {
        self.state = State::Unregistered;
        self.timer = None;
        self.events.push_back(RegistrationEvent::Unregistered);
    }

    fn fail(&mut self, now: Instant, reason: String, retry_after: Option<Duration>) {
        self.state = State::Failed;
        let backoff = self
            .config
            .retry_base
            .saturating_mul(1u32.checked_shl(self.failures.min(16)).unwrap_or(u32::MAX))
            .min(MAX_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        let retry_in = retry_after.unwrap_or(backoff).min(MAX_BACKOFF);
        self.timer = Some(now + retry_in);
        self.events
            .push_back(RegistrationEvent::Failed { reason, retry_in });
    }

    /// The lifetime the registrar granted our Contact: its `expires`
    /// parameter in the 2xx, else the Expires header, else what we asked.
    fn granted(&self, resp: &Response) -> u32 {
        let ours: Option<Uri> = self.config.contact.parse().ok();
        let from_contact = resp
            .headers
            .contact()
            .ok()
            .into_iter()
            .flatten()
            .find_map(|c| {
                let addr = c.addr.as_ref()?;
                let same = ours
                    .as_ref()
                    .is_some_and(|u| addr.uri.to_string() == u.to_string());
                if same {
                    c.params
                        .get("expires")
                        .flatten()
                        .and_then(|v| v.parse::<u32>().ok())
                } else {
                    None
                }
            });
        let header = resp
            .headers
            .get("Expires")
            .and_then(|v| v.trim().parse::<u32>().ok());
        from_contact
            .or(header)
            .unwrap_or(self.expires)
            .min(MAX_EXPIRES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_message::StatusCode;

    const CREDS: &[Credential<'static>] = &[Credential {
        realm: None,
        username: "alice",
        password: "alice123",
    }];

    fn config() -> RegistrationConfig {
        RegistrationConfig {
            aor: "sip:alice@127.0.0.1".into(),
            registrar: "sip:127.0.0.1".into(),
            contact: "sip:alice@127.0.0.1:5999".into(),
            expires: 600,
            outbound: Some(("urn:uuid:00000000-0000-4000-8000-000000000001".into(), 1)),
            user_agent: "Parley test".into(),
            retry_base: Duration::from_secs(10),
        }
    }

    fn reply(req: &Request, code: u16, headers: &[(&str, &str)]) -> Response {
        let mut r = Response::for_request(req, StatusCode::new(code).unwrap());
        for (n, v) in headers {
            r.headers.push(n, v).unwrap();
        }
        r
    }

    fn challenge(req: &Request) -> Response {
        reply(
            req,
            401,
            &[(
                "WWW-Authenticate",
                "Digest realm=\"127.0.0.1\", nonce=\"abc\", qop=\"auth\", algorithm=MD5",
            )],
        )
    }

    fn cseq(r: &Request) -> u32 {
        r.headers.cseq().unwrap().unwrap().seq
    }

    #[test]
    fn registers_through_a_challenge_then_refreshes_with_the_cached_nonce() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), 1).unwrap();
        reg.start(t0, CREDS);
        let r1 = reg.poll_request().unwrap();
        assert_eq!(r1.headers.get("Expires"), Some("600"));
        assert!(r1
            .headers
            .get("Contact")
            .unwrap()
            .contains("+sip.instance=\"<urn:uuid:"));
        assert!(r1.headers.get("Authorization").is_none());
        assert!(reg.poll_request().is_none(), "one REGISTER in flight");

        reg.handle_response(t0, &challenge(&r1), CREDS);
        let r2 = reg.poll_request().unwrap();
        assert_eq!(cseq(&r2), cseq(&r1) + 1);
        assert_eq!(
            r2.headers.get("Call-ID"),
            r1.headers.get("Call-ID"),
            "same Call-ID (§10.2)"
        );
        assert!(r2
            .headers
            .get("Authorization")
            .unwrap()
            .contains("nc=00000001"));

        let ok = reply(
            &r2,
            200,
            &[("Contact", "<sip:alice@127.0.0.1:5999>;expires=120")],
        );
        reg.handle_response(t0, &ok, CREDS);
        assert_eq!(
            reg.poll_event(),
            Some(RegistrationEvent::Registered { expires: 120 })
        );
        assert!(reg.is_registered());
        assert_eq!(
            reg.poll_timeout(),
            Some(t0 + Duration::from_secs(102)),
            "refresh at 85%"
        );

        reg.handle_timeout(t0 + Duration::from_secs(101), CREDS);
        assert!(reg.poll_request().is_none(), "not due yet");
        reg.handle_timeout(t0 + Duration::from_secs(102), CREDS);
        let r3 = reg.poll_request().unwrap();
        assert_eq!(cseq(&r3), cseq(&r2) + 1);
        assert!(
            r3.headers
                .get("Authorization")
                .unwrap()
                .contains("nc=00000002"),
            "nonce reused"
        );
    }

    #[test]
    fn min_expires_is_honoured() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), 2).unwrap();
        reg.start(t0, CREDS);
        let r1 = reg.poll_request().unwrap();
        reg.handle_response(t0, &reply(&r1, 423, &[("Min-Expires", "1800")]), CREDS);
        let r2 = reg.poll_request().unwrap();
        assert_eq!(r2.headers.get("Expires"), Some("1800"));
        reg.handle_response(t0, &reply(&r2, 200, &[("Expires", "1800")]), CREDS);
        assert_eq!(
            reg.poll_event(),
            Some(RegistrationEvent::Registered { expires: 1800 })
        );
    }

    #[test]
    fn failures_back_off_and_honour_retry_after() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), 3).unwrap();
        reg.start(t0, CREDS);
        reg.poll_request().unwrap();
        reg.handle_failure(t0, "no response from 127.0.0.1:5060".into());
        assert_eq!(
            reg.poll_event(),
            Some(RegistrationEvent::Failed {
                reason: "no response from 127.0.0.1:5060".into(),
                retry_in: Duration::from_secs(10)
            })
        );
        reg.handle_timeout(t0 + Duration::from_secs(10), CREDS);
        let r = reg.poll_request().expect("retried");
        reg.handle_response(t0 + Duration::from_secs(10), &reply(&r, 503, &[]), CREDS);
        match reg.poll_event() {
            Some(RegistrationEvent::Failed { reason, retry_in }) => {
                assert_eq!(reason, "503 Service Unavailable");
                assert_eq!(retry_in, Duration::from_secs(20), "doubled");
            }
            other => panic!("{other:?}"),
        }
        reg.handle_timeout(t0 + Duration::from_secs(30), CREDS);
        let r = reg.poll_request().unwrap();
        reg.handle_response(
            t0 + Duration::from_secs(30),
            &reply(&r, 503, &[("Retry-After", "7 (maintenance)")]),
            CREDS,
        );
        assert!(
            matches!(reg.poll_event(), Some(RegistrationEvent::Failed { retry_in, .. }) if retry_in == Duration::from_secs(7))
        );
    }

    #[test]
    fn refused_credentials_fail_without_looping() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), 4).unwrap();
        reg.start(t0, CREDS);
        let r1 = reg.poll_request().unwrap();
        reg.handle_response(t0, &challenge(&r1), CREDS);
        let r2 = reg.poll_request().unwrap();
        reg.handle_response(t0, &challenge(&r2), CREDS);
        assert!(
            reg.poll_request().is_none(),
            "no third attempt on the same nonce"
        );
        match reg.poll_event() {
            Some(RegistrationEvent::Failed { reason, .. }) => {
                assert!(reason.starts_with("401"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!reg.is_registered());
    }

    #[test]
    fn stop_unregisters_with_expires_zero() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), 5).unwrap();
        reg.start(t0, CREDS);
        let r1 = reg.poll_request().unwrap();
        reg.handle_response(t0, &reply(&r1, 200, &[("Expires", "600")]), CREDS);
        reg.poll_event();
        reg.stop(t0, CREDS);
        let bye = reg.poll_request().unwrap();
        assert_eq!(bye.headers.get("Expires"), Some("0"));
        assert_eq!(reg.poll_timeout(), None, "no refresh while unregistering");
        reg.handle_response(t0, &reply(&bye, 200, &[]), CREDS);
        assert_eq!(reg.poll_event(), Some(RegistrationEvent::Unregistered));

        // Stopping something never registered reports at once.
        let mut idle = Registration::new(config(), 6).unwrap();
        idle.stop(t0, CREDS);
        assert!(idle.poll_request().is_none());
        assert_eq!(idle.poll_event(), Some(RegistrationEvent::Unregistered));
    }

    #[test]
    fn a_new_contact_moves_the_binding_at_once() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), 7).unwrap();
        reg.start(t0, CREDS);
        let r1 = reg.poll_request().unwrap();
        reg.handle_response(t0, &reply(&r1, 200, &[("Expires", "600")]), CREDS);
        reg.poll_event();
        reg.set_contact(t0, "sip:alice@127.0.0.1:5999".into(), CREDS);
        assert!(reg.poll_request().is_none(), "same Contact: nothing to do");
        reg.set_contact(t0, "sip:alice@198.51.100.7:40000".into(), CREDS);
        let r2 = reg.poll_request().expect("re-REGISTER");
        assert!(r2
            .headers
            .get("Contact")
            .unwrap()
            .starts_with("<sip:alice@198.51.100.7:40000>"));
    }

    #[test]
    fn bad_uris_are_refused() {
        let mut c = config();
        c.registrar = "not a uri".into();
        assert!(matches!(
            Registration::new(c, 1),
            Err(RegistrationError::BadUri {
                field: "registrar",
                ..
            })
        ));
    }
}

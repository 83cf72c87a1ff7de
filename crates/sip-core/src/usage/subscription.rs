//! Subscriber side of SIP events (RFC 6665): one subscription to one event
//! package (presence, dialog, message-summary...) at one resource, sans-IO.
//!
//! ```text
//!          start            2xx, or NOTIFY first (§4.1.2.4: either creates the dialog)
//!   Idle ───────> Subscribing ─────────────────────────────> Subscribed ──(85% of E)──┐
//!                   │  ^  │ 401/407: answer once per challenge      │  ^  refresh in  │
//!                   │  └──┘ 423: raise Expires to Min-Expires      │  └── dialog <────┘
//!                   │                                              │ refresh: 481 -> new subscription at once
//!                   │ 489/403/603 -> Stopped                        │ NOTIFY terminated (§4.1.3):
//!                   │ other final / timeout / transport error       │   deactivated, timeout, none -> new one at once
//!                   v                                              │   probation, giveup -> after retry-after
//!                Waiting ──(back-off, or Retry-After)──> Subscribing│   rejected, noresource, invariant -> Stopped
//!                   ^──────────────────────────────────────────────┘   other -> back-off
//!   any ──stop──> Unsubscribing (in-dialog SUBSCRIBE, Expires: 0)
//!                   ──NOTIFY terminated / error / 32 s──> Ended
//! ```
//! One SUBSCRIBE is in flight at a time; the caller sends what
//! [`Subscription::poll_request`] hands out (in-dialog requests carry a
//! placeholder Via that the transport replaces), feeds back the final
//! response or the failure, and hands every NOTIFY that
//! [`Subscription::matches`] to [`Subscription::handle_request`], sending
//! the response it returns. A re-subscription after termination starts a
//! new dialog (new Call-ID and tag, §4.1.3). Only the first dialog a forked
//! SUBSCRIBE creates is kept; NOTIFYs of other forks get 481.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sip_message::headers::{SubState, SubscriptionState, Transport, Via};
use sip_message::{Host, Method, Request, Response, TypedHeader, Uri};

use crate::auth::{Authenticator, Credential};
use crate::dialog::{Dialog, DialogId};

/// Longest back-off between failed attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(1800);
/// Largest expiry we ask for, whatever a 423 says.
pub(crate) const MAX_EXPIRES: u32 = 86_400;
/// How long an un-subscription waits for its final NOTIFY (64*T1).
const UNSUBSCRIBE_WAIT: Duration = Duration::from_secs(32);
/// Largest NOTIFY body handed on; larger ones are refused with 413.
pub const MAX_NOTIFY_BODY: usize = 64 * 1024;

/// Errors building a subscription.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// A URI in the configuration does not parse.
    #[error("invalid {field} URI")]
    BadUri {
        /// Which setting.
        field: &'static str,
    },
    /// The event package is not a token.
    #[error("invalid event package")]
    BadEvent,
}

/// What to subscribe to.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// Our address of record (From).
    pub aor: String,
    /// The resource (Request-URI and To): a contact, or our own AoR for
    /// message-summary.
    pub target: String,
    /// Our Contact URI.
    pub contact: String,
    /// Event package: `presence`, `dialog`, `message-summary`...
    pub event: String,
    /// Accept values (e.g. `application/pidf+xml`).
    pub accept: Vec<String>,
    /// Requested lifetime in seconds.
    pub expires: u32,
    /// User-Agent header.
    pub user_agent: String,
    /// First back-off after a failure (doubles up to 30 minutes).
    pub retry_base: Duration,
}

/// Subscription-State of a NOTIFY (§4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyState {
    /// Not yet authorised by the resource.
    Pending,
    /// Authorised.
    Active,
    /// Ended by the notifier.
    Terminated,
}

/// Why the notifier ended a subscription (RFC 6665 §4.2.2 reasons).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TerminationReason {
    /// Moved or reset: re-subscribe at once.
    Deactivated,
    /// Re-subscribe later (after retry-after).
    Probation,
    /// Refused: do not re-subscribe.
    Rejected,
    /// Not refreshed in time: re-subscribe at once.
    Timeout,
    /// Authorisation took too long: re-subscribe later.
    Giveup,
    /// The resource is gone: do not re-subscribe.
    NoResource,
    /// The resource will never be available: do not re-subscribe.
    Invariant,
    /// No reason given.
    Unspecified,
    /// A reason this code does not know (value as sent).
    Other(String),
}

impl TerminationReason {
    fn parse(s: Option<&str>) -> TerminationReason {
        let Some(s) = s else {
            return TerminationReason::Unspecified;
        };
        match s.to_ascii_lowercase().as_str() {
            "deactivated" => Self::Deactivated,
            "probation" => Self::Probation,
            "rejected" => Self::Rejected,
            "timeout" => Self::Timeout,
            "giveup" => Self::Giveup,
            "noresource" => Self::NoResource,
            "invariant" => Self::Invariant,
            _ => Self::Other(s.chars().take(32).collect()),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// The SUBSCRIBE (initial or refresh) was accepted for `expires` s.
    Accepted {
        /// Granted lifetime.
        expires: u32,
    },
    /// A NOTIFY arrived (already answered 200).
    Notify {
        /// Its Subscription-State.
        state: NotifyState,
        /// Its Content-Type, if it has a body.
        content_type: Option<String>,
        /// The body (may be empty).
        body: Vec<u8>,
    },
    /// The subscription ended; `retry_in` says when a new one starts
    /// (`None`: it will not, the subscription is stopped).
    Terminated {
        /// Why.
        reason: TerminationReason,
        /// When the new subscription starts.
        retry_in: Option<Duration>,
    },
    /// An attempt failed; `retry_in` as for `Terminated`.
    Failed {
        /// Status line or transport problem, for the user.
        reason: String,
        /// When the next attempt starts.
        retry_in: Option<Duration>,
    },
    /// After [`Subscription::stop`]: the subscription is gone.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Subscribing,
    Subscribed,
    Waiting,
    Unsubscribing,
    Stopped,
    Ended,
}

/// One subscription; see the module docs.
pub struct Subscription {
    config: SubscriptionConfig,
    target: Uri,
    rng: crate::rand::Rng,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    state: State,
    dialog: Option<Dialog>,
    auth: Authenticator,
    in_flight: Option<Request>,
    challenges: u32,
    failures: u32,
    timer: Option<Instant>,
    out: VecDeque<Request>,
    events: VecDeque<SubscriptionEvent>,
}

/// A Via to be replaced by the transport (the endpoint writes the real
/// one for the target it picks).
pub(crate) fn placeholder_via() -> Via {
    let host = Host::parse("0.0.0.0").unwrap_or_else(|_| unreachable!("literal IPv4"));
    Via::new(Transport::Udp, host, None, "")
}

/// The front of a queue that is mostly empty between bursts; its buffer
/// is freed once drained. A subscription lives for hours holding one or
/// two items now and then, and a watch list has thousands of them (the
/// four-slot buffers alone were 0.9 KiB per watched contact).
fn drain_one<T>(q: &mut VecDeque<T>) -> Option<T> {
    let item = q.pop_front();
    if q.is_empty() && q.capacity() > 0 {
        *q = VecDeque::new();
    }
    item
}

/// Retry-After seconds, ignoring comments and parameters.
pub(crate) fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers.get("Retry-After").and_then(|v| {
        v.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .map(Duration::from_secs)
    })
}

/// Min-Expires of a 423.
pub(crate) fn min_expires(resp: &Response) -> Option<u32> {
    resp.headers
        .get("Min-Expires")
        .and_then(|v| v.trim().parse::<u32>().ok())
}

/// `base * 2^failures`, capped at [`MAX_BACKOFF`].
pub(crate) fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF)
}

/// When to refresh something granted for `secs`: at 85%, at least 1 s on.
pub(crate) fn refresh_in(secs: u32) -> Duration {
    Duration::from_secs(u64::from(secs) * 85 / 100).max(Duration::from_secs(1))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

fn cseq_of(r: &Request) -> Option<u32> {
    r.headers.cseq().ok().flatten().map(|c| c.seq)
}

impl Subscription {
    /// A subscription for `config`; `seed` makes Call-IDs, tags and
    /// cnonces unpredictable (pass OS randomness).
    pub fn new(config: SubscriptionConfig, seed: u64) -> Result<Self, SubscriptionError> {
        let target: Uri = config
            .target
            .parse()
            .map_err(|_| SubscriptionError::BadUri { field: "target" })?;
        for (field, value) in [
            ("address of record", &config.aor),
            ("contact", &config.contact),
        ] {
            value
                .parse::<Uri>()
                .map_err(|_| SubscriptionError::BadUri { field })?;
        }
        if !is_token(&config.event) {
            return Err(SubscriptionError::BadEvent);
        }
        let mut rng = crate::rand::Rng::new(seed);
        let auth = Authenticator::new(rng.next_u64());
        Ok(Self {
            expires: config.expires.clamp(1, MAX_EXPIRES),
            target,
            call_id: format!("{}@parley", rng.token()),
            from_tag: rng.token(),
            rng,
            cseq: 0,
            state: State::Idle,
            dialog: None,
            auth,
            in_flight: None,
            challenges: 0,
            failures: 0,
            timer: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            config,
        })
    }

    /// Whether the notifier has accepted the subscription (a 2xx or a
    /// NOTIFY came and it has not ended).
    pub fn is_active(&self) -> bool {
        self.state == State::Subscribed
    }

    /// The dialog id, once there is a dialog.
    pub fn dialog_id(&self) -> Option<&DialogId> {
        self.dialog.as_ref().map(Dialog::id)
    }

    /// Starts subscribing (or at once again after a failure).
    pub fn start(&mut self, now: Instant, creds: &[Credential<'_>]) {
        if matches!(self.state, State::Idle | State::Waiting | State::Stopped) {
            self.new_subscription(now, creds);
        }
    }

    /// Un-subscribes (§4.1.2.3: SUBSCRIBE with Expires: 0 in the dialog),
    /// or reports `Ended` at once when there is no dialog yet.
    pub fn stop(&mut self, now: Instant, creds: &[Credential<'_>]) {
        match (self.state, self.dialog.is_some()) {
            (State::Ended | State::Unsubscribing, _) => {}
            (State::Subscribed | State::Subscribing, true) => {
                self.state = State::Unsubscribing;
                self.challenges = 0;
                // An answer to a refresh in flight is ignored from now on.
                self.in_flight = None;
                self.timer = Some(now + UNSUBSCRIBE_WAIT);
                self.send_in_dialog(0, creds);
            }
            _ => self.end(),
        }
    }

    /// True if `req` is a NOTIFY for this subscription: its Call-ID and To
    /// tag are ours (§4.1.2.4 matches on dialog id and Event).
    pub fn matches(&self, req: &Request) -> bool {
        if req.method != Method::Notify {
            return false;
        }
        let Ok(id) = DialogId::for_incoming_request(req) else {
            return false;
        };
        id.call_id == self.call_id && id.local_tag == self.from_tag
    }

    fn new_subscription(&mut self, now: Instant, creds: &[Credential<'_>]) {
        // §4.1.3: a new subscription is a new dialog.
        if self.dialog.is_some() || self.cseq > 0 {
            self.call_id = format!("{}@parley", self.rng.token());
            self.from_tag = self.rng.token();
            self.auth.clear();
        }
        self.dialog = None;
        self.state = State::Subscribing;
        self.challenges = 0;
        self.timer = None;
        self.send_initial(now, self.expires, creds);
    }

    fn common_headers(&self, r: &mut Request, expires: u32) {
        let accept = self.config.accept.join(", ");
        for (name, value) in [
            ("Event", self.config.event.as_str()),
            ("Accept", accept.as_str()),
            ("Expires", &expires.to_string()),
            ("Allow", "NOTIFY"),
            ("User-Agent", self.config.user_agent.as_str()),
        ] {
            if !value.is_empty() {
                // Values are validated tokens, URIs and numbers.
                let _ = r.headers.push(name, value);
            }
        }
    }

    fn send_initial(&mut self, _now: Instant, expires: u32, creds: &[Credential<'_>]) {
        self.cseq = self.cseq.saturating_add(1);
        let mut r = Request::new(Method::Subscribe, self.target.clone());
        for (name, value) in [
            ("Max-Forwards", "70".to_owned()),
            (
                "From",
                format!("<{}>;tag={}", self.config.aor, self.from_tag),
            ),
            ("To", format!("<{}>", self.config.target)),
            ("Call-ID", self.call_id.clone()),
            ("CSeq", format!("{} SUBSCRIBE", self.cseq)),
            ("Contact", format!("<{}>", self.config.contact)),
        ] {
            let _ = r.headers.push(name, &value);
        }
        self.common_headers(&mut r, expires);
        let _ = r.headers.push("Content-Length", "0");
        let _ = self.auth.apply_cached(&mut r, creds);
        self.in_flight = Some(r.clone());
        self.out.push_back(r);
    }

    fn send_in_dialog(&mut self, expires: u32, creds: &[Credential<'_>]) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let Ok(mut r) = d.create_request(Method::Subscribe, placeholder_via()) else {
            // CSeq exhausted or dialog over: only a new subscription helps.
            self.dialog = None;
            return;
        };
        self.cseq = cseq_of(&r).unwrap_or(self.cseq);
        self.common_headers(&mut r, expires);
        let _ = self.auth.apply_cached(&mut r, creds);
        self.in_flight = Some(r.clone());
        self.out.push_back(r);
    }

    /// The final response to the SUBSCRIBE last handed out (others are
    /// ignored).
    pub fn handle_response(&mut self, now: Instant, resp: &Response, creds: &[Credential<'_>]) {
        let Some(sent) = self.in_flight.clone() else {
            return;
        };
        let same = resp.headers.cseq().ok().flatten().map(|c| c.seq) == cseq_of(&sent)
            && resp
                .headers
                .call_id()
                .ok()
                .flatten()
                .map(|c| c.as_str().to_owned())
                == Some(self.call_id.clone());
        let code = resp.status.as_u16();
        if !same || code < 200 {
            return;
        }
        self.in_flight = None;
        let unsubscribing = self.state == State::Unsubscribing;
        let refresh = sent
            .headers
            .to()
            .ok()
            .flatten()
            .and_then(|t| t.tag().map(str::to_owned))
            .is_some();
        match code {
            200..=299 if unsubscribing => {
                // Wait for the final NOTIFY (timer already running).
                if let Some(d) = self.dialog.as_mut() {
                    let _ = d.on_response(&Method::Subscribe, resp);
                }
            }
            200..=299 => {
                if self.dialog.is_none() {
                    match Dialog::from_uac_response(&sent, resp) {
                        Ok(d) => self.dialog = Some(d),
                        Err(e) => {
                            tracing::debug!("2xx to SUBSCRIBE creates no dialog: {e}");
                            self.fail(now, format!("{code} without a usable dialog"), None);
                            return;
                        }
                    }
                } else if let Some(d) = self.dialog.as_mut() {
                    let _ = d.on_response(&Method::Subscribe, resp);
                }
                // §4.1.2.1: the 2xx Expires is the real lifetime; it may be
                // shorter, never longer than asked.
                let granted = resp
                    .headers
                    .get("Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .unwrap_or(self.expires)
                    .min(self.expires);
                self.state = State::Subscribed;
                self.failures = 0;
                self.challenges = 0;
                self.timer = Some(now + refresh_in(granted));
                self.events
                    .push_back(SubscriptionEvent::Accepted { expires: granted });
            }
            401 | 407 if self.challenges < 2 => {
                self.challenges += 1;
                match self.auth.authorize(&sent, resp, creds) {
                    Ok(again) => {
                        if let (Some(seq), Some(d)) = (cseq_of(&again), self.dialog.as_mut()) {
                            d.set_local_seq(seq);
                        }
                        self.cseq = cseq_of(&again).unwrap_or(self.cseq);
                        self.in_flight = Some(again.clone());
                        self.out.push_back(again);
                    }
                    Err(e) if unsubscribing => {
                        tracing::debug!("unsubscribe not authorised: {e}");
                        self.end();
                    }
                    Err(e) => self.fail(now, format!("{code} {}: {e}", resp.reason), None),
                }
            }
            _ if unsubscribing => self.end(),
            423 => match min_expires(resp) {
                Some(m) if m > self.expires && m <= MAX_EXPIRES => {
                    self.expires = m;
                    if refresh {
                        self.send_in_dialog(m, creds);
                    } else {
                        self.send_initial(now, m, creds);
                    }
                }
                _ => self.fail(
                    now,
                    format!("423 {}: no usable Min-Expires", resp.reason),
                    None,
                ),
            },
            481 if refresh => {
                // §4.1.2.2: the subscription is gone; start a new one.
                self.events.push_back(SubscriptionEvent::Failed {
                    reason: format!("481 {}", resp.reason),
                    retry_in: Some(Duration::ZERO),
                });
                self.new_subscription(now, creds);
            }
            // The notifier will never take this package, or refuses us.
            489 | 403 | 603 => {
                self.state = State::Stopped;
                self.timer = None;
                self.dialog = None;
                self.events.push_back(SubscriptionEvent::Failed {
                    reason: format!("{code} {}", resp.reason),
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

    /// The SUBSCRIBE last handed out got no final response: `reason` is a
    /// timeout or transport error, for the user.
    pub fn handle_failure(&mut self, now: Instant, reason: String) {
        if self.in_flight.take().is_none() {
            return;
        }
        match self.state {
            State::Unsubscribing => self.end(),
            // §4.1.2.4: a NOTIFY already created the subscription, so the
            // lost 2xx changes nothing; refresh as if it had come.
            State::Subscribing if self.dialog.is_some() => {
                tracing::debug!("SUBSCRIBE unanswered but NOTIFY came: {reason}");
                self.state = State::Subscribed;
                self.timer = Some(now + refresh_in(self.expires));
            }
            _ => self.fail(now, reason, None),
        }
    }

    /// A NOTIFY that [`Subscription::matches`]: returns the response to
    /// send (200, or 481/489/400/413/500), and queues its event.
    pub fn handle_request(
        &mut self,
        now: Instant,
        req: &Request,
        creds: &[Credential<'_>],
    ) -> Response {
        let reply = |code| Response::for_request(req, crate::status(code));
        if !self.matches(req) || matches!(self.state, State::Ended | State::Stopped | State::Idle) {
            return reply(481);
        }
        match req.headers.typed_first::<sip_message::headers::Event>() {
            Ok(Some(e)) if e.package.eq_ignore_ascii_case(&self.config.event) => {}
            Ok(_) => {
                let mut r = reply(489);
                let _ = r.headers.push("Allow-Events", &self.config.event);
                return r;
            }
            Err(_) => return reply(400),
        }
        let sub_state = match req.headers.typed_first::<SubscriptionState>() {
            Ok(Some(s)) => s,
            _ => return reply(400),
        };
        if req.body.len() > MAX_NOTIFY_BODY {
            return reply(413);
        }
        // Dialog: the existing one must match; otherwise this NOTIFY (sent
        // before the 2xx reached us) creates it (§4.1.2.4).
        match self.dialog.as_mut() {
            Some(d) => {
                let Ok(id) = DialogId::for_incoming_request(req) else {
                    return reply(400);
                };
                if id.remote_tag != d.id().remote_tag {
                    return reply(481);
                }
                if let Err(e) = d.on_request(req) {
                    return match e {
                        crate::DialogError::CSeqOutOfOrder { .. } => {
                            crate::dialog::out_of_order_response(req)
                        }
                        _ => reply(481),
                    };
                }
            }
            None => {
                let contact =
                    sip_message::headers::Contact::parse(&format!("<{}>", self.config.contact))
                        .ok();
                match Dialog::from_uas_request(req, &self.from_tag, contact, false) {
                    Ok(mut d) => {
                        d.set_local_seq(self.cseq);
                        self.dialog = Some(d);
                    }
                    Err(_) => return reply(400),
                }
            }
        }
        let state = match sub_state.state {
            SubState::Active => NotifyState::Active,
            SubState::Pending => NotifyState::Pending,
            SubState::Terminated => NotifyState::Terminated,
            // An unknown state grants nothing we could rely on.
            SubState::Other(_) => NotifyState::Pending,
        };
        self.events.push_back(SubscriptionEvent::Notify {
            state,
            content_type: req.headers.get("Content-Type").map(|v| v.trim().to_owned()),
            body: req.body.clone(),
        });
        if state == NotifyState::Terminated {
            self.on_terminated(now, &sub_state, creds);
        } else if let (State::Subscribed, Some(e)) = (self.state, sub_state.expires()) {
            // §4.1.3: the notifier may shorten the subscription.
            let due = now + refresh_in(e);
            if self.timer.is_none_or(|t| due < t) {
                self.timer = Some(due);
            }
        }
        reply(200)
    }

    fn on_terminated(&mut self, now: Instant, st: &SubscriptionState, creds: &[Credential<'_>]) {
        self.dialog = None;
        self.in_flight = None;
        if self.state == State::Unsubscribing {
            self.end();
            return;
        }
        let reason = TerminationReason::parse(st.reason());
        let after = st.retry_after().map(|s| Duration::from_secs(u64::from(s)));
        let retry_in = match &reason {
            TerminationReason::Deactivated
            | TerminationReason::Timeout
            | TerminationReason::Unspecified => Some(Duration::ZERO),
            TerminationReason::Probation | TerminationReason::Giveup => Some(
                after
                    .unwrap_or_else(|| backoff(self.config.retry_base, self.failures))
                    .min(MAX_BACKOFF),
            ),
            TerminationReason::Rejected
            | TerminationReason::NoResource
            | TerminationReason::Invariant => None,
            TerminationReason::Other(_) => Some(
                after
                    .unwrap_or_else(|| backoff(self.config.retry_base, self.failures))
                    .min(MAX_BACKOFF),
            ),
        };
        self.events
            .push_back(SubscriptionEvent::Terminated { reason, retry_in });
        match retry_in {
            Some(d) if d.is_zero() => self.new_subscription(now, creds),
            Some(d) => {
                self.failures = self.failures.saturating_add(1);
                self.state = State::Waiting;
                self.timer = Some(now + d);
            }
            None => {
                self.state = State::Stopped;
                self.timer = None;
            }
        }
    }

    /// Fires refreshes, retries and the un-subscribe deadline when due.
    pub fn handle_timeout(&mut self, now: Instant, creds: &[Credential<'_>]) {
        let Some(t) = self.timer else { return };
        if t > now {
            return;
        }
        self.timer = None;
        match self.state {
            State::Unsubscribing => self.end(),
            State::Subscribed if self.in_flight.is_none() => {
                self.challenges = 0;
                self.send_in_dialog(self.expires, creds);
                if self.in_flight.is_none() {
                    self.new_subscription(now, creds);
                }
            }
            State::Waiting => self.new_subscription(now, creds),
            _ => {}
        }
    }

    /// The next SUBSCRIBE to send.
    pub fn poll_request(&mut self) -> Option<Request> {
        drain_one(&mut self.out)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SubscriptionEvent> {
        drain_one(&mut self.events)
    }

    /// When to call [`Subscription::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    fn end(&mut self) {
        self.state = State::Ended;
        self.timer = None;
        self.dialog = None;
        self.in_flight = None;
        self.events.push_back(SubscriptionEvent::Ended);
    }

    fn fail(&mut self, now: Instant, reason: String, after: Option<Duration>) {
        self.state = State::Waiting;
        self.dialog = None;
        let retry_in = after
            .unwrap_or_else(|| backoff(self.config.retry_base, self.failures))
            .min(MAX_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        self.timer = Some(now + retry_in);
        self.events.push_back(SubscriptionEvent::Failed {
            reason,
            retry_in: Some(retry_in),
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sip_message::StatusCode;

    const CREDS: &[Credential<'static>] = &[Credential {
        realm: None,
        username: "alice",
        password: "alice123",
    }];

    fn config() -> SubscriptionConfig {
        SubscriptionConfig {
            aor: "sip:alice@127.0.0.1".into(),
            target: "sip:bob@127.0.0.1".into(),
            contact: "sip:alice@127.0.0.1:5999".into(),
            event: "presence".into(),
            accept: vec!["application/pidf+xml".into()],
            expires: 600,
            user_agent: "Parley test".into(),
            retry_base: Duration::from_secs(10),
        }
    }

    pub(crate) fn reply(
        req: &Request,
        code: u16,
        to_tag: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut r = Response::for_request(req, StatusCode::new(code).unwrap());
        if let Some(tag) = to_tag {
            let mut to = req.headers.to().unwrap().unwrap();
            if to.tag().is_none() {
                to.set_tag(tag);
            }
            r.headers.set_typed(&to);
        }
        for (n, v) in headers {
            r.headers.push(n, v).unwrap();
        }
        r
    }

    /// A NOTIFY from the notifier with tag `nt` for the SUBSCRIBE `sub`.
    fn notify(
        sub: &Request,
        nt: &str,
        seq: u32,
        state: &str,
        body: Option<(&str, &[u8])>,
    ) -> Request {
        let from = sub.headers.from().unwrap().unwrap();
        let mut r = Request::new(Method::Notify, "sip:alice@127.0.0.1:5999".parse().unwrap());
        for (n, v) in [
            (
                "Via",
                "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn".to_owned(),
            ),
            ("From", format!("<sip:bob@127.0.0.1>;tag={nt}")),
            (
                "To",
                format!("<sip:alice@127.0.0.1>;tag={}", from.tag().unwrap()),
            ),
            ("Call-ID", sub.headers.get("Call-ID").unwrap().to_owned()),
            ("CSeq", format!("{seq} NOTIFY")),
            ("Contact", "<sip:bob@127.0.0.1:5070>".to_owned()),
            ("Event", "presence".to_owned()),
            ("Subscription-State", state.to_owned()),
        ] {
            r.headers.push(n, &v).unwrap();
        }
        if let Some((ct, b)) = body {
            r.set_body(b.to_vec(), Some(ContentType::parse(ct).unwrap()));
        }
        r
    }

    fn active(t0: Instant, seed: u64) -> (Subscription, Request) {
        let mut s = Subscription::new(config(), seed).unwrap();
        s.start(t0, CREDS);
        let r = s.poll_request().unwrap();
        s.handle_response(
            t0,
            &reply(
                &r,
                200,
                Some("n1"),
                &[("Expires", "600"), ("Contact", "<sip:bob@127.0.0.1:5070>")],
            ),
            CREDS,
        );
        assert_eq!(
            s.poll_event(),
            Some(SubscriptionEvent::Accepted { expires: 600 })
        );
        (s, r)
    }

    use sip_message::headers::ContentType;

    #[test]
    fn an_idle_subscription_keeps_no_queue_buffers() {
        let (s, _) = active(Instant::now(), 7);
        // Both queues were used (a SUBSCRIBE out, Accepted in) and drained.
        assert_eq!(s.out.capacity(), 0);
        assert_eq!(s.events.capacity(), 0);
        let mut q: VecDeque<u8> = VecDeque::from([1, 2]);
        assert_eq!(drain_one(&mut q), Some(1));
        assert!(q.capacity() > 0, "not freed while an item waits");
        assert_eq!(drain_one(&mut q), Some(2));
        assert_eq!(q.capacity(), 0);
        assert_eq!(drain_one(&mut q), None);
    }

    #[test]
    fn subscribes_through_a_challenge_gets_notify_and_refreshes_in_dialog() {
        let t0 = Instant::now();
        let mut s = Subscription::new(config(), 1).unwrap();
        s.start(t0, CREDS);
        let r1 = s.poll_request().unwrap();
        assert_eq!(r1.method, Method::Subscribe);
        assert_eq!(r1.headers.get("Event"), Some("presence"));
        assert_eq!(r1.headers.get("Accept"), Some("application/pidf+xml"));
        assert_eq!(r1.headers.get("Expires"), Some("600"));
        assert!(s.poll_request().is_none(), "one SUBSCRIBE in flight");
        let ch = reply(
            &r1,
            407,
            None,
            &[(
                "Proxy-Authenticate",
                "Digest realm=\"127.0.0.1\", nonce=\"n\", qop=\"auth\"",
            )],
        );
        s.handle_response(t0, &ch, CREDS);
        let r2 = s.poll_request().unwrap();
        assert!(r2.headers.get("Proxy-Authorization").is_some());
        assert_eq!(cseq_of(&r2), Some(cseq_of(&r1).unwrap() + 1));
        s.handle_response(
            t0,
            &reply(
                &r2,
                200,
                Some("n1"),
                &[("Expires", "300"), ("Contact", "<sip:bob@127.0.0.1:5070>")],
            ),
            CREDS,
        );
        assert_eq!(
            s.poll_event(),
            Some(SubscriptionEvent::Accepted { expires: 300 })
        );
        assert!(s.is_active());

        let n = notify(
            &r2,
            "n1",
            1,
            "active;expires=300",
            Some(("application/pidf+xml", b"<presence/>")),
        );
        assert!(s.matches(&n));
        assert_eq!(s.handle_request(t0, &n, CREDS).status.as_u16(), 200);
        assert_eq!(
            s.poll_event(),
            Some(SubscriptionEvent::Notify {
                state: NotifyState::Active,
                content_type: Some("application/pidf+xml".into()),
                body: b"<presence/>".to_vec()
            })
        );

        assert_eq!(
            s.poll_timeout(),
            Some(t0 + Duration::from_secs(255)),
            "85% of 300"
        );
        s.handle_timeout(t0 + Duration::from_secs(254), CREDS);
        assert!(s.poll_request().is_none());
        s.handle_timeout(t0 + Duration::from_secs(255), CREDS);
        let r3 = s.poll_request().expect("refresh");
        assert_eq!(
            r3.uri.to_string(),
            "sip:bob@127.0.0.1:5070",
            "to the remote target"
        );
        assert_eq!(
            r3.headers.to().unwrap().unwrap().tag(),
            Some("n1"),
            "in the dialog"
        );
        assert_eq!(cseq_of(&r3), Some(cseq_of(&r2).unwrap() + 1));
        assert!(r3
            .headers
            .get("Proxy-Authorization")
            .unwrap()
            .contains("nc=00000002"));
    }

    #[test]
    fn notify_before_the_2xx_creates_the_dialog() {
        let t0 = Instant::now();
        let mut s = Subscription::new(config(), 2).unwrap();
        s.start(t0, CREDS);
        let r1 = s.poll_request().unwrap();
        let n = notify(&r1, "n9", 1, "pending", None);
        assert_eq!(s.handle_request(t0, &n, CREDS).status.as_u16(), 200);
        assert_eq!(s.dialog_id().unwrap().remote_tag, "n9");
        assert!(matches!(
            s.poll_event(),
            Some(SubscriptionEvent::Notify {
                state: NotifyState::Pending,
                ..
            })
        ));
        s.handle_response(
            t0,
            &reply(&r1, 200, Some("n9"), &[("Expires", "600")]),
            CREDS,
        );
        assert_eq!(
            s.poll_event(),
            Some(SubscriptionEvent::Accepted { expires: 600 })
        );
        // A lost 2xx after a NOTIFY leaves the subscription in place.
        let mut lost = Subscription::new(config(), 9).unwrap();
        lost.start(t0, CREDS);
        let l1 = lost.poll_request().unwrap();
        lost.handle_request(t0, &notify(&l1, "q", 1, "active", None), CREDS);
        lost.handle_failure(t0, "no response".into());
        assert!(lost.is_active());
        assert!(matches!(
            lost.poll_event(),
            Some(SubscriptionEvent::Notify { .. })
        ));
        assert_eq!(lost.poll_event(), None, "no failure reported");
        assert_eq!(lost.poll_timeout(), Some(t0 + Duration::from_secs(510)));
        // A second fork's NOTIFY and an unknown Call-ID get 481.
        let other = notify(&r1, "fork2", 1, "active", None);
        assert_eq!(s.handle_request(t0, &other, CREDS).status.as_u16(), 481);
        let mut stray = n.clone();
        stray.headers.remove("Call-ID");
        stray.headers.push("Call-ID", "nope").unwrap();
        assert!(!s.matches(&stray));
        assert_eq!(s.handle_request(t0, &stray, CREDS).status.as_u16(), 481);
        // Wrong package: 489; no Subscription-State: 400; older CSeq: 500.
        let mut wrong = notify(&r1, "n9", 2, "active", None);
        wrong.headers.remove("Event");
        wrong.headers.push("Event", "dialog").unwrap();
        assert_eq!(s.handle_request(t0, &wrong, CREDS).status.as_u16(), 489);
        let mut bare = notify(&r1, "n9", 3, "active", None);
        bare.headers.remove("Subscription-State");
        assert_eq!(s.handle_request(t0, &bare, CREDS).status.as_u16(), 400);
        assert_eq!(
            s.handle_request(t0, &notify(&r1, "n9", 5, "active", None), CREDS)
                .status
                .as_u16(),
            200
        );
        assert_eq!(
            s.handle_request(t0, &notify(&r1, "n9", 4, "active", None), CREDS)
                .status
                .as_u16(),
            500
        );
    }

    fn terminate_with(
        reason: &str,
    ) -> (
        Subscription,
        Instant,
        Option<SubscriptionEvent>,
        Option<Request>,
    ) {
        let t0 = Instant::now();
        let (mut s, r) = active(t0, 3);
        let n = notify(&r, "n1", 1, &format!("terminated;{reason}"), None);
        assert_eq!(s.handle_request(t0, &n, CREDS).status.as_u16(), 200);
        assert!(matches!(
            s.poll_event(),
            Some(SubscriptionEvent::Notify {
                state: NotifyState::Terminated,
                ..
            })
        ));
        let ev = s.poll_event();
        let req = s.poll_request();
        (s, t0, ev, req)
    }

    #[test]
    fn every_termination_reason() {
        for (reason, expect) in [
            ("reason=deactivated", TerminationReason::Deactivated),
            ("reason=timeout", TerminationReason::Timeout),
        ] {
            let (_, _, ev, req) = terminate_with(reason);
            assert_eq!(
                ev,
                Some(SubscriptionEvent::Terminated {
                    reason: expect,
                    retry_in: Some(Duration::ZERO)
                })
            );
            let req = req.expect("re-subscribes at once");
            assert!(
                req.headers.to().unwrap().unwrap().tag().is_none(),
                "new dialog"
            );
        }
        let (_, _, ev, req) = terminate_with("reason=probation;retry-after=30");
        assert_eq!(
            ev,
            Some(SubscriptionEvent::Terminated {
                reason: TerminationReason::Probation,
                retry_in: Some(Duration::from_secs(30))
            })
        );
        assert!(req.is_none());
        let (mut s, t0, ev, _) = terminate_with("reason=giveup");
        assert_eq!(
            ev,
            Some(SubscriptionEvent::Terminated {
                reason: TerminationReason::Giveup,
                retry_in: Some(Duration::from_secs(10))
            })
        );
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        s.handle_timeout(t0 + Duration::from_secs(10), CREDS);
        let again = s.poll_request().expect("retried after the back-off");
        assert!(again.headers.to().unwrap().unwrap().tag().is_none());
        for (reason, expect) in [
            ("reason=rejected", TerminationReason::Rejected),
            ("reason=noresource", TerminationReason::NoResource),
            ("reason=invariant", TerminationReason::Invariant),
        ] {
            let (s, _, ev, req) = terminate_with(reason);
            assert_eq!(
                ev,
                Some(SubscriptionEvent::Terminated {
                    reason: expect,
                    retry_in: None
                })
            );
            assert!(req.is_none() && s.poll_timeout().is_none(), "stopped");
            assert!(!s.is_active());
        }
        let (_, _, ev, req) = terminate_with("reason=moved-to-mars;retry-after=5");
        assert_eq!(
            ev,
            Some(SubscriptionEvent::Terminated {
                reason: TerminationReason::Other("moved-to-mars".into()),
                retry_in: Some(Duration::from_secs(5))
            })
        );
        assert!(req.is_none());
        let (_, _, ev, req) = terminate_with("expires=0");
        assert_eq!(
            ev,
            Some(SubscriptionEvent::Terminated {
                reason: TerminationReason::Unspecified,
                retry_in: Some(Duration::ZERO)
            })
        );
        assert!(req.is_some());
    }

    #[test]
    fn refresh_481_starts_a_new_subscription_and_failures_back_off() {
        let t0 = Instant::now();
        let (mut s, r1) = active(t0, 4);
        let t1 = t0 + Duration::from_secs(510);
        s.handle_timeout(t1, CREDS);
        let refresh = s.poll_request().unwrap();
        s.handle_response(t1, &reply(&refresh, 481, None, &[]), CREDS);
        assert!(
            matches!(s.poll_event(), Some(SubscriptionEvent::Failed { retry_in: Some(d), .. }) if d.is_zero())
        );
        let fresh = s.poll_request().expect("new SUBSCRIBE at once");
        assert_ne!(fresh.headers.get("Call-ID"), r1.headers.get("Call-ID"));
        assert!(fresh.headers.to().unwrap().unwrap().tag().is_none());

        s.handle_failure(t1, "no response from 127.0.0.1:5060".into());
        assert_eq!(
            s.poll_event(),
            Some(SubscriptionEvent::Failed {
                reason: "no response from 127.0.0.1:5060".into(),
                retry_in: Some(Duration::from_secs(10))
            })
        );
        s.handle_timeout(t1 + Duration::from_secs(10), CREDS);
        let again = s.poll_request().unwrap();
        s.handle_response(t1, &reply(&again, 503, None, &[]), CREDS);
        assert!(
            matches!(s.poll_event(), Some(SubscriptionEvent::Failed { retry_in: Some(d), .. }) if d == Duration::from_secs(20))
        );
        s.handle_timeout(t1 + Duration::from_secs(40), CREDS);
        let again = s.poll_request().unwrap();
        s.handle_response(
            t1,
            &reply(&again, 500, None, &[("Retry-After", "3")]),
            CREDS,
        );
        assert!(
            matches!(s.poll_event(), Some(SubscriptionEvent::Failed { retry_in: Some(d), .. }) if d == Duration::from_secs(3))
        );
        s.handle_timeout(t1 + Duration::from_secs(43), CREDS);
        let again = s.poll_request().unwrap();
        s.handle_response(
            t1,
            &reply(&again, 423, None, &[("Min-Expires", "3600")]),
            CREDS,
        );
        let bigger = s.poll_request().unwrap();
        assert_eq!(bigger.headers.get("Expires"), Some("3600"));
        s.handle_response(t1, &reply(&bigger, 489, None, &[]), CREDS);
        assert_eq!(
            s.poll_event(),
            Some(SubscriptionEvent::Failed {
                reason: "489 Bad Event".into(),
                retry_in: None
            })
        );
        assert_eq!(s.poll_timeout(), None, "489: stopped for good");
    }

    #[test]
    fn unsubscribe_waits_for_the_final_notify_or_the_deadline() {
        let t0 = Instant::now();
        let (mut s, r) = active(t0, 5);
        s.stop(t0, CREDS);
        let bye = s.poll_request().unwrap();
        assert_eq!(bye.headers.get("Expires"), Some("0"));
        assert_eq!(bye.headers.to().unwrap().unwrap().tag(), Some("n1"));
        s.handle_response(t0, &reply(&bye, 200, None, &[]), CREDS);
        assert_eq!(s.poll_event(), None, "waits for the NOTIFY");
        let n = notify(&r, "n1", 2, "terminated;reason=timeout", None);
        assert_eq!(s.handle_request(t0, &n, CREDS).status.as_u16(), 200);
        assert!(matches!(
            s.poll_event(),
            Some(SubscriptionEvent::Notify { .. })
        ));
        assert_eq!(s.poll_event(), Some(SubscriptionEvent::Ended));
        assert!(s.poll_request().is_none(), "no re-subscription");

        let (mut s, _) = active(t0, 6);
        s.stop(t0, CREDS);
        s.poll_request().unwrap();
        s.handle_timeout(t0 + Duration::from_secs(32), CREDS);
        assert_eq!(s.poll_event(), Some(SubscriptionEvent::Ended));

        let mut idle = Subscription::new(config(), 7).unwrap();
        idle.stop(t0, CREDS);
        assert_eq!(idle.poll_event(), Some(SubscriptionEvent::Ended));
    }

    #[test]
    fn notifier_may_shorten_and_bad_config_is_refused() {
        let t0 = Instant::now();
        let (mut s, r) = active(t0, 8);
        let n = notify(&r, "n1", 1, "active;expires=100", None);
        s.handle_request(t0, &n, CREDS);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(85)));
        let big = notify(
            &r,
            "n1",
            2,
            "active",
            Some(("application/pidf+xml", &vec![b'x'; MAX_NOTIFY_BODY + 1])),
        );
        assert_eq!(s.handle_request(t0, &big, CREDS).status.as_u16(), 413);
        let mut c = config();
        c.event = "pres ence".into();
        assert!(matches!(
            Subscription::new(c, 1),
            Err(SubscriptionError::BadEvent)
        ));
        let mut c = config();
        c.target = "nope".into();
        assert!(matches!(
            Subscription::new(c, 1),
            Err(SubscriptionError::BadUri { field: "target" })
        ));
    }
}

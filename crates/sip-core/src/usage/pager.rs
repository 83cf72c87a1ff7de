//! Instant messages outside dialogs (RFC 3428 pager mode), sans-IO:
//! sending with one outcome per message, and checking what arrives.
//!
//! ```text
//!   send() ──size/URI check──> refused at once (PagerError), nothing sent
//!      │
//!      v                 401/407: answer once per challenge (new CSeq)
//!   Sending ─────────────────────────────┐
//!      │ 2xx                  ^──────────┘
//!      ├──────> Sent (§7: 2xx = delivered to the recipient or its store)
//!      │ other final / timeout / transport error (413/415/488 explained)
//!      └──────> Failed { status, reason }
//!
//!   incoming MESSAGE (§7): text/plain UTF-8 -> 200 + Received
//!                          application/im-iscomposing+xml (RFC 3994) -> 200 + Composing
//!                          other types -> 415 with Accept; bad text -> 400; too big -> 413
//! ```
//! Messages are independent: several may be in flight; each request comes
//! out of [`Pager::poll_request`] with its [`MessageId`], and the caller
//! hands the final response or failure back with that id. Each MESSAGE is
//! its own transaction with a new Call-ID (§7). There are no timers here:
//! retrying failed messages later is policy, above this layer.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use sip_message::headers::ContentType;
use sip_message::is_composing::{IsComposing, CONTENT_TYPE as IS_COMPOSING};
use sip_message::{Method, Request, Response, TypedHeader, Uri};

use crate::auth::{Authenticator, Credential};

/// Most messages in flight at once.
pub const MAX_IN_FLIGHT: usize = 256;
/// Largest incoming body accepted (answered 413 above).
pub const MAX_INCOMING_BODY: usize = 64 * 1024;
/// What incoming MESSAGEs we take (the Accept of our 415).
const ACCEPT: &str = "text/plain, application/im-iscomposing+xml";

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagerError {
    /// The recipient or our AoR is not a URI.
    #[error("invalid {field} URI")]
    BadUri {
        /// Which one.
        field: &'static str,
    },
    /// The content type does not parse.
    #[error("invalid content type")]
    BadContentType,
    /// The body is larger than the configured limit (§8: 1300 bytes over
    /// UDP unless the transport is congestion controlled).
    #[error("message of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// [`MAX_IN_FLIGHT`] messages are awaiting an answer.
    #[error("too many messages awaiting an answer (limit {MAX_IN_FLIGHT})")]
    TooManyInFlight,
}

/// Pager settings.
#[derive(Debug, Clone)]
pub struct PagerConfig {
    /// Our address of record (From).
    pub aor: String,
    /// User-Agent header.
    pub user_agent: String,
    /// Largest body we send.
    pub max_body: usize,
}

/// Identifies one outgoing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagerEvent {
    /// A 2xx: the message was accepted for delivery.
    Sent {
        /// Which message.
        id: MessageId,
    },
    /// The message was not delivered.
    Failed {
        /// Which message.
        id: MessageId,
        /// Final status, `None` for a timeout or transport error.
        status: Option<u16>,
        /// For the user.
        reason: String,
    },
    /// A text message arrived (already answered 200).
    Received {
        /// The sender's URI (From).
        from: String,
        /// The sender's display name.
        display_name: Option<String>,
        /// The text.
        text: String,
    },
    /// The peer started or stopped typing (RFC 3994).
    Composing {
        /// The sender's URI (From).
        from: String,
        /// The indication.
        state: IsComposing,
    },
}

/// Out-of-dialog MESSAGE sender and receiver; see the module docs.
pub struct Pager {
    config: PagerConfig,
    rng: crate::rand::Rng,
    auth: Authenticator,
    next_id: u64,
    /// Request last sent per message, and challenges answered for it.
    in_flight: BTreeMap<MessageId, (Request, u32)>,
    out: VecDeque<(MessageId, Request)>,
    events: VecDeque<PagerEvent>,
}

/// What the user sees for a failure status.
fn explain(code: u16, phrase: &str) -> String {
    let why = match code {
        401 | 407 => "the credentials were refused",
        404 | 604 => "no such user",
        408 | 480 => "the recipient is not available",
        413 => "the message is too large for the recipient",
        415 => "the recipient does not accept this kind of message",
        486 | 600 => "the recipient is busy",
        488 => "the recipient does not accept this message",
        403 | 603 => "the recipient refused the message",
        _ => return format!("{code} {phrase}"),
    };
    format!("{code} {phrase}: {why}")
}

/// Why a MESSAGE was refused, as the user reads it: the status, and what
/// it means (with what the recipient accepts after a 415).
fn failure_reason(resp: &Response) -> String {
    let code = resp.status.as_u16();
    let mut reason = explain(code, &resp.reason);
    if code == 415 {
        if let Some(accept) = resp.headers.get("Accept") {
            reason.push_str(&format!(" (accepts {})", accept.trim()));
        }
    }
    reason
}

/// The outcome of a MESSAGE sent inside a dialog (RFC 3428 §4), which the
/// dialog's owner sends and authenticates, for its final response: `Ok`
/// for 2xx, else the status and the reason the out-of-dialog pager gives.
pub fn in_dialog_outcome(resp: &Response) -> Result<(), (u16, String)> {
    match resp.status.as_u16() {
        200..=299 => Ok(()),
        code => Err((code, failure_reason(resp))),
    }
}

impl Pager {
    /// A pager; `seed` makes Call-IDs, tags and cnonces unpredictable.
    pub fn new(config: PagerConfig, seed: u64) -> Result<Self, PagerError> {
        config.aor.parse::<Uri>().map_err(|_| PagerError::BadUri {
            field: "address of record",
        })?;
        let mut rng = crate::rand::Rng::new(seed);
        Ok(Pager {
            auth: Authenticator::new(rng.next_u64()),
            rng,
            config,
            next_id: 1,
            in_flight: BTreeMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Sends `text` as `text/plain; charset=UTF-8` to `to`.
    pub fn send_text(
        &mut self,
        now: Instant,
        to: &str,
        text: &str,
        creds: &[Credential<'_>],
    ) -> Result<MessageId, PagerError> {
        self.send(
            now,
            to,
            "text/plain;charset=UTF-8",
            text.as_bytes().to_vec(),
            creds,
        )
    }

    /// Sends `body` of `content_type` to `to`. Checked before anything is
    /// queued: a refused message never reaches the network.
    pub fn send(
        &mut self,
        _now: Instant,
        to: &str,
        content_type: &str,
        body: Vec<u8>,
        creds: &[Credential<'_>],
    ) -> Result<MessageId, PagerError> {
        let target: Uri = to
            .parse()
            .map_err(|_| PagerError::BadUri { field: "recipient" })?;
        let ctype = ContentType::parse(content_type).map_err(|_| PagerError::BadContentType)?;
        if body.len() > self.config.max_body {
            return Err(PagerError::TooLarge {
                size: body.len(),
                limit: self.config.max_body,
            });
        }
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            return Err(PagerError::TooManyInFlight);
        }
        let id = MessageId(self.next_id);
        self.next_id += 1;
        let mut r = Request::new(Method::Message, target);
        for (name, value) in [
            ("Max-Forwards", "70".to_owned()),
            (
                "From",
                format!("<{}>;tag={}", self.config.aor, self.rng.token()),
            ),
            ("To", format!("<{to}>")),
            ("Call-ID", format!("{}@parley", self.rng.token())),
            ("CSeq", "1 MESSAGE".to_owned()),
            ("User-Agent", self.config.user_agent.clone()),
        ] {
            // Values are validated URIs, tokens and numbers.
            let _ = r.headers.push(name, &value);
        }
        r.set_body(body, Some(ctype));
        let _ = self.auth.apply_cached(&mut r, creds);
        self.in_flight.insert(id, (r.clone(), 0));
        self.out.push_back((id, r));
        Ok(id)
    }

    /// The final response to message `id`.
    pub fn handle_response(
        &mut self,
        _now: Instant,
        id: MessageId,
        resp: &Response,
        creds: &[Credential<'_>],
    ) {
        let code = resp.status.as_u16();
        if code < 200 {
            return;
        }
        let Some((sent, challenges)) = self.in_flight.remove(&id) else {
            return;
        };
        match code {
            200..=299 => self.events.push_back(PagerEvent::Sent { id }),
            401 | 407 if challenges < 2 => match self.auth.authorize(&sent, resp, creds) {
                Ok(again) => {
                    self.in_flight.insert(id, (again.clone(), challenges + 1));
                    self.out.push_back((id, again));
                }
                Err(e) => self.events.push_back(PagerEvent::Failed {
                    id,
                    status: Some(code),
                    reason: format!("{}: {e}", explain(code, &resp.reason)),
                }),
            },
            _ => {
                let reason = failure_reason(resp);
                self.events.push_back(PagerEvent::Failed {
                    id,
                    status: Some(code),
                    reason,
                });
            }
        }
    }

    /// Message `id` got no final response (`reason`: timeout or transport
    /// error, for the user).
    pub fn handle_failure(&mut self, _now: Instant, id: MessageId, reason: String) {
        if self.in_flight.remove(&id).is_some() {
            self.events.push_back(PagerEvent::Failed {
                id,
                status: None,
                reason,
            });
        }
    }

    /// An incoming MESSAGE outside a dialog: returns the response to send
    /// and queues what it carried.
    pub fn handle_request(&mut self, _now: Instant, req: &Request) -> Response {
        let reply = |code| Response::for_request(req, crate::status(code));
        if req.method != Method::Message {
            let mut r = reply(405);
            let _ = r.headers.push("Allow", "MESSAGE");
            return r;
        }
        if req.body.len() > MAX_INCOMING_BODY {
            return reply(413);
        }
        let Ok(Some(from)) = req.headers.from() else {
            return reply(400);
        };
        let unsupported = || {
            let mut r = reply(415);
            let _ = r.headers.push("Accept", ACCEPT);
            r
        };
        let Ok(Some(ContentType(ct))) = req.headers.typed_first::<ContentType>() else {
            return unsupported();
        };
        let sender = from.addr.uri.to_string();
        if ct.is("text", "plain") {
            // §9: other charsets could be converted, but UTF-8 is what
            // every softphone sends; refuse rather than show mojibake.
            if ct
                .param("charset")
                .is_some_and(|c| !c.eq_ignore_ascii_case("utf-8"))
            {
                return unsupported();
            }
            let Ok(text) = String::from_utf8(req.body.clone()) else {
                return reply(400);
            };
            self.events.push_back(PagerEvent::Received {
                from: sender,
                display_name: from.addr.display_name.clone(),
                text,
            });
        } else if format!("{}/{}", ct.mtype, ct.subtype).eq_ignore_ascii_case(IS_COMPOSING) {
            match IsComposing::parse(&req.body) {
                Ok(state) => self.events.push_back(PagerEvent::Composing {
                    from: sender,
                    state,
                }),
                Err(e) => {
                    tracing::debug!("bad isComposing body: {e}");
                    return reply(400);
                }
            }
        } else {
            return unsupported();
        }
        reply(200)
    }

    /// The next MESSAGE to send, with its id.
    pub fn poll_request(&mut self) -> Option<(MessageId, Request)> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PagerEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::subscription::tests::reply;
    use sip_message::is_composing::ComposeState;

    const CREDS: &[Credential<'static>] = &[Credential {
        realm: None,
        username: "alice",
        password: "alice123",
    }];

    fn pager() -> Pager {
        Pager::new(
            PagerConfig {
                aor: "sip:alice@127.0.0.1".into(),
                user_agent: "Parley test".into(),
                max_body: 1300,
            },
            1,
        )
        .unwrap()
    }

    fn incoming(ct: Option<&str>, body: &[u8]) -> Request {
        let mut r = Request::new(Method::Message, "sip:alice@127.0.0.1".parse().unwrap());
        for (n, v) in [
            ("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKm"),
            ("From", "\"Bob\" <sip:bob@127.0.0.1>;tag=b1"),
            ("To", "<sip:alice@127.0.0.1>"),
            ("Call-ID", "m1@bob"),
            ("CSeq", "1 MESSAGE"),
        ] {
            r.headers.push(n, v).unwrap();
        }
        r.set_body(body.to_vec(), ct.map(|c| ContentType::parse(c).unwrap()));
        r
    }

    #[test]
    fn sends_through_a_challenge_and_reports_each_outcome() {
        let t0 = Instant::now();
        let mut p = pager();
        let a = p
            .send_text(t0, "sip:bob@127.0.0.1", "héllo", CREDS)
            .unwrap();
        let b = p.send_text(t0, "sip:carol@127.0.0.1", "hi", CREDS).unwrap();
        assert_ne!(a, b);
        let (ia, ra) = p.poll_request().unwrap();
        let (ib, rb) = p.poll_request().unwrap();
        assert_eq!((ia, ib), (a, b));
        assert_eq!(ra.body, "héllo".as_bytes());
        assert_eq!(
            ra.headers.get("Content-Type"),
            Some("text/plain;charset=UTF-8")
        );
        assert_ne!(
            ra.headers.get("Call-ID"),
            rb.headers.get("Call-ID"),
            "one Call-ID each"
        );

        let ch = reply(
            &ra,
            407,
            None,
            &[(
                "Proxy-Authenticate",
                "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"",
            )],
        );
        p.handle_response(t0, a, &ch, CREDS);
        let (ia2, ra2) = p.poll_request().unwrap();
        assert_eq!(ia2, a);
        assert_eq!(ra2.headers.cseq().unwrap().unwrap().seq, 2);
        p.handle_response(t0, a, &reply(&ra2, 202, None, &[]), CREDS);
        assert_eq!(p.poll_event(), Some(PagerEvent::Sent { id: a }));
        p.handle_failure(t0, b, "no response from 127.0.0.1:5060".into());
        assert_eq!(
            p.poll_event(),
            Some(PagerEvent::Failed {
                id: b,
                status: None,
                reason: "no response from 127.0.0.1:5060".into()
            })
        );
        // Late answers for finished messages are ignored.
        p.handle_response(t0, b, &reply(&rb, 200, None, &[]), CREDS);
        assert_eq!(p.poll_event(), None);
    }

    #[test]
    fn failure_statuses_have_clear_reasons() {
        let t0 = Instant::now();
        for (code, hdr, want) in [
            (413, None, "413 Request Entity Too Large: the message is too large for the recipient"),
            (415, Some(("Accept", "text/html")), "415 Unsupported Media Type: the recipient does not accept this kind of message (accepts text/html)"),
            (488, None, "488 Not Acceptable Here: the recipient does not accept this message"),
            (480, None, "480 Temporarily Unavailable: the recipient is not available"),
            (500, None, "500 Server Internal Error"),
        ] {
            let mut p = pager();
            let id = p.send_text(t0, "sip:bob@127.0.0.1", "x", CREDS).unwrap();
            let (_, r) = p.poll_request().unwrap();
            let hs: Vec<(&str, &str)> = hdr.into_iter().collect();
            p.handle_response(t0, id, &reply(&r, code, None, &hs), CREDS);
            assert_eq!(p.poll_event(), Some(PagerEvent::Failed { id, status: Some(code), reason: want.into() }));
        }
        // Wrong credentials: no loop.
        let mut p = pager();
        let id = p.send_text(t0, "sip:bob@127.0.0.1", "x", CREDS).unwrap();
        let ch = |r: &Request| {
            reply(
                r,
                401,
                None,
                &[("WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\"")],
            )
        };
        let (_, r) = p.poll_request().unwrap();
        p.handle_response(t0, id, &ch(&r), CREDS);
        let (_, r) = p.poll_request().unwrap();
        p.handle_response(t0, id, &ch(&r), CREDS);
        assert!(p.poll_request().is_none());
        assert!(matches!(
            p.poll_event(),
            Some(PagerEvent::Failed {
                status: Some(401),
                ..
            })
        ));
    }

    #[test]
    fn refuses_before_sending() {
        let t0 = Instant::now();
        let mut p = pager();
        let big = "x".repeat(1301);
        assert_eq!(
            p.send_text(t0, "sip:bob@127.0.0.1", &big, CREDS),
            Err(PagerError::TooLarge {
                size: 1301,
                limit: 1300
            })
        );
        assert_eq!(
            p.send_text(t0, "bob", "x", CREDS),
            Err(PagerError::BadUri { field: "recipient" })
        );
        assert_eq!(
            p.send(t0, "sip:b@h", "text", vec![], CREDS),
            Err(PagerError::BadContentType)
        );
        assert!(p.poll_request().is_none(), "nothing reached the wire");
        for _ in 0..MAX_IN_FLIGHT {
            p.send_text(t0, "sip:bob@127.0.0.1", "x", CREDS).unwrap();
        }
        assert_eq!(
            p.send_text(t0, "sip:bob@127.0.0.1", "x", CREDS),
            Err(PagerError::TooManyInFlight)
        );
    }

    #[test]
    fn receives_text_and_composing_and_refuses_the_rest() {
        let t0 = Instant::now();
        let mut p = pager();
        let r = p.handle_request(
            t0,
            &incoming(Some("text/plain; charset=utf-8"), "grüß".as_bytes()),
        );
        assert_eq!(r.status.as_u16(), 200);
        assert_eq!(
            p.poll_event(),
            Some(PagerEvent::Received {
                from: "sip:bob@127.0.0.1".into(),
                display_name: Some("Bob".into()),
                text: "grüß".into()
            })
        );
        let doc = b"<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>active</state><refresh>60</refresh></isComposing>";
        assert_eq!(
            p.handle_request(t0, &incoming(Some("application/im-iscomposing+xml"), doc))
                .status
                .as_u16(),
            200
        );
        match p.poll_event() {
            Some(PagerEvent::Composing { from, state }) => {
                assert_eq!(from, "sip:bob@127.0.0.1");
                assert_eq!(state.state, ComposeState::Active);
                assert_eq!(state.refresh, Some(60));
            }
            other => panic!("{other:?}"),
        }
        let html = p.handle_request(t0, &incoming(Some("text/html"), b"<b>x</b>"));
        assert_eq!(html.status.as_u16(), 415);
        assert_eq!(html.headers.get("Accept"), Some(ACCEPT));
        assert_eq!(
            p.handle_request(t0, &incoming(None, b"x")).status.as_u16(),
            415
        );
        assert_eq!(
            p.handle_request(t0, &incoming(Some("text/plain;charset=iso-8859-1"), b"x"))
                .status
                .as_u16(),
            415
        );
        assert_eq!(
            p.handle_request(t0, &incoming(Some("text/plain"), b"\xff\xfe"))
                .status
                .as_u16(),
            400
        );
        assert_eq!(
            p.handle_request(
                t0,
                &incoming(Some("application/im-iscomposing+xml"), b"<isComposing/>")
            )
            .status
            .as_u16(),
            400
        );
        let huge = vec![b'a'; MAX_INCOMING_BODY + 1];
        assert_eq!(
            p.handle_request(t0, &incoming(Some("text/plain"), &huge))
                .status
                .as_u16(),
            413
        );
        let mut opts = incoming(None, b"");
        opts.method = Method::Options;
        assert_eq!(p.handle_request(t0, &opts).status.as_u16(), 405);
        assert_eq!(p.poll_event(), None, "nothing refused reached the user");
    }

    #[test]
    fn in_dialog_messages_keep_the_dialog_tags_and_map_outcomes() {
        // Received inside a call: the To tag is the dialog's, and the 200
        // must carry it unchanged (RFC 3428 §4).
        let mut p = pager();
        let t0 = Instant::now();
        let mut m = incoming(Some("text/plain;charset=UTF-8"), b"during the call");
        m.headers.remove("To");
        m.headers
            .push("To", "<sip:alice@127.0.0.1>;tag=a1")
            .unwrap();
        let r = p.handle_request(t0, &m);
        assert_eq!(r.status.as_u16(), 200);
        assert_eq!(r.headers.to().unwrap().unwrap().tag(), Some("a1"));
        assert!(matches!(
            p.poll_event(),
            Some(PagerEvent::Received { text, .. }) if text == "during the call"
        ));

        // Sent inside a call: the call's answer says what became of it.
        assert_eq!(in_dialog_outcome(&reply(&m, 200, None, &[])), Ok(()));
        assert_eq!(in_dialog_outcome(&reply(&m, 202, None, &[])), Ok(()));
        let (code, why) =
            in_dialog_outcome(&reply(&m, 415, None, &[("Accept", "text/plain")])).unwrap_err();
        assert_eq!(code, 415);
        assert!(
            why.contains("does not accept") && why.contains("accepts text/plain"),
            "{why}"
        );
        let (code, why) = in_dialog_outcome(&reply(&m, 481, None, &[])).unwrap_err();
        assert_eq!(code, 481);
        assert!(why.starts_with("481"), "{why}");
    }
}

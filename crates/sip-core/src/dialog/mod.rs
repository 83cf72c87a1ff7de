//! Dialogs (RFC 3261 §12, §13.2.2.4, §13.3.1.4).
//!
//! A [`Dialog`] is the peer-to-peer state two user agents keep for an INVITE
//! (or SUBSCRIBE) usage: its id, the CSeq counters, the route set and the
//! remote target. It builds in-dialog requests and checks incoming ones;
//! it never sends anything itself.
//!
//! ```text
//!   UAC: 1xx with To tag          UAS: 1xx with tag sent
//!   (one dialog per tag: forking) |
//!          |                      |
//!          v                      v
//!     +---------+  2xx (UAC: route set recomputed, §13.2.2.4)
//!     |  Early  |-----------------------------+
//!     +---------+                             |
//!          | non-2xx final (§12.3),           v
//!          | 481/408 to in-dialog   +-----------+  2xx received/sent
//!          | request (§12.2.1.2)    | Confirmed |<---- (UAC/UAS creation)
//!          v                        +-----------+
//!     +------------+                        |  BYE sent/received, 481/408
//!     | Terminated |<-----------------------+
//!     +------------+
//! ```
//!
//! [`DialogSet`] keeps several dialogs (a forked INVITE yields one early
//! dialog per remote tag) with a cap, and finds the dialog of a message.
//! [`AckWait`] retransmits a UAS 2xx until its ACK arrives (§13.3.1.4).

use sip_message::headers::{CSeq, Contact, HeaderError, MaxForwards, Route, Via};
use sip_message::{Method, NameAddr, Request, Response, StatusCode, Uri};

mod ack_wait;
mod set;

pub use ack_wait::{AckWait, AckWaitAction};
pub use set::DialogSet;

/// Why a dialog operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header a dialog needs is absent.
    #[error("message lacks a {0} header")]
    MissingHeader(&'static str),
    /// A header does not parse.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The response has no To tag, so it cannot create a dialog (§12.1.2).
    #[error("response has no To tag")]
    NoRemoteTag,
    /// Only 101-299 responses create or confirm dialogs.
    #[error("status {0} does not create a dialog")]
    NotDialogCreating(u16),
    /// §12.2.2: the request's CSeq is lower than the last one seen; the
    /// caller answers 500.
    #[error("CSeq {got} is lower than the remote sequence number {last}")]
    CSeqOutOfOrder {
        /// The remote sequence number.
        last: u32,
        /// The request's number.
        got: u32,
    },
    /// The local CSeq would exceed 2^31-1 (§8.1.1.5).
    #[error("local CSeq exhausted")]
    CSeqExhausted,
    /// The dialog has been terminated.
    #[error("dialog is terminated")]
    Terminated,
    /// The [`DialogSet`] is full.
    #[error("too many dialogs (limit {limit})")]
    TooManyDialogs {
        /// The limit.
        limit: usize,
    },
}

/// Identifies a dialog (§12): Call-ID and both tags, from the local
/// point of view.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag (empty for RFC 2543 peers that send none).
    pub remote_tag: String,
}

impl DialogId {
    /// The id of the dialog an incoming request belongs to (To tag local).
    pub fn for_incoming_request(req: &Request) -> Result<DialogId, DialogError> {
        let h = &req.headers;
        Ok(DialogId {
            call_id: call_id(h)?,
            local_tag: tag_of(h.to()?.map(|t| t.params)),
            remote_tag: tag_of(h.from()?.map(|f| f.params)),
        })
    }

    /// The id of the dialog an incoming response belongs to (From tag
    /// local).
    pub fn for_incoming_response(resp: &Response) -> Result<DialogId, DialogError> {
        let h = &resp.headers;
        Ok(DialogId {
            call_id: call_id(h)?,
            local_tag: tag_of(h.from()?.map(|f| f.params)),
            remote_tag: tag_of(h.to()?.map(|t| t.params)),
        })
    }
}

fn call_id(h: &sip_message::Headers) -> Result<String, DialogError> {
    Ok(h.call_id()?
        .ok_or(DialogError::MissingHeader("Call-ID"))?
        .as_str()
        .to_owned())
}

fn tag_of(params: Option<sip_message::Params>) -> String {
    params
        .and_then(|p| p.get("tag").flatten().map(str::to_owned))
        .unwrap_or_default()
}

/// Dialog state (§12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Created by a provisional response.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
    /// Ended.
    Terminated,
}

/// Methods that refresh the remote target (RFC 3261 §12.2, RFC 3311,
/// RFC 6665, RFC 3515).
fn is_target_refresh(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

fn first_contact_uri(h: &sip_message::Headers) -> Result<Option<Uri>, DialogError> {
    Ok(h.contact()?.into_iter().find_map(|c| c.addr.map(|a| a.uri)))
}

fn record_routes(h: &sip_message::Headers) -> Result<Vec<NameAddr>, DialogError> {
    Ok(h.record_route()?.into_iter().map(|r| r.addr).collect())
}

/// One dialog; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    local_uri: NameAddr,
    remote_uri: NameAddr,
    remote_target: Uri,
    /// In the order the Route header lists them (§12.1.1, §12.1.2).
    route_set: Vec<NameAddr>,
    local_contact: Option<Contact>,
    secure: bool,
}

impl Dialog {
    /// UAC side (§12.1.2): `invite` is the request we sent, `resp` a 1xx
    /// with a To tag or a 2xx. Route set: Record-Route reversed.
    pub fn from_uac_response(invite: &Request, resp: &Response) -> Result<Dialog, DialogError> {
        let code = resp.status.as_u16();
        if !(101..300).contains(&code) {
            return Err(DialogError::NotDialogCreating(code));
        }
        let qh = &invite.headers;
        // A peer without Contact leaves us the Request-URI (lenient).
        let remote_target = first_contact_uri(&resp.headers)?.unwrap_or_else(|| invite.uri.clone());
        let local_contact = qh.contact()?.into_iter().next();
        Dialog::uac(
            qh,
            resp,
            remote_target,
            local_contact,
            invite.uri.scheme() == "sips",
        )
    }

    /// UAC side from a 2xx alone, when the INVITE it answers is gone
    /// (§13.2.2.4: a 2xx that arrives after its call ended, or from a
    /// second fork, still needs an ACK, and a fork we do not want then a
    /// BYE). From, CSeq and Call-ID are echoed in the response, so only
    /// our Contact is missing, which ACK and BYE do not carry. The peer
    /// must name its Contact: it is where both go.
    pub fn from_orphan_2xx(resp: &Response) -> Result<Dialog, DialogError> {
        let code = resp.status.as_u16();
        if !(200..300).contains(&code) {
            return Err(DialogError::NotDialogCreating(code));
        }
        let remote_target =
            first_contact_uri(&resp.headers)?.ok_or(DialogError::MissingHeader("Contact"))?;
        let secure = remote_target.scheme() == "sips";
        Dialog::uac(&resp.headers, resp, remote_target, None, secure)
    }

    /// The UAC dialog `resp` makes (§12.1.2), with From, CSeq and Call-ID
    /// taken from `ours` (our INVITE, or the response's echo of it).
    fn uac(
        ours: &sip_message::Headers,
        resp: &Response,
        remote_target: Uri,
        local_contact: Option<Contact>,
        secure: bool,
    ) -> Result<Dialog, DialogError> {
        let rh = &resp.headers;
        let to = rh.to()?.ok_or(DialogError::MissingHeader("To"))?;
        let remote_tag = to.tag().ok_or(DialogError::NoRemoteTag)?.to_owned();
        let from = ours.from()?.ok_or(DialogError::MissingHeader("From"))?;
        let cseq = ours.cseq()?.ok_or(DialogError::MissingHeader("CSeq"))?;
        let mut route_set = record_routes(rh)?;
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: call_id(ours)?,
                local_tag: tag_of(Some(from.params)),
                remote_tag,
            },
            state: if resp.status.is_success() {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq: Some(cseq.seq),
            remote_seq: None,
            local_uri: from.addr,
            remote_uri: to.addr,
            remote_target,
            route_set,
            local_contact,
            secure,
        })
    }

    /// UAS side (§12.1.1): `req` is the dialog-creating request received,
    /// `local_tag` the tag we put in our To, `contact` our Contact. Call
    /// with `early` when the first tagged response is a 1xx.
    pub fn from_uas_request(
        req: &Request,
        local_tag: &str,
        contact: Option<Contact>,
        early: bool,
    ) -> Result<Dialog, DialogError> {
        let h = &req.headers;
        let from = h.from()?.ok_or(DialogError::MissingHeader("From"))?;
        let to = h.to()?.ok_or(DialogError::MissingHeader("To"))?;
        let cseq = h.cseq()?.ok_or(DialogError::MissingHeader("CSeq"))?;
        let remote_target = first_contact_uri(h)?.ok_or(DialogError::MissingHeader("Contact"))?;
        Ok(Dialog {
            id: DialogId {
                call_id: call_id(h)?,
                local_tag: local_tag.to_owned(),
                remote_tag: tag_of(Some(from.params)),
            },
            state: if early {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            local_seq: None,
            remote_seq: Some(cseq.seq),
            local_uri: to.addr,
            remote_uri: from.addr,
            remote_target,
            route_set: record_routes(h)?,
            local_contact: contact,
            secure: req.uri.scheme() == "sips",
        })
    }

    /// The id.
    pub fn id(&self) -> &DialogId {
        &self.id
    }
    /// The state.
    pub fn state(&self) -> DialogState {
        self.state
    }
    /// Where in-dialog requests go (the peer's Contact).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }
    /// Where the dialog's requests go first (§12.2.1.1): the first
    /// entry of the route set, loose or strict (a strict router is put
    /// in the Request-URI), else the remote target.
    pub fn next_hop(&self) -> &Uri {
        self.route_set
            .first()
            .map_or(&self.remote_target, |r| &r.uri)
    }
    /// The route set, in Route header order.
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }
    /// The last local CSeq used, if any.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }
    /// The last remote CSeq seen, if any.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }
    /// True if the dialog was created over sips (§12.1.1).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Sets the local CSeq (e.g. after an authenticated resend bumped it).
    pub fn set_local_seq(&mut self, seq: u32) {
        self.local_seq = Some(seq);
    }

    /// Ends the dialog (BYE sent or received, or the usage ended).
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// Our side sent a 2xx for the dialog-creating request (UAS).
    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
    }

    /// A response to a request we sent in (or to create) this dialog.
    /// Handles early -> confirmed with route set recomputation
    /// (§13.2.2.4), remote target refresh (§12.2.1.2) and termination on
    /// 481/408 or a failed INVITE on an early dialog.
    pub fn on_response(&mut self, method: &Method, resp: &Response) -> Result<(), DialogError> {
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let code = resp.status.as_u16();
        if code == 481 || code == 408 {
            self.state = DialogState::Terminated;
            return Ok(());
        }
        if *method == Method::Invite && self.state == DialogState::Early {
            if resp.status.is_success() {
                self.state = DialogState::Confirmed;
                let mut rs = record_routes(&resp.headers)?;
                rs.reverse();
                self.route_set = rs;
            } else if resp.status.is_final() {
                self.state = DialogState::Terminated;
                return Ok(());
            }
        }
        // §12.2.1.2: a 2xx to a target refresh replaces the remote target;
        // so does a tagged 1xx while the dialog is still early (§12.1.2).
        let early_1xx = self.state == DialogState::Early && code > 100 && code < 200;
        if is_target_refresh(method) && (resp.status.is_success() || early_1xx) {
            if let Some(uri) = first_contact_uri(&resp.headers)? {
                self.remote_target = uri;
            }
        }
        Ok(())
    }

    /// An in-dialog request arrived (§12.2.2): checks and records the
    /// remote CSeq (ACK and CANCEL reuse their INVITE's number and are not
    /// checked) and refreshes the remote target. A BYE terminates the
    /// dialog. On `CSeqOutOfOrder` answer 500.
    pub fn on_request(&mut self, req: &Request) -> Result<(), DialogError> {
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let cseq = req
            .headers
            .cseq()?
            .ok_or(DialogError::MissingHeader("CSeq"))?;
        if !matches!(req.method, Method::Ack | Method::Cancel) {
            if let Some(last) = self.remote_seq {
                if cseq.seq < last {
                    return Err(DialogError::CSeqOutOfOrder {
                        last,
                        got: cseq.seq,
                    });
                }
            }
            self.remote_seq = Some(cseq.seq);
        }
        if is_target_refresh(&req.method) {
            if let Some(uri) = first_contact_uri(&req.headers)? {
                self.remote_target = uri;
            }
        }
        if req.method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    /// Request-URI and Route headers per §12.2.1.1: loose routing keeps
    /// the remote target as Request-URI; a strict first hop takes the
    /// Request-URI and the remote target goes last in Route.
    fn target_and_routes(&self) -> (Uri, Vec<NameAddr>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let loose = first.uri.as_sip().is_some_and(|u| u.lr());
        if loose {
            (self.remote_target.clone(), self.route_set.clone())
        } else {
            let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
            routes.push(NameAddr::new(self.remote_target.clone()));
            (first.uri.clone(), routes)
        }
    }

    fn base_request(&self, method: Method, seq: u32, via: Via) -> Request {
        let (uri, routes) = self.target_and_routes();
        let mut r = Request::new(method.clone(), uri);
        r.headers.push_typed(&via);
        r.headers.push_typed(&MaxForwards(70));
        let mut from = sip_message::headers::From::new(self.local_uri.clone());
        from.set_tag(&self.id.local_tag);
        r.headers.push_typed(&from);
        let mut to = sip_message::headers::To::new(self.remote_uri.clone());
        if !self.id.remote_tag.is_empty() {
            to.set_tag(&self.id.remote_tag);
        }
        r.headers.push_typed(&to);
        let _ = r.headers.push("Call-ID", &self.id.call_id);
        r.headers.push_typed(&CSeq { seq, method });
        for na in routes {
            r.headers.push_typed(&Route::new(na));
        }
        r
    }

    /// A new in-dialog request (§12.2.1.1) with the next local CSeq. `via`
    /// carries our sent-by (the transaction layer fills in the branch).
    /// Target refresh methods get our Contact. Not for ACK or CANCEL.
    pub fn create_request(&mut self, method: Method, via: Via) -> Result<Request, DialogError> {
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let seq = match self.local_seq {
            // §12.1.1 leaves the UAS's first number free; 1 is simplest.
            None => 1,
            Some(s) if s >= CSeq::MAX => return Err(DialogError::CSeqExhausted),
            Some(s) => s + 1,
        };
        self.local_seq = Some(seq);
        let refresh = is_target_refresh(&method);
        let mut r = self.base_request(method, seq, via);
        if refresh {
            if let Some(c) = &self.local_contact {
                r.headers.push_typed(c);
            }
        }
        r.headers
            .push_typed(&sip_message::headers::ContentLength(0));
        Ok(r)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq`
    /// (§13.2.2.4): same number, routed like any in-dialog request. `via`
    /// must carry a fresh branch: this ACK is sent outside any
    /// transaction, and re-sent unchanged on each 2xx retransmission.
    pub fn create_ack(&self, invite_seq: u32, via: Via) -> Request {
        let mut r = self.base_request(Method::Ack, invite_seq, via);
        r.headers
            .push_typed(&sip_message::headers::ContentLength(0));
        r
    }
}

/// The 481 for a request that matches no dialog (§12.2.2). The To tag is
/// kept as received.
pub fn unknown_dialog_response(req: &Request) -> Response {
    Response::for_request(req, crate::status(481))
}

/// The 500 for an out-of-order request (§12.2.2), with Retry-After as
/// RFC 3261 suggests for glare-like races.
pub fn out_of_order_response(req: &Request) -> Response {
    let mut r = Response::for_request(req, crate::status(500));
    let _ = r.headers.push("Retry-After", "1");
    r
}

/// True for responses that create or update a dialog (§12.1.2: 101-299).
pub fn is_dialog_creating(status: StatusCode) -> bool {
    (101..300).contains(&status.as_u16())
}

#[cfg(test)]
mod tests {
    use sip_message::headers::Transport;
    use sip_message::{Host, Message};

    use super::*;

    pub(super) fn parse_req(text: &str) -> Request {
        match sip_message::parse(text.replace('\n', "\r\n").as_bytes()) {
            Ok(Message::Request(r)) => r,
            e => panic!("{e:?}"),
        }
    }

    pub(super) fn invite() -> Request {
        parse_req(
            "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Length: 0

",
        )
    }

    pub(super) fn answer(
        req: &Request,
        code: u16,
        tag: &str,
        contact: &str,
        rr: &[&str],
    ) -> Response {
        let mut r = Response::for_request(req, crate::status(code));
        let mut to = req.headers.to().unwrap().unwrap();
        to.set_tag(tag);
        r.headers.set_typed(&to);
        for x in rr {
            r.headers.push("Record-Route", x).unwrap();
        }
        r.headers.push("Contact", contact).unwrap();
        r
    }

    fn via() -> Via {
        Via::new(
            Transport::Udp,
            Host::parse("pc33.atlanta.example.com").unwrap(),
            None,
            "z9hG4bKnew",
        )
    }

    #[test]
    fn an_orphan_2xx_makes_the_dialog_its_ack_and_bye_need() {
        let inv = invite();
        let r200 = answer(
            &inv,
            200,
            "fork2",
            "<sip:bob@192.0.2.9>",
            &["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"],
        );
        // Built from the response alone: the same dialog the INVITE
        // would have given, without our Contact.
        let mut d = Dialog::from_orphan_2xx(&r200).unwrap();
        let mut want = Dialog::from_uac_response(&inv, &r200).unwrap();
        want.local_contact = None;
        assert_eq!(d, want);
        let ack = d.create_ack(314159, via());
        assert_eq!(ack.uri.to_string(), "sip:bob@192.0.2.9");
        assert_eq!(ack.headers.to().unwrap().unwrap().tag(), Some("fork2"));
        let bye = d.create_request(Method::Bye, via()).unwrap();
        assert_eq!(bye.headers.cseq().unwrap().unwrap().seq, 314160);

        // Not a 2xx, or nowhere to send the ACK: no dialog.
        let r180 = answer(&inv, 180, "x", "<sip:bob@192.0.2.9>", &[]);
        assert!(matches!(
            Dialog::from_orphan_2xx(&r180),
            Err(DialogError::NotDialogCreating(180))
        ));
        let mut bare = Response::for_request(&inv, crate::status(200));
        let mut to = inv.headers.to().unwrap().unwrap();
        to.set_tag("t");
        bare.headers.set_typed(&to);
        assert!(matches!(
            Dialog::from_orphan_2xx(&bare),
            Err(DialogError::MissingHeader("Contact"))
        ));
    }

    #[test]
    fn uac_early_then_confirmed_recomputes_route_set_and_target() {
        let inv = invite();
        let r180 = answer(
            &inv,
            180,
            "314",
            "<sip:bob@early.example.com>",
            &["<sip:p1.example.com;lr>"],
        );
        let mut d = Dialog::from_uac_response(&inv, &r180).unwrap();
        assert_eq!(d.state(), DialogState::Early);
        assert_eq!(d.id().remote_tag, "314");
        assert_eq!(d.id().local_tag, "1928301774");
        assert_eq!(d.local_seq(), Some(314159));
        assert_eq!(d.remote_target().to_string(), "sip:bob@early.example.com");
        let r200 = answer(
            &inv,
            200,
            "314",
            "<sip:bob@192.0.2.4>",
            &["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"],
        );
        d.on_response(&Method::Invite, &r200).unwrap();
        assert_eq!(d.state(), DialogState::Confirmed);
        assert_eq!(d.remote_target().to_string(), "sip:bob@192.0.2.4");
        // Reversed Record-Route: the hop nearest to us first.
        let rs: Vec<String> = d.route_set().iter().map(|n| n.uri.to_string()).collect();
        assert_eq!(rs, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);

        let ack = d.create_ack(314159, via());
        assert_eq!(ack.uri.to_string(), "sip:bob@192.0.2.4");
        let cs = ack.headers.cseq().unwrap().unwrap();
        assert_eq!((cs.seq, cs.method), (314159, Method::Ack));
        assert_eq!(ack.headers.route().unwrap().len(), 2);
        assert_eq!(d.local_seq(), Some(314159), "ACK does not consume a CSeq");

        let bye = d.create_request(Method::Bye, via()).unwrap();
        assert_eq!(bye.headers.cseq().unwrap().unwrap().seq, 314160);
        assert_eq!(bye.headers.to().unwrap().unwrap().tag(), Some("314"));
        assert_eq!(
            bye.headers.from().unwrap().unwrap().tag(),
            Some("1928301774")
        );
        assert_eq!(
            bye.headers.call_id().unwrap().unwrap().as_str(),
            "a84b4c76e66710@pc33.atlanta.example.com"
        );
        assert!(
            bye.headers.contact().unwrap().is_empty(),
            "BYE is no refresh"
        );
        let reinvite = d.create_request(Method::Invite, via()).unwrap();
        assert_eq!(reinvite.headers.contact().unwrap().len(), 1);
    }

    #[test]
    fn message_in_a_dialog_follows_its_route_set_and_tags() {
        // RFC 3428 §4: a MESSAGE inside a dialog is built like any other
        // mid-dialog request (§12.2.1.1); it refreshes nothing.
        let inv = invite();
        let r200 = answer(
            &inv,
            200,
            "314",
            "<sip:bob@192.0.2.4>",
            &["<sip:p1.example.com;lr>"],
        );
        let mut d = Dialog::from_uac_response(&inv, &r200).unwrap();
        let m = d.create_request(Method::Message, via()).unwrap();
        assert_eq!(m.method, Method::Message);
        assert_eq!(m.uri.to_string(), "sip:bob@192.0.2.4");
        let route: Vec<String> = m
            .headers
            .route()
            .unwrap()
            .iter()
            .map(|n| n.addr.uri.to_string())
            .collect();
        assert_eq!(route, ["sip:p1.example.com;lr"]);
        assert_eq!(m.headers.to().unwrap().unwrap().tag(), Some("314"));
        assert_eq!(m.headers.from().unwrap().unwrap().tag(), Some("1928301774"));
        let cs = m.headers.cseq().unwrap().unwrap();
        assert_eq!((cs.seq, cs.method), (314160, Method::Message));
        assert!(m.headers.contact().unwrap().is_empty(), "no target refresh");
        let next = d.create_request(Method::Message, via()).unwrap();
        assert_eq!(next.headers.cseq().unwrap().unwrap().seq, 314161);
    }

    #[test]
    fn strict_route_puts_first_hop_in_request_uri() {
        let inv = invite();
        let r200 = answer(
            &inv,
            200,
            "9",
            "<sip:bob@192.0.2.4>",
            &["<sip:p2.example.com>", "<sip:p1.example.com>"],
        );
        let mut d = Dialog::from_uac_response(&inv, &r200).unwrap();
        let bye = d.create_request(Method::Bye, via()).unwrap();
        assert_eq!(bye.uri.to_string(), "sip:p1.example.com");
        let routes: Vec<String> = bye
            .headers
            .route()
            .unwrap()
            .iter()
            .map(|r| r.addr.uri.to_string())
            .collect();
        assert_eq!(routes, ["sip:p2.example.com", "sip:bob@192.0.2.4"]);
        // Sent to the strict router, the Request-URI, not the first Route.
        assert_eq!(d.next_hop().to_string(), "sip:p1.example.com");
        // With a loose router next, the same: the head of the route set.
        let r200 = answer(
            &inv,
            200,
            "9",
            "<sip:bob@192.0.2.4;lr>",
            &["<sip:p2.example.com;lr>", "<sip:p1.example.com>"],
        );
        let d = Dialog::from_uac_response(&inv, &r200).unwrap();
        assert_eq!(d.next_hop().to_string(), "sip:p1.example.com");
        let d =
            Dialog::from_uac_response(&inv, &answer(&inv, 200, "9", "<sip:bob@192.0.2.4>", &[]))
                .unwrap();
        assert_eq!(d.next_hop().to_string(), "sip:bob@192.0.2.4");
    }

    #[test]
    fn uas_dialog_cseq_checks_target_refresh_and_bye() {
        let mut inv = invite();
        inv.headers
            .push("Record-Route", "<sip:p1.example.com;lr>")
            .unwrap();
        let mut d = Dialog::from_uas_request(&inv, "b0b", None, true).unwrap();
        assert_eq!(d.state(), DialogState::Early);
        assert_eq!(d.id().local_tag, "b0b");
        assert_eq!(d.id().remote_tag, "1928301774");
        assert_eq!(d.route_set().len(), 1, "UAS keeps Record-Route order");
        d.confirm();
        assert_eq!(d.state(), DialogState::Confirmed);
        // Our first request uses CSeq 1 and goes to their Contact.
        let info = d.create_request(Method::Info, via()).unwrap();
        assert_eq!(info.headers.cseq().unwrap().unwrap().seq, 1);
        assert_eq!(info.uri.to_string(), "sip:alice@pc33.atlanta.example.com");
        assert_eq!(
            info.headers.to().unwrap().unwrap().tag(),
            Some("1928301774")
        );

        let mut re = inv.clone();
        re.headers.set_typed(&CSeq {
            seq: 314160,
            method: Method::Invite,
        });
        re.headers.remove("Contact");
        re.headers
            .push("Contact", "<sip:alice@198.51.100.9>")
            .unwrap();
        d.on_request(&re).unwrap();
        assert_eq!(d.remote_seq(), Some(314160));
        assert_eq!(d.remote_target().to_string(), "sip:alice@198.51.100.9");
        // An older request is out of order (500); ACK is not checked.
        assert_eq!(
            d.on_request(&inv),
            Err(DialogError::CSeqOutOfOrder {
                last: 314160,
                got: 314159
            })
        );
        assert_eq!(out_of_order_response(&inv).status.as_u16(), 500);
        let mut ack = inv.clone();
        ack.method = Method::Ack;
        ack.headers.set_typed(&CSeq {
            seq: 314159,
            method: Method::Ack,
        });
        d.on_request(&ack).unwrap();
        let mut bye = inv.clone();
        bye.method = Method::Bye;
        bye.headers.set_typed(&CSeq {
            seq: 314161,
            method: Method::Bye,
        });
        d.on_request(&bye).unwrap();
        assert_eq!(d.state(), DialogState::Terminated);
        assert_eq!(
            d.create_request(Method::Bye, via()),
            Err(DialogError::Terminated)
        );
    }

    #[test]
    fn creation_errors_and_termination() {
        let inv = invite();
        let mut no_tag = Response::for_request(&inv, crate::status(180));
        assert_eq!(
            Dialog::from_uac_response(&inv, &no_tag),
            Err(DialogError::NoRemoteTag)
        );
        no_tag.status = crate::status(100);
        assert_eq!(
            Dialog::from_uac_response(&inv, &no_tag),
            Err(DialogError::NotDialogCreating(100))
        );
        let r183 = answer(&inv, 183, "x", "<sip:b@h>", &[]);
        let mut d = Dialog::from_uac_response(&inv, &r183).unwrap();
        d.on_response(&Method::Invite, &answer(&inv, 486, "x", "<sip:b@h>", &[]))
            .unwrap();
        assert_eq!(d.state(), DialogState::Terminated);
        let r200 = answer(&inv, 200, "y", "<sip:b@h>", &[]);
        let mut d = Dialog::from_uac_response(&inv, &r200).unwrap();
        d.on_response(&Method::Bye, &answer(&inv, 481, "y", "<sip:b@h>", &[]))
            .unwrap();
        assert_eq!(d.state(), DialogState::Terminated);
        assert_eq!(unknown_dialog_response(&inv).status.as_u16(), 481);
        let mut no_contact = inv.clone();
        no_contact.headers.remove("Contact");
        assert_eq!(
            Dialog::from_uas_request(&no_contact, "t", None, false),
            Err(DialogError::MissingHeader("Contact"))
        );
    }

    #[test]
    fn ids_from_both_directions_agree() {
        let inv = invite();
        let r200 = answer(&inv, 200, "bt", "<sip:b@h>", &[]);
        let uac = Dialog::from_uac_response(&inv, &r200).unwrap();
        assert_eq!(uac.id(), &DialogId::for_incoming_response(&r200).unwrap());
        let uas = Dialog::from_uas_request(&inv, "bt", None, false).unwrap();
        let mut uac2 = uac.clone();
        let bye = uac2.create_request(Method::Bye, via()).unwrap();
        assert_eq!(uas.id(), &DialogId::for_incoming_request(&bye).unwrap());
    }
}

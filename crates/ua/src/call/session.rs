//! One call's task: the INVITE exchange in either role (RFC 3261 §13),
//! the confirmed dialog (re-INVITE hold/resume §14 with 491 glare back-off,
//! UPDATE RFC 3311, INFO DTMF, BYE §15), SDP offer/answer (RFC 3264 via
//! `media::sdp`) and the media task. See the state diagram in the module
//! above.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use media::sdp::{self as msdp, Negotiated};
use sip_core::{
    AckWait, AckWaitAction, Authenticator, Credential, Dialog, DialogId, TimerConfig, TransactionId,
};
use sip_message::headers::{Contact, ContentType, MediaType};
use sip_message::sdp::{Direction, Sdp};
use sip_message::{Message, Method, Request, Response, Uri};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::rtp::{MediaCommand, MediaHandle, MediaReport, RtpSocket};
use super::{orphan, response, AccountCtx, AudioChoice, CallEnv, CallError};
use crate::api::{CallDirection, CallEnd, CallInfo, CallQuality, CallState, Event};
use crate::dns::Target;
use crate::endpoint::{ClientInvite, EndpointError};
use crate::transport::Proto;

/// How long an incoming call rings before it counts as missed.
const RING_TIMEOUT: Duration = Duration::from_secs(120);
/// Redirects (3xx) followed for one call, at most.
const MAX_REDIRECTS: usize = 3;
/// Extensions we support (RFC 3891 Replaces, RFC 3262 100rel, RFC 4028
/// session timers).
const SUPPORTED: &str = "replaces, 100rel, timer";
/// RFC 4028: the session interval we ask for and the floor we accept.
const SESSION_EXPIRES: u32 = 1800;
const MIN_SE: u32 = 90;
/// What we can do inside a call, for Allow (§20.5).
const ALLOW: &str =
    "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, PRACK, REFER, MESSAGE, NOTIFY";

/// What the user asks of a call.
#[derive(Debug)]
pub(crate) enum CallCommand {
    /// Transfer the peer to `target` (blind REFER), or, with `replaces`,
    /// to the party of another of our calls (attended, RFC 3891).
    Transfer {
        /// Where the peer should call.
        target: String,
        /// `Replaces` value (`call-id;to-tag=..;from-tag=..`) for attended.
        replaces: Option<String>,
    },
    /// Our dialog, for an attended transfer from another call: (the
    /// peer's URI, Replaces value as the peer will see it).
    DialogInfo(tokio::sync::oneshot::Sender<Option<(String, String)>>),
    /// Answer an incoming call.
    Answer,
    /// Early media on an incoming call: answer the caller's offer in a
    /// 183 Session Progress, reliable (RFC 3262) when the caller supports
    /// 100rel, so that it hears us before we answer. Ignored otherwise.
    Progress,
    /// Refuse an incoming call: 486 Busy Here, or 603 Decline.
    Reject {
        /// Busy rather than decline.
        busy: bool,
    },
    /// Hang up (CANCEL while ringing out, BYE when connected).
    Hangup,
    /// Hold (true) or resume (false).
    Hold(bool),
    /// Mute our microphone.
    Mute(bool),
    /// Another call rings: play the call-waiting tone in this one (or
    /// stop it). Ignored unless connected.
    CallWaiting(bool),
    /// Send DTMF digits.
    Dtmf(String),
    /// Take a part in local conference `id` (resuming the call first if
    /// we hold it). Ignored unless connected.
    Conference {
        /// The conference.
        id: u32,
        /// Host (mixes) or leg (is mixed). In a mutex only so that the
        /// command is `Sync` like the rest of the call task's state (the
        /// links' rings are `Send` only); taken once, never contended.
        role: std::sync::Mutex<media::conference::Role>,
    },
    /// Leave the local conference: a plain call again.
    LeaveConference,
    /// Record the call (heard plus sent audio) to `path`; the answer says
    /// whether it started.
    Record {
        /// The WAV file to create.
        path: std::path::PathBuf,
        /// Where the outcome goes.
        reply: tokio::sync::oneshot::Sender<Result<std::path::PathBuf, CallError>>,
    },
    /// Stop recording; [`Event::Recording`] follows once the file is complete.
    StopRecording,
    /// Send a MESSAGE in this call's dialog (RFC 3428 §4: the dialog's
    /// route set, tags and CSeq); the final response comes back, `None`
    /// when it could not be sent. Dropped (no answer) unless connected.
    Message {
        /// `Content-Type` value.
        content_type: String,
        /// The body.
        body: Vec<u8>,
        /// Where the outcome goes.
        reply: tokio::sync::oneshot::Sender<Option<Response>>,
    },
}

/// Everything a call task reacts to.
#[derive(Debug)]
pub(crate) enum CallInput {
    /// From the user.
    Command(CallCommand),
    /// An in-dialog request from the peer.
    Request {
        /// Its server transaction.
        id: TransactionId,
        /// The request.
        request: Request,
    },
    /// The ACK for our 2xx.
    Ack(Request),
    /// A 2xx that no transaction took (our ACK was lost).
    Stray(Response),
    /// The caller CANCELled our ringing.
    Cancelled,
    /// A new INVITE with Replaces (RFC 3891) names this call's dialog by
    /// (Call-ID, to-tag, from-tag) from the new caller's view; it ends if
    /// the tags match.
    Replaced {
        /// `to-tag`: our local tag.
        to_tag: String,
        /// `from-tag`: the peer's tag.
        from_tag: String,
    },
}

/// A call asked to be made on a REFER's behalf, and how it goes.
#[derive(Debug)]
pub(crate) struct TransferDial {
    /// The account of the referred call.
    pub(crate) account: AccountCtx,
    /// Request-URI (Refer-To without its headers).
    pub(crate) target: Uri,
    /// Headers for the new INVITE (Replaces, Referred-By).
    pub(crate) headers: Vec<(String, String)>,
    /// The new call's id, or why there is none.
    pub(crate) reply: tokio::sync::oneshot::Sender<Result<u32, CallError>>,
}

/// Outcome of the setup phase.
enum Setup {
    Connected,
    Ended(CallEnd),
}

struct Call {
    env: CallEnv,
    account: AccountCtx,
    info: CallInfo,
    input: mpsc::Receiver<CallInput>,
    auth: Authenticator,
    dialog: Option<Dialog>,
    /// Where in-dialog requests go (resolved first hop).
    hop: Vec<Target>,
    /// Our Contact URI for this call.
    contact: String,
    sdp_session: u64,
    sdp_version: u64,
    rtp: Option<RtpSocket>,
    rtp_local: SocketAddr,
    /// Where this call's audio comes from and goes to.
    audio: AudioChoice,
    media: Option<MediaHandle>,
    reports_tx: mpsc::Sender<MediaReport>,
    reports: mpsc::Receiver<MediaReport>,
    negotiated: Option<Negotiated>,
    /// Our last ACK for a 2xx to our INVITE, re-sent on a stray 2xx.
    last_ack: Option<(u32, Request)>,
    /// A 2xx we sent that waits for its ACK: (transaction, retransmitter).
    ack_wait: Option<(TransactionId, AckWait)>,
    /// We generated the Call-ID (RFC 3261 §14.1 glare timing).
    call_id_owner: bool,
    /// The last RSeq we PRACKed (RFC 3262).
    last_rseq: Option<u32>,
    /// Our reliable provisional waiting for its PRACK (RFC 3262 §3).
    prack_wait: Option<PrackWait>,
    /// RFC 4028 session timer, once negotiated.
    session_timer: Option<SessionTimer>,
    /// The interval we ask for (raised by a 422's Min-SE).
    session_expires: u32,
    /// Extra headers of our INVITE (Replaces, Referred-By of a transfer).
    extra_headers: Vec<(String, String)>,
    /// As transferor: the REFER was accepted; its NOTIFYs tell the outcome.
    transferring: bool,
    /// Our answered INVITE (a 2xx from another fork builds its dialog).
    sent_invite: Option<Request>,
    /// The peer's BYE came while we waited on a request of ours.
    peer_hung_up: bool,
    /// Our BYE is under way: waiting on it is not cut short by a hang-up.
    ending: bool,
    /// The command channel is closed (the app let go of the call).
    input_closed: bool,
    /// Requests that came while we waited, handled next.
    deferred: std::collections::VecDeque<CallInput>,
    /// As transferee: the transfer worked; the transferor's BYE ends us.
    transferred_away: bool,
    /// As transferee: the call made for the REFER, and its events.
    referred: Option<(u32, tokio::sync::broadcast::Receiver<Event>)>,
    /// The next RSeq of a reliable provisional of ours (RFC 3262 §3).
    next_rseq: u32,
    /// Our SDP in a 183 (early media as callee) and whether it went
    /// reliably: the 2xx then omits it (reliable) or repeats it.
    early_sdp: Option<(Sdp, bool)>,
    /// Our offer in a reliable 183 (offer-less INVITE): the PRACK answers.
    early_offer: Option<Sdp>,
    /// The user asked for early media while a reliable 1xx was unPRACKed.
    progress_wanted: bool,
    /// The user answered while a reliable 1xx with SDP was unPRACKed
    /// (RFC 3262 §3: no 2xx before that PRACK).
    answer_wanted: bool,
    /// As caller: the offer/answer completed in a reliable 1xx (any SDP
    /// in the 2xx repeats it, RFC 6337 §3.1).
    early_oa_done: bool,
    /// The peer's Allow lists UPDATE (RFC 3311: we may hold early by it).
    peer_allows_update: bool,
    /// Our last PRACK's transaction is over (answered or failed): a later
    /// request in the dialog waits for it, else its higher CSeq could
    /// overtake the PRACK's.
    prack_done: Option<tokio::sync::oneshot::Receiver<()>>,
    /// As caller: the `o=` (session id, version) of the peer's early SDP we
    /// hold; a reliable 1xx with another one carries a new offer.
    peer_early_sdp: Option<(String, u64)>,
    rng: u64,
    /// Call-ID and our From tag, when we placed the call.
    placed: Option<(String, String)>,
    /// Credentials of the INVITEs we sent, by CSeq: their ACKs repeat
    /// them (§13.2.2.4). The initial INVITE's and the latest re-INVITE's.
    invite_credentials: Vec<(u32, orphan::Credentials)>,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn token(rng: &mut u64) -> String {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    format!("{:016x}", *rng)
}

fn sdp_type() -> ContentType {
    ContentType(MediaType::new("application", "sdp"))
}

fn sdp_of(msg_headers: &sip_message::Headers, body: &[u8]) -> Option<Sdp> {
    if body.is_empty() {
        return None;
    }
    let ct = msg_headers.get("Content-Type").unwrap_or("");
    if !ct
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp")
    {
        return None;
    }
    Sdp::parse(body).ok()
}

fn peer_name(h: &sip_message::Headers, remote_is_to: bool) -> (String, Option<String>) {
    let na = if remote_is_to {
        h.to().ok().flatten().map(|t| t.addr)
    } else {
        h.from().ok().flatten().map(|f| f.addr)
    };
    match na {
        Some(na) => (na.uri.to_string(), na.display_name),
        None => (String::new(), None),
    }
}

/// Starts an outgoing call; returns its Call-ID.
pub(crate) fn spawn_outgoing(
    env: CallEnv,
    id: u32,
    account: AccountCtx,
    uri: Uri,
    audio: AudioChoice,
    input: mpsc::Receiver<CallInput>,
    extra_headers: Vec<(String, String)>,
) -> Result<String, CallError> {
    check_audio(&audio)?;
    let io = audio;
    let mut rng = crate::util::os_seed() | 1;
    let call_id = format!("{}@parley", token(&mut rng));
    let info = CallInfo {
        id,
        account: account.name.clone(),
        direction: CallDirection::Outgoing,
        peer_uri: uri.to_string(),
        peer_name: None,
        state: CallState::Dialing,
        held_by_us: false,
        held_by_peer: false,
        muted: false,
        codec: None,
        started_ms: unix_ms(),
        answered_ms: None,
        conference: None,
        recording: None,
    };
    let cid = call_id.clone();
    tokio::spawn(async move {
        let mut call = Call::new(env, account, info, input, io, rng, true);
        call.extra_headers = extra_headers;
        call.publish_state();
        let end = match call.dial(uri, &cid).await {
            Setup::Connected => call.connected().await,
            Setup::Ended(end) => end,
        };
        call.finish(end).await;
    });
    Ok(call_id)
}

/// Starts an incoming call: rings (180) and waits for the user.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_incoming(
    env: CallEnv,
    id: u32,
    account: AccountCtx,
    tx: TransactionId,
    invite: Request,
    source: Target,
    auto_answer: bool,
    audio: AudioChoice,
    input: mpsc::Receiver<CallInput>,
) {
    let (peer_uri, peer_name) = peer_name(&invite.headers, false);
    let info = CallInfo {
        id,
        account: account.name.clone(),
        direction: CallDirection::Incoming,
        peer_uri,
        peer_name,
        state: CallState::Incoming,
        held_by_us: false,
        held_by_peer: false,
        muted: false,
        codec: None,
        started_ms: unix_ms(),
        answered_ms: None,
        conference: None,
        recording: None,
    };
    tokio::spawn(async move {
        if let Err(e) = check_audio(&audio) {
            warn!("call audio: {e}");
            let _ = env.endpoint.respond(tx, response(&invite, 500)).await;
            return;
        }
        let io = audio;
        let rng = crate::util::os_seed() | 1;
        let mut call = Call::new(env, account, info.clone(), input, io, rng, false);
        let end = match call.ring(tx, invite, source, auto_answer).await {
            Setup::Connected => call.connected().await,
            Setup::Ended(end) => end,
        };
        call.finish(end).await;
    });
}

/// Checks a call's audio choice before the call starts: a WAV to play
/// must open (a clear error now beats silence later).
fn check_audio(choice: &AudioChoice) -> Result<(), CallError> {
    if let AudioChoice::Files { play: Some(p), .. } = choice {
        media::devices::WavSource::open(p).map_err(|e| CallError::Audio(e.into()))?;
    }
    Ok(())
}

impl Call {
    fn new(
        env: CallEnv,
        account: AccountCtx,
        info: CallInfo,
        input: mpsc::Receiver<CallInput>,
        io: AudioChoice,
        rng: u64,
        call_id_owner: bool,
    ) -> Self {
        let (reports_tx, reports) = mpsc::channel(64);
        let mut seed = rng;
        let sdp_session = u64::from(u32::MAX) & {
            let _ = token(&mut seed);
            seed
        };
        Self {
            env,
            account,
            info,
            input,
            auth: Authenticator::new(seed),
            dialog: None,
            hop: Vec::new(),
            contact: String::new(),
            sdp_session,
            sdp_version: 1,
            rtp: None,
            rtp_local: SocketAddr::from(([127, 0, 0, 1], 0)),
            audio: io,
            media: None,
            reports_tx,
            reports,
            negotiated: None,
            last_ack: None,
            ack_wait: None,
            call_id_owner,
            last_rseq: None,
            prack_wait: None,
            session_timer: None,
            session_expires: SESSION_EXPIRES,
            extra_headers: Vec::new(),
            transferring: false,
            referred: None,
            peer_hung_up: false,
            ending: false,
            input_closed: false,
            sent_invite: None,
            deferred: std::collections::VecDeque::new(),
            transferred_away: false,
            next_rseq: 1,
            early_sdp: None,
            early_offer: None,
            progress_wanted: false,
            answer_wanted: false,
            early_oa_done: false,
            peer_allows_update: false,
            placed: None,
            invite_credentials: Vec::new(),
            prack_done: None,
            peer_early_sdp: None,
            rng: seed,
        }
    }

    /// Answers a 401/407 with the account's credentials (§22.2).
    fn authorize(
        &mut self,
        req: &Request,
        resp: &Response,
    ) -> Result<Request, sip_core::AuthError> {
        let creds: Vec<Credential<'_>> = match &self.account.password {
            Some(p) => vec![Credential {
                realm: self.account.realm.as_deref(),
                username: &self.account.auth_user,
                password: p,
            }],
            None => Vec::new(),
        };
        self.auth.authorize(req, resp, &creds)
    }

    fn publish_state(&self) {
        let _ = self.env.events.send(Event::CallState {
            call: self.info.clone(),
        });
    }

    fn set_state(&mut self, state: CallState) {
        if self.info.state != state {
            self.info.state = state;
            self.publish_state();
        }
    }

    /// Our user part for Contact: the AOR's.
    fn user(&self) -> String {
        match &self.account.aor {
            Uri::Sip(s) => s.user.clone().unwrap_or_else(|| "parley".into()),
            _ => "parley".into(),
        }
    }

    /// Sets our Contact and the RTP address from the address we use
    /// towards `target`.
    async fn bind_local(&mut self, target: &Target) -> Result<(), CallError> {
        let via = self.env.endpoint.via_for(target);
        let host = via.host.to_string();
        let port = via.port.unwrap_or(5060);
        self.contact = format!(
            "sip:{}@{host}:{port};transport={}",
            self.user(),
            target.proto.via_token().to_lowercase()
        );
        if self.rtp.is_none() {
            let ip = match via.host {
                sip_message::Host::Ipv4(v4) => std::net::IpAddr::V4(v4),
                sip_message::Host::Ipv6(v6) => std::net::IpAddr::V6(v6),
                sip_message::Host::Domain(_) => std::net::IpAddr::from([0, 0, 0, 0]),
            };
            let sock = RtpSocket::bind(ip).await.map_err(|e| {
                warn!("rtp: {e}");
                CallError::WrongState {
                    id: self.info.id,
                    what: "open an RTP port",
                }
            })?;
            self.rtp_local = sock.local;
            self.rtp = Some(sock);
        }
        Ok(())
    }

    /// Where a request to `uri` (or via the account's proxy) goes first.
    async fn resolve(&self, uri: &Uri) -> Vec<Target> {
        let Some(dest) = crate::registration::destination(uri, self.account.transport) else {
            return Vec::new();
        };
        match self.env.resolver.resolve(&dest).await {
            Ok(t) => t,
            Err(e) => {
                debug!("resolve: {e}");
                Vec::new()
            }
        }
    }

    fn offer(&mut self, direction: Direction) -> Sdp {
        self.sdp_version += 1;
        msdp::create_offer(
            &self.env.media,
            self.rtp_local,
            self.sdp_session,
            self.sdp_version,
            direction,
            None,
        )
    }

    fn start_or_update_media(&mut self, neg: Negotiated) {
        self.info.codec = Some(format!(
            "{}/{}",
            neg.codec.kind.encoding_name().to_ascii_lowercase(),
            neg.codec.kind.rtp_clock_rate()
        ));
        match &self.media {
            Some(m) => m.send(MediaCommand::Update(Box::new(neg.clone()))),
            None => {
                if let Some(sock) = self.rtp.take() {
                    match MediaHandle::start(
                        sock,
                        &neg,
                        self.audio.clone(),
                        self.info.id,
                        self.reports_tx.clone(),
                    ) {
                        Ok(h) => self.media = Some(h),
                        Err(e) => warn!("media: {e}"),
                    }
                }
            }
        }
        self.negotiated = Some(neg);
    }

    fn fresh_via(&mut self) -> sip_message::headers::Via {
        let target = self.hop.first().copied().unwrap_or(Target {
            addr: SocketAddr::from(([127, 0, 0, 1], 5060)),
            proto: Proto::Udp,
        });
        let mut via = self.env.endpoint.via_for(&target);
        let branch = format!("z9hG4bK{}", token(&mut self.rng));
        via.params.set("branch", Some(&branch));
        via
    }

    // ---------------------------------------------------------------
    // Outgoing (UAC, §13.2)
    // ---------------------------------------------------------------

    async fn dial(&mut self, mut uri: Uri, call_id: &str) -> Setup {
        let from_tag = token(&mut self.rng);
        self.placed = Some((call_id.to_owned(), from_tag.clone()));
        let mut seq: u32 = 1;
        let mut redirects = 0;
        'attempt: loop {
            let first_hop_uri = self.account.proxy.clone().unwrap_or_else(|| uri.clone());
            let targets = self.resolve(&first_hop_uri).await;
            let Some(first) = targets.first().copied() else {
                return Setup::Ended(CallEnd::Failed {
                    status: None,
                    reason: format!("cannot resolve {first_hop_uri}"),
                });
            };
            self.hop = targets.clone();
            if let Err(e) = self.bind_local(&first).await {
                return Setup::Ended(CallEnd::Failed {
                    status: None,
                    reason: e.to_string(),
                });
            }
            let offer = self.offer(Direction::SendRecv);
            let mut invite = self.build_invite(&uri, call_id, &from_tag, seq, &offer);
            let mut challenges = 0;
            loop {
                let sent = invite.clone();
                let outcome = self
                    .invite_exchange(sent.clone(), targets.clone(), &offer)
                    .await;
                match outcome {
                    Exchange::Answered(resp) => {
                        return self.confirm_outgoing(&sent, &resp, &offer).await;
                    }
                    Exchange::Ended(end) => return Setup::Ended(end),
                    Exchange::Final(resp) => {
                        let code = resp.status.as_u16();
                        // RFC 4028 §6: our interval is too small; ask again
                        // with the peer's Min-SE.
                        if code == 422 && challenges < 3 {
                            let min = resp
                                .headers
                                .get("Min-SE")
                                .and_then(|v| v.split(';').next()?.trim().parse::<u32>().ok());
                            if let Some(min) =
                                min.filter(|m| *m > self.session_expires && *m <= 86_400)
                            {
                                challenges += 1;
                                self.session_expires = min;
                                seq += 1;
                                invite = self.build_invite(&uri, call_id, &from_tag, seq, &offer);
                                continue;
                            }
                        }
                        if matches!(code, 401 | 407) && challenges < 2 {
                            challenges += 1;
                            match self.authorize(&sent, &resp) {
                                Ok(again) => {
                                    seq = again
                                        .headers
                                        .cseq()
                                        .ok()
                                        .flatten()
                                        .map_or(seq + 1, |c| c.seq);
                                    invite = again;
                                    continue;
                                }
                                Err(e) => {
                                    return Setup::Ended(CallEnd::Failed {
                                        status: Some(code),
                                        reason: format!("{code} {}: {e}", resp.reason),
                                    })
                                }
                            }
                        }
                        if (300..400).contains(&code) && redirects < MAX_REDIRECTS {
                            let next =
                                resp.headers.contact().ok().and_then(|c| {
                                    c.into_iter().find_map(|c| c.addr.map(|a| a.uri))
                                });
                            if let Some(next) = next {
                                info!("call redirected ({code})");
                                redirects += 1;
                                uri = next;
                                self.info.peer_uri = uri.to_string();
                                seq += 1;
                                continue 'attempt;
                            }
                        }
                        return Setup::Ended(end_for_status(&resp));
                    }
                }
            }
        }
    }

    fn build_invite(
        &self,
        uri: &Uri,
        call_id: &str,
        from_tag: &str,
        seq: u32,
        offer: &Sdp,
    ) -> Request {
        let mut r = Request::new(Method::Invite, uri.clone());
        let from = match &self.account.display_name {
            Some(d) => format!(
                "\"{}\" <{}>;tag={from_tag}",
                d.replace(['"', '\\'], ""),
                self.account.aor
            ),
            None => format!("<{}>;tag={from_tag}", self.account.aor),
        };
        let mut headers = vec![
            ("Max-Forwards", "70".to_owned()),
            ("From", from),
            ("To", format!("<{uri}>")),
            ("Call-ID", call_id.to_owned()),
            ("CSeq", format!("{seq} INVITE")),
            ("Contact", format!("<{}>", self.contact)),
        ];
        if let Some(proxy) = &self.account.proxy {
            let route = match proxy {
                Uri::Sip(s) if !s.lr() => format!("<{proxy};lr>"),
                _ => format!("<{proxy}>"),
            };
            headers.push(("Route", route));
        }
        headers.push(("Allow", ALLOW.to_owned()));
        for (n, v) in &self.extra_headers {
            headers.push((n.as_str(), v.clone()));
        }
        headers.push(("Supported", SUPPORTED.to_owned()));
        headers.push(("Session-Expires", self.session_expires.to_string()));
        headers.push(("Min-SE", MIN_SE.to_string()));
        headers.push((
            "User-Agent",
            format!("Parley/{}", env!("CARGO_PKG_VERSION")),
        ));
        for (n, v) in headers {
            let _ = r.headers.push(n, &v);
        }
        r.set_body(offer.to_bytes(), Some(sdp_type()));
        r
    }

    /// Runs one INVITE transaction to its end, handling 1xx, early media
    /// and the user's hang-up (CANCEL) meanwhile.
    async fn invite_exchange(
        &mut self,
        invite: Request,
        targets: Vec<Target>,
        offer: &Sdp,
    ) -> Exchange {
        let mut inv: ClientInvite = match self.env.endpoint.invite(invite.clone(), targets).await {
            Ok(i) => i,
            Err(e) => return Exchange::Ended(failed(&e)),
        };
        let mut provisional_seen = false;
        let mut cancel_wanted = false;
        let mut cancelled = false;
        // Early dialogs (To tags of 1xx) and whether one was picked up.
        let mut early_tags: Vec<String> = Vec::new();
        let mut picked_up = false;
        let our_tag = invite
            .headers
            .from()
            .ok()
            .flatten()
            .and_then(|f| f.tag().map(str::to_owned))
            .unwrap_or_default();
        loop {
            let ended =
                |end: CallEnd| Exchange::Ended(if picked_up { CallEnd::Transferred } else { end });
            tokio::select! {
                p = inv.provisional.recv() => {
                    let Some(p) = p else { continue };
                    provisional_seen = true;
                    if let Some(tag) = p.headers.to().ok().flatten().and_then(|t| t.tag().map(str::to_owned)) {
                        if !early_tags.contains(&tag) {
                            early_tags.push(tag);
                        }
                    }
                    if cancel_wanted && !cancelled {
                        cancelled = true;
                        let _ = inv.cancel().await;
                    }
                    self.on_provisional(&invite, &p, offer);
                    self.prack(&invite, &p).await;
                }
                fin = &mut inv.fin => {
                    return match fin {
                        Ok(Ok(resp)) if resp.status.is_success() => {
                            if cancel_wanted {
                                // The answer crossed our CANCEL: take the call
                                // down properly (ACK, then BYE).
                                let _ = self.confirm_outgoing(&invite, &resp, offer).await;
                                self.bye().await;
                                return ended(CallEnd::Cancelled);
                            }
                            Exchange::Answered(resp)
                        }
                        Ok(Ok(resp)) if cancel_wanted && resp.status.as_u16() == 487 => {
                            ended(CallEnd::Cancelled)
                        }
                        Ok(Ok(resp)) => Exchange::Final(resp),
                        Ok(Err(e)) if cancel_wanted => {
                            debug!("after cancel: {e}");
                            ended(CallEnd::Cancelled)
                        }
                        Ok(Err(e)) => Exchange::Ended(failed(&e)),
                        Err(_) => Exchange::Ended(CallEnd::Failed { status: None, reason: "SIP endpoint stopped".into() }),
                    };
                }
                // A hang-up that cut an early UPDATE's wait short waits in
                // `deferred`; a closed channel is read once.
                input = next_input(&mut self.deferred, &mut self.input), if !self.input_closed || !self.deferred.is_empty() => match input {
                    None | Some(CallInput::Command(CallCommand::Hangup)) => {
                        self.input_closed |= input.is_none();
                        cancel_wanted = true;
                        // §9.1: no CANCEL before a provisional response.
                        if provisional_seen && !cancelled {
                            cancelled = true;
                            let _ = inv.cancel().await;
                        }
                    }
                    Some(CallInput::Command(CallCommand::Mute(m))) => self.mute(m),
                    Some(CallInput::Command(CallCommand::Hold(on))) => self.early_hold(on).await,
                    Some(CallInput::Request { id, request }) => self.early_request(id, request).await,
                    // Call pickup (RFC 3891 §3): a new INVITE replaced one of
                    // our early dialogs; the ringing phone is cancelled, and
                    // the call goes on as that new call.
                    Some(CallInput::Replaced { to_tag, from_tag })
                        if from_tag == our_tag && early_tags.contains(&to_tag) =>
                    {
                        info!("ringing call picked up elsewhere (RFC 3891)");
                        picked_up = true;
                        cancel_wanted = true;
                        if !cancelled {
                            cancelled = true;
                            let _ = inv.cancel().await;
                        }
                    }
                    Some(other) => debug!(?other, "ignored while dialing"),
                },
                Some(r) = self.reports.recv() => self.on_media_report(r),
            }
        }
    }

    /// RFC 3262 §7.2: a reliable provisional response (Require: 100rel,
    /// RSeq) is acknowledged with PRACK, once per RSeq, in its early dialog.
    async fn prack(&mut self, invite: &Request, p: &Response) {
        let reliable = p.headers.get_all("Require").any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("100rel"))
        });
        let rseq = p
            .headers
            .get("RSeq")
            .and_then(|v| v.trim().parse::<u32>().ok());
        let (true, Some(rseq)) = (reliable, rseq) else {
            return;
        };
        if self.last_rseq.is_some_and(|last| rseq <= last) {
            return; // a retransmission: already PRACKed
        }
        self.last_rseq = Some(rseq);
        let sdp = sdp_of(&p.headers, &p.body);
        let was_done = self.early_oa_done;
        if self.negotiated.is_some() && sdp.is_some() {
            self.early_oa_done = true;
        }
        // RFC 3262 §5: SDP of a later reliable 1xx that is not the answer
        // we have is a new offer; the PRACK carries our answer.
        let mut answer = None;
        if let (true, Some(offer)) = (was_done, sdp) {
            let version = (
                offer.origin.session_id.clone(),
                offer.origin.session_version,
            );
            if self.peer_early_sdp.as_ref() != Some(&version) {
                match self.answer_offer(&offer) {
                    Ok(a) => {
                        self.peer_early_sdp = Some(version);
                        answer = Some(a);
                        self.publish_state();
                    }
                    Err(e) => debug!("offer in a reliable 1xx refused: {e}"),
                }
            }
        }
        let cseq = invite.headers.cseq().ok().flatten().map_or(1, |c| c.seq);
        if let Ok(d) = Dialog::from_uac_response(invite, p) {
            let same = self.dialog.as_ref().map(|x| x.id()) == Some(d.id());
            if !same {
                self.dialog = Some(d);
            }
        }
        let rack = format!("{rseq} {cseq} INVITE");
        let hop = self.resolve_hop_for_dialog().await;
        if !hop.is_empty() {
            self.hop = hop;
        }
        let Some(target) = self.hop.first().copied() else {
            return;
        };
        let via = self.env.endpoint.via_for(&target);
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let Ok(mut req) = dialog.create_request(Method::Prack, via) else {
            return;
        };
        let _ = req.headers.push("RAck", &rack);
        if let Some(a) = answer {
            req.set_body(a.to_bytes(), Some(sdp_type()));
        }
        // Not awaited: the PRACK's 200 must not hold up the INVITE's answer.
        let ep = self.env.endpoint.clone();
        let hop = self.hop.clone();
        let (done, done_rx) = tokio::sync::oneshot::channel();
        self.prack_done = Some(done_rx);
        tokio::spawn(async move {
            if let Err(e) = ep.request(req, hop).await {
                debug!("PRACK: {e}");
            }
            let _ = done.send(());
        });
    }

    /// Where requests in the current dialog go.
    async fn resolve_hop_for_dialog(&mut self) -> Vec<Target> {
        match self.dialog.as_ref().map(|d| d.next_hop().clone()) {
            Some(uri) => self.resolve(&uri).await,
            None => Vec::new(),
        }
    }

    fn on_provisional(&mut self, invite: &Request, p: &Response, offer: &Sdp) {
        let code = p.status.as_u16();
        if code == 100 {
            return;
        }
        if let Ok(d) = Dialog::from_uac_response(invite, p) {
            if self.dialog.as_ref().map(|x| x.id()) != Some(d.id()) {
                self.dialog = Some(d);
            }
        }
        if self.info.peer_name.is_none() {
            self.info.peer_name = peer_name(&p.headers, true).1;
        }
        self.peer_allows_update |= allows(&p.headers, "UPDATE");
        match sdp_of(&p.headers, &p.body) {
            Some(answer) if self.negotiated.is_none() => {
                match msdp::accept_answer(offer, &answer) {
                    Ok(neg) => {
                        self.peer_early_sdp = Some((
                            answer.origin.session_id.clone(),
                            answer.origin.session_version,
                        ));
                        self.start_or_update_media(neg);
                        self.set_state(CallState::EarlyMedia);
                    }
                    Err(e) => debug!("early answer unusable: {e}"),
                }
            }
            _ => {
                if self.info.state == CallState::Dialing {
                    self.set_state(CallState::Ringing);
                }
            }
        }
    }

    /// The 2xx to our INVITE: dialog, answer, ACK (§13.2.2.4).
    async fn confirm_outgoing(&mut self, invite: &Request, resp: &Response, offer: &Sdp) -> Setup {
        let dialog = match Dialog::from_uac_response(invite, resp) {
            Ok(d) => d,
            Err(e) => {
                return Setup::Ended(CallEnd::Failed {
                    status: Some(resp.status.as_u16()),
                    reason: format!("bad 2xx: {e}"),
                })
            }
        };
        self.dialog = Some(dialog);
        self.sent_invite = Some(invite.clone());
        self.note_invite_credentials(invite);
        let seq = invite.headers.cseq().ok().flatten().map_or(1, |c| c.seq);
        self.send_ack(seq).await;
        self.session_timer = resp
            .headers
            .get("Session-Expires")
            .and_then(|v| SessionTimer::from_header(v, "uac"));
        self.peer_allows_update |= allows(&resp.headers, "UPDATE");
        // After an offer/answer in a reliable 1xx the 2xx's SDP (if any)
        // only repeats it: the session may have moved on by UPDATE since.
        let answer = sdp_of(&resp.headers, &resp.body).filter(|_| !self.early_oa_done);
        match answer {
            Some(answer) => match msdp::accept_answer(offer, &answer) {
                Ok(neg) => self.start_or_update_media(neg),
                Err(e) => {
                    warn!("the answer is unusable: {e}");
                    self.bye().await;
                    return Setup::Ended(CallEnd::Failed {
                        status: Some(488),
                        reason: format!("media not acceptable: {e}"),
                    });
                }
            },
            None if self.negotiated.is_some() => {}
            None => {
                self.bye().await;
                return Setup::Ended(CallEnd::Failed {
                    status: None,
                    reason: "the answer had no SDP".into(),
                });
            }
        }
        self.info.peer_name = self
            .info
            .peer_name
            .take()
            .or(peer_name(&resp.headers, true).1);
        Setup::Connected
    }

    async fn send_ack(&mut self, seq: u32) {
        if self.dialog.is_none() {
            return;
        }
        self.hop = self.resolve_hop_for_dialog().await;
        let via = self.fresh_via();
        let Some(dialog) = &self.dialog else { return };
        let mut ack = dialog.create_ack(seq, via);
        orphan::add_credentials(&mut ack, seq, &self.invite_credentials);
        if let Some(t) = self.hop.first().copied() {
            if let Err(e) = self
                .env
                .endpoint
                .send_stateless(Message::Request(ack.clone()), t)
                .await
            {
                debug!("ack: {e}");
            }
        }
        self.last_ack = Some((seq, ack));
    }

    /// A request inside the early dialog while we dial (e.g. an UPDATE
    /// or INFO before the answer): answered as in a call.
    async fn early_request(&mut self, id: TransactionId, request: Request) {
        let _ = self.in_dialog_request(id, request).await;
    }

    // ---------------------------------------------------------------
    // Incoming (UAS, §13.3)
    // ---------------------------------------------------------------

    async fn ring(
        &mut self,
        tx: TransactionId,
        invite: Request,
        source: Target,
        auto_answer: bool,
    ) -> Setup {
        let local_tag = token(&mut self.rng);
        // §8.2.2.3: extensions the caller requires and we lack.
        let required: Vec<String> = invite
            .headers
            .get_all("Require")
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        let unsupported: Vec<&String> = required
            .iter()
            .filter(|t| !SUPPORTED.split(", ").any(|s| s == t.as_str()))
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let mut r = response(&invite, 420);
            let _ = r.headers.push("Unsupported", &list);
            let _ = self.env.endpoint.respond(tx, r).await;
            return Setup::Ended(CallEnd::Failed {
                status: Some(420),
                reason: format!("the caller requires {list}"),
            });
        }
        // RFC 4028 §8.1: an interval under our minimum is refused with 422.
        let asked_se = invite
            .headers
            .get("Session-Expires")
            .and_then(|v| v.split(';').next()?.trim().parse::<u32>().ok());
        if asked_se.is_some_and(|se| se < MIN_SE) {
            let mut r = response(&invite, 422);
            let _ = r.headers.push("Min-SE", &MIN_SE.to_string());
            let _ = self.env.endpoint.respond(tx, r).await;
            return Setup::Ended(CallEnd::Failed {
                status: Some(422),
                reason: "session interval too small".into(),
            });
        }
        if let Err(e) = self.bind_local(&source).await {
            let _ = self.env.endpoint.respond(tx, response(&invite, 500)).await;
            return Setup::Ended(CallEnd::Failed {
                status: Some(500),
                reason: e.to_string(),
            });
        }
        let contact: Option<Contact> =
            <Contact as sip_message::headers::TypedHeader>::parse(&format!("<{}>", self.contact))
                .ok();
        let dialog = match Dialog::from_uas_request(&invite, &local_tag, contact, true) {
            Ok(d) => d,
            Err(e) => {
                let _ = self.env.endpoint.respond(tx, response(&invite, 400)).await;
                return Setup::Ended(CallEnd::Failed {
                    status: Some(400),
                    reason: e.to_string(),
                });
            }
        };
        self.dialog = Some(dialog);
        self.hop = self.resolve_hop_for_dialog().await;
        if self.hop.is_empty() {
            self.hop = vec![source];
        }
        // RFC 3262 §3: a caller that supports 100rel gets early SDP reliably.
        let reliable_ok = required.iter().any(|t| t == "100rel")
            || invite.headers.get_all("Supported").any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("100rel"))
            });
        let offer = sdp_of(&invite.headers, &invite.body);
        // RFC 3891 §3: an INVITE with Replaces reaches here only once the
        // engine matched it to one of our calls; it takes that call over
        // without alerting (no 180, no ringing in the app).
        if auto_answer && invite.headers.contains("Replaces") {
            return self.answer(tx, &invite, &local_tag, offer.as_ref()).await;
        }
        let mut ringing = self.tagged(&invite, 180, &local_tag);
        // RFC 3262: the caller requires reliable provisionals; send the
        // 180 with RSeq and retransmit it until its PRACK.
        if required.iter().any(|t| t == "100rel") {
            let rseq = self.take_rseq();
            let _ = ringing.headers.push("Require", "100rel");
            let _ = ringing.headers.push("RSeq", &rseq.to_string());
            self.prack_wait = Some(PrackWait::new(ringing.clone(), rseq, &invite, false));
        }
        let _ = self.env.endpoint.respond(tx, ringing).await;
        let _ = self.env.events.send(Event::IncomingCall {
            call: self.info.clone(),
        });
        // With a reliable 180 out, auto-answer waits for its PRACK.
        if auto_answer && self.prack_wait.is_none() {
            return self.answer(tx, &invite, &local_tag, offer.as_ref()).await;
        }
        let deadline = tokio::time::sleep(RING_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            let prack_due = self.prack_wait.as_ref().map(|w| w.next);
            tokio::select! {
                () = crate::util::sleep_until(prack_due) => {
                    let Some(w) = self.prack_wait.as_mut() else { continue };
                    if Instant::now() >= w.give_up {
                        // §3: no PRACK in 64*T1: the caller cannot take
                        // reliable responses after all; refuse the call.
                        self.prack_wait = None;
                        let mut r = self.tagged(&invite, 504, &local_tag);
                        let _ = r.headers.push("Reason", "SIP;cause=504;text=\"no PRACK\"");
                        let _ = self.env.endpoint.respond(tx, r).await;
                        return Setup::Ended(CallEnd::Failed { status: Some(504), reason: "no PRACK for our reliable provisional".into() });
                    }
                    let r = w.response.clone();
                    w.interval = (w.interval * 2).min(Duration::from_secs(4));
                    w.next = Instant::now() + w.interval;
                    let _ = self.env.endpoint.respond(tx, r).await;
                }
                () = &mut deadline => {
                    let _ = self.env.endpoint.respond(tx, self.tagged(&invite, 480, &local_tag)).await;
                    return Setup::Ended(CallEnd::Missed);
                }
                input = self.input.recv() => match input {
                    Some(CallInput::Command(CallCommand::Answer)) => {
                        // §3: no 2xx while a reliable 1xx with SDP waits for its
                        // PRACK; early media asked for goes out (and is PRACKed) first.
                        if self.progress_wanted || self.prack_wait.as_ref().is_some_and(|w| w.has_sdp) {
                            self.answer_wanted = true;
                            continue;
                        }
                        return self.answer(tx, &invite, &local_tag, offer.as_ref()).await;
                    }
                    Some(CallInput::Command(CallCommand::Progress)) => {
                        self.progress(tx, &invite, &local_tag, offer.as_ref(), reliable_ok).await;
                    }
                    Some(CallInput::Command(CallCommand::Reject { busy })) => {
                        return self.reject(tx, &invite, &local_tag, busy).await;
                    }
                    Some(CallInput::Command(CallCommand::Hangup)) => {
                        return self.reject(tx, &invite, &local_tag, false).await;
                    }
                    Some(CallInput::Cancelled) => {
                        let _ = self.env.endpoint.respond(tx, self.tagged(&invite, 487, &local_tag)).await;
                        return Setup::Ended(CallEnd::Missed);
                    }
                    Some(CallInput::Command(CallCommand::Mute(m))) => self.mute(m),
                    Some(CallInput::Request { id, request }) => {
                        let _ = self.in_dialog_request(id, request).await;
                        if self.prack_wait.is_none() && self.progress_wanted {
                            self.progress_wanted = false;
                            self.progress(tx, &invite, &local_tag, offer.as_ref(), reliable_ok).await;
                        }
                        if (auto_answer || self.answer_wanted) && self.prack_wait.is_none() {
                            return self.answer(tx, &invite, &local_tag, offer.as_ref()).await;
                        }
                    }
                    None => {
                        let _ = self.env.endpoint.respond(tx, self.tagged(&invite, 480, &local_tag)).await;
                        return Setup::Ended(CallEnd::Missed);
                    }
                    Some(other) => debug!(?other, "ignored while ringing"),
                },
            }
        }
    }

    fn take_rseq(&mut self) -> u32 {
        let r = self.next_rseq;
        self.next_rseq = self.next_rseq.wrapping_add(1).max(1);
        r
    }

    /// Early media as callee: our answer (or, to an offer-less INVITE, our
    /// offer) in a 183, reliable when the caller supports 100rel. One
    /// reliable provisional at a time (RFC 3262 §3): while the 180 waits
    /// for its PRACK, the 183 waits too.
    async fn progress(
        &mut self,
        tx: TransactionId,
        invite: &Request,
        tag: &str,
        offer: Option<&Sdp>,
        reliable: bool,
    ) {
        if self.early_sdp.is_some() {
            return;
        }
        if reliable && self.prack_wait.is_some() {
            self.progress_wanted = true;
            return;
        }
        let sdp = match offer {
            Some(offer) => match self.answer_offer(offer) {
                Ok(sdp) => sdp,
                Err(e) => {
                    debug!("no early media: {e}");
                    return;
                }
            },
            // An offer may only go in a reliable 1xx.
            None if reliable => {
                let o = self.offer(Direction::SendRecv);
                self.early_offer = Some(o.clone());
                o
            }
            None => return,
        };
        let mut r = self.tagged(invite, 183, tag);
        let rseq = reliable.then(|| self.take_rseq());
        if let Some(rseq) = rseq {
            let _ = r.headers.push("Require", "100rel");
            let _ = r.headers.push("RSeq", &rseq.to_string());
        }
        r.set_body(sdp.to_bytes(), Some(sdp_type()));
        if let Some(rseq) = rseq {
            self.prack_wait = Some(PrackWait::new(r.clone(), rseq, invite, true));
        }
        self.early_sdp = Some((sdp, reliable));
        let _ = self.env.endpoint.respond(tx, r).await;
    }

    /// Answers the peer's offer with our current hold state; follows the
    /// peer's hold (sendonly, inactive or a zero address) and updates media.
    fn answer_offer(&mut self, offer: &Sdp) -> Result<Sdp, String> {
        self.sdp_version += 1;
        let (answer, neg) = msdp::create_answer(
            &self.env.media,
            offer,
            self.rtp_local,
            self.sdp_session,
            self.sdp_version,
            self.info.held_by_us,
            None,
        )
        .map_err(|e| e.to_string())?;
        let remote_dir = offer
            .media
            .iter()
            .find(|m| m.media.eq_ignore_ascii_case("audio"))
            .map(|m| m.direction(offer));
        let zero_ip = neg.remote_rtp.ip().is_unspecified();
        self.info.held_by_peer =
            zero_ip || matches!(remote_dir, Some(Direction::SendOnly | Direction::Inactive));
        self.start_or_update_media(neg);
        Ok(answer)
    }

    /// Hold or resume while our call still rings out: an UPDATE in the
    /// early dialog (RFC 3311 §5.1), once the first offer/answer completed
    /// in a reliable 1xx and the peer allows UPDATE; else not possible.
    async fn early_hold(&mut self, on: bool) {
        if self.info.held_by_us == on {
            return;
        }
        if !(self.early_oa_done && self.peer_allows_update && self.dialog.is_some()) {
            debug!("no hold before the answer: no early offer/answer or no UPDATE");
            return;
        }
        if let Some(done) = self.prack_done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(32), done).await;
        }
        for _attempt in 0..3 {
            let offer = self.offer(if on {
                Direction::SendOnly
            } else {
                Direction::SendRecv
            });
            let resp = self
                .request_in_dialog(Method::Update, Some((offer.to_bytes(), sdp_type())))
                .await;
            match resp {
                Some(r) if r.status.is_success() => {
                    if let Some(answer) = sdp_of(&r.headers, &r.body) {
                        match msdp::accept_answer(&offer, &answer) {
                            Ok(neg) => self.start_or_update_media(neg),
                            Err(e) => warn!("hold answer unusable: {e}"),
                        }
                    }
                    self.info.held_by_us = on;
                    self.publish_state();
                    return;
                }
                Some(r) if r.status.as_u16() == 491 => {
                    let wait = self.glare_backoff();
                    debug!(?wait, "early UPDATE glare (491); retrying");
                    if self.pause(wait, false).await != Pause::Elapsed {
                        return;
                    }
                }
                Some(r) => {
                    warn!(status = r.status.as_u16(), "early UPDATE refused");
                    return;
                }
                None => {
                    warn!("early UPDATE failed");
                    return;
                }
            }
        }
    }

    async fn reject(
        &mut self,
        tx: TransactionId,
        invite: &Request,
        tag: &str,
        busy: bool,
    ) -> Setup {
        if let Some(w) = self.prack_wait.as_mut() {
            w.stop();
        }
        let code = if busy { 486 } else { 603 };
        let _ = self
            .env
            .endpoint
            .respond(tx, self.tagged(invite, code, tag))
            .await;
        let reason = if busy { "Busy Here" } else { "Decline" };
        Setup::Ended(CallEnd::Rejected {
            status: code,
            reason: reason.into(),
        })
    }

    fn tagged(&self, req: &Request, code: u16, tag: &str) -> Response {
        let mut r = response(req, code);
        if let Ok(Some(mut to)) = r.headers.to() {
            to.set_tag(tag);
            r.headers.set_typed(&to);
        }
        if (101..300).contains(&code) {
            let _ = r.headers.push("Contact", &format!("<{}>", self.contact));
            let _ = r.headers.push("Allow", ALLOW);
            let _ = r.headers.push("Supported", SUPPORTED);
        }
        r
    }

    async fn answer(
        &mut self,
        tx: TransactionId,
        invite: &Request,
        tag: &str,
        offer: Option<&Sdp>,
    ) -> Setup {
        // A PRACK may still come for our 180: answer it, but stop resending.
        if let Some(w) = self.prack_wait.as_mut() {
            w.stop();
        }
        let mut ok = self.tagged(invite, 200, tag);
        self.negotiate_session_timer(invite, &mut ok);
        let body = match (offer, self.early_sdp.take()) {
            // The offer/answer completed in a reliable 183 (and its PRACK):
            // no SDP in the 2xx (RFC 6337 §3.1).
            (_, Some((_, true))) => None,
            // §13.3.1.1: the 2xx repeats the answer of an unreliable 183.
            (Some(_), Some((sdp, false))) => Some(sdp),
            (Some(offer), _) => {
                self.sdp_version += 1;
                match msdp::create_answer(
                    &self.env.media,
                    offer,
                    self.rtp_local,
                    self.sdp_session,
                    self.sdp_version,
                    false,
                    None,
                ) {
                    Ok((sdp, neg)) => {
                        self.start_or_update_media(neg);
                        Some(sdp)
                    }
                    Err(e) => {
                        let mut r = self.tagged(invite, 488, tag);
                        let _ = r
                            .headers
                            .push("Warning", "304 parley \"Media type not available\"");
                        let _ = self.env.endpoint.respond(tx, r).await;
                        return Setup::Ended(CallEnd::Failed {
                            status: Some(488),
                            reason: format!("no common codec: {e}"),
                        });
                    }
                }
            }
            // Offer-less INVITE: we offer in the 200, the answer comes in the ACK.
            (None, _) => Some(self.offer(Direction::SendRecv)),
        };
        if let Some(b) = &body {
            ok.set_body(b.to_bytes(), Some(sdp_type()));
        }
        if self.env.endpoint.respond(tx, ok.clone()).await.is_err() {
            return Setup::Ended(CallEnd::Failed {
                status: None,
                reason: "could not answer".into(),
            });
        }
        if let Some(d) = self.dialog.as_mut() {
            d.confirm();
        }
        let reliable = self.hop.first().is_some_and(|t| t.proto.is_reliable());
        self.ack_wait = Some((
            tx,
            AckWait::new(Instant::now(), ok, TimerConfig::default(), reliable),
        ));
        if let (None, Some(body)) = (offer, body) {
            // The answer is in the ACK; wait for it here.
            let deadline = tokio::time::sleep(Duration::from_secs(32));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    () = &mut deadline => return Setup::Ended(CallEnd::Failed { status: None, reason: "no ACK".into() }),
                    () = crate::util::sleep_until(self.ack_wait.as_ref().and_then(|(_, w)| w.poll_timeout())) => self.ack_timer().await,
                    input = self.input.recv() => match input {
                        Some(CallInput::Ack(ack)) => {
                            self.ack_wait = None;
                            if let (Some(answer), Some(our)) = (sdp_of(&ack.headers, &ack.body), Sdp::parse(&body.to_bytes()).ok()) {
                                match msdp::accept_answer(&our, &answer) {
                                    Ok(neg) => self.start_or_update_media(neg),
                                    Err(e) => {
                                        warn!("answer in ACK unusable: {e}");
                                        self.bye().await;
                                        return Setup::Ended(CallEnd::Failed { status: None, reason: format!("media not acceptable: {e}") });
                                    }
                                }
                            }
                            break;
                        }
                        None => return Setup::Ended(CallEnd::HungUp { by_us: true }),
                        Some(other) => debug!(?other, "waiting for ACK"),
                    },
                }
            }
        }
        Setup::Connected
    }

    /// RFC 4028 §9 as UAS: echo the caller's Session-Expires with a
    /// refresher (the caller when it supports timers, else us).
    fn negotiate_session_timer(&mut self, req: &Request, ok: &mut Response) {
        let Some(se) = req.headers.get("Session-Expires") else {
            return;
        };
        let mut parts = se.split(';');
        let Some(secs) = parts.next().and_then(|v| v.trim().parse::<u32>().ok()) else {
            return;
        };
        let asked = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("refresher"))
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        let supports = req
            .headers
            .get_all("Supported")
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("timer")));
        let refresher = match asked.as_deref() {
            Some("uas") => "uas",
            _ if supports => "uac",
            _ => "uas",
        };
        let secs = secs.max(MIN_SE);
        let _ = ok
            .headers
            .push("Session-Expires", &format!("{secs};refresher={refresher}"));
        if supports {
            let _ = ok.headers.push("Require", "timer");
        }
        self.session_timer = Some(SessionTimer::new(secs, refresher == "uas"));
    }

    /// The session timer fired: refresh (UPDATE when the peer allows it,
    /// else re-INVITE), or end a session the peer stopped refreshing.
    async fn session_timer_due(&mut self) -> Option<CallEnd> {
        let timer = self.session_timer?;
        if !timer.we_refresh {
            warn!("the peer stopped refreshing the session; ending the call");
            self.bye().await;
            return Some(CallEnd::Failed {
                status: None,
                reason: "session expired (no refresh from the peer, RFC 4028)".into(),
            });
        }
        let se = format!("{};refresher=uac", timer.interval.as_secs());
        let resp = self
            .request_in_dialog_with(
                Method::Update,
                None,
                &[("Session-Expires", &se), ("Supported", "timer")],
            )
            .await;
        match resp.map(|r| r.status.as_u16()) {
            Some(200..=299) => {
                if let Some(t) = self.session_timer.as_mut() {
                    t.reset();
                }
                None
            }
            Some(405 | 501) => {
                // No UPDATE there: refresh with a re-INVITE of our state.
                let on = self.info.held_by_us;
                self.info.held_by_us = !on;
                if !self.hold(on).await {
                    // Not refreshed (refused, or the peer's own re-INVITE
                    // went first, which refreshes the session too): the
                    // state is what it was.
                    self.info.held_by_us = on;
                }
                if let Some(t) = self.session_timer.as_mut() {
                    t.reset();
                }
                None
            }
            None if self.hangup_pending() => {
                // The user hung up while the refresh waited.
                self.bye().await;
                Some(CallEnd::HungUp { by_us: true })
            }
            Some(481 | 408) | None => {
                self.bye().await;
                Some(CallEnd::Failed {
                    status: None,
                    reason: "the session refresh failed".into(),
                })
            }
            Some(_) => {
                // Try again later rather than drop a working call.
                if let Some(t) = self.session_timer.as_mut() {
                    t.reset();
                }
                None
            }
        }
    }

    async fn ack_timer(&mut self) {
        let Some((tx, w)) = self.ack_wait.as_mut() else {
            return;
        };
        let tx = *tx;
        match w.handle_timeout(Instant::now()) {
            Some(AckWaitAction::Retransmit(r)) => {
                let _ = self.env.endpoint.respond(tx, r).await;
            }
            Some(AckWaitAction::GiveUp) => {
                warn!("no ACK for our 2xx; ending the call");
                self.ack_wait = None;
                self.bye().await;
                self.info.state = CallState::Ended;
            }
            None => {}
        }
    }

    // ---------------------------------------------------------------
    // Connected (§14, §15, RFC 3311, INFO)
    // ---------------------------------------------------------------

    async fn connected(&mut self) -> CallEnd {
        self.info.answered_ms = Some(unix_ms());
        // Held before the answer (UPDATE in the early dialog): on hold.
        if self.info.held_by_us || self.info.held_by_peer {
            self.set_state(CallState::OnHold);
        } else {
            self.set_state(CallState::Connected);
        }
        loop {
            if self.peer_hung_up {
                return if self.transferred_away {
                    CallEnd::Transferred
                } else {
                    CallEnd::HungUp { by_us: false }
                };
            }
            if self.info.state == CallState::Ended {
                return CallEnd::Failed {
                    status: None,
                    reason: "the peer never confirmed the answer (no ACK)".into(),
                };
            }
            let ack_due = self.ack_wait.as_ref().and_then(|(_, w)| w.poll_timeout());
            tokio::select! {
                () = crate::util::sleep_until(ack_due) => self.ack_timer().await,
                ev = next_referred(&mut self.referred) => {
                    if let Some(end) = self.referred_progress(ev).await {
                        return end;
                    }
                }
                () = crate::util::sleep_until(self.session_timer.map(|t| t.due)) => {
                    if let Some(end) = self.session_timer_due().await {
                        return end;
                    }
                }
                Some(r) = self.reports.recv() => self.on_media_report(r),
                input = next_input(&mut self.deferred, &mut self.input) => match input {
                    None | Some(CallInput::Command(CallCommand::Hangup)) => {
                        self.bye().await;
                        return CallEnd::HungUp { by_us: true };
                    }
                    Some(CallInput::Command(CallCommand::Hold(on))) => {
                        self.hold(on).await;
                    }
                    Some(CallInput::Command(CallCommand::Mute(m))) => self.mute(m),
                    Some(CallInput::Command(CallCommand::CallWaiting(on))) => {
                        if let Some(media) = &self.media {
                            media.send(MediaCommand::CallWaiting(on));
                        }
                    }
                    Some(CallInput::Command(CallCommand::Dtmf(digits))) => self.dtmf(&digits).await,
                    Some(CallInput::Command(CallCommand::Conference { id, role })) => {
                        let role = role.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
                        self.join_conference(id, role).await;
                    }
                    Some(CallInput::Command(CallCommand::LeaveConference)) => {
                        if let Some(media) = &self.media {
                            media.send(MediaCommand::LeaveConference);
                        }
                        if self.info.conference.take().is_some() {
                            self.publish_state();
                        }
                    }
                    Some(CallInput::Command(CallCommand::Record { path, reply })) => {
                        let _ = reply.send(self.record(path).await);
                    }
                    Some(CallInput::Command(CallCommand::StopRecording)) => {
                        if let Some(media) = &self.media {
                            media.send(MediaCommand::StopRecording);
                        }
                    }
                    Some(CallInput::Command(CallCommand::Transfer { target, replaces })) => {
                        self.refer(&target, replaces.as_deref()).await;
                    }
                    Some(CallInput::Command(CallCommand::DialogInfo(reply))) => {
                        let _ = reply.send(self.dialog_info());
                    }
                    Some(CallInput::Command(CallCommand::Message { content_type, body, reply })) => {
                        let ct = <ContentType as sip_message::headers::TypedHeader>::parse(&content_type);
                        let resp = match ct {
                            Ok(ct) => self.request_in_dialog(Method::Message, Some((body, ct))).await,
                            Err(_) => None,
                        };
                        let _ = reply.send(resp);
                    }
                    Some(CallInput::Replaced { to_tag, from_tag }) => {
                        let ours = self.dialog.as_ref().is_some_and(|d| {
                            d.id().local_tag == to_tag && d.id().remote_tag == from_tag
                        });
                        if ours {
                            info!("call replaced by a transferred call (RFC 3891)");
                            self.bye().await;
                            return CallEnd::Transferred;
                        }
                    }
                    Some(CallInput::Command(other)) => debug!(?other, "not while connected"),
                    Some(CallInput::Request { id, request }) => {
                        if let Some(end) = self.in_dialog_request(id, request).await {
                            return end;
                        }
                    }
                    Some(CallInput::Ack(ack)) => {
                        if let Some((_, w)) = self.ack_wait.as_mut() {
                            if w.on_ack(&ack) {
                                self.ack_wait = None;
                            }
                        }
                    }
                    Some(CallInput::Stray(resp)) if self.is_other_fork(&resp) => {
                        self.end_other_fork(&resp);
                    }
                    Some(CallInput::Stray(resp)) => self.ack_stray(&resp).await,
                    Some(CallInput::Cancelled) => {}
                },
            }
        }
    }

    /// A 2xx to one of our INVITEs in this dialog that no transaction
    /// waits for: a retransmission because our ACK was lost (sent again),
    /// or the answer to a re-INVITE we stopped waiting for when the user
    /// hung up, crossing our BYE. Every 2xx to an INVITE gets its ACK
    /// (RFC 3261 §13.2.2.4), else the peer retransmits it for 32 s and
    /// may tear down what it thinks is a broken dialog.
    async fn ack_stray(&mut self, resp: &Response) {
        let Some(seq) = orphan::invite_2xx_seq(resp) else {
            return;
        };
        // Only a 2xx of this dialog to an INVITE we sent: anything else
        // (a forged one) must not move the remote target.
        let ours = self.dialog.as_ref().is_some_and(|d| {
            DialogId::for_incoming_response(resp).is_ok_and(|id| &id == d.id())
                && d.local_seq().is_some_and(|s| seq <= s)
        });
        if !ours {
            debug!("a 2xx outside this dialog dropped");
            return;
        }
        match &self.last_ack {
            Some((s, ack)) if *s == seq => {
                if let Some(t) = self.hop.first().copied() {
                    let _ = self
                        .env
                        .endpoint
                        .send_stateless(Message::Request(ack.clone()), t)
                        .await;
                }
            }
            // Older than what we ACKed: a stale duplicate.
            Some((s, _)) if *s > seq => {}
            _ => {
                // Its Contact may move the remote target (§12.2.1.2),
                // where the ACK goes.
                if let Some(d) = self.dialog.as_mut() {
                    let _ = d.on_response(&Method::Invite, resp);
                }
                self.send_ack(seq).await;
            }
        }
    }

    /// (peer URI, Replaces value as the peer's new caller must send it):
    /// RFC 3891 §3, to-tag is the peer's tag, from-tag ours.
    fn dialog_info(&self) -> Option<(String, String)> {
        let d = self.dialog.as_ref()?;
        let id = d.id();
        Some((
            d.remote_target().to_string(),
            format!(
                "{};to-tag={};from-tag={}",
                id.call_id, id.remote_tag, id.local_tag
            ),
        ))
    }

    /// As transferor: REFER the peer to `target` (RFC 3515); the outcome
    /// comes in NOTIFYs (see [`Self::in_dialog_request`]).
    async fn refer(&mut self, target: &str, replaces: Option<&str>) {
        let refer_to = match replaces {
            Some(r) => format!("<{target}?Replaces={}>", escape_header_value(r)),
            None => format!("<{target}>"),
        };
        let referred_by = format!("<{}>", self.account.aor);
        self.set_state(CallState::Transferring);
        let resp = self
            .request_in_dialog_with(
                Method::Refer,
                None,
                &[("Refer-To", &refer_to), ("Referred-By", &referred_by)],
            )
            .await;
        match resp.map(|r| r.status.as_u16()) {
            Some(200..=299) => self.transferring = true,
            other => {
                warn!(status = ?other, "transfer refused");
                self.update_hold_state();
            }
        }
    }

    /// As transferee: the call we made for a REFER progressed.
    async fn referred_progress(&mut self, ev: Option<Event>) -> Option<CallEnd> {
        let Some((new_id, _)) = &self.referred else {
            return None;
        };
        let new_id = *new_id;
        let (frag, done, success) = match ev {
            None => ("SIP/2.0 503 Service Unavailable".to_owned(), true, false),
            Some(Event::CallState { call })
                if call.id == new_id && call.state == CallState::Connected =>
            {
                ("SIP/2.0 200 OK".to_owned(), true, true)
            }
            // Only the outcome is reported after the 100 Trying: each
            // NOTIFY is a transaction the transferor must answer, and
            // intermediate ones add nothing it acts on.
            Some(Event::CallEnded { call, end }) if call.id == new_id => {
                let status = match end {
                    CallEnd::Rejected { status, .. } => status,
                    CallEnd::Failed {
                        status: Some(s), ..
                    } => s,
                    CallEnd::Cancelled => 487,
                    _ => 503,
                };
                (format!("SIP/2.0 {status} Failed"), true, false)
            }
            _ => return None,
        };
        let state = if done {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        let _ = self
            .request_in_dialog_with(
                Method::Notify,
                Some((
                    format!("{frag}\r\n").into_bytes(),
                    ContentType(MediaType::new("message", "sipfrag")),
                )),
                &[("Event", "refer"), ("Subscription-State", state)],
            )
            .await;
        if done {
            self.referred = None;
        }
        if success {
            // The transfer worked; the transferor ends this call with BYE
            // (RFC 5589 §6.1), which then counts as transferred.
            self.transferred_away = true;
        }
        None
    }

    /// A 2xx to our INVITE from a different dialog (a forking proxy let
    /// two phones answer).
    fn is_other_fork(&self, resp: &Response) -> bool {
        let (Some(d), Some(_), Ok(id)) = (
            &self.dialog,
            &self.sent_invite,
            DialogId::for_incoming_response(resp),
        ) else {
            return false;
        };
        // Our From tag (our INVITE), another tag than our dialog's.
        id.local_tag == d.id().local_tag
            && !id.remote_tag.is_empty()
            && id.remote_tag != d.id().remote_tag
    }

    /// §13.2.2.4: every 2xx gets its ACK; a second answering fork is then
    /// released with BYE (once, however often it re-sends), as we keep
    /// the first.
    fn end_other_fork(&self, resp: &Response) {
        orphan::settle(&self.env, resp, Some(&self.memo()));
    }

    /// What this call leaves for 2xx answers still to come.
    fn memo(&self) -> orphan::CallMemo {
        orphan::CallMemo {
            dialog: self
                .dialog
                .clone()
                .filter(|d| d.state() != sip_core::DialogState::Early),
            placed_tag: self.placed.as_ref().map(|(_, tag)| tag.clone()),
            credentials: self.invite_credentials.clone(),
            transport: self.account.transport,
        }
    }

    /// Keeps an INVITE's credentials for its ACK: the initial INVITE's
    /// and the latest re-INVITE's.
    fn note_invite_credentials(&mut self, invite: &Request) {
        let Ok(Some(c)) = invite.headers.cseq() else {
            return;
        };
        let initial = self
            .sent_invite
            .as_ref()
            .and_then(|i| i.headers.cseq().ok().flatten())
            .map(|i| i.seq);
        self.invite_credentials
            .retain(|(s, _)| Some(*s) == initial && *s != c.seq);
        let creds = orphan::credentials(invite);
        if !creds.is_empty() {
            self.invite_credentials.push((c.seq, creds));
        }
    }

    /// Joins local conference `id` in `role`: resumes the call if we hold
    /// it (a held peer would hear nothing), then hands the link to media.
    async fn join_conference(&mut self, id: u32, role: media::conference::Role) {
        if self.info.held_by_us {
            if !self.hold(false).await {
                warn!("resuming for the conference failed; joining as is");
            }
            if self.ending_soon() {
                // The call is ending: it joins nothing.
                return;
            }
        }
        let Some(media) = &self.media else {
            // No media (yet): dropping the link tells the other side.
            debug!(id = self.info.id, "no media to conference");
            return;
        };
        media.send(MediaCommand::Conference(role));
        if self.info.conference != Some(id) {
            self.info.conference = Some(id);
            self.publish_state();
        }
    }

    /// Starts recording to `path` (the file is created off this task).
    async fn record(&mut self, path: std::path::PathBuf) -> Result<std::path::PathBuf, CallError> {
        let id = self.info.id;
        let busy = move |what| CallError::WrongState { id, what };
        if self.info.recording.is_some() {
            return Err(busy("start a second recording"));
        }
        let Some(media) = &self.media else {
            return Err(busy("record before audio flows"));
        };
        let reports = self.reports_tx.clone();
        let file = path.clone();
        let tap = tokio::task::spawn_blocking(move || {
            media::recorder::start(&file, move |done| {
                // From the writer thread, once the file is complete.
                let _ = reports.blocking_send(MediaReport::RecordingDone(done));
            })
        })
        .await
        .map_err(|_| busy("start the recorder"))??;
        media.send(MediaCommand::Record(tap));
        let shown = path.display().to_string();
        self.info.recording = Some(shown.clone());
        self.publish_state();
        let _ = self.env.events.send(Event::Recording {
            id: self.info.id,
            path: shown,
            active: true,
            error: None,
        });
        info!(id = self.info.id, "recording started");
        Ok(path)
    }

    fn mute(&mut self, m: bool) {
        self.info.muted = m;
        if let Some(media) = &self.media {
            media.send(MediaCommand::Mute(m));
        }
        self.publish_state();
    }

    async fn dtmf(&mut self, digits: &str) {
        let rfc4733 = self
            .negotiated
            .as_ref()
            .is_some_and(|n| n.telephone_event_pt.is_some());
        for d in digits
            .chars()
            .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))
        {
            if rfc4733 {
                if let Some(m) = &self.media {
                    m.send(MediaCommand::Dtmf(d));
                }
                // Events must not overlap: one per 200 ms or so.
                if self.pause(Duration::from_millis(250), false).await != Pause::Elapsed {
                    return;
                }
            } else {
                // SIP INFO application/dtmf-relay, the de-facto format.
                let body = format!("Signal={d}\r\nDuration=160\r\n");
                let _ = self
                    .request_in_dialog(
                        Method::Info,
                        Some((
                            body.into_bytes(),
                            ContentType(MediaType::new("application", "dtmf-relay")),
                        )),
                    )
                    .await;
                if self.ending_soon() {
                    return;
                }
            }
        }
    }

    /// Hold or resume with a re-INVITE (§14), retrying after 491 with the
    /// §14.1 back-off.
    async fn hold(&mut self, on: bool) -> bool {
        if self.info.held_by_us == on {
            return true;
        }
        for _attempt in 0..3 {
            let offer = self.offer(if on {
                Direction::SendOnly
            } else {
                Direction::SendRecv
            });
            let Some(dialog) = self.dialog.as_mut() else {
                return false;
            };
            let via = self
                .env
                .endpoint
                .via_for(&self.hop.first().copied().unwrap_or(Target {
                    addr: SocketAddr::from(([127, 0, 0, 1], 5060)),
                    proto: Proto::Udp,
                }));
            let Ok(mut req) = dialog.create_request(Method::Invite, via) else {
                return false;
            };
            req.set_body(offer.to_bytes(), Some(sdp_type()));
            let creds_owned = self.account.password.clone();
            let ep = self.env.endpoint.clone();
            let result = match ep.invite(req.clone(), self.hop.clone()).await {
                Ok(inv) => {
                    self.awaiting(async { inv.fin.await.unwrap_or(Err(EndpointError::Stopped)) })
                        .await
                }
                Err(e) => Err(e),
            };
            let result = match result {
                Ok(resp) if matches!(resp.status.as_u16(), 401 | 407) && creds_owned.is_some() => {
                    match self.authorize(&req, &resp) {
                        Ok(again) => {
                            if let (Some(d), Ok(Some(c))) =
                                (self.dialog.as_mut(), again.headers.cseq())
                            {
                                d.set_local_seq(c.seq);
                            }
                            req = again;
                            self.note_invite_credentials(&req);
                            match ep.invite(req.clone(), self.hop.clone()).await {
                                Ok(inv) => {
                                    self.awaiting(async {
                                        inv.fin.await.unwrap_or(Err(EndpointError::Stopped))
                                    })
                                    .await
                                }
                                Err(e) => Err(e),
                            }
                        }
                        Err(_) => Ok(resp),
                    }
                }
                other => other,
            };
            match result {
                Ok(resp) if resp.status.is_success() => {
                    let seq = req.headers.cseq().ok().flatten().map_or(1, |c| c.seq);
                    if let Some(d) = self.dialog.as_mut() {
                        let _ = d.on_response(&Method::Invite, &resp);
                    }
                    self.send_ack(seq).await;
                    if let Some(answer) = sdp_of(&resp.headers, &resp.body) {
                        match msdp::accept_answer(&offer, &answer) {
                            Ok(neg) => self.start_or_update_media(neg),
                            Err(e) => warn!("hold answer unusable: {e}"),
                        }
                    }
                    self.info.held_by_us = on;
                    self.update_hold_state();
                    return true;
                }
                Ok(resp) if resp.status.as_u16() == 491 => {
                    let wait = self.glare_backoff();
                    debug!(?wait, "re-INVITE glare (491); retrying");
                    match self.pause(wait, true).await {
                        Pause::Elapsed => {}
                        Pause::Ending => return false,
                        Pause::PeerOffer => {
                            // The peer's offer (at the front) is answered
                            // first; ours is asked again after it.
                            let at = self.deferred.len().min(1);
                            self.deferred
                                .insert(at, CallInput::Command(CallCommand::Hold(on)));
                            return false;
                        }
                    }
                }
                Ok(resp) => {
                    warn!(status = resp.status.as_u16(), "re-INVITE refused");
                    return false;
                }
                // The user hung up meanwhile: nothing failed.
                Err(EndpointError::Abandoned) => return false,
                Err(e) => {
                    warn!("re-INVITE failed: {e}");
                    return false;
                }
            }
        }
        warn!("re-INVITE glare three times over; given up");
        false
    }

    /// The peer's BYE while we wait on something of our own: answered at
    /// once (else both sides would wait on each other); the call ends
    /// once the wait is over.
    async fn answer_crossing_bye(&mut self, id: TransactionId, request: &Request) {
        if let Some(d) = self.dialog.as_mut() {
            let _ = d.on_request(request);
        }
        let _ = self.env.endpoint.respond(id, response(request, 200)).await;
        self.peer_hung_up = true;
    }

    /// Whether either side has hung up while we waited: nothing more is
    /// sent but the BYE (or its 200).
    fn ending_soon(&self) -> bool {
        self.hangup_pending() || self.peer_hung_up
    }

    /// Whether the user's hang-up waits in `deferred` (pushed there when
    /// it cut a wait short).
    fn hangup_pending(&self) -> bool {
        matches!(
            self.deferred.front(),
            Some(CallInput::Command(CallCommand::Hangup))
        )
    }

    /// Waits `wait` (a glare back-off, the gap between DTMF events)
    /// unless the call must move on first: `Ending` when the user hung up
    /// (the hang-up is handled next) or the peer did (answered here, as
    /// `awaiting` does); with `yield_to_offer`, `PeerOffer` when the peer
    /// sent its own re-INVITE or UPDATE: in a glare back-off the peer's
    /// retry goes first (RFC 3261 §14.1), so it is handled next. Anything
    /// else waits.
    async fn pause(&mut self, wait: Duration, yield_to_offer: bool) -> Pause {
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Pause::Elapsed,
                input = self.input.recv(), if !self.input_closed => match input {
                    Some(CallInput::Command(CallCommand::Hangup)) | None => {
                        self.input_closed |= input.is_none();
                        self.deferred.push_front(CallInput::Command(CallCommand::Hangup));
                        return Pause::Ending;
                    }
                    Some(CallInput::Request { id, request }) if request.method == Method::Bye => {
                        self.answer_crossing_bye(id, &request).await;
                        return Pause::Ending;
                    }
                    Some(r @ CallInput::Request { .. })
                        if yield_to_offer
                            && matches!(&r, CallInput::Request { request, .. }
                                if matches!(request.method, Method::Invite | Method::Update)) =>
                    {
                        self.deferred.push_front(r);
                        return Pause::PeerOffer;
                    }
                    Some(other) if self.deferred.len() < 64 => self.deferred.push_back(other),
                    Some(_) => {}
                },
            }
        }
    }

    /// RFC 3261 §14.1 (and RFC 3311 §5.1 for UPDATE): after a 491 the
    /// Call-ID owner waits 2.1-4 s, the other side 0-2 s, at random.
    fn glare_backoff(&mut self) -> Duration {
        let r = (self.rng >> 11) % 1000;
        let _ = token(&mut self.rng);
        Duration::from_millis(if self.call_id_owner {
            2100 + r * 19 / 10
        } else {
            r * 2
        })
    }

    fn update_hold_state(&mut self) {
        // Before the answer the state tells the setup's progress: an early
        // UPDATE changes only the hold flags.
        if matches!(
            self.info.state,
            CallState::Dialing | CallState::Ringing | CallState::EarlyMedia | CallState::Incoming
        ) {
            self.publish_state();
            return;
        }
        let held = self.info.held_by_us || self.info.held_by_peer;
        if held {
            self.set_state(CallState::OnHold);
        } else {
            self.set_state(CallState::Connected);
        }
        self.publish_state();
    }

    /// Sends a non-INVITE request in the dialog and waits for its answer.
    async fn request_in_dialog(
        &mut self,
        method: Method,
        body: Option<(Vec<u8>, ContentType)>,
    ) -> Option<Response> {
        self.request_in_dialog_with(method, body, &[]).await
    }

    /// As [`Self::request_in_dialog`], with extra headers.
    async fn request_in_dialog_with(
        &mut self,
        method: Method,
        body: Option<(Vec<u8>, ContentType)>,
        extra: &[(&str, &str)],
    ) -> Option<Response> {
        let target = self.hop.first().copied()?;
        let via = self.env.endpoint.via_for(&target);
        let dialog = self.dialog.as_mut()?;
        let mut req = dialog.create_request(method.clone(), via).ok()?;
        for (n, v) in extra {
            let _ = req.headers.push(n, v);
        }
        if let Some((b, ct)) = body {
            req.set_body(b, Some(ct));
        }
        let ep = self.env.endpoint.clone();
        let fut = ep.request(req.clone(), self.hop.clone());
        let resp = self.awaiting(fut).await.ok()?;
        if matches!(resp.status.as_u16(), 401 | 407) {
            let again = self.authorize(&req, &resp).ok()?;
            if let (Some(d), Ok(Some(c))) = (self.dialog.as_mut(), again.headers.cseq()) {
                d.set_local_seq(c.seq);
            }
            let fut = ep.request(again, self.hop.clone());
            return self.awaiting(fut).await.ok();
        }
        if let Some(d) = self.dialog.as_mut() {
            let _ = d.on_response(&method, &resp);
        }
        Some(resp)
    }

    /// Waits for the answer to one of our in-dialog requests while still
    /// answering the peer: a crossing BYE gets its 200 at once (else both
    /// sides would wait on each other), a crossing re-INVITE or UPDATE
    /// gets 491 (§14.2); anything else waits its turn.
    async fn awaiting<T>(
        &mut self,
        fut: impl std::future::Future<Output = Result<T, EndpointError>>,
    ) -> Result<T, EndpointError> {
        if !self.ending && self.hangup_pending() {
            // Hung up already (while an earlier request waited): nothing
            // more goes out before the BYE.
            return Err(EndpointError::Abandoned);
        }
        tokio::pin!(fut);
        let deadline = tokio::time::sleep(Duration::from_secs(40));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                r = &mut fut => return r,
                () = &mut deadline => return Err(EndpointError::Timeout("in-dialog request".into())),
                input = self.input.recv(), if !self.input_closed => match input {
                    // Hanging up does not wait for the answer to our
                    // request: a peer gone silent would hold a re-INVITE
                    // for 32 s (Timer B) with the call still up. BYE needs
                    // no quiet dialog (RFC 3261 §15), so the hang-up goes
                    // first and the request is left to its transaction.
                    Some(CallInput::Command(CallCommand::Hangup)) if !self.ending => {
                        self.deferred.push_front(CallInput::Command(CallCommand::Hangup));
                        return Err(EndpointError::Abandoned);
                    }
                    None => {
                        // Closed: recv() would answer None at once, forever.
                        self.input_closed = true;
                        if !self.ending {
                            self.deferred.push_front(CallInput::Command(CallCommand::Hangup));
                            return Err(EndpointError::Abandoned);
                        }
                    }
                    Some(CallInput::Request { id, request }) if request.method == Method::Bye => {
                        self.answer_crossing_bye(id, &request).await;
                    }
                    Some(CallInput::Request { id, request })
                        if matches!(request.method, Method::Invite | Method::Update) =>
                    {
                        let mut r = response(&request, 491);
                        let _ = r.headers.push("Retry-After", "1");
                        let _ = self.env.endpoint.respond(id, r).await;
                    }
                    // The 2xx to a re-INVITE we gave up on may cross our
                    // BYE: it is ACKed while the BYE waits.
                    Some(CallInput::Stray(resp)) if !self.is_other_fork(&resp) => {
                        self.ack_stray(&resp).await;
                    }
                    // Bounded: a flood from the peer is dropped, not queued.
                    Some(other) if self.deferred.len() < 64 => self.deferred.push_back(other),
                    Some(_) => {}
                },
            }
        }
    }

    async fn bye(&mut self) {
        self.ending = true;
        if self.peer_hung_up {
            return;
        }
        if self.dialog.is_none() {
            return;
        }
        let _ = self.request_in_dialog(Method::Bye, None).await;
        if let Some(d) = self.dialog.as_mut() {
            d.terminate();
        }
    }

    /// A request from the peer inside the dialog. Returns how the call
    /// ends when it ends it (BYE).
    async fn in_dialog_request(&mut self, id: TransactionId, request: Request) -> Option<CallEnd> {
        let ep = self.env.endpoint.clone();
        if let Some(d) = self.dialog.as_mut() {
            if let Err(e) = d.on_request(&request) {
                let code = if matches!(e, sip_core::DialogError::CSeqOutOfOrder { .. }) {
                    500
                } else {
                    481
                };
                let _ = ep.respond(id, response(&request, code)).await;
                return None;
            }
        }
        match request.method {
            Method::Bye => {
                let _ = ep.respond(id, response(&request, 200)).await;
                if self.transferred_away {
                    return Some(CallEnd::Transferred);
                }
                Some(CallEnd::HungUp { by_us: false })
            }
            Method::Invite | Method::Update => {
                if request.method == Method::Invite && self.ack_wait.is_some() {
                    // §14.2: an offer while ours is pending (glare).
                    let mut r = response(&request, 491);
                    let _ = r.headers.push("Retry-After", "1");
                    let _ = ep.respond(id, r).await;
                    return None;
                }
                if request.method == Method::Update
                    && sdp_of(&request.headers, &request.body).is_some()
                {
                    // RFC 3311 §5.2, before the first offer/answer is done:
                    // 491 while our offer waits for its answer, 500 while
                    // the caller's offer waits for ours (we have not answered).
                    let ours_pending = self.early_offer.is_some()
                        || (self.info.direction == CallDirection::Outgoing
                            && self.negotiated.is_none());
                    let theirs_pending =
                        self.info.state == CallState::Incoming && self.early_sdp.is_none();
                    if ours_pending || theirs_pending {
                        let mut r = response(&request, if ours_pending { 491 } else { 500 });
                        let _ = r.headers.push("Retry-After", "1");
                        let _ = ep.respond(id, r).await;
                        return None;
                    }
                }
                let mut ok = response(&request, 200);
                let _ = ok.headers.push("Contact", &format!("<{}>", self.contact));
                let _ = ok.headers.push("Allow", ALLOW);
                // A refresh (RFC 4028 §10): answer it and restart the timer.
                if request.headers.get("Session-Expires").is_some() {
                    self.negotiate_session_timer(&request, &mut ok);
                } else if let Some(t) = self.session_timer.as_mut() {
                    t.reset();
                }
                match sdp_of(&request.headers, &request.body) {
                    Some(offer) => match self.answer_offer(&offer) {
                        Ok(answer) => {
                            ok.set_body(answer.to_bytes(), Some(sdp_type()));
                        }
                        Err(e) => {
                            debug!("re-offer refused: {e}");
                            let _ = ep.respond(id, response(&request, 488)).await;
                            return None;
                        }
                    },
                    None if request.method == Method::Invite => {
                        // Offer-less re-INVITE: offer our current state.
                        let dir = if self.info.held_by_us {
                            Direction::SendOnly
                        } else {
                            Direction::SendRecv
                        };
                        let offer = self.offer(dir);
                        ok.set_body(offer.to_bytes(), Some(sdp_type()));
                    }
                    None => {}
                }
                let _ = ep.respond(id, ok.clone()).await;
                if request.method == Method::Invite {
                    let reliable = self.hop.first().is_some_and(|t| t.proto.is_reliable());
                    self.ack_wait = Some((
                        id,
                        AckWait::new(Instant::now(), ok, TimerConfig::default(), reliable),
                    ));
                }
                self.update_hold_state();
                None
            }
            Method::Info => {
                let ct = request
                    .headers
                    .get("Content-Type")
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if ct.starts_with("application/dtmf-relay") || ct.starts_with("application/dtmf") {
                    let text = String::from_utf8_lossy(&request.body);
                    let digit = if ct.starts_with("application/dtmf-relay") {
                        text.lines()
                            .find_map(|l| {
                                l.trim()
                                    .strip_prefix("Signal=")
                                    .or_else(|| l.trim().strip_prefix("Signal ="))
                            })
                            .and_then(|s| s.trim().chars().next())
                    } else {
                        text.trim().chars().next()
                    };
                    match digit.filter(|c| {
                        c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D' | 'a'..='d')
                    }) {
                        Some(d) => {
                            let _ = ep.respond(id, response(&request, 200)).await;
                            let _ = self.env.events.send(Event::Dtmf {
                                id: self.info.id,
                                digit: d.to_ascii_uppercase().to_string(),
                            });
                        }
                        None => {
                            let _ = ep.respond(id, response(&request, 400)).await;
                        }
                    }
                } else if request.body.is_empty() {
                    // An INFO without body is a keep-alive some PBXes send.
                    let _ = ep.respond(id, response(&request, 200)).await;
                } else {
                    // RFC 6086 §4.2.2: a body we do not understand.
                    let mut r = response(&request, 415);
                    let _ = r
                        .headers
                        .push("Accept", "application/dtmf-relay, application/dtmf");
                    let _ = ep.respond(id, r).await;
                }
                None
            }
            Method::Notify => {
                let is_refer = request.headers.get("Event").is_some_and(|e| {
                    e.split(';')
                        .next()
                        .is_some_and(|t| t.trim().eq_ignore_ascii_case("refer"))
                });
                if !is_refer || !self.transferring {
                    let _ = ep.respond(id, response(&request, 481)).await;
                    return None;
                }
                let _ = ep.respond(id, response(&request, 200)).await;
                // message/sipfrag: "SIP/2.0 200 OK" (RFC 3515 §2.4.5).
                let text = String::from_utf8_lossy(&request.body);
                let status = text
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|c| c.parse::<u16>().ok());
                match status {
                    Some(200..=299) => {
                        self.transferring = false;
                        info!("transfer succeeded");
                        self.bye().await;
                        return Some(CallEnd::Transferred);
                    }
                    Some(300..=699) => {
                        self.transferring = false;
                        warn!(status, "transfer failed");
                        self.update_hold_state();
                    }
                    _ => {}
                }
                None
            }
            Method::Refer => Some(self.referred_to(id, request).await).flatten(),
            Method::Prack => {
                let rack = request.headers.get("RAck").unwrap_or("");
                let matched = self.prack_wait.as_ref().is_some_and(|w| w.matches(rack));
                if matched {
                    self.prack_wait = None;
                    let mut ok = response(&request, 200);
                    if let Some(sdp) = sdp_of(&request.headers, &request.body) {
                        match self.early_offer.take() {
                            // Our offer went in the reliable 1xx: this answers it.
                            Some(ours) => match msdp::accept_answer(&ours, &sdp) {
                                Ok(neg) => self.start_or_update_media(neg),
                                Err(e) => debug!("answer in PRACK unusable: {e}"),
                            },
                            // A new offer (RFC 3262 §5): answered in the 200.
                            None => match self.answer_offer(&sdp) {
                                Ok(answer) => ok.set_body(answer.to_bytes(), Some(sdp_type())),
                                Err(e) => {
                                    debug!("offer in PRACK refused: {e}");
                                    let _ = ep.respond(id, response(&request, 488)).await;
                                    return None;
                                }
                            },
                        }
                    }
                    let _ = ep.respond(id, ok).await;
                } else {
                    // §3: a PRACK for nothing we sent reliably.
                    let _ = ep.respond(id, response(&request, 481)).await;
                }
                None
            }
            Method::Options => {
                let mut r = response(&request, 200);
                let _ = r.headers.push("Allow", ALLOW);
                // §11.2, for the session's state: what we take and do here.
                for (n, v) in [
                    (
                        "Accept",
                        "application/sdp, application/dtmf-relay, message/sipfrag, text/plain",
                    ),
                    ("Accept-Encoding", "identity"),
                    ("Accept-Language", "en"),
                    ("Supported", SUPPORTED),
                    ("Allow-Events", "refer"),
                ] {
                    let _ = r.headers.push(n, v);
                }
                let _ = ep.respond(id, r).await;
                None
            }
            _ => {
                let mut r = response(&request, 405);
                let _ = r.headers.push("Allow", ALLOW);
                let _ = ep.respond(id, r).await;
                None
            }
        }
    }

    /// As transferee: a REFER (RFC 3515) asks us to call a third party.
    async fn referred_to(&mut self, id: TransactionId, request: Request) -> Option<CallEnd> {
        let ep = self.env.endpoint.clone();
        let refer_to = request.headers.get("Refer-To").and_then(|v| {
            <sip_message::headers::ReferTo as sip_message::headers::TypedHeader>::parse(v).ok()
        });
        let Some(refer_to) = refer_to else {
            let _ = ep.respond(id, response(&request, 400)).await;
            return None;
        };
        let Uri::Sip(mut target) = refer_to.addr.uri.clone() else {
            let _ = ep.respond(id, response(&request, 416)).await;
            return None;
        };
        if self.referred.is_some() {
            let _ = ep.respond(id, response(&request, 491)).await;
            return None;
        }
        // Headers in the Refer-To URI (Replaces) go into the new INVITE.
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in std::mem::take(&mut target.headers) {
            if name.eq_ignore_ascii_case("Replaces") {
                let v = String::from_utf8_lossy(&sip_message::uri::unescape(&value)).into_owned();
                headers.push(("Replaces".into(), v));
            }
        }
        let by = request
            .headers
            .get("Referred-By")
            .map_or_else(|| format!("<{}>", self.info.peer_uri), str::to_owned);
        headers.push(("Referred-By".into(), by));
        let _ = ep.respond(id, response(&request, 202)).await;
        let _ = self
            .request_in_dialog_with(
                Method::Notify,
                Some((
                    b"SIP/2.0 100 Trying\r\n".to_vec(),
                    ContentType(MediaType::new("message", "sipfrag")),
                )),
                &[
                    ("Event", "refer"),
                    ("Subscription-State", "active;expires=60"),
                ],
            )
            .await;
        let events = self.env.events.subscribe();
        let (reply, rx) = tokio::sync::oneshot::channel();
        let dial = TransferDial {
            account: self.account.clone(),
            target: Uri::Sip(target),
            headers,
            reply,
        };
        let new_id = match self.env.transfers.send(dial).await {
            Ok(()) => rx.await.ok().and_then(Result::ok),
            Err(_) => None,
        };
        match new_id {
            Some(n) => {
                info!(id = n, "calling the transfer target");
                self.referred = Some((n, events));
                None
            }
            None => {
                let _ = self
                    .request_in_dialog_with(
                        Method::Notify,
                        Some((
                            b"SIP/2.0 503 Service Unavailable\r\n".to_vec(),
                            ContentType(MediaType::new("message", "sipfrag")),
                        )),
                        &[
                            ("Event", "refer"),
                            ("Subscription-State", "terminated;reason=noresource"),
                        ],
                    )
                    .await;
                None
            }
        }
    }

    fn on_media_report(&mut self, r: MediaReport) {
        match r {
            MediaReport::Dtmf(d) => {
                let _ = self.env.events.send(Event::Dtmf {
                    id: self.info.id,
                    digit: d.to_string(),
                });
            }
            MediaReport::Stats(s) => {
                let _ = self.env.events.send(Event::CallQuality {
                    id: self.info.id,
                    quality: CallQuality {
                        loss_pct: s.loss_percent as f32,
                        jitter_ms: s.jitter_ms as f32,
                        rtt_ms: s.rtt_ms.map(|v| v as f32),
                        mos: s.mos as f32,
                    },
                });
            }
            MediaReport::SourceEnded => debug!("audio source ended"),
            MediaReport::Levels {
                input_db,
                output_db,
            } => {
                let _ = self.env.events.send(Event::AudioLevel {
                    id: self.info.id,
                    input_db,
                    output_db,
                });
            }
            MediaReport::AudioFailed(reason) => {
                warn!(id = self.info.id, "call audio stopped: {reason}");
            }
            MediaReport::RecordingDone(done) => {
                let Some(path) = self.info.recording.take() else {
                    return;
                };
                let error = match done {
                    Ok(r) => {
                        info!(id = self.info.id, seconds = r.seconds, "recording complete");
                        None
                    }
                    Err(e) => {
                        // The error names the file, and the file the peer.
                        warn!(id = self.info.id, "recording failed");
                        debug!("recording failed: {e}");
                        Some(e.to_string())
                    }
                };
                self.publish_state();
                let _ = self.env.events.send(Event::Recording {
                    id: self.info.id,
                    path,
                    active: false,
                    error,
                });
            }
        }
    }

    async fn finish(mut self, end: CallEnd) {
        // A 2xx still on its way (the answer to a re-INVITE we gave up
        // on, a late fork) finds the call gone: what it needs is kept,
        // from now on, as the rest of this may take seconds.
        let memo = self.memo();
        let call_id = memo
            .dialog
            .as_ref()
            .map(|d| d.id().call_id.clone())
            .or_else(|| self.placed.as_ref().map(|(cid, _)| cid.clone()));
        if let Some(cid) = call_id {
            self.env.orphans.call_ended(Instant::now(), &cid, memo);
        }
        if let Some(m) = self.media.take() {
            // Returns once the media thread closed its audio (a WAV
            // recording is complete before the call is reported over).
            m.stop().await;
        }
        // The media thread dropped the recorder's tap: wait (briefly) for
        // its writer to finish the file, so the UI hears of it first.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.info.recording.is_some() {
            match tokio::time::timeout_at(deadline, self.reports.recv()).await {
                Ok(Some(r)) => self.on_media_report(r),
                _ => break,
            }
        }
        self.info.recording = None;
        self.info.conference = None;
        self.info.state = CallState::Ended;
        info!(id = self.info.id, ?end, "call ended");
        let _ = self.env.events.send(Event::CallEnded {
            call: self.info.clone(),
            end: end.clone(),
        });
        let _ = self.env.ended.send((self.info.clone(), end)).await;
        // 2xx answers that reached this call while it wound down (or
        // that it set aside while its BYE waited) get their ACK now, and
        // requests it set aside their 481.
        let mut left = std::mem::take(&mut self.deferred);
        // Closed first: what the engine routes here from now on comes
        // back to it (and so to the orphans) instead of being lost.
        self.input.close();
        while let Ok(input) = self.input.try_recv() {
            left.push_back(input);
        }
        for input in left {
            match input {
                CallInput::Stray(resp) => orphan::settle(&self.env, &resp, None),
                // A request the call no longer answers: its dialog is
                // gone (§12.2.2).
                CallInput::Request { id, request } if request.method != Method::Ack => {
                    let _ = self.env.endpoint.respond(id, response(&request, 481)).await;
                }
                _ => {}
            }
        }
    }
}

/// A reliable provisional response retransmitted until PRACKed
/// (RFC 3262 §3: T1, doubling up to T2; give up after 64*T1).
struct PrackWait {
    response: Response,
    /// It carries SDP (no 2xx until its PRACK, RFC 3262 §3).
    has_sdp: bool,
    /// The RAck that acknowledges it: RSeq, CSeq number.
    rack: (u32, u32),
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

impl PrackWait {
    fn new(response: Response, rseq: u32, invite: &Request, has_sdp: bool) -> Self {
        let cseq = invite.headers.cseq().ok().flatten().map_or(0, |c| c.seq);
        let t1 = Duration::from_millis(500);
        Self {
            response,
            has_sdp,
            rack: (rseq, cseq),
            next: Instant::now() + t1,
            interval: t1,
            give_up: Instant::now() + t1 * 64,
        }
    }

    /// No more retransmissions (a final response went out).
    fn stop(&mut self) {
        let far = Instant::now() + Duration::from_secs(3600);
        self.next = far;
        self.give_up = far;
    }

    /// Whether `rack` (`1 314 INVITE`) acknowledges this response.
    fn matches(&self, rack: &str) -> bool {
        let mut it = rack.split_whitespace();
        let rseq = it.next().and_then(|v| v.parse::<u32>().ok());
        let cseq = it.next().and_then(|v| v.parse::<u32>().ok());
        let method = it.next();
        rseq == Some(self.rack.0)
            && cseq == Some(self.rack.1)
            && method.is_some_and(|m| m.eq_ignore_ascii_case("INVITE"))
    }
}

/// An RFC 4028 session timer.
#[derive(Debug, Clone, Copy)]
struct SessionTimer {
    interval: Duration,
    /// We send the refreshes (else we expect them).
    we_refresh: bool,
    /// Next refresh to send, or the deadline for the peer's.
    due: Instant,
}

impl SessionTimer {
    fn new(interval_s: u32, we_refresh: bool) -> Self {
        let interval = Duration::from_secs(u64::from(interval_s.max(MIN_SE)));
        let mut t = Self {
            interval,
            we_refresh,
            due: Instant::now(),
        };
        t.reset();
        t
    }

    /// §10: the refresher refreshes at half the interval; the other side
    /// gives up at the interval minus min(32 s, a third of it).
    fn reset(&mut self) {
        let wait = if self.we_refresh {
            self.interval / 2
        } else {
            self.interval - (self.interval / 3).min(Duration::from_secs(32))
        };
        self.due = Instant::now() + wait;
    }

    /// From a Session-Expires header (`1800;refresher=uac`), seen by `us`
    /// (`uac` or `uas` in this transaction).
    fn from_header(value: &str, us: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let secs: u32 = parts.next()?.trim().parse().ok()?;
        let refresher = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("refresher"))
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        Some(Self::new(secs, refresher.as_deref() == Some(us)))
    }
}

enum Exchange {
    /// A 2xx.
    Answered(Response),
    /// A non-2xx final response.
    Final(Response),
    /// Over without a usable response (cancelled, failed).
    Ended(CallEnd),
}

/// How a [`Call::pause`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pause {
    /// The time ran out.
    Elapsed,
    /// The call is ending (the user or the peer hung up).
    Ending,
    /// The peer's offer came in, to be answered first.
    PeerOffer,
}

/// The next input: one deferred while we waited, else from the channel.
async fn next_input(
    deferred: &mut std::collections::VecDeque<CallInput>,
    input: &mut mpsc::Receiver<CallInput>,
) -> Option<CallInput> {
    match deferred.pop_front() {
        Some(i) => Some(i),
        None => input.recv().await,
    }
}

/// The next event about the call made for a REFER, or never.
async fn next_referred(
    referred: &mut Option<(u32, tokio::sync::broadcast::Receiver<Event>)>,
) -> Option<Event> {
    match referred {
        Some((_, rx)) => loop {
            match rx.recv().await {
                Ok(ev) => return Some(ev),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        },
        None => std::future::pending().await,
    }
}

/// Escapes a header value for a URI's `?name=value` part (RFC 3261
/// §25.1 `hvalue`): everything but unreserved and a few marks.
fn escape_header_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 2);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/?:+$".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a message's Allow lists `method`.
fn allows(h: &sip_message::Headers, method: &str) -> bool {
    h.get_all("Allow")
        .any(|v| v.split(',').any(|m| m.trim().eq_ignore_ascii_case(method)))
}

fn failed(e: &EndpointError) -> CallEnd {
    CallEnd::Failed {
        status: None,
        reason: e.to_string(),
    }
}

/// How a non-2xx final response ends an outgoing call.
fn end_for_status(resp: &Response) -> CallEnd {
    let code = resp.status.as_u16();
    let reason = resp.reason.clone();
    match code {
        486 | 600 | 603 => CallEnd::Rejected {
            status: code,
            reason,
        },
        487 => CallEnd::Cancelled,
        _ => CallEnd::Failed {
            status: Some(code),
            reason: format!("{code} {reason}"),
        },
    }
}

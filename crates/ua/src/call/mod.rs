//! Calls: one task per call drives its INVITE dialog (RFC 3261 §13-15)
//! through the [`Endpoint`] and its media through [`rtp`]; the engine
//! routes commands and in-dialog requests to it by call id and Call-ID.
//!
//! ```text
//!  outgoing:  Dialing ──180──> Ringing ──183+SDP──> EarlyMedia ──2xx──> Connected
//!               │  (401/407: answer once; 3xx: follow Contact)      ACK │   ^  hold/resume
//!               └──── 4xx-6xx / CANCEL / timeout ───> Ended            v   │  (re-INVITE,
//!  incoming:  Incoming ──answer: 200+SDP──> (ACK) ──────────────> Connected   §14)
//!               └── reject 486/603 / caller CANCEL (487) ──> Ended      │
//!  Connected ── BYE sent or received ──> Ended (history records every call)
//! ```
//!
//! Ghost calls (an INVITE sent straight to our port, bypassing the
//! registrar) are refused before anything rings: the Request-URI must
//! name one of our contacts, and an account with a proxy only takes
//! calls from that proxy.

mod orphan;
mod rtp;
mod session;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use sip_core::TransactionId;
use sip_message::{Request, Response, Uri};
use tokio::sync::{broadcast, mpsc};
use tracing::debug;

use crate::api::{CallEnd, CallInfo, CallState, Event};
use crate::dns::{SipResolver, Target};
use crate::endpoint::Endpoint;
use crate::transport::Proto;

pub use media::device::DeviceSelection;
pub use media::processing::ProcessingConfig;
pub(crate) use orphan::settle as settle_orphan;
pub use rtp::RtpError;
pub(crate) use session::{CallCommand, CallInput, TransferDial};

/// Calls ringing or connected at once, at most (call waiting included).
pub const MAX_CALLS: usize = 8;

/// Errors of call commands.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No call with that id (it ended, or never was).
    #[error("no call {0}")]
    NoSuchCall(u32),
    /// The address to call does not parse as a SIP URI.
    #[error("not a SIP address: {0:?}")]
    BadUri(String),
    /// Too many calls at once.
    #[error("too many calls at once (limit {MAX_CALLS})")]
    TooManyCalls,
    /// The command does not fit the call's state (e.g. answer an outgoing call).
    #[error("call {id}: cannot {what} now")]
    WrongState {
        /// The call.
        id: u32,
        /// What was asked.
        what: &'static str,
    },
    /// A WAV file to play or record could not be opened.
    #[error(transparent)]
    Audio(#[from] media::device::AudioDeviceError),
    /// The call's audio processing could not start.
    #[error(transparent)]
    Processing(#[from] media::call_audio::CallAudioError),
    /// A recording could not start (folder missing or not writable).
    #[error(transparent)]
    Recording(#[from] media::recorder::RecorderError),
    /// The call is not in a local conference.
    #[error("call {0} is not in a conference")]
    NotInConference(u32),
    /// The conference mixes as many calls as it can.
    #[error("the conference is full ({} calls)", media::call_audio::MAX_LEGS + 1)]
    ConferenceFull,
}

/// Where a call's audio comes from and goes to.
#[derive(Debug, Clone, Default)]
pub enum AudioChoice {
    /// Silence out, nothing kept (tests, servers without sound).
    #[default]
    Null,
    /// Play a WAV file as the microphone; record what we hear to a WAV file.
    Files {
        /// Played to the peer (silence after its end).
        play: Option<PathBuf>,
        /// What the peer sends, as a 48 kHz mono WAV (a directory gets
        /// `call-<id>.wav` per call).
        record: Option<PathBuf>,
        /// Processing stages. Off for files in normal use (they are not
        /// acoustic: no echo, no room noise); on to measure its cost.
        processing: media::processing::ProcessingConfig,
    },
    /// The sound devices (the app): cpal, with echo cancellation, noise
    /// suppression and gain as configured.
    Device {
        /// Which microphone and speaker (defaults when unset).
        selection: media::device::DeviceSelection,
        /// Processing stages.
        processing: media::processing::ProcessingConfig,
    },
}

/// An account as a call needs it.
#[derive(Debug, Clone)]
pub(crate) struct AccountCtx {
    pub(crate) name: String,
    /// Address of record (From of our calls).
    pub(crate) aor: Uri,
    pub(crate) display_name: Option<String>,
    pub(crate) auth_user: String,
    pub(crate) realm: Option<String>,
    /// Only for answering challenges; never logged or sent.
    pub(crate) password: Option<String>,
    /// Outbound proxy (first hop of every request, `;lr` Route).
    pub(crate) proxy: Option<Uri>,
    pub(crate) transport: store::Transport,
}

/// What every call task shares.
#[derive(Clone)]
pub(crate) struct CallEnv {
    pub(crate) endpoint: Endpoint,
    pub(crate) resolver: SipResolver,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) media: media::sdp::MediaConfig,
    /// Calls report their end here (engine removes them, writes history).
    pub(crate) ended: mpsc::Sender<(CallInfo, CallEnd)>,
    /// Calls asked for by a REFER (we are the transferee).
    pub(crate) transfers: mpsc::Sender<TransferDial>,
    /// Ended calls and fork dialogs, for 2xx answers no call takes.
    pub(crate) orphans: std::sync::Arc<orphan::Orphans>,
}

/// The engine's table of calls.
#[derive(Default)]
pub(crate) struct Calls {
    next_id: u32,
    calls: HashMap<u32, CallSlot>,
    /// The local conference, when calls are merged (one at a time).
    conference: Option<Conference>,
    next_conference: u32,
}

/// A local conference: one call's media mixes (the host), the others'
/// swap audio with it (legs). See `media::conference`.
///
/// ```text
///  two calls ──merge──> host + 1 leg ──merge a third──> host + 2 legs
///      ^                  │   │                           │
///      └── split / hold / hang-up either (dissolve) ──────┘ leg leaves:
///          the one split off is held, the other talks on      host + 1 leg
/// ```
#[derive(Debug, Clone, PartialEq)]
struct Conference {
    id: u32,
    host: u32,
    legs: Vec<u32>,
}

impl Conference {
    fn has(&self, id: u32) -> bool {
        self.host == id || self.legs.contains(&id)
    }

    fn members(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.host).chain(self.legs.iter().copied())
    }
}

struct CallSlot {
    call_id: String,
    /// The INVITE server transaction of an incoming call, for CANCEL.
    invite_tx: Option<TransactionId>,
    input: mpsc::Sender<CallInput>,
}

impl Calls {
    fn new_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// Number of live calls.
    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }

    /// Starts an outgoing call.
    pub(crate) fn dial(
        &mut self,
        env: &CallEnv,
        account: AccountCtx,
        target: &str,
        audio: AudioChoice,
    ) -> Result<u32, CallError> {
        let uri = parse_target(target, &account)?;
        self.dial_uri(env, account, uri, audio, Vec::new())
    }

    /// Starts an outgoing call to `uri` with extra INVITE headers.
    pub(crate) fn dial_uri(
        &mut self,
        env: &CallEnv,
        account: AccountCtx,
        uri: Uri,
        audio: AudioChoice,
        headers: Vec<(String, String)>,
    ) -> Result<u32, CallError> {
        if self.calls.len() >= MAX_CALLS {
            return Err(CallError::TooManyCalls);
        }
        let id = self.new_id();
        let (input, rx) = mpsc::channel(64);
        let call_id = session::spawn_outgoing(env.clone(), id, account, uri, audio, rx, headers)?;
        self.calls.insert(
            id,
            CallSlot {
                call_id,
                invite_tx: None,
                input,
            },
        );
        Ok(id)
    }

    /// Passes a user command to call `id`. In a conference, holding a
    /// call takes it out first (the others talk on), and mute is the
    /// conference's: every member gets it (the host's is the one heard).
    pub(crate) fn user_command(&mut self, id: u32, cmd: CallCommand) -> Result<(), CallError> {
        let member = self.conference.as_ref().is_some_and(|c| c.has(id));
        match cmd {
            CallCommand::Hold(true) if member => return self.split(id),
            CallCommand::Mute(on) if member => {
                let members: Vec<u32> = self.conference.iter().flat_map(|c| c.members()).collect();
                for m in members.into_iter().filter(|&m| m != id) {
                    let _ = self.send(m, CallCommand::Mute(on));
                }
            }
            _ => {}
        }
        self.send(id, cmd)
    }

    /// Passes a command to call `id` as it is.
    pub(crate) fn command(&self, id: u32, cmd: CallCommand) -> Result<(), CallError> {
        self.send(id, cmd)
    }

    fn send(&self, id: u32, cmd: CallCommand) -> Result<(), CallError> {
        let slot = self.calls.get(&id).ok_or(CallError::NoSuchCall(id))?;
        slot.input
            .try_send(CallInput::Command(cmd))
            .map_err(|_| CallError::NoSuchCall(id))
    }

    /// A call ended: forget it. If it was in the conference, the rest
    /// carry on (its media link is gone already); a conference of one is
    /// no conference.
    pub(crate) fn remove(&mut self, id: u32) {
        self.calls.remove(&id);
        if self.conference.as_ref().is_some_and(|c| c.has(id)) {
            self.leave(id, false);
        }
    }

    /// Merges calls `a` and `b` (both answered, per `states`) into the
    /// local conference: a new one hosted by the call we talk in, or the
    /// existing one that either is in already. Returns its id.
    pub(crate) fn merge(
        &mut self,
        a: u32,
        b: u32,
        states: &HashMap<u32, CallInfo>,
    ) -> Result<u32, CallError> {
        for id in [a, b] {
            if !self.calls.contains_key(&id) {
                return Err(CallError::NoSuchCall(id));
            }
            let answered = states
                .get(&id)
                .is_some_and(|c| matches!(c.state, CallState::Connected | CallState::OnHold));
            if !answered {
                return Err(CallError::WrongState {
                    id,
                    what: "join a conference",
                });
            }
        }
        if a == b {
            return Err(CallError::WrongState {
                id: a,
                what: "be merged with itself",
            });
        }
        let (host, joining, conf_id) = match &self.conference {
            Some(c) if c.has(a) && c.has(b) => return Ok(c.id),
            Some(c) if c.has(a) || c.has(b) => {
                if c.legs.len() >= media::call_audio::MAX_LEGS {
                    return Err(CallError::ConferenceFull);
                }
                (c.host, if c.has(a) { b } else { a }, c.id)
            }
            Some(_) => {
                return Err(CallError::WrongState {
                    id: b,
                    what: "start a second conference",
                })
            }
            None => {
                // The call we talk in mixes: its audio is open and live.
                let held = |id: u32| states.get(&id).is_some_and(|c| c.held_by_us);
                let (host, joining) = if held(a) && !held(b) { (b, a) } else { (a, b) };
                self.next_conference = self.next_conference.wrapping_add(1).max(1);
                (host, joining, self.next_conference)
            }
        };
        let (h, l) = media::conference::link();
        self.send(
            host,
            CallCommand::Conference {
                id: conf_id,
                role: std::sync::Mutex::new(media::conference::Role::Host(h)),
            },
        )?;
        self.send(
            joining,
            CallCommand::Conference {
                id: conf_id,
                role: std::sync::Mutex::new(media::conference::Role::Leg(l)),
            },
        )?;
        let conf = self.conference.get_or_insert_with(|| Conference {
            id: conf_id,
            host,
            legs: Vec::new(),
        });
        conf.legs.push(joining);
        Ok(conf_id)
    }

    /// Takes call `id` out of the conference and holds it; the others
    /// talk on (the host's leaving ends the conference: each call is
    /// plain again, one of them talking, the rest held).
    pub(crate) fn split(&mut self, id: u32) -> Result<(), CallError> {
        if !self.conference.as_ref().is_some_and(|c| c.has(id)) {
            return Err(CallError::NotInConference(id));
        }
        self.leave(id, true);
        Ok(())
    }

    /// Call `id` leaves the conference (held when `hold`).
    fn leave(&mut self, id: u32, hold: bool) {
        let Some(mut conf) = self.conference.take() else {
            return;
        };
        if hold {
            let _ = self.send(id, CallCommand::LeaveConference);
            let _ = self.send(id, CallCommand::Hold(true));
        }
        if conf.host != id && conf.legs.len() > 1 {
            conf.legs.retain(|&l| l != id);
            self.conference = Some(conf);
            return;
        }
        // Dissolve: every other member is a plain call again; one talks.
        let rest: Vec<u32> = conf.members().filter(|&m| m != id).collect();
        for (i, &m) in rest.iter().enumerate() {
            let _ = self.send(m, CallCommand::LeaveConference);
            if i > 0 {
                let _ = self.send(m, CallCommand::Hold(true));
            }
        }
    }

    /// Ids of live calls.
    pub(crate) fn ids(&self) -> Vec<u32> {
        self.calls.keys().copied().collect()
    }

    /// A request for an existing call (by Call-ID); returns it back when
    /// no call has that Call-ID.
    pub(crate) fn route(&self, call_id: &str, input: CallInput) -> Option<CallInput> {
        match self.calls.values().find(|s| s.call_id == call_id) {
            Some(slot) => match slot.input.try_send(input) {
                Ok(()) => None,
                // The call is winding down: the caller handles it.
                Err(mpsc::error::TrySendError::Closed(input)) => Some(input),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    debug!("call task busy; dropping an input (the peer retransmits)");
                    None
                }
            },
            None => Some(input),
        }
    }

    /// Whether a call has this Call-ID (for INVITE with Replaces).
    pub(crate) fn has_call_id(&self, call_id: &str) -> bool {
        self.calls.values().any(|s| s.call_id == call_id)
    }

    /// The id of the call with this Call-ID.
    pub(crate) fn id_of(&self, call_id: &str) -> Option<u32> {
        self.calls
            .iter()
            .find(|(_, s)| s.call_id == call_id)
            .map(|(id, _)| *id)
    }

    /// The caller CANCELled an incoming INVITE.
    pub(crate) fn cancelled(&self, tx: TransactionId) {
        if let Some(slot) = self.calls.values().find(|s| s.invite_tx == Some(tx)) {
            let _ = slot.input.try_send(CallInput::Cancelled);
        }
    }

    /// A new INVITE for `account`: rings (or is refused, by the caller of
    /// this, before). Returns the call id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn incoming(
        &mut self,
        env: &CallEnv,
        account: AccountCtx,
        tx: TransactionId,
        request: Request,
        source: SocketAddr,
        proto: Proto,
        auto_answer: bool,
        audio: AudioChoice,
    ) -> Option<u32> {
        let call_id = request.headers.get("Call-ID")?.trim().to_owned();
        let id = self.new_id();
        let (input, rx) = mpsc::channel(64);
        session::spawn_incoming(
            env.clone(),
            id,
            account,
            tx,
            request,
            Target {
                addr: source,
                proto,
            },
            auto_answer,
            audio,
            rx,
        );
        self.calls.insert(
            id,
            CallSlot {
                call_id,
                invite_tx: Some(tx),
                input,
            },
        );
        Some(id)
    }
}

/// Turns what the user typed into the Request-URI: a full SIP URI, or a
/// user/number at the account's domain (`bob`, `+15551234`).
fn parse_target(target: &str, account: &AccountCtx) -> Result<Uri, CallError> {
    let t = target.trim();
    if t.is_empty() || t.len() > 512 {
        return Err(CallError::BadUri(t.to_owned()));
    }
    let host = || match &account.aor {
        Uri::Sip(s) => Ok(s.host.to_string()),
        _ => Err(CallError::BadUri(t.to_owned())),
    };
    let text = if t.starts_with("sip:") || t.starts_with("sips:") {
        t.to_owned()
    } else if let Some(number) = t.strip_prefix("tel:") {
        // RFC 3261 §19.1.6: a telephone number goes to the account's
        // domain as `user=phone`; RFC 3966 visual separators are dropped
        // and its parameters (phone-context, ext) are not carried.
        let digits: String = number
            .split(';')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
            .collect();
        let ok = !digits.is_empty()
            && digits.len() <= 32
            && digits.chars().enumerate().all(|(i, c)| {
                c.is_ascii_digit() || "*#ABCDabcd".contains(c) || (c == '+' && i == 0)
            });
        if !ok {
            return Err(CallError::BadUri(t.to_owned()));
        }
        format!("sip:{digits}@{};user=phone", host()?)
    } else {
        let user: String = t
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        format!("sip:{user}@{}", host()?)
    };
    match text.parse::<Uri>() {
        Ok(u @ Uri::Sip(_)) => Ok(u),
        _ => Err(CallError::BadUri(t.to_owned())),
    }
}

/// Whether an INVITE's Request-URI names `contact_user` (our Contact's
/// user part): RFC 3261 §8.2.2.1 lets a UAS refuse what is not for it,
/// and a call that skipped the registrar names someone else.
pub(crate) fn addressed_to(request: &Request, user: &str) -> bool {
    match &request.uri {
        Uri::Sip(s) => s.user.as_deref() == Some(user),
        _ => false,
    }
}

/// Whether an INVITE with Replaces may take over a call of ours in
/// `state` (RFC 3891 §3): `None` yes, else the status to refuse it with.
/// An early dialog we did not start cannot be replaced (481: pickup goes
/// to the caller), and `early-only` never takes an answered call (486).
pub(crate) fn replaces_refusal(state: CallState, early_only: bool) -> Option<u16> {
    match state {
        CallState::Incoming => Some(481),
        CallState::Connected | CallState::OnHold | CallState::Transferring if early_only => {
            Some(486)
        }
        CallState::Ended => Some(481),
        _ => None,
    }
}

/// The peer's address in `ip` literal form for SDP and Contact hosts.
pub(crate) fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// A response to `request` with `code`.
pub(crate) fn response(request: &Request, code: u16) -> Response {
    let status = sip_message::StatusCode::new(code)
        .or_else(|| sip_message::StatusCode::new(500))
        .expect("500 is valid");
    Response::for_request(request, status)
}

#[cfg(test)]
mod tests {
    fn ctx() -> AccountCtx {
        AccountCtx {
            name: "work".into(),
            aor: "sip:alice@pbx.example.com".parse().unwrap(),
            display_name: None,
            auth_user: "alice".into(),
            realm: None,
            password: None,
            proxy: None,
            transport: store::Transport::Udp,
        }
    }

    #[test]
    fn tel_numbers_and_names_go_to_the_account_domain() {
        let t = |s: &str| parse_target(s, &ctx()).map(|u| u.to_string());
        assert_eq!(
            t("tel:+1-555-123.4567").unwrap(),
            "sip:+15551234567@pbx.example.com;user=phone"
        );
        assert_eq!(
            t("tel:7042;phone-context=example.com").unwrap(),
            "sip:7042@pbx.example.com;user=phone"
        );
        assert_eq!(t("bob").unwrap(), "sip:bob@pbx.example.com");
        assert_eq!(
            t("sip:carol@192.0.2.7:5070").unwrap(),
            "sip:carol@192.0.2.7:5070"
        );
        for bad in ["tel:", "tel:12+3", "tel:xyz", "tel:-", "tel:;x=1"] {
            assert!(
                matches!(parse_target(bad, &ctx()), Err(CallError::BadUri(_))),
                "{bad}"
            );
        }
    }
    use super::*;

    #[test]
    fn replaces_takes_only_what_rfc_3891_allows() {
        // Our ringing outgoing call: picked up elsewhere.
        for s in [
            CallState::Dialing,
            CallState::Ringing,
            CallState::EarlyMedia,
        ] {
            assert_eq!(replaces_refusal(s, true), None, "{s:?}");
        }
        // A call ringing here was not started by us: 481.
        assert_eq!(replaces_refusal(CallState::Incoming, false), Some(481));
        assert_eq!(replaces_refusal(CallState::Incoming, true), Some(481));
        // Answered: attended transfer may replace it, pickup (early-only) not.
        assert_eq!(replaces_refusal(CallState::Connected, false), None);
        assert_eq!(replaces_refusal(CallState::OnHold, true), Some(486));
        assert_eq!(replaces_refusal(CallState::Connected, true), Some(486));
        assert_eq!(replaces_refusal(CallState::Ended, false), Some(481));
    }
}

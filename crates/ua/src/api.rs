//! The engine's public types. They cross the IPC boundary to the UI, so
//! each derives `ts_rs::TS`; the TypeScript files under
//! `ui/src/lib/bindings/` are generated from here by `cargo test` and
//! committed (CI fails when they drift).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// SIP transport as the UI shows and picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum TransportKind {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
}

impl From<store::Transport> for TransportKind {
    fn from(t: store::Transport) -> Self {
        match t {
            store::Transport::Udp => Self::Udp,
            store::Transport::Tcp => Self::Tcp,
            store::Transport::Tls => Self::Tls,
        }
    }
}

impl From<TransportKind> for store::Transport {
    fn from(t: TransportKind) -> Self {
        match t {
            TransportKind::Udp => Self::Udp,
            TransportKind::Tcp => Self::Tcp,
            TransportKind::Tls => Self::Tls,
        }
    }
}

/// Where an account stands with its registrar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum RegistrationState {
    /// The built-in local account: no registrar, direct calls by address.
    Local,
    /// Turned off by the user.
    Disabled,
    /// Registration is off for this account (calls go out via its proxy).
    NotRegistering,
    /// Not registered (yet); no attempt has been made.
    Unregistered,
    /// A REGISTER is in flight.
    Registering,
    /// The registrar accepted us until `expires_in_s` from the event.
    Registered {
        /// Seconds the binding lasts.
        expires_in_s: u32,
    },
    /// The last attempt failed; `reason` is what the user sees.
    Failed {
        /// Status line or transport error, without secrets.
        reason: String,
    },
}

/// One account as the UI sees it: never a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountInfo {
    /// Unique name.
    pub name: String,
    /// Address of record.
    pub uri: String,
    /// Display name, if set.
    pub display_name: Option<String>,
    /// Transport.
    pub transport: TransportKind,
    /// Whether this is the built-in local account.
    pub local: bool,
    /// Registration state.
    pub registration: RegistrationState,
}

/// What the user fills in to add an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountInput {
    /// Unique name.
    pub name: String,
    /// Address of record, `sip:user@domain`.
    pub uri: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Digest user when not the URI's user.
    pub auth_user: Option<String>,
    /// Outbound proxy URI.
    pub proxy: Option<String>,
    /// Transport.
    pub transport: TransportKind,
    /// Whether to register.
    pub register: bool,
    /// The PBX's call-pickup code (`*8`, `**`), dialled followed by the
    /// ringing extension when the server hides the ringing call.
    #[serde(default)]
    pub pickup_code: Option<String>,
    /// Digest realm to answer; any realm the server names when unset.
    #[serde(default)]
    #[ts(optional)]
    pub realm: Option<String>,
    /// Registration lifetime asked for, in seconds (10-86400; 600 when
    /// unset).
    #[serde(default)]
    #[ts(optional)]
    pub expires: Option<u32>,
    /// Send an OPTIONS to the registrar this often while registered, in
    /// seconds (5-3600), to notice one that restarted and forgot us (over
    /// UDP nothing else does); 0 or unset: off.
    #[serde(default)]
    #[ts(optional)]
    pub options_keepalive_secs: Option<u32>,
}

/// A snapshot of the engine for a UI that just (re)connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct EngineStatus {
    /// Parley's version.
    pub version: String,
    /// Accounts in the user's order; the local account when none is set up.
    pub accounts: Vec<AccountInfo>,
    /// Calls ringing or connected now.
    pub calls: Vec<CallInfo>,
}

/// Which way a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum CallDirection {
    /// We called.
    Outgoing,
    /// We were called.
    Incoming,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CallState {
    /// INVITE sent, nothing back yet (or only 100 Trying).
    Dialing,
    /// The peer's phone rings (180).
    Ringing,
    /// The peer sends audio before answering (183 with SDP).
    EarlyMedia,
    /// An incoming call rings here.
    Incoming,
    /// Answered; audio flows.
    Connected,
    /// Answered, and on hold (by us, the peer or both).
    OnHold,
    /// Being transferred.
    Transferring,
    /// Over (see [`Event::CallEnded`]).
    Ended,
}

/// A call as the UI and the CLI see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallInfo {
    /// Engine-wide id of the call.
    pub id: u32,
    /// The account it belongs to.
    pub account: String,
    /// Which way.
    pub direction: CallDirection,
    /// The peer's address (`sip:bob@host`).
    pub peer_uri: String,
    /// The peer's display name, when it sent one.
    pub peer_name: Option<String>,
    /// Where the call stands.
    pub state: CallState,
    /// We put the call on hold.
    pub held_by_us: bool,
    /// The peer put the call on hold.
    pub held_by_peer: bool,
    /// Our microphone is muted.
    pub muted: bool,
    /// The negotiated codec, once known (`opus/48000`).
    pub codec: Option<String>,
    /// Unix ms when the call started (INVITE sent or received).
    #[ts(type = "number")]
    pub started_ms: i64,
    /// Unix ms when it was answered.
    #[ts(type = "number | null")]
    pub answered_ms: Option<i64>,
    /// The local conference this call is mixed in (calls with the same
    /// id hear each other and us), if any.
    #[serde(default)]
    pub conference: Option<u32>,
    /// The WAV file this call is being recorded to, while it is.
    #[serde(default)]
    pub recording: Option<String>,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[ts(export)]
pub enum CallEnd {
    /// Answered, then hung up.
    HungUp {
        /// We hung up (not the peer).
        by_us: bool,
    },
    /// Answered, then handed to a third party (REFER, RFC 3515).
    Transferred,
    /// We gave up before an answer (CANCEL), or the caller did.
    Cancelled,
    /// Not answered in time, or the caller gave up on an incoming call.
    Missed,
    /// The callee refused (486, 603, ...), or we did.
    Rejected {
        /// The SIP status.
        status: u16,
        /// What the user sees.
        reason: String,
    },
    /// Signalling or network failure.
    Failed {
        /// The SIP status, when a response said so.
        status: Option<u16>,
        /// What the user sees.
        reason: String,
    },
}

/// Call quality, reported every few seconds while connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallQuality {
    /// Packets lost, in percent, as we received them.
    pub loss_pct: f32,
    /// Interarrival jitter in ms.
    pub jitter_ms: f32,
    /// Round-trip time in ms, once RTCP measured it.
    pub rtt_ms: Option<f32>,
    /// Estimated MOS (1-4.5).
    pub mos: f32,
}

/// Everything the engine reports, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(export)]
pub enum Event {
    /// The set of accounts changed (added, removed, edited).
    AccountsChanged {
        /// The new list.
        accounts: Vec<AccountInfo>,
    },
    /// One account's registration changed.
    Registration {
        /// Account name.
        account: String,
        /// New state.
        state: RegistrationState,
    },
    /// A call rings here: answer, reject or let it ring.
    IncomingCall {
        /// The call.
        call: CallInfo,
    },
    /// A call changed (state, hold, mute, codec).
    CallState {
        /// The call.
        call: CallInfo,
    },
    /// A call is over; it is in the history.
    CallEnded {
        /// The call as it last stood.
        call: CallInfo,
        /// How it ended.
        end: CallEnd,
    },
    /// Live quality of a connected call.
    CallQuality {
        /// The call id.
        id: u32,
        /// The numbers.
        quality: CallQuality,
    },
    /// Microphone and speaker levels of a call (about 10 per second).
    AudioLevel {
        /// The call id.
        id: u32,
        /// Microphone RMS in dBFS (before mute, so the UI can warn).
        input_db: f32,
        /// Speaker RMS in dBFS.
        output_db: f32,
    },
    /// The sound test of the settings started, moved on or stopped.
    AudioTest {
        /// Where it stands.
        state: crate::settings::AudioTestState,
    },
    /// The microphone's level during the sound test (about 20 a second).
    AudioTestLevel {
        /// RMS in dBFS (-100 is silence).
        rms_db: f32,
        /// Peak in dBFS.
        peak_db: f32,
    },
    /// A call's recording started (`active`) or stopped; once stopped the
    /// file is complete (up to the failure, when `error` says one ended it).
    Recording {
        /// The call id.
        id: u32,
        /// The WAV file.
        path: String,
        /// Recording now.
        active: bool,
        /// Why it stopped early (disk full, file gone), when it failed.
        error: Option<String>,
    },
    /// The peer sent a DTMF digit (RFC 4733 or SIP INFO).
    Dtmf {
        /// The call id.
        id: u32,
        /// `0-9`, `*`, `#`, `A-D`.
        digit: String,
    },
    /// A chat message arrived; it is already stored.
    MessageReceived {
        /// The message.
        message: crate::chat::ChatMessage,
    },
    /// One of our messages changed state (sending, sent, failed).
    MessageStatus {
        /// The message as stored now.
        message: crate::chat::ChatMessage,
    },
    /// The peer started or stopped typing (RFC 3994).
    Composing {
        /// Account name.
        account: String,
        /// The peer's URI.
        peer: String,
        /// Typing now.
        active: bool,
    },
    /// A watched contact's presence.
    Presence {
        /// Account name.
        account: String,
        /// The watched URI.
        uri: String,
        /// How to show it.
        availability: crate::presence::Availability,
        /// Its note, if any.
        note: Option<String>,
    },
    /// Our presence was published (or the attempt failed).
    PresencePublished {
        /// Account name.
        account: String,
        /// The server holds our state.
        ok: bool,
        /// Why not, when it failed.
        reason: Option<String>,
    },
    /// A subscription (presence, dialog, message-summary) changed.
    WatchStatus {
        /// Account name.
        account: String,
        /// The watched URI.
        uri: String,
        /// Event package.
        package: String,
        /// Accepted by the notifier.
        active: bool,
        /// Why not, when it failed or ended.
        reason: Option<String>,
    },
    /// Voicemail waiting indication (RFC 3842).
    Mwi {
        /// Account name.
        account: String,
        /// Messages are waiting.
        waiting: bool,
        /// New voice messages.
        new: u32,
        /// Old voice messages.
        old: u32,
    },
    /// A busy lamp (dialog event package) changed.
    Blf {
        /// Account name.
        account: String,
        /// The watched URI.
        uri: String,
        /// Its line.
        state: crate::presence::LineState,
    },
    /// A watcher of our presence who is not a contact started (`waiting`)
    /// or stopped waiting for the user to allow or block them.
    WatcherPending {
        /// Account name.
        account: String,
        /// The watcher's address of record.
        watcher: String,
        /// Waits now; false once allowed, blocked or gone.
        waiting: bool,
    },
    /// The call history changed (a call was recorded, deleted, marked seen).
    HistoryChanged {
        /// What changed.
        change: crate::history::HistoryChange,
        /// Missed calls not seen yet, after the change: the badge.
        unseen_missed: u32,
    },
}

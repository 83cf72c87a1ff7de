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
}

/// A snapshot of the engine for a UI that just (re)connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct EngineStatus {
    /// Parley's version.
    pub version: String,
    /// Accounts in the user's order; the local account when none is set up.
    pub accounts: Vec<AccountInfo>,
}

/// Everything the engine reports, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
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
}

//! Parley's user agent: the one engine API that the desktop shell and
//! `parley-cli` both drive. Commands go in through [`Engine`]'s methods;
//! everything that happens comes out as an ordered stream of [`Event`]s.
//!
//! This crate is the only place with sockets and tokio; the protocol state
//! lives in `sip-core` and is driven from one task (see `engine`).

pub mod api;
pub mod call;
pub mod chat;
pub mod dns;
pub mod endpoint;
mod engine;
pub mod history;
mod netwatch;
pub mod presence;
pub mod registration;
mod ringing;
pub mod settings;
pub mod trace;
pub mod transport;
mod util;

pub use api::{AccountInfo, AccountInput, EngineStatus, Event, RegistrationState, TransportKind};
pub use engine::{Engine, EngineError, EngineOptions, SipOptions, LOCAL_ACCOUNT};

/// The binaries' `tracing` filter: `PARLEY_LOG` (errors only when unset),
/// minus the sound system's routine noise unless the user names it
/// ([`media::device::quiet_log_directives`]).
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    let user = std::env::var("PARLEY_LOG").unwrap_or_default();
    media::device::quiet_log_directives(&user)
        .filter_map(|d| d.parse().ok())
        .fold(
            tracing_subscriber::EnvFilter::from_env("PARLEY_LOG"),
            |f, d| f.add_directive(d),
        )
}

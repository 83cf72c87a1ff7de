//! Sans-IO SIP protocol engine: transactions (RFC 3261 §17), dialogs,
//! authentication and the usages built on them. Nothing here does I/O or
//! reads a clock: callers pass `now` into `handle_*` and drain `poll_*`
//! until it returns the next timeout.

pub mod auth;
pub mod dialog;
pub mod timers;
pub mod transaction;

mod rand;

pub use auth::{AuthError, Authenticator, Credential};
pub use dialog::{AckWait, AckWaitAction, Dialog, DialogError, DialogId, DialogSet, DialogState};
pub use timers::{TimerConfig, TimerConfigError};
pub use transaction::layer::{
    LayerConfig, LayerError, TransactionEvent, TransactionId, TransactionLayer, Transmit,
};
pub use transaction::{TransactionError, TransactionState};

use sip_message::StatusCode;

/// A status code from a constant in 100..=699.
pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::new(code)
        .or_else(|| StatusCode::new(500))
        .expect("500 is in 100..=699")
}

//! Sans-IO SIP protocol engine: transactions (RFC 3261 §17 with RFC 6026),
//! dialogs (§12), client digest authentication (§22, RFC 7616). Nothing
//! here does I/O or reads a clock: callers pass `now` into `handle_*`,
//! drain `poll_transmit` / `poll_event`, and sleep until `poll_timeout`.
//!
//! # Driving the transaction layer
//!
//! ```text
//!   loop {
//!       input:  layer.handle_message(now, msg, source, transport)
//!               layer.handle_timeout(now)        (when poll_timeout is due)
//!               layer.transport_error(now, id)   (a send for `id` failed)
//!       TU:     layer.send_request / send_response / cancel / send_stateless
//!       output: while let Some(t) = layer.poll_transmit() { send t.message to t.dest }
//!               while let Some(e) = layer.poll_event()    { hand to dialogs / usages }
//!       sleep until layer.poll_timeout() (one Instant for all transactions)
//!   }
//! ```
//!
//! * Datagrams: `sip_message::parse` each one. Streams (TCP/TLS): cut them
//!   with `sip_message::framer::StreamFramer` and feed each message; the
//!   `transport` argument decides retransmission and the Timer D/I/J/K
//!   values (reliable transports never retransmit).
//! * Responses to server transactions go to the request's source address
//!   (for streams: the connection it came in on).
//! * ACK for a 2xx never belongs to a transaction: the UAC builds it with
//!   [`Dialog::create_ack`] and sends it with
//!   [`TransactionLayer::send_stateless`], and sends the same ACK again for
//!   every 2xx retransmission ([`TransactionEvent::Response`] while the
//!   INVITE transaction is Accepted, [`TransactionEvent::StrayResponse`]
//!   after Timer M). The UAS sees the ACK as [`TransactionEvent::Ack`] and
//!   retransmits its 2xx with [`AckWait`] until then.
//! * `tests/two_peers.rs` is a complete worked example of both roles.

pub mod auth;
pub mod dialog;
pub mod timers;
pub mod transaction;
pub mod usage;

mod rand;

pub use auth::{AuthError, Authenticator, Credential};
pub use dialog::{AckWait, AckWaitAction, Dialog, DialogError, DialogId, DialogSet, DialogState};
pub use timers::{TimerConfig, TimerConfigError};
pub use transaction::layer::{
    LayerConfig, LayerError, TransactionEvent, TransactionId, TransactionLayer, Transmit,
};
pub use transaction::{TransactionError, TransactionState};
pub use usage::registration::{
    Registration, RegistrationConfig, RegistrationError, RegistrationEvent,
};

use sip_message::StatusCode;

/// A status code from a constant in 100..=699.
pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::new(code)
        .or_else(|| StatusCode::new(500))
        .expect("500 is in 100..=699")
}

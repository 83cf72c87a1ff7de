//! Sans-IO SIP protocol engine: transactions (RFC 3261 §17), dialogs,
//! authentication and the usages built on them. Nothing here does I/O or
//! reads a clock: callers pass `now` into `handle_*` and drain `poll_*`
//! until it returns the next timeout.

pub mod timers;

pub use timers::{TimerConfig, TimerConfigError};

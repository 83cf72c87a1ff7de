//! Parley's persistence: the TOML config file, the OS keyring for SIP
//! passwords, and the SQLite store ([`db`]) for chat history, contacts and
//! call history.
//!
//! Passwords never pass through [`config`]: the config file holds only what
//! may be read by anyone with access to the user's files.

pub mod config;
pub mod db;
pub mod paths;
pub mod secrets;

pub use config::{
    AccountConfig, Config, ConfigError, MediaPrefs, Transport, CODEC_NAMES, OPTIONS_KEEPALIVE_SECS,
};
pub use db::{Db, DbError};
pub use paths::{Paths, PathsError};
pub use secrets::{MemorySecrets, OsKeyring, SecretError, SecretStore};

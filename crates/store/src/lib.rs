//! Parley's persistence: the TOML config file, the OS keyring for SIP
//! passwords, and (later) the SQLite store for contacts, history and chat.
//!
//! Passwords never pass through [`config`]: the config file holds only what
//! may be read by anyone with access to the user's files.

pub mod config;
pub mod paths;
pub mod secrets;

pub use config::{AccountConfig, Config, ConfigError, Transport};
pub use paths::{Paths, PathsError};
pub use secrets::{MemorySecrets, OsKeyring, SecretError, SecretStore};

//! `config.toml`: accounts and preferences. Never holds a password (see
//! [`crate::secrets`]). Written atomically (temp file + rename) so a crash
//! mid-write leaves the old file intact.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors loading or saving the config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read or written.
    #[error("config file {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has fields of the wrong type.
    #[error("config file {path} is invalid: {message}")]
    Invalid {
        /// The file concerned.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// An account with this name exists already.
    #[error("an account named {0:?} exists already")]
    DuplicateAccount(String),
    /// No account has this name.
    #[error("no account named {0:?}")]
    NoSuchAccount(String),
    /// A `[media]` setting failed validation.
    #[error("media settings: {field} {problem}")]
    BadMedia {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An account field failed validation.
    #[error("account {account:?}: {field} {problem}")]
    BadField {
        /// The account name.
        account: String,
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// SIP transport of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP (RFC 3261 §18), switching to TCP for large requests.
    #[default]
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        })
    }
}

fn default_true() -> bool {
    true
}
fn default_expires() -> u32 {
    600
}

/// The OPTIONS keep-alive periods a user may pick, in seconds (0 or unset
/// is off). Checked when an account is added; a hand-edited
/// `config.toml` may hold any value (tests use 2 s).
pub const OPTIONS_KEEPALIVE_SECS: std::ops::RangeInclusive<u32> = 5..=3600;

/// Codecs Parley can use, by the names the config file takes.
pub const CODEC_NAMES: [&str; 4] = ["opus", "g722", "pcmu", "pcma"];

fn default_codecs() -> Vec<String> {
    CODEC_NAMES.iter().map(|c| (*c).to_owned()).collect()
}

/// Sound and codec preferences (`[media]`): which devices, which
/// processing, which codecs in which order. Device names are the platform's
/// (id or name); unset means the system default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaPrefs {
    /// Microphone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Speaker or headset for calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Where the ringtone plays (often the loudspeaker while calls go to a
    /// headset); unset: the call output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ringer: Option<String>,
    /// Acoustic echo cancellation.
    #[serde(default = "default_true")]
    pub echo_cancellation: bool,
    /// Noise suppression.
    #[serde(default = "default_true")]
    pub noise_suppression: bool,
    /// Automatic gain control.
    #[serde(default = "default_true")]
    pub auto_gain: bool,
    /// Codecs offered and accepted, most preferred first.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
}

impl Default for MediaPrefs {
    fn default() -> Self {
        MediaPrefs {
            input: None,
            output: None,
            ringer: None,
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: true,
            codecs: default_codecs(),
        }
    }
}

impl MediaPrefs {
    /// Checks the codec list and device names.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, problem| ConfigError::BadMedia { field, problem };
        if self.codecs.is_empty() {
            return Err(bad("codecs", "must name at least one codec"));
        }
        for (i, c) in self.codecs.iter().enumerate() {
            if !CODEC_NAMES.contains(&c.as_str()) {
                return Err(bad("codecs", "must be among opus, g722, pcmu, pcma"));
            }
            if self.codecs[..i].contains(c) {
                return Err(bad("codecs", "must not name a codec twice"));
            }
        }
        for d in [&self.input, &self.output, &self.ringer]
            .into_iter()
            .flatten()
        {
            if d.trim().is_empty() || d.len() > 256 || d.chars().any(char::is_control) {
                return Err(bad(
                    "device",
                    "must be a device name of 1 to 256 characters",
                ));
            }
        }
        Ok(())
    }
}

/// One SIP account as the user configured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountConfig {
    /// Unique, user-chosen name; also the keyring key of its password.
    pub name: String,
    /// Address of record, e.g. `sip:alice@example.com`.
    pub uri: String,
    /// Shown to the people we call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Digest user name when it differs from the URI's user part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_user: Option<String>,
    /// Digest realm to answer; any realm when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Outbound proxy URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Transport to the registrar / proxy.
    #[serde(default)]
    pub transport: Transport,
    /// Whether to REGISTER at all.
    #[serde(default = "default_true")]
    pub register: bool,
    /// Requested registration lifetime in seconds.
    #[serde(default = "default_expires")]
    pub expires: u32,
    /// Disabled accounts are kept but neither register nor ring.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Call-pickup feature code of the PBX (`*8`, or a directed prefix
    /// like `**` that takes the ringing extension after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_code: Option<String>,
    /// Send an OPTIONS to the registrar (or outbound proxy) this often,
    /// in seconds, while registered; unset or 0: off. Over UDP the
    /// RFC 5626 CRLF keep-alive is never answered, so only this finds a
    /// registrar that went away (or restarted and forgot us); no answer
    /// within 10 s registers again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options_keepalive_secs: Option<u32>,
}

impl AccountConfig {
    /// A new account with the defaults for everything but name and URI.
    pub fn new(name: impl Into<String>, uri: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            uri: uri.into(),
            display_name: None,
            auth_user: None,
            realm: None,
            proxy: None,
            transport: Transport::default(),
            register: true,
            expires: default_expires(),
            enabled: true,
            pickup_code: None,
            options_keepalive_secs: None,
        }
    }

    /// Checks what can be checked without the SIP parser: names usable as
    /// keyring keys, a sip/sips URI with a user and a host, a sane expiry.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, problem| ConfigError::BadField {
            account: self.name.clone(),
            field,
            problem,
        };
        if self.name.trim().is_empty() || self.name.len() > 64 {
            return Err(bad("name", "must be 1 to 64 characters"));
        }
        if self.name.chars().any(char::is_control) {
            return Err(bad("name", "must not contain control characters"));
        }
        let rest = self
            .uri
            .strip_prefix("sip:")
            .or_else(|| self.uri.strip_prefix("sips:"))
            .ok_or_else(|| bad("uri", "must start with sip: or sips:"))?;
        match rest.split_once('@') {
            Some((user, host)) if !user.is_empty() && !host.is_empty() => {}
            _ => return Err(bad("uri", "must have the form sip:user@host")),
        }
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("uri", "must not contain spaces"));
        }
        if let Some(p) = &self.proxy {
            if !(p.starts_with("sip:") || p.starts_with("sips:")) {
                return Err(bad("proxy", "must start with sip: or sips:"));
            }
        }
        if let Some(code) = &self.pickup_code {
            // Dialled as the user part of a SIP URI: keypad characters only.
            if code.is_empty()
                || code.len() > 16
                || !code
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
            {
                return Err(bad("pickup_code", "must be 1 to 16 of 0-9, * and #"));
            }
        }
        if self.register && !(10..=86_400).contains(&self.expires) {
            return Err(bad("expires", "must be between 10 and 86400 seconds"));
        }
        Ok(())
    }

    /// Checks the OPTIONS keep-alive period a user picked: 0 or unset
    /// (off), else [`OPTIONS_KEEPALIVE_SECS`]. Part of
    /// [`Config::add_account`]'s checks, not of [`AccountConfig::validate`],
    /// so a config file with a shorter period still loads.
    pub fn validate_options_keepalive(&self) -> Result<(), ConfigError> {
        match self.options_keepalive_secs {
            Some(s) if s != 0 && !OPTIONS_KEEPALIVE_SECS.contains(&s) => {
                Err(ConfigError::BadField {
                    account: self.name.clone(),
                    field: "options_keepalive_secs",
                    problem: "must be 0 (off) or between 5 and 3600 seconds",
                })
            }
            _ => Ok(()),
        }
    }
}

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Configured accounts, in the user's order.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountConfig>,
    /// Sound and codec preferences.
    #[serde(default)]
    pub media: MediaPrefs,
}

impl Config {
    /// Loads `path`; a missing file is an empty config (first start).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let cfg: Self = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        for a in &cfg.accounts {
            a.validate().map_err(|e| ConfigError::Invalid {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        }
        cfg.media.validate().map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(cfg)
    }

    /// Writes `path` atomically, creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = path.with_extension("toml.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Adds a validated account with a unique name.
    pub fn add_account(&mut self, account: AccountConfig) -> Result<(), ConfigError> {
        account.validate()?;
        account.validate_options_keepalive()?;
        if self.account(&account.name).is_some() {
            return Err(ConfigError::DuplicateAccount(account.name));
        }
        self.accounts.push(account);
        Ok(())
    }

    /// Replaces the account of the same name with `account`, checked as
    /// [`Config::add_account`] checks a new one; returns the old one.
    pub fn update_account(&mut self, account: AccountConfig) -> Result<AccountConfig, ConfigError> {
        account.validate()?;
        account.validate_options_keepalive()?;
        let slot = self
            .accounts
            .iter_mut()
            .find(|a| a.name == account.name)
            .ok_or_else(|| ConfigError::NoSuchAccount(account.name.clone()))?;
        Ok(std::mem::replace(slot, account))
    }

    /// Removes and returns the named account.
    pub fn remove_account(&mut self, name: &str) -> Result<AccountConfig, ConfigError> {
        let i = self
            .accounts
            .iter()
            .position(|a| a.name == name)
            .ok_or_else(|| ConfigError::NoSuchAccount(name.to_owned()))?;
        Ok(self.accounts.remove(i))
    }

    /// The named account.
    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_first_start() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Config::load(&dir.path().join("none.toml")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let mut cfg = Config::default();
        let mut a = AccountConfig::new("work", "sip:alice@127.0.0.1");
        a.transport = Transport::Tls;
        a.proxy = Some("sip:127.0.0.1:5061;transport=tls".into());
        a.pickup_code = Some("**".into());
        cfg.add_account(a).unwrap();
        cfg.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[[account]]"), "{text}");
        assert_eq!(Config::load(&path).unwrap(), cfg);
    }

    #[test]
    fn options_keepalive_is_off_in_older_files_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let older = "[[account]]\nname = \"work\"\nuri = \"sip:alice@127.0.0.1\"\n";
        std::fs::write(&path, older).unwrap();
        let mut cfg = Config::load(&path).unwrap();
        assert_eq!(cfg.accounts[0].options_keepalive_secs, None);
        cfg.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("options_keepalive"),
            "unset stays unwritten: {text}"
        );
        cfg.accounts[0].options_keepalive_secs = Some(30);
        cfg.save(&path).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("options_keepalive_secs = 30"));
        assert_eq!(Config::load(&path).unwrap(), cfg);
    }

    #[test]
    fn media_prefs_default_round_trip_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        // An older file without [media] gets the defaults.
        std::fs::write(&path, "").unwrap();
        let cfg = Config::load(&path).unwrap();
        assert_eq!(cfg.media, MediaPrefs::default());
        assert!(cfg.media.echo_cancellation && cfg.media.noise_suppression);
        assert_eq!(cfg.media.codecs, ["opus", "g722", "pcmu", "pcma"]);

        let mut cfg = Config::default();
        cfg.media.codecs = vec!["pcma".into(), "opus".into()];
        cfg.media.ringer = Some("Built-in Speaker".into());
        cfg.media.noise_suppression = false;
        cfg.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[media]"), "{text}");
        assert_eq!(Config::load(&path).unwrap(), cfg);

        for (codecs, want) in [
            (vec![], "at least one"),
            (vec!["opus".to_owned(), "speex".to_owned()], "among"),
            (vec!["opus".to_owned(), "opus".to_owned()], "twice"),
        ] {
            let m = MediaPrefs {
                codecs,
                ..MediaPrefs::default()
            };
            let e = m.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let m = MediaPrefs {
            input: Some(" ".into()),
            ..MediaPrefs::default()
        };
        assert!(m.validate().is_err());
        // A hand-edited bad file is refused with the reason.
        std::fs::write(&path, "[media]\ncodecs = [\"gsm\"]\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("codecs"), "{e}");
    }

    #[test]
    fn pickup_codes_are_keypad_characters() {
        let mut a = AccountConfig::new("a", "sip:a@h");
        for ok in ["*8", "**", "#31#"] {
            a.pickup_code = Some(ok.into());
            assert!(a.validate().is_ok(), "{ok}");
        }
        for bad in ["", "*8 ", "x", "*8@h", "12345678901234567"] {
            a.pickup_code = Some(bad.into());
            assert!(
                matches!(
                    a.validate(),
                    Err(ConfigError::BadField {
                        field: "pickup_code",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn options_keepalive_is_off_or_5_to_3600_s_when_added() {
        let add = |secs| {
            let mut a = AccountConfig::new("a", "sip:a@h");
            a.options_keepalive_secs = secs;
            Config::default().add_account(a)
        };
        for ok in [None, Some(0), Some(5), Some(30), Some(3600)] {
            assert!(add(ok).is_ok(), "{ok:?}");
        }
        for bad in [1, 4, 3601, u32::MAX] {
            assert!(
                matches!(
                    add(Some(bad)),
                    Err(ConfigError::BadField {
                        field: "options_keepalive_secs",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        // A hand-edited file keeps loading with a shorter period.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[[account]]\nname = \"a\"\nuri = \"sip:a@h\"\noptions_keepalive_secs = 2\n",
        )
        .unwrap();
        assert_eq!(
            Config::load(&path).unwrap().accounts[0].options_keepalive_secs,
            Some(2)
        );
    }

    #[test]
    fn duplicate_and_missing_accounts() {
        let mut cfg = Config::default();
        cfg.add_account(AccountConfig::new("a", "sip:a@h")).unwrap();
        assert!(matches!(
            cfg.add_account(AccountConfig::new("a", "sip:b@h")),
            Err(ConfigError::DuplicateAccount(_))
        ));
        assert!(matches!(
            cfg.remove_account("b"),
            Err(ConfigError::NoSuchAccount(_))
        ));
        assert_eq!(cfg.remove_account("a").unwrap().uri, "sip:a@h");
    }

    #[test]
    fn update_replaces_in_place_after_the_same_checks() {
        let mut cfg = Config::default();
        cfg.add_account(AccountConfig::new("a", "sip:a@h")).unwrap();
        cfg.add_account(AccountConfig::new("b", "sip:b@h")).unwrap();
        let old = cfg
            .update_account(AccountConfig::new("a", "sip:a2@h2"))
            .unwrap();
        assert_eq!(old.uri, "sip:a@h");
        assert_eq!(cfg.accounts[0].uri, "sip:a2@h2", "order kept");
        assert!(matches!(
            cfg.update_account(AccountConfig::new("a", "nope")),
            Err(ConfigError::BadField { field: "uri", .. })
        ));
        let mut slow = AccountConfig::new("a", "sip:a@h");
        slow.options_keepalive_secs = Some(2);
        assert!(cfg.update_account(slow).is_err());
        assert!(matches!(
            cfg.update_account(AccountConfig::new("c", "sip:c@h")),
            Err(ConfigError::NoSuchAccount(_))
        ));
        assert_eq!(
            cfg.accounts[0].uri, "sip:a2@h2",
            "a refused edit changes nothing"
        );
    }

    #[test]
    fn validation_names_the_field() {
        for (uri, field) in [("alice@h", "uri"), ("sip:@h", "uri"), ("sip:a b@h", "uri")] {
            match AccountConfig::new("x", uri).validate() {
                Err(ConfigError::BadField { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{uri}: {other:?}"),
            }
        }
        let mut a = AccountConfig::new("x", "sip:a@h");
        a.expires = 1;
        assert!(a.validate().is_err());
    }

    #[test]
    fn invalid_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[[account]]\nname = 3\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("invalid") && err.contains("line"), "{err}");
        std::fs::write(&path, "[[account]]\nname = \"x\"\nuri = \"mailto:x\"\n").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("uri"));
    }
}

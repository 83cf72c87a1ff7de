//! SIP passwords live only here: in the OS keyring (Secret Service on
//! Linux, Keychain on macOS, Credential Manager on Windows). Tests use
//! [`MemorySecrets`]. Errors never carry the secret itself.

use std::collections::HashMap;
use std::sync::Mutex;

/// The keyring "service" every Parley entry is filed under.
pub const SERVICE: &str = "org.parley.Parley";

/// Errors from a secret store. They name the account, never the password.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No password is stored for this account.
    #[error("no password stored for account {account:?}")]
    NotFound {
        /// The account name.
        account: String,
    },
    /// The platform keyring refused or is unreachable (e.g. no Secret
    /// Service running, or it is locked).
    #[error("keyring unavailable for account {account:?}: {reason}")]
    Unavailable {
        /// The account name.
        account: String,
        /// The platform's explanation; keyring errors do not include secrets.
        reason: String,
    },
}

/// Somewhere passwords can be kept, keyed by account name.
pub trait SecretStore: Send + Sync {
    /// Store (or replace) the password of `account`.
    fn set(&self, account: &str, password: &str) -> Result<(), SecretError>;
    /// Read the password of `account`.
    fn get(&self, account: &str) -> Result<String, SecretError>;
    /// Forget the password of `account`; forgetting a missing one is fine.
    fn delete(&self, account: &str) -> Result<(), SecretError>;
}

/// The operating system's keyring.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsKeyring;

impl OsKeyring {
    fn entry(account: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(SERVICE, account).map_err(|e| unavailable(account, &e))
    }
}

fn unavailable(account: &str, e: &keyring::Error) -> SecretError {
    match e {
        keyring::Error::NoEntry => SecretError::NotFound {
            account: account.to_owned(),
        },
        other => SecretError::Unavailable {
            account: account.to_owned(),
            reason: other.to_string(),
        },
    }
}

impl SecretStore for OsKeyring {
    fn set(&self, account: &str, password: &str) -> Result<(), SecretError> {
        Self::entry(account)?
            .set_password(password)
            .map_err(|e| unavailable(account, &e))
    }
    fn get(&self, account: &str) -> Result<String, SecretError> {
        Self::entry(account)?
            .get_password()
            .map_err(|e| unavailable(account, &e))
    }
    fn delete(&self, account: &str) -> Result<(), SecretError> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(account, &e)),
        }
    }
}

/// An in-memory store for unit tests and throwaway instances.
#[derive(Debug, Default)]
pub struct MemorySecrets {
    map: Mutex<HashMap<String, String>>,
}

impl MemorySecrets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned map still holds valid strings; keep going.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for MemorySecrets {
    fn set(&self, account: &str, password: &str) -> Result<(), SecretError> {
        self.lock().insert(account.to_owned(), password.to_owned());
        Ok(())
    }
    fn get(&self, account: &str) -> Result<String, SecretError> {
        self.lock()
            .get(account)
            .cloned()
            .ok_or_else(|| SecretError::NotFound {
                account: account.to_owned(),
            })
    }
    fn delete(&self, account: &str) -> Result<(), SecretError> {
        self.lock().remove(account);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trip() {
        let s = MemorySecrets::default();
        assert!(matches!(s.get("a"), Err(SecretError::NotFound { .. })));
        s.set("a", "pw1").unwrap();
        s.set("a", "pw2").unwrap();
        assert_eq!(s.get("a").unwrap(), "pw2");
        s.delete("a").unwrap();
        s.delete("a").unwrap();
        assert!(s.get("a").is_err());
    }

    #[test]
    fn errors_do_not_leak_the_password() {
        let e = SecretError::Unavailable {
            account: "work".into(),
            reason: "locked".into(),
        };
        assert!(!e.to_string().contains("pw"));
    }

    /// Runs against the real Secret Service when the test harness provides
    /// one (scripts/test.sh runs the suite inside `dbus-run-session` with an
    /// unlocked gnome-keyring and sets PARLEY_TEST_KEYRING=1).
    #[test]
    fn os_keyring_round_trip_when_available() {
        if std::env::var_os("PARLEY_TEST_KEYRING").is_none() {
            eprintln!("PARLEY_TEST_KEYRING unset: the OS keyring test runs under scripts/test.sh");
            return;
        }
        let k = OsKeyring;
        let account = format!("parley-test-{}", std::process::id());
        k.set(&account, "s3cret").expect("set");
        assert_eq!(k.get(&account).expect("get"), "s3cret");
        k.delete(&account).expect("delete");
        assert!(matches!(k.get(&account), Err(SecretError::NotFound { .. })));
    }
}

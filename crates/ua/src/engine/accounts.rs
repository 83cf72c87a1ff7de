//! The engine's side of editing accounts after they were added: every
//! setting (and the password) changed, enabled and disabled, registered
//! again by hand. Each keeps the registration in step: the old binding
//! is removed before the new settings register.

use store::SecretError;
use tokio::sync::oneshot;
use tracing::info;

use super::{account_config, Command, Engine, EngineError, Task, LOCAL_ACCOUNT};
use crate::api::{AccountInput, Event, RegistrationState};

/// How long a stopping registration may wait for the registrar before
/// the edit goes on without it.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Account commands for the engine task.
pub(super) enum AccountCommand {
    Update {
        name: String,
        input: Box<AccountInput>,
        password: Option<String>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    SetEnabled {
        name: String,
        on: bool,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    Reregister {
        name: String,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
}

impl Engine {
    /// Changes every setting of account `name` (checked as
    /// [`Engine::add_account`] checks a new one; `input.name` must be
    /// `name`: accounts are not renamed) and saves the config. The
    /// keyring keeps its password unless `password` gives a new one. A
    /// running registration is removed from the old registrar and the
    /// new settings register (when the account is enabled and registers).
    pub async fn update_account(
        &self,
        name: &str,
        input: AccountInput,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Account(AccountCommand::Update {
                name: name.to_owned(),
                input: Box::new(input),
                password,
                reply,
            })
        })
        .await?
    }

    /// Enables or disables account `name`, saved in the config. Disabling
    /// unregisters it (its state becomes
    /// [`RegistrationState::Disabled`]); enabling registers it again
    /// where accounts register by themselves (the app).
    pub async fn set_account_enabled(&self, name: &str, on: bool) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Account(AccountCommand::SetEnabled {
                name: name.to_owned(),
                on,
                reply,
            })
        })
        .await?
    }

    /// Registers account `name` again now (a running registration
    /// refreshes at once, one that could not start is started); progress
    /// arrives as [`Event::Registration`].
    pub async fn reregister(&self, name: &str) -> Result<(), EngineError> {
        self.ask(|reply| {
            Command::Account(AccountCommand::Reregister {
                name: name.to_owned(),
                reply,
            })
        })
        .await?
    }
}

impl Task {
    pub(super) async fn account_command(&mut self, cmd: AccountCommand) {
        match cmd {
            AccountCommand::Update {
                name,
                input,
                password,
                reply,
            } => {
                let _ = reply.send(self.update_account(&name, *input, password).await);
            }
            AccountCommand::SetEnabled { name, on, reply } => {
                let _ = reply.send(self.set_account_enabled(&name, on).await);
            }
            AccountCommand::Reregister { name, reply } => {
                let _ = reply.send(self.reregister(&name).await);
            }
        }
    }

    /// The configured account `name`, or why there is none.
    fn configured(&self, name: &str) -> Result<&store::AccountConfig, EngineError> {
        match self.config.account(name) {
            Some(a) => Ok(a),
            None if name == LOCAL_ACCOUNT && self.config.accounts.is_empty() => {
                Err(EngineError::LocalAccount)
            }
            None => Err(EngineError::NoSuchAccount(name.to_owned())),
        }
    }

    async fn update_account(
        &mut self,
        name: &str,
        input: AccountInput,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        let old = self.configured(name)?.clone();
        if input.name.trim() != name {
            return Err(EngineError::AccountRenamed {
                from: name.to_owned(),
                to: input.name.trim().to_owned(),
            });
        }
        let mut account = account_config(input);
        account.enabled = old.enabled;
        let mut config = self.config.clone();
        config.update_account(account)?;
        // A new password replaces the old one, which comes back if the
        // config cannot be saved.
        let previous = match password.clone() {
            Some(pw) => {
                let key = name.to_owned();
                Some(
                    self.keyring(move |k| {
                        let previous = match k.get(&key) {
                            Ok(p) => Some(p),
                            Err(SecretError::NotFound { .. }) => None,
                            Err(e) => return Err(e),
                        };
                        k.set(&key, &pw)?;
                        Ok(previous)
                    })
                    .await?,
                )
            }
            None => None,
        };
        if let Err(e) = config.save(&self.options.paths.config_file()) {
            if let Some(previous) = previous {
                let key = name.to_owned();
                let _ = self
                    .keyring(move |k| match previous {
                        Some(p) => k.set(&key, &p),
                        None => k.delete(&key),
                    })
                    .await;
            }
            return Err(e.into());
        }
        self.config = config;
        info!("account updated");
        // The old binding goes, with the old settings and password.
        let was_registered = self.stop_registration(name).await;
        // Keep what the running registration had (e.g. PARLEY_PASSWORD)
        // unless a new password came.
        let kept = self.passwords.remove(name);
        let password = password.or(kept);
        self.publish(Event::AccountsChanged {
            accounts: self.accounts(),
        });
        if was_registered || self.options.auto_register {
            self.start_registration(name, password).await;
        }
        Ok(())
    }

    async fn set_account_enabled(&mut self, name: &str, on: bool) -> Result<(), EngineError> {
        if self.configured(name)?.enabled != on {
            let mut config = self.config.clone();
            if let Some(a) = config.accounts.iter_mut().find(|a| a.name == name) {
                a.enabled = on;
            }
            config.save(&self.options.paths.config_file())?;
            self.config = config;
            info!(on, "account enabled or disabled");
        }
        if on {
            self.publish(Event::AccountsChanged {
                accounts: self.accounts(),
            });
            if self.options.auto_register {
                self.start_registration(name, None).await;
            }
        } else {
            self.stop_registration(name).await;
            self.publish(Event::Registration {
                account: name.to_owned(),
                state: RegistrationState::Disabled,
            });
            self.publish(Event::AccountsChanged {
                accounts: self.accounts(),
            });
        }
        Ok(())
    }

    async fn reregister(&mut self, name: &str) -> Result<(), EngineError> {
        let account = self.configured(name)?;
        if !account.enabled {
            return Err(EngineError::AccountDisabled(name.to_owned()));
        }
        if !account.register {
            return Err(EngineError::NotRegistering(name.to_owned()));
        }
        match self.registrations.get(name) {
            Some(handle) => {
                info!("registering again on request");
                // What a network change does: a new REGISTER now.
                handle.network_changed();
                self.set_state(name, RegistrationState::Registering);
                Ok(())
            }
            None => {
                let password = self.passwords.get(name).cloned();
                let result = self.register(name, password).await;
                if let Err(e) = &result {
                    self.set_state(
                        name,
                        RegistrationState::Failed {
                            reason: e.to_string(),
                        },
                    );
                }
                result
            }
        }
    }

    /// Unregisters `name` (waiting a while for the registrar) and forgets
    /// its state; whether it had a registration running.
    async fn stop_registration(&mut self, name: &str) -> bool {
        let handle = self.registrations.remove(name);
        let was = handle.is_some();
        if let Some(handle) = handle {
            let _ = tokio::time::timeout(STOP_WAIT, handle.stop()).await;
        }
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        was
    }

    /// Registers `name` if it is enabled and registers, reporting a
    /// failure to start as its registration state.
    async fn start_registration(&mut self, name: &str, password: Option<String>) {
        let wanted = self
            .config
            .account(name)
            .is_some_and(|a| a.enabled && a.register);
        if !wanted {
            return;
        }
        if let Err(e) = self.register(name, password).await {
            self.set_state(
                name,
                RegistrationState::Failed {
                    reason: e.to_string(),
                },
            );
        }
    }

    fn set_state(&self, name: &str, state: RegistrationState) {
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned(), state.clone());
        self.publish(Event::Registration {
            account: name.to_owned(),
            state,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::{ConfigError, MemorySecrets, SecretStore};

    use super::*;
    use crate::api::TransportKind;
    use crate::call::AudioChoice;
    use crate::engine::{EngineOptions, SipOptions};
    use crate::registration::RegisterError;

    fn engine(dir: &std::path::Path, secrets: Arc<MemorySecrets>) -> Engine {
        Engine::start(EngineOptions {
            paths: store::Paths {
                config_dir: dir.join("config"),
                data_dir: dir.join("data"),
            },
            secrets,
            sip: SipOptions {
                bind_ip: "127.0.0.1".parse().unwrap(),
                ..SipOptions::default()
            },
            auto_register: false,
            auto_answer: false,
            dnd: false,
            call_audio: AudioChoice::Null,
        })
        .unwrap()
    }

    fn input(name: &str) -> AccountInput {
        AccountInput {
            name: name.into(),
            uri: "sip:alice@127.0.0.1".into(),
            display_name: Some("Alice".into()),
            auth_user: None,
            proxy: None,
            transport: TransportKind::Udp,
            register: true,
            pickup_code: None,
            realm: None,
            expires: Some(3600),
            options_keepalive_secs: None,
        }
    }

    fn config_text(dir: &std::path::Path) -> String {
        std::fs::read_to_string(dir.join("config/config.toml")).unwrap()
    }

    /// Every field of an edit is saved and read back, across a restart;
    /// the password stays unless a new one comes, and never reaches the
    /// config file.
    #[tokio::test]
    async fn an_edit_changes_every_field_and_keeps_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecrets::default());
        let e = engine(dir.path(), secrets.clone());
        e.add_account(input("work"), Some("old-secret".into()))
            .await
            .unwrap();
        e.add_account(input("home"), None).await.unwrap();
        let mut events = e.subscribe();

        let edited = AccountInput {
            name: "work".into(),
            uri: "sip:bob@pbx.example.com".into(),
            display_name: Some("Bob".into()),
            auth_user: Some("bob-auth".into()),
            proxy: Some("sip:proxy.example.com;lr".into()),
            transport: TransportKind::Tls,
            register: false,
            pickup_code: Some("*8".into()),
            realm: Some("example.com".into()),
            expires: Some(600),
            options_keepalive_secs: Some(30),
        };
        e.update_account("work", edited.clone(), None)
            .await
            .unwrap();
        assert_eq!(e.account_input("work").await.unwrap(), edited);
        assert_eq!(secrets.get("work").unwrap(), "old-secret");
        match events.recv().await.unwrap() {
            Event::AccountsChanged { accounts } => {
                assert_eq!(accounts[0].name, "work", "order kept");
                assert_eq!(accounts[0].uri, "sip:bob@pbx.example.com");
                assert_eq!(accounts[0].transport, TransportKind::Tls);
                assert_eq!(accounts[0].registration, RegistrationState::NotRegistering);
            }
            other => panic!("{other:?}"),
        }

        // A new password replaces the old one in the keyring only.
        e.update_account("work", edited.clone(), Some("new-secret".into()))
            .await
            .unwrap();
        assert_eq!(secrets.get("work").unwrap(), "new-secret");
        // An account that had none gets one.
        e.update_account("home", input("home"), Some("home-pw".into()))
            .await
            .unwrap();
        assert_eq!(secrets.get("home").unwrap(), "home-pw");
        let text = config_text(dir.path());
        assert!(
            text.contains("pbx.example.com")
                && !text.contains("secret")
                && !text.contains("home-pw"),
            "{text}"
        );
        e.shutdown().await.unwrap();
        let again = engine(dir.path(), secrets);
        assert_eq!(again.account_input("work").await.unwrap(), edited);
    }

    #[tokio::test]
    async fn a_refused_edit_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecrets::default());
        let e = engine(dir.path(), secrets.clone());
        e.add_account(input("work"), Some("pw".into()))
            .await
            .unwrap();
        let before = config_text(dir.path());

        let mut bad = input("work");
        bad.uri = "alice".into();
        assert!(matches!(
            e.update_account("work", bad, Some("other".into())).await,
            Err(EngineError::Config(ConfigError::BadField {
                field: "uri",
                ..
            }))
        ));
        let mut bad = input("work");
        bad.expires = Some(5);
        assert!(matches!(
            e.update_account("work", bad, None).await,
            Err(EngineError::Config(ConfigError::BadField {
                field: "expires",
                ..
            }))
        ));
        let mut bad = input("work");
        bad.options_keepalive_secs = Some(2);
        assert!(e.update_account("work", bad, None).await.is_err());
        assert!(matches!(
            e.update_account("work", input("play"), None).await,
            Err(EngineError::AccountRenamed { .. })
        ));
        assert!(matches!(
            e.update_account("nobody", input("nobody"), None).await,
            Err(EngineError::NoSuchAccount(_))
        ));
        assert_eq!(config_text(dir.path()), before);
        assert_eq!(secrets.get("work").unwrap(), "pw", "password untouched");

        // The built-in local account has nothing to edit.
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path(), Arc::default());
        assert!(matches!(
            e.update_account(LOCAL_ACCOUNT, input(LOCAL_ACCOUNT), None)
                .await,
            Err(EngineError::LocalAccount)
        ));
        assert!(matches!(
            e.set_account_enabled(LOCAL_ACCOUNT, false).await,
            Err(EngineError::LocalAccount)
        ));
        assert!(matches!(
            e.reregister(LOCAL_ACCOUNT).await,
            Err(EngineError::LocalAccount)
        ));
    }

    #[tokio::test]
    async fn disabling_persists_shows_disabled_and_blocks_registering() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecrets::default());
        let e = engine(dir.path(), secrets.clone());
        e.add_account(input("work"), Some("pw".into()))
            .await
            .unwrap();
        let mut events = e.subscribe();

        e.set_account_enabled("work", false).await.unwrap();
        match events.recv().await.unwrap() {
            Event::Registration { account, state } => {
                assert_eq!(account, "work");
                assert_eq!(state, RegistrationState::Disabled);
            }
            other => panic!("{other:?}"),
        }
        let status = e.status().await.unwrap();
        assert_eq!(status.accounts[0].registration, RegistrationState::Disabled);
        assert!(config_text(dir.path()).contains("enabled = false"));
        assert!(matches!(
            e.reregister("work").await,
            Err(EngineError::AccountDisabled(_))
        ));
        assert!(matches!(
            e.register("work", None).await,
            Err(EngineError::AccountDisabled(_))
        ));
        // An edit keeps it disabled.
        e.update_account("work", input("work"), None).await.unwrap();
        e.shutdown().await.unwrap();

        let e = engine(dir.path(), secrets);
        let status = e.status().await.unwrap();
        assert_eq!(status.accounts[0].registration, RegistrationState::Disabled);
        e.set_account_enabled("work", true).await.unwrap();
        assert_eq!(
            e.status().await.unwrap().accounts[0].registration,
            RegistrationState::Unregistered
        );
        assert!(!config_text(dir.path()).contains("enabled = false"));
        assert!(matches!(
            e.set_account_enabled("nobody", true).await,
            Err(EngineError::NoSuchAccount(_))
        ));
    }

    #[tokio::test]
    async fn reregister_reports_why_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path(), Arc::default());
        let mut quiet = input("quiet");
        quiet.register = false;
        e.add_account(quiet, None).await.unwrap();
        assert!(matches!(
            e.reregister("quiet").await,
            Err(EngineError::NotRegistering(_))
        ));
        // No password anywhere: the error, and the state says so too.
        e.add_account(input("work"), None).await.unwrap();
        let mut events = e.subscribe();
        assert!(matches!(
            e.reregister("work").await,
            Err(EngineError::Register(RegisterError::NoPassword(_)))
        ));
        match events.recv().await.unwrap() {
            Event::Registration {
                state: RegistrationState::Failed { reason },
                ..
            } => assert!(reason.contains("no password"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            e.reregister("nobody").await,
            Err(EngineError::NoSuchAccount(_))
        ));
    }
}

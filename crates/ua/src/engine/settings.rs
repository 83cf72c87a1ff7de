//! The engine's side of the sound and codec settings: read, changed
//! (validated, saved, applied), and the device list.

use tokio::sync::oneshot;
use tracing::info;

use super::{Command, Engine, EngineError, Task};
use crate::api::AccountInput;
use crate::call::AudioChoice;
use crate::settings::{AudioDevices, MediaSettings};

/// Settings commands for the engine task.
pub(super) enum SettingsCommand {
    Get(oneshot::Sender<MediaSettings>),
    Set(MediaSettings, oneshot::Sender<Result<(), EngineError>>),
    Account(String, oneshot::Sender<Result<AccountInput, EngineError>>),
}

impl Engine {
    /// The sound and codec settings in force.
    pub async fn media_settings(&self) -> Result<MediaSettings, EngineError> {
        self.ask(|reply| Command::Settings(SettingsCommand::Get(reply)))
            .await
    }

    /// Changes the sound and codec settings: checked, saved to the config
    /// file, applied to the ringer at once and to every call that starts
    /// from now on.
    pub async fn set_media_settings(&self, settings: MediaSettings) -> Result<(), EngineError> {
        self.ask(|reply| Command::Settings(SettingsCommand::Set(settings, reply)))
            .await?
    }

    /// An account's settings as the account editor shows them (never its
    /// password, which stays in the keyring).
    pub async fn account_input(&self, name: &str) -> Result<AccountInput, EngineError> {
        self.ask(|reply| Command::Settings(SettingsCommand::Account(name.to_owned(), reply)))
            .await?
    }

    /// The sound devices there are now (asked of the sound system off the
    /// engine task: it can take a moment).
    pub async fn audio_devices(&self) -> Result<AudioDevices, EngineError> {
        let list = tokio::task::spawn_blocking(media::device::list_devices)
            .await
            .map_err(|_| EngineError::Stopped)?
            .map_err(crate::call::CallError::from)?;
        Ok(list.into())
    }
}

impl Task {
    pub(super) fn settings_command(&mut self, cmd: SettingsCommand) {
        match cmd {
            SettingsCommand::Get(reply) => {
                let _ = reply.send(MediaSettings::from_prefs(&self.config.media));
            }
            SettingsCommand::Set(s, reply) => {
                let _ = reply.send(self.set_media(s));
            }
            SettingsCommand::Account(name, reply) => {
                let r = self
                    .config
                    .account(&name)
                    .map(|a| AccountInput {
                        name: a.name.clone(),
                        uri: a.uri.clone(),
                        display_name: a.display_name.clone(),
                        auth_user: a.auth_user.clone(),
                        proxy: a.proxy.clone(),
                        transport: a.transport.into(),
                        register: a.register,
                        pickup_code: a.pickup_code.clone(),
                        realm: a.realm.clone(),
                        expires: Some(a.expires),
                        options_keepalive_secs: a.options_keepalive_secs.filter(|&s| s != 0),
                    })
                    .ok_or(EngineError::NoSuchAccount(name));
                let _ = reply.send(r);
            }
        }
    }

    fn set_media(&mut self, s: MediaSettings) -> Result<(), EngineError> {
        let prefs = s.to_prefs();
        prefs.validate()?;
        let mut config = self.config.clone();
        config.media = prefs;
        config.save(&self.options.paths.config_file())?;
        self.config = config;
        self.apply_media();
        info!("media settings changed");
        Ok(())
    }

    /// Puts the configured devices, processing and codecs in force for
    /// the ringer and the calls that start from now on.
    pub(super) fn apply_media(&mut self) {
        let s = MediaSettings::from_prefs(&self.config.media);
        if let AudioChoice::Device {
            selection,
            processing,
        } = &mut self.options.call_audio
        {
            let ringer = s.ringer.clone().or_else(|| s.output.clone());
            let moved = self.ringing_output.as_ref() != ringer.as_ref() || self.ringing.is_none();
            *selection = s.selection();
            *processing = s.processing();
            if moved {
                // A new ringer thread on the new device; the old one ends
                // (and stops ringing) when its handle is dropped.
                self.ringing = crate::ringing::Ringing::new(ringer.clone());
                self.ringing_output = ringer;
                self.update_ringing();
            }
        }
        // Without an env yet, the first call builds one from the config.
        if let Some(env) = &mut self.call_env {
            env.media.codecs = s.codec_kinds();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::api::{CallState, Event};
    use crate::engine::{EngineOptions, SipOptions, LOCAL_ACCOUNT};
    use crate::settings::CodecName;

    fn engine(dir: &std::path::Path) -> Engine {
        Engine::start(EngineOptions {
            paths: store::Paths {
                config_dir: dir.join("config"),
                data_dir: dir.join("data"),
            },
            secrets: Arc::new(store::MemorySecrets::default()),
            sip: SipOptions {
                bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                ..SipOptions::default()
            },
            auto_register: false,
            auto_answer: true,
            dnd: false,
            call_audio: AudioChoice::Null,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn settings_are_checked_saved_and_kept_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let s = e.media_settings().await.unwrap();
        assert_eq!(
            s.codecs,
            [
                CodecName::Opus,
                CodecName::G722,
                CodecName::Pcmu,
                CodecName::Pcma
            ]
        );
        assert!(s.echo_cancellation && s.noise_suppression && s.auto_gain);

        let mut new = s.clone();
        new.codecs = vec![CodecName::G722, CodecName::Pcmu];
        new.noise_suppression = false;
        new.ringer = Some("Speakers".into());
        e.set_media_settings(new.clone()).await.unwrap();
        assert_eq!(e.media_settings().await.unwrap(), new);

        // Bad input: refused, nothing changed.
        let mut bad = new.clone();
        bad.codecs.clear();
        let err = e.set_media_settings(bad).await.unwrap_err();
        assert!(err.to_string().contains("at least one codec"), "{err}");
        let mut bad = new.clone();
        bad.codecs = vec![CodecName::Pcmu, CodecName::Pcmu];
        assert!(e.set_media_settings(bad).await.is_err());
        assert_eq!(e.media_settings().await.unwrap(), new);
        e.shutdown().await.unwrap();

        let text = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
        assert!(text.contains("[media]") && text.contains("g722"), "{text}");
        let again = engine(dir.path());
        assert_eq!(again.media_settings().await.unwrap(), new);
    }

    /// The account editor's pickup code: read back, changed, cleared, and
    /// every edit in the config file and after a restart.
    #[tokio::test]
    async fn a_pickup_code_edit_persists() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let input = AccountInput {
            name: "office".into(),
            uri: "sip:alice@127.0.0.1".into(),
            display_name: None,
            auth_user: None,
            proxy: None,
            transport: crate::api::TransportKind::Udp,
            register: false,
            pickup_code: Some("*8".into()),
            realm: None,
            expires: Some(600),
            options_keepalive_secs: None,
        };
        e.add_account(input.clone(), None).await.unwrap();
        assert_eq!(e.account_input("office").await.unwrap(), input);

        e.set_pickup_code("office", Some(" ** ".into()))
            .await
            .unwrap();
        assert_eq!(
            e.account_input("office")
                .await
                .unwrap()
                .pickup_code
                .as_deref(),
            Some("**")
        );
        let config = dir.path().join("config/config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("pickup_code = \"**\""), "{text}");
        // Not keypad characters: refused, the saved code kept.
        assert!(e
            .set_pickup_code("office", Some("8a".into()))
            .await
            .is_err());
        assert!(matches!(
            e.account_input("nobody").await,
            Err(EngineError::NoSuchAccount(_))
        ));
        e.shutdown().await.unwrap();
        let again = engine(dir.path());
        assert_eq!(
            again
                .account_input("office")
                .await
                .unwrap()
                .pickup_code
                .as_deref(),
            Some("**")
        );
        again.set_pickup_code("office", None).await.unwrap();
        assert_eq!(
            again.account_input("office").await.unwrap().pickup_code,
            None
        );
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(!text.contains("pickup_code"), "{text}");
    }

    /// Realm and registration lifetime go to the config file and back.
    #[tokio::test]
    async fn an_accounts_realm_and_expiry_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let input = AccountInput {
            name: "office".into(),
            uri: "sip:alice@127.0.0.1".into(),
            display_name: None,
            auth_user: None,
            proxy: None,
            transport: crate::api::TransportKind::Udp,
            register: false,
            pickup_code: None,
            realm: Some("pbx.example.com".into()),
            expires: Some(120),
            options_keepalive_secs: None,
        };
        e.add_account(input.clone(), None).await.unwrap();
        assert_eq!(e.account_input("office").await.unwrap(), input);
        // Out of range: refused, nothing added.
        let bad = AccountInput {
            name: "bad".into(),
            register: true,
            expires: Some(5),
            ..input.clone()
        };
        assert!(e.add_account(bad, None).await.is_err());
        e.shutdown().await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
        assert!(text.contains("realm = \"pbx.example.com\""), "{text}");
        assert!(text.contains("expires = 120"), "{text}");
        assert!(!text.contains("\"bad\""), "{text}");
        let again = engine(dir.path());
        assert_eq!(again.account_input("office").await.unwrap(), input);
    }

    /// The OPTIONS keep-alive period: checked (0 is off, else 5-3600 s),
    /// saved, read back for the editor and kept over a restart.
    #[tokio::test]
    async fn an_accounts_options_keepalive_is_checked_and_stored() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let input = AccountInput {
            name: "office".into(),
            uri: "sip:alice@127.0.0.1".into(),
            display_name: None,
            auth_user: None,
            proxy: None,
            transport: crate::api::TransportKind::Udp,
            register: true,
            pickup_code: None,
            realm: None,
            expires: Some(600),
            options_keepalive_secs: Some(30),
        };
        for bad in [1, 4, 3601] {
            let r = e
                .add_account(
                    AccountInput {
                        options_keepalive_secs: Some(bad),
                        ..input.clone()
                    },
                    None,
                )
                .await;
            assert!(
                matches!(
                    r,
                    Err(EngineError::Config(store::ConfigError::BadField {
                        field: "options_keepalive_secs",
                        ..
                    }))
                ),
                "{bad}: {r:?}"
            );
        }
        e.add_account(input.clone(), None).await.unwrap();
        assert_eq!(e.account_input("office").await.unwrap(), input);
        // 0 is off: stored as unset.
        let off = AccountInput {
            name: "home".into(),
            options_keepalive_secs: Some(0),
            ..input.clone()
        };
        e.add_account(off, None).await.unwrap();
        assert_eq!(
            e.account_input("home")
                .await
                .unwrap()
                .options_keepalive_secs,
            None
        );
        e.shutdown().await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
        assert_eq!(text.matches("options_keepalive_secs").count(), 1, "{text}");
        assert!(text.contains("options_keepalive_secs = 30"), "{text}");
        let again = engine(dir.path());
        assert_eq!(again.account_input("office").await.unwrap(), input);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_codec_order_reaches_the_next_call() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (engine(da.path()), engine(db.path()));
        let b_addr = b.listen().await.unwrap();
        let mut s = a.media_settings().await.unwrap();
        // PCMA only, although the callee prefers Opus.
        s.codecs = vec![CodecName::Pcma];
        a.set_media_settings(s).await.unwrap();
        let mut rx = a.subscribe();
        let id = a
            .call(LOCAL_ACCOUNT, &format!("sip:parley@{b_addr}"))
            .await
            .unwrap();
        let codec = async {
            loop {
                if let Event::CallState { call } = rx.recv().await.unwrap() {
                    if call.state == CallState::Connected {
                        return call.codec;
                    }
                }
            }
        };
        let codec = tokio::time::timeout(Duration::from_secs(10), codec)
            .await
            .expect("never connected");
        assert_eq!(codec.as_deref(), Some("pcma/8000"));
        a.hangup(id).await.unwrap();
    }
}

//! The engine task. One tokio task owns all state (config, and with the
//! later issues sockets, transactions, calls); the [`Engine`] handle only
//! sends it commands and receives replies, so nothing else can touch the
//! protocol state.
//!
//! ```text
//!  Engine handle ──Command(+oneshot reply)──> engine task ──Event──> broadcast
//!  (app, CLI)     <─────────── reply ───────────┘                 (UI, CLI printer)
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use store::{AccountConfig, Config, ConfigError, Paths, SecretError, SecretStore};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, info};

use crate::api::{AccountInfo, AccountInput, CallInfo, EngineStatus, Event, RegistrationState};
use crate::call::{AudioChoice, CallError};
use crate::dns::{DnsError, SipResolver};
use crate::endpoint::{Endpoint, EndpointConfig, EndpointError};
use crate::registration::{self, RegisterError, RegistrationHandle, States};
use crate::transport::tls::TlsSettings;
use crate::transport::{Proto, TransportConfig};

/// Name of the built-in account used when none is configured.
pub const LOCAL_ACCOUNT: &str = "Local";

/// Bounded so a stuck engine pushes back on callers instead of growing.
const COMMAND_QUEUE: usize = 64;
/// A subscriber that falls this far behind sees `Lagged` and resyncs via
/// [`Engine::status`].
const EVENT_QUEUE: usize = 1024;

/// Errors of the engine API.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine task has stopped.
    #[error("the engine has stopped")]
    Stopped,
    /// Reading or writing the config failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The keyring refused.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The local account is built in and cannot be changed.
    #[error("the local account is built in and cannot be removed")]
    LocalAccount,
    /// Registration could not start.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// The SIP sockets could not be opened.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// DNS is not usable.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// A call command failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// No account by that name.
    #[error("no account {0:?}")]
    NoSuchAccount(String),
    /// An edit tried to rename an account (its name is its keyring key
    /// and history key; remove and add it instead).
    #[error("account {from:?} cannot be renamed to {to:?}")]
    AccountRenamed {
        /// The account's name.
        from: String,
        /// The name the edit gave.
        to: String,
    },
    /// The account is disabled: enable it to register.
    #[error("account {0:?} is disabled")]
    AccountDisabled(String),
    /// The account is set not to register.
    #[error("account {0:?} does not register")]
    NotRegistering(String),
    /// A chat command failed.
    #[error(transparent)]
    Chat(#[from] crate::chat::ChatError),
    /// A presence or contacts command failed.
    #[error(transparent)]
    Presence(#[from] crate::presence::PresenceError),
    /// A call history command failed.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// The sound test could not start.
    #[error(transparent)]
    AudioTest(#[from] crate::settings::AudioTestError),
}

/// Network settings of the SIP engine.
#[derive(Debug, Clone)]
pub struct SipOptions {
    /// Address to bind (all interfaces by default).
    pub bind_ip: IpAddr,
    /// UDP/TCP port; 0 picks a free one.
    pub port: u16,
    /// A DNS server to use instead of the system's (tests run their own).
    pub dns_server: Option<SocketAddr>,
    /// CA certificates (PEM files) to trust for TLS besides the system's.
    pub extra_roots: Vec<PathBuf>,
    /// Fixed RFC 5626 keep-alive interval for registered flows; `None`
    /// uses the RFC's (Flow-Timer, else 95-120 s; 20-25 s on UDP).
    pub keep_alive: Option<std::time::Duration>,
}

impl Default for SipOptions {
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            dns_server: None,
            extra_roots: Vec::new(),
            keep_alive: None,
        }
    }
}

/// What the engine needs to start.
pub struct EngineOptions {
    /// Config and data directories.
    pub paths: Paths,
    /// Where passwords live (the OS keyring, or memory in tests).
    pub secrets: Arc<dyn SecretStore>,
    /// Sockets and DNS.
    pub sip: SipOptions,
    /// Register every enabled account on start and when it is added (the
    /// app); off for one-shot CLI commands, which register on request.
    pub auto_register: bool,
    /// Answer incoming calls at once (`parley-cli run --auto-answer`).
    pub auto_answer: bool,
    /// Do not disturb: refuse incoming calls with 486 Busy Here.
    pub dnd: bool,
    /// Where calls get their audio (sound devices in the app; files or
    /// silence for the CLI and tests).
    pub call_audio: AudioChoice,
}

enum Command {
    Status(oneshot::Sender<EngineStatus>),
    AddAccount(
        AccountInput,
        Option<String>,
        oneshot::Sender<Result<(), EngineError>>,
    ),
    RemoveAccount(String, oneshot::Sender<Result<(), EngineError>>),
    Register(
        String,
        Option<String>,
        oneshot::Sender<Result<(), EngineError>>,
    ),
    Unregister(String, oneshot::Sender<Result<(), EngineError>>),
    UsePassword(String, String, oneshot::Sender<Result<(), EngineError>>),
    Shutdown(oneshot::Sender<()>),
    Dial {
        account: String,
        target: String,
        audio: Option<AudioChoice>,
        reply: oneshot::Sender<Result<u32, EngineError>>,
    },
    ToCall(
        u32,
        crate::call::CallCommand,
        oneshot::Sender<Result<(), EngineError>>,
    ),
    Listen(oneshot::Sender<Result<std::net::SocketAddr, EngineError>>),
    CallPolicy {
        dnd: bool,
        auto_answer: bool,
        reply: oneshot::Sender<()>,
    },
    Chat(chat::ChatCommand),
    Presence(presence::PresenceCommand),
    Settings(settings::SettingsCommand),
    Conference(calls::ConferenceCommand),
    AudioTest(audio_test::AudioTestCommand),
    Account(accounts::AccountCommand),
}

/// Handle to a running engine. Cheap to clone; every clone drives the same
/// engine task.
#[derive(Clone)]
pub struct Engine {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    /// History and contacts, read without a round trip to the task.
    store: crate::chat::Store,
    /// The SIP trace, read without a round trip to the task.
    trace: crate::trace::SipTrace,
}

impl Engine {
    /// Loads the config and starts the engine task on the current tokio
    /// runtime.
    pub fn start(options: EngineOptions) -> Result<Self, EngineError> {
        let config = Config::load(&options.paths.config_file())?;
        info!(accounts = config.accounts.len(), "engine starting");
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let store = chat::store_for(&options.paths);
        let trace = crate::trace::SipTrace::default();
        let mut task = Task {
            trace: trace.clone(),
            chat: chat::ChatSide::new(crate::chat::Outbox::new(store.clone(), events.clone())),
            presence: presence::PresenceSide::default(),
            own_events: events.subscribe(),
            config,
            options,
            events: events.clone(),
            endpoint: None,
            registrations: HashMap::new(),
            states: States::default(),
            net: None,
            calls: crate::call::Calls::default(),
            call_env: None,
            ended: mpsc::channel(64),
            transfers: mpsc::channel(8),
            passwords: HashMap::new(),
            live_calls: HashMap::new(),
            // Started by apply_media below, on the configured device; only
            // the app's sound devices ring, files and silence do not.
            ringing: None,
            ringing_output: None,
            waiting: crate::ringing::Waiting::default(),
            audio_test: audio_test::AudioTestSide::default(),
        };
        task.apply_media();
        tokio::spawn(task.run(rx));
        Ok(Self {
            commands,
            events,
            store,
            trace,
        })
    }

    /// Subscribes to the event stream from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)
    }

    /// A snapshot of the engine's state.
    pub async fn status(&self) -> Result<EngineStatus, EngineError> {
        self.ask(Command::Status).await
    }

    /// Adds an account; its password, if given, goes to the keyring only.
    pub async fn add_account(
        &self,
        input: AccountInput,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        self.ask(|tx| Command::AddAccount(input, password, tx))
            .await?
    }

    /// Removes an account and its keyring entry.
    pub async fn remove_account(&self, name: &str) -> Result<(), EngineError> {
        self.ask(|tx| Command::RemoveAccount(name.to_owned(), tx))
            .await?
    }

    /// Registers `account` (password from the keyring unless given, e.g.
    /// from PARLEY_PASSWORD) and keeps it registered; progress arrives as
    /// [`Event::Registration`].
    pub async fn register(
        &self,
        account: &str,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        self.ask(|tx| Command::Register(account.to_owned(), password, tx))
            .await?
    }

    /// Answers `account`'s challenges (to calls, messages, subscriptions)
    /// with `password` for this session, without registering it: for an
    /// account that does not register, the password given by the caller
    /// (e.g. PARLEY_PASSWORD) instead of the keyring's. Kept in memory
    /// only.
    pub async fn use_password(&self, account: &str, password: String) -> Result<(), EngineError> {
        self.ask(|tx| Command::UsePassword(account.to_owned(), password, tx))
            .await?
    }

    /// Removes `account`'s binding and stops refreshing it; returns when
    /// the registrar has answered (or the attempt ended).
    pub async fn unregister(&self, account: &str) -> Result<(), EngineError> {
        self.ask(|tx| Command::Unregister(account.to_owned(), tx))
            .await?
    }

    /// Stops the engine (unregistering every account) and waits for it.
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.ask(Command::Shutdown).await
    }

    /// Opens the SIP sockets now (they open on first use otherwise), so
    /// the local account can take calls; returns the UDP address.
    pub async fn listen(&self) -> Result<std::net::SocketAddr, EngineError> {
        self.ask(Command::Listen).await?
    }

    /// Calls `target` (a SIP URI, or a user/number at the account's
    /// domain) from `account`; progress arrives as [`Event::CallState`].
    pub async fn call(&self, account: &str, target: &str) -> Result<u32, EngineError> {
        self.call_with_audio(account, target, None).await
    }

    /// As [`Engine::call`], with this call's own audio (e.g. WAV files).
    pub async fn call_with_audio(
        &self,
        account: &str,
        target: &str,
        audio: Option<AudioChoice>,
    ) -> Result<u32, EngineError> {
        self.ask(|reply| Command::Dial {
            account: account.to_owned(),
            target: target.to_owned(),
            audio,
            reply,
        })
        .await?
    }

    async fn call_command(
        &self,
        id: u32,
        cmd: crate::call::CallCommand,
    ) -> Result<(), EngineError> {
        self.ask(|tx| Command::ToCall(id, cmd, tx)).await?
    }

    /// Answers incoming call `id`.
    pub async fn answer(&self, id: u32) -> Result<(), EngineError> {
        self.call_command(id, crate::call::CallCommand::Answer)
            .await
    }

    /// Refuses incoming call `id`: 486 Busy Here when `busy`, else 603 Decline.
    pub async fn reject(&self, id: u32, busy: bool) -> Result<(), EngineError> {
        self.call_command(id, crate::call::CallCommand::Reject { busy })
            .await
    }

    /// Hangs up call `id` (cancels it while it rings out).
    pub async fn hangup(&self, id: u32) -> Result<(), EngineError> {
        self.call_command(id, crate::call::CallCommand::Hangup)
            .await
    }

    /// Puts call `id` on hold, or resumes it.
    pub async fn hold(&self, id: u32, on: bool) -> Result<(), EngineError> {
        self.call_command(id, crate::call::CallCommand::Hold(on))
            .await
    }

    /// Mutes or unmutes our microphone in call `id`.
    pub async fn mute(&self, id: u32, on: bool) -> Result<(), EngineError> {
        self.call_command(id, crate::call::CallCommand::Mute(on))
            .await
    }

    /// Transfers call `id`'s peer to `target` (blind transfer, REFER).
    pub async fn transfer(&self, id: u32, target: &str) -> Result<(), EngineError> {
        self.call_command(
            id,
            crate::call::CallCommand::Transfer {
                target: target.to_owned(),
                replaces: None,
            },
        )
        .await
    }

    /// Attended transfer: connects call `id`'s peer with call `other`'s
    /// peer (REFER with Replaces, RFC 3891); both our calls then end.
    pub async fn transfer_attended(&self, id: u32, other: u32) -> Result<(), EngineError> {
        let (tx, rx) = oneshot::channel();
        self.call_command(other, crate::call::CallCommand::DialogInfo(tx))
            .await?;
        let (target, replaces) = rx.await.ok().flatten().ok_or(CallError::WrongState {
            id: other,
            what: "be the target of a transfer",
        })?;
        self.call_command(
            id,
            crate::call::CallCommand::Transfer {
                target,
                replaces: Some(replaces),
            },
        )
        .await
    }

    /// Do not disturb (incoming calls get 486 Busy Here) and auto-answer,
    /// switched at run time (the app's settings).
    pub async fn set_call_policy(&self, dnd: bool, auto_answer: bool) -> Result<(), EngineError> {
        self.ask(|tx| Command::CallPolicy {
            dnd,
            auto_answer,
            reply: tx,
        })
        .await
    }

    /// Sends DTMF digits in call `id` (RFC 4733, or SIP INFO when the peer
    /// has no telephone-event).
    pub async fn dtmf(&self, id: u32, digits: &str) -> Result<(), EngineError> {
        self.call_command(id, crate::call::CallCommand::Dtmf(digits.to_owned()))
            .await
    }
}

struct Task {
    config: Config,
    options: EngineOptions,
    events: broadcast::Sender<Event>,
    endpoint: Option<Endpoint>,
    registrations: HashMap<String, RegistrationHandle>,
    states: States,
    /// Requests from the network (once the endpoint runs).
    net: Option<mpsc::Receiver<crate::endpoint::EndpointEvent>>,
    calls: crate::call::Calls,
    call_env: Option<crate::call::CallEnv>,
    /// Calls report their end here.
    ended: (mpsc::Sender<Ended>, mpsc::Receiver<Ended>),
    /// Passwords of accounts in use this session (from the keyring or
    /// PARLEY_PASSWORD), to answer call challenges; memory only.
    passwords: HashMap<String, String>,
    /// Calls asked for by REFERs.
    transfers: (
        mpsc::Sender<crate::call::TransferDial>,
        mpsc::Receiver<crate::call::TransferDial>,
    ),
    /// The latest state of each live call, for `status`.
    live_calls: HashMap<u32, CallInfo>,
    /// Ringtone and ringback (sound devices only).
    ringing: Option<crate::ringing::Ringing>,
    /// The device the ringer plays on (`None`: the default output).
    ringing_output: Option<String>,
    /// Which calls play the call-waiting tone.
    waiting: crate::ringing::Waiting,
    chat: chat::ChatSide,
    presence: presence::PresenceSide,
    /// Our own events, for registrations (retry, auto-watch).
    own_events: broadcast::Receiver<Event>,
    /// The sound test of the settings, while it runs.
    audio_test: audio_test::AudioTestSide,
    /// Every SIP message the endpoint sends and receives.
    trace: crate::trace::SipTrace,
}

mod accounts;
mod audio_test;
mod calls;
mod chat;
mod history;
mod presence;
mod settings;
mod trace;

/// A call's last state and how it ended.
type Ended = (CallInfo, crate::api::CallEnd);

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        if self.options.auto_register {
            let names: Vec<String> = self
                .config
                .accounts
                .iter()
                .filter(|a| a.enabled && a.register)
                .map(|a| a.name.clone())
                .collect();
            for name in names {
                self.auto_register(&name).await;
            }
            // The app takes direct calls on the local account from the start.
            if let Err(e) = self.endpoint().await {
                tracing::warn!("cannot open the SIP sockets: {e}");
            }
        }
        let mut net_tick = tokio::time::interval(crate::netwatch::POLL);
        net_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut netwatch = crate::netwatch::NetWatch::new(
            crate::netwatch::Snapshot::take(),
            std::time::SystemTime::now(),
            std::time::Instant::now(),
        );
        loop {
            let idle_at = self.presence.idle_deadline();
            let cmd = tokio::select! {
                () = presence::sleep_until(idle_at) => {
                    self.idle_check().await;
                    continue;
                }
                _ = net_tick.tick() => {
                    let change = netwatch.check(
                        crate::netwatch::Snapshot::take(),
                        std::time::SystemTime::now(),
                        std::time::Instant::now(),
                    );
                    if let Some(change) = change {
                        info!(?change, "network changed; re-registering");
                        for handle in self.registrations.values() {
                            handle.network_changed();
                        }
                    }
                    continue;
                }
                cmd = rx.recv() => match cmd {
                    Some(c) => c,
                    None => break,
                },
                Some(ev) = next_net(&mut self.net) => {
                    self.incoming(ev).await;
                    continue;
                }
                Some((info, end)) = self.ended.1.recv() => {
                    self.call_ended(info, end);
                    continue;
                }
                Some(dial) = self.transfers.1.recv() => {
                    self.transfer_dial(dial).await;
                    continue;
                }
                Ok(ev) = self.own_events.recv() => {
                    self.take_own_event(ev).await;
                    continue;
                }
            };
            match cmd {
                Command::Dial {
                    account,
                    target,
                    audio,
                    reply,
                } => {
                    let _ = reply.send(self.dial(&account, &target, audio).await);
                }
                Command::ToCall(id, cmd, reply) => {
                    let _ = reply.send(self.calls.user_command(id, cmd).map_err(Into::into));
                }
                Command::CallPolicy {
                    dnd,
                    auto_answer,
                    reply,
                } => {
                    self.options.dnd = dnd;
                    self.options.auto_answer = auto_answer;
                    let _ = reply.send(());
                }
                Command::Listen(reply) => {
                    let r = self
                        .endpoint()
                        .await
                        .and_then(|ep| ep.local_addr(Proto::Udp).ok_or(EngineError::Stopped));
                    let _ = reply.send(r);
                }
                Command::Status(reply) => {
                    let _ = reply.send(self.status());
                }
                Command::Chat(cmd) => self.chat_command(cmd).await,
                Command::Presence(cmd) => self.presence_command(cmd).await,
                Command::Settings(cmd) => self.settings_command(cmd),
                Command::Conference(cmd) => self.conference_command(cmd).await,
                Command::AudioTest(cmd) => self.audio_test_command(cmd),
                Command::Account(cmd) => self.account_command(cmd).await,
                Command::AddAccount(input, password, reply) => {
                    let name = input.name.trim().to_owned();
                    let result = self.add_account(input, password).await;
                    let added = result.is_ok();
                    let _ = reply.send(result);
                    if added && self.options.auto_register {
                        self.auto_register(&name).await;
                    }
                }
                Command::RemoveAccount(name, reply) => {
                    // Take the binding down first; its password is about
                    // to leave the keyring.
                    if let Some(handle) = self.registrations.remove(&name) {
                        let _ =
                            tokio::time::timeout(std::time::Duration::from_secs(5), handle.stop())
                                .await;
                    }
                    self.states
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&name);
                    let _ = reply.send(self.remove_account(&name).await);
                }
                Command::Register(name, password, reply) => {
                    let _ = reply.send(self.register(&name, password).await);
                }
                Command::UsePassword(name, password, reply) => {
                    let r = if self.config.account(&name).is_some() {
                        self.passwords.insert(name, password);
                        Ok(())
                    } else {
                        Err(ConfigError::NoSuchAccount(name).into())
                    };
                    let _ = reply.send(r);
                }
                Command::Unregister(name, reply) => match self.registrations.remove(&name) {
                    // Unregistering waits for the registrar; do not hold
                    // up other commands meanwhile.
                    Some(handle) => {
                        tokio::spawn(async move {
                            handle.stop().await;
                            let _ = reply.send(Ok(()));
                        });
                    }
                    None => {
                        let _ = reply.send(Ok(()));
                    }
                },
                Command::Shutdown(reply) => {
                    info!("engine stopping");
                    self.hangup_all().await;
                    self.presence_shutdown().await;
                    // Unregister on quit, but never hang the exit on a
                    // registrar that does not answer.
                    let handles: Vec<RegistrationHandle> =
                        self.registrations.drain().map(|(_, h)| h).collect();
                    // All at once, so one silent registrar does not eat
                    // the others' time.
                    let tasks: Vec<_> = handles
                        .into_iter()
                        .map(|h| tokio::spawn(async move { h.stop().await }))
                        .collect();
                    let all = async {
                        for t in tasks {
                            let _ = t.await;
                        }
                    };
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), all).await;
                    let _ = reply.send(());
                    return;
                }
            }
        }
        debug!("every engine handle dropped; engine stopping");
    }
}

/// This install's RFC 5626 `+sip.instance` (`urn:uuid:...`), kept in the
/// config directory so it survives restarts (the registrar then replaces
/// our old binding instead of piling up new ones). None if it cannot be
/// stored: registering without outbound beats failing.
fn instance_id(paths: &Paths) -> Option<String> {
    let file = paths.config_dir.join("instance-id");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let t = text.trim();
        if t.len() == 36 && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Some(format!("urn:uuid:{t}"));
        }
    }
    let (a, b) = (
        crate::util::os_seed(),
        crate::util::os_seed().rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15,
    );
    // A version-4, variant-1 UUID from OS-seeded randomness.
    let hi = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let uuid = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    );
    std::fs::create_dir_all(&paths.config_dir).ok()?;
    std::fs::write(&file, &uuid).ok()?;
    Some(format!("urn:uuid:{uuid}"))
}

/// The next network event, or never when the endpoint is not running.
async fn next_net(
    net: &mut Option<mpsc::Receiver<crate::endpoint::EndpointEvent>>,
) -> Option<crate::endpoint::EndpointEvent> {
    match net {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Task {
    /// Registers an account that should be, reporting a failure to start
    /// (no password, bad URI, no sockets) as its registration state.
    async fn auto_register(&mut self, name: &str) {
        let wanted = self
            .config
            .account(name)
            .is_some_and(|a| a.enabled && a.register);
        if !wanted {
            return;
        }
        if let Err(e) = self.register(name, None).await {
            let state = RegistrationState::Failed {
                reason: e.to_string(),
            };
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

    async fn register(&mut self, name: &str, password: Option<String>) -> Result<(), EngineError> {
        let account = self
            .config
            .account(name)
            .cloned()
            .ok_or_else(|| ConfigError::NoSuchAccount(name.to_owned()))?;
        if !account.enabled {
            return Err(EngineError::AccountDisabled(name.to_owned()));
        }
        if self.registrations.contains_key(name) {
            return Ok(());
        }
        let password = match password {
            Some(p) => p,
            None => {
                let key = name.to_owned();
                self.keyring(move |k| k.get(&key))
                    .await
                    .map_err(|e| match e {
                        EngineError::Secret(SecretError::NotFound { .. }) => {
                            EngineError::Register(RegisterError::NoPassword(name.to_owned()))
                        }
                        other => other,
                    })?
            }
        };
        self.passwords.insert(name.to_owned(), password.clone());
        let endpoint = self.endpoint().await?;
        let supported = vec![Proto::Udp, Proto::Tcp, Proto::Tls];
        let resolver = match self.options.sip.dns_server {
            Some(server) => SipResolver::with_name_server(server, supported)?,
            None => SipResolver::system(supported)?,
        };
        let handle = registration::spawn(
            endpoint,
            resolver,
            &account,
            password,
            self.events.clone(),
            self.states.clone(),
            self.options.sip.keep_alive,
            instance_id(&self.options.paths),
        )?;
        self.registrations.insert(name.to_owned(), handle);
        Ok(())
    }

    /// The SIP endpoint, started on first use.
    async fn endpoint(&mut self) -> Result<Endpoint, EngineError> {
        if let Some(ep) = &self.endpoint {
            return Ok(ep.clone());
        }
        let sip = &self.options.sip;
        let tls = TlsSettings {
            extra_roots: sip.extra_roots.clone(),
            ..TlsSettings::default()
        };
        let config = EndpointConfig {
            transport: TransportConfig {
                port: sip.port,
                tls: Some(tls),
                ..TransportConfig::new(sip.bind_ip)
            },
            timers: sip_core::TimerConfig::default(),
        };
        let (ep, events) = Endpoint::start_traced(config, Some(self.trace.clone())).await?;
        self.net = Some(events);
        self.endpoint = Some(ep.clone());
        Ok(ep)
    }

    fn status(&self) -> EngineStatus {
        let mut calls: Vec<CallInfo> = self.live_calls.values().cloned().collect();
        calls.sort_by_key(|c| c.id);
        EngineStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            accounts: self.accounts(),
            calls,
        }
    }

    fn accounts(&self) -> Vec<AccountInfo> {
        if self.config.accounts.is_empty() {
            return vec![local_account()];
        }
        let states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.config
            .accounts
            .iter()
            .map(|a| {
                let mut info = account_info(a);
                if let (Some(s), true) = (states.get(&a.name), a.enabled && a.register) {
                    info.registration = s.clone();
                }
                info
            })
            .collect()
    }

    /// Runs a keyring call off the runtime's threads: it may talk D-Bus
    /// or wait for an unlock prompt.
    async fn keyring<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn SecretStore) -> Result<T, SecretError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let secrets = self.options.secrets.clone();
        tokio::task::spawn_blocking(move || call(secrets.as_ref()))
            .await
            .map_err(|_| EngineError::Stopped)?
            .map_err(EngineError::Secret)
    }

    async fn add_account(
        &mut self,
        input: AccountInput,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        if input.name == LOCAL_ACCOUNT {
            return Err(EngineError::LocalAccount);
        }
        let mut config = self.config.clone();
        let account = account_config(input);
        let name = account.name.clone();
        config.add_account(account)?;
        // Keyring first: a config entry without its password is recoverable
        // (the user is asked again); a password without an entry is litter.
        if let Some(pw) = password {
            let key = name.clone();
            self.keyring(move |k| k.set(&key, &pw)).await?;
        }
        if let Err(e) = config.save(&self.options.paths.config_file()) {
            let key = name.clone();
            let _ = self.keyring(move |k| k.delete(&key)).await;
            return Err(e.into());
        }
        self.config = config;
        info!("account added");
        self.publish(Event::AccountsChanged {
            accounts: self.accounts(),
        });
        Ok(())
    }

    async fn remove_account(&mut self, name: &str) -> Result<(), EngineError> {
        if name == LOCAL_ACCOUNT && self.config.accounts.is_empty() {
            return Err(EngineError::LocalAccount);
        }
        let mut config = self.config.clone();
        config.remove_account(name)?;
        config.save(&self.options.paths.config_file())?;
        self.config = config;
        let key = name.to_owned();
        self.keyring(move |k| k.delete(&key)).await?;
        info!("account removed");
        self.publish(Event::AccountsChanged {
            accounts: self.accounts(),
        });
        Ok(())
    }

    fn publish(&self, event: Event) {
        // No subscriber is fine: events are also reflected in `status`.
        let _ = self.events.send(event);
    }
}

/// The config entry an [`AccountInput`] describes (empty strings are
/// unset); checked by [`Config::add_account`] or
/// [`Config::update_account`]. New accounts are enabled.
fn account_config(input: AccountInput) -> AccountConfig {
    let mut account = AccountConfig {
        display_name: input.display_name.filter(|s| !s.is_empty()),
        auth_user: input.auth_user.filter(|s| !s.is_empty()),
        proxy: input.proxy.filter(|s| !s.is_empty()),
        transport: input.transport.into(),
        register: input.register,
        pickup_code: input
            .pickup_code
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty()),
        realm: input
            .realm
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        // 0 is off, like unset; the range is checked by add_account.
        options_keepalive_secs: input.options_keepalive_secs.filter(|&s| s != 0),
        ..AccountConfig::new(input.name.trim(), input.uri.trim())
    };
    // Checked with the rest by add_account (10-86400 s).
    if let Some(e) = input.expires {
        account.expires = e;
    }
    account
}

fn local_account() -> AccountInfo {
    AccountInfo {
        name: LOCAL_ACCOUNT.to_owned(),
        uri: "sip:parley@127.0.0.1".to_owned(),
        display_name: None,
        transport: crate::api::TransportKind::Udp,
        local: true,
        registration: RegistrationState::Local,
    }
}

fn account_info(a: &AccountConfig) -> AccountInfo {
    let registration = if !a.enabled {
        RegistrationState::Disabled
    } else if !a.register {
        RegistrationState::NotRegistering
    } else {
        RegistrationState::Unregistered
    };
    AccountInfo {
        name: a.name.clone(),
        uri: a.uri.clone(),
        display_name: a.display_name.clone(),
        transport: a.transport.into(),
        local: false,
        registration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TransportKind;
    use store::MemorySecrets;

    fn engine(dir: &std::path::Path, secrets: Arc<MemorySecrets>) -> Engine {
        let paths = Paths {
            config_dir: dir.join("config"),
            data_dir: dir.join("data"),
        };
        Engine::start(EngineOptions {
            paths,
            secrets,
            sip: SipOptions::default(),
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
            proxy: Some(String::new()),
            transport: TransportKind::Tcp,
            register: true,
            pickup_code: None,
            realm: None,
            expires: None,
            options_keepalive_secs: None,
        }
    }

    #[tokio::test]
    async fn first_start_shows_the_local_account() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path(), Arc::default());
        let s = e.status().await.unwrap();
        assert_eq!(s.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(s.accounts.len(), 1);
        assert!(s.accounts[0].local);
        assert_eq!(s.accounts[0].registration, RegistrationState::Local);
        assert!(matches!(
            e.remove_account(LOCAL_ACCOUNT).await,
            Err(EngineError::LocalAccount)
        ));
    }

    #[tokio::test]
    async fn add_and_remove_accounts_persist_and_emit_events() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecrets::default());
        let e = engine(dir.path(), secrets.clone());
        let mut events = e.subscribe();
        e.add_account(input("work"), Some("hunter2".into()))
            .await
            .unwrap();
        match events.recv().await.unwrap() {
            Event::AccountsChanged { accounts } => {
                assert_eq!(accounts.len(), 1);
                assert_eq!(accounts[0].name, "work");
                assert_eq!(accounts[0].transport, TransportKind::Tcp);
                assert_eq!(accounts[0].registration, RegistrationState::Unregistered);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(secrets.get("work").unwrap(), "hunter2");
        // The password is in the keyring and nowhere in the config dir.
        let text = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
        assert!(
            text.contains("sip:alice@127.0.0.1") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(
            !text.contains("proxy"),
            "empty proxy must not be stored: {text}"
        );

        // A second engine on the same dirs sees the account.
        let e2 = engine(dir.path(), secrets.clone());
        assert_eq!(e2.status().await.unwrap().accounts[0].name, "work");

        assert!(matches!(
            e.add_account(input("work"), None).await,
            Err(EngineError::Config(ConfigError::DuplicateAccount(_)))
        ));
        e.remove_account("work").await.unwrap();
        assert!(secrets.get("work").is_err());
        assert!(e.status().await.unwrap().accounts[0].local);
        e.shutdown().await.unwrap();
        assert!(matches!(e.status().await, Err(EngineError::Stopped)));
    }

    #[tokio::test]
    async fn invalid_input_is_refused_without_side_effects() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemorySecrets::default());
        let e = engine(dir.path(), secrets.clone());
        let mut bad = input("x");
        bad.uri = "alice".into();
        let err = e.add_account(bad, Some("pw".into())).await.unwrap_err();
        assert!(err.to_string().contains("uri"), "{err}");
        assert!(secrets.get("x").is_err());
        assert!(!dir.path().join("config/config.toml").exists());
    }
}

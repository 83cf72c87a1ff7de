//! `parley-cli`: the Parley engine without a window, for scripts, servers
//! and tests. Every subcommand drives the same `ua::Engine` API as the app.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use ua::{AccountInfo, AccountInput, Engine, EngineError, EngineOptions, TransportKind};

mod calls;
mod chat;

/// Longest password accepted on stdin; anything longer is a mistake
/// (a file piped in by accident) rather than a password.
const MAX_PASSWORD: usize = 1024;

#[derive(Parser)]
#[command(
    name = "parley-cli",
    version,
    about = "Parley softphone, headless: the app's engine driven from the command line"
)]
struct Cli {
    /// Directory of config.toml (default: the platform config dir).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// Directory of the message/call store (default: the platform data dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print one JSON object per line instead of readable text.
    #[arg(long, global = true)]
    json: bool,
    /// Also trust this CA certificate (PEM) for TLS, e.g. a PBX's own CA.
    #[arg(long, global = true, value_name = "PEM")]
    ca: Vec<PathBuf>,
    /// Do not disturb: incoming calls are refused with 486 Busy Here.
    #[arg(long, global = true)]
    dnd: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the engine version and the accounts with their state.
    Status,
    /// Manage SIP accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// List the sound devices the platform offers.
    Devices,
    /// Register an account, report the result, unregister; exit 0 when
    /// the registrar accepted it. The password comes from the keyring, or
    /// from PARLEY_PASSWORD (never stored).
    Register {
        /// Account name.
        name: String,
        /// Seconds to wait for the registrar.
        #[arg(long, default_value_t = 40)]
        timeout: u64,
    },
    /// Call a SIP address; exit 0 when the call was answered and ended
    /// normally.
    Call {
        /// Whom to call: a SIP URI, or a user/number at the account's domain.
        uri: String,
        /// The account to call from (`Local` for direct calls).
        #[arg(long, default_value = "Local")]
        account: String,
        /// Seconds to stay connected before hanging up.
        #[arg(long, default_value_t = 5)]
        duration: u64,
        /// WAV file (mono, 16-bit) to send as our voice.
        #[arg(long, value_name = "WAV")]
        play: Option<PathBuf>,
        /// Record what the peer sends to this WAV file (48 kHz mono).
        #[arg(long, value_name = "WAV")]
        record: Option<PathBuf>,
        /// Record the call (what we hear and what we send, mixed; mono
        /// 16-bit 16 kHz) to this WAV file once it is answered.
        #[arg(long, value_name = "WAV")]
        record_call: Option<PathBuf>,
        /// DTMF digits to send once connected.
        #[arg(long)]
        dtmf: Option<String>,
        /// Run processing stages on the files' audio as on sound devices
        /// (to measure their cost): `all`, or a list of `aec`, `ns`, `agc`.
        #[arg(long, value_name = "STAGES", num_args = 0..=1, default_missing_value = "all", value_parser = parse_processing)]
        processing: Option<media::processing::ProcessingConfig>,
    },
    /// Stay registered (or listening, for the local account) and serve:
    /// print every event, read commands from stdin (`call URI`, `answer`,
    /// `progress` (early media: 183 with SDP), `reject` or `decline` (603),
    /// `busy` (486), `hangup`, `hold`, `resume`, `mute`, `unmute`, `dtmf D`,
    /// `transfer URI`, `transfer-to ID` (attended), `switch ID`, `merge ID`
    /// (3-way with the current call), `split`, `record [WAV]`,
    /// `stop-recording`, `message URI TEXT`, `quit`).
    Run {
        /// The account to serve (`Local` for direct calls).
        #[arg(long, default_value = "Local")]
        account: String,
        /// Answer incoming calls at once.
        #[arg(long)]
        auto_answer: bool,
        /// WAV file to send as our voice in every call.
        #[arg(long, value_name = "WAV")]
        play: Option<PathBuf>,
        /// Directory to record each call to (`call-<id>.wav`).
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        /// SIP port to listen on (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Run processing stages on the files' audio as on sound devices
        /// (to measure their cost): `all`, or a list of `aec`, `ns`, `agc`.
        #[arg(long, value_name = "STAGES", num_args = 0..=1, default_missing_value = "all", value_parser = parse_processing)]
        processing: Option<media::processing::ProcessingConfig>,
    },
    /// Send a chat message; exit 0 when it was accepted (2xx).
    Message {
        /// Recipient SIP URI.
        uri: String,
        /// The text.
        text: String,
        /// The account to send from.
        #[arg(long, default_value = "Local")]
        account: String,
        /// Seconds to wait for the outcome.
        #[arg(long, default_value_t = 40)]
        timeout: u64,
    },
    /// Publish our presence, or watch a contact's.
    #[command(subcommand)]
    Presence(chat::PresenceCommand),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Add an account; the password goes to the OS keyring only.
    Add(AddArgs),
    /// List accounts.
    List,
    /// Remove an account and its keyring entry.
    Remove {
        /// Account name.
        name: String,
    },
    /// Change an account's settings: only the options given change (an
    /// empty value, e.g. --proxy "", clears one); the keyring keeps its
    /// password unless --password-stdin gives a new one. A running
    /// registration is removed and the new settings register.
    Edit(EditArgs),
    /// Enable an account (it registers again when Parley runs).
    Enable {
        /// Account name.
        name: String,
    },
    /// Disable an account: it stays configured but does not register.
    Disable {
        /// Account name.
        name: String,
    },
}

#[derive(Args)]
struct EditArgs {
    /// The account's name (accounts are not renamed).
    name: String,
    /// Address of record, e.g. sip:alice@example.com.
    #[arg(long)]
    uri: Option<String>,
    /// Display name shown to callees.
    #[arg(long)]
    display_name: Option<String>,
    /// Digest user name, when it differs from the URI's user.
    #[arg(long)]
    auth_user: Option<String>,
    /// Outbound proxy URI.
    #[arg(long)]
    proxy: Option<String>,
    /// Transport to the registrar/proxy.
    #[arg(long, value_enum)]
    transport: Option<Transport>,
    /// Do not register this account.
    #[arg(long, conflicts_with = "register")]
    no_register: bool,
    /// Register this account (after --no-register).
    #[arg(long)]
    register: bool,
    /// The PBX's call-pickup code (`*8`, `**`), for `presence pickup`.
    #[arg(long)]
    pickup_code: Option<String>,
    /// Digest realm to answer (any realm the server names when empty).
    #[arg(long)]
    realm: Option<String>,
    /// Registration lifetime to ask for, in seconds (10-86400).
    #[arg(long, value_name = "SECONDS")]
    expires: Option<u32>,
    /// Send an OPTIONS to the registrar every SECONDS while registered
    /// (5-3600; 0: off).
    #[arg(long, value_name = "SECONDS")]
    options_keepalive: Option<u32>,
    /// Read a new password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

impl EditArgs {
    /// `current` with the options given applied.
    fn apply(self, mut current: AccountInput) -> AccountInput {
        let set = |field: &mut Option<String>, value: Option<String>| {
            if let Some(v) = value {
                *field = Some(v).filter(|v| !v.is_empty());
            }
        };
        if let Some(uri) = self.uri {
            current.uri = uri;
        }
        set(&mut current.display_name, self.display_name);
        set(&mut current.auth_user, self.auth_user);
        set(&mut current.proxy, self.proxy);
        set(&mut current.pickup_code, self.pickup_code);
        set(&mut current.realm, self.realm);
        if let Some(t) = self.transport {
            current.transport = t.into();
        }
        if self.no_register {
            current.register = false;
        }
        if self.register {
            current.register = true;
        }
        if let Some(e) = self.expires {
            current.expires = Some(e);
        }
        if let Some(k) = self.options_keepalive {
            current.options_keepalive_secs = Some(k);
        }
        current
    }
}

#[derive(Args)]
struct AddArgs {
    /// Unique account name.
    name: String,
    /// Address of record, e.g. sip:alice@example.com.
    #[arg(long)]
    uri: String,
    /// Display name shown to callees.
    #[arg(long)]
    display_name: Option<String>,
    /// Digest user name, when it differs from the URI's user.
    #[arg(long)]
    auth_user: Option<String>,
    /// Outbound proxy URI.
    #[arg(long)]
    proxy: Option<String>,
    /// Transport to the registrar/proxy.
    #[arg(long, value_enum, default_value_t = Transport::Udp)]
    transport: Transport,
    /// Do not register this account.
    #[arg(long)]
    no_register: bool,
    /// The PBX's call-pickup code (`*8`, `**`), for `presence pickup`.
    #[arg(long)]
    pickup_code: Option<String>,
    /// Digest realm to answer (any realm the server names when unset).
    #[arg(long)]
    realm: Option<String>,
    /// Registration lifetime to ask for, in seconds (10-86400).
    #[arg(long, value_name = "SECONDS")]
    expires: Option<u32>,
    /// Send an OPTIONS to the registrar every SECONDS while registered
    /// (5-3600; 0 or unset: off), to notice a registrar that restarted
    /// and lost the registration (over UDP nothing else does).
    #[arg(long, value_name = "SECONDS")]
    options_keepalive: Option<u32>,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl From<Transport> for TransportKind {
    fn from(t: Transport) -> Self {
        match t {
            Transport::Udp => Self::Udp,
            Transport::Tcp => Self::Tcp,
            Transport::Tls => Self::Tls,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Paths(#[from] store::PathsError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Devices(#[from] media::devices::DeviceError),
    #[error("reading the password from stdin: {0}")]
    Stdin(std::io::Error),
    #[error("the password on stdin is empty or longer than {MAX_PASSWORD} bytes")]
    BadPassword,
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("registration of {account:?} failed: {reason}")]
    RegistrationFailed { account: String, reason: String },
    #[error("no answer about {0:?} from the registrar in time")]
    RegistrationTimeout(String),
    #[error("call {}", calls::describe(.0))]
    CallFailed(ua::api::CallEnd),
    #[error("pickup: call {}", calls::describe(.0))]
    PickupFailed(ua::api::CallEnd),
    /// The engine's own words for why the recording stopped.
    #[error("recording: {0}")]
    RecordingFailed(String),
    #[error("recording: no word of the recording's end")]
    RecordingUnfinished,
    #[error("no call to act on")]
    NoCall,
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    #[error("message {0}: no outcome in time")]
    MessageTimeout(i64),
    /// The peer's or the engine's reason the message failed.
    #[error("message {id}: {reason}")]
    MessageRejected { id: i64, reason: String },
    #[error("presence: no answer in time")]
    PresenceTimeout,
    /// The presence server's reason for refusing the publication.
    #[error("presence: publication refused{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    PublishRefused(Option<String>),
    #[error("presence: the line did not ring in time")]
    NotRinging,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(ua::log_filter())
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parley-cli: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    // Two workers: signalling and each call's 20 ms media clock side by side.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    rt.block_on(async {
        let out = Output { json: cli.json };
        if let Command::Devices = cli.command {
            let (inputs, outputs) = media::devices::list_devices()?;
            out.devices(&inputs, &outputs);
            return Ok(());
        }
        let paths = store::Paths::resolve(cli.config_dir.as_deref(), cli.data_dir.as_deref())?;
        let (auto_answer, call_audio, port) = match &cli.command {
            Command::Run {
                auto_answer,
                play,
                record,
                port,
                processing,
                ..
            } => (
                *auto_answer,
                ua::call::AudioChoice::Files {
                    play: play.clone(),
                    record: record.clone(),
                    processing: processing.unwrap_or_else(media::processing::ProcessingConfig::off),
                },
                *port,
            ),
            _ => (false, ua::call::AudioChoice::Null, 0),
        };
        if let Command::Run {
            record: Some(dir), ..
        } = &cli.command
        {
            std::fs::create_dir_all(dir).map_err(CliError::Stdin)?;
        }
        let engine = Engine::start(EngineOptions {
            paths,
            secrets: Arc::new(store::OsKeyring),
            sip: ua::SipOptions {
                port,
                extra_roots: cli.ca.clone(),
                ..ua::SipOptions::default()
            },
            dnd: cli.dnd,
            auto_register: false,
            auto_answer,
            call_audio,
        })?;
        let result = dispatch(&engine, cli.command, &out).await;
        engine.shutdown().await?;
        result
    })
}

async fn dispatch(engine: &Engine, command: Command, out: &Output) -> Result<(), CliError> {
    match command {
        Command::Status => {
            let s = engine.status().await?;
            if out.json {
                out.line(&serde_json::json!({ "event": "status", "version": s.version, "accounts": s.accounts }));
            } else {
                println!("Parley {}", s.version);
                s.accounts.iter().for_each(|a| print_account(a, None));
            }
        }
        Command::Account(AccountCommand::List) => {
            for a in engine.status().await?.accounts {
                // Settings beyond AccountInfo (none for the local account).
                let keepalive = match a.local {
                    true => None,
                    false => engine.account_input(&a.name).await?.options_keepalive_secs,
                };
                if out.json {
                    out.line(&serde_json::json!({
                        "event": "account",
                        "account": a,
                        "options_keepalive_secs": keepalive,
                    }));
                } else {
                    print_account(&a, keepalive);
                }
            }
        }
        Command::Account(AccountCommand::Add(args)) => {
            let password = if args.password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let name = args.name.clone();
            engine
                .add_account(
                    AccountInput {
                        name: args.name,
                        uri: args.uri,
                        display_name: args.display_name,
                        auth_user: args.auth_user,
                        proxy: args.proxy,
                        transport: args.transport.into(),
                        register: !args.no_register,
                        pickup_code: args.pickup_code,
                        realm: args.realm,
                        expires: args.expires,
                        options_keepalive_secs: args.options_keepalive,
                    },
                    password,
                )
                .await?;
            out.done("account_added", &name);
        }
        Command::Account(AccountCommand::Remove { name }) => {
            engine.remove_account(&name).await?;
            out.done("account_removed", &name);
        }
        Command::Account(AccountCommand::Edit(args)) => {
            let password = if args.password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let name = args.name.clone();
            let current = engine.account_input(&name).await?;
            engine
                .update_account(&name, args.apply(current), password)
                .await?;
            out.done("account_updated", &name);
        }
        Command::Account(AccountCommand::Enable { name }) => {
            engine.set_account_enabled(&name, true).await?;
            out.done("account_enabled", &name);
        }
        Command::Account(AccountCommand::Disable { name }) => {
            engine.set_account_enabled(&name, false).await?;
            out.done("account_disabled", &name);
        }
        Command::Register { name, timeout } => register(engine, &name, timeout, out).await?,
        Command::Call {
            uri,
            account,
            duration,
            play,
            record,
            record_call,
            dtmf,
            processing,
        } => {
            let processing = processing.unwrap_or_else(media::processing::ProcessingConfig::off);
            let files = calls::CallFiles {
                play,
                record,
                record_call,
            };
            calls::call(
                engine, &account, &uri, duration, files, dtmf, processing, out,
            )
            .await?
        }
        Command::Run { account, .. } => calls::run(engine, &account, out).await?,
        Command::Message {
            uri,
            text,
            account,
            timeout,
        } => chat::message(engine, &account, &uri, &text, timeout, out).await?,
        Command::Presence(cmd) => chat::presence(engine, cmd, out).await?,
        Command::Devices => unreachable!("handled before the engine starts"),
    }
    Ok(())
}

async fn register(engine: &Engine, name: &str, timeout: u64, out: &Output) -> Result<(), CliError> {
    // For one-off headless use; read here, handed to the engine, never stored.
    let password = std::env::var("PARLEY_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let mut events = engine.subscribe();
    engine.register(name, password).await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
    let outcome = loop {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => break Err(CliError::RegistrationTimeout(name.to_owned())),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) => break Err(CliError::Engine(EngineError::Stopped)),
            Ok(Ok(ev)) => ev,
        };
        let ua::Event::Registration { account, state } = ev else {
            continue;
        };
        if account != name {
            continue;
        }
        match state {
            ua::RegistrationState::Registering => {
                out.event("registering", name, serde_json::json!({}))
            }
            ua::RegistrationState::Registered { expires_in_s } => {
                out.event(
                    "registered",
                    name,
                    serde_json::json!({ "expires": expires_in_s }),
                );
                break Ok(());
            }
            ua::RegistrationState::Failed { reason } => {
                out.event(
                    "registration_failed",
                    name,
                    serde_json::json!({ "reason": reason }),
                );
                break Err(CliError::RegistrationFailed {
                    account: name.to_owned(),
                    reason,
                });
            }
            _ => {}
        }
    };
    engine.unregister(name).await?;
    if outcome.is_ok() {
        out.event("unregistered", name, serde_json::json!({}));
    }
    outcome
}

fn read_password() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_PASSWORD as u64 + 2)
        .read_line(&mut line)
        .map_err(CliError::Stdin)?;
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() || pw.len() > MAX_PASSWORD {
        return Err(CliError::BadPassword);
    }
    Ok(pw.to_owned())
}

/// One tab-separated line: name, URI, transport, state, and a fifth
/// column `keepalive N s` only when the OPTIONS keep-alive is on.
fn print_account(a: &AccountInfo, options_keepalive_secs: Option<u32>) {
    let state = match &a.registration {
        ua::RegistrationState::Local => "local (direct calls, no server)".to_owned(),
        ua::RegistrationState::Disabled => "disabled".to_owned(),
        ua::RegistrationState::NotRegistering => "not registering".to_owned(),
        ua::RegistrationState::Unregistered => "unregistered".to_owned(),
        ua::RegistrationState::Registering => "registering".to_owned(),
        ua::RegistrationState::Registered { expires_in_s } => {
            format!("registered ({expires_in_s} s)")
        }
        ua::RegistrationState::Failed { reason } => format!("failed: {reason}"),
    };
    let transport = serde_json::to_value(a.transport)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let keepalive = options_keepalive_secs
        .map(|s| format!("\tkeepalive {s} s"))
        .unwrap_or_default();
    println!("{}\t{}\t{}\t{}{keepalive}", a.name, a.uri, transport, state);
}

struct Output {
    json: bool,
}

impl Output {
    fn line(&self, v: &impl Serialize) {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) is not an error worth reporting.
        let _ = serde_json::to_writer(&mut stdout, v);
        let _ = stdout.write_all(b"\n");
    }

    fn done(&self, event: &str, name: &str) {
        if self.json {
            self.line(&serde_json::json!({ "event": event, "account": name }));
        } else {
            println!("{}: {name}", event.replace('_', " "));
        }
    }

    /// One event: a JSON object with `event` and `account` plus `extra`'s
    /// fields, or a readable line.
    fn event(&self, event: &str, account: &str, extra: serde_json::Value) {
        if self.json {
            let mut v = serde_json::json!({ "event": event, "account": account });
            if let (Some(obj), serde_json::Value::Object(more)) = (v.as_object_mut(), extra) {
                obj.extend(more);
            }
            self.line(&v);
        } else {
            let details: Vec<String> = extra
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}",
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let line = format!(
                "{}: {account} {}",
                event.replace('_', " "),
                details.join(" ")
            );
            println!("{}", line.trim_end());
        }
    }

    /// An engine event: its JSON form (with `event`), or a readable line.
    fn engine_event(&self, ev: &ua::Event) {
        // Levels come ten times a second: a meter's business, not a log's.
        if matches!(ev, ua::Event::AudioLevel { .. }) {
            return;
        }
        // Registration changes read as the one-shot commands print them:
        // `registered`, `registration_failed`, `registering`, `unregistered`.
        if let ua::Event::Registration { account, state } = ev {
            let (name, extra) = match state {
                ua::RegistrationState::Registered { expires_in_s } => {
                    ("registered", serde_json::json!({ "expires": expires_in_s }))
                }
                ua::RegistrationState::Failed { reason } => (
                    "registration_failed",
                    serde_json::json!({ "reason": reason }),
                ),
                ua::RegistrationState::Registering => ("registering", serde_json::json!({})),
                _ => ("unregistered", serde_json::json!({})),
            };
            self.event(name, account, extra);
            return;
        }
        if self.json {
            self.line(ev);
            return;
        }
        if let Some(line) = chat::describe(ev) {
            println!("{line}");
            return;
        }
        match ev {
            ua::Event::IncomingCall { call } => println!(
                "incoming call {}: {}{}",
                call.id,
                call.peer_name
                    .as_deref()
                    .map(|n| format!("{n} "))
                    .unwrap_or_default(),
                call.peer_uri
            ),
            ua::Event::CallState { call } => {
                println!("call {} {:?}: {}", call.id, call.state, call.peer_uri)
            }
            ua::Event::CallEnded { call, end } => println!("call {} ended: {end:?}", call.id),
            ua::Event::CallQuality { id, quality } => println!(
                "call {id} quality: loss {:.1}% jitter {:.1} ms mos {:.2}",
                quality.loss_pct, quality.jitter_ms, quality.mos
            ),
            ua::Event::Dtmf { id, digit } => println!("call {id} dtmf {digit}"),
            ua::Event::Recording {
                id,
                path,
                active,
                error,
            } => match (active, error) {
                (true, _) => println!("call {id} recording to {path}"),
                (false, None) => println!("call {id} recorded to {path}"),
                (false, Some(e)) => println!("call {id} recording to {path} failed: {e}"),
            },
            ua::Event::AudioLevel { .. } => {}
            ua::Event::Registration { account, state } => println!("{account}: {state:?}"),
            ua::Event::AccountsChanged { .. } => {}
            // Described by chat::describe above.
            _ => {}
        }
    }

    fn devices(&self, inputs: &[String], outputs: &[String]) {
        if self.json {
            self.line(
                &serde_json::json!({ "event": "devices", "inputs": inputs, "outputs": outputs }),
            );
        } else {
            inputs.iter().for_each(|d| println!("input\t{d}"));
            outputs.iter().for_each(|d| println!("output\t{d}"));
        }
    }
}

/// `--processing` stages: `all`, or a comma list of `aec`, `ns`, `agc`.
fn parse_processing(v: &str) -> Result<media::processing::ProcessingConfig, String> {
    let mut c = media::processing::ProcessingConfig::off();
    for stage in v.split(',').map(str::trim) {
        match stage {
            "all" => c = media::processing::ProcessingConfig::default(),
            "aec" => c.echo_cancellation = true,
            "ns" => c.noise_suppression = true,
            "agc" => c.auto_gain = true,
            other => return Err(format!("unknown stage `{other}` (all, aec, ns, agc)")),
        }
    }
    Ok(c)
}

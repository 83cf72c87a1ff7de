//! `parley-cli`: the Parley engine without a window, for scripts, servers
//! and tests. Every subcommand drives the same `ua::Engine` API as the app.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use ua::{AccountInfo, AccountInput, Engine, EngineError, EngineOptions, TransportKind};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PARLEY_LOG"))
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
    let rt = tokio::runtime::Builder::new_current_thread()
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
        let engine = Engine::start(EngineOptions {
            paths,
            secrets: Arc::new(store::OsKeyring),
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
                s.accounts.iter().for_each(print_account);
            }
        }
        Command::Account(AccountCommand::List) => {
            for a in engine.status().await?.accounts {
                if out.json {
                    out.line(&serde_json::json!({ "event": "account", "account": a }));
                } else {
                    print_account(&a);
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
        Command::Devices => unreachable!("handled before the engine starts"),
    }
    Ok(())
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

fn print_account(a: &AccountInfo) {
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
    println!("{}\t{}\t{}\t{}", a.name, a.uri, transport, state);
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

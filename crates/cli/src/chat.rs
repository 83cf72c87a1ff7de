//! `message` and `presence` subcommands, and the chat/presence commands of
//! `run`'s stdin.

use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use tokio::sync::broadcast::error::RecvError;
use ua::chat::ChatState;
use ua::presence::{Availability, LineState};
use ua::{Engine, Event};

use crate::calls::prepare;
use crate::{CliError, Output};

/// A presence state as typed.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum State {
    Available,
    Away,
    Busy,
    OnThePhone,
    Offline,
}

impl From<State> for Availability {
    fn from(s: State) -> Self {
        match s {
            State::Available => Self::Available,
            State::Away => Self::Away,
            State::Busy => Self::Busy,
            State::OnThePhone => Self::OnThePhone,
            State::Offline => Self::Offline,
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum PresenceCommand {
    /// Publish our state (removed again when parley-cli quits).
    Publish {
        /// available, away, busy, on-the-phone or offline.
        #[arg(value_enum)]
        state: State,
        /// A note shown with the state.
        #[arg(long)]
        note: Option<String>,
        /// The account.
        #[arg(long, default_value = "Local")]
        account: String,
        /// Seconds to keep it published before quitting.
        #[arg(long, default_value_t = 0)]
        duration: u64,
    },
    /// Watch a contact's presence and print each change.
    Watch {
        /// Whom to watch (SIP URI).
        uri: String,
        /// The account.
        #[arg(long, default_value = "Local")]
        account: String,
        /// Seconds to watch.
        #[arg(long, default_value_t = 30)]
        duration: u64,
    },
    /// Pick up a colleague's ringing line (BLF): watch it, wait until it
    /// rings, take the call over (INVITE with Replaces, or the account's
    /// pickup code), hang up after --duration seconds.
    Pickup {
        /// Whose line (SIP URI).
        uri: String,
        /// The account.
        #[arg(long, default_value = "Local")]
        account: String,
        /// Seconds to wait for the line to ring.
        #[arg(long, default_value_t = 30)]
        within: u64,
        /// Seconds to stay in the picked-up call.
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// Set the account's call-pickup code (`*8`, `**`: dialled followed
    /// by the ringing extension when the server hides the ringing call);
    /// an empty code clears it.
    PickupCode {
        /// The code.
        code: String,
        /// The account.
        #[arg(long)]
        account: String,
    },
    /// List the watchers the account allowed or blocked.
    Watchers {
        /// The account.
        #[arg(long, default_value = "Local")]
        account: String,
    },
    /// Let a watcher see our presence (remembered).
    Allow {
        /// The watcher (SIP URI).
        uri: String,
        /// The account.
        #[arg(long, default_value = "Local")]
        account: String,
    },
    /// Refuse a watcher for good (remembered; later SUBSCRIBEs get 403).
    Block {
        /// The watcher (SIP URI).
        uri: String,
        /// The account.
        #[arg(long, default_value = "Local")]
        account: String,
    },
    /// Forget what was decided for a watcher: they wait for a decision
    /// again on their next SUBSCRIBE.
    Forget {
        /// The watcher (SIP URI).
        uri: String,
        /// The account.
        #[arg(long, default_value = "Local")]
        account: String,
    },
}

/// `message URI TEXT`: exit 0 when the message was accepted (2xx).
pub(crate) async fn message(
    engine: &Engine,
    account: &str,
    uri: &str,
    text: &str,
    timeout: u64,
    out: &Output,
) -> Result<(), CliError> {
    let mut events = engine.subscribe();
    prepare(engine, account, out).await?;
    let id = engine.send_message(account, uri, text).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => return Err(CliError::MessageTimeout(id)),
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(_)) => return Err(CliError::Engine(ua::EngineError::Stopped)),
            Ok(Ok(ev)) => ev,
        };
        if let Event::MessageStatus { message } = &ev {
            if message.id != id {
                continue;
            }
            out.engine_event(&ev);
            match &message.state {
                ChatState::Sent | ChatState::Delivered => return Ok(()),
                ChatState::Failed { reason, .. } => {
                    return Err(CliError::MessageRejected {
                        id,
                        reason: reason.clone(),
                    })
                }
                ChatState::Sending | ChatState::Received => {}
            }
        }
    }
}

/// `presence publish|watch`.
pub(crate) async fn presence(
    engine: &Engine,
    cmd: PresenceCommand,
    out: &Output,
) -> Result<(), CliError> {
    let mut events = engine.subscribe();
    let (account, duration) = match cmd {
        PresenceCommand::Publish {
            ref account,
            duration,
            ..
        }
        | PresenceCommand::Watch {
            ref account,
            duration,
            ..
        } => (account.clone(), duration),
        PresenceCommand::Pickup {
            uri,
            account,
            within,
            duration,
        } => return pickup(engine, &account, &uri, within, duration, out).await,
        PresenceCommand::PickupCode { code, account } => {
            let code = Some(code).filter(|c| !c.trim().is_empty());
            return Ok(engine.set_pickup_code(&account, code).await?);
        }
        PresenceCommand::Watchers { account } => {
            for d in engine.watcher_decisions(&account).await? {
                let state = if d.allowed { "allowed" } else { "blocked" };
                if out.json {
                    out.line(&serde_json::json!({
                        "event": "watcher", "account": d.account, "watcher": d.watcher, "state": state
                    }));
                } else {
                    println!("{state}\t{}", d.watcher);
                }
            }
            return Ok(());
        }
        PresenceCommand::Allow { uri, account } => {
            engine.allow_watcher(&account, &uri).await?;
            out.event(
                "watcher_allowed",
                &account,
                serde_json::json!({ "watcher": uri }),
            );
            return Ok(());
        }
        PresenceCommand::Block { uri, account } => {
            engine.block_watcher(&account, &uri).await?;
            out.event(
                "watcher_blocked",
                &account,
                serde_json::json!({ "watcher": uri }),
            );
            return Ok(());
        }
        PresenceCommand::Forget { uri, account } => {
            engine.forget_watcher(&account, &uri).await?;
            out.event(
                "watcher_forgotten",
                &account,
                serde_json::json!({ "watcher": uri }),
            );
            return Ok(());
        }
    };
    prepare(engine, &account, out).await?;
    let publishing = match cmd {
        PresenceCommand::Publish { state, note, .. } => {
            engine
                .publish_presence(&account, state.into(), note)
                .await?;
            true
        }
        PresenceCommand::Watch { uri, .. } => {
            engine.watch(&account, &uri).await?;
            false
        }
        _ => return Ok(()),
    };
    let mut deadline = tokio::time::Instant::now() + Duration::from_secs(duration.max(1));
    let mut published = !publishing;
    loop {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) if published => return Ok(()),
            Err(_) => return Err(CliError::PresenceTimeout),
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(_)) => return Err(CliError::Engine(ua::EngineError::Stopped)),
            Ok(Ok(ev)) => ev,
        };
        match &ev {
            Event::PresencePublished { ok: true, .. } if !published => {
                published = true;
                out.engine_event(&ev);
                // Published: now keep it for the asked time.
                deadline = tokio::time::Instant::now() + Duration::from_secs(duration);
            }
            Event::PresencePublished {
                ok: false, reason, ..
            } if !published => {
                out.engine_event(&ev);
                return Err(CliError::PublishRefused(reason.clone()));
            }
            Event::Presence { .. }
            | Event::WatchStatus { .. }
            | Event::PresencePublished { .. } => out.engine_event(&ev),
            _ => {}
        }
    }
}

/// `presence pickup URI`: exit 0 when the picked-up call was answered and
/// ended normally.
async fn pickup(
    engine: &Engine,
    account: &str,
    uri: &str,
    within: u64,
    duration: u64,
    out: &Output,
) -> Result<(), CliError> {
    let mut events = engine.subscribe();
    prepare(engine, account, out).await?;
    engine.watch_line(account, uri, true).await?;
    let watched = uri.trim().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(within);
    let mut call: Option<u32> = None;
    let mut hangup_at: Option<tokio::time::Instant> = None;
    loop {
        let wake = match (call, hangup_at) {
            (None, _) => Some(deadline),
            (Some(_), at) => at,
        };
        let ev = tokio::select! {
            ev = events.recv() => ev,
            () = sleep_opt(wake) => match call {
                None => return Err(CliError::NotRinging),
                Some(id) => {
                    hangup_at = None;
                    engine.hangup(id).await?;
                    continue;
                }
            },
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => continue,
            Err(_) => return Err(CliError::Engine(ua::EngineError::Stopped)),
        };
        match &ev {
            Event::Blf { uri, state, .. } if call.is_none() => {
                out.engine_event(&ev);
                // The engine names the line without URI parameters.
                let ours = watched.starts_with(uri.as_str());
                if ours && *state == LineState::Ringing {
                    call = Some(engine.pickup(account, &watched).await?);
                }
            }
            Event::CallState { call: c } if Some(c.id) == call => {
                out.engine_event(&ev);
                if c.state == ua::api::CallState::Connected && hangup_at.is_none() {
                    hangup_at = Some(tokio::time::Instant::now() + Duration::from_secs(duration));
                }
            }
            Event::CallEnded { call: c, end } if Some(c.id) == call => {
                out.engine_event(&ev);
                return if c.answered_ms.is_some() {
                    Ok(())
                } else {
                    Err(CliError::PickupFailed(end.clone()))
                };
            }
            Event::WatchStatus { .. } => out.engine_event(&ev),
            _ => {}
        }
    }
}

async fn sleep_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Chat and presence commands of `run`'s stdin: `message URI TEXT`,
/// `retry ID`, `typing URI`, `presence STATE [NOTE]`, `watch URI`,
/// `unwatch URI`, `blf URI`, `mwi`.
pub(crate) async fn stdin_command(
    engine: &Engine,
    account: &str,
    verb: &str,
    rest: &str,
) -> Result<(), CliError> {
    let (first, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    match verb {
        "message" => {
            engine.send_message(account, first, tail.trim()).await?;
        }
        "retry" => {
            let id = first
                .parse()
                .map_err(|_| CliError::UnknownCommand(format!("retry {rest}")))?;
            engine.retry_message(id).await?;
        }
        "typing" => engine.set_composing(account, first, true).await?,
        "presence" => {
            let state = State::from_str(first, true)
                .map_err(|_| CliError::UnknownCommand(format!("presence {rest}")))?;
            let note = Some(tail.trim().to_owned()).filter(|n| !n.is_empty());
            engine.publish_presence(account, state.into(), note).await?;
        }
        "watch" => engine.watch(account, first).await?,
        "unwatch" => engine.unwatch(account, first).await?,
        "blf" => engine.watch_line(account, first, true).await?,
        "mwi" => engine.watch_voicemail(account, true).await?,
        other => return Err(CliError::UnknownCommand(other.to_owned())),
    }
    Ok(())
}

/// A readable line for a chat or presence event; `None` for other events.
pub(crate) fn describe(ev: &Event) -> Option<String> {
    Some(match ev {
        Event::MessageReceived { message } => {
            format!(
                "message {} from {}: {}",
                message.id, message.peer, message.text
            )
        }
        Event::MessageStatus { message } => match &message.state {
            ChatState::Failed { reason, .. } => {
                format!(
                    "message {} to {} failed: {reason}",
                    message.id, message.peer
                )
            }
            s => format!("message {} to {}: {s:?}", message.id, message.peer),
        },
        Event::Composing { peer, active, .. } => {
            format!(
                "{peer} {}",
                if *active {
                    "is typing"
                } else {
                    "stopped typing"
                }
            )
        }
        Event::Presence {
            uri,
            availability,
            note,
            ..
        } => format!(
            "presence {uri}: {availability:?}{}",
            note.as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        Event::PresencePublished {
            account,
            ok,
            reason,
        } => match (ok, reason) {
            (true, _) => format!("{account}: presence published"),
            (false, r) => format!(
                "{account}: presence not published: {}",
                r.as_deref().unwrap_or("")
            ),
        },
        Event::WatchStatus {
            uri,
            package,
            active,
            reason,
            ..
        } => format!(
            "{package} subscription to {uri}: {}{}",
            if *active { "active" } else { "inactive" },
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        Event::Mwi {
            account,
            waiting,
            new,
            old,
        } => format!("{account}: voicemail waiting={waiting} new={new} old={old}"),
        Event::Blf { uri, state, .. } => format!("line {uri}: {state:?}"),
        _ => return None,
    })
}

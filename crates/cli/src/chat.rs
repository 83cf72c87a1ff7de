//! `message` and `presence` subcommands, and the chat/presence commands of
//! `run`'s stdin.

use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use tokio::sync::broadcast::error::RecvError;
use ua::chat::ChatState;
use ua::presence::Availability;
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
            Err(_) => return Err(CliError::MessageFailed(format!("{id}: no outcome in time"))),
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
                    return Err(CliError::MessageFailed(format!("{id}: {reason}")))
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
    let (account, duration) = match &cmd {
        PresenceCommand::Publish {
            account, duration, ..
        }
        | PresenceCommand::Watch {
            account, duration, ..
        } => (account.clone(), *duration),
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
    };
    let mut deadline = tokio::time::Instant::now() + Duration::from_secs(duration.max(1));
    let mut published = !publishing;
    loop {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) if published => return Ok(()),
            Err(_) => return Err(CliError::PresenceFailed("no answer in time".to_owned())),
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
                return Err(CliError::PresenceFailed(reason.clone().unwrap_or_default()));
            }
            Event::Presence { .. }
            | Event::WatchStatus { .. }
            | Event::PresencePublished { .. } => out.engine_event(&ev),
            _ => {}
        }
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

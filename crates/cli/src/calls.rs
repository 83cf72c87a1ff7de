//! `parley-cli call` and `parley-cli run`: calls from the command line,
//! on the same engine API as the app.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::sync::broadcast::error::RecvError;
use ua::api::{CallEnd, CallState, Event};
use ua::call::AudioChoice;
use ua::{Engine, LOCAL_ACCOUNT};

use crate::{CliError, Output};

/// Registers `account` when it is a registering account; one that does
/// not register only gets PARLEY_PASSWORD for its challenges (else the
/// keyring's is used); the local account only listens.
pub(crate) async fn prepare(engine: &Engine, account: &str, out: &Output) -> Result<(), CliError> {
    let status = engine.status().await?;
    let info = status
        .accounts
        .iter()
        .find(|a| a.name == account)
        .ok_or_else(|| CliError::Engine(ua::EngineError::NoSuchAccount(account.to_owned())))?;
    let local = info.local || account == LOCAL_ACCOUNT;
    let password = std::env::var("PARLEY_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    // The local account, and one that does not register, only need our
    // port open for what comes to them directly (and the latter its
    // password for challenges): no REGISTER goes out for either.
    if local || matches!(info.registration, ua::RegistrationState::NotRegistering) {
        if let (false, Some(p)) = (local, password) {
            engine.use_password(account, p).await?;
        }
        let addr = engine.listen().await?;
        let at = if local {
            serde_json::json!({ "uri": format!("sip:parley@{addr}") })
        } else {
            serde_json::json!({ "uri": info.uri, "addr": addr.to_string() })
        };
        out.event("listening", account, at);
        return Ok(());
    }
    let mut events = engine.subscribe();
    engine.register(account, password).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => return Err(CliError::RegistrationTimeout(account.to_owned())),
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(_)) => return Err(CliError::Engine(ua::EngineError::Stopped)),
            Ok(Ok(Event::Registration { account: a, state })) if a == account => match state {
                ua::RegistrationState::Registered { expires_in_s } => {
                    out.event(
                        "registered",
                        account,
                        serde_json::json!({ "expires": expires_in_s }),
                    );
                    return Ok(());
                }
                ua::RegistrationState::Failed { reason } => {
                    out.event(
                        "registration_failed",
                        account,
                        serde_json::json!({ "reason": reason }),
                    );
                    return Err(CliError::RegistrationFailed {
                        account: account.to_owned(),
                        reason,
                    });
                }
                _ => {}
            },
            Ok(Ok(_)) => {}
        }
    }
}

/// A call's files: our voice, what we hear, the call's recording.
pub(crate) struct CallFiles {
    /// Played as our microphone.
    pub(crate) play: Option<PathBuf>,
    /// What the peer sends, 48 kHz.
    pub(crate) record: Option<PathBuf>,
    /// The whole call (both directions mixed, 16 kHz), via the engine's
    /// recorder as the app records.
    pub(crate) record_call: Option<PathBuf>,
}

/// `call URI`: exit 0 when the call was answered and ended normally.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn call(
    engine: &Engine,
    account: &str,
    uri: &str,
    duration: u64,
    files: CallFiles,
    dtmf: Option<String>,
    processing: media::processing::ProcessingConfig,
    out: &Output,
) -> Result<(), CliError> {
    prepare(engine, account, out).await?;
    let mut events = engine.subscribe();
    let CallFiles {
        play,
        record,
        mut record_call,
    } = files;
    let audio = AudioChoice::Files {
        play,
        record,
        processing,
    };
    let mut recording = false;
    let mut record_failed: Option<String> = None;
    let id = engine.call_with_audio(account, uri, Some(audio)).await?;
    let mut hangup_at: Option<tokio::time::Instant> = None;
    let mut dtmf = dtmf;
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            () = sleep_opt(hangup_at) => {
                hangup_at = None;
                engine.hangup(id).await?;
                continue;
            }
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => continue,
            Err(_) => return Err(CliError::Engine(ua::EngineError::Stopped)),
        };
        match &ev {
            Event::CallState { call } if call.id == id => {
                out.engine_event(&ev);
                // Answered: connected, or on hold from the start (the
                // callee held the early media).
                let answered = matches!(call.state, CallState::Connected | CallState::OnHold);
                if answered && hangup_at.is_none() {
                    hangup_at = Some(tokio::time::Instant::now() + Duration::from_secs(duration));
                    if let Some(path) = record_call.take() {
                        // A recording that cannot start is reported; the
                        // call goes on, and the exit status tells.
                        match engine.start_recording(id, Some(path)).await {
                            Ok(_) => recording = true,
                            Err(e) => {
                                out.event(
                                    "error",
                                    account,
                                    serde_json::json!({ "reason": e.to_string() }),
                                );
                                record_failed = Some(e.to_string());
                            }
                        }
                    }
                    if let Some(d) = dtmf.take() {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        engine.dtmf(id, &d).await?;
                    }
                }
            }
            Event::Recording {
                id: r,
                active,
                error,
                ..
            } if *r == id => {
                out.engine_event(&ev);
                if !*active {
                    recording = false;
                    if let Some(e) = error {
                        return Err(CliError::RecordingFailed(e.clone()));
                    }
                }
            }
            Event::CallEnded { call, end } if call.id == id => {
                out.engine_event(&ev);
                if recording {
                    // The engine reports the finished file before the end.
                    return Err(CliError::RecordingUnfinished);
                }
                if let Some(e) = record_failed {
                    return Err(CliError::RecordingFailed(e));
                }
                return match end {
                    CallEnd::HungUp { .. } | CallEnd::Transferred if call.answered_ms.is_some() => {
                        Ok(())
                    }
                    other => Err(CliError::CallFailed(other.clone())),
                };
            }
            Event::CallQuality { id: q, .. } | Event::Dtmf { id: q, .. } if *q == id => {
                out.engine_event(&ev)
            }
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

pub(crate) fn describe(end: &CallEnd) -> String {
    match end {
        CallEnd::HungUp { by_us } => {
            if *by_us {
                "hung up before an answer".into()
            } else {
                "the peer hung up".into()
            }
        }
        CallEnd::Transferred => "transferred".into(),
        CallEnd::Cancelled => "cancelled".into(),
        CallEnd::Missed => "missed".into(),
        CallEnd::Rejected { status, reason } => format!("rejected: {status} {reason}"),
        CallEnd::Failed {
            status: Some(s),
            reason,
        } => format!("failed ({s}): {reason}"),
        CallEnd::Failed {
            status: None,
            reason,
        } => format!("failed: {reason}"),
    }
}

/// `run`: stay registered and serve, printing every event; commands on
/// stdin (`call URI`, `answer`, `progress`, `reject`/`decline`, `busy`,
/// `hangup`, `hold`, `resume`, `mute`, `unmute`, `dtmf D`, `transfer URI`,
/// `transfer-to ID`, `switch ID`, `merge ID`, `split`, `record [WAV]`,
/// `stop-recording`, `message URI TEXT`, `quit`). Commands act on the
/// current call: the last one that rang, was dialled or switched to.
pub(crate) async fn run(engine: &Engine, account: &str, out: &Output) -> Result<(), CliError> {
    let mut events = engine.subscribe();
    prepare(engine, account, out).await?;
    // prepare() already printed the registration; print the rest queued meanwhile.
    while let Ok(ev) = events.try_recv() {
        if !matches!(ev, Event::Registration { .. }) {
            out.engine_event(&ev);
        }
    }
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut lines = stdin.lines();
    let mut current: Option<u32> = None;
    let mut stdin_open = true;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => {
                    match &ev {
                        Event::IncomingCall { call } => current = Some(call.id),
                        Event::CallState { call } if call.state != CallState::Ended => current = Some(call.id),
                        Event::CallEnded { call, .. } if current == Some(call.id) => current = None,
                        _ => {}
                    }
                    out.engine_event(&ev);
                }
                Err(RecvError::Lagged(n)) => tracing::warn!("{n} events dropped"),
                Err(_) => return Ok(()),
            },
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(line)) => {
                    if !command(engine, account, line.trim(), &mut current, out).await? {
                        return Ok(());
                    }
                }
                // stdin closed: keep serving until killed.
                _ => stdin_open = false,
            },
        }
    }
}

/// One stdin command; false on `quit`.
async fn command(
    engine: &Engine,
    account: &str,
    line: &str,
    current: &mut Option<u32>,
    out: &Output,
) -> Result<bool, CliError> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    let id = || current.ok_or(CliError::NoCall);
    let result = match verb {
        "" => Ok(()),
        "quit" | "exit" => return Ok(false),
        "call" => match engine.call(account, rest).await {
            Ok(new) => {
                *current = Some(new);
                Ok(())
            }
            Err(e) => Err(CliError::Engine(e)),
        },
        "answer" => match id() {
            Ok(i) => engine.answer(i).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        // reject/decline: 603 Decline; busy: 486 Busy Here.
        "reject" | "decline" | "busy" => match id() {
            Ok(i) => engine.reject(i, verb == "busy").await.map_err(Into::into),
            Err(e) => Err(e),
        },
        // Early media: a 183 with our SDP before answering.
        "progress" => match id() {
            Ok(i) => engine.progress(i).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        "hangup" => match id() {
            Ok(i) => engine.hangup(i).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        "hold" | "resume" => match id() {
            Ok(i) => engine.hold(i, verb == "hold").await.map_err(Into::into),
            Err(e) => Err(e),
        },
        "mute" | "unmute" => match id() {
            Ok(i) => engine.mute(i, verb == "mute").await.map_err(Into::into),
            Err(e) => Err(e),
        },
        "transfer" => match id() {
            Ok(i) => engine.transfer(i, rest).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        // Attended: connect the current call's peer with call <rest>'s.
        "transfer-to" => match (id(), rest.parse::<u32>()) {
            (Ok(i), Ok(other)) => engine.transfer_attended(i, other).await.map_err(Into::into),
            (Err(e), _) => Err(e),
            (_, Err(_)) => Err(CliError::UnknownCommand(line.to_owned())),
        },
        "switch" => match rest.parse::<u32>() {
            Ok(other) => {
                *current = Some(other);
                Ok(())
            }
            Err(_) => Err(CliError::UnknownCommand(line.to_owned())),
        },
        "dtmf" => match id() {
            Ok(i) => engine.dtmf(i, rest).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        // 3-way: merge the current call with call <rest>.
        "merge" => match (id(), rest.parse::<u32>()) {
            (Ok(i), Ok(other)) => engine.merge(i, other).await.map(|_| ()).map_err(Into::into),
            (Err(e), _) => Err(e),
            (_, Err(_)) => Err(CliError::UnknownCommand(line.to_owned())),
        },
        "split" => match id() {
            Ok(i) => engine.split(i).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        // `record` alone: the engine's recordings folder.
        "record" => match id() {
            Ok(i) => {
                let path = (!rest.is_empty()).then(|| PathBuf::from(rest));
                engine
                    .start_recording(i, path)
                    .await
                    .map(|_| ())
                    .map_err(Into::into)
            }
            Err(e) => Err(e),
        },
        "stop-recording" => match id() {
            Ok(i) => engine.stop_recording(i).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        other => crate::chat::stdin_command(engine, account, other, rest).await,
    };
    if let Err(e) = result {
        // A bad command is reported and the session goes on.
        out.event(
            "error",
            account,
            serde_json::json!({ "reason": e.to_string() }),
        );
        eprintln!("parley-cli: {e}");
    }
    Ok(true)
}

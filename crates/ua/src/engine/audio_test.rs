//! The engine's side of the sound test in Settings → Audio: the live
//! microphone level, the echo test and the test sound.
//!
//! ```text
//!   start ──(no call)──> test thread opens the devices ──> reply Ok, Metering/Recording
//!     │                        │ (open failed) ──> reply Err(Device)
//!     │                        │ (stopped or other devices picked before it opened)
//!     │                        │        ──> reply Ok, the old test reports nothing
//!     └─(a call is live)──> Err(CallInProgress)
//!   running ── stop ──────────────> Stopped{Requested}
//!           ── a call appears ────> Stopped{CallStarted}   (calls take the devices)
//!           ── device fails ──────> Stopped{DeviceFailed}
//!           ── MAX_RUN passes ────> Stopped{TimedOut}
//! ```
//!
//! The devices are opened and run on the test's own thread
//! ([`media::audio_test::AudioTest`]); the engine task only keeps its
//! handle, so it never waits on the sound system.

use media::audio_test::{AudioTest, Phase, Report};
use media::device::{AudioPort, DeviceAudio, DeviceSelection, FilePort};
use media::ringer::{Ringer, RingerTone};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, oneshot};
use tracing::{debug, info};

use super::{Command, Engine, EngineError, Task};
use crate::api::Event;
use crate::call::AudioChoice;
use crate::settings::{
    AudioTestError, AudioTestRequest, AudioTestState, AudioTestStop, MediaSettings,
};

/// How long the test sound plays (it is a little shorter).
const TEST_SOUND: std::time::Duration = std::time::Duration::from_millis(1300);

/// Sound test commands for the engine task.
pub(super) enum AudioTestCommand {
    Start(AudioTestRequest, oneshot::Sender<Result<(), EngineError>>),
    Stop(oneshot::Sender<()>),
    /// Which device the test sound may play on (refused during calls).
    SoundDevice(
        Option<String>,
        oneshot::Sender<Result<Option<String>, EngineError>>,
    ),
}

/// The running test, if any.
#[derive(Default)]
pub(super) struct AudioTestSide {
    run: Option<Running>,
}

/// Answers a start request once the devices are open (or failed).
type StartReply = oneshot::Sender<Result<(), EngineError>>;

struct Running {
    test: AudioTest,
    selection: DeviceSelection,
    /// The start request's answer while the devices are still opening;
    /// shared with the test thread's report closure.
    pending: Arc<Mutex<Option<StartReply>>>,
}

impl Running {
    /// Stops the test. A start still waiting for its devices is answered
    /// Ok: it was superseded (the screen closed or other devices were
    /// picked), not failed, and the stopped test reports nothing more.
    fn end(mut self) {
        self.test.stop();
        if let Some(tx) = lock(&self.pending).take() {
            let _ = tx.send(Ok(()));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    /// Starts the sound test (or changes it: with the same devices the
    /// echo test starts or stops without reopening them). Returns once
    /// the devices are open; the level and the echo test's progress then
    /// arrive as [`Event::AudioTestLevel`] and [`Event::AudioTest`].
    /// Refused while a call is live.
    pub async fn start_audio_test(&self, request: AudioTestRequest) -> Result<(), EngineError> {
        self.ask(|reply| Command::AudioTest(AudioTestCommand::Start(request, reply)))
            .await?
    }

    /// Stops the sound test (nothing happens when none runs).
    pub async fn stop_audio_test(&self) -> Result<(), EngineError> {
        self.ask(|reply| Command::AudioTest(AudioTestCommand::Stop(reply)))
            .await
    }

    /// Plays the test sound (about a second) on `output` (id or name; the
    /// saved ringer, else speaker, else the default for `None`) and
    /// returns when it has played. Refused while a call is live.
    pub async fn play_test_sound(&self, output: Option<String>) -> Result<(), EngineError> {
        let device = self
            .ask(|reply| Command::AudioTest(AudioTestCommand::SoundDevice(output, reply)))
            .await??;
        tokio::task::spawn_blocking(move || {
            let ringer = Ringer::start(device.as_deref(), RingerTone::TestSound)
                .map_err(AudioTestError::from)?;
            std::thread::sleep(TEST_SOUND);
            drop(ringer);
            Ok::<(), AudioTestError>(())
        })
        .await
        .map_err(|_| EngineError::Stopped)??;
        Ok(())
    }
}

impl Task {
    pub(super) fn audio_test_command(&mut self, cmd: AudioTestCommand) {
        match cmd {
            AudioTestCommand::Start(request, reply) => self.start_audio_test(request, reply),
            AudioTestCommand::Stop(reply) => {
                if let Some(run) = self.audio_test.run.take() {
                    run.end();
                    self.publish(stopped(AudioTestStop::Requested));
                    info!("sound test stopped");
                }
                let _ = reply.send(());
            }
            AudioTestCommand::SoundDevice(output, reply) => {
                let r = if self.calls.len() > 0 {
                    Err(AudioTestError::CallInProgress.into())
                } else {
                    let s = MediaSettings::from_prefs(&self.config.media);
                    Ok(output.or(s.ringer).or(s.output))
                };
                let _ = reply.send(r);
            }
        }
    }

    fn start_audio_test(&mut self, request: AudioTestRequest, reply: StartReply) {
        if self.calls.len() > 0 {
            let _ = reply.send(Err(AudioTestError::CallInProgress.into()));
            return;
        }
        let saved = MediaSettings::from_prefs(&self.config.media);
        let selection = DeviceSelection {
            input: request.input.or(saved.input),
            output: request.output.or(saved.output),
        };
        if let Some(run) = &self.audio_test.run {
            if !run.test.is_finished() && run.selection == selection {
                // Same devices: only the echo test changes; the thread
                // reports the new phase.
                run.test.set_echo(request.echo);
                let _ = reply.send(Ok(()));
                return;
            }
        }
        // Another device: the old test lets go first.
        if let Some(old) = self.audio_test.run.take() {
            old.end();
        }
        let open = opener(&self.options.call_audio, selection.clone());
        let events = self.events.clone();
        let pending = Arc::new(Mutex::new(Some(reply)));
        let answer = pending.clone();
        let started = AudioTest::start(open, request.echo, move |r| {
            report(r, &events, &answer);
        });
        match started {
            Ok(test) => {
                debug!("sound test starting");
                self.audio_test.run = Some(Running {
                    test,
                    selection,
                    pending,
                });
            }
            Err(e) => {
                tracing::warn!("cannot start the sound test: {e}");
                if let Some(tx) = lock(&pending).take() {
                    let _ = tx.send(Err(AudioTestError::from(e).into()));
                }
            }
        }
    }

    /// Calls take the sound devices: a live call ends the test.
    pub(super) fn audio_test_yield_to_calls(&mut self) {
        if self.live_calls.is_empty() && self.calls.len() == 0 {
            return;
        }
        if let Some(run) = self.audio_test.run.take() {
            let running = !run.test.is_finished();
            run.end();
            if running {
                self.publish(stopped(AudioTestStop::CallStarted));
            }
            info!("sound test stopped for a call");
        }
    }
}

/// Opens the devices the engine's calls would use: the sound cards, or
/// for engines without them (CLI, tests) the WAV file or silence.
fn opener(
    choice: &AudioChoice,
    selection: DeviceSelection,
) -> impl FnOnce() -> Result<Box<dyn AudioPort>, media::device::AudioDeviceError> + Send + 'static {
    let choice = choice.clone();
    move || -> Result<Box<dyn AudioPort>, media::device::AudioDeviceError> {
        Ok(match choice {
            AudioChoice::Device { .. } => Box::new(DeviceAudio::open(&selection)?),
            AudioChoice::Files { play, .. } => Box::new(FilePort::wav(play.as_deref(), None)?),
            AudioChoice::Null => Box::new(FilePort::null()),
        })
    }
}

fn stopped(reason: AudioTestStop) -> Event {
    Event::AudioTest {
        state: AudioTestState::Stopped { reason },
    }
}

fn state_of(p: Phase) -> AudioTestState {
    match p {
        Phase::Metering => AudioTestState::Metering,
        Phase::Recording => AudioTestState::Recording,
        Phase::PlayingBack => AudioTestState::PlayingBack,
    }
}

/// Turns the test thread's reports into events (on the test thread).
fn report(r: Report, events: &broadcast::Sender<Event>, reply: &Mutex<Option<StartReply>>) {
    let event = match r {
        Report::Started(p) => {
            if let Some(tx) = lock(reply).take() {
                let _ = tx.send(Ok(()));
            }
            Event::AudioTest { state: state_of(p) }
        }
        Report::OpenFailed(e) => {
            tracing::warn!("sound test: cannot open the devices: {e}");
            if let Some(tx) = lock(reply).take() {
                let _ = tx.send(Err(AudioTestError::from(e).into()));
            }
            return;
        }
        Report::Level(l) => Event::AudioTestLevel {
            rms_db: l.rms_dbfs,
            peak_db: l.peak_dbfs,
        },
        Report::Phase(p) => Event::AudioTest { state: state_of(p) },
        Report::Failed(e) => {
            tracing::warn!("sound test: device failed: {e}");
            stopped(AudioTestStop::DeviceFailed {
                reason: e.to_string(),
            })
        }
        Report::TimedOut => stopped(AudioTestStop::TimedOut),
    };
    let _ = events.send(event);
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::engine::{EngineOptions, SipOptions, LOCAL_ACCOUNT};
    use media::devices::{AudioSink, WavSink};

    fn engine(dir: &std::path::Path, call_audio: AudioChoice) -> Engine {
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
            call_audio,
        })
        .unwrap()
    }

    async fn next_state(rx: &mut broadcast::Receiver<Event>) -> AudioTestState {
        let wait = async {
            loop {
                if let Event::AudioTest { state } = rx.recv().await.unwrap() {
                    return state;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("no sound test state")
    }

    fn request(echo: bool) -> AudioTestRequest {
        AudioTestRequest {
            input: None,
            output: None,
            echo,
        }
    }

    /// A tone as the microphone reads about -9 dBFS RMS; the echo test
    /// records, then plays back; stop is reported once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn levels_and_echo_phases_are_reported_and_stop_is_clean() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("mic.wav");
        let tone: Vec<i16> = (0..48_000 * 10)
            .map(|i| {
                (16_384.0 * ((i % 48) as f32 * 2.0 * std::f32::consts::PI / 48.0).sin()) as i16
            })
            .collect();
        let mut sink = WavSink::create(&wav, 48_000).unwrap();
        sink.write(&tone).unwrap();
        sink.finish().unwrap();
        let e = engine(
            dir.path(),
            AudioChoice::Files {
                play: Some(wav),
                record: None,
                processing: media::processing::ProcessingConfig::off(),
            },
        );
        let mut rx = e.subscribe();
        e.start_audio_test(request(false)).await.unwrap();
        assert_eq!(next_state(&mut rx).await, AudioTestState::Metering);
        let levels = async {
            let mut n = 0;
            loop {
                if let Event::AudioTestLevel { rms_db, peak_db } = rx.recv().await.unwrap() {
                    n += 1;
                    if n == 5 {
                        return (rms_db, peak_db);
                    }
                }
            }
        };
        let (rms, peak) = tokio::time::timeout(Duration::from_secs(5), levels)
            .await
            .expect("no levels");
        assert!(
            (rms + 9.0).abs() < 0.5 && (peak + 6.0).abs() < 0.5,
            "{rms} {peak}"
        );

        // Echo on with the same devices: recording, then playing back
        // two seconds later.
        e.start_audio_test(request(true)).await.unwrap();
        assert_eq!(next_state(&mut rx).await, AudioTestState::Recording);
        let t0 = std::time::Instant::now();
        assert_eq!(next_state(&mut rx).await, AudioTestState::PlayingBack);
        let took = t0.elapsed();
        assert!(took > Duration::from_millis(1500), "{took:?}");

        e.stop_audio_test().await.unwrap();
        assert_eq!(
            next_state(&mut rx).await,
            AudioTestState::Stopped {
                reason: AudioTestStop::Requested
            }
        );
        // Stopping again is harmless and says nothing.
        e.stop_audio_test().await.unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(300), next_state(&mut rx)).await;
        assert!(quiet.is_err(), "{quiet:?}");
    }

    #[tokio::test]
    async fn a_missing_file_device_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(
            dir.path(),
            AudioChoice::Files {
                play: Some(dir.path().join("missing.wav")),
                record: None,
                processing: media::processing::ProcessingConfig::off(),
            },
        );
        let err = e.start_audio_test(request(true)).await.unwrap_err();
        assert!(
            matches!(err, EngineError::AudioTest(AudioTestError::Device(_))),
            "{err:?}"
        );
        assert!(err.to_string().contains("missing.wav"), "{err}");
    }

    /// A call takes the devices: the running test stops and says so, and
    /// a new one is refused until the call is over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_stops_the_test_and_blocks_a_new_one() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (
            engine(da.path(), AudioChoice::Null),
            engine(db.path(), AudioChoice::Null),
        );
        let b_addr = b.listen().await.unwrap();
        let mut rx = a.subscribe();
        a.start_audio_test(request(false)).await.unwrap();
        assert_eq!(next_state(&mut rx).await, AudioTestState::Metering);
        let id = a
            .call(LOCAL_ACCOUNT, &format!("sip:parley@{b_addr}"))
            .await
            .unwrap();
        assert_eq!(
            next_state(&mut rx).await,
            AudioTestState::Stopped {
                reason: AudioTestStop::CallStarted
            }
        );
        let err = a.start_audio_test(request(true)).await.unwrap_err();
        assert!(
            matches!(err, EngineError::AudioTest(AudioTestError::CallInProgress)),
            "{err:?}"
        );
        assert!(matches!(
            a.play_test_sound(None).await,
            Err(EngineError::AudioTest(AudioTestError::CallInProgress))
        ));
        a.hangup(id).await.unwrap();
        let free = async {
            loop {
                if a.status().await.unwrap().calls.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), free)
            .await
            .expect("call never ended");
        // Give the ended call a moment to leave the call table too.
        let again = async {
            loop {
                match a.start_audio_test(request(false)).await {
                    Ok(()) => break,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), again)
            .await
            .expect("the test stayed refused after the call");
        a.stop_audio_test().await.unwrap();
    }
}

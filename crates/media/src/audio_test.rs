//! The sound test of Settings → Audio: the microphone's level, live, and
//! an echo test that records what you say and plays it back.
//!
//! ```text
//!            echo off: Metering (mic → meter; the speaker gets silence)
//!            echo on:
//!   ┌──────────────────────────────┐      ┌───────────────────────────────┐
//!   │ Recording, ECHO_MS           │ ───> │ PlayingBack, ECHO_MS          │
//!   │ mic → meter, → delay line    │      │ mic → meter only              │
//!   │ delay line → speaker (quiet) │ <─── │ delay line → speaker (speech) │
//!   └──────────────────────────────┘      └───────────────────────────────┘
//! ```
//!
//! The delay line holds exactly [`ECHO_MS`] of audio: what goes in comes
//! out that much later, and its memory never grows. The microphone feeds
//! it only while recording, so what the speaker plays back is not
//! recorded again: on a laptop without headphones a continuous loop would
//! feed back and howl.
//!
//! The sound card side is [`crate::device::DeviceAudio`]: its cpal
//! callbacks only copy into preallocated lock-free rings (no allocation,
//! lock or I/O); the meter and the delay line run on the test's own
//! thread in 20 ms frames, like a call's media thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::debug;

use crate::device::{AudioDeviceError, AudioPort, FrameClock, FRAME};
use crate::level::{Level, LevelMeter};
use crate::session::SESSION_RATE;

/// How long the echo test records, and so how much later it plays back.
pub const ECHO_MS: u32 = 2000;
/// Audio between two level reports (about 20 a second).
pub const LEVEL_EVERY_MS: u32 = 50;
/// The test ends by itself after this long, so a forgotten settings
/// screen does not keep the microphone open for ever.
pub const MAX_RUN: Duration = Duration::from_secs(15 * 60);

/// A fixed delay: each sample comes out exactly `delay` samples after it
/// went in (silence until then). Its buffer is allocated once.
#[derive(Debug, Clone)]
pub struct DelayLine {
    buf: Box<[i16]>,
    pos: usize,
}

impl DelayLine {
    /// A delay of `delay` samples (at least one).
    pub fn new(delay: usize) -> DelayLine {
        DelayLine {
            buf: vec![0; delay.max(1)].into_boxed_slice(),
            pos: 0,
        }
    }

    /// The delay in samples, which is also all it stores.
    pub fn delay(&self) -> usize {
        self.buf.len()
    }

    /// Pushes `input` in and writes what falls out to `output` (the same
    /// length; extra output samples are left alone).
    pub fn process(&mut self, input: &[i16], output: &mut [i16]) {
        for (i, o) in input.iter().zip(output.iter_mut()) {
            *o = self.buf[self.pos];
            self.buf[self.pos] = *i;
            self.pos += 1;
            if self.pos == self.buf.len() {
                self.pos = 0;
            }
        }
    }

    /// Forgets everything held (silence comes out next).
    pub fn clear(&mut self) {
        self.buf.fill(0);
        self.pos = 0;
    }
}

/// Where the test stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Level only.
    Metering,
    /// Echo test: listening to what you say.
    Recording,
    /// Echo test: playing it back.
    PlayingBack,
}

/// What one frame of the test produced.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Step {
    /// A level report is due.
    pub level: Option<Level>,
    /// The phase changed to this.
    pub phase: Option<Phase>,
}

/// The test's signal path, pure: 48 kHz frames in, frames out, no clock
/// and no device, so it runs the same on sound cards, files and in tests.
#[derive(Debug, Clone)]
pub struct EchoLoop {
    meter: LevelMeter,
    line: DelayLine,
    phase: Phase,
    /// Frames left in the current echo phase.
    left: u32,
    /// Audio since the last level report, ms.
    since_level: u32,
}

const FRAME_MS: u32 = 20;

impl Default for EchoLoop {
    fn default() -> Self {
        Self::new(ECHO_MS)
    }
}

impl EchoLoop {
    /// Metering, with an echo delay of `echo_ms` (rounded to 20 ms frames).
    pub fn new(echo_ms: u32) -> EchoLoop {
        let frames = (echo_ms / FRAME_MS).max(1);
        EchoLoop {
            meter: LevelMeter::new(SESSION_RATE),
            line: DelayLine::new(frames as usize * FRAME),
            phase: Phase::Metering,
            left: 0,
            since_level: 0,
        }
    }

    fn phase_frames(&self) -> u32 {
        (self.line.delay() / FRAME) as u32
    }

    /// The phase now.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The delay line (for its size).
    pub fn line(&self) -> &DelayLine {
        &self.line
    }

    /// Starts (from recording) or stops the echo test; returns the new
    /// phase when it changed.
    pub fn set_echo(&mut self, on: bool) -> Option<Phase> {
        match (on, self.phase) {
            (true, Phase::Metering) => {
                self.line.clear();
                self.phase = Phase::Recording;
                self.left = self.phase_frames();
                Some(self.phase)
            }
            (false, Phase::Recording | Phase::PlayingBack) => {
                self.line.clear();
                self.phase = Phase::Metering;
                Some(self.phase)
            }
            _ => None,
        }
    }

    /// One 20 ms frame: `mic` ([`FRAME`] samples) in, what the speaker
    /// plays into `speaker` (the same length).
    pub fn step(&mut self, mic: &[i16], speaker: &mut [i16]) -> Step {
        let mut step = Step::default();
        self.meter.process(mic);
        self.since_level += FRAME_MS;
        if self.since_level >= LEVEL_EVERY_MS {
            self.since_level -= LEVEL_EVERY_MS;
            step.level = Some(self.meter.level());
        }
        match self.phase {
            Phase::Metering => speaker.fill(0),
            Phase::Recording => self.line.process(mic, speaker),
            Phase::PlayingBack => {
                // What is played back is not recorded again (no feedback).
                let silence = [0i16; FRAME];
                let n = speaker.len().min(FRAME);
                self.line.process(&silence[..n], &mut speaker[..n]);
            }
        }
        if self.phase != Phase::Metering {
            self.left = self.left.saturating_sub(1);
            if self.left == 0 {
                self.phase = if self.phase == Phase::Recording {
                    Phase::PlayingBack
                } else {
                    Phase::Recording
                };
                self.left = self.phase_frames();
                step.phase = Some(self.phase);
            }
        }
        step
    }
}

/// What the test thread tells its owner.
#[derive(Debug)]
pub enum Report {
    /// The devices are open; the test runs in this phase.
    Started(Phase),
    /// The devices could not be opened; the test is over.
    OpenFailed(AudioDeviceError),
    /// The microphone's level.
    Level(Level),
    /// The echo test moved on.
    Phase(Phase),
    /// A device failed while running; the test is over.
    Failed(AudioDeviceError),
    /// The test ran for [`MAX_RUN`] and stopped itself.
    TimedOut,
}

/// A running test: a thread that owns the devices. Dropping it (or
/// [`AudioTest::stop`]) ends the thread without waiting for it, so the
/// caller never blocks on the sound system; reports stop at once.
pub struct AudioTest {
    stop: Arc<Stop>,
    echo: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The stop flag, held while each report goes out. Stopping takes the
/// same lock, so once [`AudioTest::stop`] returns no report is in
/// flight and none follows. Without it a test stopped while its devices
/// were still opening (PulseAudio can take two seconds) would announce
/// `Started` after a newer test had begun, and the screen would say
/// "listening" before the newer one's microphone was open.
#[derive(Default)]
struct Stop(Mutex<bool>);

impl Stop {
    fn stopped(&self) -> std::sync::MutexGuard<'_, bool> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self) {
        *self.stopped() = true;
    }

    fn is_set(&self) -> bool {
        *self.stopped()
    }

    /// Sends `r` unless stopped; false when stopped.
    fn report(&self, report: &mut impl FnMut(Report), r: Report) -> bool {
        let stopped = self.stopped();
        if *stopped {
            return false;
        }
        report(r);
        true
    }
}

impl AudioTest {
    /// Starts the thread, which opens the devices with `open` (on the
    /// thread: cpal streams are not `Send` everywhere) and then reports
    /// through `report` until stopped. `echo` starts the echo test at once.
    pub fn start<O, R>(open: O, echo: bool, report: R) -> Result<AudioTest, AudioDeviceError>
    where
        O: FnOnce() -> Result<Box<dyn AudioPort>, AudioDeviceError> + Send + 'static,
        R: FnMut(Report) + Send + 'static,
    {
        Self::start_for(open, echo, report, MAX_RUN)
    }

    fn start_for<O, R>(
        open: O,
        echo: bool,
        mut report: R,
        max_run: Duration,
    ) -> Result<AudioTest, AudioDeviceError>
    where
        O: FnOnce() -> Result<Box<dyn AudioPort>, AudioDeviceError> + Send + 'static,
        R: FnMut(Report) + Send + 'static,
    {
        let stop = Arc::new(Stop::default());
        let echo_on = Arc::new(AtomicBool::new(echo));
        let (s, e) = (stop.clone(), echo_on.clone());
        let thread = std::thread::Builder::new()
            .name("parley-audio-test".into())
            .spawn(move || {
                let port = match open() {
                    Ok(p) => p,
                    Err(err) => {
                        s.report(&mut report, Report::OpenFailed(err));
                        return;
                    }
                };
                run(port, &s, &e, max_run, &mut report);
            })
            .map_err(AudioDeviceError::Thread)?;
        Ok(AudioTest {
            stop,
            echo: echo_on,
            thread: Some(thread),
        })
    }

    /// Starts or stops the echo test without reopening the devices.
    pub fn set_echo(&self, on: bool) {
        self.echo.store(on, Ordering::Relaxed);
    }

    /// Whether the echo test is asked for.
    pub fn echo(&self) -> bool {
        self.echo.load(Ordering::Relaxed)
    }

    /// Whether the thread has ended (stopped, failed or timed out).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Ends the test; the devices close within a frame, off this thread.
    pub fn stop(&mut self) {
        self.stop.set();
        self.thread.take();
    }

    /// Ends the test and waits until the devices are closed.
    pub fn stop_and_wait(mut self) {
        self.stop.set();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AudioTest {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The test thread's loop: 20 ms frames against the clock.
fn run(
    mut port: Box<dyn AudioPort>,
    stop: &Stop,
    echo: &AtomicBool,
    max_run: Duration,
    report: &mut impl FnMut(Report),
) {
    let mut test = EchoLoop::default();
    test.set_echo(echo.load(Ordering::Relaxed));
    // Stopped while the devices opened: a newer test may be running.
    if !stop.report(report, Report::Started(test.phase())) {
        debug!("audio test stopped while opening");
        return;
    }
    let started = Instant::now();
    let mut clock = FrameClock::new(started);
    let mut mic = [0i16; FRAME];
    let mut speaker = [0i16; FRAME];
    loop {
        let now = Instant::now();
        std::thread::sleep(clock.next_due().saturating_duration_since(now));
        if stop.is_set() {
            break;
        }
        if started.elapsed() >= max_run {
            stop.report(report, Report::TimedOut);
            break;
        }
        if let Some(p) = test.set_echo(echo.load(Ordering::Relaxed)) {
            stop.report(report, Report::Phase(p));
        }
        for _ in 0..clock.due(Instant::now()) {
            let frame = port.capture(&mut mic).and_then(|_| {
                let step = test.step(&mic, &mut speaker);
                port.playout(&speaker).map(|()| step)
            });
            let step = match frame {
                Ok(s) => s,
                Err(e) => {
                    stop.report(report, Report::Failed(e));
                    return;
                }
            };
            // A stop asked for mid-burst sends nothing more.
            if let Some(l) = step.level {
                if !stop.report(report, Report::Level(l)) {
                    break;
                }
            }
            if let Some(p) = step.phase {
                if !stop.report(report, Report::Phase(p)) {
                    break;
                }
            }
        }
    }
    debug!("audio test ends");
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::device::FilePort;
    use crate::devices::{AudioSink, AudioSource, WavSink, WavSource};
    use crate::level::FLOOR_DBFS;
    use crate::tones::goertzel;

    fn tone(freq: f32, n: usize, amp: f32) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * 32767.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / 48_000.0).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn the_delay_line_delays_by_exactly_its_length() {
        let mut line = DelayLine::new(5);
        let input: Vec<i16> = (1..=12).collect();
        let mut out = vec![-1i16; 12];
        // In odd pieces: the delay does not depend on how it is fed.
        line.process(&input[..3], &mut out[..3]);
        line.process(&input[3..10], &mut out[3..10]);
        line.process(&input[10..], &mut out[10..]);
        assert_eq!(out, [0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
        line.clear();
        let mut out = [9i16; 5];
        line.process(&[1; 5], &mut out);
        assert_eq!(out, [0; 5], "cleared: silence first");
        assert_eq!(line.delay(), 5);
    }

    /// A tone said while recording comes back exactly ECHO_MS later,
    /// through WAV files as microphone and speaker; memory stays at the
    /// delay line's fixed size however long it runs.
    #[test]
    fn a_tone_comes_back_after_the_delay_through_file_devices() {
        let dir = tempfile::tempdir().unwrap();
        let (mic_path, spk_path) = (dir.path().join("mic.wav"), dir.path().join("spk.wav"));
        // 0.5 s of 700 Hz, then silence: 10 s in all.
        let mut mic_audio = tone(700.0, 24_000, 0.5);
        mic_audio.resize(480_000, 0);
        let mut sink = WavSink::create(&mic_path, 48_000).unwrap();
        sink.write(&mic_audio).unwrap();
        sink.finish().unwrap();

        let mut port = FilePort::wav(Some(&mic_path), Some(&spk_path)).unwrap();
        let mut test = EchoLoop::default();
        assert_eq!(test.set_echo(true), Some(Phase::Recording));
        let size = test.line().delay();
        assert_eq!(size, 96_000, "two seconds at 48 kHz");
        let (mut mic, mut spk) = ([0i16; FRAME], [0i16; FRAME]);
        let mut phases = Vec::new();
        let mut levels = 0;
        for i in 0..500 {
            port.capture(&mut mic).unwrap();
            let step = test.step(&mic, &mut spk);
            port.playout(&spk).unwrap();
            if let Some(p) = step.phase {
                phases.push((i, p));
            }
            levels += usize::from(step.level.is_some());
            assert_eq!(test.line().delay(), size, "bounded memory");
        }
        assert_eq!(levels, 200, "20 level reports a second for 10 s");
        assert_eq!(
            phases,
            [
                (99, Phase::PlayingBack),
                (199, Phase::Recording),
                (299, Phase::PlayingBack),
                (399, Phase::Recording),
                (499, Phase::PlayingBack),
            ]
        );
        drop(port);

        let mut out = vec![0i16; 480_000];
        let mut src = WavSource::open(&spk_path).unwrap();
        src.read(&mut out).unwrap();
        let p = |from: usize, to: usize| goertzel(&out[from..to], 700.0, 48_000);
        // The tone is said in 0-0.5 s and heard in 2.0-2.5 s, not before.
        assert!(
            out[..96_000].iter().all(|&s| s == 0),
            "silence while recording"
        );
        assert_eq!(
            out[96_000..120_000],
            mic_audio[..24_000],
            "sample-exact echo"
        );
        assert!(p(96_000, 120_000) > 1e-2, "{}", p(96_000, 120_000));
        // What was played back is not recorded again: the next cycles are quiet.
        assert!(out[120_000..].iter().all(|&s| s == 0));
    }

    /// The frame loop allocates nothing once made, in every phase.
    #[test]
    fn frames_run_without_allocating() {
        let mut test = EchoLoop::default();
        let mic = tone(440.0, FRAME, 0.3);
        let mut spk = [0i16; FRAME];
        test.step(&mic, &mut spk);
        let ((), allocs) = crate::device::tests::watched(|| {
            for i in 0..600 {
                if i == 50 {
                    test.set_echo(true);
                }
                if i == 450 {
                    test.set_echo(false);
                }
                let _ = test.step(&mic, &mut spk);
            }
        });
        assert_eq!(allocs, 0, "the sound test's frame loop allocated");
    }

    #[test]
    fn metering_reads_the_microphone_and_plays_silence() {
        let mut test = EchoLoop::default();
        let loud = tone(1000.0, FRAME, 1.0);
        let mut spk = [7i16; FRAME];
        let mut last = None;
        for _ in 0..5 {
            if let Some(l) = test.step(&loud, &mut spk).level {
                last = Some(l);
            }
        }
        let l = last.expect("a level in 100 ms");
        assert!(
            (l.rms_dbfs + 3.0).abs() < 0.2 && l.peak_dbfs > -0.2,
            "{l:?}"
        );
        assert_eq!(spk, [0; FRAME], "metering plays nothing");
        assert_eq!(test.phase(), Phase::Metering);
        // Echo on, then off mid-recording: back to metering, line cleared.
        assert_eq!(test.set_echo(true), Some(Phase::Recording));
        test.step(&loud, &mut spk);
        assert_eq!(test.set_echo(true), None);
        assert_eq!(test.set_echo(false), Some(Phase::Metering));
        assert_eq!(test.set_echo(true), Some(Phase::Recording));
        for _ in 0..100 {
            test.step(&[0; FRAME], &mut spk);
            assert_eq!(spk, [0; FRAME], "nothing from before the restart");
        }
    }

    /// The thread reports start, levels and the echo phases, and stops
    /// when asked (null devices: silence in).
    #[test]
    fn the_thread_reports_and_stops() {
        let (tx, rx) = mpsc::channel();
        let test = AudioTest::start(
            || Ok(Box::new(FilePort::null())),
            false,
            move |r| {
                let _ = tx.send(r);
            },
        )
        .unwrap();
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(5)),
            Ok(Report::Started(Phase::Metering))
        ));
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Report::Level(l)) => assert_eq!(l.rms_dbfs, FLOOR_DBFS),
            other => panic!("{other:?}"),
        }
        test.set_echo(true);
        let phase = loop {
            match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
                Report::Phase(p) => break p,
                Report::Level(_) => {}
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(phase, Phase::Recording);
        assert!(!test.is_finished());
        test.stop_and_wait();
        // Whatever was queued before the stop, nothing comes after.
        while rx.try_recv().is_ok() {}
        assert!(matches!(
            rx.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        ));
    }

    /// A test stopped while its devices are still opening says nothing
    /// once they open: a newer test may be running by then, and a stale
    /// `Started` would tell the screen its microphone is live.
    #[test]
    fn stopped_while_opening_reports_nothing() {
        let (opened_tx, opened_rx) = mpsc::channel::<()>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (tx, rx) = mpsc::channel();
        let mut test = AudioTest::start(
            move || {
                let _ = opened_tx.send(());
                let _ = go_rx.recv();
                Ok(Box::new(FilePort::null()))
            },
            false,
            move |r| {
                let _ = tx.send(r);
            },
        )
        .unwrap();
        opened_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        test.stop();
        go_tx.send(()).unwrap();
        // The thread ends without a report: the sender is dropped unused.
        match rx.recv_timeout(Duration::from_secs(5)) {
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
            other => panic!("a stopped test reported {other:?}"),
        }
    }

    #[test]
    fn open_failures_and_the_time_limit_are_reported() {
        let (tx, rx) = mpsc::channel();
        let _t = AudioTest::start(
            || {
                Err::<Box<dyn AudioPort>, _>(AudioDeviceError::NotFound {
                    direction: "input",
                    name: "Gone".into(),
                })
            },
            true,
            move |r| {
                let _ = tx.send(r);
            },
        )
        .unwrap();
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Report::OpenFailed(AudioDeviceError::NotFound { name, .. })) => {
                assert_eq!(name, "Gone")
            }
            other => panic!("{other:?}"),
        }

        let (tx, rx) = mpsc::channel();
        let t = AudioTest::start_for(
            || Ok(Box::new(FilePort::null())),
            false,
            move |r| {
                let _ = tx.send(r);
            },
            Duration::from_millis(100),
        )
        .unwrap();
        let end = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(5)).ok())
            .find(|r| !matches!(r, Report::Level(_) | Report::Started(_)));
        assert!(matches!(end, Some(Report::TimedOut)), "{end:?}");
        std::thread::sleep(Duration::from_millis(50));
        assert!(t.is_finished());
    }
}

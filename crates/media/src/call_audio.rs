//! A call's local audio path, one 20 ms step at a time on the media
//! thread: device (or WAV/null port) ↔ processing ↔ [`AudioSession`].
//!
//! ```text
//!  session.pull_playout ─┬─(+ local tone)─> processor.render (echo reference)
//!                        └──────────────────> port.playout ─> speaker   [output meter]
//!  mic ─> port.capture ─> [input meter] ─> processor.capture ─> mute ─> session.push_capture
//! ```
//! In echo-test mode (the settings screen) there is no session: what the
//! microphone hears is played back after a delay.
//!
//! In a local conference ([`crate::conference`]) the host call's audio
//! also mixes each leg in: the speaker plays every remote party, each
//! party gets the microphone plus the others (mix-minus). A leg's audio
//! swaps its session's frames with the host instead and leaves its own
//! port idle (playing silence, draining the microphone). A recording
//! tap, when set, gets what we hear plus what we send, whichever the role.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::conference::{HostLink, LegLink, Mixer, Role};
use crate::device::{AudioDeviceError, AudioPort, FRAME};
use crate::level::{Level, LevelMeter};
use crate::processing::{AudioProcessor, ProcessingConfig, ProcessingError};
use crate::recorder::RecorderTap;
use crate::session::{AudioSession, SESSION_RATE};
use crate::tones::ToneGenerator;

/// Failures of a step.
#[derive(Debug, thiserror::Error)]
pub enum CallAudioError {
    /// The device or file port failed.
    #[error(transparent)]
    Device(#[from] AudioDeviceError),
    /// The processing chain failed.
    #[error(transparent)]
    Processing(#[from] ProcessingError),
}

/// Levels for the UI, about ten times a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    /// Microphone, before processing and mute (shows the mic works).
    pub input: Level,
    /// What the speaker plays.
    pub output: Level,
}

/// The local audio of one call, or of the settings screen's echo test.
pub struct CallAudio {
    port: Box<dyn AudioPort>,
    processor: AudioProcessor,
    muted: bool,
    echo: Option<EchoTest>,
    tone: Option<ToneGenerator>,
    input_meter: LevelMeter,
    output_meter: LevelMeter,
    capture: Vec<i16>,
    playout: Vec<i16>,
    tone_buf: Vec<i16>,
    source_live: bool,
    /// What this call's peer said this frame (before tones).
    remote: Vec<i16>,
    /// A mix on its way to a session, a leg or the recorder.
    mix: Vec<i16>,
    mixer: Mixer,
    /// Legs mixed in here (host role); capacity reserved up front.
    legs: Vec<HostLink>,
    /// The host this call is mixed at (leg role).
    host: Option<LegLink>,
    recorder: Option<RecorderTap>,
}

/// Legs one host mixes, at most (a 3-way call has one).
pub const MAX_LEGS: usize = 4;

struct EchoTest {
    delay: usize,
    line: VecDeque<i16>,
}

impl CallAudio {
    /// Audio through `port`, processed per `config`.
    pub fn new(
        port: Box<dyn AudioPort>,
        config: ProcessingConfig,
    ) -> Result<CallAudio, CallAudioError> {
        Ok(CallAudio {
            port,
            processor: AudioProcessor::new(config)?,
            muted: false,
            echo: None,
            tone: None,
            input_meter: LevelMeter::new(SESSION_RATE),
            output_meter: LevelMeter::new(SESSION_RATE),
            capture: vec![0; FRAME],
            playout: vec![0; FRAME],
            tone_buf: vec![0; FRAME],
            source_live: true,
            remote: vec![0; FRAME],
            mix: vec![0; FRAME],
            mixer: Mixer::new(),
            legs: Vec::with_capacity(MAX_LEGS),
            host: None,
            recorder: None,
        })
    }

    /// Takes a part in a local conference: as host, one more leg to mix
    /// (refused, and dropped so the leg carries on alone, beyond
    /// [`MAX_LEGS`]); as a leg, the host to be mixed at.
    pub fn join_conference(&mut self, role: Role) {
        match role {
            Role::Host(link) if self.legs.len() < MAX_LEGS => self.legs.push(link),
            Role::Host(_) => {}
            Role::Leg(link) => {
                self.legs.clear();
                self.host = Some(link);
            }
        }
    }

    /// Leaves any conference: back to a plain call.
    pub fn leave_conference(&mut self) {
        self.legs.clear();
        self.host = None;
    }

    /// Whether this call mixes legs or is mixed at a host now (a link
    /// whose other end went away no longer counts).
    pub fn in_conference(&self) -> bool {
        !self.legs.is_empty() || self.host.is_some()
    }

    /// Starts feeding a recording (replacing any other), or stops it with
    /// `None` (dropping the tap lets the writer finish the file).
    pub fn set_recorder(&mut self, tap: Option<RecorderTap>) {
        self.recorder = tap;
    }

    /// Mutes or unmutes the microphone (the peer then hears silence; the
    /// input meter keeps showing the mic, so the UI can warn "you are
    /// muted" while someone talks).
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Whether the microphone is muted.
    pub fn muted(&self) -> bool {
        self.muted
    }

    /// Switches processing stages.
    pub fn set_processing(&mut self, config: ProcessingConfig) -> Result<(), CallAudioError> {
        Ok(self.processor.set_config(config)?)
    }

    /// Plays a local tone (ringback, call waiting, DTMF feedback) mixed
    /// over the call's audio; `None` stops it.
    pub fn set_tone(&mut self, tone: Option<ToneGenerator>) {
        self.tone = tone;
    }

    /// Echo test: the microphone is played back `delay` later (rounded to
    /// whole frames). `None` ends it.
    pub fn set_echo_test(&mut self, delay: Option<Duration>) {
        self.echo = delay.map(|d| {
            let frames = (d.as_millis() / 20).max(1) as usize;
            EchoTest {
                delay: frames * FRAME,
                line: VecDeque::with_capacity(frames * FRAME + FRAME),
            }
        });
    }

    /// False once a file source has played to its end.
    pub fn source_live(&self) -> bool {
        self.source_live
    }

    /// The meters' readings when 100 ms have passed since the last.
    pub fn levels(&mut self) -> Option<Levels> {
        let input = self.input_meter.report();
        let output = self.output_meter.report();
        Some(Levels {
            input: input?,
            output: output?,
        })
    }

    /// The current readings.
    pub fn current_levels(&self) -> Levels {
        Levels {
            input: self.input_meter.level(),
            output: self.output_meter.level(),
        }
    }

    /// Runs one 20 ms frame. `session` is the call's media (none before
    /// media starts, or in the echo test).
    pub fn tick(
        &mut self,
        mut session: Option<&mut AudioSession>,
        now: Instant,
    ) -> Result<(), CallAudioError> {
        if self.host.as_ref().is_some_and(LegLink::is_closed) {
            // The host's call ended: this call is a plain one again.
            self.host = None;
        }
        self.legs.retain(|l| !l.is_closed());
        if self.host.is_some() && self.echo.is_none() {
            return self.tick_leg(session, now);
        }
        // Speaker side first, so the canceller has the reference before
        // the capture that may contain its echo.
        match (&mut self.echo, session.as_deref_mut()) {
            (Some(echo), _) => {
                if echo.line.len() >= echo.delay {
                    for (d, s) in self.remote.iter_mut().zip(echo.line.drain(..FRAME)) {
                        *d = s;
                    }
                } else {
                    self.remote.fill(0);
                }
            }
            (None, Some(s)) => s.pull_playout(now, &mut self.remote),
            (None, None) => self.remote.fill(0),
        }
        self.mixer.begin();
        self.mixer.add_remote(&self.remote);
        for leg in &mut self.legs {
            leg.receive();
            self.mixer.add_remote(leg.frame());
        }
        self.mixer.speaker(&mut self.playout);
        if let Some(tone) = self.tone.as_mut() {
            tone.fill(&mut self.tone_buf);
            for (p, &t) in self.playout.iter_mut().zip(&self.tone_buf) {
                *p = p.saturating_add(t);
            }
            if tone.finished() {
                self.tone = None;
            }
        }
        self.processor.render(&self.playout)?;
        self.port.playout(&self.playout)?;
        self.output_meter.process(&self.playout);

        self.source_live = self.port.capture(&mut self.capture)?;
        self.input_meter.process(&self.capture);
        self.processor.capture(&mut self.capture)?;
        if self.muted {
            self.capture.fill(0);
        }
        if let Some(echo) = &mut self.echo {
            echo.line.extend(&self.capture);
            return Ok(());
        }
        if let Some(s) = session {
            if self.legs.is_empty() {
                s.set_input_band(self.processor.output_band_hz());
                s.push_capture(&self.capture);
            } else {
                self.mixer
                    .mix_minus(&self.capture, &self.remote, &mut self.mix);
                // The other parties' audio in the mix may be full band.
                s.set_input_band(crate::session::FULL_BAND_HZ);
                s.push_capture(&self.mix);
            }
        }
        for leg in &mut self.legs {
            self.mixer
                .mix_minus(&self.capture, leg.frame(), &mut self.mix);
            leg.send(&self.mix);
        }
        if let Some(rec) = &mut self.recorder {
            self.mixer.all(&self.capture, &mut self.mix);
            rec.push(&self.mix);
        }
        self.drop_closed_recorder();
        Ok(())
    }

    /// A frame as a conference leg: the session's audio goes to the host,
    /// the host's mix-minus to the session; the port idles.
    fn tick_leg(
        &mut self,
        session: Option<&mut AudioSession>,
        now: Instant,
    ) -> Result<(), CallAudioError> {
        let Some(host) = self.host.as_mut() else {
            return Ok(());
        };
        match session {
            Some(s) => {
                s.pull_playout(now, &mut self.remote);
                host.send(&self.remote);
                host.receive();
                s.set_input_band(crate::session::FULL_BAND_HZ);
                s.push_capture(host.frame());
            }
            None => {
                self.remote.fill(0);
                host.receive();
            }
        }
        if let Some(rec) = &mut self.recorder {
            // The host's mix-minus for us plus our peer: the whole call.
            for ((m, &a), &b) in self.mix.iter_mut().zip(&self.remote).zip(host.frame()) {
                *m = a.saturating_add(b);
            }
            rec.push(&self.mix);
        }
        self.drop_closed_recorder();
        // Keep the device's clock and rings running (and the meters
        // honest): silence out, the microphone read and dropped.
        self.playout.fill(0);
        self.port.playout(&self.playout)?;
        self.output_meter.process(&self.playout);
        self.source_live = self.port.capture(&mut self.capture)?;
        self.input_meter.process(&self.capture);
        Ok(())
    }

    fn drop_closed_recorder(&mut self) {
        if self.recorder.as_ref().is_some_and(RecorderTap::is_closed) {
            // The writer failed and said why through its own channel.
            self.recorder = None;
        }
    }

    /// Gives the port back (to finish a WAV recording, say).
    pub fn into_port(self) -> Box<dyn AudioPort> {
        self.port
    }
}

#[cfg(test)]
mod tests;

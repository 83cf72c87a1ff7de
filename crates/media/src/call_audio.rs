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

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::device::{AudioDeviceError, AudioPort, FRAME};
use crate::level::{Level, LevelMeter};
use crate::processing::{AudioProcessor, ProcessingConfig, ProcessingError};
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
}

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
        })
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
        // Speaker side first, so the canceller has the reference before
        // the capture that may contain its echo.
        match (&mut self.echo, session.as_deref_mut()) {
            (Some(echo), _) => {
                if echo.line.len() >= echo.delay {
                    for (d, s) in self.playout.iter_mut().zip(echo.line.drain(..FRAME)) {
                        *d = s;
                    }
                } else {
                    self.playout.fill(0);
                }
            }
            (None, Some(s)) => s.pull_playout(now, &mut self.playout),
            (None, None) => self.playout.fill(0),
        }
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
        } else if let Some(s) = session {
            s.push_capture(&self.capture);
        }
        Ok(())
    }

    /// Gives the port back (to finish a WAV recording, say).
    pub fn into_port(self) -> Box<dyn AudioPort> {
        self.port
    }
}

#[cfg(test)]
mod tests;

//! Microphone processing on the media thread (never in the device
//! callback): acoustic echo cancellation, noise suppression and automatic
//! gain control, each switchable while a call runs. The DSP is the aec3
//! crate's Rust port of WebRTC's chain:
//!
//! ```text
//!  far end (what the speaker plays) ─render()─┐
//!  microphone ─capture()─> high-pass ─> AEC3 ─> NS ─> AGC2 ─> post filter ─> out
//! ```
//! A stage switched off is bypassed in place, so switching does not
//! rebuild the graph or lose the other stages' adaptation.
//!
//! The chain runs at 16 kHz (wideband voice, up to 8 kHz): the session's
//! 48 kHz is resampled down before it and up after it. At 48 kHz the aec3
//! port splits the signal into three bands with a slow sparse FIR filter
//! bank (41% of its time in a profile) and the chain cost 3-4x as much
//! CPU as at 16 kHz (`examples/processing_cost.rs`) for content above
//! 8 kHz that PESQ-WB and the G.722/HD-voice band do not carry. With every
//! stage off nothing is resampled: the microphone passes in full band.

use aec3::graph::{GraphError, NodeControlState};
use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear::{self, LinearPipeline};

use crate::resample::Resampler;
use crate::session::SESSION_RATE;

/// The rate the DSP runs at.
pub const PROCESSING_RATE: u32 = 16_000;

/// Samples per 10 ms block at the DSP rate, the unit the DSP works in.
const BLOCK: usize = PROCESSING_RATE as usize / 100;

/// Samples per 10 ms at the session rate: frames must be whole blocks.
const SESSION_BLOCK: usize = SESSION_RATE as usize / 100;

/// Processing failures (a misbuilt or misfed graph).
#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    /// The DSP graph refused a frame or a setting.
    #[error("audio processing: {0}")]
    Graph(#[from] GraphError),
    /// Frames must be whole 10 ms blocks.
    #[error("frame of {0} samples is not a multiple of 10 ms at 48 kHz")]
    FrameSize(usize),
}

/// Which stages run. All on by default (the settings screen can turn
/// each off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingConfig {
    /// Acoustic echo cancellation.
    pub echo_cancellation: bool,
    /// Noise suppression.
    pub noise_suppression: bool,
    /// Automatic gain control.
    pub auto_gain: bool,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        ProcessingConfig {
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: true,
        }
    }
}

impl ProcessingConfig {
    /// Everything off: capture passes unchanged.
    pub fn off() -> Self {
        ProcessingConfig {
            echo_cancellation: false,
            noise_suppression: false,
            auto_gain: false,
        }
    }

    fn any(&self) -> bool {
        self.echo_cancellation || self.noise_suppression || self.auto_gain
    }
}

/// The processing chain for one call (48 kHz mono in and out).
pub struct AudioProcessor {
    pipe: LinearPipeline,
    config: ProcessingConfig,
    inb: [f32; BLOCK],
    outb: [f32; BLOCK],
    down_near: Resampler,
    up_near: Resampler,
    down_far: Resampler,
    /// Scratch at the DSP rate and back at the session rate; they keep
    /// their capacity, so the steady state does not allocate.
    low: Vec<i16>,
    full: Vec<i16>,
}

fn state(on: bool) -> NodeControlState {
    if on {
        NodeControlState::Active
    } else {
        NodeControlState::Bypassed
    }
}

impl AudioProcessor {
    /// A chain with `config`'s stages running.
    pub fn new(config: ProcessingConfig) -> Result<AudioProcessor, ProcessingError> {
        let format = AudioFormat::ten_ms(PROCESSING_RATE, 1);
        // Transparent mode (WebRTC's HMM classifier, its default there):
        // when no echo path shows up (a headset, or the far end simply
        // not reaching the microphone) AEC3 stops suppressing. Without
        // it every double-talk moment is suppressed as possible echo;
        // the bench's near talker over a silent-echo line lost 1.7 PESQ.
        let mut aec = aec3::api::config::EchoCanceller3Config::default();
        aec.transparent_mode.use_hmm = true;
        let pipe = linear::builder(format, format).aec3_config(aec).build()?;
        let mut p = AudioProcessor {
            pipe,
            config: ProcessingConfig::default(),
            inb: [0.0; BLOCK],
            outb: [0.0; BLOCK],
            down_near: Resampler::new(SESSION_RATE, PROCESSING_RATE),
            up_near: Resampler::new(PROCESSING_RATE, SESSION_RATE),
            down_far: Resampler::new(SESSION_RATE, PROCESSING_RATE),
            low: Vec::with_capacity(SESSION_BLOCK * 12),
            full: Vec::with_capacity(SESSION_BLOCK * 12),
        };
        p.set_config(config)?;
        Ok(p)
    }

    /// What runs now.
    pub fn config(&self) -> ProcessingConfig {
        self.config
    }

    /// The highest frequency the processed microphone audio carries
    /// (Hz): the DSP's band while any stage runs, else the full band.
    pub fn output_band_hz(&self) -> u32 {
        if self.config.any() {
            PROCESSING_RATE / 2
        } else {
            crate::session::FULL_BAND_HZ
        }
    }

    /// Switches stages on or off.
    pub fn set_config(&mut self, config: ProcessingConfig) -> Result<(), ProcessingError> {
        let h = *self.pipe.handles();
        if config.echo_cancellation && !self.config.echo_cancellation {
            // Its filter describes an echo path from before it was off.
            self.pipe.reset_aec3()?;
        }
        self.pipe
            .set_node_state(h.aec3.node_id(), state(config.echo_cancellation))?;
        if let Some(ns) = h.noise_suppression {
            self.pipe
                .set_node_state(ns.node_id(), state(config.noise_suppression))?;
        }
        if let Some(agc) = h.gain_controller2 {
            self.pipe
                .set_node_state(agc.node_id(), state(config.auto_gain))?;
        }
        self.config = config;
        Ok(())
    }

    /// The far-end audio as it goes to the speaker (the echo reference).
    pub fn render(&mut self, far: &[i16]) -> Result<(), ProcessingError> {
        if !far.len().is_multiple_of(SESSION_BLOCK) {
            return Err(ProcessingError::FrameSize(far.len()));
        }
        if !self.config.echo_cancellation {
            // A bypassed canceller takes no reference; queuing it would
            // only grow.
            return Ok(());
        }
        self.low.clear();
        self.down_far.process(far, &mut self.low);
        for block in self.low.chunks_exact(BLOCK) {
            for (d, &s) in self.inb.iter_mut().zip(block) {
                *d = f32::from(s) / 32768.0;
            }
            self.pipe.handle_render_frame(&self.inb)?;
        }
        Ok(())
    }

    /// Processes microphone audio in place.
    pub fn capture(&mut self, near: &mut [i16]) -> Result<(), ProcessingError> {
        if !near.len().is_multiple_of(SESSION_BLOCK) {
            return Err(ProcessingError::FrameSize(near.len()));
        }
        if !self.config.any() {
            return Ok(());
        }
        self.low.clear();
        self.down_near.process(near, &mut self.low);
        for block in self.low.chunks_exact_mut(BLOCK) {
            for (d, &s) in self.inb.iter_mut().zip(block.iter()) {
                *d = f32::from(s) / 32768.0;
            }
            if self.pipe.process_capture_frame(&self.inb, &mut self.outb)? {
                for (d, &x) in block.iter_mut().zip(self.outb.iter()) {
                    *d = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                }
            }
        }
        self.full.clear();
        self.up_near.process(&self.low, &mut self.full);
        // Whole 10 ms blocks in, whole blocks out: the lengths match.
        if self.full.len() == near.len() {
            near.copy_from_slice(&self.full);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

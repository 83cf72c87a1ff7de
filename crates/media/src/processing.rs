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

use aec3::graph::{GraphError, NodeControlState};
use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear::{self, LinearPipeline};

use crate::session::SESSION_RATE;

/// Samples per 10 ms block, the unit the DSP works in.
const BLOCK: usize = SESSION_RATE as usize / 100;

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

/// The processing chain for one call (48 kHz mono).
pub struct AudioProcessor {
    pipe: LinearPipeline,
    config: ProcessingConfig,
    inb: [f32; BLOCK],
    outb: [f32; BLOCK],
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
        let format = AudioFormat::ten_ms(SESSION_RATE, 1);
        let pipe = linear::builder(format, format).build()?;
        let mut p = AudioProcessor {
            pipe,
            config: ProcessingConfig::default(),
            inb: [0.0; BLOCK],
            outb: [0.0; BLOCK],
        };
        p.set_config(config)?;
        Ok(p)
    }

    /// What runs now.
    pub fn config(&self) -> ProcessingConfig {
        self.config
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
        if far.len() % BLOCK != 0 {
            return Err(ProcessingError::FrameSize(far.len()));
        }
        if !self.config.echo_cancellation {
            // A bypassed canceller takes no reference; queuing it would
            // only grow.
            return Ok(());
        }
        for block in far.chunks_exact(BLOCK) {
            for (d, &s) in self.inb.iter_mut().zip(block) {
                *d = f32::from(s) / 32768.0;
            }
            self.pipe.handle_render_frame(&self.inb)?;
        }
        Ok(())
    }

    /// Processes microphone audio in place.
    pub fn capture(&mut self, near: &mut [i16]) -> Result<(), ProcessingError> {
        if near.len() % BLOCK != 0 {
            return Err(ProcessingError::FrameSize(near.len()));
        }
        if !self.config.any() {
            return Ok(());
        }
        for block in near.chunks_exact_mut(BLOCK) {
            for (d, &s) in self.inb.iter_mut().zip(block.iter()) {
                *d = f32::from(s) / 32768.0;
            }
            if self.pipe.process_capture_frame(&self.inb, &mut self.outb)? {
                for (d, &x) in block.iter_mut().zip(self.outb.iter()) {
                    *d = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

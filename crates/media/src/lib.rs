//! Parley's audio engine. The core is pure (samples and packets in,
//! samples and packets out, time as an argument); devices sit at the edge.

pub mod audio_test;
pub mod bridge;
pub mod call_audio;
pub mod codec;
pub mod conference;
pub mod device;
pub mod devices;
pub mod g711;
mod jitter;
pub mod level;
pub mod processing;
pub mod recorder;
mod resample;
pub mod ringer;
pub mod sdp;
pub mod session;
pub mod tones;

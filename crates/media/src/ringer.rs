//! The ringer: a tone on an output device while no call audio runs, for
//! the ringtone of an incoming call and the ringback of an outgoing call
//! that rings without early media (RFC 3261 §21.1.2 leaves ringback to
//! the caller's phone when the 180 carries no SDP).
//!
//! It opens an output stream only: ringing must not open the microphone
//! (some systems show a recording indicator). The tone is generated in the
//! device callback itself: [`ToneGenerator::fill`] is a few multiplies per
//! sample into a stack buffer, with no allocation, lock or I/O. cpal
//! streams are not `Send` on every platform, so a thread owns the stream
//! and drops it when the [`Ringer`] is dropped.

use std::sync::mpsc;
use std::thread::JoinHandle;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use tracing::debug;

use crate::device::{build_output, choose_config, find_device, AudioDeviceError};
use crate::tones::{ToneGenerator, ToneRegion};

/// What the ringer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingerTone {
    /// An incoming call rings here.
    Ringtone,
    /// Our outgoing call rings at the peer (180 without early media).
    Ringback(ToneRegion),
    /// The sound settings' test sound (once, about a second).
    TestSound,
}

/// A tone playing on an output device until dropped.
pub struct Ringer {
    tone: RingerTone,
    device: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Ringer {
    /// Starts `tone` on `output` (a device id or name; the default output
    /// for `None`). Fails when the device cannot be opened.
    pub fn start(output: Option<&str>, tone: RingerTone) -> Result<Ringer, AudioDeviceError> {
        let output = output.map(str::to_owned);
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (stop, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("parley-ringer".into())
            .spawn(move || match open(output.as_deref(), tone) {
                Ok((stream, name)) => {
                    if ready_tx.send(Ok(name)).is_ok() {
                        // Until the Ringer is dropped (or its sender is).
                        let _ = stop_rx.recv();
                    }
                    drop(stream);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(AudioDeviceError::Thread)?;
        let device = ready_rx.recv().map_err(|_| {
            AudioDeviceError::Thread(std::io::Error::other("ringer thread ended while opening"))
        })??;
        debug!(?tone, %device, "ringer on");
        Ok(Ringer {
            tone,
            device,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// What it plays.
    pub fn tone(&self) -> RingerTone {
        self.tone
    }

    /// The device it plays on.
    pub fn device(&self) -> &str {
        &self.device
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open(
    output: Option<&str>,
    tone: RingerTone,
) -> Result<(cpal::Stream, String), AudioDeviceError> {
    let host = cpal::default_host();
    let device = find_device(&host, output, false)?;
    let (config, format) = choose_config(&device, false)?;
    let channels = usize::from(config.channels).max(1);
    let generator = match tone {
        RingerTone::Ringtone => ToneGenerator::ringtone(config.sample_rate),
        RingerTone::Ringback(region) => ToneGenerator::ringback(region, config.sample_rate),
        RingerTone::TestSound => ToneGenerator::test_sound(config.sample_rate),
    };
    let name = device.to_string();
    let on_error = |e: cpal::Error| debug!(error = %e, "ringer stream");
    let stream = build_output!(
        device,
        config,
        format,
        on_error,
        tone_callback(generator, channels)
    )?;
    stream.play().map_err(|source| AudioDeviceError::Stream {
        device: name.clone(),
        source,
    })?;
    Ok((stream, name))
}

/// The real-time callback: the tone into every channel, through a stack
/// buffer (no allocation, no lock).
pub(crate) fn tone_callback<T>(
    mut generator: ToneGenerator,
    channels: usize,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<i16>,
{
    move |data: &mut [T], _| {
        let mut buf = [0i16; 256];
        for chunk in data.chunks_mut(buf.len() * channels) {
            let frames = chunk.len().div_ceil(channels);
            let mono = &mut buf[..frames];
            generator.fill(mono);
            for (frame, &s) in chunk.chunks_mut(channels).zip(mono.iter()) {
                let v = T::from_sample(s);
                frame.iter_mut().for_each(|d| *d = v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tones::goertzel;

    /// The callback writes the tone to every channel of an interleaved
    /// buffer, in callback-sized pieces that join without a gap.
    #[test]
    fn callback_fills_every_channel_with_the_tone() {
        let rate = 48_000;
        let mut cb = tone_callback::<f32>(ToneGenerator::ringback(ToneRegion::Europe, rate), 2);
        let info = callback_info();
        let mut out = Vec::new();
        // 1 s in odd callback sizes (stereo, so even sample counts).
        let mut left = rate as usize * 2;
        let mut size = 300;
        while left > 0 {
            let n = size.min(left);
            let mut data = vec![0f32; n];
            cb(&mut data, &info);
            out.extend_from_slice(&data);
            left -= n;
            size = if size == 300 { 1042 } else { 300 };
        }
        let l: Vec<i16> = out
            .iter()
            .step_by(2)
            .map(|&s| (s * 32767.0) as i16)
            .collect();
        let r: Vec<i16> = out
            .iter()
            .skip(1)
            .step_by(2)
            .map(|&s| (s * 32767.0) as i16)
            .collect();
        assert_eq!(l, r, "both channels carry the tone");
        // European ringback: 425 Hz for the first second.
        let p425 = goertzel(&l[2400..45_600], 425.0, rate);
        let p1000 = goertzel(&l[2400..45_600], 1000.0, rate);
        assert!(p425 > 1e-3 && p425 > 100.0 * p1000, "{p425} vs {p1000}");
    }

    fn callback_info() -> cpal::OutputCallbackInfo {
        // A callback info for calling the closure directly in a test.
        cpal::OutputCallbackInfo::new(cpal::OutputStreamTimestamp {
            callback: cpal::StreamInstant::new(0, 0),
            playback: cpal::StreamInstant::new(0, 0),
        })
    }
}

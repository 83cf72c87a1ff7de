//! Audio devices behind one pair of traits, so the engine runs the same
//! with a sound card (cpal), a WAV file (tests, `parley-cli --play`/
//! `--record`) or nothing at all (null devices for headless machines).
//!
//! Samples are mono i16 at the device's own rate; resampling to the codec
//! rate happens in the engine, not here.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Errors opening or using a device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A WAV file could not be opened, read or written.
    #[error("WAV file {path}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// What hound reported.
        source: hound::Error,
    },
    /// The WAV file is valid but not something we can play.
    #[error("WAV file {path}: unsupported format ({problem})")]
    UnsupportedWav {
        /// The file.
        path: PathBuf,
        /// Which property is off.
        problem: &'static str,
    },
    /// The sound system failed to list devices.
    #[error("audio host: {0}")]
    Host(String),
}

/// Where microphone samples come from.
pub trait AudioSource: Send {
    /// Sample rate in Hz.
    fn sample_rate(&self) -> u32;
    /// Fills `buf` completely; returns false once the source is exhausted
    /// (the rest of `buf` is then silence).
    fn read(&mut self, buf: &mut [i16]) -> Result<bool, DeviceError>;
}

/// Where speaker samples go.
pub trait AudioSink: Send {
    /// Sample rate in Hz.
    fn sample_rate(&self) -> u32;
    /// Consumes `buf`.
    fn write(&mut self, buf: &[i16]) -> Result<(), DeviceError>;
}

/// Endless silence.
#[derive(Debug, Clone)]
pub struct NullSource {
    rate: u32,
}

impl NullSource {
    /// Silence at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        Self { rate }
    }
}

impl AudioSource for NullSource {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn read(&mut self, buf: &mut [i16]) -> Result<bool, DeviceError> {
        buf.fill(0);
        Ok(true)
    }
}

/// Discards everything, counting samples (so tests can see audio flowed).
#[derive(Debug, Clone, Default)]
pub struct NullSink {
    rate: u32,
    /// Samples written so far.
    pub samples: u64,
}

impl NullSink {
    /// A sink at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        Self { rate, samples: 0 }
    }
}

impl AudioSink for NullSink {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn write(&mut self, buf: &[i16]) -> Result<(), DeviceError> {
        self.samples += buf.len() as u64;
        Ok(())
    }
}

/// A mono 16-bit PCM WAV file as a microphone.
pub struct WavSource {
    reader: hound::WavReader<std::io::BufReader<File>>,
    path: PathBuf,
}

impl WavSource {
    /// Opens `path`; only mono 16-bit integer PCM is accepted.
    pub fn open(path: &Path) -> Result<Self, DeviceError> {
        let reader = hound::WavReader::open(path).map_err(|source| DeviceError::Wav {
            path: path.to_owned(),
            source,
        })?;
        let spec = reader.spec();
        let unsupported = |problem| DeviceError::UnsupportedWav {
            path: path.to_owned(),
            problem,
        };
        if spec.channels != 1 {
            return Err(unsupported("not mono"));
        }
        if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
            return Err(unsupported("not 16-bit integer PCM"));
        }
        if !(8_000..=192_000).contains(&spec.sample_rate) {
            return Err(unsupported("sample rate outside 8-192 kHz"));
        }
        Ok(Self {
            reader,
            path: path.to_owned(),
        })
    }
}

impl AudioSource for WavSource {
    fn sample_rate(&self) -> u32 {
        self.reader.spec().sample_rate
    }
    fn read(&mut self, buf: &mut [i16]) -> Result<bool, DeviceError> {
        let mut samples = self.reader.samples::<i16>();
        for (i, slot) in buf.iter_mut().enumerate() {
            match samples.next() {
                Some(Ok(s)) => *slot = s,
                Some(Err(source)) => {
                    return Err(DeviceError::Wav {
                        path: self.path.clone(),
                        source,
                    })
                }
                None => {
                    buf[i..].fill(0);
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// A mono 16-bit PCM WAV file as a speaker. Call [`WavSink::finish`] to
/// write the final header; dropping it also finalises, ignoring errors.
pub struct WavSink {
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    rate: u32,
    path: PathBuf,
}

impl WavSink {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, rate: u32) -> Result<Self, DeviceError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(|source| DeviceError::Wav {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            writer: Some(writer),
            rate,
            path: path.to_owned(),
        })
    }

    /// Finalises the file.
    pub fn finish(mut self) -> Result<(), DeviceError> {
        match self.writer.take() {
            Some(w) => w.finalize().map_err(|source| DeviceError::Wav {
                path: self.path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }
}

impl AudioSink for WavSink {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn write(&mut self, buf: &[i16]) -> Result<(), DeviceError> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut i16w = w.get_i16_writer(buf.len() as u32);
        for &s in buf {
            i16w.write_sample(s);
        }
        i16w.flush().map_err(|source| DeviceError::Wav {
            path: self.path.clone(),
            source,
        })
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            let _ = w.finalize();
        }
    }
}

/// Names of the sound card devices the platform offers: (inputs, outputs).
/// On Linux cpal prefers PipeWire, then PulseAudio, then raw ALSA.
pub fn list_devices() -> Result<(Vec<String>, Vec<String>), DeviceError> {
    use cpal::traits::HostTrait;
    let host = cpal::default_host();
    let inputs = host
        .input_devices()
        .map_err(|e| DeviceError::Host(e.to_string()))?
        .map(|d| d.to_string())
        .collect();
    let outputs = host
        .output_devices()
        .map_err(|e| DeviceError::Host(e.to_string()))?
        .map(|d| d.to_string())
        .collect();
    Ok((inputs, outputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let tone: Vec<i16> = (0..1600)
            .map(|i| ((i as f32 * 0.1).sin() * 8000.0) as i16)
            .collect();
        let mut sink = WavSink::create(&path, 16_000).unwrap();
        sink.write(&tone[..800]).unwrap();
        sink.write(&tone[800..]).unwrap();
        sink.finish().unwrap();

        let mut src = WavSource::open(&path).unwrap();
        assert_eq!(src.sample_rate(), 16_000);
        let mut buf = vec![0i16; 1000];
        assert!(src.read(&mut buf).unwrap());
        assert_eq!(buf[..], tone[..1000]);
        buf.fill(7);
        assert!(!src.read(&mut buf).unwrap(), "only 600 samples left");
        assert_eq!(buf[..600], tone[1000..]);
        assert!(buf[600..].iter().all(|&s| s == 0));
    }

    #[test]
    fn bad_wav_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF\x10\0\0\0WAVEjunkjunk").unwrap();
        let err = WavSource::open(&junk)
            .err()
            .expect("junk must fail")
            .to_string();
        assert!(err.contains("junk.wav"), "{err}");

        let stereo = dir.path().join("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        hound::WavWriter::create(&stereo, spec)
            .unwrap()
            .finalize()
            .unwrap();
        assert!(matches!(
            WavSource::open(&stereo),
            Err(DeviceError::UnsupportedWav {
                problem: "not mono",
                ..
            })
        ));
        assert!(WavSource::open(&dir.path().join("missing.wav")).is_err());
    }

    #[test]
    fn null_devices() {
        let mut src = NullSource::new(8000);
        let mut buf = [5i16; 160];
        assert!(src.read(&mut buf).unwrap());
        assert!(buf.iter().all(|&s| s == 0));
        let mut sink = NullSink::new(8000);
        sink.write(&buf).unwrap();
        sink.write(&buf).unwrap();
        assert_eq!(sink.samples, 320);
    }
}

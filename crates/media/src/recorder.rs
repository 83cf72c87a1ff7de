//! Call recording to WAV, off the media thread.
//!
//! ```text
//!  media thread: (what we hear + what we send) ─RecorderTap::push─> ring
//!  writer thread: ring ─48→16 kHz─> hound WAV ─(end or error)─> done(result)
//! ```
//! The media thread only copies a frame into a preallocated ring; the
//! writer thread resamples and does the file I/O. A write failure (disk
//! full, file gone) stops the writer, which abandons the ring: the tap
//! then turns into a no-op and the call goes on; the failure reaches the
//! caller through `done`.
//!
//! Recordings are mono 16-bit at 16 kHz: calls carry speech, which
//! wideband (up to 7 kHz) covers in full (G.722; Opus as configured for
//! voice; G.711 is 8 kHz anyway), at a third of 48 kHz's size (about
//! 115 MB an hour instead of 345 MB), and it is the rate speech tools
//! (transcription) expect.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rtrb::{Consumer, Producer, RingBuffer};

use crate::resample::Resampler;
use crate::session::SESSION_RATE;

/// The rate recordings are written at.
pub const RECORDING_RATE: u32 = 16_000;
/// Two seconds of session audio: the writer may stall that long (a slow
/// disk) before audio is dropped.
const RING: usize = 2 * SESSION_RATE as usize;
/// How often the writer drains the ring.
const WRITER_PERIOD: Duration = Duration::from_millis(40);

/// Recording failures.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The folder for recordings could not be made.
    #[error("cannot create the recordings folder {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be created (folder missing or not writable).
    #[error("cannot create the recording {}: {source}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: hound::Error,
    },
    /// Writing failed mid-recording (disk full, say); what was written
    /// before is kept when the header could still be finished.
    #[error("recording to {} failed: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: hound::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the recording thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The WAV file.
    pub path: PathBuf,
    /// Its length in seconds.
    pub seconds: f64,
}

/// The media thread's end: pushes 48 kHz frames. Dropping it ends the
/// recording (the writer finishes the file).
pub struct RecorderTap {
    ring: Producer<i16>,
    dropped: u64,
}

impl std::fmt::Debug for RecorderTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderTap")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl RecorderTap {
    /// Queues a frame of the call's mix; dropped (and counted) when the
    /// writer is behind by more than the ring holds.
    pub fn push(&mut self, frame: &[i16]) {
        let n = frame.len().min(self.ring.slots());
        if let Ok(mut chunk) = self.ring.write_chunk(n) {
            let (a, b) = chunk.as_mut_slices();
            let split = a.len();
            a.copy_from_slice(&frame[..split]);
            b.copy_from_slice(&frame[split..n]);
            chunk.commit_all();
        }
        self.dropped += (frame.len() - n) as u64;
    }

    /// The writer stopped (after a write error): pushing is pointless.
    pub fn is_closed(&self) -> bool {
        self.ring.is_abandoned()
    }

    /// Samples dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Creates `path` and starts a writer thread for it. `done` runs on that
/// thread once the recording is over: after the tap is dropped (`Ok`,
/// the file complete) or a write failed (`Err`). Blocking (creates the
/// file): call it off any real-time thread.
pub fn start(
    path: &Path,
    done: impl FnOnce(Result<Recording, RecorderError>) + Send + 'static,
) -> Result<RecorderTap, RecorderError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RECORDING_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let writer = hound::WavWriter::create(path, spec).map_err(|source| RecorderError::Create {
        path: path.to_owned(),
        source,
    })?;
    let (ring, rx) = RingBuffer::new(RING);
    let path = path.to_owned();
    std::thread::Builder::new()
        .name("parley-recorder".into())
        .spawn(move || done(write(writer, rx, path)))
        .map_err(RecorderError::Thread)?;
    Ok(RecorderTap { ring, dropped: 0 })
}

/// The writer thread: drains the ring until the tap is gone.
fn write(
    mut writer: hound::WavWriter<BufWriter<File>>,
    mut rx: Consumer<i16>,
    path: PathBuf,
) -> Result<Recording, RecorderError> {
    let mut resampler = Resampler::new(SESSION_RATE, RECORDING_RATE);
    let mut block = Vec::with_capacity(RING);
    let mut out = Vec::with_capacity(RING);
    let mut written: u64 = 0;
    loop {
        // Read "abandoned" before draining, so nothing pushed before the
        // tap was dropped is missed.
        let last = rx.is_abandoned();
        block.clear();
        if let Ok(chunk) = rx.read_chunk(rx.slots()) {
            let (a, b) = chunk.as_slices();
            block.extend_from_slice(a);
            block.extend_from_slice(b);
            chunk.commit_all();
        }
        out.clear();
        resampler.process(&block, &mut out);
        let wrote = out.iter().try_for_each(|&s| writer.write_sample(s));
        if let Err(source) = wrote {
            // Dropping `rx` (on return) tells the tap to stop; keep what
            // made it to disk if the header can still be finished.
            let _ = writer.finalize();
            return Err(RecorderError::Write { path, source });
        }
        written += out.len() as u64;
        if last {
            break;
        }
        std::thread::sleep(WRITER_PERIOD);
    }
    writer.finalize().map_err(|source| RecorderError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Recording {
        path,
        seconds: written as f64 / f64::from(RECORDING_RATE),
    })
}

#[cfg(test)]
mod tests;

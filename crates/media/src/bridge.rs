//! Lock-free hand-over between a device callback (cpal's real-time
//! thread) and the media thread. The callback side only copies samples
//! into and out of preallocated single-producer/single-consumer rings: no
//! allocation, lock or I/O. Overflow drops the newest capture; underflow
//! plays silence and is counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rtrb::{Consumer, Producer, RingBuffer};

/// Counters both sides can read.
#[derive(Debug, Default)]
pub struct BridgeCounters {
    /// Capture samples dropped because the media thread fell behind.
    pub capture_overruns: AtomicU64,
    /// Playout samples the device wanted but the media thread had not
    /// provided (played as silence).
    pub playout_underruns: AtomicU64,
}

/// The device callback's end: both directions, for a duplex callback.
/// [`CallbackEnd::split`] gives one half to each of separate input and
/// output callbacks (cpal runs them on different threads).
pub struct CallbackEnd {
    input: InputEnd,
    output: OutputEnd,
}

/// The input (microphone) callback's half.
pub struct InputEnd {
    capture: Producer<i16>,
    counters: Arc<BridgeCounters>,
}

/// The output (speaker) callback's half.
pub struct OutputEnd {
    playout: Consumer<i16>,
    counters: Arc<BridgeCounters>,
}

/// The media thread's end.
pub struct EngineEnd {
    capture: Consumer<i16>,
    playout: Producer<i16>,
    /// Shared counters.
    pub counters: Arc<BridgeCounters>,
}

/// Two rings of `capacity` samples each (capture and playout).
pub fn bridge(capacity: usize) -> (CallbackEnd, EngineEnd) {
    let (cp, cc) = RingBuffer::new(capacity);
    let (pp, pc) = RingBuffer::new(capacity);
    let counters = Arc::new(BridgeCounters::default());
    (
        CallbackEnd {
            input: InputEnd {
                capture: cp,
                counters: counters.clone(),
            },
            output: OutputEnd {
                playout: pc,
                counters: counters.clone(),
            },
        },
        EngineEnd {
            capture: cc,
            playout: pp,
            counters,
        },
    )
}

impl CallbackEnd {
    /// Separate halves for separate input and output callbacks.
    pub fn split(self) -> (InputEnd, OutputEnd) {
        (self.input, self.output)
    }

    /// Called from the input callback with microphone samples.
    pub fn on_input(&mut self, samples: &[i16]) {
        self.input.on_input(samples);
    }

    /// Called from the output callback; fills `out` completely.
    pub fn on_output(&mut self, out: &mut [i16]) {
        self.output.on_output(out);
    }
}

impl InputEnd {
    /// Called from the input callback with microphone samples.
    pub fn on_input(&mut self, samples: &[i16]) {
        self.push_with(samples.len(), |i| samples[i]);
    }

    /// Queues `n` samples made by `sample(index)`, so a callback converts
    /// its device format (channels, sample type) straight into the ring
    /// without a scratch buffer.
    pub fn push_with(&mut self, n: usize, mut sample: impl FnMut(usize) -> i16) {
        let fit = n.min(self.capture.slots());
        if let Ok(chunk) = self.capture.write_chunk_uninit(fit) {
            chunk.fill_from_iter((0..fit).map(&mut sample));
        }
        let dropped = (n - fit) as u64;
        if dropped > 0 {
            self.counters
                .capture_overruns
                .fetch_add(dropped, Ordering::Relaxed);
        }
    }
}

impl OutputEnd {
    /// Called from the output callback; fills `out` completely.
    pub fn on_output(&mut self, out: &mut [i16]) {
        self.pop_with(out.len(), |i, s| out[i] = s);
    }

    /// Hands `n` samples to `put(index, sample)`, silence where the media
    /// thread has not provided any (counted as underrun).
    pub fn pop_with(&mut self, n: usize, mut put: impl FnMut(usize, i16)) {
        let have = n.min(self.playout.slots());
        if let Ok(chunk) = self.playout.read_chunk(have) {
            let (a, b) = chunk.as_slices();
            for (i, &s) in a.iter().chain(b).enumerate() {
                put(i, s);
            }
            chunk.commit_all();
        }
        for i in have..n {
            put(i, 0);
        }
        let missing = (n - have) as u64;
        if missing > 0 {
            self.counters
                .playout_underruns
                .fetch_add(missing, Ordering::Relaxed);
        }
    }
}

impl EngineEnd {
    /// Moves all captured samples into `out` (appended).
    pub fn drain_capture(&mut self, out: &mut Vec<i16>) {
        let n = self.capture.slots();
        if let Ok(chunk) = self.capture.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            out.extend_from_slice(a);
            out.extend_from_slice(b);
            chunk.commit_all();
        }
    }

    /// Room for playout samples right now.
    pub fn playout_space(&self) -> usize {
        self.playout.slots()
    }

    /// Playout samples queued and not yet taken by the device.
    pub fn playout_queued(&self) -> usize {
        self.playout.buffer().capacity() - self.playout.slots()
    }

    /// Queues playout samples; returns how many fitted.
    pub fn push_playout(&mut self, samples: &[i16]) -> usize {
        let n = samples.len().min(self.playout.slots());
        if let Ok(mut chunk) = self.playout.write_chunk(n) {
            let (a, b) = chunk.as_mut_slices();
            let split = a.len();
            a.copy_from_slice(&samples[..split]);
            b.copy_from_slice(&samples[split..n]);
            chunk.commit_all();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_cross_threads_in_order_with_counted_overflow() {
        let (mut cb, mut eng) = bridge(1024);
        let t = std::thread::spawn(move || {
            for i in 0..100 {
                let block: Vec<i16> = (0..100).map(|k| (i * 100 + k) as i16).collect();
                cb.on_input(&block);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            cb
        });
        let mut got = Vec::new();
        while got.len() < 10_000 && !t.is_finished() {
            eng.drain_capture(&mut got);
        }
        let mut cb = t.join().unwrap();
        eng.drain_capture(&mut got);
        let over = eng.counters.capture_overruns.load(Ordering::Relaxed) as usize;
        assert_eq!(got.len() + over, 10_000);
        assert!(got.windows(2).all(|w| w[1] > w[0]), "order kept");

        assert_eq!(eng.push_playout(&[7; 2000]), 1024, "bounded");
        let mut out = [1i16; 1500];
        cb.on_output(&mut out);
        assert!(out[..1024].iter().all(|&s| s == 7));
        assert!(out[1024..].iter().all(|&s| s == 0));
        assert_eq!(eng.counters.playout_underruns.load(Ordering::Relaxed), 476);
    }
}

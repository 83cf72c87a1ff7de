//! Adaptive jitter buffer. Frames are keyed by extended sequence number
//! (so reordering and duplicates sort themselves out); playout takes one
//! frame per packet time. The target delay follows the measured
//! inter-arrival jitter (RFC 3550 §6.4.1): about three jitter deviations
//! plus one packet, between 20 and 300 ms.
//!
//! ```text
//!            target reached                 empty for 3 frames
//!  [Priming] ──────────────> [Playing] ─────────────────────────┐
//!      ^                      │  next missing, later present:   │
//!      │                      │  Lost (conceal, FEC from next)  │
//!      └──────────────────────┴─────────────────────────────────┘
//!  Playing and buffered > target + 2 frames: drop the oldest (drift,
//!  bursts). Late frames (before the playout point) are dropped.
//! ```

use std::collections::BTreeMap;

/// Frames kept at most: 300 ms target plus a burst, bounded against
/// floods.
const MAX_FRAMES: usize = 64;
/// Consecutive underruns before re-priming.
const MAX_UNDERRUN: u32 = 3;

/// What playout gets for the next frame slot.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Playout {
    /// Still buffering, or re-priming after an underrun: play silence.
    Silence,
    /// The frame's payload (and its payload type).
    Frame { pt: u8, payload: Vec<u8> },
    /// The frame is missing: conceal, with the next frame if present.
    Lost { next: Option<(u8, Vec<u8>)> },
}

pub(crate) struct JitterBuffer {
    frames: BTreeMap<u64, (u8, Vec<u8>)>,
    /// Next extended sequence number to play, once playing.
    next: Option<u64>,
    ptime_ms: u32,
    target_ms: u32,
    underruns: u32,
    /// Frames dropped to catch up.
    pub(crate) dropped: u64,
    /// Frames concealed.
    pub(crate) concealed: u64,
}

impl JitterBuffer {
    pub(crate) fn new(ptime_ms: u32) -> JitterBuffer {
        JitterBuffer {
            frames: BTreeMap::new(),
            next: None,
            ptime_ms: ptime_ms.max(10),
            target_ms: 40,
            underruns: 0,
            dropped: 0,
            concealed: 0,
        }
    }

    pub(crate) fn set_ptime(&mut self, ptime_ms: u32) {
        self.ptime_ms = ptime_ms.max(10);
    }

    /// Adapts the target to the measured jitter (ms).
    pub(crate) fn set_jitter(&mut self, jitter_ms: f64) {
        let t = 3.0 * jitter_ms + f64::from(self.ptime_ms);
        self.target_ms = (t as u32).clamp(20, 300).max(self.ptime_ms);
    }

    pub(crate) fn target_ms(&self) -> u32 {
        self.target_ms
    }

    /// Buffered audio, ms.
    pub(crate) fn buffered_ms(&self) -> u32 {
        self.frames.len() as u32 * self.ptime_ms
    }

    pub(crate) fn insert(&mut self, ext_seq: u64, pt: u8, payload: &[u8]) {
        if self.next.is_some_and(|n| ext_seq < n) {
            return; // too late
        }
        if self.frames.len() >= MAX_FRAMES && !self.frames.contains_key(&ext_seq) {
            self.frames.pop_first();
            self.dropped += 1;
        }
        self.frames
            .entry(ext_seq)
            .or_insert_with(|| (pt, payload.to_vec()));
    }

    pub(crate) fn pop(&mut self) -> Playout {
        let Some(next) = self.next else {
            if self.buffered_ms() >= self.target_ms {
                self.next = self.frames.keys().next().copied();
                self.underruns = 0;
                return self.pop();
            }
            return Playout::Silence;
        };
        // Too much buffered (sender clock faster, or a burst): skip ahead.
        while self.buffered_ms() > self.target_ms + 2 * self.ptime_ms {
            if let Some((k, _)) = self.frames.pop_first() {
                self.next = Some(k + 1);
                self.dropped += 1;
            }
        }
        let next = self.next.unwrap_or(next);
        self.next = Some(next + 1);
        if let Some((pt, payload)) = self.frames.remove(&next) {
            self.underruns = 0;
            return Playout::Frame { pt, payload };
        }
        if self.frames.is_empty() {
            self.underruns += 1;
            if self.underruns > MAX_UNDERRUN {
                // Talk spurt over or link dead: buffer up again.
                self.next = None;
                return Playout::Silence;
            }
        }
        self.concealed += 1;
        Playout::Lost {
            next: self.frames.get(&(next + 1)).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Playout {
        Playout::Frame {
            pt: 0,
            payload: vec![n],
        }
    }

    #[test]
    fn reorders_drops_duplicates_and_conceals() {
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(10.0);
        assert_eq!(jb.target_ms(), 50);
        for s in [2u64, 1, 1, 4, 5] {
            jb.insert(s, 0, &[s as u8]);
        }
        assert_eq!(jb.pop(), frame(1));
        assert_eq!(jb.pop(), frame(2));
        assert_eq!(
            jb.pop(),
            Playout::Lost {
                next: Some((0, vec![4]))
            }
        );
        jb.insert(3, 0, &[3]); // late: already concealed
        assert_eq!(jb.pop(), frame(4));
        assert_eq!(jb.pop(), frame(5));
        assert_eq!(jb.concealed, 1);
    }

    #[test]
    fn target_follows_jitter_and_bursts_are_trimmed() {
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(30.0);
        assert_eq!(jb.target_ms(), 110);
        jb.insert(0, 0, &[0]);
        assert_eq!(jb.pop(), Playout::Silence, "priming");
        for s in 1..20 {
            jb.insert(s, 0, &[s as u8]);
        }
        // 20 frames = 400 ms buffered: playout skips to target + 2 frames.
        let Playout::Frame { payload, .. } = jb.pop() else {
            panic!("expected a frame");
        };
        assert!(payload[0] >= 12, "skipped to {}", payload[0]);
        assert!(jb.buffered_ms() <= jb.target_ms() + 40);
        jb.set_jitter(500.0);
        assert_eq!(jb.target_ms(), 300);
    }

    #[test]
    fn underrun_reprimes_and_floods_are_bounded() {
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(0.0);
        jb.insert(0, 0, &[0]);
        assert_eq!(jb.pop(), frame(0));
        for _ in 0..MAX_UNDERRUN {
            assert_eq!(jb.pop(), Playout::Lost { next: None });
        }
        assert_eq!(jb.pop(), Playout::Silence);
        for s in 0..10_000u64 {
            jb.insert(s * 7, 0, &[0; 100]);
        }
        assert!(jb.frames.len() <= MAX_FRAMES);
    }
}

//! Adaptive jitter buffer. Frames are keyed by extended sequence number
//! (so reordering and duplicates sort themselves out); playout takes one
//! frame per packet time. The target delay follows the measured
//! inter-arrival jitter (RFC 3550 §6.4.1): about three jitter deviations
//! plus one packet, between 20 and 300 ms.
//!
//! ```text
//!   target reached, oldest frame waited a frame + margin  empty for 3 frames
//!  [Priming] ──────────────> [Playing] ─────────────────────────┐
//!      ^                      │  empty: conceal and hold (the    │
//!      │                      │   frame may only be late)        │
//!      │                      │  next missing, later present:    │
//!      │                      │   Lost (conceal, FEC from next)  │
//!      └──────────────────────┴──────────────────────────────────┘
//!  Playing and buffered > target + 2 frames: drop the oldest (bursts).
//!  Late frames (before the playout point) are dropped.
//! ```
//!
//! Holding on an empty buffer matters when the sender's and the
//! receiver's 20 ms ticks run nearly in phase: frames then arrive just
//! before or just after their playout slot, and declaring each late one
//! lost would conceal a frame that arrives a millisecond later (and
//! throw it away). Held, the late frame plays in the next slot and the
//! buffer is one frame deeper from then on.
//!
//! Clock drift between the two ends is handled finer than by whole
//! frames: each played frame's waiting time is tracked (arrival to the
//! pop, plus the decoded audio still queued ahead of it in the session),
//! and [`JitterBuffer::stretch`] asks the session to play decoded frames
//! a few samples longer when the smallest wait of the last second is
//! below one frame plus the margin (the buffer is draining), or shorter
//! when it is more than a frame above that (filling). A frame is popped
//! on a 20 ms tick, so only a wait of a whole frame above the margin
//! guarantees that every pop finds its frame whatever the queued part.

use std::collections::BTreeMap;
use std::time::Instant;

/// Frames kept at most: 300 ms target plus a burst, bounded against
/// floods.
const MAX_FRAMES: usize = 64;
/// Consecutive underruns before re-priming.
const MAX_UNDERRUN: u32 = 3;
/// Pops per waiting-time window (one second of 20 ms frames).
const WAIT_WINDOW: u32 = 50;
/// Safety on top of three jitter deviations, ms.
const WAIT_SAFETY_MS: f64 = 2.0;

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
    frames: BTreeMap<u64, (u8, Vec<u8>, Instant)>,
    /// Next extended sequence number to play, once playing.
    next: Option<u64>,
    ptime_ms: u32,
    target_ms: u32,
    jitter_ms: f64,
    underruns: u32,
    /// The last pop concealed `next` without moving on (buffer empty).
    held: bool,
    /// Smallest wait (ms) in the current window, and pops in it.
    wait_min: f64,
    wait_pops: u32,
    /// Smallest wait of the last complete window.
    last_wait_min: Option<f64>,
    /// Frames dropped to catch up.
    pub(crate) dropped: u64,
    /// Frames concealed.
    pub(crate) concealed: u64,
    /// Frames that arrived after their slot was concealed and still
    /// played (held).
    pub(crate) late: u64,
}

impl JitterBuffer {
    pub(crate) fn new(ptime_ms: u32) -> JitterBuffer {
        JitterBuffer {
            frames: BTreeMap::new(),
            next: None,
            ptime_ms: ptime_ms.max(10),
            target_ms: 40,
            jitter_ms: 0.0,
            underruns: 0,
            held: false,
            wait_min: f64::MAX,
            wait_pops: 0,
            last_wait_min: None,
            dropped: 0,
            concealed: 0,
            late: 0,
        }
    }

    pub(crate) fn set_ptime(&mut self, ptime_ms: u32) {
        self.ptime_ms = ptime_ms.max(10);
    }

    /// Adapts the target to the measured jitter (ms).
    pub(crate) fn set_jitter(&mut self, jitter_ms: f64) {
        self.jitter_ms = jitter_ms;
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

    pub(crate) fn insert(&mut self, ext_seq: u64, pt: u8, payload: &[u8], now: Instant) {
        if self.next.is_some_and(|n| ext_seq < n) {
            return; // too late
        }
        if self.held && self.next == Some(ext_seq) {
            self.late += 1;
        }
        if self.frames.len() >= MAX_FRAMES && !self.frames.contains_key(&ext_seq) {
            self.frames.pop_first();
            self.dropped += 1;
        }
        self.frames
            .entry(ext_seq)
            .or_insert_with(|| (pt, payload.to_vec(), now));
    }

    /// Smallest arrival-to-playout wait aimed for, ms.
    fn wait_floor_ms(&self) -> f64 {
        3.0 * self.jitter_ms + WAIT_SAFETY_MS + f64::from(self.ptime_ms)
    }

    fn note_wait(&mut self, ms: f64) {
        self.wait_min = self.wait_min.min(ms);
        self.wait_pops += 1;
        if self.wait_pops >= WAIT_WINDOW {
            self.last_wait_min = Some(self.wait_min);
            self.wait_min = f64::MAX;
            self.wait_pops = 0;
        }
    }

    /// Samples to add to (positive) or take from (negative) the next
    /// decoded frame of `samples`, to follow the sender's clock without
    /// concealing or dropping frames. Draining is corrected harder
    /// (0.2 %, 0.4 % when close to empty: two or four samples in a 48 kHz
    /// frame) than filling (0.1 %, 0.2 % when far above), as an underrun
    /// costs a concealed frame and a surplus only some delay.
    pub(crate) fn stretch(&self, samples: usize) -> i32 {
        let Some(w) = self.last_wait_min else {
            return 0;
        };
        if self.next.is_none() || samples < 2 {
            return 0;
        }
        let unit = (samples / 960).max(1) as i32;
        let low = self.wait_floor_ms();
        let half = f64::from(self.ptime_ms) / 2.0;
        let high = low + f64::from(self.ptime_ms);
        if w < low - half {
            4 * unit
        } else if w < low {
            2 * unit
        } else if w > high + half {
            -2 * unit
        } else if w > high {
            -unit
        } else {
            0
        }
    }

    /// The next frame for playout at `now`, behind `queued_ms` of
    /// decoded audio still to play.
    pub(crate) fn pop(&mut self, now: Instant, queued_ms: f64) -> Playout {
        let Some(next) = self.next else {
            // Start once the oldest frame has waited the floor: later
            // frames then arrive a frame plus the margin before their
            // slot, whatever the phase between the two ends' ticks.
            let waited = self.frames.values().next().map_or(0.0, |(_, _, t)| {
                now.saturating_duration_since(*t).as_secs_f64() * 1000.0 + queued_ms
            });
            if self.buffered_ms() >= self.target_ms && waited >= self.wait_floor_ms() {
                self.next = self.frames.keys().next().copied();
                self.underruns = 0;
                self.held = false;
                self.last_wait_min = None;
                self.wait_min = f64::MAX;
                self.wait_pops = 0;
                return self.pop(now, queued_ms);
            }
            return Playout::Silence;
        };
        // Too much buffered (a burst, or the sender's clock faster than
        // stretching follows): skip ahead.
        while self.buffered_ms() > self.target_ms + 2 * self.ptime_ms {
            if let Some((k, _)) = self.frames.pop_first() {
                self.next = Some(k + 1);
                self.dropped += 1;
            }
        }
        let mut next = self.next.unwrap_or(next);
        if self.held && !self.frames.contains_key(&next) && !self.frames.is_empty() {
            // The held frame's slot was concealed already and later
            // frames are here: it is lost, not late. Go on with the
            // next one present rather than conceal it twice.
            if let Some(&k) = self.frames.keys().next() {
                if k == next + 1 {
                    next = k;
                }
            }
        }
        self.held = false;
        if let Some((pt, payload, arrived)) = self.frames.remove(&next) {
            self.next = Some(next + 1);
            self.underruns = 0;
            self.note_wait(
                now.saturating_duration_since(arrived).as_secs_f64() * 1000.0 + queued_ms,
            );
            return Playout::Frame { pt, payload };
        }
        if self.frames.is_empty() {
            self.underruns += 1;
            if self.underruns > MAX_UNDERRUN {
                // Talk spurt over or link dead: buffer up again.
                self.next = None;
                return Playout::Silence;
            }
            self.concealed += 1;
            // Nothing after it either: it may only be late. Conceal this
            // slot and keep waiting for it.
            self.held = true;
            self.note_wait(0.0);
            return Playout::Lost { next: None };
        }
        self.concealed += 1;
        self.next = Some(next + 1);
        Playout::Lost {
            next: self
                .frames
                .get(&(next + 1))
                .map(|(pt, p, _)| (*pt, p.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frame(n: u8) -> Playout {
        Playout::Frame {
            pt: 0,
            payload: vec![n],
        }
    }

    #[test]
    fn reorders_drops_duplicates_and_conceals() {
        let t = Instant::now();
        let later = t + Duration::from_millis(500);
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(10.0);
        assert_eq!(jb.target_ms(), 50);
        for s in [2u64, 1, 1, 4, 5] {
            jb.insert(s, 0, &[s as u8], t);
        }
        assert_eq!(jb.pop(later, 0.0), frame(1));
        assert_eq!(jb.pop(later, 0.0), frame(2));
        assert_eq!(
            jb.pop(later, 0.0),
            Playout::Lost {
                next: Some((0, vec![4]))
            }
        );
        jb.insert(3, 0, &[3], t); // late: already concealed
        assert_eq!(jb.pop(later, 0.0), frame(4));
        assert_eq!(jb.pop(later, 0.0), frame(5));
        assert_eq!(jb.concealed, 1);
    }

    #[test]
    fn target_follows_jitter_and_bursts_are_trimmed() {
        let t = Instant::now();
        let later = t + Duration::from_millis(500);
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(30.0);
        assert_eq!(jb.target_ms(), 110);
        jb.insert(0, 0, &[0], t);
        assert_eq!(jb.pop(later, 0.0), Playout::Silence, "priming");
        for s in 1..20 {
            jb.insert(s, 0, &[s as u8], t);
        }
        // 20 frames = 400 ms buffered: playout skips to target + 2 frames.
        let Playout::Frame { payload, .. } = jb.pop(later, 0.0) else {
            panic!("expected a frame");
        };
        assert!(payload[0] >= 12, "skipped to {}", payload[0]);
        assert!(jb.buffered_ms() <= jb.target_ms() + 40);
        jb.set_jitter(500.0);
        assert_eq!(jb.target_ms(), 300);
    }

    #[test]
    fn underrun_reprimes_and_floods_are_bounded() {
        let t = Instant::now();
        let later = t + Duration::from_millis(500);
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(0.0);
        jb.insert(0, 0, &[0], t);
        assert_eq!(jb.pop(later, 0.0), frame(0));
        for _ in 0..MAX_UNDERRUN {
            assert_eq!(jb.pop(later, 0.0), Playout::Lost { next: None });
        }
        assert_eq!(jb.pop(later, 0.0), Playout::Silence);
        for s in 0..10_000u64 {
            jb.insert(s * 7, 0, &[0; 100], t);
        }
        assert!(jb.frames.len() <= MAX_FRAMES);
    }

    #[test]
    fn a_frame_late_for_its_slot_is_held_and_played_not_dropped() {
        let t = Instant::now();
        let later = t + Duration::from_millis(500);
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(0.0);
        jb.insert(0, 0, &[0], t);
        assert_eq!(jb.pop(later, 0.0), frame(0));
        // Frame 1 misses its slot by a hair: concealed, but still played.
        assert_eq!(jb.pop(later, 0.0), Playout::Lost { next: None });
        jb.insert(1, 0, &[1], t);
        jb.insert(2, 0, &[2], t);
        assert_eq!(jb.pop(later, 0.0), frame(1));
        assert_eq!(jb.pop(later, 0.0), frame(2));
        assert_eq!((jb.concealed, jb.late, jb.dropped), (1, 1, 0));
    }

    #[test]
    fn a_lost_frame_after_a_hold_is_concealed_once() {
        let t = Instant::now();
        let later = t + Duration::from_millis(500);
        let mut jb = JitterBuffer::new(20);
        jb.set_jitter(0.0);
        jb.insert(0, 0, &[0], t);
        assert_eq!(jb.pop(later, 0.0), frame(0));
        assert_eq!(jb.pop(later, 0.0), Playout::Lost { next: None });
        // 1 never comes; 2 does: play it, no second concealment.
        jb.insert(2, 0, &[2], t);
        assert_eq!(jb.pop(later, 0.0), frame(2));
        jb.insert(3, 0, &[3], t);
        assert_eq!(jb.pop(later, 0.0), frame(3));
        assert_eq!((jb.concealed, jb.late), (1, 0));
    }

    #[test]
    fn stretch_follows_the_waiting_time() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        for (wait, want) in [(5u64, 4), (15, 2), (30, 0), (45, -1), (60, -2)] {
            let mut jb = JitterBuffer::new(20);
            jb.set_jitter(0.0); // floor 22 ms, band 22..42 ms
            assert_eq!(jb.stretch(960), 0, "no window yet");
            jb.insert(0, 0, &[0], ms(0));
            assert!(matches!(jb.pop(ms(100), 0.0), Playout::Frame { .. }));
            for s in 1..u64::from(WAIT_WINDOW) {
                jb.insert(s, 0, &[0], ms(20 * s));
                jb.pop(ms(20 * s + wait), 0.0);
            }
            assert_eq!(jb.stretch(960), want, "wait {wait} ms");
        }
    }
}

//! Local conferences: two (or more) calls mixed on this machine, each
//! remote party hearing the local microphone plus every other remote
//! party (mix-minus), the local speaker playing every remote party.
//!
//! Every call's media runs on a thread of its own with its own 20 ms
//! clock, so one call (the host) owns the microphone and speaker and does
//! the mixing; every other call (a leg) swaps 20 ms frames with the host
//! through a pair of lock-free rings ([`link`]):
//!
//! ```text
//!   host thread (call A, owns mic m and speaker)         leg thread (call B)
//!   session A ──a──┐                                     session B ──b──> up ring ──┐
//!   up ring ───b───┼─> Mixer ──> speaker = a + b                                     │
//!   mic ───────m───┘        ├──> session A = m + b       session B <── down ring <──┤
//!                           └──> down ring = m + a ──────────────────────────────────┘
//! ```
//! Sums are taken in `i32` and clipped once at the end, so two loud
//! parties saturate instead of wrapping around, and mix-minus is exact
//! (`S - own`, not a re-sum). Either side drops its end to leave; the
//! other sees the ring abandoned and carries on alone.

use rtrb::{Consumer, Producer, RingBuffer};

use crate::device::FRAME;

/// Frames a link queues before handing any out: absorbs the two threads'
/// clocks ticking at slightly different moments.
const PRIME_FRAMES: usize = 2;
/// Queue beyond which a link drops old audio to keep latency bounded.
const MAX_QUEUE_FRAMES: usize = 5;
/// Ring size: room for the queue cap plus a burst of late ticks.
const RING_FRAMES: usize = 8;

/// Clips an `i32` mix to a sample.
fn clip(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// One frame's mix: add every remote party's frame, then read the
/// speaker's mix and each party's mix-minus. Allocation-free after
/// [`Mixer::new`].
pub struct Mixer {
    remotes: Vec<i32>,
}

impl Default for Mixer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mixer {
    /// A mixer for [`FRAME`]-sample frames.
    pub fn new() -> Mixer {
        Mixer {
            remotes: vec![0; FRAME],
        }
    }

    /// Starts a frame.
    pub fn begin(&mut self) {
        self.remotes.fill(0);
    }

    /// Adds what one remote party said this frame.
    pub fn add_remote(&mut self, frame: &[i16]) {
        for (acc, &s) in self.remotes.iter_mut().zip(frame) {
            *acc += i32::from(s);
        }
    }

    /// The speaker's mix: every remote party.
    pub fn speaker(&self, out: &mut [i16]) {
        for (o, &acc) in out.iter_mut().zip(&self.remotes) {
            *o = clip(acc);
        }
    }

    /// What the party that said `own` hears: the local `mic` plus every
    /// other remote party.
    pub fn mix_minus(&self, mic: &[i16], own: &[i16], out: &mut [i16]) {
        for (((o, &acc), &m), &s) in out.iter_mut().zip(&self.remotes).zip(mic).zip(own) {
            *o = clip(acc + i32::from(m) - i32::from(s));
        }
    }

    /// Everything: the local `mic` plus every remote party (a recording).
    pub fn all(&self, mic: &[i16], out: &mut [i16]) {
        for ((o, &acc), &m) in out.iter_mut().zip(&self.remotes).zip(mic) {
            *o = clip(acc + i32::from(m));
        }
    }
}

/// The host's end of a link to one leg.
pub struct HostLink {
    /// What the leg's peer said.
    up: Consumer<i16>,
    /// What the leg's peer should hear.
    down: Producer<i16>,
    frame: Vec<i16>,
    primed: bool,
}

/// A leg's end of its link to the host.
pub struct LegLink {
    up: Producer<i16>,
    down: Consumer<i16>,
    frame: Vec<i16>,
    primed: bool,
}

impl std::fmt::Debug for HostLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostLink")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl std::fmt::Debug for LegLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegLink")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A new link: the host's end goes to the mixing call's media, the leg's
/// to the joining call's.
pub fn link() -> (HostLink, LegLink) {
    let (up_tx, up_rx) = RingBuffer::new(RING_FRAMES * FRAME);
    let (down_tx, down_rx) = RingBuffer::new(RING_FRAMES * FRAME);
    (
        HostLink {
            up: up_rx,
            down: down_tx,
            frame: vec![0; FRAME],
            primed: false,
        },
        LegLink {
            up: up_tx,
            down: down_rx,
            frame: vec![0; FRAME],
            primed: false,
        },
    )
}

/// Queues a frame; what does not fit is dropped (the other side is
/// stalled or gone).
fn push(ring: &mut Producer<i16>, frame: &[i16]) {
    let n = frame.len().min(ring.slots());
    if let Ok(mut chunk) = ring.write_chunk(n) {
        let (a, b) = chunk.as_mut_slices();
        let split = a.len();
        a.copy_from_slice(&frame[..split]);
        b.copy_from_slice(&frame[split..n]);
        chunk.commit_all();
    }
}

/// Takes the next frame into `out`: silence until [`PRIME_FRAMES`] are
/// queued (and again after running dry), old audio dropped beyond
/// [`MAX_QUEUE_FRAMES`].
fn pop(ring: &mut Consumer<i16>, out: &mut [i16], primed: &mut bool) {
    let queued = ring.slots();
    if !*primed {
        if queued < PRIME_FRAMES * out.len() {
            out.fill(0);
            return;
        }
        *primed = true;
    }
    if queued < out.len() {
        *primed = false;
        out.fill(0);
        return;
    }
    if queued > MAX_QUEUE_FRAMES * out.len() {
        let excess = queued - PRIME_FRAMES * out.len();
        if let Ok(chunk) = ring.read_chunk(excess) {
            chunk.commit_all();
        }
    }
    if let Ok(chunk) = ring.read_chunk(out.len()) {
        let (a, b) = chunk.as_slices();
        out[..a.len()].copy_from_slice(a);
        out[a.len()..].copy_from_slice(b);
        chunk.commit_all();
    }
}

impl HostLink {
    /// Takes this frame of what the leg's peer said; see [`HostLink::frame`].
    pub fn receive(&mut self) {
        pop(&mut self.up, &mut self.frame, &mut self.primed);
    }

    /// The frame last received.
    pub fn frame(&self) -> &[i16] {
        &self.frame
    }

    /// Hands the leg what its peer should hear.
    pub fn send(&mut self, frame: &[i16]) {
        push(&mut self.down, frame);
    }

    /// The leg left (its call ended or was split off).
    pub fn is_closed(&self) -> bool {
        self.up.is_abandoned()
    }
}

impl LegLink {
    /// Hands the host what this leg's peer said.
    pub fn send(&mut self, frame: &[i16]) {
        push(&mut self.up, frame);
    }

    /// Takes this frame of what this leg's peer should hear (the host's
    /// mix-minus); see [`LegLink::frame`].
    pub fn receive(&mut self) {
        pop(&mut self.down, &mut self.frame, &mut self.primed);
    }

    /// The frame last received.
    pub fn frame(&self) -> &[i16] {
        &self.frame
    }

    /// The host left (its call ended or the conference was split).
    pub fn is_closed(&self) -> bool {
        self.down.is_abandoned()
    }
}

/// A call's part in a conference, handed to its media.
#[derive(Debug)]
pub enum Role {
    /// Mix: this call's media owns the microphone and speaker and mixes
    /// in the leg at the other end of this link (one per leg).
    Host(HostLink),
    /// Be mixed: swap audio with the host over this link.
    Leg(LegLink),
}

#[cfg(test)]
mod tests;

//! Call-progress and feedback tones as pure sample generators: ringback
//! and busy (ITU-T E.180 425 Hz cadences, or the North American
//! precise tones), call waiting, the local ringtone for incoming calls,
//! and DTMF key feedback. Each is a list of segments (on with one or two
//! frequencies, or off) played once or repeated; edges are ramped so the
//! cadence does not click.

use std::f32::consts::PI;

/// Peak level of each tone component (about -12 dBFS for a pair).
const AMPLITUDE: f32 = 0.125 * 32767.0;
/// Edge ramp, ms.
const RAMP_MS: u32 = 5;

/// Whose call-progress tones to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToneRegion {
    /// ITU-T E.180 / ETSI: 425 Hz.
    #[default]
    Europe,
    /// North American precise tone plan: 440+480 Hz ringback, 480+620 Hz busy.
    NorthAmerica,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    ms: u32,
    /// Frequencies in Hz; 0 is none. Both 0 is silence.
    freqs: [f32; 2],
}

const fn on(ms: u32, f1: f32, f2: f32) -> Segment {
    Segment {
        ms,
        freqs: [f1, f2],
    }
}

const fn off(ms: u32) -> Segment {
    Segment {
        ms,
        freqs: [0.0, 0.0],
    }
}

const EU_RINGBACK: &[Segment] = &[on(1000, 425.0, 0.0), off(4000)];
const EU_BUSY: &[Segment] = &[on(500, 425.0, 0.0), off(500)];
const EU_WAITING: &[Segment] = &[
    on(200, 425.0, 0.0),
    off(200),
    on(200, 425.0, 0.0),
    off(9000),
];
const US_RINGBACK: &[Segment] = &[on(2000, 440.0, 480.0), off(4000)];
const US_BUSY: &[Segment] = &[on(500, 480.0, 620.0), off(500)];
const US_WAITING: &[Segment] = &[on(300, 440.0, 0.0), off(9700)];
/// A two-burst chime (D5 + A5, then E5 + B5), distinct from any network
/// tone so an incoming call is never mistaken for ringback.
const RINGTONE: &[Segment] = &[
    on(400, 587.33, 880.0),
    off(100),
    on(400, 659.26, 987.77),
    off(2100),
];

/// The "play test sound" of the sound settings: three rising notes (C5,
/// E5, G5), once.
const TEST_SOUND: &[Segment] = &[
    on(250, 523.25, 0.0),
    off(50),
    on(250, 659.25, 0.0),
    off(50),
    on(500, 783.99, 0.0),
];

/// DTMF row and column frequencies (ITU-T Q.23) for a key.
pub fn dtmf_freqs(key: char) -> Option<(f32, f32)> {
    const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [[char; 4]; 4] = [
        ['1', '2', '3', 'A'],
        ['4', '5', '6', 'B'],
        ['7', '8', '9', 'C'],
        ['*', '0', '#', 'D'],
    ];
    let key = key.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&k| k == key)
            .map(|c| (ROWS[r], COLS[c]))
    })
}

/// One tone, produced a buffer at a time.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    rate: u32,
    segments: Vec<Segment>,
    repeat: bool,
    seg: usize,
    /// Sample index within the current segment.
    pos: u32,
    /// Samples since the generator started, for oscillator phase.
    n: u64,
}

impl ToneGenerator {
    fn new(rate: u32, segments: &[Segment], repeat: bool) -> ToneGenerator {
        ToneGenerator {
            rate: rate.max(1),
            segments: segments.to_vec(),
            repeat,
            seg: 0,
            pos: 0,
            n: 0,
        }
    }

    /// Ringback: the callee is being alerted (played locally when the
    /// network sends no early media).
    pub fn ringback(region: ToneRegion, rate: u32) -> ToneGenerator {
        let s = match region {
            ToneRegion::Europe => EU_RINGBACK,
            ToneRegion::NorthAmerica => US_RINGBACK,
        };
        Self::new(rate, s, true)
    }

    /// Busy: the callee refused or is busy.
    pub fn busy(region: ToneRegion, rate: u32) -> ToneGenerator {
        let s = match region {
            ToneRegion::Europe => EU_BUSY,
            ToneRegion::NorthAmerica => US_BUSY,
        };
        Self::new(rate, s, true)
    }

    /// Call waiting: a second call arrives during a call.
    pub fn call_waiting(region: ToneRegion, rate: u32) -> ToneGenerator {
        let s = match region {
            ToneRegion::Europe => EU_WAITING,
            ToneRegion::NorthAmerica => US_WAITING,
        };
        Self::new(rate, s, true)
    }

    /// The local ringtone for an incoming call.
    pub fn ringtone(rate: u32) -> ToneGenerator {
        Self::new(rate, RINGTONE, true)
    }

    /// The settings' test sound: about a second, once.
    pub fn test_sound(rate: u32) -> ToneGenerator {
        Self::new(rate, TEST_SOUND, false)
    }

    /// Key-press feedback: `ms` of the key's DTMF pair, once. `None` for a
    /// character that is not a DTMF key.
    pub fn dtmf(key: char, ms: u32, rate: u32) -> Option<ToneGenerator> {
        let (lo, hi) = dtmf_freqs(key)?;
        Some(Self::new(rate, &[on(ms, lo, hi)], false))
    }

    /// True once a one-shot tone has played out.
    pub fn finished(&self) -> bool {
        self.seg >= self.segments.len()
    }

    /// Fills `out`; after a one-shot tone ends the rest is silence.
    pub fn fill(&mut self, out: &mut [i16]) {
        let ramp = (self.rate * RAMP_MS / 1000).max(1);
        for slot in out.iter_mut() {
            let Some(seg) = self.segments.get(self.seg) else {
                *slot = 0;
                continue;
            };
            let len = (u64::from(seg.ms) * u64::from(self.rate) / 1000) as u32;
            let t = self.n as f64 / f64::from(self.rate);
            let mut v = 0.0f32;
            for f in seg.freqs {
                if f > 0.0 {
                    // Phase from the running sample count in f64, so long
                    // ringing keeps its pitch exact.
                    let phase = (t * f64::from(f)).fract() as f32;
                    v += (2.0 * PI * phase).sin();
                }
            }
            let edge = self.pos.min(len.saturating_sub(self.pos + 1));
            let gain = (edge as f32 / ramp as f32).min(1.0);
            *slot = (v * AMPLITUDE * gain) as i16;
            self.n += 1;
            self.pos += 1;
            if self.pos >= len {
                self.pos = 0;
                self.seg += 1;
                if self.seg == self.segments.len() && self.repeat {
                    self.seg = 0;
                }
            }
        }
    }
}

/// Power of `x` at `freq` (Goertzel), normalised by length; for tests and
/// for tone detection.
pub fn goertzel(x: &[i16], freq: f32, rate: u32) -> f32 {
    let w = 2.0 * PI * freq / rate as f32;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &v in x {
        let s0 = f32::from(v) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    p / (x.len().max(1) as f32).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn render(g: &mut ToneGenerator, ms: u32) -> Vec<i16> {
        let mut v = vec![0i16; (RATE * ms / 1000) as usize];
        g.fill(&mut v);
        v
    }

    /// On/off pattern in 50 ms steps.
    fn cadence(x: &[i16]) -> Vec<bool> {
        x.chunks(RATE as usize / 20)
            .map(|c| c.iter().map(|&s| i32::from(s).abs()).max().unwrap_or(0) > 1000)
            .collect()
    }

    fn dominant(x: &[i16], candidates: &[f32]) -> f32 {
        candidates
            .iter()
            .copied()
            .max_by(|a, b| goertzel(x, *a, RATE).total_cmp(&goertzel(x, *b, RATE)))
            .unwrap_or(0.0)
    }

    fn zero_crossing_freq(x: &[i16]) -> f32 {
        let rising = x.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        rising as f32 * RATE as f32 / x.len() as f32
    }

    #[test]
    fn european_ringback_is_425_hz_one_on_four_off() {
        let mut g = ToneGenerator::ringback(ToneRegion::Europe, RATE);
        let x = render(&mut g, 10_000);
        let f = zero_crossing_freq(&x[2400..45_600]);
        assert!((f - 425.0).abs() < 2.0, "{f} Hz");
        let c = cadence(&x);
        // 20 steps on, 80 off, twice.
        for (i, &on) in c.iter().enumerate() {
            let expect = (i % 100) < 20;
            assert_eq!(on, expect, "step {i}");
        }
    }

    #[test]
    fn north_american_tones_are_dual_frequency() {
        let mut rb = ToneGenerator::ringback(ToneRegion::NorthAmerica, RATE);
        let x = render(&mut rb, 1000);
        let p = |f| goertzel(&x, f, RATE);
        assert!(p(440.0) > 100.0 * p(425.0) && p(480.0) > 100.0 * p(620.0));
        let c = cadence(&render(&mut rb, 5000));
        // 1 s more of the 2 s burst, then 4 s off.
        assert!(c[..20].iter().all(|&on| on) && c[20..].iter().all(|&on| !on));

        let mut busy = ToneGenerator::busy(ToneRegion::NorthAmerica, RATE);
        let x = render(&mut busy, 400);
        assert!(goertzel(&x, 620.0, RATE) > 100.0 * goertzel(&x, 440.0, RATE));
        let c = cadence(&render(&mut busy, 1600));
        assert_eq!(c.iter().filter(|&&on| on).count(), 12, "{c:?}");
    }

    #[test]
    fn busy_and_waiting_cadences() {
        let mut b = ToneGenerator::busy(ToneRegion::Europe, RATE);
        let c = cadence(&render(&mut b, 2000));
        assert_eq!(c.iter().filter(|&&on| on).count(), 20);
        assert!(c[..10].iter().all(|&on| on) && c[10..20].iter().all(|&on| !on));

        let mut w = ToneGenerator::call_waiting(ToneRegion::Europe, RATE);
        let c = cadence(&render(&mut w, 9600));
        let bursts = c.windows(2).filter(|p| !p[0] && p[1]).count() + usize::from(c[0]);
        assert_eq!(bursts, 2, "two short beeps then a long pause");
        assert_eq!(c.iter().filter(|&&on| on).count(), 8);
    }

    #[test]
    fn ringtone_repeats_and_is_not_a_network_tone() {
        let mut g = ToneGenerator::ringtone(RATE);
        let x = render(&mut g, 6000);
        let first = &x[..RATE as usize * 3];
        assert_eq!(
            cadence(first),
            cadence(&x[RATE as usize * 3..]),
            "3 s cadence"
        );
        assert_eq!(cadence(first).iter().filter(|&&on| on).count(), 16);
        assert!(goertzel(first, 425.0, RATE) < 1e-4);
        assert!(goertzel(&x[2400..16_800], 880.0, RATE) > 1e-3);
        assert!(!g.finished(), "a ringtone rings until stopped");
    }

    #[test]
    fn dtmf_feedback_for_every_key() {
        let rows = [697.0, 770.0, 852.0, 941.0];
        let cols = [1209.0, 1336.0, 1477.0, 1633.0];
        for key in "0123456789*#ABCD".chars() {
            let mut g = ToneGenerator::dtmf(key, 100, RATE).unwrap();
            let x = render(&mut g, 150);
            assert!(g.finished());
            let body = &x[480..4320];
            let (r, c) = dtmf_freqs(key).unwrap();
            assert_eq!(dominant(body, &rows), r, "{key}");
            assert_eq!(dominant(body, &cols), c, "{key}");
            assert!(x[4800..].iter().all(|&s| s == 0), "{key}: silence after");
        }
        assert!(ToneGenerator::dtmf('x', 100, RATE).is_none());
    }

    #[test]
    fn the_test_sound_is_three_rising_notes_once() {
        let mut g = ToneGenerator::test_sound(RATE);
        let x = render(&mut g, 1500);
        assert!(g.finished(), "one-shot");
        let ms = |a: u32, b: u32| &x[(a * RATE / 1000) as usize..(b * RATE / 1000) as usize];
        let notes = [523.25, 659.25, 783.99];
        assert_eq!(dominant(ms(20, 230), &notes), 523.25);
        assert_eq!(dominant(ms(320, 530), &notes), 659.25);
        assert_eq!(dominant(ms(620, 1080), &notes), 783.99);
        assert!(ms(1100, 1500).iter().all(|&s| s == 0), "silence after");
    }

    #[test]
    fn edges_are_ramped_and_levels_bounded() {
        let mut g = ToneGenerator::busy(ToneRegion::Europe, RATE);
        let x = render(&mut g, 3000);
        let max_step = x
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap();
        // A 425 Hz sine at this level moves at most ~230 per sample; a hard
        // edge would jump by thousands.
        assert!(max_step < 300, "{max_step}");
        assert!(x.iter().all(|&s| i32::from(s).abs() <= 8192));
        assert_eq!(x[0], 0);
    }
}

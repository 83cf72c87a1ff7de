//! Integer-ratio resampling between the session's 48 kHz and a codec's
//! 8/16/48 kHz: a windowed-sinc low-pass FIR, decimating or interpolating
//! by the ratio. State carries across calls so frames join seamlessly.

const TAPS_PER_PHASE: usize = 16;

/// Partial sums in a dot product (a multiple of the taps keeps the tail
/// empty: every window is `TAPS_PER_PHASE` or a multiple of it).
const LANES: usize = 8;

/// Resamples by an integer factor, up or down.
///
/// The history is a ring stored twice over (`hist[pos..pos + len]` is
/// always the window, oldest first), so a sample costs one store instead
/// of shifting the whole window; interpolation runs polyphase, skipping
/// the zeros it would otherwise stuff between input samples. Both matter:
/// every call resamples each frame, and the microphone chain does it
/// three times (48 -> 16 -> 48 kHz plus the far end).
pub(crate) struct Resampler {
    up: bool,
    factor: usize,
    /// Down: the `n`-tap low-pass, oldest tap first. Up: `factor` phases
    /// of `TAPS_PER_PHASE` taps each, phase `k` at `k * TAPS_PER_PHASE`.
    taps: Vec<f32>,
    /// Ring of input samples, stored twice; `len` of them are the window.
    hist: Vec<f32>,
    len: usize,
    pos: usize,
    /// Input samples seen, mod `factor` (decimation phase).
    phase: usize,
}

impl Resampler {
    /// From `from` Hz to `to` Hz; one must divide the other.
    pub(crate) fn new(from: u32, to: u32) -> Resampler {
        let (up, factor) = if to >= from {
            (true, (to / from.max(1)).max(1) as usize)
        } else {
            (false, (from / to.max(1)).max(1) as usize)
        };
        let n = TAPS_PER_PHASE * factor;
        // Cut-off a little under the lower Nyquist; Blackman window.
        let fc = 0.45 / factor as f32;
        let mid = (n - 1) as f32 / 2.0;
        let mut taps: Vec<f32> = (0..n)
            .map(|i| {
                let x = i as f32 - mid;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f32::consts::PI * fc * x).sin() / (std::f32::consts::PI * x)
                };
                let w = 0.42 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32).cos()
                    + 0.08 * (4.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32).cos();
                sinc * w
            })
            .collect();
        let sum: f32 = taps.iter().sum();
        // Unity gain at DC; interpolation also makes up for the zeros.
        let gain = if up { factor as f32 } else { 1.0 };
        taps.iter_mut().for_each(|t| *t *= gain / sum);
        let len = if up { TAPS_PER_PHASE } else { n };
        if up {
            // Zero-stuffed, output k after input x_t sees x_{t-j} at tap
            // n-1-k-j*factor; phase k lists those taps oldest input first.
            let full = taps;
            taps = (0..factor)
                .flat_map(|k| {
                    let full = &full;
                    (0..TAPS_PER_PHASE)
                        .map(move |m| full[n - 1 - k - (TAPS_PER_PHASE - 1 - m) * factor])
                })
                .collect();
        }
        Resampler {
            up,
            factor,
            taps,
            hist: vec![0.0; 2 * len],
            len,
            pos: 0,
            phase: 0,
        }
    }

    fn push(&mut self, x: f32) {
        self.hist[self.pos] = x;
        self.hist[self.pos + self.len] = x;
        self.pos += 1;
        if self.pos == self.len {
            self.pos = 0;
        }
    }

    fn dot(&self, taps: &[f32]) -> i16 {
        let window = &self.hist[self.pos..self.pos + self.len];
        dot(window, taps).clamp(-32768.0, 32767.0) as i16
    }

    /// Appends the resampled `input` to `out`.
    pub(crate) fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.factor == 1 {
            out.extend_from_slice(input);
            return;
        }
        for &s in input {
            self.push(f32::from(s));
            if self.up {
                for k in 0..self.factor {
                    let t = &self.taps[k * TAPS_PER_PHASE..(k + 1) * TAPS_PER_PHASE];
                    out.push(self.dot(t));
                }
            } else {
                self.phase += 1;
                if self.phase == self.factor {
                    self.phase = 0;
                    out.push(self.dot(&self.taps));
                }
            }
        }
    }
}

/// `sum(a[i] * b[i])` over the shorter length. Every output sample of
/// every resampler is one of these (the microphone chain runs three), so
/// it is written for the SIMD unit: LANES independent partial sums over
/// fixed-size chunks (`as_chunks` puts the length in the type, so the
/// loop carries no bounds checks). The iterator form
/// (`chunks_exact().zip()`) stayed scalar and left `Zip::new` as an
/// out-of-line call per sample, 10 % of a processed call's CPU in perf.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, a_tail) = a[..n].as_chunks::<LANES>();
    let (b, b_tail) = b[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for i in 0..a.len().min(b.len()) {
        let (x, y) = (&a[i], &b[i]);
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut sum = 0.0;
    for s in acc {
        sum += s;
    }
    for (x, y) in a_tail.iter().zip(b_tail) {
        sum += x * y;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tests::snr_db;

    /// The textbook form: stuff zeros, run the whole FIR at the high
    /// rate, keep every `factor`-th output when decimating.
    fn direct(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
        let r = Resampler::new(from, to);
        let (up, factor) = (r.up, r.factor);
        // Rebuild the full low-pass the polyphase table came from.
        let n = TAPS_PER_PHASE * factor;
        let mut full = vec![0f32; n];
        if up {
            for k in 0..factor {
                for m in 0..TAPS_PER_PHASE {
                    full[n - 1 - k - (TAPS_PER_PHASE - 1 - m) * factor] =
                        r.taps[k * TAPS_PER_PHASE + m];
                }
            }
        } else {
            full.copy_from_slice(&r.taps);
        }
        let mut hist = vec![0f32; n];
        let mut out = Vec::new();
        let mut phase = 0;
        let step = |x: f32, hist: &mut Vec<f32>| {
            hist.remove(0);
            hist.push(x);
            let acc: f32 = hist.iter().zip(&full).map(|(h, t)| h * t).sum();
            acc.clamp(-32768.0, 32767.0) as i16
        };
        for &s in input {
            if up {
                for k in 0..factor {
                    out.push(step(if k == 0 { f32::from(s) } else { 0.0 }, &mut hist));
                }
            } else {
                let y = step(f32::from(s), &mut hist);
                phase += 1;
                if phase == factor {
                    phase = 0;
                    out.push(y);
                }
            }
        }
        out
    }

    /// The SIMD dot product agrees with a plain f64 sum, tails included.
    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..103)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.7)
            .collect();
        let b: Vec<f32> = (0..103)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.013)
            .collect();
        for n in [0, 1, 7, 8, 9, 16, 48, 96, 103] {
            let want: f64 = a[..n]
                .iter()
                .zip(&b[..n])
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            let got = f64::from(dot(&a[..n], &b[..n]));
            assert!(
                (got - want).abs() < 1e-3 * want.abs().max(1.0),
                "n={n}: {got} vs {want}"
            );
        }
        // Unequal lengths: the shorter one counts.
        assert_eq!(dot(&a[..8], &b[..16]), dot(&a[..8], &b[..8]));
    }

    #[test]
    fn ring_and_polyphase_match_the_direct_form() {
        let mut seed = 7u32;
        let input: Vec<i16> = (0..4_800)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as i16
            })
            .collect();
        for (from, to) in [
            (48_000, 8_000),
            (48_000, 16_000),
            (8_000, 48_000),
            (16_000, 48_000),
        ] {
            let mut r = Resampler::new(from, to);
            let mut out = Vec::new();
            // Odd chunk sizes: state must carry across calls.
            for chunk in input.chunks(333) {
                r.process(chunk, &mut out);
            }
            let want = direct(from, to, &input);
            assert_eq!(out.len(), want.len(), "{from}->{to}");
            let worst = out
                .iter()
                .zip(&want)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max();
            // Summation order differs: at most a rounding step apart.
            assert!(worst <= Some(1), "{from}->{to}: off by {worst:?}");
        }
    }

    #[test]
    fn down_then_up_keeps_a_tone() {
        let input: Vec<i16> = (0..48_000)
            .map(|n| ((n as f32) * 2.0 * std::f32::consts::PI * 500.0 / 48_000.0).sin() * 10_000.0)
            .map(|v| v as i16)
            .collect();
        for rate in [8_000, 16_000] {
            let mut down = Resampler::new(48_000, rate);
            let mut up = Resampler::new(rate, 48_000);
            let (mut mid, mut out) = (Vec::new(), Vec::new());
            for chunk in input.chunks(960) {
                mid.clear();
                down.process(chunk, &mut mid);
                up.process(&mid, &mut out);
            }
            assert_eq!(out.len(), input.len());
            let snr = snr_db(&input, &out, 400, 2000);
            assert!(snr > 30.0, "{rate}: {snr:.1} dB");
        }
    }
}

//! Integer-ratio resampling between the session's 48 kHz and a codec's
//! 8/16/48 kHz: a windowed-sinc low-pass FIR, decimating or interpolating
//! by the ratio. State carries across calls so frames join seamlessly.

const TAPS_PER_PHASE: usize = 16;

/// Resamples by an integer factor, up or down.
pub(crate) struct Resampler {
    up: bool,
    factor: usize,
    taps: Vec<f32>,
    hist: Vec<f32>,
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
        Resampler {
            up,
            factor,
            hist: vec![0.0; n],
            taps,
            phase: 0,
        }
    }

    fn push(&mut self, x: f32) {
        self.hist.copy_within(1.., 0);
        if let Some(last) = self.hist.last_mut() {
            *last = x;
        }
    }

    fn filter(&self) -> i16 {
        let acc: f32 = self.hist.iter().zip(&self.taps).map(|(h, t)| h * t).sum();
        acc.clamp(-32768.0, 32767.0) as i16
    }

    /// Appends the resampled `input` to `out`.
    pub(crate) fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.factor == 1 {
            out.extend_from_slice(input);
            return;
        }
        for &s in input {
            if self.up {
                for k in 0..self.factor {
                    self.push(if k == 0 { f32::from(s) } else { 0.0 });
                    out.push(self.filter());
                }
            } else {
                self.push(f32::from(s));
                self.phase += 1;
                if self.phase == self.factor {
                    self.phase = 0;
                    out.push(self.filter());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tests::snr_db;

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

//! Waveform-substitution loss concealment in the style of G.711
//! Appendix I: repeat the last pitch period of the decoded signal, fade
//! out after 10 ms of loss (silent after 60 ms), and cross-fade into the
//! first good frame after the gap. Used for G.711 and G.722, whose
//! decoders have no concealment of their own.
//!
//! ```text
//!   good frame ──> [Playing] ──lost──> [Concealing] ──lost──> (fade, 20%/10 ms)
//!        ^                                  │ good frame
//!        └──────── cross-fade (≤10 ms) <────┘
//! ```

/// History kept for pitch search: 48.75 ms, as in Appendix I.
const HIST_MS: f32 = 48.75;

pub(crate) struct Plc {
    rate: usize,
    hist: Vec<i16>,
    /// Repeated pitch period (set when a loss starts).
    period: Vec<f32>,
    pos: usize,
    /// Samples concealed in the current loss run.
    lost: usize,
}

impl Plc {
    pub(crate) fn new(rate: u32) -> Plc {
        let rate = rate as usize;
        Plc {
            rate,
            hist: vec![0; (HIST_MS * rate as f32 / 1000.0) as usize],
            period: Vec::new(),
            pos: 0,
            lost: 0,
        }
    }

    fn ms(&self, ms: usize) -> usize {
        self.rate * ms / 1000
    }

    /// Records a good frame (already decoded, `frame` is mutable so the
    /// start can be cross-faded with the concealment it follows).
    pub(crate) fn good(&mut self, frame: &mut [i16]) {
        if self.lost > 0 && !self.period.is_empty() {
            // Longer losses get a longer blend, 4 ms + 4 ms per 10 ms lost.
            let blend = (self.ms(4) + self.ms(4) * self.lost / self.ms(10).max(1))
                .min(self.ms(10))
                .min(frame.len());
            for (i, s) in frame.iter_mut().take(blend).enumerate() {
                let synth = self.next_synth();
                let w = (i + 1) as f32 / (blend + 1) as f32;
                *s = mix(synth, f32::from(*s), w);
            }
        }
        self.lost = 0;
        self.push_hist(frame);
    }

    /// Fills `out` with concealment for lost samples.
    pub(crate) fn conceal(&mut self, out: &mut [i16]) {
        if self.lost == 0 {
            self.start_loss();
        }
        for s in out.iter_mut() {
            let v = self.next_synth();
            *s = v.clamp(-32768.0, 32767.0) as i16;
        }
        self.push_hist(out);
    }

    fn next_synth(&mut self) -> f32 {
        if self.period.is_empty() {
            return 0.0;
        }
        let v = self.period[self.pos % self.period.len()];
        self.pos = (self.pos + 1) % self.period.len();
        // Attenuation: full for 10 ms, then -20% per 10 ms, zero at 60 ms.
        let ten = self.ms(10).max(1);
        let g = if self.lost < ten {
            1.0
        } else {
            (1.0 - 0.2 * (self.lost - ten) as f32 / ten as f32).max(0.0)
        };
        self.lost += 1;
        v * g
    }

    fn start_loss(&mut self) {
        let pitch = self.find_pitch();
        let h = self.hist.len();
        let q = pitch / 4;
        let mut p: Vec<f32> = self.hist[h - pitch..]
            .iter()
            .map(|&s| f32::from(s))
            .collect();
        // Smooth the loop point: the end of the period blends into the
        // samples that really preceded its start.
        for k in 0..q {
            let w = (k + 1) as f32 / (q + 1) as f32;
            let before = f32::from(self.hist[h - pitch - q + k]);
            p[pitch - q + k] = p[pitch - q + k] * (1.0 - w) + before * w;
        }
        self.period = p;
        self.pos = 0;
    }

    /// Pitch period by normalised cross-correlation of the last 20 ms
    /// against lags of 5-15 ms (Appendix I's 40-120 samples at 8 kHz).
    fn find_pitch(&self) -> usize {
        let h = self.hist.len();
        let win = self.ms(20);
        let (min_lag, max_lag) = (self.ms(5), self.ms(15));
        let x = |i: usize| f64::from(self.hist[i]);
        let mut best = (max_lag, f64::MIN);
        for lag in min_lag..=max_lag {
            let (mut c, mut e) = (0.0, 1.0);
            for i in h - win..h {
                c += x(i) * x(i - lag);
                e += x(i - lag) * x(i - lag);
            }
            let score = c / e.sqrt();
            if score > best.1 {
                best = (lag, score);
            }
        }
        best.0
    }

    fn push_hist(&mut self, frame: &[i16]) {
        let h = self.hist.len();
        if frame.len() >= h {
            self.hist.copy_from_slice(&frame[frame.len() - h..]);
        } else {
            self.hist.copy_within(frame.len().., 0);
            self.hist[h - frame.len()..].copy_from_slice(frame);
        }
    }
}

fn mix(synth: f32, real: f32, w: f32) -> i16 {
    (synth * (1.0 - w) + real * w).clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conceals_a_periodic_signal_then_fades() {
        let mut plc = Plc::new(8000);
        // 200 Hz: a 40-sample period.
        let sig = |n: usize| ((n as f32) * 2.0 * std::f32::consts::PI / 40.0).sin() * 8000.0;
        let mut n = 0;
        for _ in 0..10 {
            let mut f: Vec<i16> = (0..160)
                .map(|_| {
                    n += 1;
                    sig(n - 1) as i16
                })
                .collect();
            plc.good(&mut f);
        }
        let mut lost = vec![0i16; 80];
        plc.conceal(&mut lost);
        // The first 10 ms continue the waveform closely.
        let err: f32 = lost
            .iter()
            .enumerate()
            .map(|(i, &s)| (f32::from(s) - sig(n + i)).abs())
            .sum::<f32>()
            / 80.0;
        assert!(err < 800.0, "mean error {err}");
        // 60 ms later it is silent.
        let mut more = vec![0i16; 480];
        plc.conceal(&mut more);
        assert!(more[400..].iter().all(|&s| s == 0));
    }
}

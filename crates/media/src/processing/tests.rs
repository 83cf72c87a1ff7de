use super::*;

const RATE: f32 = 48_000.0;
const FRAME: usize = 960;

/// Deterministic white noise in [-1, 1).
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Speech-like: voiced harmonics on a wandering pitch, syllables of
/// ~200 ms at 4 per second, with a 1 s pause every 3 s. Returns the
/// signal and a per-sample "talking" mask.
fn speech(seconds: f32, amp: f32, seed: u64) -> (Vec<f32>, Vec<bool>) {
    let n = (seconds * RATE) as usize;
    let mut noise = Noise(seed);
    let mut phase = 0.0f32;
    let mut out = Vec::with_capacity(n);
    let mut talking = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f32 / RATE;
        let f0 = 140.0 + 40.0 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
        phase = (phase + f0 / RATE).fract();
        let mut v = 0.0;
        for h in 1..=12 {
            // Formant-ish tilt: harmonics fall at 6 dB/octave.
            v += (2.0 * std::f32::consts::PI * phase * h as f32).sin() / h as f32;
        }
        v += 0.1 * noise.next();
        let in_pause = t % 3.0 >= 2.0;
        let syllable = (std::f32::consts::PI * (t * 4.0).fract()).sin().powi(2);
        let env = if in_pause { 0.0 } else { syllable };
        talking.push(!in_pause && syllable > 0.3);
        out.push(amp * 0.5 * v * env);
    }
    (out, talking)
}

fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|&v| (v * 32768.0).clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn energy(x: &[i16], mask: impl Fn(usize) -> bool) -> f64 {
    let mut e = 0.0;
    let mut n = 0usize;
    for (i, &s) in x.iter().enumerate() {
        if mask(i) {
            e += f64::from(s) * f64::from(s);
            n += 1;
        }
    }
    e / n.max(1) as f64
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.max(1e-20).log10()
}

fn run(p: &mut AudioProcessor, far: &[i16], near: &[i16]) -> Vec<i16> {
    let mut out = Vec::with_capacity(near.len());
    for (f, n) in far.chunks(FRAME).zip(near.chunks(FRAME)) {
        p.render(f).unwrap();
        let mut frame = n.to_vec();
        p.capture(&mut frame).unwrap();
        out.extend_from_slice(&frame);
    }
    out
}

#[test]
fn echo_cancellation_removes_a_delayed_attenuated_far_end() {
    let secs = 12.0;
    let (far, _) = speech(secs, 0.5, 1);
    // Echo path: 60 ms delay, -10 dB, a little smearing.
    let delay = (0.06 * RATE) as usize;
    let mut echo = vec![0.0f32; far.len()];
    for i in delay + 1..far.len() {
        echo[i] = 0.25 * far[i - delay] + 0.07 * far[i - delay - 1];
    }
    let far16 = to_i16(&far);
    let near16 = to_i16(&echo);
    let mut p = AudioProcessor::new(ProcessingConfig {
        echo_cancellation: true,
        noise_suppression: false,
        auto_gain: false,
    })
    .unwrap();
    let out = run(&mut p, &far16, &near16);
    // Converged part: the last 6 s.
    let from = near16.len() / 2;
    let erle = db(energy(&near16[from..], |_| true) / energy(&out[from..], |_| true));
    eprintln!("ERLE {erle:.1} dB");
    assert!(erle > 20.0, "ERLE {erle:.1} dB");

    // The same with the canceller off leaves the echo.
    let mut off = AudioProcessor::new(ProcessingConfig::off()).unwrap();
    let out = run(&mut off, &far16, &near16);
    assert_eq!(out, near16, "everything off is a pass-through");
}

#[test]
fn near_end_speech_survives_double_talk() {
    let secs = 12.0;
    let (far, _) = speech(secs, 0.5, 2);
    let (talker, talking) = speech(secs, 0.3, 3);
    let delay = (0.04 * RATE) as usize;
    // Shift the near talker by half a period of the pattern so both
    // talk at once only part of the time.
    let shift = (1.5 * RATE) as usize;
    let mut near = vec![0.0f32; far.len()];
    for i in 0..far.len() {
        let e = if i >= delay {
            0.3 * far[i - delay]
        } else {
            0.0
        };
        let t = if i >= shift { talker[i - shift] } else { 0.0 };
        near[i] = e + t;
    }
    let mut p = AudioProcessor::new(ProcessingConfig {
        echo_cancellation: true,
        noise_suppression: false,
        auto_gain: false,
    })
    .unwrap();
    let out = run(&mut p, &to_i16(&far), &to_i16(&near));
    let clean = to_i16(&talker);
    // Where the near talker speaks in the last 6 s, most of its energy
    // must remain.
    let from = out.len() / 2;
    let mask = |i: usize| i >= from && i >= shift && talking[i - shift];
    let kept = energy(&out, mask);
    let sent = energy(
        &[vec![0i16; shift], clean[..clean.len() - shift].to_vec()].concat(),
        mask,
    );
    let loss = db(sent / kept);
    eprintln!("near-end loss during talk {loss:.1} dB");
    assert!(loss < 6.0, "near end attenuated by {loss:.1} dB");
}

#[test]
fn noise_suppression_improves_snr() {
    let secs = 9.0;
    let (clean, talking) = speech(secs, 0.3, 4);
    let mut noise = Noise(99);
    let noisy: Vec<f32> = clean.iter().map(|&c| c + 0.02 * noise.next()).collect();
    let noisy16 = to_i16(&noisy);
    let mut p = AudioProcessor::new(ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: true,
        auto_gain: false,
    })
    .unwrap();
    let silence = vec![0i16; noisy16.len()];
    let out = run(&mut p, &silence, &noisy16);
    // Speech-to-noise: talking samples against pause samples, after the
    // first 3 s of adaptation.
    let from = (3.0 * RATE) as usize;
    let snr = |x: &[i16]| {
        let s = energy(x, |i| i >= from && talking[i]);
        let pause = energy(x, |i| i >= from && (i as f32 / RATE) % 3.0 >= 2.1);
        db(s / pause)
    };
    let (before, after) = (snr(&noisy16), snr(&out));
    eprintln!("SNR {before:.1} dB -> {after:.1} dB");
    assert!(after - before > 8.0, "{before:.1} -> {after:.1} dB");
}

#[test]
fn agc_raises_a_quiet_talker_and_can_be_switched_off() {
    let (quiet, talking) = speech(10.0, 0.01, 5);
    let q16 = to_i16(&quiet);
    let silence = vec![0i16; q16.len()];
    let mut p = AudioProcessor::new(ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: false,
        auto_gain: true,
    })
    .unwrap();
    let out = run(&mut p, &silence, &q16);
    let from = q16.len() / 2;
    let mask = |i: usize| i >= from && talking[i];
    let gain = db(energy(&out, mask) / energy(&q16, mask));
    eprintln!("AGC gain {gain:.1} dB");
    assert!(gain > 6.0, "gain {gain:.1} dB");

    p.set_config(ProcessingConfig::off()).unwrap();
    let mut frame = q16[from..from + FRAME].to_vec();
    p.capture(&mut frame).unwrap();
    assert_eq!(frame, &q16[from..from + FRAME]);
    assert!(matches!(
        p.capture(&mut [0i16; 100]),
        Err(ProcessingError::FrameSize(100))
    ));
}

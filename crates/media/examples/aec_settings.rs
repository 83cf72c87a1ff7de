//! Echo cancellation against cost, per AEC3 delay-estimator setting: runs
//! the aec3 chain at Parley's 16 kHz on a speech-like far end echoed
//! through a room-like path (a delay, then a decaying reverberant tail,
//! -10 dB) at several delays, and prints the echo return loss
//! enhancement (ERLE, dB, after 4 s to converge) and CPU seconds per
//! minute of audio for each setting.
//!
//! ```sh
//! cargo run --release -p media --example aec_settings
//! ```

mod common;
use common::cpu_seconds;

use aec3::api::config::EchoCanceller3Config;
use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear;

const RATE: usize = 16_000;
const BLOCK: usize = RATE / 100;
const SECONDS: usize = 20;

/// A named change to AEC3's defaults.
type Setting = (&'static str, fn(&mut EchoCanceller3Config));

/// Deterministic noise in [-1, 1).
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

/// Voiced harmonics on a wandering pitch in syllables, with pauses.
fn speech(seconds: usize, seed: u64) -> Vec<f32> {
    let mut noise = Noise(seed);
    let mut phase = 0.0f32;
    (0..seconds * RATE)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let f0 = 150.0 + 50.0 * (2.0 * std::f32::consts::PI * 0.6 * t).sin();
            phase = (phase + f0 / RATE as f32).fract();
            let mut v = 0.0;
            for h in 1..=20 {
                v += (2.0 * std::f32::consts::PI * phase * h as f32).sin() / h as f32;
            }
            v += 0.15 * noise.next();
            let env = if t % 3.0 >= 2.2 {
                0.0
            } else {
                (std::f32::consts::PI * (t * 3.5).fract()).sin().powi(2)
            };
            0.25 * v * env
        })
        .collect()
}

/// Room-like echo path: `delay_ms`, then 60 ms of exponentially
/// decaying noise taps (RT60 about 150 ms), scaled to about -10 dB.
fn room(delay_ms: usize, seed: u64) -> Vec<f32> {
    let d = delay_ms * RATE / 1000;
    let tail = 60 * RATE / 1000;
    let mut noise = Noise(seed);
    let mut h = vec![0f32; d + tail];
    for (k, t) in h[d..].iter_mut().enumerate() {
        let decay = (-6.9 * k as f32 / (0.15 * RATE as f32)).exp();
        *t = noise.next() * decay;
    }
    h[d] = 1.0;
    let e: f32 = h.iter().map(|x| x * x).sum();
    let g = 0.316 / e.sqrt();
    h.iter_mut().for_each(|x| *x *= g);
    h
}

fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    let nz: Vec<(usize, f32)> = h
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| (i, *v))
        .collect();
    (0..x.len())
        .map(|n| {
            nz.iter()
                .filter(|(k, _)| *k <= n)
                .map(|(k, v)| v * x[n - k])
                .sum()
        })
        .collect()
}

fn main() {
    let far = speech(SECONDS, 3);
    let mut hiss = Noise(99);
    let settings: [Setting; 4] = [
        ("default", |_| {}),
        ("pre-echo off", |c| c.delay.detect_pre_echo = false),
        ("ds 8", |c| c.delay.down_sampling_factor = 8),
        ("both", |c| {
            c.delay.detect_pre_echo = false;
            c.delay.down_sampling_factor = 8;
        }),
    ];
    let delays = [10, 60, 150, 300];
    let echoes: Vec<Vec<f32>> = delays
        .iter()
        .map(|&d| {
            convolve(&far, &room(d, d as u64))
                .into_iter()
                .map(|e| e + 0.0005 * hiss.next())
                .collect()
        })
        .collect();
    print!("{:<14}", "setting");
    for d in delays {
        print!("  ERLE {d:>3} ms");
    }
    println!("  CPU s/min");
    for (name, apply) in settings {
        print!("{name:<14}");
        let mut cpu = 0.0;
        for near in &echoes {
            let mut cfg = EchoCanceller3Config::default();
            cfg.transparent_mode.use_hmm = true;
            apply(&mut cfg);
            let format = AudioFormat::ten_ms(RATE as u32, 1);
            let mut pipe = linear::builder(format, format)
                .aec3_config(cfg)
                .build()
                .expect("pipeline");
            let mut out = vec![0f32; BLOCK];
            let (mut e_in, mut e_out) = (0f64, 0f64);
            let t0 = cpu_seconds();
            for (i, (f, n)) in far
                .chunks_exact(BLOCK)
                .zip(near.chunks_exact(BLOCK))
                .enumerate()
            {
                pipe.handle_render_frame(f).expect("render");
                if !pipe.process_capture_frame(n, &mut out).expect("capture") {
                    out.copy_from_slice(n);
                }
                if i * BLOCK >= 4 * RATE {
                    e_in += n.iter().map(|x| f64::from(x * x)).sum::<f64>();
                    e_out += out.iter().map(|x| f64::from(x * x)).sum::<f64>();
                }
            }
            cpu += cpu_seconds() - t0;
            print!("  {:>12.1}", 10.0 * (e_in / e_out.max(1e-20)).log10());
        }
        println!("  {:>9.2}", cpu / (delays.len() * SECONDS) as f64 * 60.0);
    }
}

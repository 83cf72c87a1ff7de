//! CPU cost of the microphone processing chain (echo cancellation, noise
//! suppression, gain), per minute of call audio: Parley's chain, which runs
//! the DSP at 16 kHz, next to the same aec3 pipeline run at 48 kHz.
//!
//! ```sh
//! cargo run --release -p media --example processing_cost
//! ```
//! CPU time is the process's utime+stime from /proc (Linux), so other load
//! on the machine does not inflate it.

mod common;
use common::cpu_seconds;

use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear;
use media::processing::{AudioProcessor, ProcessingConfig};

/// Seconds of audio processed per measurement.
const SECONDS: usize = 60;

/// A speech-like near-end and a different far-end, 10 ms at `rate`.
fn signal(rate: usize, block: usize, i: usize, out: &mut [f32], far: bool) {
    let f0 = if far { 180.0 } else { 120.0 };
    for (k, d) in out.iter_mut().enumerate() {
        let t = (i * block + k) as f32 / rate as f32;
        let env = (std::f32::consts::PI * (t * 3.0).fract()).sin().powi(2);
        let mut v = 0.0;
        for h in 1..=10 {
            v += (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32;
        }
        *d = 0.2 * env * v;
    }
}

fn main() {
    // One second of each signal, made before timing starts, looped.
    let make = |far: bool| {
        let mut x = vec![0f32; 48_000];
        for (i, b) in x.chunks_exact_mut(480).enumerate() {
            signal(48_000, 480, i, b, far);
        }
        x
    };
    let (near_s, far_s) = (make(false), make(true));
    let to_i16 = |x: &[f32]| -> Vec<i16> { x.iter().map(|s| (s * 32767.0) as i16).collect() };
    let (near_i, far_i) = (to_i16(&near_s), to_i16(&far_s));

    // The aec3 pipeline at 48 kHz, all stages, as Parley ran it before.
    let format = AudioFormat::ten_ms(48_000, 1);
    let mut pipe = linear::builder(format, format)
        .build()
        .expect("aec3 pipeline");
    let mut out = vec![0f32; 480];
    let t0 = cpu_seconds();
    for _ in 0..SECONDS {
        for (n, f) in near_s.chunks_exact(480).zip(far_s.chunks_exact(480)) {
            pipe.handle_render_frame(f).expect("render");
            pipe.process_capture_frame(n, &mut out).expect("capture");
        }
    }
    let at48 = cpu_seconds() - t0;

    // Parley's chain: 48 kHz in and out, the DSP at 16 kHz, per stage set.
    let run = |config: ProcessingConfig| -> f64 {
        let mut p = AudioProcessor::new(config).expect("processor");
        let mut frame = vec![0i16; 960];
        let t0 = cpu_seconds();
        for _ in 0..SECONDS {
            for (n, f) in near_i.chunks_exact(960).zip(far_i.chunks_exact(960)) {
                frame.copy_from_slice(n);
                p.render(f).expect("render");
                p.capture(&mut frame).expect("capture");
            }
        }
        (cpu_seconds() - t0) * 60.0 / SECONDS as f64
    };
    let cfg = |aec, ns, agc| ProcessingConfig {
        echo_cancellation: aec,
        noise_suppression: ns,
        auto_gain: agc,
    };
    let parley = run(ProcessingConfig::default());
    let aec_ns = run(cfg(true, true, false));
    let aec = run(cfg(true, false, false));
    let ns = run(cfg(false, true, false));

    println!("processing chain, CPU seconds per minute of call audio:");
    println!(
        "  aec3 pipeline at 48 kHz:  {:.2}",
        at48 * 60.0 / SECONDS as f64
    );
    println!(
        "  Parley (DSP at {} kHz):   {parley:.2}  (aec+ns {aec_ns:.2}, aec {aec:.2}, ns {ns:.2})",
        media::processing::PROCESSING_RATE / 1000,
    );
    println!(
        "  ratio:                    {:.2}",
        parley / (at48 * 60.0 / SECONDS as f64).max(1e-9)
    );
}

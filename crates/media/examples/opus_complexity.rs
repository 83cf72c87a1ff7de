//! Opus encoder cost against quality, per encoder complexity: encodes a
//! speech WAV (48 kHz mono) at 32 kbit/s in 20 ms frames with Parley's
//! settings, decodes it, writes `<out>/c<N>.wav` for scoring (the bench's
//! `score.py` gives PESQ), and prints CPU seconds per minute of audio.
//!
//! ```sh
//! cargo run --release -p media --example opus_complexity -- ref-48k.wav /tmp/oc
//! ```
//! CPU time is this thread's own (`CLOCK_THREAD_CPUTIME_ID` via /proc is
//! not needed: the loop is the only work), taken from /proc/self/stat.

mod common;
use common::cpu_seconds;

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: opus_complexity <speech-48k-mono.wav> <out-dir>");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).expect("out dir");
    let mut reader = hound::WavReader::open(&input).expect("a WAV file");
    let spec = reader.spec();
    assert!(
        spec.sample_rate == 48_000 && spec.channels == 1,
        "48 kHz mono expected"
    );
    let pcm: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap_or(0)).collect();
    let seconds = pcm.len() as f64 / 48_000.0;
    // Enough passes for the /proc clock's 10 ms ticks to resolve.
    let passes = (60.0 / seconds).ceil().max(1.0) as usize;
    println!("complexity  encode s/min  decode s/min  file");
    for complexity in [10, 9, 8, 7, 6, 5, 4, 3] {
        let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .expect("encoder");
        enc.set_inband_fec(true).expect("fec");
        enc.set_packet_loss_perc(0).expect("loss");
        enc.set_bitrate(opus::Bitrate::Bits(32_000))
            .expect("bitrate");
        enc.set_complexity(complexity).expect("complexity");
        let mut packets = Vec::new();
        let mut buf = vec![0u8; 1500];
        let t0 = cpu_seconds();
        for pass in 0..passes {
            for frame in pcm.chunks_exact(960) {
                let n = enc.encode(frame, &mut buf).expect("encode");
                if pass == 0 {
                    packets.push(buf[..n].to_vec());
                }
            }
        }
        let enc_s = (cpu_seconds() - t0) / (seconds * passes as f64) * 60.0;
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder");
        let mut decoded = Vec::with_capacity(pcm.len());
        let mut frame = vec![0i16; 960];
        let t0 = cpu_seconds();
        for pass in 0..passes {
            for p in &packets {
                let n = dec.decode(p, &mut frame, false).expect("decode");
                if pass == 0 {
                    decoded.extend_from_slice(&frame[..n]);
                }
            }
        }
        let dec_s = (cpu_seconds() - t0) / (seconds * passes as f64) * 60.0;
        let path = out.join(format!("c{complexity}.wav"));
        let mut w = hound::WavWriter::create(&path, spec).expect("write");
        for s in decoded {
            w.write_sample(s).expect("write");
        }
        w.finalize().expect("finalize");
        println!(
            "{complexity:>10}  {enc_s:>12.3}  {dec_s:>12.3}  {}",
            path.display()
        );
    }
}

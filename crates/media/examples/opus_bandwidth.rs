//! Opus encoder cost on processed speech, per encoder bandwidth: the
//! microphone chain (echo cancellation, noise suppression) runs at 16 kHz,
//! so what reaches the encoder carries nothing above 8 kHz. This encodes
//! such a signal (a speech WAV passed through `AudioProcessor`) at 32
//! kbit/s in 20 ms frames three ways and prints CPU seconds per minute of
//! audio for the encoder and for a 48 kHz decoder, and writes each decoded
//! file for scoring (the bench's `score.py` gives PESQ):
//!
//! - `fb`: a 48 kHz encoder left to pick its bandwidth (hybrid SILK+CELT);
//! - `wb`: the same encoder with its bandwidth capped at wideband;
//! - `wb16`: an encoder fed the 16 kHz signal directly (no 16->48 kHz
//!   step before it, no 48->16 kHz inside it);
//! - `wb-cN`: wideband at encoder complexity N (10 elsewhere);
//! - `silk`: Parley's own `OpusCodec` told its input holds nothing above
//!   8 kHz, i.e. libopus 1.6's SILK-only encoder
//!   (`OPUS_APPLICATION_RESTRICTED_SILK`: no CELT state, no tonality
//!   analysis), as calls with processing on use it.
//!
//! ```sh
//! cargo run --release -p media --example opus_bandwidth -- ref-48k.wav /tmp/ob
//! ```

mod common;
use common::cpu_seconds;

use std::path::PathBuf;

use media::codec::{Codec, OpusCodec};
use media::processing::{AudioProcessor, ProcessingConfig};

fn encoder(rate: u32, cap_wb: bool, complexity: i32) -> opus::Encoder {
    let mut enc =
        opus::Encoder::new(rate, opus::Channels::Mono, opus::Application::Voip).expect("encoder");
    enc.set_inband_fec(true).expect("fec");
    enc.set_packet_loss_perc(0).expect("loss");
    enc.set_bitrate(opus::Bitrate::Bits(32_000))
        .expect("bitrate");
    enc.set_complexity(complexity).expect("complexity");
    if cap_wb {
        enc.set_max_bandwidth(opus::Bandwidth::Wideband)
            .expect("bandwidth");
    }
    enc
}

enum Enc {
    Std(opus::Encoder),
    /// The codec and a packet buffer it reuses.
    Codec(OpusCodec, Vec<u8>),
}

impl Enc {
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        match self {
            Enc::Std(e) => e.encode(pcm, out).expect("encode"),
            Enc::Codec(c, packet) => {
                c.encode(pcm, packet).expect("encode");
                out[..packet.len()].copy_from_slice(packet);
                packet.len()
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: opus_bandwidth <speech-48k-mono.wav> <out-dir>");
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
    let mut pcm: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap_or(0)).collect();
    pcm.truncate(pcm.len() / 960 * 960);
    // What the chain hands the encoder: noise suppression alone (no far
    // end, so the echo canceller has nothing to remove).
    let mut proc = AudioProcessor::new(ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: true,
        auto_gain: false,
    })
    .expect("processor");
    for frame in pcm.chunks_exact_mut(960) {
        proc.capture(frame).expect("capture");
    }
    // The same signal at 16 kHz (it holds nothing above 8 kHz, so taking
    // every third sample after a plain 3-tap average is close enough for
    // a cost comparison; the files written are what counts for quality).
    let pcm16: Vec<i16> = pcm
        .chunks_exact(3)
        .map(|c| ((c[0] as i32 + c[1] as i32 + c[2] as i32) / 3) as i16)
        .collect();
    let seconds = pcm.len() as f64 / 48_000.0;
    let passes = (60.0 / seconds).ceil().max(1.0) as usize;
    println!("mode   encode s/min  decode s/min  bandwidth  file");
    let modes = [
        ("fb", 48_000u32, false, 10),
        ("wb", 48_000, true, 10),
        ("wb16", 16_000, false, 10),
        ("wb-c9", 48_000, true, 9),
        ("wb-c8", 48_000, true, 8),
        ("wb-c7", 48_000, true, 7),
        ("wb-c6", 48_000, true, 6),
        ("wb-c5", 48_000, true, 5),
        ("silk", 48_000, true, -1),
    ];
    for (name, rate, cap, complexity) in modes {
        let input = if rate == 16_000 { &pcm16 } else { &pcm };
        let frame_len = rate as usize / 50;
        let mut enc = if complexity < 0 {
            let mut c = OpusCodec::new().expect("codec");
            c.set_input_band(8_000);
            Enc::Codec(c, Vec::with_capacity(1500))
        } else {
            Enc::Std(encoder(rate, cap, complexity))
        };
        let mut packets = Vec::new();
        let mut buf = vec![0u8; 1500];
        let t0 = cpu_seconds();
        for pass in 0..passes {
            for frame in input.chunks_exact(frame_len) {
                let n = enc.encode(frame, &mut buf);
                if pass == 0 {
                    packets.push(buf[..n].to_vec());
                }
            }
        }
        let enc_s = (cpu_seconds() - t0) / (seconds * passes as f64) * 60.0;
        let bw = packets
            .get(packets.len() / 2)
            .and_then(|p| opus::packet::get_bandwidth(p).ok());
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
        let path = out.join(format!("{name}.wav"));
        let mut w = hound::WavWriter::create(&path, spec).expect("write");
        for s in decoded {
            w.write_sample(s).expect("write");
        }
        w.finalize().expect("finalize");
        println!(
            "{name:<5}  {enc_s:>12.3}  {dec_s:>12.3}  {:<9}  {}",
            format!("{bw:?}"),
            path.display()
        );
    }
    let path = out.join("processed.wav");
    let mut w = hound::WavWriter::create(&path, spec).expect("write");
    for s in &pcm {
        w.write_sample(*s).expect("write");
    }
    w.finalize().expect("finalize");
    println!("reference (processed input): {}", path.display());
}

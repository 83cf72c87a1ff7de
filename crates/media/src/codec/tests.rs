use super::*;

fn sine(rate: u32, len: usize, freqs: &[f32]) -> Vec<i16> {
    (0..len)
        .map(|n| {
            let t = n as f32 / rate as f32;
            let v: f32 = freqs
                .iter()
                .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                .sum();
            (v / freqs.len() as f32 * 12_000.0) as i16
        })
        .collect()
}

/// A voiced, speech-like signal at 48 kHz: 150 Hz with its harmonics.
pub(crate) fn voiced(samples: usize) -> Vec<i16> {
    (0..samples)
        .map(|n| {
            let t = n as f32 / 48_000.0;
            let v: f32 = (1..8)
                .map(|h| (2.0 * std::f32::consts::PI * 150.0 * h as f32 * t).sin() / h as f32)
                .sum();
            (v * 6000.0) as i16
        })
        .collect()
}

/// Best SNR (dB) of `out` against `reference` over delays up to `max_lag`,
/// ignoring the first `skip` samples (codec start-up).
pub(crate) fn snr_db(reference: &[i16], out: &[i16], max_lag: usize, skip: usize) -> f64 {
    let mut best = f64::MIN;
    for lag in 0..=max_lag {
        let (mut sig, mut noise) = (0.0f64, 0.0f64);
        for i in skip..reference.len().min(out.len().saturating_sub(lag)) {
            let r = f64::from(reference[i]);
            let e = f64::from(out[i + lag]) - r;
            sig += r * r;
            noise += e * e;
        }
        best = best.max(10.0 * (sig / noise.max(1.0)).log10());
    }
    best
}

fn round_trip(c: &mut dyn Codec, frame_ms: usize, freqs: &[f32]) -> (Vec<i16>, Vec<i16>) {
    let rate = c.sample_rate();
    let frame = rate as usize * frame_ms / 1000;
    let input = sine(rate, frame * 50, freqs);
    let mut out = Vec::new();
    let mut payload = Vec::new();
    for f in input.chunks(frame) {
        c.encode(f, &mut payload).unwrap();
        let n = c.decode(&payload, &mut out).unwrap();
        assert_eq!(n, frame);
    }
    (input, out)
}

#[test]
fn g711_round_trips() {
    for law in [Law::Mu, Law::A] {
        let mut c = G711Codec::new(law);
        let (i, o) = round_trip(&mut c, 20, &[440.0, 1000.0]);
        let snr = snr_db(&i, &o, 0, 0);
        assert!(snr > 30.0, "{law:?}: {snr:.1} dB");
    }
}

#[test]
fn g722_round_trips_with_wideband_content() {
    let mut c = G722Codec::new();
    // 6 kHz is beyond narrowband: it must survive through the high band.
    for freqs in [&[440.0, 1000.0][..], &[6000.0][..]] {
        let (i, o) = round_trip(&mut c, 20, freqs);
        let snr = snr_db(&i, &o, 64, 320);
        assert!(snr > 20.0, "{freqs:?}: {snr:.1} dB");
    }
    let mut payload = Vec::new();
    c.encode(&[0; 320], &mut payload).unwrap();
    assert_eq!(payload.len(), 160, "64 kbit/s: one byte per 8 kHz tick");
}

#[test]
fn opus_round_trips() {
    let mut c = OpusCodec::new().unwrap();
    let (i, o) = round_trip(&mut c, 20, &[440.0, 1000.0]);
    let snr = snr_db(&i, &o, 960, 4800);
    assert!(snr > 10.0, "{snr:.1} dB");
}

#[test]
fn opus_recovers_a_lost_frame_from_fec() {
    let mut c = OpusCodec::new().unwrap();
    c.set_packet_loss(20);
    let input = sine(48_000, 960 * 40, &[300.0, 700.0]);
    let mut packets = Vec::new();
    for f in input.chunks(960) {
        let mut p = Vec::new();
        c.encode(f, &mut p).unwrap();
        packets.push(p);
    }
    // Every 5th packet lost; conceal with and without the next packet.
    let decode = |fec: bool| {
        let mut d = OpusCodec::new().unwrap();
        let mut out = Vec::new();
        for (n, p) in packets.iter().enumerate() {
            if n % 5 == 4 {
                let next = packets.get(n + 1).map(Vec::as_slice).filter(|_| fec);
                assert_eq!(d.conceal(960, next, &mut out).unwrap(), 960);
            } else {
                d.decode(p, &mut out).unwrap();
            }
        }
        snr_db(&input, &out, 960, 4800)
    };
    let (with, without) = (decode(true), decode(false));
    assert!(with > 3.0, "FEC {with:.1} dB");
    assert!(with >= without, "FEC {with:.1} dB, PLC {without:.1} dB");
}

#[test]
fn g711_concealment_beats_silence() {
    let mut c = G711Codec::new(Law::Mu);
    let input = sine(8000, 160 * 30, &[200.0]);
    let mut out = Vec::new();
    let mut silence = Vec::new();
    let mut p = Vec::new();
    for (n, f) in input.chunks(160).enumerate() {
        c.encode(f, &mut p).unwrap();
        if n % 6 == 5 {
            c.conceal(160, None, &mut out).unwrap();
            silence.extend_from_slice(&[0; 160]);
        } else {
            let start = out.len();
            c.decode(&p, &mut out).unwrap();
            silence.extend_from_slice(&out[start..]);
        }
    }
    let plc = snr_db(&input, &out, 0, 0);
    let zero = snr_db(&input, &silence, 0, 0);
    assert!(plc > zero + 3.0, "PLC {plc:.1} dB vs silence {zero:.1} dB");
}

#[test]
fn new_codec_matches_negotiation() {
    use crate::sdp::OpusParams;
    for kind in [
        CodecKind::Opus,
        CodecKind::G722,
        CodecKind::Pcmu,
        CodecKind::Pcma,
    ] {
        let n = NegotiatedCodec {
            kind,
            payload_type: 0,
            clock_rate: kind.rtp_clock_rate(),
            channels: 1,
            fmtp: None,
            opus: OpusParams {
                max_average_bitrate: Some(12_000),
                ..OpusParams::default()
            },
        };
        let c = new_codec(&n, true).unwrap();
        assert_eq!(c.kind(), kind);
        assert_eq!(c.sample_rate(), kind.sample_rate());
    }
    let mut c = OpusCodec::new().unwrap();
    assert_eq!(c.decode(&[], &mut Vec::new()), Err(CodecError::Malformed));
    // A garbage TOC byte is a typed error, not a panic.
    assert!(c.decode(&[0xff, 0xff, 0xff], &mut Vec::new()).is_err());
}

//! G.711 μ-law (PCMU) and A-law (PCMA), ITU-T G.711 §2-3. Both compand a
//! 16-bit linear sample to 8 bits with segment (exponent) + mantissa; the
//! decoder returns the segment midpoint, so the round-trip error is at most
//! half a quantisation step of the sample's segment.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// Encodes one linear 16-bit sample as μ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    // Segment = position of the highest set bit above bit 7.
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decodes one μ-law byte.
pub fn ulaw_decode(byte: u8) -> i16 {
    let b = !byte;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if b & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// Encodes one linear 16-bit sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes.
    let s = i32::from(sample) >> 3;
    let (sign, magnitude) = if s >= 0 { (0x80, s) } else { (0x00, -s - 1) };
    let magnitude = magnitude.min(0x0FFF);
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        let exponent = (31 - (magnitude as u32).leading_zeros()) as i32 - 4;
        (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    };
    ((sign | code) ^ 0x55) as u8
}

/// Decodes one A-law byte.
pub fn alaw_decode(byte: u8) -> i16 {
    let b = i32::from(byte ^ 0x55);
    let exponent = (b >> 4) & 0x07;
    let mantissa = b & 0x0F;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if b & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// Encodes a frame of samples into `out` (cleared first).
pub fn encode_frame(law: Law, pcm: &[i16], out: &mut Vec<u8>) {
    out.clear();
    let f = match law {
        Law::Mu => ulaw_encode,
        Law::A => alaw_encode,
    };
    out.extend(pcm.iter().map(|&s| f(s)));
}

/// Decodes a frame of bytes into `out` (cleared first).
pub fn decode_frame(law: Law, bytes: &[u8], out: &mut Vec<i16>) {
    out.clear();
    let f = match law {
        Law::Mu => ulaw_decode,
        Law::A => alaw_decode,
    };
    out.extend(bytes.iter().map(|&b| f(b)));
}

/// Which G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// μ-law, RTP payload type 0 (PCMU).
    Mu,
    /// A-law, RTP payload type 8 (PCMA).
    A,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_points() {
        // Silence and full scale, from the G.711 tables.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
    }

    #[test]
    fn every_code_decodes_and_reencodes_to_itself() {
        for b in 0..=255u8 {
            let u = ulaw_encode(ulaw_decode(b));
            // 0x7F and 0xFF are both zero in μ-law (negative and positive).
            assert!(u == b || (b == 0x7F && u == 0xFF), "ulaw {b:#x} -> {u:#x}");
            assert_eq!(alaw_encode(alaw_decode(b)), b, "alaw {b:#x}");
        }
    }

    #[test]
    fn round_trip_error_is_within_half_a_step() {
        type Pair = (fn(i16) -> u8, fn(u8) -> i16);
        let laws: [(&str, Pair); 2] = [
            ("mu", (ulaw_encode, ulaw_decode)),
            ("a", (alaw_encode, alaw_decode)),
        ];
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            for (name, (enc, dec)) in laws {
                let back = dec(enc(s));
                let err = f64::from((i32::from(back) - i32::from(s)).abs());
                // Half a step of the segment: ~6.25% of the magnitude, and
                // a floor for the smallest segments.
                let allowed = (f64::from(s).abs() * 0.07).max(140.0);
                assert!(err <= allowed, "{name}-law {s} -> {back}");
            }
        }
    }

    #[test]
    fn frames() {
        let pcm = [0i16, 1000, -1000, 30000];
        let mut enc = Vec::new();
        let mut dec = Vec::new();
        encode_frame(Law::A, &pcm, &mut enc);
        decode_frame(Law::A, &enc, &mut dec);
        assert_eq!(enc.len(), 4);
        assert!(dec
            .iter()
            .zip(pcm)
            .all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() < 1100));
    }
}

//! Voice codecs behind one trait, so the session can swap them on a
//! re-INVITE: G.711 μ/A-law and G.722 (with waveform-substitution
//! concealment) and Opus (libopus: in-band FEC, PLC, DTX).
//!
//! Each codec works at its own [`Codec::sample_rate`], mono; the session
//! resamples to and from its fixed internal rate.

mod g722;
mod opus_dec;
mod opus_enc;
mod plc;

use crate::g711::{self, Law};
use crate::sdp::{CodecKind, NegotiatedCodec};
use opus_enc::{Application, OpusEncoder};
use plc::Plc;

/// Codec failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// libopus refused a call (its error code).
    #[error("opus: {0}")]
    Opus(i32),
    /// A payload is empty or otherwise undecodable.
    #[error("malformed payload")]
    Malformed,
}

/// A mono voice codec.
pub trait Codec: Send {
    /// Which codec.
    fn kind(&self) -> CodecKind;
    /// PCM rate of `encode` input and `decode` output, Hz.
    fn sample_rate(&self) -> u32;
    /// Encodes one frame (a whole number of ms at `sample_rate`) into
    /// `out`, which is cleared first.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Decodes one payload, appending samples to `out`; returns how many.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError>;
    /// Appends `samples` of concealment for a lost frame. `next` is the
    /// payload that follows the gap, if it has arrived already: Opus
    /// recovers the lost frame from its in-band FEC.
    fn conceal(
        &mut self,
        samples: usize,
        next: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError>;
    /// Tells the encoder the loss rate the peer reports (RTCP), 0-100.
    fn set_packet_loss(&mut self, _percent: u8) {}
    /// Tells the encoder the highest frequency the audio it is given
    /// carries (Hz), so it spends nothing on empty bands.
    fn set_input_band(&mut self, _top_hz: u32) {}
}

/// Builds the codec for a negotiated format.
pub fn new_codec(c: &NegotiatedCodec, dtx: bool) -> Result<Box<dyn Codec>, CodecError> {
    Ok(match c.kind {
        CodecKind::Pcmu => Box::new(G711Codec::new(Law::Mu)),
        CodecKind::Pcma => Box::new(G711Codec::new(Law::A)),
        CodecKind::G722 => Box::new(G722Codec::new()),
        CodecKind::Opus => {
            let mut o = OpusCodec::new()?;
            o.set_dtx(dtx || c.opus.use_dtx)?;
            if let Some(b) = c.opus.max_average_bitrate {
                o.set_max_bitrate(b)?;
            }
            Box::new(o)
        }
    })
}

/// G.711 (PCMU/PCMA) with Appendix I-style concealment.
pub struct G711Codec {
    law: Law,
    plc: Plc,
    scratch: Vec<i16>,
}

impl G711Codec {
    /// A codec for one companding law.
    pub fn new(law: Law) -> G711Codec {
        G711Codec {
            law,
            plc: Plc::new(8000),
            scratch: Vec::new(),
        }
    }
}

impl Codec for G711Codec {
    fn kind(&self) -> CodecKind {
        match self.law {
            Law::Mu => CodecKind::Pcmu,
            Law::A => CodecKind::Pcma,
        }
    }
    fn sample_rate(&self) -> u32 {
        8000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        g711::encode_frame(self.law, pcm, out);
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        g711::decode_frame(self.law, payload, &mut self.scratch);
        self.plc.good(&mut self.scratch);
        out.extend_from_slice(&self.scratch);
        Ok(self.scratch.len())
    }
    fn conceal(
        &mut self,
        samples: usize,
        _next: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let start = out.len();
        out.resize(start + samples, 0);
        self.plc.conceal(&mut out[start..]);
        Ok(samples)
    }
}

/// G.722 at 64 kbit/s; 16 kHz audio, 8000 Hz RTP clock.
pub struct G722Codec {
    enc: g722::Encoder,
    dec: g722::Decoder,
    plc: Plc,
    scratch: Vec<i16>,
}

impl G722Codec {
    /// Fresh encoder and decoder state.
    pub fn new() -> G722Codec {
        G722Codec {
            enc: g722::Encoder::new(),
            dec: g722::Decoder::new(),
            plc: Plc::new(16_000),
            scratch: Vec::new(),
        }
    }
}

impl Default for G722Codec {
    fn default() -> Self {
        G722Codec::new()
    }
}

impl Codec for G722Codec {
    fn kind(&self) -> CodecKind {
        CodecKind::G722
    }
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        self.enc.encode(pcm, out);
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        self.scratch.clear();
        self.dec.decode(payload, &mut self.scratch);
        self.plc.good(&mut self.scratch);
        out.extend_from_slice(&self.scratch);
        Ok(self.scratch.len())
    }
    fn conceal(
        &mut self,
        samples: usize,
        _next: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let start = out.len();
        out.resize(start + samples, 0);
        self.plc.conceal(&mut out[start..]);
        Ok(samples)
    }
}

/// Largest Opus frame: 120 ms at 48 kHz.
const OPUS_MAX_FRAME: usize = 5760;
/// Room for one encoded packet (RFC 6716 §3.2.1 bound is 1275 per frame).
const OPUS_MAX_PACKET: usize = 1500;

/// Opus, 48 kHz mono, in-band FEC on. The encoder is libopus's VoIP one,
/// or its SILK-only one while the input carries nothing above 8 kHz
/// (see `set_input_band`).
pub struct OpusCodec {
    enc: OpusEncoder,
    /// What the encoder was told, to tell a replacement the same.
    bitrate: i32,
    loss_percent: i32,
    dtx: bool,
    dec: opus_dec::OpusDecoder,
    buf: Vec<u8>,
    pcm: Vec<i16>,
}

/// The bitrate a call starts at, bit/s.
const OPUS_BITRATE: i32 = 32_000;

impl OpusCodec {
    /// Encoder and decoder with in-band FEC enabled. The encoder sends FEC
    /// only while it expects loss (`set_packet_loss` > 0, driven by RTCP);
    /// it starts at 0, a clean link.
    pub fn new() -> Result<OpusCodec, CodecError> {
        let mut c = OpusCodec {
            enc: OpusEncoder::new(Application::Voip)?,
            bitrate: OPUS_BITRATE,
            loss_percent: 0,
            dtx: false,
            dec: opus_dec::OpusDecoder::new()?,
            buf: vec![0; OPUS_MAX_PACKET],
            pcm: vec![0; OPUS_MAX_FRAME],
        };
        c.configure()?;
        Ok(c)
    }

    /// Gives the encoder this codec's settings.
    fn configure(&mut self) -> Result<(), CodecError> {
        self.enc.set_inband_fec(true)?;
        self.enc.set_packet_loss_perc(self.loss_percent)?;
        self.enc.set_bitrate(self.bitrate)?;
        self.enc.set_dtx(self.dtx)
    }

    /// Discontinuous transmission on silence.
    pub fn set_dtx(&mut self, on: bool) -> Result<(), CodecError> {
        self.enc.set_dtx(on)?;
        self.dtx = on;
        Ok(())
    }

    /// Caps the bitrate at the peer's `maxaveragebitrate`.
    pub fn set_max_bitrate(&mut self, bps: u32) -> Result<(), CodecError> {
        let cap = i32::try_from(bps).unwrap_or(i32::MAX);
        let b = self.bitrate.min(cap);
        self.enc.set_bitrate(b)?;
        self.bitrate = b;
        Ok(())
    }
}

impl Codec for OpusCodec {
    fn kind(&self) -> CodecKind {
        CodecKind::Opus
    }
    fn sample_rate(&self) -> u32 {
        48_000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let n = self.enc.encode(pcm, &mut self.buf)?;
        out.clear();
        out.extend_from_slice(&self.buf[..n]);
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::Malformed);
        }
        let n = self.dec.decode(payload, &mut self.pcm, false)?;
        out.extend_from_slice(&self.pcm[..n]);
        Ok(n)
    }
    fn conceal(
        &mut self,
        samples: usize,
        next: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        // libopus conceals in multiples of 2.5 ms up to 120 ms.
        let samples = samples.clamp(120, OPUS_MAX_FRAME) / 120 * 120;
        let frame = &mut self.pcm[..samples];
        let n = match next {
            Some(p) if !p.is_empty() => self.dec.decode(p, frame, true)?,
            _ => self.dec.decode(&[], frame, false)?,
        };
        out.extend_from_slice(&self.pcm[..n]);
        Ok(n)
    }
    fn set_packet_loss(&mut self, percent: u8) {
        // 0 stops the FEC copy (it costs quality on a clean link).
        let p = i32::from(percent.min(100));
        match self.enc.set_packet_loss_perc(p) {
            Ok(()) => self.loss_percent = p,
            Err(e) => tracing::debug!(error = %e, "opus: setting packet loss failed"),
        }
    }
    fn set_input_band(&mut self, top_hz: u32) {
        // Audio from the 16 kHz processing chain holds nothing above
        // 8 kHz: libopus's SILK-only encoder codes it (wideband SILK, all
        // of the bitrate on the voice band, no CELT or tonality analysis
        // run for an empty upper band; `examples/opus_bandwidth.rs`). Full
        // band audio goes back to the VoIP encoder. A new encoder starts
        // from silence, so the switch (a stage turned on or off, a
        // conference starting or ending) may click once; the stream stays
        // valid for any decoder.
        let want = if top_hz <= 8_000 {
            Application::SilkOnly
        } else {
            Application::Voip
        };
        if want == self.enc.application() {
            return;
        }
        let replaced = OpusEncoder::new(want).map(|enc| std::mem::replace(&mut self.enc, enc));
        match replaced {
            Ok(old) => {
                if let Err(e) = self.configure() {
                    tracing::debug!(error = %e, "opus: configuring the encoder failed; keeping the old one");
                    self.enc = old;
                }
            }
            Err(e) => tracing::debug!(error = %e, "opus: creating an encoder failed"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

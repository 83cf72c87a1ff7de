//! The Opus encoder, over libopus itself: the `opus` crate offers only
//! the VoIP, audio and low-delay applications, and the one a processed
//! microphone wants is libopus 1.6's SILK-only encoder
//! (`OPUS_APPLICATION_RESTRICTED_SILK`). Audio from the 16 kHz processing
//! chain carries nothing above 8 kHz, so a VoIP encoder capped at
//! wideband codes it in SILK anyway, yet it still runs its tonality
//! analysis (a small neural network, for the speech/music and bandwidth
//! decisions that the cap has already made) and keeps a CELT encoder
//! ready. The SILK-only encoder skips both: 13 % less encoder time at the
//! same PESQ-WB (`examples/opus_bandwidth.rs`).
//!
//! The unsafe surface is this file: create, encode, the integer setters,
//! destroy, each checked against libopus's documented contract.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::CodecError;

/// Which libopus encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Application {
    /// `OPUS_APPLICATION_VOIP`: SILK, hybrid or CELT as the audio needs.
    Voip,
    /// `OPUS_APPLICATION_RESTRICTED_SILK`: SILK alone, up to wideband.
    SilkOnly,
}

/// A mono 48 kHz libopus encoder.
pub(crate) struct OpusEncoder {
    st: NonNull<opusic_sys::OpusEncoder>,
    app: Application,
}

// SAFETY: the encoder state is plain memory that libopus allocated for us
// and only this value reaches; libopus keeps no thread-local or shared
// state for it. `&mut self` on every call keeps it to one thread at once.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    /// A 48 kHz mono encoder for `app`.
    pub(crate) fn new(app: Application) -> Result<OpusEncoder, CodecError> {
        let application = match app {
            Application::Voip => opusic_sys::OPUS_APPLICATION_VOIP,
            Application::SilkOnly => opusic_sys::OPUS_APPLICATION_RESTRICTED_SILK,
        };
        let mut err: std::ffi::c_int = 0;
        // SAFETY: valid rate, channel count and application; `err`
        // outlives the call.
        let st = unsafe { opusic_sys::opus_encoder_create(48_000, 1, application, &mut err) };
        let st = NonNull::new(st).ok_or(CodecError::Opus(err))?;
        Ok(OpusEncoder { st, app })
    }

    /// Which encoder this is.
    pub(crate) fn application(&self) -> Application {
        self.app
    }

    /// One of libopus's integer setters (`OPUS_SET_*_REQUEST`).
    fn set(&mut self, request: std::ffi::c_int, value: i32) -> Result<(), CodecError> {
        // SAFETY: `st` is a live encoder, and every request this file
        // passes (bitrate, FEC, loss, DTX) takes one
        // opus_int32 argument.
        let r = unsafe {
            opusic_sys::opus_encoder_ctl(self.st.as_ptr(), request, value as opusic_sys::opus_int32)
        };
        if r == opusic_sys::OPUS_OK {
            Ok(())
        } else {
            Err(CodecError::Opus(r))
        }
    }

    /// Target bitrate, bit/s.
    pub(crate) fn set_bitrate(&mut self, bps: i32) -> Result<(), CodecError> {
        self.set(opusic_sys::OPUS_SET_BITRATE_REQUEST, bps)
    }

    /// In-band FEC (SILK's LBRR) while loss is expected.
    pub(crate) fn set_inband_fec(&mut self, on: bool) -> Result<(), CodecError> {
        self.set(opusic_sys::OPUS_SET_INBAND_FEC_REQUEST, i32::from(on))
    }

    /// The loss rate to plan FEC for, 0-100.
    pub(crate) fn set_packet_loss_perc(&mut self, percent: i32) -> Result<(), CodecError> {
        self.set(opusic_sys::OPUS_SET_PACKET_LOSS_PERC_REQUEST, percent)
    }

    /// Discontinuous transmission on silence.
    pub(crate) fn set_dtx(&mut self, on: bool) -> Result<(), CodecError> {
        self.set(opusic_sys::OPUS_SET_DTX_REQUEST, i32::from(on))
    }

    /// Encodes one frame of `pcm` (2.5-120 ms at 48 kHz; 10 ms at least
    /// for the SILK-only encoder) into `out`; returns the packet's
    /// length.
    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        let frame = i32::try_from(pcm.len()).map_err(|_| CodecError::Malformed)?;
        let room = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: `pcm` holds `frame` samples of one channel, `out` has
        // room for `room` bytes; libopus checks the frame size itself.
        let n = unsafe {
            opusic_sys::opus_encode(
                self.st.as_ptr(),
                pcm.as_ptr(),
                frame,
                out.as_mut_ptr(),
                room,
            )
        };
        if n < 0 {
            return Err(CodecError::Opus(n));
        }
        Ok(n as usize)
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create and destroyed once.
        unsafe { opusic_sys::opus_encoder_destroy(self.st.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tests::voiced;

    #[test]
    fn the_silk_only_encoder_codes_wideband_silk_that_any_decoder_takes() {
        let mut e = OpusEncoder::new(Application::SilkOnly).unwrap();
        assert_eq!(e.application(), Application::SilkOnly);
        e.set_bitrate(32_000).unwrap();
        e.set_inband_fec(true).unwrap();
        e.set_packet_loss_perc(10).unwrap();
        let mut d = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut buf = [0u8; 1500];
        let mut out = [0i16; 960];
        for f in voiced(50 * 960).chunks_exact(960) {
            let n = e.encode(f, &mut buf).unwrap();
            let p = &buf[..n];
            // TOC configs 0-11 are SILK-only (RFC 6716 §3.1); 8-11 wideband.
            assert!((8..=11).contains(&(p[0] >> 3)), "toc {:#x}", p[0]);
            assert_eq!(d.decode(p, &mut out, false).unwrap(), 960);
        }
        assert!(
            out.iter().any(|&s| s.unsigned_abs() > 1000),
            "decoded audio"
        );
    }

    #[test]
    fn bad_frames_and_settings_are_errors_not_panics() {
        let mut e = OpusEncoder::new(Application::Voip).unwrap();
        let mut buf = [0u8; 1500];
        // 7 ms is no Opus frame size.
        assert!(e.encode(&[0; 336], &mut buf).is_err());
        // The SILK-only encoder takes no frame under 10 ms.
        let mut s = OpusEncoder::new(Application::SilkOnly).unwrap();
        assert!(s.encode(&[0; 240], &mut buf).is_err());
        assert!(e.set_packet_loss_perc(101).is_err());
        assert!(e.set_bitrate(-5).is_err());
    }
}

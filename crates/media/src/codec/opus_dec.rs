//! The Opus decoder, over libopus itself: the `opus` crate gives no way to
//! set the decoder's complexity, and complexity 5 or more is what turns on
//! libopus's deep packet-loss concealment (1.5+, built in here through
//! opusic-sys's `dred` feature; its neural models are compiled into the
//! library, nothing is loaded at run time). A lost frame is then
//! synthesised by a small neural vocoder instead of the classic pitch
//! repetition, which is what the far end hears on a lossy link when the
//! sender has no in-band FEC for us (baresip, most phones).
//!
//! The unsafe surface is this file: create, decode, set complexity,
//! destroy, each checked against libopus's documented contract.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::CodecError;

/// Decoder complexity: 5 enables deep PLC; above 5 adds the speech
/// enhancers (OSCE), which are not built in.
const COMPLEXITY: i32 = 5;

/// A mono 48 kHz libopus decoder.
pub(crate) struct OpusDecoder {
    st: NonNull<opusic_sys::OpusDecoder>,
}

// SAFETY: the decoder state is plain memory that libopus allocated for us
// and only this value reaches; libopus keeps no thread-local or shared
// state for it. Moving it to another thread is fine; `&mut self` on every
// call keeps it from being used from two at once.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    /// A decoder at 48 kHz, mono, with deep PLC on.
    pub(crate) fn new() -> Result<OpusDecoder, CodecError> {
        let mut err: std::ffi::c_int = 0;
        // SAFETY: valid rate and channel count; `err` outlives the call.
        let st = unsafe { opusic_sys::opus_decoder_create(48_000, 1, &mut err) };
        let st = NonNull::new(st).ok_or(CodecError::Opus(err))?;
        let d = OpusDecoder { st };
        // SAFETY: `st` is a live decoder; OPUS_SET_COMPLEXITY takes one
        // opus_int32 argument.
        let r = unsafe {
            opusic_sys::opus_decoder_ctl(
                d.st.as_ptr(),
                opusic_sys::OPUS_SET_COMPLEXITY_REQUEST,
                COMPLEXITY as opusic_sys::opus_int32,
            )
        };
        if r != opusic_sys::OPUS_OK {
            return Err(CodecError::Opus(r));
        }
        Ok(d)
    }

    /// Decodes `data` into `out` (its length is the most samples taken);
    /// an empty `data` conceals `out.len()` samples; `fec` decodes the
    /// in-band FEC copy of the frame before `data`. Returns the samples
    /// written.
    pub(crate) fn decode(
        &mut self,
        data: &[u8],
        out: &mut [i16],
        fec: bool,
    ) -> Result<usize, CodecError> {
        let len = i32::try_from(data.len()).map_err(|_| CodecError::Malformed)?;
        let frame = i32::try_from(out.len()).map_err(|_| CodecError::Malformed)?;
        let ptr = if data.is_empty() {
            std::ptr::null()
        } else {
            data.as_ptr()
        };
        // SAFETY: `ptr` is null (concealment) or points at `len` readable
        // bytes; `out` has room for `frame` samples of one channel.
        let n = unsafe {
            opusic_sys::opus_decode(
                self.st.as_ptr(),
                ptr,
                len,
                out.as_mut_ptr(),
                frame,
                std::ffi::c_int::from(fec),
            )
        };
        if n < 0 {
            return Err(CodecError::Opus(n));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
impl OpusDecoder {
    /// The decoder's complexity as libopus reports it.
    fn complexity(&mut self) -> i32 {
        let mut c: opusic_sys::opus_int32 = -1;
        // SAFETY: OPUS_GET_COMPLEXITY takes one opus_int32 pointer, valid
        // for the call.
        let r = unsafe {
            opusic_sys::opus_decoder_ctl(
                self.st.as_ptr(),
                opusic_sys::OPUS_GET_COMPLEXITY_REQUEST,
                &mut c as *mut opusic_sys::opus_int32,
            )
        };
        assert_eq!(r, opusic_sys::OPUS_OK);
        c
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create and destroyed once.
        unsafe { opusic_sys::opus_decoder_destroy(self.st.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_plc_is_on_and_conceals_a_lost_voiced_frame() {
        let mut d = OpusDecoder::new().unwrap();
        assert_eq!(d.complexity(), COMPLEXITY);
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let pcm = crate::codec::tests::voiced(48_000);
        let mut buf = [0u8; 1500];
        let mut out = vec![0i16; 960];
        let mut last = Vec::new();
        for f in pcm.chunks_exact(960).take(30) {
            let n = enc.encode(f, &mut buf).unwrap();
            assert_eq!(d.decode(&buf[..n], &mut out, false).unwrap(), 960);
            last.clone_from(&out);
        }
        // Frame 31 lost: concealed, not silence, and no error.
        let n = d.decode(&[], &mut out, false).unwrap();
        assert_eq!(n, 960);
        let rms = |x: &[i16]| {
            (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
        };
        assert!(
            rms(&out) > 0.2 * rms(&last),
            "concealment {} vs {}",
            rms(&out),
            rms(&last)
        );
        // Garbage is an error, not a panic.
        assert!(d.decode(&[0xff; 3], &mut out, false).is_err());
    }
}

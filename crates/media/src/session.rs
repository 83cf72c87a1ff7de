//! One call's audio: RTP/RTCP (RFC 3550) with optional SRTP (RFC 3711),
//! codec, jitter buffer, RFC 4733 DTMF and RFC 3389 comfort noise. Pure:
//! packets and samples in and out, time as an argument; the caller owns
//! the socket and the clock.
//!
//! Capture and playout run at [`SESSION_RATE`] (48 kHz mono); the session
//! resamples to the codec's rate.
//!
//! ```text
//!  push_capture ─> resample ─> encode ─> RTP ─> [SRTP] ─> poll_transmit
//!  handle_rtp ─> [SRTP] ─> RTP/RTCP demux (RFC 5761 §4)
//!        RTP ─> SSRC/seq unwrap ─> jitter buffer ─> decode/conceal ─>
//!        resample ─> pull_playout
//!        RTCP SR/RR ─> RTT, peer's loss ─> encoder loss % ─> Stats
//!
//!  DTMF sender (RFC 4733 §2.5):
//!   [Idle] ─send_dtmf─> [Sending: marker, duration grows each ptime]
//!      ^                      │ 100 ms reached
//!      └── 3 end packets <────┘ (E bit, same timestamp)
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::reception_report::ReceptionReport;
use rtc_rtcp::sender_report::SenderReport;
use rtc_shared::marshal::{Marshal, Unmarshal};

use crate::codec::{new_codec, Codec, CodecError};
use crate::jitter::{JitterBuffer, Playout};
use crate::resample::Resampler;
use crate::sdp::{CodecKind, Direction, Negotiated, SrtpKeys, SrtpSuite};

/// Capture and playout sample rate, Hz (mono).
pub const SESSION_RATE: u32 = 48_000;

/// The top of the band a full-rate capture can carry (Nyquist of 48 kHz).
pub const FULL_BAND_HZ: u32 = SESSION_RATE / 2;
/// RTCP report interval (RFC 3550 §6.2 minimum; audio-only, two members).
const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// The first report goes out after half the interval (RFC 3550 §6.2,
/// "initial"), so the peer's encoder learns about loss early.
const RTCP_FIRST: Duration = Duration::from_millis(2500);

/// The loss the encoder plans for. Opus in-band FEC costs about 0.2 PESQ
/// on a clean link (the LBRR copy takes bits from each frame) and gains
/// about 1.1 at 5% loss (measured on the bench reference at 32 kbit/s),
/// so FEC is sent only while loss is seen. It rises at once to what a
/// report says and falls by half per clean report (about 5 s), so one
/// lucky interval does not switch it off. Until the peer's first report,
/// our own receive loss stands in: links are usually lossy both ways.
#[derive(Debug, Default)]
struct FecPlan {
    expected: f64,
    peer_reported: bool,
}

impl FecPlan {
    /// The loss planned for now, percent.
    fn planned(&self) -> u8 {
        self.expected.ceil().min(100.0) as u8
    }

    /// A reception report from the peer about our stream: percent lost.
    fn peer_report(&mut self, lost: f64) -> u8 {
        self.peer_reported = true;
        self.update(lost)
    }

    /// Our own loss over the last interval, used before the peer reports.
    fn own_loss(&mut self, lost: f64) -> Option<u8> {
        (!self.peer_reported).then(|| self.update(lost))
    }

    fn update(&mut self, lost: f64) -> u8 {
        self.expected = if lost >= self.expected {
            lost
        } else {
            (self.expected / 2.0).max(lost)
        };
        if self.expected < 0.5 {
            self.expected = 0.0;
        }
        self.expected.ceil().min(100.0) as u8
    }
}
/// Loss (percent) at which packets start going out twice.
const DUP_ON_PERCENT: f64 = 2.0;
/// Own receive loss (percent) taken as a sign the path still loses.
const DUP_EVIDENCE_PERCENT: f64 = 1.0;
/// Copies stop after this long without any sign of loss.
const DUP_HOLD: Duration = Duration::from_secs(30);
/// A call starts with copies on until the first look at the path.
const DUP_START: Duration = Duration::from_secs(2);

/// Redundancy: on a lossy path every audio packet goes out twice, the
/// copy right after the original, with the same sequence number and
/// bytes. The receiver keeps whichever copy arrives first and drops
/// the other as a duplicate (RFC 3550 §A.1 keeps it out of the loss
/// count, SRTP's replay window rejects it). Independent loss p becomes
/// p² (5 % -> 0.25 %) for twice the audio bitrate (Opus at 32 kbit/s:
/// about 48 -> 96 kbit/s with headers), and it works with any receiver,
/// unlike Opus in-band FEC, which many decoders never read (baresip's
/// conceals by PLC only). Back to back, not a frame apart: a copy a
/// frame late reads as a frame of jitter to an adaptive receiver (ours
/// among them), which then stretches its delay up and drops a frame to
/// come back (measured: 12 dB SNR on the test tone against 19 back to
/// back); the price is that a burst taking both copies is not repaired.
///
/// ```text
///  start ──> [On] ── first look (2.5 s) and no loss seen ──> [Off]
///  [Off] ── peer reports >= 2 % loss (own receive loss ──> [On]
///    ^      before the peer's first report)                  │
///    └─────── 30 s without loss seen (own receive >= 1 %, ───┘
///             or any loss the peer still reports)
/// ```
///
/// A call starts protected: waiting for the first report would leave
/// its first seconds to the loss (2.5 s of a 20 s bench call cost about
/// 0.4 PESQ); on a clean path that costs a few seconds of bitrate.
/// While on, the peer's reports read about 0 % (the copies fill the
/// gaps), so they cannot say the path healed: our own receive loss
/// stands in (paths usually lose both ways), and after 30 s without any
/// the copies stop and the next report measures the path again. With no
/// audio coming back to measure (the peer muted), 60 s of clean reports
/// stop them.
#[derive(Debug, Default)]
struct Redundancy {
    enabled: bool,
    on: bool,
    /// While on: off at the first look after this without loss seen.
    hold_until: Option<Instant>,
    /// The copy due out now.
    pending: Option<Vec<u8>>,
    /// Copies sent (not counted in RTCP's packet count).
    copies: u64,
}

impl Redundancy {
    /// On from `now` until the first look at the path.
    fn starting(now: Instant) -> Redundancy {
        Redundancy {
            enabled: true,
            on: true,
            hold_until: Some(now + DUP_START),
            ..Redundancy::default()
        }
    }

    /// A loss figure: `peer` when it describes our stream. Returns
    /// whether the state changed.
    fn observe(&mut self, now: Instant, lost: f64, peer: bool) -> bool {
        if !self.enabled {
            return false;
        }
        let was = self.on;
        if !self.on {
            if lost >= DUP_ON_PERCENT {
                self.on = true;
                self.hold_until = Some(now + DUP_HOLD);
            }
        } else {
            let evidence = if peer {
                lost > 0.0
            } else {
                lost >= DUP_EVIDENCE_PERCENT
            };
            // The peer's clean report proves little while copies fill
            // its gaps; without our own receive figures (no audio comes
            // back) only a second hold without loss turns them off.
            let quiet_for = if peer { DUP_HOLD } else { Duration::ZERO };
            if evidence {
                self.hold_until = Some(now + DUP_HOLD);
            } else if self.hold_until.is_none_or(|t| now >= t + quiet_for) {
                self.on = false;
                self.pending = None;
            }
        }
        was != self.on
    }

    /// The loss the encoder should plan for when `expected` is the
    /// path's: with copies on, only both copies lost is a loss.
    fn residual(&self, expected: u8) -> u8 {
        if self.on {
            let p = f64::from(expected);
            (p * p / 100.0).floor() as u8
        } else {
            expected
        }
    }
}

/// Lowest and one past the highest first sequence number we send.
const FIRST_SEQ: std::ops::Range<u16> = 0x1000..0x8000;

/// A random first sequence number (RFC 3550 §5.1), kept away from the
/// wrap: the first 0x8000 packets (11 minutes of 20 ms frames) neither
/// wrap nor pass near 0. Receivers are weakest there: baresip 1.0 (Debian
/// 12) counts a burst of up to 3,000 "lost" packets, and plays that much
/// concealment, when a packet it gets twice (our redundancy copies, on
/// from the call's start) has a sequence number below 3,000. Seen as a
/// garbled first 2 s in about one call in twenty. The range keeps 14.8
/// of the 16 bits of randomness.
fn initial_seq(random: u16) -> u16 {
    FIRST_SEQ.start + random % (FIRST_SEQ.end - FIRST_SEQ.start)
}

/// Capture kept at most (1 s) when nobody polls.
const MAX_CAPTURE: usize = SESSION_RATE as usize;
/// Playout kept decoded ahead at most.
const MAX_PLAYOUT: usize = SESSION_RATE as usize / 5;
/// Comfort noise payload type (RFC 3551).
const CN_PT: u8 = 13;
const DTMF_DURATION_MS: u32 = 100;
/// Largest RTP/RTCP datagram accepted.
const MAX_PACKET: usize = 1500;

/// Session failures.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The codec could not be set up.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// No crypto provider for SRTP.
    #[error("SRTP crypto provider: {0}")]
    Crypto(#[from] rtc_crypto::CryptoError),
    /// The SRTP context refused the keys.
    #[error("SRTP context: {0}")]
    Srtp(#[from] rtc_shared::error::Error),
    /// Not a DTMF digit (0-9, *, #, A-D).
    #[error("not a DTMF digit")]
    BadDigit,
    /// The peer's SDP offered no telephone-event.
    #[error("telephone-event not negotiated")]
    NoTelephoneEvent,
}

/// What the session tells the call layer.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// An RFC 4733 digit arrived (once per event).
    DtmfReceived(char),
    /// Periodic quality figures.
    Stats(CallStats),
    /// The peer's RTP comes from a new address (symmetric RTP latched).
    RemoteLatched(SocketAddr),
}

/// Call quality, for the UI.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStats {
    /// Codec in use.
    pub codec: CodecKind,
    /// Receive loss, percent.
    pub loss_percent: f64,
    /// Loss the peer reports about our stream, percent.
    pub remote_loss_percent: f64,
    /// Inter-arrival jitter, ms.
    pub jitter_ms: f64,
    /// Round-trip time from RTCP, ms (None before the first report back).
    pub rtt_ms: Option<f64>,
    /// Jitter-buffer target delay, ms.
    pub jitter_buffer_ms: u32,
    /// Frames concealed so far.
    pub concealed_frames: u64,
    /// E-model MOS estimate (ITU-T G.107, simplified).
    pub mos: f64,
}

/// An SRTP context that drops forged or replayed packets.
struct Srtp {
    ctx: rtc_srtp::context::Context,
    keys: SrtpKeys,
    /// SSRCs that failed authentication since the last rebuild: forged
    /// SSRCs would otherwise each leave state in the context.
    failures: u32,
}

impl Srtp {
    fn new(keys: &SrtpKeys, replay: bool) -> Result<Srtp, SessionError> {
        let provider = rtc_crypto::default_provider()?;
        let profile = match keys.suite {
            SrtpSuite::AesCm128HmacSha1_80 => {
                rtc_srtp::protection_profile::ProtectionProfile::Aes128CmHmacSha1_80
            }
            SrtpSuite::AesCm128HmacSha1_32 => {
                rtc_srtp::protection_profile::ProtectionProfile::Aes128CmHmacSha1_32
            }
        };
        let (rtp, rtcp) = if replay {
            (
                Some(rtc_srtp::option::srtp_replay_protection(128)),
                Some(rtc_srtp::option::srtcp_replay_protection(128)),
            )
        } else {
            (None, None)
        };
        let ctx = rtc_srtp::context::Context::new(
            &keys.master_key,
            &keys.master_salt,
            profile,
            rtp,
            rtcp,
            provider.crypto(),
        )?;
        Ok(Srtp {
            ctx,
            keys: keys.clone(),
            failures: 0,
        })
    }

    fn note_failure(&mut self) {
        self.failures += 1;
        if self.failures > 64 {
            if let Ok(fresh) = Srtp::new(&self.keys, true) {
                *self = fresh;
            }
        }
    }
}

/// Receive-side state for the current remote SSRC (RFC 3550 A.1, A.8).
#[derive(Default)]
struct Receiver {
    ssrc: Option<u32>,
    /// Added to a new SSRC's sequence numbers so playout continues.
    seq_offset: u64,
    max_ext: u64,
    base_ext: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Every valid packet, copies included, and the copies alone: a peer
    /// that sends each packet twice hides the path's loss from the
    /// received count, and these recover it.
    arrivals: u64,
    copies: u64,
    arrivals_prior: u64,
    copies_prior: u64,
    /// The path's loss over the last report interval, percent.
    path_loss: f64,
    jitter: f64,
    last_transit: Option<i64>,
    last_sr: u32,
    last_sr_at: Option<Instant>,
    /// Bit k: `max_ext - k` arrived; keeps duplicates out of the counts.
    seen: u128,
}

impl Receiver {
    /// Extended sequence number, and whether it is new (not a copy);
    /// switches SSRC without a playout gap.
    fn extend(&mut self, ssrc: u32, seq: u16) -> (u64, bool) {
        if self.ssrc != Some(ssrc) {
            let continue_at = if self.ssrc.is_some() {
                self.max_ext + 1
            } else {
                1 << 16
            };
            tracing::debug!(ssrc, "media: new remote SSRC");
            self.ssrc = Some(ssrc);
            self.seq_offset = continue_at - u64::from(seq);
            self.max_ext = continue_at;
            self.base_ext = continue_at;
            self.received = 0;
            self.expected_prior = 0;
            self.received_prior = 0;
            self.arrivals_prior = self.arrivals;
            self.copies_prior = self.copies;
            self.last_transit = None;
            self.received += 1;
            self.arrivals += 1;
            self.seen = 1;
            return (continue_at, true);
        }
        // Unwrap against the highest seen (RFC 3550 A.1).
        let cur = self.max_ext.wrapping_sub(self.seq_offset);
        let delta = i64::from(seq.wrapping_sub(cur as u16) as i16);
        let ext = (self.max_ext as i64 + delta).max(0) as u64;
        if ext > self.max_ext {
            let shift = ext - self.max_ext;
            self.seen = if shift >= 128 { 0 } else { self.seen << shift };
            self.max_ext = ext;
            self.seen |= 1;
            self.received += 1;
            self.arrivals += 1;
            (ext, true)
        } else {
            let bit = 1u128.checked_shl((self.max_ext - ext) as u32).unwrap_or(0);
            let fresh = self.seen & bit == 0;
            if fresh {
                self.seen |= bit;
                self.received += 1;
            } else {
                self.copies += 1;
            }
            self.arrivals += 1;
            (ext, fresh)
        }
    }

    fn jitter_update(&mut self, arrival_ts: i64, rtp_ts: u32) {
        let transit = arrival_ts - i64::from(rtp_ts);
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs() as f64;
            // RFC 3550 A.8: J += (|D| - J) / 16; huge jumps are resets.
            if d < 1e7 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);
    }

    fn report(&mut self, now: Instant) -> Option<ReceptionReport> {
        let ssrc = self.ssrc?;
        let expected = self.max_ext.saturating_sub(self.base_ext) + 1;
        let lost = expected.saturating_sub(self.received);
        let exp_int = expected.saturating_sub(self.expected_prior);
        let rec_int = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let arr_int = self.arrivals.saturating_sub(self.arrivals_prior);
        let copies_int = self.copies.saturating_sub(self.copies_prior);
        self.arrivals_prior = self.arrivals;
        self.copies_prior = self.copies;
        self.path_loss = if exp_int == 0 {
            0.0
        } else if copies_int * 2 > exp_int {
            // The peer sends copies (most frames came twice): of the
            // 2 x expected packets sent, arrivals came through.
            100.0 * (1.0 - arr_int as f64 / (2 * exp_int) as f64).max(0.0)
        } else {
            100.0 * exp_int.saturating_sub(rec_int) as f64 / exp_int as f64
        };
        let lost_int = exp_int.saturating_sub(rec_int);
        let fraction = (lost_int << 8)
            .checked_div(exp_int)
            .map_or(0, |f| f.min(255) as u8);
        let dlsr = self.last_sr_at.map_or(0, |t| {
            (now.duration_since(t).as_secs_f64() * 65536.0) as u32
        });
        Some(ReceptionReport {
            ssrc,
            fraction_lost: fraction,
            total_lost: lost.min(0x7F_FFFF) as u32,
            last_sequence_number: self.max_ext.wrapping_sub(self.seq_offset) as u32,
            jitter: self.jitter as u32,
            last_sender_report: self.last_sr,
            delay: if self.last_sr == 0 { 0 } else { dlsr },
        })
    }

    fn loss_percent(&self) -> f64 {
        let expected = self.max_ext.saturating_sub(self.base_ext) + 1;
        if self.ssrc.is_none() {
            return 0.0;
        }
        100.0 * expected.saturating_sub(self.received) as f64 / expected as f64
    }
}

struct DtmfTx {
    event: u8,
    timestamp: u32,
    duration: u32,
    end_sent: u8,
    next_at: Instant,
}

/// One call's audio engine.
pub struct AudioSession {
    neg: Negotiated,
    epoch: Instant,
    remote: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
    first_packet: bool,
    codec: Box<dyn Codec>,
    down: Resampler,
    up: Resampler,
    capture: VecDeque<i16>,
    playout: VecDeque<i16>,
    jb: JitterBuffer,
    rx: Receiver,
    srtp_tx: Option<Srtp>,
    srtp_rx: Option<Srtp>,
    dtmf_queue: VecDeque<u8>,
    dtmf: Option<DtmfTx>,
    last_event_ts: Option<u32>,
    events: VecDeque<MediaEvent>,
    next_rtcp: Instant,
    sent_packets: u32,
    sent_octets: u32,
    sent_since_report: bool,
    last_sr_ntp: Option<(u32, Instant)>,
    rtt_ms: Option<f64>,
    remote_loss: f64,
    fec: FecPlan,
    dup: Redundancy,
    /// The peer's reports count at least once before own loss is ignored.
    peer_reported: bool,
    cn_level: Option<u8>,
    noise_seed: u32,
    scratch: Vec<i16>,
    payload: Vec<u8>,
    /// Top of the captured audio's band, Hz (see `set_input_band`).
    input_band: u32,
}

impl AudioSession {
    /// Starts a session for a negotiated stream.
    pub fn new(neg: &Negotiated, now: Instant) -> Result<AudioSession, SessionError> {
        let mut seed = [0u8; 10];
        // Random SSRC/seq/ts (RFC 3550 §5.1); a clock-derived fallback
        // only if the OS has no randomness.
        if getrandom::fill(&mut seed).is_err() {
            let t = now.elapsed().as_nanos() as u64 ^ 0x9E37_79B9_7F4A_7C15;
            seed[..8].copy_from_slice(&t.to_le_bytes());
        }
        let codec = new_codec(&neg.codec, false)?;
        let rate = codec.sample_rate();
        let (srtp_tx, srtp_rx) = match &neg.srtp {
            Some((local, remote)) => (
                Some(Srtp::new(local, false)?),
                Some(Srtp::new(remote, true)?),
            ),
            None => (None, None),
        };
        Ok(AudioSession {
            neg: neg.clone(),
            epoch: now,
            remote: neg.remote_rtp,
            ssrc: u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]),
            seq: initial_seq(u16::from_le_bytes([seed[4], seed[5]])),
            ts: u32::from_le_bytes([seed[6], seed[7], seed[8], seed[9]]),
            first_packet: true,
            codec,
            down: Resampler::new(SESSION_RATE, rate),
            up: Resampler::new(rate, SESSION_RATE),
            capture: VecDeque::new(),
            playout: VecDeque::new(),
            jb: JitterBuffer::new(neg.ptime_ms),
            rx: Receiver::default(),
            srtp_tx,
            srtp_rx,
            dtmf_queue: VecDeque::new(),
            dtmf: None,
            last_event_ts: None,
            events: VecDeque::new(),
            next_rtcp: now + RTCP_FIRST,
            sent_packets: 0,
            sent_octets: 0,
            sent_since_report: false,
            last_sr_ntp: None,
            rtt_ms: None,
            remote_loss: 0.0,
            fec: FecPlan::default(),
            dup: Redundancy::starting(now),
            peer_reported: false,
            cn_level: None,
            noise_seed: 0x1234_5678,
            scratch: Vec::new(),
            payload: Vec::new(),
            input_band: FULL_BAND_HZ,
        })
    }

    /// The highest frequency the captured audio carries (Hz): the
    /// processing chain's band or the full 24 kHz. Passed to the
    /// encoder, now and after a codec change.
    pub fn set_input_band(&mut self, top_hz: u32) {
        if top_hz != self.input_band {
            self.input_band = top_hz;
            self.codec.set_input_band(top_hz);
        }
    }

    /// Turns sending audio twice on a lossy path on or off (on by
    /// default; see [`Redundancy`]).
    pub fn set_redundancy(&mut self, enabled: bool) {
        self.dup.enabled = enabled;
        if !enabled {
            self.dup = Redundancy::default();
            self.codec.set_packet_loss(self.fec.planned());
        }
    }

    /// Whether audio packets now go out twice.
    pub fn redundancy_active(&self) -> bool {
        self.dup.on
    }

    /// Audio packets sent a second time so far.
    pub fn redundant_copies(&self) -> u64 {
        self.dup.copies
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Where packets go now (the SDP address, or the latched source).
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Applies a re-INVITE's outcome: codec, direction, address, keys.
    /// SSRC, sequence and timestamp continue (RFC 3550 §5.1).
    pub fn update(&mut self, neg: &Negotiated) -> Result<(), SessionError> {
        if neg.codec.kind != self.neg.codec.kind {
            self.codec = new_codec(&neg.codec, false)?;
            self.codec.set_input_band(self.input_band);
            let rate = self.codec.sample_rate();
            self.down = Resampler::new(SESSION_RATE, rate);
            self.up = Resampler::new(rate, SESSION_RATE);
            self.capture.clear();
            self.first_packet = true;
        }
        if neg.srtp != self.neg.srtp {
            (self.srtp_tx, self.srtp_rx) = match &neg.srtp {
                Some((l, r)) => (Some(Srtp::new(l, false)?), Some(Srtp::new(r, true)?)),
                None => (None, None),
            };
        }
        if neg.remote_rtp != self.neg.remote_rtp {
            self.remote = neg.remote_rtp;
        }
        self.jb.set_ptime(neg.ptime_ms);
        self.neg = neg.clone();
        Ok(())
    }

    fn frame_samples(&self) -> usize {
        (SESSION_RATE * self.neg.ptime_ms / 1000) as usize
    }

    fn rtp_frame_ticks(&self) -> u32 {
        self.neg.codec.clock_rate * self.neg.ptime_ms / 1000
    }

    fn sending(&self) -> bool {
        matches!(
            self.neg.direction,
            Direction::SendRecv | Direction::SendOnly
        ) && !self.remote.ip().is_unspecified()
    }

    /// Microphone samples at [`SESSION_RATE`].
    pub fn push_capture(&mut self, pcm: &[i16]) {
        self.capture.extend(pcm);
        let excess = self.capture.len().saturating_sub(MAX_CAPTURE);
        self.capture.drain(..excess);
    }

    /// Queues an RFC 4733 digit (0-9, *, #, A-D).
    pub fn send_dtmf(&mut self, digit: char) -> Result<(), SessionError> {
        if self.neg.telephone_event_pt.is_none() {
            return Err(SessionError::NoTelephoneEvent);
        }
        let ev = match digit.to_ascii_uppercase() {
            d @ '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            d @ 'A'..='D' => d as u8 - b'A' + 12,
            _ => return Err(SessionError::BadDigit),
        };
        self.dtmf_queue.push_back(ev);
        Ok(())
    }

    /// Next outgoing datagram and its destination.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(Vec<u8>, SocketAddr)> {
        if now >= self.next_rtcp {
            self.next_rtcp = now + RTCP_INTERVAL;
            if let Some(p) = self.build_rtcp(now) {
                let dest = if self.neg.rtcp_mux {
                    self.remote
                } else {
                    self.neg.remote_rtcp
                };
                return Some((p, dest));
            }
        }
        if !self.sending() {
            // Hold: nothing but RTCP (our keep-alive); audio is dropped.
            self.capture.clear();
            self.dup.pending = None;
            return None;
        }
        if let Some(copy) = self.dup.pending.take() {
            self.dup.copies += 1;
            return Some((copy, self.remote));
        }
        if let Some(p) = self.poll_dtmf(now) {
            return Some((p, self.remote));
        }
        let n = self.frame_samples();
        if self.capture.len() < n {
            return None;
        }
        self.scratch.clear();
        let frame: Vec<i16> = self.capture.drain(..n).collect();
        if self.dtmf.is_some() {
            // RFC 4733 §2.5.1.1: the audio is muted while an event is sent,
            // but time moves on.
            self.ts = self.ts.wrapping_add(self.rtp_frame_ticks());
            return None;
        }
        self.down.process(&frame, &mut self.scratch);
        let mut payload = std::mem::take(&mut self.payload);
        let r = self.codec.encode(&self.scratch, &mut payload);
        let pkt = match r {
            Ok(()) => {
                let marker = std::mem::take(&mut self.first_packet);
                let pt = self.neg.codec.payload_type;
                let ts = self.ts;
                self.ts = self.ts.wrapping_add(self.rtp_frame_ticks());
                let pkt = self.build_rtp(pt, marker, ts, &payload);
                if self.dup.on {
                    self.dup.pending = pkt.clone();
                }
                pkt
            }
            Err(e) => {
                tracing::warn!(error = %e, "media: encoding failed");
                None
            }
        };
        self.payload = payload;
        pkt.map(|p| (p, self.remote))
    }

    fn poll_dtmf(&mut self, now: Instant) -> Option<Vec<u8>> {
        let pt = self.neg.telephone_event_pt?;
        if self.dtmf.is_none() {
            let ev = self.dtmf_queue.pop_front()?;
            self.dtmf = Some(DtmfTx {
                event: ev,
                timestamp: self.ts,
                duration: 0,
                end_sent: 0,
                next_at: now,
            });
        }
        let ptime = self.neg.ptime_ms;
        let clock = self.neg.telephone_event_clock;
        let d = self.dtmf.as_mut()?;
        if now < d.next_at {
            return None;
        }
        let marker = d.duration == 0;
        d.duration += clock * ptime / 1000;
        let full = clock * DTMF_DURATION_MS / 1000;
        let end = d.duration >= full;
        if end {
            d.duration = full;
            d.end_sent += 1;
        }
        d.next_at = now + Duration::from_millis(u64::from(ptime));
        let (ev, ts, dur, sent) = (d.event, d.timestamp, d.duration, d.end_sent);
        // Volume 10 dBm0 below overload, as typical phones send.
        let body = [
            ev,
            if end { 0x80 | 10 } else { 10 },
            (dur >> 8) as u8,
            dur as u8,
        ];
        if sent >= 3 {
            // Three end packets sent (RFC 4733 §2.5.1.4); leave a gap of
            // one packet before the next digit.
            self.dtmf = None;
            self.ts = self.ts.wrapping_add(full.max(1));
        }
        self.build_rtp(pt, marker, ts, &body)
    }

    fn build_rtp(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) -> Option<Vec<u8>> {
        let pkt = rtc_rtp::packet::Packet {
            header: rtc_rtp::header::Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: self.seq,
                timestamp: ts,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: Bytes::copy_from_slice(payload),
        };
        self.seq = self.seq.wrapping_add(1);
        let raw = pkt.marshal().ok()?;
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload.len() as u32);
        self.sent_since_report = true;
        match &mut self.srtp_tx {
            Some(s) => match s.ctx.encrypt_rtp(&raw) {
                Ok(b) => Some(b.to_vec()),
                Err(e) => {
                    tracing::warn!(error = %e, "media: SRTP protect failed");
                    None
                }
            },
            None => Some(raw.to_vec()),
        }
    }

    fn ntp(&self, now: Instant) -> u64 {
        // Session-relative NTP-format clock: RTT only needs our own
        // timestamps echoed back (RFC 3550 §6.4.1), audio-only needs no
        // lip sync. Offset so it is never zero.
        let d = now.duration_since(self.epoch) + Duration::from_secs(1);
        (d.as_secs() << 32) | ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
    }

    fn build_rtcp(&mut self, now: Instant) -> Option<Vec<u8>> {
        let report = self.rx.report(now);
        if report.is_some() {
            // The path's loss, not what the peer's copies left of it.
            let own = self.rx.path_loss;
            let fec = self.fec.own_loss(own);
            // Before the peer reports, our own loss stands in for the
            // path; afterwards it only keeps copies going (Redundancy).
            if !self.peer_reported || self.dup.on {
                self.dup.observe(now, own, false);
            }
            if let Some(p) = fec {
                self.codec.set_packet_loss(self.dup.residual(p));
            } else if !self.dup.on && self.dup.enabled {
                self.codec.set_packet_loss(self.fec.planned());
            }
        }
        let raw = if self.sent_since_report {
            self.sent_since_report = false;
            let ntp = self.ntp(now);
            self.last_sr_ntp = Some(((ntp >> 16) as u32, now));
            SenderReport {
                ssrc: self.ssrc,
                ntp_time: ntp,
                rtp_time: self.ts,
                packet_count: self.sent_packets,
                octet_count: self.sent_octets,
                reports: report.into_iter().collect(),
                profile_extensions: Bytes::new(),
            }
            .marshal()
            .ok()?
        } else {
            ReceiverReport {
                ssrc: self.ssrc,
                reports: report.into_iter().collect(),
                profile_extensions: Bytes::new(),
            }
            .marshal()
            .ok()?
        };
        self.push_stats();
        match &mut self.srtp_tx {
            Some(s) => s.ctx.encrypt_rtcp(&raw).ok().map(|b| b.to_vec()),
            None => Some(raw.to_vec()),
        }
    }

    fn push_stats(&mut self) {
        let loss = self.rx.loss_percent();
        let jitter_ms = self.rx.jitter * 1000.0 / f64::from(self.neg.codec.clock_rate);
        let delay = self.rtt_ms.unwrap_or(0.0) / 2.0 + f64::from(self.jb.target_ms()) + 20.0;
        self.events.push_back(MediaEvent::Stats(CallStats {
            codec: self.neg.codec.kind,
            loss_percent: loss,
            remote_loss_percent: self.remote_loss,
            jitter_ms,
            rtt_ms: self.rtt_ms,
            jitter_buffer_ms: self.jb.target_ms(),
            concealed_frames: self.jb.concealed,
            mos: mos(self.neg.codec.kind, loss, delay),
        }));
    }

    /// An incoming datagram without its source (no latching).
    pub fn handle_rtp(&mut self, now: Instant, data: &[u8]) {
        self.handle_packet(now, None, data);
    }

    /// An incoming datagram from `from`: RTP or RTCP (muxed or not).
    /// Valid RTP from a new address moves our destination there
    /// (symmetric RTP, for peers behind NAT).
    pub fn handle_packet(&mut self, now: Instant, from: Option<SocketAddr>, data: &[u8]) {
        if data.len() < 8 || data.len() > MAX_PACKET || data[0] >> 6 != 2 {
            return;
        }
        // RFC 5761 §4: RTCP packet types 192-223 in the second byte.
        if (192..=223).contains(&data[1]) {
            self.handle_rtcp(now, data);
            return;
        }
        let plain = match &mut self.srtp_rx {
            Some(s) => match s.ctx.decrypt_rtp(data) {
                Ok(b) => b.to_vec(),
                // A copy of a packet already taken (the peer's redundancy,
                // or the network's): dropped, and no sign of forgery.
                Err(rtc_shared::error::Error::SrtpSsrcDuplicated(..)) => return,
                Err(_) => {
                    // Forged or not ours: dropped silently.
                    s.note_failure();
                    return;
                }
            },
            None => data.to_vec(),
        };
        let mut buf = plain.as_slice();
        let Ok(pkt) = rtc_rtp::packet::Packet::unmarshal(&mut buf) else {
            return;
        };
        let h = &pkt.header;
        if let Some(from) = from {
            if from != self.remote && !self.remote.ip().is_unspecified() {
                self.remote = from;
                self.events.push_back(MediaEvent::RemoteLatched(from));
            }
        }
        let pt = h.payload_type;
        let known = pt == self.neg.codec.payload_type
            || Some(pt) == self.neg.telephone_event_pt
            || pt == CN_PT;
        if !known {
            return;
        }
        if Some(pt) == self.neg.telephone_event_pt {
            self.handle_event(h.timestamp, &pkt.payload);
            return;
        }
        let (ext, fresh) = self.rx.extend(h.ssrc, h.sequence_number);
        if !fresh {
            // A copy (the peer's redundancy): its late arrival says nothing
            // about jitter, and the buffer already holds or played it.
            return;
        }
        let arrival =
            now.duration_since(self.epoch).as_secs_f64() * f64::from(self.neg.codec.clock_rate);
        self.rx.jitter_update(arrival as i64, h.timestamp);
        let jitter_ms = self.rx.jitter * 1000.0 / f64::from(self.neg.codec.clock_rate);
        self.jb.set_jitter(jitter_ms);
        self.jb.insert(ext, pt, &pkt.payload, now);
    }

    fn handle_event(&mut self, ts: u32, payload: &[u8]) {
        if payload.len() < 4 || payload[0] > 15 {
            return;
        }
        // One event per timestamp, whatever the retransmissions.
        if self.last_event_ts == Some(ts) {
            return;
        }
        self.last_event_ts = Some(ts);
        let digit = match payload[0] {
            d @ 0..=9 => (b'0' + d) as char,
            10 => '*',
            11 => '#',
            d => (b'A' + d - 12) as char,
        };
        self.events.push_back(MediaEvent::DtmfReceived(digit));
    }

    fn handle_rtcp(&mut self, now: Instant, data: &[u8]) {
        let plain = match &mut self.srtp_rx {
            Some(s) => match s.ctx.decrypt_rtcp(data) {
                Ok(b) => b.to_vec(),
                Err(_) => return,
            },
            None => data.to_vec(),
        };
        let mut buf = plain.as_slice();
        let Ok(packets) = rtc_rtcp::packet::unmarshal(&mut buf) else {
            return;
        };
        for p in packets.iter().take(8) {
            let any = p.as_any();
            let reports: &[ReceptionReport] = if let Some(sr) = any.downcast_ref::<SenderReport>() {
                self.rx.last_sr = (sr.ntp_time >> 16) as u32;
                self.rx.last_sr_at = Some(now);
                &sr.reports
            } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                &rr.reports
            } else {
                &[]
            };
            let ours: Vec<ReceptionReport> = reports
                .iter()
                .filter(|r| r.ssrc == self.ssrc)
                .cloned()
                .collect();
            for r in ours {
                self.on_report(now, &r);
            }
        }
    }

    fn on_report(&mut self, now: Instant, r: &ReceptionReport) {
        self.remote_loss = f64::from(r.fraction_lost) * 100.0 / 256.0;
        self.peer_reported = true;
        let p = self.fec.peer_report(self.remote_loss);
        self.dup.observe(now, self.remote_loss, true);
        self.codec.set_packet_loss(self.dup.residual(p));
        if let Some((lsr, _)) = self.last_sr_ntp {
            if r.last_sender_report == lsr && lsr != 0 {
                let a = (self.ntp(now) >> 16) as u32;
                let rtt = a.wrapping_sub(lsr).wrapping_sub(r.delay);
                if rtt < 0x8000_0000 {
                    self.rtt_ms = Some(f64::from(rtt) * 1000.0 / 65536.0);
                }
            }
        }
    }

    /// Fills `out` with speaker samples at [`SESSION_RATE`].
    pub fn pull_playout(&mut self, now: Instant, out: &mut [i16]) {
        let frame = self.frame_samples();
        while self.playout.len() < out.len() && self.playout.len() < MAX_PLAYOUT {
            self.scratch.clear();
            let codec_frame = (self.codec.sample_rate() * self.neg.ptime_ms / 1000) as usize;
            let mut decoded = Vec::with_capacity(codec_frame);
            let queued_ms = self.playout.len() as f64 * 1000.0 / f64::from(SESSION_RATE);
            match self.jb.pop(now, queued_ms) {
                Playout::Silence => {
                    self.playout.extend(std::iter::repeat_n(0, frame));
                    continue;
                }
                Playout::Frame { pt, payload } if pt == CN_PT => {
                    // RFC 3389 §3.1: level in -dBov.
                    self.cn_level = payload.first().copied();
                    self.comfort_noise(codec_frame, &mut decoded);
                }
                Playout::Frame { payload, .. } => {
                    self.cn_level = None;
                    if self.codec.decode(&payload, &mut decoded).is_err() {
                        decoded.clear();
                        let _ = self.codec.conceal(codec_frame, None, &mut decoded);
                    }
                }
                Playout::Lost { next } => {
                    if self.cn_level.is_some() {
                        self.comfort_noise(codec_frame, &mut decoded);
                    } else {
                        let next = next
                            .as_ref()
                            .filter(|(pt, _)| *pt == self.neg.codec.payload_type)
                            .map(|(_, p)| p.as_slice());
                        if self.codec.conceal(codec_frame, next, &mut decoded).is_err() {
                            decoded.resize(codec_frame, 0);
                        }
                    }
                }
            }
            let mut up = Vec::with_capacity(frame + 4);
            self.up.process(&decoded, &mut up);
            // Follow the sender's clock a sample at a time (jitter.rs).
            let adjust = self.jb.stretch(up.len());
            if adjust != 0 {
                stretch_to(
                    &up,
                    (up.len() as i64 + i64::from(adjust)) as usize,
                    &mut self.playout,
                );
            } else {
                self.playout.extend(up);
            }
        }
        for s in out.iter_mut() {
            *s = self.playout.pop_front().unwrap_or(0);
        }
    }

    fn comfort_noise(&mut self, n: usize, out: &mut Vec<i16>) {
        let level = self.cn_level.unwrap_or(127).min(127);
        let amp = 32767.0 * 10f64.powf(-f64::from(level) / 20.0);
        for _ in 0..n {
            // xorshift: cheap white noise.
            self.noise_seed ^= self.noise_seed << 13;
            self.noise_seed ^= self.noise_seed >> 17;
            self.noise_seed ^= self.noise_seed << 5;
            let u = f64::from(self.noise_seed) / f64::from(u32::MAX) * 2.0 - 1.0;
            out.push((u * amp) as i16);
        }
    }

    /// Next event for the call layer.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When `poll_transmit` next has something time-driven to send.
    pub fn poll_timeout(&self) -> Instant {
        match &self.dtmf {
            Some(d) => d.next_at.min(self.next_rtcp),
            None => self.next_rtcp,
        }
    }
}

/// Appends `frame` resampled to `len` samples (linear interpolation; the
/// first and last samples stay, so frames still join without a step).
fn stretch_to(frame: &[i16], len: usize, out: &mut VecDeque<i16>) {
    if frame.len() < 2 || len < 2 {
        out.extend(frame);
        return;
    }
    let step = (frame.len() - 1) as f64 / (len - 1) as f64;
    for i in 0..len {
        let x = i as f64 * step;
        let k = (x as usize).min(frame.len() - 2);
        let f = x - k as f64;
        let v = f64::from(frame[k]) * (1.0 - f) + f64::from(frame[k + 1]) * f;
        out.push_back(v.round() as i16);
    }
}

/// E-model (ITU-T G.107) estimate: R from delay and loss impairments,
/// mapped to MOS. Codec impairment (Ie, Bpl) from G.113 Appendix I.
fn mos(codec: CodecKind, loss_percent: f64, one_way_ms: f64) -> f64 {
    let (ie, bpl) = match codec {
        CodecKind::Pcmu | CodecKind::Pcma => (0.0, 25.1),
        CodecKind::G722 => (0.0, 20.0),
        CodecKind::Opus => (0.0, 30.0),
    };
    let d = one_way_ms;
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ie_eff = ie + (95.0 - ie) * loss_percent / (loss_percent + bpl);
    let r = (93.2 - id - ie_eff).clamp(0.0, 100.0);
    (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).clamp(1.0, 4.5)
}

#[cfg(test)]
mod tests;

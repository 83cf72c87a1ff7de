//! SDP offer/answer for one audio stream (RFC 3264) over
//! [`sip_message::sdp::Sdp`]: codec order from settings, payload-type
//! mapping, direction (hold), ptime, rtcp-mux (RFC 5761), a=rtcp
//! (RFC 3605) and SDES keys (RFC 4568).
//!
//! ```text
//!   offerer                              answerer
//!   create_offer ──── offer SDP ───────> create_answer ─> Negotiated
//!   accept_answer <── answer SDP ──────┘
//!        └─> Negotiated
//! ```
//!
//! The answer keeps the offer's m-lines in order (RFC 3264 §6), accepts the
//! first usable audio stream and rejects every other stream with port 0.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;
pub use sip_message::sdp::Direction;
use sip_message::sdp::{Attribute, Connection, Crypto, Media, Origin, RtpMap, Sdp};

/// Why an offer or answer could not be negotiated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The offer has no audio stream on an RTP profile we speak.
    #[error("no usable audio stream in the SDP")]
    NoAudio,
    /// The audio stream has no codec both sides support.
    #[error("no codec in common")]
    NoCommonCodec,
    /// SRTP is mandatory here but the peer offered or answered plain RTP.
    #[error("SRTP required by policy but not offered")]
    SrtpRequired,
    /// The peer insists on SRTP (RTP/SAVP) but we have no usable keys or
    /// suite.
    #[error("peer requires SRTP with no crypto suite we support")]
    SrtpUnsupported,
    /// An `a=crypto` key is not a valid base64 30-byte key||salt.
    #[error("malformed SRTP inline key")]
    BadKey,
    /// The connection address is not an IP literal.
    #[error("connection address is not an IP address")]
    Address,
    /// The audio stream has no `c=` line at media or session level.
    #[error("no connection address for the audio stream")]
    NoConnection,
    /// The answer's m-lines do not match the offer's (RFC 3264 §6).
    #[error("answer has {answer} m-lines, offer had {offer}")]
    MediaCountMismatch {
        /// Lines in the offer.
        offer: usize,
        /// Lines in the answer.
        answer: usize,
    },
    /// The peer rejected the audio stream (port 0).
    #[error("audio stream rejected by the peer")]
    Rejected,
    /// The operating system could not provide random bytes for keys.
    #[error("no OS randomness for SRTP keys")]
    Random,
}

/// An audio codec Parley can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// Opus (RFC 7587), 48 kHz RTP clock.
    Opus,
    /// G.722, 16 kHz audio on an 8000 Hz RTP clock (RFC 3551 §4.5.2).
    G722,
    /// G.711 μ-law, PT 0.
    Pcmu,
    /// G.711 A-law, PT 8.
    Pcma,
}

impl CodecKind {
    /// Encoding name as written in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            CodecKind::Opus => "opus",
            CodecKind::G722 => "G722",
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
        }
    }

    /// The static RTP payload type (RFC 3551 table 4), if any.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            CodecKind::Opus => None,
            CodecKind::G722 => Some(9),
            CodecKind::Pcmu => Some(0),
            CodecKind::Pcma => Some(8),
        }
    }

    /// The payload type we offer.
    pub fn offer_payload_type(self) -> u8 {
        self.static_payload_type().unwrap_or(OPUS_PT)
    }

    /// RTP timestamp clock in Hz (8000 for G.722, see RFC 3551 §4.5.2).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            CodecKind::Opus => 48_000,
            _ => 8_000,
        }
    }

    /// Audio sample rate the codec actually runs at.
    pub fn sample_rate(self) -> u32 {
        match self {
            CodecKind::Opus => 48_000,
            CodecKind::G722 => 16_000,
            _ => 8_000,
        }
    }

    /// Channels as written in the rtpmap (Opus is always `/2`, RFC 7587 §7).
    pub fn sdp_channels(self) -> Option<u16> {
        match self {
            CodecKind::Opus => Some(2),
            _ => None,
        }
    }

    fn rtpmap(self, pt: u8) -> RtpMap {
        RtpMap {
            payload_type: pt,
            encoding: self.encoding_name().to_owned(),
            clock_rate: self.rtp_clock_rate(),
            channels: self.sdp_channels(),
        }
    }

    /// Which of our codecs an rtpmap (or a static PT without one) names.
    fn from_format(pt: u8, map: Option<&RtpMap>) -> Option<CodecKind> {
        match map {
            Some(m) => [
                CodecKind::Opus,
                CodecKind::G722,
                CodecKind::Pcmu,
                CodecKind::Pcma,
            ]
            .into_iter()
            .find(|k| {
                m.encoding.eq_ignore_ascii_case(k.encoding_name())
                    && m.clock_rate == k.rtp_clock_rate()
            }),
            // RFC 3551 static types may come without an rtpmap.
            None => match pt {
                0 => Some(CodecKind::Pcmu),
                8 => Some(CodecKind::Pcma),
                9 => Some(CodecKind::G722),
                _ => None,
            },
        }
    }
}

impl fmt::Display for CodecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

const OPUS_PT: u8 = 111;
const TEL_EVENT_PT: u8 = 101;
const TEL_EVENT_48K_PT: u8 = 100;

/// When to use SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SrtpPolicy {
    /// Plain RTP only; SAVP offers are rejected.
    Off,
    /// Offer RTP/AVP with `a=crypto` (best effort), accept either.
    #[default]
    Optional,
    /// Offer RTP/SAVP; plain RTP is refused.
    Mandatory,
}

/// Media settings for negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Codecs in order of preference.
    pub codecs: Vec<CodecKind>,
    /// SRTP policy.
    pub srtp: SrtpPolicy,
    /// Packet time we want to receive, ms.
    pub ptime_ms: u32,
    /// Offer and accept RFC 4733 telephone-event.
    pub telephone_event: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            codecs: vec![
                CodecKind::Opus,
                CodecKind::G722,
                CodecKind::Pcmu,
                CodecKind::Pcma,
            ],
            srtp: SrtpPolicy::Optional,
            ptime_ms: 20,
            telephone_event: true,
        }
    }
}

/// SDES crypto suites (RFC 4568 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// AES-128 counter mode, 80-bit HMAC-SHA1 tag.
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, 32-bit HMAC-SHA1 tag.
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// Name in `a=crypto`.
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn from_name(s: &str) -> Option<SrtpSuite> {
        [
            SrtpSuite::AesCm128HmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32,
        ]
        .into_iter()
        .find(|x| x.as_str().eq_ignore_ascii_case(s))
    }

    /// Bytes of the RTP authentication tag.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// An SRTP master key and salt with their suite.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// Crypto suite.
    pub suite: SrtpSuite,
    /// 128-bit master key.
    pub master_key: [u8; 16],
    /// 112-bit master salt.
    pub master_salt: [u8; 14],
}

// Keys are secrets: never print them, not even in debug logs.
impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl SrtpKeys {
    /// Fresh keys from the operating system's CSPRNG.
    pub fn generate(suite: SrtpSuite) -> Result<SrtpKeys, NegotiationError> {
        let mut b = [0u8; 30];
        getrandom::fill(&mut b).map_err(|_| NegotiationError::Random)?;
        Ok(SrtpKeys::from_bytes(suite, &b))
    }

    /// Keys from 30 bytes of key||salt (tests, or the caller's own RNG).
    pub fn from_bytes(suite: SrtpSuite, b: &[u8; 30]) -> SrtpKeys {
        let mut master_key = [0u8; 16];
        let mut master_salt = [0u8; 14];
        master_key.copy_from_slice(&b[..16]);
        master_salt.copy_from_slice(&b[16..]);
        SrtpKeys {
            suite,
            master_key,
            master_salt,
        }
    }

    /// base64(key||salt) as used in `inline:` (RFC 4568 §6.1).
    pub fn inline(&self) -> String {
        let mut b = [0u8; 30];
        b[..16].copy_from_slice(&self.master_key);
        b[16..].copy_from_slice(&self.master_salt);
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// Keys from an `a=crypto` attribute with a suite we support.
    pub fn from_crypto(c: &Crypto) -> Result<SrtpKeys, NegotiationError> {
        let suite = SrtpSuite::from_name(&c.suite).ok_or(NegotiationError::SrtpUnsupported)?;
        let key = c.inline_key().ok_or(NegotiationError::BadKey)?;
        // Some peers drop the '=' padding; accept both.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(key)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(key))
            .map_err(|_| NegotiationError::BadKey)?;
        let b: [u8; 30] = raw.try_into().map_err(|_| NegotiationError::BadKey)?;
        Ok(SrtpKeys::from_bytes(suite, &b))
    }

    fn crypto_attr(&self, tag: u32) -> Attribute {
        Attribute::value(
            "crypto",
            &format!("{tag} {} inline:{}", self.suite.as_str(), self.inline()),
        )
    }
}

/// Opus format parameters the peer declared (RFC 7587 §6.1): what it
/// wants to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpusParams {
    /// `useinbandfec=1`: the peer decodes FEC, so we should send it.
    pub use_inband_fec: bool,
    /// `usedtx=1`: the peer prefers DTX.
    pub use_dtx: bool,
    /// `maxaveragebitrate`, bit/s.
    pub max_average_bitrate: Option<u32>,
    /// `stereo=1`: the peer prefers to receive stereo.
    pub stereo: bool,
}

impl OpusParams {
    fn from_media(m: &Media, pt: u8) -> OpusParams {
        let Some(f) = m.fmtp(pt) else {
            return OpusParams::default();
        };
        let flag = |n: &str| f.param(n).as_deref() == Some("1");
        OpusParams {
            use_inband_fec: flag("useinbandfec"),
            use_dtx: flag("usedtx"),
            max_average_bitrate: f
                .param("maxaveragebitrate")
                .and_then(|v| v.parse().ok())
                // RFC 7587 §6.1: 6000..510000.
                .map(|v: u32| v.clamp(6_000, 510_000)),
            stereo: flag("stereo"),
        }
    }
}

/// The codec both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NegotiatedCodec {
    /// Which codec.
    pub kind: CodecKind,
    /// Payload type used on the wire (the peer's number for it).
    pub payload_type: u8,
    /// RTP clock rate, Hz.
    pub clock_rate: u32,
    /// Channels as declared (2 for Opus, 1 otherwise).
    pub channels: u16,
    /// The peer's `a=fmtp` parameters for this format, as written.
    pub fmtp: Option<String>,
    /// Parsed Opus parameters (default for other codecs).
    pub opus: OpusParams,
}

/// Outcome of an offer/answer exchange for the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP. The IP is unspecified (0.0.0.0 / ::) when the
    /// peer holds the call the RFC 2543 way.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP (same as `remote_rtp` with rtcp-mux).
    pub remote_rtcp: SocketAddr,
    /// RTP and RTCP share one port (RFC 5761).
    pub rtcp_mux: bool,
    /// The codec.
    pub codec: NegotiatedCodec,
    /// Payload type for RFC 4733 events, if both sides support them.
    pub telephone_event_pt: Option<u8>,
    /// Clock rate of the telephone-event format, Hz.
    pub telephone_event_clock: u32,
    /// Our direction after negotiation.
    pub direction: Direction,
    /// Packet time to send, ms.
    pub ptime_ms: u32,
    /// (our keys, the peer's keys) when SRTP is in use.
    pub srtp: Option<(SrtpKeys, SrtpKeys)>,
}

fn is_rtp_profile(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/SAVP")
}

fn is_savp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/SAVP")
}

fn addr_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

fn connection_for(ip: IpAddr) -> Connection {
    Connection {
        net_type: "IN".to_owned(),
        addr_type: addr_type(ip).to_owned(),
        address: ip.to_string(),
    }
}

fn skeleton(local: SocketAddr, session_id: u64, version: u64) -> Sdp {
    let mut sdp = Sdp::new(Origin {
        username: "-".to_owned(),
        session_id: session_id.to_string(),
        session_version: version,
        net_type: "IN".to_owned(),
        addr_type: addr_type(local.ip()).to_owned(),
        address: local.ip().to_string(),
    });
    sdp.session_name = "Parley".to_owned();
    sdp.connection = Some(connection_for(local.ip()));
    sdp
}

fn empty_media(port: u16, proto: &str) -> Media {
    Media {
        media: "audio".to_owned(),
        port,
        num_ports: None,
        proto: proto.to_owned(),
        formats: Vec::new(),
        title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
        unknown: Vec::new(),
    }
}

fn push_format(m: &mut Media, map: RtpMap, fmtp: Option<String>) {
    let pt = map.payload_type;
    m.formats.push(pt.to_string());
    m.attributes
        .push(Attribute::value("rtpmap", &map.to_string()));
    if let Some(f) = fmtp {
        m.attributes
            .push(Attribute::value("fmtp", &format!("{pt} {f}")));
    }
}

fn opus_fmtp() -> String {
    // We decode in-band FEC and want the peer to send it.
    "minptime=10;useinbandfec=1".to_owned()
}

fn telephone_event_map(pt: u8, clock: u32) -> RtpMap {
    RtpMap {
        payload_type: pt,
        encoding: "telephone-event".to_owned(),
        clock_rate: clock,
        channels: None,
    }
}

/// Builds an offer with one audio stream (RFC 3264 §5).
pub fn create_offer(
    cfg: &MediaConfig,
    local_rtp: SocketAddr,
    session_id: u64,
    version: u64,
    direction: Direction,
    crypto: Option<&SrtpKeys>,
) -> Sdp {
    let mut sdp = skeleton(local_rtp, session_id, version);
    let use_srtp = cfg.srtp != SrtpPolicy::Off && crypto.is_some();
    let proto = if cfg.srtp == SrtpPolicy::Mandatory {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut m = empty_media(local_rtp.port(), proto);
    let mut seen = Vec::new();
    for &k in &cfg.codecs {
        if seen.contains(&k) {
            continue;
        }
        seen.push(k);
        let fmtp = (k == CodecKind::Opus).then(opus_fmtp);
        push_format(&mut m, k.rtpmap(k.offer_payload_type()), fmtp);
    }
    if cfg.telephone_event {
        // RFC 4733 §2.1: the event clock should match the audio clock, so
        // Opus calls get a 48 kHz variant next to the common 8 kHz one.
        if cfg.codecs.contains(&CodecKind::Opus) {
            push_format(
                &mut m,
                telephone_event_map(TEL_EVENT_48K_PT, 48_000),
                Some("0-16".to_owned()),
            );
        }
        push_format(
            &mut m,
            telephone_event_map(TEL_EVENT_PT, 8_000),
            Some("0-16".to_owned()),
        );
    }
    m.attributes.push(Attribute::value(
        "ptime",
        &cfg.ptime_ms.clamp(10, 120).to_string(),
    ));
    m.attributes.push(Attribute::flag("rtcp-mux"));
    if use_srtp {
        if let Some(k) = crypto {
            m.attributes.push(k.crypto_attr(1));
        }
    }
    m.set_direction(direction);
    sdp.media.push(m);
    sdp
}

/// The peer's transport address for a stream: media-level `c=` first,
/// then session level.
fn remote_addresses(
    sdp: &Sdp,
    m: &Media,
    rtcp_mux: bool,
) -> Result<(SocketAddr, SocketAddr), NegotiationError> {
    let c = m
        .connections
        .first()
        .or(sdp.connection.as_ref())
        .ok_or(NegotiationError::NoConnection)?;
    let ip = parse_ip(&c.address)?;
    let rtp = SocketAddr::new(ip, m.port);
    let rtcp = if rtcp_mux {
        rtp
    } else if let Some(r) = m.rtcp() {
        // RFC 3605: a=rtcp:<port> [IN IP4 <addr>].
        let rip = match r.address.as_deref().and_then(|a| a.rsplit(' ').next()) {
            Some(a) => parse_ip(a)?,
            None => ip,
        };
        SocketAddr::new(rip, r.port)
    } else {
        SocketAddr::new(ip, m.port.saturating_add(1))
    };
    Ok((rtp, rtcp))
}

fn parse_ip(text: &str) -> Result<IpAddr, NegotiationError> {
    // Multicast forms carry /ttl; we only do unicast, take the address.
    let a = text.split('/').next().unwrap_or(text);
    let a = a.trim_start_matches('[').trim_end_matches(']');
    a.parse().map_err(|_| NegotiationError::Address)
}

/// Direction the peer effectively asks for. RFC 3264 §8.4: a `c=0.0.0.0`
/// (RFC 2543 hold) means the peer does not want to receive.
fn peer_direction(sdp: &Sdp, m: &Media, ip: IpAddr) -> Direction {
    let d = m.direction(sdp);
    if !ip.is_unspecified() {
        return d;
    }
    match d {
        Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
        _ => Direction::Inactive,
    }
}

/// Both sides' wishes combined: we send only if we want to and the peer
/// receives, and the other way round.
fn intersect(ours: Direction, theirs_reversed: Direction) -> Direction {
    let send = |d: Direction| matches!(d, Direction::SendRecv | Direction::SendOnly);
    let recv = |d: Direction| matches!(d, Direction::SendRecv | Direction::RecvOnly);
    match (
        send(ours) && send(theirs_reversed),
        recv(ours) && recv(theirs_reversed),
    ) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

fn payload_types(m: &Media) -> impl Iterator<Item = u8> + '_ {
    m.formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok().filter(|p| *p <= 127))
}

fn negotiated_codec(m: &Media, pt: u8, kind: CodecKind) -> NegotiatedCodec {
    let map = m.rtpmap(pt);
    NegotiatedCodec {
        kind,
        payload_type: pt,
        clock_rate: kind.rtp_clock_rate(),
        channels: map.and_then(|m| m.channels).unwrap_or(1),
        fmtp: m.fmtp(pt).map(|f| f.params),
        opus: if kind == CodecKind::Opus {
            OpusParams::from_media(m, pt)
        } else {
            OpusParams::default()
        },
    }
}

/// The telephone-event format in `m`, preferring the one whose clock
/// matches the audio codec (RFC 4733 §2.1).
fn telephone_event(m: &Media, clock: u32) -> Option<(u8, u32)> {
    let maps = m.rtpmaps();
    let offered: Vec<(u8, u32)> = payload_types(m)
        .filter_map(|pt| {
            maps.iter()
                .find(|x| {
                    x.payload_type == pt && x.encoding.eq_ignore_ascii_case("telephone-event")
                })
                .map(|x| (pt, x.clock_rate))
        })
        .collect();
    offered
        .iter()
        .find(|(_, c)| *c == clock)
        .or_else(|| offered.iter().find(|(_, c)| *c == 8_000))
        .or(offered.first())
        .copied()
}

/// The ptime we send with: the peer's preference, kept to frame sizes
/// every codec can produce.
fn send_ptime(peer: Option<u32>, cfg_ptime: u32, kind: CodecKind) -> u32 {
    let p = peer.unwrap_or(cfg_ptime).clamp(10, 60);
    let p = (p / 10) * 10;
    match (kind, p) {
        // Opus frames are 10/20/40/60 ms.
        (CodecKind::Opus, 30) => 20,
        (CodecKind::Opus, 50) => 40,
        _ => p,
    }
}

fn first_supported_crypto(m: &Media) -> Result<Option<(Crypto, SrtpKeys)>, NegotiationError> {
    let mut last_err = None;
    for c in m.crypto() {
        match SrtpKeys::from_crypto(&c) {
            Ok(k) => return Ok(Some((c, k))),
            Err(e) => last_err = Some(e),
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

fn rejected_copy(offered: &Media) -> Media {
    Media {
        media: offered.media.clone(),
        port: 0,
        num_ports: None,
        proto: offered.proto.clone(),
        // RFC 3264 §6: a rejected stream still lists at least one format.
        formats: offered.formats.iter().take(1).cloned().collect(),
        title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
        unknown: Vec::new(),
    }
}

/// Answers an offer (RFC 3264 §6). `hold` asks for our side to stop
/// receiving (we answer sendonly or inactive). `crypto` is our SRTP key,
/// used when the offer carries a supported `a=crypto`.
pub fn create_answer(
    cfg: &MediaConfig,
    offer: &Sdp,
    local_rtp: SocketAddr,
    session_id: u64,
    version: u64,
    hold: bool,
    crypto: Option<&SrtpKeys>,
) -> Result<(Sdp, Negotiated), NegotiationError> {
    let mut answer = skeleton(local_rtp, session_id, version);
    let mut negotiated = None;
    let mut first_err = None;
    for om in &offer.media {
        if negotiated.is_some() || om.port == 0 || !om.media.eq_ignore_ascii_case("audio") {
            answer.media.push(rejected_copy(om));
            continue;
        }
        match answer_stream(cfg, offer, om, local_rtp, hold, crypto) {
            Ok((m, n)) => {
                answer.media.push(m);
                negotiated = Some(n);
            }
            Err(e) => {
                first_err.get_or_insert(e);
                answer.media.push(rejected_copy(om));
            }
        }
    }
    match negotiated {
        Some(n) => Ok((answer, n)),
        None => Err(first_err.unwrap_or(NegotiationError::NoAudio)),
    }
}

fn answer_stream(
    cfg: &MediaConfig,
    offer: &Sdp,
    om: &Media,
    local_rtp: SocketAddr,
    hold: bool,
    crypto: Option<&SrtpKeys>,
) -> Result<(Media, Negotiated), NegotiationError> {
    if !is_rtp_profile(&om.proto) {
        return Err(NegotiationError::NoAudio);
    }
    // Offerer's order wins among the codecs we enabled (RFC 3264 §6.1
    // lets either choose; honouring the offer avoids a transcoding peer).
    let maps = om.rtpmaps();
    let (pt, kind) = payload_types(om)
        .filter_map(|pt| {
            let map = maps.iter().find(|m| m.payload_type == pt);
            CodecKind::from_format(pt, map).map(|k| (pt, k))
        })
        .find(|(_, k)| cfg.codecs.contains(k))
        .ok_or(NegotiationError::NoCommonCodec)?;

    let savp = is_savp(&om.proto);
    let offered_crypto = first_supported_crypto(om);
    let srtp = match (cfg.srtp, savp, offered_crypto, crypto) {
        (SrtpPolicy::Off, true, _, _) => return Err(NegotiationError::SrtpUnsupported),
        (SrtpPolicy::Off, false, _, _) => None,
        (_, _, Ok(Some((c, remote))), Some(local)) => {
            let mut local = local.clone();
            // The answer must use the suite it accepts (RFC 4568 §7.1.1).
            local.suite = remote.suite;
            Some((c.tag, local, remote))
        }
        (_, true, Ok(Some(_)), None) => return Err(NegotiationError::SrtpUnsupported),
        (_, true, Ok(None), _) => return Err(NegotiationError::SrtpUnsupported),
        (_, true, Err(e), _) => return Err(e),
        (SrtpPolicy::Mandatory, false, _, _) => return Err(NegotiationError::SrtpRequired),
        // Optional and plain offer, or best-effort crypto we cannot use.
        (SrtpPolicy::Optional, false, _, _) => None,
    };

    let rtcp_mux = om.rtcp_mux();
    let (remote_rtp, remote_rtcp) = remote_addresses(offer, om, rtcp_mux)?;
    let theirs = peer_direction(offer, om, remote_rtp.ip());
    let ours = if hold {
        Direction::SendOnly
    } else {
        Direction::SendRecv
    };
    let direction = intersect(ours, theirs.reversed());
    let codec = negotiated_codec(om, pt, kind);
    let tel = if cfg.telephone_event {
        telephone_event(om, codec.clock_rate)
    } else {
        None
    };

    let mut m = empty_media(local_rtp.port(), &om.proto);
    // Answer with the offerer's payload numbers (RFC 3264 §6.1).
    let fmtp = (kind == CodecKind::Opus).then(opus_fmtp);
    push_format(&mut m, kind.rtpmap(pt), fmtp);
    if let Some((tpt, clock)) = tel {
        push_format(
            &mut m,
            telephone_event_map(tpt, clock),
            Some("0-16".to_owned()),
        );
    }
    m.attributes.push(Attribute::value(
        "ptime",
        &cfg.ptime_ms.clamp(10, 120).to_string(),
    ));
    if rtcp_mux {
        m.attributes.push(Attribute::flag("rtcp-mux"));
    }
    if let Some((tag, local, _)) = &srtp {
        m.attributes.push(local.crypto_attr(*tag));
    }
    m.set_direction(direction);

    let n = Negotiated {
        remote_rtp,
        remote_rtcp,
        rtcp_mux,
        telephone_event_pt: tel.map(|t| t.0),
        telephone_event_clock: tel.map_or(8_000, |t| t.1),
        direction,
        ptime_ms: send_ptime(om.ptime(), cfg.ptime_ms, kind),
        srtp: srtp.map(|(_, l, r)| (l, r)),
        codec,
    };
    Ok((m, n))
}

/// Reads the answer to our offer (RFC 3264 §7). Our SRTP keys are taken
/// back from the offer's `a=crypto` line the answer accepted.
pub fn accept_answer(offer: &Sdp, answer: &Sdp) -> Result<Negotiated, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let (om, am) = offer
        .media
        .iter()
        .zip(&answer.media)
        .find(|(o, _)| o.port != 0 && o.media.eq_ignore_ascii_case("audio"))
        .ok_or(NegotiationError::NoAudio)?;
    if am.port == 0 {
        return Err(NegotiationError::Rejected);
    }
    let offered: Vec<CodecKind> = {
        let maps = om.rtpmaps();
        payload_types(om)
            .filter_map(|pt| CodecKind::from_format(pt, maps.iter().find(|m| m.payload_type == pt)))
            .collect()
    };
    let maps = am.rtpmaps();
    let (pt, kind) = payload_types(am)
        .filter_map(|pt| {
            CodecKind::from_format(pt, maps.iter().find(|m| m.payload_type == pt)).map(|k| (pt, k))
        })
        .find(|(_, k)| offered.contains(k))
        .ok_or(NegotiationError::NoCommonCodec)?;

    let our_crypto = om.crypto();
    let srtp = if our_crypto.is_empty() {
        None
    } else {
        match first_supported_crypto(am)? {
            Some((ac, remote)) => {
                // Our offered line with the tag the answer chose.
                let oc = our_crypto
                    .iter()
                    .find(|c| c.tag == ac.tag)
                    .ok_or(NegotiationError::SrtpUnsupported)?;
                let local = SrtpKeys::from_crypto(oc)?;
                Some((local, remote))
            }
            None if is_savp(&om.proto) => return Err(NegotiationError::SrtpRequired),
            None => None,
        }
    };

    // rtcp-mux only when both sides list it (RFC 5761 §5.1.1).
    let rtcp_mux = om.rtcp_mux() && am.rtcp_mux();
    let (remote_rtp, remote_rtcp) = remote_addresses(answer, am, rtcp_mux)?;
    let theirs = peer_direction(answer, am, remote_rtp.ip());
    let ours = intersect(om.direction(offer), theirs.reversed());
    let codec = negotiated_codec(am, pt, kind);
    let tel =
        telephone_event(om, codec.clock_rate).and_then(|_| telephone_event(am, codec.clock_rate));
    let our_ptime = om.ptime().unwrap_or(20);
    Ok(Negotiated {
        remote_rtp,
        remote_rtcp,
        rtcp_mux,
        telephone_event_pt: tel.map(|t| t.0),
        telephone_event_clock: tel.map_or(8_000, |t| t.1),
        direction: ours,
        ptime_ms: send_ptime(am.ptime(), our_ptime, kind),
        srtp,
        codec,
    })
}

#[cfg(test)]
mod tests;

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn parse(s: &str) -> Sdp {
    Sdp::parse(s.as_bytes()).unwrap()
}

fn keys(b: u8) -> SrtpKeys {
    SrtpKeys::from_bytes(SrtpSuite::AesCm128HmacSha1_80, &[b; 30])
}

fn answer(cfg: &MediaConfig, offer: &str, hold: bool) -> (Sdp, Negotiated) {
    create_answer(
        cfg,
        &parse(offer),
        addr("192.0.2.1:40000"),
        7,
        1,
        hold,
        Some(&keys(9)),
    )
    .unwrap()
}

fn answer_err(cfg: &MediaConfig, offer: &str) -> NegotiationError {
    create_answer(
        cfg,
        &parse(offer),
        addr("192.0.2.1:40000"),
        7,
        1,
        false,
        None,
    )
    .unwrap_err()
}

// baresip 3.x with opus, g722 and g711 modules loaded.
const BARESIP: &str = "v=0\r\n\
o=- 1785289953 2906573612 IN IP4 192.168.1.10\r\n\
s=-\r\n\
c=IN IP4 192.168.1.10\r\n\
t=0 0\r\n\
m=audio 10000 RTP/AVP 96 9 0 8 101\r\n\
b=AS:96\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=28000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:3214578 cname:abc\r\n\
a=rtcp-rsize\r\n\
a=ptime:20\r\n";

// Linphone: codecs we lack, several telephone-event clocks, separate RTCP
// port, and a video stream.
const LINPHONE: &str = "v=0\r\n\
o=alice 1234 5678 IN IP4 10.0.0.5\r\n\
s=Talk\r\n\
c=IN IP4 10.0.0.5\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
m=audio 7078 RTP/AVP 97 96 98 0 8 18 101 99 100\r\n\
a=rtpmap:97 SILK/16000\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:98 speex/16000\r\n\
a=fmtp:98 vbr=on\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=rtcp:7079\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
m=video 9078 RTP/AVP 96\r\n\
a=rtpmap:96 VP8/90000\r\n";

// Asterisk chan_pjsip, G.711 first, static types.
const ASTERISK: &str = "v=0\r\n\
o=- 1509029183 1509029185 IN IP4 203.0.113.5\r\n\
s=Asterisk\r\n\
c=IN IP4 203.0.113.5\r\n\
t=0 0\r\n\
m=audio 17062 RTP/AVP 0 8 3 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

fn with_direction(base: &str, d: &str) -> String {
    base.replace("a=sendrecv", d)
}

#[test]
fn default_offer_lists_codecs_events_and_attributes() {
    let cfg = MediaConfig::default();
    let o = create_offer(
        &cfg,
        addr("192.0.2.1:4000"),
        42,
        3,
        Direction::SendRecv,
        Some(&keys(1)),
    );
    let text = o.to_string();
    let o = parse(&text);
    assert_eq!(o.origin.session_id, "42");
    assert_eq!(o.origin.session_version, 3);
    assert_eq!(o.connection.as_ref().unwrap().address, "192.0.2.1");
    let m = &o.media[0];
    assert_eq!(m.port, 4000);
    assert_eq!(m.proto, "RTP/AVP");
    assert_eq!(m.formats, ["111", "9", "0", "8", "100", "101"]);
    assert_eq!(m.rtpmap(111).unwrap().to_string(), "111 opus/48000/2");
    assert_eq!(m.rtpmap(9).unwrap().to_string(), "9 G722/8000");
    assert_eq!(
        m.rtpmap(101).unwrap().to_string(),
        "101 telephone-event/8000"
    );
    assert_eq!(m.fmtp(111).unwrap().param("useinbandfec").unwrap(), "1");
    assert_eq!(m.fmtp(101).unwrap().params, "0-16");
    assert_eq!(m.ptime(), Some(20));
    assert!(m.rtcp_mux());
    assert_eq!(m.direction(&o), Direction::SendRecv);
    let c = &m.crypto()[0];
    assert_eq!(c.suite, "AES_CM_128_HMAC_SHA1_80");
    assert_eq!(SrtpKeys::from_crypto(c).unwrap(), keys(1));
}

#[test]
fn offer_follows_srtp_policy_and_direction() {
    let mut cfg = MediaConfig {
        codecs: vec![CodecKind::Pcma, CodecKind::Pcma],
        telephone_event: false,
        ..MediaConfig::default()
    };
    cfg.srtp = SrtpPolicy::Mandatory;
    let o = create_offer(
        &cfg,
        addr("[2001:db8::1]:5000"),
        1,
        1,
        Direction::SendOnly,
        Some(&keys(1)),
    );
    let m = &o.media[0];
    assert_eq!(m.proto, "RTP/SAVP");
    assert_eq!(m.formats, ["8"], "duplicates are dropped, no events");
    assert_eq!(m.direction(&o), Direction::SendOnly);
    assert_eq!(o.connection.as_ref().unwrap().addr_type, "IP6");
    cfg.srtp = SrtpPolicy::Off;
    let o = create_offer(
        &cfg,
        addr("192.0.2.1:5000"),
        1,
        1,
        Direction::Inactive,
        Some(&keys(1)),
    );
    assert!(o.media[0].crypto().is_empty());
    assert_eq!(o.media[0].proto, "RTP/AVP");
}

#[test]
fn parley_to_parley_with_srtp() {
    let cfg = MediaConfig::default();
    let offer = create_offer(
        &cfg,
        addr("192.0.2.1:4000"),
        1,
        1,
        Direction::SendRecv,
        Some(&keys(1)),
    );
    let offer = parse(&offer.to_string());
    let (ans, b) = create_answer(
        &cfg,
        &offer,
        addr("192.0.2.2:6000"),
        2,
        1,
        false,
        Some(&keys(2)),
    )
    .unwrap();
    let ans = parse(&ans.to_string());
    let a = accept_answer(&offer, &ans).unwrap();
    assert_eq!(a.codec.kind, CodecKind::Opus);
    assert_eq!(a.codec.payload_type, 111);
    assert_eq!(b.codec.payload_type, 111);
    assert!(a.codec.opus.use_inband_fec && b.codec.opus.use_inband_fec);
    assert_eq!(a.remote_rtp, addr("192.0.2.2:6000"));
    assert_eq!(b.remote_rtp, addr("192.0.2.1:4000"));
    assert!(a.rtcp_mux && b.rtcp_mux);
    assert_eq!(a.remote_rtcp, a.remote_rtp);
    assert_eq!(a.telephone_event_pt, Some(100), "48 kHz events for Opus");
    assert_eq!(a.telephone_event_clock, 48_000);
    assert_eq!(b.telephone_event_pt, Some(100));
    assert_eq!(a.direction, Direction::SendRecv);
    assert_eq!(a.ptime_ms, 20);
    let (al, ar) = a.srtp.clone().unwrap();
    let (bl, br) = b.srtp.clone().unwrap();
    assert_eq!((al.clone(), ar.clone()), (keys(1), keys(2)));
    assert_eq!((bl, br), (ar, al));
}

#[test]
fn answers_baresip() {
    let (ans, n) = answer(&MediaConfig::default(), BARESIP, false);
    let m = &ans.media[0];
    assert_eq!(m.formats, ["96", "101"], "offerer's numbers, one codec");
    assert_eq!(m.port, 40000);
    assert!(!m.rtcp_mux(), "not offered, not answered");
    assert!(m.crypto().is_empty(), "plain offer without crypto");
    assert_eq!(m.direction(&ans), Direction::SendRecv);
    assert_eq!(n.codec.kind, CodecKind::Opus);
    assert_eq!(n.codec.payload_type, 96);
    assert_eq!(n.codec.channels, 2);
    assert!(n.codec.opus.stereo);
    assert!(!n.codec.opus.use_inband_fec);
    assert_eq!(n.codec.opus.max_average_bitrate, Some(28_000));
    assert_eq!(n.telephone_event_pt, Some(101));
    assert_eq!(n.telephone_event_clock, 8_000);
    assert_eq!(n.remote_rtp, addr("192.168.1.10:10000"));
    assert_eq!(n.remote_rtcp, addr("192.168.1.10:10001"));
    assert!(n.srtp.is_none());
}

#[test]
fn answers_linphone_rejecting_video() {
    let (ans, n) = answer(&MediaConfig::default(), LINPHONE, false);
    assert_eq!(ans.media.len(), 2, "same m-line count (RFC 3264 §6)");
    assert_eq!(ans.media[0].formats, ["96", "101"]);
    assert_eq!(ans.media[1].port, 0);
    assert_eq!(ans.media[1].media, "video");
    assert_eq!(ans.media[1].formats, ["96"]);
    assert_eq!(n.codec.payload_type, 96);
    assert!(n.codec.opus.use_inband_fec);
    assert_eq!(n.telephone_event_pt, Some(101), "clock matches Opus");
    assert_eq!(n.remote_rtcp, addr("10.0.0.5:7079"), "a=rtcp");
    assert!(!n.rtcp_mux);
}

#[test]
fn answers_asterisk_in_offer_order_among_enabled_codecs() {
    let cfg = MediaConfig {
        codecs: vec![CodecKind::G722, CodecKind::Pcma, CodecKind::Pcmu],
        ..MediaConfig::default()
    };
    let (ans, n) = answer(&cfg, ASTERISK, false);
    assert_eq!(n.codec.kind, CodecKind::Pcmu);
    assert_eq!(n.codec.clock_rate, 8000);
    assert_eq!(ans.media[0].formats, ["0", "101"]);
    assert_eq!(n.ptime_ms, 20);
    let only_g722 = MediaConfig {
        codecs: vec![CodecKind::G722],
        ..MediaConfig::default()
    };
    let (_, n) = answer(&only_g722, ASTERISK, false);
    assert_eq!(n.codec.kind, CodecKind::G722);
    assert_eq!(n.codec.payload_type, 9);
    assert_eq!(n.codec.clock_rate, 8000, "G.722 RTP clock quirk");
    let opus_only = MediaConfig {
        codecs: vec![CodecKind::Opus],
        ..MediaConfig::default()
    };
    assert_eq!(
        answer_err(&opus_only, ASTERISK),
        NegotiationError::NoCommonCodec
    );
}

#[test]
fn directions_are_mirrored() {
    let cfg = MediaConfig::default();
    let cases = [
        ("a=sendrecv", false, Direction::SendRecv),
        ("a=sendonly", false, Direction::RecvOnly),
        ("a=recvonly", false, Direction::SendOnly),
        ("a=inactive", false, Direction::Inactive),
        ("a=sendrecv", true, Direction::SendOnly),
        ("a=sendonly", true, Direction::Inactive),
        ("a=recvonly", true, Direction::SendOnly),
    ];
    for (attr, hold, want) in cases {
        let (ans, n) = answer(&cfg, &with_direction(ASTERISK, attr), hold);
        assert_eq!(n.direction, want, "{attr} hold={hold}");
        assert_eq!(ans.media[0].direction(&ans), want, "{attr} hold={hold}");
    }
    // Session-level direction applies when the media has none.
    let s = ASTERISK
        .replace("a=sendrecv\r\n", "")
        .replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    assert_eq!(answer(&cfg, &s, false).1.direction, Direction::RecvOnly);
}

#[test]
fn rfc2543_hold_with_zero_address() {
    let cfg = MediaConfig::default();
    let held = ASTERISK.replace("c=IN IP4 203.0.113.5", "c=IN IP4 0.0.0.0");
    let (_, n) = answer(&cfg, &held, false);
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(n.remote_rtp.ip().is_unspecified());
    let held_inactive = with_direction(&held, "a=recvonly");
    assert_eq!(
        answer(&cfg, &held_inactive, false).1.direction,
        Direction::Inactive
    );
}

#[test]
fn ipv6_media_level_connection_and_static_types_without_rtpmap() {
    let offer = "v=0\r\n\
o=- 1 1 IN IP6 2001:db8::9\r\n\
s=-\r\n\
c=IN IP4 198.51.100.1\r\n\
t=0 0\r\n\
m=audio 5004 RTP/AVP 8 0\r\n\
c=IN IP6 2001:db8::9\r\n\
a=rtcp:5010 IN IP6 2001:db8::10\r\n\
a=ptime:30\r\n";
    let (ans, n) = answer(&MediaConfig::default(), offer, false);
    assert_eq!(n.codec.kind, CodecKind::Pcma);
    assert_eq!(n.remote_rtp, addr("[2001:db8::9]:5004"));
    assert_eq!(n.remote_rtcp, addr("[2001:db8::10]:5010"));
    assert_eq!(n.ptime_ms, 30);
    assert_eq!(n.telephone_event_pt, None);
    assert_eq!(ans.media[0].rtpmap(8).unwrap().encoding, "PCMA");
}

#[test]
fn encoding_names_are_case_insensitive_and_ptime_fits_opus() {
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 120 0\r\na=rtpmap:120 OPUS/48000/2\r\na=rtpmap:0 pcmu/8000\r\n\
a=ptime:30\r\n";
    let (_, n) = answer(&MediaConfig::default(), offer, false);
    assert_eq!(n.codec.kind, CodecKind::Opus);
    assert_eq!(n.codec.payload_type, 120);
    assert_eq!(n.ptime_ms, 20, "Opus has no 30 ms frames");
    let pcmu = MediaConfig {
        codecs: vec![CodecKind::Pcmu],
        ..MediaConfig::default()
    };
    let (_, n) = answer(&pcmu, offer, false);
    assert_eq!((n.codec.kind, n.ptime_ms), (CodecKind::Pcmu, 30));
}

#[test]
fn srtp_offers() {
    let savp = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
m=audio 5004 RTP/SAVP 0\r\n\
a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n";
    let (ans, n) = answer(&MediaConfig::default(), savp, false);
    assert_eq!(ans.media[0].proto, "RTP/SAVP");
    let c = &ans.media[0].crypto()[0];
    assert_eq!((c.tag, c.suite.as_str()), (2, "AES_CM_128_HMAC_SHA1_32"));
    let (local, remote) = n.srtp.unwrap();
    assert_eq!(local.suite, SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(local.master_key, [9; 16]);
    assert_eq!(remote.inline(), "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");

    let off = MediaConfig {
        srtp: SrtpPolicy::Off,
        ..MediaConfig::default()
    };
    assert_eq!(answer_err(&off, savp), NegotiationError::SrtpUnsupported);
    // SAVP but we were given no keys.
    assert_eq!(
        answer_err(&MediaConfig::default(), savp),
        NegotiationError::SrtpUnsupported
    );
    let mand = MediaConfig {
        srtp: SrtpPolicy::Mandatory,
        ..MediaConfig::default()
    };
    assert_eq!(answer_err(&mand, ASTERISK), NegotiationError::SrtpRequired);

    // Best-effort crypto on RTP/AVP (baresip "srtp"): accepted when we
    // have keys, ignored when we do not.
    let avp = ASTERISK.replace(
        "a=ptime:20\r\n",
        "a=ptime:20\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n",
    );
    let (ans, n) = answer(&MediaConfig::default(), &avp, false);
    assert_eq!(ans.media[0].proto, "RTP/AVP");
    assert!(n.srtp.is_some());
    let bad = savp.replace("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "!!notbase64");
    let e = create_answer(
        &MediaConfig::default(),
        &parse(&bad),
        addr("192.0.2.1:1"),
        1,
        1,
        false,
        Some(&keys(3)),
    )
    .unwrap_err();
    assert_eq!(e, NegotiationError::BadKey);
}

#[test]
fn unusable_offers() {
    let cfg = MediaConfig::default();
    let no_c = "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
    assert_eq!(answer_err(&cfg, no_c), NegotiationError::NoConnection);
    let host =
        "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 pbx.example.com\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
    assert_eq!(answer_err(&cfg, host), NegotiationError::Address);
    let video_only =
        "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 5004 RTP/AVP 96\r\n";
    assert_eq!(answer_err(&cfg, video_only), NegotiationError::NoAudio);
    let webrtc = "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5004 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    assert_eq!(answer_err(&cfg, webrtc), NegotiationError::NoAudio);
    // Two audio streams: the first is used, the second rejected.
    let two = format!("{ASTERISK}m=audio 17064 RTP/AVP 0\r\n");
    let (ans, n) = answer(&cfg, &two, false);
    assert_eq!(n.remote_rtp.port(), 17062);
    assert_eq!((ans.media[0].port, ans.media[1].port), (40000, 0));
}

#[test]
fn accept_answer_checks() {
    let cfg = MediaConfig::default();
    let offer = create_offer(
        &cfg,
        addr("192.0.2.1:4000"),
        1,
        1,
        Direction::SendRecv,
        None,
    );
    let ans = |body: &str| accept_answer(&offer, &parse(body));
    let base = "v=0\r\no=- 1 1 IN IP4 198.51.100.2\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n";
    let n = ans(&format!(
        "{base}m=audio 8000 RTP/AVP 9 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp-mux\r\na=ptime:40\r\na=recvonly\r\n"
    ))
    .unwrap();
    assert_eq!(n.codec.kind, CodecKind::G722);
    assert_eq!(n.direction, Direction::SendOnly);
    assert_eq!(n.ptime_ms, 40);
    assert!(n.rtcp_mux);
    assert_eq!(n.telephone_event_pt, Some(101));
    assert!(n.srtp.is_none());
    assert_eq!(
        ans(&format!("{base}m=audio 0 RTP/AVP 0\r\n")).unwrap_err(),
        NegotiationError::Rejected
    );
    assert_eq!(
        ans(&format!("{base}m=audio 8000 RTP/AVP 3\r\n")).unwrap_err(),
        NegotiationError::NoCommonCodec
    );
    assert_eq!(
        ans(&format!(
            "{base}m=audio 8000 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n"
        ))
        .unwrap_err(),
        NegotiationError::MediaCountMismatch {
            offer: 1,
            answer: 2
        }
    );
    // Answer holds us the old way.
    let n = ans(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert_eq!(n.direction, Direction::RecvOnly);
    assert_eq!(n.telephone_event_pt, None);

    // SRTP: mandatory offer answered in plain RTP is refused.
    let mand = MediaConfig {
        srtp: SrtpPolicy::Mandatory,
        ..cfg
    };
    let offer = create_offer(
        &mand,
        addr("192.0.2.1:4000"),
        1,
        1,
        Direction::SendRecv,
        Some(&keys(4)),
    );
    assert_eq!(
        accept_answer(
            &offer,
            &parse(&format!("{base}m=audio 8000 RTP/SAVP 0\r\n"))
        )
        .unwrap_err(),
        NegotiationError::SrtpRequired
    );
}

#[test]
fn srtp_keys_generate_and_parse() {
    let a = SrtpKeys::generate(SrtpSuite::AesCm128HmacSha1_80).unwrap();
    let b = SrtpKeys::generate(SrtpSuite::AesCm128HmacSha1_80).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.inline().len(), 40);
    let dbg = format!("{a:?}");
    assert!(!dbg.contains(&a.inline()) && !dbg.contains(&format!("{:?}", a.master_key)));
    let c = Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", a.inline())).unwrap();
    assert_eq!(SrtpKeys::from_crypto(&c).unwrap(), a);
    let short = Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA").unwrap();
    assert_eq!(SrtpKeys::from_crypto(&short), Err(NegotiationError::BadKey));
}

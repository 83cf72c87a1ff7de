use super::*;
use crate::sdp::{
    accept_answer, create_answer, create_offer, MediaConfig, SrtpKeys, SrtpPolicy, SrtpSuite,
};

const A: &str = "127.0.0.1:4000";
const B: &str = "127.0.0.1:6000";

fn negotiate(codecs: Vec<CodecKind>, srtp: bool) -> (Negotiated, Negotiated) {
    let cfg = MediaConfig {
        codecs,
        srtp: if srtp {
            SrtpPolicy::Mandatory
        } else {
            SrtpPolicy::Off
        },
        ..MediaConfig::default()
    };
    let ka = SrtpKeys::from_bytes(SrtpSuite::AesCm128HmacSha1_80, &[1; 30]);
    let kb = SrtpKeys::from_bytes(SrtpSuite::AesCm128HmacSha1_80, &[2; 30]);
    let offer = create_offer(
        &cfg,
        A.parse().unwrap(),
        1,
        1,
        Direction::SendRecv,
        Some(&ka),
    );
    let (answer, nb) =
        create_answer(&cfg, &offer, B.parse().unwrap(), 2, 1, false, Some(&kb)).unwrap();
    let na = accept_answer(&offer, &answer).unwrap();
    (na, nb)
}

fn tone(n: usize) -> i16 {
    let t = n as f32 / SESSION_RATE as f32;
    ((2.0 * std::f32::consts::PI * 440.0 * t).sin() * 6000.0
        + (2.0 * std::f32::consts::PI * 1100.0 * t).sin() * 3000.0) as i16
}

/// Impairments of the simulated link, decided per packet index.
struct Link {
    loss_every: usize,
    reorder_every: usize,
    duplicate_every: usize,
    jitter_ms: u64,
}

/// Runs A -> B for `ms` of virtual time; returns (sent, heard, B events).
fn run(
    a: &mut AudioSession,
    b: &mut AudioSession,
    link: &Link,
    ms: u64,
) -> (Vec<i16>, Vec<i16>, Vec<MediaEvent>) {
    let start = Instant::now();
    let mut in_flight: Vec<(Instant, Vec<u8>)> = Vec::new();
    let (mut sent, mut heard, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let mut n = 0usize;
    let mut pkt_no = 0usize;
    for step in 0..ms / 10 {
        let now = start + Duration::from_millis(step * 10);
        let block: Vec<i16> = (0..480).map(|i| tone(n + i)).collect();
        n += 480;
        sent.extend_from_slice(&block);
        a.push_capture(&block);
        while let Some((p, dest)) = a.poll_transmit(now) {
            assert_eq!(dest, B.parse().unwrap());
            pkt_no += 1;
            if link.loss_every > 0 && pkt_no.is_multiple_of(link.loss_every) {
                continue;
            }
            // Pseudo-random jitter, and every k-th packet held back a
            // further 30 ms so it overtakes nothing but is overtaken.
            let mut delay = (pkt_no as u64 * 7919) % (link.jitter_ms + 1);
            if link.reorder_every > 0 && pkt_no.is_multiple_of(link.reorder_every) {
                delay += 30;
            }
            let at = now + Duration::from_millis(delay);
            if link.duplicate_every > 0 && pkt_no.is_multiple_of(link.duplicate_every) {
                in_flight.push((at, p.clone()));
            }
            in_flight.push((at, p));
        }
        in_flight.sort_by_key(|(t, _)| *t);
        while in_flight.first().is_some_and(|(t, _)| *t <= now) {
            let (_, p) = in_flight.remove(0);
            b.handle_packet(now, Some(A.parse().unwrap()), &p);
        }
        let mut out = [0i16; 480];
        b.pull_playout(now, &mut out);
        heard.extend_from_slice(&out);
        while let Some(e) = b.poll_event() {
            events.push(e);
        }
        // B's RTCP back to A.
        while let Some((p, _)) = b.poll_transmit(now) {
            a.handle_packet(now, Some(B.parse().unwrap()), &p);
        }
    }
    (sent, heard, events)
}

/// SNR after aligning `heard` to `sent` (the jitter buffer adds delay,
/// and stretches playout by a few samples a frame to follow the sender's
/// clock: the lag is followed block by block).
fn aligned_snr(sent: &[i16], heard: &[i16]) -> f64 {
    let skip = 48_000; // first second: priming
    let win = 2400;
    let corr = |lag: usize, at: usize| -> f64 {
        (0..win)
            .map(|i| f64::from(sent[at + i]) * f64::from(heard[at + i + lag]))
            .sum()
    };
    let mut lag = (0..(SESSION_RATE as usize * 3 / 10))
        .max_by(|&x, &y| corr(x, skip).total_cmp(&corr(y, skip)))
        .unwrap_or(0);
    let (mut s, mut e) = (0.0f64, 0.0f64);
    let mut at = skip;
    while at + win + lag + 64 < heard.len().min(sent.len()) {
        let lo = lag.saturating_sub(16);
        lag = (lo..lag + 16)
            .max_by(|&x, &y| corr(x, at).total_cmp(&corr(y, at)))
            .unwrap_or(lag);
        for i in at..at + win {
            let r = f64::from(sent[i]);
            s += r * r;
            let d = f64::from(heard[i + lag]) - r;
            e += d * d;
        }
        at += win;
    }
    10.0 * (s / e.max(1.0)).log10()
}

/// Share of 10 ms blocks (after priming) that are near-silent.
fn silent_share(heard: &[i16]) -> f64 {
    let blocks: Vec<_> = heard[48_000..].chunks(480).collect();
    let quiet = blocks
        .iter()
        .filter(|b| b.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / 480.0 < 100_000.0)
        .count();
    quiet as f64 / blocks.len() as f64
}

#[test]
fn opus_over_lossy_reordering_link() {
    let (na, nb) = negotiate(vec![CodecKind::Opus], false);
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    let mut b = AudioSession::new(&nb, now).unwrap();
    // Concealment and FEC are under test here, not the copies.
    a.set_redundancy(false);
    let link = Link {
        loss_every: 20,
        reorder_every: 7,
        duplicate_every: 11,
        jitter_ms: 20,
    };
    let (sent, heard, events) = run(&mut a, &mut b, &link, 6000);
    let snr = aligned_snr(&sent, &heard);
    let quiet = silent_share(&heard);
    assert!(snr > 3.0, "SNR {snr:.1} dB");
    assert!(quiet < 0.03, "{:.1}% silent blocks", quiet * 100.0);
    let stats: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Stats(s) => Some(s),
            _ => None,
        })
        .collect();
    let s = stats.last().expect("a stats event per RTCP report");
    assert!(s.loss_percent > 2.0 && s.loss_percent < 10.0, "{s:?}");
    assert!(s.jitter_ms > 0.5, "{s:?}");
    assert!(s.mos > 2.5 && s.mos <= 4.5, "{s:?}");
}

#[test]
fn g711_and_g722_clean_link_snr() {
    for (kind, min) in [(CodecKind::Pcmu, 25.0), (CodecKind::G722, 15.0)] {
        let (na, nb) = negotiate(vec![kind], false);
        let now = Instant::now();
        let mut a = AudioSession::new(&na, now).unwrap();
        let mut b = AudioSession::new(&nb, now).unwrap();
        let link = Link {
            loss_every: 0,
            reorder_every: 0,
            duplicate_every: 0,
            jitter_ms: 0,
        };
        let (sent, heard, _) = run(&mut a, &mut b, &link, 3000);
        let snr = aligned_snr(&sent, &heard);
        assert!(snr > min, "{kind:?}: {snr:.1} dB");
    }
}

#[test]
fn rtt_is_measured_from_reports() {
    let (na, nb) = negotiate(vec![CodecKind::Pcma], false);
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    let mut b = AudioSession::new(&nb, now).unwrap();
    let link = Link {
        loss_every: 0,
        reorder_every: 0,
        duplicate_every: 0,
        jitter_ms: 0,
    };
    // A sends (SR at 5 s); B reports back at its own 5 s tick, so A learns
    // an RTT once B's RR carries A's LSR (second round).
    run(&mut a, &mut b, &link, 11_000);
    a.push_stats();
    let rtt = std::iter::from_fn(|| a.poll_event())
        .filter_map(|e| match e {
            MediaEvent::Stats(s) => s.rtt_ms,
            _ => None,
        })
        .last();
    // Zero network delay in the simulation: RTT is within one step.
    assert!(rtt.is_some_and(|r| r < 20.0), "{rtt:?}");
}

#[test]
fn dtmf_end_to_end() {
    let (na, nb) = negotiate(vec![CodecKind::Pcmu], false);
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    let mut b = AudioSession::new(&nb, now).unwrap();
    for d in "159#*D".chars() {
        a.send_dtmf(d).unwrap();
    }
    assert!(matches!(a.send_dtmf('x'), Err(SessionError::BadDigit)));
    let link = Link {
        loss_every: 0,
        reorder_every: 0,
        duplicate_every: 3,
        jitter_ms: 0,
    };
    let (_, _, events) = run(&mut a, &mut b, &link, 2500);
    let digits: String = events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::DtmfReceived(d) => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(digits, "159#*D");
}

#[test]
fn dtmf_packets_follow_rfc4733() {
    let (na, _) = negotiate(vec![CodecKind::Pcmu], false);
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    a.send_dtmf('7').unwrap();
    let mut pkts = Vec::new();
    for i in 0..12 {
        let t = now + Duration::from_millis(i * 20);
        while let Some((p, _)) = a.poll_transmit(t) {
            pkts.push(p);
        }
    }
    let parsed: Vec<_> = pkts
        .iter()
        .map(|p| rtc_rtp::packet::Packet::unmarshal(&mut p.as_slice()).unwrap())
        .collect();
    let ends = parsed.iter().filter(|p| p.payload[1] & 0x80 != 0).count();
    assert_eq!(ends, 3, "three end packets");
    assert!(parsed[0].header.marker && !parsed[1].header.marker);
    assert!(parsed.iter().all(|p| p.payload[0] == 7
        && p.header.timestamp == parsed[0].header.timestamp
        && Some(p.header.payload_type) == na.telephone_event_pt));
    let seqs: Vec<u16> = parsed.iter().map(|p| p.header.sequence_number).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    let last = &parsed.last().unwrap().payload;
    assert_eq!(
        u16::from_be_bytes([last[2], last[3]]),
        800,
        "100 ms at 8 kHz"
    );
}

#[test]
fn srtp_round_trip_and_forgeries_dropped() {
    let (na, nb) = negotiate(vec![CodecKind::Pcmu], true);
    assert!(na.srtp.is_some());
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    let mut b = AudioSession::new(&nb, now).unwrap();
    let link = Link {
        loss_every: 0,
        reorder_every: 0,
        duplicate_every: 5,
        jitter_ms: 0,
    };
    let (sent, heard, _) = run(&mut a, &mut b, &link, 3000);
    assert!(aligned_snr(&sent, &heard) > 25.0);

    // A flipped payload bit fails authentication; a replay is refused.
    a.push_capture(&[1000; 960]);
    let (p, _) = a.poll_transmit(now).unwrap();
    let before = b.rx.received;
    let mut forged = p.clone();
    let mid = forged.len() / 2;
    forged[mid] ^= 1;
    b.handle_rtp(now, &forged);
    assert_eq!(b.rx.received, before, "forged packet accepted");
    b.handle_rtp(now, &p);
    assert_eq!(b.rx.received, before + 1);
    b.handle_rtp(now, &p);
    assert_eq!(b.rx.received, before + 1, "replay accepted");
    // Plain RTP is not SRTP: dropped.
    let (nplain, _) = negotiate(vec![CodecKind::Pcmu], false);
    let mut plain = AudioSession::new(&nplain, now).unwrap();
    plain.push_capture(&[0; 960]);
    let (p, _) = plain.poll_transmit(now).unwrap();
    b.handle_rtp(now, &p);
    assert_eq!(b.rx.received, before + 1);
}

#[test]
fn ssrc_change_mid_call_keeps_audio() {
    let (na, nb) = negotiate(vec![CodecKind::Pcmu], false);
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    let mut b = AudioSession::new(&nb, now).unwrap();
    let link = Link {
        loss_every: 0,
        reorder_every: 0,
        duplicate_every: 0,
        jitter_ms: 0,
    };
    run(&mut a, &mut b, &link, 1500);
    // The peer restarts its stream (e.g. a PBX bridging another leg).
    a.ssrc = a.ssrc.wrapping_add(12345);
    a.seq = a.seq.wrapping_add(30_000);
    let (_, heard, _) = run(&mut a, &mut b, &link, 1500);
    assert!(silent_share(&heard[..]) < 0.05);
}

#[test]
fn hold_sends_nothing_but_rtcp_and_timestamps_continue() {
    let (mut na, _) = negotiate(vec![CodecKind::Pcmu], false);
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    a.push_capture(&[0; 960]);
    let (p1, _) = a.poll_transmit(now).unwrap();
    na.direction = Direction::RecvOnly;
    a.update(&na).unwrap();
    a.push_capture(&[0; 960]);
    assert!(a.poll_transmit(now).is_none());
    let later = now + Duration::from_secs(6);
    let (rtcp, _) = a.poll_transmit(later).expect("RTCP keeps the path open");
    assert_eq!(rtcp[1], 200, "sender report: we sent since the last one");
    let (rtcp, _) = a
        .poll_transmit(later + Duration::from_secs(5))
        .expect("RTCP keeps the path open");
    assert_eq!(rtcp[1], 201, "receiver report while not sending");
    na.direction = Direction::SendRecv;
    na.codec.kind = CodecKind::Pcma;
    na.codec.payload_type = 8;
    a.update(&na).unwrap();
    a.push_capture(&[0; 960]);
    let (p2, _) = a.poll_transmit(later).unwrap();
    let h1 = rtc_rtp::packet::Packet::unmarshal(&mut p1.as_slice()).unwrap();
    let h2 = rtc_rtp::packet::Packet::unmarshal(&mut p2.as_slice()).unwrap();
    assert_eq!(h1.header.ssrc, h2.header.ssrc);
    assert_eq!(
        h2.header.sequence_number,
        h1.header.sequence_number.wrapping_add(1)
    );
    assert_eq!(h2.header.payload_type, 8);
    assert!(h2.header.marker, "marker after the codec change");
}

#[test]
fn hostile_bytes_never_panic() {
    for srtp in [false, true] {
        let (na, _) = negotiate(vec![CodecKind::Opus], srtp);
        let now = Instant::now();
        let mut s = AudioSession::new(&na, now).unwrap();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let len = (rnd() % 200) as usize;
            let mut p: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            if len > 1 && i % 2 == 0 {
                // Look like RTP v2 with our PT or RTCP, to go deeper.
                p[0] = 0x80 | (p[0] & 0x3F);
                p[1] = if i % 4 == 0 { 200 + (p[1] % 5) } else { 111 };
            }
            s.handle_rtp(now, &p);
            let mut out = [0i16; 480];
            s.pull_playout(now, &mut out);
        }
        while s.poll_event().is_some() {}
    }
}

/// A clean link between two ends whose 20 ms clocks differ by `drift`
/// (0.001 = the sender 0.1 % slow): the sender's frames arrive
/// `phase_us` after the receiver's ticks (plus up to 1 ms of wobble), so
/// with `phase_us` near 0 they land right on the receiver's playout
/// slots. Returns the receiver and what it played (48 kHz).
fn drifting_link(
    kind: CodecKind,
    drift: f64,
    phase_us: i64,
    secs: u64,
) -> (AudioSession, Vec<i16>) {
    let (na, nb) = negotiate(vec![kind], false);
    let t0 = Instant::now();
    let mut a = AudioSession::new(&na, t0).unwrap();
    let mut b = AudioSession::new(&nb, t0).unwrap();
    let at = |us: i64| t0 + Duration::from_micros(us.max(0) as u64);
    let mut heard = Vec::new();
    let (mut k, mut n) = (0i64, 0usize);
    let mut in_flight: Vec<(i64, Vec<u8>)> = Vec::new();
    for j in 0..(secs as i64 * 50) {
        let tick = j * 20_000;
        // Every sender tick due by now: capture, send, into the link.
        loop {
            let send = 1_000_000 + phase_us + (k as f64 * 20_000.0 * (1.0 + drift)) as i64;
            if send - 1_000_000 > tick {
                break;
            }
            let block: Vec<i16> = (0..960).map(|i| tone(n + i)).collect();
            n += 960;
            a.push_capture(&block);
            while let Some((p, _)) = a.poll_transmit(at(send)) {
                let wobble = (k * 7919) % 1000;
                in_flight.push((send - 1_000_000 + wobble, p));
            }
            k += 1;
        }
        in_flight.sort_by_key(|(t, _)| *t);
        while in_flight.first().is_some_and(|(t, _)| *t <= tick) {
            let (t, p) = in_flight.remove(0);
            b.handle_packet(at(1_000_000 + t), Some(A.parse().unwrap()), &p);
        }
        let mut out = [0i16; 960];
        b.pull_playout(at(1_000_000 + tick), &mut out);
        heard.extend_from_slice(&out);
    }
    (b, heard)
}

/// Largest step between neighbouring samples after the first second.
fn max_step(heard: &[i16]) -> i32 {
    heard[48_000..]
        .windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap_or(0)
}

#[test]
fn clean_link_with_drifting_clocks_conceals_and_drops_nothing() {
    // The tone's own steepest step is about 780; a dropped or concealed
    // frame shows as a jump in phase far above that.
    let mut cases = vec![(CodecKind::Opus, 0.001, 0)];
    for drift in [-0.001, 0.001] {
        for phase_us in [0, 300, 10_000] {
            cases.push((CodecKind::Pcmu, drift, phase_us));
        }
    }
    for (kind, drift, phase_us) in cases {
        {
            {
                let (b, heard) = drifting_link(kind, drift, phase_us, 30);
                let what = format!(
                    "{kind:?} drift {drift} phase {phase_us} us: concealed {} late {} dropped {}",
                    b.jb.concealed, b.jb.late, b.jb.dropped
                );
                assert!(b.jb.concealed <= 1, "{what}: {} concealed", b.jb.concealed);
                assert_eq!(b.jb.dropped, 0, "{what}: dropped");
                if kind == CodecKind::Pcmu {
                    let step = max_step(&heard);
                    assert!(step < 1000, "{what}: a step of {step}");
                }
            }
        }
    }
}

#[test]
fn fec_follows_reported_loss_and_stops_on_a_clean_link() {
    let mut f = FecPlan::default();
    // Before the peer reports, our own loss stands in.
    assert_eq!(f.own_loss(0.0), Some(0), "clean start: no FEC");
    assert_eq!(f.own_loss(4.2), Some(5), "own loss seen: plan for it");
    // The peer's report takes over; ours is ignored from then on.
    assert_eq!(f.peer_report(8.0), 8, "rises at once");
    assert_eq!(f.own_loss(30.0), None);
    // A clean interval halves it, it does not drop at once.
    assert_eq!(f.peer_report(0.0), 4);
    assert_eq!(f.peer_report(3.0), 3, "never below what is reported");
    assert_eq!(f.peer_report(0.0), 2);
    assert_eq!(f.peer_report(0.0), 1);
    assert_eq!(f.peer_report(0.0), 0, "FEC stops after a few clean reports");
    assert_eq!(f.peer_report(0.0), 0);
}

#[test]
fn redundancy_starts_on_reported_loss_and_stops_after_half_a_minute_clean() {
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut r = Redundancy::starting(t0);
    assert!(r.on, "a call starts protected");
    assert!(!r.observe(at(1), 0.0, false), "not yet looked");
    assert!(r.observe(at(3), 0.0, false), "first look: clean, off");
    assert!(
        !r.observe(at(4), 1.5, true),
        "1.5 % is not worth the bitrate"
    );
    assert!(r.observe(at(5), 4.0, true), "4 % reported: copies on");
    assert_eq!(r.residual(5), 0, "5 % either way leaves 0.25 %: no FEC");
    assert_eq!(r.residual(20), 4);
    // The peer now sees the gaps filled; our own receive loss says the
    // path still loses.
    assert!(!r.observe(at(10), 0.0, true));
    assert!(!r.observe(at(12), 3.0, false));
    assert!(!r.observe(at(40), 0.0, true), "28 s since loss was seen");
    assert!(r.on);
    assert!(r.observe(at(43), 0.0, false), "30 s clean: off, to measure");
    assert!(!r.on && r.pending.is_none());
    assert_eq!(r.residual(5), 5);
    // Residual loss the peer still reports also keeps them on.
    assert!(r.observe(at(50), 6.0, true));
    assert!(!r.observe(at(75), 0.4, true));
    assert!(
        !r.observe(at(106), 0.0, true),
        "the peer's clean reports prove little"
    );
    assert!(r.observe(at(107), 0.0, false), "ours: 32 s since the 0.4 %");
    // No audio back (no own figures): 30 s more of clean reports.
    let mut r = Redundancy::starting(t0);
    assert!(!r.observe(at(3), 0.0, true));
    assert!(!r.observe(at(31), 0.0, true));
    assert!(r.observe(at(33), 0.0, true));
    // A lossy start keeps them on.
    let mut r = Redundancy::starting(t0);
    assert!(!r.observe(at(3), 5.0, false));
    assert!(r.on);
    // Switched off by the user: never on.
    let mut off = Redundancy::default();
    assert!(!off.observe(at(0), 50.0, true));
}

#[test]
fn path_loss_is_seen_through_the_peers_copies() {
    let now = Instant::now();
    // The peer sends every packet twice; the path drops 5 % of packets:
    // five originals and five copies, never both of one frame.
    let mut r = Receiver::default();
    for seq in 0..100u16 {
        if seq % 20 != 7 {
            r.extend(9, seq);
        }
        if seq % 20 != 13 {
            let (_, fresh) = r.extend(9, seq);
            assert_eq!(fresh, seq % 20 == 7, "seq {seq}");
        }
    }
    let rep = r.report(now).unwrap();
    assert_eq!(rep.fraction_lost, 0, "every frame arrived once at least");
    assert!((r.path_loss - 5.0).abs() < 0.01, "{}", r.path_loss);
    // Without copies the path's loss is the frames' loss.
    for seq in 100..200u16 {
        if seq % 20 != 7 {
            r.extend(9, seq);
        }
    }
    let rep = r.report(now).unwrap();
    assert_eq!(rep.fraction_lost, 12, "5 % of 256");
    assert!((r.path_loss - 5.0).abs() < 0.01, "{}", r.path_loss);
}

/// Both ends send audio through a link dropping every 20th datagram
/// each way; returns what each heard, and the stats each reported.
fn run_both_ways(
    a: &mut AudioSession,
    b: &mut AudioSession,
    ms: u64,
) -> (Vec<MediaEvent>, Vec<MediaEvent>) {
    let start = Instant::now();
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    let (mut na, mut nb) = (0usize, 0usize);
    let mut n = 0usize;
    for step in 0..ms / 10 {
        let now = start + Duration::from_millis(step * 10);
        let block: Vec<i16> = (0..480).map(|i| tone(n + i)).collect();
        n += 480;
        a.push_capture(&block);
        b.push_capture(&block);
        while let Some((p, _)) = a.poll_transmit(now) {
            na += 1;
            if na % 20 != 0 {
                b.handle_packet(now, Some(A.parse().unwrap()), &p);
            }
        }
        while let Some((p, _)) = b.poll_transmit(now) {
            nb += 1;
            if nb % 20 != 0 {
                a.handle_packet(now, Some(B.parse().unwrap()), &p);
            }
        }
        let mut out = [0i16; 480];
        a.pull_playout(now, &mut out);
        b.pull_playout(now, &mut out);
        while let Some(e) = a.poll_event() {
            ea.push(e);
        }
        while let Some(e) = b.poll_event() {
            eb.push(e);
        }
    }
    (ea, eb)
}

#[test]
fn both_ends_keep_their_copies_when_both_send_them() {
    // Each end's own receive loss is hidden by the other's copies; the
    // path's loss, seen through them, keeps both protected.
    let (na, nb) = negotiate(vec![CodecKind::Opus], false);
    let now = Instant::now();
    let mut a = AudioSession::new(&na, now).unwrap();
    let mut b = AudioSession::new(&nb, now).unwrap();
    let (ea, eb) = run_both_ways(&mut a, &mut b, 40_000);
    assert!(a.redundancy_active() && b.redundancy_active());
    for (who, events) in [("A", &ea), ("B", &eb)] {
        let c = concealed(events);
        assert!(c.len() >= 7, "{who}: {c:?}");
        assert_eq!(c.last().unwrap() - c[0], 0, "{who} concealed: {c:?}");
    }
}

/// Concealed frames the receiver reported over the run's last stats.
fn concealed(events: &[MediaEvent]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Stats(s) => Some(s.concealed_frames),
            _ => None,
        })
        .collect()
}

#[test]
fn copies_on_a_lossy_link_leave_nothing_to_conceal() {
    for srtp in [false, true] {
        let (na, nb) = negotiate(vec![CodecKind::Opus], srtp);
        let now = Instant::now();
        let link = Link {
            loss_every: 20,
            reorder_every: 0,
            duplicate_every: 0,
            jitter_ms: 5,
        };
        let mut a = AudioSession::new(&na, now).unwrap();
        let mut b = AudioSession::new(&nb, now).unwrap();
        let (sent, heard, events) = run(&mut a, &mut b, &link, 16_000);
        assert!(a.redundancy_active(), "B reported 5 % loss");
        // From about 3 s (after B's first report) every frame went twice.
        assert!(
            a.redundant_copies() > 500,
            "{} copies",
            a.redundant_copies()
        );
        let c = concealed(&events);
        let (mid, end) = (c[1], *c.last().unwrap());
        assert_eq!(end - mid, 0, "concealed after the copies started: {c:?}");
        // Once both runs are past B's first report (2.5 s).
        let tail = 4 * SESSION_RATE as usize;
        let snr_copies = aligned_snr(&sent[tail..], &heard[tail..]);
        if srtp {
            let rx = b.srtp_rx.as_ref().unwrap();
            assert_eq!(rx.failures, 0, "copies are replays, not forgeries");
        }

        // The same link without copies keeps concealing.
        let mut a = AudioSession::new(&na, now).unwrap();
        let mut b = AudioSession::new(&nb, now).unwrap();
        a.set_redundancy(false);
        let (sent, heard, events) = run(&mut a, &mut b, &link, 16_000);
        assert_eq!(a.redundant_copies(), 0);
        let c = concealed(&events);
        // Of the 30-odd frames lost after the first report, in-band FEC
        // recovers some (how many depends on libopus's float paths: 13
        // concealed in a release build, more in a debug one).
        assert!(c.last().unwrap() - c[1] >= 10, "{c:?}");
        let snr_plain = aligned_snr(&sent[tail..], &heard[tail..]);
        assert!(
            snr_copies > snr_plain + 1.0,
            "SNR {snr_copies:.1} dB with copies, {snr_plain:.1} without"
        );
    }
}

/// RFC 3711 Appendix B.3's master key and salt; the packets are the
/// known-answer vectors every SRTP implementation is checked against
/// (libsrtp's `srtp_validate`): SSRC 0xcafebabe, sequence 0x1234, ROC 0.
const KAT_KEY: [u8; 16] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
];
const KAT_SALT: [u8; 14] = [
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];
const KAT_RTP: [u8; 28] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
];
/// AES-CM keystream XOR payload, then the HMAC-SHA1 tag (10 bytes).
const KAT_SRTP_80: [u8; 38] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c,
    0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc,
    0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
];
const KAT_RTCP: [u8; 24] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
];
/// Encrypted body, E flag + SRTCP index 1, then the 10-byte tag.
const KAT_SRTCP: [u8; 38] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4, 0x87, 0xb9, 0xbd,
    0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00, 0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd,
    0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98,
];

fn kat_context(suite: SrtpSuite) -> Srtp {
    let keys = SrtpKeys {
        suite,
        master_key: KAT_KEY,
        master_salt: KAT_SALT,
    };
    Srtp::new(&keys, true).unwrap()
}

#[test]
fn srtp_matches_the_known_answer_vectors() {
    // AES_CM_128_HMAC_SHA1_80: RTP and RTCP.
    let mut tx = kat_context(SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(&tx.ctx.encrypt_rtp(&KAT_RTP).unwrap()[..], &KAT_SRTP_80[..]);
    assert_eq!(&tx.ctx.encrypt_rtcp(&KAT_RTCP).unwrap()[..], &KAT_SRTCP[..]);
    let mut rx = kat_context(SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(&rx.ctx.decrypt_rtp(&KAT_SRTP_80).unwrap()[..], &KAT_RTP[..]);
    assert_eq!(&rx.ctx.decrypt_rtcp(&KAT_SRTCP).unwrap()[..], &KAT_RTCP[..]);
    // The same packet again is a replay.
    assert!(rx.ctx.decrypt_rtp(&KAT_SRTP_80).is_err());

    // AES_CM_128_HMAC_SHA1_32: the same keystream, the tag cut to 4 bytes.
    let mut tx = kat_context(SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(
        &tx.ctx.encrypt_rtp(&KAT_RTP).unwrap()[..],
        &KAT_SRTP_80[..32]
    );
    let mut rx = kat_context(SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(
        &rx.ctx.decrypt_rtp(&KAT_SRTP_80[..32]).unwrap()[..],
        &KAT_RTP[..]
    );
    // One flipped bit anywhere fails authentication.
    for i in [1, 12, 27, 31] {
        let mut rx = kat_context(SrtpSuite::AesCm128HmacSha1_32);
        let mut bad = KAT_SRTP_80[..32].to_vec();
        bad[i] ^= 0x01;
        assert!(
            rx.ctx.decrypt_rtp(&bad).is_err(),
            "bit flip at {i} accepted"
        );
    }
}

/// Opus bandwidth of the last audio packet after `frames` frames of
/// white noise (energy up to 24 kHz: left alone, the encoder codes the
/// band above 8 kHz too).
fn opus_band_after(a: &mut AudioSession, frames: usize, seed: &mut u32) -> opus::Bandwidth {
    let now = Instant::now();
    let mut last = None;
    for _ in 0..frames {
        let frame: Vec<i16> = (0..960)
            .map(|_| {
                *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((*seed >> 16) as i16) / 4
            })
            .collect();
        a.push_capture(&frame);
        while let Some((p, _)) = a.poll_transmit(now) {
            let pkt = rtc_rtp::packet::Packet::unmarshal(&mut p.as_slice()).unwrap();
            if pkt.header.payload_type != 200 && !pkt.payload.is_empty() {
                last = Some(pkt.payload.to_vec());
            }
        }
    }
    opus::packet::get_bandwidth(&last.expect("audio packets")).unwrap()
}

#[test]
fn opus_codes_only_the_band_the_capture_carries() {
    let (mut na, _) = negotiate(vec![CodecKind::Opus], false);
    let mut a = AudioSession::new(&na, Instant::now()).unwrap();
    a.set_redundancy(false);
    let mut seed = 11;
    let full = opus_band_after(&mut a, 25, &mut seed);
    assert!(
        matches!(
            full,
            opus::Bandwidth::Superwideband | opus::Bandwidth::Fullband
        ),
        "full-band capture coded as {full:?}"
    );
    // Processed audio (16 kHz chain): SILK wideband only.
    a.set_input_band(8_000);
    assert_eq!(
        opus_band_after(&mut a, 25, &mut seed),
        opus::Bandwidth::Wideband
    );
    // A codec change and back keeps the cap for the new encoder.
    let opus_pt = na.codec.payload_type;
    na.codec.kind = CodecKind::Pcmu;
    na.codec.payload_type = 0;
    a.update(&na).unwrap();
    na.codec.kind = CodecKind::Opus;
    na.codec.payload_type = opus_pt;
    a.update(&na).unwrap();
    assert_eq!(
        opus_band_after(&mut a, 25, &mut seed),
        opus::Bandwidth::Wideband
    );
    a.set_input_band(FULL_BAND_HZ);
    let back = opus_band_after(&mut a, 25, &mut seed);
    assert_ne!(back, opus::Bandwidth::Wideband, "full band again");
}

#[test]
fn first_sequence_numbers_stay_clear_of_the_wrap() {
    // Every random draw lands in the range, both ends reachable.
    assert_eq!(initial_seq(0), 0x1000);
    assert_eq!(initial_seq(0x6fff), 0x7fff);
    assert_eq!(initial_seq(0x7000), 0x1000);
    assert_eq!(initial_seq(u16::MAX), 0x1000 + (u16::MAX % 0x7000));
    assert!((0..=u16::MAX).all(|r| FIRST_SEQ.contains(&initial_seq(r))));
    // And sessions use it: their first audio packet is numbered in range.
    let (na, _) = negotiate(vec![CodecKind::Pcmu], false);
    let now = Instant::now();
    for _ in 0..50 {
        let mut a = AudioSession::new(&na, now).unwrap();
        a.push_capture(&[0; 960]);
        let (p, _) = a.poll_transmit(now + Duration::from_millis(1)).unwrap();
        let p = rtc_rtp::packet::Packet::unmarshal(&mut p.as_slice()).unwrap();
        assert!(
            FIRST_SEQ.contains(&p.header.sequence_number),
            "{}",
            p.header.sequence_number
        );
    }
}

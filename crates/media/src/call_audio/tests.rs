use super::*;
use crate::conference::Role;
use crate::device::FilePort;
use crate::devices::{AudioSink, AudioSource, WavSink, WavSource};
use crate::level::FLOOR_DBFS;
use crate::sdp::{accept_answer, create_answer, create_offer, Direction, MediaConfig};
use crate::tones::{goertzel, ToneRegion};

fn burst(n: usize, from: usize, to: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            if (from..to).contains(&i) {
                (8000.0 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin()) as i16
            } else {
                0
            }
        })
        .collect()
}

fn onset(x: &[i16]) -> Option<usize> {
    x.iter().position(|&s| i32::from(s).abs() > 2000)
}

#[test]
fn echo_test_plays_the_microphone_back_after_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let (inp, out) = (dir.path().join("in.wav"), dir.path().join("out.wav"));
    let mut w = WavSink::create(&inp, SESSION_RATE).unwrap();
    w.write(&burst(48_000, 9600, 19_200)).unwrap();
    w.finish().unwrap();

    let port = FilePort::wav(Some(&inp), Some(&out)).unwrap();
    let mut audio = CallAudio::new(Box::new(port), ProcessingConfig::off()).unwrap();
    audio.set_echo_test(Some(Duration::from_millis(500)));
    let now = Instant::now();
    for _ in 0..75 {
        audio.tick(None, now).unwrap();
    }
    assert!(!audio.source_live(), "the one-second file ended");
    drop(audio);
    let mut rec = WavSource::open(&out).unwrap();
    let mut heard = vec![0i16; 75 * FRAME];
    rec.read(&mut heard).unwrap();
    let at = onset(&heard).expect("the burst came back");
    // Sent at 200 ms; back exactly 500 ms later (a few samples for the
    // sine to pass the threshold).
    assert!((33_600..33_650).contains(&at), "came back at sample {at}");
}

#[test]
fn tones_and_levels_without_a_call() {
    let mut audio =
        CallAudio::new(Box::new(FilePort::null()), ProcessingConfig::default()).unwrap();
    audio.set_tone(Some(ToneGenerator::ringback(
        ToneRegion::Europe,
        SESSION_RATE,
    )));
    let mut reports = Vec::new();
    for _ in 0..50 {
        audio.tick(None, Instant::now()).unwrap();
        reports.extend(audio.levels());
    }
    assert_eq!(reports.len(), 10, "ten readings a second");
    // Ringback is on for the first second: about -21 dBFS RMS.
    let last = reports.last().unwrap();
    assert!((last.output.rms_dbfs + 21.0).abs() < 2.0, "{last:?}");
    assert_eq!(last.input.rms_dbfs, FLOOR_DBFS, "null microphone");

    // A DTMF feedback beep ends by itself.
    audio.set_tone(ToneGenerator::dtmf('5', 60, SESSION_RATE));
    for _ in 0..5 {
        audio.tick(None, Instant::now()).unwrap();
    }
    assert!(audio.tone.is_none());
}

/// A microphone that plays a 700 Hz tone forever.
struct ToneMic(u64);
impl AudioPort for ToneMic {
    fn capture(&mut self, frame: &mut [i16]) -> Result<bool, AudioDeviceError> {
        for s in frame.iter_mut() {
            let t = self.0 as f32 / 48_000.0;
            *s = (6000.0 * (2.0 * std::f32::consts::PI * 700.0 * t).sin()) as i16;
            self.0 += 1;
        }
        Ok(true)
    }
    fn playout(&mut self, _frame: &[i16]) -> Result<(), AudioDeviceError> {
        Ok(())
    }
}

#[test]
fn microphone_reaches_the_peer_and_mute_silences_it() {
    let cfg = MediaConfig::default();
    let offer = create_offer(
        &cfg,
        "127.0.0.1:4000".parse().unwrap(),
        1,
        1,
        Direction::SendRecv,
        None,
    );
    let (answer, nb) = create_answer(
        &cfg,
        &offer,
        "127.0.0.1:6000".parse().unwrap(),
        2,
        1,
        false,
        None,
    )
    .unwrap();
    let na = accept_answer(&offer, &answer).unwrap();
    let start = Instant::now();
    let mut a = AudioSession::new(&na, start).unwrap();
    let mut b = AudioSession::new(&nb, start).unwrap();
    let mut audio = CallAudio::new(Box::new(ToneMic(0)), ProcessingConfig::off()).unwrap();

    let mut heard = Vec::new();
    let mut step = |audio: &mut CallAudio, heard: &mut Vec<i16>, i: u64| {
        let now = start + Duration::from_millis(20 * i);
        audio.tick(Some(&mut a), now).unwrap();
        while let Some((pkt, _)) = a.poll_transmit(now) {
            b.handle_packet(now, None, &pkt);
        }
        let mut out = [0i16; FRAME];
        b.pull_playout(now, &mut out);
        heard.extend_from_slice(&out);
    };
    for i in 0..50 {
        step(&mut audio, &mut heard, i);
    }
    let talk = &heard[heard.len() - 10 * FRAME..];
    let p700 = goertzel(talk, 700.0, SESSION_RATE);
    assert!(p700 > 1e-3, "the peer hears the microphone: {p700}");

    audio.set_muted(true);
    assert!(audio.muted());
    heard.clear();
    for i in 50..100 {
        step(&mut audio, &mut heard, i);
    }
    let muted = &heard[heard.len() - 10 * FRAME..];
    let p = goertzel(muted, 700.0, SESSION_RATE);
    assert!(p < p700 / 1000.0, "muted, the peer hears silence: {p}");
    assert!(
        audio.current_levels().input.rms_dbfs > -20.0,
        "the meter still shows the muted mic"
    );
}

/// A session pair (ours, the peer's) as a negotiated call would have.
fn session_pair(start: Instant, port: u16) -> (AudioSession, AudioSession) {
    let cfg = MediaConfig::default();
    let offer = create_offer(
        &cfg,
        format!("127.0.0.1:{port}").parse().unwrap(),
        1,
        1,
        Direction::SendRecv,
        None,
    );
    let (answer, peer) = create_answer(
        &cfg,
        &offer,
        format!("127.0.0.1:{}", port + 2).parse().unwrap(),
        2,
        1,
        false,
        None,
    )
    .unwrap();
    let ours = accept_answer(&offer, &answer).unwrap();
    (
        AudioSession::new(&ours, start).unwrap(),
        AudioSession::new(&peer, start).unwrap(),
    )
}

fn sine(hz: f32, n: u64) -> Vec<i16> {
    (0..FRAME as u64)
        .map(|i| {
            let t = (n * FRAME as u64 + i) as f32 / 48_000.0;
            (6000.0 * (2.0 * std::f32::consts::PI * hz * t).sin()) as i16
        })
        .collect()
}

/// One 20 ms step of a call: our audio ticks, packets cross both ways,
/// the peer says `says` Hz and what it hears is appended to `heard`.
fn step_call(
    audio: &mut CallAudio,
    ours: &mut AudioSession,
    peer: &mut AudioSession,
    says: f32,
    i: u64,
    now: Instant,
    heard: &mut Vec<i16>,
) {
    peer.push_capture(&sine(says, i));
    while let Some((pkt, _)) = peer.poll_transmit(now) {
        ours.handle_packet(now, None, &pkt);
    }
    audio.tick(Some(ours), now).unwrap();
    while let Some((pkt, _)) = ours.poll_transmit(now) {
        peer.handle_packet(now, None, &pkt);
    }
    let mut out = [0i16; FRAME];
    peer.pull_playout(now, &mut out);
    heard.extend_from_slice(&out);
}

fn power(x: &[i16], hz: f32) -> f32 {
    goertzel(x, hz, SESSION_RATE)
}

#[test]
fn a_three_way_call_mixes_minus_each_party_and_survives_a_leg_leaving() {
    let start = Instant::now();
    let (mut a, mut pa) = session_pair(start, 4000);
    let (mut b, mut pb) = session_pair(start, 5000);
    // The host owns the microphone (700 Hz); the leg's port is idle.
    let mut host = CallAudio::new(Box::new(ToneMic(0)), ProcessingConfig::off()).unwrap();
    let mut leg = CallAudio::new(Box::new(FilePort::null()), ProcessingConfig::off()).unwrap();
    let (h, l) = crate::conference::link();
    host.join_conference(Role::Host(h));
    leg.join_conference(Role::Leg(l));
    assert!(host.in_conference() && leg.in_conference());
    let dir = tempfile::tempdir().unwrap();
    let rec_path = dir.path().join("conf.wav");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    host.set_recorder(Some(
        crate::recorder::start(&rec_path, move |r| {
            let _ = done_tx.send(r);
        })
        .unwrap(),
    ));

    // Peer A says 1000 Hz, peer B 1600 Hz. Frames come at the pace of a
    // call (20 ms), as the recorder's writer thread expects: a loop
    // running flat out on a loaded machine can fill its 2 s ring before
    // the writer is scheduled, and the recording then misses audio.
    let (mut heard_a, mut heard_b) = (Vec::new(), Vec::new());
    for i in 0..100 {
        let now = start + Duration::from_millis(20 * i);
        step_call(&mut host, &mut a, &mut pa, 1000.0, i, now, &mut heard_a);
        step_call(&mut leg, &mut b, &mut pb, 1600.0, i, now, &mut heard_b);
        std::thread::sleep(Duration::from_millis(20));
    }
    let ta = &heard_a[heard_a.len() - 20 * FRAME..];
    let tb = &heard_b[heard_b.len() - 20 * FRAME..];
    let (a700, a1600, a1000) = (power(ta, 700.0), power(ta, 1600.0), power(ta, 1000.0));
    let (b700, b1000, b1600) = (power(tb, 700.0), power(tb, 1000.0), power(tb, 1600.0));
    assert!(
        a700 > 1e-3 && a1600 > 1e-3,
        "A hears us and B: {a700} {a1600}"
    );
    assert!(a1000 < a1600 / 100.0, "A does not hear itself: {a1000}");
    assert!(
        b700 > 1e-3 && b1000 > 1e-3,
        "B hears us and A: {b700} {b1000}"
    );
    assert!(b1600 < b1000 / 100.0, "B does not hear itself: {b1600}");

    // B's call ends: A goes on hearing the microphone, and no B.
    drop(leg);
    heard_a.clear();
    for i in 100..150 {
        let now = start + Duration::from_millis(20 * i);
        step_call(&mut host, &mut a, &mut pa, 1000.0, i, now, &mut heard_a);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!host.in_conference(), "the leg is gone");
    let ta = &heard_a[heard_a.len() - 20 * FRAME..];
    assert!(power(ta, 700.0) > 1e-3, "A still hears us");
    assert!(power(ta, 1600.0) < 1e-6, "and B no more");

    host.set_recorder(None);
    let rec = done_rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert!((rec.seconds - 3.0).abs() < 0.1, "{}", rec.seconds);
    let mut src = WavSource::open(&rec_path).unwrap();
    let mut x = vec![0i16; 48_000];
    src.read(&mut x).unwrap();
    // Seconds 1-2 of the recording: everyone was in the conference.
    let conf = &x[16_000..32_000];
    for hz in [700.0, 1000.0, 1600.0] {
        assert!(
            goertzel(conf, hz, crate::recorder::RECORDING_RATE) > 1e-3,
            "the recording has {hz} Hz"
        );
    }
}

#[test]
fn a_leg_whose_host_leaves_is_a_plain_call_again() {
    let start = Instant::now();
    let (mut b, mut pb) = session_pair(start, 6000);
    let mut leg = CallAudio::new(Box::new(ToneMic(0)), ProcessingConfig::off()).unwrap();
    let (h, l) = crate::conference::link();
    leg.join_conference(Role::Leg(l));
    let mut heard = Vec::new();
    for i in 0..30 {
        let now = start + Duration::from_millis(20 * i);
        step_call(&mut leg, &mut b, &mut pb, 1600.0, i, now, &mut heard);
    }
    // Mixed at a host that sends nothing: the leg's own microphone is idle.
    assert!(power(&heard[heard.len() - 10 * FRAME..], 700.0) < 1e-6);
    drop(h);
    heard.clear();
    for i in 30..80 {
        let now = start + Duration::from_millis(20 * i);
        step_call(&mut leg, &mut b, &mut pb, 1600.0, i, now, &mut heard);
    }
    assert!(!leg.in_conference());
    assert!(
        power(&heard[heard.len() - 10 * FRAME..], 700.0) > 1e-3,
        "the call's own microphone is back"
    );
}

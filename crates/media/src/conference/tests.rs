use super::*;
use crate::session::SESSION_RATE;
use crate::tones::goertzel;

fn tone(hz: f32, amp: f32, start: usize) -> Vec<i16> {
    (0..FRAME)
        .map(|i| {
            let t = (start + i) as f32 / SESSION_RATE as f32;
            (amp * (2.0 * std::f32::consts::PI * hz * t).sin()) as i16
        })
        .collect()
}

/// Goertzel power of a pure tone of amplitude 6000 is about 0.0084.
const PRESENT: f32 = 0.004;
const ABSENT: f32 = 1e-6;

fn has(x: &[i16], hz: f32) -> bool {
    goertzel(x, hz, SESSION_RATE) > PRESENT
}

fn lacks(x: &[i16], hz: f32) -> bool {
    goertzel(x, hz, SESSION_RATE) < ABSENT
}

#[test]
fn every_party_hears_everyone_but_itself() {
    // Local microphone 400 Hz, remote A 1000 Hz, remote B 1600 Hz: whole
    // cycles in a 20 ms frame, so each tone is orthogonal to the others.
    let (mic, a, b) = (
        tone(400.0, 6000.0, 0),
        tone(1000.0, 6000.0, 0),
        tone(1600.0, 6000.0, 0),
    );
    let mut m = Mixer::new();
    m.begin();
    m.add_remote(&a);
    m.add_remote(&b);
    let (mut speaker, mut to_a, mut to_b, mut all) = (
        vec![0; FRAME],
        vec![0; FRAME],
        vec![0; FRAME],
        vec![0; FRAME],
    );
    m.speaker(&mut speaker);
    m.mix_minus(&mic, &a, &mut to_a);
    m.mix_minus(&mic, &b, &mut to_b);
    m.all(&mic, &mut all);

    assert!(
        has(&speaker, 1000.0) && has(&speaker, 1600.0),
        "speaker: both remotes"
    );
    assert!(lacks(&speaker, 400.0), "speaker: not our own microphone");
    assert!(has(&to_a, 400.0) && has(&to_a, 1600.0), "A hears us and B");
    assert!(lacks(&to_a, 1000.0), "A does not hear itself");
    assert!(has(&to_b, 400.0) && has(&to_b, 1000.0), "B hears us and A");
    assert!(lacks(&to_b, 1600.0), "B does not hear itself");
    for hz in [400.0, 1000.0, 1600.0] {
        assert!(has(&all, hz), "the recording mix has {hz} Hz");
    }
    // Mix-minus is exact: what A hears is sample for sample mic + B.
    for i in 0..FRAME {
        assert_eq!(i32::from(to_a[i]), i32::from(mic[i]) + i32::from(b[i]));
    }
}

#[test]
fn loud_parties_saturate_instead_of_wrapping() {
    let loud = vec![30_000i16; FRAME];
    let quiet_neg = vec![-30_000i16; FRAME];
    let mut m = Mixer::new();
    m.begin();
    m.add_remote(&loud);
    m.add_remote(&loud);
    m.add_remote(&loud);
    let mut out = vec![0; FRAME];
    m.speaker(&mut out);
    assert!(
        out.iter().all(|&s| s == i16::MAX),
        "clipped high, not wrapped"
    );
    // Three remotes at +30000 and a microphone at -30000: each party hears
    // 60000 - 30000 + ... exactly, clipped once at the end.
    m.mix_minus(&quiet_neg, &loud, &mut out);
    assert!(out.iter().all(|&s| s == 30_000), "{:?}", &out[..4]);
    m.begin();
    m.add_remote(&quiet_neg);
    m.add_remote(&quiet_neg);
    m.all(&quiet_neg, &mut out);
    assert!(
        out.iter().all(|&s| s == i16::MIN),
        "clipped low, not wrapped"
    );
}

#[test]
fn links_carry_frames_after_priming_and_notice_a_leaving_side() {
    let (mut host, mut leg) = link();
    let said = tone(1000.0, 6000.0, 0);
    // Nothing is handed out before two frames are queued.
    leg.send(&said);
    host.receive();
    assert!(host.frame().iter().all(|&s| s == 0), "still priming");
    leg.send(&said);
    leg.send(&said);
    host.receive();
    assert_eq!(host.frame(), &said[..]);
    // A stalled consumer does not build up latency without bound.
    for _ in 0..7 {
        leg.send(&said);
    }
    host.receive();
    assert!(host.up.slots() <= MAX_QUEUE_FRAMES * FRAME);

    host.send(&said);
    host.send(&said);
    leg.receive();
    assert_eq!(leg.frame(), &said[..]);
    assert!(!host.is_closed() && !leg.is_closed());
    drop(leg);
    assert!(host.is_closed(), "the host sees the leg leave");
    let (host, leg) = link();
    drop(host);
    assert!(leg.is_closed(), "the leg sees the host leave");
}

use super::*;
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

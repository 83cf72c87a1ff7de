use super::*;
use crate::device::FRAME;
use crate::devices::{AudioSource, WavSource};
use crate::tones::goertzel;

type Outcome = Result<Recording, RecorderError>;

fn done_channel() -> (
    impl FnOnce(Outcome) + Send + 'static,
    std::sync::mpsc::Receiver<Outcome>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    (
        move |r| {
            let _ = tx.send(r);
        },
        rx,
    )
}

#[test]
fn a_recording_holds_what_was_pushed_at_16_khz() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    let (done, rx) = done_channel();
    let mut tap = start(&path, done).unwrap();
    // One second of 1 kHz at 48 kHz, in 20 ms frames.
    for f in 0..50 {
        let frame: Vec<i16> = (0..FRAME)
            .map(|i| {
                let t = (f * FRAME + i) as f32 / 48_000.0;
                (8000.0 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin()) as i16
            })
            .collect();
        tap.push(&frame);
    }
    assert_eq!(tap.dropped(), 0);
    drop(tap);
    let rec = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("writer done")
        .expect("recording ok");
    assert_eq!(rec.path, path);
    assert!((rec.seconds - 1.0).abs() < 0.01, "{}", rec.seconds);
    let mut src = WavSource::open(&path).unwrap();
    assert_eq!(src.sample_rate(), RECORDING_RATE);
    let mut x = vec![0i16; 16_000];
    src.read(&mut x).unwrap();
    let mid = &x[4000..12_000];
    assert!(
        goertzel(mid, 1000.0, RECORDING_RATE) > 0.01,
        "the tone is there"
    );
    assert!(
        goertzel(mid, 3000.0, RECORDING_RATE) < 1e-5,
        "and nothing else"
    );
}

#[test]
fn an_unwritable_folder_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-folder").join("call.wav");
    let (done, rx) = done_channel();
    match start(&path, done) {
        Err(RecorderError::Create { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Create error, got {other:?}"),
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "no writer ran"
    );
}

#[test]
fn a_full_disk_stops_the_writer_and_the_tap_goes_quiet() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let (done, rx) = done_channel();
    let mut tap = start(full, done).unwrap();
    let frame = vec![1000i16; FRAME];
    // Three seconds: far more than the writer's buffer holds.
    for _ in 0..150 {
        tap.push(&frame);
        std::thread::sleep(Duration::from_millis(2));
    }
    match rx
        .recv_timeout(Duration::from_secs(5))
        .expect("writer done")
    {
        Err(RecorderError::Write { path, .. }) => assert_eq!(path, full),
        other => panic!("expected a write error, got {other:?}"),
    }
    assert!(tap.is_closed(), "the tap knows the writer is gone");
    // Pushing on goes nowhere and never blocks or panics.
    tap.push(&frame);
}

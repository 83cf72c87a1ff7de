//! A real cpal output stream. scripts/test.sh runs the suite with a private
//! PulseAudio whose only sink is a null sink (a device with a real-time
//! clock) and sets PARLEY_TEST_AUDIO=1; without a sound server there is no
//! device to test, so the test says so and returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

#[test]
fn output_stream_runs_in_real_time_on_the_default_device() {
    if std::env::var_os("PARLEY_TEST_AUDIO").is_none() {
        eprintln!("PARLEY_TEST_AUDIO unset: the sound-server test runs under scripts/test.sh");
        return;
    }
    let (inputs, outputs) = media::devices::list_devices().expect("list devices");
    assert!(
        !outputs.is_empty(),
        "no output devices (inputs: {inputs:?})"
    );
    let device = cpal::default_host()
        .default_output_device()
        .expect("default output device");
    let config = device.default_output_config().expect("output config");
    let rate = config.sample_rate().0 as u64;
    let channels = u64::from(config.channels());
    let frames = Arc::new(AtomicU64::new(0));
    let counter = frames.clone();
    let stream = device
        .build_output_stream(
            &config.into(),
            // The callback only writes silence and bumps a counter: no
            // allocation, lock or I/O, as on the real audio path.
            move |data: &mut [f32], _| {
                data.fill(0.0);
                counter.fetch_add(data.len() as u64 / channels, Ordering::Relaxed);
            },
            |e| panic!("stream error: {e}"),
            None,
        )
        .expect("build output stream");
    stream.play().expect("play");
    std::thread::sleep(Duration::from_millis(1000));
    drop(stream);
    let played = frames.load(Ordering::Relaxed);
    // About one second of frames: a clockless device (ALSA "null") would
    // consume orders of magnitude more, a stalled one none.
    assert!(
        played > rate / 4 && played < rate * 3,
        "{played} frames in 1 s at {rate} Hz"
    );
}

//! A real cpal output stream. scripts/test.sh runs the suite with a private
//! PulseAudio whose only sink is a null sink (a device with a real-time
//! clock) and sets PARLEY_TEST_AUDIO=1; without a sound server there is no
//! device to test, so the test says so and returns.
//!
//! cpal must use its native PulseAudio host here: through ALSA's pulse
//! plugin its callback stalls after the first buffers on this sink.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

#[test]
fn default_output_device_is_the_null_sink_and_a_stream_runs_on_it() {
    if std::env::var_os("PARLEY_TEST_AUDIO").is_none() {
        eprintln!("PARLEY_TEST_AUDIO unset: the sound-server test runs under scripts/test.sh");
        return;
    }
    let (_inputs, outputs) = media::devices::list_devices().expect("list devices");
    let host = cpal::default_host();
    assert_eq!(
        host.id(),
        cpal::HostId::PulseAudio,
        "cpal prefers the running sound server"
    );
    assert!(
        outputs.iter().any(|d| d.to_lowercase().contains("null")),
        "the harness's null sink is not among the outputs: {outputs:?}"
    );
    let device = host.default_output_device().expect("default output device");
    let config = device.default_output_config().expect("output config");
    let channels = u64::from(config.channels());
    let rate = u64::from(config.sample_rate());
    let frames = Arc::new(AtomicU64::new(0));
    let nonzero = Arc::new(AtomicU64::new(0));
    let (f, z) = (frames.clone(), nonzero.clone());
    let stream = device
        .build_output_stream(
            config.into(),
            // Only atomics in the callback: no allocation, lock or I/O, as
            // on the real audio path. cpal zero-fills; check and count.
            move |data: &mut [f32], _| {
                if data.iter().any(|s| *s != 0.0) {
                    z.fetch_add(1, Ordering::Relaxed);
                }
                f.fetch_add(data.len() as u64 / channels, Ordering::Relaxed);
            },
            |e| eprintln!("stream error: {e}"),
            None,
        )
        .expect("build output stream");
    stream.play().expect("play");
    let deadline = Instant::now() + Duration::from_secs(2);
    while frames.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        frames.load(Ordering::Relaxed) > 0,
        "the stream's callback never ran"
    );
    // The server first fills its buffer as fast as it can; measure after.
    std::thread::sleep(Duration::from_secs(2));
    let start = frames.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    let played = frames.load(Ordering::Relaxed) - start;
    drop(stream);
    // Two seconds of frames: a clockless device (ALSA "null") would take
    // orders of magnitude more, a stalled one none.
    assert!(
        played > rate && played < rate * 3,
        "{played} frames in 2 s at {rate} Hz"
    );
    assert_eq!(
        nonzero.load(Ordering::Relaxed),
        0,
        "buffers are handed to the callback zero-filled"
    );
}

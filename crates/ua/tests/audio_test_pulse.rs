//! The sound test of the settings on real sound devices: the private
//! PulseAudio that scripts/test.sh starts. What we play into the default
//! null sink is the test's microphone (through its monitor); the test
//! plays back into a second null sink, whose monitor we listen to, so
//! its echo never feeds its own microphone. Gated on PARLEY_TEST_AUDIO=1
//! like the other sound-server tests.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::device::{list_devices, AudioPort, DeviceAudio, DeviceSelection, FrameClock, FRAME};
use media::processing::ProcessingConfig;
use media::tones::goertzel;
use tokio::sync::broadcast;
use ua::call::AudioChoice;
use ua::settings::{AudioTestRequest, AudioTestState, AudioTestStop};
use ua::{Engine, EngineOptions, Event, SipOptions};

const SINK: &str = "parley_echo_test";

fn engine(dir: &std::path::Path) -> Engine {
    Engine::start(EngineOptions {
        paths: store::Paths {
            config_dir: dir.join("config"),
            data_dir: dir.join("data"),
        },
        secrets: Arc::new(store::MemorySecrets::default()),
        sip: SipOptions {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ..SipOptions::default()
        },
        auto_register: false,
        auto_answer: false,
        dnd: false,
        call_audio: AudioChoice::Device {
            selection: DeviceSelection::default(),
            processing: ProcessingConfig::off(),
        },
    })
    .unwrap()
}

/// Unloads the test sink when dropped (also when an assertion fails).
struct NullSink(String);

impl NullSink {
    fn load() -> NullSink {
        // One left by an earlier, failed run would be found instead.
        if let Ok(list) = Command::new("pactl")
            .args(["list", "short", "modules"])
            .output()
        {
            for line in String::from_utf8_lossy(&list.stdout).lines() {
                if line.contains(&format!("sink_name={SINK}")) {
                    if let Some(id) = line.split_whitespace().next() {
                        let _ = Command::new("pactl").args(["unload-module", id]).status();
                    }
                }
            }
        }
        let out = Command::new("pactl")
            .args([
                "load-module",
                "module-null-sink",
                &format!("sink_name={SINK}"),
            ])
            .output()
            .expect("pactl");
        assert!(out.status.success(), "{out:?}");
        NullSink(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        let _ = Command::new("pactl")
            .args(["unload-module", &self.0])
            .status();
    }
}

/// 1 kHz at about -12 dBFS RMS for frame `n`.
fn tone_frame(n: usize) -> [i16; FRAME] {
    let mut f = [0i16; FRAME];
    for (i, s) in f.iter_mut().enumerate() {
        let t = ((n * FRAME + i) % 48) as f32 / 48.0;
        *s = (8000.0 * (2.0 * std::f32::consts::PI * t).sin()) as i16;
    }
    f
}

/// Runs `frames` real-time frames on `dev`: the tone out for the first
/// `tone_frames`, silence after; returns what was captured per frame.
fn play_and_listen(dev: &mut DeviceAudio, frames: usize, tone_frames: usize) -> Vec<[i16; FRAME]> {
    let mut clock = FrameClock::new(Instant::now());
    let mut got = Vec::new();
    let mut cap = [0i16; FRAME];
    while got.len() < frames {
        std::thread::sleep(clock.next_due().saturating_duration_since(Instant::now()));
        for _ in 0..clock.due(Instant::now()) {
            dev.capture(&mut cap).expect("capture");
            let out = if got.len() < tone_frames {
                tone_frame(got.len())
            } else {
                [0; FRAME]
            };
            dev.playout(&out).expect("playout");
            got.push(cap);
        }
    }
    got
}

/// 1 kHz power of frames `from..to`.
fn tone_power(frames: &[[i16; FRAME]], from: usize, to: usize) -> f32 {
    let x: Vec<i16> = frames[from..to].iter().flatten().copied().collect();
    goertzel(&x, 1000.0, 48_000)
}

async fn next_state(rx: &mut broadcast::Receiver<Event>) -> AudioTestState {
    let wait = async {
        loop {
            if let Event::AudioTest { state } = rx.recv().await.unwrap() {
                return state;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("no sound test state")
}

/// Levels reported so far: (rms, peak) in dBFS.
fn levels(rx: &mut broadcast::Receiver<Event>) -> Vec<(f32, f32)> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::AudioTestLevel { rms_db, peak_db } = e {
            out.push((rms_db, peak_db));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_test_plays_back_what_the_microphone_heard() {
    if std::env::var_os("PARLEY_TEST_AUDIO").is_none() {
        eprintln!("PARLEY_TEST_AUDIO unset: the sound-server test runs under scripts/test.sh");
        return;
    }
    let _sink = NullSink::load();
    let list = list_devices().expect("list");
    let find = |devices: &[media::device::DeviceInfo], suffix: &str| {
        devices
            .iter()
            .find(|d| d.id.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not listed: {list:?}"))
            .id
            .clone()
    };
    let echo_out = find(&list.outputs, &format!(":{SINK}"));
    let echo_monitor = find(&list.inputs, &format!(":{SINK}.monitor"));
    // Speaks into the default sink (the test's microphone), listens to
    // the test's speaker.
    let mut person = DeviceAudio::open(&DeviceSelection {
        input: Some(echo_monitor),
        output: None,
    })
    .expect("open the listener");

    let dir = tempfile::tempdir().unwrap();
    let phone = engine(dir.path());
    let mut rx = phone.subscribe();
    let request = |echo| AudioTestRequest {
        input: None,
        output: Some(echo_out.clone()),
        echo,
    };
    phone.start_audio_test(request(false)).await.expect("start");
    assert_eq!(next_state(&mut rx).await, AudioTestState::Metering);

    // The meter: quiet, then the tone, then quiet again.
    let t0 = Instant::now();
    let heard = tokio::task::block_in_place(|| play_and_listen(&mut person, 150, 50));
    let took = t0.elapsed();
    let l = levels(&mut rx);
    eprintln!("{} levels in {took:?}: {l:?}", l.len());
    assert!(
        l.len() as f32 >= took.as_secs_f32() * 15.0,
        "about 20 levels a second: {} in {took:?}",
        l.len()
    );
    let loud = l.iter().filter(|(rms, _)| *rms > -20.0).count();
    assert!(loud >= 10, "the tone moved the meter: {l:?}");
    let (last_rms, _) = *l.last().unwrap();
    assert!(last_rms < -30.0, "the meter falls back in silence: {l:?}");
    assert!(
        tone_power(&heard, 0, 150) < 1e-5,
        "metering plays nothing: {}",
        tone_power(&heard, 0, 150)
    );

    // The echo test on the same devices: recording, then playing back.
    phone.start_audio_test(request(true)).await.expect("echo");
    assert_eq!(next_state(&mut rx).await, AudioTestState::Recording);
    let heard = tokio::task::block_in_place(|| play_and_listen(&mut person, 200, 40));
    let mut states = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::AudioTest { state } = e {
            states.push(state);
        }
    }
    assert!(
        states.contains(&AudioTestState::PlayingBack),
        "played back within 4 s: {states:?}"
    );
    let (during_recording, played_back, after) = (
        tone_power(&heard, 0, 90),
        tone_power(&heard, 110, 135),
        tone_power(&heard, 160, 200),
    );
    eprintln!("1 kHz power: recording {during_recording}, playback {played_back}, after {after}");
    assert!(
        played_back > 1e-3 && played_back > 100.0 * during_recording,
        "what was said comes back two seconds later: {played_back} vs {during_recording}"
    );
    assert!(
        after < played_back / 100.0,
        "and only once: {after} vs {played_back}"
    );

    phone.stop_audio_test().await.unwrap();
    let stopped = loop {
        let s = next_state(&mut rx).await;
        if matches!(s, AudioTestState::Stopped { .. }) {
            break s;
        }
    };
    assert_eq!(
        stopped,
        AudioTestState::Stopped {
            reason: AudioTestStop::Requested
        }
    );
}

//! `media::device::DeviceAudio` on the private PulseAudio that
//! scripts/test.sh starts (a null sink; its monitor is the default
//! microphone), so what we play comes back as capture. Gated on
//! PARLEY_TEST_AUDIO=1 like the other sound-server tests.

use std::process::Command;
use std::time::Instant;

use media::device::{
    list_devices, AudioPort, DeviceAudio, DeviceSelection, DeviceStatus, FrameClock, FRAME,
};

/// Both tests listen on the one default monitor: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn enabled() -> bool {
    if std::env::var_os("PARLEY_TEST_AUDIO").is_none() {
        eprintln!("PARLEY_TEST_AUDIO unset: the sound-server test runs under scripts/test.sh");
        return false;
    }
    true
}

fn tone_frame(n: usize) -> [i16; FRAME] {
    let mut f = [0i16; FRAME];
    for (i, s) in f.iter_mut().enumerate() {
        let t = (n * FRAME + i) as f32 / 48_000.0;
        *s = (8000.0 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin()) as i16;
    }
    f
}

/// Runs `frames` real-time frames; returns the capture's RMS per frame.
fn run(audio: &mut DeviceAudio, frames: usize) -> Vec<f32> {
    let mut clock = FrameClock::new(Instant::now());
    let mut levels = Vec::new();
    let mut cap = [0i16; FRAME];
    while levels.len() < frames {
        std::thread::sleep(clock.next_due().saturating_duration_since(Instant::now()));
        for _ in 0..clock.due(Instant::now()) {
            audio.capture(&mut cap).expect("capture");
            audio.playout(&tone_frame(levels.len())).expect("playout");
            let e: f64 = cap.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            levels.push((e / FRAME as f64).sqrt() as f32);
        }
    }
    levels
}

fn heard(levels: &[f32]) -> usize {
    levels.iter().filter(|&&l| l > 1000.0).count()
}

#[test]
fn default_devices_loop_through_the_null_sink() {
    if !enabled() {
        return;
    }
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let list = list_devices().expect("list");
    assert!(list.outputs.iter().any(|d| d.is_default), "{list:?}");
    let mut audio = DeviceAudio::open(&DeviceSelection::default()).expect("open defaults");
    let levels = run(&mut audio, 100);
    let st: DeviceStatus = audio.status();
    eprintln!("{st:?}; {} of 100 frames carried the tone", heard(&levels));
    assert!(
        heard(&levels[50..]) > 40,
        "the tone played to the null sink comes back from its monitor: {levels:?}"
    );
    assert_eq!(st.capture_overruns, 0, "engine kept up with the microphone");
    assert!(st.starved_frames < 10, "{st:?}");
    assert_eq!(st.fallbacks, 0);
}

#[test]
fn a_vanishing_sink_falls_back_without_ending_the_call() {
    if !enabled() {
        return;
    }
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A sink left by an earlier, failed run would be found instead.
    if let Ok(list) = Command::new("pactl")
        .args(["list", "short", "modules"])
        .output()
    {
        for line in String::from_utf8_lossy(&list.stdout).lines() {
            if line.contains("sink_name=parley_hotplug") {
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
            "sink_name=parley_hotplug",
        ])
        .output()
        .expect("pactl");
    assert!(out.status.success(), "{out:?}");
    let module = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let list = list_devices().expect("list");
    let sink = list
        .outputs
        .iter()
        .find(|d| d.id.ends_with(":parley_hotplug"))
        .unwrap_or_else(|| panic!("new sink not listed: {list:?}"))
        .id
        .clone();
    let mut audio = DeviceAudio::open(&DeviceSelection {
        input: None,
        output: Some(sink),
    })
    .expect("open the hot-plug sink");
    let before = run(&mut audio, 50);
    assert!(
        heard(&before[25..]) < 5,
        "playing to the other sink, the default monitor hears nothing"
    );
    let unload = Command::new("pactl")
        .args(["unload-module", &module])
        .status()
        .expect("pactl");
    assert!(unload.success());
    let after = run(&mut audio, 100);
    let st = audio.status();
    eprintln!("{st:?}; {} of 100 frames after unplug", heard(&after));
    assert!(
        heard(&after[50..]) > 40,
        "after the sink vanished our playout reaches the default sink: {after:?}"
    );
}

/// The ringer plays on the default output (the null sink) without opening
/// a microphone; its monitor, captured here, carries the ringback tone,
/// and it goes quiet once the ringer is dropped.
#[test]
fn ringer_plays_ringback_on_the_default_output_until_dropped() {
    use media::ringer::{Ringer, RingerTone};
    use media::tones::{goertzel, ToneRegion};
    if !enabled() {
        return;
    }
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ringer = Ringer::start(None, RingerTone::Ringback(ToneRegion::Europe)).expect("ringer");
    assert_eq!(ringer.tone(), RingerTone::Ringback(ToneRegion::Europe));
    let mut audio = DeviceAudio::open(&DeviceSelection::default()).expect("open");
    // Capture 0.8 s (inside the 1 s "on" part of 425 Hz, 1 s on / 4 off).
    let capture = |audio: &mut DeviceAudio, frames: usize| {
        let mut clock = FrameClock::new(Instant::now());
        let mut got = Vec::new();
        let mut cap = [0i16; FRAME];
        while got.len() < frames * FRAME {
            std::thread::sleep(clock.next_due().saturating_duration_since(Instant::now()));
            for _ in 0..clock.due(Instant::now()) {
                audio.capture(&mut cap).expect("capture");
                audio.playout(&[0; FRAME]).expect("playout");
                got.extend_from_slice(&cap);
            }
        }
        got
    };
    let ringing = capture(&mut audio, 40);
    let p425 = goertzel(&ringing[FRAME * 10..], 425.0, 48_000);
    assert!(p425 > 1e-4, "ringback heard on the monitor: {p425}");
    drop(ringer);
    let _settle = capture(&mut audio, 10);
    let after = capture(&mut audio, 20);
    let p_after = goertzel(&after, 425.0, 48_000);
    assert!(
        p_after < p425 / 100.0,
        "quiet once dropped: {p_after} vs {p425}"
    );
}

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Mutex;

use super::*;

/// Counts allocations made by threads that asked to be watched, so the
/// real-time callbacks can be shown not to allocate.
struct CountingAlloc;

static WATCHED_ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}

#[allow(unsafe_code)]
// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHING.with(Cell::get) {
            WATCHED_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if WATCHING.with(Cell::get) {
            WATCHED_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if WATCHING.with(Cell::get) {
            WATCHED_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Runs `f` counting the allocations it makes (also for the sound test's
/// frame loop in `audio_test`).
pub(crate) fn watched<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = WATCHED_ALLOCS.load(Ordering::Relaxed);
    WATCHING.with(|w| w.set(true));
    let r = f();
    WATCHING.with(|w| w.set(false));
    (r, WATCHED_ALLOCS.load(Ordering::Relaxed) - before)
}

fn tone(freq: f32, rate: u32, n: usize, amp: f32) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16)
        .collect()
}

/// Frequency from rising zero crossings.
fn freq_of(x: &[i16], rate: u32) -> f32 {
    let rising = x.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    rising as f32 * rate as f32 / x.len() as f32
}

#[test]
fn callbacks_convert_formats_without_allocating() {
    let (cb, mut engine) = bridge(RING);
    let (input, output) = cb.split();
    let mut on_in = input_callback::<f32>(input, 2);
    let mut on_out = output_callback::<i16>(output, 2);
    let t = cpal::StreamInstant::new(0, 0);
    let in_info = cpal::InputCallbackInfo::new(cpal::InputStreamTimestamp {
        callback: t,
        capture: t,
    });
    let out_info = cpal::OutputCallbackInfo::new(cpal::OutputStreamTimestamp {
        callback: t,
        playback: t,
    });
    // Stereo f32: left 0.5, right 0.0 -> mono 0.25.
    let stereo: Vec<f32> = (0..960).flat_map(|_| [0.5f32, 0.0]).collect();
    engine.push_playout(&[1000; 480]);
    let mut out = vec![7i16; 2 * 600];
    let ((), allocs) = watched(|| {
        for _ in 0..50 {
            on_in(&stereo, &in_info);
        }
        on_out(&mut out, &out_info);
    });
    assert_eq!(allocs, 0, "the device callbacks allocated");
    let mut got = Vec::new();
    engine.drain_capture(&mut got);
    assert_eq!(got.len(), 48_000, "50 x 960 frames");
    assert!(got.iter().all(|&s| s == 8192), "{:?}", &got[..4]);
    assert!(out[..960].iter().all(|&s| s == 1000), "both channels");
    assert!(out[960..].iter().all(|&s| s == 0), "underrun is silence");
    assert_eq!(
        engine.counters.playout_underruns.load(Ordering::Relaxed),
        120
    );
}

#[test]
fn file_port_converts_rates_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let play = dir.path().join("in.wav");
    let rec = dir.path().join("out.wav");
    let mut w = WavSink::create(&play, 16_000).unwrap();
    w.write(&tone(440.0, 16_000, 16_000, 8000.0)).unwrap();
    w.finish().unwrap();

    let mut port = FilePort::wav(Some(&play), Some(&rec)).unwrap();
    let mut captured = Vec::new();
    let mut frame = [0i16; FRAME];
    let mut frames = 0;
    while port.capture(&mut frame).unwrap() {
        captured.extend_from_slice(&frame);
        port.playout(&frame).unwrap();
        frames += 1;
        assert!(frames < 100, "a one-second file must end");
    }
    // One second plus the resampler's delay flushed at the end.
    assert!((50..=54).contains(&frames), "{frames} frames for 1 s");
    let f = freq_of(&captured[4800..43_200], SESSION_RATE);
    assert!((f - 440.0).abs() < 3.0, "{f} Hz after 16 -> 48 kHz");
    drop(port);
    let mut src = WavSource::open(&rec).unwrap();
    assert_eq!(src.sample_rate(), SESSION_RATE);
    let mut back = vec![0i16; captured.len()];
    src.read(&mut back).unwrap();
    assert_eq!(back, captured, "the recording is what was played");
}

#[test]
fn rate_converter_keeps_pitch_and_length() {
    for (from, to) in [(44_100, 48_000), (48_000, 44_100), (48_000, 16_000)] {
        let mut conv = RateConverter::new(from, to).unwrap();
        let input = tone(1000.0, from, from as usize * 2, 10_000.0);
        let mut out = VecDeque::new();
        for chunk in input.chunks(333) {
            conv.process(chunk, &mut out);
        }
        let out: Vec<i16> = out.into();
        let expect = to as usize * 2;
        assert!(
            out.len() <= expect && out.len() + to as usize / 50 >= expect,
            "{from}->{to}: {} of {expect}",
            out.len()
        );
        let f = freq_of(&out[to as usize / 10..], to);
        assert!((f - 1000.0).abs() < 5.0, "{from}->{to}: {f} Hz");
    }
}

#[test]
fn frame_clock_paces_and_skips_after_a_stall() {
    let t0 = Instant::now();
    let mut c = FrameClock::new(t0);
    assert_eq!(c.due(t0), 1);
    assert_eq!(c.due(t0 + Duration::from_millis(19)), 0);
    assert_eq!(c.next_due(), t0 + Duration::from_millis(20));
    assert_eq!(c.due(t0 + Duration::from_millis(20)), 1);
    assert_eq!(c.due(t0 + Duration::from_millis(65)), 2);
    // A 1 s stall runs a short burst, not 50 late frames.
    assert_eq!(c.due(t0 + Duration::from_millis(1065)), MAX_BURST);
    assert_eq!(c.due(t0 + Duration::from_millis(1070)), 0);
}

/// Devices a test plugs and unplugs; the test plays the sound card by
/// driving the callback ends itself.
#[derive(Default)]
struct FakeDevices {
    present: Mutex<Vec<String>>,
    live: Mutex<Option<(CallbackEnd, Arc<FailFlags>, DeviceSelection)>>,
    opens: AtomicUsize,
}

struct FakeBackend(Arc<FakeDevices>);

impl Backend for FakeBackend {
    fn open(
        &mut self,
        sel: &DeviceSelection,
        ends: CallbackEnd,
        flags: Arc<FailFlags>,
    ) -> Result<(Box<dyn std::any::Any>, Opened), AudioDeviceError> {
        let present = self.0.present.lock().unwrap();
        for (name, direction) in [(&sel.input, "input"), (&sel.output, "output")] {
            if let Some(name) = name {
                if !present.contains(name) {
                    return Err(AudioDeviceError::NotFound {
                        direction,
                        name: name.clone(),
                    });
                }
            }
        }
        self.0.opens.fetch_add(1, Ordering::SeqCst);
        *self.0.live.lock().unwrap() = Some((ends, flags, sel.clone()));
        let name = |n: &Option<String>| n.clone().unwrap_or_else(|| "default".into());
        Ok((
            Box::new(()),
            Opened {
                input: name(&sel.input),
                output: name(&sel.output),
                input_rate: 48_000,
                // The default speaker runs at 44.1 kHz: playout resamples.
                output_rate: if sel.output.is_some() { 48_000 } else { 44_100 },
            },
        ))
    }
}

#[test]
fn vanished_device_falls_back_to_default_without_dropping_audio() {
    let devs = Arc::new(FakeDevices::default());
    devs.present
        .lock()
        .unwrap()
        .extend(["Mic".to_string(), "Speaker".to_string()]);
    let sel = DeviceSelection {
        input: Some("Mic".into()),
        output: Some("Speaker".into()),
    };
    let missing = DeviceSelection {
        input: Some("Nope".into()),
        output: None,
    };
    assert!(matches!(
        DeviceAudio::with_backend(FakeBackend(devs.clone()), missing),
        Err(AudioDeviceError::NotFound {
            direction: "input",
            ..
        })
    ));
    let mut audio = DeviceAudio::with_backend(FakeBackend(devs.clone()), sel).unwrap();
    assert_eq!(audio.status().output, "Speaker");

    let feed = |v: i16| {
        let mut live = devs.live.lock().unwrap();
        let (cb, _, _) = live.as_mut().unwrap();
        cb.on_input(&[v; FRAME]);
    };
    let mut frame = [0i16; FRAME];
    feed(100);
    audio.capture(&mut frame).unwrap();
    assert!(frame.iter().all(|&s| s == 0), "priming");
    feed(100);
    audio.capture(&mut frame).unwrap();
    assert!(frame.iter().all(|&s| s == 100));

    // Unplug: the speaker disappears and its stream reports it.
    devs.present.lock().unwrap().retain(|d| d != "Speaker");
    {
        let live = devs.live.lock().unwrap();
        live.as_ref()
            .unwrap()
            .1
            .output
            .store(true, Ordering::Relaxed);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while devs.opens.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "streams were not rebuilt");
        std::thread::sleep(Duration::from_millis(5));
    }
    {
        let live = devs.live.lock().unwrap();
        let sel = &live.as_ref().unwrap().2;
        assert_eq!(sel.output, None, "speaker fell back to the default");
        assert_eq!(sel.input.as_deref(), Some("Mic"), "mic untouched");
    }
    // The engine keeps going on the new rings.
    for _ in 0..3 {
        feed(200);
    }
    audio.capture(&mut frame).unwrap();
    assert!(
        frame.iter().all(|&s| s == 200),
        "capture flows after fallback"
    );
    let st = audio.status();
    assert_eq!(
        (st.fallbacks, st.output.as_str(), st.output_rate),
        (1, "default", 44_100)
    );

    // Playout reaches the new 44.1 kHz speaker, resampled, at pitch.
    let sent = tone(500.0, SESSION_RATE, FRAME * 10, 8000.0);
    let mut heard = Vec::new();
    for f in sent.chunks(FRAME) {
        audio.playout(f).unwrap();
        let mut live = devs.live.lock().unwrap();
        let (cb, _, _) = live.as_mut().unwrap();
        let mut out = [0i16; 882];
        cb.on_output(&mut out);
        heard.extend_from_slice(&out);
    }
    let f = freq_of(&heard[4410..], 44_100);
    assert!((f - 500.0).abs() < 10.0, "{f} Hz at the fallback speaker");
    drop(audio);
}

#[test]
fn routine_sound_system_noise_is_quiet_unless_named() {
    let quiet: Vec<String> = super::quiet_log_directives("info").collect();
    assert_eq!(quiet, ["pulseaudio::client::reactor=off"]);
    assert_eq!(
        super::quiet_log_directives("info,pulseaudio::client::reactor=debug").count(),
        0,
        "the user asked for it by name"
    );
}

//! Ringtone and ringback on real sound devices: the private PulseAudio
//! that scripts/test.sh starts (a null sink whose monitor is the default
//! microphone), so what the phone plays can be listened to. Gated on
//! PARLEY_TEST_AUDIO=1 like the other sound-server tests.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::device::{AudioPort, DeviceAudio, DeviceSelection, FrameClock, FRAME};
use media::processing::ProcessingConfig;
use media::tones::goertzel;
use ua::api::CallState;
use ua::call::AudioChoice;
use ua::{Engine, EngineOptions, Event, SipOptions, LOCAL_ACCOUNT};

fn engine(dir: &std::path::Path, call_audio: AudioChoice) -> Engine {
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
        call_audio,
    })
    .unwrap()
}

/// `ms` of what the null sink plays, through its monitor.
fn listen(mic: &mut DeviceAudio, ms: usize) -> Vec<i16> {
    let frames = ms / 20;
    let mut clock = FrameClock::new(Instant::now());
    let mut got = Vec::new();
    let mut cap = [0i16; FRAME];
    while got.len() < frames * FRAME {
        std::thread::sleep(clock.next_due().saturating_duration_since(Instant::now()));
        for _ in 0..clock.due(Instant::now()) {
            mic.capture(&mut cap).expect("capture");
            mic.playout(&[0; FRAME]).expect("playout");
            got.extend_from_slice(&cap);
        }
    }
    got
}

/// The ringtone's two chords (587 + 880 Hz, 659 + 988 Hz) against a tone
/// it never has.
fn ringtone_share(x: &[i16]) -> (f32, f32) {
    let p = [587.33, 880.0, 659.26, 987.77]
        .iter()
        .map(|&f| goertzel(x, f, 48_000))
        .sum();
    (p, goertzel(x, 1500.0, 48_000))
}

async fn wait_state(rx: &mut tokio::sync::broadcast::Receiver<Event>, want: CallState) {
    let wait = async {
        loop {
            match rx.recv().await.unwrap() {
                Event::IncomingCall { call } | Event::CallState { call } if call.state == want => {
                    return
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("never {want:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_call_rings_on_the_speaker_until_answered() {
    if std::env::var_os("PARLEY_TEST_AUDIO").is_none() {
        eprintln!("PARLEY_TEST_AUDIO unset: the sound-server test runs under scripts/test.sh");
        return;
    }
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let caller = engine(da.path(), AudioChoice::Null);
    let phone = engine(
        db.path(),
        AudioChoice::Device {
            selection: DeviceSelection::default(),
            processing: ProcessingConfig::off(),
        },
    );
    let addr = phone.listen().await.unwrap();
    let mut rx = phone.subscribe();
    let mut mic = DeviceAudio::open(&DeviceSelection::default()).expect("monitor");
    let quiet = tokio::task::block_in_place(|| listen(&mut mic, 300));
    let (before, _) = ringtone_share(&quiet);

    caller
        .call(LOCAL_ACCOUNT, &format!("sip:parley@{addr}"))
        .await
        .unwrap();
    wait_state(&mut rx, CallState::Incoming).await;
    // One whole ring cycle (3 s): it holds both chords however late the
    // device started.
    let ringing = tokio::task::block_in_place(|| listen(&mut mic, 3000));
    let (ring, other) = ringtone_share(&ringing);
    assert!(
        ring > 1e-4 && ring > 50.0 * other && ring > 50.0 * before,
        "ringtone on the speaker: {ring} (1500 Hz {other}, before {before})"
    );

    let id = phone.status().await.unwrap().calls[0].id;
    phone.answer(id).await.unwrap();
    wait_state(&mut rx, CallState::Connected).await;
    let _settle = tokio::task::block_in_place(|| listen(&mut mic, 300));
    let talking = tokio::task::block_in_place(|| listen(&mut mic, 3000));
    let (after, _) = ringtone_share(&talking);
    assert!(
        after < ring / 50.0,
        "the ringtone stops once answered: {after} vs {ring}"
    );
    phone.hangup(id).await.unwrap();
}

//! 3-way calling and call recording against real peers: Parley (alice,
//! through the test Kamailio) calls two baresips that play different
//! tones, merges the calls, and each baresip's decoder dump must hold the
//! other's tone and Parley's; recordings must hold both directions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parley_interop::{Baresip, BaresipOptions, Kamailio, KamailioOptions};
use serde_json::Value;

mod common;
use common::{add_alice, call_state, cli_cmd, event, mono, share, tone, Running};

const BOB_HZ: f64 = 440.0;
const CAROL_HZ: f64 = 1000.0;
const PARLEY_HZ: f64 = 1800.0;

fn peer(kam: &Kamailio, user: &'static str, wav: PathBuf) -> Baresip {
    let b = Baresip::start(
        kam,
        BaresipOptions {
            audio_file: Some(wav),
            ..BaresipOptions::new(user)
        },
    )
    .expect("baresip");
    b.wait_registered(Duration::from_secs(10))
        .expect("baresip registered");
    b
}

/// What baresip decoded from us (its `-dec.wav` dump), once written;
/// the latest when a re-INVITE (hold, resume) started a new one.
fn dump(b: &Baresip) -> PathBuf {
    for _ in 0..20 {
        let found = std::fs::read_dir(b.dir.path().join("rec"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().to_string_lossy().ends_with("-dec.wav"))
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path());
        if let Some(p) = found {
            return p;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("baresip recorded nothing:\n{}", b.log());
}

/// Tone shares over 1 s windows every 250 ms.
fn windows(path: &Path, tones: &[f64]) -> Vec<Vec<f64>> {
    let (rate, x) = mono(path);
    let (win, step) = (rate as usize, rate as usize / 4);
    (0..x.len().saturating_sub(win) / step)
        .map(|i| {
            let w = &x[i * step..i * step + win];
            tones.iter().map(|&hz| share(w, rate, hz)).collect()
        })
        .collect()
}

fn connected_to(v: &Value, user: &str) -> bool {
    call_state(v, "connected")
        && v["call"]["peer_uri"]
            .as_str()
            .is_some_and(|u| u.contains(user))
}

#[test]
fn three_way_call_with_two_baresips_then_the_host_leg_hangs_up() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (bob_wav, carol_wav, our_wav) = (
        dir.path().join("bob.wav"),
        dir.path().join("carol.wav"),
        dir.path().join("parley.wav"),
    );
    tone(&bob_wav, BOB_HZ, 60.0);
    tone(&carol_wav, CAROL_HZ, 60.0);
    tone(&our_wav, PARLEY_HZ, 60.0);
    let bob = peer(&kam, "bob", bob_wav);
    let carol = peer(&kam, "carol", carol_wav);
    add_alice(dir.path(), &kam);
    let mut parley = Running::start(
        dir.path(),
        &["--account", "work", "--play", our_wav.to_str().unwrap()],
        Some("alice123"),
    );
    parley.wait("registered", Duration::from_secs(15), |v| {
        event(v) == "registered"
    });

    parley.send("call sip:bob@127.0.0.1");
    let b = parley.wait("bob connected", Duration::from_secs(10), |v| {
        connected_to(v, "bob")
    });
    let bob_id = b["call"]["id"].as_u64().unwrap();
    parley.send("call sip:carol@127.0.0.1");
    let c = parley.wait("carol connected", Duration::from_secs(10), |v| {
        connected_to(v, "carol")
    });
    let carol_id = c["call"]["id"].as_u64().unwrap();
    // Two plain calls for a while: bob hears only us.
    std::thread::sleep(Duration::from_millis(1500));

    // The current call is carol's: merge bob in. Carol's call (we talk
    // in it) hosts the mix.
    parley.send(&format!("merge {bob_id}"));
    for id in [bob_id, carol_id] {
        parley.seen_or_wait("conference state", Duration::from_secs(5), |v| {
            event(v) == "call_state" && v["call"]["id"] == id && v["call"]["conference"].is_u64()
        });
    }
    // Record the conference from bob's leg, to the default folder.
    parley.send(&format!("switch {bob_id}"));
    parley.send("record");
    let started = parley.wait("recording", Duration::from_secs(5), |v| {
        event(v) == "recording" && v["active"] == true
    });
    let rec = PathBuf::from(started["path"].as_str().unwrap());
    assert!(
        rec.starts_with(dir.path().join("data").join("recordings")),
        "{}",
        rec.display()
    );
    let name = rec.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.ends_with("Z_bob.wav"),
        "dated, named after bob: {name}"
    );
    std::thread::sleep(Duration::from_secs(4));
    parley.send("stop-recording");
    let stopped = parley.wait("recording stopped", Duration::from_secs(5), |v| {
        event(v) == "recording" && v["active"] == false
    });
    assert!(stopped["error"].is_null(), "{stopped}");

    // The host leg (carol) hangs up on our side: bob's call carries on
    // alone with our voice.
    parley.send(&format!("switch {carol_id}"));
    parley.send("hangup");
    parley.wait("carol ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == carol_id
    });
    parley.seen_or_wait("bob out of the conference", Duration::from_secs(5), |v| {
        event(v) == "call_state" && v["call"]["id"] == bob_id && v["call"]["conference"].is_null()
    });
    std::thread::sleep(Duration::from_secs(3));
    parley.send(&format!("switch {bob_id}"));
    parley.send("hangup");
    parley.wait("bob ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == bob_id
    });
    std::thread::sleep(Duration::from_millis(500));

    // Bob heard carol and us while merged, and only us at the end.
    let heard = windows(&dump(&bob), &[CAROL_HZ, PARLEY_HZ, BOB_HZ]);
    let merged = heard.iter().filter(|w| w[0] > 0.2 && w[1] > 0.2).count();
    assert!(
        merged >= 8,
        "bob heard carol and Parley together in {merged} windows: {heard:.2?}"
    );
    assert!(
        heard.iter().all(|w| w[2] < 0.05),
        "bob never hears himself: {heard:.2?}"
    );
    let end = &heard[heard.len().saturating_sub(6)..heard.len().saturating_sub(2)];
    assert!(
        end.iter().all(|w| w[1] > 0.6 && w[0] < 0.05),
        "after carol left, bob hears Parley only: {end:.2?}"
    );
    // Carol heard bob and us while merged, never herself.
    let heard = windows(&dump(&carol), &[BOB_HZ, PARLEY_HZ, CAROL_HZ]);
    let merged = heard.iter().filter(|w| w[0] > 0.2 && w[1] > 0.2).count();
    assert!(
        merged >= 8,
        "carol heard bob and Parley together in {merged} windows: {heard:.2?}"
    );
    assert!(
        heard.iter().all(|w| w[2] < 0.05),
        "carol never hears herself: {heard:.2?}"
    );
    // The recording holds all three, at 16 kHz.
    let spec = hound::WavReader::open(&rec).unwrap().spec();
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    let all = windows(&rec, &[BOB_HZ, CAROL_HZ, PARLEY_HZ]);
    let full = all.iter().filter(|w| w.iter().all(|&s| s > 0.15)).count();
    assert!(full >= 8, "the recording has everyone: {all:.2?}");
}

#[test]
fn split_holds_the_call_taken_out_and_the_other_talks_on() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (bob_wav, carol_wav, our_wav) = (
        dir.path().join("bob.wav"),
        dir.path().join("carol.wav"),
        dir.path().join("parley.wav"),
    );
    tone(&bob_wav, BOB_HZ, 60.0);
    tone(&carol_wav, CAROL_HZ, 60.0);
    tone(&our_wav, PARLEY_HZ, 60.0);
    let bob = peer(&kam, "bob", bob_wav);
    let _carol = peer(&kam, "carol", carol_wav);
    add_alice(dir.path(), &kam);
    let mut parley = Running::start(
        dir.path(),
        &["--account", "work", "--play", our_wav.to_str().unwrap()],
        Some("alice123"),
    );
    parley.wait("registered", Duration::from_secs(15), |v| {
        event(v) == "registered"
    });
    parley.send("call sip:bob@127.0.0.1");
    let bob_id = parley.wait("bob connected", Duration::from_secs(10), |v| {
        connected_to(v, "bob")
    })["call"]["id"]
        .as_u64()
        .unwrap();
    parley.send("call sip:carol@127.0.0.1");
    let carol_id = parley.wait("carol connected", Duration::from_secs(10), |v| {
        connected_to(v, "carol")
    })["call"]["id"]
        .as_u64()
        .unwrap();
    parley.send(&format!("merge {bob_id}"));
    parley.wait("bob in the conference", Duration::from_secs(5), |v| {
        call_state(v, "connected") && v["call"]["id"] == bob_id && v["call"]["conference"].is_u64()
    });
    std::thread::sleep(Duration::from_secs(3));
    // Take carol (the host) out: she is held, bob talks on with us.
    parley.send(&format!("switch {carol_id}"));
    parley.send("split");
    parley.wait("carol held", Duration::from_secs(5), |v| {
        call_state(v, "on_hold") && v["call"]["id"] == carol_id && v["call"]["conference"].is_null()
    });
    parley.seen_or_wait("bob a plain call", Duration::from_secs(5), |v| {
        call_state(v, "connected") && v["call"]["id"] == bob_id && v["call"]["conference"].is_null()
    });
    std::thread::sleep(Duration::from_secs(3));
    parley.send(&format!("switch {bob_id}"));
    parley.send("hangup");
    parley.wait("bob ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == bob_id
    });
    parley.send(&format!("switch {carol_id}"));
    parley.send("hangup");
    parley.wait("carol ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == carol_id
    });
    std::thread::sleep(Duration::from_millis(500));
    let heard = windows(&dump(&bob), &[CAROL_HZ, PARLEY_HZ]);
    let merged = heard.iter().filter(|w| w[0] > 0.2 && w[1] > 0.2).count();
    let files: Vec<(PathBuf, u64)> = std::fs::read_dir(bob.dir.path().join("rec"))
        .unwrap()
        .flatten()
        .map(|e| (e.path(), e.metadata().map_or(0, |m| m.len())))
        .collect();
    assert!(
        merged >= 6,
        "bob heard the conference: {heard:.2?} in {files:?}"
    );
    let end = &heard[heard.len().saturating_sub(6)..heard.len().saturating_sub(2)];
    assert!(
        end.iter().all(|w| w[1] > 0.6 && w[0] < 0.05),
        "after the split bob hears Parley, not carol: {end:.2?}"
    );
}

#[test]
fn a_recorded_call_holds_both_directions() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (bob_wav, our_wav) = (dir.path().join("bob.wav"), dir.path().join("parley.wav"));
    tone(&bob_wav, BOB_HZ, 30.0);
    tone(&our_wav, PARLEY_HZ, 30.0);
    let _bob = peer(&kam, "bob", bob_wav);
    add_alice(dir.path(), &kam);
    let rec = dir.path().join("call.wav");
    let out = cli_cmd(dir.path())
        .env("PARLEY_PASSWORD", "alice123")
        .args([
            "call",
            "sip:bob@127.0.0.1",
            "--account",
            "work",
            "--duration",
            "4",
            "--play",
            our_wav.to_str().unwrap(),
            "--record-call",
            rec.to_str().unwrap(),
        ])
        .output()
        .expect("parley-cli");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let rec_events: Vec<&Value> = events.iter().filter(|v| event(v) == "recording").collect();
    assert_eq!(rec_events.len(), 2, "started and stopped: {rec_events:?}");
    assert_eq!(rec_events[1]["active"], false);
    assert_eq!(rec_events[1]["path"], rec.to_str().unwrap());
    let ended = events.iter().position(|v| event(v) == "call_ended");
    let stopped = events
        .iter()
        .position(|v| event(v) == "recording" && v["active"] == false);
    assert!(
        stopped < ended,
        "the file is complete before the call is over"
    );

    let spec = hound::WavReader::open(&rec).unwrap().spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (16_000, 1, 16)
    );
    let w = windows(&rec, &[BOB_HZ, PARLEY_HZ]);
    let both = w.iter().filter(|w| w[0] > 0.25 && w[1] > 0.25).count();
    assert!(both >= 6, "bob's tone and ours: {w:.2?}");
}

#[test]
fn recording_to_an_unwritable_folder_is_refused_and_the_call_goes_on() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let _bob = peer(&kam, "bob", {
        let p = dir.path().join("bob.wav");
        tone(&p, BOB_HZ, 20.0);
        p
    });
    add_alice(dir.path(), &kam);
    let out = cli_cmd(dir.path())
        .env("PARLEY_PASSWORD", "alice123")
        .args([
            "call",
            "sip:bob@127.0.0.1",
            "--account",
            "work",
            "--duration",
            "2",
            "--record-call",
            dir.path().join("missing").join("x.wav").to_str().unwrap(),
        ])
        .output()
        .expect("parley-cli");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("cannot create the recording"),
        "a clear error: {stderr}"
    );
    // The call went on to its normal end.
    assert!(stdout.contains("\"connected\""), "{stdout}");
    assert!(stdout.contains("\"hung_up\""), "{stdout}");
    assert!(
        stdout.contains("\"error\"") && stdout.contains("cannot create the recording"),
        "{stdout}"
    );
}

#[test]
fn baresip_hears_us_again_after_hold_and_resume() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (bob_wav, our_wav) = (dir.path().join("bob.wav"), dir.path().join("parley.wav"));
    tone(&bob_wav, BOB_HZ, 60.0);
    tone(&our_wav, PARLEY_HZ, 60.0);
    let bob = peer(&kam, "bob", bob_wav);
    add_alice(dir.path(), &kam);
    let mut parley = Running::start(
        dir.path(),
        &["--account", "work", "--play", our_wav.to_str().unwrap()],
        Some("alice123"),
    );
    parley.wait("registered", Duration::from_secs(15), |v| {
        event(v) == "registered"
    });
    parley.send("call sip:bob@127.0.0.1");
    parley.wait("bob connected", Duration::from_secs(10), |v| {
        connected_to(v, "bob")
    });
    std::thread::sleep(Duration::from_secs(2));
    parley.send("hold");
    parley.wait("held", Duration::from_secs(5), |v| call_state(v, "on_hold"));
    std::thread::sleep(Duration::from_secs(2));
    parley.send("resume");
    parley.wait("resumed", Duration::from_secs(5), |v| {
        call_state(v, "connected")
    });
    std::thread::sleep(Duration::from_secs(4));
    parley.send("hangup");
    parley.wait("ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended"
    });
    std::thread::sleep(Duration::from_millis(500));
    let heard = windows(&dump(&bob), &[PARLEY_HZ]);
    let end = &heard[heard.len().saturating_sub(8)..heard.len().saturating_sub(2)];
    assert!(
        end.iter().all(|w| w[0] > 0.6),
        "after resume bob hears Parley: {heard:.2?}\n{}",
        bob.log()
            .lines()
            .filter(|l| !l.contains("dropping"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

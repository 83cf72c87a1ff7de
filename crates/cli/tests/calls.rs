//! Calls with `parley-cli` against real peers on loopback: another
//! Parley on the local account (no server), baresip through the test
//! Kamailio, and SIPp for a ghost INVITE.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parley_interop::{free_port, Baresip, BaresipOptions, Kamailio, KamailioOptions, Sipp};

mod common;
use common::{call_state, cli, cli_cmd, event, Running};

/// A mono 16-bit 48 kHz WAV of a sine.
fn tone(path: &Path, hz: f64, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (48_000.0 * secs) as usize;
    for i in 0..n {
        let s = (2.0 * std::f64::consts::PI * hz * i as f64 / 48_000.0).sin() * 8000.0;
        w.write_sample(s as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Share of the signal's energy at `hz`, over the middle second of the
/// recording. Goertzel runs on 50 ms blocks and the block powers are
/// summed: the receiver's jitter buffer may stretch or shorten a frame
/// by a few samples to follow clock drift, which shifts the tone's phase
/// between blocks. A single 1 s Goertzel window would read that as the
/// tone vanishing although every block still carries it.
fn tone_share(path: &Path, hz: f64) -> f64 {
    let mut r = hound::WavReader::open(path).unwrap();
    let rate = f64::from(r.spec().sample_rate);
    let all: Vec<f64> = r.samples::<i16>().map(|s| f64::from(s.unwrap())).collect();
    assert!(
        all.len() as f64 > rate * 1.5,
        "recording too short: {} samples",
        all.len()
    );
    let start = all.len() / 2 - (rate as usize) / 2;
    let x = &all[start..start + rate as usize];
    let w = 2.0 * std::f64::consts::PI * hz / rate;
    let block = (rate / 20.0) as usize;
    let (mut power, mut energy) = (0.0, 0.0);
    for b in x.chunks_exact(block) {
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in b {
            let s = v + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        // Goertzel power of a pure tone is energy * N / 2.
        power += (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (block as f64 / 2.0);
        energy += b.iter().map(|v| v * v).sum::<f64>();
    }
    if energy == 0.0 {
        return 0.0;
    }
    power / energy
}

#[test]
fn two_parleys_on_the_local_account_call_each_other_with_audio_both_ways() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let rec = a.path().join("rec");
    let tone_a = a.path().join("a.wav");
    let tone_b = b.path().join("b.wav");
    tone(&tone_a, 440.0, 6.0);
    tone(&tone_b, 1000.0, 6.0);
    let port = free_port(1);
    let mut callee = Running::start(
        a.path(),
        &[
            "--auto-answer",
            "--port",
            &port.to_string(),
            "--play",
            tone_a.to_str().unwrap(),
            "--record",
            rec.to_str().unwrap(),
        ],
        None,
    );
    callee.wait("listening", Duration::from_secs(10), |v| {
        event(v) == "listening"
    });
    let heard_b = b.path().join("heard.wav");
    let out = cli(
        b.path(),
        &[
            "call",
            &format!("sip:parley@127.0.0.1:{port}"),
            "--duration",
            "3",
            "--play",
            tone_b.to_str().unwrap(),
            "--record",
            heard_b.to_str().unwrap(),
            "--dtmf",
            "12#",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "caller failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"connected\""), "{stdout}");
    callee.wait("incoming call", Duration::from_secs(5), |v| {
        event(v) == "incoming_call"
    });
    let digits: Vec<String> = (0..3)
        .map(|_| {
            callee.wait("dtmf", Duration::from_secs(5), |v| event(v) == "dtmf")["digit"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(digits, ["1", "2", "#"], "RFC 4733 digits, once each");
    let ended = callee.wait("call ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended"
    });
    assert_eq!(ended["end"]["outcome"], "hung_up");
    assert_eq!(ended["end"]["by_us"], false);
    drop(callee);
    // Each side heard the other's tone (Opus both ways).
    let heard_a = rec.join("call-1.wav");
    let a_hears_b = tone_share(&heard_a, 1000.0);
    let b_hears_a = tone_share(&heard_b, 440.0);
    assert!(
        a_hears_b > 0.8,
        "callee heard the 1 kHz tone: share {a_hears_b:.2}"
    );
    assert!(
        b_hears_a > 0.8,
        "caller heard the 440 Hz tone: share {b_hears_a:.2}"
    );
}

fn add_alice(dir: &Path, kam: &Kamailio) {
    let proxy = format!("sip:127.0.0.1:{}", kam.port);
    let add = cli(
        dir,
        &[
            "account",
            "add",
            "work",
            "--uri",
            "sip:alice@127.0.0.1",
            "--display-name",
            "Alice",
            "--proxy",
            &proxy,
        ],
        None,
    );
    assert!(add.status.success(), "{add:?}");
}

fn baresip(kam: &Kamailio, answer_mode: &'static str) -> Baresip {
    let b = Baresip::start(
        kam,
        BaresipOptions {
            answer_mode,
            ..BaresipOptions::new("bob")
        },
    )
    .expect("baresip");
    b.wait_registered(Duration::from_secs(10))
        .expect("baresip registered");
    b
}

/// Files under `dir` containing `needle`.
fn files_with(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                hits.push(p);
            }
        }
    }
    hits
}

#[test]
fn do_not_disturb_answers_busy_without_ringing() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut dnd = Running::start(a.path(), &["--dnd", "--port", &port.to_string()], None);
    dnd.wait("listening", Duration::from_secs(10), |v| {
        event(v) == "listening"
    });
    let out = cli(
        b.path(),
        &["call", &format!("sip:parley@127.0.0.1:{port}")],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("\"rejected\"") && stdout.contains("486"),
        "{stdout}"
    );
    std::thread::sleep(Duration::from_millis(300));
    while let Ok(v) = dnd.events.try_recv() {
        dnd.seen.push(v);
    }
    assert!(
        !dnd.saw(|v| event(v) == "incoming_call"),
        "DND rang: {:?}",
        dnd.seen
    );
}

#[test]
fn calls_baresip_through_kamailio_and_hangs_up() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let bob = baresip(&kam, "auto");
    let dir = tempfile::tempdir().unwrap();
    add_alice(dir.path(), &kam);
    let out = cli_cmd(dir.path())
        .env("PARLEY_LOG", "trace")
        .env("PARLEY_PASSWORD", "alice123")
        .args([
            "call",
            "sip:bob@127.0.0.1",
            "--account",
            "work",
            "--duration",
            "2",
        ])
        .output()
        .expect("run parley-cli");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\nbaresip: {}",
        String::from_utf8_lossy(&out.stderr),
        bob.log()
    );
    assert!(stdout.contains("\"connected\""));
    assert!(stdout.contains("\"hung_up\""));
    // The password answered Kamailio's challenges, and is nowhere else:
    // not in trace-level logs, not in any file we wrote.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TRACE"), "trace logs were on");
    assert!(!stderr.contains("alice123") && !stdout.contains("alice123"));
    assert!(files_with(dir.path(), b"alice123").is_empty());
    // baresip saw the call established and then closed by our BYE.
    let log = bob.log();
    assert!(
        log.contains("CALL_ESTABLISHED") || log.to_lowercase().contains("established"),
        "{log}"
    );
}

#[test]
fn baresip_calls_parley_which_answers_then_baresip_hangs_up() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let bob = baresip(&kam, "auto");
    let dir = tempfile::tempdir().unwrap();
    add_alice(dir.path(), &kam);
    let mut parley = Running::start(dir.path(), &["--account", "work"], Some("alice123"));
    parley.wait("registered", Duration::from_secs(15), |v| {
        event(v) == "registered"
    });
    bob.command("dial", "sip:alice@127.0.0.1").expect("dial");
    let incoming = parley.wait("incoming call", Duration::from_secs(10), |v| {
        event(v) == "incoming_call"
    });
    assert!(incoming["call"]["peer_uri"]
        .as_str()
        .unwrap()
        .contains("bob"));
    parley.send("answer");
    parley.wait("connected", Duration::from_secs(10), |v| {
        call_state(v, "connected")
    });
    std::thread::sleep(Duration::from_secs(1));
    bob.command("hangup", "").expect("hangup");
    let ended = parley.wait("call ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended"
    });
    assert_eq!(ended["end"]["outcome"], "hung_up");
    assert_eq!(ended["end"]["by_us"], false, "the peer hung up");
}

#[test]
fn cancel_while_ringing_and_reject_busy() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let bob = baresip(&kam, "manual");
    let dir = tempfile::tempdir().unwrap();
    add_alice(dir.path(), &kam);
    let mut parley = Running::start(dir.path(), &["--account", "work"], Some("alice123"));
    parley.wait("registered", Duration::from_secs(15), |v| {
        event(v) == "registered"
    });

    // We call; bob rings; we hang up: CANCEL, 487, ended as cancelled.
    parley.send("call sip:bob@127.0.0.1");
    parley.wait("ringing", Duration::from_secs(10), |v| {
        call_state(v, "ringing")
    });
    parley.send("hangup");
    let ended = parley.wait("call ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended"
    });
    assert_eq!(ended["end"]["outcome"], "cancelled", "{ended}");

    // Bob calls; we answer busy: 486 reaches bob.
    bob.command("dial", "sip:alice@127.0.0.1").expect("dial");
    parley.wait("incoming call", Duration::from_secs(10), |v| {
        event(v) == "incoming_call"
    });
    parley.send("busy");
    let ended = parley.wait("call ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended"
    });
    assert_eq!(ended["end"]["outcome"], "rejected");
    assert_eq!(ended["end"]["status"], 486);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !bob.log().contains("486") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        bob.log().contains("486"),
        "baresip got Busy Here: {}",
        bob.log()
    );
}

#[test]
fn a_ghost_invite_straight_to_our_port_is_refused_without_ringing() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    add_alice(dir.path(), &kam);
    let port = free_port(1);
    let mut parley = Running::start(
        dir.path(),
        &["--account", "work", "--port", &port.to_string()],
        Some("alice123"),
    );
    parley.wait("registered", Duration::from_secs(15), |v| {
        event(v) == "registered"
    });
    let out: PathBuf = dir.path().join("sipp");
    let run = Sipp::scenario("ghost_invite")
        .remote(format!("127.0.0.1:{port}").parse().unwrap())
        .args(["-s", "100"])
        .run(&out)
        .expect("sipp");
    assert!(run.passed(), "SIPp expected a 404: {}", run.trace("msg"));
    std::thread::sleep(Duration::from_millis(500));
    // Drain what arrived meanwhile; no call may have rung.
    while let Ok(v) = parley.events.try_recv() {
        parley.seen.push(v);
    }
    assert!(
        !parley.saw(|v| event(v) == "incoming_call"),
        "a ghost call rang: {:#?}",
        parley.seen
    );
}

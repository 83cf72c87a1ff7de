//! Calls with `parley-cli` against real peers on loopback: another
//! Parley on the local account (no server), baresip through the test
//! Kamailio, and SIPp for a ghost INVITE.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parley_interop::{free_port, Baresip, BaresipOptions, Kamailio, KamailioOptions, Sipp};

mod common;
use common::{add_alice, call_state, cli, cli_cmd, event, tone, tone_share, Running};

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

    // Bob calls and gives up while we ring: his CANCEL (through Kamailio)
    // ends our ringing call as missed.
    bob.command("dial", "sip:alice@127.0.0.1").expect("dial");
    let rang = parley.wait("incoming call again", Duration::from_secs(10), |v| {
        event(v) == "incoming_call"
    });
    let id = rang["call"]["id"].clone();
    std::thread::sleep(Duration::from_millis(500));
    bob.command("hangup", "").expect("hangup");
    let ended = parley.wait("the caller gave up", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == id
    });
    assert_eq!(ended["end"]["outcome"], "missed", "{ended}");
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

//! Call features of `parley-cli` against SIPp scenarios, directly on
//! loopback (local account): 100rel/PRACK in both roles, hold by
//! re-INVITE and resume by UPDATE, INFO DTMF, 491 glare, 3xx redirect,
//! RFC 4028 session-timer refresh.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parley_interop::{free_port, Sipp};

mod common;
use common::{call_state, cli, event, Running};

fn callee(dir: &Path, port: u16) -> Running {
    let mut r = Running::start(dir, &["--auto-answer", "--port", &port.to_string()], None);
    r.wait("listening", Duration::from_secs(10), |v| {
        event(v) == "listening"
    });
    r
}

fn scenario(name: &str, port: u16) -> Sipp {
    Sipp::scenario(name)
        .remote(format!("127.0.0.1:{port}").parse().unwrap())
        .args(["-s", "parley", "-mp", &free_port(4).to_string()])
}

#[test]
fn parley_answers_with_reliable_180_then_takes_hold_update_resume_and_info_dtmf() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let out: PathBuf = dir.path().join("sipp");
    let run = scenario("parley_uas_features", port)
        .run(&out)
        .expect("sipp");
    assert!(run.passed(), "SIPp: {}", run.trace("msg"));
    parley.wait("held by the peer", Duration::from_secs(5), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_peer"] == true
    });
    parley.wait("resumed", Duration::from_secs(5), |v| {
        call_state(v, "connected") && v["call"]["held_by_peer"] == false
    });
    let d = parley.wait("dtmf", Duration::from_secs(5), |v| event(v) == "dtmf");
    assert_eq!(d["digit"], "5");
    let ended = parley.wait("ended", Duration::from_secs(5), |v| {
        event(v) == "call_ended"
    });
    assert_eq!(ended["end"]["by_us"], false);
}

#[test]
fn parley_pracks_a_reliable_183_with_sdp() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let out: PathBuf = dir.path().join("sipp");
    let uas = Sipp::scenario("uas_100rel")
        .port(sipp_port)
        .args(["-mp", &free_port(4).to_string()])
        .start(&out)
        .expect("sipp");
    let call = cli(
        dir.path(),
        &[
            "call",
            &format!("sip:test@127.0.0.1:{sipp_port}"),
            "--duration",
            "1",
        ],
        None,
    );
    let run = uas.wait().expect("sipp ends");
    assert!(
        call.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&call.stdout),
        String::from_utf8_lossy(&call.stderr)
    );
    assert!(run.passed(), "SIPp wanted a PRACK: {}", run.trace("msg"));
    assert!(String::from_utf8_lossy(&call.stdout).contains("\"early_media\""));
}

#[test]
fn re_invite_glare_491_is_retried_after_the_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let out: PathBuf = dir.path().join("sipp");
    let sipp = scenario("glare_491", port).start(&out).expect("sipp");
    parley.wait("connected", Duration::from_secs(10), |v| {
        call_state(v, "connected")
    });
    parley.send("hold");
    let held = parley.wait("held", Duration::from_secs(10), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_us"] == true
    });
    assert_eq!(held["call"]["held_by_peer"], false);
    let run = sipp.wait().expect("sipp ends");
    assert!(run.passed(), "SIPp: {}", run.trace("msg"));
    // Exactly two re-INVITEs reached SIPp: the refused one and the retry.
    let msgs = run.trace("msg");
    let reinvites = msgs.matches("CSeq: 2 INVITE").count() + msgs.matches("CSeq: 3 INVITE").count();
    assert!(reinvites >= 2, "{msgs}");
    parley.wait("ended", Duration::from_secs(5), |v| {
        event(v) == "call_ended"
    });
}

#[test]
fn a_302_redirect_is_followed_to_the_new_contact() {
    let target_dir = tempfile::tempdir().unwrap();
    let target_port = free_port(1);
    let mut target = callee(target_dir.path(), target_port);
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let out: PathBuf = dir.path().join("sipp");
    let redirector = Sipp::scenario("redirect")
        .port(sipp_port)
        .args(["-key", "target_port", &target_port.to_string()])
        .start(&out)
        .expect("sipp");
    let call = cli(
        dir.path(),
        &[
            "call",
            &format!("sip:someone@127.0.0.1:{sipp_port}"),
            "--duration",
            "1",
        ],
        None,
    );
    assert!(
        call.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&call.stdout),
        String::from_utf8_lossy(&call.stderr)
    );
    assert!(redirector.wait().expect("sipp").passed());
    target.wait("the redirected call", Duration::from_secs(5), |v| {
        event(v) == "incoming_call"
    });
}

#[test]
fn the_uas_refreshes_a_session_timer_it_was_asked_to_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let out: PathBuf = dir.path().join("sipp");
    let run = scenario("session_timer", port)
        .timeout(Duration::from_secs(90))
        .run(&out)
        .expect("sipp");
    assert!(
        run.passed(),
        "no refresh within the interval: {}",
        run.trace("msg")
    );
    parley.wait("ended", Duration::from_secs(5), |v| {
        event(v) == "call_ended"
    });
}

#[test]
fn blind_transfer_as_transferee_calls_the_target_and_reports_by_notify() {
    let target_dir = tempfile::tempdir().unwrap();
    let target_port = free_port(1);
    let mut target = callee(target_dir.path(), target_port);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let out: PathBuf = dir.path().join("sipp");
    let run = scenario("refer_transferor", port)
        .args(["-key", "target_port", &target_port.to_string()])
        .run(&out)
        .expect("sipp");
    assert!(
        run.passed(),
        "SIPp: {}\n{}",
        run.trace("err"),
        run.trace("msg")
    );
    let incoming = target.wait("the transferred call", Duration::from_secs(5), |v| {
        event(v) == "incoming_call"
    });
    assert!(incoming["call"]["peer_uri"]
        .as_str()
        .unwrap()
        .contains("parley"));
    // The referred call connected, and our call with the transferor ended.
    parley.wait("new call connected", Duration::from_secs(5), |v| {
        call_state(v, "connected") && v["call"]["id"] == 2
    });
    let ended = parley.wait("first call over", Duration::from_secs(5), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 1
    });
    assert_eq!(ended["end"]["outcome"], "transferred");
    let msgs = run.trace("msg");
    assert!(msgs.contains("SIP/2.0 200 OK\r\n") && msgs.contains("message/sipfrag"));
}

#[test]
fn blind_transfer_as_transferor_refers_and_hangs_up_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let out: PathBuf = dir.path().join("sipp");
    let transferee = Sipp::scenario("refer_transferee")
        .port(sipp_port)
        .args(["-mp", &free_port(4).to_string()])
        .start(&out)
        .expect("sipp");
    let mut parley = Running::start(dir.path(), &[], None);
    parley.wait("listening", Duration::from_secs(10), |v| {
        event(v) == "listening"
    });
    parley.send(&format!("call sip:bob@127.0.0.1:{sipp_port}"));
    parley.wait("connected", Duration::from_secs(10), |v| {
        call_state(v, "connected")
    });
    parley.send("transfer sip:carol@127.0.0.1");
    parley.wait("transferring", Duration::from_secs(5), |v| {
        call_state(v, "transferring")
    });
    let ended = parley.wait("ended", Duration::from_secs(10), |v| {
        event(v) == "call_ended"
    });
    assert_eq!(ended["end"]["outcome"], "transferred");
    let run = transferee.wait().expect("sipp");
    assert!(run.passed(), "SIPp: {}", run.trace("msg"));
}

#[test]
fn attended_transfer_between_three_parleys_replaces_the_consultation_call() {
    let b_dir = tempfile::tempdir().unwrap();
    let c_dir = tempfile::tempdir().unwrap();
    let (b_port, c_port) = (free_port(1), free_port(1));
    let mut b = callee(b_dir.path(), b_port);
    let mut c = callee(c_dir.path(), c_port);
    let a_dir = tempfile::tempdir().unwrap();
    let mut a = Running::start(a_dir.path(), &[], None);
    a.wait("listening", Duration::from_secs(10), |v| {
        event(v) == "listening"
    });
    a.send(&format!("call sip:parley@127.0.0.1:{b_port}"));
    a.wait("A-B connected", Duration::from_secs(10), |v| {
        call_state(v, "connected") && v["call"]["id"] == 1
    });
    a.send("hold");
    a.wait("A-B held", Duration::from_secs(10), |v| {
        call_state(v, "on_hold")
    });
    a.send(&format!("call sip:parley@127.0.0.1:{c_port}"));
    a.wait("A-C connected", Duration::from_secs(10), |v| {
        call_state(v, "connected") && v["call"]["id"] == 2
    });
    a.send("switch 1");
    a.send("transfer-to 2");
    // B calls C with Replaces; C takes it over without ringing and drops A.
    let b_new = b.wait("B-C connected", Duration::from_secs(10), |v| {
        call_state(v, "connected") && v["call"]["id"] == 2
    });
    assert!(b_new["call"]["peer_uri"]
        .as_str()
        .unwrap()
        .contains(&c_port.to_string()));
    let c_old = c.wait("C's call with A replaced", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 1
    });
    assert_eq!(c_old["end"]["outcome"], "transferred");
    let a1 = a.wait("A-B over", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 1
    });
    assert_eq!(a1["end"]["outcome"], "transferred");
    a.seen_or_wait("A-C over", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 2
    });
}

#[test]
fn a_second_answering_fork_is_acked_and_released() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let out: PathBuf = dir.path().join("sipp");
    let forks = Sipp::scenario("forked_answers")
        .port(sipp_port)
        .args(["-mp", &free_port(4).to_string()])
        .start(&out)
        .expect("sipp");
    let call = cli(
        dir.path(),
        &[
            "call",
            &format!("sip:forked@127.0.0.1:{sipp_port}"),
            "--duration",
            "2",
        ],
        None,
    );
    let run = forks.wait().expect("sipp");
    assert!(
        call.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&call.stdout),
        String::from_utf8_lossy(&call.stderr)
    );
    assert!(
        run.passed(),
        "SIPp: {}\n{}",
        run.trace("err"),
        run.trace("msg")
    );
}

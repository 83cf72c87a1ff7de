//! Call features of `parley-cli` against SIPp scenarios, directly on
//! loopback (local account): 100rel/PRACK in both roles, hold by
//! re-INVITE and resume by UPDATE, INFO DTMF, 491 glare, 3xx redirect,
//! RFC 4028 session-timer refresh.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use parley_interop::{free_port, Sipp, SippHandle, SippRun};
use serde_json::Value;

mod common;
use common::{add_alice_with, call_state, cli, event, Running};

/// A `parley-cli run` with `args`, once it is listening.
fn start_parley(dir: &Path, args: &[&str]) -> Running {
    let mut r = Running::start(dir, args, None);
    r.wait("listening", Duration::from_secs(10), |v| {
        event(v) == "listening"
    });
    r
}

/// Parley on `port`, answering every call.
fn callee(dir: &Path, port: u16) -> Running {
    start_parley(dir, &["--auto-answer", "--port", &port.to_string()])
}

/// Parley on `port`, leaving calls ringing until told.
fn ringing_callee(dir: &Path, port: u16) -> Running {
    start_parley(dir, &["--port", &port.to_string()])
}

/// SIPp running `name` against Parley on `port`.
fn scenario(name: &str, port: u16) -> Sipp {
    Sipp::scenario(name)
        .remote(format!("127.0.0.1:{port}").parse().unwrap())
        .args(["-s", "parley", "-mp", &free_port(4).to_string()])
}

/// SIPp as the UAS of `name`, listening on `port`.
fn uas(name: &str, port: u16) -> Sipp {
    Sipp::scenario(name)
        .port(port)
        .args(["-mp", &free_port(4).to_string()])
}

/// SIPp as the UAS of `name` (traces in `dir/sipp`), and Parley to call
/// it from `dir`; with SIPp's port.
fn parley_and_uas(dir: &Path, name: &str) -> (Running, SippHandle, u16) {
    let sipp_port = free_port(1);
    let uas = uas(name, sipp_port).start(&dir.join("sipp")).expect("sipp");
    (start_parley(dir, &[]), uas, sipp_port)
}

/// Asserts that the SIPp run (`who`) passed; shows its errors and
/// messages if not.
fn assert_passed(run: &SippRun, who: &str) {
    assert!(
        run.passed(),
        "{who}: {}\n{}",
        run.trace("err"),
        run.trace("msg")
    );
}

/// `parley-cli call <target> --duration <secs>`, which must succeed.
fn call(dir: &Path, target: &str, secs: &str) -> Output {
    let call = cli(dir, &["call", target, "--duration", secs], None);
    assert!(
        call.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&call.stdout),
        String::from_utf8_lossy(&call.stderr)
    );
    call
}

/// Parley calls `uri` and waits until the call is connected.
fn dial(parley: &mut Running, uri: &str) {
    parley.send(&format!("call {uri}"));
    parley.wait("connected", Duration::from_secs(10), |v| {
        call_state(v, "connected")
    });
}

/// SIPp calls Parley on `port` with the scenario `name` (traces in
/// `out`); returns once Parley rings.
fn ring(parley: &mut Running, name: &str, port: u16, out: &Path) -> SippHandle {
    let uac = scenario(name, port).start(out).expect("sipp");
    parley.wait("ringing", Duration::from_secs(10), |v| {
        event(v) == "incoming_call"
    });
    uac
}

/// Parley hangs up; the SIPp scenario must then pass.
fn hang_up(parley: &mut Running, sipp: SippHandle) -> SippRun {
    parley.send("hangup");
    let run = sipp.wait().expect("sipp");
    assert_passed(&run, "SIPp");
    run
}

/// Waits for the end of a call.
fn wait_ended(parley: &mut Running, within: Duration) -> Value {
    parley.wait("ended", within, |v| event(v) == "call_ended")
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
    assert_passed(&run, "SIPp");
    parley.wait("held by the peer", Duration::from_secs(5), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_peer"] == true
    });
    parley.wait("resumed", Duration::from_secs(5), |v| {
        call_state(v, "connected") && v["call"]["held_by_peer"] == false
    });
    let d = parley.wait("dtmf", Duration::from_secs(5), |v| event(v) == "dtmf");
    assert_eq!(d["digit"], "5");
    let ended = wait_ended(&mut parley, Duration::from_secs(5));
    assert_eq!(ended["end"]["by_us"], false);
}

#[test]
fn parley_pracks_a_reliable_183_with_sdp() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let out: PathBuf = dir.path().join("sipp");
    let uas = uas("uas_100rel", sipp_port).start(&out).expect("sipp");
    let call = call(dir.path(), &format!("sip:test@127.0.0.1:{sipp_port}"), "1");
    let run = uas.wait().expect("sipp ends");
    assert_passed(&run, "SIPp wanted a PRACK");
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
    assert_passed(&run, "SIPp");
    // Exactly two re-INVITEs reached SIPp: the refused one and the retry.
    let msgs = run.trace("msg");
    let reinvites = msgs.matches("CSeq: 2 INVITE").count() + msgs.matches("CSeq: 3 INVITE").count();
    assert!(reinvites >= 2, "{msgs}");
    wait_ended(&mut parley, Duration::from_secs(5));
}

/// A hang-up while our re-INVITE waits for an answer that never comes
/// sends BYE at once and ends the call, not 32 s later.
/// SIPp's `name` calls Parley (both in `dir`), which answers, holds (a
/// re-INVITE that SIPp takes and holds back) and hangs up 800 ms later.
/// Returns the `call_ended` event, how long after the hang-up it came, and
/// SIPp's run.
fn hang_up_while_holding(dir: &Path, name: &str) -> (Value, Duration, SippRun) {
    let port = free_port(1);
    let mut parley = callee(dir, port);
    let sipp = scenario(name, port).start(&dir.join("sipp")).expect("sipp");
    parley.wait("connected", Duration::from_secs(10), |v| {
        call_state(v, "connected")
    });
    parley.send("hold");
    // The re-INVITE reaches SIPp (its 100 Trying stops the retransmits).
    std::thread::sleep(Duration::from_millis(800));
    let asked = std::time::Instant::now();
    parley.send("hangup");
    let ended = wait_ended(&mut parley, Duration::from_secs(5));
    let after = asked.elapsed();
    (ended, after, sipp.wait().expect("sipp ends"))
}

#[test]
fn hanging_up_while_a_re_invite_waits_sends_bye_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ended, after, run) = hang_up_while_holding(dir.path(), "hangup_during_reinvite");
    assert!(
        after < Duration::from_secs(4),
        "ended {after:?} after the hang-up"
    );
    assert_eq!(ended["end"]["by_us"], true, "{ended}");
    assert_passed(&run, "SIPp wanted the BYE within 5 s");
    let msgs = run.trace("msg");
    assert!(
        msgs.contains("a=sendonly"),
        "the hold re-INVITE reached SIPp: {msgs}"
    );
}

#[test]
fn a_re_invite_2xx_crossing_the_bye_is_acked() {
    let dir = tempfile::tempdir().unwrap();
    let (ended, _, run) = hang_up_while_holding(dir.path(), "reinvite_2xx_crosses_bye");
    assert_eq!(ended["end"]["by_us"], true, "{ended}");
    assert_passed(
        &run,
        "SIPp wanted an ACK for the re-INVITE's 2xx sent after the BYE",
    );
    let msgs = run.trace("msg");
    assert!(
        msgs.contains("ACK sip:sipp@"),
        "Parley ACKed the 2xx: {msgs}"
    );
}

#[test]
fn a_re_invite_2xx_after_the_call_ended_is_acked_not_byed() {
    let dir = tempfile::tempdir().unwrap();
    let (ended, _, run) = hang_up_while_holding(dir.path(), "reinvite_2xx_after_bye");
    assert_eq!(ended["end"]["by_us"], true, "{ended}");
    assert_passed(
        &run,
        "SIPp wanted an ACK (and no BYE) for the re-INVITE's 2xx sent after the call ended",
    );
    let msgs = run.trace("msg");
    assert_eq!(
        msgs.matches("ACK sip:sipp@").count(),
        1,
        "Parley ACKed the late 2xx: {msgs}"
    );
    assert_eq!(msgs.matches("BYE sip:").count(), 1, "one BYE: {msgs}");
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
    call(
        dir.path(),
        &format!("sip:someone@127.0.0.1:{sipp_port}"),
        "1",
    );
    assert_passed(&redirector.wait().expect("sipp"), "SIPp redirector");
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
    assert_passed(&run, "no refresh within the interval");
    wait_ended(&mut parley, Duration::from_secs(5));
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
    assert_passed(&run, "SIPp");
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
    let (mut parley, transferee, sipp_port) = parley_and_uas(dir.path(), "refer_transferee");
    dial(&mut parley, &format!("sip:bob@127.0.0.1:{sipp_port}"));
    parley.send("transfer sip:carol@127.0.0.1");
    parley.wait("transferring", Duration::from_secs(5), |v| {
        call_state(v, "transferring")
    });
    let ended = wait_ended(&mut parley, Duration::from_secs(10));
    assert_eq!(ended["end"]["outcome"], "transferred");
    let run = transferee.wait().expect("sipp");
    assert_passed(&run, "SIPp");
}

#[test]
fn attended_transfer_between_three_parleys_replaces_the_consultation_call() {
    let b_dir = tempfile::tempdir().unwrap();
    let c_dir = tempfile::tempdir().unwrap();
    let (b_port, c_port) = (free_port(1), free_port(1));
    let mut b = callee(b_dir.path(), b_port);
    let mut c = callee(c_dir.path(), c_port);
    let a_dir = tempfile::tempdir().unwrap();
    let mut a = start_parley(a_dir.path(), &[]);
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
    let forks = uas("forked_answers", sipp_port).start(&out).expect("sipp");
    call(
        dir.path(),
        &format!("sip:forked@127.0.0.1:{sipp_port}"),
        "2",
    );
    let run = forks.wait().expect("sipp");
    assert_passed(&run, "SIPp");
}

/// Parley calls `forked@` at SIPp playing `name`, hangs up once
/// connected and keeps running until SIPp is done; returns how the call
/// ended and SIPp's run.
fn call_and_hang_up(dir: &Path, name: &str) -> (Value, SippRun) {
    let (mut parley, uas, sipp_port) = parley_and_uas(dir, name);
    dial(&mut parley, &format!("sip:forked@127.0.0.1:{sipp_port}"));
    parley.send("hangup");
    let ended = wait_ended(&mut parley, Duration::from_secs(5));
    (ended, uas.wait().expect("sipp"))
}

#[test]
fn a_fork_answering_after_the_call_ended_is_acked_and_released_once() {
    let dir = tempfile::tempdir().unwrap();
    // Parley keeps running: the late fork's 2xx reaches its engine.
    let (ended, run) = call_and_hang_up(dir.path(), "late_fork");
    assert_eq!(ended["end"]["by_us"], true, "{ended}");
    assert_passed(
        &run,
        "SIPp wanted ACK and one BYE for the late fork, ACK alone for its re-sent 2xx",
    );
    let msgs = run.trace("msg");
    assert_eq!(
        msgs.matches("BYE sip:forkb@").count(),
        1,
        "one BYE to fork B: {msgs}"
    );
    assert_eq!(
        msgs.matches("ACK sip:forkb@").count(),
        2,
        "each 2xx ACKed: {msgs}"
    );
}

#[test]
fn a_fork_answering_while_our_bye_waits_is_released_once_the_call_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = call_and_hang_up(dir.path(), "fork_during_bye");
    assert_passed(
        &run,
        "SIPp wanted ACK and BYE for the fork that answered during our BYE",
    );
    let msgs = run.trace("msg");
    assert_eq!(msgs.matches("BYE sip:forkb@").count(), 1, "{msgs}");
}

#[test]
fn the_ack_for_a_2xx_repeats_the_invites_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let proxy = uas("auth_invite_ack", sipp_port)
        .start(&dir.path().join("sipp"))
        .expect("sipp");
    add_alice_with(
        dir.path(),
        &format!("sip:127.0.0.1:{sipp_port}"),
        &["--no-register"],
    );
    let out = cli(
        dir.path(),
        &[
            "call",
            "sip:bob@127.0.0.1",
            "--account",
            "work",
            "--duration",
            "1",
        ],
        Some("alice123"),
    );
    assert!(out.status.success(), "{out:?}");
    let run = proxy.wait().expect("sipp");
    assert_passed(
        &run,
        "SIPp wanted Proxy-Authorization in the INVITE and its ACK",
    );
    let msgs = run.trace("msg");
    assert!(
        !msgs.contains("alice123"),
        "the password itself never goes out"
    );
}

#[test]
fn an_account_that_does_not_register_still_takes_calls_from_its_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    add_alice_with(dir.path(), "sip:127.0.0.1:5999", &["--no-register"]);
    // Waits for "listening": the port is open without a registration.
    let _parley = start_parley(
        dir.path(),
        &[
            "--account",
            "work",
            "--auto-answer",
            "--port",
            &port.to_string(),
        ],
    );
    // From the proxy's address (loopback), to the account's user; any
    // REGISTER would have reached nobody, and none is needed.
    let run = Sipp::scenario("uac_call")
        .remote(format!("127.0.0.1:{port}").parse().unwrap())
        .args(["-s", "alice", "-mp", &free_port(4).to_string()])
        .run(&dir.path().join("sipp"))
        .expect("sipp");
    assert_passed(&run, "SIPp's call to the non-registering account");
}

#[test]
fn in_dialog_requests_go_to_a_strict_router_in_the_request_uri() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let out: PathBuf = dir.path().join("sipp");
    let router = uas("strict_route", sipp_port).start(&out).expect("sipp");
    call(
        dir.path(),
        &format!("sip:strict@127.0.0.1:{sipp_port}"),
        "1",
    );
    let run = router.wait().expect("sipp");
    assert_passed(&run, "SIPp (the strict router) wanted the ACK and the BYE");
    let msgs = run.trace("msg");
    assert!(
        msgs.contains(&format!("BYE sip:127.0.0.1:{sipp_port} SIP/2.0")),
        "the router in the Request-URI: {msgs}"
    );
}

#[test]
fn a_2xx_crossing_our_cancel_is_acked_and_byed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut parley, uas, sipp_port) = parley_and_uas(dir.path(), "cancel_crosses_2xx");
    parley.send(&format!("call sip:late@127.0.0.1:{sipp_port}"));
    parley.wait("ringing", Duration::from_secs(10), |v| {
        call_state(v, "ringing")
    });
    parley.send("hangup");
    let ended = wait_ended(&mut parley, Duration::from_secs(10));
    assert_eq!(ended["end"]["outcome"], "cancelled", "{ended}");
    let run = uas.wait().expect("sipp");
    assert_passed(
        &run,
        "SIPp wanted the ACK and the BYE after its 2xx crossed the CANCEL",
    );
    let msgs = run.trace("msg");
    assert!(msgs.contains("CANCEL sip:late@"), "{msgs}");
    assert!(msgs.contains("BYE sip:late@"), "{msgs}");
}

#[test]
fn attended_transfer_as_transferee_invites_the_target_with_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let target_port = free_port(1);
    let out: PathBuf = dir.path().join("sipp");
    let target = uas("replaces_target", target_port)
        .start(&dir.path().join("target"))
        .expect("sipp target");
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let run = scenario("refer_attended_transferor", port)
        .args(["-key", "target_port", &target_port.to_string()])
        .run(&out)
        .expect("sipp");
    assert_passed(&run, "SIPp transferor");
    parley.wait(
        "the call to the target connected",
        Duration::from_secs(5),
        |v| call_state(v, "connected") && v["call"]["id"] == 2,
    );
    let ended = parley.wait("the transferor's call over", Duration::from_secs(5), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 1
    });
    assert_eq!(ended["end"]["outcome"], "transferred");
    parley.send("switch 2");
    parley.send("hangup");
    let t = target.wait().expect("sipp target ends");
    assert_passed(&t, "SIPp target (Replaces, Referred-By)");
    // NOTIFY 100 Trying came before the 200 OK one (the scenario's order).
    let msgs = run.trace("msg");
    let trying = msgs
        .find("\r\n\r\nSIP/2.0 100 Trying")
        .expect("sipfrag 100");
    let ok = msgs.rfind("\r\n\r\nSIP/2.0 200 OK").expect("sipfrag 200");
    assert!(trying < ok, "{msgs}");
}

#[test]
fn attended_transfer_as_transferor_refers_with_replaces_of_the_consultation() {
    let dir = tempfile::tempdir().unwrap();
    let (b_port, c_port) = (free_port(1), free_port(1));
    let b = uas("attended_transferee", b_port)
        .start(&dir.path().join("b"))
        .expect("sipp b");
    let c = uas("attended_consult", c_port)
        .start(&dir.path().join("c"))
        .expect("sipp c");
    let mut parley = start_parley(dir.path(), &[]);
    parley.send(&format!("call sip:bob@127.0.0.1:{b_port}"));
    parley.wait("call 1 connected", Duration::from_secs(10), |v| {
        call_state(v, "connected") && v["call"]["id"] == 1
    });
    parley.send(&format!("call sip:carol@127.0.0.1:{c_port}"));
    parley.wait("call 2 connected", Duration::from_secs(10), |v| {
        call_state(v, "connected") && v["call"]["id"] == 2
    });
    parley.send("switch 1");
    parley.send("transfer-to 2");
    let one = parley.wait("call 1 transferred", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 1
    });
    assert_eq!(one["end"]["outcome"], "transferred");
    let two = parley.seen_or_wait("the target hung up", Duration::from_secs(10), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 2
    });
    assert_eq!(two["end"]["by_us"], false);
    let b = b.wait().expect("sipp b");
    assert_passed(&b, "SIPp transferee");
    let c = c.wait().expect("sipp c");
    assert_passed(&c, "SIPp target");
    // The Replaces names the consultation call: its Call-ID, escaped.
    let c_msgs = c.trace("msg");
    let call_id = c_msgs
        .lines()
        .find_map(|l| l.strip_prefix("Call-ID: "))
        .expect("Call-ID")
        .trim()
        .replace('@', "%40");
    let b_msgs = b.trace("msg");
    assert!(
        b_msgs.contains(&format!("?Replaces={call_id}%3B")),
        "{b_msgs}"
    );
}

#[test]
fn an_invite_with_replaces_takes_over_a_confirmed_call() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let file = dir.path().join("replaces");
    let a = scenario("replaces_dialog", port)
        .args(["-key", "replaces_file", file.to_str().unwrap()])
        .start(&dir.path().join("a"))
        .expect("sipp a");
    parley.wait("call 1 connected", Duration::from_secs(10), |v| {
        call_state(v, "connected") && v["call"]["id"] == 1
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let replaces = loop {
        // Complete once its newline is there.
        if let Some(s) = std::fs::read_to_string(&file)
            .ok()
            .filter(|s| s.ends_with('\n'))
        {
            break s.trim().to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIPp wrote no Replaces"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let b = scenario("replaces_caller", port)
        .args(["-key", "replaces", &replaces])
        .run(&dir.path().join("b"))
        .expect("sipp b");
    assert_passed(&b, "SIPp new caller");
    let old = parley.seen_or_wait("call 1 replaced", Duration::from_secs(5), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 1
    });
    assert_eq!(old["end"]["outcome"], "transferred");
    parley.seen_or_wait("the new call connected", Duration::from_secs(5), |v| {
        call_state(v, "connected") && v["call"]["id"] == 2
    });
    let a = a.wait().expect("sipp a");
    assert_passed(&a, "SIPp replaced caller wanted a BYE");
}

#[test]
fn the_peer_holds_and_resumes_by_update_in_a_confirmed_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let run = scenario("update_hold", port)
        .run(&dir.path().join("sipp"))
        .expect("sipp");
    assert_passed(&run, "SIPp (recvonly, then sendrecv)");
    parley.wait("held by UPDATE", Duration::from_secs(5), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_peer"] == true
    });
    parley.wait("resumed by UPDATE", Duration::from_secs(5), |v| {
        call_state(v, "connected") && v["call"]["held_by_peer"] == false
    });
}

#[test]
fn parley_holds_an_early_dialog_by_update() {
    let dir = tempfile::tempdir().unwrap();
    let (mut parley, uas, sipp_port) = parley_and_uas(dir.path(), "uas_early_update");
    parley.send(&format!("call sip:bob@127.0.0.1:{sipp_port}"));
    parley.wait("early media", Duration::from_secs(10), |v| {
        call_state(v, "early_media")
    });
    parley.send("hold");
    parley.wait("held before the answer", Duration::from_secs(10), |v| {
        call_state(v, "early_media") && v["call"]["held_by_us"] == true
    });
    // Answered while held: the call starts on hold.
    parley.wait("answered on hold", Duration::from_secs(10), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_us"] == true
    });
    let run = hang_up(&mut parley, uas);
    // The first UPDATE got 491: the retry came after the owner's back-off.
    let wait = retry_after_491(&run, |m| m.contains("UPDATE sip:"));
    assert!((2.1..=4.3).contains(&wait), "retry after {wait} s");
}

#[test]
fn parley_sends_early_media_in_a_reliable_183_and_answers_an_offer_in_prack() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = ringing_callee(dir.path(), port);
    let uac = ring(&mut parley, "uac_100rel", port, &dir.path().join("sipp"));
    // Answer at once after the 183: the 200 must still wait for the PRACK.
    parley.send("progress");
    parley.send("answer");
    parley.wait(
        "answered (held by the PRACK's offer)",
        Duration::from_secs(10),
        |v| call_state(v, "on_hold") && v["call"]["held_by_peer"] == true,
    );
    let run = uac.wait().expect("sipp");
    assert_passed(&run, "SIPp");
    let msgs = run.trace("msg");
    // The 183 was sent reliably although the caller only supports 100rel.
    let p183 = msgs.find("SIP/2.0 183").expect("183");
    assert!(msgs[p183..].contains("RSeq: "), "{msgs}");
}

#[test]
fn options_lists_methods_bodies_extensions_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let _parley = callee(dir.path(), port);
    let run = scenario("options_parley", port)
        .run(&dir.path().join("sipp"))
        .expect("sipp");
    assert_passed(&run, "SIPp");
}

#[test]
fn a_declined_call_gets_603() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = ringing_callee(dir.path(), port);
    let uac = ring(&mut parley, "uac_decline", port, &dir.path().join("sipp"));
    parley.send("decline");
    let ended = parley.wait("declined", Duration::from_secs(5), |v| {
        event(v) == "call_ended"
    });
    assert_eq!(ended["end"]["status"], 603, "{ended}");
    let run = uac.wait().expect("sipp");
    assert_passed(&run, "SIPp wanted 603");
}

#[test]
fn an_info_of_unknown_type_gets_415_with_accept() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let run = scenario("info_unknown", port)
        .run(&dir.path().join("sipp"))
        .expect("sipp");
    assert_passed(&run, "SIPp");
    let d = parley.wait("the DTMF INFO after it", Duration::from_secs(5), |v| {
        event(v) == "dtmf"
    });
    assert_eq!(d["digit"], "7");
}

#[test]
fn a_session_the_peer_stops_refreshing_ends_with_bye() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let started = std::time::Instant::now();
    let run = scenario("session_expiry", port)
        .timeout(Duration::from_secs(100))
        .run(&dir.path().join("sipp"))
        .expect("sipp");
    assert_passed(&run, "SIPp wanted a BYE");
    // RFC 4028 §10: BYE at 90 - min(32, 30) = 60 s, not at once.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(55), "BYE after {took:?}");
    let ended = wait_ended(&mut parley, Duration::from_secs(5));
    assert_eq!(ended["end"]["outcome"], "failed", "{ended}");
    assert!(ended["end"]["reason"].as_str().unwrap().contains("session"));
}

#[test]
fn of_two_early_dialogs_the_answering_one_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let forks = uas("early_dialogs", sipp_port)
        .start(&dir.path().join("sipp"))
        .expect("sipp");
    call(
        dir.path(),
        &format!("sip:forked@127.0.0.1:{sipp_port}"),
        "1",
    );
    let run = forks.wait().expect("sipp");
    assert_passed(&run, "SIPp");
}

/// (when, sent, the message) of each message in a SIPp `-trace_msg` log;
/// `when` in seconds, from the separator line's last time stamp.
fn trace_messages(log: &str) -> Vec<(f64, bool, String)> {
    let mut out = Vec::new();
    for block in log.split("\n----------------------------------------------- ") {
        let mut lines = block.lines();
        let stamp = lines.next().unwrap_or("");
        let when = stamp
            .split_whitespace()
            .filter_map(|t| {
                if let Ok(v) = t.parse::<f64>() {
                    return Some(v);
                }
                // HH:MM:SS.ffffff
                let mut p = t.split(':');
                let (h, m, s) = (p.next()?, p.next()?, p.next()?);
                Some(
                    h.parse::<f64>().ok()? * 3600.0
                        + m.parse::<f64>().ok()? * 60.0
                        + s.parse::<f64>().ok()?,
                )
            })
            .next_back();
        let rest: String = lines.collect::<Vec<_>>().join("\n");
        if let Some(when) = when {
            out.push((when, rest.contains("message sent"), rest));
        }
    }
    out
}

/// Seconds from the first 491 SIPp sent in `run` to the first message
/// it received after it that `is_retry` matches.
fn retry_after_491(run: &SippRun, is_retry: impl Fn(&str) -> bool) -> f64 {
    let msgs = trace_messages(&run.trace("msg"));
    let refused = msgs
        .iter()
        .position(|(_, sent, m)| *sent && m.contains("SIP/2.0 491"))
        .expect("our 491");
    let retry = msgs[refused..]
        .iter()
        .find(|(_, sent, m)| !sent && is_retry(m))
        .expect("the retry");
    retry.0 - msgs[refused].0
}

#[test]
fn crossing_re_invites_get_491_and_the_retry_waits_the_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = callee(dir.path(), port);
    let sipp = scenario("glare_crossing", port)
        .start(&dir.path().join("sipp"))
        .expect("sipp");
    parley.wait("connected", Duration::from_secs(10), |v| {
        call_state(v, "connected")
    });
    parley.send("hold");
    parley.wait("held after the retry", Duration::from_secs(10), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_us"] == true
    });
    let run = sipp.wait().expect("sipp");
    assert_passed(&run, "SIPp");
    let msgs = trace_messages(&run.trace("msg"));
    // Parley answered SIPp's crossing re-INVITE with 491.
    assert!(
        msgs.iter()
            .any(|(_, sent, m)| !sent && m.contains("SIP/2.0 491") && m.contains("CSeq: 2 INVITE")),
        "{msgs:#?}"
    );
    // §14.1: Parley does not own the Call-ID: its retry comes 0-2 s after
    // our 491.
    let wait = retry_after_491(&run, |m| {
        m.contains("INVITE sip:") && m.contains("a=sendonly")
    });
    assert!((0.0..=2.3).contains(&wait), "retry after {wait} s");
    wait_ended(&mut parley, Duration::from_secs(5));
}

#[test]
fn dtmf_by_info_and_chat_inside_a_call() {
    let dir = tempfile::tempdir().unwrap();
    let (mut parley, uas, sipp_port) = parley_and_uas(dir.path(), "uas_dtmf_message");
    let peer = format!("sip:bob@127.0.0.1:{sipp_port}");
    dial(&mut parley, &peer);
    parley.send("dtmf 5");
    let got = parley.wait("message_received", Duration::from_secs(10), |v| {
        event(v) == "message_received"
    });
    assert!(got.to_string().contains("hello from sipp"), "{got}");
    parley.send(&format!("message {peer} hi sipp"));
    // The 200 from SIPp: sent (delivered would need an IMDN).
    let status = parley.wait("message sent", Duration::from_secs(10), |v| {
        event(v) == "message_status" && v.to_string().contains("\"sent\"")
    });
    assert!(status.to_string().contains("hi sipp"), "{status}");
    hang_up(&mut parley, uas);
}

#[test]
fn to_an_offer_less_invite_parley_offers_in_a_reliable_183_and_takes_the_answer_in_prack() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = ringing_callee(dir.path(), port);
    let uac = ring(
        &mut parley,
        "uac_100rel_offerless",
        port,
        &dir.path().join("sipp"),
    );
    // The 183 waits for the 180's PRACK, the 200 for the 183's.
    parley.send("progress");
    parley.send("answer");
    let up = parley.wait("connected", Duration::from_secs(10), |v| {
        call_state(v, "connected")
    });
    assert_eq!(up["call"]["codec"], "pcmu/8000", "{up}");
    let run = uac.wait().expect("sipp");
    assert_passed(&run, "SIPp");
}

#[test]
fn the_call_id_owner_retries_a_refused_re_invite_after_2_1_to_4_s() {
    let dir = tempfile::tempdir().unwrap();
    let (mut parley, uas, sipp_port) = parley_and_uas(dir.path(), "glare_owner");
    dial(&mut parley, &format!("sip:bob@127.0.0.1:{sipp_port}"));
    parley.send("hold");
    parley.wait("held after the retry", Duration::from_secs(10), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_us"] == true
    });
    let run = hang_up(&mut parley, uas);
    let wait = retry_after_491(&run, |m| m.contains("INVITE sip:"));
    assert!((2.1..=4.3).contains(&wait), "retry after {wait} s");
}

/// The user hangs up while the re-INVITE waits out its glare back-off:
/// the BYE goes at once and the retry never does.
#[test]
fn a_hang_up_in_the_glare_back_off_sends_bye_not_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (mut parley, uas, sipp_port) = parley_and_uas(dir.path(), "glare_hangup_uas");
    dial(&mut parley, &format!("sip:bob@127.0.0.1:{sipp_port}"));
    parley.send("hold");
    // The 491 comes back at once (and is ACKed); the back-off is 2.1-4 s.
    // A second leaves the 491 ahead of the hang-up even on a loaded
    // machine, and 1.1 s of the back-off for the BYE.
    std::thread::sleep(Duration::from_millis(1000));
    parley.send("hangup");
    let ended = wait_ended(&mut parley, Duration::from_secs(3));
    assert_eq!(ended["end"]["by_us"], true, "{ended}");
    let run = uas.wait().expect("sipp");
    assert_passed(&run, "SIPp wanted the BYE, not a retried re-INVITE");
}

/// Our hold gets 491; inside our back-off the peer sends its own
/// re-INVITE. Parley answers it first (RFC 3261 §14.1) and then still
/// holds: the user's hold is retried after, not dropped.
#[test]
fn a_peer_offer_in_the_glare_back_off_is_answered_and_our_hold_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (mut parley, uas, sipp_port) = parley_and_uas(dir.path(), "glare_peer_offer_uas");
    dial(&mut parley, &format!("sip:bob@127.0.0.1:{sipp_port}"));
    parley.send("hold");
    parley.wait("held by us", Duration::from_secs(8), |v| {
        event(v) == "call_state" && v["call"]["held_by_us"] == true
    });
    parley.send("hangup");
    let ended = wait_ended(&mut parley, Duration::from_secs(5));
    assert_eq!(ended["end"]["by_us"], true, "{ended}");
    let run = uas.wait().expect("sipp");
    assert_passed(&run, "SIPp wanted its offer answered, then the hold again");
}

#[test]
fn the_caller_holds_early_media_by_update_and_too_early_an_update_gets_500() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(1);
    let mut parley = ringing_callee(dir.path(), port);
    // Before our answer to the INVITE's offer: 500 with Retry-After.
    let early = scenario("uac_update_too_early", port)
        .run(&dir.path().join("early"))
        .expect("sipp");
    assert_passed(&early, "SIPp wanted 500");
    parley.wait("the first call cancelled", Duration::from_secs(5), |v| {
        event(v) == "call_ended" && v["call"]["id"] == 1
    });
    // After early media (reliable 183, PRACKed): the UPDATE holds.
    let uac = scenario("uac_early_update", port)
        .start(&dir.path().join("sipp"))
        .expect("sipp");
    parley.wait("ringing", Duration::from_secs(10), |v| {
        event(v) == "incoming_call" && v["call"]["id"] == 2
    });
    parley.send("progress");
    let held = parley.wait("held while ringing", Duration::from_secs(10), |v| {
        event(v) == "call_state" && v["call"]["held_by_peer"] == true
    });
    assert_eq!(held["call"]["state"], "incoming", "{held}");
    parley.send("answer");
    parley.wait("answered on hold", Duration::from_secs(10), |v| {
        call_state(v, "on_hold") && v["call"]["held_by_peer"] == true
    });
    let run = uac.wait().expect("sipp");
    assert_passed(&run, "SIPp");
}

#[test]
fn a_new_offer_in_a_later_reliable_183_is_answered_in_the_prack() {
    let dir = tempfile::tempdir().unwrap();
    let sipp_port = free_port(1);
    let uas = uas("uas_183_reoffer", sipp_port)
        .start(&dir.path().join("sipp"))
        .expect("sipp");
    let call = call(dir.path(), &format!("sip:bob@127.0.0.1:{sipp_port}"), "1");
    let run = uas.wait().expect("sipp");
    let stdout = String::from_utf8_lossy(&call.stdout);
    assert_passed(&run, "SIPp wanted the answer in the PRACK");
    // Held by the callee before the answer, and so answered on hold.
    assert!(stdout.contains("\"on_hold\""), "{stdout}");
}

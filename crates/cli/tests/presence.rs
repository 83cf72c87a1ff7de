//! `parley-cli presence pickup` against real peers on loopback: Kamailio
//! (registrar, proxy, dialog-info of every INVITE), baresip bob ringing,
//! SIPp carol calling him and taking the pickup INVITE.

use std::time::Duration;

use parley_interop::{free_port, Baresip, BaresipOptions, Kamailio, KamailioOptions, Sipp};

mod common;
use common::{call_state, cli, event};

#[test]
fn presence_pickup_takes_over_a_ringing_line_with_replaces() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let bob = Baresip::start(
        &kam,
        BaresipOptions {
            answer_mode: "manual",
            ..BaresipOptions::new("bob")
        },
    )
    .expect("baresip bob");
    bob.wait_registered(Duration::from_secs(10)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proxy = format!("sip:127.0.0.1:{}", kam.port);
    let add = cli(
        dir.path(),
        &[
            "account",
            "add",
            "work",
            "--uri",
            "sip:alice@127.0.0.1",
            "--proxy",
            &proxy,
            "--pickup-code",
            "**",
        ],
        None,
    );
    assert!(add.status.success(), "{add:?}");

    // carol's phone takes the pickup INVITE.
    let out = tempfile::tempdir().unwrap();
    let uas_port = free_port(1);
    let uas = Sipp::scenario("pickup_uas")
        .port(uas_port)
        .timeout(Duration::from_secs(40))
        .start(out.path())
        .expect("sipp uas");
    let reg = Sipp::scenario("register")
        .remote(kam.addr())
        .user("carol")
        .args([
            "-key",
            "contact_port",
            &uas_port.to_string(),
            "-key",
            "expires",
            "60",
        ])
        .run(&out.path().join("reg"))
        .expect("sipp register");
    assert!(reg.passed(), "{}", reg.trace("msg"));

    let d = dir.path().to_owned();
    let picker = std::thread::spawn(move || {
        cli(
            &d,
            &[
                "presence",
                "pickup",
                "sip:bob@127.0.0.1",
                "--account",
                "work",
                "--within",
                "20",
                "--duration",
                "1",
            ],
            Some("alice123"),
        )
    });
    // Registered and watching bob's line by then; carol calls bob.
    std::thread::sleep(Duration::from_secs(3));
    let caller = Sipp::scenario("pickup_caller")
        .remote(kam.addr())
        .user("carol")
        .args(["-s", "bob", "-d", "6000"])
        .timeout(Duration::from_secs(40))
        .start(&out.path().join("caller"))
        .expect("sipp caller");

    let picked = picker.join().unwrap();
    let stdout = String::from_utf8_lossy(&picked.stdout);
    assert!(
        picked.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&picked.stderr)
    );
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        events
            .iter()
            .any(|v| event(v) == "blf" && v["state"] == "ringing"),
        "{stdout}"
    );
    assert!(
        events
            .iter()
            .any(|v| call_state(v, "connected") && v["call"]["peer_uri"] == "sip:carol@127.0.0.1"),
        "{stdout}"
    );
    let uas = uas.wait().expect("sipp uas");
    let msgs = uas.trace("msg");
    assert!(uas.passed(), "{}\n{msgs}", uas.trace("err"));
    assert!(msgs.contains(";early-only"), "{msgs}");
    let caller = caller.wait().expect("sipp caller");
    assert!(caller.passed(), "{}", caller.trace("msg"));
}

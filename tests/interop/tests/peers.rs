//! The harness's own interop checks: the real peers start, talk to each
//! other, and are cleaned up.

use std::time::Duration;

use parley_interop::{Baresip, BaresipOptions, Kamailio, KamailioOptions, Sipp};

#[test]
fn sipp_options_to_kamailio_gets_200() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("start kamailio");
    let out = tempfile::tempdir().unwrap();
    let run = Sipp::scenario("options")
        .remote(kam.addr())
        .run(out.path())
        .expect("run sipp");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{}", run.trace("err"), msgs);
    assert!(msgs.contains("OPTIONS sip:127.0.0.1:"), "{msgs}");
    assert!(msgs.contains("SIP/2.0 200 Keepalive"), "{msgs}");
}

#[test]
fn sipp_registers_with_digest_auth() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("start kamailio");
    let out = tempfile::tempdir().unwrap();
    let run = Sipp::scenario("register")
        .remote(kam.addr())
        .user("carol")
        .args(["-key", "contact_port", "5999", "-key", "expires", "60"])
        .run(out.path())
        .expect("run sipp");
    assert!(
        run.passed(),
        "sipp failed: {}\n{}",
        run.trace("err"),
        run.trace("msg")
    );
    assert!(
        run.trace("msg").contains("SIP/2.0 401"),
        "no challenge seen"
    );
    assert!(
        kam.is_registered("carol").unwrap(),
        "{}",
        kam.rpc(&["ul.dump"]).unwrap()
    );
}

#[test]
fn baresip_registers_through_kamailio_and_stops_cleanly() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("start kamailio");
    let mut bs = Baresip::start(&kam, BaresipOptions::new("bob")).expect("start baresip");
    bs.wait_registered(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", bs.log()));
    assert!(kam.is_registered("bob").unwrap());
    assert!(bs.is_running());
    let pid_dir = bs.dir.path().to_owned();
    drop(bs);
    // The temp dir and the process are gone with the handle.
    assert!(!pid_dir.exists());
}

#[test]
fn kamailio_with_tls_listens_on_its_tls_port() {
    let kam = Kamailio::start(KamailioOptions {
        tls: true,
        ..Default::default()
    })
    .expect("start kamailio");
    let tls = kam.tls_port.expect("tls port");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", tls)).is_ok(),
        "{}",
        kam.log()
    );
    assert!(kam.dir.path().join("tls/ca.pem").exists());
}

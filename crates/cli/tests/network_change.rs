//! A network change moves the registration within 5 s: the real detector
//! (`crates/ua/src/netwatch.rs` reads the source address the OS would
//! route to 192.0.2.1) and the real Kamailio of the test harness.
//!
//! The test changes that route itself, for the TEST-NET-1 host 192.0.2.1
//! only (a /32 on `lo`), so it needs root and iproute2's `ip`; without
//! them it fails, it does not skip. The route is removed on drop, also
//! when the test panics. Other Parley processes running meanwhile see the
//! change too and just register once more.

mod common;

use std::net::{IpAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{add_alice, event, Running};
use parley_interop::{Kamailio, KamailioOptions};

/// The destination the detector routes to (TEST-NET-1), as a host route.
const DEST: &str = "192.0.2.1/32";

/// Runs `ip <args>`; panics with a clear message if it cannot.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!(
            "this test changes a route and needs iproute2's `ip` (and root): \
             cannot run `ip`: {e}"
        )
    });
    assert!(
        out.status.success(),
        "`ip {}` failed (this test changes a route and must run as root): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Our host route to 192.0.2.1 over `lo`; deleted on drop.
struct TestRoute;

impl TestRoute {
    /// Routes 192.0.2.1 over `lo` from `src`. A route of ours left behind
    /// by a run that was killed is taken over; any other one is not
    /// touched.
    fn add(src: &str) -> Self {
        let old = Command::new("ip")
            .args(["-4", "route", "show", "exact", DEST])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        if old.contains("dev lo") && old.contains("src 127.0.0.") {
            ip(&["route", "del", DEST, "dev", "lo"]);
        } else {
            assert!(
                old.is_empty(),
                "a route to {DEST} exists already, not this test's: {old}"
            );
        }
        ip(&["route", "add", DEST, "dev", "lo", "src", src]);
        Self
    }

    /// The network change: the same route, another source address.
    fn replace(&self, src: &str) {
        ip(&["route", "replace", DEST, "dev", "lo", "src", src]);
    }
}

impl Drop for TestRoute {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["route", "del", DEST, "dev", "lo"])
            .status();
    }
}

/// The source address the OS picks for 192.0.2.1, as the detector reads it.
fn routed_from() -> IpAddr {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("192.0.2.1:9").unwrap();
    s.local_addr().unwrap().ip()
}

/// REGISTERs Kamailio received so far (its debug log has a line per
/// request).
fn registers(kam: &Kamailio) -> usize {
    kam.log()
        .lines()
        .filter(|l| l.contains("recv REGISTER "))
        .count()
}

/// The CSeq of alice's binding at Kamailio (`ul.lookup`).
fn binding_cseq(kam: &Kamailio) -> u64 {
    let out = kam.rpc(&["ul.lookup", "location", "alice"]).unwrap();
    out.lines()
        .find_map(|l| l.trim().strip_prefix("CSeq:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no binding for alice: {out}"))
}

#[test]
fn a_changed_route_registers_again_at_kamailio_within_5_s() {
    // Before Parley starts, so its first look already sees this route.
    let route = TestRoute::add("127.0.0.2");
    assert_eq!(routed_from().to_string(), "127.0.0.2");
    let kam = Kamailio::start(KamailioOptions {
        debug: true,
        ..Default::default()
    })
    .expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    add_alice(dir.path(), &kam);
    let mut parley = Running::start(dir.path(), &["--account", "work"], Some("alice123"));
    parley.wait("registered", Duration::from_secs(15), |v| {
        event(v) == "registered"
    });
    assert!(kam.is_registered("alice").unwrap());
    let initial = registers(&kam);
    assert!(initial >= 1, "Kamailio saw no REGISTER:\n{}", kam.log());

    // Nothing changes for longer than a poll: nothing is sent, so the
    // REGISTER below is the change's.
    std::thread::sleep(Duration::from_secs(3));
    let before = registers(&kam);
    assert_eq!(before, initial, "REGISTER without a change:\n{}", kam.log());
    let cseq = binding_cseq(&kam);

    route.replace("127.0.0.3");
    let changed = Instant::now();
    assert_eq!(routed_from().to_string(), "127.0.0.3");
    let took = loop {
        if registers(&kam) > before {
            break changed.elapsed();
        }
        assert!(
            changed.elapsed() < Duration::from_secs(5),
            "no REGISTER at Kamailio within 5 s of the route change:\n{}\n\
             parley's log:\n{}",
            kam.log(),
            std::fs::read_to_string(dir.path().join("run.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("route changed -> REGISTER at Kamailio in {took:?}");

    // Still registered after it: Parley says so and the binding was
    // renewed by the new REGISTER.
    // (`wait` only looks at events that come from now on.)
    parley.wait("registered again", Duration::from_secs(5), |v| {
        event(v) == "registered"
    });
    assert!(kam.is_registered("alice").unwrap());
    let renewed = binding_cseq(&kam);
    assert!(renewed > cseq, "binding CSeq {cseq} -> {renewed}");
}

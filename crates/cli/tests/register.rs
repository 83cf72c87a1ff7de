//! `parley-cli register` against the real Kamailio of the test harness.

use std::process::{Command, Output};

use parley_interop::{Kamailio, KamailioOptions};

fn cli(dir: &std::path::Path, password: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley-cli"));
    c.arg("--config-dir")
        .arg(dir.join("config"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args);
    c.env("PARLEY_LOG", "trace");
    match password {
        Some(p) => c.env("PARLEY_PASSWORD", p),
        None => c.env_remove("PARLEY_PASSWORD"),
    };
    c.output().expect("run parley-cli")
}

/// `parley-cli account add work --uri sip:<user>@127.0.0.1 <extra>`, which
/// must succeed.
fn add_account(dir: &std::path::Path, user: &str, extra: &[&str]) {
    let uri = format!("sip:{user}@127.0.0.1");
    let args = [&["account", "add", "work", "--uri", &uri][..], extra].concat();
    let add = cli(dir, None, &args);
    assert!(add.status.success(), "{add:?}");
}

fn events(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
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
fn registers_with_kamailio_and_unregisters_on_exit() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let proxy = format!("sip:127.0.0.1:{}", kam.port);
    add_account(dir.path(), "alice", &["--proxy", &proxy]);

    let reg = cli(
        dir.path(),
        Some("alice123"),
        &["--json", "register", "work"],
    );
    let stderr = String::from_utf8_lossy(&reg.stderr);
    assert!(
        reg.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {stderr}",
        reg.status,
        String::from_utf8_lossy(&reg.stdout)
    );
    let evs = events(&reg);
    let names: Vec<&str> = evs.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        names,
        ["registering", "registered", "unregistered"],
        "{evs:?}"
    );
    assert_eq!(evs[1]["account"], "work");
    assert!(evs[1]["expires"].as_u64().unwrap() >= 10);
    assert!(!kam.is_registered("alice").unwrap(), "unregistered on exit");
    assert!(kam.log().contains("REGISTER"), "Kamailio saw the REGISTERs");

    // The password is nowhere: not in files, not in trace-level logs.
    assert!(!stderr.contains("alice123"), "password in logs");
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG") || stderr.contains("INFO"),
        "logs were on"
    );
    assert!(files_contain(dir.path(), b"alice123").is_empty());
}

#[test]
fn a_refused_password_exits_non_zero_with_the_reason() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let proxy = format!("sip:127.0.0.1:{}", kam.port);
    add_account(dir.path(), "bob", &["--proxy", &proxy]);
    let reg = cli(
        dir.path(),
        Some("wrong-password"),
        &["--json", "register", "work"],
    );
    assert!(!reg.status.success());
    let evs = events(&reg);
    let failed = evs
        .iter()
        .find(|e| e["event"] == "registration_failed")
        .unwrap_or_else(|| panic!("{evs:?}"));
    assert!(
        failed["reason"].as_str().unwrap().starts_with("401"),
        "{failed}"
    );
    let stderr = String::from_utf8_lossy(&reg.stderr);
    assert!(
        stderr.contains("registration of \"work\" failed: 401"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password"));
}

#[test]
fn no_password_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    add_account(dir.path(), "bob", &["--no-register"]);
    // With no keyring entry and no PARLEY_PASSWORD the engine refuses
    // before sending anything (in CI the keyring is a real, empty one).
    let reg = cli(dir.path(), None, &["register", "work"]);
    assert!(!reg.status.success());
    let stderr = String::from_utf8_lossy(&reg.stderr);
    assert!(
        stderr.contains("has no password") || stderr.contains("keyring unavailable"),
        "{stderr}"
    );
}

fn register_over(transport: &str) {
    let kam = Kamailio::start(KamailioOptions {
        tls: transport == "tls",
        ..Default::default()
    })
    .expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let port = if transport == "tls" {
        kam.tls_port.unwrap()
    } else {
        kam.port
    };
    let proxy = format!("sip:127.0.0.1:{port};transport={transport}");
    add_account(
        dir.path(),
        "alice",
        &["--proxy", &proxy, "--transport", transport],
    );
    let ca = kam.dir.path().join("tls/ca.pem");
    let mut args = vec!["--json", "register", "work"];
    if transport == "tls" {
        args.extend(["--ca", ca.to_str().unwrap()]);
    }
    let reg = cli(dir.path(), Some("alice123"), &args);
    let evs = events(&reg);
    assert!(
        reg.status.success(),
        "{evs:?}\n{}",
        String::from_utf8_lossy(&reg.stderr)
    );
    assert!(evs.iter().any(|e| e["event"] == "registered"), "{evs:?}");
    let stderr = String::from_utf8_lossy(&reg.stderr);
    assert!(!stderr.contains("alice123"), "password in logs");
    assert!(!kam.is_registered("alice").unwrap(), "unregistered on exit");
}

#[test]
fn registers_over_tcp() {
    register_over("tcp");
}

#[test]
fn registers_over_tls_trusting_the_pbx_ca() {
    register_over("tls");
}

#[test]
fn the_accounts_realm_and_expiry_reach_the_registrar() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let proxy = format!("sip:127.0.0.1:{}", kam.port);
    let register = |realm: &str| {
        let dir = tempfile::tempdir().unwrap();
        add_account(
            dir.path(),
            "alice",
            &["--proxy", &proxy, "--realm", realm, "--expires", "120"],
        );
        events(&cli(
            dir.path(),
            Some("alice123"),
            &["--json", "register", "work"],
        ))
    };
    // Kamailio's realm is the From domain: the 120 s asked for is granted.
    let evs = register("127.0.0.1");
    let ok = evs
        .iter()
        .find(|e| e["event"] == "registered")
        .unwrap_or_else(|| panic!("{evs:?}"));
    assert_eq!(ok["expires"], 120, "{evs:?}");
    // Credentials for another realm are not offered to this one.
    let evs = register("other.example");
    assert!(
        evs.iter().any(|e| e["event"] == "registration_failed"),
        "{evs:?}"
    );
}

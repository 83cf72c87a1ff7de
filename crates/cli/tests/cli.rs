//! The real `parley-cli` binary, run as a user would.

use std::process::{Command, Output};

fn cli(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley-cli"))
        .arg("--config-dir")
        .arg(dir.join("config"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .output()
        .expect("run parley-cli")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let v = cli(dir.path(), &["--version"]);
    assert!(v.status.success());
    assert_eq!(
        stdout(&v).trim(),
        format!("parley-cli {}", env!("CARGO_PKG_VERSION"))
    );
    let h = cli(dir.path(), &["--help"]);
    let text = stdout(&h);
    for word in ["status", "account", "devices", "--json", "--config-dir"] {
        assert!(text.contains(word), "help lacks {word}: {text}");
    }
}

#[test]
fn accounts_from_first_start_to_json_listing() {
    let dir = tempfile::tempdir().unwrap();
    let first = cli(dir.path(), &["--json", "account", "list"]);
    assert!(first.status.success(), "{first:?}");
    let v: serde_json::Value = serde_json::from_str(stdout(&first).trim()).unwrap();
    assert_eq!(v["event"], "account");
    assert_eq!(v["account"]["local"], true);
    assert_eq!(v["account"]["registration"]["state"], "local");

    let add = cli(
        dir.path(),
        &[
            "account",
            "add",
            "work",
            "--uri",
            "sip:alice@127.0.0.1",
            "--transport",
            "tcp",
            "--proxy",
            "sip:127.0.0.1:5060",
        ],
    );
    assert!(add.status.success(), "{add:?}");
    assert_eq!(stdout(&add).trim(), "account added: work");

    let list = cli(dir.path(), &["account", "list"]);
    assert_eq!(
        stdout(&list).trim(),
        "work\tsip:alice@127.0.0.1\ttcp\tunregistered"
    );
    let status = cli(dir.path(), &["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&status).trim()).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["accounts"][0]["uri"], "sip:alice@127.0.0.1");
}

#[test]
fn bad_input_fails_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = cli(
        dir.path(),
        &["account", "add", "x", "--uri", "alice@127.0.0.1"],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("parley-cli:") && err.contains("uri"), "{err}");
    assert!(!dir.path().join("config/config.toml").exists());

    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/config.toml"), "not = [toml").unwrap();
    let broken = cli(dir.path(), &["status"]);
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("config.toml"));
}

#[test]
fn processing_stages_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let bad = cli(
        dir.path(),
        &["call", "sip:bob@127.0.0.1:9", "--processing", "aec,echo"],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("unknown stage `echo`"), "{err}");
}

#[test]
fn pickup_code_is_checked_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let add = cli(
        dir.path(),
        &["account", "add", "work", "--uri", "sip:alice@127.0.0.1"],
    );
    assert!(add.status.success(), "{add:?}");
    let config = dir.path().join("config/config.toml");

    let bad = cli(
        dir.path(),
        &["presence", "pickup-code", "*8x", "--account", "work"],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("pickup_code"), "{err}");
    assert!(!std::fs::read_to_string(&config)
        .unwrap()
        .contains("pickup_code"));

    let none = cli(
        dir.path(),
        &["presence", "pickup-code", "*8", "--account", "home"],
    );
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no account"));

    let ok = cli(
        dir.path(),
        &["presence", "pickup-code", "**", "--account", "work"],
    );
    assert!(ok.status.success(), "{ok:?}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("pickup_code = \"**\""), "{text}");

    let clear = cli(
        dir.path(),
        &["presence", "pickup-code", "", "--account", "work"],
    );
    assert!(clear.status.success(), "{clear:?}");
    assert!(!std::fs::read_to_string(&config)
        .unwrap()
        .contains("pickup_code"));
}

#[test]
fn watcher_decisions_are_listed_and_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = cli(dir.path(), args);
        assert!(o.status.success(), "{args:?}: {o:?}");
        stdout(&o)
    };
    run(&["presence", "block", "sip:eve@127.0.0.1"]);
    run(&["presence", "allow", "sip:Dave@127.0.0.1"]);
    let listed = run(&["--json", "presence", "watchers"]);
    let rows: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["watcher"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("sip:Dave@127.0.0.1", "allowed"),
            ("sip:eve@127.0.0.1", "blocked")
        ]
    );
    run(&["presence", "forget", "sip:eve@127.0.0.1"]);
    assert_eq!(
        run(&["presence", "watchers"]).trim(),
        "allowed\tsip:Dave@127.0.0.1"
    );
    let bad = cli(dir.path(), &["presence", "block", "eve"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a SIP address"));
}

#[test]
fn an_accounts_realm_and_expiry_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["account", "add", "work", "--uri", "sip:alice@127.0.0.1"];
    // Out of range (10-86400 s): refused, nothing written.
    let bad = cli(dir.path(), &[&base[..], &["--expires", "5"]].concat());
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expires"));
    let add = cli(
        dir.path(),
        &[
            &base[..],
            &["--realm", "pbx.example.com", "--expires", "120"],
        ]
        .concat(),
    );
    assert!(add.status.success(), "{add:?}");
    let text = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
    assert!(text.contains("realm = \"pbx.example.com\""), "{text}");
    assert!(text.contains("expires = 120"), "{text}");
}

#[test]
fn an_accounts_options_keepalive_is_checked_stored_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["account", "add", "work", "--uri", "sip:alice@127.0.0.1"];
    let help = cli(dir.path(), &["account", "add", "--help"]);
    assert!(stdout(&help).contains("--options-keepalive <SECONDS>"));
    // Out of range (0 or 5-3600 s): refused, nothing written.
    for bad in ["4", "3601"] {
        let o = cli(
            dir.path(),
            &[&base[..], &["--options-keepalive", bad]].concat(),
        );
        assert!(!o.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("options_keepalive_secs"), "{err}");
        assert!(!dir.path().join("config/config.toml").exists());
    }
    let add = cli(
        dir.path(),
        &[&base[..], &["--options-keepalive", "30"]].concat(),
    );
    assert!(add.status.success(), "{add:?}");
    let off = cli(
        dir.path(),
        &[
            "account",
            "add",
            "home",
            "--uri",
            "sip:bob@127.0.0.1",
            "--options-keepalive",
            "0",
        ],
    );
    assert!(off.status.success(), "{off:?}");
    let text = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
    assert!(text.contains("options_keepalive_secs = 30"), "{text}");
    assert_eq!(text.matches("options_keepalive").count(), 1, "{text}");

    let list = cli(dir.path(), &["account", "list"]);
    assert_eq!(
        stdout(&list).trim(),
        "work\tsip:alice@127.0.0.1\tudp\tunregistered\tkeepalive 30 s\n\
         home\tsip:bob@127.0.0.1\tudp\tunregistered"
    );
    let json = cli(dir.path(), &["--json", "account", "list"]);
    let rows: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["account"]["name"], "work");
    assert_eq!(rows[0]["options_keepalive_secs"], 30);
    assert!(rows[1]["options_keepalive_secs"].is_null());
}

#[test]
fn an_account_is_edited_disabled_and_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let config = || std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
    let add = cli(
        dir.path(),
        &[
            "account",
            "add",
            "work",
            "--uri",
            "sip:alice@127.0.0.1",
            "--proxy",
            "sip:127.0.0.1:5060",
            "--realm",
            "old.example.com",
        ],
    );
    assert!(add.status.success(), "{add:?}");
    let help = cli(dir.path(), &["account", "--help"]);
    for word in ["edit", "enable", "disable"] {
        assert!(stdout(&help).contains(word), "help lacks {word}");
    }

    // Only the options given change; an empty one clears.
    let edit = cli(
        dir.path(),
        &[
            "account",
            "edit",
            "work",
            "--uri",
            "sip:bob@127.0.0.1",
            "--transport",
            "tcp",
            "--proxy",
            "",
            "--expires",
            "600",
        ],
    );
    assert!(edit.status.success(), "{edit:?}");
    assert_eq!(stdout(&edit).trim(), "account updated: work");
    let text = config();
    assert!(text.contains("sip:bob@127.0.0.1") && text.contains("expires = 600"));
    assert!(
        text.contains("old.example.com"),
        "untouched realm kept: {text}"
    );
    assert!(!text.contains("proxy"), "cleared proxy: {text}");
    let list = cli(dir.path(), &["account", "list"]);
    assert_eq!(
        stdout(&list).trim(),
        "work\tsip:bob@127.0.0.1\ttcp\tunregistered"
    );

    // Refused edits change nothing.
    for bad in [
        &["account", "edit", "work", "--uri", "bob"][..],
        &["account", "edit", "work", "--expires", "5"],
        &["account", "edit", "nobody", "--expires", "60"],
    ] {
        let o = cli(dir.path(), bad);
        assert!(!o.status.success(), "{bad:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("parley-cli:"));
    }
    assert_eq!(config(), text);

    let off = cli(dir.path(), &["account", "disable", "work"]);
    assert!(off.status.success(), "{off:?}");
    assert_eq!(stdout(&off).trim(), "account disabled: work");
    assert!(config().contains("enabled = false"));
    let list = cli(dir.path(), &["--json", "account", "list"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&list).trim()).unwrap();
    assert_eq!(v["account"]["registration"]["state"], "disabled");
    let on = cli(dir.path(), &["account", "enable", "work"]);
    assert!(on.status.success(), "{on:?}");
    let list = cli(dir.path(), &["account", "list"]);
    assert!(
        stdout(&list).ends_with("unregistered\n"),
        "{}",
        stdout(&list)
    );
    assert!(!cli(dir.path(), &["account", "enable", "nobody"])
        .status
        .success());
}

//! The engine keeps an account registered across a registrar crash
//! (Kamailio killed with SIGKILL: its location table is in memory only,
//! usrloc db_mode 0, so the restarted one knows nobody) and is registered
//! again within 5 s of its return, as Kamailio's own location table shows.
//!
//! - TCP, default settings: the kill closes the registration's
//!   connection, Parley registers again at once, then watches for the
//!   registrar's return every 2 s.
//! - UDP: a CRLF keep-alive is never answered, so nothing in the default
//!   settings can notice a registrar that went away (its binding comes
//!   back with the next refresh). This test turns on the account's
//!   OPTIONS keep-alive (`options_keepalive_secs = 2` in config.toml):
//!   an OPTIONS left unanswered for 10 s marks the flow dead and Parley
//!   registers again, its REGISTER retransmitted until Kamailio is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_interop::{Kamailio, KamailioOptions};
use store::{MemorySecrets, Paths, SecretStore};
use ua::api::{Event, RegistrationState};
use ua::{Engine, EngineOptions, SipOptions};

async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    within: Duration,
    pred: impl Fn(&RegistrationState) -> bool,
) -> Option<RegistrationState> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => return None,
            Ok(Ok(Event::Registration { state, .. })) if pred(&state) => return Some(state),
            Ok(_) => {}
        }
    }
}

/// An engine with DEFAULT SIP settings and account `work` (alice) as
/// written in `account_toml` (config.toml lines after `[[account]]`).
fn engine(dir: &std::path::Path, account_toml: &str) -> Engine {
    let paths = Paths {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
    };
    std::fs::create_dir_all(&paths.config_dir).unwrap();
    std::fs::write(
        paths.config_file(),
        format!("[[account]]\nname = \"work\"\nuri = \"sip:alice@127.0.0.1\"\n{account_toml}"),
    )
    .unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    secrets.set("work", "alice123").unwrap();
    Engine::start(EngineOptions {
        paths,
        secrets,
        sip: SipOptions {
            bind_ip: "127.0.0.1".parse().unwrap(),
            ..SipOptions::default()
        },
        auto_register: true,
        auto_answer: false,
        dnd: false,
        call_audio: ua::call::AudioChoice::Null,
    })
    .unwrap()
}

/// Kamailio's location entry for alice, polled until it names
/// `transport` (a contact over that transport) or `within` passes.
async fn registered_at_kamailio(kam: &Kamailio, transport: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let entry = kam.rpc(&["ul.lookup", "location", "alice"]).unwrap();
        if entry.contains("Contact") && entry.contains(&format!("transport={transport}")) {
            return true;
        }
        if Instant::now() >= deadline {
            eprintln!("kamailio's location entry for alice: {entry}");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn survives_a_registrar_crash(account_toml: &str, transport: &str, notice_within: Duration) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PARLEY_LOG"))
        .with_test_writer()
        .try_init();
    let mut kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(
        dir.path(),
        &account_toml.replace("@PORT@", &kam.port.to_string()),
    );
    let mut events = engine.subscribe();
    let registered = |s: &RegistrationState| matches!(s, RegistrationState::Registered { .. });
    wait_for(&mut events, Duration::from_secs(10), registered)
        .await
        .expect("registered at first");
    assert!(registered_at_kamailio(&kam, transport, Duration::from_secs(2)).await);

    kam.kill();
    let killed = Instant::now();
    let failed = wait_for(&mut events, notice_within, |s| {
        matches!(s, RegistrationState::Failed { .. })
    })
    .await
    .expect("the dead flow is noticed");
    eprintln!("noticed after {:?}: {failed:?}", killed.elapsed());
    // Down for a while, as in a real outage.
    tokio::time::sleep(Duration::from_secs(3)).await;

    kam.restart().expect("kamailio again");
    let back = Instant::now();
    assert!(
        !kam.is_registered("alice").unwrap(),
        "a new Kamailio knows nobody"
    );
    assert!(
        registered_at_kamailio(&kam, transport, Duration::from_secs(5)).await,
        "registered again at Kamailio within 5 s of its return"
    );
    eprintln!(
        "in Kamailio's location table again {:?} after its return",
        back.elapsed()
    );
    wait_for(&mut events, Duration::from_secs(1), registered)
        .await
        .expect("Parley says registered too");
    engine.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_with_default_settings_registered_again_within_5s_of_the_registrar_coming_back() {
    survives_a_registrar_crash(
        "proxy = \"sip:127.0.0.1:@PORT@;transport=tcp\"\ntransport = \"tcp\"\n",
        "tcp",
        // The kill closes the connection: noticed at once.
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_udp_with_options_keepalive_registered_again_within_5s_of_the_registrar_coming_back() {
    survives_a_registrar_crash(
        // The OPTIONS keep-alive is off by default; see the module docs.
        "proxy = \"sip:127.0.0.1:@PORT@\"\ntransport = \"udp\"\noptions_keepalive_secs = 2\n",
        "udp",
        // Next OPTIONS within 2 s, unanswered for 10 s: about 12 s, with
        // room for a loaded machine (CI once took longer than 15 s).
        Duration::from_secs(30),
    )
    .await;
}

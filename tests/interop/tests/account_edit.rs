//! Editing, disabling, enabling and re-registering an account against a
//! real Kamailio, as its own location table shows:
//!
//! - an account added with a wrong password fails; edited to the right
//!   one it registers;
//! - an edit that moves it from UDP to TCP unregisters the UDP binding
//!   and registers over TCP;
//! - disabled: Parley says Disabled and Kamailio no longer has it;
//!   enabled: registered again;
//! - re-register on request: a new REGISTER, reported as Registering
//!   then Registered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_interop::{Kamailio, KamailioOptions};
use store::{MemorySecrets, Paths, SecretStore};
use ua::api::{AccountInput, Event, RegistrationState, TransportKind};
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

/// Polls Kamailio's location table for alice until `want` holds (a
/// contact over `transport` when registered) or `within` passes.
async fn at_kamailio(kam: &Kamailio, want: bool, transport: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let entry = kam.rpc(&["ul.lookup", "location", "alice"]).unwrap();
        let has = entry.contains("Contact");
        let ok = if want {
            has && entry.contains(&format!("transport={transport}"))
        } else {
            !has
        };
        if ok {
            return true;
        }
        if Instant::now() >= deadline {
            eprintln!("kamailio's location entry for alice: {entry}");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn alice(port: u16, transport: TransportKind) -> AccountInput {
    let param = match transport {
        TransportKind::Tcp => ";transport=tcp",
        _ => "",
    };
    AccountInput {
        name: "work".into(),
        uri: "sip:alice@127.0.0.1".into(),
        display_name: Some("Alice".into()),
        auth_user: None,
        proxy: Some(format!("sip:127.0.0.1:{port}{param}")),
        transport,
        register: true,
        pickup_code: None,
        realm: None,
        expires: Some(300),
        options_keepalive_secs: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_edited_disabled_enabled_and_registered_again() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PARLEY_LOG"))
        .with_test_writer()
        .try_init();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    let engine = Engine::start(EngineOptions {
        paths: Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
        },
        secrets: secrets.clone(),
        sip: SipOptions {
            bind_ip: "127.0.0.1".parse().unwrap(),
            ..SipOptions::default()
        },
        auto_register: true,
        auto_answer: false,
        dnd: false,
        call_audio: ua::call::AudioChoice::Null,
    })
    .unwrap();
    let mut events = engine.subscribe();
    let registered = |s: &RegistrationState| matches!(s, RegistrationState::Registered { .. });
    let failed = |s: &RegistrationState| matches!(s, RegistrationState::Failed { .. });

    // A wrong password: refused.
    engine
        .add_account(alice(kam.port, TransportKind::Udp), Some("wrong".into()))
        .await
        .unwrap();
    let refused = wait_for(&mut events, Duration::from_secs(10), failed)
        .await
        .expect("the wrong password is refused");
    eprintln!("with the wrong password: {refused:?}");
    assert!(!kam.is_registered("alice").unwrap());

    // Edited to the right one: registered.
    engine
        .update_account(
            "work",
            alice(kam.port, TransportKind::Udp),
            Some("alice123".into()),
        )
        .await
        .unwrap();
    wait_for(&mut events, Duration::from_secs(10), registered)
        .await
        .expect("registered with the right password");
    assert!(at_kamailio(&kam, true, "udp", Duration::from_secs(2)).await);
    assert_eq!(secrets.get("work").unwrap(), "alice123");

    // Edited to TCP, password kept: the UDP binding goes, a TCP one comes.
    engine
        .update_account("work", alice(kam.port, TransportKind::Tcp), None)
        .await
        .unwrap();
    wait_for(&mut events, Duration::from_secs(10), registered)
        .await
        .expect("registered over TCP");
    assert!(at_kamailio(&kam, true, "tcp", Duration::from_secs(2)).await);
    let entry = kam.rpc(&["ul.lookup", "location", "alice"]).unwrap();
    assert!(
        !entry.contains("transport=udp"),
        "the old binding was removed: {entry}"
    );

    // Disabled: unregistered at Kamailio, Disabled in Parley.
    engine.set_account_enabled("work", false).await.unwrap();
    assert!(
        at_kamailio(&kam, false, "tcp", Duration::from_secs(3)).await,
        "Kamailio's location table lost alice"
    );
    assert_eq!(
        engine.status().await.unwrap().accounts[0].registration,
        RegistrationState::Disabled
    );

    // Enabled: registered again.
    engine.set_account_enabled("work", true).await.unwrap();
    wait_for(&mut events, Duration::from_secs(10), registered)
        .await
        .expect("registered again once enabled");
    assert!(at_kamailio(&kam, true, "tcp", Duration::from_secs(2)).await);

    // Re-register by hand: Registering, then Registered again.
    engine.reregister("work").await.unwrap();
    wait_for(&mut events, Duration::from_secs(2), |s| {
        *s == RegistrationState::Registering
    })
    .await
    .expect("registering again");
    wait_for(&mut events, Duration::from_secs(10), registered)
        .await
        .expect("registered again by hand");
    assert!(at_kamailio(&kam, true, "tcp", Duration::from_secs(2)).await);

    engine.shutdown().await.unwrap();
    assert!(at_kamailio(&kam, false, "tcp", Duration::from_secs(3)).await);
}

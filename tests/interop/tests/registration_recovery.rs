//! The engine keeps an account registered across a registrar crash: the
//! RFC 5626 keep-alive finds the dead flow, the engine watches for the
//! registrar's return and is registered again within 5 s of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_interop::{Kamailio, KamailioOptions};
use store::{MemorySecrets, Paths};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_again_within_5s_of_the_registrar_coming_back() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PARLEY_LOG"))
        .with_test_writer()
        .try_init();
    let mut kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(EngineOptions {
        paths: Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
        },
        secrets: Arc::new(MemorySecrets::default()),
        sip: SipOptions {
            bind_ip: "127.0.0.1".parse().unwrap(),
            keep_alive: Some(Duration::from_secs(1)),
            ..SipOptions::default()
        },
        auto_register: true,
        auto_answer: false,
        dnd: false,
        call_audio: ua::call::AudioChoice::Null,
    })
    .unwrap();
    let mut events = engine.subscribe();
    engine
        .add_account(
            AccountInput {
                name: "work".into(),
                uri: "sip:alice@127.0.0.1".into(),
                display_name: None,
                auth_user: None,
                proxy: Some(format!("sip:127.0.0.1:{};transport=tcp", kam.port)),
                transport: TransportKind::Tcp,
                register: true,
                pickup_code: None,
            },
            Some("alice123".into()),
        )
        .await
        .unwrap();
    let registered = |s: &RegistrationState| matches!(s, RegistrationState::Registered { .. });
    wait_for(&mut events, Duration::from_secs(10), registered)
        .await
        .expect("registered at first");
    assert!(kam.is_registered("alice").unwrap());

    kam.kill();
    let failed = wait_for(&mut events, Duration::from_secs(10), |s| {
        matches!(s, RegistrationState::Failed { .. })
    })
    .await
    .expect("the dead flow is noticed");
    eprintln!("noticed: {failed:?}");
    // Down for a while, as in a real outage.
    tokio::time::sleep(Duration::from_secs(3)).await;

    kam.restart().expect("kamailio again");
    let back = Instant::now();
    assert!(
        !kam.is_registered("alice").unwrap(),
        "a new Kamailio knows nobody"
    );
    wait_for(&mut events, Duration::from_secs(5), registered)
        .await
        .expect("registered again within 5 s of the registrar's return");
    eprintln!("registered again {:?} after the restart", back.elapsed());
    assert!(kam.is_registered("alice").unwrap());
    engine.shutdown().await.unwrap();
}

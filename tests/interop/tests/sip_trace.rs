//! The engine's SIP trace against the real Kamailio: a REGISTER with
//! digest auth shows up as REGISTER / 401 / REGISTER / 200 under one
//! Call-ID, with the Authorization kept but its response masked; neither
//! the password nor the real response value is anywhere in the trace.

use std::sync::Arc;
use std::time::Duration;

use parley_interop::{Kamailio, KamailioOptions};
use sip_message::digest::{Algorithm, DigestInput, Qop};
use sip_message::headers::Authorization;
use store::{MemorySecrets, Paths};
use ua::api::{AccountInput, Event, RegistrationState, TransportKind};
use ua::trace::{TraceDirection, MASK};
use ua::{Engine, EngineOptions, SipOptions};

const PASSWORD: &str = "alice123";

async fn registered(events: &mut tokio::sync::broadcast::Receiver<Event>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => panic!("not registered within 10 s"),
            Ok(Ok(Event::Registration {
                state: RegistrationState::Registered { .. },
                ..
            })) => return,
            Ok(Ok(Event::Registration {
                state: RegistrationState::Failed { reason },
                ..
            })) => panic!("registration failed: {reason}"),
            Ok(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_digest_is_traced_with_the_response_masked() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(EngineOptions {
        paths: Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
        },
        secrets: Arc::new(MemorySecrets::default()),
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
    assert!(engine.sip_trace_enabled(), "on by default");
    let mut events = engine.subscribe();
    engine
        .add_account(
            AccountInput {
                name: "work".into(),
                uri: "sip:alice@127.0.0.1".into(),
                display_name: None,
                auth_user: None,
                proxy: Some(format!("sip:127.0.0.1:{}", kam.port)),
                transport: TransportKind::Udp,
                register: true,
                pickup_code: None,
                realm: None,
                expires: None,
                options_keepalive_secs: None,
            },
            Some(PASSWORD.into()),
        )
        .await
        .unwrap();
    registered(&mut events).await;

    let dialogs = engine.sip_trace_dialogs();
    let reg = dialogs
        .iter()
        .find(|d| d.method == "REGISTER")
        .unwrap_or_else(|| panic!("no REGISTER dialog in {dialogs:?}"));
    assert_eq!(reg.final_status, Some(200), "{reg:?}");
    assert!(reg.outgoing);
    assert_eq!(reg.peer, "sip:alice@127.0.0.1");
    assert_eq!(reg.remote, format!("127.0.0.1:{}", kam.port));

    let msgs = engine.sip_trace(&reg.call_id).unwrap();
    let ladder: Vec<(TraceDirection, &str)> = msgs
        .iter()
        .map(|m| (m.direction, m.summary.as_str()))
        .collect();
    assert!(ladder.len() >= 4, "{ladder:?}");
    assert_eq!(
        &ladder[..4],
        [
            (TraceDirection::Sent, "REGISTER"),
            (TraceDirection::Received, "401 Unauthorized"),
            (TraceDirection::Sent, "REGISTER"),
            (TraceDirection::Received, "200 OK"),
        ],
        "{ladder:?}"
    );
    assert!(
        msgs[1].text.contains("WWW-Authenticate: Digest"),
        "{}",
        msgs[1].text
    );
    let authed = &msgs[2];
    assert_eq!(authed.local, engine.listen().await.unwrap().to_string());

    // The masked Authorization still parses; recompute what the real
    // response was from its other fields and the password.
    let parsed = sip_message::parse(authed.text.as_bytes()).unwrap();
    let auth: Authorization = parsed
        .headers()
        .typed()
        .unwrap()
        .expect("Authorization kept");
    let creds = &auth.0;
    assert_eq!(creds.username().as_deref(), Some("alice"));
    assert_eq!(creds.response().as_deref(), Some(MASK));
    let (realm, nonce, uri) = (
        creds.realm().unwrap(),
        creds.nonce().unwrap(),
        creds.uri().unwrap(),
    );
    let cnonce = creds.cnonce();
    let qop = match creds.qop().as_deref() {
        Some("auth") => Some(Qop::Auth),
        None => None,
        Some(other) => panic!("unexpected qop {other}"),
    };
    let real = DigestInput {
        algorithm: creds
            .algorithm()
            .map_or(Algorithm::Md5, |a| Algorithm::parse(&a).unwrap()),
        username: "alice",
        realm: &realm,
        password: PASSWORD,
        nonce: &nonce,
        cnonce: cnonce.as_deref(),
        nc: creds.nc().unwrap_or(0),
        qop,
        method: "REGISTER",
        uri: &uri,
        body: b"",
    }
    .response()
    .unwrap();
    assert_eq!(real.len(), 32);

    let all = engine.sip_trace_export(None).unwrap();
    let one = engine.sip_trace_export(Some(&reg.call_id)).unwrap();
    assert!(
        one.contains("401 Unauthorized") && one.contains("response=\"********\""),
        "{one}"
    );
    for text in [&all, &one].into_iter().chain(msgs.iter().map(|m| &m.text)) {
        assert!(!text.contains(PASSWORD), "password in the trace: {text}");
        assert!(!text.contains(&real), "real response in the trace: {text}");
    }
    engine.sip_trace_clear();
    assert!(engine.sip_trace_dialogs().is_empty());
    engine.shutdown().await.unwrap();
}

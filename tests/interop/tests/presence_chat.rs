//! Presence and chat of the engine against the harness's real peers on
//! loopback: Kamailio (registrar, proxy and presence server), baresip and
//! SIPp (issue 7's "done when"), and peer-to-peer presence watchers
//! (SIPp) subscribing to Parley directly.

use std::sync::Arc;
use std::time::Duration;

use parley_interop::{Baresip, BaresipOptions, Kamailio, KamailioOptions, Sipp};
use store::{MemorySecrets, Paths};
use tokio::sync::broadcast::Receiver;
use ua::api::{AccountInput, CallState, Event, RegistrationState, TransportKind};
use ua::chat::ChatState;
use ua::presence::{Availability, ContactInput, LineState};
use ua::{Engine, EngineOptions, SipOptions};

fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PARLEY_LOG"))
        .with_test_writer()
        .try_init();
}

/// The first event that `pick` maps to a value, within `within`.
async fn next<T>(
    events: &mut Receiver<Event>,
    within: Duration,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => return None,
            Ok(Ok(ev)) => {
                if let Some(v) = pick(&ev) {
                    return Some(v);
                }
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) => return None,
        }
    }
}

/// An engine with account "work" = `user` through `kam`, registered.
async fn engine(
    dir: &std::path::Path,
    kam: &Kamailio,
    user: &str,
    password: &str,
) -> (Engine, Receiver<Event>) {
    let (engine, mut events) = unregistered_engine(dir, kam, user, password).await;
    engine.register("work", None).await.unwrap();
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::Registration {
            state: RegistrationState::Registered { .. },
            ..
        } => Some(()),
        _ => None,
    })
    .await
    .expect("registered");
    (engine, events)
}

/// The same engine and account, not registered yet.
async fn unregistered_engine(
    dir: &std::path::Path,
    kam: &Kamailio,
    user: &str,
    password: &str,
) -> (Engine, Receiver<Event>) {
    let engine = Engine::start(EngineOptions {
        paths: Paths {
            config_dir: dir.join("config"),
            data_dir: dir.join("data"),
        },
        secrets: Arc::new(MemorySecrets::default()),
        sip: SipOptions {
            bind_ip: "127.0.0.1".parse().unwrap(),
            ..SipOptions::default()
        },
        auto_register: false,
        auto_answer: false,
        dnd: false,
        call_audio: ua::call::AudioChoice::Null,
    })
    .unwrap();
    let events = engine.subscribe();
    engine
        .add_account(
            AccountInput {
                name: "work".into(),
                uri: format!("sip:{user}@127.0.0.1"),
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
            Some(password.into()),
        )
        .await
        .unwrap();
    (engine, events)
}

/// The final state of message `id`.
async fn outcome(events: &mut Receiver<Event>, id: i64) -> Option<ChatState> {
    next(events, Duration::from_secs(15), |e| match e {
        Event::MessageStatus { message }
            if message.id == id && message.state != ChatState::Sending =>
        {
            Some(message.state.clone())
        }
        _ => None,
    })
    .await
}

async fn wait_log(b: &Baresip, needle: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if b.log().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_away_reaches_a_sipp_watcher_and_baresip_changes_reach_us() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;

    alice
        .publish_presence("work", Availability::Away, Some("in a meeting".into()))
        .await
        .unwrap();
    let published = next(&mut events, Duration::from_secs(10), |e| match e {
        Event::PresencePublished { ok, reason, .. } => Some((*ok, reason.clone())),
        _ => None,
    })
    .await;
    assert_eq!(published, Some((true, None)));

    // A SIPp watcher (carol) subscribes to alice at the presence server.
    let out = tempfile::tempdir().unwrap();
    let run = Sipp::scenario("subscribe")
        .remote(kam.addr())
        .user("carol")
        .args(["-s", "alice", "-d", "200"])
        .args([
            "-key",
            "event",
            "presence",
            "-key",
            "accept",
            "application/pidf+xml",
        ])
        .timeout(Duration::from_secs(20))
        .run(out.path())
        .expect("sipp");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{msgs}", run.trace("err"));
    let notify = msgs
        .split("NOTIFY sip:")
        .nth(1)
        .expect("a NOTIFY reached the watcher");
    assert!(notify.contains("application/pidf+xml"), "{notify}");
    assert!(notify.contains("away"), "no away activity: {notify}");
    assert!(notify.contains("in a meeting"), "no note: {notify}");

    // Parley watches baresip (bob), which publishes its own state.
    let bob = Baresip::start(&kam, BaresipOptions::new("bob")).expect("baresip");
    bob.wait_registered(Duration::from_secs(10)).unwrap();
    alice.watch("work", "sip:bob@127.0.0.1").await.unwrap();
    let state = |want: Availability| {
        move |e: &Event| match e {
            Event::Presence {
                uri, availability, ..
            } if uri == "sip:bob@127.0.0.1" && *availability == want => Some(()),
            _ => None,
        }
    };
    // baresip publishes "online" when it registers.
    next(
        &mut events,
        Duration::from_secs(10),
        state(Availability::Available),
    )
    .await
    .expect("bob shown available");
    // baresip sends one PUBLISH at a time: let its first one finish.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = std::time::Instant::now();
    bob.command("presence_offline", "").unwrap();
    next(
        &mut events,
        Duration::from_secs(2),
        state(Availability::Offline),
    )
    .await
    .expect("bob's change seen within 2 s");
    eprintln!("offline seen after {:?}", t.elapsed());
    let t = std::time::Instant::now();
    bob.command("presence_online", "").unwrap();
    next(
        &mut events,
        Duration::from_secs(2),
        state(Availability::Available),
    )
    .await
    .expect("bob back within 2 s");
    eprintln!("online seen after {:?}", t.elapsed());
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_both_ways_with_baresip() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;
    let bob = Baresip::start(&kam, BaresipOptions::new("bob")).expect("baresip");
    bob.wait_registered(Duration::from_secs(10)).unwrap();

    let id = alice
        .send_message("work", "sip:bob@127.0.0.1", "hello bob from parley")
        .await
        .unwrap();
    assert_eq!(outcome(&mut events, id).await, Some(ChatState::Sent));
    assert!(
        wait_log(&bob, "hello bob from parley", Duration::from_secs(5)).await,
        "baresip did not show it: {}",
        bob.log()
    );

    // baresip's current contact is alice (the first of its list).
    bob.command("message", "hi alice from baresip").unwrap();
    let got = next(&mut events, Duration::from_secs(10), |e| match e {
        Event::MessageReceived { message } => Some(message.clone()),
        _ => None,
    })
    .await
    .expect("baresip's message arrived");
    assert_eq!(got.text, "hi alice from baresip");
    assert_eq!(got.peer, "sip:bob@127.0.0.1");
    assert!(!got.outgoing && got.unread);

    // Both are in one conversation, on disk.
    let convs = alice.conversations().await.unwrap();
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0].unread, 1);
    let page = alice.messages(convs[0].id, None, 50).await.unwrap();
    let texts: Vec<&str> = page.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello bob from parley", "hi alice from baresip"]);
    let hits = alice.search_messages("from").await.unwrap();
    assert_eq!(hits.len(), 2);
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_an_unregistered_user_fails_then_is_delivered_by_retry() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;

    let first = alice
        .send_message("work", "sip:carol@127.0.0.1", "first, retried by hand")
        .await
        .unwrap();
    let failed = outcome(&mut events, first).await;
    match &failed {
        Some(ChatState::Failed {
            status: Some(404),
            reason,
        }) => assert!(reason.contains("404"), "{reason}"),
        other => panic!("expected failed with 404: {other:?}"),
    }
    let second = alice
        .send_message(
            "work",
            "sip:carol@127.0.0.1",
            "second, retried on registration",
        )
        .await
        .unwrap();
    assert!(matches!(
        outcome(&mut events, second).await,
        Some(ChatState::Failed { .. })
    ));

    let carol = Baresip::start(&kam, BaresipOptions::new("carol")).expect("baresip");
    carol.wait_registered(Duration::from_secs(10)).unwrap();

    // By hand: only the first.
    alice.retry_message(first).await.unwrap();
    assert_eq!(outcome(&mut events, first).await, Some(ChatState::Sent));
    assert!(wait_log(&carol, "first, retried by hand", Duration::from_secs(5)).await);

    // Automatically: registering the account again re-sends the rest.
    alice.unregister("work").await.unwrap();
    alice.register("work", None).await.unwrap();
    assert_eq!(outcome(&mut events, second).await, Some(ChatState::Sent));
    assert!(
        wait_log(
            &carol,
            "second, retried on registration",
            Duration::from_secs(5)
        )
        .await,
        "{}",
        carol.log()
    );
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mwi_from_the_presence_server_reaches_the_api() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;

    // A voicemail server (SIPp) publishes alice's mailbox: 2 new, 8 old.
    let out = tempfile::tempdir().unwrap();
    let run = Sipp::scenario("publish_mwi")
        .remote(kam.addr())
        .user("alice")
        .args([
            "-key", "new", "2", "-key", "old", "8", "-key", "expires", "120",
        ])
        .run(out.path())
        .expect("sipp");
    assert!(run.passed(), "sipp failed: {}", run.trace("err"));

    alice.watch_voicemail("work", true).await.unwrap();
    let mwi = next(&mut events, Duration::from_secs(10), |e| match e {
        Event::Mwi {
            waiting, new, old, ..
        } => Some((*waiting, *new, *old)),
        _ => None,
    })
    .await;
    assert_eq!(mwi, Some((true, 2, 8)));
    alice.shutdown().await.unwrap();
}

/// A SIPp watcher (`user`) subscribes to alice at the presence server and
/// returns the first NOTIFY (headers and PIDF body) it got.
fn sipp_watch_alice(kam: &Kamailio, user: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let run = Sipp::scenario("subscribe")
        .remote(kam.addr())
        .user(user)
        .args(["-s", "alice", "-d", "200"])
        .args([
            "-key",
            "event",
            "presence",
            "-key",
            "accept",
            "application/pidf+xml",
        ])
        .timeout(Duration::from_secs(20))
        .run(out.path())
        .expect("sipp");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{msgs}", run.trace("err"));
    msgs.split("NOTIFY sip:")
        .nth(1)
        .expect("a NOTIFY reached the watcher")
        .to_owned()
}

/// The next PresencePublished of alice's account, which must be a success.
async fn published(events: &mut Receiver<Event>) {
    let p = next(events, Duration::from_secs(10), |e| match e {
        Event::PresencePublished { ok, reason, .. } => Some((*ok, reason.clone())),
        _ => None,
    })
    .await;
    assert_eq!(p, Some((true, None)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_phone_is_published_during_a_call_and_undone_after() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;
    let bob = Baresip::start(&kam, BaresipOptions::new("bob")).expect("baresip");
    bob.wait_registered(Duration::from_secs(10)).unwrap();

    alice
        .publish_presence("work", Availability::Available, Some("ask me".into()))
        .await
        .unwrap();
    published(&mut events).await;
    let before = sipp_watch_alice(&kam, "carol");
    assert!(before.contains("ask me"), "{before}");
    assert!(!before.contains("on-the-phone"), "{before}");

    // baresip answers at once: connected, and alice is on the phone.
    let id = alice.call("work", "sip:bob@127.0.0.1").await.unwrap();
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::CallState { call } if call.id == id && call.state == CallState::Connected => {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("call connected");
    published(&mut events).await;
    let during = sipp_watch_alice(&kam, "carol");
    assert!(
        during.contains("<rpid:on-the-phone/>"),
        "no on-the-phone: {during}"
    );
    assert!(during.contains("ask me"), "the note stays: {during}");

    // After the call: back to the chosen state.
    alice.hangup(id).await.unwrap();
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::CallEnded { call, .. } if call.id == id => Some(()),
        _ => None,
    })
    .await
    .expect("call ended");
    published(&mut events).await;
    let after = sipp_watch_alice(&kam, "carol");
    assert!(
        !after.contains("on-the-phone"),
        "still on the phone: {after}"
    );
    assert!(after.contains("<basic>open</basic>"), "{after}");
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blf_shows_ringing_while_baresip_rings_then_idle() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;
    let bob = Baresip::start(
        &kam,
        BaresipOptions {
            answer_mode: "manual",
            ..BaresipOptions::new("bob")
        },
    )
    .expect("baresip bob");
    let carol = Baresip::start(&kam, BaresipOptions::new("carol")).expect("baresip carol");
    bob.wait_registered(Duration::from_secs(10)).unwrap();
    carol.wait_registered(Duration::from_secs(10)).unwrap();

    alice
        .watch_line("work", "sip:bob@127.0.0.1", true)
        .await
        .unwrap();
    let line = |want: LineState| {
        move |e: &Event| match e {
            Event::Blf { uri, state, .. } if uri == "sip:bob@127.0.0.1" && *state == want => {
                Some(())
            }
            _ => None,
        }
    };
    // No call yet: a subscription to a line without dialogs is idle (or
    // carries no document at all).
    let _ = next(&mut events, Duration::from_secs(3), line(LineState::Idle)).await;

    carol.command("dial", "sip:bob@127.0.0.1").expect("dial");
    next(
        &mut events,
        Duration::from_secs(10),
        line(LineState::Ringing),
    )
    .await
    .expect("bob's line shown ringing");
    assert!(
        wait_log(&bob, "Incoming call", Duration::from_secs(5)).await,
        "{}",
        bob.log()
    );
    // carol gives up: the line is idle again.
    carol.command("hangup", "").expect("hangup");
    next(&mut events, Duration::from_secs(10), line(LineState::Idle))
        .await
        .expect("bob's line idle after the call");
    alice.shutdown().await.unwrap();
}

/// An engine with no account: the built-in local account, listening.
async fn local_engine(dir: &std::path::Path) -> (Engine, std::net::SocketAddr) {
    let engine = Engine::start(EngineOptions {
        paths: Paths {
            config_dir: dir.join("config"),
            data_dir: dir.join("data"),
        },
        secrets: Arc::new(MemorySecrets::default()),
        sip: SipOptions {
            bind_ip: "127.0.0.1".parse().unwrap(),
            ..SipOptions::default()
        },
        auto_register: false,
        auto_answer: false,
        dnd: false,
        call_audio: ua::call::AudioChoice::Null,
    })
    .unwrap();
    let addr = engine.listen().await.unwrap();
    (engine, addr)
}

/// The NOTIFYs a SIPp run received, in order (each up to the next request).
fn notifies(msgs: &str) -> Vec<&str> {
    msgs.split("NOTIFY sip:").skip(1).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_watchers_contacts_see_our_state_strangers_stay_pending() {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let (parley, addr) = local_engine(dir.path()).await;
    parley
        .add_contact(ContactInput {
            name: "Carol".into(),
            sip_uri: Some("sip:carol@127.0.0.1".into()),
            phones: Vec::new(),
            favourite: false,
            presence: false,
            blf: false,
        })
        .await
        .unwrap();
    parley
        .publish_presence(
            ua::LOCAL_ACCOUNT,
            Availability::Away,
            Some("at lunch".into()),
        )
        .await
        .unwrap();

    // A watcher subscribes; 1.5 s later our state changes.
    let watch = |who: &str, state: &str| {
        let out = tempfile::tempdir().unwrap();
        let h = Sipp::scenario("p2p_watcher")
            .remote(addr)
            .args([
                "-s", "parley", "-key", "watcher", who, "-key", "state", state,
            ])
            .timeout(Duration::from_secs(30))
            .start(out.path())
            .expect("sipp");
        (out, h)
    };

    // Carol is a contact: active, our PIDF at once and on every change.
    let (_out, h) = watch("carol", "active");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    parley
        .publish_presence(
            ua::LOCAL_ACCOUNT,
            Availability::Busy,
            Some("back at 3".into()),
        )
        .await
        .unwrap();
    let run = tokio::task::spawn_blocking(move || h.wait())
        .await
        .unwrap()
        .expect("sipp");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{msgs}", run.trace("err"));
    let n = notifies(&msgs);
    assert_eq!(n.len(), 4, "initial, change, refresh, final: {msgs}");
    assert!(n[0].contains("Subscription-State: active"), "{}", n[0]);
    assert!(
        n[0].contains("Content-Type: application/pidf+xml"),
        "{}",
        n[0]
    );
    assert!(n[0].contains("<rpid:away/>"), "{}", n[0]);
    assert!(n[0].contains("at lunch"), "{}", n[0]);
    assert!(n[1].contains("<rpid:busy/>"), "{}", n[1]);
    assert!(n[1].contains("back at 3"), "{}", n[1]);
    assert!(
        n[2].contains("back at 3"),
        "refresh has the state: {}",
        n[2]
    );
    assert!(n[3].contains("Subscription-State: terminated"), "{}", n[3]);

    // Dave is a stranger: pending, and never a word about our state.
    let (_out, h) = watch("dave", "pending");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    parley
        .publish_presence(
            ua::LOCAL_ACCOUNT,
            Availability::Available,
            Some("free".into()),
        )
        .await
        .unwrap();
    let run = tokio::task::spawn_blocking(move || h.wait())
        .await
        .unwrap()
        .expect("sipp");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{msgs}", run.trace("err"));
    let n = notifies(&msgs);
    assert_eq!(
        n.len(),
        3,
        "initial, refresh, final (no change seen): {msgs}"
    );
    assert!(n[0].contains("Subscription-State: pending"), "{}", n[0]);
    assert!(n[1].contains("Subscription-State: pending"), "{}", n[1]);
    for notify in &n {
        assert!(!notify.contains("<presence"), "state leaked: {notify}");
        assert!(!notify.contains("Content-Type"), "a body: {notify}");
        assert!(!notify.contains("free"), "state leaked: {notify}");
    }
    parley.shutdown().await.unwrap();
}

/// The value of header `name` in the first message of a SIPp trace that
/// starts with `first_line`.
fn header_of(msgs: &str, first_line: &str, name: &str) -> Option<String> {
    let msg = msgs.split(first_line).nth(1)?;
    let msg = msg.split("\n\n").next()?;
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The `tag` parameter of a From/To value.
fn tag(value: &str) -> String {
    value
        .split(';')
        .find_map(|p| p.trim().strip_prefix("tag="))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blf_pickup_replaces_the_ringing_call_at_the_caller() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;
    let bob = Baresip::start(
        &kam,
        BaresipOptions {
            answer_mode: "manual",
            ..BaresipOptions::new("bob")
        },
    )
    .expect("baresip bob");
    bob.wait_registered(Duration::from_secs(10)).unwrap();

    // Carol's phone: a SIPp UAS registered as carol takes the pickup
    // INVITE; a SIPp UAC (also carol) calls bob and rings.
    let uas_out = tempfile::tempdir().unwrap();
    let uas_port = parley_interop::free_port(1);
    let uas = Sipp::scenario("pickup_uas")
        .port(uas_port)
        .timeout(Duration::from_secs(40))
        .start(uas_out.path())
        .expect("sipp uas");
    let reg_out = tempfile::tempdir().unwrap();
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
        .run(reg_out.path())
        .expect("sipp register");
    assert!(reg.passed(), "{}", reg.trace("msg"));

    // Not ringing yet: a clear error, no call.
    alice
        .watch_line("work", "sip:bob@127.0.0.1", true)
        .await
        .unwrap();
    let err = alice
        .pickup("work", "sip:bob@127.0.0.1")
        .await
        .expect_err("nothing rings");
    assert!(err.to_string().contains("not ringing"), "{err}");

    let caller_out = tempfile::tempdir().unwrap();
    let caller = Sipp::scenario("pickup_caller")
        .remote(kam.addr())
        .user("carol")
        .args(["-s", "bob", "-d", "6000"])
        .timeout(Duration::from_secs(40))
        .start(caller_out.path())
        .expect("sipp caller");
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::Blf { uri, state, .. }
            if uri == "sip:bob@127.0.0.1" && *state == LineState::Ringing =>
        {
            Some(())
        }
        _ => None,
    })
    .await
    .unwrap_or_else(|| {
        let trace = std::fs::read_to_string(caller_out.path().join("pickup_caller.msg"));
        panic!(
            "bob's line not shown ringing; caller: {trace:?}\n{}",
            bob.log()
        )
    });

    let id = alice
        .pickup("work", "sip:bob@127.0.0.1")
        .await
        .expect("pickup");
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::CallState { call } if call.id == id && call.state == CallState::Connected => {
            assert_eq!(call.peer_uri, "sip:carol@127.0.0.1");
            Some(())
        }
        _ => None,
    })
    .await
    .expect("picked-up call connected");

    // The caller gives up on bob (its dialog was replaced); bob goes idle.
    let caller = tokio::task::spawn_blocking(move || caller.wait())
        .await
        .unwrap()
        .expect("sipp caller");
    let caller_msgs = caller.trace("msg");
    assert!(
        caller.passed(),
        "caller failed: {}\n{caller_msgs}",
        caller.trace("err")
    );
    alice.hangup(id).await.unwrap();
    let uas = tokio::task::spawn_blocking(move || uas.wait())
        .await
        .unwrap()
        .expect("sipp uas");
    let uas_msgs = uas.trace("msg");
    assert!(uas.passed(), "uas failed: {}\n{uas_msgs}", uas.trace("err"));

    // Replaces names the ringing dialog as the caller has it (RFC 3891
    // §6.1): its Call-ID, To tag = bob's, From tag = carol's.
    let call_id = header_of(&caller_msgs, "INVITE sip:bob@", "Call-ID").expect("call-id");
    let from_tag = tag(&header_of(&caller_msgs, "INVITE sip:bob@", "From").expect("from"));
    let to_tag = tag(&header_of(&caller_msgs, "SIP/2.0 180", "To").expect("180 to"));
    assert!(!to_tag.is_empty() && !from_tag.is_empty(), "{caller_msgs}");
    let replaces = header_of(&uas_msgs, "INVITE sip:carol@", "Replaces").expect("Replaces");
    assert_eq!(
        replaces,
        format!("{call_id};to-tag={to_tag};from-tag={from_tag};early-only"),
        "{uas_msgs}"
    );
    assert_eq!(
        header_of(&uas_msgs, "INVITE sip:carol@", "Require").as_deref(),
        Some("replaces")
    );
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_during_a_call_goes_inside_its_dialog_both_ways() {
    logs();
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;
    let uas_out = tempfile::tempdir().unwrap();
    let uas_port = parley_interop::free_port(1);
    let uas = Sipp::scenario("uas_message_in_call")
        .port(uas_port)
        .timeout(Duration::from_secs(30))
        .start(uas_out.path())
        .expect("sipp uas");
    let reg_out = tempfile::tempdir().unwrap();
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
        .run(reg_out.path())
        .expect("sipp register");
    assert!(reg.passed(), "{}", reg.trace("msg"));

    let id = alice.call("work", "sip:carol@127.0.0.1").await.unwrap();
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::CallState { call } if call.id == id && call.state == CallState::Connected => {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("call connected");

    // carol's MESSAGE inside the call reaches the chat like any other.
    let got = next(&mut events, Duration::from_secs(10), |e| match e {
        Event::MessageReceived { message } => Some(message.clone()),
        _ => None,
    })
    .await
    .expect("in-dialog message delivered to chat");
    // SIPp ends its body with CRLF.
    assert_eq!(got.text.trim_end(), "hello from inside the call");
    assert_eq!(got.peer, "sip:carol@127.0.0.1");

    // Our reply goes inside the call's dialog and is accepted.
    let mid = alice
        .send_message("work", "sip:carol@127.0.0.1", "and hello back")
        .await
        .unwrap();
    assert_eq!(outcome(&mut events, mid).await, Some(ChatState::Sent));

    alice.hangup(id).await.unwrap();
    let run = tokio::task::spawn_blocking(move || uas.wait())
        .await
        .unwrap()
        .expect("sipp uas");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{msgs}", run.trace("err"));
    // Our MESSAGE: the dialog's Call-ID and both tags (RFC 3428 §4).
    let invite_cid = header_of(&msgs, "INVITE sip:carol@", "Call-ID").expect("invite");
    let carol_tag = tag(&header_of(&msgs, "SIP/2.0 200 OK", "To").expect("200"));
    let alice_tag = tag(&header_of(&msgs, "INVITE sip:carol@", "From").expect("from"));
    let ours = msgs
        .split("MESSAGE sip:")
        .find(|m| m.contains("and hello back"))
        .expect("our MESSAGE reached carol");
    let ours = format!("MESSAGE sip:{ours}");
    assert_eq!(
        header_of(&ours, "MESSAGE sip:", "Call-ID").as_deref(),
        Some(invite_cid.as_str())
    );
    assert_eq!(
        tag(&header_of(&ours, "MESSAGE sip:", "To").expect("to")),
        carol_tag
    );
    assert_eq!(
        tag(&header_of(&ours, "MESSAGE sip:", "From").expect("from")),
        alice_tag
    );
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_watcher_is_allowed_or_blocked_by_the_user() {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let (parley, addr) = local_engine(dir.path()).await;
    let mut events = parley.subscribe();
    parley
        .publish_presence(
            ua::LOCAL_ACCOUNT,
            Availability::Busy,
            Some("writing".into()),
        )
        .await
        .unwrap();
    let watcher = |scenario: &str, who: &str| {
        let out = tempfile::tempdir().unwrap();
        let h = Sipp::scenario(scenario)
            .remote(addr)
            .args(["-s", "parley", "-key", "watcher", who])
            .timeout(Duration::from_secs(30))
            .start(out.path())
            .expect("sipp");
        (out, h)
    };
    let waits = |who: &'static str, waiting: bool| {
        move |e: &Event| match e {
            Event::WatcherPending {
                watcher,
                waiting: w,
                ..
            } if watcher == &format!("sip:{who}@127.0.0.1") && *w == waiting => Some(()),
            _ => None,
        }
    };

    // Dave, a stranger, waits; the user allows him: he gets our state.
    let (_out, h) = watcher("p2p_watcher_allowed", "dave");
    next(&mut events, Duration::from_secs(10), waits("dave", true))
        .await
        .expect("dave waits");
    let pending = parley.pending_watchers().await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].watcher, "sip:dave@127.0.0.1");
    parley
        .allow_watcher(ua::LOCAL_ACCOUNT, "sip:dave@127.0.0.1")
        .await
        .unwrap();
    next(&mut events, Duration::from_secs(5), waits("dave", false))
        .await
        .expect("dave no longer waits");
    assert!(parley.pending_watchers().await.unwrap().is_empty());
    let run = tokio::task::spawn_blocking(move || h.wait())
        .await
        .unwrap()
        .expect("sipp");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{msgs}", run.trace("err"));
    let n = notifies(&msgs);
    assert!(n[0].contains("Subscription-State: pending"), "{}", n[0]);
    assert!(!n[0].contains("<presence"), "state before allow: {}", n[0]);
    assert!(n[1].contains("Subscription-State: active"), "{}", n[1]);
    assert!(
        n[1].contains("Content-Type: application/pidf+xml"),
        "{}",
        n[1]
    );
    assert!(
        n[1].contains("<rpid:busy/>") && n[1].contains("writing"),
        "{}",
        n[1]
    );

    // Allowed is remembered: his next subscription is active at once.
    let out = tempfile::tempdir().unwrap();
    let run = Sipp::scenario("p2p_watcher")
        .remote(addr)
        .args([
            "-s", "parley", "-key", "watcher", "dave", "-key", "state", "active",
        ])
        .timeout(Duration::from_secs(30))
        .run(out.path())
        .expect("sipp");
    assert!(run.passed(), "{}", run.trace("msg"));

    // Eve waits, is blocked: her subscription ends rejected, and her next
    // SUBSCRIBE is refused.
    let out = tempfile::tempdir().unwrap();
    let h = Sipp::scenario("p2p_watcher_blocked")
        .remote(addr)
        .args([
            "-s", "parley", "-key", "watcher", "eve", "-key", "first", "pending",
        ])
        .timeout(Duration::from_secs(30))
        .start(out.path())
        .expect("sipp");
    next(&mut events, Duration::from_secs(10), waits("eve", true))
        .await
        .expect("eve waits");
    parley
        .block_watcher(ua::LOCAL_ACCOUNT, "sip:eve@127.0.0.1")
        .await
        .unwrap();
    let run = tokio::task::spawn_blocking(move || h.wait())
        .await
        .unwrap()
        .expect("sipp");
    let msgs = run.trace("msg");
    assert!(run.passed(), "sipp failed: {}\n{msgs}", run.trace("err"));
    for notify in notifies(&msgs) {
        assert!(!notify.contains("<presence"), "state leaked: {notify}");
    }
    let (_out, h) = watcher("p2p_subscribe_refused", "eve");
    let run = tokio::task::spawn_blocking(move || h.wait())
        .await
        .unwrap()
        .expect("sipp");
    assert!(run.passed(), "{}", run.trace("msg"));

    // Blocking dave, allowed before, ends his active subscription too.
    let out = tempfile::tempdir().unwrap();
    let h = Sipp::scenario("p2p_watcher_blocked")
        .remote(addr)
        .args([
            "-s", "parley", "-key", "watcher", "dave", "-key", "first", "active",
        ])
        .timeout(Duration::from_secs(30))
        .start(out.path())
        .expect("sipp");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    parley
        .block_watcher(ua::LOCAL_ACCOUNT, "sip:dave@127.0.0.1")
        .await
        .unwrap();
    let run = tokio::task::spawn_blocking(move || h.wait())
        .await
        .unwrap()
        .expect("sipp");
    assert!(run.passed(), "{}\n{}", run.trace("err"), run.trace("msg"));

    // The answers are listed; forgetting eve's block makes her wait again
    // on her next SUBSCRIBE (and the user can block her once more).
    let decided = |d: &[ua::presence::WatcherDecision]| -> Vec<(String, bool)> {
        d.iter().map(|d| (d.watcher.clone(), d.allowed)).collect()
    };
    let list = parley.watcher_decisions(ua::LOCAL_ACCOUNT).await.unwrap();
    assert_eq!(
        decided(&list),
        [
            ("sip:dave@127.0.0.1".to_owned(), false),
            ("sip:eve@127.0.0.1".to_owned(), false)
        ]
    );
    parley
        .forget_watcher(ua::LOCAL_ACCOUNT, "sip:eve@127.0.0.1")
        .await
        .unwrap();
    let list = parley.watcher_decisions(ua::LOCAL_ACCOUNT).await.unwrap();
    assert_eq!(decided(&list), [("sip:dave@127.0.0.1".to_owned(), false)]);
    let out = tempfile::tempdir().unwrap();
    let h = Sipp::scenario("p2p_watcher_blocked")
        .remote(addr)
        .args([
            "-s", "parley", "-key", "watcher", "eve", "-key", "first", "pending",
        ])
        .timeout(Duration::from_secs(30))
        .start(out.path())
        .expect("sipp");
    next(&mut events, Duration::from_secs(10), waits("eve", true))
        .await
        .expect("eve waits again once forgotten");
    parley
        .block_watcher(ua::LOCAL_ACCOUNT, "sip:eve@127.0.0.1")
        .await
        .unwrap();
    let run = tokio::task::spawn_blocking(move || h.wait())
        .await
        .unwrap()
        .expect("sipp");
    assert!(run.passed(), "{}", run.trace("msg"));
    let err = parley
        .forget_watcher(ua::LOCAL_ACCOUNT, "eve")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a SIP address"), "{err}");

    // Bad input: a clear error.
    let err = parley
        .allow_watcher(ua::LOCAL_ACCOUNT, "not a uri")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a SIP address"), "{err}");
    parley.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blf_pickup_dials_the_pickup_code_when_the_server_hides_the_dialog() {
    logs();
    let kam = Kamailio::start(KamailioOptions {
        pickup_code: true,
        ..Default::default()
    })
    .expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = engine(dir.path(), &kam, "alice", "alice123").await;
    let bob = Baresip::start(
        &kam,
        BaresipOptions {
            answer_mode: "manual",
            ..BaresipOptions::new("bob")
        },
    )
    .expect("baresip bob");
    bob.wait_registered(Duration::from_secs(10)).unwrap();
    // The PBX's pickup service: Kamailio routes "**<user>" to carol's
    // registered contact, this SIPp UAS.
    let uas_out = tempfile::tempdir().unwrap();
    let uas_port = parley_interop::free_port(1);
    let uas = Sipp::scenario("pickup_code_uas")
        .port(uas_port)
        .timeout(Duration::from_secs(40))
        .start(uas_out.path())
        .expect("sipp uas");
    let reg_out = tempfile::tempdir().unwrap();
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
        .run(reg_out.path())
        .expect("sipp register");
    assert!(reg.passed(), "{}", reg.trace("msg"));

    alice
        .watch_line("work", "sip:bob@127.0.0.1", true)
        .await
        .unwrap();
    let caller_out = tempfile::tempdir().unwrap();
    let caller = Sipp::scenario("pickup_caller")
        .remote(kam.addr())
        .user("carol")
        .args(["-s", "bob", "-d", "6000"])
        .timeout(Duration::from_secs(40))
        .start(caller_out.path())
        .expect("sipp caller");
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::Blf { uri, state, .. }
            if uri == "sip:bob@127.0.0.1" && *state == LineState::Ringing =>
        {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("bob's line shown ringing");

    // No ids and no code: a clear error.
    let err = alice
        .pickup("work", "sip:bob@127.0.0.1")
        .await
        .expect_err("no way to pick up");
    assert!(err.to_string().contains("pickup code"), "{err}");
    alice
        .set_pickup_code("work", Some("**".into()))
        .await
        .unwrap();
    let id = alice
        .pickup("work", "sip:bob@127.0.0.1")
        .await
        .expect("pickup");
    next(&mut events, Duration::from_secs(10), |e| match e {
        Event::CallState { call } if call.id == id && call.state == CallState::Connected => {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("pickup call connected");
    // Kamailio's two workers may reorder an ACK and a BYE sent at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    alice.hangup(id).await.unwrap();
    let uas = tokio::task::spawn_blocking(move || uas.wait())
        .await
        .unwrap()
        .expect("sipp uas");
    let msgs = uas.trace("msg");
    assert!(uas.passed(), "{}\n{msgs}", uas.trace("err"));
    let to = header_of(&msgs, "INVITE sip:", "To").expect("To");
    assert!(to.contains("sip:**bob@127.0.0.1"), "{to}");
    assert!(
        header_of(&msgs, "INVITE sip:", "Replaces").is_none(),
        "{msgs}"
    );
    let caller = tokio::task::spawn_blocking(move || caller.wait())
        .await
        .unwrap()
        .expect("sipp caller");
    assert!(caller.passed(), "{}", caller.trace("msg"));
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_call_of_ours_picked_up_elsewhere_moves_to_the_picker() {
    logs();
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
    let dir_a = tempfile::tempdir().unwrap();
    let (alice, mut a_events) = engine(dir_a.path(), &kam, "alice", "alice123").await;
    let dir_c = tempfile::tempdir().unwrap();
    let (carol, mut c_events) = engine(dir_c.path(), &kam, "carol", "carol123").await;
    carol
        .watch_line("work", "sip:bob@127.0.0.1", true)
        .await
        .unwrap();

    // alice calls bob, whose phone rings; carol sees it and picks up.
    let first = alice.call("work", "sip:bob@127.0.0.1").await.unwrap();
    next(&mut c_events, Duration::from_secs(10), |e| match e {
        Event::Blf { uri, state, .. }
            if uri == "sip:bob@127.0.0.1" && *state == LineState::Ringing =>
        {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("bob's line shown ringing");
    let picked = carol.pickup("work", "sip:bob@127.0.0.1").await.unwrap();

    // alice's INVITE to bob is cancelled, the replacing call is answered
    // at once, and both sides are connected.
    let mut first_end = None;
    let mut second = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while first_end.is_none() || second.is_none() {
        let ev = tokio::time::timeout_at(deadline, a_events.recv())
            .await
            .expect("alice's calls in time")
            .expect("events");
        match ev {
            Event::CallEnded { call, end } if call.id == first => first_end = Some(end),
            Event::CallState { call } if call.id != first && call.state == CallState::Connected => {
                assert_eq!(call.peer_uri, "sip:carol@127.0.0.1");
                second = Some(call.id);
            }
            _ => {}
        }
    }
    assert_eq!(first_end, Some(ua::api::CallEnd::Transferred));
    next(&mut c_events, Duration::from_secs(10), |e| match e {
        Event::CallState { call } if call.id == picked && call.state == CallState::Connected => {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("carol connected");
    // baresip logs a CANCELled incoming call as a closed session.
    assert!(
        wait_log(&bob, "session closed", Duration::from_secs(5)).await,
        "bob still rings: {}",
        bob.log()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    carol.hangup(picked).await.unwrap();
    alice.shutdown().await.unwrap();
    carol.shutdown().await.unwrap();
}

/// A long contact list subscribed at registration: one subscription
/// dialog per contact at the real Kamailio, each accepted, none started
/// again. 500 contacts once passed the transaction table's cap at start
/// and came out as 549-735 dialogs, the NOTIFYs beyond it refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_contacts_subscribe_once_each_at_registration() {
    logs();
    const N: usize = 500;
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let (engine, mut events) = unregistered_engine(dir.path(), &kam, "alice", "alice123").await;
    for i in 0..N {
        engine
            .add_contact(ContactInput {
                name: format!("Contact {i:03}"),
                sip_uri: Some(format!("sip:listed{i:03}@127.0.0.1")),
                phones: Vec::new(),
                favourite: false,
                presence: true,
                blf: false,
            })
            .await
            .unwrap();
    }
    // All of them at once, as at start.
    engine.register("work", None).await.unwrap();
    let mut active = std::collections::HashSet::new();
    let mut refused = Vec::new();
    let deadline = Duration::from_secs(60);
    while active.len() < N {
        let Some((uri, ok, reason)) = next(&mut events, deadline, |e| match e {
            Event::WatchStatus {
                uri,
                package,
                active,
                reason,
                ..
            } if package == "presence" => Some((uri.clone(), *active, reason.clone())),
            _ => None,
        })
        .await
        else {
            break;
        };
        if ok {
            active.insert(uri);
        } else {
            refused.push(reason);
        }
    }
    assert!(
        refused.is_empty(),
        "{} subscriptions refused, the first: {:?}",
        refused.len(),
        refused.first()
    );
    assert_eq!(active.len(), N, "accepted subscriptions");
    // Distinct Call-IDs among Kamailio's "initial SUBSCRIBE" lines (the
    // log prefix carries CSeq, method and Call-ID).
    let log = kam.log();
    let dialogs: std::collections::HashSet<&str> = log
        .lines()
        .filter(|l| l.contains("initial SUBSCRIBE sip:alice@"))
        .filter_map(|l| {
            let inner = &l[l.find('{')? + 1..l.find('}')?];
            inner.split_whitespace().nth(3)
        })
        .collect();
    assert_eq!(dialogs.len(), N, "subscription dialogs at Kamailio");
    engine.shutdown().await.unwrap();
}

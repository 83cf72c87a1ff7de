//! The transports over real loopback sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::Receiver;
use ua::transport::tls::TlsSettings;
use ua::transport::{Proto, TransportConfig, TransportError, TransportEvent, Transports};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn options(branch: &str, from: SocketAddr, pad: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: {branch}@test\r\nCSeq: 1 OPTIONS\r\n\
         X-Pad: {}\r\nContent-Length: 0\r\n\r\n",
        "p".repeat(pad)
    )
    .into_bytes()
}

async fn next(rx: &mut Receiver<TransportEvent>) -> TransportEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("event in time")
        .expect("open channel")
}

async fn next_message(rx: &mut Receiver<TransportEvent>) -> ua::transport::Incoming {
    loop {
        if let TransportEvent::Message(m) = next(rx).await {
            return *m;
        }
    }
}

/// Transports with the default configuration on loopback.
async fn bind_default() -> (Transports, Receiver<TransportEvent>) {
    Transports::bind(TransportConfig::new(LOCALHOST))
        .await
        .unwrap()
}

/// Asserts that nothing connects to `listener` within `within`.
async fn assert_no_connection(listener: &tokio::net::TcpListener, within: Duration, what: &str) {
    assert!(
        tokio::time::timeout(within, listener.accept())
            .await
            .is_err(),
        "{what}"
    );
}

async fn pair(
    cfg: impl Fn(TransportConfig) -> TransportConfig,
) -> (
    (Transports, Receiver<TransportEvent>),
    (Transports, Receiver<TransportEvent>),
) {
    let a = Transports::bind(cfg(TransportConfig::new(LOCALHOST)))
        .await
        .unwrap();
    let b = Transports::bind(cfg(TransportConfig::new(LOCALHOST)))
        .await
        .unwrap();
    (a, b)
}

#[tokio::test]
async fn udp_delivers_messages_and_drops_junk_and_keepalives() {
    let ((a, _arx), (b, mut brx)) = pair(|c| c).await;
    let a_addr = a.local_addr(Proto::Udp).unwrap();
    let b_addr = b.local_addr(Proto::Udp).unwrap();
    a.send(b_addr, Proto::Udp, None, b"\x00\x01garbage that is not SIP")
        .await
        .unwrap();
    a.keep_alive(b_addr, Proto::Udp).await.unwrap();
    a.send(b_addr, Proto::Udp, None, &options("u1", a_addr, 0))
        .await
        .unwrap();
    let m = next_message(&mut brx).await;
    assert_eq!(m.proto, Proto::Udp);
    assert_eq!(m.source, a_addr);
    assert!(m.conn.is_none());
    assert_eq!(
        m.message.headers().call_id().unwrap().unwrap().to_string(),
        "u1@test"
    );
    // Nothing else came through: the junk and the keep-alive were dropped.
    assert!(tokio::time::timeout(Duration::from_millis(200), brx.recv())
        .await
        .is_err());
}

#[tokio::test]
async fn tcp_frames_split_and_batched_messages_and_reuses_the_connection() {
    let ((a, mut arx), (b, mut brx)) = pair(|c| c).await;
    let b_addr = b.local_addr(Proto::Tcp).unwrap();
    let a_addr = a.local_addr(Proto::Udp).unwrap();
    let conn = a
        .send(b_addr, Proto::Tcp, None, &options("t1", a_addr, 0))
        .await
        .unwrap()
        .expect("a connection");
    let m1 = next_message(&mut brx).await;
    assert_eq!(m1.proto, Proto::Tcp);
    let inbound = m1.conn.expect("stream message carries its connection");

    // Two messages in one write, then one split in three writes.
    let mut two = options("t2", a_addr, 10);
    two.extend(options("t3", a_addr, 10));
    assert_eq!(
        a.send(b_addr, Proto::Tcp, None, &two).await.unwrap(),
        Some(conn),
        "connection reused"
    );
    let big = options("t4", a_addr, 3000);
    for chunk in big.chunks(big.len() / 3 + 1) {
        a.send(b_addr, Proto::Tcp, Some(conn), chunk).await.unwrap();
    }
    for id in ["t2@test", "t3@test", "t4@test"] {
        let m = next_message(&mut brx).await;
        assert_eq!(
            m.message.headers().call_id().unwrap().unwrap().to_string(),
            id
        );
    }
    assert_eq!(a.open_connections(), 1);

    // B answers on the connection the request came in on.
    let reply = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKt1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: t1@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let peer = m1.source;
    b.send(peer, Proto::Tcp, Some(inbound), reply)
        .await
        .unwrap();
    let r = next_message(&mut arx).await;
    assert_eq!(r.conn, Some(conn));
    assert_eq!(
        b.open_connections(),
        1,
        "no second connection was opened for the reply"
    );
}

#[tokio::test]
async fn streams_answer_pings_and_close_on_oversized_input() {
    let (b, mut brx) = Transports::bind(TransportConfig {
        max_head: 2048,
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let mut s = tokio::net::TcpStream::connect(b.local_addr(Proto::Tcp).unwrap())
        .await
        .unwrap();
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n", "RFC 5626 pong");

    // A ping split across two segments is still one ping: one pong.
    s.write_all(b"\r\n").await.unwrap();
    s.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"\r\n").await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n", "pong to the split ping");
    let mut more = [0u8; 2];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut more))
            .await
            .is_err(),
        "one pong, not one per half: {more:?}"
    );

    // A header section that never ends: refused, connection closed.
    s.write_all(b"OPTIONS sip:x SIP/2.0\r\n").await.unwrap();
    let line = format!("X-Junk: {}\r\n", "j".repeat(100));
    for _ in 0..40 {
        if s.write_all(line.as_bytes()).await.is_err() {
            break;
        }
    }
    match next(&mut brx).await {
        TransportEvent::Closed { reason, .. } => assert!(reason.contains("bad input"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
        .await
        .expect("closed");
}

#[tokio::test]
async fn idle_connections_close() {
    let (b, mut brx) = Transports::bind(TransportConfig {
        idle_timeout: Duration::from_millis(200),
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let _s = tokio::net::TcpStream::connect(b.local_addr(Proto::Tcp).unwrap())
        .await
        .unwrap();
    match next(&mut brx).await {
        TransportEvent::Closed { reason, .. } => assert_eq!(reason, "idle"),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.open_connections(), 0);
}

#[tokio::test]
async fn connect_failure_is_a_clear_error() {
    let (a, _rx) = bind_default().await;
    // Bind then drop a listener so the port is (very likely) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = a
        .send(SocketAddr::new(LOCALHOST, port), Proto::Tcp, None, b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()));
}

struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    /// A CA and a server certificate for 127.0.0.1 signed by it.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Parley test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "sip.test".to_owned()])
                .unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Self { dir }
    }
    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.path().join(f)
    }
}

async fn tls_server(ca: &TestCa) -> (Transports, Receiver<TransportEvent>, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tls = TlsSettings {
        server_identity: Some((ca.path("cert.pem"), ca.path("key.pem"))),
        listen_port: Some(port),
        ..Default::default()
    };
    let (t, rx) = Transports::bind(TransportConfig {
        tls: Some(tls),
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let addr = t.local_addr(Proto::Tls).unwrap();
    (t, rx, addr)
}

#[tokio::test]
async fn tls_with_a_trusted_ca_carries_sip() {
    let ca = TestCa::new();
    let (_srv, mut srx, addr) = tls_server(&ca).await;
    let tls = TlsSettings {
        extra_roots: vec![ca.path("ca.pem")],
        ..Default::default()
    };
    let (client, _crx) = Transports::bind(TransportConfig {
        tls: Some(tls),
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let from = client.local_addr(Proto::Udp).unwrap();
    client
        .send(addr, Proto::Tls, None, &options("tls1", from, 0))
        .await
        .unwrap();
    let m = next_message(&mut srx).await;
    assert_eq!(m.proto, Proto::Tls);
    assert_eq!(
        m.message.headers().call_id().unwrap().unwrap().to_string(),
        "tls1@test"
    );
}

#[tokio::test]
async fn tls_refuses_untrusted_or_mismatched_certificates_with_a_clear_error() {
    let ca = TestCa::new();
    let (_srv, _srx, addr) = tls_server(&ca).await;

    let (untrusting, _rx) = Transports::bind(TransportConfig {
        tls: Some(TlsSettings::default()),
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let err = untrusting
        .send(addr, Proto::Tls, None, b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Tls { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1") && text.to_lowercase().contains("certificate"),
        "{text}"
    );

    let wrong_name = TlsSettings {
        extra_roots: vec![ca.path("ca.pem")],
        server_name: Some("pbx.example.com".into()),
        ..Default::default()
    };
    let (mismatched, _rx) = Transports::bind(TransportConfig {
        tls: Some(wrong_name),
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let err = mismatched
        .send(addr, Proto::Tls, None, b"x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pbx.example.com"), "{err}");

    let missing = TlsSettings {
        extra_roots: vec![ca.path("nope.pem")],
        ..Default::default()
    };
    let bad = Transports::bind(TransportConfig {
        tls: Some(missing),
        ..TransportConfig::new(LOCALHOST)
    })
    .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn tls_checks_the_sip_domain_set_for_a_destination() {
    let ca = TestCa::new(); // server certificate for 127.0.0.1 and sip.test
    let (_srv, mut srx, addr) = tls_server(&ca).await;
    let tls = TlsSettings {
        extra_roots: vec![ca.path("ca.pem")],
        ..Default::default()
    };
    let (client, _rx) = Transports::bind(TransportConfig {
        tls: Some(tls),
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let from = client.local_addr(Proto::Udp).unwrap();

    client.set_tls_domain(addr, "pbx.example.com");
    let err = client
        .send(addr, Proto::Tls, None, &options("tls-wrong", from, 0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pbx.example.com"), "{err}");

    client.set_tls_domain(addr, "sip.test");
    client
        .send(addr, Proto::Tls, None, &options("tls-domain", from, 0))
        .await
        .unwrap();
    let m = next_message(&mut srx).await;
    assert_eq!(
        m.message.headers().call_id().unwrap().unwrap().to_string(),
        "tls-domain@test"
    );
}

#[tokio::test]
async fn concurrent_sends_to_one_peer_share_one_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dest = listener.local_addr().unwrap();
    let (a, _rx) = bind_default().await;
    let from = a.local_addr(Proto::Udp).unwrap();
    // Queue twenty messages before the connection is even accepted.
    for i in 0..20 {
        a.enqueue(dest, Proto::Tcp, None, options(&format!("c{i}"), from, 0))
            .unwrap();
    }
    assert_eq!(
        a.open_connections(),
        1,
        "one connection, registered while connecting"
    );
    let (mut s, _) = listener.accept().await.unwrap();
    let want = options("c0", from, 0).len() * 10 + options("c10", from, 0).len() * 10;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    // In order, each whole.
    let order: Vec<usize> = (0..20)
        .map(|i| text.find(&format!("Call-ID: c{i}@test\r\n")).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "written in queue order"
    );
    // No second connection was attempted.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), listener.accept())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_failed_background_connect_is_reported_as_closed() {
    let (a, mut rx) = bind_default().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dest = SocketAddr::new(LOCALHOST, port);
    a.enqueue(dest, Proto::Tcp, None, b"x".to_vec()).unwrap();
    match next(&mut rx).await {
        TransportEvent::Closed { peer, reason, .. } => {
            assert_eq!(peer, dest);
            assert!(reason.to_lowercase().contains("refused"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(a.open_connections(), 0);
}

#[tokio::test]
async fn one_source_cannot_take_every_inbound_connection() {
    let (b, _rx) = bind_default().await;
    let addr = b.local_addr(Proto::Tcp).unwrap();
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.open_connections(), 32, "capped per source");
    // The refused ones were closed by us: reading gives EOF or reset.
    let mut closed = 0;
    for s in &mut held {
        let mut byte = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(50), s.read(&mut byte)).await {
            if matches!(r, Ok(0) | Err(_)) {
                closed += 1;
            }
        }
    }
    assert_eq!(closed, 8);
    // Our own outbound connections are counted apart and still work.
    let (c, mut crx) = bind_default().await;
    let from = b.local_addr(Proto::Udp).unwrap();
    b.send(
        c.local_addr(Proto::Tcp).unwrap(),
        Proto::Tcp,
        None,
        &options("out", from, 0),
    )
    .await
    .unwrap();
    assert_eq!(next_message(&mut crx).await.proto, Proto::Tcp);
}

#[tokio::test]
async fn dropping_the_last_handle_closes_sockets_and_connections() {
    let (a, _rx) = bind_default().await;
    let udp = a.local_addr(Proto::Udp).unwrap();
    let tcp = a.local_addr(Proto::Tcp).unwrap();
    let mut inbound = tokio::net::TcpStream::connect(tcp).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(a.open_connections(), 1);
    let clone = a.clone();
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(tcp).await.is_ok(),
        "a clone keeps everything running"
    );
    drop(clone);
    // The connection ends (EOF), the listener and the UDP port are freed.
    let mut byte = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(2), inbound.read(&mut byte))
        .await
        .expect("closed in time");
    assert!(matches!(r, Ok(0) | Err(_)));
    let mut rebound = false;
    for _ in 0..20 {
        if std::net::UdpSocket::bind(udp).is_ok() && std::net::TcpListener::bind(tcp).is_ok() {
            rebound = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rebound, "ports released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_from_many_tasks_open_one_connection() {
    // The lookup of an open connection and the registration of a new one
    // are one step: tasks racing to send to a new peer share a connection.
    for round in 0..20 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = listener.local_addr().unwrap();
        let (a, _rx) = bind_default().await;
        let from = a.local_addr(Proto::Udp).unwrap();
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (a, start) = (a.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                a.enqueue(dest, Proto::Tcp, None, options(&format!("r{i}"), from, 0))
                    .unwrap()
            }));
        }
        let mut conns = std::collections::HashSet::new();
        for t in tasks {
            conns.insert(t.await.unwrap());
        }
        assert_eq!(
            conns.len(),
            1,
            "round {round}: every send on one connection"
        );
        assert_eq!(a.open_connections(), 1, "round {round}");
        let (_s, _) = listener.accept().await.unwrap();
        assert_no_connection(
            &listener,
            Duration::from_millis(50),
            &format!("round {round}: a second connection was opened"),
        )
        .await;
    }
}

#[tokio::test]
async fn a_silent_peer_fails_the_flow_keep_alive_and_the_flow_is_closed() {
    // A peer that accepts the connection but never answers the CRLF ping.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dest = listener.local_addr().unwrap();
    let (a, mut rx) = Transports::bind(TransportConfig {
        pong_timeout: Duration::from_millis(300),
        ..TransportConfig::new(LOCALHOST)
    })
    .await
    .unwrap();
    let from = a.local_addr(Proto::Udp).unwrap();
    let conn = a
        .send(dest, Proto::Tcp, None, &options("flow", from, 0))
        .await
        .unwrap()
        .unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    let started = std::time::Instant::now();
    let err = a.ping_conn(conn).await.unwrap_err();
    assert!(err.to_string().contains("no pong"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The ping went out on the flow, and the flow was closed after it.
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), peer.read_to_end(&mut got))
        .await
        .expect("closed by us")
        .unwrap();
    assert!(
        got.ends_with(b"\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    match next(&mut rx).await {
        TransportEvent::Closed {
            conn: c, reason, ..
        } => {
            assert_eq!(c, conn);
            assert!(reason.contains("keep-alive"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A closed flow is an error at once, and no new connection replaces it.
    a.closed(conn).await;
    assert!(matches!(
        a.ping_conn(conn).await,
        Err(TransportError::ConnectionGone)
    ));
    assert_eq!(a.open_connections(), 0);
    assert_no_connection(
        &listener,
        Duration::from_millis(100),
        "no new connection for a dead flow",
    )
    .await;
}

#[tokio::test]
async fn a_flow_keep_alive_answered_by_a_pong_succeeds() {
    let ((a, _arx), (b, _brx)) = pair(|c| c).await;
    let from = a.local_addr(Proto::Udp).unwrap();
    let conn = a
        .send(
            b.local_addr(Proto::Tcp).unwrap(),
            Proto::Tcp,
            None,
            &options("p", from, 0),
        )
        .await
        .unwrap()
        .unwrap();
    a.ping_conn(conn)
        .await
        .expect("pong from the peer's transports");
    assert_eq!(a.open_connections(), 1, "the flow stays open");
}

#[tokio::test]
async fn udp_keep_alive_is_a_crlf_datagram() {
    let (a, _rx) = bind_default().await;
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.ping(peer.local_addr().unwrap(), Proto::Udp)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = tokio::time::timeout(Duration::from_secs(2), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"\r\n\r\n");
    assert_eq!(from, a.local_addr(Proto::Udp).unwrap());
}

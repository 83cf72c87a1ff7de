//! Two SIP endpoints (transaction layer + driver + real loopback sockets)
//! talking to each other, and failing over between RFC 3263 targets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sip_core::TimerConfig;
use sip_message::{Method, Request, Response, StatusCode, Uri};
use tokio::sync::mpsc::Receiver;
use ua::dns::Target;
use ua::endpoint::{Endpoint, EndpointConfig, EndpointError, EndpointEvent};
use ua::transport::{Proto, TransportConfig};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn config(t1_ms: u64) -> EndpointConfig {
    let t1 = Duration::from_millis(t1_ms);
    EndpointConfig {
        transport: TransportConfig::new(LOCALHOST),
        timers: TimerConfig::new(t1, Duration::from_secs(4).max(t1), Duration::from_secs(5))
            .unwrap(),
    }
}

fn options(call_id: &str) -> Request {
    let uri: Uri = "sip:bob@127.0.0.1".parse().unwrap();
    let mut r = Request::new(Method::Options, uri);
    for (n, v) in [
        ("Max-Forwards", "70"),
        ("From", "<sip:alice@127.0.0.1>;tag=a1"),
        ("To", "<sip:bob@127.0.0.1>"),
        ("Call-ID", call_id),
        ("CSeq", "1 OPTIONS"),
        ("Content-Length", "0"),
    ] {
        r.headers.push(n, v).unwrap();
    }
    r
}

/// Answers every request with 200 (and an Allow header), like a UAS would.
fn serve(ep: Endpoint, mut events: Receiver<EndpointEvent>) {
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if let EndpointEvent::Request { id, request, .. } = ev {
                let mut resp = Response::for_request(&request, StatusCode::new(200).unwrap());
                resp.headers
                    .push("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")
                    .unwrap();
                ep.respond(id, resp).await.unwrap();
            }
        }
    });
}

async fn pair(t1_ms: u64) -> (Endpoint, Endpoint) {
    let (a, _a_events) = Endpoint::start(config(t1_ms)).await.unwrap();
    let (b, b_events) = Endpoint::start(config(t1_ms)).await.unwrap();
    serve(b.clone(), b_events);
    (a, b)
}

#[tokio::test]
async fn options_over_udp_and_tcp() {
    let (a, b) = pair(500).await;
    for proto in [Proto::Udp, Proto::Tcp] {
        let target = Target {
            addr: b.local_addr(proto).unwrap(),
            proto,
        };
        let resp = a
            .request(options(&format!("opt-{proto:?}")), vec![target])
            .await
            .unwrap();
        assert_eq!(resp.status.as_u16(), 200);
        assert_eq!(
            resp.headers.get("Allow"),
            Some("INVITE, ACK, BYE, CANCEL, OPTIONS")
        );
        let via = resp.headers.top_via().unwrap().unwrap();
        assert_eq!(via.transport, proto.to_via());
        assert!(via.has_rfc3261_branch());
    }
}

#[tokio::test]
async fn fails_over_from_a_silent_target_after_timer_f() {
    let (a, b) = pair(20).await; // Timer F = 64*T1 = 1.28 s
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let targets = vec![
        Target {
            addr: silent.local_addr().unwrap(),
            proto: Proto::Udp,
        },
        Target {
            addr: b.local_addr(Proto::Udp).unwrap(),
            proto: Proto::Udp,
        },
    ];
    let started = Instant::now();
    let resp = a
        .request(options("failover-silent"), targets)
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "waited for Timer F: {:?}",
        started.elapsed()
    );
    // The silent target saw the request and its retransmissions (Timer E).
    let mut buf = [0u8; 4096];
    let mut seen = 0;
    while silent.recv(&mut buf).is_ok() {
        seen += 1;
    }
    assert!(seen >= 3, "retransmissions to the silent target: {seen}");
}

#[tokio::test]
async fn fails_over_at_once_when_a_stream_target_refuses() {
    let (a, b) = pair(500).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let targets = vec![
        Target {
            addr: SocketAddr::new(LOCALHOST, closed.port()),
            proto: Proto::Tcp,
        },
        Target {
            addr: b.local_addr(Proto::Tcp).unwrap(),
            proto: Proto::Tcp,
        },
    ];
    let started = Instant::now();
    let resp = a
        .request(options("failover-refused"), targets)
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no timer wait: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn every_target_silent_is_a_timeout_naming_the_last() {
    let (a, _events) = Endpoint::start(config(10)).await.unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let err = a
        .request(
            options("all-silent"),
            vec![Target {
                addr,
                proto: Proto::Udp,
            }],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EndpointError::Timeout(_)), "{err}");
    assert!(err.to_string().contains(&addr.to_string()));
    assert!(matches!(
        a.request(options("none"), vec![]).await,
        Err(EndpointError::NoTargets)
    ));
}

#[tokio::test]
async fn large_requests_switch_from_udp_to_tcp() {
    let (a, b) = pair(500).await;
    let mut big = options("big-one");
    big.headers.push("X-Padding", &"x".repeat(1400)).unwrap();
    let target = Target {
        addr: b.local_addr(Proto::Udp).unwrap(),
        proto: Proto::Udp,
    };
    let resp = a.request(big, vec![target]).await.unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    let via = resp.headers.top_via().unwrap().unwrap();
    assert_eq!(
        via.transport,
        Proto::Tcp.to_via(),
        "RFC 3261 §18.1.1: sent over TCP"
    );
}

#[tokio::test]
async fn works_over_ipv6() {
    let v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    let cfg = || EndpointConfig {
        transport: TransportConfig::new(v6),
        timers: TimerConfig::default(),
    };
    let Ok((a, _ae)) = Endpoint::start(cfg()).await else {
        eprintln!("no IPv6 loopback on this machine");
        return;
    };
    let (b, be) = Endpoint::start(cfg()).await.unwrap();
    serve(b.clone(), be);
    for proto in [Proto::Udp, Proto::Tcp] {
        let target = Target {
            addr: b.local_addr(proto).unwrap(),
            proto,
        };
        assert!(target.addr.is_ipv6());
        let resp = a
            .request(options(&format!("v6-{proto:?}")), vec![target])
            .await
            .unwrap();
        assert_eq!(resp.status.as_u16(), 200);
        let via = resp.headers.top_via().unwrap().unwrap();
        assert_eq!(via.host.to_string(), "[::1]", "{via}");
    }
}

#[tokio::test]
async fn requests_nobody_can_take_are_answered_503_not_left_hanging() {
    let (a, _ae) = Endpoint::start(config(500)).await.unwrap();
    let (b, b_events) = Endpoint::start(config(500)).await.unwrap();
    drop(b_events); // the user of B is gone
    let target = Target {
        addr: b.local_addr(Proto::Udp).unwrap(),
        proto: Proto::Udp,
    };
    let resp = a.request(options("orphan"), vec![target]).await.unwrap();
    assert_eq!(resp.status.as_u16(), 503);
}

#[tokio::test]
async fn a_connection_closed_by_the_peer_fails_over_at_once() {
    let (a, b) = pair(500).await;
    // A TCP server that reads the request and hangs up without answering.
    let rude = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rude_addr = rude.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = rude.accept().await {
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
            drop(s);
        }
    });
    let targets = vec![
        Target {
            addr: rude_addr,
            proto: Proto::Tcp,
        },
        Target {
            addr: b.local_addr(Proto::Tcp).unwrap(),
            proto: Proto::Tcp,
        },
    ];
    let started = Instant::now();
    let resp = a.request(options("hung-up"), targets).await.unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait for Timer F: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_transaction_that_times_out_is_reported() {
    // T1 = 50 ms: Timer H (64*T1) fires 3.2 s after our final response.
    let (ep, mut events) = Endpoint::start(config(50)).await.unwrap();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = peer.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKnoack;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: noack@test\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nContent-Length: 0\r\n\r\n"
    );
    peer.send_to(invite.as_bytes(), ep.local_addr(Proto::Udp).unwrap())
        .await
        .unwrap();
    let (id, request) = match next_event(&mut events).await {
        EndpointEvent::Request { id, request, .. } => (id, request),
        other => panic!("{other:?}"),
    };
    let mut busy = Response::for_request(&request, StatusCode::new(486).unwrap());
    busy.headers.remove("To");
    busy.headers
        .push("To", "<sip:bob@127.0.0.1>;tag=b1")
        .unwrap();
    ep.respond(id, busy).await.unwrap();
    // The peer never ACKs: the owner of the INVITE hears of it.
    let started = Instant::now();
    match next_event(&mut events).await {
        EndpointEvent::TransactionFailed {
            id: failed,
            timed_out,
        } => {
            assert_eq!(failed, id);
            assert!(timed_out);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_tcp_response_whose_connection_is_gone_goes_to_the_via_sent_by_port() {
    // RFC 3261 §18.2.2: the response opens a connection to the Via's
    // sent-by port, not the closed connection's ephemeral port.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (ep, mut events) = Endpoint::start(config(500)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sent_by = listener.local_addr().unwrap();
    let mut client = tokio::net::TcpStream::connect(ep.local_addr(Proto::Tcp).unwrap())
        .await
        .unwrap();
    let ephemeral = client.local_addr().unwrap();
    assert_ne!(ephemeral.port(), sent_by.port());
    let req = format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {sent_by};branch=z9hG4bKgone;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: gone@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    client.write_all(req.as_bytes()).await.unwrap();
    let (id, request, source) = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            EndpointEvent::Request {
                id,
                request,
                source,
                ..
            } => break (id, request, source),
            _ => continue,
        }
    };
    assert_eq!(source, ephemeral);
    // The client goes away before the answer is ready.
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;
    ep.respond(
        id,
        Response::for_request(&request, StatusCode::new(200).unwrap()),
    )
    .await
    .unwrap();
    let (mut s, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("a new connection to the sent-by port")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("SIP/2.0 200"), "{text}");
    assert!(text.contains("gone@test"), "{text}");
}

async fn next_event(events: &mut Receiver<EndpointEvent>) -> EndpointEvent {
    tokio::time::timeout(Duration::from_secs(6), events.recv())
        .await
        .expect("event in time")
        .expect("endpoint running")
}

#[tokio::test]
async fn every_message_sent_says_its_body_length() {
    // A peer on a raw socket sees exactly what goes on the wire.
    let (ep, mut events) = Endpoint::start(config(500)).await.unwrap();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = peer.local_addr().unwrap();
    // A request built without Content-Length.
    let mut req = options("no-cl@test");
    req.headers.remove("Content-Length");
    let target = Target {
        addr: me,
        proto: Proto::Udp,
    };
    let ep2 = ep.clone();
    let pending = tokio::spawn(async move { ep2.request(req, vec![target]).await });
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), peer.recv_from(&mut buf))
        .await
        .expect("the OPTIONS arrives")
        .unwrap();
    let sent = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(sent.starts_with("OPTIONS "), "{sent}");
    assert!(sent.contains("\r\nContent-Length: 0\r\n"), "{sent}");
    pending.abort();
    // A response built from a request that had none.
    let request = format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKnocl\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: no-cl-2@test\r\nCSeq: 1 OPTIONS\r\n\r\n"
    );
    peer.send_to(request.as_bytes(), ep.local_addr(Proto::Udp).unwrap())
        .await
        .unwrap();
    let (id, request) = loop {
        match next_event(&mut events).await {
            EndpointEvent::Request { id, request, .. } => break (id, request),
            _ => continue,
        }
    };
    let mut ok = Response::for_request(&request, StatusCode::new(200).unwrap());
    ok.headers.remove("Content-Length");
    ep.respond(id, ok).await.unwrap();
    let answer = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), peer.recv_from(&mut buf))
            .await
            .expect("the 200 arrives")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("SIP/2.0 200") {
            break text;
        }
    };
    assert!(answer.contains("\r\nContent-Length: 0\r\n"), "{answer}");
}

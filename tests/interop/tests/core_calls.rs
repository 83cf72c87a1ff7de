//! Parley's SIP core against SIPp, directly (no proxy), in both roles and
//! over UDP and TCP: INVITE / 1xx / 200 / ACK / BYE.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use parley_interop::{Direction, Sipp, UdpRelay};
use sip_core::{AckWait, AckWaitAction, Dialog, TimerConfig};
use sip_message::headers::{ContentType, MediaType};
use sip_message::{Message, Method, Request, Response, StatusCode};
use ua::dns::Target;
use ua::endpoint::{Endpoint, EndpointConfig, EndpointEvent};
use ua::transport::{Proto, TransportConfig};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn sdp(port: u16) -> Vec<u8> {
    format!("v=0\r\no=parley 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
        .into_bytes()
}

fn with_to_tag(resp: &mut Response, req: &Request, tag: &str) {
    let to = req.headers.get("To").unwrap_or_default().to_owned();
    resp.headers.remove("To");
    resp.headers.push("To", &format!("{to};tag={tag}")).unwrap();
}

async fn start() -> (Endpoint, tokio::sync::mpsc::Receiver<EndpointEvent>) {
    let config = EndpointConfig {
        transport: TransportConfig::new(LOCALHOST),
        timers: TimerConfig::default(),
    };
    Endpoint::start(config).await.expect("endpoint")
}

/// SIPp calls Parley; Parley rings, answers, gets the ACK and the BYE.
async fn sipp_calls_parley(proto: Proto) {
    sipp_calls_parley_via(proto, false).await;
}

/// With `lossy`, SIPp reaches Parley through a relay that loses SIPp's
/// first INVITE and Parley's first 200: SIPp's INVITE retransmission and
/// Parley's 2xx retransmission (§13.3.1.4) must recover the call.
async fn sipp_calls_parley_via(proto: Proto, lossy: bool) {
    let (ep, mut events) = start().await;
    let parley = ep.local_addr(proto).unwrap();
    let relay = lossy.then(|| {
        UdpRelay::start(parley, UdpRelay::drop_first("INVITE ", "SIP/2.0 200")).expect("relay")
    });
    let me = relay.as_ref().map_or(parley, |r| r.addr);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_owned();
    let mut sipp = Sipp::scenario("core_uac_invite")
        .remote(me)
        .args(["-mp", &parley_interop::free_port(4).to_string()]);
    if proto == Proto::Tcp {
        sipp = sipp.tcp();
    }
    let sipp = tokio::task::spawn_blocking(move || sipp.run(&dir));

    let timers = TimerConfig::default();
    let mut ack_wait: Option<(AckWait, SocketAddr)> = None;
    let (mut acked, mut bye) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(acked && bye) && Instant::now() < deadline {
        let wake = ack_wait
            .as_ref()
            .and_then(|(w, _)| w.poll_timeout())
            .unwrap_or(Instant::now() + Duration::from_secs(1));
        tokio::select! {
            ev = events.recv() => match ev.expect("endpoint running") {
                EndpointEvent::Request { id, request, source, .. } => match request.method {
                    Method::Invite => {
                        let mut ringing = Response::for_request(&request, StatusCode::new(180).unwrap());
                        with_to_tag(&mut ringing, &request, "parley1");
                        ep.respond(id, ringing).await.unwrap();
                        let mut ok = Response::for_request(&request, StatusCode::new(200).unwrap());
                        with_to_tag(&mut ok, &request, "parley1");
                        ok.headers.push("Contact", &format!("<sip:parley@{me};transport={}>", proto.via_token().to_lowercase())).unwrap();
                        ok.set_body(sdp(40000), Some(ContentType(MediaType::new("application", "sdp"))));
                        ep.respond(id, ok.clone()).await.unwrap();
                        // §13.3.1.4: the UAS core re-sends the 2xx until the ACK.
                        ack_wait = Some((AckWait::new(Instant::now(), ok, timers, proto.is_reliable()), source));
                    }
                    Method::Bye => {
                        ep.respond(id, Response::for_request(&request, StatusCode::new(200).unwrap())).await.unwrap();
                        bye = true;
                    }
                    _ => ep.respond(id, Response::for_request(&request, StatusCode::new(501).unwrap())).await.unwrap(),
                },
                EndpointEvent::Ack { request, .. } => {
                    if let Some((w, _)) = ack_wait.as_mut() {
                        acked |= w.on_ack(&request);
                    }
                }
                _ => {}
            },
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                if let Some((w, source)) = ack_wait.as_mut() {
                    if let Some(AckWaitAction::Retransmit(r)) = w.handle_timeout(Instant::now()) {
                        ep.send_stateless(Message::Response(r), Target { addr: *source, proto }).await.unwrap();
                    }
                }
            }
        }
    }
    let run = sipp.await.unwrap().expect("sipp ran");
    assert!(
        run.passed(),
        "sipp failed:\n{}\n{}",
        run.trace("err"),
        run.trace("msg")
    );
    assert!(acked, "the ACK for the 2xx matched");
    assert!(bye, "the BYE was answered");
    if let Some(relay) = relay {
        // The loss really happened: SIPp's first INVITE and Parley's
        // first 200, each exactly once, so the retransmissions made the call.
        let dropped = relay.dropped();
        assert_eq!(
            dropped
                .iter()
                .map(|(d, line)| (*d, line.split(' ').next().unwrap_or_default()))
                .collect::<Vec<_>>(),
            [
                (Direction::ToUpstream, "INVITE"),
                (Direction::ToClient, "SIP/2.0")
            ],
            "{dropped:?}"
        );
        assert!(dropped[1].1.starts_with("SIP/2.0 200"), "{dropped:?}");
        // SIPp sent its INVITE at least twice: the lost one and the retransmission.
        let msgs = run.trace("msg");
        assert!(msgs.matches("INVITE sip:").count() >= 2, "{msgs}");
    }
}

/// Parley calls SIPp; SIPp rings and answers; Parley ACKs and hangs up.
async fn parley_calls_sipp(proto: Proto) {
    parley_calls_sipp_via(proto, false).await;
}

/// As above; with `lossy`, the INVITE goes through a relay that loses the
/// first INVITE and the first 200: Parley's Timer A retransmission and
/// SIPp's 200 retransmission must recover the call.
async fn parley_calls_sipp_via(proto: Proto, lossy: bool) {
    let (ep, _events) = start().await;
    let me = ep.local_addr(proto).unwrap();
    let port = parley_interop::free_port(1);
    let out = tempfile::tempdir().unwrap();
    let mut sipp = Sipp::scenario("core_uas_invite")
        .port(port)
        .args(["-mp", &parley_interop::free_port(4).to_string()]);
    if proto == Proto::Tcp {
        sipp = sipp.tcp();
    }
    let handle = sipp.start(out.path()).expect("sipp");
    let sipp_addr = SocketAddr::new(LOCALHOST, port);
    let relay = lossy.then(|| {
        UdpRelay::start(sipp_addr, UdpRelay::drop_first("INVITE ", "SIP/2.0 200")).expect("relay")
    });
    let target = Target {
        addr: relay.as_ref().map_or(sipp_addr, |r| r.addr),
        proto,
    };
    let transport = proto.via_token().to_lowercase();

    let mut invite = Request::new(
        Method::Invite,
        format!("sip:sipp@127.0.0.1:{port};transport={transport}")
            .parse()
            .unwrap(),
    );
    for (n, v) in [
        ("Max-Forwards", "70".to_owned()),
        ("From", "<sip:alice@127.0.0.1>;tag=alice1".to_owned()),
        ("To", format!("<sip:sipp@127.0.0.1:{port}>")),
        ("Call-ID", format!("core-uac-{proto:?}")),
        ("CSeq", "1 INVITE".to_owned()),
        ("Contact", format!("<sip:alice@{me};transport={transport}>")),
    ] {
        invite.headers.push(n, &v).unwrap();
    }
    invite.set_body(
        sdp(40002),
        Some(ContentType(MediaType::new("application", "sdp"))),
    );
    let (prov_tx, mut prov_rx) = tokio::sync::mpsc::channel(8);
    let ok = ep
        .request_with_provisional(invite.clone(), vec![target], Some(prov_tx))
        .await
        .expect("INVITE answered");
    assert_eq!(ok.status.as_u16(), 200, "{ok}");
    assert_eq!(prov_rx.recv().await.map(|r| r.status.as_u16()), Some(180));

    let mut dialog = Dialog::from_uac_response(&invite, &ok).expect("dialog from 200");
    let remote = dialog.remote_target().to_string();
    assert!(
        remote.contains(&port.to_string()),
        "remote target from Contact: {remote}"
    );
    let mut via = ep.via_for(&target);
    via.params.set("branch", Some("z9hG4bK-parley-ack-1"));
    let ack = dialog.create_ack(1, via);
    ep.send_stateless(Message::Request(ack), target)
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let bye = dialog
        .create_request(Method::Bye, ep.via_for(&target))
        .expect("BYE");
    let done = ep.request(bye, vec![target]).await.expect("BYE answered");
    assert_eq!(done.status.as_u16(), 200);

    let run = tokio::task::spawn_blocking(move || handle.wait())
        .await
        .unwrap()
        .expect("sipp ran");
    assert!(
        run.passed(),
        "sipp failed:\n{}\n{}",
        run.trace("err"),
        run.trace("msg")
    );
    if let Some(relay) = relay {
        let dropped = relay.dropped();
        assert_eq!(dropped.len(), 2, "{dropped:?}");
        assert!(
            dropped[0].1.starts_with("INVITE ") && dropped[1].1.starts_with("SIP/2.0 200"),
            "{dropped:?}"
        );
        // SIPp sent its 200 at least twice: the lost one and the retransmission.
        let msgs = run.trace("msg");
        assert!(msgs.matches("SIP/2.0 200 OK").count() >= 2, "{msgs}");
    }
}

#[tokio::test]
async fn sipp_calls_parley_over_udp() {
    sipp_calls_parley(Proto::Udp).await;
}

#[tokio::test]
async fn sipp_calls_parley_over_tcp() {
    sipp_calls_parley(Proto::Tcp).await;
}

#[tokio::test]
async fn parley_calls_sipp_over_udp() {
    parley_calls_sipp(Proto::Udp).await;
}

#[tokio::test]
async fn parley_calls_sipp_over_tcp() {
    parley_calls_sipp(Proto::Tcp).await;
}

#[tokio::test]
async fn parley_calls_sipp_over_udp_losing_the_first_invite_and_the_first_200() {
    parley_calls_sipp_via(Proto::Udp, true).await;
}

#[tokio::test]
async fn sipp_calls_parley_over_udp_losing_the_first_invite_and_the_first_200() {
    sipp_calls_parley_via(Proto::Udp, true).await;
}

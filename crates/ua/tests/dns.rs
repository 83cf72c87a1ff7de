//! RFC 3263 resolution against a real DNS server (dnsmasq) started on a
//! loopback port of its own, serving only the zone below and never
//! forwarding (`--no-resolv`), so no query leaves the machine.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ua::dns::{Destination, DnsError, SipResolver, Target};
use ua::transport::Proto;

struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dnsmasq() -> Dnsmasq {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let records = [
        // NAPTR: TCP preferred over UDP (order), each pointing at SRV.
        "--naptr-record=sip.test,10,50,S,SIP+D2T,,_sip._tcp.sip.test",
        "--naptr-record=sip.test,20,50,S,SIP+D2U,,_sip._udp.sip.test",
        "--naptr-record=sip.test,30,50,A,SIP+D2U,,ignored.sip.test",
        "--srv-host=_sip._tcp.sip.test,pbx1.sip.test,5070,10,50",
        "--srv-host=_sip._tcp.sip.test,pbx2.sip.test,5080,20,50",
        "--srv-host=_sip._udp.sip.test,pbx2.sip.test,5080,10,50",
        "--host-record=pbx1.sip.test,127.0.0.11",
        "--host-record=pbx2.sip.test,127.0.0.12",
        // No NAPTR, SRV only for UDP.
        "--srv-host=_sip._udp.srvonly.test,pbx1.sip.test,5090,10,50",
        // Only an address.
        "--host-record=plain.test,127.0.0.13",
        // SIPS via NAPTR.
        "--naptr-record=secure.test,10,50,S,SIPS+D2T,,_sips._tcp.secure.test",
        "--naptr-record=secure.test,20,50,S,SIP+D2U,,_sip._udp.secure.test",
        "--srv-host=_sips._tcp.secure.test,pbx1.sip.test,5061,10,50",
        "--srv-host=_sip._udp.secure.test,pbx2.sip.test,5060,10,50",
    ];
    let child = Command::new("dnsmasq")
        .args([
            "--keep-in-foreground",
            "--pid-file=",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--conf-file=/dev/null",
        ])
        .args([
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            &format!("--port={port}"),
        ])
        .args(records)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect(
            "dnsmasq (Debian package dnsmasq-base) must be installed: scripts/test.sh installs it",
        );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "dnsmasq did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Dnsmasq { child, addr }
}

fn dest(host: &str, transport: Option<Proto>, secure: bool) -> Destination {
    Destination {
        host: host.into(),
        port: None,
        transport,
        secure,
    }
}

fn t(addr: &str, proto: Proto) -> Target {
    Target {
        addr: addr.parse().unwrap(),
        proto,
    }
}

#[tokio::test]
async fn naptr_srv_and_address_records_in_rfc3263_order() {
    let dns = dnsmasq();
    let r =
        SipResolver::with_name_server(dns.addr, vec![Proto::Udp, Proto::Tcp, Proto::Tls]).unwrap();

    assert_eq!(
        r.resolve(&dest("sip.test", None, false)).await.unwrap(),
        vec![
            t("127.0.0.11:5070", Proto::Tcp),
            t("127.0.0.12:5080", Proto::Tcp),
            t("127.0.0.12:5080", Proto::Udp)
        ],
        "NAPTR order, then SRV priority; the non-S NAPTR is ignored"
    );
    assert_eq!(
        r.resolve(&dest("srvonly.test", None, false)).await.unwrap(),
        vec![t("127.0.0.11:5090", Proto::Udp)]
    );
    assert_eq!(
        r.resolve(&dest("plain.test", None, false)).await.unwrap(),
        vec![t("127.0.0.13:5060", Proto::Udp)]
    );
    assert_eq!(
        r.resolve(&dest("sip.test", Some(Proto::Udp), false))
            .await
            .unwrap(),
        vec![t("127.0.0.12:5080", Proto::Udp)],
        "an explicit transport skips NAPTR"
    );
    assert_eq!(
        r.resolve(&Destination {
            host: "plain.test".into(),
            port: Some(5077),
            transport: Some(Proto::Tcp),
            secure: false
        })
        .await
        .unwrap(),
        vec![t("127.0.0.13:5077", Proto::Tcp)],
        "an explicit port skips SRV"
    );
    assert_eq!(
        r.resolve(&dest("secure.test", None, true)).await.unwrap(),
        vec![t("127.0.0.11:5061", Proto::Tls)],
        "a sips URI uses only SIPS+D2T"
    );
}

#[tokio::test]
async fn transports_we_do_not_speak_are_skipped() {
    let dns = dnsmasq();
    let udp_only = SipResolver::with_name_server(dns.addr, vec![Proto::Udp]).unwrap();
    assert_eq!(
        udp_only
            .resolve(&dest("sip.test", None, false))
            .await
            .unwrap(),
        vec![t("127.0.0.12:5080", Proto::Udp)]
    );
}

#[tokio::test]
async fn unknown_names_are_a_clear_error() {
    let dns = dnsmasq();
    let r = SipResolver::with_name_server(dns.addr, vec![Proto::Udp, Proto::Tcp]).unwrap();
    match r.resolve(&dest("nowhere.test", None, false)).await {
        Err(e @ DnsError::NotFound { .. }) => {
            assert!(e.to_string().contains("nowhere.test"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 3263 §4.3 end to end: the name resolves (NAPTR -> SRV -> A) to two
/// servers; the first never answers, so the request moves to the second.
#[tokio::test]
async fn a_resolved_request_fails_over_to_the_second_server_when_the_first_is_silent() {
    use sip_message::{Method, Request, Response, StatusCode};
    use ua::endpoint::{Endpoint, EndpointConfig, EndpointEvent};
    use ua::transport::TransportConfig;

    let localhost = std::net::IpAddr::from([127, 0, 0, 1]);
    let timers = sip_core::TimerConfig::new(
        Duration::from_millis(20),
        Duration::from_secs(4),
        Duration::from_secs(5),
    )
    .unwrap();
    let config = || EndpointConfig {
        transport: TransportConfig::new(localhost),
        timers,
    };
    let (server, mut server_events) = Endpoint::start(config()).await.unwrap();
    let live = server.local_addr(Proto::Udp).unwrap();
    let answering = server.clone();
    tokio::spawn(async move {
        while let Some(ev) = server_events.recv().await {
            if let EndpointEvent::Request { id, request, .. } = ev {
                let _ = answering
                    .respond(
                        id,
                        Response::for_request(&request, StatusCode::new(200).unwrap()),
                    )
                    .await;
            }
        }
    });
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();

    // A zone whose SRV set points first at the silent socket, then at the server.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("dnsmasq")
        .args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--conf-file=/dev/null",
            "--pid-file=",
        ])
        .args([
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            &format!("--port={port}"),
        ])
        .arg("--naptr-record=pbx.test,10,50,S,SIP+D2U,,_sip._udp.pbx.test")
        .arg(format!(
            "--srv-host=_sip._udp.pbx.test,a.pbx.test,{silent_port},10,50"
        ))
        .arg(format!(
            "--srv-host=_sip._udp.pbx.test,b.pbx.test,{},20,50",
            live.port()
        ))
        .args([
            "--host-record=a.pbx.test,127.0.0.1",
            "--host-record=b.pbx.test,127.0.0.1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dnsmasq");
    let dns = Dnsmasq {
        child,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(dns.addr).is_err() {
        assert!(Instant::now() < deadline, "dnsmasq did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    let resolver = SipResolver::with_name_server(dns.addr, vec![Proto::Udp]).unwrap();
    let targets = resolver
        .resolve(&dest("pbx.test", None, false))
        .await
        .unwrap();
    assert_eq!(
        targets,
        vec![
            t(&format!("127.0.0.1:{silent_port}"), Proto::Udp),
            t(&live.to_string(), Proto::Udp)
        ]
    );

    let (client, _events) = Endpoint::start(config()).await.unwrap();
    let mut req = Request::new(Method::Options, "sip:pbx.test".parse().unwrap());
    for (n, v) in [
        ("Max-Forwards", "70"),
        ("From", "<sip:alice@pbx.test>;tag=x"),
        ("To", "<sip:pbx.test>"),
        ("Call-ID", "dns-failover"),
        ("CSeq", "1 OPTIONS"),
    ] {
        req.headers.push(n, v).unwrap();
    }
    let resp = client.request(req, targets).await.unwrap();
    assert_eq!(resp.status.as_u16(), 200, "answered by the second server");
    let mut buf = [0u8; 2048];
    silent.set_nonblocking(true).unwrap();
    assert!(
        silent.recv(&mut buf).is_ok(),
        "the first server was tried first"
    );
}

//! Parley's SIP core (transaction layer, driver, transports, digest
//! client) registering with the real Kamailio over UDP, TCP and TLS.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use parley_interop::{Kamailio, KamailioOptions};
use sip_core::auth::{Authenticator, Credential};
use sip_core::TimerConfig;
use sip_message::{Method, Request};
use ua::dns::Target;
use ua::endpoint::{Endpoint, EndpointConfig};
use ua::transport::tls::TlsSettings;
use ua::transport::{Proto, TransportConfig};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn register(user: &str, contact: &str, expires: u32, call_id: &str) -> Request {
    let mut r = Request::new(Method::Register, "sip:127.0.0.1".parse().unwrap());
    for (n, v) in [
        ("Max-Forwards", "70".to_owned()),
        ("From", format!("<sip:{user}@127.0.0.1>;tag=reg{call_id}")),
        ("To", format!("<sip:{user}@127.0.0.1>")),
        ("Call-ID", call_id.to_owned()),
        ("CSeq", "1 REGISTER".to_owned()),
        ("Contact", format!("<{contact}>")),
        ("Expires", expires.to_string()),
        ("User-Agent", "Parley interop test".to_owned()),
        ("Content-Length", "0".to_owned()),
    ] {
        r.headers.push(n, &v).unwrap();
    }
    r
}

async fn register_over(proto: Proto) {
    let kam = Kamailio::start(KamailioOptions {
        tls: proto == Proto::Tls,
        ..Default::default()
    })
    .expect("kamailio");
    let tls = (proto == Proto::Tls).then(|| TlsSettings {
        extra_roots: vec![kam.dir.path().join("tls/ca.pem")],
        ..Default::default()
    });
    let config = EndpointConfig {
        transport: TransportConfig {
            tls,
            ..TransportConfig::new(LOCALHOST)
        },
        timers: TimerConfig::default(),
    };
    let (ep, _events) = Endpoint::start(config).await.expect("endpoint");
    let port = if proto == Proto::Tls {
        kam.tls_port.unwrap()
    } else {
        kam.port
    };
    let target = Target {
        addr: SocketAddr::new(LOCALHOST, port),
        proto,
    };
    let local = ep.local_addr(Proto::Udp).unwrap();
    let contact = format!(
        "sip:carol@{local};transport={}",
        proto.via_token().to_lowercase()
    );
    let password = "carol123";
    let creds = [Credential {
        realm: None,
        username: "carol",
        password,
    }];
    let mut auth = Authenticator::new(7);

    let req = register("carol", &contact, 60, &format!("reg-{proto:?}"));
    let challenge = ep
        .request(req.clone(), vec![target])
        .await
        .expect("first REGISTER");
    assert_eq!(challenge.status.as_u16(), 401, "{challenge}");
    let authed = auth
        .authorize(&req, &challenge, &creds)
        .expect("answer the challenge");
    let header = authed
        .headers
        .get("Authorization")
        .expect("Authorization added")
        .to_owned();
    assert!(
        !header.contains(password),
        "the password never goes on the wire"
    );
    let ok = ep
        .request(authed.clone(), vec![target])
        .await
        .expect("authorised REGISTER");
    assert_eq!(ok.status.as_u16(), 200, "{ok}");
    assert!(
        kam.is_registered("carol").unwrap(),
        "{}",
        kam.rpc(&["ul.dump"]).unwrap()
    );
    // RFC 3581: Kamailio (force_rport) tells us where it saw us from.
    let via = ok.headers.top_via().unwrap().unwrap();
    assert!(
        via.received().is_some() || via.rport().flatten().is_some(),
        "{via}"
    );
    if proto == Proto::Udp {
        // Learned for the Contact; on loopback it is our own socket.
        assert_eq!(ep.public_addr(Proto::Udp), Some(local), "{via}");
    }

    // Unregister: the same Call-ID, next CSeq; Kamailio challenges again.
    let mut unreg = register("carol", &contact, 0, &format!("reg-{proto:?}"));
    unreg.headers.remove("CSeq");
    unreg.headers.push("CSeq", "3 REGISTER").unwrap();
    let challenge = ep
        .request(unreg.clone(), vec![target])
        .await
        .expect("unREGISTER");
    let done = if challenge.status.as_u16() == 401 {
        let again = auth.authorize(&unreg, &challenge, &creds).expect("answer");
        ep.request(again, vec![target])
            .await
            .expect("authorised unREGISTER")
    } else {
        challenge
    };
    assert_eq!(done.status.as_u16(), 200, "{done}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!kam.is_registered("carol").unwrap());
}

#[tokio::test]
async fn register_with_digest_over_udp() {
    register_over(Proto::Udp).await;
}

#[tokio::test]
async fn register_with_digest_over_tcp() {
    register_over(Proto::Tcp).await;
}

#[tokio::test]
async fn register_with_digest_over_tls() {
    register_over(Proto::Tls).await;
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let config = EndpointConfig {
        transport: TransportConfig::new(LOCALHOST),
        timers: TimerConfig::default(),
    };
    let (ep, _events) = Endpoint::start(config).await.expect("endpoint");
    let target = Target {
        addr: kam.addr(),
        proto: Proto::Udp,
    };
    let mut auth = Authenticator::new(9);
    let req = register("bob", "sip:bob@127.0.0.1:5999", 60, "wrong-pw");
    let challenge = ep.request(req.clone(), vec![target]).await.unwrap();
    let authed = auth
        .authorize(
            &req,
            &challenge,
            &[Credential {
                realm: None,
                username: "bob",
                password: "nope",
            }],
        )
        .unwrap();
    let resp = ep.request(authed.clone(), vec![target]).await.unwrap();
    assert_eq!(resp.status.as_u16(), 401, "re-challenged: {resp}");
    // The same nonce again without stale=true: the authenticator gives up
    // instead of looping.
    assert!(auth
        .authorize(
            &authed,
            &resp,
            &[Credential {
                realm: None,
                username: "bob",
                password: "nope"
            }]
        )
        .is_err());
    assert!(!kam.is_registered("bob").unwrap());
}

//! Digest authentication end to end through two transaction layers: a
//! registrar challenges, the client answers with [`Authenticator`], the
//! registrar verifies with `sip_message::digest::verify`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_core::{
    AuthError, Authenticator, Credential, LayerConfig, TransactionEvent, TransactionId,
    TransactionLayer,
};
use sip_message::digest;
use sip_message::headers::{Authorization, Transport};
use sip_message::{Message, Method, Request, Response, StatusCode, TypedHeader};

const CLIENT: &str = "192.0.2.10:5060";
const SERVER: &str = "192.0.2.20:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Net {
    client: TransactionLayer,
    server: TransactionLayer,
    now: Instant,
}

impl Net {
    fn new() -> Self {
        Net {
            client: TransactionLayer::new(LayerConfig {
                seed: 1,
                ..LayerConfig::default()
            }),
            server: TransactionLayer::new(LayerConfig {
                seed: 2,
                ..LayerConfig::default()
            }),
            now: Instant::now(),
        }
    }

    /// Delivers everything queued on both sides (lossless, 10 ms later).
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                let m = sip_message::parse(&t.message.to_bytes()).unwrap();
                self.now += Duration::from_millis(10);
                self.server
                    .handle_message(self.now, m, addr(CLIENT), Transport::Udp);
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                let m = sip_message::parse(&t.message.to_bytes()).unwrap();
                self.now += Duration::from_millis(10);
                self.client
                    .handle_message(self.now, m, addr(SERVER), Transport::Udp);
            }
            if !moved {
                break;
            }
        }
    }

    /// Sends `req` from the client and lets `registrar` answer every
    /// request the server sees; returns the final response.
    fn transact(
        &mut self,
        req: Request,
        registrar: &mut dyn FnMut(&Request) -> Response,
    ) -> Response {
        let id: TransactionId = self
            .client
            .send_request(self.now, req, addr(SERVER), Transport::Udp)
            .unwrap();
        for _ in 0..10 {
            self.pump();
            while let Some(e) = self.server.poll_event() {
                if let TransactionEvent::Request { id, request, .. } = e {
                    let resp = registrar(&request);
                    self.server.send_response(self.now, id, resp).unwrap();
                }
            }
            self.pump();
            while let Some(e) = self.client.poll_event() {
                if let TransactionEvent::Response { id: rid, response } = e {
                    if rid == id && response.status.is_final() {
                        return response;
                    }
                }
            }
        }
        panic!("no final response");
    }
}

fn register(cseq: u32) -> Request {
    let text = format!(
        "REGISTER sip:registrar.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP {CLIENT}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=reg\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: reg-call@client\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:alice@{CLIENT}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match sip_message::parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        e => panic!("{e:?}"),
    }
}

/// A registrar with one user; `nonce` and `stale` decide the challenge.
struct Registrar {
    password: &'static str,
    nonce: String,
    stale_next: bool,
    seen_nc: Vec<u32>,
    challenges: u32,
}

impl Registrar {
    fn answer(&mut self, req: &Request) -> Response {
        let creds = req
            .headers
            .get("Authorization")
            .map(|v| Authorization::parse(v).unwrap().0);
        let ok = creds.as_ref().is_some_and(|c| {
            c.nonce().as_deref() == Some(self.nonce.as_str())
                && digest::verify(c, self.password, &Method::Register, &req.body).unwrap()
        });
        if ok && !self.stale_next {
            self.seen_nc.push(creds.unwrap().nc().unwrap_or(0));
            return Response::for_request(req, StatusCode::new(200).unwrap());
        }
        let mut r = Response::for_request(req, StatusCode::new(401).unwrap());
        let stale = if self.stale_next {
            self.stale_next = false;
            self.nonce = format!("{}x", self.nonce);
            ", stale=true"
        } else {
            ""
        };
        self.challenges += 1;
        for alg in ["MD5", "SHA-256"] {
            r.headers
                .push(
                    "WWW-Authenticate",
                    &format!(
                        "Digest realm=\"example.com\", nonce=\"{}\", algorithm={alg}, qop=\"auth\"{stale}",
                        self.nonce
                    ),
                )
                .unwrap();
        }
        r
    }
}

const ALICE: Credential<'static> = Credential {
    realm: Some("example.com"),
    username: "alice",
    password: "s3cret",
};

#[test]
fn register_challenge_answer_reuse_and_stale() {
    let mut net = Net::new();
    let mut reg = Registrar {
        password: "s3cret",
        nonce: "n1".into(),
        stale_next: false,
        seen_nc: Vec::new(),
        challenges: 0,
    };
    let mut auth = Authenticator::new(99);

    // 1. Unauthenticated REGISTER is challenged; the answer is accepted.
    let req = register(1);
    let r = net.transact(req.clone(), &mut |q| reg.answer(q));
    assert_eq!(r.status.as_u16(), 401);
    let retry = auth.authorize(&req, &r, &[ALICE]).unwrap();
    assert_eq!(retry.headers.cseq().unwrap().unwrap().seq, 2);
    let r = net.transact(retry.clone(), &mut |q| reg.answer(q));
    assert_eq!(r.status.as_u16(), 200);
    let used = Authorization::parse(retry.headers.get("Authorization").unwrap())
        .unwrap()
        .0;
    assert_eq!(
        used.algorithm().as_deref(),
        Some("SHA-256"),
        "strongest offered"
    );

    // 2. The refresh reuses the nonce with nc = 2, no challenge round trip.
    let mut refresh = register(3);
    assert_eq!(auth.apply_cached(&mut refresh, &[ALICE]).unwrap(), 1);
    let r = net.transact(refresh.clone(), &mut |q| reg.answer(q));
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(reg.seen_nc, [1, 2]);
    assert_eq!(reg.challenges, 1);

    // 3. The registrar expires the nonce: stale=true, one silent retry.
    reg.stale_next = true;
    let mut refresh = register(4);
    auth.apply_cached(&mut refresh, &[ALICE]).unwrap();
    let r = net.transact(refresh.clone(), &mut |q| reg.answer(q));
    assert_eq!(r.status.as_u16(), 401);
    let retry = auth.authorize(&refresh, &r, &[ALICE]).unwrap();
    let r = net.transact(retry, &mut |q| reg.answer(q));
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(reg.seen_nc.last(), Some(&1), "new nonce restarts nc");
}

#[test]
fn wrong_password_is_not_retried_forever() {
    let mut net = Net::new();
    let mut reg = Registrar {
        password: "other",
        nonce: "n1".into(),
        stale_next: false,
        seen_nc: Vec::new(),
        challenges: 0,
    };
    let mut auth = Authenticator::new(7);
    let req = register(1);
    let r = net.transact(req.clone(), &mut |q| reg.answer(q));
    let retry = auth.authorize(&req, &r, &[ALICE]).unwrap();
    let r = net.transact(retry.clone(), &mut |q| reg.answer(q));
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(
        auth.authorize(&retry, &r, &[ALICE]),
        Err(AuthError::Rejected {
            realm: "example.com".into()
        })
    );
    assert_eq!(reg.challenges, 2);
}

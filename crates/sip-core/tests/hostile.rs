//! Hostile peers: random (but parseable) requests and responses, mutated
//! bytes, random TU answers and transport errors thrown at one layer on a
//! virtual clock. The layer must never panic, must respect its caps and
//! must wind every client transaction down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_core::{LayerConfig, TransactionEvent, TransactionId, TransactionLayer};
use sip_message::headers::Transport;
use sip_message::{Message, Request, Response, StatusCode};

struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const METHODS: [&str; 7] = [
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "FOO",
];
const BRANCHES: [&str; 6] = [
    ";branch=z9hG4bK1",
    ";branch=z9hG4bK2",
    ";branch=z9hG4bK",
    ";branch=old",
    "",
    ";branch=z9hG4bK1;rport",
];
const HOSTS: [&str; 3] = ["192.0.2.1:5060", "host.example", "[2001:db8::1]:5070"];
const TAGS: [&str; 3] = ["", ";tag=t1", ";tag=t2"];
const CODES: [u16; 9] = [100, 180, 183, 200, 202, 401, 486, 503, 699];

fn random_text(rng: &mut Prng) -> String {
    let method = *rng.pick(&METHODS);
    let cseq_method = if rng.below(10) == 0 {
        *rng.pick(&METHODS)
    } else {
        method
    };
    let mut headers = format!(
        "Via: SIP/2.0/{} {}{}\r\n",
        rng.pick(&["UDP", "TCP", "TLS"]),
        rng.pick(&HOSTS),
        rng.pick(&BRANCHES)
    );
    if rng.below(6) == 0 {
        headers.push_str(&format!(
            "Via: SIP/2.0/UDP {}{}\r\n",
            rng.pick(&HOSTS),
            rng.pick(&BRANCHES)
        ));
    }
    for (name, value) in [
        ("From", format!("<sip:a@example.com>{}", rng.pick(&TAGS))),
        ("To", format!("<sip:b@example.com>{}", rng.pick(&TAGS))),
        ("Call-ID", format!("c{}@x", rng.below(3))),
        ("CSeq", format!("{} {}", rng.below(3) + 1, cseq_method)),
        ("Contact", "<sip:a@192.0.2.1>".to_string()),
    ] {
        // Sometimes leave a core header out, sometimes duplicate it.
        match rng.below(12) {
            0 => {}
            1 => {
                headers.push_str(&format!("{name}: {value}\r\n{name}: {value}\r\n"));
            }
            _ => headers.push_str(&format!("{name}: {value}\r\n")),
        }
    }
    let start = if rng.below(2) == 0 {
        format!("{method} sip:b@example.com SIP/2.0")
    } else {
        let code = *rng.pick(&CODES);
        format!("SIP/2.0 {code} Whatever")
    };
    format!("{start}\r\n{headers}Content-Length: 0\r\n\r\n")
}

fn mutate(rng: &mut Prng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.below(4) {
        if bytes.is_empty() {
            break;
        }
        let i = rng.below(bytes.len() as u64) as usize;
        match rng.below(3) {
            0 => bytes[i] = rng.next() as u8,
            1 => {
                bytes.remove(i);
            }
            _ => bytes.insert(i, *rng.pick(b";,:<>\r\n =\"z9")),
        }
    }
    bytes
}

fn status(rng: &mut Prng) -> StatusCode {
    StatusCode::new(*rng.pick(&CODES)).unwrap()
}

#[test]
fn random_traffic_never_panics_and_respects_caps() {
    // Event kinds seen over all seeds, so the test cannot pass vacuously.
    let mut seen = std::collections::BTreeMap::<&str, u32>::new();
    for seed in 0..40 {
        let mut rng = Prng(seed);
        let config = LayerConfig {
            max_transactions: 16,
            max_queue: 32,
            seed,
            ..LayerConfig::default()
        };
        let mut layer = TransactionLayer::new(config);
        let t0 = Instant::now();
        let mut now = t0;
        let mut server_ids: Vec<(TransactionId, Request)> = Vec::new();
        let mut client_ids: Vec<TransactionId> = Vec::new();
        let mut invites: Vec<Request> = Vec::new();
        let sources: [SocketAddr; 2] = [
            "192.0.2.1:5060".parse().unwrap(),
            "198.51.100.2:4000".parse().unwrap(),
        ];
        for step in 0..600 {
            match rng.below(12) {
                // A CANCEL for an INVITE we received earlier (hostile peers
                // also cancel late, twice, or after the final response).
                0 if !invites.is_empty() => {
                    let inv = rng.pick(&invites).clone();
                    let cancel = sip_core::transaction::layer::build_cancel(&inv);
                    layer.handle_message(now, cancel.into(), sources[0], Transport::Udp);
                }
                0..=4 => {
                    let text = random_text(&mut rng);
                    let bytes = mutate(&mut rng, text.into_bytes());
                    if let Ok(msg) = sip_message::parse(&bytes) {
                        let transport = rng.pick(&[Transport::Udp, Transport::Tcp]).clone();
                        layer.handle_message(now, msg, *rng.pick(&sources), transport);
                    }
                }
                5 | 6 => {
                    if let Some((id, req)) =
                        server_ids.get(rng.below(server_ids.len().max(1) as u64) as usize)
                    {
                        let mut r = Response::for_request(req, status(&mut rng));
                        if rng.below(2) == 0 {
                            r.headers.set_typed(&{
                                let mut to = req.headers.to().ok().flatten().unwrap_or_else(|| {
                                    sip_message::headers::To::new(sip_message::NameAddr::new(
                                        sip_message::Uri::parse("sip:x@y").unwrap(),
                                    ))
                                });
                                to.set_tag("srv");
                                to
                            });
                        }
                        let _ = layer.send_response(now, *id, r);
                    }
                }
                7 => {
                    let text = random_text(&mut rng);
                    if let Ok(Message::Request(req)) = sip_message::parse(text.as_bytes()) {
                        if let Ok(id) = layer.send_request(now, req, sources[1], Transport::Udp) {
                            client_ids.push(id);
                            if rng.below(3) == 0 {
                                let _ = layer.cancel(now, id);
                            }
                        }
                    }
                }
                8 => {
                    if let Some(id) =
                        client_ids.get(rng.below(client_ids.len().max(1) as u64) as usize)
                    {
                        layer.transport_error(now, *id);
                    }
                }
                _ => {
                    now += Duration::from_millis(rng.below(3000));
                    layer.handle_timeout(now);
                    // Everything due has fired: the next wake-up is later.
                    if let Some(t) = layer.poll_timeout() {
                        assert!(t > now, "seed {seed}: overdue timer after handle_timeout");
                    }
                }
            }
            assert!(layer.len() <= 16, "seed {seed} step {step}: cap exceeded");
            // Drain only sometimes, so the queue caps get exercised.
            if rng.below(3) != 0 {
                while layer.poll_transmit().is_some() {}
                while let Some(e) = layer.poll_event() {
                    *seen.entry(kind(&e)).or_default() += 1;
                    if let TransactionEvent::Request { id, request, .. } = e {
                        if request.method == sip_message::Method::Invite {
                            invites.push(request.clone());
                        }
                        server_ids.push((id, request));
                    }
                }
            }
        }
        // Left alone, every client transaction and every answered server
        // transaction ends; only unanswered server transactions remain.
        let mut guard = 0;
        while let Some(t) = layer.poll_timeout() {
            now = now.max(t);
            layer.handle_timeout(now);
            assert!(layer.poll_timeout().is_none_or(|n| n > now));
            while layer.poll_transmit().is_some() {}
            while layer.poll_event().is_some() {}
            guard += 1;
            assert!(guard < 100_000, "seed {seed}: timers never settle");
        }
        for id in client_ids {
            assert!(
                layer.state(id).is_none(),
                "seed {seed}: client {id} still alive"
            );
        }
    }
    for k in [
        "request",
        "response",
        "cancelled",
        "ack",
        "stray",
        "timeout",
        "transport_error",
        "terminated",
    ] {
        assert!(
            seen.get(k).copied().unwrap_or(0) > 0,
            "never saw {k}: {seen:?}"
        );
    }
}

fn kind(e: &TransactionEvent) -> &'static str {
    match e {
        TransactionEvent::Request { .. } => "request",
        TransactionEvent::Response { .. } => "response",
        TransactionEvent::Cancelled { .. } => "cancelled",
        TransactionEvent::Ack { .. } => "ack",
        TransactionEvent::StrayResponse { .. } => "stray",
        TransactionEvent::Timeout { .. } => "timeout",
        TransactionEvent::TransportError { .. } => "transport_error",
        TransactionEvent::Terminated { .. } => "terminated",
    }
}

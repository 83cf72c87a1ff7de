//! Two sans-IO endpoints complete INVITE / 180 / 200 / ACK / BYE / 200 over
//! an in-memory link that loses, duplicates, delays and reorders datagrams
//! (str0m-style two-peer tests). Everything runs on a virtual clock with a
//! seeded PRNG, so each seed replays exactly.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_core::dialog::{unknown_dialog_response, AckWaitAction};
use sip_core::{
    AckWait, DialogId, DialogSet, LayerConfig, TransactionEvent, TransactionId, TransactionLayer,
};
use sip_message::headers::{CSeq, Contact, Transport, Via};
use sip_message::{Host, Message, Method, NameAddr, Request, Response, Uri};

/// SplitMix64, the test's only source of chance.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// True with probability `p` percent.
    fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[derive(Clone, Copy)]
struct LinkProfile {
    loss_pct: u64,
    dup_pct: u64,
    min_delay_ms: u64,
    max_delay_ms: u64,
}

const LOSSY: LinkProfile = LinkProfile {
    loss_pct: 20,
    dup_pct: 10,
    min_delay_ms: 5,
    max_delay_ms: 400,
};

/// Datagrams in flight, ordered by delivery time then send order.
struct Link {
    rng: Prng,
    profile: LinkProfile,
    seq: u64,
    in_flight: BTreeMap<(Instant, u64), (SocketAddr, SocketAddr, Vec<u8>)>,
    sent: u64,
    lost: u64,
}

impl Link {
    fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        self.sent += 1;
        let copies = if self.rng.chance(self.profile.dup_pct) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.rng.chance(self.profile.loss_pct) {
                self.lost += 1;
                continue;
            }
            let delay = self
                .rng
                .range(self.profile.min_delay_ms, self.profile.max_delay_ms);
            self.seq += 1;
            self.in_flight.insert(
                (now + Duration::from_millis(delay), self.seq),
                (from, to, bytes.clone()),
            );
        }
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(t, _)| *t)
    }

    fn pop_due(&mut self, now: Instant) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        let key = *self.in_flight.keys().next()?;
        if key.0 > now {
            return None;
        }
        self.in_flight.remove(&key)
    }
}

const ALICE: &str = "192.0.2.1:5060";
const BOB: &str = "192.0.2.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn via_for(local: SocketAddr, transport: &Transport, branch: &str) -> Via {
    let mut v = Via::new(
        transport.clone(),
        Host::from(local.ip()),
        Some(local.port()),
        branch,
    );
    if branch.is_empty() {
        // The transaction layer assigns one.
        v.params.remove("branch");
    }
    v.params.set("rport", None);
    v
}

/// Caller side.
struct Alice {
    layer: TransactionLayer,
    me: SocketAddr,
    transport: Transport,
    invite: Option<Request>,
    invite_tx: Option<TransactionId>,
    dialogs: DialogSet,
    /// The ACK per dialog, re-sent unchanged on 2xx retransmissions.
    acks: BTreeMap<DialogId, Request>,
    bye_at: Option<Instant>,
    bye_tx: Option<TransactionId>,
    bye_done: bool,
    saw_180: bool,
    /// Cancel after the first provisional response instead of waiting.
    cancel_mode: bool,
    cancel_tx: Option<TransactionId>,
    cancel_ok: bool,
    got_487: bool,
    failures: Vec<String>,
}

/// Callee side.
struct Bob {
    layer: TransactionLayer,
    me: SocketAddr,
    dialogs: DialogSet,
    invite_tx: Option<(TransactionId, Request, SocketAddr, Transport)>,
    ring_at: Option<Instant>,
    answer_at: Option<Instant>,
    local_tag: String,
    ack_wait: Option<AckWait>,
    acked: bool,
    bye_received: bool,
    trying_seen_by_alice: bool,
    cancel_mode: bool,
    cancelled: bool,
    failures: Vec<String>,
}

impl Alice {
    fn start(&mut self, now: Instant) {
        let tag = self.layer.new_tag();
        let call_id = format!("{}@alice", self.layer.new_tag());
        let mut inv = Request::new(Method::Invite, Uri::parse("sip:bob@192.0.2.2").unwrap());
        inv.headers
            .push_typed(&via_for(self.me, &self.transport, ""));
        inv.headers.push("Max-Forwards", "70").unwrap();
        inv.headers
            .push("From", &format!("<sip:alice@192.0.2.1>;tag={tag}"))
            .unwrap();
        inv.headers.push("To", "<sip:bob@192.0.2.2>").unwrap();
        inv.headers.push("Call-ID", &call_id).unwrap();
        inv.headers.push_typed(&CSeq {
            seq: 1,
            method: Method::Invite,
        });
        inv.headers.push_typed(&Contact::new(NameAddr::new(
            Uri::parse("sip:alice@192.0.2.1").unwrap(),
        )));
        inv.headers.push("Content-Length", "0").unwrap();
        let id = self
            .layer
            .send_request(now, inv, addr(BOB), self.transport.clone())
            .unwrap();
        self.invite_tx = Some(id);
    }

    fn on_2xx(&mut self, now: Instant, resp: &Response) {
        let Some(invite) = self.invite.clone() else {
            self.failures.push("2xx before INVITE was recorded".into());
            return;
        };
        let id = match self.dialogs.on_uac_response(&invite, resp) {
            Ok(Some(id)) => id,
            Ok(None) => match DialogId::for_incoming_response(resp) {
                Ok(id) if self.dialogs.get(&id).is_some() => id,
                other => {
                    self.failures.push(format!("2xx without dialog: {other:?}"));
                    return;
                }
            },
            Err(e) => {
                self.failures.push(format!("dialog error: {e}"));
                return;
            }
        };
        let ack = match self.acks.get(&id) {
            Some(a) => a.clone(),
            None => {
                let branch = self.layer.new_branch();
                let via = via_for(self.me, &self.transport, &branch);
                let d = self.dialogs.get(&id).unwrap();
                let a = d.create_ack(1, via);
                self.acks.insert(id.clone(), a.clone());
                a
            }
        };
        self.layer
            .send_stateless(ack.into(), addr(BOB), self.transport.clone())
            .unwrap();
        if self.bye_at.is_none() {
            self.bye_at = Some(now + Duration::from_secs(2));
        }
    }

    fn on_event(&mut self, now: Instant, ev: TransactionEvent) {
        match ev {
            TransactionEvent::Response { id, response } if Some(id) == self.invite_tx => {
                let s = response.status.as_u16();
                if s == 180 {
                    self.saw_180 = true;
                }
                if s == 487 {
                    self.got_487 = true;
                }
                // §9.1: CANCEL only once a provisional response arrived.
                if self.cancel_mode && s < 200 && self.cancel_tx.is_none() {
                    self.cancel_tx = Some(self.layer.cancel(now, id).unwrap());
                }
                if self.cancel_mode && response.status.is_success() {
                    self.failures.push("2xx although Bob never answers".into());
                }
                if response.status.is_success() {
                    self.on_2xx(now, &response);
                } else if let Some(inv) = &self.invite {
                    let _ = self.dialogs.on_uac_response(inv, &response);
                }
            }
            // A 2xx after Timer M: our ACK was lost, send it again.
            TransactionEvent::StrayResponse { response, .. } if response.status.is_success() => {
                self.on_2xx(now, &response);
            }
            TransactionEvent::Response { id, response } if Some(id) == self.cancel_tx => {
                match response.status.as_u16() {
                    200 => self.cancel_ok = true,
                    s if s >= 200 => self.failures.push(format!("CANCEL answered {s}")),
                    _ => {}
                }
            }
            TransactionEvent::Response { id, response } if Some(id) == self.bye_tx => {
                if response.status.as_u16() == 200 {
                    self.bye_done = true;
                } else if response.status.is_final() {
                    self.failures
                        .push(format!("BYE answered {}", response.status));
                }
            }
            TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                self.failures
                    .push(format!("alice: transaction {id} failed"));
            }
            TransactionEvent::Request {
                id,
                request,
                source,
                ..
            } => {
                // Alice expects no requests.
                let _ = source;
                let _ = self
                    .layer
                    .send_response(now, id, unknown_dialog_response(&request));
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, now: Instant) {
        if self.bye_at.is_some_and(|t| t <= now) && self.bye_tx.is_none() {
            self.bye_at = None;
            let Some(d) = self.dialogs.iter().next().map(|d| d.id().clone()) else {
                self.failures.push("no dialog for BYE".into());
                return;
            };
            let via = via_for(self.me, &self.transport, "");
            let d = self.dialogs.get_mut(&d).unwrap();
            let bye = d.create_request(Method::Bye, via).unwrap();
            d.terminate();
            let id = self
                .layer
                .send_request(now, bye, addr(BOB), self.transport.clone())
                .unwrap();
            self.bye_tx = Some(id);
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        if self.bye_tx.is_none() {
            self.bye_at
        } else {
            None
        }
    }
}

impl Bob {
    fn send_answer(&mut self, now: Instant, code: u16) {
        let Some((id, req, source, transport)) = self.invite_tx.clone() else {
            return;
        };
        let mut r = Response::for_request(&req, sip_message::StatusCode::new(code).unwrap());
        let mut to = r.headers.to().unwrap().unwrap();
        to.set_tag(&self.local_tag);
        r.headers.set_typed(&to);
        let contact = Contact::new(NameAddr::new(Uri::parse("sip:bob@192.0.2.2").unwrap()));
        r.headers.push_typed(&contact);
        r.headers.push("Content-Length", "0").unwrap();
        if let Err(e) = self.layer.send_response(now, id, r.clone()) {
            self.failures.push(format!("bob send {code}: {e}"));
        }
        if code == 200 {
            let first = self.dialogs.iter().next().map(|d| d.id().clone());
            if let Some(d) = first {
                self.dialogs.get_mut(&d).unwrap().confirm();
            }
            self.ack_wait = Some(AckWait::new(
                now,
                r,
                self.layer.timers(),
                transport.is_reliable(),
            ));
            let _ = source;
        }
    }

    fn on_event(&mut self, now: Instant, ev: TransactionEvent) {
        match ev {
            TransactionEvent::Request {
                id,
                request,
                source,
                transport,
            } => match request.method {
                Method::Invite if self.invite_tx.is_none() => {
                    self.local_tag = self.layer.new_tag();
                    let contact =
                        Contact::new(NameAddr::new(Uri::parse("sip:bob@192.0.2.2").unwrap()));
                    let d = sip_core::Dialog::from_uas_request(
                        &request,
                        &self.local_tag,
                        Some(contact),
                        true,
                    )
                    .unwrap();
                    self.dialogs.insert(d).unwrap();
                    self.invite_tx = Some((id, request, source, transport));
                    // Slow enough that the layer's 100 Trying goes first.
                    self.ring_at = Some(now + Duration::from_millis(250));
                    if !self.cancel_mode {
                        self.answer_at = Some(now + Duration::from_millis(600));
                    }
                }
                Method::Bye => {
                    let resp = match self.dialogs.find_for_request(&request) {
                        Some(d) => {
                            d.on_request(&request).unwrap();
                            self.bye_received = true;
                            let mut r = Response::for_request(
                                &request,
                                sip_message::StatusCode::new(200).unwrap(),
                            );
                            r.headers.push("Content-Length", "0").unwrap();
                            r
                        }
                        None => unknown_dialog_response(&request),
                    };
                    self.layer.send_response(now, id, resp).unwrap();
                    self.dialogs.remove_terminated();
                }
                _ => {
                    self.failures
                        .push(format!("unexpected request {}", request.method));
                }
            },
            TransactionEvent::Cancelled { id, .. } => {
                if self.invite_tx.as_ref().map(|t| t.0) != Some(id) {
                    self.failures.push("CANCEL for an unknown INVITE".into());
                }
                // The layer already sent 200 to the CANCEL; end the INVITE.
                self.cancelled = true;
                self.ring_at = None;
                self.send_answer(now, 487);
                let ids: Vec<DialogId> = self.dialogs.iter().map(|d| d.id().clone()).collect();
                for d in ids {
                    if let Some(d) = self.dialogs.get_mut(&d) {
                        d.terminate();
                    }
                }
                self.dialogs.remove_terminated();
            }
            TransactionEvent::Ack { request, .. } => {
                if let Some(w) = &mut self.ack_wait {
                    if w.on_ack(&request) {
                        self.acked = true;
                        if let Some(d) = self.dialogs.find_for_request(&request) {
                            d.on_request(&request).unwrap();
                        }
                    }
                }
            }
            TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                self.failures.push(format!("bob: transaction {id} failed"));
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, now: Instant) {
        if self.ring_at.is_some_and(|t| t <= now) {
            self.ring_at = None;
            self.send_answer(now, 180);
        }
        if self.answer_at.is_some_and(|t| t <= now) {
            self.answer_at = None;
            self.send_answer(now, 200);
        }
        let action = self.ack_wait.as_mut().and_then(|w| w.handle_timeout(now));
        match action {
            Some(AckWaitAction::Retransmit(r)) => {
                let Some((id, _, source, transport)) = self.invite_tx.clone() else {
                    return;
                };
                // Through the Accepted transaction, or statelessly after L.
                if self.layer.send_response(now, id, r.clone()).is_err() {
                    self.layer
                        .send_stateless(r.into(), source, transport)
                        .unwrap();
                }
            }
            Some(AckWaitAction::GiveUp) => self.failures.push("bob: no ACK".into()),
            None => {}
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        [
            self.ring_at,
            self.answer_at,
            self.ack_wait.as_ref().and_then(|w| w.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

struct Outcome {
    completed_at: Duration,
    saw_180: bool,
    saw_100: bool,
    sent: u64,
    lost: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// INVITE / 100 / 180 / 200 / ACK / BYE / 200.
    Call,
    /// INVITE / 100 / 180 / CANCEL / 200 / 487 / ACK.
    Cancel,
}

fn run(seed: u64, profile: LinkProfile, transport: Transport) -> Outcome {
    run_scenario(seed, profile, transport, Scenario::Call)
}

fn run_scenario(
    seed: u64,
    profile: LinkProfile,
    transport: Transport,
    scenario: Scenario,
) -> Outcome {
    let t0 = Instant::now();
    let mut now = t0;
    let mut link = Link {
        rng: Prng(seed),
        profile,
        seq: 0,
        in_flight: BTreeMap::new(),
        sent: 0,
        lost: 0,
    };
    let cfg = |s: u64| LayerConfig {
        seed: s,
        ..LayerConfig::default()
    };
    let mut alice = Alice {
        layer: TransactionLayer::new(cfg(seed ^ 0xA11CE)),
        me: addr(ALICE),
        transport: transport.clone(),
        invite: None,
        invite_tx: None,
        dialogs: DialogSet::new(8),
        acks: BTreeMap::new(),
        bye_at: None,
        bye_tx: None,
        bye_done: false,
        saw_180: false,
        cancel_mode: scenario == Scenario::Cancel,
        cancel_tx: None,
        cancel_ok: false,
        got_487: false,
        failures: Vec::new(),
    };
    let mut bob = Bob {
        layer: TransactionLayer::new(cfg(seed ^ 0xB0B)),
        me: addr(BOB),
        dialogs: DialogSet::new(8),
        invite_tx: None,
        ring_at: None,
        answer_at: None,
        local_tag: String::new(),
        ack_wait: None,
        acked: false,
        bye_received: false,
        trying_seen_by_alice: false,
        cancel_mode: scenario == Scenario::Cancel,
        cancelled: false,
        failures: Vec::new(),
    };
    alice.start(now);
    let mut completed_at = None;
    loop {
        // Drain both sides until quiet (str0m's loop).
        loop {
            let mut busy = false;
            while let Some(t) = alice.layer.poll_transmit() {
                busy = true;
                if let Message::Request(r) = &t.message {
                    if r.method == Method::Invite && alice.invite.is_none() {
                        alice.invite = Some(r.clone());
                    }
                }
                link.send(now, alice.me, t.dest, t.message.to_bytes());
            }
            while let Some(t) = bob.layer.poll_transmit() {
                busy = true;
                link.send(now, bob.me, t.dest, t.message.to_bytes());
            }
            while let Some(e) = alice.layer.poll_event() {
                busy = true;
                if let TransactionEvent::Response { response, .. } = &e {
                    if response.status.as_u16() == 100 {
                        bob.trying_seen_by_alice = true;
                    }
                }
                alice.on_event(now, e);
            }
            while let Some(e) = bob.layer.poll_event() {
                busy = true;
                bob.on_event(now, e);
            }
            if !busy {
                break;
            }
        }
        let done = match scenario {
            Scenario::Call => alice.bye_done && bob.bye_received && bob.acked,
            Scenario::Cancel => alice.got_487 && alice.cancel_ok && bob.cancelled,
        };
        if completed_at.is_none() && done {
            completed_at = Some(now - t0);
        }
        let next = [
            alice.layer.poll_timeout(),
            bob.layer.poll_timeout(),
            alice.next_timer(),
            bob.next_timer(),
            link.next_delivery(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        assert!(
            next - t0 < Duration::from_secs(300),
            "seed {seed}: still busy after 300 s"
        );
        now = now.max(next);
        while let Some((from, to, bytes)) = link.pop_due(now) {
            let msg = sip_message::parse(&bytes).expect("peer sent unparseable bytes");
            if to == alice.me {
                alice
                    .layer
                    .handle_message(now, msg, from, transport.clone());
            } else {
                bob.layer.handle_message(now, msg, from, transport.clone());
            }
        }
        alice.layer.handle_timeout(now);
        bob.layer.handle_timeout(now);
        alice.on_timer(now);
        bob.on_timer(now);
    }
    assert!(
        alice.failures.is_empty(),
        "seed {seed}: {:?}",
        alice.failures
    );
    assert!(bob.failures.is_empty(), "seed {seed}: {:?}", bob.failures);
    let completed_at = completed_at.unwrap_or_else(|| {
        panic!(
            "seed {seed}: incomplete (bye_done {}, bye_received {}, acked {}, 487 {}, cancelled {})",
            alice.bye_done, bob.bye_received, bob.acked, alice.got_487, bob.cancelled
        )
    });
    // Everything wound down: no transactions, no timers left.
    assert!(
        alice.layer.is_empty() && bob.layer.is_empty(),
        "seed {seed}"
    );
    assert_eq!(alice.layer.dropped() + bob.layer.dropped(), 0);
    assert!(
        bob.dialogs.is_empty(),
        "seed {seed}: BYE ended Bob's dialog"
    );
    Outcome {
        completed_at,
        saw_180: alice.saw_180,
        saw_100: bob.trying_seen_by_alice,
        sent: link.sent,
        lost: link.lost,
    }
}

#[test]
fn lossless_udp_call() {
    let perfect = LinkProfile {
        loss_pct: 0,
        dup_pct: 0,
        min_delay_ms: 20,
        max_delay_ms: 20,
    };
    let o = run(1, perfect, Transport::Udp);
    // 600 ms to answer + 2 s before BYE + a round trip.
    assert!(
        o.completed_at < Duration::from_secs(3),
        "{:?}",
        o.completed_at
    );
    // INVITE, 100, 180, 200, ACK, BYE, 200: nothing retransmitted.
    assert_eq!(o.sent, 7);
    assert!(o.saw_100 && o.saw_180);
}

#[test]
fn reliable_transport_call_never_retransmits() {
    let perfect = LinkProfile {
        loss_pct: 0,
        dup_pct: 0,
        min_delay_ms: 20,
        max_delay_ms: 20,
    };
    let o = run(2, perfect, Transport::Tcp);
    assert_eq!(o.sent, 7);
}

#[test]
fn lossy_reordering_duplicating_link_many_seeds() {
    let mut lost_total = 0;
    let mut slowest = Duration::ZERO;
    for seed in 0..300 {
        let o = run(seed, LOSSY, Transport::Udp);
        lost_total += o.lost;
        slowest = slowest.max(o.completed_at);
    }
    // The link really was hostile, and the calls still completed.
    assert!(lost_total > 300, "lost {lost_total}");
    assert!(
        slowest > Duration::from_secs(3),
        "some seed needed retransmits"
    );
}

#[test]
fn very_lossy_link_still_completes() {
    let bad = LinkProfile {
        loss_pct: 40,
        dup_pct: 25,
        min_delay_ms: 1,
        max_delay_ms: 1500,
    };
    for seed in 1000..1040 {
        run(seed, bad, Transport::Udp);
    }
}

#[test]
fn cancel_over_lossless_and_lossy_links() {
    let perfect = LinkProfile {
        loss_pct: 0,
        dup_pct: 0,
        min_delay_ms: 20,
        max_delay_ms: 20,
    };
    let o = run_scenario(5, perfect, Transport::Udp, Scenario::Cancel);
    // INVITE, 100, CANCEL, 200 (CANCEL), 487, ACK: the 180 timer was
    // stopped by the CANCEL.
    assert_eq!(o.sent, 6);
    assert!(o.saw_100 && !o.saw_180);
    for seed in 0..150 {
        run_scenario(seed, LOSSY, Transport::Udp, Scenario::Cancel);
    }
}

//! The receive side of a media session, which takes whatever reaches
//! the RTP port: a real sender session (Opus, G.722, PCMU or PCMA, with
//! DTMF) produces the packets and the fuzzer decides what the network
//! does to each (deliver, drop, duplicate, hold back for reordering,
//! corrupt a byte, truncate, or replace with its own bytes), and how much
//! time passes. The receiver must never panic, and its playout keeps its
//! size whatever arrives.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use media::sdp::{accept_answer, create_answer, create_offer, CodecKind, MediaConfig};
use media::session::AudioSession;
use sip_message::sdp::Direction;

const A: &str = "127.0.0.1:4000";
const B: &str = "127.0.0.1:6000";

/// Reads the fuzz input a byte at a time (zeros once it runs out).
struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let kind = match input.byte() % 4 {
        0 => CodecKind::Opus,
        1 => CodecKind::G722,
        2 => CodecKind::Pcmu,
        _ => CodecKind::Pcma,
    };
    let cfg = MediaConfig {
        codecs: vec![kind],
        ..MediaConfig::default()
    };
    let offer = create_offer(&cfg, A.parse().unwrap(), 1, 1, Direction::SendRecv, None);
    let Ok((answer, at_b)) = create_answer(&cfg, &offer, B.parse().unwrap(), 2, 1, false, None)
    else {
        return;
    };
    let Ok(at_a) = accept_answer(&offer, &answer) else {
        return;
    };
    let t0 = Instant::now();
    let (Ok(mut tx), Ok(mut rx)) = (AudioSession::new(&at_a, t0), AudioSession::new(&at_b, t0))
    else {
        return;
    };
    let src: SocketAddr = A.parse().unwrap();
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut pcm = vec![0i16; 960];
    let mut out = vec![0i16; 960];
    let mut now = t0;
    for tick in 0..400u32 {
        if input.0.is_empty() {
            break;
        }
        // The sender's 20 ms: a tone, now and then a digit.
        for (i, s) in pcm.iter_mut().enumerate() {
            let t = (tick as usize * 960 + i) as f32 / 48_000.0;
            *s = ((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16;
        }
        tx.push_capture(&pcm);
        let op = input.byte();
        if op % 16 == 15 {
            let _ = tx.send_dtmf(char::from(b"0123456789*#ABCD"[usize::from(op >> 4)]));
        }
        while let Some((packet, _)) = tx.poll_transmit(now) {
            let mut packet = packet;
            match input.byte() % 8 {
                0 | 1 => rx.handle_packet(now, Some(src), &packet),
                2 => {}
                3 => {
                    rx.handle_packet(now, Some(src), &packet);
                    rx.handle_packet(now, Some(src), &packet);
                }
                4 => held.push(packet),
                5 => {
                    let at = usize::from(input.byte());
                    let v = input.byte();
                    let len = packet.len().max(1);
                    if let Some(b) = packet.get_mut(at % len) {
                        *b ^= v;
                    }
                    rx.handle_packet(now, Some(src), &packet);
                }
                6 => {
                    let keep = usize::from(input.byte()) % (packet.len() + 1);
                    rx.handle_packet(now, Some(src), &packet[..keep]);
                }
                _ => {
                    let n = usize::from(input.byte());
                    let own = input.take(n).to_vec();
                    // From elsewhere now and then (symmetric RTP latching).
                    let from: SocketAddr = if n % 3 == 0 {
                        "127.0.0.1:4002".parse().unwrap()
                    } else {
                        src
                    };
                    rx.handle_packet(now, Some(from), &own);
                }
            }
        }
        // Held packets come late, in reverse.
        if input.byte() % 4 == 0 {
            while let Some(p) = held.pop() {
                rx.handle_packet(now, Some(src), &p);
            }
        }
        // Time: 20 ms, give or take what the fuzzer says.
        let step = 20 + i64::from(input.byte() as i8) / 4;
        now += Duration::from_millis(step.max(0) as u64);
        rx.pull_playout(now, &mut out);
        assert_eq!(out.len(), 960);
        while rx.poll_event().is_some() {}
        while tx.poll_event().is_some() {}
        while let Some((p, _)) = rx.poll_transmit(now) {
            // RTCP back to the sender, which plans FEC and copies from it.
            tx.handle_packet(now, Some(B.parse().unwrap()), &p);
        }
    }
});

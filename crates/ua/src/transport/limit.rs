//! Per-source rate limiting: a token bucket per source IP, in a table of
//! bounded size, so one noisy or hostile host cannot starve the others or
//! grow our memory.
//!
//! A full table forgets a source picked by a clock hand (second chance):
//! each bucket has a bit set when its source sends; the hand clears set
//! bits and evicts the first clear one. A flood of new (e.g. spoofed)
//! sources therefore costs amortised O(1) per message, never a scan of
//! the whole table under the lock, and sources that keep sending keep
//! their buckets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Sources remembered at once; beyond this one is forgotten.
const MAX_SOURCES: usize = 4096;

pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    slots: Vec<Slot>,
    index: HashMap<IpAddr, usize>,
    /// The clock hand: the next slot considered for eviction.
    hand: usize,
}

struct Slot {
    ip: IpAddr,
    tokens: f64,
    last: Instant,
    /// Sent since the hand last passed: spared once.
    referenced: bool,
}

impl RateLimiter {
    /// `rate` messages per second, bursts up to twice that.
    pub(crate) fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            burst: rate * 2.0,
            slots: Vec::new(),
            index: HashMap::new(),
            hand: 0,
        }
    }

    /// Whether a message from `ip` at `now` may pass. IPv6 sources share
    /// one bucket per /64, which one host usually owns whole.
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = super::conn::source_key(ip);
        let i = match self.index.get(&ip) {
            Some(&i) => {
                self.slots[i].referenced = true;
                i
            }
            None => {
                let fresh = Slot {
                    ip,
                    tokens: self.burst,
                    last: now,
                    referenced: false,
                };
                let i = if self.slots.len() < MAX_SOURCES {
                    self.slots.push(fresh);
                    self.slots.len() - 1
                } else {
                    let i = self.evict();
                    self.index.remove(&self.slots[i].ip);
                    self.slots[i] = fresh;
                    i
                };
                self.index.insert(ip, i);
                i
            }
        };
        let (rate, burst) = (self.rate, self.burst);
        let b = &mut self.slots[i];
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The slot to reuse. Each step clears one bit set by an earlier
    /// message, so the steps are paid for by the messages (amortised O(1)).
    fn evict(&mut self) -> usize {
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let s = &mut self.slots[i];
            if !s.referenced {
                return i;
            }
            s.referenced = false;
        }
    }

    #[cfg(test)]
    fn sources(&self) -> usize {
        debug_assert_eq!(self.index.len(), self.slots.len());
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills_per_source() {
        let mut l = RateLimiter::new(10);
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let passed = (0..100).filter(|_| l.allow(a, t0)).count();
        assert_eq!(passed, 20, "burst is twice the rate");
        assert!(l.allow(b, t0), "another source is unaffected");
        assert!(!l.allow(a, t0 + Duration::from_millis(50)));
        assert!(
            l.allow(a, t0 + Duration::from_millis(200)),
            "refilled 2 tokens"
        );
    }

    #[test]
    fn ipv6_hosts_share_a_bucket_per_64() {
        let mut l = RateLimiter::new(10);
        let t0 = Instant::now();
        // A host rotating through its /64 does not get a fresh bucket per address.
        let passed = (0..100u16)
            .filter(|i| {
                let ip: IpAddr = format!("2001:db8:0:1::{i:x}").parse().unwrap();
                l.allow(ip, t0)
            })
            .count();
        assert_eq!(passed, 20);
        assert!(l.allow("2001:db8:0:2::1".parse().unwrap(), t0));
    }

    #[test]
    fn table_is_bounded() {
        let mut l = RateLimiter::new(10);
        let t0 = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 100) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            l.allow(ip, t0 + Duration::from_micros(u64::from(i)));
        }
        assert_eq!(l.sources(), MAX_SOURCES);
    }

    #[test]
    fn a_flood_of_new_sources_does_not_reset_a_busy_one() {
        let mut l = RateLimiter::new(10);
        let t0 = Instant::now();
        let noisy: IpAddr = "192.0.2.9".parse().unwrap();
        // The noisy source spends its burst...
        while l.allow(noisy, t0) {}
        // ...then hides among a flood of new sources (several table
        // sizes of them), sending between them: it never gets a fresh
        // bucket, so it stays limited.
        for i in 0..(3 * MAX_SOURCES as u32) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            l.allow(ip, t0);
            if i % 64 == 0 {
                assert!(!l.allow(noisy, t0), "still limited after {i} new sources");
            }
        }
        assert_eq!(l.sources(), MAX_SOURCES);
    }

    #[test]
    fn a_flood_of_new_sources_is_cheap() {
        // 200k new sources through a full table: a scan per source
        // (the old eviction) took seconds here; the clock hand is linear.
        let mut l = RateLimiter::new(10);
        let t0 = Instant::now();
        let started = Instant::now();
        for i in 0..200_000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            l.allow(ip, t0);
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

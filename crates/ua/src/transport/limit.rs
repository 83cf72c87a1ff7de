//! Per-source rate limiting: a token bucket per source IP, in a table of
//! bounded size, so one noisy or hostile host cannot starve the others or
//! grow our memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Sources remembered at once; the stalest is forgotten beyond this.
const MAX_SOURCES: usize = 4096;

pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<IpAddr, Bucket>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// `rate` messages per second, bursts up to twice that.
    pub(crate) fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            burst: rate * 2.0,
            buckets: HashMap::new(),
        }
    }

    /// Whether a message from `ip` at `now` may pass. IPv6 sources share
    /// one bucket per /64, which one host usually owns whole.
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = super::conn::source_key(ip);
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= MAX_SOURCES {
            if let Some(stalest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(ip, _)| *ip)
            {
                self.buckets.remove(&stalest);
            }
        }
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    fn sources(&self) -> usize {
        self.buckets.len()
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
}

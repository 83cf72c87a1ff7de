//! Transaction timer values (RFC 3261 §17 and Table 4 of Appendix A).
//!
//! T1, T2 and T4 are configurable; every other timer derives from them, so
//! the table lives in one place and the transaction machines only name the
//! timer they arm.
//!
//! ```text
//!  Timer  Default          Meaning                                  RFC 3261
//!  T1     500 ms           RTT estimate                             §17.1.1.1
//!  T2     4 s              max retransmit interval, non-INVITE      §17.1.2.2
//!  T4     5 s              max duration a message stays in network  §17.1.2.2
//!  A      T1, doubling     INVITE request retransmit (unreliable)   §17.1.1.2
//!  B      64*T1            INVITE transaction timeout               §17.1.1.2
//!  D      >32 s / 0        wait for response retransmits            §17.1.1.2
//!  E      T1, doubling<=T2 non-INVITE request retransmit            §17.1.2.2
//!  F      64*T1            non-INVITE transaction timeout           §17.1.2.2
//!  G      T1, doubling<=T2 INVITE response retransmit               §17.2.1
//!  H      64*T1            wait for ACK receipt                     §17.2.1
//!  I      T4 / 0           wait for ACK retransmits                 §17.2.1
//!  J      64*T1 / 0        wait for non-INVITE request retransmits  §17.2.2
//!  K      T4 / 0           wait for response retransmits           §17.1.2.2
//!  L      64*T1            accepted INVITE server wait (RFC 6026)   §17.2.1
//!  M      64*T1            accepted INVITE client wait (RFC 6026)   §17.1.1.2
//! ```
//! "/ 0" marks the value over reliable transports.

use std::time::Duration;

/// Errors in a timer configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerConfigError {
    /// T1 must be positive or retransmission would spin.
    #[error("T1 must be greater than zero")]
    ZeroT1,
    /// RFC 3261 §17.1.2.2: T2 caps the doubling of T1, so it cannot be smaller.
    #[error("T2 ({t2:?}) must not be smaller than T1 ({t1:?})")]
    T2BelowT1 {
        /// Configured T1.
        t1: Duration,
        /// Configured T2.
        t2: Duration,
    },
    /// A base timer above [`TimerConfig::MAX_BASE`]: deadlines are computed
    /// as `now + 64*T1` and must stay far from `Instant` overflow.
    #[error("{name} ({value:?}) exceeds the maximum of 60 s")]
    TooLong {
        /// Which timer.
        name: &'static str,
        /// Its configured value.
        value: Duration,
    },
}

/// The three base timers; the rest are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    t1: Duration,
    t2: Duration,
    t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// Largest accepted T1, T2 or T4 (RFC values are 0.5, 4 and 5 s).
    pub const MAX_BASE: Duration = Duration::from_secs(60);

    /// A configuration with the given base timers.
    pub fn new(t1: Duration, t2: Duration, t4: Duration) -> Result<Self, TimerConfigError> {
        if t1.is_zero() {
            return Err(TimerConfigError::ZeroT1);
        }
        for (name, value) in [("T1", t1), ("T2", t2), ("T4", t4)] {
            if value > Self::MAX_BASE {
                return Err(TimerConfigError::TooLong { name, value });
            }
        }
        if t2 < t1 {
            return Err(TimerConfigError::T2BelowT1 { t1, t2 });
        }
        Ok(Self { t1, t2, t4 })
    }

    /// T1.
    pub fn t1(&self) -> Duration {
        self.t1
    }
    /// T2.
    pub fn t2(&self) -> Duration {
        self.t2
    }
    /// T4.
    pub fn t4(&self) -> Duration {
        self.t4
    }

    /// 64*T1: Timers B, F, H, J (unreliable), L and M.
    pub fn timeout_64t1(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer A's interval before retransmission `n` (0-based): T1 * 2^n,
    /// unbounded per §17.1.1.2 (Timer B ends it).
    pub fn timer_a(&self, n: u32) -> Duration {
        self.t1
            .saturating_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
    }

    /// Timers E and G: T1 * 2^n, capped at T2 (§17.1.2.2, §17.2.1).
    pub fn timer_e(&self, n: u32) -> Duration {
        self.timer_a(n).min(self.t2)
    }

    /// Timer D: at least 32 s over unreliable transports, zero otherwise.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.timeout_64t1())
        }
    }

    /// Timers I and K: T4 over unreliable transports, zero otherwise.
    pub fn timer_k(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: 64*T1 over unreliable transports, zero otherwise.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout_64t1()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_rfc3261_table_4() {
        let t = TimerConfig::default();
        assert_eq!(t.timeout_64t1(), Duration::from_secs(32));
        assert_eq!(t.timer_d(false), Duration::from_secs(32));
        assert_eq!(t.timer_d(true), Duration::ZERO);
        assert_eq!(t.timer_k(false), Duration::from_secs(5));
        assert_eq!(t.timer_j(true), Duration::ZERO);
    }

    #[test]
    fn timer_e_doubles_then_caps_at_t2() {
        let t = TimerConfig::default();
        let seq: Vec<u64> = (0..6).map(|n| t.timer_e(n).as_millis() as u64).collect();
        assert_eq!(seq, [500, 1000, 2000, 4000, 4000, 4000]);
        // Timer A is not capped; a huge n saturates instead of overflowing.
        assert_eq!(t.timer_a(3), Duration::from_secs(4));
        assert!(t.timer_a(200) > Duration::from_secs(1_000_000));
    }

    #[test]
    fn short_t1_keeps_timer_d_at_32s() {
        let t = TimerConfig::new(
            Duration::from_millis(100),
            Duration::from_secs(4),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(t.timeout_64t1(), Duration::from_millis(6400));
        assert_eq!(t.timer_d(false), Duration::from_secs(32));
    }

    #[test]
    fn invalid_configs_are_refused() {
        assert_eq!(
            TimerConfig::new(Duration::ZERO, Duration::from_secs(4), Duration::ZERO),
            Err(TimerConfigError::ZeroT1)
        );
        assert!(matches!(
            TimerConfig::new(
                Duration::from_secs(5),
                Duration::from_secs(4),
                Duration::ZERO
            ),
            Err(TimerConfigError::T2BelowT1 { .. })
        ));
        assert_eq!(
            TimerConfig::new(
                Duration::from_secs(1),
                Duration::from_secs(4),
                Duration::from_secs(3600)
            ),
            Err(TimerConfigError::TooLong {
                name: "T4",
                value: Duration::from_secs(3600)
            })
        );
    }
}

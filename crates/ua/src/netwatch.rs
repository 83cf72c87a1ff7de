//! Network change detection, so registrations move within seconds of a
//! change (issue: re-register within 5 s of an interface or address
//! change, or of a resume from sleep).
//!
//! Polled every 2 s by the engine; cheap and portable: the source address
//! the OS would route to the internet from (a UDP "connect" sends nothing)
//! for IPv4 and IPv6, and a comparison of wall-clock and monotonic time
//! (the monotonic clock stops while the machine sleeps).
//!
//! ```text
//!   tick ──snapshot──> same as before? ──yes──> wall - mono gap > 5 s? ──yes──> Resumed
//!                         │ no                        │ no
//!                         v                           v
//!                   AddressChanged                  nothing
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

/// How often the engine looks.
pub(crate) const POLL: Duration = Duration::from_secs(2);
/// A wall-clock jump this much beyond the monotonic clock means we slept.
const SLEEP_GAP: Duration = Duration::from_secs(5);

/// The addresses we would use, per family (None: no route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    v4: Option<IpAddr>,
    v6: Option<IpAddr>,
}

impl Snapshot {
    /// Reads the current routes (documentation-range destinations, so
    /// nothing real is ever addressed, and connect() on UDP sends nothing).
    pub(crate) fn take() -> Self {
        Self {
            v4: route(SocketAddr::from(([192, 0, 2, 1], 9))),
            v6: route(
                "[2001:db8::1]:9"
                    .parse()
                    .unwrap_or(SocketAddr::from(([0; 16], 9))),
            ),
        }
    }
}

fn route(dest: SocketAddr) -> Option<IpAddr> {
    let ip = crate::endpoint::route_ip(dest);
    (!ip.is_unspecified()).then_some(ip)
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetChange {
    /// Our routed address (or whether we have one) changed.
    AddressChanged,
    /// The machine slept and woke up.
    Resumed,
}

/// The detector's memory.
pub(crate) struct NetWatch {
    last: Snapshot,
    wall: SystemTime,
    mono: Instant,
}

impl NetWatch {
    /// Starts from `snap` taken at (`wall`, `mono`).
    pub(crate) fn new(snap: Snapshot, wall: SystemTime, mono: Instant) -> Self {
        Self {
            last: snap,
            wall,
            mono,
        }
    }

    /// A new look at (`wall`, `mono`): what changed since the last one.
    pub(crate) fn check(
        &mut self,
        snap: Snapshot,
        wall: SystemTime,
        mono: Instant,
    ) -> Option<NetChange> {
        let wall_gap = wall.duration_since(self.wall).unwrap_or_default();
        let mono_gap = mono.saturating_duration_since(self.mono);
        self.wall = wall;
        self.mono = mono;
        if snap != self.last {
            self.last = snap;
            return Some(NetChange::AddressChanged);
        }
        (wall_gap > mono_gap + SLEEP_GAP).then_some(NetChange::Resumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(v4: &str) -> Snapshot {
        Snapshot {
            v4: v4.parse().ok(),
            v6: None,
        }
    }

    #[test]
    fn address_changes_and_resume_are_told_apart() {
        let (w0, m0) = (SystemTime::now(), Instant::now());
        let mut n = NetWatch::new(snap("192.168.1.5"), w0, m0);
        let s = Duration::from_secs(2);
        assert_eq!(n.check(snap("192.168.1.5"), w0 + s, m0 + s), None);
        // Wi-Fi to another network: a new address.
        assert_eq!(
            n.check(snap("10.0.0.7"), w0 + 2 * s, m0 + 2 * s),
            Some(NetChange::AddressChanged)
        );
        // Cable out: no route at all is a change too, and back again.
        assert_eq!(
            n.check(snap("none"), w0 + 3 * s, m0 + 3 * s),
            Some(NetChange::AddressChanged)
        );
        assert_eq!(
            n.check(snap("10.0.0.7"), w0 + 4 * s, m0 + 4 * s),
            Some(NetChange::AddressChanged)
        );
        // Lid closed for an hour: wall time jumped, monotonic did not.
        let hour = Duration::from_secs(3600);
        assert_eq!(
            n.check(snap("10.0.0.7"), w0 + 5 * s + hour, m0 + 5 * s),
            Some(NetChange::Resumed)
        );
        // An NTP step of a second is not a resume.
        assert_eq!(
            n.check(
                snap("10.0.0.7"),
                w0 + 7 * s + hour + Duration::from_secs(1),
                m0 + 6 * s
            ),
            None
        );
    }

    #[test]
    fn a_snapshot_of_this_machine_is_stable() {
        assert_eq!(Snapshot::take(), Snapshot::take());
    }
}

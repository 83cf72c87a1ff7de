//! Small helpers shared by the engine's tasks.

use std::time::Instant;

/// A seed for branches, tags, Call-IDs and cnonces: these must be
/// unpredictable across runs (RFC 3261 §8.1.1.7), and `RandomState` is
/// seeded from the OS.
pub(crate) fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish()
}

/// Sleeps until `at` (a sans-IO `poll_timeout`), or forever when there is
/// nothing to wait for, so it can sit in a `select!`.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

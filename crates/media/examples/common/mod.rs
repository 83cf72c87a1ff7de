//! What the cost examples share: the process's CPU clock.

/// This process's CPU seconds so far (utime + stime), Linux only, from
/// /proc so other load on the machine does not inflate it.
pub(crate) fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that ends the command name: the state letter
    // is skipped by the parse filter, so utime and stime (fields 14 and
    // 15 of the whole line) are indices 10 and 11.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match (f.get(10), f.get(11)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => 0.0,
    }
}

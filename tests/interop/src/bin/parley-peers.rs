//! Starts a test peer for tests written outside Rust (the end-to-end UI
//! tests): `parley-peers kamailio` prints `kamailio <port>` and keeps the
//! peer running until its stdin closes, then stops it cleanly.

use std::io::{Read, Write};
use std::process::ExitCode;

use parley_interop::{Kamailio, KamailioOptions};

fn main() -> ExitCode {
    let what = std::env::args().nth(1).unwrap_or_default();
    if what != "kamailio" {
        eprintln!("usage: parley-peers kamailio");
        return ExitCode::from(2);
    }
    let kam = match Kamailio::start(KamailioOptions::default()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("parley-peers: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("kamailio {}", kam.port);
    let _ = std::io::stdout().flush();
    // Block until the test closes our stdin (or dies); then `kam` drops
    // and takes Kamailio's process group with it.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(kam);
    ExitCode::SUCCESS
}

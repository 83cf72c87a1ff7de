//! Starts test peers for tests written outside Rust (the end-to-end UI
//! tests) and keeps them running until stdin closes, then stops them.
//!
//! `parley-peers kamailio [--baresip USER]...` prints `kamailio <port>`,
//! then for each baresip (registered through that Kamailio, auto-answer)
//! `baresip <user> <sip-port>`, then `ready`. Each stdin line
//! `<user> <command> [params]` is sent to that baresip's ctrl_tcp (e.g.
//! `bob dial sip:alice@127.0.0.1`, `bob hangup`) and answered on stdout
//! with one line: `reply <user> <json>` or `error <user> <message>`.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use parley_interop::{Baresip, BaresipOptions, Kamailio, KamailioOptions, USERS};

fn usage() -> ExitCode {
    eprintln!("usage: parley-peers kamailio [--baresip alice|bob|carol]...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("kamailio") {
        return usage();
    }
    let mut users: Vec<&'static str> = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(a) = rest.next() {
        let known = rest
            .next()
            .filter(|_| a == "--baresip")
            .and_then(|u| USERS.iter().find(|(name, _)| *name == u.as_str()));
        match known {
            Some((user, _)) => users.push(user),
            None => return usage(),
        }
    }
    let kam = match Kamailio::start(KamailioOptions::default()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("parley-peers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "kamailio {}", kam.port);
    let mut peers = Vec::new();
    for user in users {
        let started = Baresip::start(&kam, BaresipOptions::new(user)).and_then(|b| {
            b.wait_registered(Duration::from_secs(10))?;
            Ok(b)
        });
        match started {
            Ok(b) => {
                let _ = writeln!(out, "baresip {user} {}", b.sip_port);
                peers.push((user, b));
            }
            Err(e) => {
                eprintln!("parley-peers: baresip {user}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    // Serve commands until the test closes our stdin (or dies); then the
    // peers drop and take their process groups with them.
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.trim().splitn(3, ' ');
        let (Some(user), Some(command)) = (words.next(), words.next()) else {
            continue;
        };
        let params = words.next().unwrap_or("");
        let answer = match peers.iter().find(|(u, _)| *u == user) {
            Some((_, b)) => match b.command(command, params) {
                Ok(json) => format!("reply {user} {}", json.replace('\n', " ")),
                Err(e) => format!("error {user} {}", e.to_string().replace('\n', " ")),
            },
            None => format!("error {user} no such peer"),
        };
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
    drop(peers);
    drop(kam);
    ExitCode::SUCCESS
}

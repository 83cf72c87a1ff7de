//! The chat durability promise under `kill -9`: a child process writes
//! messages in a burst and prints each id only after the insert returned
//! (the moment the UI would show it); the parent kills it mid-burst with
//! SIGKILL, reopens the store and finds every printed message intact.
//!
//! The child is this test binary itself, re-run with [`DB_ENV`] set and a
//! filter selecting [`kill9_writer`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use store::db::{IncomingMessage, MessageId, MessageState};
use store::Db;

const DB_ENV: &str = "PARLEY_STORE_KILL9_DB";
const ROUND_ENV: &str = "PARLEY_STORE_KILL9_ROUND";
/// Rounds of write, kill, reopen on the same file.
const ROUNDS: u32 = 3;

fn peer(i: u64) -> String {
    format!("sip:peer{}@example.com", i % 3)
}

fn outgoing_text(round: u32, i: u64) -> String {
    // Varying lengths and non-ASCII text, so torn pages would show.
    format!(
        "round {round} out {i} {}",
        "ünïcödé ✓ ".repeat((i % 40) as usize)
    )
}

fn incoming_text(round: u32, i: u64) -> String {
    format!("round {round} in {i} {}", "x".repeat((i % 300) as usize))
}

/// Writes messages until `limit` (forever when `None`), reporting each
/// acknowledged write on `out`: `ACK id round i`, `IN id round i`, `SENT id`.
fn burst(path: &Path, round: u32, limit: Option<u64>, out: &mut dyn Write) {
    let mut db = Db::open(path).expect("open");
    let mut i = 0u64;
    while limit.is_none_or(|l| i < l) {
        let id = db
            .insert_outgoing("work", &peer(i), &outgoing_text(round, i), i as i64)
            .expect("insert_outgoing");
        writeln!(out, "ACK {id} {round} {i}").expect("stdout");
        out.flush().expect("stdout");
        if i.is_multiple_of(2) {
            db.set_state(id, &MessageState::Sent).expect("set_state");
            writeln!(out, "SENT {id}").expect("stdout");
            out.flush().expect("stdout");
        }
        if i.is_multiple_of(5) {
            let msg = IncomingMessage {
                account: "work".into(),
                peer: peer(i),
                text: incoming_text(round, i),
                at: i as i64,
                call_id: format!("r{round}-{i}@example.com"),
                cseq: 1,
            };
            let id = db.insert_incoming(&msg).expect("insert_incoming").id();
            writeln!(out, "IN {id} {round} {i}").expect("stdout");
            out.flush().expect("stdout");
        }
        i += 1;
    }
}

/// What the child reported.
#[derive(Default)]
struct Acked {
    /// Message id to the text it must have.
    texts: BTreeMap<i64, String>,
    /// Ids reported as set to `sent`.
    sent: BTreeSet<i64>,
}

impl Acked {
    /// Records one complete report line; returns true for an `ACK`.
    fn record(&mut self, line: &str) -> bool {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f[..] {
            [kind @ ("ACK" | "IN"), id, round, i] => {
                let (id, round, i) = (
                    id.parse().unwrap(),
                    round.parse().unwrap(),
                    i.parse().unwrap(),
                );
                let text = if kind == "ACK" {
                    outgoing_text(round, i)
                } else {
                    incoming_text(round, i)
                };
                assert!(
                    self.texts.insert(id, text).is_none(),
                    "id {id} reported twice"
                );
                kind == "ACK"
            }
            ["SENT", id] => {
                self.sent.insert(id.parse().unwrap());
                false
            }
            _ => false, // the test harness's own lines
        }
    }

    fn verify(&self, db: &Db) {
        for (&id, text) in &self.texts {
            let m = db
                .message(MessageId(id))
                .unwrap_or_else(|e| panic!("acknowledged message {id} lost: {e}"));
            assert_eq!(&m.text, text, "message {id} damaged");
        }
        for &id in &self.sent {
            assert_eq!(
                db.message(MessageId(id)).unwrap().state,
                MessageState::Sent,
                "state of {id}"
            );
        }
    }
}

/// The child half: runs only when the parent sets [`DB_ENV`]; run alone it
/// does a short burst and checks it, so it is a real test either way.
#[test]
fn kill9_writer() {
    if let Some(path) = std::env::var_os(DB_ENV) {
        let round = std::env::var(ROUND_ENV)
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        // Straight to the file descriptor: the harness does not capture it.
        burst(Path::new(&path), round, None, &mut std::io::stdout());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parley.db");
    let mut report = Vec::new();
    burst(&path, 0, Some(20), &mut report);
    let mut acked = Acked::default();
    let acks = String::from_utf8(report)
        .unwrap()
        .lines()
        .filter(|l| acked.record(l))
        .count();
    assert_eq!(acks, 20);
    acked.verify(&Db::open(&path).unwrap());
}

#[test]
fn kill_9_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parley.db");
    let exe = std::env::current_exe().unwrap();
    let mut acked = Acked::default();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["kill9_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(DB_ENV, &path)
            .env(ROUND_ENV, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // Kill at a different point of the burst each round.
        let kill_after = 100 + 37 * u64::from(round);
        let mut acks = 0;
        let mut line = Vec::new();
        let mut killed = false;
        loop {
            line.clear();
            let n = out.read_until(b'\n', &mut line).unwrap();
            // EOF, or a line cut short by the kill: not acknowledged.
            if n == 0 || !line.ends_with(b"\n") {
                break;
            }
            if acked.record(std::str::from_utf8(&line).unwrap()) {
                acks += 1;
            }
            if acks == kill_after && !killed {
                // SIGKILL on Unix: no destructor, no flush, no checkpoint.
                child.kill().unwrap();
                killed = true;
            }
        }
        let status = child.wait().unwrap();
        assert!(
            killed,
            "child ended by itself after {acks} acks: {status:?}"
        );
        assert!(!status.success());
        assert!(acks >= kill_after);
        eprintln!(
            "round {round}: killed after {kill_after} acks, {acks} read, {} messages verified",
            acked.texts.len()
        );

        let db = Db::open(&path).unwrap();
        db.check_integrity().unwrap();
        acked.verify(&db);
        // The search index survived too: every 10th acknowledged message
        // is found by its own words.
        for (&id, text) in acked.texts.iter().step_by(10) {
            let hits = db.search(text, 1000).unwrap();
            assert!(
                hits.iter().any(|m| m.id.0 == id),
                "message {id} not in the index"
            );
        }
    }
}

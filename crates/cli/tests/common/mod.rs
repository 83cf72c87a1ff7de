//! What the `parley-cli` process tests share: running the binary on a
//! config/data dir of its own, and a `run` in the background whose JSON
//! events are read line by line.
// Each test binary uses a part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) fn cli_cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley-cli"));
    c.arg("--config-dir")
        .arg(dir.join("config"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--json")
        .env("PARLEY_LOG", "ua=debug");
    c
}

pub(crate) fn cli(dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut c = cli_cmd(dir);
    c.args(args);
    if let Some(p) = password {
        c.env("PARLEY_PASSWORD", p);
    }
    c.output().expect("run parley-cli")
}

/// A `parley-cli run` in the background: events as JSON values, commands
/// on its stdin; killed on drop.
pub(crate) struct Running {
    child: Child,
    stdin: ChildStdin,
    pub(crate) events: mpsc::Receiver<Value>,
    pub(crate) seen: Vec<Value>,
}

impl Running {
    pub(crate) fn start(dir: &Path, args: &[&str], password: Option<&str>) -> Self {
        let mut c = cli_cmd(dir);
        c.arg("run").args(args);
        if let Some(p) = password {
            c.env("PARLEY_PASSWORD", p);
        }
        let log = std::fs::File::create(dir.join("run.err")).unwrap();
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn parley-cli run");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Self {
            child,
            stdin,
            events,
            seen: Vec::new(),
        }
    }

    pub(crate) fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// An event matching `pred` seen already, or the next one to come.
    pub(crate) fn seen_or_wait(
        &mut self,
        what: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        self.wait(what, within, pred)
    }

    /// Waits for an event matching `pred`; panics with what was seen.
    pub(crate) fn wait(
        &mut self,
        what: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within {within:?}; saw: {:#?}", self.seen),
            }
        }
    }

    pub(crate) fn saw(&self, pred: impl Fn(&Value) -> bool) -> bool {
        self.seen.iter().any(pred)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn event(v: &Value) -> &str {
    v["event"].as_str().unwrap_or("")
}

pub(crate) fn call_state(v: &Value, state: &str) -> bool {
    event(v) == "call_state" && v["call"]["state"] == state
}

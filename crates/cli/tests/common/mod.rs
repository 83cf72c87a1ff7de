//! What the `parley-cli` process tests share: running the binary on a
//! config/data dir of its own, and a `run` in the background whose JSON
//! events are read line by line.
// Each test binary uses a part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use parley_interop::Kamailio;
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

/// A mono 16-bit 48 kHz WAV of a sine.
pub(crate) fn tone(path: &Path, hz: f64, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (48_000.0 * secs) as usize;
    for i in 0..n {
        let s = (2.0 * std::f64::consts::PI * hz * i as f64 / 48_000.0).sin() * 8000.0;
        w.write_sample(s as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// A WAV's samples as mono (the mean of its channels: baresip dumps Opus
/// as stereo) and its rate.
pub(crate) fn mono(path: &Path) -> (f64, Vec<f64>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = f64::from(r.spec().sample_rate);
    let ch = usize::from(r.spec().channels.max(1));
    let all: Vec<f64> = r
        .samples::<i16>()
        .map(|s| f64::from(s.unwrap_or(0)))
        .collect();
    (
        rate,
        all.chunks(ch)
            .map(|c| c.iter().sum::<f64>() / ch as f64)
            .collect(),
    )
}

/// Share of the signal's energy at `hz`, over the middle second of the
/// recording. Goertzel runs on 50 ms blocks and the block powers are
/// summed: the receiver's jitter buffer may stretch or shorten a frame
/// by a few samples to follow clock drift, which shifts the tone's phase
/// between blocks. A single 1 s Goertzel window would read that as the
/// tone vanishing although every block still carries it.
pub(crate) fn tone_share(path: &Path, hz: f64) -> f64 {
    let (rate, all) = mono(path);
    assert!(
        all.len() as f64 > rate * 1.5,
        "recording too short: {} samples",
        all.len()
    );
    let start = all.len() / 2 - (rate as usize) / 2;
    share(&all[start..start + rate as usize], rate, hz)
}

/// Share of `x`'s energy at `hz` (see [`tone_share`]).
pub(crate) fn share(x: &[f64], rate: f64, hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / rate;
    let block = (rate / 20.0) as usize;
    let (mut power, mut energy) = (0.0, 0.0);
    for b in x.chunks_exact(block) {
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in b {
            let s = v + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        // Goertzel power of a pure tone is energy * N / 2.
        power += (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (block as f64 / 2.0);
        energy += b.iter().map(|v| v * v).sum::<f64>();
    }
    if energy == 0.0 {
        return 0.0;
    }
    power / energy
}

pub(crate) fn add_alice(dir: &Path, kam: &Kamailio) {
    add_alice_with(dir, &format!("sip:127.0.0.1:{}", kam.port), &[]);
}

/// Adds the account "work", alice at 127.0.0.1 behind `proxy`, with the
/// `extra` flags of `account add`.
pub(crate) fn add_alice_with(dir: &Path, proxy: &str, extra: &[&str]) {
    let mut args = vec![
        "account",
        "add",
        "work",
        "--uri",
        "sip:alice@127.0.0.1",
        "--display-name",
        "Alice",
        "--proxy",
        proxy,
    ];
    args.extend_from_slice(extra);
    let add = cli(dir, &args, None);
    assert!(add.status.success(), "{add:?}");
}

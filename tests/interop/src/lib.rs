//! Real SIP peers for Parley's integration tests: Kamailio (registrar,
//! proxy, presence server), SIPp and baresip, each started on loopback
//! ports of its own in a temporary directory and stopped when its handle
//! drops, also when a test fails or panics.
//!
//! Every process runs in its own process group, and the whole group is
//! killed on drop, so Kamailio's worker children never outlive a test.
//!
//! Tests never share ports: [`free_port`] hands out ports the OS reports
//! free for both UDP and TCP (and the next one, for baresip's TLS).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The test users Kamailio knows, with their digest passwords.
pub const USERS: [(&str, &str); 3] = [
    ("alice", "alice123"),
    ("bob", "bob123"),
    ("carol", "carol123"),
];

/// Errors of the harness. Each names the peer and where its log is.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A peer's program is not installed.
    #[error("{program} not found: install the test peers (scripts/test.sh does)")]
    NotInstalled {
        /// The missing program.
        program: &'static str,
    },
    /// Starting or talking to a peer failed at the OS level.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A peer did not come up or exited early.
    #[error("{peer} failed: {problem}; log: {log}")]
    Peer {
        /// Which peer.
        peer: &'static str,
        /// What went wrong.
        problem: String,
        /// Its log file.
        log: PathBuf,
    },
    /// A peer did not do what the test waited for in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}

type Result<T> = std::result::Result<T, HarnessError>;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

/// The directory holding the harness's config files (kamailio/, sipp/, ...).
pub fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn require(program: &'static str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(HarnessError::NotInstalled { program })
    }
}

/// A loopback port free for UDP and TCP, and the `span - 1` after it
/// (SIPp's media port takes itself and +2, baresip's SIP port +1). Ports come from a per-process counter in a range that differs
/// by PID, then are checked by binding, so parallel tests do not collide.
pub fn free_port(span: u16) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 200) as u16 * 100;
    loop {
        let offset = NEXT.fetch_add(span, Ordering::Relaxed) % 9_000;
        let port = base.wrapping_add(offset).max(20_000);
        if port > 60_000 {
            continue;
        }
        if (0..span).all(|i| port_is_free(port + i)) {
            return port;
        }
    }
}

/// Whether something is bound to `port` (UDP) or listening on it (TCP),
/// read from /proc: probing by binding or connecting would race with, or
/// be mistaken by, the peer starting up.
fn listening(port: u16, tcp: bool) -> bool {
    let table = if tcp {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    };
    let needle = format!(":{port:04X} ");
    std::fs::read_to_string(table)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1)
                .is_some_and(|local| format!("{local} ").ends_with(&needle))
                && (!tcp || cols.get(3) == Some(&"0A"))
        })
}

fn port_is_free(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok()
}

/// A spawned peer: killed with its whole process group on drop.
struct Proc {
    child: Child,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let out = std::fs::File::create(log).map_err(io(format!("create {}", log.display())))?;
        let err = out.try_clone().map_err(io("dup log"))?;
        let child = cmd
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(io(format!("spawn {name}")))?;
        Ok(Self { child })
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn signal_group(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.signal_group("-TERM");
            let deadline = Instant::now() + Duration::from_secs(3);
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Children may outlive the leader; always sweep the group.
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if ok()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout(timeout, what.to_owned()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Options for [`Kamailio::start`].
#[derive(Debug, Clone, Default)]
pub struct KamailioOptions {
    /// Also listen for TLS on the next port, with a self-signed certificate.
    pub tls: bool,
    /// Log every request (debug level 3).
    pub debug: bool,
    /// Dialog-info without Call-ID and tags (a server hiding them), and
    /// `**<user>` routed to user `carol` (a pickup service).
    pub pickup_code: bool,
}

/// A running Kamailio: registrar + proxy + presence server, users
/// alice/bob/carol (see [`USERS`]), domain `127.0.0.1`.
pub struct Kamailio {
    proc: Option<Proc>,
    opts: KamailioOptions,
    /// UDP and TCP port.
    pub port: u16,
    /// TLS port, when started with TLS.
    pub tls_port: Option<u16>,
    /// Its temporary directory (config, DB, log, certificates).
    pub dir: tempfile::TempDir,
}

impl Kamailio {
    /// Starts Kamailio and waits until it accepts requests.
    pub fn start(opts: KamailioOptions) -> Result<Self> {
        require("kamailio")?;
        require("sqlite3")?;
        let dir = tempfile::Builder::new()
            .prefix("parley-kamailio-")
            .tempdir()
            .map_err(io("tempdir"))?;
        let d = dir.path();
        let port = free_port(2);
        init_db(d)?;
        if opts.tls {
            gen_cert(d)?;
        }
        let proc = Self::spawn(d, port, &opts)?;
        Ok(Self {
            proc: Some(proc),
            port,
            tls_port: opts.tls.then_some(port + 1),
            opts,
            dir,
        })
    }

    /// Kills Kamailio (SIGKILL: no goodbyes, its in-memory registrations
    /// are lost, as in a crash).
    pub fn kill(&mut self) {
        if let Some(p) = self.proc.take() {
            p.signal_group("-KILL");
            drop(p);
        }
    }

    /// Starts Kamailio again on the same ports and directory.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.proc = Some(Self::spawn(self.dir.path(), self.port, &self.opts)?);
        Ok(())
    }

    fn spawn(d: &Path, port: u16, opts: &KamailioOptions) -> Result<Proc> {
        let tls_port = port + 1;
        // Keep earlier runs' logs (a restart appends a new file).
        let mut log = d.join("kamailio.log");
        let mut n = 1;
        while log.exists() {
            n += 1;
            log = d.join(format!("kamailio.{n}.log"));
        }
        let cfg = harness_dir().join("kamailio/kamailio.cfg");
        let mut cmd = Command::new("kamailio");
        cmd.arg("-f").arg(&cfg).arg("-Y").arg(d).arg("-w").arg(d);
        cmd.args(["-m", "64", "-M", "8", "-a", "no", "-DD", "-E"]);
        let define = |k: &str, v: String| ["-A".to_owned(), format!("{k}={v}")];
        let p = |s: &Path| s.display().to_string();
        for (k, v) in [
            ("SIP_IP", "127.0.0.1".to_owned()),
            ("SIP_PORT", port.to_string()),
            ("TLS_PORT", tls_port.to_string()),
            (
                "DBURL",
                format!("\"sqlite:///{}\"", p(&d.join("kamailio.sqlite"))),
            ),
            ("PRESDBURL", format!("\"text://{}\"", p(&d.join("dbtext")))),
            (
                "CTL_SOCK",
                format!("\"unix:{}\"", p(&d.join("kamailio_ctl"))),
            ),
            (
                "RPC_FIFO",
                format!("\"{}\"", p(&d.join("kamailio_rpc.fifo"))),
            ),
            ("TLS_CERT", format!("\"{}\"", p(&d.join("tls/cert.pem")))),
            ("TLS_KEY", format!("\"{}\"", p(&d.join("tls/key.pem")))),
            ("PRESENCE_URI", format!("\"sip:127.0.0.1:{port}\"")),
        ] {
            cmd.args(define(k, v));
        }
        if opts.tls {
            cmd.args(["-A", "WITH_TLS"]);
        }
        if opts.debug {
            cmd.args(["-A", "WITH_DEBUG"]);
        }
        if opts.pickup_code {
            cmd.args(["-A", "WITH_HIDDEN_DIALOGS", "-A", "WITH_PICKUP_CODE"]);
        }
        cmd.stdin(Stdio::null());
        let mut proc = Proc::spawn("kamailio", &mut cmd, &log)?;
        let up = wait_until("kamailio to listen", Duration::from_secs(10), || {
            if let Some(status) = proc.exited() {
                return Err(HarnessError::Peer {
                    peer: "kamailio",
                    problem: format!("exited with {status}"),
                    log: log.clone(),
                });
            }
            Ok(answers_options(port))
        });
        if let Err(e) = up {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!(
                "kamailio log:\n{}",
                tail.lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            return Err(e);
        }
        Ok(proc)
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Runs a `kamcmd` RPC (e.g. `ul.dump`) and returns its output.
    pub fn rpc(&self, args: &[&str]) -> Result<String> {
        let sock = format!("unix:{}", self.dir.path().join("kamailio_ctl").display());
        let out = Command::new("kamcmd")
            .arg("-s")
            .arg(sock)
            .args(args)
            .output()
            .map_err(io("kamcmd"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether `user` has a registered contact.
    pub fn is_registered(&self, user: &str) -> Result<bool> {
        Ok(self
            .rpc(&["ul.lookup", "location", user])?
            .contains("Contact"))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(|p| p.exited().is_none())
    }
}

/// Whether a SIP server on `port` answers an OPTIONS ping over UDP: the
/// readiness check, since a bound socket alone does not mean its workers
/// are up.
fn answers_options(port: u16) -> bool {
    let Ok(sock) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
        return false;
    };
    let Ok(local) = sock.local_addr() else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let ping = format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ready-{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:ready@{local}>;tag=ready\r\nTo: <sip:127.0.0.1:{port}>\r\n\
         Call-ID: ready-{n}@harness\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        n = local.port()
    );
    if sock
        .send_to(ping.as_bytes(), (Ipv4Addr::LOCALHOST, port))
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 2048];
    matches!(sock.recv(&mut buf), Ok(n) if buf[..n].starts_with(b"SIP/2.0 200"))
}

fn init_db(d: &Path) -> Result<()> {
    let schema = Path::new("/usr/share/kamailio/db_sqlite");
    let mut sql = String::new();
    for f in ["standard-create.sql", "auth_db-create.sql"] {
        sql += &std::fs::read_to_string(schema.join(f))
            .map_err(io(format!("read {f} (kamailio-sqlite-modules)")))?;
    }
    for (u, pw) in USERS {
        sql += &format!("INSERT INTO subscriber (username,domain,password) VALUES ('{u}','127.0.0.1','{pw}');\n");
    }
    // WAL: Kamailio's processes read concurrently without "database is locked".
    sql += "PRAGMA journal_mode=WAL;\n";
    let mut child = Command::new("sqlite3")
        .arg(d.join("kamailio.sqlite"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(io("sqlite3"))?;
    child
        .stdin
        .take()
        .map(|mut s| s.write_all(sql.as_bytes()))
        .transpose()
        .map_err(io("sqlite3 stdin"))?;
    let status = child.wait().map_err(io("sqlite3"))?;
    if !status.success() {
        return Err(HarnessError::Peer {
            peer: "sqlite3",
            problem: format!("exited with {status}"),
            log: d.to_owned(),
        });
    }
    let dbtext = d.join("dbtext");
    std::fs::create_dir_all(&dbtext).map_err(io("mkdir dbtext"))?;
    for t in [
        "version",
        "presentity",
        "active_watchers",
        "watchers",
        "xcap",
        "pua",
    ] {
        std::fs::copy(
            Path::new("/usr/share/kamailio/dbtext/kamailio").join(t),
            dbtext.join(t),
        )
        .map_err(io(format!("copy dbtext table {t}")))?;
    }
    Ok(())
}

/// A self-signed CA and a server certificate for 127.0.0.1, in `d/tls/`:
/// `ca.pem` (for clients to trust), `cert.pem` and `key.pem`.
pub fn gen_cert(d: &Path) -> Result<()> {
    require("openssl")?;
    let t = d.join("tls");
    std::fs::create_dir_all(&t).map_err(io("mkdir tls"))?;
    let run = |args: &[&str]| -> Result<()> {
        let out = Command::new("openssl")
            .current_dir(&t)
            .args(args)
            .output()
            .map_err(io("openssl"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(HarnessError::Peer {
                peer: "openssl",
                problem: String::from_utf8_lossy(&out.stderr).into_owned(),
                log: t.clone(),
            })
        }
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Parley test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ])?;
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
    ])?;
    std::fs::write(
        t.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .map_err(io("write ext.cnf"))?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ])
}

/// The outcome of one SIPp run.
#[derive(Debug)]
pub struct SippRun {
    /// SIPp's exit status (0: the scenario passed).
    pub status: ExitStatus,
    /// Where its `.msg`, `.err`, `.log` and `.out` files are.
    pub dir: PathBuf,
    /// The scenario name.
    pub name: String,
}

impl SippRun {
    /// Whether the scenario passed.
    pub fn passed(&self) -> bool {
        self.status.success()
    }

    /// One of SIPp's trace files, e.g. `msg` for all SIP messages.
    pub fn trace(&self, ext: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.{ext}", self.name))).unwrap_or_default()
    }
}

/// SIPp with the harness's scenarios (`tests/interop/sipp/*.xml`).
pub struct Sipp {
    scenario: String,
    remote: Option<SocketAddr>,
    args: Vec<String>,
    timeout: Duration,
    port: Option<u16>,
    tcp: bool,
}

impl Sipp {
    /// A run of `scenario` (a name from `sipp/` without `.xml`).
    pub fn scenario(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            remote: None,
            args: Vec::new(),
            timeout: Duration::from_secs(30),
            port: None,
            tcp: false,
        }
    }

    /// The peer to send to.
    pub fn remote(mut self, addr: SocketAddr) -> Self {
        self.remote = Some(addr);
        self
    }

    /// Extra SIPp arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Credentials of a test user (`-inf users/<user>.csv`).
    pub fn user(self, user: &str) -> Self {
        let csv = harness_dir().join(format!("sipp/users/{user}.csv"));
        self.args(["-inf".to_owned(), csv.display().to_string()])
    }

    /// Overall timeout (default 30 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Listen on this port (default: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Use TCP instead of UDP (`-t t1`).
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    /// Runs the scenario once to completion in `out_dir`.
    pub fn run(self, out_dir: &Path) -> Result<SippRun> {
        self.start(out_dir)?.wait()
    }

    /// Starts the scenario in `out_dir` and returns at once; for a SIPp
    /// UAS that must be listening before the test sends to it.
    pub fn start(self, out_dir: &Path) -> Result<SippHandle> {
        require("sipp")?;
        let file = harness_dir().join(format!("sipp/{}.xml", self.scenario));
        let name = self.scenario.clone();
        std::fs::create_dir_all(out_dir).map_err(io("mkdir sipp out"))?;
        let mut cmd = Command::new("sipp");
        if let Some(r) = self.remote {
            cmd.arg(r.to_string());
        }
        let port = self.port.unwrap_or_else(|| free_port(1)).to_string();
        cmd.current_dir(out_dir)
            .arg("-sf")
            .arg(&file)
            .args([
                "-i",
                "127.0.0.1",
                "-mi",
                "127.0.0.1",
                "-m",
                "1",
                "-nostdin",
                "-p",
                &port,
            ])
            .args(["-t", if self.tcp { "t1" } else { "u1" }])
            // SIPp's control socket defaults to UDP 8888 on every instance;
            // parallel tests need one each.
            .args(["-cp", &free_port(1).to_string()])
            .args([
                "-timeout",
                &format!("{}s", self.timeout.as_secs()),
                "-timeout_error",
            ])
            .args(["-trace_msg", "-message_file", &format!("{name}.msg")])
            .args(["-trace_err", "-error_file", &format!("{name}.err")])
            .args(["-trace_logs", "-log_file", &format!("{name}.log")])
            .args(&self.args)
            .stdin(Stdio::null());
        let proc = Proc::spawn("sipp", &mut cmd, &out_dir.join(format!("{name}.out")))?;
        // Give SIPp a moment to bind before anyone sends to it.
        let port: u16 = port.parse().unwrap_or(0);
        let _ = wait_until("sipp to bind", Duration::from_secs(3), || {
            Ok(listening(port, self.tcp))
        });
        Ok(SippHandle {
            proc,
            dir: out_dir.to_owned(),
            name,
            timeout: self.timeout,
        })
    }
}

/// A SIPp scenario in progress.
pub struct SippHandle {
    proc: Proc,
    dir: PathBuf,
    name: String,
    timeout: Duration,
}

impl SippHandle {
    /// Waits for the scenario to end.
    pub fn wait(mut self) -> Result<SippRun> {
        // SIPp enforces its own -timeout; this is only a backstop.
        let deadline = Instant::now() + self.timeout + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.proc.exited() {
                break s;
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout(
                    self.timeout,
                    format!("sipp {}", self.name),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(SippRun {
            status,
            dir: self.dir.clone(),
            name: self.name.clone(),
        })
    }
}

/// Options for [`Baresip::start`].
#[derive(Debug, Clone)]
pub struct BaresipOptions {
    /// Which test user (alice, bob, carol) it registers as.
    pub user: &'static str,
    /// `audio_codecs` of its account, e.g. `PCMU/8000/1`, `opus/48000/1`.
    pub codecs: String,
    /// `auto`, `manual` or `early`.
    pub answer_mode: &'static str,
    /// Microphone WAV (mono s16 at 48 kHz); silence is generated if unset.
    pub audio_file: Option<PathBuf>,
}

impl BaresipOptions {
    /// Auto-answering `user` with PCMU.
    pub fn new(user: &'static str) -> Self {
        Self {
            user,
            codecs: "PCMU/8000/1".into(),
            answer_mode: "auto",
            audio_file: None,
        }
    }
}

/// A headless baresip registered through a [`Kamailio`], controlled over
/// its ctrl_tcp socket.
pub struct Baresip {
    proc: Proc,
    /// Its SIP port (UDP/TCP; TLS is the next one).
    pub sip_port: u16,
    /// Its ctrl_tcp port.
    pub ctrl_port: u16,
    /// Its directory: config, `baresip.log`, `rec/` recordings.
    pub dir: tempfile::TempDir,
}

impl Baresip {
    /// Writes a config for `opts.user` registering at `kam` and starts baresip.
    pub fn start(kam: &Kamailio, opts: BaresipOptions) -> Result<Self> {
        require("baresip")?;
        let dir = tempfile::Builder::new()
            .prefix("parley-baresip-")
            .tempdir()
            .map_err(io("tempdir"))?;
        let d = dir.path();
        let sip_port = free_port(2);
        let ctrl_port = free_port(1);
        let rtp = free_port(1);
        std::fs::create_dir_all(d.join("rec")).map_err(io("mkdir rec"))?;
        let audio = match &opts.audio_file {
            Some(p) => p.clone(),
            None => {
                let p = d.join("silence.wav");
                write_silence(&p, 48_000, 60)?;
                p
            }
        };
        let template = std::fs::read_to_string(harness_dir().join("baresip/config.template"))
            .map_err(io("read config.template"))?;
        let config = template
            .replace("@SIP_PORT@", &sip_port.to_string())
            .replace("@CTRL_PORT@", &ctrl_port.to_string())
            .replace("@AUDIO_FILE@", &audio.display().to_string())
            .replace("@SRATE@", "48000")
            .replace("@RTP_PORTS@", &format!("{rtp}-{}", rtp + 40))
            .replace("@REC_DIR@", &d.join("rec").display().to_string());
        std::fs::write(d.join("config"), config).map_err(io("write baresip config"))?;
        let pw = USERS
            .iter()
            .find(|(u, _)| *u == opts.user)
            .map(|(_, p)| *p)
            .unwrap_or("");
        let account = format!(
            "<sip:{u}@127.0.0.1>;auth_pass={pw};outbound=\"sip:127.0.0.1:{kp}\";answermode={am};regint=600;pubint=60;mwi=no;audio_codecs={c}\n",
            u = opts.user,
            kp = kam.port,
            am = opts.answer_mode,
            c = opts.codecs
        );
        std::fs::write(d.join("accounts"), account).map_err(io("write accounts"))?;
        let contacts: String = USERS
            .iter()
            .filter(|(u, _)| *u != opts.user)
            .map(|(u, _)| format!("\"{u}\" <sip:{u}@127.0.0.1>;presence=p2p\n"))
            .collect();
        std::fs::write(d.join("contacts"), contacts).map_err(io("write contacts"))?;
        // stdio needs a pollable stdin that never hits EOF: a FIFO we hold open.
        let fifo = d.join("stdin.fifo");
        let st = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .map_err(io("mkfifo"))?;
        if !st.success() {
            return Err(HarnessError::Peer {
                peer: "mkfifo",
                problem: st.to_string(),
                log: fifo,
            });
        }
        let stdin = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .map_err(io("open fifo"))?;
        let log = d.join("baresip.log");
        let mut cmd = Command::new("baresip");
        cmd.arg("-f").arg(d).stdin(stdin);
        let mut proc = Proc::spawn("baresip", &mut cmd, &log)?;
        wait_until("baresip ctrl_tcp", Duration::from_secs(10), || {
            if let Some(status) = proc.exited() {
                return Err(HarnessError::Peer {
                    peer: "baresip",
                    problem: format!("exited with {status}"),
                    log: log.clone(),
                });
            }
            Ok(TcpStream::connect(("127.0.0.1", ctrl_port)).is_ok())
        })?;
        Ok(Self {
            proc,
            sip_port,
            ctrl_port,
            dir,
        })
    }

    /// Sends a ctrl_tcp command (e.g. `reginfo`, `dial sip:..`) and returns
    /// the response's `data` text.
    pub fn command(&self, command: &str, params: &str) -> Result<String> {
        let mut ctrl = Ctrl::connect(self.ctrl_port)?;
        ctrl.send(command, params)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(msg) = ctrl.recv(Duration::from_millis(200))? {
                if msg.contains("\"response\":true") {
                    return Ok(msg);
                }
            }
        }
        Err(HarnessError::Timeout(
            Duration::from_secs(5),
            format!("baresip response to {command}"),
        ))
    }

    /// Waits until baresip reports being registered.
    pub fn wait_registered(&self, timeout: Duration) -> Result<()> {
        wait_until("baresip registration", timeout, || {
            Ok(self.command("reginfo", "")?.contains("OK"))
        })
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.exited().is_none()
    }
}

/// A client for baresip's ctrl_tcp: JSON objects framed as netstrings.
struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Ctrl {
    fn connect(port: u16) -> Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(io("connect ctrl_tcp"))?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, command: &str, params: &str) -> Result<()> {
        let json = format!(
            "{{\"command\":{},\"params\":{},\"token\":\"parley\"}}",
            json_str(command),
            json_str(params)
        );
        let frame = format!("{}:{json},", json.len());
        self.stream
            .write_all(frame.as_bytes())
            .map_err(io("write ctrl_tcp"))
    }

    fn recv(&mut self, timeout: Duration) -> Result<Option<String>> {
        loop {
            if let Some(colon) = self.buf.iter().position(|&b| b == b':') {
                let len: usize = std::str::from_utf8(&self.buf[..colon])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(usize::MAX);
                if len != usize::MAX && self.buf.len() >= colon + len + 2 {
                    let msg =
                        String::from_utf8_lossy(&self.buf[colon + 1..colon + 1 + len]).into_owned();
                    self.buf.drain(..colon + len + 2);
                    return Ok(Some(msg));
                }
            }
            self.stream
                .set_read_timeout(Some(timeout))
                .map_err(io("ctrl timeout"))?;
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(io("read ctrl_tcp")(e)),
            }
        }
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `secs` seconds of silence as a mono 16-bit WAV.
pub fn write_silence(path: &Path, rate: u32, secs: u32) -> Result<()> {
    let samples = rate * secs;
    let data_len = samples * 2;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    w.resize(44 + data_len as usize, 0);
    std::fs::write(path, w).map_err(io(format!("write {}", path.display())))
}

/// Lines of a log that match `needle`, for assertions with context.
pub fn grep(text: &str, needle: &str) -> Vec<String> {
    BufReader::new(text.as_bytes())
        .lines()
        .map_while(std::result::Result::ok)
        .filter(|l| l.contains(needle))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_differ_and_are_bindable() {
        let a = free_port(2);
        let b = free_port(2);
        assert_ne!(a, b);
        assert!(port_is_free(a) && port_is_free(a + 1));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}

/// Which way a datagram crosses a [`UdpRelay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client (whoever sent to the relay) to the upstream peer.
    ToUpstream,
    /// From the upstream peer back to the client.
    ToClient,
}

/// A UDP relay between one client and an upstream peer that can drop
/// chosen datagrams: deterministic loss for tests (this kernel has no
/// netem). The client is whoever last sent to the relay from elsewhere.
pub struct UdpRelay {
    /// Where clients send.
    pub addr: SocketAddr,
    /// What was dropped, as (direction, first line).
    pub dropped: std::sync::Arc<std::sync::Mutex<Vec<(Direction, String)>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UdpRelay {
    /// Relays to `upstream`, dropping each datagram for which `drop`
    /// returns true.
    pub fn start(
        upstream: SocketAddr,
        mut drop: impl FnMut(Direction, &[u8]) -> bool + Send + 'static,
    ) -> Result<Self> {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("bind relay"))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(io("relay timeout"))?;
        let addr = sock.local_addr().map_err(io("relay addr"))?;
        let dropped = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, halt) = (dropped.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut client: Option<SocketAddr> = None;
            let mut buf = vec![0u8; 65_536];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let (dir, to) = if from == upstream {
                    match client {
                        Some(c) => (Direction::ToClient, c),
                        None => continue,
                    }
                } else {
                    client = Some(from);
                    (Direction::ToUpstream, upstream)
                };
                let data = &buf[..n];
                if drop(dir, data) {
                    let first = String::from_utf8_lossy(data)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    log.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((dir, first));
                    continue;
                }
                let _ = sock.send_to(data, to);
            }
        });
        Ok(Self {
            addr,
            dropped,
            stop,
            thread: Some(thread),
        })
    }

    /// A drop rule: the first datagram each way whose first line starts
    /// with the given prefix.
    pub fn drop_first(
        to_upstream: &'static str,
        to_client: &'static str,
    ) -> impl FnMut(Direction, &[u8]) -> bool + Send + 'static {
        let (mut up_done, mut down_done) = (false, false);
        move |dir, data| {
            let (done, prefix) = match dir {
                Direction::ToUpstream => (&mut up_done, to_upstream),
                Direction::ToClient => (&mut down_done, to_client),
            };
            if !*done && data.starts_with(prefix.as_bytes()) {
                *done = true;
                true
            } else {
                false
            }
        }
    }

    /// The datagrams dropped so far.
    pub fn dropped(&self) -> Vec<(Direction, String)> {
        self.dropped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

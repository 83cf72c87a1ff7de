//! Keeping an account registered: one task per account drives the sans-IO
//! [`sip_core::Registration`] through the [`Endpoint`], resolves the
//! registrar (or the outbound proxy) with RFC 3263, and reports every
//! change as an engine [`Event::Registration`].
//!
//! The password is held by the task only as long as the registration
//! runs; it never goes into events, logs or errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sip_core::{Credential, Registration, RegistrationConfig, RegistrationEvent};
use sip_message::Uri;
use store::AccountConfig;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, info};

use crate::api::{Event, RegistrationState};
use crate::dns::{Destination, SipResolver};
use crate::endpoint::{Endpoint, Flow};
use crate::transport::Proto;

/// Registration states by account name, shared with the engine's status.
pub(crate) type States = Arc<Mutex<HashMap<String, RegistrationState>>>;

/// Errors starting a registration.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The account's URIs do not parse.
    #[error("account {account:?}: invalid {what}: {value:?}")]
    BadUri {
        /// Account name.
        account: String,
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: String,
    },
    /// The account has no password in the keyring and none was given.
    #[error("account {0:?} has no password: store one with `account add --password-stdin` or set PARLEY_PASSWORD")]
    NoPassword(String),
}

/// Stops a running registration.
pub(crate) struct RegistrationHandle {
    stop: mpsc::Sender<oneshot::Sender<()>>,
    kick: mpsc::Sender<()>,
}

impl RegistrationHandle {
    /// The network changed (address, interface, resume from sleep):
    /// register again now, from our current address.
    pub(crate) fn network_changed(&self) {
        let _ = self.kick.try_send(());
    }

    /// Unregisters and waits until the binding is gone (or the attempt to
    /// remove it ended).
    pub(crate) async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.stop.send(tx).await.is_ok() {
            let _ = rx.await;
        }
    }
}

pub(crate) fn destination(uri: &Uri, transport: store::Transport) -> Option<Destination> {
    let Uri::Sip(s) = uri else { return None };
    let host = match &s.host {
        sip_message::Host::Ipv6(ip) => ip.to_string(),
        other => other.to_string(),
    };
    let explicit = s
        .params
        .get("transport")
        .flatten()
        .map(|t| t.to_ascii_lowercase());
    let proto = match explicit.as_deref() {
        Some("tcp") => Some(Proto::Tcp),
        Some("tls") => Some(Proto::Tls),
        Some("udp") => Some(Proto::Udp),
        _ => match transport {
            store::Transport::Udp => None,
            store::Transport::Tcp => Some(Proto::Tcp),
            store::Transport::Tls => Some(Proto::Tls),
        },
    };
    Some(Destination {
        host,
        port: s.port,
        transport: proto,
        secure: s.secure,
    })
}

/// Starts registering `account`; events go to `events`, states to `states`.
// Each argument is a separate piece of the engine's state; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn(
    endpoint: Endpoint,
    resolver: SipResolver,
    account: &AccountConfig,
    password: String,
    events: broadcast::Sender<Event>,
    states: States,
    keep_alive: Option<Duration>,
    instance: Option<String>,
) -> Result<RegistrationHandle, RegisterError> {
    let bad = |what, value: &str| RegisterError::BadUri {
        account: account.name.clone(),
        what,
        value: value.to_owned(),
    };
    let aor: Uri = account
        .uri
        .parse()
        .map_err(|_| bad("address", &account.uri))?;
    let Uri::Sip(aor_sip) = &aor else {
        return Err(bad("address", &account.uri));
    };
    let user = aor_sip.user.clone().unwrap_or_default();
    let registrar = format!(
        "{}:{}",
        if aor_sip.secure { "sips" } else { "sip" },
        aor_sip.host
    );
    let next_hop: Uri = match &account.proxy {
        Some(p) => p.parse().map_err(|_| bad("proxy", p))?,
        None => registrar
            .parse()
            .map_err(|_| bad("registrar", &registrar))?,
    };
    let dest = destination(&next_hop, account.transport)
        .ok_or_else(|| bad("proxy", &next_hop.to_string()))?;
    let name = account.name.clone();
    let auth_user = account.auth_user.clone().unwrap_or_else(|| user.clone());
    let realm = account.realm.clone();
    let expires = account.expires;
    // 0 means off, like unset.
    let options_every = account
        .options_keepalive_secs
        .filter(|&s| s > 0)
        .map(|s| Duration::from_secs(u64::from(s)));
    let aor_text = account.uri.clone();
    let (stop_tx, stop_rx) = mpsc::channel(1);
    let (kick_tx, kick_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let creds = [Credential {
            realm: realm.as_deref(),
            username: &auth_user,
            password: &password,
        }];
        let publish = |state: RegistrationState| {
            states
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(name.clone(), state.clone());
            let _ = events.send(Event::Registration {
                account: name.clone(),
                state,
            });
        };
        publish(RegistrationState::Registering);
        // A lookup that fails (e.g. started before the network is up) is
        // retried with back-off until it works or the account is stopped.
        let mut stop_rx: mpsc::Receiver<oneshot::Sender<()>> = stop_rx;
        let mut backoff = Duration::from_secs(5);
        let targets = loop {
            match resolver.resolve(&dest).await {
                Ok(t) => break t,
                Err(e) => {
                    publish(RegistrationState::Failed {
                        reason: e.to_string(),
                    });
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(Duration::from_secs(300)),
                        cmd = stop_rx.recv() => {
                            publish(RegistrationState::Unregistered);
                            if let Some(done) = cmd {
                                let _ = done.send(());
                            }
                            return;
                        }
                    }
                }
            }
        };
        // RFC 5922: a TLS peer proves the domain we resolved, not its IP.
        if dest.host.parse::<std::net::IpAddr>().is_err() {
            for t in targets.iter().filter(|t| t.proto == Proto::Tls) {
                endpoint.set_tls_domain(t.addr, &dest.host);
            }
        }
        // The first target's until one answers (see `run`).
        let contact = local_contact(&endpoint, &user, &targets[0]);
        let user_for_run = user.clone();
        let config = RegistrationConfig {
            aor: aor_text,
            registrar,
            contact,
            expires,
            // RFC 5626: one stable instance per install, one flow (reg-id 1).
            outbound: instance.map(|i| (i, 1)),
            user_agent: format!("Parley/{}", env!("CARGO_PKG_VERSION")),
            retry_base: Duration::from_secs(30),
        };
        let mut reg = match Registration::new(config, crate::util::os_seed()) {
            Ok(r) => r,
            Err(e) => {
                publish(RegistrationState::Failed {
                    reason: e.to_string(),
                });
                wait_stop(stop_rx).await;
                return;
            }
        };
        run(
            &endpoint,
            &mut reg,
            &targets,
            &creds,
            &user_for_run,
            stop_rx,
            &publish,
            keep_alive,
            options_every,
            kick_rx,
        )
        .await;
        info!("registration task ended");
    });
    Ok(RegistrationHandle {
        stop: stop_tx,
        kick: kick_tx,
    })
}

async fn wait_stop(mut stop: mpsc::Receiver<oneshot::Sender<()>>) {
    if let Some(done) = stop.recv().await {
        let _ = done.send(());
    }
}

/// What the task keeps a registration with, besides the binding itself.
struct Context<'a> {
    endpoint: &'a Endpoint,
    targets: &'a [crate::dns::Target],
    creds: &'a [Credential<'a>],
    user: &'a str,
    /// Fixed RFC 5626 keep-alive interval (tests); `None`: the RFC's.
    keep_alive: Option<Duration>,
    /// The account's OPTIONS keep-alive interval, when turned on.
    options_every: Option<Duration>,
}

// The task's whole context, passed once; a struct would only rename it.
#[allow(clippy::too_many_arguments)]
async fn run(
    endpoint: &Endpoint,
    reg: &mut Registration,
    targets: &[crate::dns::Target],
    creds: &[Credential<'_>],
    user: &str,
    stop: mpsc::Receiver<oneshot::Sender<()>>,
    publish: &impl Fn(RegistrationState),
    keep_alive: Option<Duration>,
    options_every: Option<Duration>,
    kick: mpsc::Receiver<()>,
) {
    let cx = Context {
        endpoint,
        targets,
        creds,
        user,
        keep_alive,
        options_every,
    };
    run_with(&cx, reg, stop, publish, kick).await;
}

async fn run_with(
    cx: &Context<'_>,
    reg: &mut Registration,
    mut stop: mpsc::Receiver<oneshot::Sender<()>>,
    publish: &impl Fn(RegistrationState),
    mut kick: mpsc::Receiver<()>,
) {
    let (endpoint, creds, user) = (cx.endpoint, cx.creds, cx.user);
    reg.start(Instant::now(), creds);
    let mut stopping: Option<oneshot::Sender<()>> = None;
    // RFC 5626 §4.4: the flow the registrar holds our binding on (the
    // target that answered, after any failover, and over TCP/TLS its
    // connection). Keep-alives go on it alone; when it dies the binding
    // is useless and we register again over a new one.
    let mut flow: Option<Flow> = None;
    let mut next_ping: Option<Instant> = None;
    let mut next_options: Option<Instant> = None;
    let mut flow_timer: Option<u32> = None;
    let mut jitter = crate::util::os_seed();
    // While the registrar is unreachable: when to check for its return.
    let mut next_probe: Option<Instant> = None;
    loop {
        'send: while let Some(req) = reg.poll_request() {
            // Refreshes go over the flow we have, then the other targets.
            let request = endpoint.request_on_flow(req, ordered(cx.targets, flow));
            tokio::pin!(request);
            let result = tokio::select! {
                result = &mut request => result,
                // A stop while a REGISTER waits (e.g. on a silent
                // registrar) abandons it and sends the un-REGISTER now.
                cmd = stop.recv(), if stopping.is_none() => {
                    stopping = Some(cmd.unwrap_or_else(|| oneshot::channel().0));
                    reg.stop(Instant::now(), creds);
                    continue 'send;
                }
            };
            match result {
                Ok((resp, answered)) => {
                    next_probe = None;
                    reg.handle_response(Instant::now(), &resp, creds);
                    if !(resp.status.is_success() && reg.is_registered()) {
                        continue;
                    }
                    flow_timer = resp
                        .headers
                        .get("Flow-Timer")
                        .and_then(|v| v.trim().parse().ok());
                    if flow != Some(answered) {
                        debug!(?answered, "registered over a new flow");
                        flow = Some(answered);
                        next_ping = None;
                        next_options = None;
                    }
                    // Our Contact must name the transport (and address)
                    // of the target that answered, which after failover
                    // may not be the first one. RFC 3581: behind NAT the
                    // registrar sees another address than our socket's;
                    // over UDP register that one so requests can reach
                    // us. Over TCP/TLS the source port is the
                    // connection's ephemeral one, useless as a Contact
                    // without RFC 5626 outbound, so only UDP bindings
                    // move. Only after a success, so a challenge or
                    // failure does not move the binding.
                    let target = answered.target;
                    let public = (target.proto == Proto::Udp)
                        .then(|| crate::endpoint::observed_addr(&resp))
                        .flatten();
                    let contact = match public {
                        Some(public) => {
                            let host = match public.ip() {
                                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                                std::net::IpAddr::V4(ip) => ip.to_string(),
                            };
                            contact_uri(user, &host, public.port(), target.proto)
                        }
                        None => local_contact(endpoint, user, &target),
                    };
                    reg.set_contact(Instant::now(), contact, creds);
                }
                Err(e) => {
                    reg.handle_failure(Instant::now(), e.to_string());
                    // The registrar is unreachable (not refusing us):
                    // watch for its return instead of waiting out the
                    // back-off, so we are back within seconds of it.
                    next_probe = Some(Instant::now() + PROBE_EVERY);
                }
            }
        }
        while let Some(ev) = reg.poll_event() {
            debug!(?ev, "registration");
            match ev {
                RegistrationEvent::Registered { expires } => {
                    publish(RegistrationState::Registered {
                        expires_in_s: expires,
                    })
                }
                RegistrationEvent::Failed { reason, .. } => {
                    publish(RegistrationState::Failed { reason })
                }
                RegistrationEvent::Unregistered => {
                    publish(RegistrationState::Unregistered);
                    if let Some(done) = stopping.take() {
                        let _ = done.send(());
                    }
                    return;
                }
            }
        }
        let target = flow.map_or(cx.targets[0], |f| f.target);
        let live = flow.filter(|_| reg.is_registered() && stopping.is_none());
        if live.is_none() {
            next_ping = None;
            next_options = None;
        } else {
            if next_ping.is_none() {
                jitter = jitter
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let every = cx
                    .keep_alive
                    .unwrap_or_else(|| keep_alive_interval(target.proto, flow_timer, jitter));
                next_ping = Some(Instant::now() + every);
            }
            if next_options.is_none() {
                next_options = cx.options_every.map(|every| Instant::now() + every);
            }
        }
        let flow_closed = async {
            match live {
                Some(f) => endpoint.flow_closed(&f).await,
                None => std::future::pending().await,
            }
        };
        let wake = reg.poll_timeout();
        // Set when the flow is found dead: register again over a new one.
        let mut lost: Option<String> = None;
        tokio::select! {
            cmd = stop.recv(), if stopping.is_none() => {
                stopping = Some(cmd.unwrap_or_else(|| oneshot::channel().0));
                reg.stop(Instant::now(), creds);
            }
            () = crate::util::sleep_until(wake) => reg.handle_timeout(Instant::now(), creds),
            Some(()) = kick.recv(), if stopping.is_none() => {
                // Our address may be new: rebuild the Contact from the
                // route to the registrar now, and register at once (a
                // binding to a dead address loses every call).
                info!("network changed; registering again");
                next_probe = None;
                reg.set_contact(Instant::now(), local_contact(endpoint, user, &target), creds);
                reg.start(Instant::now(), creds);
            }
            () = flow_closed => {
                // Over TCP/TLS a registrar that dies (or restarts)
                // closes the connection: nothing reaches us over it now.
                lost = Some("connection closed".to_owned());
            }
            () = crate::util::sleep_until(next_probe), if next_probe.is_some() && stopping.is_none() => {
                next_probe = None;
                let probe = probe(endpoint, reg.options_probe(), &target);
                tokio::pin!(probe);
                tokio::select! {
                    back = &mut probe => if back {
                        info!("registrar reachable again; registering");
                        reg.start(Instant::now(), creds);
                    } else {
                        next_probe = Some(Instant::now() + PROBE_EVERY);
                    },
                    cmd = stop.recv() => {
                        stopping = Some(cmd.unwrap_or_else(|| oneshot::channel().0));
                        reg.stop(Instant::now(), creds);
                    }
                }
            }
            () = crate::util::sleep_until(next_ping), if next_ping.is_some() => {
                next_ping = None;
                let Some(f) = live else { continue };
                let ping = endpoint.keep_alive_flow(&f);
                tokio::pin!(ping);
                tokio::select! {
                    result = &mut ping => if let Err(e) = result {
                        // §4.4.1: no pong (or the connection is gone):
                        // the flow is dead. On UDP a CRLF is not
                        // answered, so an error is only a local one.
                        if f.target.proto.is_reliable() {
                            lost = Some(e.to_string());
                        } else {
                            debug!("keep-alive: {e}");
                        }
                    },
                    cmd = stop.recv() => {
                        stopping = Some(cmd.unwrap_or_else(|| oneshot::channel().0));
                        reg.stop(Instant::now(), creds);
                    }
                }
            }
            () = crate::util::sleep_until(next_options), if next_options.is_some() => {
                next_options = None;
                let Some(f) = live else { continue };
                // The account's OPTIONS keep-alive: the registrar (or
                // proxy) must answer it, which a CRLF on UDP never is.
                // Any response means it is there; none in time (or a
                // transport error) means the flow is dead. A registrar
                // that lost our binding in a restart is found this way
                // only if it stayed away longer than the wait.
                let check = tokio::time::timeout(
                    OPTIONS_ANSWER_WAIT,
                    endpoint.request(reg.options_probe(), vec![f.target]),
                );
                tokio::pin!(check);
                tokio::select! {
                    result = &mut check => match result {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => lost = Some(e.to_string()),
                        Err(_) => lost = Some(format!("no answer to OPTIONS in {OPTIONS_ANSWER_WAIT:?}")),
                    },
                    cmd = stop.recv() => {
                        stopping = Some(cmd.unwrap_or_else(|| oneshot::channel().0));
                        reg.stop(Instant::now(), creds);
                    }
                }
            }
        }
        if let Some(reason) = lost.filter(|_| stopping.is_none() && reg.is_registered()) {
            info!("flow to the registrar lost; registering again");
            debug!("flow lost: {reason}");
            flow = None;
            next_ping = None;
            next_options = None;
            // The binding is useless now: say so, then register over a
            // new flow at once; if that fails, the probe watches for the
            // registrar's return.
            publish(RegistrationState::Failed {
                reason: format!("connection to the registrar lost: {reason}"),
            });
            reg.start(Instant::now(), creds);
        }
    }
}

/// `targets` with the flow's target first (refreshes stay on the flow).
fn ordered(targets: &[crate::dns::Target], flow: Option<Flow>) -> Vec<crate::dns::Target> {
    let mut out = targets.to_vec();
    if let Some(i) = flow.and_then(|f| out.iter().position(|t| *t == f.target)) {
        let first = out.remove(i);
        out.insert(0, first);
    }
    out
}

/// Our Contact for `target` from the local address routed to it.
fn local_contact(endpoint: &Endpoint, user: &str, target: &crate::dns::Target) -> String {
    let via = endpoint.via_for(target);
    contact_uri(
        user,
        &via.host.to_string(),
        via.port.unwrap_or(5060),
        target.proto,
    )
}

/// How long an OPTIONS keep-alive waits for any answer before the flow is
/// taken for dead: as long as a stream keep-alive waits for its pong.
const OPTIONS_ANSWER_WAIT: Duration = crate::transport::PONG_TIMEOUT;

/// How often an unreachable registrar is checked for its return.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Whether the registrar answers again: on streams a new flow that
/// answers a keep-alive ping; on UDP an OPTIONS that gets any response
/// (its retransmissions reach a registrar that comes back meanwhile).
async fn probe(
    endpoint: &Endpoint,
    options: sip_message::Request,
    target: &crate::dns::Target,
) -> bool {
    if target.proto.is_reliable() {
        return endpoint.keep_alive(target).await.is_ok();
    }
    endpoint.request(options, vec![*target]).await.is_ok()
}

/// When to send the next keep-alive (RFC 5626 §4.4.1): on streams at a
/// random 80-100% of the registrar's Flow-Timer, else of 120 s (the
/// RFC's 95-120 s); on UDP every 20-25 s, within common NAT timeouts.
fn keep_alive_interval(proto: Proto, flow_timer: Option<u32>, random: u64) -> Duration {
    let base = match (proto.is_reliable(), flow_timer) {
        (true, Some(secs)) => Duration::from_secs(u64::from(secs.clamp(10, 3600))),
        (true, None) => Duration::from_secs(120),
        (false, _) => Duration::from_secs(25),
    };
    let fraction = 0.8 + 0.2 * ((random >> 11) as f64 / (1u64 << 53) as f64);
    base.mul_f64(fraction)
}

/// Our Contact URI at `host` (an IPv6 address in brackets) and `port`.
fn contact_uri(user: &str, host: &str, port: u16, proto: Proto) -> String {
    format!(
        "sip:{user}@{host}:{port};transport={}",
        proto.via_token().to_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::EndpointConfig;
    use crate::transport::TransportConfig;
    use sip_message::{Message, Request, Response, StatusCode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LOCALHOST: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// A registration of alice through `proxy`, with the given keep-alive.
    async fn register(
        proxy: String,
        transport: store::Transport,
        keep_alive: Option<Duration>,
    ) -> (RegistrationHandle, broadcast::Receiver<Event>) {
        let (endpoint, _net) = Endpoint::start(EndpointConfig {
            transport: TransportConfig {
                pong_timeout: Duration::from_millis(300),
                ..TransportConfig::new(LOCALHOST)
            },
            timers: sip_core::TimerConfig::default(),
        })
        .await
        .unwrap();
        let resolver = SipResolver::system(vec![Proto::Udp, Proto::Tcp]).unwrap();
        let account = AccountConfig {
            proxy: Some(proxy),
            transport,
            ..AccountConfig::new("work", "sip:alice@127.0.0.1")
        };
        let (events, rx) = broadcast::channel(64);
        let handle = spawn(
            endpoint,
            resolver,
            &account,
            "secret".into(),
            events,
            States::default(),
            keep_alive,
            Some("urn:uuid:00000000-0000-4000-8000-000000000001".into()),
        )
        .unwrap();
        (handle, rx)
    }

    async fn state(rx: &mut broadcast::Receiver<Event>) -> RegistrationState {
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("a registration event in time")
                .unwrap();
            if let Event::Registration { state, .. } = ev {
                if state != RegistrationState::Registering {
                    return state;
                }
            }
        }
    }

    /// 200 OK to `req`, with `extra` headers.
    fn ok(req: &Request, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut r = Response::for_request(req, StatusCode::new(200).unwrap());
        for (n, v) in extra {
            r.headers.push(n, v).unwrap();
        }
        Message::Response(r).to_bytes()
    }

    /// One end of a stream to Parley, as a registrar sees it.
    struct StreamPeer {
        s: tokio::net::TcpStream,
        buf: Vec<u8>,
    }

    #[derive(Debug)]
    enum Got {
        Ping,
        Request(Box<Request>),
        Closed,
    }

    impl StreamPeer {
        async fn next(&mut self) -> Got {
            loop {
                if self.buf.starts_with(b"\r\n\r\n") {
                    self.buf.drain(..4);
                    return Got::Ping;
                }
                if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let bytes: Vec<u8> = self.buf.drain(..end + 4).collect();
                    match sip_message::parse(&bytes) {
                        Ok(Message::Request(r)) => return Got::Request(Box::new(r)),
                        other => panic!("not a request: {other:?}"),
                    }
                }
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout(Duration::from_secs(15), self.s.read(&mut chunk))
                    .await
                    .expect("input in time")
                    .unwrap_or(0);
                if n == 0 {
                    return Got::Closed;
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
        }

        async fn register(&mut self) -> Box<Request> {
            match self.next().await {
                Got::Request(r) if r.method == sip_message::Method::Register => r,
                other => panic!("expected a REGISTER, got {other:?}"),
            }
        }
    }

    async fn accept(l: &tokio::net::TcpListener) -> StreamPeer {
        let (s, _) = tokio::time::timeout(Duration::from_secs(5), l.accept())
            .await
            .expect("a connection in time")
            .unwrap();
        StreamPeer { s, buf: Vec::new() }
    }

    /// A registrar's TCP listener on loopback, and the proxy URI for it.
    async fn tcp_registrar() -> (tokio::net::TcpListener, String) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = format!("sip:{};transport=tcp", l.local_addr().unwrap());
        (l, proxy)
    }

    /// The next connection from Parley, and the REGISTER that opens it.
    async fn accept_register(l: &tokio::net::TcpListener) -> (StreamPeer, Box<Request>) {
        let mut peer = accept(l).await;
        let req = peer.register().await;
        (peer, req)
    }

    async fn assert_registered(rx: &mut broadcast::Receiver<Event>) {
        assert!(matches!(
            state(rx).await,
            RegistrationState::Registered { .. }
        ));
    }

    /// Answers `req` on `peer` with 200 OK (and `extra` headers) and waits
    /// for the registration to be registered; returns when the 200 went
    /// out.
    async fn grant(
        peer: &mut StreamPeer,
        req: &Request,
        extra: &[(&str, &str)],
        rx: &mut broadcast::Receiver<Event>,
    ) -> Instant {
        peer.s.write_all(&ok(req, extra)).await.unwrap();
        let sent = Instant::now();
        assert_registered(rx).await;
        sent
    }

    /// Parley's next connection to the registrar on `l`, once registered
    /// over it.
    async fn registered_over(
        l: &tokio::net::TcpListener,
        rx: &mut broadcast::Receiver<Event>,
    ) -> StreamPeer {
        let (mut peer, req) = accept_register(l).await;
        grant(&mut peer, &req, &[], rx).await;
        peer
    }

    /// A new connection to the registrar on `l` whose REGISTER comes less
    /// than `limit` after `since`; registered over it.
    async fn registered_again_within(
        l: &tokio::net::TcpListener,
        rx: &mut broadcast::Receiver<Event>,
        since: Instant,
        limit: Duration,
    ) -> StreamPeer {
        let (mut peer, req) = accept_register(l).await;
        assert!(since.elapsed() < limit, "{:?}", since.elapsed());
        grant(&mut peer, &req, &[], rx).await;
        peer
    }

    #[tokio::test]
    async fn a_flow_without_pong_is_closed_and_registered_again_over_a_new_one() {
        let (l, proxy) = tcp_registrar().await;
        let (_reg, mut rx) = register(
            proxy,
            store::Transport::Tcp,
            Some(Duration::from_millis(200)),
        )
        .await;
        let mut first = registered_over(&l, &mut rx).await;
        // The registrar goes silent: the ping gets no pong.
        assert!(matches!(first.next().await, Got::Ping));
        let pinged = Instant::now();
        assert!(
            matches!(first.next().await, Got::Closed),
            "the dead flow is closed"
        );
        match state(&mut rx).await {
            RegistrationState::Failed { reason } => assert!(reason.contains("lost"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // Registered again at once, over a new connection.
        registered_again_within(&l, &mut rx, pinged, Duration::from_secs(2)).await;
    }

    #[tokio::test]
    async fn a_flow_closed_by_the_registrar_is_registered_again_at_once() {
        let (l, proxy) = tcp_registrar().await;
        // Default keep-alive (95-120 s): the close alone must be noticed.
        let (_reg, mut rx) = register(proxy, store::Transport::Tcp, None).await;
        let first = registered_over(&l, &mut rx).await;
        drop(first);
        let closed = Instant::now();
        assert!(matches!(
            state(&mut rx).await,
            RegistrationState::Failed { .. }
        ));
        registered_again_within(&l, &mut rx, closed, Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn the_registrars_flow_timer_sets_the_keep_alive_interval() {
        let (l, proxy) = tcp_registrar().await;
        let (_reg, mut rx) = register(proxy, store::Transport::Tcp, None).await;
        let (mut peer, req) = accept_register(&l).await;
        // RFC 5626 §4.4.1: pings at 80-100% of Flow-Timer (10 s, the
        // least we honour), not the 95-120 s default.
        let registered = grant(&mut peer, &req, &[("Flow-Timer", "10")], &mut rx).await;
        assert!(matches!(peer.next().await, Got::Ping));
        let after = registered.elapsed();
        assert!(
            (Duration::from_secs(8)..=Duration::from_millis(10_500)).contains(&after),
            "{after:?}"
        );
        // Answered: the flow stays, nothing is registered again.
        peer.s.write_all(b"\r\n").await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(500), peer.next())
                .await
                .is_err(),
            "no REGISTER after a pong"
        );
    }

    #[tokio::test]
    async fn udp_flows_get_crlf_keep_alives_on_schedule() {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let proxy = format!("sip:{}", sock.local_addr().unwrap());
        let (_reg, mut rx) = register(
            proxy,
            store::Transport::Udp,
            Some(Duration::from_millis(300)),
        )
        .await;
        let mut buf = vec![0u8; 65_536];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let Ok(Message::Request(req)) = sip_message::parse(&buf[..n]) else {
            panic!("not a request");
        };
        sock.send_to(&ok(&req, &[]), from).await.unwrap();
        let registered = Instant::now();
        assert_registered(&mut rx).await;
        let mut at = Vec::new();
        while at.len() < 4 {
            let (n, src) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
                .await
                .expect("keep-alives keep coming")
                .unwrap();
            assert_eq!(src, from, "from our SIP socket");
            assert_eq!(&buf[..n], b"\r\n\r\n", "only CRLF keep-alives");
            at.push(registered.elapsed());
        }
        // Every 300 ms, the first 300 ms after the 200.
        for (i, t) in at.iter().enumerate() {
            let due = Duration::from_millis(300 * (i as u64 + 1));
            assert!(*t >= due - Duration::from_millis(50), "{at:?}");
            assert!(
                *t <= due + Duration::from_millis(250 * (i as u64 + 1)),
                "{at:?}"
            );
        }
    }

    #[test]
    fn keep_alive_intervals_follow_rfc_5626() {
        for r in [0u64, u64::MAX / 3, u64::MAX] {
            let stream = keep_alive_interval(Proto::Tcp, None, r);
            assert!((Duration::from_secs(95)..=Duration::from_secs(120)).contains(&stream));
            let flow = keep_alive_interval(Proto::Tls, Some(30), r);
            assert!((Duration::from_secs(24)..=Duration::from_secs(30)).contains(&flow));
            let udp = keep_alive_interval(Proto::Udp, Some(30), r);
            assert!((Duration::from_secs(20)..=Duration::from_secs(25)).contains(&udp));
        }
    }
}

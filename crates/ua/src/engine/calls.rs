//! The engine's side of calls: starting them, routing what the network
//! sends to the right call task, refusing ghost calls, keeping history.

use std::net::SocketAddr;
use std::path::PathBuf;

use sip_message::{Method, Request, Uri};
use tracing::{debug, info};

use super::{EngineError, Task, LOCAL_ACCOUNT};
use crate::api::{CallEnd, CallInfo, Event};
use crate::call::{
    response, AccountCtx, AudioChoice, CallCommand, CallEnv, CallError, CallInput, MAX_CALLS,
};
use crate::dns::SipResolver;
use crate::endpoint::EndpointEvent;
use crate::transport::Proto;
use media::tones::ToneRegion;

/// The user part of the built-in local account's address.
pub(crate) const LOCAL_USER: &str = "parley";

/// Methods we take out of dialog, for Allow in OPTIONS answers (§11.2).
const ALLOW: &str =
    "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, PRACK, REFER, MESSAGE, NOTIFY, SUBSCRIBE";

impl Task {
    /// What call tasks share, made once the endpoint runs.
    pub(super) async fn call_env(&mut self) -> Result<CallEnv, EngineError> {
        if let Some(env) = &self.call_env {
            return Ok(env.clone());
        }
        let endpoint = self.endpoint().await?;
        let supported = vec![Proto::Udp, Proto::Tcp, Proto::Tls];
        let resolver = match self.options.sip.dns_server {
            Some(server) => SipResolver::with_name_server(server, supported)?,
            None => SipResolver::system(supported)?,
        };
        let env = CallEnv {
            endpoint,
            resolver,
            events: self.events.clone(),
            media: media::sdp::MediaConfig {
                codecs: crate::settings::MediaSettings::from_prefs(&self.config.media)
                    .codec_kinds(),
                ..media::sdp::MediaConfig::default()
            },
            ended: self.ended.0.clone(),
            transfers: self.transfers.0.clone(),
            orphans: std::sync::Arc::default(),
        };
        self.call_env = Some(env.clone());
        Ok(env)
    }

    /// The account `name` as calls need it, with its password when known
    /// (from this session's registration, else the keyring).
    pub(super) async fn account_ctx(&mut self, name: &str) -> Result<AccountCtx, EngineError> {
        if self.config.accounts.is_empty() && name == LOCAL_ACCOUNT {
            let ep = self.endpoint().await?;
            let addr = ep.local_addr(Proto::Udp).ok_or(EngineError::Stopped)?;
            let ip = if addr.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                addr.ip()
            };
            let aor: Uri = format!(
                "sip:{LOCAL_USER}@{}:{}",
                crate::call::host_text(ip),
                addr.port()
            )
            .parse()
            .map_err(|_| EngineError::NoSuchAccount(name.to_owned()))?;
            return Ok(AccountCtx {
                name: LOCAL_ACCOUNT.to_owned(),
                aor,
                display_name: None,
                auth_user: LOCAL_USER.to_owned(),
                realm: None,
                password: None,
                proxy: None,
                transport: store::Transport::Udp,
            });
        }
        let a = self
            .config
            .account(name)
            .cloned()
            .ok_or_else(|| EngineError::NoSuchAccount(name.to_owned()))?;
        let aor: Uri = a
            .uri
            .parse()
            .map_err(|_| EngineError::NoSuchAccount(name.to_owned()))?;
        let user = match &aor {
            Uri::Sip(s) => s.user.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let proxy = match a.proxy.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(
                p.parse::<Uri>()
                    .map_err(|_| EngineError::NoSuchAccount(name.to_owned()))?,
            ),
            None => None,
        };
        let password = match self.passwords.get(name) {
            Some(p) => Some(p.clone()),
            None => {
                let key = name.to_owned();
                self.keyring(move |k| k.get(&key)).await.ok()
            }
        };
        Ok(AccountCtx {
            name: a.name.clone(),
            aor,
            display_name: a.display_name.clone(),
            auth_user: a.auth_user.clone().unwrap_or(user),
            realm: a.realm.clone(),
            password,
            proxy,
            transport: a.transport,
        })
    }

    pub(super) async fn dial(
        &mut self,
        account: &str,
        target: &str,
        audio: Option<AudioChoice>,
    ) -> Result<u32, EngineError> {
        let env = self.call_env().await?;
        let ctx = self.account_ctx(account).await?;
        let audio = audio.unwrap_or_else(|| self.options.call_audio.clone());
        let id = self.calls.dial(&env, ctx, target, audio)?;
        info!(id, "calling");
        Ok(id)
    }

    /// A REFER asked one of our calls to call a third party.
    pub(super) async fn transfer_dial(&mut self, d: crate::call::TransferDial) {
        let result = match self.call_env().await {
            Ok(env) => {
                let audio = self.options.call_audio.clone();
                self.calls
                    .dial_uri(&env, d.account, d.target, audio, d.headers)
            }
            Err(_) => Err(crate::call::CallError::TooManyCalls),
        };
        let _ = d.reply.send(result);
    }

    pub(super) fn call_ended(&mut self, info: CallInfo, end: CallEnd) {
        self.record_call(&info, &end);
        self.calls.remove(info.id);
        self.live_calls.remove(&info.id);
        self.update_ringing();
        debug!(id = info.id, ?end, "call over");
    }

    /// Hangs up every call (on quit), waiting briefly for the BYEs.
    pub(super) async fn hangup_all(&mut self) {
        for id in self.calls.ids() {
            let _ = self.calls.command(id, crate::call::CallCommand::Hangup);
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
        while self.calls.len() > 0 {
            match tokio::time::timeout_at(deadline, self.ended.1.recv()).await {
                Ok(Some((info, _))) => {
                    self.calls.remove(info.id);
                }
                _ => break,
            }
        }
    }

    /// Something arrived from the network.
    pub(super) async fn incoming(&mut self, ev: EndpointEvent) {
        match ev {
            EndpointEvent::Request {
                id,
                request,
                source,
                proto,
            } => self.request(id, request, source, proto).await,
            EndpointEvent::Cancelled { id } => self.calls.cancelled(id),
            EndpointEvent::Ack { request, .. } => {
                if let Some(cid) = call_id(&request) {
                    let _ = self.calls.route(&cid, CallInput::Ack(request));
                }
            }
            EndpointEvent::StrayResponse { response, .. } => {
                let cid = response.headers.get("Call-ID").map(|c| c.trim().to_owned());
                let Some(cid) = cid else { return };
                // No call of that Call-ID up: one that ended lately may
                // still owe an ACK (or a fork a BYE).
                if let Some(CallInput::Stray(response)) =
                    self.calls.route(&cid, CallInput::Stray(response))
                {
                    if let Some(env) = &self.call_env {
                        crate::call::settle_orphan(env, &response, None);
                    }
                }
            }
            // An incoming INVITE's transaction died (e.g. rang past the
            // 300 s guard): it can no longer be answered, so the call
            // ends as if cancelled.
            EndpointEvent::TransactionFailed { id, .. } => self.calls.cancelled(id),
        }
    }

    async fn request(
        &mut self,
        id: sip_core::TransactionId,
        request: Request,
        source: SocketAddr,
        proto: Proto,
    ) {
        let Some(env) = self.call_env.clone().or(None) else {
            // The endpoint runs, so the env can be made.
            match self.call_env().await {
                Ok(_) => return Box::pin(self.request(id, request, source, proto)).await,
                Err(_) => return,
            }
        };
        let ep = env.endpoint.clone();
        let to_tag = request
            .headers
            .to()
            .ok()
            .flatten()
            .and_then(|t| t.tag().map(str::to_owned));
        // NOTIFYs of our subscriptions (presence, BLF, MWI) first.
        let Some(request) = self
            .route_notify(id, request, source, to_tag.is_some())
            .await
        else {
            return;
        };
        // SUBSCRIBEs to our presence (peer to peer) and their refreshes.
        let Some(request) = self
            .route_subscribe(id, request, source, to_tag.is_some())
            .await
        else {
            return;
        };
        // In a dialog: to its call (or 481, §12.2.2).
        if to_tag.is_some() {
            let Some(cid) = call_id(&request) else {
                let _ = ep.respond(id, response(&request, 400)).await;
                return;
            };
            // Chat inside a call (RFC 3428 §4) is chat like any other:
            // stored, shown, and answered in the dialog (To tag kept).
            if request.method == Method::Message && self.calls.has_call_id(&cid) {
                self.incoming_message(id, request, source).await;
                return;
            }
            if let Some(CallInput::Request { request, .. }) =
                self.calls.route(&cid, CallInput::Request { id, request })
            {
                let _ = ep
                    .respond(id, sip_core::dialog::unknown_dialog_response(&request))
                    .await;
            }
            return;
        }
        match request.method {
            Method::Invite => self.new_call(&env, id, request, source, proto).await,
            Method::Options => {
                // §11.2: what we can do.
                let mut r = response(&request, 200);
                for (n, v) in [
                    ("Allow", ALLOW),
                    (
                        "Accept",
                        "application/sdp, text/plain, application/dtmf-relay, message/sipfrag",
                    ),
                    ("Accept-Encoding", "identity"),
                    ("Accept-Language", "en"),
                    // Registration uses outbound (RFC 5626) when it can.
                    ("Supported", "100rel, timer, replaces, outbound, path"),
                    ("Allow-Events", "presence, dialog, message-summary, refer"),
                ] {
                    let _ = r.headers.push(n, v);
                }
                let _ = ep.respond(id, r).await;
            }
            Method::Message => self.incoming_message(id, request, source).await,
            // A BYE/INFO/... without a To tag belongs to no dialog.
            Method::Bye | Method::Info | Method::Update | Method::Prack => {
                let _ = ep
                    .respond(id, sip_core::dialog::unknown_dialog_response(&request))
                    .await;
            }
            _ => {
                let mut r = response(&request, 501);
                let _ = r.headers.push("Allow", ALLOW);
                let _ = ep.respond(id, r).await;
            }
        }
    }

    /// A new INVITE: which account it is for, whether it is a ghost, and
    /// whether we can take another call.
    async fn new_call(
        &mut self,
        env: &CallEnv,
        id: sip_core::TransactionId,
        request: Request,
        source: SocketAddr,
        proto: Proto,
    ) {
        let ep = env.endpoint.clone();
        let Some(account) = self.account_for(&request, source).await else {
            // Ghost call: not addressed to any contact of ours, or not from
            // the account's proxy. Refused without ringing.
            info!("refused an INVITE not addressed to us (ghost call)");
            let _ = ep.respond(id, response(&request, 404)).await;
            return;
        };
        // Do not disturb, or no line free: busy (RFC 3261 §21.4.24).
        let replaces = request.headers.get("Replaces").is_some();
        if self.calls.len() >= MAX_CALLS || (self.options.dnd && !replaces) {
            let mut r = response(&request, 486);
            if self.options.dnd {
                let _ = r
                    .headers
                    .push("Reason", "SIP;cause=486;text=\"Do not disturb\"");
            }
            let _ = ep.respond(id, r).await;
            return;
        }
        let audio = self.options.call_audio.clone();
        let mut auto = self.options.auto_answer;
        // RFC 3891: an INVITE with Replaces takes over one of our calls
        // (attended transfer, pickup); it is answered without ringing.
        if let Some(replaces) = request.headers.get("Replaces").map(str::to_owned) {
            let mut parts = replaces.split(';');
            let call_id = parts.next().unwrap_or("").trim().to_owned();
            let mut to_tag = String::new();
            let mut from_tag = String::new();
            let mut early_only = false;
            for p in parts {
                match p.split_once('=') {
                    Some((k, v)) => match k.trim().to_ascii_lowercase().as_str() {
                        "to-tag" => to_tag = v.trim().to_owned(),
                        "from-tag" => from_tag = v.trim().to_owned(),
                        _ => {}
                    },
                    None => early_only |= p.trim().eq_ignore_ascii_case("early-only"),
                }
            }
            let Some(replaced) = self.calls.id_of(&call_id) else {
                let _ = ep
                    .respond(id, sip_core::dialog::unknown_dialog_response(&request))
                    .await;
                return;
            };
            let state = self.live_calls.get(&replaced).map(|c| c.state);
            if let Some(code) = state.and_then(|s| crate::call::replaces_refusal(s, early_only)) {
                debug!(code, "INVITE with Replaces refused");
                let _ = ep.respond(id, response(&request, code)).await;
                return;
            }
            let _ = self
                .calls
                .route(&call_id, CallInput::Replaced { to_tag, from_tag });
            auto = true;
        }
        if let Some(call) = self
            .calls
            .incoming(env, account, id, request, source, proto, auto, audio)
        {
            info!(id = call, "incoming call");
        }
    }

    /// The account an INVITE is for: its Request-URI names the account's
    /// contact user (RFC 3261 §8.2.2.1), and an account with an outbound
    /// proxy takes calls only from that proxy's addresses.
    pub(super) async fn account_for(
        &mut self,
        request: &Request,
        source: SocketAddr,
    ) -> Option<AccountCtx> {
        if self.config.accounts.is_empty() {
            if crate::call::addressed_to(request, LOCAL_USER) {
                return self.account_ctx(LOCAL_ACCOUNT).await.ok();
            }
            return None;
        }
        let names: Vec<String> = self
            .config
            .accounts
            .iter()
            .filter(|a| a.enabled)
            .map(|a| a.name.clone())
            .collect();
        for name in names {
            let Ok(ctx) = self.account_ctx(&name).await else {
                continue;
            };
            let user = match &ctx.aor {
                Uri::Sip(s) => s.user.clone().unwrap_or_default(),
                _ => continue,
            };
            if !crate::call::addressed_to(request, &user) {
                continue;
            }
            if let Some(proxy) = &ctx.proxy {
                let env = self.call_env.clone()?;
                let dest = crate::registration::destination(proxy, ctx.transport)?;
                let targets = env.resolver.resolve(&dest).await.ok()?;
                if !targets.iter().any(|t| t.addr.ip() == source.ip()) {
                    debug!("INVITE for an account with a proxy, not from the proxy");
                    continue;
                }
            }
            return Some(ctx);
        }
        None
    }

    /// One of the engine's own events: the call table, then the
    /// presence and chat reactions to it.
    pub(super) async fn take_own_event(&mut self, ev: Event) {
        self.track(&ev);
        self.own_event(ev).await;
    }

    /// A call's latest state (for status snapshots: a UI that reloads
    /// mid-call finds its calls).
    pub(super) fn track(&mut self, ev: &Event) {
        match ev {
            Event::CallState { call } | Event::IncomingCall { call }
                if self.calls.ids().contains(&call.id) =>
            {
                self.live_calls.insert(call.id, call.clone());
            }
            Event::CallEnded { call, .. } => {
                self.live_calls.remove(&call.id);
            }
            _ => return,
        }
        self.audio_test_yield_to_calls();
        self.update_ringing();
    }

    /// Ringtone, ringback and call-waiting tone after a call changed.
    pub(super) fn update_ringing(&mut self) {
        let w = crate::ringing::wanted(self.live_calls.values(), ToneRegion::default());
        if let Some(r) = &mut self.ringing {
            r.set(w.tone);
        }
        for (id, on) in self
            .waiting
            .changes(self.live_calls.values(), w.call_waiting)
        {
            // A call that just ended has no task left to tell.
            let _ = self.calls.command(id, CallCommand::CallWaiting(on));
        }
    }
}

fn call_id(request: &Request) -> Option<String> {
    request.headers.get("Call-ID").map(|c| c.trim().to_owned())
}

/// Conference and recording commands (they need the engine's view of
/// every call, not one call's task).
pub(super) enum ConferenceCommand {
    Merge {
        a: u32,
        b: u32,
        reply: tokio::sync::oneshot::Sender<Result<u32, EngineError>>,
    },
    Split {
        id: u32,
        reply: tokio::sync::oneshot::Sender<Result<(), EngineError>>,
    },
    Record {
        id: u32,
        path: Option<PathBuf>,
        reply: tokio::sync::oneshot::Sender<Result<PathBuf, EngineError>>,
    },
}

impl super::Engine {
    /// Merges calls `a` and `b` into the local conference (3-way calling):
    /// each peer hears us and the other; we hear both. A call we hold is
    /// resumed. Returns the conference id (also in each call's
    /// [`CallInfo::conference`]).
    pub async fn merge(&self, a: u32, b: u32) -> Result<u32, EngineError> {
        self.ask(|reply| super::Command::Conference(ConferenceCommand::Merge { a, b, reply }))
            .await?
    }

    /// Takes call `id` out of the conference and holds it; the other
    /// call talks on.
    pub async fn split(&self, id: u32) -> Result<(), EngineError> {
        self.ask(|reply| super::Command::Conference(ConferenceCommand::Split { id, reply }))
            .await?
    }

    /// Records call `id` (what we hear and what we send, the whole
    /// conference when merged) to `path`, or to a dated file named after
    /// the peer in the recordings folder. Returns the file; an
    /// [`Event::Recording`] follows when it is complete.
    pub async fn start_recording(
        &self,
        id: u32,
        path: Option<PathBuf>,
    ) -> Result<PathBuf, EngineError> {
        self.ask(|reply| super::Command::Conference(ConferenceCommand::Record { id, path, reply }))
            .await?
    }

    /// Early media on incoming call `id`: our answer to the caller's offer
    /// goes in a 183 Session Progress (reliable, RFC 3262, when the caller
    /// supports 100rel), before [`Self::answer`].
    pub async fn progress(&self, id: u32) -> Result<(), EngineError> {
        self.call_command(id, CallCommand::Progress).await
    }

    /// Stops recording call `id`.
    pub async fn stop_recording(&self, id: u32) -> Result<(), EngineError> {
        self.call_command(id, CallCommand::StopRecording).await
    }
}

impl Task {
    pub(super) async fn conference_command(&mut self, cmd: ConferenceCommand) {
        match cmd {
            ConferenceCommand::Merge { a, b, reply } => {
                // The calls' states as announced before this command (a
                // call that just connected, which the user then merges):
                // the engine's loop may take the command before the event.
                while let Ok(ev) = self.own_events.try_recv() {
                    self.take_own_event(ev).await;
                }
                let r = self.calls.merge(a, b, &self.live_calls);
                if let Ok(conf) = r {
                    info!(conf, "calls merged");
                }
                let _ = reply.send(r.map_err(Into::into));
            }
            ConferenceCommand::Split { id, reply } => {
                let _ = reply.send(self.calls.split(id).map_err(Into::into));
            }
            ConferenceCommand::Record { id, path, reply } => {
                let path = match path {
                    Some(p) => p,
                    None => {
                        let dir = self.options.paths.data_dir.join(RECORDINGS_DIR);
                        let peer = self
                            .live_calls
                            .get(&id)
                            .map(recording_label)
                            .unwrap_or_default();
                        let name = recording_name(&peer, std::time::SystemTime::now());
                        let made = {
                            let dir = dir.clone();
                            tokio::task::spawn_blocking(move || fresh_file(&dir, &name)).await
                        };
                        match made.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
                            Ok(p) => p,
                            Err(e) => {
                                let err = media::recorder::RecorderError::Folder {
                                    path: dir,
                                    source: e,
                                };
                                let _ = reply.send(Err(CallError::from(err).into()));
                                return;
                            }
                        }
                    }
                };
                // The call task answers; the engine goes on meanwhile.
                let (tx, rx) = tokio::sync::oneshot::channel();
                if let Err(e) = self
                    .calls
                    .command(id, CallCommand::Record { path, reply: tx })
                {
                    let _ = reply.send(Err(e.into()));
                    return;
                }
                tokio::spawn(async move {
                    let r = rx.await.unwrap_or(Err(CallError::WrongState {
                        id,
                        what: "be recorded now",
                    }));
                    let _ = reply.send(r.map_err(Into::into));
                });
            }
        }
    }
}

/// Recordings go here, under the data directory.
pub(crate) const RECORDINGS_DIR: &str = "recordings";

/// Who a recording is with: the peer's display name, else its user part.
fn recording_label(c: &CallInfo) -> String {
    if let Some(n) = c.peer_name.as_deref().filter(|n| !n.trim().is_empty()) {
        return n.to_owned();
    }
    let uri = c.peer_uri.as_str();
    let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
    rest.split(['@', ';', '>'])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

/// Makes `dir` if needed and returns `dir/name`, or `dir/<stem>-2.wav`
/// and so on when a recording of that name (same peer, same second)
/// exists: a new recording never overwrites an old one.
fn fresh_file(dir: &std::path::Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stem = name.strip_suffix(".wav").unwrap_or(name);
    for n in 1..1000 {
        let p = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}.wav"))
        };
        if !p.exists() {
            return Ok(p);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many recordings of the same name",
    ))
}

/// `2026-11-24_09-30-15Z_Bob_Smith.wav`: UTC date and time (sorts, and
/// needs no time zone database), then the peer with anything a file
/// system or a shell might mind replaced by `_`, at most 40 characters.
pub(crate) fn recording_name(peer: &str, at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let mut name: String = peer
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '+' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    // No hidden files, no "..", nothing empty.
    name = name.trim_matches(['.', '_']).to_owned();
    if name.is_empty() {
        name = "call".into();
    }
    format!(
        "{y:04}-{m:02}-{d:02}_{:02}-{:02}-{:02}Z_{name}.wav",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod recording_name_tests {
    use super::*;

    #[test]
    fn names_carry_utc_time_and_a_safe_peer() {
        // 2026-11-24 09:30:15 UTC.
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_512_615);
        assert_eq!(
            recording_name("Bob Smith", at),
            "2026-11-24_09-30-15Z_Bob_Smith.wav"
        );
        assert_eq!(
            recording_name("../../etc/passwd", at),
            "2026-11-24_09-30-15Z_etc_passwd.wav"
        );
        assert_eq!(recording_name("..", at), "2026-11-24_09-30-15Z_call.wav");
        assert_eq!(recording_name("", at), "2026-11-24_09-30-15Z_call.wav");
        assert_eq!(
            recording_name("Анна/\"x\"*?<>|:", at),
            "2026-11-24_09-30-15Z_Анна__x.wav"
        );
        let long = "a".repeat(200);
        assert_eq!(
            recording_name(&long, at).len(),
            "2026-11-24_09-30-15Z_".len() + 40 + 4
        );
        // Leap day and the epoch.
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn a_new_recording_never_overwrites_an_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("recordings");
        let first = fresh_file(&rec, "a.wav").unwrap();
        assert_eq!(first, rec.join("a.wav"));
        std::fs::write(&first, b"x").unwrap();
        assert_eq!(fresh_file(&rec, "a.wav").unwrap(), rec.join("a-2.wav"));
        // A file where the folder should be: a clear error, no panic.
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, b"x").unwrap();
        assert!(fresh_file(&blocked.join("sub"), "a.wav").is_err());
    }

    #[test]
    fn the_label_is_the_display_name_else_the_user_part() {
        let mut c = crate::api::CallInfo {
            id: 1,
            account: "work".into(),
            direction: crate::api::CallDirection::Outgoing,
            peer_uri: "sip:bob@127.0.0.1;transport=udp".into(),
            peer_name: None,
            state: crate::api::CallState::Connected,
            held_by_us: false,
            held_by_peer: false,
            muted: false,
            codec: None,
            started_ms: 0,
            answered_ms: None,
            conference: None,
            recording: None,
        };
        assert_eq!(recording_label(&c), "bob");
        c.peer_name = Some("Bob B.".into());
        assert_eq!(recording_label(&c), "Bob B.");
    }
}

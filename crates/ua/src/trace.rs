//! The SIP trace: every message the endpoint sends or receives, kept in
//! memory per Call-ID for the "SIP trace" view (a ladder diagram of the
//! last calls and other dialogs, exportable as text).
//!
//! ```text
//!  driver ──record(dir, proto, local, remote, &Message)──> mask ──> Store
//!                                                          (secrets never stored)
//!  Engine::sip_trace_dialogs / sip_trace / sip_trace_export <── Store (snapshot)
//! ```
//!
//! Secrets are masked before a message is stored: digest `response` and
//! `rspauth` values, credentials of any other authorization scheme (e.g.
//! Bearer tokens), passwords in URIs (`sip:user:pw@host`) and SDES keys in
//! SDP (`a=crypto:... inline:KEY`). The store is bounded three ways (dialogs,
//! messages per dialog, bytes in all); the oldest go first.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sip_message::{Message, Uri};
use ts_rs::TS;

use crate::api::TransportKind;
use crate::transport::Proto;

/// What replaces a secret.
pub const MASK: &str = "********";

/// Errors of the trace commands.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// No dialog with that Call-ID is in the trace (never was, or evicted).
    #[error("no SIP trace for that Call-ID")]
    NoSuchDialog,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum TraceDirection {
    /// We sent it.
    Sent,
    /// We received it.
    Received,
}

/// One message in the trace, secrets masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SipTraceMessage {
    /// Order of capture across the whole trace.
    #[ts(type = "number")]
    pub seq: u64,
    /// Unix ms when it was sent or received.
    #[ts(type = "number")]
    pub time_ms: i64,
    /// Which way.
    pub direction: TraceDirection,
    /// Over what.
    pub transport: TransportKind,
    /// Our address (the listening socket's).
    pub local: String,
    /// The peer's address.
    pub remote: String,
    /// "INVITE" for a request, "200 OK" for a response.
    pub summary: String,
    /// The CSeq method (a response's request).
    pub method: String,
    /// The status code of a response.
    pub status: Option<u16>,
    /// The message as on the wire, secrets masked.
    pub text: String,
}

/// A dialog (or lone transaction) in the trace: all messages of one Call-ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SipTraceDialog {
    /// The Call-ID that groups its messages.
    pub call_id: String,
    /// The method of its first request (INVITE, REGISTER, SUBSCRIBE, ...).
    pub method: String,
    /// Who the dialog is with: the To of a request we sent first, the
    /// From of one we received first (password masked).
    pub peer: String,
    /// The peer's address of the first message.
    pub remote: String,
    /// Whether we sent its first message.
    pub outgoing: bool,
    /// Unix ms of its first message.
    #[ts(type = "number")]
    pub started_ms: i64,
    /// Unix ms of its last message.
    #[ts(type = "number")]
    pub last_ms: i64,
    /// The last final status to a `method` request, if one came.
    pub final_status: Option<u16>,
    /// Messages kept.
    pub messages: u32,
    /// Older messages dropped to stay within bounds.
    pub dropped: u32,
}

/// How much the trace keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceLimits {
    /// Dialogs kept; the least recently active goes first.
    pub max_dialogs: usize,
    /// Messages kept per dialog (a long presence subscription or a
    /// registration refreshed for days must not push the calls out).
    pub max_messages: usize,
    /// Bytes of message text kept in all.
    pub max_bytes: usize,
}

impl Default for TraceLimits {
    fn default() -> Self {
        Self {
            max_dialogs: 50,
            max_messages: 200,
            max_bytes: 2 * 1024 * 1024,
        }
    }
}

/// The shared trace: cheap to clone; the driver records into it, the
/// engine handle reads it.
#[derive(Clone)]
pub struct SipTrace {
    shared: Arc<Shared>,
}

struct Shared {
    enabled: AtomicBool,
    store: Mutex<Store>,
}

impl Default for SipTrace {
    fn default() -> Self {
        Self::new(TraceLimits::default())
    }
}

impl SipTrace {
    /// An empty trace, on, within `limits`.
    pub fn new(limits: TraceLimits) -> Self {
        Self {
            shared: Arc::new(Shared {
                enabled: AtomicBool::new(true),
                store: Mutex::new(Store::new(limits)),
            }),
        }
    }

    /// Turns capture on or off (off also forgets what was captured).
    pub fn set_enabled(&self, on: bool) {
        self.shared.enabled.store(on, Ordering::Relaxed);
        if !on {
            self.clear();
        }
    }

    /// Whether messages are being captured.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// Records a message sent to or received from `remote`. Costs one
    /// atomic load when capture is off.
    pub fn record(
        &self,
        direction: TraceDirection,
        proto: Proto,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        message: &Message,
    ) {
        if !self.is_enabled() {
            return;
        }
        let entry = Entry::capture(direction, proto, local, remote, message, now_ms());
        self.store().push(entry);
    }

    /// The dialogs in the trace, most recently active first.
    pub fn dialogs(&self) -> Vec<SipTraceDialog> {
        self.store()
            .dialogs
            .iter()
            .rev()
            .map(Dialog::summary)
            .collect()
    }

    /// The messages of dialog `call_id`, in capture order.
    pub fn messages(&self, call_id: &str) -> Result<Vec<SipTraceMessage>, TraceError> {
        let store = self.store();
        let d = store.find(call_id).ok_or(TraceError::NoSuchDialog)?;
        Ok(d.messages.iter().map(|e| e.message.clone()).collect())
    }

    /// A plain-text export of dialog `call_id`, or of every dialog (oldest
    /// first) when `None`: a header per message (time, arrow, addresses)
    /// and then the message as captured.
    pub fn export(&self, call_id: Option<&str>) -> Result<String, TraceError> {
        let store = self.store();
        let mut out = String::new();
        match call_id {
            Some(id) => export_dialog(&mut out, store.find(id).ok_or(TraceError::NoSuchDialog)?),
            None => {
                for d in &store.dialogs {
                    export_dialog(&mut out, d);
                }
            }
        }
        Ok(out)
    }

    /// Forgets every captured message.
    pub fn clear(&self) {
        let mut s = self.store();
        s.dialogs.clear();
        s.bytes = 0;
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.shared
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A captured message and what grouping needs from it.
struct Entry {
    call_id: String,
    /// To (sent) or From (received) of a request, masked.
    peer: Option<String>,
    message: SipTraceMessage,
}

impl Entry {
    fn capture(
        direction: TraceDirection,
        proto: Proto,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        message: &Message,
        time_ms: i64,
    ) -> Self {
        let headers = message.headers();
        let call_id = headers
            .call_id()
            .ok()
            .flatten()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default();
        let method = headers
            .cseq()
            .ok()
            .flatten()
            .map(|c| c.method.as_str().to_owned())
            .unwrap_or_default();
        let (summary, status, peer) = match message {
            Message::Request(r) => {
                let party = match direction {
                    TraceDirection::Sent => headers.to().ok().flatten().map(|t| t.addr.uri),
                    TraceDirection::Received => headers.from().ok().flatten().map(|f| f.addr.uri),
                };
                (
                    r.method.as_str().to_owned(),
                    None,
                    party.map(|u| peer_text(&u)),
                )
            }
            Message::Response(r) => {
                let code = r.status.as_u16();
                let summary = if r.reason.is_empty() {
                    code.to_string()
                } else {
                    format!("{code} {}", r.reason)
                };
                (summary, Some(code), None)
            }
        };
        let raw = message.to_bytes();
        let text = mask(&String::from_utf8_lossy(&raw));
        Self {
            call_id,
            peer,
            message: SipTraceMessage {
                seq: 0,
                time_ms,
                direction,
                transport: match proto {
                    Proto::Udp => TransportKind::Udp,
                    Proto::Tcp => TransportKind::Tcp,
                    Proto::Tls => TransportKind::Tls,
                },
                local: local.map(|a| a.to_string()).unwrap_or_default(),
                remote: remote.to_string(),
                summary: mask_uri_passwords(&summary),
                method,
                status,
                text,
            },
        }
    }

    fn bytes(&self) -> usize {
        self.message.text.len()
    }
}

/// A URI as the dialog list shows it: no password.
fn peer_text(uri: &Uri) -> String {
    match uri {
        Uri::Sip(u) => {
            let mut u = u.clone();
            if u.password.is_some() {
                u.password = Some(MASK.to_owned());
            }
            u.to_string()
        }
        other => mask_uri_passwords(&other.to_string()),
    }
}

struct Dialog {
    call_id: String,
    method: String,
    peer: String,
    remote: String,
    outgoing: bool,
    started_ms: i64,
    final_status: Option<u16>,
    dropped: u32,
    messages: VecDeque<Entry>,
}

impl Dialog {
    fn summary(&self) -> SipTraceDialog {
        SipTraceDialog {
            call_id: self.call_id.clone(),
            method: self.method.clone(),
            peer: self.peer.clone(),
            remote: self.remote.clone(),
            outgoing: self.outgoing,
            started_ms: self.started_ms,
            last_ms: self
                .messages
                .back()
                .map_or(self.started_ms, |e| e.message.time_ms),
            final_status: self.final_status,
            messages: u32::try_from(self.messages.len()).unwrap_or(u32::MAX),
            dropped: self.dropped,
        }
    }

    fn bytes(&self) -> usize {
        self.messages.iter().map(Entry::bytes).sum()
    }
}

/// Dialogs in order of last activity (oldest at the front).
struct Store {
    limits: TraceLimits,
    dialogs: VecDeque<Dialog>,
    bytes: usize,
    next_seq: u64,
}

impl Store {
    fn new(limits: TraceLimits) -> Self {
        Self {
            limits,
            dialogs: VecDeque::new(),
            bytes: 0,
            next_seq: 1,
        }
    }

    fn find(&self, call_id: &str) -> Option<&Dialog> {
        self.dialogs.iter().find(|d| d.call_id == call_id)
    }

    fn push(&mut self, mut entry: Entry) {
        let size = entry.bytes();
        if size > self.limits.max_bytes || self.limits.max_messages == 0 {
            return; // could never fit
        }
        entry.message.seq = self.next_seq;
        self.next_seq += 1;
        // Move the dialog to the back (most recent), or start it.
        let existing = self
            .dialogs
            .iter()
            .position(|d| d.call_id == entry.call_id)
            .and_then(|i| self.dialogs.remove(i));
        let mut dialog = match existing {
            Some(d) => d,
            None => {
                if self.dialogs.len() >= self.limits.max_dialogs {
                    self.evict_oldest();
                }
                if self.limits.max_dialogs == 0 {
                    return;
                }
                Dialog {
                    call_id: entry.call_id.clone(),
                    method: entry.message.method.clone(),
                    peer: entry.peer.clone().unwrap_or_default(),
                    remote: entry.message.remote.clone(),
                    outgoing: entry.message.direction == TraceDirection::Sent,
                    started_ms: entry.message.time_ms,
                    final_status: None,
                    dropped: 0,
                    messages: VecDeque::new(),
                }
            }
        };
        if dialog.peer.is_empty() {
            if let Some(p) = &entry.peer {
                dialog.peer = p.clone();
            }
        }
        if let Some(code) = entry.message.status {
            if code >= 200 && entry.message.method == dialog.method {
                dialog.final_status = Some(code);
            }
        }
        while dialog.messages.len() >= self.limits.max_messages {
            let Some(old) = dialog.messages.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(old.bytes());
            dialog.dropped = dialog.dropped.saturating_add(1);
        }
        self.bytes += size;
        dialog.messages.push_back(entry);
        self.dialogs.push_back(dialog);
        // Over the byte cap: other dialogs go first, oldest first; then
        // this dialog's own oldest messages.
        while self.bytes > self.limits.max_bytes {
            if self.dialogs.len() > 1 {
                self.evict_oldest();
            } else if let Some(d) = self.dialogs.back_mut() {
                match d.messages.pop_front() {
                    Some(old) => {
                        self.bytes = self.bytes.saturating_sub(old.bytes());
                        d.dropped = d.dropped.saturating_add(1);
                    }
                    None => break,
                }
            } else {
                break;
            }
        }
    }

    fn evict_oldest(&mut self) {
        if let Some(d) = self.dialogs.pop_front() {
            self.bytes = self.bytes.saturating_sub(d.bytes());
        }
    }
}

fn export_dialog(out: &mut String, d: &Dialog) {
    let s = d.summary();
    let _ = writeln!(
        out,
        "==== {} {} · Call-ID {} · {} message(s){} ====",
        s.method,
        s.peer,
        s.call_id,
        s.messages,
        if s.dropped > 0 {
            format!(", {} older dropped", s.dropped)
        } else {
            String::new()
        }
    );
    out.push('\n');
    for e in &d.messages {
        let m = &e.message;
        let (arrow, from, to) = match m.direction {
            TraceDirection::Sent => ("-->", &m.local, &m.remote),
            TraceDirection::Received => ("<--", &m.remote, &m.local),
        };
        let _ = writeln!(
            out,
            "---- {} {} {} {} {} {} ({}) ----",
            format_time(m.time_ms),
            match m.direction {
                TraceDirection::Sent => "sent",
                TraceDirection::Received => "received",
            },
            from,
            arrow,
            to,
            m.summary,
            match m.transport {
                TransportKind::Udp => "UDP",
                TransportKind::Tcp => "TCP",
                TransportKind::Tls => "TLS",
            },
        );
        out.push_str(m.text.trim_end_matches(['\r', '\n']));
        out.push_str("\n\n");
    }
}

/// `2026-11-24 08:51:35.123 UTC`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{milli:03} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The message text with every secret replaced by [`MASK`]; anything
/// else is left exactly as it was.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_head = true;
    // Whether the current (possibly folded) header carries credentials.
    let mut credentials = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        let masked = if in_head {
            if content.is_empty() {
                in_head = false;
                credentials = false;
                content.to_owned()
            } else if content.starts_with([' ', '\t']) {
                // A folded continuation of the header above (§7.3.1).
                let c = if credentials {
                    mask_credentials_params(content)
                } else {
                    content.to_owned()
                };
                mask_uri_passwords(&c)
            } else {
                let (c, creds) = mask_header_line(content);
                credentials = creds;
                mask_uri_passwords(&c)
            }
        } else {
            mask_body_line(content)
        };
        out.push_str(&masked);
        out.push_str(ending);
    }
    out
}

/// Headers whose values are (or contain) credentials.
const CREDENTIAL_HEADERS: [&str; 3] = [
    "authorization",
    "proxy-authorization",
    "authentication-info",
];

/// One header line: credentials masked; also says whether the header
/// carries credentials (so its folded continuations get masked too).
fn mask_header_line(line: &str) -> (String, bool) {
    let Some(colon) = line.find(':') else {
        return (line.to_owned(), false);
    };
    let name = line[..colon].trim().to_ascii_lowercase();
    if !CREDENTIAL_HEADERS.contains(&name.as_str()) {
        return (line.to_owned(), false);
    }
    let value = &line[colon + 1..];
    if name == "authentication-info" {
        return (
            format!("{}:{}", &line[..colon], mask_credentials_params(value)),
            true,
        );
    }
    // `Digest k=v, ...`: only the response is secret. Any other scheme
    // (Bearer, ...) is a credential as a whole.
    let lead = value.len() - value.trim_start().len();
    let rest = &value[lead..];
    let scheme_len = rest.find([' ', '\t']).unwrap_or(rest.len());
    let scheme = &rest[..scheme_len];
    let params = &rest[scheme_len..];
    let masked = if scheme.eq_ignore_ascii_case("digest") {
        mask_credentials_params(params)
    } else if params.trim().is_empty() {
        params.to_owned()
    } else {
        format!(" {MASK}")
    };
    (
        format!("{}:{}{}{}", &line[..colon], &value[..lead], scheme, masked),
        scheme.eq_ignore_ascii_case("digest"),
    )
}

/// Parameters whose values prove knowledge of the password.
const SECRET_PARAMS: [&str; 2] = ["response", "rspauth"];

/// `response=...` and `rspauth=...` (quoted or not) with their values masked.
fn mask_credentials_params(s: &str) -> String {
    let bytes = s.as_bytes();
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let at_param_start = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b',');
        let hit = at_param_start
            .then(|| {
                SECRET_PARAMS
                    .iter()
                    .find(|p| lower[i..].starts_with(*p))
                    .map(|p| p.len())
            })
            .flatten();
        let Some(name_len) = hit else {
            let ch = s[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&s[i..i + ch]);
            i += ch;
            continue;
        };
        // name, optional spaces, '=', optional spaces, then the value.
        let mut j = i + name_len;
        while j < s.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        if j >= s.len() || bytes[j] != b'=' {
            out.push_str(&s[i..j]);
            i = j;
            continue;
        }
        j += 1;
        while j < s.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        out.push_str(&s[i..j]);
        if j < s.len() && bytes[j] == b'"' {
            // Quoted: up to the closing quote (a backslash escapes).
            let mut k = j + 1;
            while k < s.len() && bytes[k] != b'"' {
                k += if bytes[k] == b'\\' { 2 } else { 1 };
            }
            out.push('"');
            out.push_str(MASK);
            out.push('"');
            i = (k + 1).min(s.len());
        } else {
            let mut k = j;
            while k < s.len() && !matches!(bytes[k], b',' | b' ' | b'\t') {
                k += 1;
            }
            out.push_str(MASK);
            i = k;
        }
    }
    out
}

/// `sip:user:password@host` (also `sips:`, any case) with the password masked.
pub fn mask_uri_passwords(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = next_sip_scheme(&lower, search) {
        let (start, scheme_len) = found;
        let user_start = start + scheme_len;
        // The userinfo ends at '@'; a URI ends at space, quotes or angle
        // brackets. No '@' before that: no userinfo, no password.
        let mut end = user_start;
        while end < s.len() && !matches!(bytes[end], b'@' | b' ' | b'\t' | b'<' | b'>' | b'"') {
            end += 1;
        }
        if end < s.len() && bytes[end] == b'@' {
            if let Some(colon) = s[user_start..end].find(':') {
                let pw_start = user_start + colon + 1;
                out.push_str(&s[copied..pw_start]);
                out.push_str(MASK);
                copied = end;
            }
        }
        search = end.max(user_start);
    }
    out.push_str(&s[copied..]);
    out
}

/// The next `sip:` or `sips:` at or after `from` that starts a URI (not
/// the tail of a longer word): its offset and length.
fn next_sip_scheme(lower: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = lower.as_bytes();
    let mut at = from;
    while let Some(rel) = lower.get(at..)?.find("sip") {
        let i = at + rel;
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'+');
        let len = if lower[i..].starts_with("sips:") {
            5
        } else if lower[i..].starts_with("sip:") {
            4
        } else {
            0
        };
        if boundary && len > 0 {
            return Some((i, len));
        }
        at = i + 3;
    }
    None
}

/// A body line: SDES keys (RFC 4568 `a=crypto:... inline:KEY|...`) and
/// URI passwords masked.
fn mask_body_line(line: &str) -> String {
    let masked = mask_uri_passwords(line);
    if !masked.to_ascii_lowercase().starts_with("a=crypto:") {
        return masked;
    }
    let lower = masked.to_ascii_lowercase();
    let mut out = String::with_capacity(masked.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(rel) = lower[from..].find("inline:") {
        let key_start = from + rel + "inline:".len();
        // The key runs to a '|' (lifetime/MKI), ';' (next key) or space.
        let key_end = masked[key_start..]
            .find(['|', ';', ' ', '\t'])
            .map_or(masked.len(), |e| key_start + e);
        out.push_str(&masked[copied..key_start]);
        out.push_str(MASK);
        copied = key_end;
        from = key_end;
    }
    out.push_str(&masked[copied..]);
    out
}

#[cfg(test)]
mod tests;

//! URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other
//! absolute URI kept as raw text.
//!
//! Components are stored as written (with `%` escapes) so printing gives the
//! input back; [`Uri::equivalent`] implements the comparison rules of
//! RFC 3261 §19.1.4 on the unescaped values.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::params::{Param, Params};
use crate::scan::{byte_table, find_byte, find_either, split_byte, unreserved_c};

/// Why a URI was rejected. Offsets are bytes from the start of the URI text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// No `scheme:` prefix, or the scheme has invalid characters.
    #[error("invalid or missing URI scheme")]
    Scheme,
    /// A character not allowed in the named component.
    #[error("invalid character {ch:?} in URI {part} at offset {at}")]
    InvalidChar {
        /// Component being parsed (`user`, `host`, `parameter`...).
        part: &'static str,
        /// Byte offset in the URI.
        at: usize,
        /// The offending character.
        ch: char,
    },
    /// A `%` not followed by two hex digits.
    #[error("malformed %-escape in URI at offset {at}")]
    Escape {
        /// Byte offset of the `%`.
        at: usize,
    },
    /// A required component is empty.
    #[error("empty {part} in URI at offset {at}")]
    Empty {
        /// Component that is empty.
        part: &'static str,
        /// Byte offset in the URI.
        at: usize,
    },
    /// The port is not a number in 0..=65535.
    #[error("invalid port in URI at offset {at}")]
    Port {
        /// Byte offset of the port.
        at: usize,
    },
    /// An IPv4 address or IPv6 reference that does not parse.
    #[error("invalid IP address in URI at offset {at}")]
    IpAddress {
        /// Byte offset of the address.
        at: usize,
    },
    /// A `tel:` number (or a global-number phone-context) with only visual
    /// separators and no digit (RFC 3966 §3).
    #[error("{part} has no digit in URI at offset {at}")]
    NoDigit {
        /// `global number`, `local number` or `phone-context`.
        part: &'static str,
        /// Byte offset of the number.
        at: usize,
    },
    /// A local `tel:` number without the `phone-context` parameter that
    /// RFC 3966 §5.1.5 requires.
    #[error("local telephone number without phone-context in URI at offset {at}")]
    MissingPhoneContext {
        /// Byte offset of the number.
        at: usize,
    },
}

/// Any URI that can appear in a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:` (RFC 3966).
    Tel(TelUri),
    /// Any other absolute URI, kept verbatim.
    Other(OtherUri),
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// User part as written (may contain `%` escapes).
    pub user: Option<String>,
    /// Password as written.
    pub password: Option<String>,
    /// Host.
    pub host: Host,
    /// Explicit port.
    pub port: Option<u16>,
    /// `;uri-parameters`, values as written.
    pub params: Params,
    /// `?name=value&...` headers, as written.
    pub headers: Vec<(String, String)>,
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TelUri {
    /// The number, e.g. `+1-201-555-0123` or `7042`.
    pub number: String,
    /// Parameters such as `phone-context`, `ext`, `isub`.
    pub params: Params,
}

/// An absolute URI with a scheme Parley does not interpret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OtherUri {
    /// Scheme as written, without the colon.
    pub scheme: String,
    /// Everything after the colon.
    pub rest: String,
}

/// Host part of a SIP URI or Via.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name as written.
    Domain(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written as `[...]`).
    Ipv6(Ipv6Addr),
}

fn invalid(part: &'static str, s: &str, at: usize) -> UriError {
    let ch = s.get(at..).and_then(|r| r.chars().next()).unwrap_or('\0');
    UriError::InvalidChar { part, at, ch }
}

/// Checks that `s` (starting at `base` in the URI) only holds characters
/// accepted by `ok` or valid `%XX` escapes.
fn check_chars(
    s: &str,
    base: usize,
    part: &'static str,
    ok: impl Fn(u8) -> bool,
) -> Result<(), UriError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Runs of plain characters first; escapes are rare.
        i += b
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .position(|&c| !ok(c))
            .unwrap_or(b.len() - i);
        match b.get(i) {
            None => break,
            Some(b'%') => {
                let hex = |j: usize| b.get(j).is_some_and(|c| c.is_ascii_hexdigit());
                if !(hex(i + 1) && hex(i + 2)) {
                    return Err(UriError::Escape { at: base + i });
                }
                i += 3;
            }
            Some(_) => return Err(invalid(part, s, i).shift(base)),
        }
    }
    Ok(())
}

impl UriError {
    /// Renames the component of a character or digit error, for a
    /// number checked as part of a larger one (phone-context).
    fn with_part(self, part: &'static str) -> Self {
        match self {
            UriError::InvalidChar { at, ch, .. } => UriError::InvalidChar { part, at, ch },
            UriError::NoDigit { at, .. } => UriError::NoDigit { part, at },
            e => e,
        }
    }

    fn shift(self, base: usize) -> Self {
        match self {
            UriError::InvalidChar { part, at, ch } => UriError::InvalidChar {
                part,
                at: at + base,
                ch,
            },
            UriError::Escape { at } => UriError::Escape { at: at + base },
            UriError::Empty { part, at } => UriError::Empty {
                part,
                at: at + base,
            },
            UriError::Port { at } => UriError::Port { at: at + base },
            UriError::IpAddress { at } => UriError::IpAddress { at: at + base },
            UriError::NoDigit { part, at } => UriError::NoDigit {
                part,
                at: at + base,
            },
            UriError::MissingPhoneContext { at } => UriError::MissingPhoneContext { at: at + base },
            UriError::Scheme => UriError::Scheme,
        }
    }
}

static USER: [bool; 256] = byte_table!(
    |b| unreserved_c(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
);
static PASSWORD: [bool; 256] =
    byte_table!(|b| unreserved_c(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b','));
static PARAM: [bool; 256] =
    byte_table!(|b| unreserved_c(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$'));
static HEADER: [bool; 256] =
    byte_table!(|b| unreserved_c(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$'));
/// Characters of a generic absolute URI (RFC 3986 reserved + unreserved).
static URIC: [bool; 256] = byte_table!(|b| unreserved_c(b)
    || matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b',' | b'#' | b'[' | b']'
    ));
static HOSTNAME: [bool; 256] =
    byte_table!(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));

fn is_user_char(b: u8) -> bool {
    USER[usize::from(b)]
}
fn is_password_char(b: u8) -> bool {
    PASSWORD[usize::from(b)]
}
fn is_param_char(b: u8) -> bool {
    PARAM[usize::from(b)]
}
fn is_header_char(b: u8) -> bool {
    HEADER[usize::from(b)]
}
fn is_uric(b: u8) -> bool {
    URIC[usize::from(b)]
}

/// Decodes `%XX` escapes. Invalid escapes are left as they are.
pub fn unescape(s: &str) -> Cow<'_, [u8]> {
    if !s.contains('%') {
        return Cow::Borrowed(s.as_bytes());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// Escapes every byte of `s` that `keep` does not accept as `%XX`.
pub fn escape(s: &[u8], keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if keep(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes a user part for a SIP URI.
pub fn escape_user(user: &str) -> String {
    escape(user.as_bytes(), is_user_char)
}

/// A validated host borrowed from the input (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostRef<'a> {
    Domain(&'a str),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl<'a> HostRef<'a> {
    pub(crate) fn parse(s: &'a str) -> Result<HostRef<'a>, UriError> {
        if s.is_empty() {
            return Err(UriError::Empty {
                part: "host",
                at: 0,
            });
        }
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(UriError::IpAddress { at: 0 })?;
            return Ipv6Addr::from_str(inner)
                .map(HostRef::Ipv6)
                .map_err(|_| UriError::IpAddress { at: 0 });
        }
        // One pass: find the first byte a host name cannot hold, and note
        // whether everything is digits and dots (an IPv4 candidate).
        let mut numeric = true;
        for (i, b) in s.bytes().enumerate() {
            if !HOSTNAME[usize::from(b)] {
                return Err(invalid("host", s, i));
            }
            numeric &= b.is_ascii_digit() || b == b'.';
        }
        if numeric {
            return Ipv4Addr::from_str(s)
                .map(HostRef::Ipv4)
                .map_err(|_| UriError::IpAddress { at: 0 });
        }
        Ok(HostRef::Domain(s))
    }

    pub(crate) fn to_owned(self) -> Host {
        match self {
            HostRef::Domain(d) => Host::Domain(d.to_owned()),
            HostRef::Ipv4(a) => Host::Ipv4(a),
            HostRef::Ipv6(a) => Host::Ipv6(a),
        }
    }
}

impl Host {
    /// Parses a host: domain name, IPv4 address or `[IPv6]` reference.
    pub fn parse(s: &str) -> Result<Host, UriError> {
        HostRef::parse(s).map(HostRef::to_owned)
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Domain(_) => None,
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// Host equality per RFC 3261 §19.1.4 (case-insensitive names).
    pub fn equivalent(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a
                .trim_end_matches('.')
                .eq_ignore_ascii_case(b.trim_end_matches('.')),
            (a, b) => a == b,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// One-pass `hostname-or-IPv4 [":" port]` up to `;`, `?` or the end, for
/// the common case; `None` sends the caller to the general (and
/// error-reporting) path.
pub(crate) fn fast_hostport(s: &str, ws_ends: bool) -> Option<(HostRef<'_>, Option<u16>, usize)> {
    let b = s.as_bytes();
    let mut i = b
        .iter()
        .position(|&c| !HOSTNAME[usize::from(c)])
        .unwrap_or(b.len());
    let host = s.get(..i).filter(|h| !h.is_empty())?;
    // Decided after the scan: a domain name fails this at its first letter.
    let numeric = host.bytes().all(|c| c.is_ascii_digit() || c == b'.');
    let mut port = None;
    if b.get(i) == Some(&b':') {
        let start = i + 1;
        let mut v: u32 = 0;
        i = start;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v * 10 + u32::from(c - b'0');
            if v > u32::from(u16::MAX) {
                return None;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        port = Some(u16::try_from(v).ok()?);
    }
    match b.get(i) {
        None | Some(b';' | b'?') => {}
        Some(b' ' | b'\t' | b'\r' | b'\n' | b',') if ws_ends => {}
        Some(_) => return None,
    }
    let host = if numeric {
        HostRef::Ipv4(plain_ipv4(host).or_else(|| Ipv4Addr::from_str(host).ok())?)
    } else {
        HostRef::Domain(host)
    };
    Some((host, port, i))
}

/// The plain dotted quad `d.d.d.d` (1-3 digits per part, no leading zero,
/// each at most 255) in one pass; `None` for anything else, which the caller
/// hands to the standard parser (this only accepts what that one accepts).
pub(crate) fn plain_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.as_bytes().split(|&b| b == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.first() == Some(&b'0')) {
            return None;
        }
        let mut v: u16 = 0;
        for &d in p {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u16::from(d - b'0');
        }
        *o = u8::try_from(v).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// Splits `host[:port]` (with IPv6 references) and parses both.
pub(crate) fn parse_hostport(s: &str, base: usize) -> Result<(HostRef<'_>, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        match find_byte(s, b']') {
            Some(end) => {
                let (h, rest) = s.split_at(end + 1);
                match rest.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None if rest.is_empty() => (h, None),
                    None => return Err(invalid("host", s, end + 1).shift(base)),
                }
            }
            None => return Err(UriError::IpAddress { at: base }),
        }
    } else {
        match split_byte(s, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = HostRef::parse(host).map_err(|e| e.shift(base))?;
    let port = match port {
        Some(p) => {
            let at = base + host_len(s, p);
            Some(
                crate::scan::parse_u64(p, u64::from(u16::MAX))
                    .and_then(|v| u16::try_from(v).ok())
                    .ok_or(UriError::Port { at })?,
            )
        }
        None => None,
    };
    Ok((host, port))
}

fn host_len(whole: &str, port: &str) -> usize {
    whole.len() - port.len()
}

/// A validated URI borrowed from the input; [`UriRef::to_owned`] builds
/// the [`Uri`]. Validation alone never allocates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UriRef<'a> {
    Sip(SipUriRef<'a>),
    Tel { number: &'a str, params: &'a str },
    Other { scheme: &'a str, rest: &'a str },
}

/// Borrowed, validated parts of a SIP URI. `params` is the raw
/// `;a=b;c` text and `headers` the text after `?`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SipUriRef<'a> {
    secure: bool,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: HostRef<'a>,
    port: Option<u16>,
    params: &'a str,
    headers: Option<&'a str>,
}

/// Splits raw `;name[=value]` text (already validated) into [`Params`].
fn split_params(raw: &str) -> Params {
    Params(
        raw.split(';')
            .skip(1)
            .map(|p| match split_byte(p, b'=') {
                Some((n, v)) => Param {
                    name: n.to_owned(),
                    value: Some(v.to_owned()),
                },
                None => Param {
                    name: p.to_owned(),
                    value: None,
                },
            })
            .collect(),
    )
}

impl UriRef<'_> {
    pub(crate) fn has_headers(&self) -> bool {
        matches!(self, UriRef::Sip(u) if u.headers.is_some())
    }

    pub(crate) fn to_owned(self) -> Uri {
        match self {
            UriRef::Sip(u) => Uri::Sip(SipUri {
                secure: u.secure,
                user: u.user.map(str::to_owned),
                password: u.password.map(str::to_owned),
                host: u.host.to_owned(),
                port: u.port,
                params: split_params(u.params),
                headers: u
                    .headers
                    .map(|h| {
                        h.split('&')
                            .map(|kv| {
                                let (n, v) = split_byte(kv, b'=').unwrap_or((kv, ""));
                                (n.to_owned(), v.to_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            UriRef::Tel { number, params } => Uri::Tel(TelUri {
                number: number.to_owned(),
                params: split_params(params),
            }),
            UriRef::Other { scheme, rest } => Uri::Other(OtherUri {
                scheme: scheme.to_owned(),
                rest: rest.to_owned(),
            }),
        }
    }
}

/// Validates a complete URI without allocating.
pub(crate) fn scan_uri(s: &str) -> Result<UriRef<'_>, UriError> {
    // The usual schemes without the generic scheme scan.
    let b = s.as_bytes();
    if b.len() > 4 && b[..4].eq_ignore_ascii_case(b"sip:") {
        return scan_sip(&s[4..], false, 4).map(UriRef::Sip);
    }
    if b.len() > 5 && b[..5].eq_ignore_ascii_case(b"sips:") {
        return scan_sip(&s[5..], true, 5).map(UriRef::Sip);
    }
    let colon = find_byte(s, b':').ok_or(UriError::Scheme)?;
    let scheme = &s[..colon];
    let rest = &s[colon + 1..];
    let valid_scheme = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return Err(UriError::Scheme);
    }
    if scheme.eq_ignore_ascii_case("sip") {
        scan_sip(rest, false, colon + 1).map(UriRef::Sip)
    } else if scheme.eq_ignore_ascii_case("sips") {
        scan_sip(rest, true, colon + 1).map(UriRef::Sip)
    } else if scheme.eq_ignore_ascii_case("tel") {
        scan_tel(rest, colon + 1)
    } else {
        if rest.is_empty() {
            return Err(UriError::Empty {
                part: "URI body",
                at: colon + 1,
            });
        }
        check_chars(rest, colon + 1, "URI body", is_uric)?;
        Ok(UriRef::Other { scheme, rest })
    }
}

impl Uri {
    /// Parses a complete URI.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        scan_uri(s).map(UriRef::to_owned)
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The scheme, lower-cased for the known ones.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other(o) => &o.scheme,
        }
    }

    /// True if the URI has `?headers` (forbidden in a Request-URI).
    pub fn has_headers(&self) -> bool {
        matches!(self, Uri::Sip(u) if !u.headers.is_empty())
    }

    /// URI equivalence per RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel);
    /// other schemes compare case-insensitively on the whole text.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (Uri::Other(a), Uri::Other(b)) => {
                a.scheme.eq_ignore_ascii_case(&b.scheme) && a.rest == b.rest
            }
            _ => false,
        }
    }
}

impl FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Self {
        Uri::Sip(u)
    }
}

impl Uri {
    /// Appends the same text as `Display`, without the formatting
    /// machinery for the common SIP URI parts (serialization hot path).
    pub(crate) fn write_bytes(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let Uri::Sip(u) = self else {
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{self}");
            return;
        };
        out.extend_from_slice(if u.secure { b"sips:" } else { b"sip:" });
        if let Some(user) = &u.user {
            out.extend_from_slice(user.as_bytes());
            if let Some(p) = &u.password {
                out.push(b':');
                out.extend_from_slice(p.as_bytes());
            }
            out.push(b'@');
        }
        match &u.host {
            Host::Domain(d) => out.extend_from_slice(d.as_bytes()),
            other => {
                let _ = write!(out, "{other}");
            }
        }
        if let Some(p) = u.port {
            out.push(b':');
            let mut digits = [0u8; 5];
            let mut n = p;
            let mut i = digits.len();
            loop {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(digits.get(i..).unwrap_or(&[]));
        }
        for p in &u.params.0 {
            out.push(b';');
            out.extend_from_slice(p.name.as_bytes());
            if let Some(v) = &p.value {
                out.push(b'=');
                out.extend_from_slice(v.as_bytes());
            }
        }
        for (i, (n, v)) in u.headers.iter().enumerate() {
            out.push(if i == 0 { b'?' } else { b'&' });
            out.extend_from_slice(n.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other(o) => write!(f, "{}:{}", o.scheme, o.rest),
        }
    }
}

impl SipUri {
    /// A `sip:` URI for `host` with nothing else set.
    pub fn new(host: Host) -> Self {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// Builder: sets the user part (escaping it).
    pub fn with_user(mut self, user: &str) -> Self {
        self.user = Some(escape_user(user));
        self
    }

    /// Builder: sets the port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Builder: adds a URI parameter (the value must already be escaped).
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Self {
        self.params.set(name, value);
        self
    }

    /// Parses `sip:...` / `sips:...`.
    pub fn parse(s: &str) -> Result<SipUri, UriError> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(UriError::Scheme),
        }
    }

    /// The user part with escapes decoded.
    pub fn user_unescaped(&self) -> Option<Cow<'_, [u8]>> {
        self.user.as_deref().map(unescape)
    }

    /// A URI parameter looked up by its unescaped name (`%6C%72` is `lr`),
    /// with the value unescaped as UTF-8 (lossy).
    pub fn param(&self, name: &str) -> Option<Option<String>> {
        self.params
            .iter()
            .find(|p| unescape(&p.name).eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| {
                p.value
                    .as_deref()
                    .map(|v| String::from_utf8_lossy(&unescape(v)).into_owned())
            })
    }

    /// `transport=` parameter.
    pub fn transport(&self) -> Option<&str> {
        self.params.get("transport").flatten()
    }

    /// Has the `lr` flag (loose routing), even if written escaped.
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// Equivalence per RFC 3261 §19.1.4.
    pub fn equivalent(&self, o: &SipUri) -> bool {
        if self.secure != o.secure
            || self.user.as_deref().map(unescape) != o.user.as_deref().map(unescape)
            || self.password.as_deref().map(unescape) != o.password.as_deref().map(unescape)
            || !self.host.equivalent(&o.host)
            || self.port != o.port
        {
            return false;
        }
        // Maps and sorted lists keep this O(n log n) on hostile URIs with
        // thousands of parameters or headers.
        const SPECIAL: [&[u8]; 5] = [b"user", b"ttl", b"method", b"maddr", b"transport"];
        let (a, b) = (param_map(&self.params), param_map(&o.params));
        for (k, v) in &a {
            match b.get(k) {
                Some(w) if v != w => return false,
                Some(_) => {}
                None if SPECIAL.contains(&k.as_slice()) => return false,
                None => {}
            }
        }
        if b.keys()
            .any(|k| SPECIAL.contains(&k.as_slice()) && !a.contains_key(k))
        {
            return false;
        }
        if self.headers.len() != o.headers.len() {
            return false;
        }
        let sorted = |h: &[(String, String)]| {
            let mut v: Vec<(Vec<u8>, Vec<u8>)> = h
                .iter()
                .map(|(n, v)| (unescape(n).to_ascii_lowercase(), unescape(v).into_owned()))
                .collect();
            v.sort();
            v
        };
        sorted(&self.headers) == sorted(&o.headers)
    }
}

/// Parameters keyed by unescaped lower-case name (first occurrence wins),
/// values unescaped and lower-cased, for comparisons.
fn param_map(p: &Params) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    let mut m = BTreeMap::new();
    for x in p.iter() {
        m.entry(unescape(&x.name).to_ascii_lowercase())
            .or_insert_with(|| x.value.as_deref().map(|v| unescape(v).to_ascii_lowercase()));
    }
    m
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{n}={v}")?;
        }
        Ok(())
    }
}

fn scan_sip(s: &str, secure: bool, base: usize) -> Result<SipUriRef<'_>, UriError> {
    match scan_sip_fast(s, secure) {
        Some(u) => Ok(u),
        // Escapes, passwords, `?headers` and anything invalid take the
        // reference path, which also names what is wrong.
        None => scan_sip_ref(s, secure, base),
    }
}

/// One pass over `[user "@"] hostport *(";" pname ["=" pvalue])` with no
/// escapes, password or headers: for such URIs it accepts exactly what
/// [`scan_sip_ref`] accepts and returns the same parts; `None` otherwise.
fn scan_sip_fast(s: &str, secure: bool) -> Option<SipUriRef<'_>> {
    let b = s.as_bytes();
    // '@' is no user character, so the run stops at the first one.
    let run = b.iter().position(|&c| !is_user_char(c)).unwrap_or(b.len());
    let (user, hp_start) = match b.get(run) {
        None => (None, 0),
        Some(b'@') if run > 0 => (Some(s.get(..run)?), run + 1),
        // `host:port` without any '@': no userinfo.
        Some(b':') if memchr::memchr(b'@', b.get(run..)?).is_none() => (None, 0),
        Some(_) => return None,
    };
    let after = s.get(hp_start..)?;
    let (host, port, hp_end) = fast_hostport(after, false)?;
    let ab = after.as_bytes();
    let mut i = hp_end;
    let param_run = |from: usize| {
        ab.get(from..)
            .unwrap_or(&[])
            .iter()
            .position(|&c| !is_param_char(c))
            .map_or(ab.len(), |n| from + n)
    };
    while ab.get(i) == Some(&b';') {
        let name_end = param_run(i + 1);
        if name_end == i + 1 {
            return None;
        }
        i = name_end;
        if ab.get(i) == Some(&b'=') {
            let value_end = param_run(i + 1);
            if value_end == i + 1 {
                return None;
            }
            i = value_end;
        }
    }
    if i != ab.len() {
        return None;
    }
    Some(SipUriRef {
        secure,
        user,
        password: None,
        host,
        port,
        params: after.get(hp_end..)?,
        headers: None,
    })
}

fn scan_sip_ref(s: &str, secure: bool, base: usize) -> Result<SipUriRef<'_>, UriError> {
    // Neither hostport nor parameters may contain '@', so the first one
    // ends the userinfo (which itself may contain ';', '?' and ':').
    let (userinfo, hp_start) = match find_byte(s, b'@') {
        Some(at) => (Some(&s[..at]), at + 1),
        None => (None, 0),
    };
    let (user, password) = match userinfo {
        Some(ui) => {
            let (u, p) = match split_byte(ui, b':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if u.is_empty() {
                return Err(UriError::Empty {
                    part: "user",
                    at: base,
                });
            }
            check_chars(u, base, "user", is_user_char)?;
            if let Some(p) = p {
                check_chars(p, base + u.len() + 1, "password", is_password_char)?;
            }
            (Some(u), p)
        }
        None => (None, None),
    };
    let after = &s[hp_start..];
    let (host, port, hp_end) = match fast_hostport(after, false) {
        Some(done) => done,
        None => {
            let hp_end = find_either(after, b';', b'?').unwrap_or(after.len());
            let (host, port) = parse_hostport(&after[..hp_end], base + hp_start)?;
            (host, port, hp_end)
        }
    };
    let mut rest = &after[hp_end..];
    let mut off = base + hp_start + hp_end;
    let params_start = hp_end;
    while let Some(r) = rest.strip_prefix(';') {
        let end = find_either(r, b';', b'?').unwrap_or(r.len());
        let p = &r[..end];
        let (name, value) = match split_byte(p, b'=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        if name.is_empty() {
            return Err(UriError::Empty {
                part: "parameter name",
                at: off + 1,
            });
        }
        check_chars(name, off + 1, "parameter", is_param_char)?;
        if let Some(v) = value {
            if v.is_empty() {
                return Err(UriError::Empty {
                    part: "parameter value",
                    at: off + 1 + name.len() + 1,
                });
            }
            check_chars(v, off + 1 + name.len() + 1, "parameter", is_param_char)?;
        }
        rest = &r[end..];
        off += 1 + end;
    }
    let params = &after[params_start..after.len() - rest.len()];
    let mut headers = None;
    if let Some(h) = rest.strip_prefix('?') {
        headers = Some(h);
        off += 1;
        for part in h.split('&') {
            let (n, v) = split_byte(part, b'=').ok_or(UriError::InvalidChar {
                part: "header",
                at: off + part.len(),
                ch: '&',
            })?;
            if n.is_empty() {
                return Err(UriError::Empty {
                    part: "header name",
                    at: off,
                });
            }
            check_chars(n, off, "header", is_header_char)?;
            check_chars(v, off + n.len() + 1, "header", is_header_char)?;
            off += part.len() + 1;
        }
    }
    Ok(SipUriRef {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

fn is_visual_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

/// Checks RFC 3966 global-number-digits (`+` then digits and visual
/// separators, at least one digit) or, when `global` is false,
/// local-number-digits (hex digits, `*`, `#`, separators, at least one
/// non-separator). `at` is the offset of `s` in the URI.
fn check_phone_digits(s: &str, at: usize, global: bool) -> Result<(), UriError> {
    let (part, digits, first) = if global {
        let d = s.strip_prefix('+').ok_or(UriError::InvalidChar {
            part: "global number",
            at,
            ch: s.chars().next().unwrap_or('\0'),
        })?;
        ("global number", d, 1)
    } else {
        ("local number", s, 0)
    };
    let ok = |b: u8| {
        is_visual_separator(b)
            || if global {
                b.is_ascii_digit()
            } else {
                b.is_ascii_hexdigit() || b == b'*' || b == b'#'
            }
    };
    if let Some(i) = digits.bytes().position(|b| !ok(b)) {
        return Err(invalid(part, s, first + i).shift(at));
    }
    if digits.bytes().all(is_visual_separator) {
        return Err(UriError::NoDigit { part, at });
    }
    Ok(())
}

fn scan_tel(s: &str, base: usize) -> Result<UriRef<'_>, UriError> {
    let end = find_byte(s, b';').unwrap_or(s.len());
    let number = &s[..end];
    if number.is_empty() || number == "+" {
        return Err(UriError::Empty {
            part: "telephone number",
            at: base,
        });
    }
    let global = number.starts_with('+');
    check_phone_digits(number, base, global)?;
    let mut context = false;
    let mut off = base + end;
    for p in s[end..].split(';').skip(1) {
        let (n, v) = match split_byte(p, b'=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        if n.is_empty() {
            return Err(UriError::Empty {
                part: "parameter name",
                at: off + 1,
            });
        }
        check_chars(n, off + 1, "parameter", |b| {
            b.is_ascii_alphanumeric() || b == b'-'
        })?;
        let value_at = off + 2 + n.len();
        if n.eq_ignore_ascii_case("phone-context") {
            // descriptor = domainname / global-number-digits (§3).
            let v = v.unwrap_or_default();
            if v.is_empty() {
                return Err(UriError::Empty {
                    part: "phone-context",
                    at: value_at,
                });
            }
            if v.starts_with('+') {
                check_phone_digits(v, value_at, true).map_err(|e| e.with_part("phone-context"))?;
            } else {
                check_chars(v, value_at, "phone-context", |b| {
                    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
                })?;
            }
            context = true;
        } else if let Some(v) = v {
            check_chars(v, value_at, "parameter", is_param_char)?;
        }
        off += 1 + p.len();
    }
    if !global && !context {
        return Err(UriError::MissingPhoneContext { at: base });
    }
    Ok(UriRef::Tel {
        number,
        params: &s[end..],
    })
}

impl TelUri {
    /// True for a global number (`+` prefix).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The number without visual separators, e.g. `+12015550123`.
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    /// Equivalence per RFC 3966 §4: numbers without visual separators,
    /// parameters as a set (case-insensitive names and values).
    pub fn equivalent(&self, o: &TelUri) -> bool {
        self.digits().eq_ignore_ascii_case(&o.digits())
            && self.params.len() == o.params.len()
            && param_map(&self.params) == param_map(&o.params)
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_ipv4_agrees_with_std() {
        for s in [
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "",
            "1.2.3.4 ",
            "a.b.c.d",
            "10.0.0.00",
            "1000.1.1.1",
            "10.0.0.0.",
            ".1.2.3",
        ] {
            let std = s.parse::<std::net::Ipv4Addr>().ok();
            if let Some(fast) = super::plain_ipv4(s) {
                assert_eq!(Some(fast), std, "{s}");
            }
        }
        assert!(super::plain_ipv4("192.0.2.1").is_some());
        assert!(super::plain_ipv4("01.2.3.4").is_none());
    }

    use super::*;

    fn sip(s: &str) -> SipUri {
        SipUri::parse(s).unwrap()
    }

    #[test]
    fn full_sip_uri() {
        let u = sip("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&x=y");
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.lr());
        assert_eq!(u.headers.len(), 2);
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&x=y"
        );
    }

    #[test]
    fn user_with_semicolon_and_escapes() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(
            u.user_unescaped().unwrap().as_ref(),
            b"user;par=u@example.net"
        );
        assert_eq!(u.host, Host::Domain("example.com".into()));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            Uri::parse("sip:user@example.com:99999"),
            Err(UriError::Port { .. })
        ));
        assert!(matches!(
            Uri::parse("sip:us%zzer@example.com"),
            Err(UriError::Escape { at: 6 })
        ));
        assert!(matches!(
            Uri::parse("sip:user@exa mple.com"),
            Err(UriError::InvalidChar { part: "host", .. })
        ));
        assert!(matches!(Uri::parse("<sip:a@b>"), Err(UriError::Scheme)));
        assert!(Uri::parse("sip:a@b;;").is_err());
        assert!(Uri::parse("sip:[::1").is_err());
        assert!(Uri::parse("sip:300.1.1.1").is_err());
    }

    #[test]
    fn rfc3261_equivalence_examples() {
        let eq = |a: &str, b: &str| Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap());
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
    }

    #[test]
    fn equivalence_stays_fast_on_huge_uris() {
        // 20k parameters and headers: quadratic matching would take ages.
        let mut text = String::from("sip:a@b");
        for i in 0..20_000 {
            text.push_str(&format!(";p{i}=v{i}"));
        }
        text.push('?');
        let hs: Vec<String> = (0..20_000).map(|i| format!("h{i}=x")).collect();
        text.push_str(&hs.join("&"));
        let u = Uri::parse(&text).unwrap();
        assert!(u.equivalent(&u.clone()));
    }

    #[test]
    fn tel_uris() {
        let u = Uri::parse("tel:+1-201-555-0123;ext=42").unwrap();
        let Uri::Tel(t) = &u else { panic!("not tel") };
        assert!(t.is_global());
        assert_eq!(t.digits(), "+12015550123");
        assert_eq!(t.params.get("ext"), Some(Some("42")));
        assert_eq!(u.to_string(), "tel:+1-201-555-0123;ext=42");
        assert!(u.equivalent(&Uri::parse("tel:+1.201.555.0123;EXT=42").unwrap()));
        assert!(Uri::parse("tel:12+3").is_err());
        assert!(Uri::parse("tel:").is_err());
    }

    #[test]
    fn tel_local_numbers_need_phone_context() {
        let u = Uri::parse("tel:*70#;phone-context=example.com").unwrap();
        let Uri::Tel(t) = &u else { panic!("not tel") };
        assert!(!t.is_global());
        assert_eq!(t.number, "*70#");
        assert!(Uri::parse("tel:7042;phone-context=+1-201-555").is_ok());
        assert!(Uri::parse("tel:AB-cd;phone-context=pbx").is_ok());
        // Offsets count from the start of the URI text: "tel:" is 4 bytes.
        assert_eq!(
            Uri::parse("tel:7042"),
            Err(UriError::MissingPhoneContext { at: 4 })
        );
        assert_eq!(
            Uri::parse("tel:7042;ext=1"),
            Err(UriError::MissingPhoneContext { at: 4 })
        );
        assert_eq!(
            Uri::parse("tel:7042;phone-context="),
            Err(UriError::Empty {
                part: "phone-context",
                at: 23
            })
        );
        assert_eq!(
            Uri::parse("tel:1;phone-context=+1x"),
            Err(UriError::InvalidChar {
                part: "phone-context",
                at: 22,
                ch: 'x'
            })
        );
        assert_eq!(
            Uri::parse("tel:1;phone-context=a_b"),
            Err(UriError::InvalidChar {
                part: "phone-context",
                at: 21,
                ch: '_'
            })
        );
    }

    #[test]
    fn tel_number_characters() {
        // Global numbers: digits and visual separators only.
        assert!(Uri::parse("tel:+1(201)555.0123").is_ok());
        assert_eq!(
            Uri::parse("tel:+1-201-A"),
            Err(UriError::InvalidChar {
                part: "global number",
                at: 11,
                ch: 'A'
            })
        );
        assert_eq!(
            Uri::parse("tel:+12*3"),
            Err(UriError::InvalidChar {
                part: "global number",
                at: 7,
                ch: '*'
            })
        );
        assert_eq!(
            Uri::parse("tel:+1+2"),
            Err(UriError::InvalidChar {
                part: "global number",
                at: 6,
                ch: '+'
            })
        );
        assert_eq!(
            Uri::parse("tel:+--"),
            Err(UriError::NoDigit {
                part: "global number",
                at: 4
            })
        );
        // Local numbers: hex digits, * and #, separators; not letters past F.
        assert_eq!(
            Uri::parse("tel:12G;phone-context=x"),
            Err(UriError::InvalidChar {
                part: "local number",
                at: 6,
                ch: 'G'
            })
        );
        assert_eq!(
            Uri::parse("tel:(-);phone-context=x"),
            Err(UriError::NoDigit {
                part: "local number",
                at: 4
            })
        );
        assert_eq!(
            Uri::parse("tel:1%202;phone-context=x"),
            Err(UriError::InvalidChar {
                part: "local number",
                at: 5,
                ch: '%'
            })
        );
        let e = Uri::parse("tel:+1-201-A").unwrap_err().to_string();
        assert!(e.contains("global number") && e.contains("11"), "{e}");
    }

    #[test]
    fn other_schemes_kept_raw() {
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme(), "soap.beep");
        assert_eq!(u.to_string(), "soap.beep://192.0.2.103:3002");
        assert!(Uri::parse("isbn:2983792873").is_ok());
        assert!(Uri::parse("http:").is_err());
        assert!(Uri::parse("x:a b").is_err());
    }

    #[test]
    fn fast_sip_scan_matches_reference() {
        let cases = [
            "alice@atlanta.example.com",
            "alice@client.atlanta.example.com:5060;transport=tcp",
            "ss1.atlanta.example.com;lr",
            "192.0.2.201:5060;transport=udp",
            "bob@192.0.2.201:5060;transport=udp;ob",
            "a@b;x=",
            "a@b;;x",
            "a@b;x=1=2",
            "a@b?h=v",
            "a:pw@b",
            "%61@b",
            "@b",
            "a@b:99999",
            "a@[2001:db8::1]:5060",
            "user;par=x@host",
            "host:5060@x",
            "a@b;p=%41",
            "",
        ];
        for c in cases {
            let reference = scan_sip_ref(c, false, 4).map(|u| UriRef::Sip(u).to_owned());
            if let Some(fast) = scan_sip_fast(c, false) {
                assert_eq!(Ok(UriRef::Sip(fast).to_owned()), reference, "{c}");
            }
            assert_eq!(
                scan_sip(c, false, 4).map(|u| UriRef::Sip(u).to_owned()),
                reference,
                "{c}"
            );
        }
    }

    #[test]
    fn write_bytes_matches_display() {
        for u in [
            "sip:alice@atlanta.example.com",
            "sips:a:pw@[2001:db8::1]:5061;transport=tls;lr?h=1&x=2",
            "sip:192.0.2.1:5060;maddr=x",
            "sip:h:0",
            "sip:h:65535",
            "tel:+1-201-555-0123;ext=1",
            "urn:uuid:x",
        ] {
            let uri = Uri::parse(u).unwrap();
            let mut out = Vec::new();
            uri.write_bytes(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), uri.to_string());
        }
    }

    #[test]
    fn escape_round_trip() {
        let e = escape_user("I have spaces@");
        assert_eq!(e, "I%20have%20spaces%40");
        assert_eq!(unescape(&e).as_ref(), b"I have spaces@");
    }
}

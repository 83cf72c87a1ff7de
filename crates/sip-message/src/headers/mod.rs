//! The header container and the typed headers, one file per header.
//!
//! [`Headers`] keeps every header line in order with its name and value text
//! exactly as received, stored in one owned buffer plus byte ranges, so
//! parsing a message costs a couple of allocations however many headers it
//! has. Typed views are parsed on demand with [`Headers::typed`],
//! [`Headers::typed_first`] and [`Headers::typed_all`], or the shortcuts such
//! as [`Headers::via`] and [`Headers::cseq`].

use std::fmt;

use crate::scan::{is_token_str, split_list, Expected};
use crate::uri::UriError;

mod accept;
mod addr;
mod allow;
mod allow_events;
mod auth;
mod authentication_info;
mod authorization;
mod call_id;
mod contact;
mod content_disposition;
mod content_encoding;
mod content_length;
mod content_type;
mod cseq;
mod date;
mod event;
mod expires;
mod from;
mod max_forwards;
mod min_expires;
mod min_se;
mod numeric;
mod pai;
mod proxy_authenticate;
mod proxy_authorization;
mod proxy_require;
mod rack;
mod reason;
mod record_route;
mod refer_to;
mod referred_by;
mod replaces;
mod require;
mod retry_after;
mod route;
mod rseq;
mod server;
mod session_expires;
mod sip_etag;
mod sip_if_match;
mod subscription_state;
mod supported;
mod timestamp;
mod to;
mod tokens;
mod unsupported;
mod user_agent;
mod via;
mod www_authenticate;

pub use accept::Accept;
pub use allow::Allow;
pub use allow_events::AllowEvents;
pub use auth::{Challenge, Credentials};
pub use authentication_info::AuthenticationInfo;
pub use authorization::Authorization;
pub use call_id::CallId;
pub use contact::Contact;
pub use content_disposition::ContentDisposition;
pub use content_encoding::ContentEncoding;
pub use content_length::ContentLength;
pub use content_type::{ContentType, MediaType};
pub use cseq::CSeq;
pub use date::Date;
pub use event::Event;
pub use expires::Expires;
pub use from::From;
pub use max_forwards::MaxForwards;
pub use min_expires::MinExpires;
pub use min_se::MinSe;
pub use pai::PAssertedIdentity;
pub use proxy_authenticate::ProxyAuthenticate;
pub use proxy_authorization::ProxyAuthorization;
pub use proxy_require::ProxyRequire;
pub use rack::RAck;
pub use reason::Reason;
pub use record_route::RecordRoute;
pub use refer_to::ReferTo;
pub use referred_by::ReferredBy;
pub use replaces::Replaces;
pub use require::Require;
pub use retry_after::RetryAfter;
pub use route::Route;
pub use rseq::RSeq;
pub use server::Server;
pub use session_expires::{Refresher, SessionExpires};
pub use sip_etag::SipETag;
pub use sip_if_match::SipIfMatch;
pub use subscription_state::{SubState, SubscriptionState};
pub use supported::Supported;
pub use timestamp::Timestamp;
pub use to::To;
pub use unsupported::Unsupported;
pub use user_agent::UserAgent;
pub use via::{Transport, Via};
pub use www_authenticate::WwwAuthenticate;

/// Why a header value was rejected. Offsets are bytes from the start of the
/// header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The value does not follow the header's grammar.
    #[error("{header} header: expected {expected} at offset {offset}")]
    Syntax {
        /// Header name.
        header: &'static str,
        /// Byte offset in the value.
        offset: usize,
        /// What the grammar wanted there.
        expected: &'static str,
    },
    /// A URI inside the header is invalid.
    #[error("{header} header: invalid URI at offset {offset}: {source}")]
    Uri {
        /// Header name.
        header: &'static str,
        /// Byte offset of the URI in the value.
        offset: usize,
        /// What was wrong with it.
        source: UriError,
    },
    /// A number is too large (or otherwise out of the allowed range).
    #[error("{header} header: number out of range at offset {offset}")]
    OutOfRange {
        /// Header name.
        header: &'static str,
        /// Byte offset of the number.
        offset: usize,
    },
    /// A single-valued header appears more than once.
    #[error("{header} header: {count} values where only one is allowed")]
    Multiple {
        /// Header name.
        header: &'static str,
        /// How many values were found.
        count: usize,
    },
    /// A header name given to [`Headers::push`] is not a token.
    #[error("invalid header name {0:?}")]
    InvalidName(String),
    /// A value given to [`Headers::push`] contains CR/LF that is not a fold.
    #[error("{0} header: value contains CR or LF outside a line fold")]
    InvalidValue(String),
}

impl HeaderError {
    pub(crate) fn syntax(header: &'static str, offset: usize, expected: &'static str) -> Self {
        HeaderError::Syntax {
            header,
            offset,
            expected,
        }
    }

    pub(crate) fn uri(header: &'static str, offset: usize, source: UriError) -> Self {
        HeaderError::Uri {
            header,
            offset,
            source,
        }
    }

    pub(crate) fn scan(header: &'static str) -> impl Fn(Expected) -> HeaderError {
        move |e| HeaderError::syntax(header, e.at, e.what)
    }

    /// Moves the offset by `by` bytes (for list elements).
    fn shift(self, by: usize) -> Self {
        match self {
            HeaderError::Syntax {
                header,
                offset,
                expected,
            } => HeaderError::Syntax {
                header,
                offset: offset + by,
                expected,
            },
            HeaderError::Uri {
                header,
                offset,
                source,
            } => HeaderError::Uri {
                header,
                offset: offset + by,
                source,
            },
            HeaderError::OutOfRange { header, offset } => HeaderError::OutOfRange {
                header,
                offset: offset + by,
            },
            other => other,
        }
    }

    /// The name of the header the error is about, if known.
    pub fn header(&self) -> &str {
        match self {
            HeaderError::Syntax { header, .. }
            | HeaderError::Uri { header, .. }
            | HeaderError::OutOfRange { header, .. }
            | HeaderError::Multiple { header, .. } => header,
            HeaderError::InvalidName(n) | HeaderError::InvalidValue(n) => n,
        }
    }
}

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ; )*) => {
        /// Header names Parley knows, with compact forms folded in. Any other
        /// name is [`HeaderName::Other`] and is matched by its text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = $canon]
                $variant,
            )*
            /// Any header not listed above.
            Other,
        }

        impl HeaderName {
            /// Canonical spelling (`Other` has none and gives `""`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other => "",
                }
            }

            /// Classifies a header name, case-insensitively, including the
            /// compact forms of RFC 3261 §7.3.3 and later RFCs.
            pub fn from_name(name: &str) -> HeaderName {
                HeaderName::from_bytes(name.as_bytes())
            }

            /// [`HeaderName::from_name`] on bytes (a non-UTF-8 name is
            /// simply `Other`).
            pub(crate) fn from_bytes(bytes: &[u8]) -> HeaderName {
                const TABLE: &[(&str, HeaderName)] = &[
                    $( ($canon, HeaderName::$variant), $( ($compact, HeaderName::$variant), )? )*
                ];
                // Buckets by lower-cased first letter, built once, so a lookup
                // compares against a handful of names instead of all of them.
                static BUCKETS: std::sync::OnceLock<[Vec<(&'static str, HeaderName)>; 26]> =
                    std::sync::OnceLock::new();
                let buckets = BUCKETS.get_or_init(|| {
                    let mut b: [Vec<(&'static str, HeaderName)>; 26] = Default::default();
                    for &(n, k) in TABLE {
                        if let Some(v) = n
                            .bytes()
                            .next()
                            .and_then(|c| b.get_mut(usize::from(c.to_ascii_lowercase().wrapping_sub(b'a'))))
                        {
                            v.push((n, k));
                        }
                    }
                    b
                });
                // Fast path: the headers found in nearly every message,
                // picked by length and first letter and confirmed by one
                // comparison.
                let first = bytes.first().map_or(0, u8::to_ascii_lowercase);
                // `lit` is lower case and as long as `bytes` (the match arm
                // checked the length): OR-ing 0x20 into the input at the
                // literal's letters folds exactly 'A'-'Z' onto 'a'-'z' there,
                // and other positions ('-') must match as they are. No early
                // exit, so the compiler unrolls it for the short literals.
                let is = |lit: &str| {
                    bytes.len() == lit.len()
                        && bytes.iter().zip(lit.bytes()).fold(0u8, |acc, (&b, l)| {
                            acc | ((b | (u8::from(l.is_ascii_lowercase()) << 5)) ^ l)
                        }) == 0
                };
                // Each arm compares against a literal, which the compiler
                // turns into a few word compares.
                let fast = match (bytes.len(), first) {
                    (2, b't') if is("to") => Some(HeaderName::To),
                    (3, b'v') if is("via") => Some(HeaderName::Via),
                    (4, b'f') if is("from") => Some(HeaderName::From),
                    (4, b'c') if is("cseq") => Some(HeaderName::CSeq),
                    (4, b'd') if is("date") => Some(HeaderName::Date),
                    (5, b'r') if is("route") => Some(HeaderName::Route),
                    (5, b'a') if is("allow") => Some(HeaderName::Allow),
                    (5, b'e') if is("event") => Some(HeaderName::Event),
                    (6, b's') if is("server") => Some(HeaderName::Server),
                    (6, b'a') if is("accept") => Some(HeaderName::Accept),
                    (7, b'c') if is("call-id") => Some(HeaderName::CallId),
                    (7, b'c') if is("contact") => Some(HeaderName::Contact),
                    (7, b'e') if is("expires") => Some(HeaderName::Expires),
                    (7, b'r') if is("require") => Some(HeaderName::Require),
                    (7, b's') if is("subject") => Some(HeaderName::Subject),
                    (9, b's') if is("supported") => Some(HeaderName::Supported),
                    (10, b'u') if is("user-agent") => Some(HeaderName::UserAgent),
                    (12, b'm') if is("max-forwards") => Some(HeaderName::MaxForwards),
                    (12, b'c') if is("content-type") => Some(HeaderName::ContentType),
                    (12, b'r') if is("record-route") => Some(HeaderName::RecordRoute),
                    (12, b'a') if is("allow-events") => Some(HeaderName::AllowEvents),
                    (13, b'a') if is("authorization") => Some(HeaderName::Authorization),
                    (14, b'c') if is("content-length") => Some(HeaderName::ContentLength),
                    (15, b's') if is("session-expires") => Some(HeaderName::SessionExpires),
                    (16, b'w') if is("www-authenticate") => Some(HeaderName::WwwAuthenticate),
                    (18, b'p') if is("proxy-authenticate") => Some(HeaderName::ProxyAuthenticate),
                    (18, b's') if is("subscription-state") => Some(HeaderName::SubscriptionState),
                    (19, b'p') if is("proxy-authorization") => Some(HeaderName::ProxyAuthorization),
                    _ => None,
                };
                if let Some(k) = fast {
                    return k;
                }
                let Some(first) = bytes.first() else {
                    return HeaderName::Other;
                };
                let Some(bucket) = buckets.get(usize::from(first.to_ascii_lowercase().wrapping_sub(b'a'))) else {
                    return HeaderName::Other;
                };
                bucket
                    .iter()
                    .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(bytes))
                    .map_or(HeaderName::Other, |&(_, k)| k)
            }
        }
    };
}

header_names! {
    Via => "Via", "v";
    From => "From", "f";
    To => "To", "t";
    CallId => "Call-ID", "i";
    CSeq => "CSeq";
    MaxForwards => "Max-Forwards";
    Contact => "Contact", "m";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    Route => "Route";
    RecordRoute => "Record-Route";
    Expires => "Expires";
    MinExpires => "Min-Expires";
    Allow => "Allow";
    Supported => "Supported", "k";
    Require => "Require";
    Unsupported => "Unsupported";
    ProxyRequire => "Proxy-Require";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", "e";
    ContentLanguage => "Content-Language";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthenticate => "Proxy-Authenticate";
    Authorization => "Authorization";
    ProxyAuthorization => "Proxy-Authorization";
    AuthenticationInfo => "Authentication-Info";
    RSeq => "RSeq";
    RAck => "RAck";
    Event => "Event", "o";
    AllowEvents => "Allow-Events", "u";
    SubscriptionState => "Subscription-State";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    Replaces => "Replaces";
    SipETag => "SIP-ETag";
    SipIfMatch => "SIP-If-Match";
    SessionExpires => "Session-Expires", "x";
    MinSe => "Min-SE";
    Reason => "Reason";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    UserAgent => "User-Agent";
    Server => "Server";
    Accept => "Accept";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AcceptContact => "Accept-Contact", "a";
    RejectContact => "Reject-Contact", "j";
    RequestDisposition => "Request-Disposition", "d";
    Identity => "Identity", "y";
    Subject => "Subject", "s";
    Date => "Date";
    Timestamp => "Timestamp";
    RetryAfter => "Retry-After";
    Warning => "Warning";
    CallInfo => "Call-Info";
    AlertInfo => "Alert-Info";
    ErrorInfo => "Error-Info";
    InReplyTo => "In-Reply-To";
    MimeVersion => "MIME-Version";
    Organization => "Organization";
    Priority => "Priority";
    ReplyTo => "Reply-To";
    Path => "Path";
    ServiceRoute => "Service-Route";
    Privacy => "Privacy";
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header with a typed view. `Display` prints one value (without the name).
pub trait TypedHeader: Sized + fmt::Display {
    /// The header this type reads and writes.
    const NAME: HeaderName;
    /// True when several values may share one line, separated by commas.
    const LIST: bool = false;
    /// True when a `LIST` header may be present with no value at all
    /// (e.g. `Supported:`), meaning an empty list.
    const EMPTY_OK: bool = false;
    /// Parses one value (one list element for `LIST` headers).
    fn parse(value: &str) -> Result<Self, HeaderError>;
    /// Checks one value without building it. The core headers override
    /// this with allocation-free scanners, which is what keeps
    /// [`crate::parse`] fast while still rejecting malformed messages.
    fn validate(value: &str) -> Result<(), HeaderError> {
        Self::parse(value).map(drop)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: HeaderName,
    name: (usize, usize),
    value: (usize, usize),
}

/// Checks one header line's value (all list elements for `LIST` headers)
/// without building it.
fn check_value<T: TypedHeader>(v: &str) -> Result<(), HeaderError> {
    if T::LIST && T::EMPTY_OK && v.is_empty() {
        Ok(())
    } else if T::LIST {
        split_list(v).try_for_each(|(off, item)| {
            if item.is_empty() {
                Err(HeaderError::syntax(T::NAME.as_str(), off, "list element"))
            } else {
                T::validate(item).map_err(|e| e.shift(off))
            }
        })
    } else {
        T::validate(v)
    }
}

/// One header line as stored: name as written and raw value (folds kept,
/// surrounding whitespace removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// Classified name.
    pub kind: HeaderName,
    /// Name as written.
    pub name: &'a str,
    /// Raw value.
    pub value: &'a str,
}

/// Ordered header list; see the module docs.
#[derive(Clone, Default)]
pub struct Headers {
    buf: String,
    entries: Vec<Entry>,
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|h| (h.name, h.value)))
            .finish()
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.name == b.name && a.value == b.value)
    }
}
impl Eq for Headers {}

/// True when every CR/LF in `v` is part of a CRLF + WSP fold.
fn folds_ok(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => {
                if b.get(i + 1) != Some(&b'\n') || !matches!(b.get(i + 2), Some(b' ' | b'\t')) {
                    return false;
                }
                i += 3;
            }
            b'\n' => return false,
            _ => i += 1,
        }
    }
    true
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Headers::default()
    }

    pub(crate) fn with_capacity(bytes: usize, headers: usize) -> Self {
        Headers {
            buf: String::with_capacity(bytes),
            entries: Vec::with_capacity(headers),
        }
    }

    pub(crate) fn push_span(
        &mut self,
        kind: HeaderName,
        name: (usize, usize),
        value: (usize, usize),
    ) {
        self.entries.push(Entry { kind, name, value });
    }

    pub(crate) fn buf_mut(&mut self) -> &mut String {
        &mut self.buf
    }

    fn field(&self, e: &Entry) -> HeaderField<'_> {
        HeaderField {
            kind: e.kind,
            name: self.buf.get(e.name.0..e.name.1).unwrap_or(""),
            value: self.buf.get(e.value.0..e.value.1).unwrap_or(""),
        }
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All header lines in order.
    pub fn iter(&self) -> impl Iterator<Item = HeaderField<'_>> + '_ {
        self.entries.iter().map(|e| self.field(e))
    }

    fn matches(&self, e: &Entry, kind: HeaderName, name: &str) -> bool {
        if kind == HeaderName::Other {
            e.kind == HeaderName::Other
                && self
                    .buf
                    .get(e.name.0..e.name.1)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        } else {
            e.kind == kind
        }
    }

    /// Raw values of every line called `name` (any spelling or compact
    /// form), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let kind = HeaderName::from_name(name);
        self.entries
            .iter()
            .filter(move |e| self.matches(e, kind, name))
            .map(|e| self.field(e).value)
    }

    /// Raw value of the first line called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let kind = HeaderName::from_name(name);
        self.entries
            .iter()
            .find(|e| self.matches(e, kind, name))
            .map(|e| self.field(e).value)
    }

    /// Raw values of a known header, in order.
    pub fn values(&self, kind: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.entries
            .iter()
            .filter(move |e| e.kind == kind && kind != HeaderName::Other)
            .map(|e| self.field(e).value)
    }

    /// `(line index, raw value)` of every line of a known header.
    pub(crate) fn indexed_values(&self, kind: HeaderName) -> impl Iterator<Item = (usize, &str)> {
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.kind == kind)
            .map(|(i, e)| (i, self.buf.get(e.value.0..e.value.1).unwrap_or("")))
    }

    /// True if a line called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn append(&mut self, name: &str, value: &str) -> Entry {
        let n0 = self.buf.len();
        self.buf.push_str(name);
        let v0 = self.buf.len();
        self.buf.push_str(value);
        Entry {
            kind: HeaderName::from_name(name),
            name: (n0, v0),
            value: (v0, self.buf.len()),
        }
    }

    fn check(name: &str, value: &str) -> Result<(), HeaderError> {
        if !is_token_str(name) {
            return Err(HeaderError::InvalidName(name.to_owned()));
        }
        if !folds_ok(value) {
            return Err(HeaderError::InvalidValue(name.to_owned()));
        }
        Ok(())
    }

    /// Appends a raw header line.
    pub fn push(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        Self::check(name, value)?;
        let e = self.append(name, value.trim());
        self.entries.push(e);
        Ok(())
    }

    /// Inserts a raw header line before all others (e.g. a new Via).
    pub fn prepend(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        Self::check(name, value)?;
        let e = self.append(name, value.trim());
        self.entries.insert(0, e);
        Ok(())
    }

    /// Appends a typed header under its canonical name.
    pub fn push_typed<T: TypedHeader>(&mut self, h: &T) {
        let v = h.to_string();
        let e = self.append(T::NAME.as_str(), &v);
        self.entries.push(e);
    }

    /// Inserts a typed header before all others.
    pub fn prepend_typed<T: TypedHeader>(&mut self, h: &T) {
        let v = h.to_string();
        let e = self.append(T::NAME.as_str(), &v);
        self.entries.insert(0, e);
    }

    /// Replaces every line of `T`'s header with one line holding `h`, at the
    /// position of the first one (or at the end).
    pub fn set_typed<T: TypedHeader>(&mut self, h: &T) {
        let v = h.to_string();
        let e = self.append(T::NAME.as_str(), &v);
        let pos = self.entries.iter().position(|x| x.kind == T::NAME);
        self.entries.retain(|x| x.kind != T::NAME);
        match pos {
            Some(p) => self.entries.insert(p.min(self.entries.len()), e),
            None => self.entries.push(e),
        }
    }

    /// Removes every line called `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let kind = HeaderName::from_name(name);
        let before = self.entries.len();
        let keep: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| !self.matches(e, kind, name))
            .copied()
            .collect();
        self.entries = keep;
        before - self.entries.len()
    }

    /// Removes the first line called `name`, returning its raw value.
    pub fn remove_first(&mut self, name: &str) -> Option<String> {
        let kind = HeaderName::from_name(name);
        let i = self
            .entries
            .iter()
            .position(|e| self.matches(e, kind, name))?;
        let e = self.entries.remove(i);
        Some(self.field(&e).value.to_owned())
    }

    fn for_each_value<T: TypedHeader>(
        &self,
        mut f: impl FnMut(&str, usize) -> Result<bool, HeaderError>,
    ) -> Result<(), HeaderError> {
        for e in self.entries.iter().filter(|e| e.kind == T::NAME) {
            let v = self.field(e).value;
            if T::LIST && T::EMPTY_OK && v.is_empty() {
                continue;
            }
            if T::LIST {
                for (off, item) in split_list(v) {
                    if item.is_empty() {
                        return Err(HeaderError::syntax(T::NAME.as_str(), off, "list element"));
                    }
                    if !f(item, off)? {
                        return Ok(());
                    }
                }
            } else if !f(v, 0)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Every value of `T`'s header, comma lists expanded, in order.
    pub fn typed_all<T: TypedHeader>(&self) -> Result<Vec<T>, HeaderError> {
        let mut out = Vec::new();
        self.for_each_value::<T>(|v, off| {
            out.push(T::parse(v).map_err(|e| e.shift(off))?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first value of `T`'s header (e.g. the topmost Via).
    pub fn typed_first<T: TypedHeader>(&self) -> Result<Option<T>, HeaderError> {
        let mut out = None;
        self.for_each_value::<T>(|v, off| {
            out = Some(T::parse(v).map_err(|e| e.shift(off))?);
            Ok(false)
        })?;
        Ok(out)
    }

    /// The value of a single-valued header: `Ok(None)` if absent,
    /// [`HeaderError::Multiple`] if it appears more than once.
    pub fn typed<T: TypedHeader>(&self) -> Result<Option<T>, HeaderError> {
        let mut count = 0;
        self.for_each_value::<T>(|_, _| {
            count += 1;
            Ok(true)
        })?;
        if count > 1 {
            return Err(HeaderError::Multiple {
                header: T::NAME.as_str(),
                count,
            });
        }
        self.typed_first()
    }

    /// Parses every value of `T` and throws the results away; used by the
    /// message parser to reject malformed core headers up front.
    pub(crate) fn validate<T: TypedHeader>(&self) -> Result<(), (usize, HeaderError)> {
        for (i, e) in self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == T::NAME)
        {
            check_value::<T>(self.field(e).value).map_err(|err| (i, err))?;
        }
        Ok(())
    }

    /// Validates the core headers in one pass over the lines (see
    /// [`crate::parse`]); returns the failing line index and error.
    pub(crate) fn validate_core(&self) -> Result<(), (usize, HeaderError)> {
        for (i, e) in self.entries.iter().enumerate() {
            // Most lines are not core headers: decide on the kind before
            // slicing the value out of the buffer.
            if !matches!(
                e.kind,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
                    | HeaderName::MaxForwards
                    | HeaderName::Contact
            ) {
                continue;
            }
            let v = self.buf.get(e.value.0..e.value.1).unwrap_or("");
            let res = match e.kind {
                HeaderName::Via => check_value::<Via>(v),
                HeaderName::From => check_value::<From>(v),
                HeaderName::To => check_value::<To>(v),
                HeaderName::CallId => check_value::<CallId>(v),
                HeaderName::CSeq => check_value::<CSeq>(v),
                HeaderName::MaxForwards => check_value::<MaxForwards>(v),
                HeaderName::Contact => check_value::<Contact>(v),
                _ => Ok(()),
            };
            res.map_err(|err| (i, err))?;
        }
        Ok(())
    }

    /// Line number (1-based, counting the start line as line 1) of header
    /// entry `i` in a parsed message; folds count as lines.
    pub(crate) fn line_of(&self, i: usize) -> usize {
        let off = self.value_start(i).unwrap_or(0);
        2 + self
            .buf
            .as_bytes()
            .get(..off)
            .map_or(0, |b| memchr::memchr_iter(b'\n', b).count())
    }

    /// Byte offset of the value of line `i` in the internal buffer.
    pub(crate) fn value_start(&self, i: usize) -> Option<usize> {
        self.entries.get(i).map(|e| e.value.0)
    }

    /// Writes `Name: value\r\n` for every line.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let buf = self.buf.as_bytes();
        // Lines whose buffer bytes already read `Name: value\r\n` (most
        // parsed lines) are copied in runs of adjacent lines, one copy per
        // run instead of four per line.
        let mut run: Option<(usize, usize)> = None;
        for e in &self.entries {
            let line_end = e.value.1 + 2;
            let verbatim = buf.get(e.name.1..e.value.0) == Some(b": ")
                && buf.get(e.value.1..line_end) == Some(b"\r\n");
            if verbatim {
                match run.as_mut() {
                    Some((_, end)) if *end == e.name.0 => *end = line_end,
                    _ => {
                        if let Some((s, t)) = run.take() {
                            out.extend_from_slice(buf.get(s..t).unwrap_or(&[]));
                        }
                        run = Some((e.name.0, line_end));
                    }
                }
                continue;
            }
            if let Some((s, t)) = run.take() {
                out.extend_from_slice(buf.get(s..t).unwrap_or(&[]));
            }
            let f = self.field(e);
            out.extend_from_slice(f.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(f.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some((s, t)) = run {
            out.extend_from_slice(buf.get(s..t).unwrap_or(&[]));
        }
    }

    /// Upper bound of the serialized size, for pre-allocation.
    pub(crate) fn wire_len(&self) -> usize {
        self.entries
            .iter()
            .map(|e| (e.name.1 - e.name.0) + (e.value.1 - e.value.0) + 4)
            .sum()
    }

    // ---- shortcuts for the headers every layer needs ----

    /// All Via values, topmost first.
    pub fn via(&self) -> Result<Vec<Via>, HeaderError> {
        self.typed_all()
    }
    /// The topmost Via.
    pub fn top_via(&self) -> Result<Option<Via>, HeaderError> {
        self.typed_first()
    }
    /// From (single).
    pub fn from(&self) -> Result<Option<From>, HeaderError> {
        self.typed()
    }
    /// To (single).
    pub fn to(&self) -> Result<Option<To>, HeaderError> {
        self.typed()
    }
    /// Call-ID (single).
    pub fn call_id(&self) -> Result<Option<CallId>, HeaderError> {
        self.typed()
    }
    /// CSeq (single).
    pub fn cseq(&self) -> Result<Option<CSeq>, HeaderError> {
        self.typed()
    }
    /// Max-Forwards (single).
    pub fn max_forwards(&self) -> Result<Option<MaxForwards>, HeaderError> {
        self.typed()
    }
    /// All Contact values.
    pub fn contact(&self) -> Result<Vec<Contact>, HeaderError> {
        self.typed_all()
    }
    /// All Route values in order.
    pub fn route(&self) -> Result<Vec<Route>, HeaderError> {
        self.typed_all()
    }
    /// All Record-Route values in order.
    pub fn record_route(&self) -> Result<Vec<RecordRoute>, HeaderError> {
        self.typed_all()
    }
    /// Content-Length (single).
    pub fn content_length(&self) -> Result<Option<ContentLength>, HeaderError> {
        self.typed()
    }
    /// Content-Type (single).
    pub fn content_type(&self) -> Result<Option<ContentType>, HeaderError> {
        self.typed()
    }
    /// Expires (single).
    pub fn expires(&self) -> Result<Option<Expires>, HeaderError> {
        self.typed()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn from_bytes_folds_only_letters() {
        for (name, kind) in [
            ("Call-ID", HeaderName::CallId),
            ("cALL-id", HeaderName::CallId),
            ("CONTENT-LENGTH", HeaderName::ContentLength),
            ("max-Forwards", HeaderName::MaxForwards),
            ("V", HeaderName::Via),
        ] {
            assert_eq!(HeaderName::from_bytes(name.as_bytes()), kind, "{name}");
        }
        // Only letters fold: '-' | 0x20 is itself, but CR | 0x20 is '-'.
        assert_eq!(HeaderName::from_bytes(b"Call\rID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Call\x0dID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Call@ID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"CSe\x11"), HeaderName::Other);
    }

    use super::*;

    #[test]
    fn names_and_compact_forms() {
        assert_eq!(HeaderName::from_name("v"), HeaderName::Via);
        assert_eq!(HeaderName::from_name("VIA"), HeaderName::Via);
        assert_eq!(
            HeaderName::from_name("MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_name("l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_name("C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_name("x-custom"), HeaderName::Other);
        // Fast-path names and table names agree with the canonical spelling.
        for n in [
            "to",
            "VIA",
            "From",
            "cseq",
            "Route",
            "call-id",
            "Contact",
            "Max-Forwards",
            "content-type",
            "Record-Route",
            "Content-Length",
            "Date",
            "Allow",
            "Event",
            "Server",
            "Accept",
            "Expires",
            "Require",
            "Subject",
            "Supported",
            "User-Agent",
            "Allow-Events",
            "Authorization",
            "Session-Expires",
            "WWW-Authenticate",
            "Proxy-Authenticate",
            "Subscription-State",
            "Proxy-Authorization",
            "RSeq",
            "RAck",
            "Min-SE",
            "SIP-ETag",
            "Refer-To",
            "Privacy",
        ] {
            let k = HeaderName::from_name(n);
            assert!(k.as_str().eq_ignore_ascii_case(n), "{n} -> {k:?}");
        }
        for c in [
            "v", "i", "f", "t", "m", "l", "c", "k", "s", "e", "o", "r", "u", "b", "x", "y", "a",
        ] {
            assert_ne!(HeaderName::from_name(c), HeaderName::Other, "{c}");
        }
    }

    #[test]
    fn container_order_and_raw_values() {
        let mut h = Headers::new();
        h.push("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
            .unwrap();
        h.push("X-Thing", "  ;;,,;;,; ").unwrap();
        h.push(
            "v",
            "SIP/2.0/TCP b.example.com;branch=z9hG4bK2, SIP/2.0/UDP c;branch=z9hG4bK3",
        )
        .unwrap();
        assert_eq!(h.get("x-thing"), Some(";;,,;;,;"));
        assert_eq!(h.via().unwrap().len(), 3);
        h.prepend_typed(&Via::parse("SIP/2.0/UDP top;branch=z9hG4bK0").unwrap());
        assert_eq!(h.top_via().unwrap().unwrap().branch(), Some("z9hG4bK0"));
        assert_eq!(h.remove("VIA"), 3);
        assert_eq!(h.len(), 1);
        let mut out = Vec::new();
        h.write_to(&mut out);
        assert_eq!(out, b"X-Thing: ;;,,;;,;\r\n");
        assert!(h.push("Bad Name", "x").is_err());
        assert!(h.push("X", "a\r\nb").is_err());
        assert!(h.push("X", "a\r\n b").is_ok());
    }

    #[test]
    fn single_valued_duplicates_are_reported() {
        let mut h = Headers::new();
        h.push("Call-ID", "a@b").unwrap();
        h.push("i", "c@d").unwrap();
        assert_eq!(
            h.call_id().unwrap_err(),
            HeaderError::Multiple {
                header: "Call-ID",
                count: 2
            }
        );
        assert_eq!(h.typed_first::<CallId>().unwrap().unwrap().as_str(), "a@b");
    }

    #[test]
    fn set_typed_replaces_in_place() {
        let mut h = Headers::new();
        h.push("A", "1").unwrap();
        h.push("Max-Forwards", "70").unwrap();
        h.push("B", "2").unwrap();
        h.set_typed(&MaxForwards(69));
        let names: Vec<_> = h.iter().map(|f| f.value).collect();
        assert_eq!(names, vec!["1", "69", "2"]);
    }

    #[test]
    fn list_error_offsets_point_into_the_value() {
        let mut h = Headers::new();
        h.push("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;;")
            .unwrap();
        match h.via().unwrap_err() {
            HeaderError::Syntax { header, offset, .. } => {
                assert_eq!(header, "Via");
                assert!(offset > 30, "{offset}");
            }
            e => panic!("{e}"),
        }
    }
}

//! Requests, responses and the one-pass message parser (RFC 3261 §7, §25).
//!
//! [`parse`] reads a whole datagram. The header section is validated for
//! framing (CRLF line ends, folds, token names, size limits) and the core
//! headers every layer relies on (Via, From, To, Call-ID, CSeq,
//! Max-Forwards, Contact, Content-Length) are checked against their grammar;
//! every other header stays raw until asked for.

use std::fmt;

use crate::headers::{
    CSeq, ContentLength, ContentType, HeaderError, HeaderName, Headers, TypedHeader,
};
use crate::method::Method;
use crate::uri::{Uri, UriError};

/// Largest header section (start line included) the parser accepts.
pub const MAX_HEAD_LEN: usize = 64 * 1024;
/// Most header lines the parser accepts.
pub const MAX_HEADERS: usize = 256;

/// Why a message was rejected. Lines and columns are 1-based and count from
/// the start line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but CRLFs.
    #[error("empty message")]
    Empty,
    /// No empty line ends the header section.
    #[error("header section is not terminated by an empty line")]
    Incomplete,
    /// The header section exceeds [`MAX_HEAD_LEN`].
    #[error("header section longer than {limit} bytes")]
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More than [`MAX_HEADERS`] header lines.
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The header section is not UTF-8.
    #[error("line {line}, column {column}: invalid UTF-8")]
    Utf8 {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// Framing or start-line syntax error.
    #[error("line {line}, column {column}: expected {expected}")]
    Syntax {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// The SIP-Version is not `SIP/2.0`.
    #[error("line 1, column {column}: unsupported protocol version {version:?}")]
    Version {
        /// Column of the version in the start line.
        column: usize,
        /// The version as written.
        version: String,
    },
    /// The Request-URI does not parse.
    #[error("line 1, column {column}: invalid Request-URI: {source}")]
    RequestUri {
        /// Column of the URI.
        column: usize,
        /// What was wrong.
        source: UriError,
    },
    /// The Request-URI carries `?headers` (RFC 3261 §19.1.5 forbids it).
    #[error("line 1, column {column}: Request-URI must not contain headers")]
    RequestUriHeaders {
        /// Column of the URI.
        column: usize,
    },
    /// The status code is not three digits in 100..=699.
    #[error("line 1, column {column}: invalid status code {code:?}")]
    StatusCode {
        /// Column of the code in the status line.
        column: usize,
        /// The code as written.
        code: String,
    },
    /// A core header failed its grammar.
    #[error("line {line}: {source}")]
    Header {
        /// Line of the header.
        line: usize,
        /// The header error (names the header).
        source: HeaderError,
    },
    /// Content-Length promises more bytes than the datagram holds.
    #[error(
        "line {line}: Content-Length is {declared} but only {available} body bytes follow \
         (body starts at byte {offset})"
    )]
    BodyTooShort {
        /// Line of the Content-Length header.
        line: usize,
        /// Byte offset in the input where the body starts.
        offset: usize,
        /// Declared length.
        declared: usize,
        /// Bytes present.
        available: usize,
    },
    /// A CSeq method differs from the request method.
    #[error("line {line}: CSeq method {cseq} does not match request method {method}")]
    CSeqMethodMismatch {
        /// Line of the CSeq header.
        line: usize,
        /// The request method.
        method: String,
        /// The CSeq method.
        cseq: String,
    },
}

/// A response status code, 100..=699.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// Returns `None` outside 100..=699.
    pub fn new(code: u16) -> Option<StatusCode> {
        (100..=699).contains(&code).then_some(StatusCode(code))
    }
    /// The number.
    pub fn as_u16(self) -> u16 {
        self.0
    }
    /// 1xx.
    pub fn is_provisional(self) -> bool {
        self.0 < 200
    }
    /// 2xx.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }
    /// >= 200.
    pub fn is_final(self) -> bool {
        self.0 >= 200
    }
    /// The RFC 3261 §21 reason phrase, or `""` for unknown codes.
    pub fn default_reason(self) -> &'static str {
        match self.0 {
            100 => "Trying",
            180 => "Ringing",
            181 => "Call Is Being Forwarded",
            182 => "Queued",
            183 => "Session Progress",
            200 => "OK",
            202 => "Accepted",
            204 => "No Notification",
            300 => "Multiple Choices",
            301 => "Moved Permanently",
            302 => "Moved Temporarily",
            305 => "Use Proxy",
            380 => "Alternative Service",
            400 => "Bad Request",
            401 => "Unauthorized",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            410 => "Gone",
            412 => "Conditional Request Failed",
            413 => "Request Entity Too Large",
            414 => "Request-URI Too Long",
            415 => "Unsupported Media Type",
            416 => "Unsupported URI Scheme",
            420 => "Bad Extension",
            421 => "Extension Required",
            422 => "Session Interval Too Small",
            423 => "Interval Too Brief",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            482 => "Loop Detected",
            483 => "Too Many Hops",
            484 => "Address Incomplete",
            485 => "Ambiguous",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            489 => "Bad Event",
            491 => "Request Pending",
            493 => "Undecipherable",
            500 => "Server Internal Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Server Time-out",
            505 => "Version Not Supported",
            513 => "Message Too Large",
            600 => "Busy Everywhere",
            603 => "Decline",
            604 => "Does Not Exist Anywhere",
            606 => "Not Acceptable",
            _ => "",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI.
    pub uri: Uri,
    /// Headers.
    pub headers: Headers,
    /// Body (exactly Content-Length bytes when parsed).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Reason phrase (UTF-8, may be empty).
    pub reason: String,
    /// Headers.
    pub headers: Headers,
    /// Body.
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Request.
    Request(Request),
    /// Response.
    Response(Response),
}

fn set_body(headers: &mut Headers, body: &mut Vec<u8>, new: Vec<u8>, ctype: Option<ContentType>) {
    *body = new;
    match ctype {
        Some(t) => headers.set_typed(&t),
        None => {
            headers.remove("Content-Type");
        }
    }
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    headers.set_typed(&ContentLength(len));
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Replaces the body and sets Content-Type / Content-Length to match.
    pub fn set_body(&mut self, body: Vec<u8>, content_type: Option<ContentType>) {
        set_body(&mut self.headers, &mut self.body, body, content_type);
    }

    /// Serializes the request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.headers.wire_len() + self.body.len());
        self.write_to(&mut out);
        out
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        self.uri.write_bytes(out);
        out.extend_from_slice(b" SIP/2.0\r\n");
        self.headers.write_to(out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }
}

impl Response {
    /// A response with the default reason phrase and no headers.
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            reason: status.default_reason().to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A response to `req` with Via, From, To, Call-ID and CSeq copied
    /// (RFC 3261 §8.2.6.2); the To tag is left to the caller.
    pub fn for_request(req: &Request, status: StatusCode) -> Self {
        let mut r = Response::new(status);
        for f in req.headers.iter() {
            if matches!(
                f.kind,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            ) {
                // Values came from a valid message, so push cannot fail.
                let _ = r.headers.push(f.kind.as_str(), f.value);
            }
        }
        r
    }

    /// Replaces the body and sets Content-Type / Content-Length to match.
    pub fn set_body(&mut self, body: Vec<u8>, content_type: Option<ContentType>) {
        set_body(&mut self.headers, &mut self.body, body, content_type);
    }

    /// Serializes the response.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(32 + self.reason.len() + self.headers.wire_len() + self.body.len());
        self.write_to(&mut out);
        out
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SIP/2.0 ");
        let code = self.status.as_u16();
        out.extend_from_slice(&[
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
            b' ',
        ]);
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.headers.write_to(out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }
}

impl Message {
    /// Parses one datagram; see [`parse`].
    pub fn parse(input: &[u8]) -> Result<Message, ParseError> {
        parse(input)
    }

    /// Runs the core-header checks that [`parse`] does and
    /// [`parse_lazy`] defers.
    pub fn validate(&self) -> Result<(), ParseError> {
        validate_core(self.headers())
    }

    /// Headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// Headers, mutable.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    /// Body.
    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }

    /// Serializes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }
}

impl std::convert::From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl std::convert::From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

impl fmt::Display for Message {
    /// The wire form; a non-UTF-8 body is shown lossily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Parses one message from a datagram. Leading CRLFs are skipped; the body
/// is the Content-Length bytes after the header section (anything beyond is
/// ignored, RFC 3261 §18.3), or the whole rest when Content-Length is absent
/// or given more than once with different values (then
/// `headers.content_length()` reports the conflict).
pub fn parse(input: &[u8]) -> Result<Message, ParseError> {
    parse_inner(input, true, true).map(|(m, _)| m)
}

/// Like [`parse`] but checks only framing, the start line, Content-Length
/// and CSeq; Via, From, To, Call-ID, Max-Forwards and Contact are checked
/// when read through the typed accessors, or all at once with
/// [`Message::validate`]. `parse(b)` equals `parse_lazy(b)` followed by
/// `validate()`. Meant for paths that only forward or inspect messages;
/// anything a user agent acts on should go through [`parse`].
pub fn parse_lazy(input: &[u8]) -> Result<Message, ParseError> {
    parse_inner(input, true, false).map(|(m, _)| m)
}

/// Validates the core headers (see [`parse`]); the error names the line.
fn validate_core(headers: &Headers) -> Result<(), ParseError> {
    let header_err = |(i, source): (usize, HeaderError)| ParseError::Header {
        line: headers.line_of(i),
        source,
    };
    headers.validate_core().map_err(header_err)
}

/// Locates the end of the header section: returns the offset just past the
/// empty line, or `None` if there is none within `limit` bytes.
pub(crate) fn find_head_end(input: &[u8], limit: usize) -> Option<usize> {
    // Building a searcher is dearer than searching one short head, so it
    // is built once.
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    let finder = FINDER.get_or_init(|| memchr::memmem::Finder::new(b"\r\n\r\n"));
    let hay = input.get(..input.len().min(limit.saturating_add(4)))?;
    finder.find(hay).map(|i| i + 4)
}

fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let upto = text.get(..offset).unwrap_or(text);
    let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
    let col = 1 + upto.iter().rev().take_while(|&&b| b != b'\n').count();
    (line, col)
}

/// Parses a message at the start of `input`. With `datagram`, a missing
/// Content-Length means "rest of input"; otherwise it means zero. Returns
/// the message and the bytes consumed.
pub(crate) fn parse_inner(
    input: &[u8],
    datagram: bool,
    strict: bool,
) -> Result<(Message, usize), ParseError> {
    let mut skip = 0;
    while input.get(skip..skip + 2) == Some(b"\r\n") {
        skip += 2;
    }
    let data = input.get(skip..).unwrap_or(&[]);
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    // The one-pass framer covers well-formed heads; the reference steps
    // below find the same end and report what is wrong with the others.
    let mut fast = frame_head_fast(data);
    let found = match &fast {
        Some((e, _)) => Some(*e),
        None => find_head_end(data, MAX_HEAD_LEN),
    };
    let head_end = match found {
        Some(e) => e,
        None if data.len() > MAX_HEAD_LEN => {
            return Err(ParseError::HeadTooLarge {
                limit: MAX_HEAD_LEN,
            })
        }
        None => return Err(ParseError::Incomplete),
    };
    if head_end > MAX_HEAD_LEN + 4 {
        return Err(ParseError::HeadTooLarge {
            limit: MAX_HEAD_LEN,
        });
    }
    // head includes the CRLF of the last header line but not the empty line.
    let head_bytes = data.get(..head_end - 2).unwrap_or(&[]);
    let head = std::str::from_utf8(head_bytes).map_err(|e| {
        let (line, column) = line_col(head_bytes, e.valid_up_to());
        ParseError::Utf8 { line, column }
    })?;
    let sl_end = crate::scan::find_byte(head, b'\r').unwrap_or(head.len());
    let start_line = &head[..sl_end];
    let syntax = |offset: usize, expected: &'static str| {
        let (line, column) = line_col(head_bytes, offset);
        ParseError::Syntax {
            line,
            column,
            expected,
        }
    };
    if let Some(i) = crate::scan::find_byte(start_line, b'\n') {
        return Err(syntax(i, "CRLF line ending"));
    }
    if head.as_bytes().get(sl_end + 1).is_some_and(|&b| b != b'\n') {
        return Err(syntax(sl_end, "CRLF line ending"));
    }

    // The start line is checked first so a bad version or URI is reported
    // as such rather than as a symptom in some header.
    let start = if start_line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        StartLine::Status(parse_status_line(start_line, &syntax)?)
    } else {
        let (method, uri) = parse_request_line(start_line, &syntax)?;
        StartLine::Request(method, uri)
    };

    let headers_text = head.get(sl_end + 2..).unwrap_or("");
    let headers = match fast.take() {
        Some((_, mut h)) => {
            h.buf_mut().push_str(headers_text);
            h
        }
        None => parse_headers(headers_text, |off, what| syntax(sl_end + 2 + off, what))?,
    };
    let header_line = |i: usize| {
        let off = headers.value_start(i).unwrap_or(0);
        1 + line_col(headers_text.as_bytes(), off).0
    };
    let header_err = |(i, source): (usize, HeaderError)| ParseError::Header {
        line: header_line(i),
        source,
    };

    // Content-Length decides where the body ends.
    let mut declared: Option<(u32, usize)> = None;
    let mut conflict = false;
    // Content-Length is single-valued, so its check is its parse.
    for (i, v) in headers.indexed_values(HeaderName::ContentLength) {
        let ContentLength(n) = ContentLength::parse(v).map_err(|e| header_err((i, e)))?;
        match declared {
            Some((d, _)) if d != n => conflict = true,
            _ => declared = Some((n, i)),
        }
    }
    let rest = data.get(head_end..).unwrap_or(&[]);
    let body_len = match declared {
        Some((n, i)) if !conflict => {
            let n = n as usize;
            if n > rest.len() {
                return Err(ParseError::BodyTooShort {
                    line: header_line(i),
                    offset: skip + head_end,
                    declared: n,
                    available: rest.len(),
                });
            }
            n
        }
        _ if datagram => rest.len(),
        _ => 0,
    };
    let body = rest.get(..body_len).unwrap_or(&[]).to_vec();
    let consumed = skip + head_end + body_len;

    if strict {
        validate_core(&headers)?;
    } else {
        // The method check below relies on a well-formed CSeq.
        headers.validate::<CSeq>().map_err(header_err)?;
    }

    let msg = match start {
        StartLine::Status(st) => st.into_response(headers, body),
        StartLine::Request(method, uri) => {
            // Every CSeq must name the request method (RFC 3261 §8.1.1.5).
            for (i, value) in headers.indexed_values(HeaderName::CSeq) {
                // Already validated, so the method is the last word.
                let cseq_method = value.rsplit([' ', '\t', '\n']).next().unwrap_or("");
                if cseq_method != method.as_str() {
                    return Err(ParseError::CSeqMethodMismatch {
                        line: header_line(i),
                        method: method.to_string(),
                        cseq: cseq_method.to_owned(),
                    });
                }
            }
            Message::Request(Request {
                method,
                uri,
                headers,
                body,
            })
        }
    };
    Ok((msg, consumed))
}

enum StartLine {
    Request(Method, Uri),
    Status(StatusLine),
}

pub(crate) struct StatusLine {
    pub(crate) status: StatusCode,
    pub(crate) reason: String,
}

impl StatusLine {
    fn into_response(self, headers: Headers, body: Vec<u8>) -> Message {
        Message::Response(Response {
            status: self.status,
            reason: self.reason,
            headers,
            body,
        })
    }
}

/// `column` is the 1-based column of `v` in the start line.
fn check_version(v: &str, column: usize) -> Result<(), ParseError> {
    let ok_shape = v.len() > 4
        && v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
        && v.get(4..).is_some_and(|n| {
            n.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            })
        });
    if ok_shape && v.get(4..) == Some("2.0") {
        Ok(())
    } else {
        Err(ParseError::Version {
            column,
            version: v.to_owned(),
        })
    }
}

pub(crate) fn parse_status_line(
    line: &str,
    syntax: &dyn Fn(usize, &'static str) -> ParseError,
) -> Result<StatusLine, ParseError> {
    let sp = line
        .find(' ')
        .ok_or_else(|| syntax(line.len(), "SP after SIP version"))?;
    check_version(&line[..sp], 1)?;
    let rest = &line[sp + 1..];
    let (code, reason) = match rest.find(' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        // RFC 3261 requires the SP, but "SIP/2.0 100" is common enough.
        None => (rest, ""),
    };
    let status = (code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
        .then(|| code.parse::<u16>().ok())
        .flatten()
        .and_then(StatusCode::new)
        .ok_or_else(|| ParseError::StatusCode {
            column: sp + 2,
            code: code.to_owned(),
        })?;
    if let Some(i) = reason
        .bytes()
        .position(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(syntax(
            sp + 1 + code.len() + 1 + i,
            "reason phrase without control characters",
        ));
    }
    Ok(StatusLine {
        status,
        reason: reason.to_owned(),
    })
}

pub(crate) fn parse_request_line(
    line: &str,
    syntax: &dyn Fn(usize, &'static str) -> ParseError,
) -> Result<(Method, Uri), ParseError> {
    let first =
        crate::scan::find_byte(line, b' ').ok_or_else(|| syntax(line.len(), "SP after method"))?;
    let last = line.bytes().rposition(|b| b == b' ').unwrap_or(first);
    if last == first {
        return Err(syntax(line.len(), "SP before SIP version"));
    }
    let method = Method::parse(&line[..first]).map_err(|_| syntax(0, "method token"))?;
    let version = &line[last + 1..];
    if version.is_empty() {
        return Err(syntax(last, "SIP version (no trailing whitespace)"));
    }
    check_version(version, last + 2)?;
    let uri_text = &line[first + 1..last];
    if let Some(i) = crate::scan::find_either(uri_text, b' ', b'\t') {
        return Err(syntax(
            first + 1 + i,
            "single SP between Request-URI and version (no whitespace in the URI)",
        ));
    }
    if uri_text.is_empty() {
        return Err(syntax(first + 1, "Request-URI"));
    }
    let uri = crate::uri::scan_uri(uri_text).map_err(|source| ParseError::RequestUri {
        column: first + 2,
        source,
    })?;
    if uri.has_headers() {
        return Err(ParseError::RequestUriHeaders { column: first + 2 });
    }
    Ok((method, uri.to_owned()))
}

/// A byte range `(start, end)` in the header buffer.
type Span = (usize, usize);

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits the header block (every line ends in CRLF) into name/value spans.
pub(crate) fn parse_headers(
    text: &str,
    syntax: impl Fn(usize, &'static str) -> ParseError,
) -> Result<Headers, ParseError> {
    match parse_headers_fast(text) {
        Some(h) => Ok(h),
        // Anything unusual (folds, bare CR/LF, bad names, too many lines)
        // goes through the reference splitter, which yields the same
        // headers or the precise error.
        None => parse_headers_ref(text, syntax),
    }
}

/// One pass over the common shape `token SWS ":" SWS value CRLF`, with no
/// folded lines. Produces exactly what [`parse_headers_ref`] does for such
/// input and `None` for anything else.
fn parse_headers_fast(text: &str) -> Option<Headers> {
    let (mut headers, end) = split_lines_fast(text.as_bytes(), false)?;
    if end != text.len() {
        return None;
    }
    headers.buf_mut().push_str(text);
    Some(headers)
}

/// The line splitter behind [`parse_headers_fast`], on bytes. Stops at the
/// end of `b` or, with `stop_at_empty`, at an empty line, and returns the
/// index entries (the caller fills the buffer) and where it stopped.
fn split_lines_fast(b: &[u8], stop_at_empty: bool) -> Option<(Headers, usize)> {
    let mut headers = Headers::with_capacity(0, 16);
    let mut pos = 0;
    while pos < b.len() {
        if stop_at_empty && b.get(pos..pos + 2) == Some(b"\r\n") {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return None;
        }
        let line = b.get(pos..)?;
        let name_end = pos
            + line
                .iter()
                .position(|&c| !crate::scan::is_token(c))
                .unwrap_or(line.len());
        if name_end == pos {
            return None;
        }
        let mut i = name_end;
        while b.get(i).copied().is_some_and(is_wsp) {
            i += 1;
        }
        if b.get(i) != Some(&b':') {
            return None;
        }
        let colon = i;
        i += 1;
        while b.get(i).copied().is_some_and(is_wsp) {
            i += 1;
        }
        let line_end = i + memchr::memchr2(b'\r', b'\n', b.get(i..)?)?;
        if b.get(line_end) != Some(&b'\r') || b.get(line_end + 1) != Some(&b'\n') {
            return None;
        }
        let next = line_end + 2;
        if b.get(next).copied().is_some_and(is_wsp) {
            // A fold continues this value.
            return None;
        }
        let mut end = line_end;
        while end > i && b.get(end - 1).copied().is_some_and(is_wsp) {
            end -= 1;
        }
        // An all-blank value is the empty span right after the colon, as in
        // the reference splitter.
        let value = if i == line_end {
            (colon + 1, colon + 1)
        } else {
            (i, end)
        };
        let name = b.get(pos..name_end)?;
        headers.push_span(HeaderName::from_bytes(name), (pos, name_end), value);
        pos = next;
    }
    Some((headers, pos))
}

/// Frames the head in one pass for the common case: start line, then
/// header lines up to the empty line. Returns the offset just past the
/// empty line and the header index (spans relative to the first header
/// line), or `None` to let the reference path decide (and report errors).
fn frame_head_fast(data: &[u8]) -> Option<(usize, Headers)> {
    let window = data.get(..data.len().min(MAX_HEAD_LEN + 4))?;
    let sl_end = memchr::memchr2(b'\r', b'\n', window)?;
    if window.get(sl_end..sl_end + 2) != Some(b"\r\n") || sl_end == 0 {
        return None;
    }
    let hdr_start = sl_end + 2;
    let (headers, stop) = split_lines_fast(window.get(hdr_start..)?, true)?;
    let head_end = hdr_start + stop + 2;
    // The reference framing looks for the empty line within the same window.
    if window.get(hdr_start + stop..head_end) != Some(b"\r\n") {
        return None;
    }
    Some((head_end, headers))
}

/// The reference header splitter: handles folds and reports every framing
/// error with its position.
fn parse_headers_ref(
    text: &str,
    syntax: impl Fn(usize, &'static str) -> ParseError,
) -> Result<Headers, ParseError> {
    let mut headers = Headers::with_capacity(0, 16);
    headers.buf_mut().push_str(text);
    let b = text.as_bytes();
    let mut pos = 0;
    // Value span of the header being built, extended by continuation lines.
    let mut current: Option<(HeaderName, Span, Span)> = None;
    let mut count = 0usize;
    while pos < b.len() {
        // The first CR or LF must be the CRLF that ends the line.
        let line_end = match b.get(pos..).and_then(|r| memchr::memchr2(b'\r', b'\n', r)) {
            Some(o) => pos + o,
            None => return Err(syntax(b.len(), "CRLF at end of header line")),
        };
        if b.get(line_end) != Some(&b'\r') {
            return Err(syntax(line_end, "CRLF line ending (bare LF)"));
        }
        if b.get(line_end + 1) != Some(&b'\n') {
            return Err(syntax(line_end, "CRLF line ending (bare CR)"));
        }
        let nl = line_end + 1;
        let line = b.get(pos..line_end).unwrap_or(&[]);
        let mut end = line_end;
        while end > pos && b.get(end - 1).copied().is_some_and(is_wsp) {
            end -= 1;
        }
        if line.first().copied().is_some_and(is_wsp) {
            // Continuation: the fold stays in the raw value.
            let Some((_, _, value)) = current.as_mut() else {
                return Err(syntax(
                    pos,
                    "header name (continuation line before any header)",
                ));
            };
            if value.0 == value.1 {
                let mut s = pos;
                while s < end && b.get(s).copied().is_some_and(is_wsp) {
                    s += 1;
                }
                *value = (s, end.max(s));
            } else if end > pos {
                value.1 = end.max(value.1);
            }
        } else {
            if let Some((k, n, v)) = current.take() {
                headers.push_span(k, n, v);
            }
            count += 1;
            if count > MAX_HEADERS {
                return Err(ParseError::TooManyHeaders { limit: MAX_HEADERS });
            }
            let name_len = line
                .iter()
                .position(|&c| !crate::scan::is_token(c))
                .unwrap_or(line.len());
            if name_len == 0 {
                return Err(syntax(pos, "header name"));
            }
            let mut i = pos + name_len;
            while i < line_end && b.get(i).copied().is_some_and(is_wsp) {
                i += 1;
            }
            if b.get(i) != Some(&b':') || i >= line_end {
                return Err(syntax(i, "':' after header name"));
            }
            i += 1;
            while i < end && b.get(i).copied().is_some_and(is_wsp) {
                i += 1;
            }
            let name = text.get(pos..pos + name_len).unwrap_or("");
            current = Some((
                HeaderName::from_name(name),
                (pos, pos + name_len),
                (i, end.max(i)),
            ));
        }
        pos = nl + 1;
    }
    if let Some((k, n, v)) = current.take() {
        headers.push_span(k, n, v);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn request_round_trip() {
        let m = parse(INVITE).unwrap();
        let Message::Request(r) = &m else { panic!() };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri.to_string(), "sip:bob@biloxi.com");
        assert_eq!(r.headers.len(), 9);
        assert_eq!(r.body, b"v=0\n");
        assert_eq!(r.headers.cseq().unwrap().unwrap().seq, 314159);
        assert_eq!(m.to_bytes(), INVITE);
        assert_eq!(parse(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn response_round_trip() {
        let raw = b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
        let m = parse(raw).unwrap();
        let r = m.as_response().unwrap();
        assert_eq!(r.status.as_u16(), 180);
        assert_eq!(r.reason, "Ringing");
        assert_eq!(m.to_bytes(), raw);
    }

    #[test]
    fn leading_crlf_and_trailing_bytes() {
        let mut raw = b"\r\n\r\n".to_vec();
        raw.extend_from_slice(INVITE);
        raw.extend_from_slice(b"garbage");
        let m = parse(&raw).unwrap();
        assert_eq!(m.body(), b"v=0\n");
    }

    #[test]
    fn framing_errors() {
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(parse(b"\r\n\r\n").unwrap_err(), ParseError::Empty);
        assert_eq!(
            parse(b"OPTIONS sip:a SIP/2.0\r\nVia: x").unwrap_err(),
            ParseError::Incomplete
        );
        assert!(matches!(
            parse(b"OPTIONS sip:a SIP/2.0\r\nX: a\nY: b\r\n\r\n").unwrap_err(),
            ParseError::Syntax { line: 2, .. }
        ));
        assert!(matches!(
            parse(b"OPTIONS sip:a SIP/2.0\r\n folded\r\n\r\n").unwrap_err(),
            ParseError::Syntax {
                line: 2,
                column: 1,
                ..
            }
        ));
        assert!(matches!(
            parse(b"OPTIONS sip:a SIP/2.0\r\nNo Colon\r\n\r\n").unwrap_err(),
            ParseError::Syntax {
                line: 2,
                column: 4,
                ..
            }
        ));
        assert!(matches!(
            parse(b"OPTIONS sip:a SIP/2.0\r\nX: \xff\r\n\r\n").unwrap_err(),
            ParseError::Utf8 { line: 2, column: 4 }
        ));
        let mut big = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD_LEN + 10));
        assert!(matches!(
            parse(&big).unwrap_err(),
            ParseError::HeadTooLarge { .. }
        ));
        let mut many = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(
            parse(&many).unwrap_err(),
            ParseError::TooManyHeaders { .. }
        ));
    }

    #[test]
    fn fast_header_split_matches_reference() {
        let cases = [
            "A: 1\r\nB:2\r\n",
            "A :  spaced  \t\r\nEmpty:\r\nBlank:   \r\n",
            "Folded: a\r\n b\r\nC: d\r\n",
            "Bad Name: x\r\n",
            "NoColon\r\n",
            "Bare: lf\nX: y\r\n",
            "Bare: cr\rX: y\r\n",
            "Trailing: x",
            " lead: fold\r\n",
            "\r\n",
        ];
        let syntax = |_: usize, what: &'static str| ParseError::Syntax {
            line: 0,
            column: 0,
            expected: what,
        };
        for text in cases {
            let reference = parse_headers_ref(text, syntax);
            if let Some(fast) = parse_headers_fast(text) {
                let reference = reference.expect("fast path accepted what the reference rejects");
                assert_eq!(fast, reference, "{text:?}");
                for i in 0..fast.len() {
                    assert_eq!(fast.value_start(i), reference.value_start(i), "{text:?}");
                }
            }
        }
        let mut many = String::new();
        for _ in 0..=MAX_HEADERS {
            many.push_str("X: y\r\n");
        }
        assert!(parse_headers_fast(&many).is_none());
        // The one-pass framer and the reference agree on where the head ends.
        for raw in [
            INVITE,
            b"OPTIONS sip:a SIP/2.0\r\n\r\n",
            b"SIP/2.0 200 OK\r\nA: b\r\n\r\nrest",
        ] {
            let (end, _) = frame_head_fast(raw).expect("well-formed");
            assert_eq!(Some(end), find_head_end(raw, MAX_HEAD_LEN));
        }
        assert!(frame_head_fast(b"OPTIONS sip:a SIP/2.0\nA: b\r\n\r\n").is_none());
    }

    #[test]
    fn status_line_errors() {
        assert_eq!(
            parse(b"SIP/2.0 4294967301 Big\r\n\r\n").unwrap_err(),
            ParseError::StatusCode {
                column: 9,
                code: "4294967301".into()
            }
        );
        let e = parse(b"SIP/2.0 99 Low\r\n\r\n").unwrap_err();
        assert_eq!(
            e,
            ParseError::StatusCode {
                column: 9,
                code: "99".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "line 1, column 9: invalid status code \"99\""
        );
        assert_eq!(
            parse(b"SIP/3.0 200 OK\r\n\r\n").unwrap_err(),
            ParseError::Version {
                column: 1,
                version: "SIP/3.0".into()
            }
        );
        let e = parse(b"OPTIONS sip:a SIP/2.1\r\n\r\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1, column 15: unsupported protocol version \"SIP/2.1\""
        );
        // Lines count from the start line; the byte offset is in the input,
        // leading CRLFs included.
        let e = parse(b"\r\nSIP/2.0 200 OK\r\nCSeq: 1 A\r\nl: 10\r\n\r\nabc").unwrap_err();
        assert_eq!(
            e,
            ParseError::BodyTooShort {
                line: 3,
                offset: 38,
                declared: 10,
                available: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "line 3: Content-Length is 10 but only 3 body bytes follow (body starts at byte 38)"
        );
        let m = parse(b"SIP/2.0 100\r\n\r\n").unwrap();
        assert_eq!(m.as_response().unwrap().reason, "");
    }

    #[test]
    fn builders() {
        let req = match parse(INVITE).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        };
        let mut resp = Response::for_request(&req, StatusCode::new(200).unwrap());
        resp.set_body(
            b"v=0\r\n".to_vec(),
            Some(ContentType::parse("application/sdp").unwrap()),
        );
        let wire = resp.to_bytes();
        let back = parse(&wire).unwrap();
        assert_eq!(
            back.headers().content_length().unwrap(),
            Some(ContentLength(5))
        );
        assert_eq!(
            back.headers().call_id().unwrap().unwrap().as_str(),
            "a84b4c76e66710@pc33.atlanta.com"
        );
        assert_eq!(back.as_response().unwrap().reason, "OK");
        let mut r = Request::new(
            Method::Options,
            Uri::parse("sip:carol@chicago.com").unwrap(),
        );
        r.headers.push("Max-Forwards", "70").unwrap();
        assert_eq!(
            r.to_bytes(),
            b"OPTIONS sip:carol@chicago.com SIP/2.0\r\nMax-Forwards: 70\r\n\r\n"
        );
    }
}

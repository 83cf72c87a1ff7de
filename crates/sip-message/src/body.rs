//! Message bodies beyond SDP: `multipart/mixed` (RFC 2046 §5.1 as used by
//! RFC 3261 §7.4) and `message/sipfrag` (RFC 3420).

use std::fmt;

use crate::headers::{ContentType, HeaderError, Headers};
use crate::message::{
    parse_headers, parse_request_line, parse_status_line, ParseError, StatusCode,
};
use crate::method::Method;
use crate::uri::Uri;

/// Why a body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The multipart boundary is empty, too long or has bad characters.
    #[error("invalid multipart boundary {0:?}")]
    Boundary(String),
    /// No `--boundary` delimiter line was found.
    #[error("multipart body has no opening delimiter")]
    NoDelimiter,
    /// The closing `--boundary--` is missing.
    #[error("multipart body has no closing delimiter")]
    Unterminated,
    /// A part's header block is malformed.
    #[error("multipart part {part}: {source}")]
    PartHeaders {
        /// 1-based index of the part.
        part: usize,
        /// What was wrong.
        source: ParseError,
    },
    /// More parts than [`MAX_PARTS`].
    #[error("more than {MAX_PARTS} body parts")]
    TooManyParts,
    /// The sipfrag is malformed.
    #[error("sipfrag: {0}")]
    SipFrag(ParseError),
    /// The Content-Type of the multipart body has no boundary.
    #[error("Content-Type has no boundary parameter")]
    MissingBoundary,
    /// A header error while building a part.
    #[error(transparent)]
    Header(#[from] HeaderError),
}

/// Most parts accepted in one multipart body.
pub const MAX_PARTS: usize = 64;

/// One body part: MIME headers and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Part headers (Content-Type, Content-Disposition, ...).
    pub headers: Headers,
    /// Part content.
    pub body: Vec<u8>,
}

impl Part {
    /// A part with a Content-Type.
    pub fn new(content_type: &ContentType, body: Vec<u8>) -> Self {
        let mut headers = Headers::new();
        headers.push_typed(content_type);
        Part { headers, body }
    }

    /// The part's Content-Type (RFC 2046 default `text/plain`).
    pub fn content_type(&self) -> Result<Option<ContentType>, HeaderError> {
        self.headers.content_type()
    }
}

/// A `multipart/*` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The boundary (without the leading dashes).
    pub boundary: String,
    /// Parts in order.
    pub parts: Vec<Part>,
}

fn valid_boundary(b: &str) -> bool {
    // RFC 2046 bchars, 1-70 characters, not ending in a space.
    !b.is_empty()
        && b.len() <= 70
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Skips transport padding (spaces/tabs) and the CRLF after a delimiter.
fn after_delimiter_line(body: &[u8], mut i: usize) -> usize {
    while matches!(body.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if body.get(i..i + 2) == Some(b"\r\n") {
        i + 2
    } else {
        i
    }
}

impl Multipart {
    /// Parses a multipart body, taking the boundary from its Content-Type.
    pub fn parse_with_type(body: &[u8], content_type: &ContentType) -> Result<Self, BodyError> {
        let b = content_type
            .0
            .param("boundary")
            .ok_or(BodyError::MissingBoundary)?;
        Self::parse(body, &b)
    }

    /// Parses a multipart body with the given boundary.
    pub fn parse(body: &[u8], boundary: &str) -> Result<Self, BodyError> {
        if !valid_boundary(boundary) {
            return Err(BodyError::Boundary(boundary.to_owned()));
        }
        let dash = format!("--{boundary}");
        let delim = format!("\r\n--{boundary}");
        // The first delimiter may open the body without a preceding CRLF.
        let mut pos = if body.starts_with(dash.as_bytes()) {
            dash.len()
        } else {
            find(body, delim.as_bytes(), 0).ok_or(BodyError::NoDelimiter)? + delim.len()
        };
        let mut parts = Vec::new();
        loop {
            if body.get(pos..pos + 2) == Some(b"--") {
                break;
            }
            if parts.len() >= MAX_PARTS {
                return Err(BodyError::TooManyParts);
            }
            let start = after_delimiter_line(body, pos);
            let end = find(body, delim.as_bytes(), start).ok_or(BodyError::Unterminated)?;
            let raw = body.get(start..end).unwrap_or(&[]);
            let index = parts.len() + 1;
            parts.push(parse_part(raw).map_err(|source| BodyError::PartHeaders {
                part: index,
                source,
            })?);
            pos = end + delim.len();
        }
        Ok(Multipart {
            boundary: boundary.to_owned(),
            parts,
        })
    }

    /// The Content-Type for this body (`multipart/mixed;boundary=...`).
    pub fn content_type(&self) -> ContentType {
        let mut t = crate::headers::MediaType::new("multipart", "mixed");
        t.params.set("boundary", Some(&self.boundary));
        ContentType(t)
    }

    /// Serializes the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.parts {
            out.extend_from_slice(b"--");
            out.extend_from_slice(self.boundary.as_bytes());
            out.extend_from_slice(b"\r\n");
            p.headers.write_to(&mut out);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&p.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        out
    }
}

fn parse_part(raw: &[u8]) -> Result<Part, ParseError> {
    // A part with no headers starts with the empty line.
    if let Some(rest) = raw.strip_prefix(b"\r\n") {
        return Ok(Part {
            headers: Headers::new(),
            body: rest.to_vec(),
        });
    }
    let head_end = crate::message::find_head_end(raw, crate::message::MAX_HEAD_LEN)
        .ok_or(ParseError::Incomplete)?;
    let head_bytes = raw.get(..head_end - 2).unwrap_or(&[]);
    let head =
        std::str::from_utf8(head_bytes).map_err(|_| ParseError::Utf8 { line: 1, column: 1 })?;
    let headers = parse_headers(head, |off, expected| ParseError::Syntax {
        line: 1 + head.get(..off).unwrap_or("").matches('\n').count(),
        column: 1,
        expected,
    })?;
    Ok(Part {
        headers,
        body: raw.get(head_end..).unwrap_or(&[]).to_vec(),
    })
}

/// The start line of a sipfrag, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragStart {
    /// `METHOD uri SIP/2.0`
    Request(Method, Uri),
    /// `SIP/2.0 code reason`
    Status(StatusCode, String),
}

/// A `message/sipfrag` body (RFC 3420), e.g. the `SIP/2.0 200 OK` in a
/// REFER NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipFrag {
    /// Start line, if present.
    pub start: Option<FragStart>,
    /// Headers (possibly none).
    pub headers: Headers,
    /// Body after an empty line, if any.
    pub body: Vec<u8>,
}

impl SipFrag {
    /// A status-only fragment, as sent in REFER progress NOTIFYs.
    pub fn status(code: StatusCode, reason: &str) -> Self {
        SipFrag {
            start: Some(FragStart::Status(code, reason.to_owned())),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// The status code, if the fragment starts with a status line.
    pub fn status_code(&self) -> Option<StatusCode> {
        match &self.start {
            Some(FragStart::Status(c, _)) => Some(*c),
            _ => None,
        }
    }

    /// Parses a sipfrag. Unlike a message, the final empty line is optional.
    pub fn parse(data: &[u8]) -> Result<Self, BodyError> {
        let mut owned;
        let mut data = data;
        if !data.ends_with(b"\r\n") {
            owned = data.to_vec();
            owned.extend_from_slice(b"\r\n");
            data = &owned;
        }
        let head_end = crate::message::find_head_end(data, crate::message::MAX_HEAD_LEN);
        let (head_bytes, body) = match head_end {
            Some(e) => (
                data.get(..e - 2).unwrap_or(&[]),
                data.get(e..).unwrap_or(&[]),
            ),
            None => (data, &[][..]),
        };
        if head_bytes.len() > crate::message::MAX_HEAD_LEN {
            return Err(BodyError::SipFrag(ParseError::HeadTooLarge {
                limit: crate::message::MAX_HEAD_LEN,
            }));
        }
        let head = std::str::from_utf8(head_bytes)
            .map_err(|_| BodyError::SipFrag(ParseError::Utf8 { line: 1, column: 1 }))?;
        let syntax = |off: usize, expected: &'static str| ParseError::Syntax {
            line: 1 + head.get(..off).unwrap_or("").matches('\n').count(),
            column: 1,
            expected,
        };
        let first_end = head.find("\r\n").unwrap_or(head.len());
        let first = head.get(..first_end).unwrap_or("");
        let is_status = first
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
        let is_request = !is_status
            && first
                .rsplit(' ')
                .next()
                .is_some_and(|v| v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/")));
        let (start, rest) = if is_status {
            let s = parse_status_line(first, &syntax).map_err(BodyError::SipFrag)?;
            (
                Some(FragStart::Status(s.status, s.reason)),
                head.get(first_end + 2..).unwrap_or(""),
            )
        } else if is_request {
            let (m, u) = parse_request_line(first, &syntax).map_err(BodyError::SipFrag)?;
            (
                Some(FragStart::Request(m, u)),
                head.get(first_end + 2..).unwrap_or(""),
            )
        } else {
            (None, head)
        };
        let offset = head.len() - rest.len();
        let headers =
            parse_headers(rest, |off, e| syntax(off + offset, e)).map_err(BodyError::SipFrag)?;
        Ok(SipFrag {
            start,
            headers,
            body: body.to_vec(),
        })
    }

    /// Serializes the fragment.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.start {
            Some(FragStart::Status(c, r)) => {
                out.extend_from_slice(format!("SIP/2.0 {c} {r}\r\n").as_bytes())
            }
            Some(FragStart::Request(m, u)) => {
                out.extend_from_slice(format!("{m} {u} SIP/2.0\r\n").as_bytes())
            }
            None => {}
        }
        self.headers.write_to(&mut out);
        if !self.body.is_empty() {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&self.body);
        }
        out
    }
}

impl fmt::Display for SipFrag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn multipart_round_trip() {
        let sdp = ContentType::parse("application/sdp").unwrap();
        let xml = ContentType::parse("application/resource-lists+xml").unwrap();
        let m = Multipart {
            boundary: "boundary1".into(),
            parts: vec![
                Part::new(&sdp, b"v=0\r\n".to_vec()),
                Part::new(&xml, b"<x/>".to_vec()),
            ],
        };
        let bytes = m.to_bytes();
        let back = Multipart::parse_with_type(&bytes, &m.content_type()).unwrap();
        assert_eq!(back, m);
        assert!(back.parts[1]
            .content_type()
            .unwrap()
            .unwrap()
            .0
            .is("application", "resource-lists+xml"));
    }

    #[test]
    fn preamble_padding_and_headerless_part() {
        let body = b"preamble\r\n--b  \r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>\r\n--b--\r\nepilogue";
        let m = Multipart::parse(body, "b").unwrap();
        assert_eq!(m.parts.len(), 2);
        assert!(m.parts[0].headers.is_empty());
        assert_eq!(m.parts[0].body, b"plain");
        assert_eq!(m.parts[1].body, b"<p>");
    }

    #[test]
    fn multipart_errors() {
        assert!(matches!(
            Multipart::parse(b"x", ""),
            Err(BodyError::Boundary(_))
        ));
        assert_eq!(
            Multipart::parse(b"no delimiter", "b"),
            Err(BodyError::NoDelimiter)
        );
        assert_eq!(
            Multipart::parse(b"--b\r\n\r\nopen", "b"),
            Err(BodyError::Unterminated)
        );
        assert!(matches!(
            Multipart::parse(b"--b\r\nBad Header\r\n\r\nx\r\n--b--", "b"),
            Err(BodyError::PartHeaders { part: 1, .. })
        ));
        let mut many = Vec::new();
        for _ in 0..=MAX_PARTS {
            many.extend_from_slice(b"--b\r\n\r\nx\r\n");
        }
        many.extend_from_slice(b"--b--");
        assert_eq!(Multipart::parse(&many, "b"), Err(BodyError::TooManyParts));
    }

    #[test]
    fn sipfrag() {
        let f = SipFrag::parse(b"SIP/2.0 200 OK").unwrap();
        assert_eq!(f.status_code().map(StatusCode::as_u16), Some(200));
        assert_eq!(f.to_bytes(), b"SIP/2.0 200 OK\r\n");
        let g = SipFrag::parse(
            b"INVITE sip:alice@atlanta.com SIP/2.0\r\nContact: <sip:alice@pc33.atlanta.com>\r\n",
        )
        .unwrap();
        assert!(matches!(
            g.start,
            Some(FragStart::Request(Method::Invite, _))
        ));
        assert_eq!(g.headers.len(), 1);
        let h = SipFrag::parse(b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n").unwrap();
        assert!(h.start.is_none());
        assert_eq!(h.headers.len(), 2);
        let s = SipFrag::status(StatusCode::new(100).unwrap(), "Trying");
        assert_eq!(SipFrag::parse(&s.to_bytes()).unwrap(), s);
        assert!(SipFrag::parse(b"SIP/2.0 9999 Bad\r\n").is_err());
    }
}

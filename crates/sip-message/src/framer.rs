//! Framing of SIP over stream transports (TCP, TLS): RFC 3261 §18.3 with
//! Content-Length bounded bodies, and RFC 5626 §4.4.1 CRLF keep-alives.
//!
//! The framer owns a buffer: the transport feeds it bytes with
//! [`StreamFramer::push`] and takes frames with [`StreamFramer::next_frame`].
//! A frame never includes bytes of the next message. Work per pushed byte is
//! bounded: the search for the end of the header section resumes where it
//! stopped, and the buffer never grows past the configured limits.

use crate::message::{find_head_end, parse_inner, Message, ParseError, MAX_HEAD_LEN};

/// Default largest body accepted on a stream.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// A fatal stream error: the connection is out of sync or abusive and
/// should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramerError {
    /// No end of the header section within the limit.
    #[error("message at stream byte {offset}: header section exceeds {limit} bytes without an empty line")]
    HeadTooLarge {
        /// The limit.
        limit: usize,
        /// Stream offset of the message's first byte.
        offset: u64,
    },
    /// Content-Length announces a body over the limit.
    #[error(
        "message at stream byte {offset}, line {line}: Content-Length {length} exceeds the \
         {limit}-byte body limit"
    )]
    BodyTooLarge {
        /// Announced length.
        length: usize,
        /// The limit.
        limit: usize,
        /// Line of the Content-Length header in the message.
        line: usize,
        /// Stream offset of the message's first byte.
        offset: u64,
    },
    /// Content-Length is missing a number, malformed, or repeated with
    /// different values, so the message boundary is unknown.
    #[error("message at stream byte {offset}, line {line}: cannot frame message: Content-Length {problem}")]
    ContentLength {
        /// What is wrong with it.
        problem: &'static str,
        /// Line of the offending Content-Length header in the message.
        line: usize,
        /// Stream offset of the message's first byte.
        offset: u64,
    },
    /// More bytes pushed than a full message may hold.
    #[error("receive buffer over {limit} bytes (unframed data from stream byte {offset})")]
    BufferFull {
        /// The limit.
        limit: usize,
        /// Stream offset of the first byte not yet framed.
        offset: u64,
    },
}

/// One unit taken from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete, valid message.
    Message(Message),
    /// A complete message (its bytes were consumed) that failed to parse;
    /// the stream stays in sync, so a server can answer 400.
    Invalid(ParseError),
    /// RFC 5626 keep-alive ping (`CRLFCRLF`); answer with a single CRLF.
    Ping,
    /// RFC 5626 pong (a lone `CRLF`).
    Pong,
}

/// Which keep-alives this end of the connection receives (RFC 5626
/// §4.4.1: the flow's client sends `CRLFCRLF` pings, its server answers
/// with a `CRLF` pong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepAliveRole {
    /// We send pings and receive pongs: a lone `CRLF` is a pong at once,
    /// so a keep-alive waiting for it is never delayed. A ping split
    /// across reads shows as two pongs here.
    #[default]
    Client,
    /// We receive pings: a `CRLF` at the end of the buffered data is held
    /// until the next bytes tell whether it is the first half of a ping
    /// (`CRLF` follows) or a pong (anything else follows).
    Server,
}

/// Cuts a byte stream into SIP messages and keep-alives.
#[derive(Debug, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// How far (relative to `start`) the head-end search already looked.
    scanned: usize,
    /// Once the head is complete: its length and the whole message's.
    pending: Option<(usize, usize)>,
    /// Stream offset of `buf[start]`: bytes consumed so far, for errors.
    consumed: u64,
    max_head: usize,
    max_body: usize,
    role: KeepAliveRole,
}

impl Default for StreamFramer {
    fn default() -> Self {
        StreamFramer::new()
    }
}

impl StreamFramer {
    /// A framer with the default limits ([`MAX_HEAD_LEN`],
    /// [`DEFAULT_MAX_BODY`]).
    pub fn new() -> Self {
        StreamFramer::with_limits(MAX_HEAD_LEN, DEFAULT_MAX_BODY)
    }

    /// A framer with explicit limits (the head limit is capped at
    /// [`MAX_HEAD_LEN`], which the message parser enforces anyway).
    pub fn with_limits(max_head: usize, max_body: usize) -> Self {
        StreamFramer {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            pending: None,
            consumed: 0,
            max_head: max_head.min(MAX_HEAD_LEN),
            max_body,
            role: KeepAliveRole::Client,
        }
    }

    /// Sets which keep-alives this end receives (default
    /// [`KeepAliveRole::Client`]).
    pub fn with_role(mut self, role: KeepAliveRole) -> Self {
        self.role = role;
        self
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn limit(&self) -> usize {
        self.max_head + 4 + self.max_body
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FramerError> {
        if self.buffered() + data.len() > self.limit() {
            return Err(FramerError::BufferFull {
                limit: self.limit(),
                offset: self.consumed,
            });
        }
        // Compact once the consumed prefix dominates, keeping pushes O(n).
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.consumed += n as u64;
        self.scanned = 0;
        self.pending = None;
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Takes the next frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramerError> {
        let data = self.buf.get(self.start..).unwrap_or(&[]);
        if data.is_empty() {
            return Ok(None);
        }
        if data.starts_with(b"\r\n") {
            if data.starts_with(b"\r\n\r\n") {
                self.consume(4);
                return Ok(Some(Frame::Ping));
            }
            // Data so far is "\r\n" or "\r\n\r": a ping may be arriving in
            // pieces. A server waits for the rest; a client takes the CRLF
            // as the pong it is waiting for.
            let maybe_ping = b"\r\n\r".starts_with(data);
            if maybe_ping && (self.role == KeepAliveRole::Server || data.len() == 3) {
                return Ok(None);
            }
            self.consume(2);
            return Ok(Some(Frame::Pong));
        }
        if let Some((_, total)) = self.pending {
            return Ok(self.finish(total));
        }
        // Resume the search a few bytes back so a CRLFCRLF split across
        // pushes is still found.
        let from = self.scanned.saturating_sub(3);
        let window = data.get(from..).unwrap_or(&[]);
        let head_end = match find_head_end(window, self.max_head.saturating_sub(from)) {
            Some(e) => from + e,
            None => {
                self.scanned = data.len();
                if data.len() > self.max_head + 4 {
                    return Err(FramerError::HeadTooLarge {
                        limit: self.max_head,
                        offset: self.consumed,
                    });
                }
                return Ok(None);
            }
        };
        let head = data.get(..head_end).unwrap_or(&[]);
        let offset = self.consumed;
        let (body_len, line) = content_length(head)
            .map_err(|(problem, line)| FramerError::ContentLength {
                problem,
                line,
                offset,
            })?
            .unwrap_or((0, 0));
        if body_len > self.max_body {
            return Err(FramerError::BodyTooLarge {
                length: body_len,
                limit: self.max_body,
                line,
                offset,
            });
        }
        let total = head_end + body_len;
        self.pending = Some((head_end, total));
        Ok(self.finish(total))
    }

    /// Emits the message once `total` bytes are buffered.
    fn finish(&mut self, total: usize) -> Option<Frame> {
        let data = self.buf.get(self.start..).unwrap_or(&[]);
        if data.len() < total {
            return None;
        }
        let frame = match parse_inner(data.get(..total).unwrap_or(&[]), false, true) {
            Ok((m, _)) => Frame::Message(m),
            Err(e) => Frame::Invalid(e),
        };
        self.consume(total);
        Some(frame)
    }
}

/// Finds Content-Length (or `l`) in a raw header section without a full
/// parse: `Ok(None)` if absent (treated as 0 on streams), else the value
/// and the 1-based line of its header; an error (with that line) if it is
/// malformed or repeated with different values.
fn content_length(head: &[u8]) -> Result<Option<(usize, usize)>, (&'static str, usize)> {
    let mut found: Option<(usize, usize)> = None;
    // Line 1 is the start line.
    let mut lines = head
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .skip(1)
        .peekable();
    while let Some((line_no, line)) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let name_end = line
            .iter()
            .position(|&b| b == b':' || b == b' ' || b == b'\t');
        let Some(name_end) = name_end else { continue };
        let name = line.get(..name_end).unwrap_or(&[]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let rest = line.get(name_end..).unwrap_or(&[]);
        let Some(colon) = rest.iter().position(|&b| b == b':') else {
            continue;
        };
        if !rest
            .get(..colon)
            .unwrap_or(&[])
            .iter()
            .all(|&b| b == b' ' || b == b'\t')
        {
            continue;
        }
        let mut value: Vec<u8> = rest.get(colon + 1..).unwrap_or(&[]).to_vec();
        // Folded continuation lines belong to the value.
        while let Some((_, next)) = lines.peek() {
            if next.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                value.extend_from_slice(next.strip_suffix(b"\r").unwrap_or(next));
                lines.next();
            } else {
                break;
            }
        }
        let digits: Vec<u8> = value
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(("is not a decimal number", line_no));
        }
        let n = digits.iter().fold(0usize, |acc, d| {
            acc.saturating_mul(10).saturating_add(usize::from(d - b'0'))
        });
        match found {
            Some((f, _)) if f != n => return Err(("appears with different values", line_no)),
            Some(_) => {}
            None => found = Some((n, line_no)),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn byte_by_byte_and_back_to_back() {
        let mut f = StreamFramer::new();
        let mut stream = OPTIONS.to_vec();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(OPTIONS);
        stream.extend_from_slice(b"\r\n");
        let mut frames = Vec::new();
        for b in &stream {
            f.push(&[*b]).unwrap();
            while let Some(fr) = f.next_frame().unwrap() {
                frames.push(fr);
            }
        }
        // Fed one byte at a time, the ping's halves arrive apart and show as
        // two pongs (documented trade-off: pongs are never delayed).
        assert_eq!(frames.len(), 5, "{frames:?}");
        assert!(matches!(&frames[0], Frame::Message(m) if m.body() == b"hello"));
        assert_eq!(frames[1..3], [Frame::Pong, Frame::Pong]);
        assert!(matches!(&frames[3], Frame::Message(_)));
        assert_eq!(frames[4], Frame::Pong);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn server_joins_a_ping_split_across_reads() {
        let mut f = StreamFramer::new().with_role(KeepAliveRole::Server);
        f.push(b"\r\n").unwrap();
        assert_eq!(f.next_frame().unwrap(), None);
        f.push(b"\r\n").unwrap();
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Ping));
        assert_eq!(f.next_frame().unwrap(), None);
        assert_eq!(f.buffered(), 0);
        // Split 1 + 3 bytes as well.
        f.push(b"\r").unwrap();
        assert_eq!(f.next_frame().unwrap(), None);
        f.push(b"\n\r\n").unwrap();
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Ping));
    }

    #[test]
    fn lone_crlf_then_message_is_pong_then_message() {
        for role in [KeepAliveRole::Client, KeepAliveRole::Server] {
            let mut f = StreamFramer::new().with_role(role);
            f.push(b"\r\n").unwrap();
            let first = f.next_frame().unwrap();
            f.push(OPTIONS).unwrap();
            let mut frames: Vec<Frame> = first.into_iter().collect();
            while let Some(fr) = f.next_frame().unwrap() {
                frames.push(fr);
            }
            assert_eq!(frames.len(), 2, "{role:?}: {frames:?}");
            assert_eq!(frames[0], Frame::Pong, "{role:?}");
            assert!(matches!(&frames[1], Frame::Message(m) if m.body() == b"hello"));
            assert_eq!(f.buffered(), 0);
        }
        // In one read too.
        let mut f = StreamFramer::new().with_role(KeepAliveRole::Server);
        let mut data = b"\r\n".to_vec();
        data.extend_from_slice(OPTIONS);
        f.push(&data).unwrap();
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Pong));
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Message(_))));
    }

    #[test]
    fn server_byte_by_byte_sees_one_ping() {
        let mut f = StreamFramer::new().with_role(KeepAliveRole::Server);
        let mut stream = OPTIONS.to_vec();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(OPTIONS);
        let mut frames = Vec::new();
        for b in &stream {
            f.push(&[*b]).unwrap();
            while let Some(fr) = f.next_frame().unwrap() {
                frames.push(fr);
            }
        }
        assert_eq!(frames.len(), 3, "{frames:?}");
        assert_eq!(frames[1], Frame::Ping);
        assert!(matches!(&frames[2], Frame::Message(_)));
    }

    #[test]
    fn client_pong_is_not_delayed() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n").unwrap();
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Pong));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn ping_and_pong_in_one_segment() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n\r\n\r\n").unwrap();
        f.push(OPTIONS).unwrap();
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Ping));
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Pong));
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Message(_))));
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn never_reads_past_a_message() {
        let mut f = StreamFramer::new();
        let mut data = OPTIONS.to_vec();
        data.extend_from_slice(b"INVITE sip:partial");
        f.push(&data).unwrap();
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Message(_))));
        assert_eq!(f.next_frame().unwrap(), None);
        assert_eq!(f.buffered(), b"INVITE sip:partial".len());
    }

    #[test]
    fn missing_content_length_means_empty_body() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\nOPTIONS")
            .unwrap();
        let Some(Frame::Message(m)) = f.next_frame().unwrap() else {
            panic!()
        };
        assert!(m.body().is_empty());
        assert_eq!(f.buffered(), 7);
    }

    #[test]
    fn invalid_message_keeps_stream_in_sync() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/7.0\r\nl: 2\r\n\r\nxx")
            .unwrap();
        f.push(OPTIONS).unwrap();
        assert!(matches!(
            f.next_frame().unwrap(),
            Some(Frame::Invalid(ParseError::Version { column: 17, .. }))
        ));
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Message(_))));
    }

    #[test]
    fn limits() {
        let mut f = StreamFramer::with_limits(100, 10);
        f.push(&[b'a'; 110]).unwrap();
        assert_eq!(
            f.next_frame(),
            Err(FramerError::HeadTooLarge {
                limit: 100,
                offset: 0
            })
        );
        let mut f = StreamFramer::with_limits(100, 10);
        f.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 11\r\n\r\n")
            .unwrap();
        assert_eq!(
            f.next_frame(),
            Err(FramerError::BodyTooLarge {
                length: 11,
                limit: 10,
                line: 2,
                offset: 0
            })
        );
        let mut f = StreamFramer::with_limits(100, 10);
        assert!(matches!(
            f.push(&[0; 200]),
            Err(FramerError::BufferFull { offset: 0, .. })
        ));
        // Offsets are in the stream: after a 4-byte ping and one message.
        let mut f = StreamFramer::new();
        f.push(b"\r\n\r\n").unwrap();
        f.push(OPTIONS).unwrap();
        f.push(b"OPTIONS sip:a SIP/2.0\r\nl: 1\r\nX: y\r\nContent-Length: 2\r\n\r\nxx")
            .unwrap();
        assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
        assert!(matches!(f.next_frame(), Ok(Some(Frame::Message(_)))));
        let e = f.next_frame().unwrap_err();
        assert_eq!(
            e,
            FramerError::ContentLength {
                problem: "appears with different values",
                line: 4,
                offset: 4 + OPTIONS.len() as u64
            }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "message at stream byte {}, line 4: cannot frame message: \
                 Content-Length appears with different values",
                4 + OPTIONS.len()
            )
        );
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: -5\r\n\r\n")
            .unwrap();
        assert_eq!(
            f.next_frame(),
            Err(FramerError::ContentLength {
                problem: "is not a decimal number",
                line: 2,
                offset: 0
            })
        );
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n")
            .unwrap();
        assert!(f.next_frame().is_err());
    }

    #[test]
    fn folded_content_length() {
        assert_eq!(
            content_length(b"X\r\nContent-Length :\r\n  12\r\n").unwrap(),
            Some((12, 2))
        );
        assert_eq!(
            content_length(b"X\r\nX-Content-Length: 3\r\n").unwrap(),
            None
        );
    }
}

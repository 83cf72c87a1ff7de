//! SDP (RFC 8866): session and media descriptions, with typed views of the
//! attributes a softphone negotiates (rtpmap, fmtp, direction, crypto
//! (RFC 4568), ptime, rtcp (RFC 3605), rtcp-mux (RFC 5761)).
//!
//! Attributes are stored as `name[:value]` text in order, and lines of
//! unknown types are kept, so parse + print is lossless apart from line
//! endings (always CRLF when printed).

use std::fmt;

mod attributes;

pub use attributes::{Crypto, Direction, Fmtp, RtcpAttr, RtpMap};

/// Why an SDP body was rejected. Lines are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not UTF-8.
    #[error("SDP line {line}: invalid UTF-8")]
    Utf8 {
        /// Line.
        line: usize,
    },
    /// A line is not `<letter>=<value>` or its value is malformed.
    #[error("SDP line {line}: expected {expected}")]
    Syntax {
        /// Line.
        line: usize,
        /// What the grammar wanted.
        expected: &'static str,
    },
    /// A mandatory line is missing or out of place.
    #[error("SDP: missing or misplaced {0}= line")]
    Missing(char),
    /// More lines than [`MAX_LINES`].
    #[error("SDP has more than {MAX_LINES} lines")]
    TooManyLines,
    /// A typed attribute value (rtpmap, fmtp, crypto) is malformed. `at`
    /// is the byte offset in the value (after `a=name:`); `line` is known
    /// when the value was checked while parsing a body
    /// ([`Sdp::parse_strict`]).
    #[error("SDP {}a={name} value at byte {at}: expected {expected}", line_prefix(*.line))]
    Attribute {
        /// Line of the `a=` line, if known.
        line: Option<usize>,
        /// Attribute name.
        name: &'static str,
        /// Byte offset in the attribute value.
        at: usize,
        /// What the attribute grammar wanted.
        expected: &'static str,
    },
}

fn line_prefix(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

impl SdpError {
    /// Sets the line of an attribute error found while parsing a body.
    fn at_line(self, n: usize) -> SdpError {
        match self {
            SdpError::Attribute {
                name, at, expected, ..
            } => SdpError::Attribute {
                line: Some(n),
                name,
                at,
                expected,
            },
            e => e,
        }
    }
}

/// Upper bound on lines, to bound work on hostile bodies.
pub const MAX_LINES: usize = 4096;

/// `o=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// User name (`-` if none).
    pub username: String,
    /// Session id (numeric string).
    pub session_id: String,
    /// Session version, incremented on each change.
    pub session_version: u64,
    /// Network type, `IN`.
    pub net_type: String,
    /// Address type, `IP4` / `IP6`.
    pub addr_type: String,
    /// Unicast address or host name.
    pub address: String,
}

/// `c=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// Network type, `IN`.
    pub net_type: String,
    /// Address type, `IP4` / `IP6`.
    pub addr_type: String,
    /// Address (may carry `/ttl/count` for multicast, kept as written).
    pub address: String,
}

/// `b=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bandwidth {
    /// Type, e.g. `AS`, `TIAS`, `CT`.
    pub bwtype: String,
    /// Value (kbit/s for AS/CT, bit/s for TIAS).
    pub value: u64,
}

/// `t=` line and its `r=` lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Start time (NTP seconds, 0 = unbounded).
    pub start: u64,
    /// Stop time (NTP seconds, 0 = unbounded).
    pub stop: u64,
    /// `r=` values, kept as written.
    pub repeats: Vec<String>,
}

/// `a=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// Name.
    pub name: String,
    /// Value after the colon, `None` for a property attribute.
    pub value: Option<String>,
}

impl Attribute {
    /// A property attribute (`a=name`).
    pub fn flag(name: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            value: None,
        }
    }
    /// A value attribute (`a=name:value`).
    pub fn value(name: &str, value: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            value: Some(value.to_owned()),
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Media {
    /// Media type: `audio`, `video`, `application`, ...
    pub media: String,
    /// Transport port (0 = rejected/disabled stream).
    pub port: u16,
    /// Number of ports (`m=audio 49170/2 ...`).
    pub num_ports: Option<u16>,
    /// Transport protocol, e.g. `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// Formats (RTP payload types for RTP protocols).
    pub formats: Vec<String>,
    /// `i=`
    pub title: Option<String>,
    /// `c=` lines.
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` (obsolete, kept).
    pub key: Option<String>,
    /// `a=` lines in order.
    pub attributes: Vec<Attribute>,
    /// Lines of unknown type, kept as `x=value` text.
    pub unknown: Vec<String>,
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sdp {
    /// `o=`
    pub origin: Origin,
    /// `s=` (a single space or `-` when there is no name).
    pub session_name: String,
    /// `i=`
    pub info: Option<String>,
    /// `u=`
    pub uri: Option<String>,
    /// `e=` lines.
    pub emails: Vec<String>,
    /// `p=` lines.
    pub phones: Vec<String>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=`.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` (with `r=`) lines.
    pub timing: Vec<Timing>,
    /// `z=` kept as written.
    pub zone: Option<String>,
    /// Session-level `k=`.
    pub key: Option<String>,
    /// Session-level `a=` lines in order.
    pub attributes: Vec<Attribute>,
    /// Session-level lines of unknown type, with where they stood.
    pub unknown: Vec<UnknownLine>,
    /// Media sections.
    pub media: Vec<Media>,
}

/// A session-level line of a type this crate does not model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownLine {
    /// How many known session-level lines after `s=` precede it (in the
    /// order they are printed), so printing puts it back in place.
    pub after: usize,
    /// The whole line, `x=value`.
    pub text: String,
}

fn syntax(line: usize, expected: &'static str) -> SdpError {
    SdpError::Syntax { line, expected }
}

fn fields<'a, const N: usize>(
    v: &'a str,
    line: usize,
    what: &'static str,
) -> Result<[&'a str; N], SdpError> {
    let mut out = [""; N];
    let mut it = v.split(' ');
    for slot in out.iter_mut() {
        *slot = it
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(syntax(line, what))?;
    }
    if it.next().is_some() {
        return Err(syntax(line, what));
    }
    Ok(out)
}

fn connection(v: &str, line: usize) -> Result<Connection, SdpError> {
    let [n, a, addr] = fields::<3>(v, line, "c=<nettype> <addrtype> <address>")?;
    Ok(Connection {
        net_type: n.to_owned(),
        addr_type: a.to_owned(),
        address: addr.to_owned(),
    })
}

fn bandwidth(v: &str, line: usize) -> Result<Bandwidth, SdpError> {
    let (t, n) = v
        .split_once(':')
        .ok_or(syntax(line, "b=<bwtype>:<bandwidth>"))?;
    if !crate::scan::is_token_str(t) {
        return Err(syntax(line, "bandwidth type token"));
    }
    Ok(Bandwidth {
        bwtype: t.to_owned(),
        value: crate::scan::parse_u64(n, u64::MAX).ok_or(syntax(line, "bandwidth number"))?,
    })
}

fn attribute(v: &str, line: usize, strict: bool) -> Result<Attribute, SdpError> {
    let (name, value) = match v.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (v, None),
    };
    if !crate::scan::is_token_str(name) {
        return Err(syntax(line, "attribute name token"));
    }
    if strict {
        attributes::check(name, value).map_err(|e| e.at_line(line))?;
    }
    Ok(Attribute {
        name: name.to_owned(),
        value: value.map(str::to_owned),
    })
}

fn media(v: &str, line: usize) -> Result<Media, SdpError> {
    let mut it = v.split(' ');
    let (Some(m), Some(port), Some(proto)) = (it.next(), it.next(), it.next()) else {
        return Err(syntax(line, "m=<media> <port> <proto> <fmt> ..."));
    };
    if !crate::scan::is_token_str(m) || proto.is_empty() {
        return Err(syntax(line, "media type and protocol"));
    }
    let (p, n) = match port.split_once('/') {
        Some((p, n)) => (p, Some(n)),
        None => (port, None),
    };
    let port = crate::scan::parse_u64(p, 65535).ok_or(syntax(line, "media port 0-65535"))? as u16;
    let num_ports = n
        .map(|n| {
            crate::scan::parse_u64(n, 65535)
                .map(|v| v as u16)
                .ok_or(syntax(line, "number of ports"))
        })
        .transpose()?;
    let formats: Vec<String> = it.map(str::to_owned).collect();
    if formats.iter().any(String::is_empty) {
        return Err(syntax(line, "single spaces between formats"));
    }
    Ok(Media {
        media: m.to_owned(),
        port,
        num_ports,
        proto: proto.to_owned(),
        formats,
        title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
        unknown: Vec::new(),
    })
}

impl Sdp {
    /// Parses an SDP body. Lines may end in CRLF or LF. Attribute values
    /// are not checked: the typed views skip malformed ones.
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        Sdp::parse_with(body, false)
    }

    /// Like [`Sdp::parse`], but also rejects a malformed `rtpmap`, `fmtp`
    /// or `crypto` value, naming its line.
    pub fn parse_strict(body: &[u8]) -> Result<Sdp, SdpError> {
        Sdp::parse_with(body, true)
    }

    fn parse_with(body: &[u8], strict: bool) -> Result<Sdp, SdpError> {
        let text = std::str::from_utf8(body).map_err(|e| SdpError::Utf8 {
            line: 1 + body
                .get(..e.valid_up_to())
                .unwrap_or(&[])
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
        })?;
        let mut lines = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.is_empty())
            .peekable();
        let mut next = |expect: char| -> Result<(usize, &str), SdpError> {
            match lines.next() {
                Some((n, l))
                    if l.as_bytes().first() == Some(&(expect as u8))
                        && l.as_bytes().get(1) == Some(&b'=') =>
                {
                    Ok((n, l.get(2..).unwrap_or("")))
                }
                _ => Err(SdpError::Missing(expect)),
            }
        };
        let (vl, v) = next('v')?;
        if v != "0" {
            return Err(syntax(vl, "v=0"));
        }
        let (ol, o) = next('o')?;
        let [username, sid, sver, nt, at, addr] = fields::<6>(
            o,
            ol,
            "o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>",
        )?;
        let origin = Origin {
            username: username.to_owned(),
            session_id: sid.to_owned(),
            session_version: crate::scan::parse_u64(sver, u64::MAX)
                .ok_or(syntax(ol, "numeric session version"))?,
            net_type: nt.to_owned(),
            addr_type: at.to_owned(),
            address: addr.to_owned(),
        };
        let (_, s) = next('s')?;
        let mut sdp = Sdp {
            origin,
            session_name: s.to_owned(),
            info: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timing: Vec::new(),
            zone: None,
            key: None,
            attributes: Vec::new(),
            unknown: Vec::new(),
            media: Vec::new(),
        };
        let mut count = 3;
        // Known session-level lines seen after s=, to place unknown ones.
        let mut known = 0;
        for (n, l) in lines {
            count += 1;
            if count > MAX_LINES {
                return Err(SdpError::TooManyLines);
            }
            let b = l.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_alphabetic() {
                return Err(syntax(n, "<type>=<value>"));
            }
            let kind = b[0];
            let v = l.get(2..).unwrap_or("");
            if kind == b'm' {
                sdp.media.push(media(v, n)?);
                continue;
            }
            if let Some(m) = sdp.media.last_mut() {
                match kind {
                    b'i' => m.title = Some(v.to_owned()),
                    b'c' => m.connections.push(connection(v, n)?),
                    b'b' => m.bandwidths.push(bandwidth(v, n)?),
                    b'k' => m.key = Some(v.to_owned()),
                    b'a' => m.attributes.push(attribute(v, n, strict)?),
                    _ => m.unknown.push(l.to_owned()),
                }
                continue;
            }
            if !matches!(
                kind,
                b'i' | b'u' | b'e' | b'p' | b'c' | b'b' | b't' | b'r' | b'z' | b'k' | b'a'
            ) {
                sdp.unknown.push(UnknownLine {
                    after: known,
                    text: l.to_owned(),
                });
                continue;
            }
            // A repeated single-valued line replaces the earlier one and is
            // printed once, so it counts once.
            let replaces = match kind {
                b'i' => sdp.info.is_some(),
                b'u' => sdp.uri.is_some(),
                b'c' => sdp.connection.is_some(),
                b'z' => sdp.zone.is_some(),
                b'k' => sdp.key.is_some(),
                _ => false,
            };
            if !replaces {
                known += 1;
            }
            match kind {
                b'i' => sdp.info = Some(v.to_owned()),
                b'u' => sdp.uri = Some(v.to_owned()),
                b'e' => sdp.emails.push(v.to_owned()),
                b'p' => sdp.phones.push(v.to_owned()),
                b'c' => sdp.connection = Some(connection(v, n)?),
                b'b' => sdp.bandwidths.push(bandwidth(v, n)?),
                b't' => {
                    let [a, z] = fields::<2>(v, n, "t=<start> <stop>")?;
                    let num = |s: &str| {
                        crate::scan::parse_u64(s, u64::MAX).ok_or(syntax(n, "numeric time"))
                    };
                    sdp.timing.push(Timing {
                        start: num(a)?,
                        stop: num(z)?,
                        repeats: Vec::new(),
                    });
                }
                b'r' => sdp
                    .timing
                    .last_mut()
                    .ok_or(syntax(n, "t= before r="))?
                    .repeats
                    .push(v.to_owned()),
                b'z' => sdp.zone = Some(v.to_owned()),
                b'k' => sdp.key = Some(v.to_owned()),
                b'a' => sdp.attributes.push(attribute(v, n, strict)?),
                _ => {}
            }
        }
        Ok(sdp)
    }

    /// A minimal offer skeleton: `v=0`, the origin, `s=-`, `t=0 0`.
    pub fn new(origin: Origin) -> Sdp {
        Sdp {
            origin,
            session_name: "-".to_owned(),
            info: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timing: vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }],
            zone: None,
            key: None,
            attributes: Vec::new(),
            unknown: Vec::new(),
            media: Vec::new(),
        }
    }

    /// First session-level attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Session-level direction (default `sendrecv`).
    pub fn direction(&self) -> Direction {
        attributes::direction_of(&self.attributes).unwrap_or(Direction::SendRecv)
    }

    /// The serialized body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}:{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Prints session-level lines, putting each unknown line back after the
/// number of known lines it followed when parsed.
struct SessionWriter<'a, 'f> {
    f: &'a mut fmt::Formatter<'f>,
    unknown: &'a [UnknownLine],
    next: usize,
    known: usize,
}

impl SessionWriter<'_, '_> {
    fn unknown_here(&mut self) -> fmt::Result {
        while let Some(u) = self.unknown.get(self.next) {
            if u.after > self.known {
                break;
            }
            write!(self.f, "{}\r\n", u.text)?;
            self.next += 1;
        }
        Ok(())
    }

    fn line(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        self.f.write_fmt(args)?;
        self.f.write_str("\r\n")?;
        self.known += 1;
        self.unknown_here()
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} {} {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.net_type,
            o.addr_type,
            o.address,
            self.session_name
        )?;
        let mut w = SessionWriter {
            f,
            unknown: &self.unknown,
            next: 0,
            known: 0,
        };
        w.unknown_here()?;
        if let Some(i) = &self.info {
            w.line(format_args!("i={i}"))?;
        }
        if let Some(u) = &self.uri {
            w.line(format_args!("u={u}"))?;
        }
        for e in &self.emails {
            w.line(format_args!("e={e}"))?;
        }
        for p in &self.phones {
            w.line(format_args!("p={p}"))?;
        }
        if let Some(c) = &self.connection {
            w.line(format_args!("c={c}"))?;
        }
        for b in &self.bandwidths {
            w.line(format_args!("b={}:{}", b.bwtype, b.value))?;
        }
        for t in &self.timing {
            w.line(format_args!("t={} {}", t.start, t.stop))?;
            for r in &t.repeats {
                w.line(format_args!("r={r}"))?;
            }
        }
        if let Some(z) = &self.zone {
            w.line(format_args!("z={z}"))?;
        }
        if let Some(k) = &self.key {
            w.line(format_args!("k={k}"))?;
        }
        for a in &self.attributes {
            w.line(format_args!("a={a}"))?;
        }
        // Unknown lines placed past the end go last.
        for u in w.unknown.get(w.next..).unwrap_or(&[]) {
            write!(w.f, "{}\r\n", u.text)?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(n) = m.num_ports {
                write!(f, "/{n}")?;
            }
            write!(f, " {}", m.proto)?;
            for fmt_ in &m.formats {
                write!(f, " {fmt_}")?;
            }
            f.write_str("\r\n")?;
            if let Some(i) = &m.title {
                write!(f, "i={i}\r\n")?;
            }
            for c in &m.connections {
                write!(f, "c={c}\r\n")?;
            }
            for b in &m.bandwidths {
                write!(f, "b={}:{}\r\n", b.bwtype, b.value)?;
            }
            if let Some(k) = &m.key {
                write!(f, "k={k}\r\n")?;
            }
            for a in &m.attributes {
                write!(f, "a={a}\r\n")?;
            }
            for u in &m.unknown {
                write!(f, "{u}\r\n")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 host.atlanta.example.com\r\n\
b=AS:64\r\n\
t=0 0\r\n\
a=sendrecv\r\n\
x=unknown line\r\n\
m=audio 49170 RTP/SAVP 0 8 97 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:97 opus/48000/2\r\n\
a=fmtp:97 useinbandfec=1; stereo=0\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=rtcp:53020 IN IP4 126.16.64.4\r\n\
a=rtcp-mux\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32 KDR=1\r\n\
a=recvonly\r\n\
m=video 0 RTP/AVP 31\r\n";

    #[test]
    fn parse_offer() {
        let s = Sdp::parse(OFFER.as_bytes()).unwrap();
        assert_eq!(s.origin.session_version, 2890844526);
        assert_eq!(
            s.connection.as_ref().unwrap().address,
            "host.atlanta.example.com"
        );
        assert_eq!(s.bandwidths[0].value, 64);
        assert_eq!(s.direction(), Direction::SendRecv);
        assert_eq!(
            s.unknown,
            vec![UnknownLine {
                after: 4,
                text: "x=unknown line".into()
            }]
        );
        assert_eq!(s.media.len(), 2);
        let a = &s.media[0];
        assert_eq!(a.port, 49170);
        assert_eq!(a.formats, vec!["0", "8", "97", "101"]);
        let maps = a.rtpmaps();
        assert_eq!(maps.len(), 4);
        assert_eq!(
            maps[2],
            RtpMap {
                payload_type: 97,
                encoding: "opus".into(),
                clock_rate: 48000,
                channels: Some(2)
            }
        );
        assert_eq!(a.fmtp(97).unwrap().params, "useinbandfec=1; stereo=0");
        assert_eq!(a.fmtp(97).unwrap().param("stereo").as_deref(), Some("0"));
        assert_eq!(a.ptime(), Some(20));
        assert_eq!(a.rtcp().unwrap().port, 53020);
        assert!(a.rtcp_mux());
        assert_eq!(a.direction(&s), Direction::RecvOnly);
        let c = &a.crypto()[0];
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, "AES_CM_128_HMAC_SHA1_80");
        assert_eq!(
            c.key_params[0],
            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"
        );
        assert_eq!(c.session_params, vec!["KDR=1"]);
        assert_eq!(
            c.inline_key(),
            Some("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
        );
        assert_eq!(s.media[1].port, 0);
        assert_eq!(s.media[1].direction(&s), Direction::SendRecv);
    }

    #[test]
    fn round_trip_is_lossless() {
        let s = Sdp::parse(OFFER.as_bytes()).unwrap();
        let printed = s.to_string();
        assert_eq!(Sdp::parse(printed.as_bytes()).unwrap(), s);
        assert_eq!(printed, OFFER);
    }

    #[test]
    fn unknown_session_lines_keep_their_place() {
        let text = "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\ny=first\r\nc=IN IP4 192.0.2.1\r\n\
x=after c\r\nt=0 0\r\na=one\r\nw=between\r\na=two\r\nm=audio 9 RTP/AVP 0\r\n";
        let s = Sdp::parse(text.as_bytes()).unwrap();
        let at: Vec<usize> = s.unknown.iter().map(|u| u.after).collect();
        assert_eq!(at, [0, 1, 3]);
        assert_eq!(s.to_string(), text);
        // A line placed past the known lines is printed last.
        let mut s2 = s.clone();
        s2.unknown[2].after = 99;
        assert!(s2
            .to_string()
            .ends_with("a=two\r\nw=between\r\nm=audio 9 RTP/AVP 0\r\n"));
    }

    #[test]
    fn repeated_single_lines_keep_unknown_positions_stable() {
        // Found by the sdp fuzz target: a second z= (or c=, i=, u=, k=)
        // replaces the first and is printed once, so it must not move the
        // unknown lines after it on re-parse.
        let text = "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nz=1\r\ny=a\r\nz=2\r\ny=b\r\n\
c=IN IP4 h\r\nc=IN IP4 h2\r\ny=c\r\nt=0 0\r\n";
        let s = Sdp::parse(text.as_bytes()).unwrap();
        let at: Vec<usize> = s.unknown.iter().map(|u| u.after).collect();
        assert_eq!(at, [1, 1, 2]);
        assert_eq!(s.zone.as_deref(), Some("2"));
        let again = Sdp::parse(s.to_string().as_bytes()).unwrap();
        assert_eq!(again, s);
        let crash: &[u8] = include_bytes!("../../fuzz/corpus/sdp/crash-repeated-single-lines.sdp");
        let s = Sdp::parse(crash).unwrap();
        assert_eq!(Sdp::parse(&s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn strict_parse_names_the_attribute_line() {
        let base = "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";
        let bad = format!("{base}a=rtpmap:0 PCMU/8000\r\na=rtpmap:0 PCMU\r\n");
        // Lenient parse keeps the line; the typed view skips it.
        let s = Sdp::parse(bad.as_bytes()).unwrap();
        assert_eq!(s.media[0].rtpmaps().len(), 1);
        let e = Sdp::parse_strict(bad.as_bytes()).unwrap_err();
        assert_eq!(
            e,
            SdpError::Attribute {
                line: Some(7),
                name: "rtpmap",
                at: 6,
                expected: "/<clock rate>",
            }
        );
        assert_eq!(
            e.to_string(),
            "SDP line 7: a=rtpmap value at byte 6: expected /<clock rate>"
        );
        let crypto = format!("{base}a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline\r\n");
        assert_eq!(
            Sdp::parse_strict(crypto.as_bytes()).unwrap_err(),
            SdpError::Attribute {
                line: Some(6),
                name: "crypto",
                at: 26,
                expected: "key parameter <method>:<info>",
            }
        );
        let fmtp = format!("{base}a=fmtp: x=1\r\n");
        assert!(matches!(
            Sdp::parse_strict(fmtp.as_bytes()).unwrap_err(),
            SdpError::Attribute {
                line: Some(6),
                name: "fmtp",
                at: 0,
                ..
            }
        ));
        assert!(Sdp::parse_strict(OFFER.as_bytes()).is_ok());
    }

    #[test]
    fn lf_only_and_builders() {
        let s =
            Sdp::parse(b"v=0\no=- 1 2 IN IP6 ::1\ns= \nt=0 0\nm=audio 9/2 RTP/AVP 0\n").unwrap();
        assert_eq!(s.media[0].num_ports, Some(2));
        let mut m = s.media[0].clone();
        m.set_direction(Direction::Inactive);
        assert_eq!(m.direction(&s), Direction::Inactive);
        m.set_direction(Direction::SendOnly);
        assert_eq!(m.attributes.iter().filter(|a| a.value.is_none()).count(), 1);
    }

    #[test]
    fn rejects() {
        let bad: &[(&[u8], SdpError)] = &[
            (b"", SdpError::Missing('v')),
            (
                b"v=1\r\n",
                SdpError::Syntax {
                    line: 1,
                    expected: "v=0",
                },
            ),
            (b"v=0\r\ns=-\r\n", SdpError::Missing('o')),
            (
                b"v=0\r\no=- 1 x IN IP4 a\r\ns=-\r\n",
                SdpError::Syntax {
                    line: 2,
                    expected: "numeric session version",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n",
                SdpError::Syntax {
                    line: 4,
                    expected: "media port 0-65535",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nbogus\r\n",
                SdpError::Syntax {
                    line: 4,
                    expected: "<type>=<value>",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4\r\n",
                SdpError::Syntax {
                    line: 4,
                    expected: "c=<nettype> <addrtype> <address>",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nr=1\r\n",
                SdpError::Syntax {
                    line: 4,
                    expected: "t= before r=",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 a\r\ns=\xff\r\n",
                SdpError::Utf8 { line: 3 },
            ),
        ];
        for (input, err) in bad {
            assert_eq!(
                Sdp::parse(input).unwrap_err(),
                *err,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let mut many = b"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\n".to_vec();
        for _ in 0..MAX_LINES {
            many.extend_from_slice(b"a=x\r\n");
        }
        assert_eq!(Sdp::parse(&many).unwrap_err(), SdpError::TooManyLines);
    }
}

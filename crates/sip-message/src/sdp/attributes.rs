//! Typed views of the media attributes Parley negotiates.

use std::fmt;

use super::{Attribute, Media, Sdp, SdpError};

fn bad(name: &'static str, at: usize, expected: &'static str) -> SdpError {
    SdpError::Attribute {
        line: None,
        name,
        at,
        expected,
    }
}

/// Space-separated words of `s` with their byte offsets, empty words
/// (from repeated spaces) skipped.
fn words(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut off = 0;
    s.split(' ').filter_map(move |w| {
        let at = off;
        off += w.len() + 1;
        (!w.is_empty()).then_some((at, w))
    })
}

/// Checks the value of an attribute that has a typed view, for
/// [`Sdp::parse_strict`]; other attributes pass.
pub(super) fn check(name: &str, value: Option<&str>) -> Result<(), SdpError> {
    let v = value.unwrap_or("");
    if name.eq_ignore_ascii_case("rtpmap") {
        RtpMap::parse(v).map(drop)
    } else if name.eq_ignore_ascii_case("fmtp") {
        Fmtp::parse(v).map(drop)
    } else if name.eq_ignore_ascii_case("crypto") {
        Crypto::parse(v).map(drop)
    } else {
        Ok(())
    }
}

/// Media direction (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv` (the default)
    SendRecv,
    /// `sendonly`
    SendOnly,
    /// `recvonly`
    RecvOnly,
    /// `inactive`
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction the answerer uses for an offer with this direction
    /// (RFC 3264 §6.1).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    fn from_name(n: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(n))
    }
}

pub(super) fn direction_of(attrs: &[Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .rev()
        .filter(|a| a.value.is_none())
        .find_map(|a| Direction::from_name(&a.name))
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpMap {
    /// Payload type, 0-127.
    pub payload_type: u8,
    /// Encoding name, e.g. `PCMU`, `opus`, `telephone-event`.
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels (audio).
    pub channels: Option<u16>,
}

impl RtpMap {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Result<RtpMap, SdpError> {
        const N: &str = "rtpmap";
        let (pt, rest) = value.split_once(' ').ok_or(bad(
            N,
            value.len(),
            "<payload type> <encoding>/<clock rate>",
        ))?;
        let payload_type: u8 =
            pt.parse()
                .ok()
                .filter(|p| *p <= 127)
                .ok_or(bad(N, 0, "payload type 0-127"))?;
        let lead = rest.len() - rest.trim_start().len();
        let rest = rest.trim();
        let mut at = pt.len() + 1 + lead;
        let mut parts = rest.split('/');
        let encoding = parts
            .next()
            .filter(|e| !e.is_empty())
            .ok_or(bad(N, at, "encoding name"))?
            .to_owned();
        at += encoding.len();
        let clock = parts.next().ok_or(bad(N, at, "/<clock rate>"))?;
        at += 1;
        let clock_rate = clock
            .parse()
            .map_err(|_| bad(N, at, "numeric clock rate"))?;
        at += clock.len();
        let channels = match parts.next() {
            Some(c) => {
                at += 1;
                let n = c.parse().map_err(|_| bad(N, at, "numeric channel count"))?;
                at += c.len();
                Some(n)
            }
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad(N, at, "end of value after channels"));
        }
        Ok(RtpMap {
            payload_type,
            encoding,
            clock_rate,
            channels,
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// `a=fmtp:<format> <params>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fmtp {
    /// Format (payload type).
    pub format: String,
    /// Format parameters as written.
    pub params: String,
}

impl Fmtp {
    /// Parses the attribute value: a format token, then parameters.
    pub fn parse(value: &str) -> Result<Fmtp, SdpError> {
        let (f, p) = value.split_once(' ').unwrap_or((value, ""));
        if !crate::scan::is_token_str(f) {
            return Err(bad("fmtp", 0, "format token"));
        }
        Ok(Fmtp {
            format: f.to_owned(),
            params: p.trim().to_owned(),
        })
    }

    /// Looks up `name=value` in `;`-separated parameters.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params.split(';').find_map(|p| {
            let (n, v) = p.split_once('=')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// `a=crypto` (RFC 4568): `<tag> <suite> <key-params> [<session-params>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Crypto {
    /// Tag, 1-9 digits.
    pub tag: u32,
    /// Crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// Key parameters (`inline:...`), separated by `;` in the attribute.
    pub key_params: Vec<String>,
    /// Session parameters such as `KDR=1`, `UNENCRYPTED_SRTP`.
    pub session_params: Vec<String>,
}

impl Crypto {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Result<Crypto, SdpError> {
        const N: &str = "crypto";
        let mut it = words(value);
        let tag = match it.next() {
            Some((_, t)) if t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit()) => t,
            Some((at, _)) => return Err(bad(N, at, "tag of 1-9 digits")),
            None => return Err(bad(N, 0, "tag of 1-9 digits")),
        };
        let (_, suite) = it.next().ok_or(bad(N, value.len(), "crypto suite"))?;
        let (kat, keys) = it.next().ok_or(bad(N, value.len(), "key parameters"))?;
        let mut key_params = Vec::new();
        let mut at = kat;
        for k in keys.split(';') {
            if !k.contains(':') {
                return Err(bad(N, at, "key parameter <method>:<info>"));
            }
            key_params.push(k.to_owned());
            at += k.len() + 1;
        }
        Ok(Crypto {
            // At most 9 digits always fits in u32.
            tag: tag.parse().map_err(|_| bad(N, 0, "tag of 1-9 digits"))?,
            suite: suite.to_owned(),
            key_params,
            session_params: it.map(|(_, w)| w.to_owned()).collect(),
        })
    }

    /// The base64 key||salt of the first `inline:` key parameter, without
    /// lifetime and MKI.
    pub fn inline_key(&self) -> Option<&str> {
        self.key_params
            .iter()
            .find_map(|k| k.strip_prefix("inline:"))
            .and_then(|k| k.split('|').next())
    }
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.tag,
            self.suite,
            self.key_params.join(";")
        )?;
        for s in &self.session_params {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtcpAttr {
    /// RTCP port.
    pub port: u16,
    /// Optional `nettype addrtype address`.
    pub address: Option<String>,
}

impl Media {
    /// Attributes called `name`, in order.
    pub fn attributes_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Attribute> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
    }

    /// First attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes_named(name)
            .filter_map(|a| a.value.as_deref())
    }

    /// Well-formed `rtpmap`s.
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.values("rtpmap")
            .filter_map(|v| RtpMap::parse(v).ok())
            .collect()
    }

    /// The `rtpmap` of a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().into_iter().find(|m| m.payload_type == pt)
    }

    /// The `fmtp` of a payload type.
    pub fn fmtp(&self, pt: u8) -> Option<Fmtp> {
        let pt = pt.to_string();
        self.values("fmtp")
            .filter_map(|v| Fmtp::parse(v).ok())
            .find(|f| f.format == pt)
    }

    /// `ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.values("ptime").find_map(|v| v.trim().parse().ok())
    }

    /// `maxptime` in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.values("maxptime").find_map(|v| v.trim().parse().ok())
    }

    /// `rtcp` attribute.
    pub fn rtcp(&self) -> Option<RtcpAttr> {
        self.values("rtcp").find_map(|v| {
            let (p, rest) = v.split_once(' ').unwrap_or((v, ""));
            Some(RtcpAttr {
                port: p.parse().ok()?,
                address: (!rest.is_empty()).then(|| rest.to_owned()),
            })
        })
    }

    /// `rtcp-mux` present.
    pub fn rtcp_mux(&self) -> bool {
        self.attribute("rtcp-mux").is_some()
    }

    /// Well-formed `crypto` attributes.
    pub fn crypto(&self) -> Vec<Crypto> {
        self.values("crypto")
            .filter_map(|v| Crypto::parse(v).ok())
            .collect()
    }

    /// Effective direction: the media's own, else the session's, else
    /// `sendrecv`.
    pub fn direction(&self, session: &Sdp) -> Direction {
        direction_of(&self.attributes).unwrap_or_else(|| session.direction())
    }

    /// Replaces any direction attribute with `d`.
    pub fn set_direction(&mut self, d: Direction) {
        self.attributes
            .retain(|a| !(a.value.is_none() && Direction::from_name(&a.name).is_some()));
        self.attributes.push(Attribute::flag(d.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap() {
        let m = RtpMap::parse("96 H264/90000").unwrap();
        assert_eq!(m.to_string(), "96 H264/90000");
        let err = |at, expected| SdpError::Attribute {
            line: None,
            name: "rtpmap",
            at,
            expected,
        };
        assert_eq!(
            RtpMap::parse("200 X/8000"),
            Err(err(0, "payload type 0-127"))
        );
        assert_eq!(RtpMap::parse("0 PCMU"), Err(err(6, "/<clock rate>")));
        assert_eq!(
            RtpMap::parse("0 PCMU/8k"),
            Err(err(7, "numeric clock rate"))
        );
        assert_eq!(
            RtpMap::parse("0 PCMU/8000/x"),
            Err(err(12, "numeric channel count"))
        );
        assert_eq!(
            RtpMap::parse("0 PCMU/8000/1/2"),
            Err(err(13, "end of value after channels"))
        );
        assert_eq!(RtpMap::parse("0  /8000"), Err(err(3, "encoding name")));
        assert_eq!(
            RtpMap::parse("0"),
            Err(err(1, "<payload type> <encoding>/<clock rate>"))
        );
        let two = RtpMap::parse("111 opus/48000/2").unwrap();
        assert_eq!(two.channels, Some(2));
        assert_eq!(RtpMap::parse(&two.to_string()).unwrap(), two);
    }

    #[test]
    fn crypto() {
        let c = Crypto::parse("2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP").unwrap();
        assert_eq!(c.key_params.len(), 2);
        assert_eq!(c.session_params, vec!["FEC_ORDER=FEC_SRTP"]);
        assert_eq!(Crypto::parse(&c.to_string()).unwrap(), c);
        let err = |at, expected| SdpError::Attribute {
            line: None,
            name: "crypto",
            at,
            expected,
        };
        assert_eq!(
            Crypto::parse("x AES inline:abc"),
            Err(err(0, "tag of 1-9 digits"))
        );
        assert_eq!(
            Crypto::parse("1234567890 AES inline:abc"),
            Err(err(0, "tag of 1-9 digits"))
        );
        assert_eq!(Crypto::parse("1 AES"), Err(err(5, "key parameters")));
        assert_eq!(Crypto::parse(""), Err(err(0, "tag of 1-9 digits")));
        assert_eq!(Crypto::parse("1"), Err(err(1, "crypto suite")));
        assert_eq!(
            Crypto::parse("1 AES inline:a;bogus"),
            Err(err(15, "key parameter <method>:<info>"))
        );
    }

    #[test]
    fn fmtp() {
        let f = Fmtp::parse("101 0-16").unwrap();
        assert_eq!((f.format.as_str(), f.params.as_str()), ("101", "0-16"));
        assert_eq!(Fmtp::parse("97").unwrap().params, "");
        assert_eq!(
            Fmtp::parse("").unwrap_err().to_string(),
            "SDP a=fmtp value at byte 0: expected format token"
        );
    }

    #[test]
    fn direction_reverse() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
    }
}

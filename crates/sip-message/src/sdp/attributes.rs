//! Typed views of the media attributes Parley negotiates.

use std::fmt;

use super::{Attribute, Media, Sdp};

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
    /// Parses the attribute value; `None` if malformed.
    pub fn parse(value: &str) -> Option<RtpMap> {
        let (pt, rest) = value.split_once(' ')?;
        let payload_type: u8 = pt.parse().ok().filter(|p| *p <= 127)?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?.to_owned();
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
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
    /// Parses the attribute value; `None` if malformed.
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut it = value.split(' ').filter(|s| !s.is_empty());
        let tag = it.next()?;
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let suite = it.next()?.to_owned();
        let key_params: Vec<String> = it.next()?.split(';').map(str::to_owned).collect();
        if key_params.iter().any(|k| !k.contains(':')) {
            return None;
        }
        Some(Crypto {
            tag: tag.parse().ok()?,
            suite,
            key_params,
            session_params: it.map(str::to_owned).collect(),
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
        self.values("rtpmap").filter_map(RtpMap::parse).collect()
    }

    /// The `rtpmap` of a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().into_iter().find(|m| m.payload_type == pt)
    }

    /// The `fmtp` of a payload type.
    pub fn fmtp(&self, pt: u8) -> Option<Fmtp> {
        let pt = pt.to_string();
        self.values("fmtp").find_map(|v| {
            let (f, p) = v.split_once(' ').unwrap_or((v, ""));
            (f == pt).then(|| Fmtp {
                format: f.to_owned(),
                params: p.trim().to_owned(),
            })
        })
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
        self.values("crypto").filter_map(Crypto::parse).collect()
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
        assert!(RtpMap::parse("200 X/8000").is_none());
        assert!(RtpMap::parse("0 PCMU").is_none());
        assert!(RtpMap::parse("0 PCMU/8000/1/2").is_none());
    }

    #[test]
    fn crypto() {
        let c = Crypto::parse("2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP").unwrap();
        assert_eq!(c.key_params.len(), 2);
        assert_eq!(c.session_params, vec!["FEC_ORDER=FEC_SRTP"]);
        assert_eq!(Crypto::parse(&c.to_string()).unwrap(), c);
        assert!(Crypto::parse("x AES inline:abc").is_none());
        assert!(Crypto::parse("1 AES").is_none());
    }

    #[test]
    fn direction_reverse() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
    }
}

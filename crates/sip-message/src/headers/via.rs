//! Via (RFC 3261 §20.42), with the RFC 3581 `rport` parameter.

use std::fmt;
use std::net::IpAddr;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::{parse_u64, Cursor};
use crate::uri::{fast_hostport, parse_hostport, Host, HostRef};

const NAME: &str = "Via";

/// Transport of a Via `sent-protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS over TCP
    Tls,
    /// SCTP
    Sctp,
    /// WebSocket (RFC 7118)
    Ws,
    /// Secure WebSocket (RFC 7118)
    Wss,
    /// Anything else, as written.
    Other(String),
}

impl Transport {
    /// Classifies a transport token, case-insensitively.
    pub fn from_token(t: &str) -> Transport {
        const KNOWN: [(&str, Transport); 6] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        KNOWN
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(t))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| Transport::Other(t.to_owned()))
    }

    /// True for transports that keep a connection (everything but UDP).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(o) => o,
        })
    }
}

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// Transport of the hop.
    pub transport: Transport,
    /// `sent-by` host.
    pub host: Host,
    /// `sent-by` port.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport`, `maddr`, `ttl`, ...).
    pub params: Params,
}

/// The RFC 3261 branch prefix.
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    /// A Via with a branch parameter.
    pub fn new(transport: Transport, host: Host, port: Option<u16>, branch: &str) -> Self {
        let mut params = Params::new();
        params.set("branch", Some(branch));
        Via {
            transport,
            host,
            port,
            params,
        }
    }

    /// `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    /// True if the branch is an RFC 3261 transaction id: the magic cookie
    /// followed by at least one more character. A bare `z9hG4bK`
    /// (RFC 4475 §3.2.1) does not count, so the transaction layer falls
    /// back to RFC 2543 matching for it.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }

    /// `received` parameter (checked to be an IP address when parsed).
    pub fn received(&self) -> Option<IpAddr> {
        self.params
            .get("received")
            .flatten()
            .and_then(|v| v.trim_matches(['[', ']']).parse().ok())
    }

    /// `rport`: `None` if absent, `Some(None)` if requested (flag),
    /// `Some(Some(port))` if filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params.get("maddr").flatten()
    }

    /// `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .get("ttl")
            .flatten()
            .and_then(|v| v.parse().ok())
    }

    /// Sets `received` (what a server does when the source differs).
    pub fn set_received(&mut self, ip: IpAddr) {
        self.params.set("received", Some(&ip.to_string()));
    }

    /// Fills in `rport` with the source port.
    pub fn set_rport(&mut self, port: u16) {
        self.params.set("rport", Some(&port.to_string()));
    }
}

impl TypedHeader for Via {
    const NAME: HeaderName = HeaderName::Via;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let mut params = Vec::new();
        let (transport, host, port) = scan_via(value, |n, v| {
            params.push(crate::params::Param {
                name: n.to_owned(),
                value: v.map(str::to_owned),
            })
        })?;
        Ok(Via {
            transport: Transport::from_token(transport),
            host: host.to_owned(),
            port,
            params: Params(params),
        })
    }

    fn validate(value: &str) -> Result<(), HeaderError> {
        scan_via(value, |_, _| {}).map(drop)
    }
}

/// Checks the value of a Via parameter the transaction layer relies on.
fn check_param(name: &str, v: Option<&str>) -> Option<&'static str> {
    // The checked names have 3, 5, 6 or 8 letters; others skip the compares.
    if !matches!(name.len(), 3 | 5 | 6 | 8) {
        return None;
    }
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let ok = if is("branch") {
        v.is_some()
    } else if is("received") {
        v.is_some_and(|v| {
            crate::uri::plain_ipv4(v).is_some()
                || v.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
        })
    } else if is("rport") {
        v.is_none_or(|v| parse_u64(v, 65535).is_some())
    } else if is("ttl") {
        v.is_some_and(|v| parse_u64(v, 255).is_some())
    } else if is("maddr") {
        v.is_some_and(|v| HostRef::parse(v).is_ok())
    } else {
        true
    };
    if ok {
        None
    } else if is("branch") {
        Some("branch value")
    } else if is("received") {
        Some("IP address in received")
    } else if is("rport") {
        Some("port number in rport")
    } else if is("ttl") {
        Some("ttl of 0-255")
    } else {
        Some("host in maddr")
    }
}

/// Scans one Via value without allocating; parameters go to `on_param`.
fn scan_via<'a>(
    value: &'a str,
    mut on_param: impl FnMut(&'a str, Option<&'a str>),
) -> Result<(&'a str, HostRef<'a>, Option<u16>), HeaderError> {
    let scan = HeaderError::scan(NAME);
    let mut c = Cursor::new(value);
    c.skip_ws();
    let proto = c.token("protocol name").map_err(&scan)?;
    if !proto.eq_ignore_ascii_case("SIP") {
        return Err(HeaderError::syntax(NAME, 0, "protocol name SIP"));
    }
    c.expect_sep(b'/', "'/' after protocol name")
        .map_err(&scan)?;
    let vpos = c.pos();
    if c.token("protocol version").map_err(&scan)? != "2.0" {
        return Err(HeaderError::syntax(NAME, vpos, "protocol version 2.0"));
    }
    c.expect_sep(b'/', "'/' after protocol version")
        .map_err(&scan)?;
    let transport = c.token("transport").map_err(&scan)?;
    if !c.skip_ws() {
        return c.err("whitespace before sent-by").map_err(&scan);
    }
    let hp_start = c.pos();
    let (host, port) = match fast_hostport(c.rest(), true) {
        Some((host, port, len)) => {
            c.set_pos(hp_start + len);
            (host, port)
        }
        None => {
            let hp = c.take_while(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
            });
            parse_hostport(hp, 0).map_err(|e| HeaderError::uri(NAME, hp_start, e))?
        }
    };
    Params::scan_header(&mut c, |n, v, at| match check_param(n, v) {
        None => {
            on_param(n, v);
            Ok(())
        }
        Some(what) => Err(crate::scan::Expected { at, what }),
    })
    .map_err(&scan)?;
    c.skip_ws();
    if !c.is_eof() {
        return c.err("';' or end of Via value").map_err(&scan);
    }
    Ok((transport, host, port))
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_folded_and_spaced() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.host, Host::Ipv4("192.0.2.2".parse().unwrap()));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
    }

    #[test]
    fn params_and_print() {
        let v = Via::parse(
            "SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;received=192.0.2.1;rport=4000;maddr=224.0.0.1;ttl=3",
        )
        .unwrap();
        assert_eq!(v.port, Some(5061));
        assert_eq!(v.received(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(v.rport(), Some(Some(4000)));
        assert_eq!(v.maddr(), Some("224.0.0.1"));
        assert_eq!(v.ttl(), Some(3));
        assert_eq!(Via::parse(&v.to_string()).unwrap(), v);
        let r = Via::parse("SIP/2.0/UDP pc33.example.com;rport;branch=z9hG4bKa").unwrap();
        assert_eq!(r.rport(), Some(None));
        let mut r2 = r.clone();
        r2.set_rport(5062);
        assert_eq!(r2.rport(), Some(Some(5062)));
    }

    #[test]
    fn unknown_transport_kept() {
        let v = Via::parse("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en").unwrap();
        assert_eq!(v.transport, Transport::Other("UNKNOWN".into()));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en"
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/3.0/UDP host",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP host;received=not-an-ip",
            "SIP/2.0/UDP host;rport=99999",
            "SIP/2.0/UDP host junk",
            "SIP/2.0/UDP host:70000",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Locating SIP servers (RFC 3263 §4): NAPTR, then SRV, then A/AAAA.
//!
//! ```text
//!  host is an IP ──────────────> that IP, given or default port      (§4.2)
//!  port given ─────────────────> A/AAAA of host, that port           (§4.2)
//!  transport given ────────────> SRV _sip(s)._proto.host ─> A/AAAA    (§4.2)
//!  otherwise ──> NAPTR host ─(S flag, our services, order/pref)─> SRV ─> A/AAAA  (§4.1)
//!                   └─ none ──> SRV for each transport we speak ─> A/AAAA
//!                                  └─ none ──> A/AAAA, UDP (TLS for sips), default port
//! ```
//! The result is an ordered list of targets; the driver tries them in
//! order, moving on when one fails at the transport level or times out
//! (§4.3). Everything a DNS answer can make us do is bounded.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::transport::Proto;

/// At most this many targets come out of one resolution.
const MAX_TARGETS: usize = 16;
/// At most this many NAPTR or SRV records are considered per answer.
const MAX_RECORDS: usize = 32;

/// Errors of SIP server location.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The system resolver configuration could not be read.
    #[error("no DNS configuration: {0}")]
    Config(String),
    /// The name resolved to nothing we can use.
    #[error("{host}: no SIP server found ({detail})")]
    NotFound {
        /// The host looked up.
        host: String,
        /// The last lookup failure, for the user.
        detail: String,
    },
}

/// One place to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Address and port.
    pub addr: SocketAddr,
    /// Transport.
    pub proto: Proto,
}

/// What the URI (or outbound proxy) says about where to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// Explicit port.
    pub port: Option<u16>,
    /// Explicit `transport=` parameter.
    pub transport: Option<Proto>,
    /// A `sips:` URI: TLS only.
    pub secure: bool,
}

fn default_port(proto: Proto) -> u16 {
    if proto == Proto::Tls {
        5061
    } else {
        5060
    }
}

/// Resolves SIP destinations with RFC 3263.
#[derive(Clone)]
pub struct SipResolver {
    resolver: TokioResolver,
    /// Transports we can use, in our order of preference.
    supported: Vec<Proto>,
}

impl SipResolver {
    /// The operating system's DNS configuration.
    pub fn system(supported: Vec<Proto>) -> Result<Self, DnsError> {
        let resolver =
            TokioResolver::builder_tokio().map_err(|e| DnsError::Config(e.to_string()))?;
        let resolver = resolver
            .build()
            .map_err(|e| DnsError::Config(e.to_string()))?;
        Ok(Self {
            resolver,
            supported,
        })
    }

    /// A specific name server (tests run their own on loopback).
    pub fn with_name_server(server: SocketAddr, supported: Vec<Proto>) -> Result<Self, DnsError> {
        let mut ns = NameServerConfig::udp_and_tcp(server.ip());
        for c in &mut ns.connections {
            c.port = server.port();
        }
        let config = ResolverConfig::from_name_servers(vec![ns]);
        let mut opts = ResolverOpts::default();
        opts.attempts = 1;
        opts.timeout = std::time::Duration::from_secs(2);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .map_err(|e| DnsError::Config(e.to_string()))?;
        Ok(Self {
            resolver,
            supported,
        })
    }

    /// The ordered targets for `dest`.
    pub async fn resolve(&self, dest: &Destination) -> Result<Vec<Target>, DnsError> {
        let usable = |p: Proto| self.supported.contains(&p) && (!dest.secure || p == Proto::Tls);
        let fallback_proto =
            dest.transport
                .unwrap_or(if dest.secure { Proto::Tls } else { Proto::Udp });
        // §4.2: numeric host, or explicit port: no NAPTR/SRV.
        if let Ok(ip) = dest.host.parse::<IpAddr>() {
            let port = dest.port.unwrap_or(default_port(fallback_proto));
            return Ok(vec![Target {
                addr: SocketAddr::new(ip, port),
                proto: fallback_proto,
            }]);
        }
        let host = fqdn(&dest.host);
        if let Some(port) = dest.port {
            return self
                .addresses(&host, port, fallback_proto, MAX_TARGETS)
                .await;
        }
        let mut last = String::from("no records");
        if let Some(proto) = dest.transport {
            match self.srv(&srv_name(proto, dest.secure, &host), proto).await {
                Ok(t) if !t.is_empty() => return Ok(t),
                Ok(_) => {}
                Err(e) => last = e,
            }
            return self
                .addresses(&host, default_port(proto), proto, MAX_TARGETS)
                .await
                .map_err(|e| with_detail(e, &last));
        }
        // §4.1: NAPTR.
        match self.naptr(&host, dest.secure).await {
            Ok(services) if !services.is_empty() => {
                let mut out = Vec::new();
                for (proto, replacement) in services.into_iter().filter(|(p, _)| usable(*p)) {
                    match self.srv(&replacement, proto).await {
                        Ok(t) => out.extend(t),
                        Err(e) => last = e,
                    }
                    if out.len() >= MAX_TARGETS {
                        break;
                    }
                }
                if !out.is_empty() {
                    out.truncate(MAX_TARGETS);
                    return Ok(out);
                }
            }
            Ok(_) => {}
            Err(e) => last = e,
        }
        // No NAPTR: SRV for each transport we speak, in our order.
        let mut out = Vec::new();
        for proto in self.supported.iter().copied().filter(|p| usable(*p)) {
            match self.srv(&srv_name(proto, dest.secure, &host), proto).await {
                Ok(t) => out.extend(t),
                Err(e) => last = e,
            }
        }
        if !out.is_empty() {
            out.truncate(MAX_TARGETS);
            return Ok(out);
        }
        self.addresses(
            &host,
            default_port(fallback_proto),
            fallback_proto,
            MAX_TARGETS,
        )
        .await
        .map_err(|e| with_detail(e, &last))
    }

    /// NAPTR records usable for SIP, sorted by order then preference.
    async fn naptr(&self, host: &str, secure: bool) -> Result<Vec<(Proto, String)>, String> {
        let lookup = self
            .resolver
            .lookup(host, RecordType::NAPTR)
            .await
            .map_err(|e| e.to_string())?;
        let mut recs: Vec<(u16, u16, Proto, String)> = lookup
            .answers()
            .iter()
            .take(MAX_RECORDS)
            .filter_map(|r| match &r.data {
                RData::NAPTR(n) if n.flags.eq_ignore_ascii_case(b"s") => {
                    let proto = match n.services.to_ascii_uppercase().as_slice() {
                        b"SIP+D2U" if !secure => Proto::Udp,
                        b"SIP+D2T" if !secure => Proto::Tcp,
                        b"SIPS+D2T" => Proto::Tls,
                        _ => return None,
                    };
                    Some((n.order, n.preference, proto, n.replacement.to_string()))
                }
                _ => None,
            })
            .collect();
        recs.sort_by_key(|(o, p, _, _)| (*o, *p));
        Ok(recs
            .into_iter()
            .map(|(_, _, proto, name)| (proto, name))
            .collect())
    }

    /// SRV targets in RFC 2782 order, each expanded to its addresses.
    async fn srv(&self, name: &str, proto: Proto) -> Result<Vec<Target>, String> {
        let lookup = self
            .resolver
            .lookup(name, RecordType::SRV)
            .await
            .map_err(|e| e.to_string())?;
        let mut recs: Vec<(u16, u16, u16, String)> = lookup
            .answers()
            .iter()
            .take(MAX_RECORDS)
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some((s.priority, s.weight, s.port, s.target.to_string())),
                _ => None,
            })
            .collect();
        // Spreads load across equal-priority servers (RFC 2782).
        order_srv(&mut recs, crate::util::os_seed());
        let mut out = Vec::new();
        for (_, _, port, target) in recs {
            // "." means: the service is decidedly not available here.
            if target == "." || port == 0 {
                continue;
            }
            if let Ok(t) = self
                .addresses(&target, port, proto, MAX_TARGETS - out.len())
                .await
            {
                out.extend(t);
            }
            if out.len() >= MAX_TARGETS {
                break;
            }
        }
        Ok(out)
    }

    async fn addresses(
        &self,
        host: &str,
        port: u16,
        proto: Proto,
        max: usize,
    ) -> Result<Vec<Target>, DnsError> {
        let ips = self
            .resolver
            .lookup_ip(host)
            .await
            .map_err(|e| DnsError::NotFound {
                host: host.trim_end_matches('.').to_owned(),
                detail: e.to_string(),
            })?;
        let out: Vec<Target> = ips
            .iter()
            .take(max)
            .map(|ip| Target {
                addr: SocketAddr::new(ip, port),
                proto,
            })
            .collect();
        if out.is_empty() {
            return Err(DnsError::NotFound {
                host: host.trim_end_matches('.').to_owned(),
                detail: "no addresses".into(),
            });
        }
        Ok(out)
    }
}

fn with_detail(e: DnsError, earlier: &str) -> DnsError {
    match e {
        DnsError::NotFound { host, detail } => DnsError::NotFound {
            host,
            detail: format!("{detail}; {earlier}"),
        },
        other => other,
    }
}

fn fqdn(host: &str) -> String {
    if host.ends_with('.') {
        host.to_owned()
    } else {
        format!("{host}.")
    }
}

fn srv_name(proto: Proto, secure: bool, host: &str) -> String {
    match (proto, secure) {
        (Proto::Tls, _) | (_, true) => format!("_sips._tcp.{host}"),
        (Proto::Tcp, false) => format!("_sip._tcp.{host}"),
        (Proto::Udp, false) => format!("_sip._udp.{host}"),
    }
}

/// RFC 2782 ordering: ascending priority; within a priority, a weighted
/// random order (zero weights last-ish but still possible).
fn order_srv(recs: &mut Vec<(u16, u16, u16, String)>, mut state: u64) {
    recs.sort_by_key(|r| r.0);
    let mut out = Vec::with_capacity(recs.len());
    let mut i = 0;
    while i < recs.len() {
        let prio = recs[i].0;
        let end = recs[i..]
            .iter()
            .position(|r| r.0 != prio)
            .map_or(recs.len(), |n| i + n);
        let mut group: Vec<_> = recs[i..end].to_vec();
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.1) + 1).sum();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut pick = state % total;
            let idx = group
                .iter()
                .position(|r| {
                    let w = u64::from(r.1) + 1;
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0);
            out.push(group.remove(idx));
        }
        i = end;
    }
    *recs = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_order_is_by_priority_then_weighted() {
        let mut first_b = 0;
        for s in 1..200u64 {
            let mut recs = vec![
                (20, 0, 1, "c".to_owned()),
                (10, 10, 1, "a".to_owned()),
                (10, 90, 1, "b".to_owned()),
            ];
            order_srv(&mut recs, s.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            assert_eq!(recs[2].3, "c", "lower priority always first");
            if recs[0].3 == "b" {
                first_b += 1;
            }
        }
        assert!(
            first_b > 120,
            "weight 90 wins most of the time: {first_b}/199"
        );
    }

    #[tokio::test]
    async fn ip_literals_need_no_dns() {
        // A name server that does not exist: must not be asked.
        let r = SipResolver::with_name_server(
            "127.0.0.1:9".parse().unwrap(),
            vec![Proto::Udp, Proto::Tcp, Proto::Tls],
        )
        .unwrap();
        let d = Destination {
            host: "192.0.2.7".into(),
            port: None,
            transport: None,
            secure: false,
        };
        assert_eq!(
            r.resolve(&d).await.unwrap(),
            vec![Target {
                addr: "192.0.2.7:5060".parse().unwrap(),
                proto: Proto::Udp
            }]
        );
        let d = Destination {
            host: "::1".into(),
            port: Some(5070),
            transport: Some(Proto::Tcp),
            secure: false,
        };
        assert_eq!(
            r.resolve(&d).await.unwrap()[0].addr,
            "[::1]:5070".parse().unwrap()
        );
        let d = Destination {
            host: "192.0.2.7".into(),
            port: None,
            transport: None,
            secure: true,
        };
        assert_eq!(
            r.resolve(&d).await.unwrap()[0],
            Target {
                addr: "192.0.2.7:5061".parse().unwrap(),
                proto: Proto::Tls
            }
        );
    }
}

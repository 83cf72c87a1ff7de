//! Contact (RFC 3261 §20.10) with the registration parameters `q`,
//! `expires` and the RFC 5626 `+sip.instance` / `reg-id`.

use std::fmt;

use super::addr::{parse_addr_params, validate_addr_params};
use super::{HeaderError, HeaderName, TypedHeader};
use crate::name_addr::NameAddr;
use crate::params::Params;
use crate::scan::{parse_u64, unquote};

const NAME: &str = "Contact";

/// One Contact value; `addr` is `None` for the `*` wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    /// The address, or `None` for `*`.
    pub addr: Option<NameAddr>,
    /// Contact parameters.
    pub params: Params,
}

/// Parses a qvalue (`0.000`..`1.000`) into thousandths.
fn qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut f = 0u16;
    for i in 0..3 {
        f = f * 10 + frac.as_bytes().get(i).map_or(0, |b| u16::from(b - b'0'));
    }
    let q = whole + f;
    (q <= 1000).then_some(q)
}

impl Contact {
    /// A contact for `addr` without parameters.
    pub fn new(addr: NameAddr) -> Self {
        Contact {
            addr: Some(addr),
            params: Params::new(),
        }
    }

    /// The `*` contact used to remove all bindings.
    pub fn wildcard() -> Self {
        Contact {
            addr: None,
            params: Params::new(),
        }
    }

    /// True for `*`.
    pub fn is_wildcard(&self) -> bool {
        self.addr.is_none()
    }

    /// `q` in thousandths (1000 = 1.0).
    pub fn q(&self) -> Option<u16> {
        self.params.get("q").flatten().and_then(qvalue)
    }

    /// `expires` in seconds; values past `u32::MAX` are clamped, as RFC 3261
    /// allows huge delta-seconds.
    pub fn expires(&self) -> Option<u32> {
        self.params.get("expires").flatten().map(clamp_delta)
    }

    /// `+sip.instance` without its quotes and angle brackets (RFC 5626).
    pub fn sip_instance(&self) -> Option<String> {
        self.params.get("+sip.instance").flatten().map(|v| {
            unquote(v)
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    }

    /// `reg-id` (RFC 5626).
    pub fn reg_id(&self) -> Option<u32> {
        self.params
            .get("reg-id")
            .flatten()
            .and_then(|v| v.parse().ok())
    }
}

/// Delta-seconds clamped to `u32::MAX` (all-digit input assumed checked).
pub(crate) fn clamp_delta(v: &str) -> u32 {
    parse_u64(v, u64::MAX)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        .unwrap_or(u32::MAX)
}

/// Checks the registration parameters whose values the registrar uses.
fn check_param(name: &str, v: Option<&str>) -> Option<&'static str> {
    if name.eq_ignore_ascii_case("q") {
        v.and_then(qvalue)
            .is_none()
            .then_some("q between 0 and 1 with at most 3 decimals")
    } else if name.eq_ignore_ascii_case("expires") {
        (!v.is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())))
            .then_some("delta-seconds in expires")
    } else if name.eq_ignore_ascii_case("reg-id") {
        v.is_none_or(|v| parse_u64(v, u64::from(u32::MAX)).is_none())
            .then_some("number in reg-id")
    } else {
        None
    }
}

/// The `*` wildcard (with optional parameters), if `value` is one: returns
/// the text after the star and its offset.
fn wildcard(value: &str) -> Option<(&str, usize)> {
    let t = value.trim_start();
    // `*` alone (or with params) is the wildcard; `* <sip:..>` is a display
    // name that happens to be the token "*".
    t.strip_prefix('*')
        .filter(|r| matches!(r.trim_start().bytes().next(), None | Some(b';')))
        .map(|r| (r, value.len() - t.len() + 1))
}

impl TypedHeader for Contact {
    const NAME: HeaderName = HeaderName::Contact;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        if let Some((rest, off)) = wildcard(value) {
            let mut c = crate::scan::Cursor::new(rest);
            let params = Params::parse_header(&mut c)
                .map_err(|e| HeaderError::syntax(NAME, e.at + off, e.what))?;
            c.skip_ws();
            if !c.is_eof() {
                return Err(HeaderError::syntax(NAME, off + c.pos(), "end of value"));
            }
            return Ok(Contact { addr: None, params });
        }
        // Validate first (with parameter checks and error offsets), then build.
        validate_addr_params(value, NAME, check_param)?;
        let (addr, params) = parse_addr_params(value, NAME)?;
        Ok(Contact {
            addr: Some(addr),
            params,
        })
    }

    fn validate(value: &str) -> Result<(), HeaderError> {
        if wildcard(value).is_some() {
            // Rare; the owned parse is fine here.
            return Self::parse(value).map(drop);
        }
        validate_addr_params(value, NAME, check_param)
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            Some(a) => write!(f, "{a}{}", self.params),
            None => write!(f, "*{}", self.params),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    #[test]
    fn registration_params() {
        let c = Contact::parse(
            "<sip:alice@192.0.2.1;transport=tcp>;q=0.7;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1",
        )
        .unwrap();
        assert_eq!(c.q(), Some(700));
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(
            c.sip_instance().as_deref(),
            Some("urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF")
        );
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(Contact::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn wildcard_and_overlarge_expires() {
        let w = Contact::parse(" *").unwrap();
        assert!(w.is_wildcard());
        let named = Contact::parse("* <sip:a@b>").unwrap();
        assert_eq!(named.addr.unwrap().display_name.as_deref(), Some("*"));
        assert_eq!(w.to_string(), "*");
        let c =
            Contact::parse("<sip:user@host129.example.com>\r\n  ;expires=280297596632815").unwrap();
        assert_eq!(c.expires(), Some(u32::MAX));
    }

    #[test]
    fn list_with_quoted_commas() {
        let mut h = Headers::new();
        h.push("m", "\"Quoted, string\" <sip:a@b> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33, <sip:c@d>")
            .unwrap();
        let cs = h.contact().unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].q(), Some(330));
        assert_eq!(cs[0].params.get("newparam"), Some(Some("newvalue")));
        assert!(cs[0].params.contains("secondparam"));
    }

    #[test]
    fn rejects() {
        assert!(Contact::parse("<sip:a@b>;q=1.5").is_err());
        assert!(Contact::parse("<sip:a@b>;expires=-1").is_err());
        assert!(Contact::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
        assert!(Contact::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(Contact::parse("* junk").is_err());
    }
}

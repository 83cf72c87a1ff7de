//! Headers whose value is a single number: Max-Forwards, Content-Length,
//! Expires, Min-Expires, RSeq (RFC 3262), and the RFC 4028 session timer
//! headers Session-Expires and Min-SE, which add parameters.

use std::fmt;

use super::contact::clamp_delta;
use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::{parse_u64, Cursor};

/// Parses `SWS digits SWS` with an upper bound.
fn number(value: &str, header: &'static str, max: u64) -> Result<u64, HeaderError> {
    let mut c = Cursor::new(value);
    c.skip_ws();
    let pos = c.pos();
    let n = c.take_while(|b| b.is_ascii_digit());
    if n.is_empty() {
        return Err(HeaderError::syntax(header, pos, "decimal number"));
    }
    c.skip_ws();
    if !c.is_eof() {
        return Err(HeaderError::syntax(header, c.pos(), "end of value"));
    }
    parse_u64(n, max).ok_or(HeaderError::OutOfRange {
        header,
        offset: pos,
    })
}

/// Parses delta-seconds clamped to `u32::MAX` (RFC 3261 allows any length).
fn delta(value: &str, header: &'static str) -> Result<u32, HeaderError> {
    let t = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::syntax(header, 0, "delta-seconds"));
    }
    Ok(clamp_delta(t))
}

macro_rules! number_header {
    ($(#[$doc:meta])* $ty:ident($int:ty), $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(pub $int);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;

            fn parse(value: &str) -> Result<Self, HeaderError> {
                let f: fn(&str) -> Result<$int, HeaderError> = $parse;
                f(value).map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

number_header!(
    /// Max-Forwards (RFC 3261 §20.22), 0..=255.
    MaxForwards(u8),
    MaxForwards,
    |v| number(v, "Max-Forwards", 255).map(|n| n as u8)
);
number_header!(
    /// Content-Length (RFC 3261 §20.14) in octets.
    ContentLength(u32),
    ContentLength,
    |v| number(v, "Content-Length", u64::from(u32::MAX)).map(|n| n as u32)
);
number_header!(
    /// Expires (RFC 3261 §20.19) in seconds; overlarge values clamp to
    /// `u32::MAX`.
    Expires(u32),
    Expires,
    |v| delta(v, "Expires")
);
number_header!(
    /// Min-Expires (RFC 3261 §20.23) in seconds.
    MinExpires(u32),
    MinExpires,
    |v| delta(v, "Min-Expires")
);
number_header!(
    /// RSeq (RFC 3262 §7.1), 1..2**31-1.
    RSeq(u32),
    RSeq,
    |v| match number(v, "RSeq", (1 << 31) - 1)? {
        0 => Err(HeaderError::OutOfRange { header: "RSeq", offset: 0 }),
        n => Ok(n as u32),
    }
);

/// Who refreshes the session (RFC 4028 `refresher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// `uac`
    Uac,
    /// `uas`
    Uas,
}

/// Parses `delta-seconds *(SEMI param)`.
fn delta_params(value: &str, header: &'static str) -> Result<(u32, Params), HeaderError> {
    let mut c = Cursor::new(value);
    c.skip_ws();
    let pos = c.pos();
    let n = c.take_while(|b| b.is_ascii_digit());
    if n.is_empty() {
        return Err(HeaderError::syntax(header, pos, "delta-seconds"));
    }
    let params = Params::parse_header(&mut c).map_err(HeaderError::scan(header))?;
    c.skip_ws();
    if !c.is_eof() {
        return Err(HeaderError::syntax(header, c.pos(), "';' or end of value"));
    }
    Ok((clamp_delta(n), params))
}

/// Session-Expires (RFC 4028 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionExpires {
    /// Session interval in seconds.
    pub delta: u32,
    /// Parameters, including `refresher`.
    pub params: Params,
}

impl SessionExpires {
    /// The `refresher` parameter.
    pub fn refresher(&self) -> Option<Refresher> {
        match self.params.get("refresher").flatten() {
            Some(r) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(r) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            _ => None,
        }
    }
}

impl TypedHeader for SessionExpires {
    const NAME: HeaderName = HeaderName::SessionExpires;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let (delta, params) = delta_params(value, "Session-Expires")?;
        if let Some(r) = params.get("refresher") {
            if !r.is_some_and(|r| r.eq_ignore_ascii_case("uac") || r.eq_ignore_ascii_case("uas")) {
                return Err(HeaderError::syntax(
                    "Session-Expires",
                    0,
                    "refresher=uac or uas",
                ));
            }
        }
        Ok(SessionExpires { delta, params })
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.delta, self.params)
    }
}

/// Min-SE (RFC 4028 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MinSe {
    /// Minimum session interval in seconds.
    pub delta: u32,
    /// Extension parameters.
    pub params: Params,
}

impl TypedHeader for MinSe {
    const NAME: HeaderName = HeaderName::MinSe;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let (delta, params) = delta_params(value, "Min-SE")?;
        Ok(MinSe { delta, params })
    }
}

impl fmt::Display for MinSe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.delta, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_forwards() {
        assert_eq!(MaxForwards::parse(" 0068 ").unwrap(), MaxForwards(68));
        assert!(matches!(
            MaxForwards::parse("300"),
            Err(HeaderError::OutOfRange {
                header: "Max-Forwards",
                ..
            })
        ));
        assert!(MaxForwards::parse("").is_err());
        assert_eq!(MaxForwards(70).to_string(), "70");
    }

    #[test]
    fn content_length() {
        assert_eq!(ContentLength::parse("150").unwrap(), ContentLength(150));
        assert!(matches!(
            ContentLength::parse("-999"),
            Err(HeaderError::Syntax {
                header: "Content-Length",
                ..
            })
        ));
        assert!(ContentLength::parse("99999999999").is_err());
    }

    #[test]
    fn expires_clamps() {
        assert_eq!(Expires::parse("3600").unwrap(), Expires(3600));
        assert_eq!(
            Expires::parse("10000000000000000000000000000000000000000").unwrap(),
            Expires(u32::MAX)
        );
        assert!(Expires::parse("1h").is_err());
        assert_eq!(MinExpires::parse("60").unwrap().to_string(), "60");
    }

    #[test]
    fn rseq() {
        assert_eq!(RSeq::parse("988789").unwrap(), RSeq(988789));
        assert!(RSeq::parse("0").is_err());
        assert!(RSeq::parse("2147483648").is_err());
    }

    #[test]
    fn session_timer() {
        let s = SessionExpires::parse("4000;refresher=uac").unwrap();
        assert_eq!(s.delta, 4000);
        assert_eq!(s.refresher(), Some(Refresher::Uac));
        assert_eq!(s.to_string(), "4000;refresher=uac");
        assert!(SessionExpires::parse("4000;refresher=me").is_err());
        assert_eq!(MinSe::parse("90").unwrap().delta, 90);
        assert!(MinSe::parse("x").is_err());
    }
}

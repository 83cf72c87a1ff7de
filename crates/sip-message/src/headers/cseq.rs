//! CSeq (RFC 3261 §20.16): sequence number below 2**31 and method.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::method::Method;
use crate::scan::{parse_u64, Cursor};

/// Sequence number and method of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// Sequence number, `< 2**31`.
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Largest allowed sequence number.
    pub const MAX: u32 = (1 << 31) - 1;
}

impl TypedHeader for CSeq {
    const NAME: HeaderName = HeaderName::CSeq;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let npos = c.pos();
        let n = c.take_while(|b| b.is_ascii_digit());
        if n.is_empty() {
            return Err(HeaderError::syntax("CSeq", npos, "sequence number"));
        }
        let seq = parse_u64(n, u64::from(CSeq::MAX))
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(HeaderError::OutOfRange {
                header: "CSeq",
                offset: npos,
            })?;
        if !c.skip_ws() {
            return Err(HeaderError::syntax(
                "CSeq",
                c.pos(),
                "whitespace before method",
            ));
        }
        let mpos = c.pos();
        let m = c.token("method").map_err(HeaderError::scan("CSeq"))?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax("CSeq", c.pos(), "end of value"));
        }
        let method = Method::parse(m).map_err(|_| HeaderError::syntax("CSeq", mpos, "method"))?;
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print() {
        let c = CSeq::parse("0009\r\n  INVITE").unwrap();
        assert_eq!(
            c,
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert_eq!(c.to_string(), "9 INVITE");
        assert_eq!(CSeq::parse("2147483647 ACK").unwrap().seq, CSeq::MAX);
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            CSeq::parse("36893488147419103232 REGISTER"),
            Err(HeaderError::OutOfRange {
                header: "CSeq",
                offset: 0
            })
        ));
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("1 INVITE x").is_err());
    }
}

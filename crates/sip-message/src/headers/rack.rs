//! RAck (RFC 3262 §7.2): `response-num LWS CSeq-num LWS Method`.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::method::Method;
use crate::scan::{parse_u64, Cursor};

/// Acknowledges a reliable provisional response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RAck {
    /// RSeq of the response.
    pub rseq: u32,
    /// CSeq number of the response.
    pub cseq: u32,
    /// CSeq method of the response.
    pub method: Method,
}

impl TypedHeader for RAck {
    const NAME: HeaderName = HeaderName::RAck;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let mut c = Cursor::new(value);
        let num = |c: &mut Cursor<'_>, what: &'static str| {
            c.skip_ws();
            let pos = c.pos();
            let n = c.take_while(|b| b.is_ascii_digit());
            if n.is_empty() {
                return Err(HeaderError::syntax("RAck", pos, what));
            }
            parse_u64(n, (1 << 31) - 1)
                .map(|v| v as u32)
                .ok_or(HeaderError::OutOfRange {
                    header: "RAck",
                    offset: pos,
                })
        };
        let rseq = num(&mut c, "response-num")?;
        let cseq = num(&mut c, "CSeq-num")?;
        if !c.skip_ws() {
            return Err(HeaderError::syntax(
                "RAck",
                c.pos(),
                "whitespace before method",
            ));
        }
        let mpos = c.pos();
        let m = c.token("method").map_err(HeaderError::scan("RAck"))?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax("RAck", c.pos(), "end of value"));
        }
        let method = Method::parse(m).map_err(|_| HeaderError::syntax("RAck", mpos, "method"))?;
        Ok(RAck { rseq, cseq, method })
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack() {
        let r = RAck::parse("776656 1 INVITE").unwrap();
        assert_eq!(
            r,
            RAck {
                rseq: 776656,
                cseq: 1,
                method: Method::Invite
            }
        );
        assert_eq!(r.to_string(), "776656 1 INVITE");
        assert!(RAck::parse("776656 INVITE").is_err());
        assert!(RAck::parse("1 1").is_err());
        assert!(RAck::parse("99999999999 1 INVITE").is_err());
    }
}

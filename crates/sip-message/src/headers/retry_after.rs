//! Retry-After (RFC 3261 §20.33): `delta-seconds [comment] *(;param)`.

use std::fmt;

use super::contact::clamp_delta;
use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::Cursor;

/// When to retry, with optional comment and `duration`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RetryAfter {
    /// Seconds; overlarge values clamp to `u32::MAX`.
    pub delta: u32,
    /// Comment text including its parentheses.
    pub comment: Option<String>,
    /// Parameters such as `duration`.
    pub params: Params,
}

impl TypedHeader for RetryAfter {
    const NAME: HeaderName = HeaderName::RetryAfter;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let h = "Retry-After";
        let mut c = Cursor::new(value);
        c.skip_ws();
        let pos = c.pos();
        let n = c.take_while(|b| b.is_ascii_digit());
        if n.is_empty() {
            return Err(HeaderError::syntax(h, pos, "delta-seconds"));
        }
        c.skip_ws();
        let mut comment = None;
        if c.peek() == Some(b'(') {
            let start = c.pos();
            let mut depth = 0usize;
            let bytes = c.rest().as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 1,
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            if depth != 0 || i >= bytes.len() {
                return Err(HeaderError::syntax(h, start, "')' closing the comment"));
            }
            c.set_pos(start + i + 1);
            comment = value.get(start..start + i + 1).map(str::to_owned);
        }
        let params = Params::parse_header(&mut c).map_err(HeaderError::scan(h))?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax(h, c.pos(), "';' or end of value"));
        }
        Ok(RetryAfter {
            delta: clamp_delta(n),
            comment,
            params,
        })
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.delta)?;
        if let Some(c) = &self.comment {
            write!(f, " {c}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after() {
        let r = RetryAfter::parse("18000;duration=3600").unwrap();
        assert_eq!(r.delta, 18000);
        assert_eq!(r.params.get("duration"), Some(Some("3600")));
        let c = RetryAfter::parse("120 (I'm in a (meeting))").unwrap();
        assert_eq!(c.comment.as_deref(), Some("(I'm in a (meeting))"));
        assert_eq!(RetryAfter::parse(&c.to_string()).unwrap(), c);
        assert_eq!(
            RetryAfter::parse("949302838503028349304023988")
                .unwrap()
                .delta,
            u32::MAX
        );
        assert!(RetryAfter::parse("5 (open").is_err());
        assert!(RetryAfter::parse("soon").is_err());
    }
}

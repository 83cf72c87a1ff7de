//! Shared machinery for headers whose value is a number (Max-Forwards,
//! Content-Length, Expires, Min-Expires, RSeq, Session-Expires, Min-SE);
//! each header has its own file.

use super::contact::clamp_delta;
use super::HeaderError;
use crate::params::Params;
use crate::scan::{parse_u64, Cursor};

/// Parses `SWS digits SWS` with an upper bound.
pub(super) fn number(value: &str, header: &'static str, max: u64) -> Result<u64, HeaderError> {
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
pub(super) fn delta(value: &str, header: &'static str) -> Result<u32, HeaderError> {
    let t = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::syntax(header, 0, "delta-seconds"));
    }
    Ok(clamp_delta(t))
}

/// Defines a header type wrapping one integer.
macro_rules! number_header {
    ($(#[$doc:meta])* $ty:ident($int:ty), $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(pub $int);

        impl $crate::headers::TypedHeader for $ty {
            const NAME: $crate::headers::HeaderName = $crate::headers::HeaderName::$name;

            fn parse(value: &str) -> Result<Self, $crate::headers::HeaderError> {
                let f: fn(&str) -> Result<$int, $crate::headers::HeaderError> = $parse;
                f(value).map($ty)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}
pub(super) use number_header;

/// Parses `delta-seconds *(SEMI param)`.
pub(super) fn delta_params(
    value: &str,
    header: &'static str,
) -> Result<(u32, Params), HeaderError> {
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

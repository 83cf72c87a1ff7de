//! RSeq (RFC 3262 §7.1): the sequence number of a reliable provisional
//! response.

use super::numeric::{number, number_header};
use super::HeaderError;

number_header!(
    /// RSeq, 1..2**31-1.
    RSeq(u32),
    RSeq,
    |v| match number(v, "RSeq", (1 << 31) - 1)? {
        0 => Err(HeaderError::OutOfRange {
            header: "RSeq",
            offset: 0,
        }),
        n => Ok(n as u32),
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn parse_print_range() {
        assert_eq!(RSeq::parse("988789").unwrap(), RSeq(988789));
        assert_eq!(RSeq(1).to_string(), "1");
        assert!(RSeq::parse("0").is_err());
        assert!(RSeq::parse("2147483648").is_err());
    }
}

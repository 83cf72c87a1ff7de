//! Expires (RFC 3261 §20.19).

use super::numeric::{delta, number_header};

number_header!(
    /// Expires in seconds; overlarge values clamp to `u32::MAX` (RFC 3261
    /// puts no limit on delta-seconds, RFC 4475 §3.1.2.4 sends huge ones).
    Expires(u32),
    Expires,
    |v| delta(v, "Expires")
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn parse_print_clamp() {
        assert_eq!(Expires::parse("3600").unwrap(), Expires(3600));
        assert_eq!(Expires(0).to_string(), "0");
        assert_eq!(
            Expires::parse("10000000000000000000000000000000000000000").unwrap(),
            Expires(u32::MAX)
        );
        assert!(Expires::parse("1h").is_err());
        assert!(Expires::parse("").is_err());
    }
}

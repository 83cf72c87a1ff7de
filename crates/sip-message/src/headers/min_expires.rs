//! Min-Expires (RFC 3261 §20.23), sent with 423 Interval Too Brief.

use super::numeric::{delta, number_header};

number_header!(
    /// Min-Expires in seconds.
    MinExpires(u32),
    MinExpires,
    |v| delta(v, "Min-Expires")
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn parse_print() {
        assert_eq!(MinExpires::parse(" 60 ").unwrap(), MinExpires(60));
        assert_eq!(MinExpires(3600).to_string(), "3600");
        assert!(MinExpires::parse("-1").is_err());
    }
}

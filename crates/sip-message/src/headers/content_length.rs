//! Content-Length (RFC 3261 §20.14).

use super::numeric::{number, number_header};

number_header!(
    /// Content-Length in octets.
    ContentLength(u32),
    ContentLength,
    |v| number(v, "Content-Length", u64::from(u32::MAX)).map(|n| n as u32)
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, TypedHeader};

    #[test]
    fn parse_print_and_reject() {
        assert_eq!(ContentLength::parse("150").unwrap(), ContentLength(150));
        assert_eq!(ContentLength(0).to_string(), "0");
        assert!(matches!(
            ContentLength::parse("-999"),
            Err(HeaderError::Syntax {
                header: "Content-Length",
                ..
            })
        ));
        assert!(matches!(
            ContentLength::parse("99999999999"),
            Err(HeaderError::OutOfRange { .. })
        ));
    }
}

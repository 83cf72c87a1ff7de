//! Max-Forwards (RFC 3261 §20.22).

use super::numeric::{number, number_header};

number_header!(
    /// Max-Forwards, 0..=255.
    MaxForwards(u8),
    MaxForwards,
    |v| number(v, "Max-Forwards", 255).map(|n| n as u8)
);

impl MaxForwards {
    /// The value a proxy forwards (one less), or `None` at zero, where
    /// RFC 3261 §16.3 asks for 483 Too Many Hops.
    pub fn decremented(self) -> Option<MaxForwards> {
        self.0.checked_sub(1).map(MaxForwards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, TypedHeader};

    #[test]
    fn parse_print_range() {
        assert_eq!(MaxForwards::parse(" 0068 ").unwrap(), MaxForwards(68));
        assert_eq!(MaxForwards(70).to_string(), "70");
        assert!(matches!(
            MaxForwards::parse("300"),
            Err(HeaderError::OutOfRange {
                header: "Max-Forwards",
                ..
            })
        ));
        assert!(MaxForwards::parse("").is_err());
        assert!(MaxForwards::parse("7 0").is_err());
        assert_eq!(MaxForwards(1).decremented(), Some(MaxForwards(0)));
        assert_eq!(MaxForwards(0).decremented(), None);
    }
}

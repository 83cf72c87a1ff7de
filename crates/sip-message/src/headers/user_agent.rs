//! User-Agent (RFC 3261 §20.41): product tokens and comments, kept as text.

use super::tokens::product_header;

product_header!(
    /// User-Agent text.
    UserAgent,
    UserAgent
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn products_and_comments() {
        let u = UserAgent::parse("SIPimp.org/0.2.5 (curses (nested))").unwrap();
        assert_eq!(u.to_string(), "SIPimp.org/0.2.5 (curses (nested))");
        assert!(UserAgent::parse("x (unclosed").is_err());
        assert!(UserAgent::parse("").is_err());
        assert!(UserAgent::parse("a;b").is_err());
    }
}

//! Server (RFC 3261 §20.35): product tokens and comments, kept as text.

use super::tokens::product_header;

product_header!(
    /// Server text.
    Server,
    Server
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn products_and_comments() {
        let u = Server::parse("SIPimp.org/0.2.5 (curses (nested))").unwrap();
        assert_eq!(u.to_string(), "SIPimp.org/0.2.5 (curses (nested))");
        assert!(Server::parse("x (unclosed").is_err());
        assert!(Server::parse("").is_err());
        assert!(Server::parse("a;b").is_err());
    }
}

//! To (RFC 3261 §20.39): the request's logical recipient, an address plus
//! a `tag`.

use super::addr::{addr_header, tag_accessors};

addr_header!(
    /// The To header: the request's logical recipient.
    To,
    To,
    false
);
tag_accessors!(To);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, TypedHeader};
    use crate::uri::Uri;

    #[test]
    fn addr_spec_params_belong_to_header() {
        let t = To::parse("sip:user@example.com;tag=3xfe").unwrap();
        assert_eq!(t.tag(), Some("3xfe"));
        let Uri::Sip(u) = t.uri() else { panic!() };
        assert!(u.params.is_empty());
        let mut t2 = To::new(t.addr.clone());
        assert_eq!(t2.tag(), None);
        t2.set_tag("abc");
        assert_eq!(t2.to_string(), "<sip:user@example.com>;tag=abc");
        assert_eq!(To::parse(&t2.to_string()).unwrap(), t2);
    }

    #[test]
    fn rejects_unclosed_quote() {
        let e = To::parse("\"Mr. J. User <sip:j.user@example.com>").unwrap_err();
        assert_eq!(e.header(), "To");
        assert!(matches!(
            e,
            HeaderError::Syntax {
                expected: "closing quote",
                ..
            }
        ));
    }
}

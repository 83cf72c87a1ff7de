//! From (RFC 3261 §20.20): the request's logical initiator, an address
//! plus a `tag`.

use super::addr::{addr_header, tag_accessors};

addr_header!(
    /// The From header: the request's logical initiator.
    From,
    From,
    false
);
tag_accessors!(From);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, TypedHeader};

    #[test]
    fn folded_from_with_tag() {
        let f = From::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(f.addr.display_name.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(f.tag(), Some("98asjd8"));
        assert_eq!(From::parse(&f.to_string()).unwrap(), f);
    }

    #[test]
    fn set_tag_prints() {
        let mut f = From::parse("<sip:alice@atlanta.example.com>").unwrap();
        assert_eq!(f.tag(), None);
        f.set_tag("1928301774");
        assert_eq!(
            f.to_string(),
            "<sip:alice@atlanta.example.com>;tag=1928301774"
        );
        assert_eq!(From::parse(&f.to_string()).unwrap(), f);
    }

    #[test]
    fn rejects_unquoted_comma_in_display_name() {
        let e = From::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").unwrap_err();
        assert_eq!(e.header(), "From");
        // Without quotes "Bell, Alexander" is read as an addr-spec whose
        // scheme is missing.
        assert!(
            matches!(
                e,
                HeaderError::Uri {
                    offset: 0,
                    source: crate::uri::UriError::Scheme,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

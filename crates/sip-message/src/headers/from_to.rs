//! From and To (RFC 3261 §20.20, §20.39): an address plus a `tag`.

use super::addr::addr_header;

addr_header!(
    /// The From header: the request's logical initiator.
    From,
    From,
    false
);
addr_header!(
    /// The To header: the request's logical recipient.
    To,
    To,
    false
);

macro_rules! tag_accessors {
    ($ty:ident) => {
        impl $ty {
            /// The `tag` parameter.
            pub fn tag(&self) -> Option<&str> {
                self.params.get("tag").flatten()
            }

            /// Sets the `tag` parameter.
            pub fn set_tag(&mut self, tag: &str) {
                self.params.set("tag", Some(tag));
            }
        }
    };
}
tag_accessors!(From);
tag_accessors!(To);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, TypedHeader};
    use crate::uri::Uri;

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
    fn addr_spec_params_belong_to_header() {
        let t = To::parse("sip:user@example.com;tag=3xfe").unwrap();
        assert_eq!(t.tag(), Some("3xfe"));
        let Uri::Sip(u) = t.uri() else { panic!() };
        assert!(u.params.is_empty());
        let mut t2 = To::new(t.addr.clone());
        assert_eq!(t2.tag(), None);
        t2.set_tag("abc");
        assert_eq!(t2.to_string(), "<sip:user@example.com>;tag=abc");
    }

    #[test]
    fn rejects_bad_display_names() {
        let e = From::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").unwrap_err();
        assert_eq!(e.header(), "From");
        assert!(matches!(
            To::parse("\"Mr. J. User <sip:j.user@example.com>"),
            Err(HeaderError::Syntax {
                expected: "closing quote",
                ..
            })
        ));
    }
}

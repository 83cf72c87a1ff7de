//! P-Asserted-Identity (RFC 3325): a comma list of addresses.

use super::addr::addr_header;

addr_header!(
    /// One asserted identity.
    PAssertedIdentity,
    PAssertedIdentity,
    true
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, Headers, TypedHeader};

    #[test]
    fn sip_and_tel_identities() {
        let mut h = Headers::new();
        h.push(
            "P-Asserted-Identity",
            "\"Cullen Jennings\" <sip:fluffy@cisco.com>, <tel:+14085264000>",
        )
        .unwrap();
        let ids = h.typed_all::<PAssertedIdentity>().unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0].addr.display_name.as_deref(), Some("Cullen Jennings"));
        assert_eq!(ids[1].uri().scheme(), "tel");
    }

    #[test]
    fn prints_and_reparses() {
        for v in [
            "\"Cullen Jennings\" <sip:fluffy@cisco.com>",
            "<tel:+14085264000>",
            "<sips:alice@atlanta.example.com;user=phone>;x=1",
        ] {
            let p = PAssertedIdentity::parse(v).unwrap();
            assert_eq!(p.to_string(), v);
            assert_eq!(PAssertedIdentity::parse(&p.to_string()).unwrap(), p);
        }
        // A bare addr-spec is printed in angle brackets.
        let bare = PAssertedIdentity::parse("sip:fluffy@cisco.com").unwrap();
        assert_eq!(bare.to_string(), "<sip:fluffy@cisco.com>");
    }

    #[test]
    fn rejects() {
        // A tel URI that breaks RFC 3966 is named with its offset in the value.
        assert!(matches!(
            PAssertedIdentity::parse("<tel:+1-408-ABC>"),
            Err(HeaderError::Uri {
                header: "P-Asserted-Identity",
                offset: 1,
                ..
            })
        ));
        let e = PAssertedIdentity::parse("<sip:fluffy@cisco.com> junk").unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::Syntax {
                    header: "P-Asserted-Identity",
                    offset: 23,
                    ..
                }
            ),
            "{e:?}"
        );
        let mut h = Headers::new();
        h.push("P-Asserted-Identity", "<sip:a@b>, \"unterminated <sip:c@d>")
            .unwrap();
        assert_eq!(
            h.typed_all::<PAssertedIdentity>().unwrap_err().header(),
            "P-Asserted-Identity"
        );
    }
}

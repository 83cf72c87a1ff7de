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
    use crate::headers::Headers;

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
}

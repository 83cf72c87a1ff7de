//! Referred-By (RFC 3892 §3): who asked for the REFER.

use super::addr::addr_header;

addr_header!(
    /// Referred-By: who asked for the REFER.
    ReferredBy,
    ReferredBy,
    false
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn with_cid() {
        let b = ReferredBy::parse(
            "<sip:referrer@referrer.example>;cid=\"20398823.2UWQFN309shb3@referrer.example\"",
        )
        .unwrap();
        assert!(b.params.contains("cid"));
        assert_eq!(ReferredBy::parse(&b.to_string()).unwrap(), b);
        assert_eq!(
            ReferredBy::parse("<sip:referrer@referrer.example> junk")
                .unwrap_err()
                .header(),
            "Referred-By"
        );
    }
}

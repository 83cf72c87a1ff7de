//! SIP-If-Match (RFC 3903 §11.3.2): entity tag a PUBLISH refreshes.

use super::tokens::token_header;

token_header!(
    /// SIP-If-Match.
    SipIfMatch,
    SipIfMatch,
    false,
    "entity-tag token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{Headers, TypedHeader};

    #[test]
    fn parse_print() {
        assert_eq!(
            SipIfMatch::parse("dx200xyz").unwrap().to_string(),
            "dx200xyz"
        );
        assert!(SipIfMatch::parse("").is_err());
        let mut h = Headers::new();
        h.push("SIP-If-Match", "a").unwrap();
        h.push("SIP-If-Match", "b").unwrap();
        assert!(h.typed::<SipIfMatch>().is_err(), "single-valued");
    }
}

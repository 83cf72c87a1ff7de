//! SIP-ETag (RFC 3903 §11.3.1): entity tag of a published state.

use super::tokens::token_header;

token_header!(
    /// SIP-ETag.
    SipETag,
    SipETag,
    false,
    "entity-tag token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{Headers, TypedHeader};

    #[test]
    fn parse_print() {
        assert_eq!(SipETag::parse(" dx200xyz ").unwrap().0, "dx200xyz");
        assert_eq!(SipETag("kwj449x".into()).to_string(), "kwj449x");
        assert!(SipETag::parse("a,b").is_err());
        let mut h = Headers::new();
        h.push("SIP-ETag", "abc").unwrap();
        assert_eq!(h.typed::<SipETag>().unwrap(), Some(SipETag("abc".into())));
    }
}

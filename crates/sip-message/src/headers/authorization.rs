//! Authorization (RFC 3261 §20.7): credentials for a UAS or registrar.

use super::auth::{auth_header, Credentials};

auth_header!(
    /// Authorization.
    Authorization(Credentials),
    Authorization,
    "Authorization"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn credentials() {
        let a = Authorization::parse("Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"n\", uri=\"sip:biloxi.com\", response=\"0123\"").unwrap();
        assert_eq!(a.0.username().as_deref(), Some("bob"));
        assert_eq!(a.0.uri().as_deref(), Some("sip:biloxi.com"));
        assert_eq!(Authorization::parse(&a.to_string()).unwrap(), a);
        assert!(Authorization::parse("").is_err());
    }
}

//! WWW-Authenticate (RFC 3261 §20.44): the challenge in a 401.

use super::auth::{auth_header, Challenge};

auth_header!(
    /// WWW-Authenticate.
    WwwAuthenticate(Challenge),
    WwwAuthenticate,
    "WWW-Authenticate"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn challenge() {
        let w = WwwAuthenticate::parse("Digest realm=\"biloxi.com\", nonce=\"abc\", qop=\"auth\"")
            .unwrap();
        assert_eq!(w.0.realm().as_deref(), Some("biloxi.com"));
        assert_eq!(
            w.to_string(),
            "Digest realm=\"biloxi.com\", nonce=\"abc\", qop=\"auth\""
        );
        assert!(WwwAuthenticate::parse("Digest realm=\"x").is_err());
    }
}

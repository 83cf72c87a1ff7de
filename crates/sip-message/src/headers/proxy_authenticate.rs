//! Proxy-Authenticate (RFC 3261 §20.27): the challenge in a 407.

use super::auth::{auth_header, Challenge};

auth_header!(
    /// Proxy-Authenticate.
    ProxyAuthenticate(Challenge),
    ProxyAuthenticate,
    "Proxy-Authenticate"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn challenge() {
        let p = ProxyAuthenticate::parse(
            "Digest realm=\"atlanta.com\", nonce=\"n\", stale=TRUE, algorithm=SHA-256",
        )
        .unwrap();
        assert!(p.0.stale());
        assert_eq!(p.0.algorithm().as_deref(), Some("SHA-256"));
        assert_eq!(ProxyAuthenticate::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "Digest realm=\"atlanta.com\" nonce=\"n\"",
            "Digest realm=\"unterminated",
            "Digest =x",
            "Digest realm=\"a\",, ,",
        ] {
            let r = ProxyAuthenticate::parse(bad);
            match r {
                Err(e) => {
                    assert_eq!(e.header(), "Proxy-Authenticate", "{bad:?}");
                    assert!(e.to_string().contains("offset"), "{bad:?}: {e}");
                }
                Ok(v) => panic!("{bad:?} accepted as {v:?}"),
            }
        }
    }
}

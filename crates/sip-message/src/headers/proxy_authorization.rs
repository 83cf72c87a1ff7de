//! Proxy-Authorization (RFC 3261 §20.28): credentials for a proxy.

use super::auth::{auth_header, Credentials};

auth_header!(
    /// Proxy-Authorization.
    ProxyAuthorization(Credentials),
    ProxyAuthorization,
    "Proxy-Authorization"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn credentials() {
        let a = ProxyAuthorization::parse(
            "Digest username=\"alice\", realm=\"atlanta.com\", nc=0000000a, qop=auth",
        )
        .unwrap();
        assert_eq!(a.0.nc(), Some(10));
        assert_eq!(a.0.qop().as_deref(), Some("auth"));
        assert!(ProxyAuthorization::parse("Digest a=b c").is_err());
    }

    #[test]
    fn prints_and_reparses() {
        let text = "Digest username=\"alice\", realm=\"atlanta.com\", \
                    nonce=\"84a4cc6f3082121f32b42a2187831a9e\", uri=\"sip:bob@biloxi.com\", \
                    response=\"7587245234b3434cc3412213e5f113a5\", algorithm=MD5, \
                    cnonce=\"0a4f113b\", qop=auth, nc=00000001";
        let a = ProxyAuthorization::parse(text).unwrap();
        let printed = a.to_string();
        assert_eq!(ProxyAuthorization::parse(&printed).unwrap(), a);
        assert!(
            printed.starts_with("Digest username=\"alice\""),
            "{printed}"
        );
        assert_eq!(a.0.username().as_deref(), Some("alice"));
        assert_eq!(a.0.uri().as_deref(), Some("sip:bob@biloxi.com"));
        assert_eq!(a.0.nc(), Some(1));
        // Credentials built in code print to something that parses back.
        let mut c = Credentials::new("Digest");
        c.set_quoted("username", "bob \"the\" builder");
        c.set_token("nc", "00000002");
        let b = ProxyAuthorization(c);
        let again = ProxyAuthorization::parse(&b.to_string()).unwrap();
        assert_eq!(again, b);
        assert_eq!(again.0.username().as_deref(), Some("bob \"the\" builder"));
    }
}

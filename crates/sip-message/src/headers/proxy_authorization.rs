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
}

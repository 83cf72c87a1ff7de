//! Proxy-Require (RFC 3261 §20.29): option tags proxies must support.

use super::tokens::token_header;

token_header!(
    /// One option tag of Proxy-Require.
    ProxyRequire,
    ProxyRequire,
    true,
    "option-tag token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, Headers, TypedHeader};

    #[test]
    fn list() {
        let mut h = Headers::new();
        h.push(
            "Proxy-Require",
            "noProxiesSupportThis, norDoAnyProxiesSupportThis",
        )
        .unwrap();
        assert_eq!(h.typed_all::<ProxyRequire>().unwrap().len(), 2);
        assert_eq!(
            ProxyRequire::parse(" sec-agree ").unwrap().to_string(),
            "sec-agree"
        );
    }

    #[test]
    fn rejects() {
        // The offset points at the first character that is not a token.
        assert_eq!(
            ProxyRequire::parse(" sec agree"),
            Err(HeaderError::Syntax {
                header: "Proxy-Require",
                offset: 4,
                expected: "option-tag token",
            })
        );
        assert_eq!(
            ProxyRequire::parse("foo/bar"),
            Err(HeaderError::Syntax {
                header: "Proxy-Require",
                offset: 3,
                expected: "option-tag token",
            })
        );
        let mut h = Headers::new();
        h.push("Proxy-Require", "100rel, x@y").unwrap();
        assert_eq!(
            h.typed_all::<ProxyRequire>().unwrap_err().header(),
            "Proxy-Require"
        );
    }
}

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
    use crate::headers::{Headers, TypedHeader};

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
}

//! Allow (RFC 3261 §20.5): the methods a UA supports.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::method::Method;

/// One method of Allow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Allow(pub Method);

impl TypedHeader for Allow {
    const NAME: HeaderName = HeaderName::Allow;
    const LIST: bool = true;
    const EMPTY_OK: bool = true;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        Method::parse(value.trim())
            .map(Allow)
            .map_err(|_| HeaderError::syntax("Allow", 0, "method token"))
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    #[test]
    fn methods() {
        let mut h = Headers::new();
        h.push("Allow", "INVITE, ACK, OPTIONS, CANCEL, BYE, NEWMETHOD")
            .unwrap();
        let a = h.typed_all::<Allow>().unwrap();
        assert_eq!(a[0].0, Method::Invite);
        assert_eq!(a[5].0, Method::Other("NEWMETHOD".into()));
        assert_eq!(a[1].to_string(), "ACK");
        assert!(Allow::parse("IN VITE").is_err());
    }
}

//! Accept (RFC 3261 §20.1): media ranges the UA accepts in bodies.

use std::fmt;

use super::content_type::MediaType;
use super::{HeaderError, HeaderName, TypedHeader};

/// One media range of Accept (`q` and other parameters in `params`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Accept(pub MediaType);

impl TypedHeader for Accept {
    const NAME: HeaderName = HeaderName::Accept;
    const LIST: bool = true;
    const EMPTY_OK: bool = true;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        MediaType::parse_in(value, "Accept").map(Accept)
    }
}

impl fmt::Display for Accept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    #[test]
    fn folded_list_with_params() {
        let mut h = Headers::new();
        h.push(
            "Accept",
            "application/sdp, application/pkcs7-mime,\r\n        multipart/mixed;q=0.5",
        )
        .unwrap();
        let a = h.typed_all::<Accept>().unwrap();
        assert_eq!(a.len(), 3);
        assert!(a[2].0.is("multipart", "mixed"));
        assert_eq!(a[2].to_string(), "multipart/mixed;q=0.5");
        assert!(Accept::parse("text").is_err());
    }
}

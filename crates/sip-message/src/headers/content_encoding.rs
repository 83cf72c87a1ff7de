//! Content-Encoding (RFC 3261 §20.12), compact form `e`.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};

/// One Content-Encoding coding (a comma list header).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentEncoding(pub String);

impl TypedHeader for ContentEncoding {
    const NAME: HeaderName = HeaderName::ContentEncoding;
    const LIST: bool = true;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        if crate::scan::is_token_str(value) {
            Ok(ContentEncoding(value.to_owned()))
        } else {
            Err(HeaderError::syntax(
                "Content-Encoding",
                0,
                "content-coding token",
            ))
        }
    }
}

impl fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    #[test]
    fn list() {
        let mut h = Headers::new();
        h.push("e", "gzip, tar").unwrap();
        let e = h.typed_all::<ContentEncoding>().unwrap();
        assert_eq!(
            e,
            vec![
                ContentEncoding("gzip".into()),
                ContentEncoding("tar".into())
            ]
        );
        assert_eq!(e[0].to_string(), "gzip");
        assert!(ContentEncoding::parse("g zip").is_err());
    }
}

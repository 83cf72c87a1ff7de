//! Content-Disposition (RFC 3261 §20.11).

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::Cursor;

/// Content-Disposition, e.g. `session;handling=required`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentDisposition {
    /// Disposition type (`session`, `render`, `icon`, `alert`, ...).
    pub disposition: String,
    /// Parameters such as `handling`.
    pub params: Params,
}

impl TypedHeader for ContentDisposition {
    const NAME: HeaderName = HeaderName::ContentDisposition;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let scan = HeaderError::scan("Content-Disposition");
        let mut c = Cursor::new(value);
        c.skip_ws();
        let d = c.token("disposition type").map_err(&scan)?;
        let params = Params::parse_header(&mut c).map_err(&scan)?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax(
                "Content-Disposition",
                c.pos(),
                "';' or end of value",
            ));
        }
        Ok(ContentDisposition {
            disposition: d.to_owned(),
            params,
        })
    }
}

impl fmt::Display for ContentDisposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.disposition, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition() {
        let d = ContentDisposition::parse("session;handling=required").unwrap();
        assert_eq!(d.disposition, "session");
        assert_eq!(d.params.get("handling"), Some(Some("required")));
        assert_eq!(d.to_string(), "session;handling=required");
        assert!(ContentDisposition::parse("").is_err());
        assert!(ContentDisposition::parse("render x").is_err());
    }
}

//! Replaces (RFC 3891): `callid ;to-tag= ;from-tag= [;early-only]`.

use std::fmt;

use super::{CallId, HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::{is_word, Cursor};

/// Identifies the dialog to replace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Replaces {
    /// Call-ID of the dialog.
    pub call_id: CallId,
    /// Parameters (`to-tag`, `from-tag`, `early-only`).
    pub params: Params,
}

impl Replaces {
    /// `to-tag`.
    pub fn to_tag(&self) -> Option<&str> {
        self.params.get("to-tag").flatten()
    }
    /// `from-tag`.
    pub fn from_tag(&self) -> Option<&str> {
        self.params.get("from-tag").flatten()
    }
    /// `early-only` flag.
    pub fn early_only(&self) -> bool {
        self.params.contains("early-only")
    }
}

impl TypedHeader for Replaces {
    const NAME: HeaderName = HeaderName::Replaces;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let id = c.take_while(|b| is_word(b) || b == b'@');
        let call_id =
            CallId::parse(id).map_err(|_| HeaderError::syntax("Replaces", 0, "call-id"))?;
        let params = Params::parse_header(&mut c).map_err(HeaderError::scan("Replaces"))?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax(
                "Replaces",
                c.pos(),
                "';' or end of value",
            ));
        }
        if !params.contains("to-tag") || !params.contains("from-tag") {
            return Err(HeaderError::syntax(
                "Replaces",
                0,
                "to-tag and from-tag parameters",
            ));
        }
        Ok(Replaces { call_id, params })
    }
}

impl fmt::Display for Replaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.call_id, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces() {
        let r = Replaces::parse("425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only")
            .unwrap();
        assert_eq!(r.call_id.as_str(), "425928@bobster.example.org");
        assert_eq!(r.to_tag(), Some("7743"));
        assert_eq!(r.from_tag(), Some("6472"));
        assert!(r.early_only());
        assert_eq!(Replaces::parse(&r.to_string()).unwrap(), r);
        assert!(Replaces::parse("abc;to-tag=1").is_err());
    }
}

//! Content-Type (RFC 3261 §20.15). [`MediaType`] is shared with Accept.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::{unquote, Cursor};

/// `type/subtype;params`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaType {
    /// Top-level type, e.g. `application`.
    pub mtype: String,
    /// Subtype, e.g. `sdp`.
    pub subtype: String,
    /// Parameters such as `boundary` or `charset`.
    pub params: Params,
}

impl MediaType {
    /// `type/subtype` without parameters.
    pub fn new(mtype: &str, subtype: &str) -> Self {
        MediaType {
            mtype: mtype.to_owned(),
            subtype: subtype.to_owned(),
            params: Params::new(),
        }
    }

    /// Case-insensitive check of type and subtype.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// A parameter without quotes (e.g. `boundary`).
    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .get(name)
            .flatten()
            .map(|v| unquote(v).into_owned())
    }

    pub(crate) fn parse_in(value: &str, header: &'static str) -> Result<Self, HeaderError> {
        let scan = HeaderError::scan(header);
        let mut c = Cursor::new(value);
        c.skip_ws();
        let mtype = c.token("media type").map_err(&scan)?;
        c.expect_sep(b'/', "'/' in media type").map_err(&scan)?;
        let subtype = c.token("media subtype").map_err(&scan)?;
        let params = Params::parse_header(&mut c).map_err(&scan)?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax(header, c.pos(), "';' or end of value"));
        }
        Ok(MediaType {
            mtype: mtype.to_owned(),
            subtype: subtype.to_owned(),
            params,
        })
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.mtype, self.subtype, self.params)
    }
}

/// Content-Type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType(pub MediaType);

impl TypedHeader for ContentType {
    const NAME: HeaderName = HeaderName::ContentType;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        MediaType::parse_in(value, "Content-Type").map(ContentType)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type() {
        let t = ContentType::parse("multipart/mixed;boundary=\"unique-boundary-1\"").unwrap();
        assert!(t.0.is("Multipart", "MIXED"));
        assert_eq!(t.0.param("boundary").as_deref(), Some("unique-boundary-1"));
        assert_eq!(ContentType::parse(&t.to_string()).unwrap(), t);
        assert_eq!(
            ContentType(MediaType::new("application", "sdp")).to_string(),
            "application/sdp"
        );
        assert!(ContentType::parse("application").is_err());
        assert!(ContentType::parse("application/sdp x").is_err());
    }
}

//! Reason (RFC 3326): `protocol ;cause=N ;text="..."`, a comma list.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::{unquote, Cursor};

/// One Reason value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason {
    /// Protocol, e.g. `SIP` or `Q.850`.
    pub protocol: String,
    /// Parameters (`cause`, `text`, extensions).
    pub params: Params,
}

impl Reason {
    /// `cause`.
    pub fn cause(&self) -> Option<u16> {
        self.params
            .get("cause")
            .flatten()
            .and_then(|v| v.parse().ok())
    }
    /// `text` without quotes.
    pub fn text(&self) -> Option<String> {
        self.params
            .get("text")
            .flatten()
            .map(|v| unquote(v).into_owned())
    }
}

impl TypedHeader for Reason {
    const NAME: HeaderName = HeaderName::Reason;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let scan = HeaderError::scan("Reason");
        let mut c = Cursor::new(value);
        c.skip_ws();
        let protocol = c.token("protocol").map_err(&scan)?.to_owned();
        let ppos = c.pos();
        let params = Params::parse_header(&mut c).map_err(&scan)?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax(
                "Reason",
                c.pos(),
                "';' or end of value",
            ));
        }
        if let Some(v) = params.get("cause") {
            if v.is_none_or(|v| v.parse::<u16>().is_err()) {
                return Err(HeaderError::syntax("Reason", ppos, "numeric cause"));
            }
        }
        Ok(Reason { protocol, params })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.protocol, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    #[test]
    fn reasons() {
        let mut h = Headers::new();
        h.push(
            "Reason",
            "SIP ;cause=200 ;text=\"Call completed elsewhere\", Q.850;cause=16",
        )
        .unwrap();
        let r = h.typed_all::<Reason>().unwrap();
        assert_eq!(r[0].cause(), Some(200));
        assert_eq!(r[0].text().as_deref(), Some("Call completed elsewhere"));
        assert_eq!(r[1].protocol, "Q.850");
        assert_eq!(r[1].to_string(), "Q.850;cause=16");
        assert!(Reason::parse("SIP;cause=abc").is_err());
    }
}

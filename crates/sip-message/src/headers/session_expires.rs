//! Session-Expires (RFC 4028 §4).

use std::fmt;

use super::numeric::delta_params;
use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;

/// Who refreshes the session (RFC 4028 `refresher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// `uac`
    Uac,
    /// `uas`
    Uas,
}

/// Session-Expires (RFC 4028 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionExpires {
    /// Session interval in seconds.
    pub delta: u32,
    /// Parameters, including `refresher`.
    pub params: Params,
}

impl SessionExpires {
    /// The `refresher` parameter.
    pub fn refresher(&self) -> Option<Refresher> {
        match self.params.get("refresher").flatten() {
            Some(r) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(r) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            _ => None,
        }
    }
}

impl TypedHeader for SessionExpires {
    const NAME: HeaderName = HeaderName::SessionExpires;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let (delta, params) = delta_params(value, "Session-Expires")?;
        if let Some(r) = params.get("refresher") {
            if !r.is_some_and(|r| r.eq_ignore_ascii_case("uac") || r.eq_ignore_ascii_case("uas")) {
                return Err(HeaderError::syntax(
                    "Session-Expires",
                    0,
                    "refresher=uac or uas",
                ));
            }
        }
        Ok(SessionExpires { delta, params })
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.delta, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print_refresher() {
        let s = SessionExpires::parse("4000;refresher=uac").unwrap();
        assert_eq!(s.delta, 4000);
        assert_eq!(s.refresher(), Some(Refresher::Uac));
        assert_eq!(s.to_string(), "4000;refresher=uac");
        assert_eq!(SessionExpires::parse("1800").unwrap().refresher(), None);
        assert!(SessionExpires::parse("4000;refresher=me").is_err());
        assert!(SessionExpires::parse("soon").is_err());
    }
}

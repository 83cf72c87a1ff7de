//! Authentication-Info (RFC 3261 §20.6, RFC 7616 §3.5).

use std::fmt;

use super::auth::{auth_params, write_params};
use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::{unquote, Cursor};

/// Authentication-Info: `nextnonce`, `qop`, `rspauth`, `cnonce`, `nc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthenticationInfo(pub Params);

impl AuthenticationInfo {
    /// A parameter with quoting removed.
    pub fn param(&self, name: &str) -> Option<String> {
        self.0.get(name).flatten().map(|v| unquote(v).into_owned())
    }
}

impl TypedHeader for AuthenticationInfo {
    const NAME: HeaderName = HeaderName::AuthenticationInfo;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let mut c = Cursor::new(value);
        let p = auth_params(&mut c, "Authentication-Info")?;
        if p.is_empty() || p.iter().any(|p| p.value.is_none()) {
            return Err(HeaderError::syntax(
                "Authentication-Info",
                0,
                "name=value pairs",
            ));
        }
        Ok(AuthenticationInfo(p))
    }
}

impl fmt::Display for AuthenticationInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_params(f, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print() {
        let i = AuthenticationInfo::parse("nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth")
            .unwrap();
        assert_eq!(
            i.param("nextnonce").as_deref(),
            Some("47364c23432d2e131a5fb210812c")
        );
        assert_eq!(
            i.to_string(),
            "nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth"
        );
        assert!(AuthenticationInfo::parse("").is_err());
        assert!(AuthenticationInfo::parse("flag").is_err());
    }
}

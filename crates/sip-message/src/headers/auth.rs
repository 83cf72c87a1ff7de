//! Digest challenge and credential values shared by WWW-Authenticate,
//! Proxy-Authenticate, Authorization and Proxy-Authorization (RFC 3261
//! §20.5-§20.44, RFC 7616 syntax); each header has its own file.

use std::fmt;

use super::HeaderError;
use crate::params::{Param, Params};
use crate::scan::{quote, unquote, Cursor};

/// Parses `#auth-param` (comma separated `name=value`, values raw); a bare
/// word without `=` is kept as a flag so token68 credentials survive.
pub(super) fn auth_params(c: &mut Cursor<'_>, header: &'static str) -> Result<Params, HeaderError> {
    let scan = HeaderError::scan(header);
    let mut out = Vec::new();
    c.skip_ws();
    if c.is_eof() {
        return Ok(Params(out));
    }
    loop {
        c.skip_ws();
        let name = c.take_while(|b| crate::scan::is_token(b) || b == b'/');
        if name.is_empty() {
            return Err(HeaderError::syntax(header, c.pos(), "auth-param name"));
        }
        let rest = c.rest().trim_end();
        if !rest.is_empty() && rest.bytes().all(|b| b == b'=') && out.is_empty() {
            // token68 with '=' padding, e.g. `Bearer mF_9.B5f-4.1JqM==`.
            out.push(Param {
                name: format!("{name}{rest}"),
                value: None,
            });
            break;
        }
        let value = if c.eat_sep(b'=') {
            Some(c.param_value().map_err(&scan)?.to_owned())
        } else {
            None
        };
        out.push(Param {
            name: name.to_owned(),
            value,
        });
        if c.eat_sep(b',') {
            continue;
        }
        c.skip_ws();
        if c.is_eof() {
            break;
        }
        return Err(HeaderError::syntax(
            header,
            c.pos(),
            "',' between auth-params",
        ));
    }
    Ok(Params(out))
}

pub(super) fn scheme_and_params(
    value: &str,
    header: &'static str,
) -> Result<(String, Params), HeaderError> {
    let mut c = Cursor::new(value);
    c.skip_ws();
    let scheme = c
        .token("auth scheme")
        .map_err(HeaderError::scan(header))?
        .to_owned();
    if !c.is_eof() && !c.skip_ws() {
        return Err(HeaderError::syntax(
            header,
            c.pos(),
            "whitespace after auth scheme",
        ));
    }
    let params = auth_params(&mut c, header)?;
    Ok((scheme, params))
}

pub(super) fn write_params(f: &mut fmt::Formatter<'_>, params: &Params) -> fmt::Result {
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(&p.name)?;
        if let Some(v) = &p.value {
            write!(f, "={v}")?;
        }
    }
    Ok(())
}

macro_rules! auth_struct {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty {
            /// Scheme, e.g. `Digest`.
            pub scheme: String,
            /// Parameters, values raw (quoted strings keep their quotes).
            pub params: Params,
        }

        impl $ty {
            /// New value with the given scheme and no parameters.
            pub fn new(scheme: &str) -> Self {
                $ty { scheme: scheme.to_owned(), params: Params::new() }
            }

            /// True for the Digest scheme.
            pub fn is_digest(&self) -> bool {
                self.scheme.eq_ignore_ascii_case("Digest")
            }

            /// A parameter with quoting removed.
            pub fn param(&self, name: &str) -> Option<String> {
                self.params.get(name).flatten().map(|v| unquote(v).into_owned())
            }

            /// Sets a parameter as a quoted string.
            pub fn set_quoted(&mut self, name: &str, value: &str) {
                self.params.set(name, Some(&quote(value)));
            }

            /// Sets a parameter as a bare token (e.g. `algorithm`, `nc`).
            pub fn set_token(&mut self, name: &str, value: &str) {
                self.params.set(name, Some(value));
            }

            /// `realm`.
            pub fn realm(&self) -> Option<String> {
                self.param("realm")
            }
            /// `nonce`.
            pub fn nonce(&self) -> Option<String> {
                self.param("nonce")
            }
            /// `opaque`.
            pub fn opaque(&self) -> Option<String> {
                self.param("opaque")
            }
            /// `algorithm`.
            pub fn algorithm(&self) -> Option<String> {
                self.param("algorithm")
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.scheme)?;
                if !self.params.is_empty() {
                    f.write_str(" ")?;
                }
                write_params(f, &self.params)
            }
        }
    };
}

auth_struct!(
    /// A challenge (the value of WWW-/Proxy-Authenticate).
    Challenge
);
auth_struct!(
    /// Credentials (the value of Authorization / Proxy-Authorization).
    Credentials
);

impl Challenge {
    /// The `qop` options offered (`auth`, `auth-int`).
    pub fn qop_options(&self) -> Vec<String> {
        self.param("qop")
            .map(|q| {
                q.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
    /// `stale=true`.
    pub fn stale(&self) -> bool {
        self.param("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
    }
}

impl Credentials {
    /// `username`.
    pub fn username(&self) -> Option<String> {
        self.param("username")
    }
    /// `uri` (digest-uri).
    pub fn uri(&self) -> Option<String> {
        self.param("uri")
    }
    /// `response`.
    pub fn response(&self) -> Option<String> {
        self.param("response")
    }
    /// `cnonce`.
    pub fn cnonce(&self) -> Option<String> {
        self.param("cnonce")
    }
    /// `nc` (nonce-count, 8 hex digits).
    pub fn nc(&self) -> Option<u32> {
        self.param("nc")
            .and_then(|n| u32::from_str_radix(&n, 16).ok())
    }
    /// `qop`.
    pub fn qop(&self) -> Option<String> {
        self.param("qop")
    }
}

/// Defines a header type wrapping a challenge or credentials.
macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident($inner:ident), $name:ident, $text:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub $inner);

        impl $crate::headers::TypedHeader for $ty {
            const NAME: $crate::headers::HeaderName = $crate::headers::HeaderName::$name;
            fn parse(value: &str) -> Result<Self, $crate::headers::HeaderError> {
                let (scheme, params) = $crate::headers::auth::scheme_and_params(value, $text)?;
                Ok($ty($crate::headers::auth::$inner { scheme, params }))
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
pub(super) use auth_header;

#[cfg(test)]
mod tests {
    use crate::headers::{AuthenticationInfo, Authorization, TypedHeader, WwwAuthenticate};

    #[test]
    fn challenge() {
        let w = WwwAuthenticate::parse(
            "Digest realm=\"atlanta.com\",\r\n domain=\"sip:boxesbybob.com\", qop=\"auth,auth-int\",\r\n nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=FALSE, algorithm=MD5",
        )
        .unwrap();
        assert!(w.0.is_digest());
        assert_eq!(w.0.realm().as_deref(), Some("atlanta.com"));
        assert_eq!(w.0.qop_options(), vec!["auth", "auth-int"]);
        assert!(!w.0.stale());
        assert_eq!(w.0.opaque().as_deref(), Some(""));
        assert_eq!(WwwAuthenticate::parse(&w.to_string()).unwrap(), w);
    }

    #[test]
    fn credentials() {
        let a = Authorization::parse(
            "Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"dcd98b\", uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\"",
        )
        .unwrap();
        assert_eq!(a.0.username().as_deref(), Some("bob"));
        assert_eq!(a.0.nc(), Some(1));
        assert_eq!(a.0.qop().as_deref(), Some("auth"));
        let unknown = Authorization::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(unknown.0.scheme, "NoOneKnowsThisScheme");
        assert!(!unknown.0.is_digest());
        let bearer = Authorization::parse("Bearer mF_9.B5f-4.1JqM==").unwrap();
        assert_eq!(bearer.0.params.len(), 1);
    }

    #[test]
    fn rejects_and_info() {
        assert!(Authorization::parse("Digest username=\"open").is_err());
        assert!(Authorization::parse("Digest realm=x, =y").is_err());
        assert!(Authorization::parse("Digest a=\"b\" c=d").is_err());
        assert!(Authorization::parse("").is_err());
        let i = AuthenticationInfo::parse("nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth")
            .unwrap();
        assert_eq!(
            i.param("nextnonce").as_deref(),
            Some("47364c23432d2e131a5fb210812c")
        );
        assert!(AuthenticationInfo::parse("").is_err());
    }
}

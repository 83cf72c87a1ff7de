//! Headers whose values are single tokens or media ranges: option tags
//! (Supported, Require, Unsupported, Proxy-Require; RFC 3261 §20), Allow,
//! Allow-Events (RFC 6665), Accept, SIP-ETag / SIP-If-Match (RFC 3903), and
//! the free-text User-Agent / Server.

use std::fmt;

use super::content::MediaType;
use super::{HeaderError, HeaderName, TypedHeader};
use crate::method::Method;
use crate::scan::is_token_str;

macro_rules! token_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, $list:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub String);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = $list;
            const EMPTY_OK: bool = $list;

            fn parse(value: &str) -> Result<Self, HeaderError> {
                let v = value.trim_matches(|c: char| c.is_ascii_whitespace());
                if is_token_str(v) {
                    Ok($ty(v.to_owned()))
                } else {
                    Err(HeaderError::syntax(HeaderName::$name.as_str(), 0, $what))
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_header!(
    /// One option tag of Supported.
    Supported, Supported, true, "option-tag token"
);
token_header!(
    /// One option tag of Require.
    Require, Require, true, "option-tag token"
);
token_header!(
    /// One option tag of Unsupported.
    Unsupported, Unsupported, true, "option-tag token"
);
token_header!(
    /// One option tag of Proxy-Require.
    ProxyRequire, ProxyRequire, true, "option-tag token"
);
token_header!(
    /// One event package of Allow-Events.
    AllowEvents, AllowEvents, true, "event-type token"
);
token_header!(
    /// SIP-ETag (RFC 3903).
    SipETag, SipETag, false, "entity-tag token"
);
token_header!(
    /// SIP-If-Match (RFC 3903).
    SipIfMatch, SipIfMatch, false, "entity-tag token"
);

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

/// Checks `server-val`s: product tokens (`name[/version]`) and comments.
fn product_text(value: &str, header: &'static str) -> Result<String, HeaderError> {
    let v = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if v.is_empty() {
        return Err(HeaderError::syntax(header, 0, "product or comment"));
    }
    let b = v.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    while i < b.len() {
        let c = b[i];
        if depth > 0 {
            match c {
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
        } else if c == b'(' {
            depth = 1;
        } else if !(crate::scan::is_token(c) || c == b'/' || crate::scan::is_ws(c)) {
            return Err(HeaderError::syntax(header, i, "product token or comment"));
        }
        i += 1;
    }
    if depth > 0 {
        return Err(HeaderError::syntax(
            header,
            b.len(),
            "')' closing the comment",
        ));
    }
    Ok(v.to_owned())
}

macro_rules! product_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub String);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            fn parse(value: &str) -> Result<Self, HeaderError> {
                product_text(value, HeaderName::$name.as_str()).map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

product_header!(
    /// User-Agent: products and comments, kept as text.
    UserAgent,
    UserAgent
);
product_header!(
    /// Server: products and comments, kept as text.
    Server,
    Server
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    #[test]
    fn option_tags_and_allow() {
        let mut h = Headers::new();
        h.push("Require", "nothingSupportsThis, nothingSupportsThisEither")
            .unwrap();
        h.push("k", "").unwrap();
        h.push("Allow", "INVITE, ACK, OPTIONS, CANCEL, BYE, NEWMETHOD")
            .unwrap();
        let r = h.typed_all::<Require>().unwrap();
        assert_eq!(r[1].0, "nothingSupportsThisEither");
        assert!(h.typed_all::<Supported>().unwrap().is_empty());
        let a = h.typed_all::<Allow>().unwrap();
        assert_eq!(a[0].0, Method::Invite);
        assert_eq!(a[5].0, Method::Other("NEWMETHOD".into()));
        assert!(Require::parse("a b").is_err());
    }

    #[test]
    fn accept_list() {
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
    }

    #[test]
    fn products() {
        let u = UserAgent::parse("SIPimp.org/0.2.5 (curses)").unwrap();
        assert_eq!(u.to_string(), "SIPimp.org/0.2.5 (curses)");
        assert!(Server::parse("x (unclosed").is_err());
        assert!(Server::parse("").is_err());
        assert_eq!(SipETag::parse(" dx200xyz ").unwrap().0, "dx200xyz");
        assert!(SipIfMatch::parse("a,b").is_err());
    }
}

//! Shared machinery for headers whose value is a single token (option
//! tags, event packages, entity tags) or product text (User-Agent,
//! Server); each header has its own file.

use super::HeaderError;

/// Defines a header type holding one token.
macro_rules! token_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, $list:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub String);

        impl $crate::headers::TypedHeader for $ty {
            const NAME: $crate::headers::HeaderName = $crate::headers::HeaderName::$name;
            const LIST: bool = $list;
            const EMPTY_OK: bool = $list;

            fn parse(value: &str) -> Result<Self, $crate::headers::HeaderError> {
                let v = value.trim_matches(|c: char| c.is_ascii_whitespace());
                if $crate::scan::is_token_str(v) {
                    Ok($ty(v.to_owned()))
                } else {
                    // Point at the first offending byte (or the end when
                    // the value is empty), counting leading whitespace.
                    let lead = value.len() - value.trim_start().len();
                    let bad = v
                        .bytes()
                        .position(|b| !$crate::scan::is_token(b))
                        .unwrap_or(v.len());
                    Err($crate::headers::HeaderError::syntax(
                        $crate::headers::HeaderName::$name.as_str(),
                        lead + bad,
                        $what,
                    ))
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(super) use token_header;

/// Checks `server-val`s: product tokens (`name[/version]`) and comments.
pub(super) fn product_text(value: &str, header: &'static str) -> Result<String, HeaderError> {
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

/// Defines a header type holding product text.
macro_rules! product_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub String);

        impl $crate::headers::TypedHeader for $ty {
            const NAME: $crate::headers::HeaderName = $crate::headers::HeaderName::$name;
            fn parse(value: &str) -> Result<Self, $crate::headers::HeaderError> {
                $crate::headers::tokens::product_text(value, $crate::headers::HeaderName::$name.as_str())
                    .map($ty)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(super) use product_header;

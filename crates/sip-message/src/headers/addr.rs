//! Shared machinery for headers whose value is `(name-addr / addr-spec)
//! *(SEMI param)`; each such header has its own file using [`addr_header!`].

use crate::headers::HeaderError;
use crate::name_addr::{parse_name_addr, scan_name_addr, NameAddr};
use crate::params::Params;
use crate::scan::Cursor;

/// Parses an address followed by header parameters, rejecting trailing junk.
pub(super) fn parse_addr_params(
    value: &str,
    header: &'static str,
) -> Result<(NameAddr, Params), HeaderError> {
    let mut c = Cursor::new(value);
    c.skip_ws();
    let addr = parse_name_addr(&mut c, header)?;
    let params = Params::parse_header(&mut c).map_err(HeaderError::scan(header))?;
    c.skip_ws();
    if !c.is_eof() {
        return Err(HeaderError::syntax(header, c.pos(), "';' or end of value"));
    }
    Ok((addr, params))
}

/// Validates an address followed by header parameters without allocating;
/// `check` may reject a parameter by returning what was expected.
pub(super) fn validate_addr_params(
    value: &str,
    header: &'static str,
    check: impl Fn(&str, Option<&str>) -> Option<&'static str>,
) -> Result<(), HeaderError> {
    let mut c = Cursor::new(value);
    c.skip_ws();
    scan_name_addr(&mut c, header)?;
    Params::scan_header(&mut c, |n, v, at| match check(n, v) {
        None => Ok(()),
        Some(what) => Err(crate::scan::Expected { at, what }),
    })
    .map_err(HeaderError::scan(header))?;
    c.skip_ws();
    if !c.is_eof() {
        return Err(HeaderError::syntax(header, c.pos(), "';' or end of value"));
    }
    Ok(())
}

/// Defines a `name-addr *(SEMI param)` header type.
macro_rules! addr_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, $list:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty {
            /// The address.
            pub addr: $crate::name_addr::NameAddr,
            /// Header parameters.
            pub params: $crate::params::Params,
        }

        impl $ty {
            /// A value with no parameters.
            pub fn new(addr: $crate::name_addr::NameAddr) -> Self {
                $ty {
                    addr,
                    params: $crate::params::Params::new(),
                }
            }

            /// The address's URI.
            pub fn uri(&self) -> &$crate::uri::Uri {
                &self.addr.uri
            }
        }

        impl $crate::headers::TypedHeader for $ty {
            const NAME: $crate::headers::HeaderName = $crate::headers::HeaderName::$name;
            const LIST: bool = $list;

            fn parse(value: &str) -> Result<Self, $crate::headers::HeaderError> {
                let (addr, params) = $crate::headers::addr::parse_addr_params(
                    value,
                    $crate::headers::HeaderName::$name.as_str(),
                )?;
                Ok($ty { addr, params })
            }

            fn validate(value: &str) -> Result<(), $crate::headers::HeaderError> {
                $crate::headers::addr::validate_addr_params(
                    value,
                    $crate::headers::HeaderName::$name.as_str(),
                    |_, _| None,
                )
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}{}", self.addr, self.params)
            }
        }
    };
}
pub(super) use addr_header;

/// Adds `tag()` / `set_tag()` to an address header (From, To).
macro_rules! tag_accessors {
    ($ty:ident) => {
        impl $ty {
            /// The `tag` parameter.
            pub fn tag(&self) -> Option<&str> {
                self.params.get("tag").flatten()
            }

            /// Sets the `tag` parameter.
            pub fn set_tag(&mut self, tag: &str) {
                self.params.set("tag", Some(tag));
            }
        }
    };
}
pub(super) use tag_accessors;

//! Event (RFC 6665 §8.2.1): an event package with optional `id`.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::Cursor;

/// Event package and parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// Package, e.g. `presence`, `refer`, `dialog`, `message-summary`.
    pub package: String,
    /// Parameters (`id` and extensions).
    pub params: Params,
}

impl Event {
    /// An event with no parameters.
    pub fn new(package: &str) -> Self {
        Event {
            package: package.to_owned(),
            params: Params::new(),
        }
    }

    /// The `id` parameter.
    pub fn id(&self) -> Option<&str> {
        self.params.get("id").flatten()
    }

    /// Event matching per RFC 6665 §8.2.1: same package (case-insensitive)
    /// and same `id` (both absent counts as equal).
    pub fn matches(&self, other: &Event) -> bool {
        self.package.eq_ignore_ascii_case(&other.package) && self.id() == other.id()
    }
}

impl TypedHeader for Event {
    const NAME: HeaderName = HeaderName::Event;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let scan = HeaderError::scan("Event");
        let mut c = Cursor::new(value);
        c.skip_ws();
        let package = c.token("event package").map_err(&scan)?.to_owned();
        let params = Params::parse_header(&mut c).map_err(&scan)?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax("Event", c.pos(), "';' or end of value"));
        }
        Ok(Event { package, params })
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.package, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_and_id() {
        let e = Event::parse("refer;id=93809824").unwrap();
        assert_eq!(e.package, "refer");
        assert_eq!(e.id(), Some("93809824"));
        assert_eq!(e.to_string(), "refer;id=93809824");
        assert!(e.matches(&Event::parse("REFER ; id=93809824").unwrap()));
        assert!(!e.matches(&Event::new("refer")));
        assert!(Event::parse("").is_err());
        assert!(Event::parse("a b").is_err());
    }
}

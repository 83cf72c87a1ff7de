//! Subscription-State (RFC 6665 §8.2.3).

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::scan::Cursor;

/// Subscription state value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubState {
    /// `active`
    Active,
    /// `pending`
    Pending,
    /// `terminated`
    Terminated,
    /// Extension value.
    Other(String),
}

/// State plus `expires`, `reason`, `retry-after`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriptionState {
    /// State.
    pub state: SubState,
    /// Parameters.
    pub params: Params,
}

impl SubscriptionState {
    /// `expires` in seconds.
    pub fn expires(&self) -> Option<u32> {
        self.params
            .get("expires")
            .flatten()
            .and_then(|v| v.parse().ok())
    }
    /// `reason` (e.g. `deactivated`, `timeout`, `noresource`).
    pub fn reason(&self) -> Option<&str> {
        self.params.get("reason").flatten()
    }
    /// `retry-after` in seconds.
    pub fn retry_after(&self) -> Option<u32> {
        self.params
            .get("retry-after")
            .flatten()
            .and_then(|v| v.parse().ok())
    }
}

impl TypedHeader for SubscriptionState {
    const NAME: HeaderName = HeaderName::SubscriptionState;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let h = "Subscription-State";
        let scan = HeaderError::scan(h);
        let mut c = Cursor::new(value);
        c.skip_ws();
        let s = c.token("substate-value").map_err(&scan)?;
        let state = match s.to_ascii_lowercase().as_str() {
            "active" => SubState::Active,
            "pending" => SubState::Pending,
            "terminated" => SubState::Terminated,
            _ => SubState::Other(s.to_owned()),
        };
        let ppos = c.pos();
        let params = Params::parse_header(&mut c).map_err(&scan)?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax(h, c.pos(), "';' or end of value"));
        }
        for n in ["expires", "retry-after"] {
            if let Some(v) = params.get(n) {
                if v.is_none_or(|v| v.parse::<u32>().is_err()) {
                    return Err(HeaderError::syntax(h, ppos, "delta-seconds"));
                }
            }
        }
        Ok(SubscriptionState { state, params })
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match &self.state {
            SubState::Active => "active",
            SubState::Pending => "pending",
            SubState::Terminated => "terminated",
            SubState::Other(o) => o,
        };
        write!(f, "{s}{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let s = SubscriptionState::parse("active;expires=3600").unwrap();
        assert_eq!(s.state, SubState::Active);
        assert_eq!(s.expires(), Some(3600));
        let t = SubscriptionState::parse("terminated;reason=noresource;retry-after=30").unwrap();
        assert_eq!(t.reason(), Some("noresource"));
        assert_eq!(t.retry_after(), Some(30));
        assert_eq!(t.to_string(), "terminated;reason=noresource;retry-after=30");
        assert!(SubscriptionState::parse("active;expires=soon").is_err());
        assert_eq!(
            SubscriptionState::parse("waiting").unwrap().state,
            SubState::Other("waiting".into())
        );
    }
}

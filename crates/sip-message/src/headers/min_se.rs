//! Min-SE (RFC 4028 §5).

use std::fmt;

use super::numeric::delta_params;
use super::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;

/// Min-SE (RFC 4028 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MinSe {
    /// Minimum session interval in seconds.
    pub delta: u32,
    /// Extension parameters.
    pub params: Params,
}

impl TypedHeader for MinSe {
    const NAME: HeaderName = HeaderName::MinSe;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let (delta, params) = delta_params(value, "Min-SE")?;
        Ok(MinSe { delta, params })
    }
}

impl fmt::Display for MinSe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.delta, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print() {
        let m = MinSe::parse("90;ext=1").unwrap();
        assert_eq!(m.delta, 90);
        assert_eq!(m.to_string(), "90;ext=1");
        assert!(MinSe::parse("x").is_err());
    }
}

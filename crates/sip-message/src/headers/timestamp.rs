//! Timestamp (RFC 3261 §20.38): `1*DIGIT ["." *DIGIT] [LWS delay]`.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};

/// Time values are kept as their decimal text, so they echo back exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The timestamp as sent.
    pub time: String,
    /// Delay added by the responder.
    pub delay: Option<String>,
}

fn decimal(s: &str) -> bool {
    let (a, b) = s.split_once('.').unwrap_or((s, ""));
    !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
}

impl TypedHeader for Timestamp {
    const NAME: HeaderName = HeaderName::Timestamp;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let mut parts = value.split_ascii_whitespace();
        let time = parts
            .next()
            .filter(|t| decimal(t))
            .ok_or(HeaderError::syntax("Timestamp", 0, "decimal time"))?;
        let delay = parts.next();
        if delay.is_some_and(|d| !decimal(d)) || parts.next().is_some() {
            return Err(HeaderError::syntax(
                "Timestamp",
                time.len(),
                "decimal delay or end of value",
            ));
        }
        Ok(Timestamp {
            time: time.to_owned(),
            delay: delay.map(str::to_owned),
        })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.time)?;
        if let Some(d) = &self.delay {
            write!(f, " {d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = Timestamp::parse("54.23 0.5").unwrap();
        assert_eq!(t.time, "54.23");
        assert_eq!(t.delay.as_deref(), Some("0.5"));
        assert_eq!(t.to_string(), "54.23 0.5");
        assert_eq!(Timestamp::parse("100").unwrap().delay, None);
        assert!(Timestamp::parse("abc").is_err());
        assert!(Timestamp::parse("1 2 3").is_err());
    }
}

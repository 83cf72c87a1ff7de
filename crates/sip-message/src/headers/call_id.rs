//! Call-ID (RFC 3261 §20.8): `word [ "@" word ]`.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};
use crate::scan::is_word;

/// A Call-ID, compared byte for byte (it is case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(String);

impl CallId {
    /// Wraps an already generated identifier; it must be `word [@ word]`.
    pub fn new(id: &str) -> Result<Self, HeaderError> {
        Self::parse(id)
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TypedHeader for CallId {
    const NAME: HeaderName = HeaderName::CallId;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        check(value).map(|v| CallId(v.to_owned()))
    }

    fn validate(value: &str) -> Result<(), HeaderError> {
        check(value).map(drop)
    }
}

/// Checks `word [@ word]` and returns the trimmed identifier.
fn check(value: &str) -> Result<&str, HeaderError> {
    // One pass for the usual untrimmed `word@word`; anything else (and
    // every error) goes through the reference check below.
    let b = value.as_bytes();
    let word_run = |from: usize| {
        b.get(from..)
            .unwrap_or(&[])
            .iter()
            .position(|&c| !is_word(c))
            .map_or(b.len(), |n| from + n)
    };
    let first = word_run(0);
    if first > 0
        && (first == b.len()
            || (b[first] == b'@' && first + 1 < b.len() && word_run(first + 1) == b.len()))
    {
        return Ok(value);
    }
    check_ref(value)
}

/// The reference `word [@ word]` check, with error offsets.
fn check_ref(value: &str) -> Result<&str, HeaderError> {
    let v = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let lead = value.len()
        - value
            .trim_start_matches(|c: char| c.is_ascii_whitespace())
            .len();
    let (a, b) = match crate::scan::split_byte(v, b'@') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    if a.is_empty() {
        return Err(HeaderError::syntax("Call-ID", lead, "word"));
    }
    if let Some(i) = a.bytes().position(|c| !is_word(c)) {
        return Err(HeaderError::syntax("Call-ID", lead + i, "word character"));
    }
    if let Some(b) = b {
        if b.is_empty() {
            return Err(HeaderError::syntax(
                "Call-ID",
                lead + a.len() + 1,
                "word after '@'",
            ));
        }
        if let Some(i) = b.bytes().position(|c| !is_word(c)) {
            return Err(HeaderError::syntax(
                "Call-ID",
                lead + a.len() + 1 + i,
                "word character",
            ));
        }
    }
    Ok(v)
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        let odd = "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{";
        assert_eq!(CallId::parse(odd).unwrap().as_str(), odd);
        assert_eq!(CallId::parse("  a@b ").unwrap().to_string(), "a@b");
        assert!(CallId::parse("a b").is_err());
        assert!(CallId::parse("a@").is_err());
        assert!(CallId::parse("a@b@c").is_err());
        assert!(CallId::parse("").is_err());
    }
}

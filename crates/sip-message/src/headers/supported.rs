//! Supported (RFC 3261 §20.37): option tags the UA supports.

use super::tokens::token_header;

token_header!(
    /// One option tag of Supported.
    Supported,
    Supported,
    true,
    "option-tag token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{Headers, TypedHeader};

    #[test]
    fn list_and_empty() {
        let mut h = Headers::new();
        h.push("k", "100rel, timer").unwrap();
        h.push("Supported", "").unwrap();
        let tags: Vec<String> = h
            .typed_all::<Supported>()
            .unwrap()
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(tags, vec!["100rel", "timer"]);
        assert_eq!(
            Supported::parse("replaces").unwrap().to_string(),
            "replaces"
        );
        assert!(Supported::parse("a b").is_err());
    }
}

//! Require (RFC 3261 §20.32): option tags the UAS must support (420 if not).

use super::tokens::token_header;

token_header!(
    /// One option tag of Require.
    Require,
    Require,
    true,
    "option-tag token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{Headers, TypedHeader};

    #[test]
    fn list() {
        let mut h = Headers::new();
        h.push("Require", "nothingSupportsThis, nothingSupportsThisEither")
            .unwrap();
        let r = h.typed_all::<Require>().unwrap();
        assert_eq!(r[1].0, "nothingSupportsThisEither");
        assert_eq!(Require::parse("100rel").unwrap().to_string(), "100rel");
        assert!(Require::parse("").is_err());
    }
}

//! Unsupported (RFC 3261 §20.40): option tags a 420 response names.

use super::tokens::token_header;

token_header!(
    /// One option tag of Unsupported.
    Unsupported,
    Unsupported,
    true,
    "option-tag token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{Headers, TypedHeader};

    #[test]
    fn parse_print() {
        let mut h = Headers::new();
        h.push_typed(&Unsupported("foo".into()));
        assert_eq!(h.get("Unsupported"), Some("foo"));
        assert_eq!(
            h.typed_all::<Unsupported>().unwrap(),
            vec![Unsupported("foo".into())]
        );
        assert!(Unsupported::parse("fo o").is_err());
    }
}

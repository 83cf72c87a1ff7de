//! Allow-Events (RFC 6665 §8.2.2): event packages the UA accepts.

use super::tokens::token_header;

token_header!(
    /// One event package of Allow-Events.
    AllowEvents,
    AllowEvents,
    true,
    "event-type token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{Headers, TypedHeader};

    #[test]
    fn compact_form_list() {
        let mut h = Headers::new();
        h.push("u", "presence, dialog, message-summary").unwrap();
        let e = h.typed_all::<AllowEvents>().unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].to_string(), "message-summary");
        assert!(AllowEvents::parse("pres ence").is_err());
    }
}

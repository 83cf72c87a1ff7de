//! Typing indication for instant messages (RFC 3994,
//! `application/im-iscomposing+xml`), parsed with the hardened reader of
//! [`crate::pidf`] and built for sending.

use crate::pidf::{esc, parse_tree, XmlError};

/// The content type of these documents.
pub const CONTENT_TYPE: &str = "application/im-iscomposing+xml";

/// Why an is-composing body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsComposingError {
    /// The XML itself was refused.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// `<state>` is missing or neither `active` nor `idle` (§3).
    #[error("isComposing state missing or invalid")]
    State,
}

/// Whether the peer is typing (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComposeState {
    /// Typing.
    Active,
    /// Stopped typing.
    Idle,
}

/// A parsed or to-be-sent indication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsComposing {
    /// The state.
    pub state: ComposeState,
    /// Content type of the message being composed (default text/plain).
    pub content_type: Option<String>,
    /// For `Active`: seconds after which the receiver assumes idle unless
    /// refreshed (§3.2; the receiver uses 120 s when absent).
    pub refresh: Option<u32>,
    /// `lastactive` timestamp (RFC 3339 text), kept as sent.
    pub last_active: Option<String>,
}

impl IsComposing {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<IsComposing, IsComposingError> {
        let root = parse_tree(body, "isComposing")?;
        let state = match root.child_text("state") {
            Some("active") => ComposeState::Active,
            Some("idle") => ComposeState::Idle,
            _ => return Err(IsComposingError::State),
        };
        let text = |n: &str| {
            root.child_text(n)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(IsComposing {
            state,
            content_type: text("contenttype"),
            refresh: root.child_text("refresh").and_then(|r| r.parse().ok()),
            last_active: text("lastactive"),
        })
    }

    /// Builds the document.
    pub fn build(&self) -> String {
        let mut s = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">\n",
        );
        s.push_str(match self.state {
            ComposeState::Active => "<state>active</state>\n",
            ComposeState::Idle => "<state>idle</state>\n",
        });
        if let Some(t) = &self.last_active {
            s.push_str(&format!("<lastactive>{}</lastactive>\n", esc(t)));
        }
        if let Some(c) = &self.content_type {
            s.push_str(&format!("<contenttype>{}</contenttype>\n", esc(c)));
        }
        if let Some(r) = self.refresh {
            s.push_str(&format!("<refresh>{r}</refresh>\n"));
        }
        s.push_str("</isComposing>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example_and_round_trip() {
        // RFC 3994 §7's example, with a vendor element added.
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <state>active</state>
  <contenttype>text/plain</contenttype>
  <refresh>90</refresh>
  <v:x xmlns:v="urn:vendor"/>
</isComposing>"#;
        let c = IsComposing::parse(doc).unwrap();
        assert_eq!(c.state, ComposeState::Active);
        assert_eq!(c.refresh, Some(90));
        assert_eq!(c.content_type.as_deref(), Some("text/plain"));
        assert_eq!(IsComposing::parse(c.build().as_bytes()).unwrap(), c);

        let idle = IsComposing {
            state: ComposeState::Idle,
            content_type: None,
            refresh: None,
            last_active: Some("2003-01-27T10:43:00Z".into()),
        };
        assert_eq!(IsComposing::parse(idle.build().as_bytes()).unwrap(), idle);
    }

    #[test]
    fn invalid_documents_are_refused() {
        assert_eq!(
            IsComposing::parse(b"<isComposing><state>typing</state></isComposing>"),
            Err(IsComposingError::State)
        );
        assert_eq!(
            IsComposing::parse(b"<isComposing/>"),
            Err(IsComposingError::State)
        );
        assert!(matches!(
            IsComposing::parse(b"<isComposing><state>&e;</state></isComposing>"),
            Err(IsComposingError::Xml(XmlError::UnknownEntity))
        ));
    }
}

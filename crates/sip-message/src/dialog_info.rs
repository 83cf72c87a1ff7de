//! Dialog state documents (RFC 4235, `application/dialog-info+xml`): what
//! a busy-lamp field shows, and the ids a pickup needs (RFC 3891 Replaces
//! takes the Call-ID and both tags of the ringing dialog).
//!
//! Parsed with the hardened reader of [`crate::pidf`]: size, depth and
//! entity limits apply; unknown elements and namespaces are ignored.

use crate::pidf::{parse_tree, Element, XmlError};

/// Most dialogs kept from one document.
pub const MAX_DIALOGS: usize = 64;

/// Why a dialog-info body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogInfoError {
    /// The XML itself was refused.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The `version` attribute is missing or not a number (§4.1.1).
    #[error("dialog-info version missing or invalid")]
    Version,
}

/// A dialog's state (RFC 4235 §3.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogStatus {
    /// INVITE sent or received, nothing more.
    Trying,
    /// A provisional response without a tag.
    Proceeding,
    /// Ringing: an early dialog.
    Early,
    /// Answered.
    Confirmed,
    /// Ended.
    Terminated,
}

/// Who started the dialog, seen from the watched entity (§4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The entity called out.
    Initiator,
    /// The entity is being called.
    Recipient,
}

/// One side of a dialog (§4.1.6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Participant {
    /// The identity URI.
    pub identity: Option<String>,
    /// The identity's display name.
    pub display: Option<String>,
    /// The target (Contact) URI.
    pub target: Option<String>,
}

/// One `<dialog>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogEntry {
    /// The element's id.
    pub id: String,
    /// Call-ID, when the notifier reveals it.
    pub call_id: Option<String>,
    /// The watched entity's tag.
    pub local_tag: Option<String>,
    /// The other party's tag.
    pub remote_tag: Option<String>,
    /// Who called.
    pub direction: Option<Direction>,
    /// The state; `None` for a value this parser does not know.
    pub state: Option<DialogStatus>,
    /// The watched entity.
    pub local: Participant,
    /// The other party.
    pub remote: Participant,
}

/// What a busy lamp shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineState {
    /// No live dialog.
    Idle,
    /// Being called and not answered: can be picked up.
    Ringing,
    /// In a call, or calling out.
    InCall,
}

/// A parsed dialog-info document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogInfo {
    /// Document version (§4.1.1: increases by one per NOTIFY).
    pub version: u32,
    /// `state="full"` (else partial).
    pub full: bool,
    /// The watched entity.
    pub entity: String,
    /// The dialogs, in document order.
    pub dialogs: Vec<DialogEntry>,
}

fn participant(el: Option<&Element>) -> Participant {
    let Some(el) = el else {
        return Participant::default();
    };
    let id = el.child("identity");
    Participant {
        identity: id
            .map(|i| i.text.trim().to_owned())
            .filter(|s| !s.is_empty()),
        display: id.and_then(|i| i.attr("display")).map(str::to_owned),
        target: el
            .child("target")
            .and_then(|t| t.attr("uri"))
            .map(str::to_owned),
    }
}

impl DialogInfo {
    /// Parses an `application/dialog-info+xml` body.
    pub fn parse(body: &[u8]) -> Result<DialogInfo, DialogInfoError> {
        let root = parse_tree(body, "dialog-info")?;
        let version = root
            .attr("version")
            .and_then(|v| v.trim().parse().ok())
            .ok_or(DialogInfoError::Version)?;
        let dialogs = root
            .all("dialog")
            .take(MAX_DIALOGS)
            .map(|d| {
                let state = d.child_text("state").and_then(|s| {
                    Some(match s {
                        "trying" => DialogStatus::Trying,
                        "proceeding" => DialogStatus::Proceeding,
                        "early" => DialogStatus::Early,
                        "confirmed" => DialogStatus::Confirmed,
                        "terminated" => DialogStatus::Terminated,
                        _ => return None,
                    })
                });
                DialogEntry {
                    id: d.attr("id").unwrap_or_default().to_owned(),
                    call_id: d.attr("call-id").map(str::to_owned),
                    local_tag: d.attr("local-tag").map(str::to_owned),
                    remote_tag: d.attr("remote-tag").map(str::to_owned),
                    direction: match d.attr("direction") {
                        Some("initiator") => Some(Direction::Initiator),
                        Some("recipient") => Some(Direction::Recipient),
                        _ => None,
                    },
                    state,
                    local: participant(d.child("local")),
                    remote: participant(d.child("remote")),
                }
            })
            .collect();
        Ok(DialogInfo {
            version,
            full: root.attr("state") != Some("partial"),
            entity: root.attr("entity").unwrap_or_default().to_owned(),
            dialogs,
        })
    }

    /// The dialog that can be picked up: early and not started by the
    /// watched entity (servers often leave out `direction`).
    pub fn ringing(&self) -> Option<&DialogEntry> {
        self.dialogs.iter().find(|d| {
            d.state == Some(DialogStatus::Early) && d.direction != Some(Direction::Initiator)
        })
    }

    /// What the lamp shows: any confirmed dialog is a call; an incoming
    /// early one is ringing; an outgoing one that has not ended is a call
    /// being made.
    pub fn line_state(&self) -> LineState {
        let live = |d: &&DialogEntry| {
            matches!(
                d.state,
                Some(DialogStatus::Trying | DialogStatus::Proceeding | DialogStatus::Early)
                    | Some(DialogStatus::Confirmed)
            )
        };
        if self
            .dialogs
            .iter()
            .any(|d| d.state == Some(DialogStatus::Confirmed))
        {
            LineState::InCall
        } else if self.ringing().is_some() {
            LineState::Ringing
        } else if self.dialogs.iter().any(|d| live(&d)) {
            LineState::InCall
        } else {
            LineState::Idle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kamailio_ringing_with_pickup_ids() {
        // Kamailio's pua_dialoginfo for a call to bob that is ringing.
        let doc = br#"<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full" entity="sip:bob@127.0.0.1">
  <dialog id="a84b4c76e66710" call-id="a84b4c76e66710@host" local-tag="1928301774" remote-tag="776asdhds" direction="recipient">
    <state>early</state>
    <remote><identity display="Alice &amp; Co">sip:alice@127.0.0.1</identity><target uri="sip:alice@127.0.0.1:5070"/></remote>
    <local><identity>sip:bob@127.0.0.1</identity><target uri="sip:bob@127.0.0.1:5080"/></local>
  </dialog>
</dialog-info>"#;
        let d = DialogInfo::parse(doc).unwrap();
        assert_eq!((d.version, d.full), (3, true));
        assert_eq!(d.line_state(), LineState::Ringing);
        let r = d.ringing().unwrap();
        assert_eq!(r.call_id.as_deref(), Some("a84b4c76e66710@host"));
        assert_eq!(r.local_tag.as_deref(), Some("1928301774"));
        assert_eq!(r.remote_tag.as_deref(), Some("776asdhds"));
        assert_eq!(r.remote.display.as_deref(), Some("Alice & Co"));
        assert_eq!(r.remote.identity.as_deref(), Some("sip:alice@127.0.0.1"));
        assert_eq!(r.local.target.as_deref(), Some("sip:bob@127.0.0.1:5080"));
    }

    #[test]
    fn asterisk_states_idle_confirmed_and_outgoing() {
        let idle = br#"<?xml version="1.0" encoding="ISO-8859-1"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:6001@pbx"/>"#;
        assert_eq!(
            DialogInfo::parse(idle).unwrap().line_state(),
            LineState::Idle
        );
        let confirmed = br#"<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="4" state="partial" entity="sip:6001@pbx">
<dialog id="6001" direction="recipient"><state>confirmed</state></dialog></dialog-info>"#;
        let c = DialogInfo::parse(confirmed).unwrap();
        assert!(!c.full);
        assert_eq!(c.line_state(), LineState::InCall);
        assert!(c.ringing().is_none());
        let out = br#"<dialog-info version="5" entity="sip:6001@pbx">
<dialog id="x" direction="initiator"><state>early</state></dialog>
<dialog id="y"><state>terminated</state></dialog><dialog id="z"><state>weird</state></dialog></dialog-info>"#;
        let o = DialogInfo::parse(out).unwrap();
        assert_eq!(o.line_state(), LineState::InCall, "calling out");
        assert_eq!(o.dialogs[2].state, None);
        let ended = br#"<dialog-info version="6" entity="e"><dialog id="y"><state>terminated</state></dialog></dialog-info>"#;
        assert_eq!(
            DialogInfo::parse(ended).unwrap().line_state(),
            LineState::Idle
        );
    }

    #[test]
    fn bad_documents_are_refused() {
        assert_eq!(
            DialogInfo::parse(b"<dialog-info entity=\"e\"/>"),
            Err(DialogInfoError::Version)
        );
        assert!(matches!(
            DialogInfo::parse(b"<presence/>"),
            Err(DialogInfoError::Xml(XmlError::WrongRoot { .. }))
        ));
        assert_eq!(
            DialogInfo::parse(b"<!DOCTYPE x><dialog-info version=\"1\"/>"),
            Err(DialogInfoError::Xml(XmlError::Doctype))
        );
        let many = format!(
            "<dialog-info version=\"1\">{}</dialog-info>",
            "<dialog id=\"d\"><state>early</state></dialog>".repeat(MAX_DIALOGS + 10)
        );
        assert_eq!(
            DialogInfo::parse(many.as_bytes()).unwrap().dialogs.len(),
            MAX_DIALOGS
        );
    }
}

//! A bounded set of dialogs: lookup by message, and the forking rules of
//! §13.2.2.4 / §12.1.2 (each distinct To tag on responses to one INVITE is
//! its own early dialog).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use sip_message::{Method, Request, Response};

use super::{Dialog, DialogError, DialogId, DialogState};

/// Dialogs keyed by [`DialogId`], at most `limit` of them.
#[derive(Debug, Clone)]
pub struct DialogSet {
    dialogs: BTreeMap<DialogId, Dialog>,
    limit: usize,
}

impl DialogSet {
    /// An empty set holding at most `limit` dialogs.
    pub fn new(limit: usize) -> Self {
        DialogSet {
            dialogs: BTreeMap::new(),
            limit,
        }
    }

    /// Number of dialogs.
    pub fn len(&self) -> usize {
        self.dialogs.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.dialogs.is_empty()
    }

    /// A dialog by id.
    pub fn get(&self, id: &DialogId) -> Option<&Dialog> {
        self.dialogs.get(id)
    }

    /// A dialog by id, mutable.
    pub fn get_mut(&mut self, id: &DialogId) -> Option<&mut Dialog> {
        self.dialogs.get_mut(id)
    }

    /// Every dialog.
    pub fn iter(&self) -> impl Iterator<Item = &Dialog> {
        self.dialogs.values()
    }

    /// Adds a dialog (e.g. a UAS dialog), refusing beyond the limit.
    pub fn insert(&mut self, d: Dialog) -> Result<&mut Dialog, DialogError> {
        if !self.dialogs.contains_key(d.id()) && self.dialogs.len() >= self.limit {
            return Err(DialogError::TooManyDialogs { limit: self.limit });
        }
        match self.dialogs.entry(d.id().clone()) {
            Entry::Occupied(mut o) => {
                o.insert(d);
                Ok(o.into_mut())
            }
            Entry::Vacant(v) => Ok(v.insert(d)),
        }
    }

    /// Removes a dialog.
    pub fn remove(&mut self, id: &DialogId) -> Option<Dialog> {
        self.dialogs.remove(id)
    }

    /// Removes every terminated dialog, returning their ids.
    pub fn remove_terminated(&mut self) -> Vec<DialogId> {
        let gone: Vec<DialogId> = self
            .dialogs
            .iter()
            .filter(|(_, d)| d.state() == DialogState::Terminated)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.dialogs.remove(id);
        }
        gone
    }

    /// The dialog an incoming request belongs to. `None`: answer with
    /// [`super::unknown_dialog_response`] (481) unless it is a new
    /// dialog-creating request (no To tag).
    pub fn find_for_request(&mut self, req: &Request) -> Option<&mut Dialog> {
        let id = DialogId::for_incoming_request(req).ok()?;
        self.dialogs.get_mut(&id)
    }

    /// The dialog an incoming response belongs to.
    pub fn find_for_response(&mut self, resp: &Response) -> Option<&mut Dialog> {
        let id = DialogId::for_incoming_response(resp).ok()?;
        self.dialogs.get_mut(&id)
    }

    /// UAC: a response to `req`, a dialog-creating request we sent (INVITE,
    /// SUBSCRIBE, ...). A 101-299 with a new To tag creates a dialog (one
    /// per fork); one with a known tag updates it. A final non-2xx ends
    /// every early dialog of the request (§12.3 / §13.2.2.3). Returns the
    /// dialog the response belongs to, if any (also when it is already
    /// terminated: a 2xx retransmission still needs its ACK).
    pub fn on_uac_response(
        &mut self,
        req: &Request,
        resp: &Response,
    ) -> Result<Option<DialogId>, DialogError> {
        let id = DialogId::for_incoming_response(resp)?;
        if resp.status.is_final() && !resp.status.is_success() {
            let early: Vec<DialogId> = self
                .dialogs
                .iter()
                .filter(|(k, d)| {
                    k.call_id == id.call_id
                        && k.local_tag == id.local_tag
                        && d.state() == DialogState::Early
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in early {
                self.dialogs.remove(&k);
            }
            return Ok(None);
        }
        if !super::is_dialog_creating(resp.status) || id.remote_tag.is_empty() {
            return Ok(None);
        }
        if let Some(d) = self.dialogs.get_mut(&id) {
            // A 2xx retransmission can outlive the dialog (we sent BYE but
            // our ACK was lost): report the id so the caller re-ACKs.
            if d.state() != DialogState::Terminated {
                d.on_response(&req.method, resp)?;
            }
            return Ok(Some(id));
        }
        let d = Dialog::from_uac_response(req, resp)?;
        self.insert(d)?;
        Ok(Some(id))
    }

    /// The INVITE transaction `invite` ended: early dialogs that never got
    /// a 2xx end with it (§13.2.2.4 allows no later confirmation).
    pub fn end_early(&mut self, invite: &Request) {
        if invite.method != Method::Invite {
            return;
        }
        let h = &invite.headers;
        let (Ok(Some(cid)), Ok(Some(from))) = (h.call_id(), h.from()) else {
            return;
        };
        let tag = from.tag().unwrap_or_default().to_owned();
        self.dialogs.retain(|k, d| {
            !(k.call_id == cid.as_str() && k.local_tag == tag && d.state() == DialogState::Early)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::tests::{answer, invite};

    #[test]
    fn forked_early_dialogs_then_one_confirms() {
        let inv = invite();
        let mut set = DialogSet::new(8);
        let a = set
            .on_uac_response(&inv, &answer(&inv, 180, "forkA", "<sip:a@h>", &[]))
            .unwrap()
            .unwrap();
        let b = set
            .on_uac_response(&inv, &answer(&inv, 183, "forkB", "<sip:b@h>", &[]))
            .unwrap()
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(set.len(), 2);
        // 100 without tag creates nothing.
        let trying = Response::for_request(&inv, crate::status(100));
        assert_eq!(set.on_uac_response(&inv, &trying).unwrap(), None);
        // B answers: B confirmed, A still early; then the transaction ends.
        let ok = answer(&inv, 200, "forkB", "<sip:b2@h>", &[]);
        assert_eq!(set.on_uac_response(&inv, &ok).unwrap(), Some(b.clone()));
        assert_eq!(set.get(&b).unwrap().state(), DialogState::Confirmed);
        assert_eq!(set.get(&a).unwrap().state(), DialogState::Early);
        assert_eq!(set.find_for_response(&ok).unwrap().id(), &b);
        set.end_early(&inv);
        assert_eq!(set.len(), 1);
        assert!(set.get(&b).is_some());
        // RFC 6026: a second fork answering 2xx is its own confirmed dialog
        // (the TU ACKs it and usually sends BYE).
        let ok_c = answer(&inv, 200, "forkC", "<sip:c@h>", &[]);
        let c = set.on_uac_response(&inv, &ok_c).unwrap().unwrap();
        assert_ne!(c, b);
        assert_eq!(set.get(&c).unwrap().state(), DialogState::Confirmed);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn failure_ends_early_dialogs_and_limit_holds() {
        let inv = invite();
        let mut set = DialogSet::new(1);
        set.on_uac_response(&inv, &answer(&inv, 180, "x", "<sip:a@h>", &[]))
            .unwrap();
        assert_eq!(
            set.on_uac_response(&inv, &answer(&inv, 180, "y", "<sip:a@h>", &[])),
            Err(DialogError::TooManyDialogs { limit: 1 })
        );
        set.on_uac_response(&inv, &answer(&inv, 486, "z", "<sip:a@h>", &[]))
            .unwrap();
        assert!(set.is_empty());
    }

    #[test]
    fn request_lookup_and_removal() {
        let inv = invite();
        let mut set = DialogSet::new(4);
        let d = Dialog::from_uas_request(&inv, "me", None, false).unwrap();
        set.insert(d).unwrap();
        let mut bye = inv.clone();
        bye.method = Method::Bye;
        bye.headers.set_typed(&sip_message::headers::CSeq {
            seq: 314160,
            method: Method::Bye,
        });
        assert!(set.find_for_request(&bye).is_none(), "no To tag yet");
        let mut to = bye.headers.to().unwrap().unwrap();
        to.set_tag("me");
        bye.headers.set_typed(&to);
        let d = set.find_for_request(&bye).unwrap();
        d.on_request(&bye).unwrap();
        assert_eq!(set.remove_terminated().len(), 1);
        assert!(set.find_for_request(&bye).is_none());
    }
}

//! 2xx answers to our INVITEs that no call takes any more (RFC 3261
//! §13.2.2.4, RFC 6026 §7.1): the answer to a re-INVITE we stopped
//! waiting for that arrives after our BYE completed (the call is gone),
//! its retransmissions, and a second fork's 2xx to an INVITE another fork
//! already answered. The peer re-sends each until ACKed (64*T1), so each
//! is ACKed, built from the response alone; a fork's dialog, which no call
//! uses, is also ended with one BYE.
//!
//! ```text
//!  stray 2xx ──> its dialog is one our call ended ────────────> ACK
//!       │        (BYE sent already)
//!       ├──────> a fork of a call of ours (live, or ended ─────> ACK, then BYE
//!       │        within 64*T1)                                 (the first time)
//!       └──────> any other Call-ID ────────────────────────────> dropped
//! ```
//!
//! Only Call-IDs of our own calls get anything back, so a forged 2xx
//! cannot make us send to an address it names; each answer is one ACK,
//! and at most one BYE per dialog.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sip_core::{Dialog, DialogId};
use sip_message::{Message, Method, Response};
use tracing::{debug, info};

use super::CallEnv;
use crate::dns::Target;

/// How long a peer re-sends a 2xx (64*T1): what we remember for.
const MEMORY: Duration = Duration::from_secs(32);
/// Entries kept at most (the oldest go first).
const MAX_ENTRIES: usize = 256;

/// What becomes of a stray 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// ACK it: its dialog was ours and is over (or its BYE went out).
    Ack,
    /// ACK it and end its dialog: a fork nobody took.
    AckAndBye,
}

/// Calls that ended lately and fork dialogs already sent their BYE.
#[derive(Default)]
pub(crate) struct Orphans {
    inner: Mutex<Memory>,
}

/// A call that ended lately.
struct Ended {
    at: Instant,
    /// The dialog it had, if it got an answer.
    dialog: Option<DialogId>,
    /// Its account's transport, for where an ACK goes.
    transport: store::Transport,
}

#[derive(Default)]
struct Memory {
    /// Call-ID -> the call that had it.
    ended: HashMap<String, Ended>,
    /// Fork dialogs sent their BYE -> when.
    settled: HashMap<DialogId, Instant>,
}

impl Memory {
    fn prune(&mut self, now: Instant) {
        self.ended.retain(|_, e| now.duration_since(e.at) < MEMORY);
        self.settled.retain(|_, t| now.duration_since(*t) < MEMORY);
        while self.ended.len() > MAX_ENTRIES {
            let Some(oldest) = self
                .ended
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.ended.remove(&oldest);
        }
        while self.settled.len() > MAX_ENTRIES {
            let Some(oldest) = self
                .settled
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.settled.remove(&oldest);
        }
    }
}

impl Orphans {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A call with this Call-ID ended: in `dialog` when it was answered
    /// (and so ended with a BYE), over `transport`.
    pub(crate) fn call_ended(
        &self,
        now: Instant,
        call_id: &str,
        dialog: Option<DialogId>,
        transport: store::Transport,
    ) {
        let mut m = self.lock();
        m.ended.insert(
            call_id.to_owned(),
            Ended {
                at: now,
                dialog,
                transport,
            },
        );
        m.prune(now);
    }

    /// What to do with a stray 2xx in dialog `id`, and over which
    /// transport. `live` is the transport of the call with its Call-ID
    /// when one is up (and does not use that dialog). Records the BYE it
    /// decides on, so a fork gets one.
    pub(crate) fn decide(
        &self,
        now: Instant,
        id: &DialogId,
        live: Option<store::Transport>,
    ) -> Option<(Settle, store::Transport)> {
        let mut m = self.lock();
        m.prune(now);
        let transport = match (live, m.ended.get(&id.call_id)) {
            (_, Some(e)) if e.dialog.as_ref() == Some(id) => {
                return Some((Settle::Ack, e.transport))
            }
            (Some(t), _) => t,
            (None, Some(e)) => e.transport,
            (None, None) => return None,
        };
        if m.settled.contains_key(id) {
            return Some((Settle::Ack, transport));
        }
        m.settled.insert(id.clone(), now);
        m.prune(now);
        Some((Settle::AckAndBye, transport))
    }
}

/// ACKs `resp` (and BYEs its dialog) as `env.orphans` decides; `live`
/// as in [`Orphans::decide`]. Runs on its own task: the BYE waits for
/// its answer. A BYE a proxy challenges is not retried (proxies pass
/// in-dialog requests; the peer's own 2xx timer ends the dialog anyway).
pub(crate) fn settle(env: &CallEnv, resp: Response, live: Option<store::Transport>) {
    if !resp.status.is_success() {
        return;
    }
    let Ok(Some(cseq)) = resp.headers.cseq() else {
        return;
    };
    if cseq.method != Method::Invite {
        return;
    }
    let Ok(id) = DialogId::for_incoming_response(&resp) else {
        return;
    };
    let Some((what, transport)) = env.orphans.decide(Instant::now(), &id, live) else {
        debug!("a 2xx for no call of ours dropped");
        return;
    };
    let mut dialog = match Dialog::from_orphan_2xx(&resp) {
        Ok(d) => d,
        Err(e) => {
            debug!("stray 2xx: {e}");
            return;
        }
    };
    let env = env.clone();
    tokio::spawn(async move {
        let hops = next_hops(&env, transport, &dialog).await;
        let Some(&first) = hops.first() else {
            debug!("stray 2xx: no route to ACK it");
            return;
        };
        let mut via = env.endpoint.via_for(&first);
        via.params.set("branch", Some(&branch()));
        let ack = dialog.create_ack(cseq.seq, via);
        if let Err(e) = env
            .endpoint
            .send_stateless(Message::Request(ack), first)
            .await
        {
            debug!("stray 2xx: ACK: {e}");
        }
        if what == Settle::AckAndBye {
            info!("a 2xx from a dialog no call uses (a second fork, or a late answer); ending it");
            let via = env.endpoint.via_for(&first);
            let Ok(bye) = dialog.create_request(Method::Bye, via) else {
                return;
            };
            match env.endpoint.request(bye, hops).await {
                Ok(r) => debug!(status = r.status.as_u16(), "a fork's dialog ended"),
                Err(e) => debug!("a fork's BYE: {e}"),
            }
        }
    });
}

/// Where the dialog's requests go: its first Route, else its remote
/// target (§12.2.1.1).
async fn next_hops(env: &CallEnv, transport: store::Transport, d: &Dialog) -> Vec<Target> {
    let uri = match d.route_set().first() {
        Some(r) => r.uri.clone(),
        None => d.remote_target().clone(),
    };
    let Some(dest) = crate::registration::destination(&uri, transport) else {
        return Vec::new();
    };
    env.resolver.resolve(&dest).await.unwrap_or_default()
}

/// A fresh Via branch (RFC 3261 §8.1.1.7 magic cookie).
fn branch() -> String {
    format!("z9hG4bK{:016x}", crate::util::os_seed())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UDP: store::Transport = store::Transport::Udp;

    fn id(call: &str, remote: &str) -> DialogId {
        DialogId {
            call_id: call.into(),
            local_tag: "us".into(),
            remote_tag: remote.into(),
        }
    }

    #[test]
    fn an_ended_dialog_gets_acks_only_and_a_fork_one_bye() {
        let o = Orphans::default();
        let t = Instant::now();
        o.call_ended(t, "c1", Some(id("c1", "a")), store::Transport::Tcp);
        // The dialog we ended with BYE: ACK each 2xx, no second BYE, over
        // the call's transport.
        let ack = Some((Settle::Ack, store::Transport::Tcp));
        assert_eq!(o.decide(t, &id("c1", "a"), None), ack);
        assert_eq!(o.decide(t, &id("c1", "a"), None), ack);
        // Another fork of that call: one BYE, then ACKs.
        let bye = Some((Settle::AckAndBye, store::Transport::Tcp));
        assert_eq!(o.decide(t, &id("c1", "b"), None), bye);
        assert_eq!(o.decide(t, &id("c1", "b"), None), ack);
        // A fork of a call that is up.
        assert_eq!(
            o.decide(t, &id("c2", "x"), Some(UDP)),
            Some((Settle::AckAndBye, UDP))
        );
        assert_eq!(
            o.decide(t, &id("c2", "x"), Some(UDP)),
            Some((Settle::Ack, UDP))
        );
        // A call that ended unanswered: its late 2xx is a dialog to end.
        o.call_ended(t, "c3", None, UDP);
        assert_eq!(
            o.decide(t, &id("c3", "y"), None),
            Some((Settle::AckAndBye, UDP))
        );
    }

    #[test]
    fn strangers_and_old_calls_get_nothing() {
        let o = Orphans::default();
        let t = Instant::now();
        assert_eq!(o.decide(t, &id("forged", "z"), None), None);
        o.call_ended(t, "c1", None, UDP);
        let later = t + MEMORY + Duration::from_secs(1);
        assert_eq!(o.decide(later, &id("c1", "a"), None), None);
    }

    #[test]
    fn memory_is_bounded() {
        let o = Orphans::default();
        let t = Instant::now();
        for i in 0..(MAX_ENTRIES * 3) {
            let now = t + Duration::from_millis(i as u64);
            o.call_ended(now, &format!("c{i}"), None, UDP);
            let _ = o.decide(now, &id(&format!("c{i}"), "f"), None);
        }
        let m = o.lock();
        assert!(m.ended.len() <= MAX_ENTRIES && m.settled.len() <= MAX_ENTRIES);
        // The newest calls are the ones kept.
        assert!(m.ended.contains_key(&format!("c{}", MAX_ENTRIES * 3 - 1)));
    }
}

//! 2xx answers to our INVITEs that no call takes any more (RFC 3261
//! §13.2.2.4, RFC 6026 §7.1): the answer to a re-INVITE we stopped
//! waiting for that arrives after our BYE completed (the call is gone),
//! its retransmissions, and a second fork's 2xx to an INVITE another fork
//! already answered. The peer re-sends each until ACKed (64*T1), so each
//! is ACKed, built from the response alone; a fork's dialog, which no call
//! uses, is also ended with one BYE.
//!
//! ```text
//!  stray 2xx ──> in the dialog of a call of ours ──────────────> ACK, along that
//!       │        that ended (with a BYE) within 64*T1             dialog's route
//!       ├──────> another dialog, To-tagged by a fork, of a ────> ACK; BYE the
//!       │        call we placed (live, or ended within 64*T1),    first time
//!       │        with our From tag                                (4 forks a call)
//!       └──────> anything else ─────────────────────────────────> dropped
//! ```
//!
//! So a forged 2xx gets nothing back unless it names a dialog of ours,
//! and then one ACK goes where that dialog already leads; a fork's
//! Contact is only trusted with the Call-ID and From tag of a call we
//! placed, and at most four forks a call get a BYE.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sip_core::{Dialog, DialogId};
use sip_message::{Message, Method, Request, Response};
use tracing::{debug, info};

use super::CallEnv;
use crate::dns::Target;

/// How long a peer re-sends a 2xx (64*T1): what we remember for.
const MEMORY: Duration = Duration::from_secs(32);
/// Entries kept at most (the oldest go first).
const MAX_ENTRIES: usize = 256;
/// Fork dialogs released per call at most: real forking gives a few;
/// more is someone inventing To tags to make us send BYEs.
const MAX_FORKS: usize = 4;

/// Authorization and Proxy-Authorization fields of a request.
pub(crate) type Credentials = Vec<(String, String)>;

/// The credentials `req` carries: an ACK for a 2xx repeats those of the
/// INVITE it acknowledges (RFC 3261 §13.2.2.4).
pub(crate) fn credentials(req: &Request) -> Credentials {
    ["Authorization", "Proxy-Authorization"]
        .iter()
        .flat_map(|name| {
            req.headers
                .get_all(name)
                .map(move |v| ((*name).to_owned(), v.to_owned()))
        })
        .collect()
}

/// Adds the credentials of the INVITE with CSeq `seq`, if known, to its
/// ACK.
pub(crate) fn add_credentials(ack: &mut Request, seq: u32, known: &[(u32, Credentials)]) {
    if let Some((_, creds)) = known.iter().find(|(s, _)| *s == seq) {
        for (name, value) in creds {
            let _ = ack.headers.push(name, value);
        }
    }
}

/// What a call leaves for the 2xx answers that may still come.
#[derive(Clone)]
pub(crate) struct CallMemo {
    /// Its dialog, once answered (it then ended with a BYE): a late 2xx
    /// in it is ACKed along its route, not wherever that 2xx points.
    pub(crate) dialog: Option<Dialog>,
    /// Our From tag, when we placed the call: only then can another
    /// dialog (a fork) answer it, and only with that tag.
    pub(crate) placed_tag: Option<String>,
    /// Credentials of the INVITEs it sent, by CSeq.
    pub(crate) credentials: Vec<(u32, Credentials)>,
    /// Its account's transport, for where an ACK goes.
    pub(crate) transport: store::Transport,
}

/// What to send for one stray 2xx.
struct Action {
    /// The dialog the ACK (and BYE) go in.
    dialog: Dialog,
    /// Also end that dialog: a fork nobody took, seen the first time.
    bye: bool,
    /// The call's INVITE credentials, by CSeq.
    credentials: Vec<(u32, Credentials)>,
    transport: store::Transport,
}

/// Calls that ended lately and fork dialogs already sent their BYE.
#[derive(Default)]
pub(crate) struct Orphans {
    inner: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    /// Call-ID -> when the call that had it ended, and its memo.
    ended: HashMap<String, (Instant, CallMemo)>,
    /// Fork dialogs sent their BYE -> when.
    settled: HashMap<DialogId, Instant>,
}

impl Memory {
    fn prune(&mut self, now: Instant) {
        self.ended
            .retain(|_, (t, _)| now.duration_since(*t) < MEMORY);
        self.settled.retain(|_, t| now.duration_since(*t) < MEMORY);
        cap(&mut self.ended, |(t, _)| *t);
        cap(&mut self.settled, |t| *t);
    }
}

/// Drops the oldest entries of `map` (by `at`) beyond [`MAX_ENTRIES`].
fn cap<K: Clone + Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>, at: impl Fn(&V) -> Instant) {
    while map.len() > MAX_ENTRIES {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| at(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

impl Orphans {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The call with this Call-ID ended.
    pub(crate) fn call_ended(&self, now: Instant, call_id: &str, memo: CallMemo) {
        let mut m = self.lock();
        m.ended.insert(call_id.to_owned(), (now, memo));
        m.prune(now);
    }

    /// What to do with a stray 2xx whose dialog is `theirs` (built from
    /// it). `live` is the memo of the call with its Call-ID when one is
    /// up (and does not use that dialog). Records the BYE it decides on,
    /// so a fork gets one.
    fn decide(&self, now: Instant, theirs: Dialog, live: Option<&CallMemo>) -> Option<Action> {
        let mut m = self.lock();
        m.prune(now);
        let id = theirs.id().clone();
        let memo = match m.ended.get(&id.call_id) {
            Some((_, e)) => e.clone(),
            None => live?.clone(),
        };
        if let Some(ours) = memo.dialog.clone().filter(|d| d.id() == &id) {
            return Some(Action {
                dialog: ours,
                bye: false,
                credentials: memo.credentials,
                transport: memo.transport,
            });
        }
        // A fork answers the INVITE we placed, with the From tag we sent.
        if memo.placed_tag.as_deref() != Some(id.local_tag.as_str()) {
            return None;
        }
        let bye = if m.settled.contains_key(&id) {
            false
        } else if m.settled.keys().filter(|k| k.call_id == id.call_id).count() >= MAX_FORKS {
            return None;
        } else {
            m.settled.insert(id, now);
            m.prune(now);
            true
        };
        Some(Action {
            dialog: theirs,
            bye,
            credentials: memo.credentials,
            transport: memo.transport,
        })
    }
}

/// ACKs a 2xx no call takes (and BYEs its dialog when it is a fork seen
/// the first time), as `env.orphans` decides; `live` as in
/// [`Orphans::decide`]. Runs on its own task: the BYE waits for its
/// answer. A BYE a proxy challenges is not retried (proxies pass
/// in-dialog requests; the peer's own 2xx timer ends the dialog anyway).
pub(crate) fn settle(env: &CallEnv, resp: &Response, live: Option<&CallMemo>) {
    let Some(seq) = invite_2xx_seq(resp) else {
        return;
    };
    let theirs = match Dialog::from_orphan_2xx(resp) {
        Ok(d) => d,
        Err(e) => {
            debug!("stray 2xx: {e}");
            return;
        }
    };
    let Some(mut act) = env.orphans.decide(Instant::now(), theirs, live) else {
        debug!("a 2xx for no call of ours dropped");
        return;
    };
    let env = env.clone();
    tokio::spawn(async move {
        let hops = next_hops(&env, act.transport, &act.dialog).await;
        let Some(&first) = hops.first() else {
            debug!("stray 2xx: no route to ACK it");
            return;
        };
        let mut via = env.endpoint.via_for(&first);
        via.params.set("branch", Some(&branch()));
        let mut ack = act.dialog.create_ack(seq, via);
        add_credentials(&mut ack, seq, &act.credentials);
        if let Err(e) = env
            .endpoint
            .send_stateless(Message::Request(ack), first)
            .await
        {
            debug!("stray 2xx: ACK: {e}");
        }
        if act.bye {
            info!("a second fork answered our call; releasing it");
            let via = env.endpoint.via_for(&first);
            let Ok(bye) = act.dialog.create_request(Method::Bye, via) else {
                return;
            };
            match env.endpoint.request(bye, hops).await {
                Ok(r) => debug!(status = r.status.as_u16(), "fork released"),
                Err(e) => debug!("a fork's BYE: {e}"),
            }
        }
    });
}

/// The CSeq number of `resp` when it is a 2xx to an INVITE: the only
/// responses that need an ACK of their own.
pub(crate) fn invite_2xx_seq(resp: &Response) -> Option<u32> {
    let cseq = resp.headers.cseq().ok().flatten()?;
    (resp.status.is_success() && cseq.method == Method::Invite).then_some(cseq.seq)
}

/// Where the dialog's requests go (§12.2.1.1).
async fn next_hops(env: &CallEnv, transport: store::Transport, d: &Dialog) -> Vec<Target> {
    let Some(dest) = crate::registration::destination(d.next_hop(), transport) else {
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

    fn parse(text: &str) -> Response {
        match sip_message::parse(text.replace('\n', "\r\n").as_bytes()) {
            Ok(Message::Response(r)) => r,
            e => panic!("{e:?}"),
        }
    }

    /// A 2xx to our INVITE (From tag `ours`) from the dialog tagged
    /// `theirs`, whose Contact is `contact`.
    fn ok(call: &str, ours: &str, theirs: &str, contact: &str) -> Dialog {
        let r = parse(&format!(
            "SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx
From: <sip:alice@127.0.0.1>;tag={ours}
To: <sip:bob@127.0.0.1>;tag={theirs}
Call-ID: {call}
CSeq: 1 INVITE
Contact: <{contact}>
Content-Length: 0

"
        ));
        Dialog::from_orphan_2xx(&r).unwrap()
    }

    fn memo(dialog: Option<Dialog>, placed: Option<&str>) -> CallMemo {
        CallMemo {
            dialog,
            placed_tag: placed.map(str::to_owned),
            credentials: vec![(1, vec![("Authorization".into(), "Digest x".into())])],
            transport: UDP,
        }
    }

    fn decide(
        o: &Orphans,
        t: Instant,
        d: Dialog,
        live: Option<&CallMemo>,
    ) -> Option<(bool, String)> {
        o.decide(t, d, live)
            .map(|a| (a.bye, a.dialog.remote_target().to_string()))
    }

    #[test]
    fn a_late_2xx_in_our_ended_dialog_is_acked_along_it() {
        let o = Orphans::default();
        let t = Instant::now();
        let ours = ok("c1", "us", "a", "sip:bob@192.0.2.1");
        o.call_ended(t, "c1", memo(Some(ours), None));
        // Pointing elsewhere changes nothing: the ACK follows our dialog,
        // with the INVITE's credentials, and no BYE (it had one).
        let late = ok("c1", "us", "a", "sip:evil@198.51.100.1");
        let act = o.decide(t, late.clone(), None).unwrap();
        assert!(!act.bye);
        assert_eq!(act.dialog.remote_target().to_string(), "sip:bob@192.0.2.1");
        assert_eq!(
            act.credentials,
            [(1, vec![("Authorization".into(), "Digest x".into())])]
        );
        assert_eq!(
            decide(&o, t, late, None),
            Some((false, "sip:bob@192.0.2.1".into()))
        );
    }

    #[test]
    fn a_fork_of_a_call_we_placed_gets_one_bye_then_acks() {
        let o = Orphans::default();
        let t = Instant::now();
        let a = ok("c1", "us", "a", "sip:a@192.0.2.1");
        o.call_ended(t, "c1", memo(Some(a), Some("us")));
        let b = ok("c1", "us", "b", "sip:b@192.0.2.2");
        assert_eq!(
            decide(&o, t, b.clone(), None),
            Some((true, "sip:b@192.0.2.2".into()))
        );
        assert_eq!(
            decide(&o, t, b, None),
            Some((false, "sip:b@192.0.2.2".into()))
        );
        // A fork of a call that is up.
        let live = memo(None, Some("me"));
        let x = ok("c2", "me", "x", "sip:x@192.0.2.3");
        assert_eq!(
            decide(&o, t, x.clone(), Some(&live)),
            Some((true, "sip:x@192.0.2.3".into()))
        );
        assert_eq!(
            decide(&o, t, x, Some(&live)),
            Some((false, "sip:x@192.0.2.3".into()))
        );
        // A placed call that ended unanswered: a late 2xx is a dialog to end.
        o.call_ended(t, "c3", memo(None, Some("us")));
        assert_eq!(
            decide(&o, t, ok("c3", "us", "y", "sip:y@192.0.2.4"), None).map(|d| d.0),
            Some(true)
        );
    }

    #[test]
    fn forged_answers_get_nothing() {
        let o = Orphans::default();
        let t = Instant::now();
        // Unknown Call-ID.
        assert_eq!(
            decide(&o, t, ok("forged", "us", "z", "sip:e@198.51.100.1"), None),
            None
        );
        // A call we answered: no forks, only its own dialog.
        let ours = ok("c1", "mine", "peer", "sip:bob@192.0.2.1");
        o.call_ended(t, "c1", memo(Some(ours), None));
        assert_eq!(
            decide(&o, t, ok("c1", "mine", "other", "sip:e@198.51.100.1"), None),
            None
        );
        // A call we placed, but not our From tag.
        o.call_ended(t, "c2", memo(None, Some("us")));
        assert_eq!(
            decide(&o, t, ok("c2", "notus", "f", "sip:e@198.51.100.1"), None),
            None
        );
        // Invented To tags: four forks get a BYE, then nothing.
        let byes = (0..10)
            .filter_map(|i| {
                decide(
                    &o,
                    t,
                    ok("c2", "us", &format!("f{i}"), "sip:e@198.51.100.1"),
                    None,
                )
            })
            .count();
        assert_eq!(byes, MAX_FORKS);
        // Too late.
        let later = t + MEMORY + Duration::from_secs(1);
        assert_eq!(
            decide(&o, later, ok("c2", "us", "g", "sip:e@198.51.100.1"), None),
            None
        );
    }

    #[test]
    fn memory_is_bounded() {
        let o = Orphans::default();
        let t = Instant::now();
        for i in 0..(MAX_ENTRIES * 3) {
            let now = t + Duration::from_millis(i as u64);
            let call = format!("c{i}");
            o.call_ended(now, &call, memo(None, Some("us")));
            let _ = o.decide(now, ok(&call, "us", "f", "sip:f@192.0.2.1"), None);
        }
        let m = o.lock();
        assert!(m.ended.len() <= MAX_ENTRIES && m.settled.len() <= MAX_ENTRIES);
        // The newest calls are the ones kept.
        assert!(m.ended.contains_key(&format!("c{}", MAX_ENTRIES * 3 - 1)));
    }

    #[test]
    fn an_ack_repeats_the_invites_credentials() {
        let mut req = Request::new(Method::Invite, "sip:bob@127.0.0.1".parse().unwrap());
        req.headers.push("Proxy-Authorization", "Digest p").unwrap();
        req.headers.push("Authorization", "Digest a").unwrap();
        let creds = credentials(&req);
        assert_eq!(creds.len(), 2);
        let mut ack = Request::new(Method::Ack, "sip:bob@127.0.0.1".parse().unwrap());
        add_credentials(&mut ack, 7, &[(6, creds.clone())]);
        assert!(!ack.headers.contains("Authorization"), "another INVITE's");
        add_credentials(&mut ack, 6, &[(6, creds)]);
        assert_eq!(ack.headers.get("Authorization"), Some("Digest a"));
        assert_eq!(ack.headers.get("Proxy-Authorization"), Some("Digest p"));
    }
}

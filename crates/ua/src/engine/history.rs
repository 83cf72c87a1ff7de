//! Call history: every ended call is written to the store.

use store::db::{CallOutcome, CallRecord, CallRecordId, Direction};
use store::{Db, DbError};
use tokio::sync::broadcast;
use tracing::{debug, warn};

use super::{Engine, EngineError, Task};
use crate::api::{CallDirection, CallEnd, CallInfo, Event};
use crate::history::{HistoryChange, HistoryEntry, HistoryError, HistoryFilter};

/// Most records one page may hold (the store caps it too).
const MAX_PAGE: u32 = 500;

/// The history record of a call that ended at `ended` (unix ms).
pub(super) fn record(info: &CallInfo, end: &CallEnd, ended: i64) -> CallRecord {
    let incoming = info.direction == CallDirection::Incoming;
    let outcome = match end {
        CallEnd::HungUp { .. } | CallEnd::Transferred => CallOutcome::Answered,
        CallEnd::Cancelled => CallOutcome::Cancelled,
        CallEnd::Missed if incoming => CallOutcome::Missed,
        CallEnd::Missed => CallOutcome::Failed {
            status: None,
            reason: "not answered".to_owned(),
        },
        CallEnd::Rejected {
            status: 486 | 600, ..
        } => CallOutcome::Busy,
        CallEnd::Rejected { .. } => CallOutcome::Rejected,
        CallEnd::Failed { status, reason } => CallOutcome::Failed {
            status: *status,
            reason: reason.clone(),
        },
    };
    CallRecord {
        account: info.account.clone(),
        direction: if incoming {
            Direction::In
        } else {
            Direction::Out
        },
        peer_uri: info.peer_uri.clone(),
        peer_name: info.peer_name.clone(),
        started: info.started_ms,
        answered: info.answered_ms,
        // A clock step backwards must not lose the record.
        ended: ended.max(info.started_ms),
        outcome,
    }
}

impl Task {
    /// Writes an ended call to the history, off the engine task.
    pub(super) fn record_call(&self, info: &CallInfo, end: &CallEnd) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let rec = record(info, end, now);
        let store = self.chat.outbox.store.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let r = store
                .with(move |db| {
                    let id = db.record_call(&rec)?;
                    Ok((db.call(id)?, db.unseen_missed_calls()?))
                })
                .await;
            match r {
                Ok((stored, unseen_missed)) => publish(
                    &events,
                    HistoryChange::Recorded {
                        entry: stored.into(),
                    },
                    unseen_missed,
                ),
                Err(e) => warn!("cannot write the call history: {e}"),
            }
        });
    }
}

fn publish(events: &broadcast::Sender<Event>, change: HistoryChange, unseen_missed: u32) {
    // No subscriber is fine: the UI reloads the list when it opens.
    let _ = events.send(Event::HistoryChanged {
        change,
        unseen_missed,
    });
}

impl Engine {
    /// A page of the call history, newest first: up to `limit` calls older
    /// than call `before` (the newest when `None`).
    pub async fn call_history(
        &self,
        filter: HistoryFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, EngineError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let calls = self
            .store
            .with(move |db| db.calls(filter.into(), before.map(CallRecordId), limit))
            .await
            .map_err(HistoryError::from)?;
        Ok(calls.into_iter().map(Into::into).collect())
    }

    /// Missed calls the user has not seen yet (the badge).
    pub async fn unseen_missed_calls(&self) -> Result<u32, EngineError> {
        let n = self.store.with(|db| db.unseen_missed_calls()).await;
        Ok(n.map_err(HistoryError::from)?)
    }

    /// Deletes call record `id`.
    pub async fn delete_call_record(&self, id: i64) -> Result<(), EngineError> {
        self.change_history(HistoryChange::Deleted { id }, move |db| {
            db.delete_call(CallRecordId(id)).map(drop)
        })
        .await?;
        Ok(())
    }

    /// Deletes the whole call history; returns how many records went.
    pub async fn clear_call_history(&self) -> Result<u64, EngineError> {
        self.change_history(HistoryChange::Cleared, Db::delete_all_calls)
            .await
    }

    /// Marks every missed call seen (the user looked at the history);
    /// returns how many were unseen.
    pub async fn mark_missed_calls_seen(&self) -> Result<u64, EngineError> {
        let n = self
            .change_history(HistoryChange::Seen, Db::mark_missed_seen)
            .await?;
        debug!(n, "missed calls marked seen");
        Ok(n)
    }

    /// Runs a change on the store and reports it with the new badge count,
    /// read in the same store call so the two agree.
    async fn change_history<T: Send + 'static>(
        &self,
        change: HistoryChange,
        f: impl FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let (out, unseen_missed) = self
            .store
            .with(move |db| {
                let out = f(db)?;
                Ok((out, db.unseen_missed_calls()?))
            })
            .await
            .map_err(HistoryError::from)?;
        publish(&self.events, change, unseen_missed);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CallState;
    use crate::call::AudioChoice;
    use crate::engine::{EngineOptions, SipOptions, LOCAL_ACCOUNT};
    use crate::history::HistoryOutcome;
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;
    use std::time::Duration;
    use store::Paths;

    fn engine(dir: &std::path::Path) -> Engine {
        Engine::start(EngineOptions {
            paths: Paths {
                config_dir: dir.join("config"),
                data_dir: dir.join("data"),
            },
            secrets: Arc::new(store::MemorySecrets::default()),
            sip: SipOptions {
                bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                ..SipOptions::default()
            },
            auto_register: false,
            auto_answer: false,
            dnd: false,
            call_audio: AudioChoice::Null,
        })
        .unwrap()
    }

    /// The next history event, skipping others.
    async fn next_change(rx: &mut broadcast::Receiver<Event>) -> (HistoryChange, u32) {
        let wait = async {
            loop {
                if let Event::HistoryChanged {
                    change,
                    unseen_missed,
                } = rx.recv().await.unwrap()
                {
                    return (change, unseen_missed);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("no history event")
    }

    fn stored(direction: Direction, outcome: CallOutcome, started: i64) -> CallRecord {
        CallRecord {
            account: "work".into(),
            direction,
            peer_uri: format!("sip:peer{started}@example.com"),
            peer_name: None,
            started,
            answered: (outcome == CallOutcome::Answered).then_some(started),
            ended: started + 1000,
            outcome,
        }
    }

    #[tokio::test]
    async fn history_commands_change_the_store_and_report_the_badge() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<i64> = {
            let mut db = Db::open(&dir.path().join("data/parley.sqlite")).unwrap();
            [
                stored(Direction::Out, CallOutcome::Answered, 1000),
                stored(Direction::In, CallOutcome::Missed, 2000),
                stored(Direction::In, CallOutcome::Missed, 3000),
            ]
            .iter()
            .map(|c| db.record_call(c).unwrap().0)
            .collect()
        };
        let e = engine(dir.path());
        let mut rx = e.subscribe();

        let all = e.call_history(HistoryFilter::All, None, 50).await.unwrap();
        let got: Vec<i64> = all.iter().map(|c| c.id).collect();
        assert_eq!(got, [ids[2], ids[1], ids[0]]);
        assert_eq!(all[2].direction, CallDirection::Outgoing);
        let page = e
            .call_history(HistoryFilter::All, Some(ids[2]), 1)
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].id, ids[1]);
        let missed = e
            .call_history(HistoryFilter::Missed, None, 50)
            .await
            .unwrap();
        assert!(missed
            .iter()
            .all(|c| c.outcome == HistoryOutcome::Missed && !c.seen));
        assert_eq!(missed.len(), 2);
        assert_eq!(e.unseen_missed_calls().await.unwrap(), 2);

        assert_eq!(e.mark_missed_calls_seen().await.unwrap(), 2);
        assert_eq!(next_change(&mut rx).await, (HistoryChange::Seen, 0));
        assert_eq!(e.unseen_missed_calls().await.unwrap(), 0);

        e.delete_call_record(ids[0]).await.unwrap();
        assert_eq!(
            next_change(&mut rx).await,
            (HistoryChange::Deleted { id: ids[0] }, 0)
        );
        assert!(matches!(
            e.delete_call_record(ids[0]).await,
            Err(EngineError::History(HistoryError::Store(
                DbError::NotFound { .. }
            )))
        ));
        assert_eq!(e.clear_call_history().await.unwrap(), 2);
        assert_eq!(next_change(&mut rx).await, (HistoryChange::Cleared, 0));
        assert!(e
            .call_history(HistoryFilter::All, None, 50)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn a_call_the_caller_gives_up_is_missed_on_one_side_and_cancelled_on_the_other() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (engine(da.path()), engine(db.path()));
        let b_addr = b.listen().await.unwrap();
        let (mut ra, mut rb) = (a.subscribe(), b.subscribe());
        let id = a
            .call(LOCAL_ACCOUNT, &format!("sip:parley@{b_addr}"))
            .await
            .unwrap();
        let ringing = async {
            loop {
                if let Event::IncomingCall { .. } = rb.recv().await.unwrap() {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), ringing)
            .await
            .expect("the call never rang");
        a.hangup(id).await.unwrap();

        let (change, unseen) = next_change(&mut rb).await;
        let HistoryChange::Recorded { entry } = change else {
            panic!("{change:?}");
        };
        assert_eq!(
            (entry.direction, entry.outcome, entry.seen, unseen),
            (CallDirection::Incoming, HistoryOutcome::Missed, false, 1)
        );
        let (change, unseen) = next_change(&mut ra).await;
        let HistoryChange::Recorded { entry } = change else {
            panic!("{change:?}");
        };
        assert_eq!(
            (entry.direction, entry.outcome, unseen),
            (CallDirection::Outgoing, HistoryOutcome::Cancelled, 0)
        );
        assert_eq!(entry.peer_uri, format!("sip:parley@{b_addr}"));
        assert_eq!(b.unseen_missed_calls().await.unwrap(), 1);
    }

    fn info(direction: CallDirection) -> CallInfo {
        CallInfo {
            id: 1,
            account: "work".into(),
            direction,
            peer_uri: "sip:bob@127.0.0.1".into(),
            peer_name: Some("Bob".into()),
            state: CallState::Ended,
            held_by_us: false,
            held_by_peer: false,
            muted: false,
            codec: None,
            started_ms: 1000,
            answered_ms: None,
            conference: None,
            recording: None,
        }
    }

    #[test]
    fn call_ends_map_to_history_outcomes() {
        let inc = info(CallDirection::Incoming);
        let out = info(CallDirection::Outgoing);
        assert_eq!(
            record(&inc, &CallEnd::Missed, 2000).outcome,
            CallOutcome::Missed
        );
        assert!(matches!(
            record(&out, &CallEnd::Missed, 2000).outcome,
            CallOutcome::Failed { status: None, .. }
        ));
        let busy = CallEnd::Rejected {
            status: 486,
            reason: "Busy Here".into(),
        };
        assert_eq!(record(&out, &busy, 2000).outcome, CallOutcome::Busy);
        let declined = CallEnd::Rejected {
            status: 603,
            reason: "Decline".into(),
        };
        assert_eq!(record(&inc, &declined, 2000).outcome, CallOutcome::Rejected);
        let r = record(&out, &CallEnd::HungUp { by_us: true }, 500);
        assert_eq!(r.outcome, CallOutcome::Answered);
        assert_eq!((r.direction, r.ended), (Direction::Out, 1000));
    }
}

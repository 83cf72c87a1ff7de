//! Call history: every ended call is written to the store.

use store::db::{CallOutcome, CallRecord, Direction};
use tracing::warn;

use super::Task;
use crate::api::{CallDirection, CallEnd, CallInfo};

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
        tokio::spawn(async move {
            if let Err(e) = store.with(move |db| db.record_call(&rec)).await {
                warn!("cannot write the call history: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CallState;

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

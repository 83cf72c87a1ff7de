//! Call history as the UI and the CLI see it: the types that cross the
//! IPC boundary and the errors of the history commands. The commands are
//! [`crate::Engine`] methods (`engine/history.rs`).

use serde::{Deserialize, Serialize};
use store::db::{CallFilter, CallOutcome, Direction, StoredCall};
use store::DbError;
use ts_rs::TS;

use crate::api::CallDirection;

/// Errors of the call history commands.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The store failed (or has no such record).
    #[error(transparent)]
    Store(#[from] DbError),
}

/// Which calls to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum HistoryFilter {
    /// Every call.
    All,
    /// Missed incoming calls only.
    Missed,
}

impl From<HistoryFilter> for CallFilter {
    fn from(f: HistoryFilter) -> Self {
        match f {
            HistoryFilter::All => Self::All,
            HistoryFilter::Missed => Self::Missed,
        }
    }
}

/// How a call in the history ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum HistoryOutcome {
    /// Answered, then hung up.
    Answered,
    /// Incoming, and the caller gave up before anyone answered.
    Missed,
    /// Incoming, declined here.
    Rejected,
    /// Busy (486 / 600).
    Busy,
    /// Failed.
    Failed {
        /// The SIP status, when a response said so.
        status: Option<u16>,
        /// What the user sees.
        reason: String,
    },
    /// Cancelled before an answer.
    Cancelled,
}

impl From<CallOutcome> for HistoryOutcome {
    fn from(o: CallOutcome) -> Self {
        match o {
            CallOutcome::Answered => Self::Answered,
            CallOutcome::Missed => Self::Missed,
            CallOutcome::Rejected => Self::Rejected,
            CallOutcome::Busy => Self::Busy,
            CallOutcome::Failed { status, reason } => Self::Failed { status, reason },
            CallOutcome::Cancelled => Self::Cancelled,
        }
    }
}

/// One call in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HistoryEntry {
    /// Its id (stable; the paging cursor).
    #[ts(type = "number")]
    pub id: i64,
    /// The account.
    pub account: String,
    /// Which way.
    pub direction: CallDirection,
    /// The peer's address.
    pub peer_uri: String,
    /// The peer's display name, when it sent one.
    pub peer_name: Option<String>,
    /// Unix ms when the call started.
    #[ts(type = "number")]
    pub started_ms: i64,
    /// Unix ms when it was answered.
    #[ts(type = "number | null")]
    pub answered_ms: Option<i64>,
    /// Unix ms when it ended.
    #[ts(type = "number")]
    pub ended_ms: i64,
    /// How it ended.
    pub outcome: HistoryOutcome,
    /// False for a missed call the user has not looked at yet.
    pub seen: bool,
}

impl From<StoredCall> for HistoryEntry {
    fn from(c: StoredCall) -> Self {
        let r = c.record;
        Self {
            id: c.id.0,
            account: r.account,
            direction: match r.direction {
                Direction::In => CallDirection::Incoming,
                Direction::Out => CallDirection::Outgoing,
            },
            peer_uri: r.peer_uri,
            peer_name: r.peer_name,
            started_ms: r.started,
            answered_ms: r.answered,
            ended_ms: r.ended,
            outcome: r.outcome.into(),
            seen: c.seen,
        }
    }
}

/// What changed in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "change", rename_all = "snake_case")]
#[ts(export)]
pub enum HistoryChange {
    /// A call ended and was recorded.
    Recorded {
        /// The new record.
        entry: HistoryEntry,
    },
    /// One record was deleted.
    Deleted {
        /// Its id.
        #[ts(type = "number")]
        id: i64,
    },
    /// The whole history was cleared.
    Cleared,
    /// Every missed call was marked seen.
    Seen,
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::db::{CallRecord, CallRecordId};

    #[test]
    fn stored_calls_become_entries() {
        let stored = StoredCall {
            id: CallRecordId(7),
            seen: false,
            record: CallRecord {
                account: "work".into(),
                direction: Direction::In,
                peer_uri: "sip:bob@example.com".into(),
                peer_name: None,
                started: 10,
                answered: None,
                ended: 20,
                outcome: CallOutcome::Missed,
            },
        };
        let e = HistoryEntry::from(stored);
        assert_eq!(
            (e.id, e.direction, e.outcome, e.seen, e.ended_ms),
            (
                7,
                CallDirection::Incoming,
                HistoryOutcome::Missed,
                false,
                20
            )
        );
        let json = serde_json::to_value(HistoryChange::Deleted { id: 7 }).unwrap();
        assert_eq!(json, serde_json::json!({"change": "deleted", "id": 7}));
        let failed = HistoryOutcome::from(CallOutcome::Failed {
            status: Some(404),
            reason: "Not Found".into(),
        });
        assert_eq!(
            serde_json::to_value(failed).unwrap(),
            serde_json::json!({"kind": "failed", "status": 404, "reason": "Not Found"})
        );
    }
}

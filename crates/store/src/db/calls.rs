//! Call history: one record per finished call, and the missed-call badge.

use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

use super::{check_text, page_limit, Db, DbError, Direction};

/// Longest account, URI, name or reason kept (bytes).
const MAX_FIELD: usize = 2048;

/// A call record's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallRecordId(pub i64);

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallOutcome {
    /// Answered (by either side) and later hung up.
    Answered,
    /// Incoming, rang, and the caller gave up before anyone answered.
    Missed,
    /// Incoming, declined by the user (603 / 486 by hand).
    Rejected,
    /// The callee or we were busy (486 / 600).
    Busy,
    /// Failed with a final response or without one.
    Failed {
        /// The status code, `None` when no response came.
        status: Option<u16>,
        /// The reason shown.
        reason: String,
    },
    /// Outgoing cancelled by us, or incoming cancelled because it was
    /// answered elsewhere.
    Cancelled,
}

impl CallOutcome {
    fn tag(&self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Missed => "missed",
            Self::Rejected => "rejected",
            Self::Busy => "busy",
            Self::Failed { .. } => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A finished call, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The account name.
    pub account: String,
    /// Who called.
    pub direction: Direction,
    /// The other party's URI.
    pub peer_uri: String,
    /// The other party's display name, if one came.
    pub peer_name: Option<String>,
    /// When the call started (INVITE sent or received), unix milliseconds.
    pub started: i64,
    /// When it was answered, if it was.
    pub answered: Option<i64>,
    /// When it ended.
    pub ended: i64,
    /// How it ended.
    pub outcome: CallOutcome,
}

/// A stored call record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCall {
    /// Its id.
    pub id: CallRecordId,
    /// For missed calls: the user has seen it (the badge no longer counts it).
    pub seen: bool,
    /// The call.
    #[serde(flatten)]
    pub record: CallRecord,
}

/// Which calls to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallFilter {
    /// Every call.
    All,
    /// Missed calls only.
    Missed,
}

impl CallRecord {
    fn validate(&self) -> Result<(), DbError> {
        check_text("account", &self.account, MAX_FIELD)?;
        check_text("peer_uri", &self.peer_uri, MAX_FIELD)?;
        if self.account.is_empty() {
            return Err(DbError::Invalid {
                field: "account",
                problem: "is empty",
            });
        }
        if self.peer_uri.is_empty() {
            return Err(DbError::Invalid {
                field: "peer_uri",
                problem: "is empty",
            });
        }
        if let Some(name) = &self.peer_name {
            check_text("peer_name", name, MAX_FIELD)?;
        }
        if self.ended < self.started {
            return Err(DbError::Invalid {
                field: "ended",
                problem: "is before started",
            });
        }
        if let Some(answered) = self.answered {
            if answered < self.started || answered > self.ended {
                return Err(DbError::Invalid {
                    field: "answered",
                    problem: "is outside the call",
                });
            }
        }
        match &self.outcome {
            CallOutcome::Missed | CallOutcome::Rejected if self.direction == Direction::Out => {
                Err(DbError::Invalid {
                    field: "outcome",
                    problem: "missed and rejected are for incoming calls",
                })
            }
            CallOutcome::Answered if self.answered.is_none() => Err(DbError::Invalid {
                field: "answered",
                problem: "is missing for an answered call",
            }),
            CallOutcome::Failed { status, reason } => {
                if status.is_some_and(|s| !(100..=699).contains(&s)) {
                    return Err(DbError::Invalid {
                        field: "status",
                        problem: "is not a SIP status code",
                    });
                }
                check_text("reason", reason, MAX_FIELD)
            }
            _ => Ok(()),
        }
    }
}

fn call_from_row(r: &Row<'_>) -> rusqlite::Result<Result<StoredCall, DbError>> {
    let tag: String = r.get(8)?;
    let status: Option<i64> = r.get(9)?;
    let reason: Option<String> = r.get(10)?;
    let outcome = match tag.as_str() {
        "answered" => CallOutcome::Answered,
        "missed" => CallOutcome::Missed,
        "rejected" => CallOutcome::Rejected,
        "busy" => CallOutcome::Busy,
        "cancelled" => CallOutcome::Cancelled,
        "failed" => match status.map(u16::try_from).transpose() {
            Ok(status) => CallOutcome::Failed {
                status,
                reason: reason.unwrap_or_default(),
            },
            Err(_) => {
                return Ok(Err(DbError::BadValue {
                    column: "fail_status",
                }))
            }
        },
        _ => return Ok(Err(DbError::BadValue { column: "outcome" })),
    };
    Ok(Ok(StoredCall {
        id: CallRecordId(r.get(0)?),
        seen: r.get(11)?,
        record: CallRecord {
            account: r.get(1)?,
            direction: Direction::from_outgoing(r.get(2)?),
            peer_uri: r.get(3)?,
            peer_name: r.get(4)?,
            started: r.get(5)?,
            answered: r.get(6)?,
            ended: r.get(7)?,
            outcome,
        },
    }))
}

impl Db {
    /// Stores a finished call. A missed call starts unseen.
    pub fn record_call(&mut self, call: &CallRecord) -> Result<CallRecordId, DbError> {
        call.validate()?;
        let (status, reason) = match &call.outcome {
            CallOutcome::Failed { status, reason } => (*status, Some(reason.as_str())),
            _ => (None, None),
        };
        self.conn
            .prepare_cached(
                "INSERT INTO calls (account, outgoing, peer_uri, peer_name, started, answered,
                                    ended, outcome, fail_status, fail_reason, seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                call.account,
                call.direction == Direction::Out,
                call.peer_uri,
                call.peer_name,
                call.started,
                call.answered,
                call.ended,
                call.outcome.tag(),
                status,
                reason,
                call.outcome != CallOutcome::Missed,
            ])?;
        Ok(CallRecordId(self.conn.last_insert_rowid()))
    }

    /// A page of call history, newest first: up to `limit` (at most 1000)
    /// records older than `before` (all when `None`).
    pub fn calls(
        &self,
        filter: CallFilter,
        before: Option<CallRecordId>,
        limit: u32,
    ) -> Result<Vec<StoredCall>, DbError> {
        let only_missed = match filter {
            CallFilter::All => "",
            CallFilter::Missed => "AND outcome = 'missed'",
        };
        let sql = format!(
            "SELECT id, account, outgoing, peer_uri, peer_name, started, answered, ended,
                    outcome, fail_status, fail_reason, seen
             FROM calls WHERE id < ?1 {only_missed} ORDER BY id DESC LIMIT ?2"
        );
        let before = before.map_or(i64::MAX, |b| b.0);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![before, page_limit(limit)], call_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// One stored record.
    pub fn call(&self, id: CallRecordId) -> Result<StoredCall, DbError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, account, outgoing, peer_uri, peer_name, started, answered, ended,
                    outcome, fail_status, fail_reason, seen
             FROM calls WHERE id = ?1",
        )?;
        let mut rows = stmt.query_map([id.0], call_from_row)?;
        match rows.next() {
            Some(row) => row?,
            None => Err(DbError::NotFound {
                what: "call record",
                id: id.0,
            }),
        }
    }

    /// How many missed calls the user has not seen: the badge.
    pub fn unseen_missed_calls(&self) -> Result<u32, DbError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM calls WHERE seen = 0")?
            .query_row([], |r| r.get(0))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Marks every missed call seen (the user opened the list); returns how
    /// many were unseen.
    pub fn mark_missed_seen(&mut self) -> Result<u64, DbError> {
        let n = self
            .conn
            .prepare_cached("UPDATE calls SET seen = 1 WHERE seen = 0")?
            .execute([])?;
        Ok(n as u64)
    }

    /// Deletes one record.
    pub fn delete_call(&mut self, id: CallRecordId) -> Result<(), DbError> {
        let n = self
            .conn
            .execute("DELETE FROM calls WHERE id = ?1", [id.0])?;
        if n == 0 {
            return Err(DbError::NotFound {
                what: "call record",
                id: id.0,
            });
        }
        Ok(())
    }

    /// Clears the whole call history; returns how many records went.
    pub fn delete_all_calls(&mut self) -> Result<u64, DbError> {
        Ok(self.conn.execute("DELETE FROM calls", [])? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(direction: Direction, outcome: CallOutcome, started: i64) -> CallRecord {
        let answered = (outcome == CallOutcome::Answered).then_some(started + 5_000);
        CallRecord {
            account: "work".into(),
            direction,
            peer_uri: "sip:bob@example.com".into(),
            peer_name: Some("Bob".into()),
            started,
            answered,
            ended: started + 60_000,
            outcome,
        }
    }

    #[test]
    fn every_outcome_round_trips() {
        let mut db = Db::open_in_memory().unwrap();
        let outcomes = [
            (Direction::Out, CallOutcome::Answered),
            (Direction::In, CallOutcome::Missed),
            (Direction::In, CallOutcome::Rejected),
            (Direction::Out, CallOutcome::Busy),
            (
                Direction::Out,
                CallOutcome::Failed {
                    status: Some(404),
                    reason: "Not Found".into(),
                },
            ),
            (
                Direction::Out,
                CallOutcome::Failed {
                    status: None,
                    reason: "no response".into(),
                },
            ),
            (Direction::In, CallOutcome::Cancelled),
        ];
        let mut ids = Vec::new();
        for (i, (dir, outcome)) in outcomes.iter().enumerate() {
            ids.push(
                db.record_call(&call(*dir, outcome.clone(), i as i64 * 1000))
                    .unwrap(),
            );
        }
        let listed = db.calls(CallFilter::All, None, 100).unwrap();
        assert_eq!(listed.len(), outcomes.len());
        // Newest first.
        for (stored, (i, (dir, outcome))) in listed.iter().rev().zip(outcomes.iter().enumerate()) {
            assert_eq!(stored.id, ids[i]);
            assert_eq!(stored.record, call(*dir, outcome.clone(), i as i64 * 1000));
            assert_eq!(stored.seen, *outcome != CallOutcome::Missed);
        }
        let json = serde_json::to_string(&listed).unwrap();
        let back: Vec<StoredCall> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, listed);
    }

    #[test]
    fn missed_badge_and_filter() {
        let mut db = Db::open_in_memory().unwrap();
        db.record_call(&call(Direction::In, CallOutcome::Answered, 1))
            .unwrap();
        let m1 = db
            .record_call(&call(Direction::In, CallOutcome::Missed, 2))
            .unwrap();
        let m2 = db
            .record_call(&call(Direction::In, CallOutcome::Missed, 3))
            .unwrap();
        assert_eq!(db.unseen_missed_calls().unwrap(), 2);
        let missed: Vec<_> = db
            .calls(CallFilter::Missed, None, 10)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(missed, [m2, m1]);
        assert_eq!(db.mark_missed_seen().unwrap(), 2);
        assert_eq!(db.unseen_missed_calls().unwrap(), 0);
        assert!(db
            .calls(CallFilter::Missed, None, 10)
            .unwrap()
            .iter()
            .all(|c| c.seen));
        db.record_call(&call(Direction::In, CallOutcome::Missed, 4))
            .unwrap();
        assert_eq!(db.unseen_missed_calls().unwrap(), 1);
    }

    #[test]
    fn paging_and_deleting() {
        let mut db = Db::open_in_memory().unwrap();
        let ids: Vec<_> = (0..7)
            .map(|i| {
                db.record_call(&call(Direction::Out, CallOutcome::Cancelled, i))
                    .unwrap()
            })
            .collect();
        let first = db.calls(CallFilter::All, None, 3).unwrap();
        let second = db.calls(CallFilter::All, Some(first[2].id), 3).unwrap();
        let got: Vec<_> = first.iter().chain(&second).map(|c| c.id).collect();
        assert_eq!(got, ids.iter().rev().take(6).copied().collect::<Vec<_>>());

        let one = db.call(ids[3]).unwrap();
        assert_eq!(one.id, ids[3]);
        assert_eq!(one.record, call(Direction::Out, CallOutcome::Cancelled, 3));
        db.delete_call(ids[0]).unwrap();
        assert!(matches!(
            db.call(ids[0]),
            Err(DbError::NotFound {
                what: "call record",
                ..
            })
        ));
        assert!(matches!(
            db.delete_call(ids[0]),
            Err(DbError::NotFound {
                what: "call record",
                ..
            })
        ));
        assert_eq!(db.calls(CallFilter::All, None, 100).unwrap().len(), 6);
        assert_eq!(db.delete_all_calls().unwrap(), 6);
        assert!(db.calls(CallFilter::All, None, 100).unwrap().is_empty());
    }

    #[test]
    fn inconsistent_records_are_refused() {
        let mut db = Db::open_in_memory().unwrap();
        let mut c = call(Direction::In, CallOutcome::Answered, 100);
        c.ended = 50;
        assert!(matches!(
            db.record_call(&c),
            Err(DbError::Invalid { field: "ended", .. })
        ));
        let mut c = call(Direction::In, CallOutcome::Answered, 100);
        c.answered = Some(10);
        assert!(matches!(
            db.record_call(&c),
            Err(DbError::Invalid {
                field: "answered",
                ..
            })
        ));
        let mut c = call(Direction::In, CallOutcome::Answered, 100);
        c.answered = None;
        assert!(matches!(
            db.record_call(&c),
            Err(DbError::Invalid {
                field: "answered",
                ..
            })
        ));
        let c = call(Direction::Out, CallOutcome::Missed, 100);
        assert!(matches!(
            db.record_call(&c),
            Err(DbError::Invalid {
                field: "outcome",
                ..
            })
        ));
        let c = call(
            Direction::Out,
            CallOutcome::Failed {
                status: Some(1000),
                reason: String::new(),
            },
            1,
        );
        assert!(matches!(
            db.record_call(&c),
            Err(DbError::Invalid {
                field: "status",
                ..
            })
        ));
        let mut c = call(Direction::Out, CallOutcome::Busy, 1);
        c.peer_uri.clear();
        assert!(matches!(
            db.record_call(&c),
            Err(DbError::Invalid {
                field: "peer_uri",
                ..
            })
        ));
        assert!(db.calls(CallFilter::All, None, 10).unwrap().is_empty());
    }
}

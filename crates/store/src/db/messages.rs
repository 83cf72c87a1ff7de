//! Chat history: conversations per (account, peer URI), messages with their
//! delivery state, unread counts and full-text search.
//!
//! Peer URIs are stored as given: the engine passes the address of record
//! (no parameters, no display name) so one peer maps to one conversation.

use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};

use super::{check_text, page_limit, Db, DbError, Direction};

/// Longest message text kept (bytes). SIP MESSAGE bodies are far smaller
/// (RFC 3428 §7); this only bounds what a hostile peer can make us store.
const MAX_TEXT: usize = 256 * 1024;
/// Longest account name, peer URI or Call-ID kept (bytes).
const MAX_FIELD: usize = 2048;
/// At most this many words of a search query are used.
const MAX_QUERY_TOKENS: usize = 16;

/// A message's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub i64);

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A conversation's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub i64);

/// Where a message stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageState {
    /// Outgoing, stored, not yet answered by a final response.
    Sending,
    /// Outgoing, a 2xx came back.
    Sent,
    /// Outgoing, the peer confirmed delivery (IMDN or similar).
    Delivered,
    /// Outgoing, refused or timed out.
    Failed {
        /// The final status code, `None` when no response came (timeout,
        /// transport error, not registered).
        status: Option<u16>,
        /// The reason shown to the user.
        reason: String,
    },
    /// Incoming.
    Received,
}

impl MessageState {
    fn tag(&self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed { .. } => "failed",
            Self::Received => "received",
        }
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation: ConversationId,
    /// The account name it was sent or received on.
    pub account: String,
    /// The peer's URI.
    pub peer: String,
    /// Who sent it.
    pub direction: Direction,
    /// The text (UTF-8).
    pub text: String,
    /// When it was sent or received, unix milliseconds.
    pub at: i64,
    /// Delivery state.
    pub state: MessageState,
    /// Incoming and not yet read.
    pub unread: bool,
}

/// A received MESSAGE, as the engine hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingMessage {
    /// The account it arrived on.
    pub account: String,
    /// The sender's URI (From, address of record).
    pub peer: String,
    /// The text.
    pub text: String,
    /// Arrival time, unix milliseconds.
    pub at: i64,
    /// The request's Call-ID, with `cseq` the key that makes a
    /// retransmission a duplicate.
    pub call_id: String,
    /// The request's CSeq number.
    pub cseq: u32,
}

/// What [`Db::insert_incoming`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "id", rename_all = "snake_case")]
pub enum IncomingOutcome {
    /// Stored as a new message.
    New(MessageId),
    /// A retransmission of a message stored earlier under this id.
    Duplicate(MessageId),
}

impl IncomingOutcome {
    /// The message's id either way.
    pub fn id(self) -> MessageId {
        match self {
            Self::New(id) | Self::Duplicate(id) => id,
        }
    }
}

/// A conversation as the chat list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Its id.
    pub id: ConversationId,
    /// The account.
    pub account: String,
    /// The peer's URI.
    pub peer: String,
    /// The newest message, if any.
    pub last: Option<Message>,
    /// How many incoming messages are unread.
    pub unread: u32,
}

/// A search result: the matching message.
pub type SearchHit = Message;

const MESSAGE_COLUMNS: &str = "m.id, m.conversation, c.account, c.peer, m.outgoing, m.body, m.at,
     m.state, m.fail_status, m.fail_reason, m.unread";

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Message, DbError>> {
    message_at(row, 0)
}

/// Reads a message whose [`MESSAGE_COLUMNS`] start at column `o`. The
/// outer error is SQLite's, the inner one a value this build cannot read.
fn message_at(r: &Row<'_>, o: usize) -> rusqlite::Result<Result<Message, DbError>> {
    let state: String = r.get(o + 7)?;
    let status: Option<i64> = r.get(o + 8)?;
    let reason: Option<String> = r.get(o + 9)?;
    let state = match parse_state(&state, status, reason) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Message {
        id: MessageId(r.get(o)?),
        conversation: ConversationId(r.get(o + 1)?),
        account: r.get(o + 2)?,
        peer: r.get(o + 3)?,
        direction: Direction::from_outgoing(r.get(o + 4)?),
        text: r.get(o + 5)?,
        at: r.get(o + 6)?,
        state,
        unread: r.get(o + 10)?,
    }))
}

/// Collects rows whose conversion can fail on either level.
fn collect<T>(
    rows: impl Iterator<Item = rusqlite::Result<Result<T, DbError>>>,
) -> Result<Vec<T>, DbError> {
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

fn check_address(account: &str, peer: &str) -> Result<(), DbError> {
    check_text("account", account, MAX_FIELD)?;
    check_text("peer", peer, MAX_FIELD)?;
    if account.is_empty() {
        return Err(DbError::Invalid {
            field: "account",
            problem: "is empty",
        });
    }
    if peer.is_empty() {
        return Err(DbError::Invalid {
            field: "peer",
            problem: "is empty",
        });
    }
    Ok(())
}

/// The conversation's id, creating it on first use.
fn conversation_id(tx: &Transaction<'_>, account: &str, peer: &str) -> Result<i64, DbError> {
    let found = tx
        .prepare_cached("SELECT id FROM conversations WHERE account = ?1 AND peer = ?2")?
        .query_row(params![account, peer], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    tx.prepare_cached("INSERT INTO conversations (account, peer) VALUES (?1, ?2)")?
        .execute(params![account, peer])?;
    Ok(tx.last_insert_rowid())
}

fn insert_incoming_in(
    tx: &Transaction<'_>,
    msg: &IncomingMessage,
) -> Result<IncomingOutcome, DbError> {
    check_address(&msg.account, &msg.peer)?;
    check_text("text", &msg.text, MAX_TEXT)?;
    check_text("call_id", &msg.call_id, MAX_FIELD)?;
    if msg.call_id.is_empty() {
        return Err(DbError::Invalid {
            field: "call_id",
            problem: "is empty",
        });
    }
    let conv = conversation_id(tx, &msg.account, &msg.peer)?;
    let added = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO messages (conversation, outgoing, body, at, state, unread, call_id, cseq)
             VALUES (?1, 0, ?2, ?3, 'received', 1, ?4, ?5)",
        )?
        .execute(params![conv, msg.text, msg.at, msg.call_id, msg.cseq])?;
    if added == 1 {
        return Ok(IncomingOutcome::New(MessageId(tx.last_insert_rowid())));
    }
    let id = tx
        .prepare_cached(
            "SELECT id FROM messages WHERE conversation = ?1 AND call_id = ?2 AND cseq = ?3",
        )?
        .query_row(params![conv, msg.call_id, msg.cseq], |r| r.get(0))?;
    Ok(IncomingOutcome::Duplicate(MessageId(id)))
}

/// Turns user text into an FTS5 query that cannot carry FTS syntax: each
/// word becomes a quoted phrase (quotes doubled) matched as a prefix, and
/// the phrases are ANDed. `None` when nothing searchable remains.
fn fts_query(text: &str) -> Option<String> {
    let phrases: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(MAX_QUERY_TOKENS)
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    if phrases.is_empty() {
        None
    } else {
        Some(phrases.join(" "))
    }
}

impl Db {
    /// Stores a message we are about to send, in state `sending`. When this
    /// returns, the message is on disk (see the module docs on durability):
    /// only then may the UI show it.
    pub fn insert_outgoing(
        &mut self,
        account: &str,
        peer: &str,
        text: &str,
        now: i64,
    ) -> Result<MessageId, DbError> {
        check_address(account, peer)?;
        check_text("text", text, MAX_TEXT)?;
        let tx = self.conn.transaction()?;
        let conv = conversation_id(&tx, account, peer)?;
        tx.prepare_cached(
            "INSERT INTO messages (conversation, outgoing, body, at, state, unread)
             VALUES (?1, 1, ?2, ?3, 'sending', 0)",
        )?
        .execute(params![conv, text, now])?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(MessageId(id))
    }

    /// Records an outgoing message's new delivery state. `Received` is not a
    /// state an outgoing message can take; `Sending` is, for a manual retry.
    pub fn set_state(&mut self, id: MessageId, state: &MessageState) -> Result<(), DbError> {
        let (status, reason) = match state {
            MessageState::Received => {
                return Err(DbError::Invalid {
                    field: "state",
                    problem: "cannot be received for an outgoing message",
                })
            }
            MessageState::Failed { status, reason } => {
                if status.is_some_and(|s| !(100..=699).contains(&s)) {
                    return Err(DbError::Invalid {
                        field: "status",
                        problem: "is not a SIP status code",
                    });
                }
                check_text("reason", reason, MAX_FIELD)?;
                (*status, Some(reason.as_str()))
            }
            _ => (None, None),
        };
        let outgoing: Option<bool> = self
            .conn
            .prepare_cached("SELECT outgoing FROM messages WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?;
        match outgoing {
            None => {
                return Err(DbError::NotFound {
                    what: "message",
                    id: id.0,
                })
            }
            Some(false) => {
                return Err(DbError::Invalid {
                    field: "message",
                    problem: "is incoming; only outgoing messages have a delivery state",
                })
            }
            Some(true) => {}
        }
        self.conn
            .prepare_cached(
                "UPDATE messages SET state = ?2, fail_status = ?3, fail_reason = ?4 WHERE id = ?1",
            )?
            .execute(params![id.0, state.tag(), status, reason])?;
        Ok(())
    }

    /// Stores a received message, unread, unless a message with the same
    /// peer, Call-ID and CSeq is stored already (a retransmission).
    pub fn insert_incoming(&mut self, msg: &IncomingMessage) -> Result<IncomingOutcome, DbError> {
        let tx = self.conn.transaction()?;
        let outcome = insert_incoming_in(&tx, msg)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Stores several received messages in one transaction (one fsync): for
    /// a burst of stored-and-forwarded messages or a history import. All or
    /// none are stored.
    pub fn insert_incoming_batch(
        &mut self,
        msgs: &[IncomingMessage],
    ) -> Result<Vec<IncomingOutcome>, DbError> {
        let tx = self.conn.transaction()?;
        let outcomes = msgs
            .iter()
            .map(|m| insert_incoming_in(&tx, m))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// One message.
    pub fn message(&self, id: MessageId) -> Result<Message, DbError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation
             WHERE m.id = ?1"
        );
        self.conn
            .prepare_cached(&sql)?
            .query_row([id.0], message_from_row)
            .optional()?
            .ok_or(DbError::NotFound {
                what: "message",
                id: id.0,
            })?
    }

    /// The conversation with this peer on this account, if there is one.
    pub fn find_conversation(
        &self,
        account: &str,
        peer: &str,
    ) -> Result<Option<ConversationId>, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM conversations WHERE account = ?1 AND peer = ?2")?
            .query_row(params![account, peer], |r| r.get(0).map(ConversationId))
            .optional()?)
    }

    /// Every conversation with its newest message and unread count, the most
    /// recently active first.
    pub fn conversations(&self) -> Result<Vec<Conversation>, DbError> {
        let sql = format!(
            "SELECT c.id, c.account, c.peer,
                (SELECT count(*) FROM messages u WHERE u.conversation = c.id AND u.unread = 1),
                m.id IS NOT NULL, {MESSAGE_COLUMNS}
             FROM conversations c
             LEFT JOIN messages m ON m.id = (SELECT max(id) FROM messages WHERE conversation = c.id)
             ORDER BY m.id IS NULL, m.id DESC, c.id DESC"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], |row| {
            let last = if row.get::<_, bool>(4)? {
                // The message columns follow the five conversation columns.
                match message_at(row, 5)? {
                    Ok(m) => Some(m),
                    Err(e) => return Ok(Err(e)),
                }
            } else {
                None
            };
            let unread: i64 = row.get(3)?;
            Ok(Ok(Conversation {
                id: ConversationId(row.get(0)?),
                account: row.get(1)?,
                peer: row.get(2)?,
                last,
                unread: u32::try_from(unread).unwrap_or(u32::MAX),
            }))
        })?;
        collect(rows)
    }

    /// A page of a conversation: up to `limit` (at most 1000) messages older
    /// than `before` (or the newest when `None`), oldest first.
    pub fn messages(
        &self,
        conversation: ConversationId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>, DbError> {
        let sql = format!(
            "SELECT * FROM (
                SELECT {MESSAGE_COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation
                WHERE m.conversation = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3
             ) ORDER BY id"
        );
        let before = before.map_or(i64::MAX, |b| b.0);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![conversation.0, before, page_limit(limit)],
            message_from_row,
        )?;
        collect(rows)
    }

    /// Marks every message of a conversation read; returns how many were
    /// unread.
    pub fn mark_read(&mut self, conversation: ConversationId) -> Result<u64, DbError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE messages SET unread = 0 WHERE conversation = ?1 AND unread = 1",
            )?
            .execute([conversation.0])?;
        Ok(n as u64)
    }

    /// Outgoing messages of an account still `sending` (the app stopped
    /// before a final response) or `failed`, oldest first: what to send
    /// again once the account is registered.
    pub fn pending_retry(&self, account: &str) -> Result<Vec<Message>, DbError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation
             WHERE c.account = ?1 AND m.state IN ('sending', 'failed') AND m.outgoing = 1
             ORDER BY m.id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([account], message_from_row)?;
        collect(rows)
    }

    /// Deletes a conversation and all its messages (and their search index
    /// entries).
    pub fn delete_conversation(&mut self, conversation: ConversationId) -> Result<(), DbError> {
        let n = self
            .conn
            .execute("DELETE FROM conversations WHERE id = ?1", [conversation.0])?;
        if n == 0 {
            return Err(DbError::NotFound {
                what: "conversation",
                id: conversation.0,
            });
        }
        Ok(())
    }

    /// Messages containing every word of `query` (each as a word prefix,
    /// case- and accent-insensitive), newest first, at most `limit` (at most
    /// 1000). The query is plain text: FTS operators in it are searched for
    /// literally, never interpreted.
    pub fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, DbError> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages_fts f
             JOIN messages m ON m.id = f.rowid
             JOIN conversations c ON c.id = m.conversation
             WHERE messages_fts MATCH ?1
             ORDER BY f.rowid DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![fts, page_limit(limit)], message_from_row)?;
        collect(rows)
    }
}

fn parse_state(
    state: &str,
    status: Option<i64>,
    reason: Option<String>,
) -> Result<MessageState, DbError> {
    Ok(match state {
        "sending" => MessageState::Sending,
        "sent" => MessageState::Sent,
        "delivered" => MessageState::Delivered,
        "received" => MessageState::Received,
        "failed" => MessageState::Failed {
            status: status
                .map(u16::try_from)
                .transpose()
                .map_err(|_| DbError::BadValue {
                    column: "fail_status",
                })?,
            reason: reason.unwrap_or_default(),
        },
        _ => return Err(DbError::BadValue { column: "state" }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str = "sip:bob@example.com";
    const CAROL: &str = "sip:carol@example.com";

    fn incoming(peer: &str, text: &str, call_id: &str, cseq: u32, at: i64) -> IncomingMessage {
        IncomingMessage {
            account: "work".into(),
            peer: peer.into(),
            text: text.into(),
            at,
            call_id: call_id.into(),
            cseq,
        }
    }

    #[test]
    fn outgoing_starts_sending_and_takes_each_state() {
        let mut db = Db::open_in_memory().unwrap();
        let id = db.insert_outgoing("work", BOB, "hello 👋", 1000).unwrap();
        let m = db.message(id).unwrap();
        assert_eq!(m.state, MessageState::Sending);
        assert_eq!(m.direction, Direction::Out);
        assert_eq!(m.text, "hello 👋");
        assert_eq!(m.peer, BOB);
        assert!(!m.unread);

        let failed = MessageState::Failed {
            status: Some(480),
            reason: "Temporarily Unavailable".into(),
        };
        db.set_state(id, &failed).unwrap();
        assert_eq!(db.message(id).unwrap().state, failed);
        let timeout = MessageState::Failed {
            status: None,
            reason: "no response".into(),
        };
        db.set_state(id, &timeout).unwrap();
        assert_eq!(db.message(id).unwrap().state, timeout);
        db.set_state(id, &MessageState::Sent).unwrap();
        assert_eq!(db.message(id).unwrap().state, MessageState::Sent);
        db.set_state(id, &MessageState::Delivered).unwrap();
        assert_eq!(db.message(id).unwrap().state, MessageState::Delivered);
    }

    #[test]
    fn set_state_refuses_bad_input() {
        let mut db = Db::open_in_memory().unwrap();
        let out = db.insert_outgoing("work", BOB, "x", 1).unwrap();
        let inc = db
            .insert_incoming(&incoming(BOB, "y", "c1", 1, 2))
            .unwrap()
            .id();
        assert!(matches!(
            db.set_state(out, &MessageState::Received),
            Err(DbError::Invalid { field: "state", .. })
        ));
        assert!(matches!(
            db.set_state(inc, &MessageState::Sent),
            Err(DbError::Invalid {
                field: "message",
                ..
            })
        ));
        assert!(matches!(
            db.set_state(MessageId(999), &MessageState::Sent),
            Err(DbError::NotFound {
                what: "message",
                id: 999
            })
        ));
        let bad = MessageState::Failed {
            status: Some(42),
            reason: String::new(),
        };
        assert!(matches!(
            db.set_state(out, &bad),
            Err(DbError::Invalid {
                field: "status",
                ..
            })
        ));
        assert_eq!(db.message(out).unwrap().state, MessageState::Sending);
    }

    #[test]
    fn input_limits_are_typed_errors() {
        let mut db = Db::open_in_memory().unwrap();
        let huge = "a".repeat(MAX_TEXT + 1);
        assert!(matches!(
            db.insert_outgoing("work", BOB, &huge, 1),
            Err(DbError::Invalid { field: "text", .. })
        ));
        assert!(matches!(
            db.insert_outgoing("work", "", "x", 1),
            Err(DbError::Invalid { field: "peer", .. })
        ));
        assert!(matches!(
            db.insert_incoming(&incoming(BOB, "nul\0byte", "c", 1, 1)),
            Err(DbError::Invalid { field: "text", .. })
        ));
        assert!(matches!(
            db.insert_incoming(&incoming(BOB, "x", "", 1, 1)),
            Err(DbError::Invalid {
                field: "call_id",
                ..
            })
        ));
        assert!(
            db.conversations().unwrap().is_empty(),
            "nothing half-stored"
        );
    }

    #[test]
    fn retransmitted_message_is_stored_once() {
        let mut db = Db::open_in_memory().unwrap();
        let first = db
            .insert_incoming(&incoming(BOB, "hi", "abc@host", 7, 10))
            .unwrap();
        let IncomingOutcome::New(id) = first else {
            panic!("first copy must be new: {first:?}")
        };
        let again = db
            .insert_incoming(&incoming(BOB, "hi", "abc@host", 7, 11))
            .unwrap();
        assert_eq!(again, IncomingOutcome::Duplicate(id));
        // Same Call-ID, next CSeq: a new message in the same dialog.
        let next = db
            .insert_incoming(&incoming(BOB, "again", "abc@host", 8, 12))
            .unwrap();
        assert!(matches!(next, IncomingOutcome::New(n) if n != id));
        // Same Call-ID and CSeq from someone else is not a duplicate.
        let other = db
            .insert_incoming(&incoming(CAROL, "hi", "abc@host", 7, 13))
            .unwrap();
        assert!(matches!(other, IncomingOutcome::New(_)));
        let conv = db.find_conversation("work", BOB).unwrap().unwrap();
        assert_eq!(db.messages(conv, None, 100).unwrap().len(), 2);
        assert_eq!(
            db.conversations()
                .unwrap()
                .iter()
                .map(|c| c.unread)
                .sum::<u32>(),
            3
        );
    }

    #[test]
    fn batch_is_all_or_nothing() {
        let mut db = Db::open_in_memory().unwrap();
        let good = incoming(BOB, "one", "b1", 1, 1);
        let bad = incoming(BOB, "two", "", 1, 2);
        assert!(db.insert_incoming_batch(&[good.clone(), bad]).is_err());
        assert!(db.conversations().unwrap().is_empty());
        let out = db
            .insert_incoming_batch(&[good.clone(), good, incoming(BOB, "two", "b2", 1, 2)])
            .unwrap();
        assert!(matches!(out[0], IncomingOutcome::New(_)));
        assert_eq!(out[1], IncomingOutcome::Duplicate(out[0].id()));
        assert!(matches!(out[2], IncomingOutcome::New(_)));
    }

    #[test]
    fn conversations_show_last_message_and_unread() {
        let mut db = Db::open_in_memory().unwrap();
        db.insert_incoming(&incoming(BOB, "b1", "c1", 1, 10))
            .unwrap();
        db.insert_incoming(&incoming(BOB, "b2", "c2", 1, 20))
            .unwrap();
        db.insert_outgoing("work", CAROL, "c1", 30).unwrap();
        let reply = db.insert_outgoing("work", BOB, "b3", 40).unwrap();
        // Same peer on another account is another conversation.
        db.insert_outgoing("home", BOB, "h1", 5).unwrap();

        let convs = db.conversations().unwrap();
        assert_eq!(convs.len(), 3);
        assert_eq!(
            (convs[0].account.as_str(), convs[0].peer.as_str()),
            ("home", BOB)
        );
        // Ordered by newest message id, not timestamp: "h1" was stored last.
        let bob = convs
            .iter()
            .find(|c| c.account == "work" && c.peer == BOB)
            .unwrap();
        assert_eq!(bob.unread, 2);
        assert_eq!(bob.last.as_ref().unwrap().id, reply);
        assert_eq!(bob.last.as_ref().unwrap().text, "b3");
        let carol = convs.iter().find(|c| c.peer == CAROL).unwrap();
        assert_eq!(carol.unread, 0);

        assert_eq!(db.mark_read(bob.id).unwrap(), 2);
        assert_eq!(db.mark_read(bob.id).unwrap(), 0);
        let convs = db.conversations().unwrap();
        assert!(convs.iter().all(|c| c.unread == 0));
    }

    #[test]
    fn paging_walks_back_without_gaps_or_repeats() {
        let mut db = Db::open_in_memory().unwrap();
        let mut ids = Vec::new();
        for i in 0..25 {
            ids.push(
                db.insert_outgoing("work", BOB, &format!("m{i}"), i)
                    .unwrap(),
            );
            db.insert_outgoing("work", CAROL, "noise", i).unwrap();
        }
        let conv = db.find_conversation("work", BOB).unwrap().unwrap();
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = db.messages(conv, before, 10).unwrap();
            if page.is_empty() {
                break;
            }
            assert!(
                page.windows(2).all(|w| w[0].id < w[1].id),
                "oldest first in a page"
            );
            before = Some(page[0].id);
            let mut page_ids: Vec<_> = page.iter().map(|m| m.id).collect();
            page_ids.append(&mut seen);
            seen = page_ids;
        }
        assert_eq!(seen, ids);
        assert_eq!(
            db.messages(conv, None, 3).unwrap().last().unwrap().text,
            "m24"
        );
    }

    #[test]
    fn pending_retry_lists_sending_and_failed_of_that_account() {
        let mut db = Db::open_in_memory().unwrap();
        let a = db.insert_outgoing("work", BOB, "a", 1).unwrap();
        let b = db.insert_outgoing("work", CAROL, "b", 2).unwrap();
        let c = db.insert_outgoing("work", BOB, "c", 3).unwrap();
        db.insert_outgoing("home", BOB, "other account", 4).unwrap();
        db.insert_incoming(&incoming(BOB, "incoming", "x", 1, 5))
            .unwrap();
        db.set_state(
            a,
            &MessageState::Failed {
                status: Some(404),
                reason: "Not Found".into(),
            },
        )
        .unwrap();
        db.set_state(b, &MessageState::Sent).unwrap();
        let pending: Vec<_> = db
            .pending_retry("work")
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(pending, vec![a, c]);
        db.set_state(a, &MessageState::Sent).unwrap();
        db.set_state(c, &MessageState::Delivered).unwrap();
        assert!(db.pending_retry("work").unwrap().is_empty());
        assert_eq!(db.pending_retry("home").unwrap().len(), 1);
    }

    #[test]
    fn delete_conversation_removes_messages_and_index() {
        let mut db = Db::open_in_memory().unwrap();
        db.insert_outgoing("work", BOB, "secret plans", 1).unwrap();
        db.insert_outgoing("work", CAROL, "public plans", 2)
            .unwrap();
        let bob = db.find_conversation("work", BOB).unwrap().unwrap();
        assert_eq!(db.search("plans", 10).unwrap().len(), 2);
        db.delete_conversation(bob).unwrap();
        assert!(db.find_conversation("work", BOB).unwrap().is_none());
        assert!(db.messages(bob, None, 10).unwrap().is_empty());
        assert!(db.search("secret", 10).unwrap().is_empty());
        assert_eq!(db.search("plans", 10).unwrap().len(), 1);
        assert!(matches!(
            db.delete_conversation(bob),
            Err(DbError::NotFound {
                what: "conversation",
                ..
            })
        ));
        let n: i64 = db
            .conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        // The FTS index agrees with its content table.
        db.conn
            .execute(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .unwrap();
    }

    #[test]
    fn search_matches_words_prefixes_and_ignores_case_and_accents() {
        let mut db = Db::open_in_memory().unwrap();
        let a = db
            .insert_outgoing("work", BOB, "Meet at the Café tomorrow", 1)
            .unwrap();
        let b = db
            .insert_outgoing("work", CAROL, "the cafe is closed", 2)
            .unwrap();
        db.insert_outgoing("work", CAROL, "nothing here", 3)
            .unwrap();
        let ids = |q: &str| {
            db.search(q, 10)
                .unwrap()
                .iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("cafe"), vec![b, a], "newest first, accent-insensitive");
        assert_eq!(ids("CAF"), vec![b, a], "prefix");
        assert_eq!(ids("cafe tomorrow"), vec![a], "all words");
        assert_eq!(ids("tomorrow cafe"), vec![a], "any order");
        assert!(ids("absent").is_empty());
        assert!(ids("").is_empty());
        assert!(ids("  \"  ").is_empty());
        assert_eq!(db.search("cafe", 1).unwrap().len(), 1);
    }

    #[test]
    fn search_text_is_never_fts_syntax() {
        let mut db = Db::open_in_memory().unwrap();
        let or = db.insert_outgoing("work", BOB, "this OR that", 1).unwrap();
        db.insert_outgoing("work", BOB, "this only", 2).unwrap();
        db.insert_outgoing("work", BOB, "that only", 3).unwrap();
        let quote = db
            .insert_outgoing("work", BOB, "he said \"hi\" NEAR the door", 4)
            .unwrap();
        // As FTS syntax, "this OR that" would match all three.
        let hits: Vec<_> = db
            .search("this OR that", 10)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(hits, vec![or]);
        for hostile in [
            "\"",
            "\"unbalanced",
            "a\"b",
            "*",
            "NEAR(",
            "body:this",
            "^this",
            "-that",
            "(this",
            "this AND",
            "NOT",
            "{body}: x",
            "'; DROP TABLE messages; --",
        ] {
            assert!(
                db.search(hostile, 10).is_ok(),
                "query {hostile:?} must not be an error"
            );
        }
        let hits: Vec<_> = db
            .search("said \"hi\" NEAR", 10)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(hits, vec![quote]);
        assert_eq!(
            db.search("'; DROP TABLE messages; --", 10).unwrap().len(),
            0
        );
        assert_eq!(db.conversations().unwrap().len(), 1);
    }

    #[test]
    fn fts_query_quotes_every_word() {
        assert_eq!(
            fts_query("a\"b OR c").unwrap(),
            "\"a\"\"b\"* \"OR\"* \"c\"*"
        );
        assert_eq!(fts_query(" -- !! "), None);
        let many = "w ".repeat(100);
        assert_eq!(
            fts_query(&many).unwrap().matches('*').count(),
            MAX_QUERY_TOKENS
        );
    }

    #[test]
    fn records_round_trip_through_json() {
        let mut db = Db::open_in_memory().unwrap();
        let id = db.insert_outgoing("work", BOB, "json", 5).unwrap();
        db.set_state(
            id,
            &MessageState::Failed {
                status: Some(503),
                reason: "Busy".into(),
            },
        )
        .unwrap();
        let m = db.message(id).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("\"kind\":\"failed\""), "{json}");
        let back: Message = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        let convs = db.conversations().unwrap();
        let back: Vec<Conversation> =
            serde_json::from_str(&serde_json::to_string(&convs).unwrap()).unwrap();
        assert_eq!(back, convs);
    }
}

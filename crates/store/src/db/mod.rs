//! The SQLite store: chat history, contacts and call history in one file
//! (`parley.db` in the data directory).
//!
//! One [`Db`] owns one connection; the engine keeps it behind its task, so
//! nothing here locks beyond SQLite's own file locks.
//!
//! # Durability
//!
//! The journal is WAL with `synchronous=FULL`. Under WAL, `NORMAL` already
//! survives a killed process (the WAL frames are in the OS page cache, and
//! the next open replays them), but a power cut or OS crash can lose the
//! last commits, because `NORMAL` fsyncs only at checkpoints. The chat
//! promise is "a message is on disk before it is shown as sending; a crash
//! at any point loses nothing that was shown", and a crash includes the
//! machine's. `FULL` fsyncs the WAL on every commit, so each `insert_*` has
//! reached the disk when it returns. The price, one fsync per message or
//! call record, is nothing at human chat rates; bulk writes go through
//! [`Db::insert_incoming_batch`] in one transaction.
//!
//! # Migrations
//!
//! [`MIGRATIONS`] is an ordered list of SQL scripts; `PRAGMA user_version`
//! holds how many have been applied. Each runs in its own transaction
//! together with its `user_version` bump, so a crash mid-migration leaves
//! the previous version intact. A file from a newer Parley (a larger
//! `user_version`) is refused rather than guessed at.

mod calls;
mod contacts;
mod messages;
pub mod vcard;
mod watchers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use serde::{Deserialize, Serialize};

pub use calls::{CallFilter, CallOutcome, CallRecord, CallRecordId, StoredCall};
pub use contacts::{Contact, ContactId, ContactInfo, Phone};
pub use messages::{
    Conversation, ConversationId, IncomingMessage, IncomingOutcome, Message, MessageId,
    MessageState, SearchHit,
};
pub use vcard::{VcardError, VcardImport, VcardImportReport};
pub use watchers::WatcherRule;

/// How long a write waits for another connection's lock (a second app
/// instance, or `parley-cli` on the same profile) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one script per version. Never edit a released entry: append.
const MIGRATIONS: &[&str] = &[
    // 1: chat history with full-text search.
    "CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        peer TEXT NOT NULL,
        UNIQUE (account, peer)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        outgoing INTEGER NOT NULL,
        body TEXT NOT NULL,
        at INTEGER NOT NULL,
        state TEXT NOT NULL,
        fail_status INTEGER,
        fail_reason TEXT,
        unread INTEGER NOT NULL DEFAULT 0,
        call_id TEXT,
        cseq INTEGER
    );
    CREATE INDEX messages_by_conversation ON messages (conversation, id);
    CREATE UNIQUE INDEX messages_dedup ON messages (conversation, call_id, cseq)
        WHERE call_id IS NOT NULL;
    CREATE INDEX messages_unread ON messages (conversation) WHERE unread = 1;
    CREATE INDEX messages_pending ON messages (conversation)
        WHERE state IN ('sending', 'failed');
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, content = 'messages', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END;",
    // 2: contacts.
    "CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        sip_uri TEXT,
        favourite INTEGER NOT NULL DEFAULT 0,
        presence INTEGER NOT NULL DEFAULT 0,
        blf INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE contact_phones (
        contact INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        kind TEXT,
        number TEXT NOT NULL,
        PRIMARY KEY (contact, position)
    );
    CREATE INDEX contacts_by_name ON contacts (name COLLATE NOCASE);",
    // 3: call history.
    "CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        outgoing INTEGER NOT NULL,
        peer_uri TEXT NOT NULL,
        peer_name TEXT,
        started INTEGER NOT NULL,
        answered INTEGER,
        ended INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        fail_status INTEGER,
        fail_reason TEXT,
        seen INTEGER NOT NULL
    );
    CREATE INDEX calls_missed ON calls (id) WHERE outcome = 'missed';
    CREATE INDEX calls_unseen ON calls (id) WHERE seen = 0;",
    // 4: presence watchers the user allowed or blocked.
    "CREATE TABLE watcher_rules (
        account TEXT NOT NULL,
        watcher TEXT NOT NULL COLLATE NOCASE,
        allowed INTEGER NOT NULL,
        PRIMARY KEY (account, watcher)
    );",
];

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file or its directory could not be created or opened.
    #[error("database {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not an SQLite database, or its pages are damaged.
    #[error("the database file is damaged or not a Parley database: {0}")]
    Corrupt(rusqlite::Error),
    /// The file was written by a newer Parley with a schema this one does
    /// not know; opening it could destroy data.
    #[error("the database has schema version {found}, newer than this Parley knows ({supported}); update Parley")]
    TooNew {
        /// The file's `user_version`.
        found: i64,
        /// The highest version this build can read.
        supported: i64,
    },
    /// The database is locked by another process for longer than the busy
    /// timeout.
    #[error("the database is busy (another Parley on the same profile?)")]
    Busy,
    /// No record has this id.
    #[error("no {what} with id {id}")]
    NotFound {
        /// The kind of record.
        what: &'static str,
        /// The id looked for.
        id: i64,
    },
    /// A value given to the store is not acceptable.
    #[error("{field} {problem}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The file holds a value this build cannot interpret (edited by hand,
    /// or damaged in a way SQLite does not detect).
    #[error("unexpected value in column {column}")]
    BadValue {
        /// The column concerned.
        column: &'static str,
    },
    /// A vCard document as a whole was refused (too large).
    #[error(transparent)]
    Vcard(#[from] VcardError),
    /// Any other SQLite failure (disk full, I/O error, ...).
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Self::Corrupt(e),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy,
            _ => Self::Sqlite(e),
        }
    }
}

/// Who started a message or a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the peer to us.
    In,
    /// From us to the peer.
    Out,
}

impl Direction {
    fn from_outgoing(outgoing: bool) -> Self {
        if outgoing {
            Self::Out
        } else {
            Self::In
        }
    }
}

/// The open store.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

impl Db {
    /// Opens (creating if needed) the store at `path`, creating its
    /// directory, and brings the schema up to date.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        create_private(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Self::setup(conn, true)
    }

    /// A private store in memory, gone when dropped: for tests and for
    /// running without a data directory.
    pub fn open_in_memory() -> Result<Self, DbError> {
        Self::setup(Connection::open_in_memory()?, false)
    }

    fn setup(conn: Connection, wal: bool) -> Result<Self, DbError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        if wal {
            // The first read of the file: a non-database fails here.
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(mode, "SQLite refused WAL mode");
            }
        }
        // See the module docs: FULL makes each commit durable against power loss.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let mut db = Self { conn };
        migrate(&mut db.conn, MIGRATIONS)?;
        Ok(db)
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, DbError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Runs SQLite's full consistency check; `Ok(())` when the file is sound.
    pub fn check_integrity(&self) -> Result<(), DbError> {
        let verdict: String = self
            .conn
            .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(DbError::Corrupt(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(verdict),
            )))
        }
    }
}

/// The highest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the migrations not yet in the file, each in a transaction.
fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), DbError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = migrations.len() as i64;
    if found > supported {
        return Err(DbError::TooNew { found, supported });
    }
    if found < 0 {
        return Err(DbError::BadValue {
            column: "user_version",
        });
    }
    for (done, sql) in migrations.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", done as i64 + 1)?;
        tx.commit()?;
        tracing::debug!(version = done + 1, "store schema migrated");
    }
    Ok(())
}

/// Creates the file readable by its owner only (it holds private messages)
/// before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
fn create_private(path: &Path) -> Result<(), DbError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map(drop).map_err(|source| DbError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Refuses text longer than `max` bytes or containing NUL, which SQLite
/// would store but C-string consumers would cut.
fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), DbError> {
    if value.len() > max {
        return Err(DbError::Invalid {
            field,
            problem: "is too long",
        });
    }
    if value.contains('\0') {
        return Err(DbError::Invalid {
            field,
            problem: "contains a NUL character",
        });
    }
    Ok(())
}

/// Clamps a caller's page size to something sane.
fn page_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn db_is_send() {
        assert_send::<Db>();
        let db = Db::open_in_memory().unwrap();
        let handle = std::thread::spawn(move || db.schema_version().unwrap());
        assert_eq!(handle.join().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn fts5_is_compiled_in() {
        let db = Db::open_in_memory().unwrap();
        let yes: bool = db
            .conn
            .query_row("SELECT sqlite_compileoption_used('ENABLE_FTS5')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(yes);
    }

    #[test]
    fn open_sets_wal_full_and_latest_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/parley.db");
        let db = Db::open(&path).unwrap();
        let mode: String = db
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = db
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        let fk: i64 = db
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        db.check_integrity().unwrap();
        drop(db);
        // Reopening an up-to-date file changes nothing.
        let db = Db::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "not readable by others: {mode:o}");
        }
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.db");
        let db = Db::open(&path).unwrap();
        db.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(db);
        match Db::open(&path) {
            Err(DbError::TooNew { found, supported }) => {
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(supported, SCHEMA_VERSION);
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn garbage_file_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.db");
        std::fs::write(&path, b"this is not an sqlite file\n".repeat(500)).unwrap();
        assert!(matches!(Db::open(&path), Err(DbError::Corrupt(_))));
    }

    #[test]
    fn damaged_pages_give_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.db");
        {
            let mut db = Db::open(&path).unwrap();
            for i in 0..300 {
                db.insert_outgoing(
                    "acct",
                    "sip:bob@example.com",
                    &format!("message number {i} padding padding"),
                    i,
                )
                .unwrap();
            }
        } // closing the last connection checkpoints the WAL into the file
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 8192);
        // Keep the header page, scribble over everything after it.
        for b in &mut bytes[4096..] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let result = Db::open(&path).and_then(|db| {
            db.check_integrity()?;
            db.conversations().map(drop)
        });
        assert!(matches!(result, Err(DbError::Corrupt(_))), "{result:?}");
    }

    #[test]
    fn failed_migration_leaves_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        let good = "CREATE TABLE a (x INTEGER);";
        let bad = "CREATE TABLE b (x INTEGER); THIS IS NOT SQL;";
        migrate(&mut conn, &[good]).unwrap();
        assert!(migrate(&mut conn, &[good, bad]).is_err());
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
        // Table b was rolled back with the failed script.
        let b: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(b, 0);
        // A fixed list then applies cleanly from version 1.
        migrate(&mut conn, &[good, "CREATE TABLE b (x INTEGER);"]).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2);
    }

    #[test]
    fn each_migration_step_upgrades_an_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
            conn.execute(
                "INSERT INTO conversations (account, peer) VALUES ('a', 'sip:b@c')",
                [],
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(db.conversations().unwrap().len(), 1);
        assert!(db.contacts().unwrap().is_empty());
    }
}

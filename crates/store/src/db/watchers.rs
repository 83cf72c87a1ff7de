//! Who may see our presence (RFC 3856 §6.6: the presentity authorises
//! its watchers): strangers the user allowed or blocked, per account.
//! Contacts need no rule; they are allowed for being contacts.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{check_text, Db, DbError};

/// Longest watcher URI (bytes).
const MAX_WATCHER: usize = 2048;

/// The user's answer to a watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatcherRule {
    /// Sees our state.
    Allow,
    /// Refused, now and on every later SUBSCRIBE.
    Block,
}

impl Db {
    /// Remembers `rule` for `watcher` (an address of record) of `account`,
    /// replacing an earlier one.
    pub fn set_watcher_rule(
        &mut self,
        account: &str,
        watcher: &str,
        rule: WatcherRule,
    ) -> Result<(), DbError> {
        check_text("account", account, MAX_WATCHER)?;
        check_text("watcher", watcher, MAX_WATCHER)?;
        if watcher.trim().is_empty() {
            return Err(DbError::Invalid {
                field: "watcher",
                problem: "is empty",
            });
        }
        self.conn.execute(
            "INSERT INTO watcher_rules (account, watcher, allowed) VALUES (?1, ?2, ?3)
             ON CONFLICT (account, watcher) DO UPDATE SET allowed = excluded.allowed",
            params![account, watcher, rule == WatcherRule::Allow],
        )?;
        Ok(())
    }

    /// Forgets the rule for `watcher` (they are asked about again).
    pub fn clear_watcher_rule(&mut self, account: &str, watcher: &str) -> Result<(), DbError> {
        self.conn.execute(
            "DELETE FROM watcher_rules WHERE account = ?1 AND watcher = ?2",
            params![account, watcher],
        )?;
        Ok(())
    }

    /// The rule for `watcher` of `account` (URIs compared without regard
    /// to ASCII case), if the user made one.
    pub fn watcher_rule(
        &self,
        account: &str,
        watcher: &str,
    ) -> Result<Option<WatcherRule>, DbError> {
        let allowed: Option<bool> = self
            .conn
            .query_row(
                "SELECT allowed FROM watcher_rules WHERE account = ?1 AND watcher = ?2",
                params![account, watcher],
                |r| r.get(0),
            )
            .optional()?;
        Ok(allowed.map(|a| {
            if a {
                WatcherRule::Allow
            } else {
                WatcherRule::Block
            }
        }))
    }

    /// Every rule of `account`, by watcher.
    pub fn watcher_rules(&self, account: &str) -> Result<Vec<(String, WatcherRule)>, DbError> {
        let mut st = self.conn.prepare(
            "SELECT watcher, allowed FROM watcher_rules WHERE account = ?1 ORDER BY watcher",
        )?;
        let rows = st.query_map(params![account], |r| {
            let allowed: bool = r.get(1)?;
            Ok((
                r.get::<_, String>(0)?,
                if allowed {
                    WatcherRule::Allow
                } else {
                    WatcherRule::Block
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_kept_per_account_replaced_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut db = Db::open(&path).unwrap();
        assert_eq!(db.watcher_rule("work", "sip:dave@h").unwrap(), None);
        db.set_watcher_rule("work", "sip:dave@h", WatcherRule::Allow)
            .unwrap();
        db.set_watcher_rule("work", "sip:eve@h", WatcherRule::Block)
            .unwrap();
        assert_eq!(
            db.watcher_rule("work", "SIP:DAVE@H").unwrap(),
            Some(WatcherRule::Allow),
            "case-insensitive"
        );
        assert_eq!(db.watcher_rule("home", "sip:dave@h").unwrap(), None);
        db.set_watcher_rule("work", "sip:dave@h", WatcherRule::Block)
            .unwrap();
        drop(db);
        let mut db = Db::open(&path).unwrap();
        assert_eq!(
            db.watcher_rules("work").unwrap(),
            [
                ("sip:dave@h".to_owned(), WatcherRule::Block),
                ("sip:eve@h".to_owned(), WatcherRule::Block)
            ]
        );
        db.clear_watcher_rule("work", "sip:dave@h").unwrap();
        assert_eq!(db.watcher_rule("work", "sip:dave@h").unwrap(), None);
        assert!(matches!(
            db.set_watcher_rule("work", " ", WatcherRule::Allow),
            Err(DbError::Invalid {
                field: "watcher",
                ..
            })
        ));
        assert!(matches!(
            db.set_watcher_rule("work", "sip:a\0@h", WatcherRule::Allow),
            Err(DbError::Invalid {
                field: "watcher",
                ..
            })
        ));
    }
}

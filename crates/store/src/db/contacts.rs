//! The address book: people with a SIP URI and phone numbers, and whether
//! Parley watches their presence and their line (BLF).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{check_text, page_limit, Db, DbError};

/// Longest name (bytes).
pub(crate) const MAX_NAME: usize = 256;
/// Longest SIP URI (bytes).
pub(crate) const MAX_URI: usize = 2048;
/// Longest phone number (bytes).
pub(crate) const MAX_NUMBER: usize = 64;
/// Longest phone kind label (bytes).
pub(crate) const MAX_KIND: usize = 32;
/// Most phone numbers per contact.
pub(crate) const MAX_PHONES: usize = 32;

/// A contact's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(pub i64);

/// One phone number of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// The number as the user wrote it (`+44 20 7946 0000`).
    pub number: String,
    /// A lower-case label such as `cell`, `work` or `home`.
    pub kind: Option<String>,
}

/// What the user enters for a contact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactInfo {
    /// Display name; never empty.
    pub name: String,
    /// `sip:` or `sips:` address, if the contact has one.
    pub sip_uri: Option<String>,
    /// Phone numbers, in the user's order.
    pub phones: Vec<Phone>,
    /// Shown at the top.
    pub favourite: bool,
    /// Subscribe to the contact's presence (needs `sip_uri`).
    pub presence: bool,
    /// Subscribe to the contact's dialog state, busy lamp field (needs `sip_uri`).
    pub blf: bool,
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Its id.
    pub id: ContactId,
    /// Its fields.
    #[serde(flatten)]
    pub info: ContactInfo,
}

fn invalid(field: &'static str, problem: &'static str) -> DbError {
    DbError::Invalid { field, problem }
}

/// True for `sip:` / `sips:` URIs without spaces or control characters.
pub(crate) fn is_sip_uri(uri: &str) -> bool {
    let lower = uri.get(..5).map(str::to_ascii_lowercase);
    let scheme_len = match lower.as_deref() {
        Some("sips:") => 5,
        Some(l) if l.starts_with("sip:") => 4,
        _ => return false,
    };
    uri.len() > scheme_len && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl ContactInfo {
    /// Checks every field; the store refuses a contact that fails this.
    pub fn validate(&self) -> Result<(), DbError> {
        check_text("name", &self.name, MAX_NAME)?;
        if self.name.trim().is_empty() {
            return Err(invalid("name", "is empty"));
        }
        if self.name.chars().any(char::is_control) {
            return Err(invalid("name", "contains control characters"));
        }
        match &self.sip_uri {
            Some(uri) => {
                check_text("sip_uri", uri, MAX_URI)?;
                if !is_sip_uri(uri) {
                    return Err(invalid("sip_uri", "is not a sip: or sips: URI"));
                }
            }
            None if self.presence => return Err(invalid("presence", "needs a SIP URI")),
            None if self.blf => return Err(invalid("blf", "needs a SIP URI")),
            None => {}
        }
        if self.phones.len() > MAX_PHONES {
            return Err(invalid("phones", "are too many"));
        }
        for phone in &self.phones {
            check_text("phone", &phone.number, MAX_NUMBER)?;
            if phone.number.trim().is_empty() {
                return Err(invalid("phone", "is empty"));
            }
            if phone.number.chars().any(char::is_control) {
                return Err(invalid("phone", "contains control characters"));
            }
            if let Some(kind) = &phone.kind {
                check_text("phone kind", kind, MAX_KIND)?;
                if kind.chars().any(char::is_control) {
                    return Err(invalid("phone kind", "contains control characters"));
                }
            }
        }
        Ok(())
    }
}

fn write_phones(tx: &Transaction<'_>, id: i64, phones: &[Phone]) -> Result<(), DbError> {
    tx.prepare_cached("DELETE FROM contact_phones WHERE contact = ?1")?
        .execute([id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO contact_phones (contact, position, kind, number) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (pos, phone) in phones.iter().enumerate() {
        insert.execute(params![id, pos as i64, phone.kind, phone.number])?;
    }
    Ok(())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Db {
    /// Stores a new contact.
    pub fn add_contact(&mut self, info: &ContactInfo) -> Result<ContactId, DbError> {
        info.validate()?;
        let tx = self.conn.transaction()?;
        let id = insert_contact(&tx, info)?;
        tx.commit()?;
        Ok(id)
    }

    /// Replaces a contact's fields.
    pub fn update_contact(&mut self, id: ContactId, info: &ContactInfo) -> Result<(), DbError> {
        info.validate()?;
        let tx = self.conn.transaction()?;
        let n = tx
            .prepare_cached(
                "UPDATE contacts SET name = ?2, sip_uri = ?3, favourite = ?4, presence = ?5, blf = ?6
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                info.name,
                info.sip_uri,
                info.favourite,
                info.presence,
                info.blf
            ])?;
        if n == 0 {
            return Err(DbError::NotFound {
                what: "contact",
                id: id.0,
            });
        }
        write_phones(&tx, id.0, &info.phones)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a contact.
    pub fn delete_contact(&mut self, id: ContactId) -> Result<(), DbError> {
        let n = self
            .conn
            .execute("DELETE FROM contacts WHERE id = ?1", [id.0])?;
        if n == 0 {
            return Err(DbError::NotFound {
                what: "contact",
                id: id.0,
            });
        }
        Ok(())
    }

    /// One contact.
    pub fn contact(&self, id: ContactId) -> Result<Contact, DbError> {
        self.load_contacts("WHERE id = ?1", params![id.0])?
            .pop()
            .ok_or(DbError::NotFound {
                what: "contact",
                id: id.0,
            })
    }

    /// Every contact, favourites first, then by name.
    pub fn contacts(&self) -> Result<Vec<Contact>, DbError> {
        self.load_contacts("", params![])
    }

    /// Contacts with this SIP URI (compared without regard to ASCII case):
    /// to name a caller or a message's sender.
    pub fn contacts_by_uri(&self, uri: &str) -> Result<Vec<Contact>, DbError> {
        self.load_contacts("WHERE sip_uri = ?1 COLLATE NOCASE", params![uri])
    }

    /// Contacts whose name, SIP URI or a phone number contains `query`
    /// (ASCII case-insensitive), at most `limit` (at most 1000).
    pub fn search_contacts(&self, query: &str, limit: u32) -> Result<Vec<Contact>, DbError> {
        let query = query.trim();
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self.load_contacts(
            "WHERE name LIKE ?1 ESCAPE '\\' OR sip_uri LIKE ?1 ESCAPE '\\'
               OR EXISTS (SELECT 1 FROM contact_phones p
                          WHERE p.contact = contacts.id AND p.number LIKE ?1 ESCAPE '\\')",
            params![like_pattern(query)],
        )?;
        found.truncate(usize::try_from(page_limit(limit)).unwrap_or(usize::MAX));
        Ok(found)
    }

    fn load_contacts(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Contact>, DbError> {
        let sql = format!(
            "SELECT id, name, sip_uri, favourite, presence, blf FROM contacts {filter}
             ORDER BY favourite DESC, name COLLATE NOCASE, id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut contacts = stmt
            .query_map(args, |r| {
                Ok(Contact {
                    id: ContactId(r.get(0)?),
                    info: ContactInfo {
                        name: r.get(1)?,
                        sip_uri: r.get(2)?,
                        phones: Vec::new(),
                        favourite: r.get(3)?,
                        presence: r.get(4)?,
                        blf: r.get(5)?,
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if contacts.is_empty() {
            return Ok(contacts);
        }
        let sql = format!(
            "SELECT contact, kind, number FROM contact_phones
             WHERE contact IN (SELECT id FROM contacts {filter})
             ORDER BY contact, position"
        );
        let mut phones: HashMap<i64, Vec<Phone>> = HashMap::new();
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(args)?;
        while let Some(r) = rows.next()? {
            phones.entry(r.get(0)?).or_default().push(Phone {
                kind: r.get(1)?,
                number: r.get(2)?,
            });
        }
        for c in &mut contacts {
            c.info.phones = phones.remove(&c.id.0).unwrap_or_default();
        }
        Ok(contacts)
    }

    /// Stores several contacts in one transaction, each validated first:
    /// all or none.
    pub fn add_contacts(&mut self, infos: &[ContactInfo]) -> Result<Vec<ContactId>, DbError> {
        for info in infos {
            info.validate()?;
        }
        let tx = self.conn.transaction()?;
        let ids = infos
            .iter()
            .map(|info| insert_contact(&tx, info))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(ids)
    }

    /// Whether a contact exists with this id (for callers holding a stale id).
    pub fn contact_exists(&self, id: ContactId) -> Result<bool, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM contacts WHERE id = ?1")?
            .query_row([id.0], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

fn insert_contact(tx: &Transaction<'_>, info: &ContactInfo) -> Result<ContactId, DbError> {
    tx.prepare_cached(
        "INSERT INTO contacts (name, sip_uri, favourite, presence, blf) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        info.name,
        info.sip_uri,
        info.favourite,
        info.presence,
        info.blf
    ])?;
    let id = tx.last_insert_rowid();
    write_phones(tx, id, &info.phones)?;
    Ok(ContactId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> ContactInfo {
        ContactInfo {
            name: "Alice Liddell".into(),
            sip_uri: Some("sip:alice@example.com".into()),
            phones: vec![
                Phone {
                    number: "+44 20 7946 0001".into(),
                    kind: Some("work".into()),
                },
                Phone {
                    number: "07700 900123".into(),
                    kind: None,
                },
            ],
            favourite: false,
            presence: true,
            blf: false,
        }
    }

    fn named(name: &str) -> ContactInfo {
        ContactInfo {
            name: name.into(),
            ..ContactInfo::default()
        }
    }

    #[test]
    fn add_get_update_delete() {
        let mut db = Db::open_in_memory().unwrap();
        let id = db.add_contact(&alice()).unwrap();
        assert_eq!(db.contact(id).unwrap().info, alice());

        let mut changed = alice();
        changed.name = "Alice L.".into();
        changed.phones.reverse();
        changed.phones.pop();
        changed.favourite = true;
        changed.blf = true;
        db.update_contact(id, &changed).unwrap();
        assert_eq!(db.contact(id).unwrap().info, changed);

        db.delete_contact(id).unwrap();
        assert!(matches!(
            db.contact(id),
            Err(DbError::NotFound {
                what: "contact",
                ..
            })
        ));
        assert!(matches!(
            db.delete_contact(id),
            Err(DbError::NotFound { .. })
        ));
        assert!(matches!(
            db.update_contact(id, &changed),
            Err(DbError::NotFound { .. })
        ));
        assert!(!db.contact_exists(id).unwrap());
        let phones: i64 = db
            .conn
            .query_row("SELECT count(*) FROM contact_phones", [], |r| r.get(0))
            .unwrap();
        assert_eq!(phones, 0, "phones go with their contact");
    }

    #[test]
    fn list_puts_favourites_first_then_names() {
        let mut db = Db::open_in_memory().unwrap();
        db.add_contact(&named("carol")).unwrap();
        db.add_contact(&named("Bob")).unwrap();
        let mut zed = named("Zed");
        zed.favourite = true;
        db.add_contact(&zed).unwrap();
        db.add_contact(&alice()).unwrap();
        let names: Vec<_> = db
            .contacts()
            .unwrap()
            .into_iter()
            .map(|c| c.info.name)
            .collect();
        assert_eq!(names, ["Zed", "Alice Liddell", "Bob", "carol"]);
    }

    #[test]
    fn validation_names_the_field() {
        let mut db = Db::open_in_memory().unwrap();
        let cases: Vec<(ContactInfo, &str)> = vec![
            (named("  "), "name"),
            (named(&"x".repeat(MAX_NAME + 1)), "name"),
            (named("bad\nname"), "name"),
            (
                ContactInfo {
                    sip_uri: Some("http://example.com".into()),
                    ..named("a")
                },
                "sip_uri",
            ),
            (
                ContactInfo {
                    sip_uri: Some("sip:a b@example.com".into()),
                    ..named("a")
                },
                "sip_uri",
            ),
            (
                ContactInfo {
                    sip_uri: Some("sip:".into()),
                    ..named("a")
                },
                "sip_uri",
            ),
            (
                ContactInfo {
                    presence: true,
                    ..named("a")
                },
                "presence",
            ),
            (
                ContactInfo {
                    blf: true,
                    ..named("a")
                },
                "blf",
            ),
            (
                ContactInfo {
                    phones: vec![Phone {
                        number: " ".into(),
                        kind: None,
                    }],
                    ..named("a")
                },
                "phone",
            ),
            (
                ContactInfo {
                    phones: vec![
                        Phone {
                            number: "1".into(),
                            kind: None
                        };
                        MAX_PHONES + 1
                    ],
                    ..named("a")
                },
                "phones",
            ),
        ];
        for (info, field) in cases {
            match db.add_contact(&info) {
                Err(DbError::Invalid { field: f, .. }) => assert_eq!(f, field, "{info:?}"),
                other => panic!("{info:?}: expected Invalid({field}), got {other:?}"),
            }
        }
        assert!(db.contacts().unwrap().is_empty());
        let sips = ContactInfo {
            sip_uri: Some("SIPS:bob@example.com".into()),
            ..named("b")
        };
        db.add_contact(&sips).unwrap();
    }

    #[test]
    fn search_by_name_uri_or_number_with_like_metacharacters_literal() {
        let mut db = Db::open_in_memory().unwrap();
        let a = db.add_contact(&alice()).unwrap();
        let pct = db.add_contact(&named("100% Bob_Smith")).unwrap();
        db.add_contact(&named("Carol")).unwrap();
        let ids = |q: &str| -> Vec<ContactId> {
            db.search_contacts(q, 10)
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect()
        };
        assert_eq!(ids("liddell"), [a]);
        assert_eq!(ids("ALICE@EXAMPLE"), [a]);
        assert_eq!(ids("900123"), [a]);
        assert_eq!(ids("%"), [pct], "% is literal");
        assert_eq!(ids("b_s"), [pct], "_ is literal");
        assert!(ids("o_b").is_empty());
        assert!(ids("").is_empty());
        assert_eq!(db.search_contacts("a", 1).unwrap().len(), 1);
    }

    #[test]
    fn find_by_uri_ignores_ascii_case() {
        let mut db = Db::open_in_memory().unwrap();
        let a = db.add_contact(&alice()).unwrap();
        let found = db.contacts_by_uri("sip:Alice@Example.COM").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, a);
        assert_eq!(found[0].info.phones.len(), 2);
        assert!(db
            .contacts_by_uri("sip:nobody@example.com")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn batch_add_is_all_or_nothing_and_json_is_flat() {
        let mut db = Db::open_in_memory().unwrap();
        assert!(db.add_contacts(&[alice(), named("")]).is_err());
        assert!(db.contacts().unwrap().is_empty());
        let ids = db.add_contacts(&[alice(), named("Bob")]).unwrap();
        assert_eq!(ids.len(), 2);
        let c = db.contact(ids[0]).unwrap();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["name"], "Alice Liddell");
        assert_eq!(json["id"], ids[0].0);
        let back: Contact = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}

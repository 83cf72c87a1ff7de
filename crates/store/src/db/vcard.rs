//! vCard 3.0 (RFC 2426) and 4.0 (RFC 6350) import and export of contacts.
//!
//! Import takes what address books export: `FN` (or `N`), `TEL`, and a SIP
//! address from `IMPP`, `X-SIP` or `URL`; folded lines and escaped
//! characters are undone. A bad card is reported with its line number and
//! skipped; the good ones around it are still imported. Export writes vCard
//! 4.0 that this importer reads back to the same contacts (Parley's own
//! flags travel as `X-PARLEY-*` properties other programs ignore).

use serde::Serialize;

use super::contacts::{is_sip_uri, ContactId, ContactInfo, Phone, MAX_PHONES};
use super::{Contact, Db, DbError};

/// Largest vCard document accepted (bytes).
pub const MAX_VCARD_BYTES: usize = 8 * 1024 * 1024;
/// Most cards read from one document.
pub const MAX_CARDS: usize = 10_000;
/// Most errors reported for one document; later ones are only counted.
pub const MAX_ERRORS: usize = 100;
/// Longest unfolded content line (bytes); longer ones (inline photos) make
/// their card fail rather than be held in memory piece by piece.
const MAX_LINE: usize = 64 * 1024;
/// Export folds lines at this many octets (RFC 6350 §3.2).
const FOLD_AT: usize = 75;

/// Errors importing vCards. [`VcardError::TooLarge`] refuses the whole
/// document; the others each concern one card or line and are collected in
/// [`VcardImport::errors`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VcardError {
    /// The document is larger than [`MAX_VCARD_BYTES`].
    #[error("the vCard file has {size} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A card or line is malformed.
    #[error("line {line}: {problem}")]
    Syntax {
        /// 1-based line number in the document.
        line: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// A card parsed but is not an acceptable contact.
    #[error("card at line {line}: {field} {problem}")]
    Contact {
        /// The line of its `BEGIN:VCARD`.
        line: usize,
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The document has more than [`MAX_CARDS`] cards; the rest was skipped.
    #[error("line {line}: more than {max} cards, the rest is skipped")]
    TooManyCards {
        /// Where reading stopped.
        line: usize,
        /// The limit.
        max: usize,
    },
}

/// The result of parsing a vCard document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VcardImport {
    /// The good cards, in document order.
    pub contacts: Vec<ContactInfo>,
    /// The problems, in document order (at most [`MAX_ERRORS`]).
    pub errors: Vec<VcardError>,
    /// Problems beyond [`MAX_ERRORS`], counted only.
    pub more_errors: usize,
}

/// What [`Db::import_vcards`] stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VcardImportReport {
    /// The new contacts' ids, in document order.
    pub added: Vec<ContactId>,
    /// The cards that were skipped, and why.
    pub errors: Vec<VcardError>,
    /// Problems beyond those listed.
    pub more_errors: usize,
}

impl VcardImport {
    fn error(&mut self, e: VcardError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.more_errors += 1;
        }
    }
}

/// One content line: `[group.]NAME;param=value;...:value`.
#[derive(Debug)]
struct ContentLine<'a> {
    /// Upper-cased, group stripped.
    name: String,
    /// Lower-cased parameter values (`TYPE=cell,work` and bare `CELL` alike).
    types: Vec<String>,
    /// Lower-cased `VALUE=` parameter.
    value_type: Option<String>,
    value: &'a str,
}

fn syntax(line: usize, problem: &'static str) -> VcardError {
    VcardError::Syntax { line, problem }
}

/// Splits `s` at `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_line(text: &str, line: usize) -> Result<ContentLine<'_>, VcardError> {
    let mut quoted = false;
    let colon = text
        .char_indices()
        .find(|&(_, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ':' && !quoted
        })
        .map(|(i, _)| i)
        .ok_or_else(|| syntax(line, "no ':' in the line"))?;
    let (head, value) = (&text[..colon], &text[colon + 1..]);
    let mut parts = split_unquoted(head, ';').into_iter();
    let full_name = parts.next().unwrap_or_default();
    let name = full_name.rsplit('.').next().unwrap_or_default();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(syntax(line, "bad property name"));
    }
    let mut types = Vec::new();
    let mut value_type = None;
    for param in parts {
        let (key, values) = match param.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v),
            // vCard 3.0 and older allow a bare type: `TEL;CELL:...`.
            None => ("type".to_owned(), param),
        };
        // RFC 6350 writes several types both as `TYPE=a,b` and `TYPE="a,b"`.
        for v in values.split(',') {
            let v = v.trim().trim_matches('"').trim().to_lowercase();
            match key.as_str() {
                "type" if !v.is_empty() => types.push(v),
                "value" => value_type = Some(v),
                _ => {}
            }
        }
    }
    Ok(ContentLine {
        name: name.to_ascii_uppercase(),
        types,
        value_type,
        value,
    })
}

/// Undoes vCard text escaping (`\\`, `\,`, `\;`, `\n`).
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a structured value (`N`) at unescaped `;`, then unescapes.
fn components(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ';' {
            parts.push(unescape(&current));
            current.clear();
        } else {
            current.push(c);
        }
    }
    parts.push(unescape(&current));
    parts
}

fn flag(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes"
    )
}

/// A card being read.
#[derive(Default)]
struct CardBuilder {
    full_name: Option<String>,
    n_name: Option<String>,
    sip_uri: Option<String>,
    phones: Vec<Phone>,
    favourite: bool,
    presence: bool,
    blf: bool,
}

impl CardBuilder {
    fn apply(&mut self, prop: &ContentLine<'_>, line: usize) -> Result<(), VcardError> {
        match prop.name.as_str() {
            "VERSION" if !matches!(prop.value.trim(), "3.0" | "4.0") => {
                return Err(syntax(
                    line,
                    "unsupported vCard version (3.0 and 4.0 are read)",
                ));
            }
            "FN" => self.full_name = Some(unescape(prop.value).trim().to_owned()),
            "N" => {
                // family; given; additional; prefixes; suffixes
                let c = components(prop.value);
                let order = [3, 1, 2, 0, 4];
                let name = order
                    .iter()
                    .filter_map(|&i| c.get(i))
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                self.n_name = Some(name);
            }
            "TEL" => {
                let mut number = unescape(prop.value).trim().to_owned();
                let is_uri = prop.value_type.as_deref() == Some("uri")
                    || number
                        .get(..4)
                        .is_some_and(|s| s.eq_ignore_ascii_case("tel:"));
                if is_uri {
                    let rest = number.get(4..).unwrap_or_default();
                    // tel: URI parameters (`;ext=`) are not part of the number.
                    number = rest.split(';').next().unwrap_or_default().to_owned();
                }
                if number.is_empty() {
                    return Err(syntax(line, "empty TEL"));
                }
                if self.phones.len() >= MAX_PHONES {
                    return Err(syntax(line, "too many TEL properties"));
                }
                let kind = prop
                    .types
                    .iter()
                    .find(|t| !matches!(t.as_str(), "pref" | "voice"))
                    .cloned();
                self.phones.push(Phone { number, kind });
            }
            "IMPP" | "URL" => {
                let v = prop.value.trim();
                if self.sip_uri.is_none() && is_sip_uri(v) {
                    self.sip_uri = Some(v.to_owned());
                }
            }
            "X-SIP" => {
                let v = prop.value.trim();
                if self.sip_uri.is_none() && !v.is_empty() {
                    let uri = if is_sip_uri(v) {
                        v.to_owned()
                    } else {
                        format!("sip:{v}")
                    };
                    self.sip_uri = Some(uri);
                }
            }
            "X-PARLEY-FAVOURITE" => self.favourite = flag(prop.value),
            "X-PARLEY-PRESENCE" => self.presence = flag(prop.value),
            "X-PARLEY-BLF" => self.blf = flag(prop.value),
            _ => {}
        }
        Ok(())
    }

    fn finish(self, begin_line: usize) -> Result<ContactInfo, VcardError> {
        let name = self
            .full_name
            .filter(|n| !n.is_empty())
            .or(self.n_name.filter(|n| !n.is_empty()))
            .or_else(|| self.sip_uri.clone())
            .or_else(|| self.phones.first().map(|p| p.number.clone()))
            .ok_or(syntax(begin_line, "card without FN, N, SIP address or TEL"))?;
        let info = ContactInfo {
            name,
            sip_uri: self.sip_uri,
            phones: self.phones,
            favourite: self.favourite,
            presence: self.presence,
            blf: self.blf,
        };
        info.validate().map_err(|e| match e {
            DbError::Invalid { field, problem } => VcardError::Contact {
                line: begin_line,
                field,
                problem,
            },
            _ => syntax(begin_line, "card is not a valid contact"),
        })?;
        Ok(info)
    }
}

/// Joins folded lines (a line starting with a space or tab continues the
/// previous one) and yields each logical line with the number of its first
/// physical line. Over-long logical lines are cut and flagged.
fn unfold(text: &str) -> Vec<(usize, String, bool)> {
    let mut out: Vec<(usize, String, bool)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let (Some(rest), Some(last)) = (
            raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t')),
            out.last_mut(),
        ) {
            if last.1.len() + rest.len() > MAX_LINE {
                last.2 = true;
            } else {
                last.1.push_str(rest);
            }
            continue;
        }
        if raw.trim().is_empty() {
            continue;
        }
        let too_long = raw.len() > MAX_LINE;
        let kept = if too_long { "" } else { raw };
        out.push((i + 1, kept.to_owned(), too_long));
    }
    out
}

/// Parses a vCard document (any number of cards). Only a document over
/// [`MAX_VCARD_BYTES`] is an error; bad cards are listed in the result.
pub fn parse(text: &str) -> Result<VcardImport, VcardError> {
    if text.len() > MAX_VCARD_BYTES {
        return Err(VcardError::TooLarge {
            size: text.len(),
            max: MAX_VCARD_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut result = VcardImport::default();
    // The open card: its BEGIN line, what it has so far, its first error.
    let mut card: Option<(usize, CardBuilder, Option<VcardError>)> = None;
    let mut cards = 0;
    for (line, content, too_long) in unfold(text) {
        let parsed = if too_long {
            Err(syntax(line, "line too long"))
        } else {
            parse_line(&content, line)
        };
        let is = |p: &Result<ContentLine<'_>, VcardError>, name: &str| {
            p.as_ref()
                .is_ok_and(|p| p.name == name && p.value.trim().eq_ignore_ascii_case("vcard"))
        };
        if is(&parsed, "BEGIN") {
            if let Some((begin, _, _)) = card.take() {
                result.error(syntax(begin, "card without END:VCARD"));
            }
            cards += 1;
            if cards > MAX_CARDS {
                result.error(VcardError::TooManyCards {
                    line,
                    max: MAX_CARDS,
                });
                return Ok(result);
            }
            card = Some((line, CardBuilder::default(), None));
            continue;
        }
        if is(&parsed, "END") {
            match card.take() {
                Some((_, _, Some(e))) => result.error(e),
                Some((begin, builder, None)) => match builder.finish(begin) {
                    Ok(c) => result.contacts.push(c),
                    Err(e) => result.error(e),
                },
                None => result.error(syntax(line, "END:VCARD without BEGIN:VCARD")),
            }
            continue;
        }
        match (&mut card, parsed) {
            (None, _) => result.error(syntax(line, "content outside BEGIN:VCARD / END:VCARD")),
            (Some((_, _, Some(_))), _) => {} // this card failed already; skip to its END
            (Some((_, _, first_error)), Err(e)) => *first_error = Some(e),
            (Some((_, builder, first_error)), Ok(prop)) => {
                if let Err(e) = builder.apply(&prop, line) {
                    *first_error = Some(e);
                }
            }
        }
    }
    if let Some((begin, _, _)) = card {
        result.error(syntax(begin, "card without END:VCARD"));
    }
    Ok(result)
}

/// Escapes a text value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at [`FOLD_AT`] octets, never inside a character.
fn push_folded(out: &mut String, line: &str) {
    let mut rest = line;
    let mut width = FOLD_AT;
    loop {
        if rest.len() <= width {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = width;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space counts towards the continuation line's octets.
        width = FOLD_AT - 1;
    }
}

/// Writes contacts as a vCard 4.0 document.
pub fn export<'a>(contacts: impl IntoIterator<Item = &'a ContactInfo>) -> String {
    let mut out = String::new();
    for c in contacts {
        push_folded(&mut out, "BEGIN:VCARD");
        push_folded(&mut out, "VERSION:4.0");
        push_folded(&mut out, &format!("FN:{}", escape(&c.name)));
        if let Some(uri) = &c.sip_uri {
            push_folded(&mut out, &format!("IMPP:{uri}"));
        }
        for p in &c.phones {
            let line = match &p.kind {
                Some(kind) => format!(
                    "TEL;TYPE=\"{}\":{}",
                    kind.replace('"', ""),
                    escape(&p.number)
                ),
                None => format!("TEL:{}", escape(&p.number)),
            };
            push_folded(&mut out, &line);
        }
        for (set, name) in [
            (c.favourite, "X-PARLEY-FAVOURITE"),
            (c.presence, "X-PARLEY-PRESENCE"),
            (c.blf, "X-PARLEY-BLF"),
        ] {
            if set {
                push_folded(&mut out, &format!("{name}:1"));
            }
        }
        push_folded(&mut out, "END:VCARD");
    }
    out
}

impl Db {
    /// Imports every good card of a vCard document as new contacts (in one
    /// transaction) and reports the bad ones.
    pub fn import_vcards(&mut self, text: &str) -> Result<VcardImportReport, DbError> {
        let parsed = parse(text)?;
        let added = self.add_contacts(&parsed.contacts)?;
        Ok(VcardImportReport {
            added,
            errors: parsed.errors,
            more_errors: parsed.more_errors,
        })
    }

    /// All contacts as a vCard 4.0 document.
    pub fn export_vcards(&self) -> Result<String, DbError> {
        let contacts: Vec<Contact> = self.contacts()?;
        Ok(export(contacts.iter().map(|c| &c.info)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLE_3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Liddell;Alice;;Dr.;\r\nFN:Dr. Alice Liddell\r\nORG:Wonderland\\, Ltd.;\r\nitem1.TEL;type=CELL;type=VOICE;type=pref:+44 7700 900123\r\nTEL;TYPE=WORK:+44 20 7946 0001\r\nitem2.IMPP;X-SERVICE-TYPE=SIP:sip:alice@example.com\r\nEND:VCARD\r\n";

    fn ok(text: &str) -> Vec<ContactInfo> {
        let r = parse(text).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        r.contacts
    }

    #[test]
    fn reads_a_typical_3_0_card() {
        let c = ok(APPLE_3);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "Dr. Alice Liddell");
        assert_eq!(c[0].sip_uri.as_deref(), Some("sip:alice@example.com"));
        assert_eq!(
            c[0].phones,
            [
                Phone {
                    number: "+44 7700 900123".into(),
                    kind: Some("cell".into())
                },
                Phone {
                    number: "+44 20 7946 0001".into(),
                    kind: Some("work".into())
                },
            ]
        );
    }

    #[test]
    fn reads_4_0_with_tel_uris_bare_types_and_x_sip() {
        let text = "BEGIN:VCARD\nVERSION:4.0\nFN:Bob\nTEL;VALUE=uri;TYPE=\"home,voice\":tel:+1-555-0100;ext=12\nTEL;CELL:555 0199\nX-SIP:bob@pbx.example.com\nEND:VCARD\n";
        let c = ok(text);
        assert_eq!(c[0].sip_uri.as_deref(), Some("sip:bob@pbx.example.com"));
        assert_eq!(c[0].phones[0].number, "+1-555-0100");
        assert_eq!(c[0].phones[0].kind.as_deref(), Some("home"));
        assert_eq!(c[0].phones[1].kind.as_deref(), Some("cell"));
        // URL with sip: counts; other IMPP schemes do not.
        let text = "BEGIN:VCARD\nVERSION:4.0\nFN:C\nIMPP:xmpp:c@example.com\nURL:https://example.com\nURL:sips:c@example.com\nEND:VCARD\n";
        assert_eq!(ok(text)[0].sip_uri.as_deref(), Some("sips:c@example.com"));
    }

    #[test]
    fn unfolds_lines_and_unescapes() {
        let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Smith\\, John \\\\ J\r\n r. \\; the \r\n\tsecond\r\nIMPP:sip:very-long-user\r\n name@example.com\r\nEND:VCARD\r\n";
        let c = ok(text);
        assert_eq!(c[0].name, "Smith, John \\ Jr. ; the second");
        assert_eq!(
            c[0].sip_uri.as_deref(),
            Some("sip:very-long-username@example.com")
        );
    }

    #[test]
    fn name_falls_back_to_n_then_uri() {
        let c = ok("BEGIN:VCARD\nVERSION:3.0\nN:Doe;Jane;Q;;PhD\nEND:VCARD\nBEGIN:VCARD\nVERSION:3.0\nIMPP:sip:x@y\nEND:VCARD\n");
        assert_eq!(c[0].name, "Jane Q Doe PhD");
        assert_eq!(c[1].name, "sip:x@y");
    }

    #[test]
    fn bad_cards_are_reported_by_line_and_good_ones_kept() {
        let text = "\u{feff}BEGIN:VCARD\nVERSION:4.0\nFN:Good One\nEND:VCARD\n\
BEGIN:VCARD\nVERSION:2.1\nFN:Old\nEND:VCARD\n\
BEGIN:VCARD\nVERSION:4.0\nFN:No colon\nTEL\nEND:VCARD\n\
stray line\n\
BEGIN:VCARD\nVERSION:4.0\nORG:Nothing\nEND:VCARD\n\
BEGIN:VCARD\nVERSION:4.0\nFN:Bad\nIMPP:sip:\nX-PARLEY-PRESENCE:1\nEND:VCARD\n\
BEGIN:VCARD\nFN:Good Two\nEND:VCARD\n\
END:VCARD\n\
BEGIN:VCARD\nFN:Unclosed\n\
BEGIN:VCARD\nFN:Good Three\nEND:VCARD\n\
BEGIN:VCARD\nFN:Truncated at EOF\n";
        let r = parse(text).unwrap();
        let names: Vec<_> = r.contacts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Good One", "Good Two", "Good Three"]);
        assert_eq!(
            r.errors,
            [
                syntax(6, "unsupported vCard version (3.0 and 4.0 are read)"),
                syntax(12, "no ':' in the line"),
                syntax(14, "content outside BEGIN:VCARD / END:VCARD"),
                syntax(15, "card without FN, N, SIP address or TEL"),
                VcardError::Contact {
                    line: 19,
                    field: "presence",
                    problem: "needs a SIP URI"
                },
                syntax(28, "END:VCARD without BEGIN:VCARD"),
                syntax(29, "card without END:VCARD"),
                syntax(34, "card without END:VCARD"),
            ]
        );
        // Messages carry the line number for the user.
        assert_eq!(
            r.errors[0].to_string(),
            "line 6: unsupported vCard version (3.0 and 4.0 are read)"
        );
    }

    #[test]
    fn size_caps_hold() {
        let huge = "X".repeat(MAX_VCARD_BYTES + 1);
        assert!(matches!(parse(&huge), Err(VcardError::TooLarge { .. })));

        // An inline photo over the line cap fails its card only.
        let photo = format!(
            "BEGIN:VCARD\nFN:Photo\nPHOTO:{}\nEND:VCARD\nBEGIN:VCARD\nFN:Folded photo\nPHOTO:x\n{}END:VCARD\nBEGIN:VCARD\nFN:Fine\nEND:VCARD\n",
            "A".repeat(MAX_LINE + 1),
            format!(" {}\n", "B".repeat(1000)).repeat(MAX_LINE / 1000 + 1),
        );
        let r = parse(&photo).unwrap();
        assert_eq!(r.contacts.len(), 1);
        assert_eq!(
            r.errors,
            [syntax(3, "line too long"), syntax(7, "line too long")]
        );

        let many = "BEGIN:VCARD\nFN:x\nEND:VCARD\n".repeat(MAX_CARDS + 5);
        let r = parse(&many).unwrap();
        assert_eq!(r.contacts.len(), MAX_CARDS);
        assert!(
            matches!(r.errors[..], [VcardError::TooManyCards { line, .. }] if line == MAX_CARDS * 3 + 1)
        );

        let errors = "junk\n".repeat(MAX_ERRORS + 7);
        let r = parse(&errors).unwrap();
        assert_eq!(r.errors.len(), MAX_ERRORS);
        assert_eq!(r.more_errors, 7);

        let phones = format!(
            "BEGIN:VCARD\nFN:p\n{}END:VCARD\n",
            "TEL:1\n".repeat(MAX_PHONES + 1)
        );
        assert_eq!(parse(&phones).unwrap().errors.len(), 1);
    }

    #[test]
    fn hostile_bytes_never_panic() {
        for text in [
            "BEGIN:VCARD\n\u{e9}\u{e9}\u{e9}:x\nEND:VCARD",
            "BEGIN:VCARD\nFN;X=\"unterminated:quote\nEND:VCARD",
            "BEGIN:VCARD\n:\n;\n\\\nFN:\\\nEND:VCARD",
            " leading continuation\n\t\n",
            "BEGIN:VCARD\nTEL;VALUE=uri:tel:\nTEL:tel:;x\nEND:VCARD",
            "BEGIN:VCARD\nN:;;;;;;;;\nX-SIP:\u{0}\nEND:VCARD",
        ] {
            let r = parse(text).unwrap();
            assert!(r.contacts.is_empty(), "{text:?} gave {:?}", r.contacts);
            assert!(!r.errors.is_empty(), "{text:?} gave no error");
        }
    }

    fn sample() -> Vec<ContactInfo> {
        vec![
            ContactInfo {
                name: "Zoë d'Arc, née \"Jeanne\"; \\ rebel\nline two".into(),
                sip_uri: Some("sip:zoe@example.com;transport=tls".into()),
                phones: vec![
                    Phone {
                        number: "+33 1 23 45 67 89".into(),
                        kind: Some("work".into()),
                    },
                    Phone {
                        number: "06,12;34".into(),
                        kind: None,
                    },
                ],
                favourite: true,
                presence: true,
                blf: true,
            },
            ContactInfo {
                name: "界".repeat(60),
                sip_uri: None,
                phones: vec![Phone {
                    number: "1".into(),
                    kind: Some("cell".into()),
                }],
                ..ContactInfo::default()
            },
        ]
    }

    #[test]
    fn export_round_trips_and_folds_at_75_octets() {
        let contacts = sample();
        // The sample's name has a newline, which a stored contact may not;
        // the vCard layer itself must still carry it.
        let text = export(&contacts);
        for line in text.split("\r\n") {
            assert!(line.len() <= FOLD_AT, "{line:?} is {} octets", line.len());
        }
        assert!(text.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"));
        let back = parse(&text).unwrap();
        assert_eq!(back.contacts.len(), 1, "{:?}", back.errors);
        assert_eq!(
            back.errors,
            [VcardError::Contact {
                line: 1,
                field: "name",
                problem: "contains control characters"
            }]
        );
        let mut clean = contacts;
        clean[0].name = clean[0].name.replace('\n', " ");
        assert_eq!(parse(&export(&clean)).unwrap().contacts, clean);
    }

    #[test]
    fn db_import_and_export() {
        let mut db = Db::open_in_memory().unwrap();
        let report = db
            .import_vcards(&format!("{APPLE_3}BEGIN:VCARD\nVERSION:4.0\nEND:VCARD\n"))
            .unwrap();
        assert_eq!(report.added.len(), 1);
        assert_eq!(report.errors.len(), 1);
        let stored = db.contact(report.added[0]).unwrap();
        assert_eq!(stored.info.name, "Dr. Alice Liddell");

        let exported = db.export_vcards().unwrap();
        let mut other = Db::open_in_memory().unwrap();
        let again = other.import_vcards(&exported).unwrap();
        assert!(again.errors.is_empty());
        assert_eq!(other.contact(again.added[0]).unwrap().info, stored.info);
        assert!(matches!(
            db.import_vcards(&"x".repeat(MAX_VCARD_BYTES + 1)),
            Err(DbError::Vcard(VcardError::TooLarge { .. }))
        ));
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"kind\":\"syntax\""), "{json}");
    }
}

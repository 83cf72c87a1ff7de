//! Presence documents: PIDF (RFC 3863) with the RPID activities and notes
//! of RFC 4480, reduced to what a softphone shows ([`Availability`] and a
//! note), and built back for PUBLISH and NOTIFY.
//!
//! Also home of the small, hardened XML reader the other XML body formats
//! ([`crate::dialog_info`], [`crate::is_composing`]) share: bodies come from
//! the network, so the size and depth are capped, DOCTYPE (and so every
//! entity definition, the "billion laughs" family) is refused, only the
//! five predefined entities and character references are resolved, and
//! the input must be UTF-8. Namespaces are matched by local name only:
//! servers disagree on prefixes (`dm:`, `pp:`, `rpid:`, `ep:`) and on the
//! namespace of the person element, and unknown elements are ignored.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Largest XML body accepted, in bytes.
pub const MAX_XML_BODY: usize = 64 * 1024;
/// Deepest element nesting accepted.
pub const MAX_XML_DEPTH: usize = 32;
/// Most elements in one document.
pub const MAX_XML_ELEMENTS: usize = 4096;

/// Why an XML body (PIDF, dialog-info, is-composing) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Larger than [`MAX_XML_BODY`].
    #[error("XML body of {0} bytes exceeds the limit of {MAX_XML_BODY}")]
    TooLarge(usize),
    /// Nested deeper than [`MAX_XML_DEPTH`].
    #[error("XML nesting deeper than {MAX_XML_DEPTH}")]
    TooDeep,
    /// More than [`MAX_XML_ELEMENTS`] elements.
    #[error("more than {MAX_XML_ELEMENTS} XML elements")]
    TooManyElements,
    /// A DOCTYPE declaration: refused so no entity can be defined.
    #[error("DOCTYPE declarations are not accepted")]
    Doctype,
    /// A reference to an entity other than the five predefined ones.
    #[error("undefined XML entity")]
    UnknownEntity,
    /// Not UTF-8.
    #[error("XML body is not UTF-8")]
    NotUtf8,
    /// Not well-formed.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The root element is not the expected one.
    #[error("root element is <{found}>, expected <{expected}>")]
    WrongRoot {
        /// What the document format requires.
        expected: &'static str,
        /// What the body has (local name).
        found: String,
    },
    /// A required element or attribute is missing or invalid.
    #[error("missing or invalid {0}")]
    Missing(&'static str),
}

/// One parsed element: local names only, text of its direct character data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

impl Element {
    /// An attribute by local name.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Direct children with this local name.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first direct child with this local name.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Trimmed text of the first direct child with this local name.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Every element below this one with this local name, depth first.
    fn descendants<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.descendants(name, out);
        }
    }
}

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or(name).to_owned()
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

fn open(start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(malformed)?;
        let key = a.key.as_ref();
        // Namespace declarations carry no data we use.
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| match e {
                quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                    ..,
                )) => XmlError::UnknownEntity,
                other => malformed(other),
            })?;
        attrs.push((local(key), value.into_owned()));
    }
    Ok(Element {
        name: local(start.name().as_ref()),
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

/// Parses `body` into an element tree whose root must be `root`.
pub(crate) fn parse_tree(body: &[u8], root: &'static str) -> Result<Element, XmlError> {
    if body.len() > MAX_XML_BODY {
        return Err(XmlError::TooLarge(body.len()));
    }
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut done: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let ev = reader.read_event().map_err(malformed)?;
        match ev {
            Event::Start(s) | Event::Empty(s) if done.is_some() => {
                return Err(malformed(format!(
                    "second root element <{}>",
                    local(s.name().as_ref())
                )))
            }
            Event::Start(s) => {
                count += 1;
                if count > MAX_XML_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(open(&s)?);
            }
            Event::Empty(s) => {
                count += 1;
                if count > MAX_XML_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let el = open(&s)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => done = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| malformed("unmatched end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => done = Some(el),
                }
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(malformed)?
                } else {
                    predefined(&r.xml10_content())
                };
                let ch = ch.ok_or(XmlError::UnknownEntity)?;
                if let Some(el) = stack.last_mut() {
                    el.text.push(ch);
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element"));
    }
    let el = done.ok_or_else(|| malformed("no root element"))?;
    if el.name != root {
        return Err(XmlError::WrongRoot {
            expected: root,
            found: el.name,
        });
    }
    Ok(el)
}

/// Escapes text for an XML element or attribute value.
pub(crate) fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// What a contact's state is shown as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Availability {
    /// Online and free.
    Available,
    /// Away from the device (RFC 4480 away, meal, vacation, sleeping...).
    Away,
    /// Busy (RFC 4480 busy, meeting, appointment...).
    Busy,
    /// In a call (RFC 4480 on-the-phone).
    OnThePhone,
    /// Every tuple is closed.
    Offline,
    /// The document says nothing usable.
    Unknown,
}

/// A presence tuple (RFC 3863 §4.1.2): one way to reach the entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple {
    /// The tuple's id.
    pub id: String,
    /// `Some(true)` for `open`, `Some(false)` for `closed`.
    pub open: Option<bool>,
    /// The contact URI, if given.
    pub contact: Option<String>,
    /// The tuple's note.
    pub note: Option<String>,
}

/// A parsed presence document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// The presentity (`entity` attribute).
    pub entity: String,
    /// The tuples, in document order.
    pub tuples: Vec<Tuple>,
    /// RFC 4480 activity names found under the person element(s), in
    /// document order (for example `away`, `on-the-phone`).
    pub activities: Vec<String>,
    /// The state to show.
    pub availability: Availability,
    /// The note to show: the person's, else the document's, else a tuple's.
    pub note: Option<String>,
}

/// Most tuples or activities kept from one document.
const MAX_ITEMS: usize = 64;

fn activity_rank(name: &str) -> Option<Availability> {
    Some(match name {
        "on-the-phone" => Availability::OnThePhone,
        "busy" | "meeting" | "appointment" | "presentation" | "performance" | "worship"
        | "steering" => Availability::Busy,
        "away" | "breakfast" | "dinner" | "meal" | "holiday" | "vacation" | "sleeping"
        | "travel" | "in-transit" | "permanent-absence" | "shopping" => Availability::Away,
        _ => return None,
    })
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Presence {
    /// Parses an `application/pidf+xml` body.
    pub fn parse(body: &[u8]) -> Result<Presence, XmlError> {
        let root = parse_tree(body, "presence")?;
        let entity = root.attr("entity").unwrap_or_default().to_owned();
        let tuples: Vec<Tuple> = root
            .all("tuple")
            .take(MAX_ITEMS)
            .map(|t| {
                let status = t.child("status");
                let open = status
                    .and_then(|s| s.child_text("basic"))
                    .and_then(|b| match b {
                        "open" => Some(true),
                        "closed" => Some(false),
                        _ => None,
                    });
                Tuple {
                    id: t.attr("id").unwrap_or_default().to_owned(),
                    open,
                    contact: nonempty(t.child_text("contact")),
                    note: nonempty(t.child_text("note")),
                }
            })
            .collect();

        // RFC 4480 puts activities in the data-model person; Asterisk nests
        // them in person/status, and some servers put them in a tuple's
        // status: look for <activities> anywhere.
        let mut acts = Vec::new();
        root.descendants("activities", &mut acts);
        let mut activities = Vec::new();
        for a in acts {
            for c in &a.children {
                // <rpid:busy/> (RFC 4480) or <activity>busy</activity>
                // (the older RPID drafts some PBXes still send).
                let name = if c.name == "activity" {
                    c.text.trim().to_owned()
                } else {
                    c.name.clone()
                };
                if !name.is_empty() && activities.len() < MAX_ITEMS {
                    activities.push(name);
                }
            }
        }

        let person_note = root
            .all("person")
            .find_map(|p| nonempty(p.child_text("note")));
        let note = person_note
            .or_else(|| nonempty(root.child_text("note")))
            .or_else(|| tuples.iter().find_map(|t| t.note.clone()));

        let activity = activities
            .iter()
            .filter_map(|a| activity_rank(a))
            .min_by_key(|a| match a {
                Availability::OnThePhone => 0,
                Availability::Busy => 1,
                _ => 2,
            });
        let any_open = tuples.iter().any(|t| t.open == Some(true));
        let all_closed = !tuples.is_empty() && tuples.iter().all(|t| t.open == Some(false));
        let availability = if all_closed {
            Availability::Offline
        } else if let Some(a) = activity {
            a
        } else if any_open {
            Availability::Available
        } else {
            Availability::Unknown
        };
        Ok(Presence {
            entity,
            tuples,
            activities,
            availability,
            note,
        })
    }

    /// Builds a PIDF document with RPID activities for `entity` (our AoR):
    /// one tuple, open unless `Offline`, and the activity and note in a
    /// data-model person (RFC 4479 §3.3, RFC 4480 §3.2). `tuple_id` must be
    /// stable across refreshes so watchers see one tuple change.
    pub fn build(
        entity: &str,
        tuple_id: &str,
        availability: Availability,
        note: Option<&str>,
    ) -> String {
        let basic = match availability {
            Availability::Offline => "<basic>closed</basic>",
            // RFC 3863 §4.1.4: basic is optional; without it the state is unknown.
            Availability::Unknown => "",
            _ => "<basic>open</basic>",
        };
        let activity = match availability {
            Availability::Away => "<rpid:activities><rpid:away/></rpid:activities>",
            Availability::Busy => "<rpid:activities><rpid:busy/></rpid:activities>",
            Availability::OnThePhone => "<rpid:activities><rpid:on-the-phone/></rpid:activities>",
            _ => "",
        };
        let note = note
            .map(|n| format!("<dm:note>{}</dm:note>", esc(n)))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
             xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
             xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"{entity}\">\n\
             <tuple id=\"{tuple}\"><status>{basic}</status></tuple>\n\
             <dm:person id=\"p-{tuple}\">{activity}{note}</dm:person>\n\
             </presence>\n",
            entity = esc(entity),
            tuple = esc(tuple_id),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kamailio_relayed_baresip_document() {
        // baresip publishes this; Kamailio's presence module relays it.
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
    entity="sip:bob@127.0.0.1">
  <tuple id="a1b2">
    <status><basic>open</basic></status>
    <contact>sip:bob@127.0.0.1:5070</contact>
  </tuple>
  <dm:person id="p1">
    <rpid:activities><rpid:away/></rpid:activities>
    <dm:note>Back at &lt;3&gt; &amp; later &#x263A;</dm:note>
  </dm:person>
</presence>"#;
        let p = Presence::parse(doc).unwrap();
        assert_eq!(p.entity, "sip:bob@127.0.0.1");
        assert_eq!(p.availability, Availability::Away);
        assert_eq!(p.note.as_deref(), Some("Back at <3> & later \u{263A}"));
        assert_eq!(
            p.tuples[0].contact.as_deref(),
            Some("sip:bob@127.0.0.1:5070")
        );
        assert_eq!(p.tuples[0].open, Some(true));
    }

    #[test]
    fn asterisk_style_person_status_activities() {
        let doc = br#"<?xml version="1.0" encoding="ISO-8859-1"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:pp="urn:ietf:params:xml:ns:pidf:person"
 xmlns:es="urn:ietf:params:xml:ns:pidf:rpid:status:rpid-status"
 xmlns:ep="urn:ietf:params:xml:ns:pidf:rpid:rpid-person" entity="sip:6001@pbx">
<pp:person><status><ep:activities><ep:busy/></ep:activities></status></pp:person>
<note>Ready</note>
<tuple id="6001"><contact priority="1">sip:6001@pbx</contact><status><basic>open</basic></status></tuple>
</presence>"#;
        let p = Presence::parse(doc).unwrap();
        assert_eq!(p.availability, Availability::Busy);
        assert_eq!(p.note.as_deref(), Some("Ready"));
        assert_eq!(p.activities, ["busy"]);
    }

    #[test]
    fn freeswitch_on_the_phone_and_old_activity_text() {
        let doc = br#"<?xml version="1.0" encoding="ISO-8859-1"?>
<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model'
 xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' xmlns:c='urn:ietf:params:xml:ns:pidf:cipid'
 entity='sip:1000@10.0.0.1'>
<tuple id='t6a5ed77e'><status><basic>open</basic></status></tuple>
<dm:person id='p06360c4a'><rpid:activities><rpid:on-the-phone/><rpid:busy/></rpid:activities>
<dm:note>On The Phone</dm:note></dm:person>
<x:unknown xmlns:x="urn:example:vendor"><x:deep a="1"/></x:unknown>
</presence>"#;
        let p = Presence::parse(doc).unwrap();
        assert_eq!(
            p.availability,
            Availability::OnThePhone,
            "on-the-phone wins"
        );
        assert_eq!(p.note.as_deref(), Some("On The Phone"));

        let old = br#"<presence entity="sip:a@b"><tuple id="1"><status><basic>open</basic>
<activities><activity>vacation</activity></activities></status></tuple></presence>"#;
        assert_eq!(
            Presence::parse(old).unwrap().availability,
            Availability::Away
        );
    }

    #[test]
    fn basic_alone_closed_and_empty_documents() {
        let open = br#"<presence entity="sip:a@b"><tuple id="1"><status><basic>open</basic></status><note>hi</note></tuple></presence>"#;
        let p = Presence::parse(open).unwrap();
        assert_eq!(p.availability, Availability::Available);
        assert_eq!(p.note.as_deref(), Some("hi"));
        let closed = br#"<presence entity="sip:a@b"><tuple id="1"><status><basic>closed</basic></status></tuple>
<person xmlns="urn:ietf:params:xml:ns:pidf:data-model"><activities xmlns="urn:ietf:params:xml:ns:pidf:rpid"><away/></activities></person></presence>"#;
        assert_eq!(
            Presence::parse(closed).unwrap().availability,
            Availability::Offline
        );
        let empty = br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>"#;
        assert_eq!(
            Presence::parse(empty).unwrap().availability,
            Availability::Unknown
        );
    }

    #[test]
    fn build_round_trips_every_state() {
        for a in [
            Availability::Available,
            Availability::Away,
            Availability::Busy,
            Availability::OnThePhone,
            Availability::Offline,
            Availability::Unknown,
        ] {
            let doc = Presence::build("sip:alice@example.com", "t1", a, Some("a < b & \"c\""));
            let p = Presence::parse(doc.as_bytes()).unwrap();
            assert_eq!(p.availability, a, "{doc}");
            assert_eq!(p.note.as_deref(), Some("a < b & \"c\""));
            assert_eq!(p.entity, "sip:alice@example.com");
        }
        let doc = Presence::build("sip:a@b", "t1", Availability::Available, None);
        assert_eq!(Presence::parse(doc.as_bytes()).unwrap().note, None);
    }

    #[test]
    fn every_truncation_and_byte_flip_is_answered_without_panic() {
        let doc = Presence::build("sip:a@b", "t", Availability::Busy, Some("n & <m>"));
        let bytes = doc.as_bytes();
        let mut refused = 0;
        for cut in 0..bytes.len() {
            if Presence::parse(&bytes[..cut]).is_err() {
                refused += 1;
            }
        }
        assert!(refused > bytes.len() / 2, "most truncations are malformed");
        for i in 0..bytes.len() {
            for flip in [b'<', b'&', b'>', 0xff, b'"'] {
                let mut m = bytes.to_vec();
                m[i] = flip;
                // Either outcome is fine; reaching here means no panic.
                let _ = Presence::parse(&m);
            }
        }
    }

    #[test]
    fn hostile_documents_are_refused() {
        let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<presence entity="sip:a@b"><note>&lol2;</note></presence>"#;
        assert_eq!(Presence::parse(laughs), Err(XmlError::Doctype));
        let undefined = br#"<presence entity="sip:a@b"><note>&xxe;</note></presence>"#;
        assert_eq!(Presence::parse(undefined), Err(XmlError::UnknownEntity));
        let in_attr = br#"<presence entity="&xxe;"/>"#;
        assert_eq!(Presence::parse(in_attr), Err(XmlError::UnknownEntity));

        let deep = format!(
            "<presence>{}{}</presence>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        assert_eq!(Presence::parse(deep.as_bytes()), Err(XmlError::TooDeep));
        let huge = format!("<presence>{}</presence>", " ".repeat(MAX_XML_BODY));
        assert!(matches!(
            Presence::parse(huge.as_bytes()),
            Err(XmlError::TooLarge(_))
        ));
        let many = format!(
            "<presence>{}</presence>",
            "<a/>".repeat(MAX_XML_ELEMENTS + 1)
        );
        assert_eq!(
            Presence::parse(many.as_bytes()),
            Err(XmlError::TooManyElements)
        );

        assert_eq!(
            Presence::parse(b"\xff\xfe<presence/>"),
            Err(XmlError::NotUtf8)
        );
        assert!(matches!(
            Presence::parse(b"<presence><tuple></presence>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            Presence::parse(b"<presence/><presence/>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            Presence::parse(b"<presence>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(Presence::parse(b""), Err(XmlError::Malformed(_))));
        assert_eq!(
            Presence::parse(b"<dialog-info/>"),
            Err(XmlError::WrongRoot {
                expected: "presence",
                found: "dialog-info".into()
            })
        );
    }
}

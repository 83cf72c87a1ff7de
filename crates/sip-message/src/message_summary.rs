//! Message waiting indication bodies (RFC 3842 §5,
//! `application/simple-message-summary`): header-like text lines, not XML.
//!
//! ```text
//! Messages-Waiting: yes
//! Message-Account: sip:alice@vmail.example.com
//! Voice-Message: 2/8 (0/2)
//! ```
//! Unknown lines and the optional message headers after a blank line are
//! ignored; size and line counts are capped.

/// Largest body accepted, in bytes.
pub const MAX_SUMMARY_BODY: usize = 16 * 1024;
/// Most message classes kept.
const MAX_CLASSES: usize = 16;

/// Why a message-summary body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageSummaryError {
    /// Larger than [`MAX_SUMMARY_BODY`].
    #[error("message-summary body of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Not UTF-8.
    #[error("message-summary body is not UTF-8")]
    NotUtf8,
    /// No valid `Messages-Waiting: yes|no` line (it is mandatory).
    #[error("Messages-Waiting missing or invalid")]
    MessagesWaiting,
    /// A message-class line has bad counts.
    #[error("invalid counts for {0}")]
    Counts(String),
}

/// Counts for one message class (`new/old (urgent-new/urgent-old)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// New messages.
    pub new: u32,
    /// Old (heard) messages.
    pub old: u32,
    /// Urgent among the new.
    pub urgent_new: u32,
    /// Urgent among the old.
    pub urgent_old: u32,
}

/// A parsed summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSummary {
    /// `Messages-Waiting: yes`.
    pub waiting: bool,
    /// `Message-Account`, the mailbox URI.
    pub account: Option<String>,
    /// `Voice-Message` counts.
    pub voice: Option<Counts>,
    /// Other classes (fax, pager, multimedia, text, none), by name as sent.
    pub other: Vec<(String, Counts)>,
}

fn counts(v: &str) -> Option<Counts> {
    let pair = |s: &str| -> Option<(u32, u32)> {
        let (a, b) = s.split_once('/')?;
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
    };
    let (main, urgent) = match v.split_once('(') {
        Some((m, rest)) => (m, Some(rest.strip_suffix(')')?.trim())),
        None => (v, None),
    };
    let (new, old) = pair(main.trim())?;
    let (urgent_new, urgent_old) = match urgent {
        Some(u) => pair(u)?,
        None => (0, 0),
    };
    Some(Counts {
        new,
        old,
        urgent_new,
        urgent_old,
    })
}

impl MessageSummary {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<MessageSummary, MessageSummaryError> {
        if body.len() > MAX_SUMMARY_BODY {
            return Err(MessageSummaryError::TooLarge(body.len()));
        }
        let text = std::str::from_utf8(body).map_err(|_| MessageSummaryError::NotUtf8)?;
        let mut s = MessageSummary::default();
        let mut waiting = None;
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                // Message headers (§5.2) follow; nothing we show.
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("Messages-Waiting") {
                waiting = match value.to_ascii_lowercase().as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => return Err(MessageSummaryError::MessagesWaiting),
                };
            } else if name.eq_ignore_ascii_case("Message-Account") {
                s.account = Some(value.to_owned());
            } else if name.to_ascii_lowercase().ends_with("-message") {
                let c = counts(value).ok_or_else(|| MessageSummaryError::Counts(name.into()))?;
                if name.eq_ignore_ascii_case("Voice-Message") {
                    s.voice = Some(c);
                } else if s.other.len() < MAX_CLASSES {
                    s.other.push((name.to_owned(), c));
                }
            }
        }
        s.waiting = waiting.ok_or(MessageSummaryError::MessagesWaiting)?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asterisk_and_rfc_examples() {
        // Asterisk's MWI NOTIFY body.
        let a = b"Messages-Waiting: yes\r\nMessage-Account: sip:*97@pbx\r\nVoice-Message: 2/8 (0/0)\r\n";
        let s = MessageSummary::parse(a).unwrap();
        assert!(s.waiting);
        assert_eq!(s.account.as_deref(), Some("sip:*97@pbx"));
        assert_eq!(
            s.voice,
            Some(Counts {
                new: 2,
                old: 8,
                urgent_new: 0,
                urgent_old: 0
            })
        );
        // RFC 3842 §5.2, with message headers after the blank line.
        let r = b"Messages-Waiting: yes\nMessage-Account: sip:alice@vmail.example.com\n\
Voice-Message: 4/8 (1/2)\nFax-Message: 1/0\n\nTo: <alice@atlanta.example.com>\n\
From: <bob@biloxi.example.com>\nSubject: carpool tomorrow?\n";
        let s = MessageSummary::parse(r).unwrap();
        assert_eq!(s.voice.unwrap().urgent_new, 1);
        assert_eq!(s.voice.unwrap().urgent_old, 2);
        assert_eq!(
            s.other,
            [(
                "Fax-Message".to_owned(),
                Counts {
                    new: 1,
                    old: 0,
                    ..Counts::default()
                }
            )]
        );
        let none = MessageSummary::parse(b"messages-waiting: NO\r\n").unwrap();
        assert!(!none.waiting);
        assert_eq!(none.voice, None);
    }

    #[test]
    fn invalid_bodies_are_refused() {
        assert_eq!(
            MessageSummary::parse(b"Voice-Message: 1/2\r\n"),
            Err(MessageSummaryError::MessagesWaiting)
        );
        assert_eq!(
            MessageSummary::parse(b"Messages-Waiting: maybe\r\n"),
            Err(MessageSummaryError::MessagesWaiting)
        );
        assert_eq!(
            MessageSummary::parse(b"Messages-Waiting: yes\r\nVoice-Message: 1/x\r\n"),
            Err(MessageSummaryError::Counts("Voice-Message".into()))
        );
        assert_eq!(
            MessageSummary::parse(b"Messages-Waiting: yes\r\nVoice-Message: 99999999999/1\r\n"),
            Err(MessageSummaryError::Counts("Voice-Message".into()))
        );
        let big = vec![b'a'; MAX_SUMMARY_BODY + 1];
        assert!(matches!(
            MessageSummary::parse(&big),
            Err(MessageSummaryError::TooLarge(_))
        ));
        assert_eq!(
            MessageSummary::parse(b"\xff"),
            Err(MessageSummaryError::NotUtf8)
        );
    }
}

//! SIP wire format: bytes <-> typed messages, URIs, SDP and digest
//! authentication. No I/O, no clock, no async.
//!
//! # Parsing and serializing
//!
//! [`parse`] turns one datagram into a [`Message`] and
//! [`Message::to_bytes`] turns it back. The header section is copied once
//! into a buffer owned by [`Headers`], which keeps every line in order with
//! its name and value text exactly as received; typed views are parsed on
//! demand.
//!
//! ```
//! use sip_message::headers::{CSeq, Via};
//! use sip_message::{parse, Message, Method};
//!
//! let raw = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
//! Max-Forwards: 70\r\n\
//! From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
//! To: Bob <sip:bob@biloxi.example.com>\r\n\
//! Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
//! CSeq: 314159 INVITE\r\n\
//! X-Custom: kept   as is\r\n\
//! Content-Length: 0\r\n\r\n";
//!
//! let msg = parse(raw)?;
//! let Message::Request(req) = &msg else { unreachable!() };
//! assert_eq!(req.method, Method::Invite);
//!
//! // Typed access: shortcuts for the core headers...
//! let via = req.headers.top_via()?.expect("has a Via");
//! assert_eq!(via.branch(), Some("z9hG4bK776asdhds"));
//! assert_eq!(req.headers.from()?.unwrap().tag(), Some("1928301774"));
//! // ...or the generic accessors for any typed header.
//! let cseq: CSeq = req.headers.typed::<CSeq>()?.unwrap();
//! assert_eq!(cseq.seq, 314159);
//! assert_eq!(req.headers.typed_all::<Via>()?.len(), 1);
//! // Unknown headers stay raw.
//! assert_eq!(req.headers.get("x-custom"), Some("kept   as is"));
//!
//! // Values are written back byte for byte; only the separator after the
//! // name is normalized to ": ".
//! assert_eq!(msg.to_bytes(), raw);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Validation
//!
//! [`parse`] rejects anything it cannot frame (bad start line, bare CR/LF,
//! oversized head, Content-Length larger than the datagram, CSeq method not
//! matching the request) and checks the grammar of the core headers Via,
//! From, To, Call-ID, CSeq, Max-Forwards, Contact and Content-Length, with
//! errors that name the line and header. Other headers are checked when read
//! through a typed accessor, which returns a [`HeaderError`] naming the
//! header and the offset in its value. [`parse_lazy`] defers the core-header
//! checks to [`Message::validate`] for forward-only paths.
//!
//! Single-valued headers read with [`Headers::typed`] report a header that
//! appears more than once as [`HeaderError::Multiple`];
//! [`Headers::typed_first`] takes the first value and
//! [`Headers::typed_all`] expands comma lists and repeated lines.
//!
//! # Modules
//!
//! * [`message`]: requests, responses, [`parse`], [`parse_lazy`].
//! * [`headers`]: the [`Headers`] container and one type per header.
//! * [`uri`]: `sip:`/`sips:`/`tel:` URIs with RFC 3261 §19.1.4 comparison.
//! * [`name_addr`]: display name + URI.
//! * [`framer`]: cuts TCP/TLS streams into messages and RFC 5626 keep-alives.
//! * [`sdp`]: RFC 8866 session descriptions.
//! * [`body`]: multipart/mixed and message/sipfrag bodies.
//! * [`pidf`], [`dialog_info`], [`message_summary`], [`is_composing`]:
//!   presence, dialog-state, message-waiting and typing-indication bodies
//!   (hostile XML refused: size, depth, DOCTYPE and entity limits).
//! * [`digest`]: RFC 7616 / RFC 2617 digest authentication.
//!
//! No input makes any parser panic or do unbounded work: sizes are capped
//! ([`message::MAX_HEAD_LEN`], [`message::MAX_HEADERS`],
//! [`sdp::MAX_LINES`], [`body::MAX_PARTS`]) and every scan is linear.

pub mod body;
pub mod dialog_info;
pub mod digest;
pub mod framer;
pub mod headers;
pub mod is_composing;
pub mod message;
pub mod message_summary;
pub mod method;
pub mod name_addr;
pub mod params;
pub mod pidf;
mod scan;
pub mod sdp;
pub mod uri;

pub use headers::{HeaderError, HeaderName, Headers, TypedHeader};
pub use message::{parse, parse_lazy, Message, ParseError, Request, Response, StatusCode};
pub use method::Method;
pub use name_addr::NameAddr;
pub use params::{Param, Params};
pub use uri::{Host, SipUri, TelUri, Uri, UriError};

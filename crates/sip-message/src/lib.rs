//! SIP wire format: bytes <-> typed messages, URIs, SDP and digest
//! authentication. No I/O, no clock, no async.
//!
//! * [`parse`] turns one datagram into a [`Message`]; [`Message::to_bytes`]
//!   turns it back. Header values are stored raw (byte-exact) in one buffer
//!   per message and typed on demand: `msg.headers().typed::<CSeq>()`,
//!   `typed_all::<Via>()`, or shortcuts such as `headers.via()`.
//! * [`framer::StreamFramer`] cuts a TCP/TLS byte stream into messages.
//! * [`uri`] has `sip:`/`sips:`/`tel:` URIs with RFC 3261 comparison.
//!
//! Every error is a typed enum that names what was wrong and where; no input
//! makes the parser panic or do unbounded work.

pub mod body;
pub mod digest;
pub mod framer;
pub mod headers;
pub mod message;
pub mod method;
pub mod name_addr;
pub mod params;
mod scan;
pub mod sdp;
pub mod uri;

pub use headers::{HeaderError, HeaderName, Headers, TypedHeader};
pub use message::{parse, parse_lazy, Message, ParseError, Request, Response, StatusCode};
pub use method::Method;
pub use name_addr::NameAddr;
pub use params::{Param, Params};
pub use uri::{Host, SipUri, TelUri, Uri, UriError};

//! `name-addr` / `addr-spec` (RFC 3261 §25.1), the address form used by
//! From, To, Contact, Route, Record-Route, Refer-To and friends.

use std::fmt;

use crate::headers::HeaderError;
use crate::scan::{is_token, quote, unquote, Cursor};
use crate::uri::{scan_uri, SipUri, Uri, UriRef};

/// A URI with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// Display name, unquoted and unescaped.
    pub display_name: Option<String>,
    /// The address.
    pub uri: Uri,
}

impl NameAddr {
    /// An address without display name.
    pub fn new(uri: impl Into<Uri>) -> Self {
        NameAddr {
            display_name: None,
            uri: uri.into(),
        }
    }

    /// Builder: sets the display name.
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.display_name = Some(name.to_owned());
        self
    }

    /// The SIP URI, if the address is one.
    pub fn sip_uri(&self) -> Option<&SipUri> {
        self.uri.as_sip()
    }

    /// Parses a complete name-addr or addr-spec (nothing may follow).
    pub fn parse(s: &str) -> Result<NameAddr, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let na = parse_name_addr(&mut c, "name-addr")?;
        c.skip_ws();
        if !c.is_eof() {
            return Err(HeaderError::syntax("name-addr", c.pos(), "end of address"));
        }
        Ok(na)
    }
}

/// A display name as written: a quoted-string (with quotes) or a run of
/// tokens separated by whitespace.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DisplayRef<'a> {
    Quoted(&'a str),
    Tokens(&'a str),
}

/// A validated name-addr borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameAddrRef<'a> {
    pub(crate) display: Option<DisplayRef<'a>>,
    pub(crate) uri: UriRef<'a>,
}

impl NameAddrRef<'_> {
    pub(crate) fn to_owned(self) -> NameAddr {
        NameAddr {
            display_name: self.display.map(|d| match d {
                DisplayRef::Quoted(q) => unquote(q).into_owned(),
                DisplayRef::Tokens(t) => t.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
            }),
            uri: self.uri.to_owned(),
        }
    }
}

/// Parses `name-addr / addr-spec` at the cursor. In the addr-spec form the
/// URI ends at the first `;`, `,` or whitespace, so anything that needs those
/// (or `?`) must be in angle brackets (RFC 3261 §20.10).
pub(crate) fn parse_name_addr(
    c: &mut Cursor<'_>,
    header: &'static str,
) -> Result<NameAddr, HeaderError> {
    scan_name_addr(c, header).map(NameAddrRef::to_owned)
}

/// [`parse_name_addr`] without allocating.
pub(crate) fn scan_name_addr<'a>(
    c: &mut Cursor<'a>,
    header: &'static str,
) -> Result<NameAddrRef<'a>, HeaderError> {
    let syn = |c: &Cursor<'_>, what: &'static str| HeaderError::syntax(header, c.pos(), what);
    let start = c.pos();
    let mut display = None;
    match c.peek() {
        Some(b'"') => {
            let raw = c
                .quoted_raw()
                .map_err(|e| HeaderError::syntax(header, e.at, e.what))?;
            display = Some(DisplayRef::Quoted(raw));
            c.skip_ws();
            if c.peek() != Some(b'<') {
                return Err(syn(c, "'<' after display name"));
            }
        }
        Some(b'<') => {}
        _ => {
            // `*(token LWS) <` is a display name; anything else is an addr-spec.
            let mut end = start;
            loop {
                let w = c.take_while(is_token);
                if w.is_empty() {
                    break;
                }
                end = c.pos();
                c.skip_ws();
            }
            if c.peek() == Some(b'<') && end > start {
                display = c.src_slice(start, end).map(DisplayRef::Tokens);
            } else {
                c.set_pos(start);
            }
        }
    }
    if c.eat(b'<') {
        if c.peek().is_some_and(crate::scan::is_ws) {
            return Err(syn(c, "URI right after '<' (no whitespace)"));
        }
        let ustart = c.pos();
        // The URI may be long; memchr finds its end in a few wide steps.
        let rest = c.rest();
        let len = memchr::memchr(b'>', rest.as_bytes()).unwrap_or(rest.len());
        let text = rest.get(..len).unwrap_or("");
        c.set_pos(ustart + len);
        if !c.eat(b'>') {
            return Err(syn(c, "'>' closing the URI"));
        }
        let uri = scan_uri(text).map_err(|e| HeaderError::uri(header, ustart, e))?;
        Ok(NameAddrRef { display, uri })
    } else {
        let ustart = c.pos();
        let text = c.take_while(|b| !matches!(b, b';' | b',' | b' ' | b'\t' | b'\r' | b'\n'));
        if text.is_empty() {
            return Err(syn(c, "address"));
        }
        if let Some(q) = crate::scan::find_byte(text, b'?') {
            return Err(HeaderError::syntax(
                header,
                ustart + q,
                "angle brackets around a URI with '?'",
            ));
        }
        let uri = scan_uri(text).map_err(|e| HeaderError::uri(header, ustart, e))?;
        Ok(NameAddrRef { display: None, uri })
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            if !d.is_empty() && d.bytes().all(is_token) {
                write!(f, "{d} ")?;
            } else {
                write!(f, "{} ", quote(d))?;
            }
        }
        write!(f, "<{}>", self.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = NameAddr::parse(r#""J Rosenberg \\\""       <sip:jdrosen@example.com>"#).unwrap();
        assert_eq!(a.display_name.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(
            a.to_string(),
            r#""J Rosenberg \\\"" <sip:jdrosen@example.com>"#
        );
        let b = NameAddr::parse("caller<sip:caller@example.com>").unwrap();
        assert_eq!(b.display_name.as_deref(), Some("caller"));
        let c = NameAddr::parse("sip:user@example.com").unwrap();
        assert_eq!(c.display_name, None);
        let d = NameAddr::parse("token1~` token2'+_ <sip:m@example.com>").unwrap();
        assert_eq!(d.display_name.as_deref(), Some("token1~` token2'+_"));
        assert_eq!(NameAddr::parse(&d.to_string()).unwrap(), d);
    }

    #[test]
    fn rejects() {
        assert!(NameAddr::parse("Bell, Alexander <sip:a@b>").is_err());
        assert!(NameAddr::parse("\"Watson\" < sip:t@example.org >").is_err());
        assert!(NameAddr::parse("\"Mr. J. User <sip:j@example.com>").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=x").is_err());
        assert!(NameAddr::parse("<sip:a@b").is_err());
    }
}

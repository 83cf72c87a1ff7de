//! Lexical helpers shared by the header, URI and message parsers.
//!
//! Everything here works on a borrowed `&str` with a byte position and never
//! allocates; callers turn a [`Expected`] into their module's error type.

/// A lexical failure: what the scanner wanted and the byte offset where it
/// gave up. Crate-internal; each public module maps it to its own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expected {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

pub(crate) type ScanResult<T> = Result<T, Expected>;

/// Builds a 256-entry lookup table from a const predicate on a byte; a
/// table lookup beats a chain of compares in the hot scanning loops.
macro_rules! byte_table {
    (|$b:ident| $e:expr) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            t[i] = $e;
            i += 1;
        }
        t
    }};
}
pub(crate) use byte_table;

const fn token_c(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

pub(crate) const fn unreserved_c(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

static TOKEN: [bool; 256] = byte_table!(|b| token_c(b));
/// Unquoted generic-param value characters: token, or host (with IPv6
/// brackets and colons).
static PARAM_VALUE: [bool; 256] = byte_table!(|b| token_c(b) || matches!(b, b':' | b'[' | b']'));
static WORD: [bool; 256] = byte_table!(|b| token_c(b)
    || matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b':' | b'\\' | b'"' | b'/' | b'[' | b']' | b'?' | b'{' | b'}'
    ));

/// RFC 3261 `token` characters.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// RFC 3261 `word` characters (Call-ID).
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Whitespace inside a header value. Header values keep their folding, so a
/// CR or LF here is always part of an `LWS` fold checked by the message parser.
#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// True when `s` is a non-empty token.
pub(crate) fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// A forward-only cursor over a header value or URI.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    /// A slice of the input by byte offsets.
    pub(crate) fn src_slice(&self, start: usize, end: usize) -> Option<&'a str> {
        self.s.get(start..end)
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn is_eof(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn err<T>(&self, what: &'static str) -> ScanResult<T> {
        Err(Expected { at: self.pos, what })
    }

    /// Skips spaces, tabs and folds.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        self.take_while(is_ws);
        self.pos > start
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `SWS b SWS`: consumes the separator with surrounding whitespace, or
    /// leaves the cursor untouched.
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let bytes = self.s.as_bytes();
        let mut i = self.pos;
        // Separators are usually not surrounded by whitespace: test the
        // byte itself before any whitespace loop.
        while bytes.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        if bytes.get(i) != Some(&b) {
            return false;
        }
        i += 1;
        while bytes.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        self.pos = i;
        true
    }

    pub(crate) fn expect_sep(&mut self, b: u8, what: &'static str) -> ScanResult<()> {
        if self.eat_sep(b) {
            Ok(())
        } else {
            self.err(what)
        }
    }

    /// Takes bytes while `f` holds.
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        // A local slice iterator (rather than bumping `self.pos` per byte)
        // lets the loop run in registers without bounds checks.
        let rest = self.s.as_bytes().get(start..).unwrap_or(&[]);
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        self.pos = start + n;
        // Only ASCII predicates are used, so the slice ends on a char boundary.
        self.s.get(start..self.pos).unwrap_or("")
    }

    pub(crate) fn token(&mut self, what: &'static str) -> ScanResult<&'a str> {
        let t = self.take_while(is_token);
        if t.is_empty() {
            self.err(what)
        } else {
            Ok(t)
        }
    }

    /// Parses a quoted-string and returns it raw, including the quotes.
    pub(crate) fn quoted_raw(&mut self) -> ScanResult<&'a str> {
        let start = self.pos;
        if !self.eat(b'"') {
            return self.err("opening quote");
        }
        let bytes = self.s.as_bytes();
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Ok(self.s.get(start..self.pos).unwrap_or(""));
                }
                b'\\' => {
                    // quoted-pair: any octet except CR and LF.
                    match bytes.get(self.pos + 1) {
                        Some(b'\r' | b'\n') | None => {
                            self.pos += 1;
                            return self.err("quoted-pair");
                        }
                        Some(_) => self.pos += 2,
                    }
                }
                b'\r' | b'\n' => {
                    // Only allowed as part of a fold (CRLF followed by WS).
                    self.pos += 1;
                }
                b if b < 0x20 && b != b'\t' => return self.err("qdtext"),
                0x7f => return self.err("qdtext"),
                _ => self.pos += 1,
            }
        }
        self.pos = start;
        Err(Expected {
            at: start,
            what: "closing quote",
        })
    }

    /// A generic parameter value: token, host (incl. IPv6 reference) or
    /// quoted-string, returned raw.
    pub(crate) fn param_value(&mut self) -> ScanResult<&'a str> {
        if self.peek() == Some(b'"') {
            self.quoted_raw()
        } else {
            let v = self.take_while(|b| PARAM_VALUE[usize::from(b)]);
            if v.is_empty() {
                self.err("parameter value")
            } else {
                Ok(v)
            }
        }
    }
}

/// Removes the quotes and quoted-pair escapes of a quoted-string. Strings
/// that are not quoted come back unchanged.
pub(crate) fn unquote(raw: &str) -> std::borrow::Cow<'_, str> {
    let inner = match raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|_| raw.len() >= 2)
    {
        Some(i) => i,
        None => return std::borrow::Cow::Borrowed(raw),
    };
    if !inner.contains('\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Quotes `s` as a quoted-string, escaping `"` and `\`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits a header value at commas that are outside quotes and angle
/// brackets, trimming whitespace. Empty elements are yielded (as `""`) so the
/// caller can reject them with a position.
pub(crate) fn split_list(s: &str) -> ListSplit<'_> {
    ListSplit {
        s,
        pos: 0,
        // Most values hold a single element; skip the quote/angle state
        // machine when there is no comma at all.
        single: memchr::memchr(b',', s.as_bytes()).is_none(),
        done: false,
    }
}

/// Iterator returned by [`split_list`]; yields `(offset, element)`.
#[derive(Debug)]
pub(crate) struct ListSplit<'a> {
    s: &'a str,
    pos: usize,
    single: bool,
    done: bool,
}

impl<'a> Iterator for ListSplit<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.done {
            return None;
        }
        if self.single {
            self.done = true;
            let t = self.s.trim_start_matches(|c: char| c.is_ascii_whitespace());
            let lead = self.s.len() - t.len();
            return Some((lead, t.trim_end_matches(|c: char| c.is_ascii_whitespace())));
        }
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut in_quote = false;
        let mut in_angle = false;
        while i < bytes.len() {
            let b = bytes[i];
            if in_quote {
                if b == b'\\' {
                    i += 1;
                } else if b == b'"' {
                    in_quote = false;
                }
            } else {
                match b {
                    b'"' => in_quote = true,
                    b'<' => in_angle = true,
                    b'>' => in_angle = false,
                    b',' if !in_angle => break,
                    _ => {}
                }
            }
            i += 1;
        }
        let end = i.min(bytes.len());
        if end >= bytes.len() {
            self.done = true;
        } else {
            self.pos = end + 1;
        }
        let raw = self.s.get(start..end).unwrap_or("");
        let lead = raw.len()
            - raw
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len();
        Some((
            start + lead,
            raw.trim_matches(|c: char| c.is_ascii_whitespace()),
        ))
    }
}

/// Byte offset of the first ASCII `b` in `s` (memchr-fast).
#[inline]
pub(crate) fn find_byte(s: &str, b: u8) -> Option<usize> {
    // memchr's setup costs more than it saves on the short strings (URI
    // parts, parameters) this is mostly called on.
    if s.len() < 64 {
        s.bytes().position(|c| c == b)
    } else {
        memchr::memchr(b, s.as_bytes())
    }
}

/// Byte offset of the first of two ASCII bytes in `s`.
#[inline]
pub(crate) fn find_either(s: &str, a: u8, b: u8) -> Option<usize> {
    if s.len() < 64 {
        s.bytes().position(|c| c == a || c == b)
    } else {
        memchr::memchr2(a, b, s.as_bytes())
    }
}

/// Splits at the first ASCII `b` (which is dropped). Splitting at an ASCII
/// byte always lands on a char boundary.
#[inline]
pub(crate) fn split_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, b)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Parses a decimal number of at most `max` value without overflow.
pub(crate) fn parse_u64(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (v <= max).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings() {
        let mut c = Cursor::new(r#""a \"b\" c" rest"#);
        assert_eq!(c.quoted_raw().unwrap(), r#""a \"b\" c""#);
        assert_eq!(unquote(r#""a \"b\" c""#), r#"a "b" c"#);
        let mut c = Cursor::new(r#""unterminated"#);
        assert_eq!(c.quoted_raw().unwrap_err().what, "closing quote");
    }

    #[test]
    fn list_split_respects_quotes_and_angles() {
        let parts: Vec<_> = split_list(r#""a, b" <sip:x,y>;p=1 , c,"#)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(parts, vec![r#""a, b" <sip:x,y>;p=1"#, "c", ""]);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0068", 255), Some(68));
        assert_eq!(parse_u64("300", 255), None);
        assert_eq!(parse_u64("36893488147419103232", u64::MAX), None);
        assert_eq!(parse_u64("-1", 10), None);
    }
}

//! Generic `;name=value` parameter lists (header and URI parameters).

use std::borrow::Cow;
use std::fmt;

use crate::scan::{unquote, Cursor, ScanResult};

/// One parameter. Values are kept as written (quoted strings keep their
/// quotes, URI parameters keep their `%` escapes) so printing is lossless.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// Parameter name as written.
    pub name: String,
    /// Raw value, `None` for a flag such as `;lr`.
    pub value: Option<String>,
}

impl Param {
    /// Creates a parameter.
    pub fn new(name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        Param {
            name: name.into(),
            value: value.map(Into::into),
        }
    }
}

/// An ordered parameter list with case-insensitive lookup by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// An empty list.
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// Looks a parameter up: `None` if absent, `Some(None)` for a flag,
    /// `Some(Some(raw))` for a valued parameter.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// The value of `name` with any quoting removed.
    pub fn get_unquoted(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).flatten().map(unquote)
    }

    /// True if the parameter is present (flag or valued).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets (replacing) a parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        if let Some(p) = self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            p.value = value;
        } else {
            self.0.push(Param {
                name: name.to_owned(),
                value,
            });
        }
    }

    /// Removes a parameter, returning whether it was present.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
        before != self.0.len()
    }

    /// Iterates over the parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Param> {
        self.0.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Scans `*( SEMI generic-param )` without allocating, handing each
    /// parameter (name, raw value, offset of the name) to `f`.
    pub(crate) fn scan_header<'a, E>(
        c: &mut Cursor<'a>,
        mut f: impl FnMut(&'a str, Option<&'a str>, usize) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<crate::scan::Expected>,
    {
        while c.eat_sep(b';') {
            let at = c.pos();
            let name = c.token("parameter name")?;
            let value = if c.eat_sep(b'=') {
                Some(c.param_value()?)
            } else {
                None
            };
            f(name, value, at)?;
        }
        Ok(())
    }

    /// Parses `*( SEMI generic-param )` for header parameters.
    pub(crate) fn parse_header(c: &mut Cursor<'_>) -> ScanResult<Params> {
        let mut out = Vec::new();
        Params::scan_header(c, |name, value, _| {
            out.push(Param {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
            Ok::<(), crate::scan::Expected>(())
        })?;
        Ok(Params(out))
    }
}

impl fmt::Display for Params {
    /// Prints `;name=value` for each parameter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            f.write_str(";")?;
            f.write_str(&p.name)?;
            if let Some(v) = &p.value {
                f.write_str("=")?;
                f.write_str(v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let mut c = Cursor::new(" ;  tag    = 1918181833n ; lr;q=\"x y\"");
        let p = Params::parse_header(&mut c).unwrap();
        assert!(c.is_eof());
        assert_eq!(p.get("TAG"), Some(Some("1918181833n")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get_unquoted("q").as_deref(), Some("x y"));
        assert_eq!(p.to_string(), ";tag=1918181833n;lr;q=\"x y\"");
    }

    #[test]
    fn empty_param_is_error() {
        let mut c = Cursor::new(";;");
        assert_eq!(
            Params::parse_header(&mut c).unwrap_err().what,
            "parameter name"
        );
    }
}

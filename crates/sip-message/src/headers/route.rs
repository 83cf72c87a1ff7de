//! Route (RFC 3261 §20.34): a comma list of name-addr with optional
//! parameters.

use super::addr::addr_header;

addr_header!(
    /// One Route value.
    Route,
    Route,
    true
);

impl Route {
    /// True if the route URI carries `lr` (loose routing).
    pub fn is_loose(&self) -> bool {
        self.addr.sip_uri().is_some_and(|u| u.lr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{HeaderError, Headers, TypedHeader};

    #[test]
    fn list_in_one_line_and_repeated() {
        let mut h = Headers::new();
        h.push("Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>")
            .unwrap();
        h.push(
            "Route",
            "\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>",
        )
        .unwrap();
        let r = h.route().unwrap();
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(Route::is_loose));
        assert_eq!(
            r[2].to_string(),
            "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"
        );
        assert_eq!(Route::parse(&r[2].to_string()).unwrap(), r[2]);
    }

    #[test]
    fn rejects() {
        // Junk after the address.
        let e = Route::parse("<sip:p1.example.com;lr> x").unwrap_err();
        assert_eq!(e.header(), "Route");
        assert!(matches!(e, HeaderError::Syntax { offset: 24, .. }), "{e:?}");
        // An invalid URI inside the brackets names the URI's offset.
        assert!(matches!(
            Route::parse("<sip:p1.example.com:99999;lr>"),
            Err(HeaderError::Uri {
                header: "Route",
                offset: 1,
                ..
            })
        ));
        assert!(Route::parse("").is_err());
        assert!(Route::parse("<sip:p1.example.com;lr").is_err());
        let mut h = Headers::new();
        h.push("Route", "<sip:ok.example.com;lr>, <bad>").unwrap();
        assert_eq!(h.route().unwrap_err().header(), "Route");
    }
}

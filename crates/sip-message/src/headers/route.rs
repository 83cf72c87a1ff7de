//! Route and Record-Route (RFC 3261 §20.34, §20.30): comma lists of
//! name-addr with optional parameters.

use super::addr::addr_header;

addr_header!(
    /// One Route value.
    Route,
    Route,
    true
);
addr_header!(
    /// One Record-Route value.
    RecordRoute,
    RecordRoute,
    true
);

impl Route {
    /// True if the route URI carries `lr` (loose routing).
    pub fn is_loose(&self) -> bool {
        self.addr.sip_uri().is_some_and(|u| u.lr())
    }
}

impl std::convert::From<RecordRoute> for Route {
    /// Route sets are built from Record-Route values (RFC 3261 §12.1).
    fn from(r: RecordRoute) -> Self {
        Route {
            addr: r.addr,
            params: r.params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

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
        h.push(
            "Record-Route",
            "<sip:UserB@example.com;maddr=ss1.example.com>",
        )
        .unwrap();
        let rr = h.record_route().unwrap();
        let as_route: Route = rr[0].clone().into();
        assert!(!as_route.is_loose());
    }
}

//! Record-Route (RFC 3261 §20.30): a comma list of name-addr with optional
//! parameters; a dialog's route set is built from it.

use super::addr::addr_header;
use super::Route;

addr_header!(
    /// One Record-Route value.
    RecordRoute,
    RecordRoute,
    true
);

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
    use crate::headers::{Headers, TypedHeader};

    #[test]
    fn becomes_a_route() {
        let mut h = Headers::new();
        h.push(
            "Record-Route",
            "<sip:UserB@example.com;maddr=ss1.example.com>, <sip:p2.example.com;lr>",
        )
        .unwrap();
        let rr = h.record_route().unwrap();
        assert_eq!(rr.len(), 2);
        let as_route: Route = rr[0].clone().into();
        assert!(!as_route.is_loose());
        assert_eq!(as_route.to_string(), rr[0].to_string());
        assert!(Route::from(rr[1].clone()).is_loose());
        assert_eq!(RecordRoute::parse(&rr[1].to_string()).unwrap(), rr[1]);
        assert_eq!(
            RecordRoute::parse("<sip:a@b> ;").unwrap_err().header(),
            "Record-Route"
        );
    }
}

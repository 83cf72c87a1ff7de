//! Refer-To (RFC 3515 §2.1): where the referee should send its request.

use super::addr::addr_header;

addr_header!(
    /// Refer-To: where the referee should send its request; the URI may
    /// carry escaped headers such as `?Replaces=...`.
    ReferTo,
    ReferTo,
    false
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TypedHeader;

    #[test]
    fn refer_to_with_replaces() {
        let r = ReferTo::parse(
            "<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
        )
        .unwrap();
        let u = r.addr.sip_uri().unwrap();
        assert_eq!(u.headers[0].0, "Replaces");
        assert_eq!(ReferTo::parse(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn uri_headers_need_angle_brackets() {
        let e = ReferTo::parse("sip:a@b?x=y").unwrap_err();
        assert_eq!(e.header(), "Refer-To");
    }
}

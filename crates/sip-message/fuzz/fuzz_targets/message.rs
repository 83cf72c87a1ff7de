//! Message parser: no panic on any input; whatever parses round-trips,
//! and typed header access never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::headers::*;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = sip_message::parse(data) else {
        return;
    };
    let wire = msg.to_bytes();
    let again = sip_message::parse(&wire).expect("serialized message re-parses");
    assert_eq!(again, msg, "parse(serialize(m)) == m");
    let h = msg.headers();
    let _ = h.via();
    let _ = h.from();
    let _ = h.to();
    let _ = h.call_id();
    let _ = h.cseq();
    let _ = h.contact();
    let _ = h.route();
    let _ = h.record_route();
    let _ = h.content_type();
    let _ = h.typed_all::<Accept>();
    let _ = h.typed_all::<Allow>();
    let _ = h.typed_all::<Supported>();
    let _ = h.typed::<Date>();
    let _ = h.typed::<Authorization>();
    let _ = h.typed::<WwwAuthenticate>();
    let _ = h.typed::<Event>();
    let _ = h.typed::<SubscriptionState>();
    let _ = h.typed::<RetryAfter>();
    let _ = h.typed::<Replaces>();
    let _ = h.typed::<RAck>();
    let _ = h.typed::<SessionExpires>();
    let _ = h.typed_all::<Reason>();
    if let Ok(Some(ct)) = h.content_type() {
        let _ = sip_message::body::Multipart::parse_with_type(msg.body(), &ct);
    }
    let _ = sip_message::body::SipFrag::parse(msg.body());
});

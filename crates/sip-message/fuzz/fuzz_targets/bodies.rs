//! The body parsers fed from the network (PIDF, dialog-info,
//! is-composing, message-summary, multipart, sipfrag): no panic, and what
//! parses survives being built and parsed again where we build it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::body::{Multipart, SipFrag};
use sip_message::dialog_info::DialogInfo;
use sip_message::is_composing::IsComposing;
use sip_message::message_summary::MessageSummary;
use sip_message::pidf::Presence;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Presence::parse(data) {
        let again = Presence::build(&p.entity, "t1", p.availability, p.note.as_deref());
        let q = Presence::parse(again.as_bytes()).expect("a built PIDF parses");
        assert_eq!(q.availability, p.availability);
        assert_eq!(q.note, p.note);
        assert_eq!(q.entity, p.entity);
    }
    if let Ok(c) = IsComposing::parse(data) {
        let again = IsComposing::parse(c.build().as_bytes()).expect("a built isComposing parses");
        assert_eq!(again, c);
    }
    if let Ok(d) = DialogInfo::parse(data) {
        let _ = d.ringing();
        let _ = d.line_state();
    }
    let _ = MessageSummary::parse(data);
    let _ = SipFrag::parse(data);
    // The first line names the boundary, the rest is the body.
    if let Some(nl) = data.iter().position(|&b| b == b'\n') {
        if let Ok(boundary) = std::str::from_utf8(&data[..nl]) {
            let _ = Multipart::parse(&data[nl + 1..], boundary);
        }
    }
});

//! SDP parser: no panic; whatever parses round-trips and the typed
//! attribute views never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::sdp::Sdp;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = Sdp::parse(data) else {
        return;
    };
    let text = sdp.to_bytes();
    let again = Sdp::parse(&text).expect("serialized SDP re-parses");
    assert_eq!(again, sdp, "parse(serialize(s)) == s");
    // Strict parsing only adds checks: when it accepts, it agrees.
    if let Ok(strict) = Sdp::parse_strict(data) {
        assert_eq!(strict, sdp);
    }
    for m in &sdp.media {
        let _ = m.rtpmaps();
        let _ = m.crypto();
        let _ = m.rtcp();
        let _ = m.ptime();
        let _ = m.direction(&sdp);
        for f in &m.formats {
            if let Ok(pt) = f.parse::<u8>() {
                let _ = m.fmtp(pt);
            }
        }
    }
});

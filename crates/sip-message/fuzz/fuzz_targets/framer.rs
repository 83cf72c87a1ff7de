//! Stream framer: arbitrary bytes fed in arbitrary chunk sizes never panic,
//! never loop forever, and the framer never buffers past its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::framer::{Frame, KeepAliveRole, StreamFramer};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size so the fuzzer explores splits,
    // and its low bit the keep-alive role.
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first >> 1).max(1);
    let role = if first & 1 == 1 {
        KeepAliveRole::Server
    } else {
        KeepAliveRole::Client
    };
    let mut framer = StreamFramer::with_limits(4096, 4096).with_role(role);
    let mut frames = 0usize;
    for piece in rest.chunks(chunk) {
        if framer.push(piece).is_err() {
            return;
        }
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(m))) => {
                    frames += 1;
                    let _ = sip_message::parse(&m.to_bytes()).expect("framed message re-parses");
                }
                Ok(Some(_)) => frames += 1,
                Ok(None) => break,
                Err(_) => return,
            }
            // Every frame consumes at least two bytes.
            assert!(frames <= rest.len());
        }
        assert!(framer.buffered() <= 4096 + 4 + 4096);
    }
});

//! Fixed parse+serialize loop over the bench corpus, for instruction-count
//! profiling: `valgrind --tool=callgrind prof_loop [strict|lazy] [ROUNDS]`.
//! `lazy` profiles `parse_lazy` instead of `parse`.

use std::hint::black_box;

const CORPUS: &[&[u8]] = &[
    include_bytes!("../benches/corpus/01-register.sip"),
    include_bytes!("../benches/corpus/02-401.sip"),
    include_bytes!("../benches/corpus/03-invite.sip"),
    include_bytes!("../benches/corpus/04-180.sip"),
    include_bytes!("../benches/corpus/05-200-sdp.sip"),
    include_bytes!("../benches/corpus/06-ack.sip"),
    include_bytes!("../benches/corpus/07-bye.sip"),
    include_bytes!("../benches/corpus/08-notify-pidf.sip"),
    include_bytes!("../benches/corpus/09-message.sip"),
];

fn main() {
    let lazy = std::env::args().nth(1).is_some_and(|a| a == "lazy");
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let mut total = 0usize;
    for _ in 0..rounds {
        for m in CORPUS {
            let msg = if lazy {
                sip_message::parse_lazy(black_box(m))
            } else {
                sip_message::parse(black_box(m))
            };
            let Ok(msg) = msg else { return };
            total += black_box(msg.to_bytes()).len();
        }
    }
    println!("{total}");
}

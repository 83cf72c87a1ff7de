//! Guards the allocation budget of the hot path: parsing and serializing a
//! typical message must stay at a handful of allocations, independent of
//! how many headers it has.

const REGISTER: &[u8] = include_bytes!("../benches/corpus/01-register.sip");
const INVITE: &[u8] = include_bytes!("../benches/corpus/03-invite.sip");
const OK_200: &[u8] = include_bytes!("../benches/corpus/05-200-sdp.sip");

fn count(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).count_total
}

#[test]
fn parse_and_serialize_allocation_budget() {
    // The first parse builds the header-name lookup table once.
    sip_message::parse(REGISTER).unwrap();
    for (name, data) in [("REGISTER", REGISTER), ("INVITE", INVITE), ("200", OK_200)] {
        // Header buffer, header index, body, a few Request-URI parts.
        let parse = count(|| {
            std::hint::black_box(sip_message::parse(data).unwrap());
        });
        assert!(parse <= 8, "{name}: parse made {parse} allocations");
        let msg = sip_message::parse(data).unwrap();
        let ser = count(|| {
            std::hint::black_box(msg.to_bytes());
        });
        assert_eq!(ser, 1, "{name}: serialize should allocate only the output");
    }
}

#[test]
fn validation_does_not_allocate() {
    let lazy = sip_message::parse_lazy(INVITE).unwrap();
    let n = count(|| lazy.validate().unwrap());
    assert_eq!(n, 0, "core-header validation must not allocate");
}

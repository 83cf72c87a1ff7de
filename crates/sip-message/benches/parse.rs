//! Parse + serialize throughput of Parley's sip-message against the `rsip`
//! crate on a realistic call-flow corpus, in the same run.
//!
//! Besides the criterion groups, `main` first runs a fixed-duration timing
//! of both and prints the throughput ratio and the allocations per message
//! (counted by `allocation-counter`, which wraps the global allocator for
//! both libraries alike).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

const CORPUS: &[(&str, &[u8])] = &[
    ("REGISTER", include_bytes!("corpus/01-register.sip")),
    ("401", include_bytes!("corpus/02-401.sip")),
    ("INVITE+SDP", include_bytes!("corpus/03-invite.sip")),
    ("180", include_bytes!("corpus/04-180.sip")),
    ("200+SDP", include_bytes!("corpus/05-200-sdp.sip")),
    ("ACK", include_bytes!("corpus/06-ack.sip")),
    ("BYE", include_bytes!("corpus/07-bye.sip")),
    ("NOTIFY+PIDF", include_bytes!("corpus/08-notify-pidf.sip")),
    ("MESSAGE", include_bytes!("corpus/09-message.sip")),
];

fn parley_round(data: &[u8]) -> usize {
    let m = sip_message::parse(data).expect("corpus parses");
    m.to_bytes().len()
}

fn parley_lazy_round(data: &[u8]) -> usize {
    let m = sip_message::parse_lazy(data).expect("corpus parses");
    m.to_bytes().len()
}

fn rsip_round(data: &[u8]) -> usize {
    let m = rsip::SipMessage::try_from(data).expect("corpus parses with rsip");
    m.to_string().len()
}

/// Times `f` over the corpus `rounds` times.
fn time(f: fn(&[u8]) -> usize, rounds: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        for (_, m) in CORPUS {
            black_box(f(black_box(m)));
        }
    }
    start.elapsed()
}

/// Messages/second of each function over about `budget`. The runs are
/// interleaved in short slices so load changes on a shared machine hit all
/// of them alike.
fn throughput(fs: &[fn(&[u8]) -> usize], budget: Duration) -> Vec<f64> {
    let mut spent = vec![Duration::ZERO; fs.len()];
    let mut messages = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for (f, t) in fs.iter().zip(spent.iter_mut()) {
            *t += time(*f, 50);
        }
        messages += 50 * CORPUS.len() as u64;
    }
    spent
        .iter()
        .map(|t| messages as f64 / t.as_secs_f64())
        .collect()
}

fn allocations(f: fn(&[u8]) -> usize) -> f64 {
    let info = allocation_counter::measure(|| {
        for (_, m) in CORPUS {
            black_box(f(black_box(m)));
        }
    });
    info.count_total as f64 / CORPUS.len() as f64
}

fn report() {
    // Warm up caches and the allocator, then measure.
    let fs: [fn(&[u8]) -> usize; 3] = [parley_round, parley_lazy_round, rsip_round];
    throughput(&fs, Duration::from_millis(300));
    let r = throughput(&fs, Duration::from_secs(6));
    let (parley, lazy, rsip) = (r[0], r[1], r[2]);
    println!("parse+serialize, {} message corpus:", CORPUS.len());
    println!(
        "  parley parse:      {:>9.0} msg/s, {:>5.1} allocations/msg",
        parley,
        allocations(parley_round)
    );
    println!(
        "  parley parse_lazy: {:>9.0} msg/s, {:>5.1} allocations/msg",
        lazy,
        allocations(parley_lazy_round)
    );
    println!(
        "  rsip:              {:>9.0} msg/s, {:>5.1} allocations/msg",
        rsip,
        allocations(rsip_round)
    );
    println!(
        "  ratio parse/rsip:      {:.2}x (target >= 3x)",
        parley / rsip
    );
    println!("  ratio parse_lazy/rsip: {:.2}x", lazy / rsip);
    for (name, m) in CORPUS {
        let p = allocation_counter::measure(|| {
            black_box(parley_round(m));
        });
        println!(
            "  {name:<12} {:>4} bytes, parley allocations {}",
            m.len(),
            p.count_total
        );
    }
}

fn benches(c: &mut Criterion) {
    let bytes: usize = CORPUS.iter().map(|(_, m)| m.len()).sum();
    let mut g = c.benchmark_group("parse+serialize");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parley", |b| {
        b.iter(|| {
            for (_, m) in CORPUS {
                black_box(parley_round(black_box(m)));
            }
        })
    });
    g.bench_function("parley-lazy", |b| {
        b.iter(|| {
            for (_, m) in CORPUS {
                black_box(parley_lazy_round(black_box(m)));
            }
        })
    });
    g.bench_function("rsip", |b| {
        b.iter(|| {
            for (_, m) in CORPUS {
                black_box(rsip_round(black_box(m)));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("parse+typed core headers");
    g.bench_function("parley", |b| {
        b.iter(|| {
            for (_, m) in CORPUS {
                let msg = sip_message::parse(black_box(m)).expect("parses");
                let h = msg.headers();
                let typed = (
                    h.top_via().expect("via"),
                    h.from().expect("from"),
                    h.to().expect("to"),
                    h.call_id().expect("call-id"),
                    h.cseq().expect("cseq"),
                );
                black_box(typed);
            }
        })
    });
    g.finish();
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench`-less args;
    // only report when benchmarking.
    if std::env::args().any(|a| a == "--bench") {
        report();
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}

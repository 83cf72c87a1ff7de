//! Full-text search over 100,000 stored messages (issue #7 aims at under
//! 20 ms per search). Run: `cargo bench -p store --bench fts`.

use std::hint::black_box;

use criterion::Criterion;
use store::db::IncomingMessage;
use store::Db;

const MESSAGES: u64 = 100_000;
const PEERS: u64 = 200;
const BATCH: usize = 5_000;

/// xorshift64*: a fixed, dependency-free word stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A made-up vocabulary of 4,000 words built from syllables.
fn vocabulary() -> Vec<String> {
    const SYL: [&str; 20] = [
        "ka", "lo", "mi", "ne", "su", "ra", "to", "vi", "be", "do", "fu", "ga", "hi", "jo", "pe",
        "qu", "se", "ti", "wa", "yo",
    ];
    (0..4_000usize)
        .map(|n| {
            let mut w = String::new();
            let mut k = n;
            for _ in 0..3 {
                w.push_str(SYL[k % SYL.len()]);
                k /= SYL.len();
            }
            if n >= SYL.len().pow(3) {
                w.push_str(SYL[n % 7]);
            }
            w
        })
        .collect()
}

fn build(db: &mut Db) {
    let words = vocabulary();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..MESSAGES {
        let len = 4 + rng.next() % 16;
        let mut text = String::new();
        for _ in 0..len {
            // Squaring skews towards low indices: a few words are common,
            // most are rare, as in real chat.
            let r = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
            let idx = ((r * r) * words.len() as f64) as usize;
            text.push_str(&words[idx.min(words.len() - 1)]);
            text.push(' ');
        }
        if i % 1_000 == 0 {
            text.push_str("zanzibar");
        }
        batch.push(IncomingMessage {
            account: "work".into(),
            peer: format!("sip:user{}@example.com", i % PEERS),
            text,
            at: i as i64 * 1_000,
            call_id: format!("{i}@bench"),
            cseq: 1,
        });
        if batch.len() == BATCH {
            db.insert_incoming_batch(&batch).expect("insert");
            batch.clear();
        }
    }
    db.insert_incoming_batch(&batch).expect("insert");
}

fn fts(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Db::open(&dir.path().join("bench.db")).expect("open");
    let started = std::time::Instant::now();
    build(&mut db);
    println!("inserted {MESSAGES} messages in {:?}", started.elapsed());
    let words = vocabulary();
    let common = words[0].clone();
    let two = format!("{} {}", words[0], words[1]);
    let queries = [
        ("rare word (100 hits)", "zanzibar".to_owned()),
        ("common word", common),
        ("two common words", two),
        ("two-letter prefix", "ka".to_owned()),
        ("no match", "nothinglikethis".to_owned()),
    ];
    let mut group = c.benchmark_group("fts_100k");
    for (name, q) in &queries {
        let hits = db.search(q, 50).expect("search").len();
        println!("{name}: {q:?} -> {hits} hits (limit 50)");
        group.bench_function(*name, |b| {
            b.iter(|| db.search(black_box(q), 50).expect("search"))
        });
    }
    group.finish();
}

// What criterion_main! would generate, written out so every item is documented.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    fts(&mut c);
    c.final_summary();
}

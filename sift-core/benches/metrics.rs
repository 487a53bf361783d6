//! Cost of counting one session for sift's metrics: what the log phase and
//! the protocol decision add (a protocol, a TLS status and an access
//! decision counter, and one histogram observation: six relaxed atomic
//! additions), alone and with a second thread counting into the same
//! block, as two nginx workers do.
//!
//! Then the cost of `sift_top` for one session: a record into a full
//! space-saving table of 512 entries (a key it holds, and a new key that
//! takes the smallest entry over).
//!
//! `cargo bench -p sift-core --bench metrics`

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sift_core::metrics::{
    bump, observe_preread, server, BlockKind, Registry, BLOCK_WORDS, HEADER_WORDS,
};

fn count_session(counters: &[AtomicU64], ms: u64) {
    bump(counters, server::PROTOCOLS);
    bump(counters, server::TLS);
    bump(counters, server::ACCESS);
    observe_preread(counters, ms);
}

fn bench_count(c: &mut Criterion) {
    let words: Arc<Vec<AtomicU64>> = Arc::new(
        (0..HEADER_WORDS + 4 * BLOCK_WORDS)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let registry = Registry::attach_or_init(&words).expect("region");
    let block = registry
        .find_or_insert(BlockKind::Server, b"127.0.0.1:8443")
        .expect("block");
    let counters = registry.counters(block);

    let mut group = c.benchmark_group("metrics/session");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_worker", |b| {
        b.iter(|| count_session(black_box(counters), black_box(3)))
    });

    // A second "worker" counting into the same block all the while.
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (words, stop) = (Arc::clone(&words), Arc::clone(&stop));
        std::thread::spawn(move || {
            let registry = Registry::attach(&words).expect("laid out");
            let counters = registry.counters(block);
            while !stop.load(Ordering::Relaxed) {
                count_session(counters, 7);
            }
        })
    };
    group.bench_function("two_workers_contended", |b| {
        b.iter(|| count_session(black_box(counters), black_box(3)))
    });
    stop.store(true, Ordering::Relaxed);
    other.join().expect("thread");
    group.finish();
}

fn bench_top(c: &mut Criterion) {
    use sift_core::top::{split_region, TopTable, MAX_ENTRIES};
    let mut words = vec![0u64; (64 + MAX_ENTRIES * 96) / 8];
    let (header, entries) = split_region(bytemuck::cast_slice_mut(&mut words)).expect("region");
    let mut table = TopTable::init(header, entries, 0x5eed);
    // Fill every entry.
    for i in 0..MAX_ENTRIES as u64 * 2 {
        table.record(format!("t13d1516h2_8daaf6152771_{i:012x}").as_bytes());
    }
    let mut group = c.benchmark_group("top/record");
    group.throughput(Throughput::Elements(1));
    let held = format!(
        "t13d1516h2_8daaf6152771_{:012x}",
        MAX_ENTRIES as u64 * 2 - 1
    );
    group.bench_function("held_key", |b| {
        b.iter(|| table.record(black_box(held.as_bytes())))
    });
    let mut i = 0u64;
    group.bench_function("new_key", |b| {
        b.iter(|| {
            i += 1;
            let key = format!("t13d1516h2_8daaf6152771_{:012x}", u64::MAX - i);
            table.record(black_box(key.as_bytes()))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_count, bench_top);
criterion_main!(benches);

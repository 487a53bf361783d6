//! Cost of counting one session for sift's metrics: what the log phase and
//! the protocol decision add (a protocol, a TLS status and an access
//! decision counter, and one histogram observation: six relaxed atomic
//! additions), alone and with a second thread counting into the same
//! block, as two nginx workers do.
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

criterion_group!(benches, bench_count);
criterion_main!(benches);

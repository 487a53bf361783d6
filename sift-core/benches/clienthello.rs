//! Cost of parsing a ClientHello and computing its fingerprints, per hello,
//! for a ~2 KB post-quantum Chromium hello and a ~500 B curl hello captured
//! on loopback (testdata/tls/tls-clienthello-captured.json).
//!
//! `cargo bench -p sift-core --bench clienthello`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use sift_core::tls::{
    ja3, ja4, ja4_from_body, ja4_memoized, ja4_o, parse_client_hello, write_ja3_string,
    write_ja4_r, write_ja4_ro, ClientHello, DigestMemo, HelloOutcome, Ja4Memo,
};

const CAPTURED: &str = include_str!("../testdata/tls/tls-clienthello-captured.json");

fn captured(client: &str) -> Vec<u8> {
    let vectors: Vec<Value> = serde_json::from_str(CAPTURED).expect("captured JSON");
    let vector = vectors
        .iter()
        .find(|vector| vector["client"] == client)
        .expect("client in captures");
    let hex = vector["record_hex"].as_str().expect("record_hex");
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex"))
        .collect()
}

fn parse<'a>(wire: &'a [u8], scratch: &'a mut [u8]) -> ClientHello<'a> {
    match parse_client_hello(wire, scratch) {
        HelloOutcome::Hello(hello) => hello,
        other => panic!("not a hello: {other:?}"),
    }
}

/// Everything sift computes for a connection: the variables' worth.
fn fingerprint_all(hello: &ClientHello<'_>, text: &mut String) -> usize {
    text.clear();
    write_ja3_string(hello, text).expect("ja3 string");
    write_ja4_r(hello, text).expect("ja4_r");
    write_ja4_ro(hello, text).expect("ja4_ro");
    let hashes = [
        ja3(hello).as_str().len(),
        ja4(hello).as_str().len(),
        ja4_o(hello).as_str().len(),
    ];
    text.len() + hashes.iter().sum::<usize>() + hello.server_name().map_or(0, <[u8]>::len)
}

fn bench_client(c: &mut Criterion, client: &str) {
    let wire = captured(client);
    let mut scratch = vec![0u8; 16 * 1024];
    let mut text = String::with_capacity(4096);
    let mut group = c.benchmark_group(format!("clienthello/{client}_{}B", wire.len()));
    group.throughput(Throughput::Elements(1));

    group.bench_function("parse", |b| {
        b.iter(|| {
            let hello = parse(black_box(&wire), &mut scratch);
            black_box(hello.cipher_suites().len())
        })
    });
    group.bench_function("parse_need_more", |b| {
        // The common repeated call: a hello that has not fully arrived.
        let prefix = &wire[..wire.len() / 2];
        b.iter(|| {
            black_box(matches!(
                parse_client_hello(black_box(prefix), &mut scratch),
                HelloOutcome::NeedMore
            ))
        })
    });
    group.bench_function("parse+all_fingerprints", |b| {
        b.iter(|| {
            let hello = parse(black_box(&wire), &mut scratch);
            black_box(fingerprint_all(&hello, &mut text))
        })
    });

    let mut scratch_for_parts = vec![0u8; 16 * 1024];
    let hello = parse(&wire, &mut scratch_for_parts);
    group.bench_function("ja3", |b| b.iter(|| black_box(ja3(black_box(&hello)))));
    group.bench_function("ja4", |b| b.iter(|| black_box(ja4(black_box(&hello)))));
    // The same hello every time: each digest comes from the memo.
    let mut memo = DigestMemo::new();
    group.bench_function("ja4_memo_hit", |b| {
        b.iter(|| black_box(ja4_memoized(black_box(&hello), &mut memo)))
    });
    // As the module computes it: from the kept body through both memos (a
    // hello without GREASE hits on its wire inputs; Chromium's, with GREASE,
    // is parsed again and its list digests hit).
    let mut memos = Ja4Memo::new();
    group.bench_function("ja4_from_body", |b| {
        b.iter(|| {
            black_box(ja4_from_body(
                black_box(hello.body()),
                hello.transport(),
                &mut memos,
            ))
        })
    });
    group.bench_function("ja4_o", |b| b.iter(|| black_box(ja4_o(black_box(&hello)))));
    group.bench_function("ja4_r", |b| {
        b.iter(|| {
            text.clear();
            write_ja4_r(black_box(&hello), &mut text).expect("ja4_r");
            black_box(text.len())
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_client(c, "chromium");
    bench_client(c, "curl");
}

criterion_group!(clienthello, benches);
criterion_main!(clienthello);

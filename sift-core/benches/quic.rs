//! Cost of reading a QUIC client's ClientHello from its Initial datagrams,
//! per hello: key derivation from the DCID, header protection, AES-GCM,
//! frame walk and CRYPTO reassembly, the TLS parse, and JA4.
//!
//! * `foxio_chrome_1dgram`: Chrome, one 1250-byte datagram, the hello in 9
//!   shuffled CRYPTO frames (testdata/quic/quic-initial-foxio.json, first
//!   entry);
//! * `chromium_pq_2dgram`: Chromium 156's 1.9 KB post-quantum
//!   (X25519MLKEM768) hello in two 1250-byte datagrams, one Initial each,
//!   in 14 CRYPTO frames shuffled across both with PING and PADDING
//!   between (testdata/quic/quic-captured.json);
//! * `qh3_pq_2dgram`: a 1.8 KB post-quantum hello in two Initial packets
//!   and two datagrams, CRYPTO in order (same file);
//! * `aioquic_3dgram`: a 3.4 KB hello in three datagrams.
//!
//! `cargo bench -p sift-core --bench quic`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use sift_core::quic::{InitialReader, Progress, CRYPTO_BUFFER_LEN};
use sift_core::tls::ja4;

const FOXIO: &str = include_str!("../testdata/quic/quic-initial-foxio.json");
const CAPTURED: &str = include_str!("../testdata/quic/quic-captured.json");

fn datagrams(vector: &Value) -> Vec<Vec<u8>> {
    vector["datagrams_hex"]
        .as_array()
        .expect("datagrams")
        .iter()
        .map(|hex| {
            let hex = hex.as_str().expect("hex");
            (0..hex.len())
                .step_by(2)
                .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex"))
                .collect()
        })
        .collect()
}

/// One whole flow: a fresh reader, every datagram, then JA4.
fn read_hello(datagrams: &[Vec<u8>], buffer: &mut [u8]) -> usize {
    let mut reader = InitialReader::new();
    for datagram in datagrams {
        match reader.feed(black_box(datagram), buffer) {
            Progress::NeedMore => continue,
            Progress::Hello(hello) => return ja4(&hello).as_str().len(),
            other => panic!("not a hello: {other:?}"),
        }
    }
    panic!("flow ended without a hello")
}

fn bench_flow(c: &mut Criterion, name: &str, flow: Vec<Vec<u8>>) {
    let mut buffer = vec![0u8; CRYPTO_BUFFER_LEN];
    let mut group = c.benchmark_group(format!("quic/{name}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("hello+ja4", |b| {
        b.iter(|| black_box(read_hello(&flow, &mut buffer)))
    });
    group.bench_function("first_datagram_only", |b| {
        b.iter(|| {
            let mut reader = InitialReader::new();
            black_box(matches!(
                reader.feed(black_box(&flow[0]), &mut buffer),
                Progress::NeedMore | Progress::Hello(_)
            ))
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let foxio: Vec<Value> = serde_json::from_str(FOXIO).expect("foxio JSON");
    let captured: Vec<Value> = serde_json::from_str(CAPTURED).expect("captured JSON");
    let find = |client: &str, packets: u64| {
        captured
            .iter()
            .find(|vector| {
                vector["client"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(client))
                    && vector["initial_packets"] == packets
                    && vector["quic_version"] == "0x00000001"
            })
            .expect("captured flow")
    };
    bench_flow(c, "foxio_chrome_1dgram", datagrams(&foxio[0]));
    bench_flow(c, "chromium_pq_2dgram", datagrams(find("Chromium", 2)));
    bench_flow(c, "qh3_pq_2dgram", datagrams(find("qh3", 2)));
    bench_flow(c, "aioquic_3dgram", datagrams(find("aioquic", 3)));
}

criterion_group!(quic, benches);
criterion_main!(quic);

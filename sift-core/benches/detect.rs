//! Cost of protocol detection on a whole first flight: `detect`, and
//! `detect_with` with no signatures and with ten typical ones (five
//! prefixes, five patterns), for a captured Chromium TLS ClientHello, a
//! curl HTTP request, and bytes no built-in detector accepts (where the
//! signatures are actually consulted: the last one matches, or none).
//!
//! `cargo bench -p sift-core --bench detect`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;
use sift_core::protocol::{detect, detect_with, Detection, Protocol, SignatureSet, Verdict};

const CAPTURED: &str = include_str!("../testdata/tls/tls-clienthello-captured.json");
const CURL: &[u8] =
    b"GET / HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

fn chromium_hello() -> Vec<u8> {
    let vectors: Vec<Value> = serde_json::from_str(CAPTURED).expect("captured JSON");
    let hex = vectors
        .iter()
        .find(|vector| vector["client"] == "chromium")
        .and_then(|vector| vector["record_hex"].as_str())
        .expect("chromium hello");
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex"))
        .collect()
}

/// Ten signatures of the kind an operator would write for protocols sift
/// does not know.
fn ten_signatures() -> SignatureSet {
    let mut set = SignatureSet::new();
    for (name, params) in [
        ("elf", &["prefix=7f454c46"][..]),
        ("gamesrv", &["prefix=ca:fe:00:01"]),
        ("legacy", &["prefix=4c4f47", "offset=4", "min=8"]),
        ("beacon", &["prefix=ffffffff54536f75726365"]),
        ("modbus", &["prefix=0000", "offset=2"]),
        ("banner", &[r"pattern=HELLO [0-9]{1,5}\r?\n", "min=16"]),
        ("jsonrpc", &[r#"pattern=\{\s*"jsonrpc"\s*:"#, "min=32"]),
        ("stomp", &[r"pattern=(?:CONNECT|STOMP)\r?\n"]),
        (
            "binlen",
            &[r"pattern=[\x01-\x0f][\x00-\xff]\x7f[\x00-\x03]"],
        ),
        ("magic", &[r"pattern=(?s).{0,8}\x7fMAGIC", "min=24"]),
    ] {
        set.add(name, params).expect("valid signature");
    }
    set
}

fn benches(c: &mut Criterion) {
    let tls = chromium_hello();
    let none = SignatureSet::new();
    let ten = ten_signatures();
    let mut unknown_last = b"\x7f\x01\x02\x03\x04\x05\x7fMAGIC".to_vec();
    unknown_last.extend_from_slice(&[0x42; 48]);
    let unknown_none = [0x7fu8; 64];

    assert_eq!(detect(&tls), Verdict::Detected(Protocol::Tls));
    assert_eq!(detect(CURL), Verdict::Detected(Protocol::Http));
    assert_eq!(detect_with(&ten, &tls), Detection::Protocol(Protocol::Tls));
    assert_eq!(detect_with(&ten, &unknown_last), Detection::Signature(9));
    assert_eq!(
        detect_with(&ten, &unknown_none),
        Detection::Protocol(Protocol::Unknown)
    );

    let flights: [(&str, &[u8]); 4] = [
        ("tls_chromium", &tls),
        ("http_curl", CURL),
        ("unknown_last_signature", &unknown_last),
        ("unknown_no_signature", &unknown_none),
    ];
    for (name, bytes) in flights {
        let mut group = c.benchmark_group(format!("detect/{name}_{}B", bytes.len()));
        group.bench_function("detect", |b| b.iter(|| detect(black_box(bytes))));
        group.bench_function("detect_with_0_signatures", |b| {
            b.iter(|| detect_with(black_box(&none), black_box(bytes)))
        });
        group.bench_function("detect_with_10_signatures", |b| {
            b.iter(|| detect_with(black_box(&ten), black_box(bytes)))
        });
        group.finish();
    }
}

criterion_group!(detect_benches, benches);
criterion_main!(detect_benches);

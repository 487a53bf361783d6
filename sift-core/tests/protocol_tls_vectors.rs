//! Every ClientHello in `testdata/tls/` (real captures: FoxIO's ja4 pcaps,
//! salesforce/ja3, and clients recorded on loopback) must be detected as
//! tls at its sixth byte and by no other detector.

use serde_json::Value;
use sift_core::protocol::{detect, probe, Probe, Protocol, Verdict, PRIORITY};

const VECTOR_FILES: [&str; 3] = [
    include_str!("../testdata/tls/tls-clienthello-foxio.json"),
    include_str!("../testdata/tls/tls-clienthello-ja3-salesforce.json"),
    include_str!("../testdata/tls/tls-clienthello-captured.json"),
];

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

fn records() -> Vec<(String, Vec<u8>)> {
    let mut records = Vec::new();
    for file in VECTOR_FILES {
        let vectors: Value = serde_json::from_str(file).unwrap();
        for vector in vectors.as_array().unwrap() {
            let source = vector["source"].as_str().unwrap_or("?").to_owned();
            let hex = vector["record_hex"].as_str().unwrap();
            records.push((source, decode_hex(hex)));
        }
    }
    records
}

#[test]
fn every_captured_client_hello_is_tls_at_six_bytes() {
    let records = records();
    assert!(records.len() >= 150, "only {} vectors", records.len());
    for (source, wire) in records {
        for len in 0..6 {
            assert_eq!(detect(&wire[..len]), Verdict::NeedMore, "{source} at {len}");
        }
        for len in [6, wire.len()] {
            assert_eq!(
                detect(&wire[..len]),
                Verdict::Detected(Protocol::Tls),
                "{source} at {len}"
            );
        }
        for protocol in PRIORITY.into_iter().filter(|&p| p != Protocol::Tls) {
            assert_eq!(
                probe(protocol, &wire),
                Probe::NoMatch,
                "{source}: {protocol}"
            );
        }
    }
}

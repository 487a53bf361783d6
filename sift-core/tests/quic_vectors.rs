//! Checks the QUIC Initial reader against every flow in
//! `testdata/quic/quic-initial-foxio.json` (51 Chrome flows from
//! FoxIO-LLC/ja4's captures; see `testdata/quic/README.md`): the flow's
//! datagrams fed in order must give exactly the recorded JA4 (all four
//! forms), SNI, ALPN and TLS version, and FoxIO's own JA4.
//!
//! Also `testdata/quic/quic-captured.json`: first flights of aioquic, qh3
//! and Chromium clients captured on loopback by
//! `testdata/quic/capture_quic.py`, QUIC v1 and v2, with hellos in one, two
//! and three Initial packets (Chromium's post-quantum hello in two, its
//! CRYPTO frames shuffled across both); expected values computed by that
//! script independently of this crate.

use serde_json::Value;
use sift_core::quic::{
    looks_like_quic_initial, InitialReader, Progress, Version, CRYPTO_BUFFER_LEN,
};
use sift_core::tls::{ja4, ja4_o, version_name, write_ja4_r, write_ja4_ro, ClientHello, Transport};

const FOXIO: &str = include_str!("../testdata/quic/quic-initial-foxio.json");
const CAPTURED: &str = include_str!("../testdata/quic/quic-captured.json");

fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
struct Seen {
    ja4: String,
    ja4_r: String,
    ja4_o: String,
    ja4_ro: String,
    sni: Option<String>,
    alpn: Vec<String>,
    version: Option<String>,
    ech: bool,
}

fn seen(hello: &ClientHello<'_>) -> Seen {
    assert_eq!(hello.transport(), Transport::Quic);
    let mut ja4_r = String::new();
    write_ja4_r(hello, &mut ja4_r).unwrap();
    let mut ja4_ro = String::new();
    write_ja4_ro(hello, &mut ja4_ro).unwrap();
    Seen {
        ja4: ja4(hello).to_string(),
        ja4_r,
        ja4_o: ja4_o(hello).to_string(),
        ja4_ro,
        sni: hello
            .server_name()
            .map(|name| String::from_utf8(name.to_vec()).unwrap()),
        alpn: hello
            .alpn_protocols()
            .map(|name| String::from_utf8(name.to_vec()).unwrap())
            .collect(),
        version: version_name(hello.highest_version()).map(str::to_owned),
        ech: hello.has_ech(),
    }
}

fn expected(vector: &Value) -> Seen {
    let text = |key: &str| vector[key].as_str().unwrap().to_owned();
    Seen {
        ja4: text("ja4"),
        ja4_r: text("ja4_r"),
        ja4_o: text("ja4_o"),
        ja4_ro: text("ja4_ro"),
        sni: vector["sni"].as_str().map(str::to_owned),
        alpn: vector["alpn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap().to_owned())
            .collect(),
        version: vector["version"].as_str().map(str::to_owned),
        ech: vector["ech"].as_bool().unwrap_or(false),
    }
}

#[test]
fn every_foxio_flow_gives_its_fingerprints() {
    let vectors: Vec<Value> = serde_json::from_str(FOXIO).unwrap();
    assert_eq!(vectors.len(), 51);
    let mut buffer = vec![0u8; CRYPTO_BUFFER_LEN];
    let mut matched = 0;
    for (index, vector) in vectors.iter().enumerate() {
        let name = format!("{} #{index} ({})", vector["source"], vector["client"]);
        let datagrams: Vec<Vec<u8>> = vector["datagrams_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hex| decode_hex(hex.as_str().unwrap()))
            .collect();
        assert!(looks_like_quic_initial(&datagrams[0]), "{name}");
        assert_eq!(vector["quic_version"], "0x00000001", "{name}");

        buffer.fill(0xa5);
        let mut reader = InitialReader::new();
        let (last, earlier) = datagrams.split_last().unwrap();
        for datagram in earlier {
            assert_eq!(
                reader.feed(datagram, &mut buffer),
                Progress::NeedMore,
                "{name}"
            );
        }
        let got = match reader.feed(last, &mut buffer) {
            Progress::Hello(hello) => seen(&hello),
            other => panic!("{name}: expected a hello, got {other:?}"),
        };
        assert_eq!(got, expected(vector), "{name}");
        assert_eq!(
            got.ja4, vector["ja4_expected_by_source"],
            "{name}: FoxIO's JA4"
        );
        assert_eq!(reader.version(), Some(Version::V1), "{name}");
        assert_eq!(reader.datagrams(), datagrams.len(), "{name}");
        assert_eq!(
            reader.packets(),
            vector["initial_packets"].as_u64().unwrap() as usize,
            "{name}"
        );
        matched += 1;
    }
    assert_eq!(matched, 51);
}

fn datagrams_of(vector: &Value) -> Vec<Vec<u8>> {
    vector["datagrams_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hex| decode_hex(hex.as_str().unwrap()))
        .collect()
}

#[test]
fn captured_client_flows() {
    let vectors: Vec<Value> = serde_json::from_str(CAPTURED).unwrap();
    let mut buffer = vec![0u8; CRYPTO_BUFFER_LEN];
    let mut shapes = Vec::new();
    for vector in &vectors {
        let name = format!("{} {}", vector["client"], vector["what"]);
        let datagrams = datagrams_of(vector);
        let mut reader = InitialReader::new();
        let (last, earlier) = datagrams.split_last().unwrap();
        for datagram in earlier {
            assert_eq!(
                reader.feed(datagram, &mut buffer),
                Progress::NeedMore,
                "{name}"
            );
        }
        let got = match reader.feed(last, &mut buffer) {
            Progress::Hello(hello) => seen(&hello),
            other => panic!("{name}: expected a hello, got {other:?}"),
        };
        assert_eq!(got, expected(vector), "{name}");
        let version = match vector["quic_version"].as_str().unwrap() {
            "0x00000001" => Version::V1,
            "0x6b3343cf" => Version::V2,
            other => panic!("{name}: version {other}"),
        };
        assert_eq!(reader.version(), Some(version), "{name}");
        shapes.push((
            vector["client"]
                .as_str()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned(),
            version,
            datagrams.len(),
            reader.packets(),
        ));
    }
    let shape = |client: &str, version, datagrams, packets| {
        (client.to_owned(), version, datagrams, packets)
    };
    assert_eq!(
        shapes,
        [
            shape("aioquic", Version::V1, 1, 1),
            shape("aioquic", Version::V2, 1, 1),
            shape("aioquic", Version::V1, 3, 3),
            shape("qh3", Version::V1, 2, 2),
            shape("qh3", Version::V2, 2, 2),
            shape("Chromium", Version::V1, 2, 2),
        ]
    );
}

/// Chromium's first datagram holds the hello's first 66 bytes and pieces
/// from byte 1042 on, the second the gap between: in either order the
/// first one alone is NeedMore, and the second completes the hello.
#[test]
fn chromium_hello_in_either_order() {
    let vectors: Vec<Value> = serde_json::from_str(CAPTURED).unwrap();
    let chromium = vectors
        .iter()
        .find(|vector| vector["client"].as_str().unwrap().starts_with("Chromium"))
        .unwrap();
    assert_eq!(chromium["crypto_out_of_order"], true);
    let datagrams = datagrams_of(chromium);
    let hello_len = chromium["hello_len"].as_u64().unwrap() as usize;
    let mut buffer = vec![0u8; CRYPTO_BUFFER_LEN];
    for order in [[0, 1], [1, 0]] {
        let mut reader = InitialReader::new();
        assert_eq!(
            reader.feed(&datagrams[order[0]], &mut buffer),
            Progress::NeedMore,
            "{order:?}"
        );
        assert!(reader.crypto_received() < hello_len, "{order:?}");
        match reader.feed(&datagrams[order[1]], &mut buffer) {
            Progress::Hello(hello) => assert_eq!(seen(&hello), expected(chromium), "{order:?}"),
            other => panic!("{order:?}: expected a hello, got {other:?}"),
        }
        assert!(reader.crypto_received() >= hello_len, "{order:?}");
    }
}

/// The three-Initial hello, its datagrams in every order, and with one of
/// them repeated: the same hello each time, decided by the last new piece.
#[test]
fn three_packet_hello_in_any_order() {
    let vectors: Vec<Value> = serde_json::from_str(CAPTURED).unwrap();
    let three = vectors
        .iter()
        .find(|vector| vector["initial_packets"] == 3)
        .unwrap();
    let datagrams = datagrams_of(three);
    let mut buffer = vec![0u8; CRYPTO_BUFFER_LEN];
    for order in [
        [0, 1, 2],
        [2, 1, 0],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [0, 2, 1],
    ] {
        let mut reader = InitialReader::new();
        let mut outcomes = Vec::new();
        for (step, &index) in order.iter().enumerate() {
            if step == 1 {
                // A retransmitted (same bytes) datagram changes nothing.
                assert_eq!(
                    reader.feed(&datagrams[order[0]], &mut buffer),
                    Progress::NeedMore
                );
            }
            outcomes.push(match reader.feed(&datagrams[index], &mut buffer) {
                Progress::NeedMore => "more".to_owned(),
                Progress::Hello(hello) => seen(&hello).ja4,
                other => format!("{other:?}"),
            });
        }
        assert_eq!(
            outcomes,
            ["more", "more", three["ja4"].as_str().unwrap()],
            "{order:?}"
        );
    }
    // A buffer too small for this 3.4 KB hello says so at once.
    let mut small = vec![0u8; 2048];
    let mut reader = InitialReader::new();
    assert_eq!(
        reader.feed(&datagrams[0], &mut small),
        Progress::Malformed(sift_core::quic::QuicError::CryptoTooLarge)
    );
}

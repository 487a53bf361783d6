//! `classify` against first datagrams of real clients captured on loopback
//! (`testdata/datagram/capture.py`) and against near misses of each rule.

use super::*;

const CAPTURED: &str = include_str!("../../testdata/datagram/datagrams-captured.json");
const RFC9001_A2: &str = include_str!("../../testdata/quic/rfc9001-a2-client-initial.hex");
const RFC9369_A2: &str = include_str!("../../testdata/quic/rfc9369-a2-client-initial.hex");

fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

fn captured() -> Vec<(String, DatagramProtocol, Vec<u8>)> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(CAPTURED).unwrap();
    entries
        .iter()
        .map(|entry| {
            let expected = DatagramProtocol::ALL
                .into_iter()
                .find(|protocol| entry["expected"] == protocol.as_str())
                .unwrap();
            (
                entry["client"].as_str().unwrap().to_owned(),
                expected,
                hex(entry["datagram_hex"].as_str().unwrap()),
            )
        })
        .collect()
}

#[test]
fn real_clients() {
    let captured = captured();
    let count = |protocol| captured.iter().filter(|(_, p, _)| *p == protocol).count();
    assert_eq!(count(DatagramProtocol::Dns), 5);
    assert_eq!(count(DatagramProtocol::Dtls), 2);
    assert_eq!(count(DatagramProtocol::Openvpn), 3);
    assert_eq!(count(DatagramProtocol::Wireguard), 1);
    for (client, expected, datagram) in &captured {
        assert_eq!(classify(datagram), *expected, "{client}");
    }
}

#[test]
fn quic_vectors() {
    for text in [RFC9001_A2, RFC9369_A2] {
        assert_eq!(classify(&hex(text)), DatagramProtocol::Quic);
    }
    let foxio: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../../testdata/quic/quic-initial-foxio.json")).unwrap();
    for entry in foxio {
        let first = hex(entry["datagrams_hex"][0].as_str().unwrap());
        assert_eq!(classify(&first), DatagramProtocol::Quic);
    }
    let base = hex(RFC9001_A2);
    // Another version (draft-29) is still QUIC; version 0, no fixed bit, a
    // short header or a small datagram is not.
    let with = |at: usize, bytes: &[u8]| {
        let mut datagram = base.clone();
        datagram[at..at + bytes.len()].copy_from_slice(bytes);
        datagram
    };
    assert_eq!(
        classify(&with(1, &[0xff, 0, 0, 0x1d])),
        DatagramProtocol::Quic
    );
    assert_eq!(classify(&with(1, &[0, 0, 0, 0])), DatagramProtocol::Unknown);
    assert_eq!(classify(&with(0, &[0x80])), DatagramProtocol::Unknown);
    assert_eq!(classify(&with(0, &[0x40])), DatagramProtocol::Unknown);
    assert_eq!(classify(&base[..1199]), DatagramProtocol::Unknown);
    // An unknown version with a 255-byte DCID still fits RFC 8999.
    let mut long_cid = with(1, &[0x0a, 0x0a, 0x0a, 0x0a]);
    long_cid[5] = 255;
    assert_eq!(classify(&long_cid), DatagramProtocol::Quic);
    assert_eq!(classify(&long_cid[..262]), DatagramProtocol::Unknown);
}

fn dtls_hello(record_version: [u8; 2], epoch: u8, client_version: [u8; 2]) -> Vec<u8> {
    let mut body = client_version.to_vec();
    body.extend_from_slice(&[0x33; 32]); // random
    body.extend_from_slice(&[0, 0, 0, 2, 0xc0, 0x2b, 1, 0]); // sid, cookie, suites, compression
    let len = body.len() as u32;
    let mut handshake = vec![1];
    handshake.extend_from_slice(&len.to_be_bytes()[1..]);
    handshake.extend_from_slice(&[0, 0, 0, 0, 0]);
    handshake.extend_from_slice(&len.to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![22];
    record.extend_from_slice(&record_version);
    record.extend_from_slice(&[0, epoch, 0, 0, 0, 0, 0, 0]);
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[test]
fn dtls_rules() {
    let good = dtls_hello([0xfe, 0xfd], 0, [0xfe, 0xfd]);
    assert_eq!(classify(&good), DatagramProtocol::Dtls);
    assert_eq!(
        classify(&dtls_hello([0xfe, 0xff], 0, [0xfe, 0xff])),
        DatagramProtocol::Dtls
    );
    for (what, datagram) in [
        (
            "TLS record version",
            dtls_hello([0x03, 0x03], 0, [0xfe, 0xfd]),
        ),
        (
            "DTLS 1.3 record version",
            dtls_hello([0xfe, 0xfc], 0, [0xfe, 0xfd]),
        ),
        ("epoch 1", dtls_hello([0xfe, 0xfd], 1, [0xfe, 0xfd])),
        (
            "TLS client version",
            dtls_hello([0xfe, 0xfd], 0, [0x03, 0x03]),
        ),
        ("cut", good[..good.len() - 1].to_vec()),
    ] {
        assert_eq!(classify(&datagram), DatagramProtocol::Unknown, "{what}");
    }
    let mut not_hello = good.clone();
    not_hello[13] = 3; // HelloVerifyRequest
    assert_eq!(classify(&not_hello), DatagramProtocol::Unknown);
    let mut seq2 = good.clone();
    seq2[18] = 2;
    assert_eq!(classify(&seq2), DatagramProtocol::Unknown);
    let mut seq1 = good.clone();
    seq1[18] = 1;
    assert_eq!(classify(&seq1), DatagramProtocol::Dtls);
    let mut fragment_past_message = good.clone();
    fragment_past_message[21] = 0x01; // fragment offset 0x0100...
    assert_eq!(classify(&fragment_past_message), DatagramProtocol::Unknown);
    // A record followed by another in the same datagram is fine.
    let mut two = good.clone();
    two.extend_from_slice(&good);
    assert_eq!(classify(&two), DatagramProtocol::Dtls);
}

/// A query: header with `flags` and `counts`, the question, then `tail`.
fn dns(flags: [u8; 2], counts: [u16; 4], question: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut message = vec![0xab, 0xcd];
    message.extend_from_slice(&flags);
    for count in counts {
        message.extend_from_slice(&count.to_be_bytes());
    }
    message.extend_from_slice(question);
    message.extend_from_slice(tail);
    message
}

const QUESTION: &[u8] = b"\x04sift\x04test\x00\x00\x01\x00\x01";
const OPT: &[u8] = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";

#[test]
fn dns_rules() {
    let accepted = [
        ("plain", dns([0x01, 0x00], [1, 0, 0, 0], QUESTION, b"")),
        ("EDNS, AD", dns([0x01, 0x20], [1, 0, 0, 1], QUESTION, OPT)),
        (
            "root",
            dns([0x00, 0x00], [1, 0, 0, 0], b"\x00\x00\x02\x00\x01", b""),
        ),
        (
            "NOTIFY with AA",
            dns([0x24, 0x00], [1, 0, 0, 0], b"\x00\x00\x06\x00\x01", b""),
        ),
        (
            "IXFR with an SOA pointing back",
            dns(
                [0x00, 0x00],
                [1, 0, 1, 0],
                b"\x04sift\x04test\x00\x00\xfb\x00\x01",
                b"\xc0\x0c\x00\x06\x00\x01\x00\x00\x00\x00\x00\x02\xc0\x0c",
            ),
        ),
    ];
    for (what, datagram) in &accepted {
        assert_eq!(classify(datagram), DatagramProtocol::Dns, "{what}");
    }
    let rejected = [
        ("response", dns([0x81, 0x80], [1, 0, 0, 0], QUESTION, b"")),
        ("IQUERY", dns([0x09, 0x00], [1, 0, 0, 0], QUESTION, b"")),
        ("STATUS", dns([0x10, 0x00], [1, 0, 0, 0], QUESTION, b"")),
        ("DSO", dns([0x30, 0x00], [1, 0, 0, 0], QUESTION, b"")),
        ("TC", dns([0x03, 0x00], [1, 0, 0, 0], QUESTION, b"")),
        (
            "AA on a query",
            dns([0x05, 0x00], [1, 0, 0, 0], QUESTION, b""),
        ),
        ("RCODE", dns([0x01, 0x01], [1, 0, 0, 0], QUESTION, b"")),
        ("Z", dns([0x01, 0x40], [1, 0, 0, 0], QUESTION, b"")),
        (
            "two questions",
            dns([0x01, 0x00], [2, 0, 0, 0], QUESTION, b""),
        ),
        ("an answer", dns([0x01, 0x00], [1, 1, 0, 0], QUESTION, OPT)),
        (
            "three additional",
            dns([0x01, 0x00], [1, 0, 0, 3], QUESTION, OPT),
        ),
        (
            "OPT announced, missing",
            dns([0x01, 0x00], [1, 0, 0, 1], QUESTION, b""),
        ),
        (
            "trailing byte",
            dns([0x01, 0x00], [1, 0, 0, 0], QUESTION, b"\x00"),
        ),
        (
            "qtype 0",
            dns(
                [0x01, 0x00],
                [1, 0, 0, 0],
                b"\x01a\x00\x00\x00\x00\x01",
                b"",
            ),
        ),
        (
            "class 2",
            dns(
                [0x01, 0x00],
                [1, 0, 0, 0],
                b"\x01a\x00\x00\x01\x00\x02",
                b"",
            ),
        ),
        (
            "pointer in QNAME",
            dns([0x01, 0x00], [1, 0, 0, 0], b"\xc0\x0c\x00\x01\x00\x01", b""),
        ),
        (
            "space in a label",
            dns(
                [0x01, 0x00],
                [1, 0, 0, 0],
                b"\x01 \x00\x00\x01\x00\x01",
                b"",
            ),
        ),
        ("label of 64", {
            let mut question = vec![64];
            question.extend_from_slice(&[b'a'; 64]);
            question.extend_from_slice(b"\x00\x00\x01\x00\x01");
            dns([0x01, 0x00], [1, 0, 0, 0], &question, b"")
        }),
        (
            "forward pointer in a record",
            dns(
                [0x00, 0x00],
                [1, 0, 1, 0],
                b"\x04sift\x04test\x00\x00\xfb\x00\x01",
                b"\xc0\x30\x00\x06\x00\x01\x00\x00\x00\x00\x00\x00",
            ),
        ),
        ("header only", dns([0x01, 0x00], [1, 0, 0, 0], b"", b"")),
    ];
    for (what, datagram) in &rejected {
        assert_eq!(classify(datagram), DatagramProtocol::Unknown, "{what}");
    }
    // A name of 255 bytes in wire form passes, 256 does not.
    let name = |total: usize| {
        let mut question = Vec::new();
        let mut left = total - 1;
        while left > 0 {
            let label = (left - 1).min(63);
            question.push(label as u8);
            question.extend(std::iter::repeat_n(b'x', label));
            left -= label + 1;
        }
        question.push(0);
        question.extend_from_slice(&[0, 1, 0, 1]);
        dns([0x01, 0x00], [1, 0, 0, 0], &question, b"")
    };
    assert_eq!(classify(&name(255)), DatagramProtocol::Dns);
    assert_eq!(classify(&name(256)), DatagramProtocol::Unknown);
}

#[test]
fn wireguard_rules() {
    let mut initiation = vec![1, 0, 0, 0];
    initiation.resize(148, 0x5a);
    assert_eq!(classify(&initiation), DatagramProtocol::Wireguard);
    assert_eq!(classify(&initiation[..147]), DatagramProtocol::Unknown);
    let mut longer = initiation.clone();
    longer.push(0);
    assert_eq!(classify(&longer), DatagramProtocol::Unknown);
    // The handshake response (type 2, 92 bytes) and cookie reply are not
    // a client's first datagram.
    let mut response = vec![2, 0, 0, 0];
    response.resize(92, 0x5a);
    assert_eq!(classify(&response), DatagramProtocol::Unknown);
    let mut reserved = initiation.clone();
    reserved[3] = 1;
    assert_eq!(classify(&reserved), DatagramProtocol::Unknown);
}

#[test]
fn openvpn_rules() {
    let mut v2 = vec![0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0];
    assert_eq!(classify(&v2), DatagramProtocol::Openvpn);
    assert_eq!(classify(&v2[..13]), DatagramProtocol::Unknown);
    let zero_session = [0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(classify(&zero_session), DatagramProtocol::Unknown);
    v2[0] = 0x39; // key id 1
    assert_eq!(classify(&v2), DatagramProtocol::Unknown);
    let mut v3 = vec![0x50, 9, 9, 9, 9, 9, 9, 9, 9];
    v3.resize(400, 0xee);
    assert_eq!(classify(&v3), DatagramProtocol::Openvpn);
    v3.truncate(300);
    assert_eq!(classify(&v3), DatagramProtocol::Unknown);
}

#[test]
fn names_and_garbage() {
    let names: Vec<&str> = DatagramProtocol::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        names,
        ["quic", "dtls", "dns", "wireguard", "openvpn", "unknown"]
    );
    assert_eq!(DatagramProtocol::Wireguard.to_string(), "wireguard");
    assert_eq!(classify(b""), DatagramProtocol::Unknown);
    assert_eq!(
        classify(b"GET / HTTP/1.1\r\n\r\n"),
        DatagramProtocol::Unknown
    );
    // Every prefix of every capture, and random bytes: no panic, and a
    // prefix of a DNS or DTLS datagram is never taken for them.
    for (client, expected, datagram) in captured() {
        for end in 0..datagram.len() {
            let prefix = classify(&datagram[..end]);
            if matches!(expected, DatagramProtocol::Dns | DatagramProtocol::Dtls) {
                assert_eq!(prefix, DatagramProtocol::Unknown, "{client} {end}");
            }
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 1400) as usize;
        let bytes: Vec<u8> = (0..len).map(|at| (state >> (at % 57)) as u8).collect();
        classify(&bytes);
    }
}

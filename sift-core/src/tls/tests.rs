//! Unit tests on hand-built ClientHellos: every rejection path of the
//! record layer and of the body parser, capacity handling, GREASE,
//! duplicates and the fingerprint corner cases the vectors do not reach.

use super::hello_key::HelloKey;
use super::*;
use sha2::{Digest, Sha256};

const GREASE_A: u16 = 0x1a1a;
const GREASE_B: u16 = 0xeaea;

/// Builds ClientHello bodies, messages and records field by field.
#[derive(Clone)]
struct Builder {
    version: u16,
    session_id: Vec<u8>,
    ciphers: Vec<u16>,
    compression: Vec<u8>,
    /// `None`: no extension block at all (pre-TLS 1.2 style).
    extensions: Option<Vec<(u16, Vec<u8>)>>,
}

impl Builder {
    fn new() -> Self {
        Self {
            version: 0x0303,
            session_id: vec![7; 32],
            ciphers: vec![0x1301, 0xc02b, 0x002f],
            compression: vec![0],
            extensions: Some(Vec::new()),
        }
    }

    fn extension(mut self, extension_type: u16, data: Vec<u8>) -> Self {
        self.extensions
            .get_or_insert_with(Vec::new)
            .push((extension_type, data));
        self
    }

    fn body(&self) -> Vec<u8> {
        let mut out = self.version.to_be_bytes().to_vec();
        out.extend_from_slice(&[0x42; 32]);
        out.push(self.session_id.len() as u8);
        out.extend_from_slice(&self.session_id);
        out.extend_from_slice(&((self.ciphers.len() * 2) as u16).to_be_bytes());
        for suite in &self.ciphers {
            out.extend_from_slice(&suite.to_be_bytes());
        }
        out.push(self.compression.len() as u8);
        out.extend_from_slice(&self.compression);
        if let Some(extensions) = &self.extensions {
            let mut block = Vec::new();
            for (extension_type, data) in extensions {
                block.extend_from_slice(&extension_type.to_be_bytes());
                block.extend_from_slice(&(data.len() as u16).to_be_bytes());
                block.extend_from_slice(data);
            }
            out.extend_from_slice(&(block.len() as u16).to_be_bytes());
            out.extend_from_slice(&block);
        }
        out
    }

    fn record(&self) -> Vec<u8> {
        record(&message(&self.body()))
    }
}

/// A handshake message: type 1 and a u24 length around `body`.
fn message(body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut out = vec![1, len[1], len[2], len[3]];
    out.extend_from_slice(body);
    out
}

/// One handshake record around `payload`.
fn record(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![22, 3, 1];
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `payload` spread over records of the given sizes (the last takes the rest).
fn records(payload: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = payload;
    for &size in sizes {
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        out.extend(record(piece));
        rest = tail;
    }
    if !rest.is_empty() {
        out.extend(record(rest));
    }
    out
}

fn u16_vector(values: &[u16]) -> Vec<u8> {
    let mut out = ((values.len() * 2) as u16).to_be_bytes().to_vec();
    for value in values {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out
}

fn sni(name: &str) -> Vec<u8> {
    let mut entry = vec![0];
    entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
    entry.extend_from_slice(name.as_bytes());
    let mut out = (entry.len() as u16).to_be_bytes().to_vec();
    out.extend(entry);
    out
}

fn alpn(protocols: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for protocol in protocols {
        list.push(protocol.len() as u8);
        list.extend_from_slice(protocol);
    }
    let mut out = (list.len() as u16).to_be_bytes().to_vec();
    out.extend(list);
    out
}

fn versions(values: &[u16]) -> Vec<u8> {
    let mut out = vec![(values.len() * 2) as u8];
    for value in values {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out
}

fn parse(input: &[u8]) -> HelloOutcome<'_> {
    // Leaked so the outcome can borrow it; fine in a test.
    let scratch = vec![0u8; 1 << 16].leak();
    parse_client_hello(input, scratch)
}

fn parse_body(builder: &Builder) -> Result<ClientHello<'static>, MalformedReason> {
    ClientHello::parse(builder.body().leak())
}

fn hello(input: &[u8]) -> ClientHello<'_> {
    match parse(input) {
        HelloOutcome::Hello(hello) => hello,
        other => panic!("expected a hello, got {other:?}"),
    }
}

fn malformed(input: &[u8]) -> MalformedReason {
    match parse(input) {
        HelloOutcome::Malformed(reason) => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

fn sha12(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<String>()[..12]
        .to_string()
}

fn ja3_string(hello: &ClientHello<'_>) -> String {
    let mut out = String::new();
    write_ja3_string(hello, &mut out).unwrap();
    out
}

fn ja4_r(hello: &ClientHello<'_>) -> String {
    let mut out = String::new();
    write_ja4_r(hello, &mut out).unwrap();
    out
}

fn ja4_ro(hello: &ClientHello<'_>) -> String {
    let mut out = String::new();
    write_ja4_ro(hello, &mut out).unwrap();
    out
}

/// A hello with every extension the parser interprets, GREASE mixed in.
fn full_builder() -> Builder {
    let mut builder = Builder::new();
    builder.ciphers = vec![GREASE_A, 0x1301, 0xc02b, 0x002f];
    builder
        .extension(GREASE_A, vec![])
        .extension(0x0000, sni("example.com"))
        .extension(0x0010, alpn(&[b"h2", b"http/1.1"]))
        .extension(0x002b, versions(&[GREASE_B, 0x0304, 0x0303]))
        .extension(0x000d, u16_vector(&[0x0403, 0x0804]))
        .extension(0x000a, u16_vector(&[GREASE_B, 0x001d, 0x0017]))
        .extension(0x000b, vec![2, 1, 0])
        .extension(0xfe0d, vec![0, 1, 2, 3])
        .extension(GREASE_B, vec![0])
}

// ---------------------------------------------------------------- accessors

#[test]
fn accessors_expose_every_field_in_wire_order() {
    let wire = full_builder().record();
    let hello = hello(&wire);
    assert_eq!(hello.legacy_version(), 0x0303);
    assert_eq!(hello.random(), &[0x42; 32]);
    assert_eq!(hello.session_id(), &[7; 32]);
    assert_eq!(
        hello.cipher_suites().collect::<Vec<_>>(),
        [GREASE_A, 0x1301, 0xc02b, 0x002f]
    );
    assert_eq!(hello.cipher_suites().len(), 4);
    assert_eq!(hello.compression_methods(), &[0]);
    let types: Vec<u16> = hello.extensions().map(|(t, _)| t).collect();
    assert_eq!(
        types,
        [GREASE_A, 0, 0x10, 0x2b, 0x0d, 0x0a, 0x0b, 0xfe0d, GREASE_B]
    );
    assert_eq!(hello.extension(0xfe0d), Some(&[0, 1, 2, 3][..]));
    assert_eq!(hello.extension(0x0023), None);
    assert!(hello.has_server_name());
    assert_eq!(hello.server_name(), Some(&b"example.com"[..]));
    let protocols: Vec<&[u8]> = hello.alpn_protocols().collect();
    assert_eq!(protocols, [&b"h2"[..], b"http/1.1"]);
    assert_eq!(
        hello.supported_versions().unwrap().collect::<Vec<_>>(),
        [GREASE_B, 0x0304, 0x0303]
    );
    assert_eq!(hello.highest_version(), 0x0304);
    assert_eq!(version_name(hello.highest_version()), Some("TLSv1.3"));
    assert!(hello.has_ech());
    assert_eq!(
        hello.signature_algorithms().unwrap().collect::<Vec<_>>(),
        [0x0403, 0x0804]
    );
    assert_eq!(
        hello.supported_groups().unwrap().collect::<Vec<_>>(),
        [GREASE_B, 0x001d, 0x0017]
    );
    assert_eq!(hello.ec_point_formats(), Some(&[1, 0][..]));
    assert_eq!(hello.record_count(), 1);
}

#[test]
fn minimal_hello_without_extension_block() {
    let mut builder = Builder::new();
    builder.extensions = None;
    builder.version = 0x0301;
    builder.ciphers = vec![0x002f];
    let wire = builder.record();
    let hello = hello(&wire);
    assert_eq!(hello.extensions().count(), 0);
    assert!(!hello.has_server_name());
    assert_eq!(hello.server_name(), None);
    assert_eq!(hello.alpn_protocols().count(), 0);
    assert!(hello.supported_versions().is_none());
    assert!(hello.signature_algorithms().is_none());
    assert!(hello.supported_groups().is_none());
    assert!(hello.ec_point_formats().is_none());
    assert!(!hello.has_ech());
    assert_eq!(hello.highest_version(), 0x0301);
    assert_eq!(ja3_string(&hello), "769,47,,,");
    assert_eq!(
        ja4(&hello).as_str(),
        format!("t10i010000_{}_000000000000", sha12("002f"))
    );
    assert_eq!(ja4_r(&hello), "t10i010000_002f_");
    assert_eq!(ja4_ro(&hello), "t10i010000_002f_");
}

#[test]
fn server_name_skips_non_host_name_entries() {
    // An entry of unknown type 7 first, then the host_name.
    let mut list = vec![7, 0, 2, b'x', b'y', 0, 0, 3];
    list.extend_from_slice(b"a.b");
    let mut data = (list.len() as u16).to_be_bytes().to_vec();
    data.extend(list);
    let wire = Builder::new().extension(0, data).record();
    assert_eq!(hello(&wire).server_name(), Some(&b"a.b"[..]));

    // Present but holding no host_name: still "d" for JA4.
    let wire = Builder::new().extension(0, vec![0, 0]).record();
    let hello = hello(&wire);
    assert!(hello.has_server_name());
    assert_eq!(hello.server_name(), None);
    assert_eq!(&ja4(&hello).as_str()[3..4], "d");
}

#[test]
fn single_record_hello_borrows_input_and_split_one_uses_scratch() {
    let builder = full_builder();
    let single = builder.record();
    let mut scratch = vec![0u8; 4096];
    let HelloOutcome::Hello(hello) = parse_client_hello(&single, &mut scratch) else {
        panic!("single record");
    };
    let input_range = single.as_ptr_range();
    assert!(input_range.contains(&hello.random().as_ptr()));

    let split = records(&message(&builder.body()), &[40, 40]);
    let mut scratch = vec![0u8; 4096];
    let scratch_range = scratch.as_ptr_range();
    let HelloOutcome::Hello(hello) = parse_client_hello(&split, &mut scratch) else {
        panic!("split record");
    };
    assert!(scratch_range.contains(&hello.random().as_ptr()));
    assert_eq!(hello.record_count(), 3);
    assert_eq!(hello.server_name(), Some(&b"example.com"[..]));
}

#[test]
fn handshake_header_may_straddle_records() {
    let message = message(&full_builder().body());
    for first in 1..=4 {
        let wire = records(&message, &[first, 3]);
        let hello = hello(&wire);
        assert_eq!(hello.record_count(), 3, "first record of {first} bytes");
        assert_eq!(hello.server_name(), Some(&b"example.com"[..]));
    }
}

#[test]
fn bytes_after_the_hello_are_ignored() {
    let wire = full_builder().record();
    let expected = hello(&wire);
    let mut longer = wire.clone();
    longer.extend_from_slice(&[0x14, 3, 3, 0, 1, 1, 0x17, 3, 3, 0xff, 0xff]);
    assert_eq!(hello(&longer), expected);
}

// -------------------------------------------------------------- record layer

#[test]
fn empty_input_needs_more() {
    assert_eq!(parse(&[]), HelloOutcome::NeedMore);
}

#[test]
fn sslv2_hello_is_recognised_not_parsed() {
    // SSL 2.0 CLIENT-HELLO offering TLS 1.0, as old clients sent.
    let v2 = [
        0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
    ];
    assert_eq!(malformed(&v2), MalformedReason::Sslv2Hello);
    assert_eq!(MalformedReason::Sslv2Hello.as_str(), "sslv2");
    for end in 0..4 {
        assert_eq!(parse(&v2[..end]), HelloOutcome::NeedMore, "{end} bytes");
    }
    // Genuine SSL 2.0 version 0x0002.
    assert_eq!(
        malformed(&[0x80, 0x2e, 0x01, 0x00, 0x02]),
        MalformedReason::Sslv2Hello
    );
    // High bit set but not a v2 CLIENT-HELLO: something else.
    assert_eq!(parse(&[0x80, 0x2e, 0x02, 0x03]), HelloOutcome::NotTls);
    assert_eq!(parse(&[0xff, 0x00, 0x01, 0x09]), HelloOutcome::NotTls);
}

#[test]
fn other_protocols_are_not_tls() {
    assert_eq!(parse(b"GET / HTTP/1.1\r\n"), HelloOutcome::NotTls);
    assert_eq!(parse(b"SSH-2.0-OpenSSH_9.2\r\n"), HelloOutcome::NotTls);
    assert_eq!(parse(b"G"), HelloOutcome::NotTls);
    assert_eq!(parse(&[0x00]), HelloOutcome::NotTls);
}

#[test]
fn non_handshake_first_record_is_malformed() {
    for content_type in [20, 21, 23, 24] {
        // An alert (or CCS, data, heartbeat) where the hello should be.
        let wire = [content_type, 3, 3, 0, 2, 2, 40];
        assert_eq!(malformed(&wire), MalformedReason::NotHandshake);
        assert_eq!(malformed(&wire[..1]), MalformedReason::NotHandshake);
    }
    assert_eq!(MalformedReason::NotHandshake.as_str(), "not_handshake");
}

#[test]
fn record_version_must_be_ssl3_to_tls12() {
    let body = message(&Builder::new().body());
    for minor in 0..=3 {
        let mut wire = record(&body);
        wire[2] = minor;
        hello(&wire);
    }
    let mut wire = record(&body);
    wire[2] = 4;
    assert_eq!(malformed(&wire), MalformedReason::RecordVersion);
    assert_eq!(malformed(&wire[..3]), MalformedReason::RecordVersion);
    wire[1] = 2;
    assert_eq!(malformed(&wire[..2]), MalformedReason::RecordVersion);
}

#[test]
fn empty_and_oversized_records() {
    assert_eq!(malformed(&[22, 3, 1, 0, 0]), MalformedReason::EmptyRecord);
    // An empty record in the middle of a split hello, too.
    let message = message(&Builder::new().body());
    let mut wire = record(&message[..10]);
    wire.extend_from_slice(&[22, 3, 3, 0, 0]);
    assert_eq!(malformed(&wire), MalformedReason::EmptyRecord);

    assert_eq!(
        malformed(&[22, 3, 1, 0x40, 0x01]),
        MalformedReason::RecordOverflow
    );
    // Exactly 2^14 is allowed: it waits for the bytes.
    assert_eq!(parse(&[22, 3, 1, 0x40, 0x00]), HelloOutcome::NeedMore);
}

#[test]
fn first_handshake_message_must_be_client_hello() {
    let mut wire = Builder::new().record();
    wire[5] = 2; // ServerHello
    assert_eq!(malformed(&wire), MalformedReason::NotClientHello);
    // Known as soon as the type byte arrives.
    assert_eq!(malformed(&wire[..6]), MalformedReason::NotClientHello);
    assert_eq!(parse(&wire[..5]), HelloOutcome::NeedMore);
}

#[test]
fn other_record_types_may_not_interrupt_the_hello() {
    let message = message(&Builder::new().body());
    let mut wire = record(&message[..20]);
    wire.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
    wire.extend(record(&message[20..]));
    assert_eq!(malformed(&wire), MalformedReason::InterleavedRecord);
}

#[test]
fn empty_handshake_body_is_truncated() {
    assert_eq!(
        malformed(&[22, 3, 1, 0, 4, 1, 0, 0, 0]),
        MalformedReason::Truncated
    );
}

// ----------------------------------------------------------------- capacity

#[test]
fn capacity_is_the_scratch_length_and_is_exact() {
    let wire = full_builder().record();
    let mut scratch = vec![0u8; wire.len()];
    assert!(matches!(
        parse_client_hello(&wire, &mut scratch),
        HelloOutcome::Hello(_)
    ));
    let mut scratch = vec![0u8; wire.len() - 1];
    assert_eq!(
        parse_client_hello(&wire, &mut scratch),
        HelloOutcome::TooLarge
    );
    // Decided from the record header alone.
    assert_eq!(
        parse_client_hello(&wire[..5], &mut scratch),
        HelloOutcome::TooLarge
    );

    // Split over records: the message must fit in scratch, and the record
    // headers count against capacity.
    let split = records(&message(&full_builder().body()), &[30, 30]);
    let mut scratch = vec![0u8; split.len()];
    assert!(matches!(
        parse_client_hello(&split, &mut scratch),
        HelloOutcome::Hello(_)
    ));
    let mut scratch = vec![0u8; split.len() - 1];
    assert_eq!(
        parse_client_hello(&split, &mut scratch),
        HelloOutcome::TooLarge
    );
}

#[test]
fn announced_handshake_length_beyond_capacity_is_too_large_at_once() {
    // A 100-byte record whose handshake header announces 2^24 - 1 bytes:
    // answered after 9 bytes, without waiting for 16 MB.
    let wire = [22, 3, 1, 0, 100, 1, 0xff, 0xff, 0xff];
    let mut scratch = vec![0u8; 1 << 16];
    assert_eq!(
        parse_client_hello(&wire, &mut scratch),
        HelloOutcome::TooLarge
    );
    assert_eq!(
        parse_client_hello(&wire[..8], &mut scratch),
        HelloOutcome::NeedMore
    );

    // 1000 bytes announced, 100 in this record: at least 1009 + 5 bytes.
    let wire = [22, 3, 1, 0, 100, 1, 0, 0x03, 0xe8];
    let mut scratch = vec![0u8; 1013];
    assert_eq!(
        parse_client_hello(&wire, &mut scratch),
        HelloOutcome::TooLarge
    );
    let mut scratch = vec![0u8; 1014];
    assert_eq!(
        parse_client_hello(&wire, &mut scratch),
        HelloOutcome::NeedMore
    );
}

#[test]
fn empty_scratch_fails_everything_as_too_large() {
    let wire = full_builder().record();
    assert_eq!(parse_client_hello(&wire, &mut []), HelloOutcome::TooLarge);
    assert_eq!(parse_client_hello(&[], &mut []), HelloOutcome::NeedMore);
}

// ------------------------------------------------------- body: every length

#[test]
fn every_truncation_of_a_hello_is_rejected() {
    let body = full_builder().body();
    // Cut right after the compression methods, a hello is complete: the
    // extension block is optional.
    let without_extensions = 2 + 32 + 1 + 32 + 2 + 8 + 1 + 1;
    for end in 0..body.len() {
        if end == without_extensions {
            let hello = ClientHello::parse(&body[..end]).unwrap();
            assert_eq!(hello.extensions().count(), 0);
            continue;
        }
        assert!(
            ClientHello::parse(&body[..end]).is_err(),
            "body cut to {end} bytes parsed"
        );
        // The same, framed: the handshake length matches the cut body.
        let wire = record(&message(&body[..end]));
        assert!(matches!(parse(&wire), HelloOutcome::Malformed(_)), "{end}");
    }
    assert!(ClientHello::parse(&body).is_ok());
}

#[test]
fn every_prefix_of_a_hello_needs_more() {
    let wire = full_builder().record();
    for end in 0..wire.len() {
        assert_eq!(parse(&wire[..end]), HelloOutcome::NeedMore, "{end}");
    }
}

#[test]
fn fixed_part_overruns_name_their_field() {
    let body = Builder::new().body();
    assert_eq!(
        ClientHello::parse(&body[..33]).unwrap_err(),
        MalformedReason::Truncated
    );
    assert_eq!(
        ClientHello::parse(&body[..34]).unwrap_err(),
        MalformedReason::SessionId
    );

    let mut builder = Builder::new();
    builder.session_id = vec![1; 33];
    assert_eq!(
        parse_body(&builder).unwrap_err(),
        MalformedReason::SessionId
    );

    // Cipher list: odd length, then a length past the end.
    let mut body = Builder::new().body();
    let cipher_len_at = 2 + 32 + 1 + 32;
    body[cipher_len_at + 1] = 5;
    assert_eq!(
        ClientHello::parse(&body).unwrap_err(),
        MalformedReason::CipherSuites
    );
    body[cipher_len_at] = 0xff;
    assert_eq!(
        ClientHello::parse(&body).unwrap_err(),
        MalformedReason::CipherSuites
    );

    // Compression list longer than what is left.
    let mut body = Builder::new().body();
    let compression_len_at = cipher_len_at + 2 + 6;
    body[compression_len_at] = 200;
    assert_eq!(
        ClientHello::parse(&body).unwrap_err(),
        MalformedReason::CompressionMethods
    );
}

#[test]
fn extension_framing_overruns_and_trailing_bytes() {
    let body = Builder::new().extension(0x0017, vec![]).body();
    let block_len_at = body.len() - 6;

    let mut longer = body.clone();
    longer[block_len_at + 1] += 1; // block claims one byte more than sent
    assert_eq!(
        ClientHello::parse(&longer).unwrap_err(),
        MalformedReason::Extensions
    );

    let mut torn = body.clone();
    torn.push(0); // block grows by one byte: half an extension header
    torn[block_len_at + 1] += 1;
    assert_eq!(
        ClientHello::parse(&torn).unwrap_err(),
        MalformedReason::Extensions
    );

    let mut data_overrun = body.clone();
    *data_overrun.last_mut().unwrap() = 1; // extension claims one data byte
    assert_eq!(
        ClientHello::parse(&data_overrun).unwrap_err(),
        MalformedReason::Extensions
    );

    let mut trailing = body.clone();
    trailing.push(0);
    assert_eq!(
        ClientHello::parse(&trailing).unwrap_err(),
        MalformedReason::TrailingData
    );

    // One byte where the block length should be.
    let mut builder = Builder::new();
    builder.extensions = None;
    let mut half_length = builder.body();
    half_length.push(0);
    assert_eq!(
        ClientHello::parse(&half_length).unwrap_err(),
        MalformedReason::Extensions
    );
}

#[test]
fn malformed_known_extensions_reject_the_hello() {
    let cases: [(u16, Vec<u8>, MalformedReason); 13] = [
        (
            0x0000,
            vec![0, 5, 0, 0, 1, b'a'],
            MalformedReason::ServerName,
        ),
        (
            0x0000,
            vec![0, 4, 0, 0, 9, b'a'],
            MalformedReason::ServerName,
        ),
        (0x0000, vec![0], MalformedReason::ServerName),
        (0x0010, vec![0, 3, 5, b'h', b'2'], MalformedReason::Alpn),
        (0x0010, vec![0, 2, 1, b'h', 0], MalformedReason::Alpn),
        (0x002b, vec![3, 3, 4, 3], MalformedReason::SupportedVersions),
        (0x002b, vec![4, 3, 4], MalformedReason::SupportedVersions),
        (
            0x000d,
            vec![0, 3, 4, 3, 8],
            MalformedReason::SignatureAlgorithms,
        ),
        (
            0x000d,
            vec![0, 2, 4, 3, 8, 4],
            MalformedReason::SignatureAlgorithms,
        ),
        (0x000a, vec![0, 1, 0], MalformedReason::SupportedGroups),
        (0x000a, vec![], MalformedReason::SupportedGroups),
        (0x000b, vec![2, 0], MalformedReason::EcPointFormats),
        (0x000b, vec![], MalformedReason::EcPointFormats),
    ];
    for (extension_type, data, reason) in cases {
        let builder = Builder::new().extension(extension_type, data.clone());
        assert_eq!(
            parse_body(&builder).unwrap_err(),
            reason,
            "{extension_type:#06x} {data:?}"
        );
        assert_eq!(malformed(&builder.record()), reason);
    }
    // Unknown and ECH extensions are opaque: any content is fine.
    let builder = Builder::new()
        .extension(0xfe0d, vec![0xff; 3])
        .extension(0x1234, vec![0xff]);
    assert!(parse_body(&builder).is_ok());
}

#[test]
fn empty_lists_are_accepted() {
    let mut builder = Builder::new()
        .extension(0x0010, alpn(&[b""]))
        .extension(0x002b, versions(&[]))
        .extension(0x000d, u16_vector(&[]));
    builder.ciphers.clear();
    builder.compression.clear();
    builder.session_id.clear();
    let wire = builder.record();
    let hello = hello(&wire);
    assert_eq!(hello.cipher_suites().count(), 0);
    assert_eq!(hello.highest_version(), 0x0303);
    // No cipher: JA4 b is zeros; empty first ALPN value: "00"; the
    // signature list is empty so no trailing "_".
    assert_eq!(
        ja4(&hello).as_str(),
        format!("t12i000300_000000000000_{}", sha12("000d,002b"))
    );
    assert_eq!(ja4_r(&hello), "t12i000300__000d,002b");
    assert_eq!(ja3_string(&hello), "771,,16-43-13,,");
}

#[test]
fn duplicate_extensions_are_rejected() {
    for extension_type in [0x0000, 0x0017, GREASE_A, 0xfe0d] {
        let data = if extension_type == 0 {
            sni("a")
        } else {
            vec![]
        };
        let builder = Builder::new()
            .extension(extension_type, data.clone())
            .extension(0x0023, vec![])
            .extension(extension_type, data);
        assert_eq!(
            parse_body(&builder).unwrap_err(),
            MalformedReason::DuplicateExtension
        );
    }
    // Two different GREASE values are not duplicates.
    let builder = Builder::new()
        .extension(GREASE_A, vec![])
        .extension(GREASE_B, vec![]);
    assert!(parse_body(&builder).is_ok());
}

/// Past the short list of uncommon types the parser keeps, duplicates are
/// still found (by the sorting check), wherever they sit.
#[test]
fn duplicates_among_many_uncommon_extensions_are_rejected() {
    let many = |count: u16| {
        (0..count).fold(Builder::new().extension(0x0017, vec![]), |builder, n| {
            builder.extension(0x4000 + n, vec![])
        })
    };
    for count in [15, 16, 17, 40] {
        assert!(parse_body(&many(count)).is_ok(), "{count} distinct");
        for repeated in [0x4000, 0x4000 + count - 1, 0x0017] {
            let builder = many(count).extension(repeated, vec![]);
            assert_eq!(
                parse_body(&builder).unwrap_err(),
                MalformedReason::DuplicateExtension,
                "{count} types, then {repeated:#06x} again"
            );
        }
    }
    // Low types: every one of 0..64 once is fine; any of them twice is not.
    let low = (0..64u16)
        .filter(|&t| t != 0 && t != 10 && t != 11 && t != 13 && t != 16 && t != 43)
        .fold(Builder::new(), |builder, t| builder.extension(t, vec![]));
    assert!(parse_body(&low).is_ok());
    assert_eq!(
        parse_body(&low.extension(63, vec![])).unwrap_err(),
        MalformedReason::DuplicateExtension
    );
}

#[test]
fn list_caps_are_inclusive() {
    let mut builder = Builder::new();
    builder.ciphers = (0..MAX_CIPHER_SUITES as u16).collect();
    assert!(parse_body(&builder).is_ok());
    builder.ciphers.push(0xffff);
    assert_eq!(
        parse_body(&builder).unwrap_err(),
        MalformedReason::TooManyCipherSuites
    );

    let mut builder = Builder::new();
    for extension_type in 0..MAX_EXTENSIONS as u16 {
        builder = builder.extension(0x1000 + extension_type, vec![]);
    }
    let at_cap = parse_body(&builder).unwrap();
    assert_eq!(at_cap.extensions().count(), MAX_EXTENSIONS);
    // Two-digit JA4 counts stop at 99.
    assert_eq!(&ja4(&at_cap).as_str()[4..8], "0399");
    builder = builder.extension(0x2000, vec![]);
    assert_eq!(
        parse_body(&builder).unwrap_err(),
        MalformedReason::TooManyExtensions
    );
}

// ----------------------------------------------------------------- finality

#[test]
fn final_outcomes_do_not_change_with_more_bytes() {
    let mut not_client_hello = Builder::new().record();
    not_client_hello[5] = 2;
    let mut too_large = Builder::new().record();
    too_large[3] = 0x3f;
    let inputs: [&[u8]; 6] = [
        &[0x80, 0x2e, 0x01, 0x03],
        b"GET /",
        &[21, 3, 3, 0, 2],
        &[22, 3, 1, 0, 0],
        &not_client_hello,
        &too_large,
    ];
    for input in inputs {
        let mut scratch = vec![0u8; 4096];
        let first = parse_client_hello(input, &mut scratch);
        assert_ne!(first, HelloOutcome::NeedMore);
        let mut longer = input.to_vec();
        longer.extend_from_slice(&Builder::new().record());
        let mut longer_scratch = vec![0u8; 4096];
        assert_eq!(
            parse_client_hello(&longer, &mut longer_scratch),
            first,
            "{input:?}"
        );
    }
}

// ------------------------------------------------------------------ GREASE

#[test]
fn grease_is_left_out_of_every_fingerprint_list() {
    let wire = full_builder().record();
    let hello = hello(&wire);
    assert_eq!(
        ja3_string(&hello),
        "771,4865-49195-47,0-16-43-13-10-11-65037,29-23,1-0"
    );
    assert_eq!(ja4_prefix(&hello).as_str(), "t13d0307h2");
    assert_eq!(
        ja4_r(&hello),
        "t13d0307h2_002f,1301,c02b_000a,000b,000d,002b,fe0d_0403,0804"
    );
    assert_eq!(
        ja4_ro(&hello),
        "t13d0307h2_1301,c02b,002f_0000,0010,002b,000d,000a,000b,fe0d_0403,0804"
    );
    assert_eq!(
        ja4(&hello).as_str(),
        format!(
            "t13d0307h2_{}_{}",
            sha12("002f,1301,c02b"),
            sha12("000a,000b,000d,002b,fe0d_0403,0804")
        )
    );
    assert_eq!(
        ja4_o(&hello).as_str(),
        format!(
            "t13d0307h2_{}_{}",
            sha12("1301,c02b,002f"),
            sha12("0000,0010,002b,000d,000a,000b,fe0d_0403,0804")
        )
    );
    let md5 = md5::Md5::digest(ja3_string(&hello).as_bytes());
    let md5_hex: String = md5.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(ja3(&hello).as_str(), md5_hex);
}

#[test]
fn grease_only_supported_versions_fall_back_to_legacy_version() {
    let wire = Builder::new()
        .extension(0x002b, versions(&[GREASE_A, GREASE_B]))
        .record();
    let hello = hello(&wire);
    assert_eq!(hello.highest_version(), 0x0303);
    assert_eq!(&ja4(&hello).as_str()[1..3], "12");
}

#[test]
fn grease_signature_algorithms_are_skipped() {
    let wire = Builder::new()
        .extension(0x000d, u16_vector(&[GREASE_A, 0x0403]))
        .record();
    assert_eq!(ja4_r(&hello(&wire)), "t12i030100_002f,1301,c02b_000d_0403");
}

// --------------------------------------------------------------------- JA4

fn alpn_code_of(first_protocol: &[u8]) -> String {
    let wire = Builder::new()
        .extension(0x0010, alpn(&[first_protocol, b"ignored"]))
        .record();
    ja4_prefix(&hello(&wire)).as_str()[8..10].to_string()
}

#[test]
fn ja4_alpn_follows_the_specification_text() {
    assert_eq!(alpn_code_of(b"h2"), "h2");
    assert_eq!(alpn_code_of(b"http/1.1"), "h1");
    assert_eq!(alpn_code_of(b"x"), "xx");
    assert_eq!(alpn_code_of(b""), "00");
    // The examples of JA4.md, "ALPN Extension Value".
    assert_eq!(alpn_code_of(&[0xab]), "ab");
    assert_eq!(alpn_code_of(&[0xab, 0xcd]), "ad");
    assert_eq!(alpn_code_of(&[0x30, 0xab]), "3b");
    assert_eq!(alpn_code_of(&[0x30, 0x31, 0xab, 0xcd]), "3d");
    assert_eq!(alpn_code_of(&[0x30, 0xab, 0xcd, 0x31]), "01");
    // Without the extension.
    assert_eq!(
        &ja4_prefix(&hello(&Builder::new().record())).as_str()[8..10],
        "00"
    );
}

#[test]
fn ja4_version_codes() {
    for (version, code) in [
        (0x0304, "13"),
        (0x0303, "12"),
        (0x0302, "11"),
        (0x0301, "10"),
        (0x0300, "s3"),
        (0x0002, "s2"),
        (0xfeff, "d1"),
        (0xfefd, "d2"),
        (0xfefc, "d3"),
        (0x7f17, "00"),
    ] {
        let mut builder = Builder::new();
        builder.version = version;
        assert_eq!(&ja4_prefix(&hello(&builder.record())).as_str()[1..3], code);
    }
}

#[test]
fn ja4_counts_cap_at_99() {
    let mut builder = Builder::new();
    builder.ciphers = (1..=150).collect();
    assert_eq!(&ja4_prefix(&hello(&builder.record())).as_str()[4..6], "99");
    builder.ciphers = vec![GREASE_A; 5];
    builder.ciphers.push(1);
    assert_eq!(&ja4_prefix(&hello(&builder.record())).as_str()[4..6], "01");
}

#[test]
fn fingerprints_are_ascii_and_fixed_length() {
    let wire = full_builder().record();
    let hello = hello(&wire);
    assert_eq!(ja4(&hello).as_bytes().len(), 36);
    assert_eq!(ja4_o(&hello).as_str().len(), 36);
    assert_eq!(ja3(&hello).as_str().len(), 32);
    assert_eq!(format!("{}", ja4(&hello)), ja4(&hello).as_str());
    assert_eq!(
        format!("{:?}", ja3(&hello)),
        format!("{:?}", ja3(&hello).as_str())
    );
}

// ------------------------------------------------------------------ memo

/// The signature_algorithms extension holding `schemes`.
fn signature_algorithms_data(schemes: &[u16]) -> Vec<u8> {
    let mut data = u16::try_from(schemes.len() * 2)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    for scheme in schemes {
        data.extend_from_slice(&scheme.to_be_bytes());
    }
    data
}

/// The memo answers exactly what JA4 computes: for one hello's extensions
/// in two orders (the sorted form shares its entry, the wire-order form
/// does not), for lists too long for a slot, and when the only difference
/// is where the extensions end and the signature algorithms begin.
#[test]
fn memoized_ja4_matches_plain() {
    let mut memo = DigestMemo::new();
    let schemes = signature_algorithms_data(&[0x0403, 0x0804, GREASE_A, 0x0401]);
    let forward = Builder::new()
        .extension(0x000a, vec![0, 2, 0, 0x1d])
        .extension(0x000d, schemes.clone())
        .extension(0x002b, vec![2, 3, 4])
        .extension(GREASE_B, vec![]);
    let backward = Builder::new()
        .extension(GREASE_B, vec![])
        .extension(0x002b, vec![2, 3, 4])
        .extension(0x000d, schemes)
        .extension(0x000a, vec![0, 2, 0, 0x1d]);
    let many_schemes: Vec<u16> = (0..200).map(|n| 0x0400 + n).collect();
    let long = Builder::new().extension(0x000d, signature_algorithms_data(&many_schemes));
    // Extensions {0x0403} then schemes {0x0804}, against extensions
    // {0x0403, 0x0804} and no schemes: the same values, split differently.
    let split_a = Builder::new()
        .extension(0x0403, vec![])
        .extension(0x000d, signature_algorithms_data(&[0x0804]));
    let split_b = Builder::new()
        .extension(0x0403, vec![])
        .extension(0x0804, vec![])
        .extension(0x000d, signature_algorithms_data(&[]));
    for _ in 0..2 {
        for builder in [&forward, &backward, &long, &split_a, &split_b] {
            let hello = parse_body(builder).unwrap();
            assert_eq!(ja4_memoized(&hello, &mut memo), ja4(&hello));
            assert_eq!(ja4_o_memoized(&hello, &mut memo), ja4_o(&hello));
        }
    }
    let (forward, backward) = (
        parse_body(&forward).unwrap(),
        parse_body(&backward).unwrap(),
    );
    assert_eq!(ja4(&forward), ja4(&backward));
    assert_ne!(ja4_o(&forward), ja4_o(&backward));
}

/// A hello without GREASE (curl's shape) and variants that each change one
/// JA4 input: a transport, the legacy version, the cipher suites, the
/// extension order, and the contents of supported_versions, ALPN and
/// signature_algorithms; plus changes JA4 ignores (session ID, key share).
fn wire_input_variants() -> Vec<(&'static str, Builder, Transport)> {
    let alpn = |names: &[&[u8]]| {
        let mut list = Vec::new();
        for name in names {
            list.push(name.len() as u8);
            list.extend_from_slice(name);
        }
        let mut data = (list.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&list);
        data
    };
    let shape = |versions: Vec<u8>, protocols: &[&[u8]], schemes: &[u16], share: u8| {
        Builder::new()
            .extension(0x0000, vec![0, 6, 0, 0, 3, b'a', b'.', b'b'])
            .extension(0x0010, alpn(protocols))
            .extension(0x002b, versions)
            .extension(0x000d, signature_algorithms_data(schemes))
            .extension(0x0033, vec![0, 5, 0, 0x1d, 0, 1, share])
    };
    let base = || {
        shape(
            vec![4, 3, 4, 3, 3],
            &[b"h2", b"http/1.1"],
            &[0x0403, 0x0804],
            1,
        )
    };
    let mut older = base();
    older.version = 0x0301;
    let mut fewer_ciphers = base();
    fewer_ciphers.ciphers.pop();
    let mut other_session = base();
    other_session.session_id = vec![9; 32];
    let mut reordered = base();
    reordered.extensions.as_mut().unwrap().swap(1, 3);
    vec![
        ("base", base(), Transport::Tcp),
        ("quic", base(), Transport::Quic),
        ("legacy version", older, Transport::Tcp),
        ("ciphers", fewer_ciphers, Transport::Tcp),
        ("order", reordered, Transport::Tcp),
        (
            "versions",
            shape(vec![2, 3, 3], &[b"h2", b"http/1.1"], &[0x0403, 0x0804], 1),
            Transport::Tcp,
        ),
        (
            "alpn",
            shape(
                vec![4, 3, 4, 3, 3],
                &[b"http/1.1", b"h2"],
                &[0x0403, 0x0804],
                1,
            ),
            Transport::Tcp,
        ),
        (
            "schemes",
            shape(
                vec![4, 3, 4, 3, 3],
                &[b"h2", b"http/1.1"],
                &[0x0804, 0x0403],
                1,
            ),
            Transport::Tcp,
        ),
        ("session id", other_session, Transport::Tcp),
        (
            "key share",
            shape(
                vec![4, 3, 4, 3, 3],
                &[b"h2", b"http/1.1"],
                &[0x0403, 0x0804],
                2,
            ),
            Transport::Tcp,
        ),
    ]
}

/// JA4 from a kept body through the memos is exactly JA4 of the parsed
/// hello, for every variant, in one memo, cold and warm; variants that
/// differ in a JA4 input get different keys, variants that differ elsewhere
/// share one.
#[test]
fn ja4_from_body_matches_plain() {
    let mut memo = Ja4Memo::new();
    let variants = wire_input_variants();
    for pass in ["cold", "warm"] {
        for (name, builder, transport) in &variants {
            let body = builder.body();
            let hello = ClientHello::parse(&body)
                .unwrap()
                .with_transport(*transport);
            let from_body = ja4_from_body(&body, *transport, &mut memo).unwrap();
            assert_eq!(from_body, ja4(&hello), "{pass} {name}");
            let from_body = ja4_o_from_body(&body, *transport, &mut memo).unwrap();
            assert_eq!(from_body, ja4_o(&hello), "{pass} {name}");
        }
    }
    let key = |index: usize| {
        let (_, builder, transport) = &variants[index];
        key_of(&builder.body(), *transport).unwrap()
    };
    let keys: Vec<Vec<u8>> = (0..variants.len()).map(key).collect();
    for (i, a) in keys.iter().enumerate().take(8) {
        for (j, b) in keys.iter().enumerate().take(8).skip(i + 1) {
            assert_ne!(a, b, "{} and {}", variants[i].0, variants[j].0);
        }
    }
    assert_eq!(keys[0], keys[8], "session ID");
    assert_eq!(keys[0], keys[9], "key share");
}

/// Hellos with GREASE get no key (their lists change per connection) and
/// still get their exact JA4 through the list-digest memo; a hit is served
/// from the wire inputs alone (the body after them is not parsed again).
#[test]
fn hello_keys_skip_grease_and_hits_skip_the_parse() {
    let mut grease_cipher = Builder::new().extension(0x000d, signature_algorithms_data(&[0x0403]));
    grease_cipher.ciphers.insert(0, GREASE_A);
    let grease_extension = Builder::new().extension(GREASE_B, vec![]);
    let mut memo = Ja4Memo::new();
    for builder in [grease_cipher, grease_extension] {
        let body = builder.body();
        assert!(key_of(&body, Transport::Tcp).is_none());
        let hello = ClientHello::parse(&body).unwrap();
        assert_eq!(
            ja4_from_body(&body, Transport::Tcp, &mut memo).unwrap(),
            ja4(&hello)
        );
    }
    assert!(key_of(&[3, 3, 0], Transport::Tcp).is_none(), "truncated");
    let mut huge = Builder::new();
    huge.ciphers = (0x0100..0x0200).collect();
    assert!(
        key_of(&huge.body(), Transport::Tcp).is_none(),
        "key too long"
    );

    // A server_name extension that does not parse: the body is malformed,
    // but its JA4 inputs repeat the base hello's.
    let (_, base, _) = &wire_input_variants()[0];
    let mut broken = base.clone();
    broken.extensions.as_mut().unwrap()[0].1 = vec![0xff];
    let broken = broken.body();
    assert!(ClientHello::parse(&broken).is_err());
    let mut cold = Ja4Memo::new();
    assert!(
        ja4_from_body(&broken, Transport::Tcp, &mut cold).is_err(),
        "miss: parsed"
    );
    let base_ja4 = ja4_from_body(&base.body(), Transport::Tcp, &mut cold).unwrap();
    assert_eq!(
        ja4_from_body(&broken, Transport::Tcp, &mut cold),
        Ok(base_ja4),
        "hit: not parsed"
    );
}

/// The wire-input key of a body, if it gets one.
fn key_of(body: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let mut key = HelloKey::new();
    key.fill(body, transport)?;
    Some(key.as_bytes().to_vec())
}

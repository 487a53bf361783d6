//! Fuzzes the ClientHello parser and every fingerprint.
//!
//! Input layout: two bytes choose the scratch size (the caller's capacity),
//! one byte steers how a parsed hello is re-split into records, and the
//! rest is what the client sent.
//!
//! Beyond "no panic", it checks the properties callers rely on:
//! * a final outcome (anything but NeedMore) never changes as bytes are
//!   appended: every prefix is NeedMore or the same outcome;
//! * a parsed hello is the same hello with a larger scratch;
//! * the same handshake message framed into other records gives the same
//!   fingerprints;
//! * hashed fingerprints have their fixed length and format, and the raw
//!   forms start with the same `a` section.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::tls::{
    ja3, ja4, ja4_o, ja4_prefix, parse_client_hello, version_name, write_ja3_string, write_ja4_r,
    write_ja4_ro, ClientHello, HelloOutcome,
};

/// Everything observable about a hello, for comparisons.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    ja3: String,
    ja3_string: String,
    ja4: String,
    ja4_o: String,
    ja4_r: String,
    ja4_ro: String,
    server_name: Option<Vec<u8>>,
    alpn: Vec<Vec<u8>>,
    highest_version: u16,
    has_ech: bool,
}

fn summarise(hello: &ClientHello<'_>) -> Summary {
    let mut ja3_string = String::new();
    write_ja3_string(hello, &mut ja3_string).unwrap();
    let mut ja4_r = String::new();
    write_ja4_r(hello, &mut ja4_r).unwrap();
    let mut ja4_ro = String::new();
    write_ja4_ro(hello, &mut ja4_ro).unwrap();
    let summary = Summary {
        ja3: ja3(hello).to_string(),
        ja3_string,
        ja4: ja4(hello).to_string(),
        ja4_o: ja4_o(hello).to_string(),
        ja4_r,
        ja4_ro,
        server_name: hello.server_name().map(<[u8]>::to_vec),
        alpn: hello.alpn_protocols().map(<[u8]>::to_vec).collect(),
        highest_version: hello.highest_version(),
        has_ech: hello.has_ech(),
    };
    check_formats(hello, &summary);
    summary
}

fn check_formats(hello: &ClientHello<'_>, summary: &Summary) {
    let is_hex = |text: &str| text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    assert_eq!(summary.ja3.len(), 32);
    assert!(is_hex(&summary.ja3));
    let prefix = ja4_prefix(hello).to_string();
    assert_eq!(prefix.len(), 10);
    assert!(prefix.is_ascii());
    for hashed in [&summary.ja4, &summary.ja4_o] {
        assert_eq!(hashed.len(), 36);
        assert!(hashed.starts_with(&prefix));
        assert_eq!(&hashed[10..11], "_");
        assert_eq!(&hashed[23..24], "_");
        assert!(is_hex(&hashed[11..23]) && is_hex(&hashed[24..36]));
    }
    for raw in [&summary.ja4_r, &summary.ja4_ro] {
        assert!(raw.starts_with(&prefix));
        assert!(raw.is_ascii());
    }
    // JA3's first field is the legacy version in decimal.
    let version = hello.legacy_version().to_string();
    assert!(summary.ja3_string.starts_with(&format!("{version},")));
    let _ = version_name(summary.highest_version);
    // Every accessor is total on a parsed hello.
    let _ = (
        hello.random(),
        hello.session_id(),
        hello.compression_methods(),
    );
    let _ = hello.cipher_suites().count() + hello.extensions().count();
    let _ = hello.supported_versions().map(Iterator::count);
    let _ = hello.signature_algorithms().map(Iterator::count);
    let _ = hello.supported_groups().map(Iterator::count);
    let _ = hello.ec_point_formats();
}

/// Prefix lengths to re-parse: all of them for short inputs, a spread for
/// long ones (each re-parse walks the whole prefix).
fn prefix_lengths(len: usize) -> impl Iterator<Item = usize> {
    let step = if len <= 512 { 1 } else { len / 64 };
    (0..len)
        .step_by(step.max(1))
        .chain(len.saturating_sub(8)..len)
}

/// Takes the handshake message out of a single-record hello and frames it
/// again in records of `piece` bytes (1..=256), the last taking the rest.
fn reframe(wire: &[u8], piece: usize) -> Option<Vec<u8>> {
    let header = wire.get(..9)?;
    let message_len =
        4 + (usize::from(header[6]) << 16 | usize::from(header[7]) << 8 | usize::from(header[8]));
    let message = wire.get(5..5 + message_len)?;
    let mut out = Vec::with_capacity(message.len() + 5 * (message.len() / piece + 1));
    for fragment in message.chunks(piece) {
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&u16::try_from(fragment.len()).ok()?.to_be_bytes());
        out.extend_from_slice(fragment);
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&[size_high, size_low, split], wire)) = data.split_first_chunk::<3>() else {
        return;
    };
    let scratch_len = usize::from(u16::from_be_bytes([size_high, size_low]));
    let mut scratch = vec![0u8; scratch_len];
    let outcome = parse_client_hello(wire, &mut scratch);

    if outcome != HelloOutcome::NeedMore {
        let mut prefix_scratch = vec![0u8; scratch_len];
        for end in prefix_lengths(wire.len()) {
            let earlier = parse_client_hello(&wire[..end], &mut prefix_scratch);
            assert!(
                earlier == HelloOutcome::NeedMore || earlier == outcome,
                "prefix of {end} bytes gave {earlier:?}, whole input {outcome:?}"
            );
        }
    }

    let HelloOutcome::Hello(hello) = outcome else {
        return;
    };
    let summary = summarise(&hello);

    // More capacity never changes a parsed hello.
    let mut larger = vec![0u8; scratch_len + 1 + usize::from(split)];
    assert_eq!(
        parse_client_hello(wire, &mut larger),
        HelloOutcome::Hello(hello)
    );

    // Same message, other records: same fingerprints.
    if hello.record_count() == 1 {
        if let Some(reframed) = reframe(wire, usize::from(split) + 1) {
            let mut reframed_scratch = vec![0u8; reframed.len()];
            match parse_client_hello(&reframed, &mut reframed_scratch) {
                HelloOutcome::Hello(again) => assert_eq!(summarise(&again), summary),
                other => panic!("reframed hello gave {other:?}"),
            }
        }
    }
});

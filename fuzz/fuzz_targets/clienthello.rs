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
//!   forms start with the same `a` section;
//! * JA4 through the digest memo (shared by every input of the run, so it
//!   holds digests of earlier inputs) equals JA4 computed afresh.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::testing::{frame_records, handshake_bytes, HelloSummary};
use std::cell::RefCell;

use sift_core::tls::{
    ja4_from_body, ja4_memoized, ja4_o_from_body, ja4_o_memoized, ja4_prefix, parse_client_hello,
    version_name, ClientHello, DigestMemo, HelloOutcome, Ja4Memo,
};

thread_local! {
    static MEMO: RefCell<DigestMemo> = RefCell::new(DigestMemo::new());
    static HELLO_MEMO: RefCell<Ja4Memo> = RefCell::new(Ja4Memo::new());
}

type Summary = HelloSummary;

fn summarise(hello: &ClientHello<'_>) -> Summary {
    let summary = HelloSummary::of(hello);
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
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        assert_eq!(ja4_memoized(hello, &mut memo).as_str(), summary.ja4);
        assert_eq!(ja4_o_memoized(hello, &mut memo).as_str(), summary.ja4_o);
    });
    HELLO_MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        let (body, transport) = (hello.body(), hello.transport());
        let ja4 = ja4_from_body(body, transport, &mut memo).expect("a parsed body parses again");
        assert_eq!(ja4.as_str(), summary.ja4);
        let ja4_o =
            ja4_o_from_body(body, transport, &mut memo).expect("a parsed body parses again");
        assert_eq!(ja4_o.as_str(), summary.ja4_o);
    });
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

/// The hello's handshake message framed again in records of `piece` bytes
/// (1..=256), the last taking the rest.
fn reframe(wire: &[u8], piece: usize) -> Option<Vec<u8>> {
    Some(frame_records(&handshake_bytes(wire)?, || piece))
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

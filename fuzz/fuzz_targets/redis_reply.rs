//! Fuzzes the RESP reply parser (what a Redis, or anything answering in
//! its place, sends back): never a panic, lengths within the input, and
//! `complete` agreeing with reply-by-reply parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::redis::rate::{auth_reply, sync_complete, sync_count, sync_reusable, AuthReply};
use sift_core::redis::{complete, parse_reply, top_level, ParseError, Reply, LIMITS};

fuzz_target!(|bytes: &[u8]| {
    // One reply: its length is within the input, and its prefixes are
    // incomplete (never a different reply).
    if let Ok((_, len)) = parse_reply(bytes, &LIMITS) {
        assert!(len > 0 && len <= bytes.len());
        for end in 0..len {
            assert_eq!(
                parse_reply(&bytes[..end], &LIMITS).map(|(_, l)| l),
                Err(ParseError::Incomplete),
                "prefix of {end} of a {len}-byte reply"
            );
        }
    }

    // N replies: `complete` says whole exactly when N replies parse one
    // after the other and use every byte.
    for count in 0..4 {
        let mut at = 0;
        let mut whole = true;
        for _ in 0..count {
            match parse_reply(&bytes[at..], &LIMITS) {
                Ok((_, len)) => at += len,
                Err(_) => {
                    whole = false;
                    break;
                }
            }
        }
        let expected = whole && at == bytes.len();
        assert_eq!(complete(bytes, count, &LIMITS) == Ok(true), expected);
        let mut out = [Reply::Nil; 4];
        let written = top_level(bytes, &mut out[..count], &LIMITS);
        assert!(written <= count);
    }

    // The rate-sync reply helpers agree with each other.
    if sync_count(bytes).is_some() {
        assert!(sync_complete(bytes) && sync_reusable(bytes));
    }
    if let AuthReply::Accepted(len) = auth_reply(bytes) {
        assert!(len <= bytes.len());
    }
});

//! Fuzzes what a list sync reads back from Redis (or from anything
//! answering in its place): `parse_sync_reply` never panics, for either
//! list type; a snapshot's entries are valid for the list (canonical keys,
//! sizes within the caps, none expired, sorted and unique); and
//! `sync_complete` holds for every whole reply (the call ends on it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::list::{canonical_key, ListKind, KEY_MAX, VALUE_MAX};
use sift_core::redis::list::{parse_sync_reply, sync_complete, sync_reusable, LIST_LIMITS};
use sift_core::redis::parse_reply;

fuzz_target!(|bytes: &[u8]| {
    let now_ms = 1_000_000;
    for kind in [ListKind::String, ListKind::Ip] {
        let Ok(reply) = parse_sync_reply(bytes, kind, now_ms) else {
            continue;
        };
        assert!(sync_complete(bytes) && sync_reusable(bytes));
        assert!(!reply.lost || reply.snapshot.is_none());
        let Some(snapshot) = reply.snapshot else {
            continue;
        };
        for pair in snapshot.entries.windows(2) {
            assert!(pair[0].key < pair[1].key, "sorted and unique");
        }
        for entry in &snapshot.entries {
            assert!(entry.key.len() <= KEY_MAX && entry.value.len() <= VALUE_MAX);
            assert!(entry.expires_at_ms == 0 || entry.expires_at_ms > now_ms);
            assert_eq!(
                canonical_key(kind, entry.key.as_bytes()).as_deref(),
                Ok(entry.key.as_str())
            );
        }
    }
    // A whole reply always ends the read.
    if let Ok((_, len)) = parse_reply(bytes, &LIST_LIMITS) {
        assert!(sync_complete(&bytes[..len]));
    }
});

//! Fuzzes the lists API's request bodies and the table they are applied
//! to: `list::api::parse_object` on arbitrary bytes (never a panic; keys
//! canonical and unique), then the parsed batch applied to a `ListTable`
//! and checked against a model: on success the entries are exactly the
//! model's, every key looks up to its value, and the region re-attaches
//! with the same entries; on failure (exists, full) nothing changed.
//!
//! Input: one control byte, then the body.
//! * bit 0: type=ip (else string); bit 1: PATCH (else POST);
//! * bit 2: a small zone (4 KiB, else 32 KiB); bit 3: prefill it with
//!   entries that have expired by the time the batch is applied (so that
//!   the batch has to reclaim them); bit 4: odd entries expire later.
#![no_main]

use std::collections::BTreeMap;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use sift_core::list::{api, canonical_key, state, Change, ListError, ListKind, ListTable};

const NOW: u64 = 1_000;

fn model(table: &ListTable<'_>) -> BTreeMap<String, String> {
    table
        .entries(NOW)
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let kind = if control & 1 != 0 {
        ListKind::Ip
    } else {
        ListKind::String
    };
    let patch = control & 2 != 0;
    let Ok(members) = api::parse_object(body, kind, patch) else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for (key, value) in &members {
        assert_eq!(
            canonical_key(kind, key.as_bytes()).as_deref(),
            Ok(key.as_str())
        );
        assert!(seen.insert(key.clone()), "duplicate {key}");
        assert!(patch || value.is_some());
    }

    let bytes = if control & 4 != 0 { 4 << 10 } else { 32 << 10 };
    let mut region = vec![0u64; bytes / 8];
    let region: &mut [u8] = bytemuck::cast_slice_mut(&mut region);
    let mut table = ListTable::init(region, kind).expect("a 4 KiB region is enough");
    if control & 8 != 0 {
        let filler = [b'f'; 100];
        for i in 0..200u32 {
            let key = match kind {
                ListKind::String => format!("pre{i}"),
                ListKind::Ip => format!("10.{}.{}.0/24", i / 256, i % 256),
            };
            let change = Change::Upsert {
                key: key.as_bytes(),
                value: &filler,
                expires_at_ms: NOW,
            };
            if table.apply(&[change], 0).is_err() {
                break;
            }
        }
    }
    let before = model(&table);
    let version = table.version();

    let changes: Vec<Change<'_>> = members
        .iter()
        .enumerate()
        .map(|(i, (key, value))| {
            let expires_at_ms = if control & 16 != 0 && i % 2 == 1 {
                NOW + 1
            } else {
                0
            };
            match (value, patch) {
                (Some(value), false) => Change::Insert {
                    key: key.as_bytes(),
                    value: value.as_bytes(),
                    expires_at_ms,
                },
                (Some(value), true) => Change::Upsert {
                    key: key.as_bytes(),
                    value: value.as_bytes(),
                    expires_at_ms,
                },
                (None, _) => Change::Remove {
                    key: key.as_bytes(),
                },
            }
        })
        .collect();
    let mut expected = before.clone();
    for (key, value) in &members {
        match value {
            Some(value) => expected.insert(key.clone(), value.clone()),
            None => expected.remove(key),
        };
    }
    match table.apply(&changes, NOW) {
        Ok(()) => {
            assert_eq!(model(&table), expected);
            if !patch {
                assert!(members.iter().all(|(key, _)| !before.contains_key(key)));
            }
        }
        Err(ListError::Exists(key)) => {
            assert!(!patch && before.contains_key(&key), "{key}");
            assert_eq!(model(&table), before);
            assert_eq!(table.version(), version);
        }
        Err(ListError::Full) => {
            assert_eq!(model(&table), before);
            assert_eq!(table.version(), version);
        }
        Err(other) => panic!("parse_object let through what apply refuses: {other}"),
    }
    assert!(table.used_bytes() <= table.capacity_bytes());

    let entries = table.entries(NOW);
    for entry in &entries {
        let found = table.lookup(entry.key.as_bytes(), NOW);
        match kind {
            ListKind::String => assert_eq!(found, Some(entry.value.as_bytes())),
            ListKind::Ip => {
                // A host entry is the longest prefix there is; a range's
                // network address is in it (or in a longer one).
                let (address, host) = match entry.key.split_once('/') {
                    None => (entry.key.as_str(), true),
                    Some((network, _)) => (network, false),
                };
                let addr: IpAddr = address.parse().expect("canonical keys parse");
                let found = table.lookup_ip(addr, NOW);
                if host {
                    assert_eq!(found, Some(entry.value.as_bytes()));
                } else {
                    assert!(found.is_some());
                }
                // As text too, but for 4 characters ("::25"), which are
                // read as 4 raw bytes ($binary_remote_addr).
                if address.len() != 4 {
                    assert_eq!(table.lookup(address.as_bytes(), NOW), found);
                }
            }
        }
        assert_eq!(table.get(entry.key.as_bytes(), NOW).as_ref(), Some(entry));
    }
    let encoded = state::encode(kind, &entries);
    assert_eq!(state::decode(&encoded, kind).as_ref(), Ok(&entries));

    // (The first table's borrow of the region ended with its last use.)
    let table = ListTable::attach(region).expect("re-attach");
    assert_eq!(table.entries(NOW), entries);
});

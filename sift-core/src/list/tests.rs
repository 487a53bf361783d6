//! Tests of [`ListTable`] (the API and state codecs test themselves).

use super::*;

/// An 8-byte aligned region of `bytes` bytes.
fn region(bytes: usize) -> Vec<u64> {
    vec![0u64; bytes / 8]
}

fn bytes(words: &mut [u64]) -> &mut [u8] {
    bytemuck::cast_slice_mut(words)
}

fn upsert<'a>(key: &'a str, value: &'a str) -> Change<'a> {
    Change::Upsert {
        key: key.as_bytes(),
        value: value.as_bytes(),
        expires_at_ms: 0,
    }
}

fn insert<'a>(key: &'a str, value: &'a str) -> Change<'a> {
    Change::Insert {
        key: key.as_bytes(),
        value: value.as_bytes(),
        expires_at_ms: 0,
    }
}

fn remove(key: &str) -> Change<'_> {
    Change::Remove {
        key: key.as_bytes(),
    }
}

fn get<'t>(table: &'t ListTable<'_>, key: &str) -> Option<&'t str> {
    table
        .lookup(key.as_bytes(), 1)
        .map(|v| core::str::from_utf8(v).unwrap())
}

fn keys(table: &ListTable<'_>, now: u64) -> Vec<String> {
    table.entries(now).into_iter().map(|e| e.key).collect()
}

#[test]
fn refuses_small_or_misaligned_regions() {
    let mut small = region(ListTable::REGION_MIN - 8);
    assert!(ListTable::init(bytes(&mut small), ListKind::String).is_none());
    let mut buffer = region(8192);
    assert!(ListTable::init(&mut bytes(&mut buffer)[4..], ListKind::String).is_none());
    assert!(ListTable::init(bytes(&mut buffer), ListKind::String).is_some());
}

#[test]
fn string_exact_match() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    assert_eq!(table.kind(), ListKind::String);
    assert!(table.is_empty());
    table
        .apply(
            &[
                upsert("t13d1516h2_8daaf6152771_02713d6af862", "block"),
                upsert("a", ""),
            ],
            0,
        )
        .unwrap();
    assert_eq!(
        get(&table, "t13d1516h2_8daaf6152771_02713d6af862"),
        Some("block")
    );
    assert_eq!(get(&table, "a"), Some(""));
    assert_eq!(get(&table, "A"), None);
    assert_eq!(get(&table, ""), None);
    assert_eq!(table.lookup(&[b'k'; KEY_MAX + 1], 0), None);
    assert_eq!(table.len(), 2);
    assert_eq!(table.version(), 1);
    // Upsert replaces; remove removes; removing an absent key is fine.
    table.apply(&[upsert("a", "x"), remove("zz")], 0).unwrap();
    assert_eq!(get(&table, "a"), Some("x"));
    table.apply(&[remove("a")], 0).unwrap();
    assert_eq!(get(&table, "a"), None);
    assert_eq!(table.len(), 1);
    assert_eq!(table.version(), 3);
    // The empty batch, and removing absent keys, change nothing.
    table.apply(&[], 0).unwrap();
    table.apply(&[remove("a"), remove("zz")], 0).unwrap();
    assert_eq!(table.version(), 3);
}

#[test]
fn insert_refuses_existing_keys_and_changes_nothing() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    table.apply(&[insert("a", "1")], 0).unwrap();
    let version = table.version();
    let error = table
        .apply(&[insert("b", "2"), insert("a", "3")], 0)
        .unwrap_err();
    assert_eq!(error, ListError::Exists("a".into()));
    assert_eq!((error.status(), error.code()), (409, "KeyExists"));
    assert_eq!(get(&table, "b"), None);
    assert_eq!(get(&table, "a"), Some("1"));
    assert_eq!(table.version(), version);
    // Twice in one batch is a conflict too; after a remove it is not.
    assert!(matches!(
        table.apply(&[insert("c", "1"), insert("c", "2")], 0),
        Err(ListError::Exists(_))
    ));
    table.apply(&[remove("a"), insert("a", "4")], 0).unwrap();
    assert_eq!(get(&table, "a"), Some("4"));
}

#[test]
fn batches_are_checked_before_anything_is_written() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    table.apply(&[upsert("10.0.0.0/8", "a")], 0).unwrap();
    let before = table.entries(0);
    let long_value = "v".repeat(VALUE_MAX + 1);
    let cases: Vec<(Vec<Change<'_>>, ListError)> = vec![
        (
            vec![upsert("10.1.0.0/16", "b"), upsert("nope", "c")],
            ListError::BadKey(String::new()),
        ),
        (
            vec![remove("10.0.0.0/8"), upsert("10.2.0.0/16", &long_value)],
            ListError::ValueTooLong,
        ),
    ];
    for (batch, expected) in cases {
        let error = table.apply(&batch, 0).unwrap_err();
        assert_eq!(
            core::mem::discriminant(&error),
            core::mem::discriminant(&expected)
        );
        assert_eq!(table.entries(0), before);
    }
    let mut strings = region(64 << 10);
    let mut strings = ListTable::init(bytes(&mut strings), ListKind::String).unwrap();
    let bad_utf8 = [Change::Upsert {
        key: b"ok",
        value: b"\xff",
        expires_at_ms: 0,
    }];
    assert!(matches!(
        strings.apply(&bad_utf8, 0),
        Err(ListError::BadValue(_))
    ));
    let bad_key = [Change::Upsert {
        key: b"\xff",
        value: b"",
        expires_at_ms: 0,
    }];
    assert!(matches!(
        strings.apply(&bad_key, 0),
        Err(ListError::BadKey(_))
    ));
    let long_key = "k".repeat(KEY_MAX + 1);
    assert_eq!(
        strings.apply(&[upsert(&long_key, "")], 0),
        Err(ListError::KeyTooLong)
    );
    assert!(strings
        .apply(&[upsert(&"k".repeat(KEY_MAX), &"v".repeat(VALUE_MAX))], 0)
        .is_ok());
    assert!(strings.is_empty() || strings.len() == 1);
}

#[test]
fn ip_longest_prefix_first() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    table
        .apply(
            &[
                upsert("10.1.2.3/8", "eight"),
                upsert("10.1.0.0/16", "sixteen"),
                upsert("10.1.2.3", "host"),
                upsert("2001:db8::/32", "v6 net"),
                upsert("2001:db8:1::/48", "v6 site"),
            ],
            0,
        )
        .unwrap();
    assert_eq!(
        keys(&table, 0),
        [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.3",
            "2001:db8:1::/48",
            "2001:db8::/32"
        ]
    );
    assert_eq!(get(&table, "10.1.2.3"), Some("host"));
    assert_eq!(get(&table, "10.1.2.4"), Some("sixteen"));
    assert_eq!(get(&table, "10.2.0.1"), Some("eight"));
    assert_eq!(get(&table, "11.0.0.1"), None);
    // Raw bytes ($binary_remote_addr), and IPv4-mapped IPv6.
    assert_eq!(table.lookup(&[10, 1, 2, 3], 0), Some(&b"host"[..]));
    assert_eq!(get(&table, "::ffff:10.1.9.9"), Some("sixteen"));
    let mapped = core::net::Ipv4Addr::new(10, 9, 9, 9)
        .to_ipv6_mapped()
        .octets();
    assert_eq!(table.lookup(&mapped, 0), Some(&b"eight"[..]));
    assert_eq!(get(&table, "2001:db8:1::5"), Some("v6 site"));
    assert_eq!(get(&table, "2001:db8:2::5"), Some("v6 net"));
    let v6: core::net::Ipv6Addr = "2001:db8:1::5".parse().unwrap();
    assert_eq!(table.lookup(&v6.octets(), 0), Some(&b"v6 site"[..]));
    assert_eq!(get(&table, "2001:db9::1"), None);
    // Not addresses: no match, no panic.
    for key in ["", "10.1.2.3/32", "10.1.2", "example.com", "10.1.2.3 "] {
        assert_eq!(get(&table, key), None, "{key}");
    }
    assert_eq!(table.lookup(&[10, 1, 2], 0), None);
    // Removing the most specific prefix uncovers the next.
    table.apply(&[remove("10.1.2.3/32")], 0).unwrap();
    assert_eq!(get(&table, "10.1.2.3"), Some("sixteen"));
    table.apply(&[remove("10.1.255.255/16")], 0).unwrap();
    assert_eq!(get(&table, "10.1.2.3"), Some("eight"));
    // A v4 key never matches a v6 address, and the other way round.
    assert_eq!(get(&table, "::a01:203"), None);
}

#[test]
fn ip_zero_prefixes_and_mapped_ranges() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    table
        .apply(
            &[
                upsert("1.2.3.4/0", "all v4"),
                upsert("::1/0", "all v6"),
                upsert("::ffff:192.0.2.0/120", "mapped"),
            ],
            0,
        )
        .unwrap();
    assert_eq!(keys(&table, 0), ["0.0.0.0/0", "192.0.2.0/24", "::/0"]);
    assert_eq!(get(&table, "203.0.113.9"), Some("all v4"));
    assert_eq!(get(&table, "192.0.2.77"), Some("mapped"));
    assert_eq!(get(&table, "::ffff:192.0.2.77"), Some("mapped"));
    assert_eq!(get(&table, "fe80::1"), Some("all v6"));
    assert_eq!(get(&table, "::"), Some("all v6"));
    assert_eq!(
        canonical_key(ListKind::Ip, b"192.0.2.1/32").unwrap(),
        "192.0.2.1"
    );
    assert_eq!(
        canonical_key(ListKind::Ip, b"2001:DB8::1/128").unwrap(),
        "2001:db8::1"
    );
    assert_eq!(
        canonical_key(ListKind::Ip, b"::ffff:0:0/95").unwrap(),
        "::fffe:0:0/95"
    );
    for bad in [
        "10.0.0.0/",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/0008",
        "fe80::1%eth0",
        "1.2.3.4/8/8",
        " 1.2.3.4",
        "::/129",
    ] {
        assert!(
            matches!(
                canonical_key(ListKind::Ip, bad.as_bytes()),
                Err(ListError::BadKey(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn same_range_in_any_spelling_is_one_key() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    table.apply(&[insert("10.1.2.3/8", "a")], 0).unwrap();
    assert_eq!(
        table.apply(&[insert("10.0.0.0/8", "b")], 0),
        Err(ListError::Exists("10.0.0.0/8".into()))
    );
    table.apply(&[upsert("10.200.0.0/8", "c")], 0).unwrap();
    assert_eq!(table.len(), 1);
    assert_eq!(table.get(b"10.9.9.9/8", 0).unwrap().value, "c");
    assert_eq!(table.get(b"10.9.9.9", 0), None);
}

#[test]
fn expired_entries_never_match_and_are_reclaimed() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    let expiring = |key: &'static str, at: u64| Change::Upsert {
        key: key.as_bytes(),
        value: b"x",
        expires_at_ms: at,
    };
    table
        .apply(
            &[
                expiring("10.0.0.0/8", 0),
                expiring("10.1.0.0/16", 1000),
                expiring("10.1.1.1", 500),
            ],
            0,
        )
        .unwrap();
    assert_eq!(table.lookup(b"10.1.1.1", 499), Some(&b"x"[..]));
    assert_eq!(keys(&table, 499).len(), 3);
    assert_eq!(table.live_len(499), 3);
    assert_eq!(table.live_len(500), 2);
    assert_eq!(table.live_len(1000), 1);
    // At 500 the host entry is gone: the /16 matches.
    let ip = |t: &ListTable<'_>, now| t.lookup(b"10.1.1.1", now).is_some();
    assert!(ip(&table, 500));
    assert_eq!(keys(&table, 500), ["10.0.0.0/8", "10.1.0.0/16"]);
    assert!(table.get(b"10.1.1.1", 500).is_none());
    // Insert over an expired key is allowed.
    table
        .apply(
            &[Change::Insert {
                key: b"10.1.1.1",
                value: b"y",
                expires_at_ms: 0,
            }],
            600,
        )
        .unwrap();
    assert_eq!(table.lookup(b"10.1.1.1", 600), Some(&b"y"[..]));
    assert_eq!(table.purge_expired(999), 0);
    assert_eq!(table.len(), 3);
    assert_eq!(table.purge_expired(1000), 1);
    assert_eq!(table.len(), 2);
    assert_eq!(keys(&table, 5000), ["10.0.0.0/8", "10.1.1.1"]);
    assert_eq!(table.lookup(b"10.1.2.2", 1000), Some(&b"x"[..]));
}

#[test]
fn fragmentation_is_compacted_away() {
    let mut buffer = region(16 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    let value = "v".repeat(100);
    // Rewrite a handful of keys far more times than the arena holds.
    for round in 0..2000 {
        let key = format!("key{}", round % 7);
        let value = format!("{value}{round}");
        table.apply(&[upsert(&key, &value)], 0).unwrap();
        assert!(table.used_bytes() <= table.capacity_bytes());
    }
    assert_eq!(table.len(), 7);
    for i in 0..7 {
        let key = format!("key{i}");
        let round = (0..2000).filter(|r| r % 7 == i).max().unwrap();
        assert_eq!(get(&table, &key), Some(format!("{value}{round}").as_str()));
    }
    // Insert/remove churn fills the index with tombstones: rebuilt.
    for round in 0..5000 {
        let key = format!("churn{round}");
        table.apply(&[upsert(&key, "1")], 0).unwrap();
        table.apply(&[remove(&key)], 0).unwrap();
    }
    assert_eq!(table.len(), 7);
    assert_eq!(get(&table, "churn4999"), None);
    assert_eq!(get(&table, "key3").map(|v| v.len()), Some(104));
}

#[test]
fn full_zone_refuses_the_whole_batch() {
    let mut buffer = region(8 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    let value = "v".repeat(200);
    let mut stored = 0;
    loop {
        let key = format!("k{stored}");
        match table.apply(&[upsert(&key, &value)], 0) {
            Ok(()) => stored += 1,
            Err(error) => {
                assert_eq!(error, ListError::Full);
                assert_eq!((error.status(), error.code()), (507, "ListFull"));
                break;
            }
        }
        assert!(stored < 1000);
    }
    assert!(stored >= 20, "{stored}");
    let before = table.entries(0);
    let version = table.version();
    // A batch that frees room first fits; one that does not is refused whole.
    let big = [upsert("new1", &value), upsert("new2", &value)];
    assert_eq!(table.apply(&big, 0), Err(ListError::Full));
    assert_eq!(table.entries(0), before);
    assert_eq!(table.version(), version);
    table
        .apply(
            &[
                remove("k0"),
                remove("k1"),
                upsert("new1", &value),
                upsert("new2", &value),
            ],
            0,
        )
        .unwrap();
    assert_eq!(get(&table, "new2").map(str::len), Some(200));
    assert_eq!(get(&table, "k0"), None);
    assert_eq!(table.len(), stored);
    // Too many small entries: the index is the limit.
    let mut strings = region(8 << 10);
    let mut small = ListTable::init(bytes(&mut strings), ListKind::String).unwrap();
    let names: Vec<String> = (0..small.max_entries() + 1)
        .map(|i| format!("{i}"))
        .collect();
    let batch: Vec<Change<'_>> = names.iter().map(|n| upsert(n, "")).collect();
    assert_eq!(small.apply(&batch, 0), Err(ListError::Full));
    assert!(small.is_empty());
    small.apply(&batch[1..], 0).unwrap();
    assert_eq!(small.len(), small.max_entries());
}

#[test]
fn full_zone_reclaims_expired_entries() {
    let mut buffer = region(8 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    let value = "v".repeat(200);
    let mut stored = 0;
    while table
        .apply(
            &[Change::Upsert {
                key: format!("k{stored}").as_bytes(),
                value: value.as_bytes(),
                expires_at_ms: 100,
            }],
            0,
        )
        .is_ok()
    {
        stored += 1;
    }
    assert_eq!(
        table.apply(&[upsert("late", &value)], 99),
        Err(ListError::Full)
    );
    table.apply(&[upsert("late", &value)], 100).unwrap();
    assert_eq!(table.len(), 1);
    assert_eq!(keys(&table, 100), ["late"]);
}

#[test]
fn clear_and_reattach() {
    let mut buffer = region(64 << 10);
    {
        let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
        table
            .apply(
                &[upsert("192.0.2.0/24", "net"), upsert("2001:db8::1", "host")],
                0,
            )
            .unwrap();
    }
    {
        // Another worker, or the next generation after a reload.
        let table = ListTable::attach(bytes(&mut buffer)).unwrap();
        assert_eq!(table.kind(), ListKind::Ip);
        assert_eq!(table.len(), 2);
        assert_eq!(table.version(), 1);
        assert_eq!(get(&table, "192.0.2.9"), Some("net"));
        assert_eq!(get(&table, "2001:db8::1"), Some("host"));
    }
    {
        let mut table = ListTable::attach(bytes(&mut buffer)).unwrap();
        table.clear();
        assert!(table.is_empty());
        assert_eq!(get(&table, "192.0.2.9"), None);
        assert_eq!(table.entries(0), vec![]);
        assert_eq!(table.version(), 2);
        assert_eq!(table.used_bytes(), 0);
    }
    // A different size is a different layout.
    assert!(ListTable::attach(&mut bytes(&mut buffer)[..32 << 10]).is_none());
}

#[test]
fn attach_refuses_foreign_or_corrupt_headers() {
    let mut buffer = region(16 << 10);
    assert!(ListTable::attach(bytes(&mut buffer)).is_none(), "all zeros");
    ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    assert!(ListTable::attach(bytes(&mut buffer)).is_some());
    buffer[0] ^= 1;
    assert!(ListTable::attach(bytes(&mut buffer)).is_none(), "magic");
    buffer[0] ^= 1;
    // kind is the u32 after 7 u64 words.
    buffer[7] = 9;
    assert!(ListTable::attach(bytes(&mut buffer)).is_none(), "kind");
}

#[test]
fn garbage_in_the_region_gives_no_panic() {
    // A header that passes attach over arbitrary bytes: lookups, writes
    // and listings stay in bounds.
    let mut buffer = region(16 << 10);
    ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    let header_words = layout::HEADER_SIZE / 8;
    let mut state = 0x1234_5678_9abc_def0u64;
    for word in buffer.iter_mut().skip(header_words) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *word = state;
    }
    {
        let header: &mut layout::Header =
            bytemuck::from_bytes_mut(&mut bytes(&mut buffer)[..layout::HEADER_SIZE]);
        header.v4_lengths = u64::MAX;
        header.v6_lengths = [u64::MAX; 3];
        header.arena_top = header.arena_len;
    }
    let mut table = ListTable::attach(bytes(&mut buffer)).unwrap();
    let _ = table.lookup(b"10.0.0.1", 0);
    let _ = table.lookup(b"2001:db8::1", 0);
    let _ = table.entries(0);
    let _ = table.apply(&[upsert("10.0.0.0/8", "x")], 0);
    let _ = table.purge_expired(u64::MAX);
    let _ = table.apply(&[upsert("10.0.0.0/8", "y")], 0);
    assert!(table.used_bytes() <= table.capacity_bytes());
}

#[test]
fn a_thousand_prefixes_of_three_lengths() {
    // The shape of the lookup bench (benches/list.rs): /24s under a /8,
    // and a /16 elsewhere.
    let mut buffer = region(1 << 20);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    let names: Vec<String> = (0..1000)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let mut batch: Vec<Change<'_>> = names.iter().map(|n| upsert(n, "24")).collect();
    batch.push(upsert("10.0.0.0/8", "8"));
    batch.push(upsert("172.16.0.0/16", "16"));
    table.apply(&batch, 0).unwrap();
    assert_eq!(table.len(), 1002);
    for i in 0..1000 {
        let addr = format!("10.{}.{}.77", i / 256, i % 256);
        assert_eq!(get(&table, &addr), Some("24"), "{addr}");
    }
    assert_eq!(get(&table, "10.3.232.1"), Some("8"));
    assert_eq!(get(&table, "172.16.200.1"), Some("16"));
    assert_eq!(get(&table, "172.17.0.1"), None);
    assert_eq!(table.entries(0).len(), 1002);
}

#[test]
fn four_byte_lookup_keys_are_raw_ipv4() {
    // "::25" is both an IPv6 text and 4 raw bytes (58.58.50.53): 4 bytes
    // are $binary_remote_addr. lookup_ip takes the address itself.
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::Ip).unwrap();
    table
        .apply(&[upsert("::25", "v6"), upsert("58.58.50.53", "v4")], 0)
        .unwrap();
    assert_eq!(get(&table, "::25"), Some("v4"));
    let v6: core::net::IpAddr = "::25".parse().unwrap();
    assert_eq!(table.lookup_ip(v6, 0), Some(&b"v6"[..]));
    assert_eq!(get(&table, "0:0::25"), Some("v6"));
}

#[test]
fn writes_that_have_expired_already_remove_the_key() {
    let mut buffer = region(64 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    table.apply(&[upsert("a", "1")], 0).unwrap();
    let stale = |key: &'static str| Change::Insert {
        key: key.as_bytes(),
        value: b"old",
        expires_at_ms: 50,
    };
    table
        .apply(
            &[
                Change::Upsert {
                    key: b"a",
                    value: b"old",
                    expires_at_ms: 50,
                },
                stale("b"),
            ],
            100,
        )
        .unwrap();
    assert!(table.is_empty());
    assert_eq!(table.used_bytes(), 0);
    // Present afterwards: nothing, so an insert in the same batch is fine.
    table.apply(&[stale("c"), insert("c", "new")], 100).unwrap();
    assert_eq!(keys(&table, 100), ["c"]);
}

#[test]
fn fill_loads_as_many_entries_as_fit() {
    let entry = |i: usize, expires_at_ms: u64| Entry {
        key: format!("key{i}"),
        value: "v".repeat(100),
        expires_at_ms,
    };
    let mut entries: Vec<Entry> = (0..500).map(|i| entry(i, 0)).collect();
    entries[3].expires_at_ms = 10;
    entries[4].key = "\u{1}".repeat(KEY_MAX + 1);
    let mut buffer = region(16 << 10);
    let mut table = ListTable::init(bytes(&mut buffer), ListKind::String).unwrap();
    // Something already there, and an expired entry to reclaim.
    table
        .apply(
            &[
                upsert("key0", "old"),
                Change::Upsert {
                    key: b"gone",
                    value: b"x",
                    expires_at_ms: 20,
                },
            ],
            0,
        )
        .unwrap();
    let stored = table.fill(&entries, 100);
    assert!(stored > 50 && stored < 500, "{stored}");
    assert_eq!(table.len(), stored);
    assert_eq!(get(&table, "key0").map(str::len), Some(100));
    assert_eq!(table.lookup(b"key3", 100), None);
    assert_eq!(table.lookup(b"gone", 100), None);
    let stored_keys = keys(&table, 100);
    assert!(stored_keys.contains(&"key5".to_string()));
    assert!(!stored_keys.contains(&"key499".to_string()));
    // Everything fits: the same count as the batch.
    let mut roomy = region(1 << 20);
    let mut table = ListTable::init(bytes(&mut roomy), ListKind::String).unwrap();
    entries.remove(4);
    assert_eq!(table.fill(&entries, 100), 498);
    assert_eq!(table.len(), 498);
}

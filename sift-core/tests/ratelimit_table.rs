//! The shared-memory table: layout constants, formatting and re-attaching,
//! LRU eviction, capacity of a MiB, and robustness on random input.

use sift_core::ratelimit::{
    keys_for, keys_per_mib, slots_for, Header, Rate, RateTable, Slot, Verdict, HEADER_SIZE,
    SLOT_SIZE, TABLE_ALIGN,
};
use sift_core::testing::{rate_region as region, XorShift};

const MIB: usize = 1 << 20;

fn per_second(n: u32) -> Rate {
    Rate::per_second(n).unwrap()
}

#[test]
fn layout() {
    assert_eq!(SLOT_SIZE, 32);
    assert_eq!(HEADER_SIZE, 64);
    assert_eq!(TABLE_ALIGN, 8);
    assert_eq!(std::mem::size_of::<Slot>(), SLOT_SIZE);
    assert_eq!(std::mem::size_of::<Header>(), HEADER_SIZE);
    assert_eq!(std::mem::align_of::<Slot>(), 8);
    assert_eq!(std::mem::align_of::<Header>(), 8);

    assert_eq!(slots_for(0), 0);
    assert_eq!(slots_for(HEADER_SIZE), 0);
    assert_eq!(slots_for(HEADER_SIZE + SLOT_SIZE - 1), 0);
    assert_eq!(slots_for(HEADER_SIZE + SLOT_SIZE), 1);
    assert_eq!(slots_for(MIB), 32766);
    assert_eq!(slots_for(usize::MAX), (u32::MAX - 1) as usize);
    assert_eq!(keys_for(HEADER_SIZE + 8 * SLOT_SIZE), 7);
    assert_eq!(keys_for(HEADER_SIZE + SLOT_SIZE), 0);
    assert_eq!(keys_for(HEADER_SIZE + 2 * SLOT_SIZE), 1);
    assert_eq!(keys_per_mib(), 28670);
    assert_eq!(keys_for(MIB), keys_per_mib());
    assert_eq!(slots_for(10 * MIB), 327_678);
    assert_eq!(keys_for(10 * MIB), 286_718);
}

#[test]
fn zeroed_memory_is_not_a_table() {
    let (mut header, mut slots) = region(64 * 1024);
    assert!(RateTable::attach(&mut header, &mut slots).is_none());
    let mut empty: [Slot; 0] = [];
    assert!(RateTable::attach(&mut header, &mut empty).is_none());
}

#[test]
fn init_formats_and_attach_finds_the_same_state() {
    let (mut header, mut slots) = region(64 * 1024);
    // Garbage from a previous life is cleared.
    slots.fill(Slot::default());
    let r = per_second(1);
    {
        let mut table = RateTable::init(&mut header, &mut slots, 0xabcd);
        assert!(table.is_empty());
        assert_eq!(table.capacity(), keys_for(64 * 1024));
        for key in [&b"a"[..], b"b", b"c"] {
            assert_eq!(table.check(key, 0, r, 0), Verdict::Passed);
        }
        assert_eq!(table.len(), 3);
    }
    let (header_before, slots_before) = (header, slots.clone());
    {
        let mut table = RateTable::attach(&mut header, &mut slots).expect("attach");
        assert_eq!(table.len(), 3);
        assert!(!table.is_empty());
        assert_eq!(table.capacity(), keys_for(64 * 1024));
        // Same buckets: still limited, and a second later free again.
        assert_eq!(table.check(b"a", 1, r, 0), Verdict::Rejected);
        assert_eq!(table.check(b"b", 1000, r, 0), Verdict::Passed);
    }
    // Attaching alone changes nothing.
    let (header_mid, slots_mid) = (header, slots.clone());
    assert_ne!((header_mid, &slots_mid), (header_before, &slots_before));
    assert!(RateTable::attach(&mut header, &mut slots).is_some());
    assert_eq!((header, &slots), (header_mid, &slots_mid));

    // The seed survives: a copy of the region behaves the same.
    let (mut header2, mut slots2) = (header, slots.clone());
    let mut copy = RateTable::attach(&mut header2, &mut slots2).expect("attach copy");
    assert_eq!(copy.check(b"c", 1, r, 0), Verdict::Rejected);

    // init on a used zone starts over.
    let mut table = RateTable::init(&mut header, &mut slots, 0xabcd);
    assert!(table.is_empty());
    assert_eq!(table.check(b"a", 1, r, 0), Verdict::Passed);
}

#[test]
fn attach_refuses_another_size() {
    let (mut header, mut slots) = region(64 * 1024);
    RateTable::init(&mut header, &mut slots, 1).check(b"k", 0, per_second(1), 0);
    let n = slots.len();
    assert!(RateTable::attach(&mut header, &mut slots[..n - 1]).is_none());
    let mut bigger = vec![Slot::default(); n + 1];
    assert!(RateTable::attach(&mut header, &mut bigger).is_none());
    let mut none: [Slot; 0] = [];
    assert!(RateTable::attach(&mut header, &mut none).is_none());
    assert!(RateTable::attach(&mut header, &mut slots).is_some());
}

#[test]
fn attach_refuses_other_headers() {
    let (mut header, mut slots) = region(4096);
    RateTable::init(&mut header, &mut slots, 1);
    // A header of the same size but another table's slot count.
    let (mut other, mut other_slots) = region(8192);
    RateTable::init(&mut other, &mut other_slots, 1);
    assert!(RateTable::attach(&mut other, &mut slots).is_none());
    // An empty table formatted over no slots attaches to no slots only.
    let mut none: [Slot; 0] = [];
    let mut empty_header = Header::default();
    {
        let mut table = RateTable::init(&mut empty_header, &mut none, 1);
        assert_eq!(table.capacity(), 0);
        assert_eq!(table.check(b"k", 0, per_second(1), 0), Verdict::Passed);
        assert_eq!(table.check(b"k", 0, per_second(1), 0), Verdict::Passed);
        assert!(table.is_empty());
    }
    assert!(RateTable::attach(&mut empty_header, &mut none).is_some());
    assert!(RateTable::attach(&mut empty_header, &mut slots).is_none());
}

/// Whether `probe` is in the table after `setup`: replays `setup` on a
/// fresh table, then checks `probe` at the same instant with no burst; a
/// key still there is rejected, a forgotten one passes as new.
fn survives(setup: &[&[u8]], probe: &[u8]) -> bool {
    let (mut header, mut slots) = region(HEADER_SIZE + 8 * SLOT_SIZE);
    let mut table = RateTable::init(&mut header, &mut slots, 99);
    assert_eq!(table.capacity(), 7);
    let r = Rate::per_minute(1).unwrap();
    for key in setup {
        table.check(key, 0, r, 0);
        assert!(table.len() <= 7);
    }
    table.check(probe, 0, r, 0) == Verdict::Rejected
}

#[test]
fn lru_eviction_order() {
    // Fill the 7 places with k0..k6, touch k0, k2 and k4 (rejected, but
    // touched all the same), then add k7, k8 and k9: the untouched oldest
    // go first: k1, k3, k5.
    let keys: Vec<Vec<u8>> = (0..10).map(|i| format!("k{i}").into_bytes()).collect();
    let mut setup: Vec<&[u8]> = keys[..7].iter().map(Vec::as_slice).collect();
    setup.extend([&keys[0][..], &keys[2], &keys[4]]);
    setup.extend([&keys[7][..], &keys[8], &keys[9]]);
    let present: Vec<bool> = keys.iter().map(|key| survives(&setup, key)).collect();
    assert_eq!(
        present,
        [true, false, true, false, true, false, true, true, true, true]
    );

    // Without touches, plain insertion order.
    let plain: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let present: Vec<bool> = keys.iter().map(|key| survives(&plain, key)).collect();
    assert_eq!(
        present,
        [false, false, false, true, true, true, true, true, true, true]
    );
}

#[test]
fn eviction_is_counted() {
    let (mut header, mut slots) = region(HEADER_SIZE + 8 * SLOT_SIZE);
    let mut table = RateTable::init(&mut header, &mut slots, 5);
    let r = Rate::per_minute(1).unwrap();
    for i in 0..7u8 {
        table.check(&[i], 0, r, 0);
    }
    assert_eq!((table.len(), table.evicted(), table.expired()), (7, 0, 0));
    table.check(b"new", 0, r, 0);
    assert_eq!((table.len(), table.evicted(), table.expired()), (7, 1, 0));
    // A minute later... 1r/m drains 16 milli/s: after 62.5 s every bucket
    // (excess 0) is drained; new keys expire two of them each instead of
    // evicting.
    table.check(b"newer", 62_500, r, 0);
    assert_eq!((table.len(), table.evicted(), table.expired()), (6, 1, 2));
}

#[test]
fn one_mib_holds_keys_per_mib_keys() {
    // Distinct keys (IPv4 and IPv6 addresses, as the FFI would pass them)
    // until the first eviction.
    for (name, key_len) in [("ipv4", 4usize), ("ipv6", 16)] {
        let (mut header, mut slots) = region(MIB);
        let mut table = RateTable::init(&mut header, &mut slots, 0x5eed_5eed);
        let r = per_second(10);
        let mut held = 0usize;
        for i in 0u32.. {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&i.to_be_bytes());
            if key_len == 16 {
                key[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                key[12..].copy_from_slice(&i.to_be_bytes());
            }
            assert_eq!(table.check(&key[..key_len], 0, r, 0), Verdict::Passed);
            if table.evicted() > 0 {
                break;
            }
            held = table.len();
        }
        println!("1 MiB holds {held} {name} keys before the first eviction");
        assert_eq!(held, keys_per_mib(), "{name}");
        assert_eq!(table.len(), keys_per_mib());
    }
}

#[test]
fn random_keys_never_panic() {
    // Random key lengths (0..300 bytes), times that wander both ways,
    // rates and bursts, on tables from tiny to 256 KiB.
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    let mut key = vec![0u8; 300];
    for bytes in [
        0,
        HEADER_SIZE + SLOT_SIZE,
        HEADER_SIZE + 9 * SLOT_SIZE,
        4096,
        256 * 1024,
    ] {
        let (mut header, mut slots) = region(bytes);
        let mut table = RateTable::init(&mut header, &mut slots, rng.next_u64());
        let mut now: u64 = rng.next_u64() >> 20;
        let mut passed = 0u32;
        for _ in 0..100_000 {
            let len = (rng.next_u64() % 300) as usize;
            // Mostly a small key space, so keys come back.
            let id = rng.next_u64() % 5000;
            for (i, byte) in key[..len].iter_mut().enumerate() {
                *byte = (id >> (8 * (i % 8))) as u8;
            }
            now = match rng.next_u64() % 50 {
                0 => now.wrapping_sub(rng.next_u64() % 100_000),
                1 => rng.next_u64(),
                _ => now.wrapping_add(rng.next_u64() % 50),
            };
            let rate = match rng.next_u64() % 3 {
                0 => Rate::per_second((rng.next_u64() % 100 + 1) as u32).unwrap(),
                1 => Rate::per_minute((rng.next_u64() % 100 + 1) as u32).unwrap(),
                _ => Rate::per_second(u32::MAX).unwrap(),
            };
            let burst = (rng.next_u64() % 4) as u32;
            if table.check(&key[..len], now, rate, burst) == Verdict::Passed {
                passed += 1;
            }
            assert!(table.len() <= table.capacity());
        }
        assert!(passed > 0);
        let len = table.len();
        let _ = table;
        let again = RateTable::attach(&mut header, &mut slots).expect("still a table");
        assert_eq!(again.len(), len);
    }
}

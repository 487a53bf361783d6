//! Tests that look inside the table: structure after every operation,
//! probe lengths, recovery from corrupted memory.

use super::table::inspect::{
    bucket, lru_order, parts, probe_len, set_ends, set_links, slot_count, stored_hash, verify,
};
use super::*;
use crate::testing::{rate_region as region, XorShift};

const R10: Rate = match Rate::per_second(10) {
    Some(rate) => rate,
    None => unreachable!(),
};

#[test]
fn structure_holds_after_every_operation() {
    // A small table (so runs wrap and evictions happen often), keys drawn
    // from a pool a little larger than its capacity, times that mostly go
    // forward and sometimes back.
    let (mut header, mut slots) = region(HEADER_SIZE + 61 * SLOT_SIZE);
    let mut table = RateTable::init(&mut header, &mut slots, 7);
    assert_eq!(slot_count(&table), 61);
    assert_eq!(table.capacity(), 53);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut now = 1_000_000u64;
    for round in 0..20_000 {
        let key = (rng.next_u64() % 80).to_le_bytes();
        now = match rng.next_u64() % 100 {
            0..=9 => now.saturating_sub(rng.next_u64() % 100),
            10 => now + rng.next_u64() % 100_000,
            _ => now + rng.next_u64() % 3,
        };
        let burst = (rng.next_u64() % 3) as u32;
        table.check(&key, now, R10, burst);
        if round % 7 == 0 {
            verify(&table);
        }
        assert!(table.len() <= table.capacity());
    }
    verify(&table);
    assert!(table.evicted() > 0);
    assert!(table.expired() > 0);
}

#[test]
fn probe_lengths_at_max_load() {
    // 1 MiB filled to max load with random keys, for a few seeds: the
    // longest distance from home, and the mean and longest probe for keys
    // present and absent.
    let mut worst_found = 0;
    let mut worst_absent = 0;
    for seed in [1u64, 2, 3, 0xdead_beef] {
        let (mut header, mut slots) = region(1 << 20);
        let mut table = RateTable::init(&mut header, &mut slots, seed);
        let mut rng = XorShift(seed.wrapping_mul(0x1234_5678_9abc_def1) | 1);
        let mut keys = Vec::new();
        while table.len() < table.capacity() {
            let key = rng.next_u64().to_le_bytes();
            table.check(&key, 0, R10, 0);
            keys.push(key);
        }
        assert_eq!(table.evicted(), 0);
        let longest = verify(&table);
        let found: Vec<u32> = keys
            .iter()
            .map(|key| probe_len(&table, stored_hash(&table, key)))
            .collect();
        let absent: Vec<u32> = (0..100_000)
            .map(|_| probe_len(&table, stored_hash(&table, &rng.next_u64().to_be_bytes())))
            .collect();
        let mean = |v: &[u32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        let max_found = *found.iter().max().unwrap();
        let max_absent = *absent.iter().max().unwrap();
        println!(
            "seed {seed:#x}: {} keys in {} slots; longest distance {longest}; \
             probe present mean {:.2} max {max_found}; absent mean {:.2} max {max_absent}",
            table.len(),
            slot_count(&table),
            mean(&found),
            mean(&absent),
        );
        assert_eq!(max_found, longest + 1);
        worst_found = worst_found.max(max_found);
        worst_absent = worst_absent.max(max_absent);
        assert!(mean(&found) < 6.0);
        assert!(mean(&absent) < 8.0);
    }
    assert!(worst_found <= 64, "longest probe {worst_found}");
    assert!(worst_absent <= 64, "longest absent probe {worst_absent}");
}

#[test]
fn lru_order_follows_use() {
    let (mut header, mut slots) = region(HEADER_SIZE + 16 * SLOT_SIZE);
    let mut table = RateTable::init(&mut header, &mut slots, 3);
    for key in [b"a", b"b", b"c"] {
        table.check(key, 0, R10, 9);
    }
    let h = |t: &RateTable<'_>, k: &[u8]| stored_hash(t, k);
    assert_eq!(
        lru_order(&table),
        [h(&table, b"c"), h(&table, b"b"), h(&table, b"a")]
    );
    table.check(b"a", 0, R10, 9);
    assert_eq!(
        lru_order(&table),
        [h(&table, b"a"), h(&table, b"c"), h(&table, b"b")]
    );
    // A rejection moves the key too.
    let (mut header1, mut slots1) = region(HEADER_SIZE + 16 * SLOT_SIZE);
    let mut one = RateTable::init(&mut header1, &mut slots1, 3);
    one.check(b"x", 0, R10, 0);
    one.check(b"y", 0, R10, 0);
    assert_eq!(one.check(b"x", 0, R10, 0), Verdict::Rejected);
    assert_eq!(lru_order(&one), [h(&one, b"x"), h(&one, b"y")]);
    verify(&table);
    verify(&one);
}

#[test]
fn rejection_leaves_the_bucket() {
    let (mut header, mut slots) = region(4096);
    let mut table = RateTable::init(&mut header, &mut slots, 3);
    let rate = Rate::per_second(1).unwrap();
    assert_eq!(table.check(b"k", 1000, rate, 1), Verdict::Passed);
    assert_eq!(bucket(&table, b"k"), Some((0, 1000)));
    assert_eq!(table.check(b"k", 1000, rate, 1), Verdict::Passed);
    assert_eq!(bucket(&table, b"k"), Some((1000, 1000)));
    assert_eq!(table.check(b"k", 1500, rate, 1), Verdict::Rejected);
    assert_eq!(bucket(&table, b"k"), Some((1000, 1000)));
    // 1000 - 500 + 1000 = 1500 > 1000, again.
    assert_eq!(table.check(b"k", 1500, rate, 1), Verdict::Rejected);
    assert_eq!(table.check(b"k", 2000, rate, 1), Verdict::Passed);
    assert_eq!(bucket(&table, b"k"), Some((1000, 2000)));
}

#[test]
fn zero_elapsed_keeps_the_time() {
    // nginx moves `last` only when time has passed; a rate slower than one
    // per millisecond loses the sub-unit remainder each time it does.
    let (mut header, mut slots) = region(4096);
    let mut table = RateTable::init(&mut header, &mut slots, 3);
    let rate = Rate::parse("30r/m").unwrap(); // 500 milli per second
    table.check(b"k", 0, rate, 100);
    table.check(b"k", 0, rate, 100);
    assert_eq!(bucket(&table, b"k"), Some((1000, 0)));
    // 1 ms at 500 milli/s leaks 0 (500 * 1 / 1000), but the time moves on.
    table.check(b"k", 1, rate, 100);
    assert_eq!(bucket(&table, b"k"), Some((2000, 1)));
    // 3 ms leaks 1.
    table.check(b"k", 4, rate, 100);
    assert_eq!(bucket(&table, b"k"), Some((2999, 4)));
}

#[test]
fn clock_going_back() {
    let (mut header, mut slots) = region(4096);
    let mut table = RateTable::init(&mut header, &mut slots, 3);
    let rate = Rate::per_second(1).unwrap();
    table.check(b"k", 100_000, rate, 5);
    // 10 s back: no time has passed, the time stays.
    assert_eq!(table.check(b"k", 90_000, rate, 5), Verdict::Passed);
    assert_eq!(bucket(&table, b"k"), Some((1000, 100_000)));
    // Then 0.5 s after the stored time: 500 leaked.
    assert_eq!(table.check(b"k", 100_500, rate, 5), Verdict::Passed);
    assert_eq!(bucket(&table, b"k"), Some((1500, 100_500)));
    // More than 60 s back: no leak, but the time is re-anchored on a pass.
    assert_eq!(table.check(b"k", 1_000, rate, 5), Verdict::Passed);
    assert_eq!(bucket(&table, b"k"), Some((2500, 1_000)));
    // And now time flows from there.
    assert_eq!(table.check(b"k", 3_000, rate, 5), Verdict::Passed);
    assert_eq!(bucket(&table, b"k"), Some((1500, 3_000)));
}

#[test]
fn drained_entries_expire_first() {
    let (mut header, mut slots) = region(HEADER_SIZE + 32 * SLOT_SIZE);
    let mut table = RateTable::init(&mut header, &mut slots, 3);
    let rate = Rate::per_second(1).unwrap();
    table.check(b"old1", 0, rate, 5);
    table.check(b"old2", 0, rate, 5);
    table.check(b"old2", 0, rate, 5); // excess 1000: drains after 2 s
    table.check(b"busy", 0, rate, 5);
    // 1 s later, old1 (excess 0) is drained for good: a check would find
    // 0 - 1000 + 1000 = 0. old2 is not (1000 - 1000 + 1000).
    table.check(b"new1", 1000, rate, 5);
    assert_eq!(table.expired(), 1);
    assert_eq!(bucket(&table, b"old1"), None);
    assert!(bucket(&table, b"old2").is_some());
    // At 2 s old2 is drained too; busy (LRU next) as well, so both go.
    table.check(b"new2", 2000, rate, 5);
    assert_eq!(table.expired(), 3);
    assert_eq!(bucket(&table, b"old2"), None);
    assert_eq!(bucket(&table, b"busy"), None);
    assert_eq!(table.len(), 2);
    assert_eq!(table.evicted(), 0);
    verify(&table);
}

#[test]
fn corrupt_memory_is_reformatted_not_trusted() {
    let bytes = HEADER_SIZE + 64 * SLOT_SIZE;
    // A link out of range.
    {
        let (mut header, mut slots) = region(bytes);
        let mut table = RateTable::init(&mut header, &mut slots, 3);
        for k in 0..20u8 {
            table.check(&[k], 0, R10, 0);
        }
        let (header, slots) = parts(&mut table);
        let head = header_head(header);
        set_links(&mut slots[head as usize], 7777, 8888);
        let mut table = RateTable::attach(header, slots).unwrap();
        for k in 0..100u8 {
            table.check(&[k], 5, R10, 0);
        }
        verify(&table);
    }
    // A cycle in the LRU list with the tail lost, at max load.
    {
        let (mut header, mut slots) = region(bytes);
        let mut table = RateTable::init(&mut header, &mut slots, 3);
        let mut k = 0u32;
        while table.len() < table.capacity() {
            table.check(&k.to_le_bytes(), 0, R10, 0);
            k += 1;
        }
        let (header, slots) = parts(&mut table);
        let head = header_head(header);
        let len = table_len(header);
        set_ends(header, head, head, len);
        let next = slots[head as usize].next_for_test();
        set_links(&mut slots[next as usize], head, head);
        let mut table = RateTable::attach(header, slots).unwrap();
        for k in 1000..1200u32 {
            table.check(&k.to_le_bytes(), 1, R10, 0);
        }
        verify(&table);
    }
    // Every slot occupied with garbage, len within bounds.
    {
        let (mut header, mut slots) = region(bytes);
        let mut table = RateTable::init(&mut header, &mut slots, 3);
        table.check(b"a", 0, R10, 0);
        let (header, slots) = parts(&mut table);
        for (i, slot) in slots.iter_mut().enumerate() {
            slot.set_for_test(i as u64 * 0x0101_0101_0101_0101 + 1, u32::MAX - 3, i as u32);
        }
        let mut table = RateTable::attach(header, slots).unwrap();
        for k in 0..200u32 {
            table.check(&k.to_le_bytes(), 1, R10, 0);
        }
        verify(&table);
    }
}

fn header_head(header: &Header) -> u32 {
    header.head_for_test()
}

fn table_len(header: &Header) -> u32 {
    header.len_for_test()
}

#[test]
fn tiny_tables() {
    for slots_n in 0..=10usize {
        let (mut header, mut slots) = (Header::default(), vec![Slot::default(); slots_n]);
        let mut table = RateTable::init(&mut header, &mut slots, 3);
        assert_eq!(table.capacity(), slots_n * 7 / 8);
        for k in 0..50u8 {
            let verdict = table.check(&[k % 13], u64::from(k), R10, u32::MAX);
            assert_eq!(verdict, Verdict::Passed);
            assert!(table.len() <= table.capacity());
            if slots_n > 0 {
                verify(&table);
            }
        }
    }
}

#[test]
fn a_resized_table_keeps_keys_buckets_and_order() {
    let (mut old_header, mut old_slots) = region(HEADER_SIZE + 61 * SLOT_SIZE);
    let mut old = RateTable::init(&mut old_header, &mut old_slots, 99);
    // Twice each at 1r/m, so no bucket drains (drained keys may expire).
    let slow = Rate::parse("1r/m").unwrap();
    for i in 0..40u64 {
        old.check(&i.to_le_bytes(), 1000 + i, slow, 5);
        old.check(&i.to_le_bytes(), 1000 + i, slow, 5);
    }
    // Key 0 again: most recently used, its bucket fuller.
    old.check(&0u64.to_le_bytes(), 1040, slow, 5);
    assert_eq!(old.len(), 40);
    let old_bucket = bucket(&old, &0u64.to_le_bytes());
    let old_order = lru_order(&old);

    // Larger: everything, in the same order, with the same buckets.
    let (mut header, mut slots) = region(HEADER_SIZE + 200 * SLOT_SIZE);
    let (big, copied) = RateTable::init_from(&mut header, &mut slots, &old);
    assert_eq!(copied, 40);
    verify(&big);
    assert_eq!(lru_order(&big), old_order);
    assert_eq!(bucket(&big, &0u64.to_le_bytes()), old_bucket);

    // Smaller: the most recently used keys that fit.
    let (mut header, mut slots) = region(HEADER_SIZE + 20 * SLOT_SIZE);
    let (small, copied) = RateTable::init_from(&mut header, &mut slots, &old);
    assert_eq!(copied, small.capacity());
    verify(&small);
    assert_eq!(lru_order(&small), old_order[..copied].to_vec());
    assert!(bucket(&small, &0u64.to_le_bytes()).is_some());
    assert!(bucket(&small, &1u64.to_le_bytes()).is_none());
}

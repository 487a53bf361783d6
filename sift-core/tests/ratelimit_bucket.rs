//! The leaky bucket against hand-computed sequences (nginx `limit_req`
//! arithmetic: milli-connections, `excess - rate * ms / 1000 + 1000`), and
//! `rate=` parsing.

use sift_core::ratelimit::{slots_for, Header, Rate, RateError, RateTable, Slot, Verdict};

use Verdict::{Passed as P, Rejected as R};

fn rate(text: &str) -> Rate {
    Rate::parse(text).unwrap()
}

/// Runs `(time, expected verdict)` steps for one key on a fresh table.
fn run(rate_text: &str, burst: u32, steps: &[(u64, Verdict)]) {
    let mut header = Header::default();
    let mut slots = vec![Slot::default(); slots_for(16 * 1024)];
    let mut table = RateTable::init(&mut header, &mut slots, 0xfeed);
    let r = rate(rate_text);
    for (n, &(now, expected)) in steps.iter().enumerate() {
        assert_eq!(
            table.check(b"client", now, r, burst),
            expected,
            "{rate_text} burst {burst}, step {n} at {now} ms"
        );
    }
}

/// Compiles only if the API has the agreed shape.
#[allow(dead_code, clippy::extra_unused_lifetimes)]
fn signatures_are_the_agreed_ones<'a>() {
    let _: fn(&str) -> Result<Rate, RateError> = Rate::parse;
    let _: fn(&Rate) -> u64 = Rate::per_second_milli;
    let _: fn(&'a mut Header, &'a mut [Slot], u64) -> RateTable<'a> = RateTable::<'a>::init;
    let _: fn(&'a mut Header, &'a mut [Slot]) -> Option<RateTable<'a>> = RateTable::<'a>::attach;
    let _: fn(&mut RateTable<'a>, &[u8], u64, Rate, u32) -> Verdict = RateTable::<'a>::check;
    let _: fn(&RateTable<'a>) -> usize = RateTable::<'a>::len;
    let _: fn(&RateTable<'a>) -> usize = RateTable::<'a>::capacity;
    let _: fn(&RateTable<'a>) -> bool = RateTable::<'a>::is_empty;
    let _: fn(usize) -> usize = slots_for;
}

#[test]
fn one_per_second_no_burst() {
    // The first connection passes with an empty bucket (excess 0). The
    // next needs excess - 1000 * ms / 1000 + 1000 <= 0: a full second.
    run(
        "1r/s",
        0,
        &[
            (0, P),
            (0, R),
            (1, R),
            (500, R),
            (999, R),
            (1000, P),
            (1999, R),
            (2000, P),
            (2000, R),
            (10_000, P),
            (10_999, R),
            (11_000, P),
        ],
    );
}

#[test]
fn one_per_second_burst_five() {
    // Six at once (the first with excess 0, then 1000..=5000); the seventh
    // would make 6000 > 5000.
    run(
        "1r/s",
        5,
        &[
            (0, P),    // 0
            (0, P),    // 1000
            (0, P),    // 2000
            (0, P),    // 3000
            (0, P),    // 4000
            (0, P),    // 5000
            (0, R),    // 6000
            (999, R),  // 5000 - 999 + 1000 = 5001
            (1000, P), // 5000 - 1000 + 1000 = 5000, time 1000
            (1000, R), // 6000
            (3500, P), // 5000 - 2500 + 1000 = 3500, time 3500
            (3500, P), // 4500
            (3500, R), // 5500
            // A long pause empties the bucket: six at once again.
            (60_000, P),
            (60_000, P),
            (60_000, P),
            (60_000, P),
            (60_000, P),
            (60_000, P),
            (60_000, R),
        ],
    );
}

#[test]
fn thirty_per_minute() {
    // 30r/m drains 500 milli-connections a second: one every 2 s.
    assert_eq!(rate("30r/m").per_second_milli(), 500);
    run(
        "30r/m",
        0,
        &[
            (0, P),
            (1, R),
            (1000, R),
            (1999, R),
            (2000, P),
            (3999, R),
            (4000, P),
        ],
    );
    run(
        "30r/m",
        2,
        &[
            (0, P),    // 0
            (0, P),    // 1000
            (0, P),    // 2000
            (0, R),    // 3000
            (1999, R), // 2000 - 999 + 1000 = 2001
            (2000, P), // 2000 - 1000 + 1000 = 2000, time 2000
            (2000, R),
            (6000, P), // 2000 - 2000 + 1000 = 1000
            (6000, P), // 2000
            (6000, R),
        ],
    );
}

#[test]
fn sub_millisecond_leak_is_truncated_like_nginx() {
    // 1r/m drains 16 milli-connections a second (1000 / 60 rounded down),
    // so the next connection needs 62.5 s: 16 * 62500 / 1000 = 1000.
    assert_eq!(rate("1r/m").per_second_milli(), 16);
    run("1r/m", 0, &[(0, P), (60_000, R), (62_499, R), (62_500, P)]);
}

#[test]
fn keys_are_independent() {
    let mut header = Header::default();
    let mut slots = vec![Slot::default(); slots_for(16 * 1024)];
    let mut table = RateTable::init(&mut header, &mut slots, 1);
    let r = rate("1r/s");
    assert_eq!(table.check(b"a", 0, r, 0), P);
    assert_eq!(table.check(b"a", 0, r, 0), R);
    assert_eq!(table.check(b"b", 0, r, 0), P);
    assert_eq!(table.check(b"b", 0, r, 0), R);
    // Lengths and prefixes are different keys.
    assert_eq!(table.check(b"", 0, r, 0), P);
    assert_eq!(table.check(b"a\0", 0, r, 0), P);
    assert_eq!(table.check(b"ab", 0, r, 0), P);
    assert_eq!(table.check(b"a", 500, r, 0), R);
    assert_eq!(table.check(b"b", 1000, r, 0), P);
    assert_eq!(table.check(b"a", 1000, r, 0), P);
    assert_eq!(table.len(), 5);
}

#[test]
fn clock_going_backwards_counts_no_time() {
    run(
        "1r/s",
        1,
        &[
            (10_000, P), // 0
            (9_000, P),  // 1000: no time passed
            (5_000, R),  // 2000
            (10_999, R), // 1000 - 999 + 1000 = 1001
            (11_000, P), // 1000
        ],
    );
}

#[test]
fn extreme_numbers_saturate() {
    let mut header = Header::default();
    let mut slots = vec![Slot::default(); slots_for(16 * 1024)];
    let mut table = RateTable::init(&mut header, &mut slots, 1);
    let fastest = rate("4294967295r/s");
    let slowest = rate("1r/m");
    // The largest burst never rejects.
    for _ in 0..1000 {
        assert_eq!(table.check(b"k", 0, slowest, u32::MAX), P);
    }
    // rate * elapsed overflows u64: saturates, so the bucket is empty.
    assert_eq!(table.check(b"k", u64::MAX, fastest, 0), P);
    assert_eq!(table.check(b"k", u64::MAX, fastest, 0), R);
    // And from the far end of time back to 0: no time passed.
    assert_eq!(table.check(b"k", 0, fastest, 0), R);
    // Time goes on from 0 after the re-anchoring: 1 ms at 4.29e12 milli/s
    // empties any bucket.
    assert_eq!(table.check(b"k", 0, fastest, 1), P);
    assert_eq!(table.check(b"k", 1, fastest, 0), P);
    assert_eq!(table.check(b"k", 1, fastest, 0), R);
    assert_eq!(table.check(b"j", u64::MAX, slowest, 0), P);
    assert_eq!(table.check(b"j", u64::MAX, slowest, u32::MAX), P);
}

#[test]
fn rates_parse_like_limit_req_zone() {
    for (text, milli, shown) in [
        ("1r/s", 1000, "1r/s"),
        ("10r/s", 10_000, "10r/s"),
        ("30r/m", 500, "30r/m"),
        ("60r/m", 1000, "60r/m"),
        ("7r/m", 116, "7r/m"),
        ("1r/m", 16, "1r/m"),
        ("010r/s", 10_000, "10r/s"),
        ("10", 10_000, "10r/s"),
        ("4294967295r/s", 4_294_967_295_000, "4294967295r/s"),
        ("4294967295r/m", 71_582_788_250, "4294967295r/m"),
    ] {
        let r = rate(text);
        assert_eq!(r.per_second_milli(), milli, "{text}");
        assert_eq!(r.to_string(), shown, "{text}");
        assert_eq!(rate(shown), r, "{text}");
    }
    assert_eq!(Rate::per_second(10), Some(rate("10r/s")));
    assert_eq!(Rate::per_minute(30), Some(rate("30r/m")));
    assert_eq!(Rate::per_second(0), None);
    assert_eq!(Rate::per_minute(0), None);
    assert_eq!(rate("30r/m").count(), 30);
    assert!(rate("30r/m").is_per_minute());
    assert!(!rate("30r/s").is_per_minute());

    for text in [
        "",
        "r/s",
        "r/m",
        "-1r/s",
        "+1r/s",
        "1.5r/s",
        "10r/h",
        "10 r/s",
        " 10r/s",
        "10r/s ",
        "10R/S",
        "10r/S",
        "10r",
        "10/s",
        "ten r/s",
        "10r/sr/s",
        "0x10r/s",
        "rate=10r/s",
    ] {
        assert_eq!(Rate::parse(text), Err(RateError::Invalid), "{text:?}");
    }
    for text in ["0r/s", "0r/m", "0", "000r/s"] {
        assert_eq!(Rate::parse(text), Err(RateError::Zero), "{text:?}");
    }
    for text in ["4294967296r/s", "99999999999999999999999999r/m"] {
        assert_eq!(Rate::parse(text), Err(RateError::TooLarge), "{text:?}");
    }
    assert_eq!(RateError::Zero.to_string(), "rate must be at least 1");
}

//! Cost of the per-connection access checks: one `AddressRule::matches`
//! (IPv4, IPv6, IPv4-mapped client), a scan of 10 rules, and one
//! `RateTable::check` on a 1 MiB table at 50% and at max load.
//!
//! `cargo bench -p sift-core --bench access`

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sift_core::access::{parse_address_rule, AddressRule};
use sift_core::ratelimit::{slots_for, Header, Rate, RateTable, Slot};
use sift_core::testing::XorShift;

fn rule(text: &str) -> AddressRule {
    parse_address_rule(text).expect("rule").rule
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

fn bench_matches(c: &mut Criterion) {
    let mut group = c.benchmark_group("access/matches");
    group.throughput(Throughput::Elements(1));
    for (name, rule_text, client) in [
        ("v4", "192.0.2.0/24", "192.0.2.77"),
        ("v6", "2001:db8::/32", "2001:db8:1:2::77"),
        ("mapped", "192.0.2.0/24", "::ffff:192.0.2.77"),
    ] {
        let r = rule(rule_text);
        let client = Some(ip(client));
        assert!(r.matches(client));
        group.bench_function(name, |b| {
            b.iter(|| black_box(black_box(&r).matches(black_box(client))))
        });
    }
    group.finish();

    // Ten rules of both families; the client matches none but `all`, so
    // every rule is tried.
    let rules: Vec<AddressRule> = [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "2001:db8::/32",
        "fc00::/7",
        "198.51.100.7",
        "203.0.113.0/24",
        "::1",
        "unix:",
        "all",
    ]
    .iter()
    .map(|text| rule(text))
    .collect();
    let mut group = c.benchmark_group("access/scan10");
    group.throughput(Throughput::Elements(1));
    for (name, client) in [
        ("v4", ip("192.0.2.77")),
        ("v6", ip("2001:db9::77")),
        ("mapped", ip("::ffff:192.0.2.77")),
    ] {
        let client = Some(client);
        assert_eq!(rules.iter().position(|r| r.matches(client)), Some(9));
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    black_box(&rules)
                        .iter()
                        .position(|r| r.matches(black_box(client))),
                )
            })
        });
    }
    group.finish();
}

fn bench_ratelimit(c: &mut Criterion) {
    let rate = Rate::parse("10r/s").expect("rate");
    let burst = 5;
    let mut group = c.benchmark_group("ratelimit/check_1MiB");
    group.throughput(Throughput::Elements(1));

    let mut header = Header::default();
    let mut slots = vec![Slot::default(); slots_for(1 << 20)];
    for (name, fill_num, fill_den) in [("50%", 1usize, 2usize), ("max_load", 1, 1)] {
        let mut table = RateTable::init(&mut header, &mut slots, 0x5eed);
        let target = table.capacity() * fill_num / fill_den;
        // IPv4 client addresses, as the FFI passes them (4 bytes).
        let keys: Vec<[u8; 4]> = (0..target as u32)
            .map(|i| (0x0a00_0000 + i).to_be_bytes())
            .collect();
        for key in &keys {
            table.check(key, 0, rate, burst);
        }
        assert_eq!(table.len(), target);
        assert_eq!(table.evicted(), 0);

        // Keys already present, in random order; time moves 1 ms a check.
        let mut rng = XorShift(42);
        let mut now = 0u64;
        group.bench_function(format!("{name}/present"), |b| {
            b.iter(|| {
                now += 1;
                let key = &keys[(rng.next_u64() % keys.len() as u64) as usize];
                black_box(table.check(black_box(key), now, rate, burst))
            })
        });
        assert_eq!(table.len(), target);

        // New keys: at max load each one evicts the least recently used
        // (at time 0, so that no bucket has drained and none expires).
        if table.len() == table.capacity() {
            let mut fresh = 0x2000_0000u32;
            group.bench_function(format!("{name}/new_evicting"), |b| {
                b.iter(|| {
                    fresh += 1;
                    black_box(table.check(black_box(&fresh.to_be_bytes()), 0, rate, burst))
                })
            });
            assert_eq!(table.len(), table.capacity());
            assert_eq!(table.expired(), 0);
        }
        println!(
            "{name}: len {} of {}, evicted {}, expired {}",
            table.len(),
            table.capacity(),
            table.evicted(),
            table.expired()
        );
    }
    group.finish();
}

criterion_group!(access, bench_matches, bench_ratelimit);
criterion_main!(access);

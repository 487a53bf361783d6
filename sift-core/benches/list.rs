//! Cost of a live-list lookup, what `$variable` of `sift_list` costs per
//! session: a string list (a JA4 that is there, and one that is not) and
//! an ip list with prefixes of 3 lengths (/8, /16, /24; 1,002 entries),
//! text and raw keys, hit at each length and a miss; an IPv6 lookup in a
//! list that holds IPv6 prefixes of 2 lengths.
//!
//! `cargo bench -p sift-core --bench list`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use sift_core::list::{Change, ListKind, ListTable};

fn filled<'r>(region: &'r mut [u8], kind: ListKind, keys: &[String]) -> ListTable<'r> {
    let mut table = ListTable::init(region, kind).expect("region");
    let changes: Vec<Change<'_>> = keys
        .iter()
        .map(|key| Change::Upsert {
            key: key.as_bytes(),
            value: b"block",
            expires_at_ms: 0,
        })
        .collect();
    table.apply(&changes, 0).expect("fits");
    table
}

fn bench_lookup(c: &mut Criterion) {
    let mut words = vec![0u64; (1 << 20) / 8];
    let ja4: Vec<String> = (0..1000)
        .map(|i| format!("t13d1516h2_8daaf6152771_{i:012x}"))
        .collect();
    let strings = filled(bytemuck::cast_slice_mut(&mut words), ListKind::String, &ja4);
    let mut group = c.benchmark_group("list_lookup");
    let hit = ja4[517].as_bytes();
    group.bench_function("string_hit", |b| {
        b.iter(|| strings.lookup(black_box(hit), 1))
    });
    let miss = b"t13d1516h2_8daaf6152771_ffffffffffff";
    group.bench_function("string_miss", |b| {
        b.iter(|| strings.lookup(black_box(miss), 1))
    });

    let mut words = vec![0u64; (1 << 20) / 8];
    let mut prefixes: Vec<String> = (0..1000)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    prefixes.push("10.0.0.0/8".into());
    prefixes.push("172.16.0.0/16".into());
    let ip = filled(
        bytemuck::cast_slice_mut(&mut words),
        ListKind::Ip,
        &prefixes,
    );
    for (name, key) in [
        ("ip_text_hit_24", &b"10.3.7.9"[..]),
        ("ip_text_hit_16", b"172.16.9.9"),
        ("ip_text_hit_8", b"10.200.0.1"),
        ("ip_text_miss", b"192.0.2.1"),
        ("ip_raw_hit_24", &[10, 3, 7, 9]),
        ("ip_raw_miss", &[192, 0, 2, 1]),
    ] {
        group.bench_function(name, |b| b.iter(|| ip.lookup(black_box(key), 1)));
    }

    let mut words = vec![0u64; (1 << 20) / 8];
    let v6: Vec<String> = (0..500)
        .map(|i| format!("2001:db8:{i:x}::/48"))
        .chain(["2001:db8::/32".to_string()])
        .collect();
    let ip6 = filled(bytemuck::cast_slice_mut(&mut words), ListKind::Ip, &v6);
    group.bench_function("ip6_text_hit_48", |b| {
        b.iter(|| ip6.lookup(black_box(b"2001:db8:1f3::1"), 1))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = bench_lookup
}
criterion_main!(benches);

use super::*;

fn region(entries: usize) -> Vec<u8> {
    // u64-aligned backing, as shared memory is.
    let words = (64 + entries * 96) / 8;
    bytemuck::cast_slice(&vec![0u64; words]).to_vec()
}

fn aligned(entries: usize) -> Vec<u64> {
    vec![0u64; (64 + entries * 96) / 8]
}

#[test]
fn layout_sizes() {
    assert_eq!(core::mem::size_of::<TopHeader>(), 64);
    assert_eq!(core::mem::size_of::<TopEntry>(), 96);
    let _ = region(1);
}

#[test]
fn exact_while_everything_fits() {
    let mut words = aligned(8);
    let (header, entries) = split_region(bytemuck::cast_slice_mut(&mut words)).unwrap();
    let mut table = TopTable::init(header, entries, 7);
    for (key, times) in [("http", 5), ("tls", 3), ("ssh", 1)] {
        for _ in 0..times {
            table.record(key.as_bytes());
        }
    }
    table.record(b"");
    assert_eq!(table.total(), 9);
    let top = table.top(2);
    assert_eq!(top.len(), 2);
    assert_eq!(
        (top[0].key.as_slice(), top[0].count, top[0].error),
        (&b"http"[..], 5, 0)
    );
    assert_eq!(
        (top[1].key.as_slice(), top[1].count, top[1].error),
        (&b"tls"[..], 3, 0)
    );
}

#[test]
fn space_saving_bounds_hold_on_a_skewed_stream() {
    let mut words = aligned(16);
    let (header, entries) = split_region(bytemuck::cast_slice_mut(&mut words)).unwrap();
    let mut table = TopTable::init(header, entries, 99);
    let m = table.capacity() as u64;
    let mut truth = std::collections::HashMap::new();
    let mut rng = crate::testing::XorShift(0x1234_5678);
    for i in 0..20_000u64 {
        // Keys 0..3 are heavy; the rest is a long tail.
        let key = if i % 2 == 0 {
            rng.next_u64() % 4
        } else {
            100 + rng.next_u64() % 5000
        };
        let key = key.to_string();
        *truth.entry(key.clone()).or_insert(0u64) += 1;
        table.record(key.as_bytes());
    }
    let n = table.total();
    let top = table.top(16);
    for heavy in &top {
        let key = String::from_utf8(heavy.key.clone()).unwrap();
        let real = truth[&key];
        assert!(heavy.count >= real, "{key}: {} < {real}", heavy.count);
        assert!(heavy.count - heavy.error <= real, "{key}");
        assert!(
            heavy.error <= n / m,
            "{key}: error {} > N/m {}",
            heavy.error,
            n / m
        );
    }
    // Every key above N/m is monitored, and the four heavy ones lead.
    for (key, real) in &truth {
        if *real > n / m {
            assert!(
                top.iter().any(|h| h.key == key.as_bytes()),
                "{key} ({real}) missing"
            );
        }
    }
    let mut leaders: Vec<_> = top[..4]
        .iter()
        .map(|h| String::from_utf8(h.key.clone()).unwrap())
        .collect();
    leaders.sort();
    assert_eq!(leaders, ["0", "1", "2", "3"]);
}

#[test]
fn long_keys_are_told_apart_and_cut_for_display() {
    let mut words = aligned(4);
    let (header, entries) = split_region(bytemuck::cast_slice_mut(&mut words)).unwrap();
    let mut table = TopTable::init(header, entries, 1);
    let a = [b'a'; 100];
    let mut b = a;
    b[99] = b'b';
    table.record(&a);
    table.record(&b);
    table.record(&b);
    let top = table.top(5);
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].count, 2);
    assert_eq!(top[0].key.len(), KEY_MAX);
}

#[test]
fn attach_checks_the_header() {
    let mut words = aligned(4);
    {
        let (header, entries) = split_region(bytemuck::cast_slice_mut(&mut words)).unwrap();
        assert!(TopTable::attach(header, entries).is_none());
        let mut table = TopTable::init(header, entries, 1);
        table.record(b"x");
    }
    let (header, entries) = split_region(bytemuck::cast_slice_mut(&mut words)).unwrap();
    let table = TopTable::attach(header, entries).unwrap();
    assert_eq!(table.top(1)[0].count, 1);
    let mut tiny = aligned(1);
    assert!(split_region(bytemuck::cast_slice_mut(&mut tiny)).is_none());
}

#[test]
fn keys_are_displayed_as_text_or_hex() {
    assert_eq!(
        display_key(b"t13d1516h2_8daaf6152771_e5627efa2ab1"),
        "t13d1516h2_8daaf6152771_e5627efa2ab1"
    );
    assert_eq!(display_key(&[127, 0, 0, 1]), "0x7f000001");
    assert_eq!(display_key(b"a\nb"), "0x610a62");
}

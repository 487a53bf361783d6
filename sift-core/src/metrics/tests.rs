use core::sync::atomic::AtomicU64;

use super::*;

fn region(words: usize) -> Vec<AtomicU64> {
    (0..words).map(|_| AtomicU64::new(0)).collect()
}

#[test]
fn blocks_are_found_by_kind_and_name() {
    let words = region(HEADER_WORDS + 3 * BLOCK_WORDS);
    let registry = Registry::attach_or_init(&words).unwrap();
    assert_eq!(registry.capacity(), 3);
    let a = registry
        .find_or_insert(BlockKind::Server, b"127.0.0.1:8443")
        .unwrap();
    let b = registry
        .find_or_insert(BlockKind::Rate, b"127.0.0.1:8443")
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(
        registry.find_or_insert(BlockKind::Server, b"127.0.0.1:8443"),
        Some(a)
    );
    let c = registry.find_or_insert(BlockKind::Server, b"x").unwrap();
    assert_eq!(
        registry.find_or_insert(BlockKind::Server, b"y"),
        None,
        "full"
    );
    assert_eq!(registry.len(), 3);
    bump(registry.counters(c), 5);
    // Another process, or the next configuration: same layout, same counters.
    let again = Registry::attach_or_init(&words).unwrap();
    assert_eq!(again.find_or_insert(BlockKind::Server, b"x"), Some(c));
    assert_eq!(read(again.counters(c), 5), 1);
}

#[test]
fn long_names_are_cut_and_still_found() {
    let words = region(HEADER_WORDS + BLOCK_WORDS);
    let registry = Registry::attach_or_init(&words).unwrap();
    let long = [b'a'; 300];
    let index = registry.find_or_insert(BlockKind::Server, &long).unwrap();
    assert_eq!(
        registry.find_or_insert(BlockKind::Server, &long[..NAME_MAX]),
        Some(index)
    );
    assert_eq!(registry.counters(index).len(), COUNTERS);
    assert!(registry.counters(7).is_empty());
}

#[test]
fn a_foreign_layout_is_reset() {
    let words = region(HEADER_WORDS + BLOCK_WORDS);
    words[0].store(1234, core::sync::atomic::Ordering::Relaxed);
    words[5].store(99, core::sync::atomic::Ordering::Relaxed);
    assert!(Registry::attach(&words).is_none());
    let registry = Registry::attach_or_init(&words).unwrap();
    assert!(registry.is_empty());
    assert!(Registry::attach(&words).is_some());
    assert_eq!(read(&words, 5), 0);
    assert!(Registry::attach_or_init(&region(HEADER_WORDS + BLOCK_WORDS - 1)).is_none());
}

#[test]
fn histogram_buckets_are_upper_bounds() {
    assert_eq!(histogram_bucket(0), 0);
    assert_eq!(histogram_bucket(1), 0);
    assert_eq!(histogram_bucket(2), 1);
    assert_eq!(histogram_bucket(10000), 11);
    assert_eq!(histogram_bucket(10001), 12);
}

#[test]
fn datagram_protocols_share_tcp_values_where_they_exist() {
    use crate::datagram::DatagramProtocol;
    use crate::protocol::Protocol;
    assert_eq!(
        server::datagram_offset(DatagramProtocol::Quic),
        server::DATAGRAM
    );
    assert_eq!(
        server::datagram_offset(DatagramProtocol::Wireguard),
        server::DATAGRAM + 2
    );
    let dns = Protocol::ALL
        .iter()
        .position(|p| *p == Protocol::Dns)
        .unwrap();
    assert_eq!(
        server::datagram_offset(DatagramProtocol::Dns),
        server::PROTOCOLS + dns
    );
    let unknown = Protocol::ALL.len() - 1;
    assert_eq!(
        server::datagram_offset(DatagramProtocol::Unknown),
        server::PROTOCOLS + unknown
    );
    for protocol in DatagramProtocol::ALL {
        assert!(server::datagram_offset(protocol) < server::USED);
    }
}

#[test]
fn out_of_range_counts_are_ignored() {
    bump(&[], 3);
    assert_eq!(read(&[], 3), 0);
}

#[test]
fn renders_the_text_format() {
    let server = region(COUNTERS);
    bump(&server, server::PROTOCOLS); // tls
    bump(&server, server::CLOSED);
    bump(&server, server::SIGNATURE + 1);
    bump(&server, server::TLS);
    bump(&server, server::ACCESS + 1);
    observe_preread(&server, 3);
    observe_preread(&server, 1500);
    observe_preread(&server, 20000);
    let zone = region(COUNTERS);
    bump(&zone, rate::REJECTED);
    let mut out = String::new();
    render(
        &[ServerSeries {
            name: "a\"b\\c\nd",
            signatures: &["mine", "yours"],
            counters: &server,
        }],
        &[RateSeries {
            name: "per_ip",
            counters: &zone,
            keys: Some(2),
            capacity: Some(782),
        }],
        &[TopSeries {
            name: "ja4",
            keys: &[("t13d".to_string(), 7), ("0x7f000001".to_string(), 2)],
        }],
        &mut out,
    );
    let server = r#"server="a\"b\\c\nd""#;
    for line in [
        "# TYPE sift_connections_total counter".to_string(),
        format!("sift_connections_total{{{server},protocol=\"tls\"}} 1"),
        format!("sift_connections_total{{{server},protocol=\"http\"}} 0"),
        format!("sift_connections_total{{{server},protocol=\"closed\"}} 1"),
        format!("sift_connections_total{{{server},protocol=\"yours\"}} 1"),
        format!("sift_connections_total{{{server},protocol=\"quic\"}} 0"),
        format!("sift_tls_total{{{server},status=\"ok\"}} 1"),
        format!("sift_access_total{{{server},decision=\"denied\"}} 1"),
        format!("sift_preread_seconds_bucket{{{server},le=\"0.001\"}} 0"),
        format!("sift_preread_seconds_bucket{{{server},le=\"0.005\"}} 1"),
        format!("sift_preread_seconds_bucket{{{server},le=\"2.5\"}} 2"),
        format!("sift_preread_seconds_bucket{{{server},le=\"10\"}} 2"),
        format!("sift_preread_seconds_bucket{{{server},le=\"+Inf\"}} 3"),
        format!("sift_preread_seconds_sum{{{server}}} 21.503"),
        format!("sift_preread_seconds_count{{{server}}} 3"),
        "sift_rate_total{zone=\"per_ip\",status=\"rejected\"} 1".to_string(),
        "sift_rate_zone_keys{zone=\"per_ip\"} 2".to_string(),
        "sift_rate_zone_capacity{zone=\"per_ip\"} 782".to_string(),
        "# TYPE sift_preread_seconds histogram".to_string(),
        "sift_top_count{zone=\"ja4\",key=\"t13d\"} 7".to_string(),
        "sift_top_count{zone=\"ja4\",key=\"0x7f000001\"} 2".to_string(),
        "# TYPE sift_top_count gauge".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("protocol=\"signature\""));
}

#[test]
fn seconds_are_exact() {
    assert_eq!(render::seconds_for_test(1), "0.001");
    assert_eq!(render::seconds_for_test(1500), "1.5");
    assert_eq!(render::seconds_for_test(10000), "10");
}

#[test]
fn list_entries_are_gauges_by_list() {
    let mut out = String::new();
    render_lists(
        &[
            ListSeries {
                name: "blocked_ja4",
                entries: 3,
            },
            ListSeries {
                name: "a\"b",
                entries: 0,
            },
        ],
        &mut out,
    );
    assert!(out.contains("# TYPE sift_list_entries gauge\n"), "{out}");
    assert!(
        out.contains("sift_list_entries{list=\"blocked_ja4\"} 3\n"),
        "{out}"
    );
    assert!(
        out.contains("sift_list_entries{list=\"a\\\"b\"} 0\n"),
        "{out}"
    );
}

#[test]
fn list_sync_families_only_with_synced_lists() {
    let mut out = String::new();
    render_list_syncs(&[], &mut out);
    assert!(out.is_empty());
    render_list_syncs(
        &[ListSyncSeries {
            name: "deny",
            failures: 3,
            pending: 2,
            last_success_ms: 1_764_669_012_345,
        }],
        &mut out,
    );
    assert!(
        out.contains("# TYPE sift_list_sync_failures_total counter\n"),
        "{out}"
    );
    assert!(
        out.contains("sift_list_sync_failures_total{list=\"deny\"} 3\n"),
        "{out}"
    );
    assert!(
        out.contains("sift_list_sync_pending{list=\"deny\"} 2\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "sift_list_sync_last_success_timestamp_seconds{list=\"deny\"} 1764669012.345\n"
        ),
        "{out}"
    );
}

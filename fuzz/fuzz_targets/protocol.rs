//! Fuzzes protocol detection and the detail extractors: never a panic, and
//! the invariants the nginx handler relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::protocol::{self, Probe, Protocol, Verdict};

fuzz_target!(|bytes: &[u8]| {
    let verdict = protocol::detect(bytes);

    // Monotone: once detected, every longer buffer (here: the whole input
    // against each prefix) gives the same answer.
    for end in 0..bytes.len() {
        if let Verdict::Detected(found) = protocol::detect(&bytes[..end]) {
            assert_eq!(
                verdict,
                Verdict::Detected(found),
                "prefix of {end} bytes decided otherwise"
            );
            break;
        }
    }

    // detect skips detectors by first byte: the same verdict as asking
    // every detector in PRIORITY order.
    let asked_in_order = if bytes.is_empty() {
        Verdict::NeedMore
    } else {
        protocol::PRIORITY
            .into_iter()
            .find_map(|protocol| match protocol::probe(protocol, bytes) {
                Probe::Match => Some(Verdict::Detected(protocol)),
                Probe::Prefix => Some(Verdict::NeedMore),
                Probe::NoMatch => None,
            })
            .unwrap_or(Verdict::Detected(Protocol::Unknown))
    };
    assert_eq!(verdict, asked_in_order);

    if let Verdict::Detected(found) = verdict {
        let _ = protocol::details_complete(found, bytes);
    }
    for protocol in Protocol::ALL {
        let _ = protocol::probe(protocol, bytes);
        let _ = protocol::details_complete(protocol, bytes);
    }

    // Extractors return sub-slices of their input, or nothing.
    let within = |part: &[u8]| sift_core::slice::subslice_range(bytes, part).is_some();
    if let Some(request) = protocol::http_request(bytes) {
        assert!(within(request.method) && within(request.uri) && within(request.version));
    }
    if let Some(host) = protocol::http_host(bytes) {
        assert!(within(host) || host.is_empty());
    }
    if let Some(banner) = protocol::ssh_banner(bytes) {
        assert!(within(banner));
    }
    if let Some(startup) = protocol::postgres_startup(bytes) {
        assert!(startup.user.is_none_or(within) && startup.database.is_none_or(within));
    }
    if let Some(client_id) = protocol::mqtt_client_id(bytes) {
        assert!(within(client_id) || client_id.is_empty());
    }
    if let Some(query) = protocol::dns_query(bytes) {
        assert!(within(query.name));
        assert_eq!(verdict, Verdict::Detected(Protocol::Dns));
        let label_bytes: usize = query.labels().map(|label| label.len() + 1).sum();
        assert_eq!(label_bytes + 1, query.name.len());
    }
    if let Some(header) = protocol::proxy_header(bytes) {
        assert!(header.len <= bytes.len() && header.len >= 15);
        assert_eq!(verdict, Verdict::Detected(Protocol::ProxyProtocol));
        assert!(protocol::details_complete(Protocol::ProxyProtocol, bytes));
        // What follows the header is classified on its own.
        let _ = protocol::detect(&bytes[header.len..]);
    }
    if let Some(node) = protocol::tinc_node(bytes) {
        assert!(within(node));
    }
});

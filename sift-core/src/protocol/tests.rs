//! Cross-detector tests: real first flights of each protocol, the priority
//! table, near misses and pseudo-random input.

use super::*;

struct Sample {
    name: &'static str,
    bytes: Vec<u8>,
    protocol: Protocol,
    /// The buffer length at which `detect` first answers `Detected`.
    decided_at: usize,
}

fn sample(name: &'static str, bytes: &[u8], protocol: Protocol, decided_at: usize) -> Sample {
    Sample {
        name,
        bytes: bytes.to_vec(),
        protocol,
        decided_at,
    }
}

/// A TLS 1.3 ClientHello record: one cipher suite, no extensions.
fn tls_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x6b; 32]);
    body.extend_from_slice(&[0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x00]);
    let mut handshake = vec![0x01, 0x00, 0x00, u8::try_from(body.len()).unwrap()];
    handshake.extend_from_slice(&body);
    let mut record = vec![
        0x16,
        0x03,
        0x01,
        0x00,
        u8::try_from(handshake.len()).unwrap(),
    ];
    record.extend_from_slice(&handshake);
    record
}

fn sslv2_client_hello() -> Vec<u8> {
    let mut hello = vec![
        0x80, 0x22, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
    ];
    hello.extend_from_slice(&[0x01, 0x00, 0x80, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x35]);
    hello.extend_from_slice(&[0x5a; 16]);
    hello
}

const CURL: &[u8] =
    b"GET / HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
const OPENSSH: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
const XMPP: &[u8] = b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
const PSQL: &[u8] = b"\x00\x00\x00\x4d\x00\x03\x00\x00user\x00alice\x00database\x00shop\x00application_name\x00psql\x00client_encoding\x00UTF8\x00\x00";
const MOSQUITTO_3_1_1: &[u8] =
    b"\x10\x23\x00\x04MQTT\x04\x02\x00\x3c\x00\x17mosq-8BJnODfTqpfkCl0kHB";
const MOSQUITTO_5: &[u8] = b"\x10\x2c\x00\x04MQTT\x05\x02\x00\x3c\x08\x11\x00\x00\x00\x78\x21\x00\x14\x00\x17mosq-8BJnODfTqpfkCl0kHB";
const MSTSC: &[u8] = b"\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00Cookie: mstshash=user\r\n\x01\x00\x08\x00\x0b\x00\x00\x00";
const OPENVPN_V2: &[u8] = &[
    0x00, 0x0e, 0x38, 0x8a, 0x3e, 0x20, 0x51, 0xd2, 0x7c, 0x90, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn openvpn_tls_auth() -> Vec<u8> {
    let mut packet = vec![0x00, 42, 0x38];
    packet.extend_from_slice(&[0x11; 8]);
    packet.extend_from_slice(&[0xa7; 20]);
    packet.extend_from_slice(&[0x00, 0x00, 0x00, 0x01, 0x65, 0x4b, 0x1a, 0x2c]);
    packet.extend_from_slice(&[0x00; 5]);
    packet
}

fn openvpn_v3() -> Vec<u8> {
    let mut packet = vec![0x01, 0x5a, 0x50];
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    while packet.len() < 2 + 0x15a {
        packet.push(rng.byte());
    }
    packet
}

/// First bytes of real clients, captured on loopback by
/// testdata/protocol/capture.py.
const CAPTURED: &str = include_str!("../../testdata/protocol/protocol-captured.json");

/// Where each capture is decided, by capture name.
const CAPTURED_DECIDED_AT: [(&str, usize); 13] = [
    // Length, header, `\x07example\x03com\x00`, QTYPE, QCLASS; an OPT
    // record follows.
    ("dig +tcp A", 2 + 12 + 13 + 4),
    ("dig +tcp AXFR", 2 + 12 + 13 + 4),
    // No EDNS: the question is the whole message.
    ("kdig +tcp AAAA", 35),
    // `<13>1 2`
    ("logger --tcp", 7),
    ("logger --tcp --rfc5424", 7),
    // `<13>Dec  2 05:10:34 `
    ("logger --tcp --rfc3164", 20),
    // `105 ` and `44 ` before the message.
    ("logger --tcp --octet-count", 4 + 7),
    ("logger --tcp --rfc3164 --octet-count", 3 + 20),
    ("adb connect", 24),
    ("tincd ConnectTo", 16),
    // `PROXY TCP4 127.0.0.1 127.0.0.1 PORT PORT\r\n`, 5-digit ports.
    ("nginx proxy_protocol on", 44),
    ("haproxy send-proxy", 44),
    ("haproxy send-proxy-v2", 16),
];

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

fn captured_samples() -> Vec<Sample> {
    let captures: Vec<serde_json::Value> = serde_json::from_str(CAPTURED).unwrap();
    assert_eq!(captures.len(), CAPTURED_DECIDED_AT.len());
    captures
        .iter()
        .map(|capture| {
            let name = capture["name"].as_str().unwrap();
            let (name, decided_at) = CAPTURED_DECIDED_AT
                .into_iter()
                .find(|(known, _)| *known == name)
                .unwrap_or_else(|| panic!("no decision point for {name}"));
            let protocol = capture["protocol"].as_str().unwrap().parse().unwrap();
            sample(
                name,
                &hex_bytes(capture["hex"].as_str().unwrap()),
                protocol,
                decided_at,
            )
        })
        .collect()
}

fn samples() -> Vec<Sample> {
    let mut all = builtin_samples();
    all.extend(captured_samples());
    all
}

fn builtin_samples() -> Vec<Sample> {
    let h2c = [http::H2_PREFACE, &[0, 0, 0, 4, 0, 0, 0, 0, 0]].concat();
    let xmpp_decided = reader::find(XMPP, b"jabber:client").unwrap() + 13;
    vec![
        sample("tls client hello", &tls_client_hello(), Protocol::Tls, 6),
        sample(
            "sslv2 client hello",
            &sslv2_client_hello(),
            Protocol::Tls,
            11,
        ),
        sample("openssh banner", OPENSSH, Protocol::Ssh, 8),
        sample(
            "ssh 1.99 banner",
            b"SSH-1.99-Cisco-1.25\r\n",
            Protocol::Ssh,
            9,
        ),
        sample("h2c preface", &h2c, Protocol::H2c, 24),
        sample("curl", CURL, Protocol::Http, 16),
        sample("http/1.0 lf", b"HEAD /x HTTP/1.0\n\n", Protocol::Http, 17),
        sample(
            "redis-cli ping",
            b"*1\r\n$4\r\nPING\r\n",
            Protocol::Redis,
            14,
        ),
        sample(
            "redis-cli set",
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
            Protocol::Redis,
            13,
        ),
        sample("xmpp client", XMPP, Protocol::Xmpp, xmpp_decided),
        sample(
            "curl socks4",
            &[0x04, 0x01, 0x00, 0x50, 0x5d, 0xb8, 0xd7, 0x0e, 0x00],
            Protocol::Socks4,
            9,
        ),
        sample(
            "socks4a",
            b"\x04\x01\x01\xbb\x00\x00\x00\x01alice\x00example.com\x00",
            Protocol::Socks4,
            26,
        ),
        sample("socks5 no auth", &[0x05, 0x01, 0x00], Protocol::Socks5, 3),
        sample(
            "socks5 user/pass",
            &[0x05, 0x02, 0x00, 0x02],
            Protocol::Socks5,
            4,
        ),
        sample("mstsc", MSTSC, Protocol::Rdp, 11),
        sample("openvpn v2", OPENVPN_V2, Protocol::OpenVpn, 16),
        sample(
            "openvpn v2 tls-auth",
            &openvpn_tls_auth(),
            Protocol::OpenVpn,
            44,
        ),
        sample("openvpn v3", &openvpn_v3(), Protocol::OpenVpn, 2 + 0x15a),
        sample("psql", PSQL, Protocol::Postgres, 8),
        sample(
            "ssl request",
            &[0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f],
            Protocol::Postgres,
            8,
        ),
        sample(
            "gssenc request",
            &[0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x30],
            Protocol::Postgres,
            8,
        ),
        sample("mosquitto_pub 3.1.1", MOSQUITTO_3_1_1, Protocol::Mqtt, 10),
        sample("mosquitto_pub 5", MOSQUITTO_5, Protocol::Mqtt, 10),
        sample("tinc 1.1", b"0 node_b 17.7\n", Protocol::Tinc, 14),
        sample(
            "proxy v1 tcp6",
            b"PROXY TCP6 2001:db8::1 2001:db8::2 51000 443\r\n\x16\x03\x01",
            Protocol::ProxyProtocol,
            46,
        ),
        sample(
            "proxy v1 unknown",
            b"PROXY UNKNOWN\r\n",
            Protocol::ProxyProtocol,
            15,
        ),
        sample(
            "proxy v2 local",
            b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00",
            Protocol::ProxyProtocol,
            16,
        ),
        sample(
            "syslog zero-padded day",
            b"<30>Feb 02 11:00:00 host app[1]: x\n",
            Protocol::Syslog,
            20,
        ),
    ]
}

#[test]
fn every_capture_is_in_the_samples() {
    let names: Vec<&str> = captured_samples().iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 13);
    for protocol in [
        Protocol::Dns,
        Protocol::Syslog,
        Protocol::Adb,
        Protocol::Tinc,
        Protocol::ProxyProtocol,
    ] {
        assert!(
            captured_samples().iter().any(|s| s.protocol == protocol),
            "{protocol}"
        );
    }
}

#[test]
fn extractors_on_the_captures() {
    let captures = captured_samples();
    let bytes = |name: &str| {
        captures
            .iter()
            .find(|sample| sample.name == name)
            .unwrap()
            .bytes
            .clone()
    };
    let dig = bytes("dig +tcp A");
    let query = dns_query(&dig).unwrap();
    assert_eq!(query.name, b"\x07example\x03com\x00");
    assert_eq!((query.qtype, query.qclass), (1, 1));
    assert_eq!(dns_query(&bytes("dig +tcp AXFR")).unwrap().qtype, 252);
    let kdig = bytes("kdig +tcp AAAA");
    let labels: Vec<&[u8]> = dns_query(&kdig).unwrap().labels().collect();
    assert_eq!(labels, [&b"www"[..], b"example", b"net"]);
    assert_eq!(dns_query(&kdig[..34]), None);

    let nginx = bytes("nginx proxy_protocol on");
    let header = proxy_header(&nginx).unwrap();
    assert_eq!((header.version, header.len), (1, 44));
    assert_eq!(header.source.unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(&nginx[header.len..], b"hello\n");
    let v2 = bytes("haproxy send-proxy-v2");
    let header = proxy_header(&v2).unwrap();
    assert_eq!((header.version, header.len), (2, 28));
    assert_eq!(
        header.source,
        Some("127.0.0.1:34656".parse().unwrap()),
        "the capture's source port"
    );
    assert_eq!(&v2[header.len..], b"hello\n");
    assert!(!details_complete(Protocol::ProxyProtocol, &v2[..27]));
    assert!(details_complete(Protocol::ProxyProtocol, &v2[..28]));
    // The proxied client's bytes are classified on their own.
    let mut tls_behind_proxy = nginx[..header_len_v1(&nginx)].to_vec();
    tls_behind_proxy.extend_from_slice(&tls_client_hello());
    let inner = proxy_header(&tls_behind_proxy).unwrap().len;
    assert_eq!(
        detect(&tls_behind_proxy[inner..]),
        Verdict::Detected(Protocol::Tls)
    );

    assert_eq!(
        tinc_node(&bytes("tincd ConnectTo")),
        Some(&b"sift_alice"[..])
    );
    assert_eq!(tinc_node(b"0 sift_alice 17"), None);
}

fn header_len_v1(bytes: &[u8]) -> usize {
    reader::find(bytes, b"\r\n").unwrap() + 2
}

#[test]
fn every_sample_is_decided_exactly_where_documented() {
    for sample in samples() {
        for len in 0..sample.decided_at {
            assert_eq!(
                detect(&sample.bytes[..len]),
                Verdict::NeedMore,
                "{} at {len}",
                sample.name
            );
        }
        for len in sample.decided_at..=sample.bytes.len() {
            assert_eq!(
                detect(&sample.bytes[..len]),
                Verdict::Detected(sample.protocol),
                "{} at {len}",
                sample.name
            );
        }
    }
}

#[test]
fn no_other_detector_accepts_a_full_sample() {
    for sample in samples() {
        for protocol in PRIORITY {
            if protocol != sample.protocol {
                assert_eq!(
                    probe(protocol, &sample.bytes),
                    Probe::NoMatch,
                    "{} by {protocol}",
                    sample.name
                );
            }
        }
    }
}

#[test]
fn details_are_complete_at_the_documented_point() {
    let proxy_v2 =
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x01\x87\x60\xac\xfd";
    let cases: [(&[u8], Protocol); 6] = [
        (proxy_v2, Protocol::ProxyProtocol),
        (CURL, Protocol::Http),
        (OPENSSH, Protocol::Ssh),
        (PSQL, Protocol::Postgres),
        (MOSQUITTO_3_1_1, Protocol::Mqtt),
        (MOSQUITTO_5, Protocol::Mqtt),
    ];
    for (bytes, protocol) in cases {
        for len in 0..bytes.len() {
            assert!(
                !details_complete(protocol, &bytes[..len]),
                "{protocol} at {len}"
            );
        }
        assert!(details_complete(protocol, bytes), "{protocol}");
    }
    // SSLRequest and GSSENCRequest carry nothing to wait for.
    assert!(details_complete(
        Protocol::Postgres,
        &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
    ));
    assert!(details_complete(
        Protocol::Postgres,
        &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]
    ));
    for protocol in [
        Protocol::Tls,
        Protocol::H2c,
        Protocol::OpenVpn,
        Protocol::Socks4,
        Protocol::Socks5,
        Protocol::Xmpp,
        Protocol::Rdp,
        Protocol::Redis,
        Protocol::Dns,
        Protocol::Syslog,
        Protocol::Adb,
        Protocol::Tinc,
        Protocol::Unknown,
    ] {
        assert!(details_complete(protocol, b""), "{protocol}");
    }
}

#[test]
fn details_are_complete_when_waiting_cannot_help() {
    let mut long_banner = b"SSH-2.0-".to_vec();
    long_banner.resize(300, b'a');
    assert!(details_complete(Protocol::Ssh, &long_banner));
    assert_eq!(ssh_banner(&long_banner), None);
    // StartupMessage whose parameter list lacks its terminator.
    let broken = b"\x00\x00\x00\x11\x00\x03\x00\x00user\x00bob\x00";
    assert!(details_complete(Protocol::Postgres, broken));
    assert_eq!(postgres_startup(broken), None);
    // Client id longer than the packet.
    let overrun = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x09";
    assert!(details_complete(Protocol::Mqtt, overrun));
    assert_eq!(mqtt_client_id(overrun), None);
}

#[test]
fn extractors_on_the_samples() {
    let request = http_request(CURL).unwrap();
    assert_eq!(
        (request.method, request.uri, request.version),
        (&b"GET"[..], &b"/"[..], &b"HTTP/1.1"[..])
    );
    assert_eq!(http_host(CURL), Some(&b"Example.COM"[..]));
    assert_eq!(
        ssh_banner(OPENSSH),
        Some(&b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"[..])
    );
    assert_eq!(
        postgres_startup(PSQL),
        Some(PostgresStartup {
            user: Some(b"alice"),
            database: Some(b"shop")
        })
    );
    assert_eq!(
        postgres_startup(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]),
        None
    );
    let id = Some(&b"mosq-8BJnODfTqpfkCl0kHB"[..]);
    assert_eq!(mqtt_client_id(MOSQUITTO_3_1_1), id);
    assert_eq!(mqtt_client_id(MOSQUITTO_5), id);
    assert_eq!(http_request(b"GET / HTTP/1.1"), None);
    assert_eq!(http_host(b""), None);
    assert_eq!(ssh_banner(b"SSH-2.0-x"), None);
    assert_eq!(postgres_startup(&PSQL[..20]), None);
    assert_eq!(mqtt_client_id(&MOSQUITTO_5[..20]), None);
}

/// Which first bytes leave some detector undecided.
#[test]
fn single_bytes_outside_every_detector_are_unknown_at_once() {
    for first in 0..=u8::MAX {
        let possible = matches!(first, 0x00..=0x05 | 0x0d | 0x10 | 0x16 | b'<' | 0x80..=0xff)
            || first.is_ascii_alphanumeric()
            || b"!#$%&'*+-.^_`|~".contains(&first);
        let expected = if possible {
            Verdict::NeedMore
        } else {
            Verdict::Detected(Protocol::Unknown)
        };
        assert_eq!(detect(&[first]), expected, "{first:#04x}");
    }
}

#[test]
fn near_misses_are_unknown() {
    let unknown = Verdict::Detected(Protocol::Unknown);
    for bytes in [
        &b"\x16\x03\x05"[..],
        b"\x16\x02\x00",
        b"\x17\x03\x03\x00\x10",
        b"SSH-1.5-old\r\n",
        b"PRI * HTTP/2.0\r\n\r\nXX",
        b"GET / HTTP/2\r\n",
        b"GET / HTTP/1.1 \r\n",
        b"get\t/ HTTP/1.1\r\n",
        b"\r\nGET / HTTP/1.1\r\n",
        b"PING\r\n",
        b"*1\r\n$4\r\nPI\x00G",
        b"*0\r\n",
        b"<html>",
        b"<?xml version='1.0'?><rss>",
        b"\x04\x03\x00\x50",
        b"\x04\x01\x00\x00",
        b"\x05\x00",
        b"\x05\x01\xff",
        b"\x03\x00\x00\x13\x0e\xd0",
        b"\x03\x01\x00",
        b"\x00\x0e\x40",
        b"\x00\x0d",
        b"\x01\x40\x50",
        b"\x00\x00\x00\x08\x00\x03\x00\x00",
        b"\x00\x00\x00\x4d\x00\x02",
        b"\x00\x00\x28",
        b"\x10\x23\x00\x04MQTX",
        b"\x10\x05",
        b"\x20\x02\x00\x00",
        b"\xff\xfb\x1f",
        b"{\"jsonrpc\"",
        b"\x01\x2d\x00",
        b"\x02\x01\x38",
        b"\x00\x20\x12\x34\x81",
        b"<13>2026-12-02T05:10:34Z",
        b"<13>1  ",
        b"0 node 17\r\n",
        b"0 no-de 1",
        b"CNXN\x02",
        b"CNXN\x01\x00\x00\x01\x00\x00\x10\x00\x77\x00\x00\x00\x00\x00\x00\x00\xbc\xb1\xa7\xb0",
        b"PROXY TCP4 1.2.3.04 ",
        b"PROXY UNKNOWN\n",
        b"\r\n\r\n\x00\r\nQUIT\n\x22",
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0b",
        b"",
    ] {
        if bytes.is_empty() {
            assert_eq!(detect(bytes), Verdict::NeedMore);
        } else {
            assert_eq!(detect(bytes), unknown, "{bytes:02x?}");
        }
    }
}

#[test]
fn overlaps_resolve_by_priority() {
    // An SSH banner is also an HTTP method token: ssh decides first.
    assert_eq!(probe(Protocol::Http, b"SSH-2.0-"), Probe::Prefix);
    assert_eq!(detect(b"SSH-2.0-"), Verdict::Detected(Protocol::Ssh));
    // The preface and an HTTP/1.1 PRI request part at byte 12.
    assert_eq!(detect(b"PRI * HTTP/"), Verdict::NeedMore);
    assert_eq!(
        detect(b"PRI * HTTP/1.1\r\n"),
        Verdict::Detected(Protocol::Http)
    );
    // A SOCKS4 request to port 0x5000 also starts a 1025-byte OpenVPN V3 reset.
    let socks4 = b"\x04\x01\x50\x00\x0a\x00\x00\x01u\x00";
    assert_eq!(probe(Protocol::OpenVpn, socks4), Probe::Prefix);
    assert_eq!(detect(socks4), Verdict::Detected(Protocol::Socks4));
    let mut v3 = vec![0x04, 0x01, 0x50];
    v3.extend_from_slice(&[0x9c; 1025 - 1]);
    // Byte 8 is no printable user id byte: socks4 is out, openvpn waits.
    assert_eq!(detect(&v3[..20]), Verdict::NeedMore);
    assert_eq!(detect(&v3), Verdict::Detected(Protocol::OpenVpn));
}

#[test]
fn overlaps_of_the_new_detectors() {
    // PROXY is an HTTP method token too; `PROXY UNKNOWN HTTP/1.1\r\n` is
    // a request line and a PROXY header at once: proxy_protocol ranks higher.
    let both = b"PROXY UNKNOWN HTTP/1.1\r\n";
    assert_eq!(probe(Protocol::Http, both), Probe::Match);
    assert_eq!(detect(both), Verdict::Detected(Protocol::ProxyProtocol));
    // With a bare LF it is no PROXY header, only a request line.
    assert_eq!(
        detect(b"PROXY UNKNOWN HTTP/1.1\n"),
        Verdict::Detected(Protocol::Http)
    );
    // An ordinary TCP4 header leaves http at the first address byte.
    assert_eq!(probe(Protocol::Http, b"PROXY TCP4 1"), Probe::NoMatch);
    // PRI / PROXY part at byte 2.
    assert_eq!(probe(Protocol::ProxyProtocol, b"PRI"), Probe::NoMatch);
    assert_eq!(probe(Protocol::H2c, b"PRO"), Probe::NoMatch);
    // Octet-counted syslog is an HTTP-shaped line up to its timestamp,
    // whose first byte is where http gives up and syslog decides.
    assert_eq!(probe(Protocol::Http, b"105 <13>1 "), Probe::Prefix);
    assert_eq!(detect(b"105 <13>1 "), Verdict::NeedMore);
    assert_eq!(detect(b"105 <13>1 2"), Verdict::Detected(Protocol::Syslog));
    // A tinc ID line is an HTTP-shaped line until its version.
    assert_eq!(probe(Protocol::Http, b"0 node "), Probe::Prefix);
    assert_eq!(probe(Protocol::Http, b"0 node 1"), Probe::NoMatch);
    // adb's CNXN is a token until its version bytes.
    assert_eq!(probe(Protocol::Http, b"CNXN"), Probe::Prefix);
    assert_eq!(probe(Protocol::Http, b"CNXN\x01"), Probe::NoMatch);
    // `<`: syslog's digit vs xmpp's `?` or `s`.
    assert_eq!(probe(Protocol::Xmpp, b"<1"), Probe::NoMatch);
    assert_eq!(probe(Protocol::Syslog, b"<?"), Probe::NoMatch);
    assert_eq!(probe(Protocol::Syslog, b"<s"), Probe::NoMatch);
    // dns vs postgres: a zero length is no DNS message.
    assert_eq!(probe(Protocol::Dns, b"\x00\x00"), Probe::NoMatch);
    assert_eq!(probe(Protocol::Postgres, b"\x00\x11"), Probe::NoMatch);
}

/// A DNS query whose ID starts with 0x38 also starts an OpenVPN V2 hard
/// reset of the same length: dns ranks higher and decides at the question,
/// never later than openvpn could at the packet's end.
#[test]
fn dns_queries_shaped_like_openvpn_resets() {
    let mut question = b"\x04host\x07example\x00\x00\x01\x00\x01".to_vec();
    let body_len = 12 + question.len();
    let mut v2_shaped = vec![0x00, u8::try_from(body_len).unwrap(), 0x38, 0x01];
    v2_shaped.extend_from_slice(&[0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    v2_shaped.append(&mut question);
    assert_eq!(v2_shaped.len(), 2 + body_len);
    assert_eq!(probe(Protocol::OpenVpn, &v2_shaped), Probe::Match);
    assert_eq!(detect(&v2_shaped), Verdict::Detected(Protocol::Dns));
    for len in 1..v2_shaped.len() {
        assert_eq!(detect(&v2_shaped[..len]), Verdict::NeedMore, "{len}");
    }
    // DNS lengths stop at 300, V3 lengths start at 336: disjoint.
    assert_eq!(probe(Protocol::Dns, b"\x01\x2c"), Probe::Prefix);
    assert_eq!(probe(Protocol::Dns, b"\x01\x2d"), Probe::NoMatch);
    assert_eq!(probe(Protocol::Dns, &openvpn_v3()), Probe::NoMatch);
    // And a real V2 reset is no DNS query.
    assert_eq!(probe(Protocol::Dns, OPENVPN_V2), Probe::NoMatch);
    assert_eq!(probe(Protocol::Dns, &openvpn_tls_auth()), Probe::NoMatch);
}

/// `detect` skips detectors by first byte; asking all of them in order
/// must give the same verdict.
fn detect_asking_every_detector(bytes: &[u8]) -> Verdict {
    if bytes.is_empty() {
        return Verdict::NeedMore;
    }
    for protocol in PRIORITY {
        match probe(protocol, bytes) {
            Probe::Match => return Verdict::Detected(protocol),
            Probe::Prefix => return Verdict::NeedMore,
            Probe::NoMatch => {}
        }
    }
    Verdict::Detected(Protocol::Unknown)
}

#[test]
fn first_byte_dispatch_changes_no_verdict() {
    assert!(PRIORITY.len() <= 32, "one bit per detector");
    for sample in samples() {
        for len in 0..=sample.bytes.len() {
            let prefix = &sample.bytes[..len];
            assert_eq!(
                detect(prefix),
                detect_asking_every_detector(prefix),
                "{}",
                sample.name
            );
        }
    }
    let mut rng = XorShift(0x00f1_257b_7e00_0016);
    for _ in 0..20_000 {
        let len = 1 + rng.below(24);
        let bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        assert_eq!(
            detect(&bytes),
            detect_asking_every_detector(&bytes),
            "{bytes:02x?}"
        );
    }
    for first in 0..=u8::MAX {
        for second in [
            0x00, 0x01, 0x03, b' ', b'-', b'1', b'?', b'N', b'R', b'S', 0x0a, 0xff,
        ] {
            let bytes = [first, second];
            assert_eq!(
                detect(&bytes),
                detect_asking_every_detector(&bytes),
                "{bytes:02x?}"
            );
        }
    }
}

#[test]
fn priority_lists_every_detector_once() {
    for protocol in Protocol::ALL {
        let count = PRIORITY.iter().filter(|&&p| p == protocol).count();
        let expected = usize::from(protocol != Protocol::Unknown);
        assert_eq!(count, expected, "{protocol}");
    }
}

#[test]
fn protocol_names() {
    let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "tls",
            "http",
            "h2c",
            "ssh",
            "openvpn",
            "socks4",
            "socks5",
            "xmpp",
            "rdp",
            "postgres",
            "mqtt",
            "redis",
            "dns",
            "syslog",
            "adb",
            "tinc",
            "proxy_protocol",
            "unknown"
        ]
    );
    for protocol in Protocol::ALL {
        assert_eq!(protocol.as_str().parse::<Protocol>(), Ok(protocol));
        assert_eq!(protocol.to_string(), protocol.as_str());
    }
    assert_eq!("TLS".parse::<Protocol>(), Err(UnknownProtocolName));
    assert_eq!("".parse::<Protocol>(), Err(UnknownProtocolName));
}

/// Marsaglia's xorshift64: a fixed seed gives the same bytes every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
    }
}

/// Runs everything public on every prefix of `bytes` and checks that
/// verdicts and probes never change once decided.
fn check_all_prefixes(bytes: &[u8]) {
    let mut decided = None;
    let mut settled_probes = [None; PRIORITY.len()];
    for len in 0..=bytes.len() {
        let prefix = &bytes[..len];
        let verdict = detect(prefix);
        match decided {
            Some(earlier) => assert_eq!(verdict, earlier, "{bytes:02x?} at {len}"),
            None if verdict != Verdict::NeedMore => decided = Some(verdict),
            None => {}
        }
        for (protocol, settled) in PRIORITY.into_iter().zip(&mut settled_probes) {
            let answer = probe(protocol, prefix);
            match settled {
                Some(earlier) => {
                    assert_eq!(answer, *earlier, "{protocol} on {bytes:02x?} at {len}")
                }
                None if answer != Probe::Prefix => *settled = Some(answer),
                None => {}
            }
        }
        for protocol in Protocol::ALL {
            details_complete(protocol, prefix);
        }
        http_request(prefix);
        http_host(prefix);
        ssh_banner(prefix);
        postgres_startup(prefix);
        mqtt_client_id(prefix);
        if let Some(query) = dns_query(prefix) {
            assert!(query.labels().count() < 128);
        }
        if let Some(header) = proxy_header(prefix) {
            assert!(header.len <= prefix.len());
        }
        tinc_node(prefix);
    }
}

#[test]
fn random_bytes_never_panic_and_verdicts_are_monotone() {
    let mut rng = XorShift(0x5eed_1234_dead_beef);
    for _ in 0..3000 {
        let len = rng.below(48);
        let bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        check_all_prefixes(&bytes);
    }
}

#[test]
fn mutated_samples_never_panic_and_verdicts_are_monotone() {
    let mut rng = XorShift(0x0bad_cafe_f00d_0001);
    let samples = samples();
    for round in 0..1500 {
        let sample = &samples[round % samples.len()];
        let mut bytes = sample.bytes.clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = rng.byte(),
                1 => bytes.truncate(at),
                _ => bytes.insert(at, rng.byte()),
            }
            if bytes.is_empty() {
                bytes.push(rng.byte());
            }
        }
        check_all_prefixes(&bytes);
    }
}

#[test]
fn samples_followed_by_noise_keep_their_verdict() {
    let mut rng = XorShift(42);
    for sample in samples() {
        let mut bytes = sample.bytes.clone();
        bytes.extend((0..64).map(|_| rng.byte()));
        assert_eq!(
            detect(&bytes),
            Verdict::Detected(sample.protocol),
            "{}",
            sample.name
        );
        check_all_prefixes(&bytes);
    }
}

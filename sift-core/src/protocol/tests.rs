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

fn samples() -> Vec<Sample> {
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
    ]
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
    let cases: [(&[u8], Protocol); 5] = [
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
        let possible = matches!(first, 0x00..=0x05 | 0x10 | 0x16 | b'<' | 0x80..=0xff)
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
            "tls", "http", "h2c", "ssh", "openvpn", "socks4", "socks5", "xmpp", "rdp", "postgres",
            "mqtt", "redis", "unknown"
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

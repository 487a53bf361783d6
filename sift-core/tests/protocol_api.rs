//! The protocol module's public contract, as the nginx handler uses it:
//! names, signatures and the answers it relies on.

use sift_core::protocol::{
    details_complete, detect, detect_with, dns_query, http_host, http_request, mqtt_client_id,
    postgres_startup, probe, proxy_header, ssh_banner, tinc_node, Detection, DnsQuery, HttpRequest,
    PostgresStartup, Probe, Protocol, ProxyHeader, Signature, SignatureError, SignatureSet,
    UnknownProtocolName, Verdict, PRIORITY,
};

#[test]
fn signatures_are_the_agreed_ones() {
    let _: fn(&[u8]) -> Verdict = detect;
    let _: fn(Protocol, &[u8]) -> bool = details_complete;
    let _: for<'a> fn(&'a [u8]) -> Option<HttpRequest<'a>> = http_request;
    let _: for<'a> fn(&'a [u8]) -> Option<&'a [u8]> = http_host;
    let _: for<'a> fn(&'a [u8]) -> Option<&'a [u8]> = ssh_banner;
    let _: for<'a> fn(&'a [u8]) -> Option<PostgresStartup<'a>> = postgres_startup;
    let _: for<'a> fn(&'a [u8]) -> Option<&'a [u8]> = mqtt_client_id;
    let _: fn(Protocol, &[u8]) -> Probe = probe;
    const NAME: &str = Protocol::Tls.as_str();
    assert_eq!(NAME, "tls");
    assert_eq!(PRIORITY.len(), Protocol::ALL.len() - 1);
    assert_eq!("nope".parse::<Protocol>(), Err(UnknownProtocolName));
}

/// What the preread handler does: feed growing buffers, stop at the first
/// verdict, then read on until the details are complete.
fn handle(stream: &[u8], chunk: usize) -> (Protocol, usize, usize) {
    let mut received = 0;
    let protocol = loop {
        received = (received + chunk).min(stream.len());
        match detect(&stream[..received]) {
            Verdict::Detected(protocol) => break protocol,
            Verdict::NeedMore if received == stream.len() => {
                return (Protocol::Unknown, received, received)
            }
            Verdict::NeedMore => {}
        }
    };
    let detected_at = received;
    while !details_complete(protocol, &stream[..received]) && received < stream.len() {
        received = (received + chunk).min(stream.len());
    }
    (protocol, detected_at, received)
}

#[test]
fn a_curl_request_read_three_bytes_at_a_time() {
    let request = b"GET /index.html HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    let (protocol, detected_at, complete_at) = handle(request, 3);
    assert_eq!(protocol, Protocol::Http);
    assert_eq!(detected_at, 27);
    assert_eq!(complete_at, request.len());
    let line = http_request(request).unwrap();
    assert_eq!(line.method, b"GET");
    assert_eq!(line.uri, b"/index.html");
    assert_eq!(line.version, b"HTTP/1.1");
    assert_eq!(
        http_host(request).map(<[u8]>::to_ascii_lowercase),
        Some(b"example.com".to_vec())
    );
}

#[test]
fn an_ssh_client_read_one_byte_at_a_time() {
    let stream = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x05\xdc\x04\x14";
    let (protocol, detected_at, complete_at) = handle(stream, 1);
    assert_eq!((protocol, detected_at, complete_at), (Protocol::Ssh, 8, 40));
    assert_eq!(
        ssh_banner(&stream[..complete_at]),
        Some(&b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"[..])
    );
}

#[test]
fn a_psql_startup_and_an_ssl_request() {
    let startup = b"\x00\x00\x00\x24\x00\x03\x00\x00user\x00postgres\x00database\x00app\x00\x00";
    assert_eq!(startup.len(), 0x24);
    assert_eq!(handle(startup, 5), (Protocol::Postgres, 10, 0x24));
    assert_eq!(
        postgres_startup(startup),
        Some(PostgresStartup {
            user: Some(b"postgres"),
            database: Some(b"app")
        })
    );
    let ssl_request = [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f];
    assert_eq!(handle(&ssl_request, 8), (Protocol::Postgres, 8, 8));
    assert_eq!(postgres_startup(&ssl_request), None);
}

#[test]
fn an_mqtt_connect_and_unknown_bytes() {
    let connect = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04dev1";
    assert_eq!(handle(connect, 4), (Protocol::Mqtt, 12, 18));
    assert_eq!(mqtt_client_id(connect), Some(&b"dev1"[..]));
    assert_eq!(detect(b"\x7f"), Verdict::Detected(Protocol::Unknown));
    assert_eq!(detect(b""), Verdict::NeedMore);
}

#[test]
fn the_issue_16_api() {
    let _: for<'a> fn(&'a [u8]) -> Option<DnsQuery<'a>> = dns_query;
    let _: fn(&[u8]) -> Option<ProxyHeader> = proxy_header;
    let _: for<'a> fn(&'a [u8]) -> Option<&'a [u8]> = tinc_node;
    let _: fn(&SignatureSet, &[u8]) -> Detection = detect_with;
    let _: fn(&str, &[&str]) -> Result<Signature, SignatureError> = Signature::parse;
    let _: fn(&mut SignatureSet, &str, &[&str]) -> Result<usize, SignatureError> =
        SignatureSet::add;
    for (protocol, name) in [
        (Protocol::Dns, "dns"),
        (Protocol::Syslog, "syslog"),
        (Protocol::Adb, "adb"),
        (Protocol::Tinc, "tinc"),
        (Protocol::ProxyProtocol, "proxy_protocol"),
    ] {
        assert_eq!(protocol.as_str(), name);
        assert_eq!(name.parse::<Protocol>(), Ok(protocol));
    }
}

/// What the preread handler would do with a PROXY header in front of a
/// TLS client and a configured signature.
#[test]
fn a_proxied_client_and_a_signature() {
    let mut stream = b"PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n".to_vec();
    stream.extend_from_slice(b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03");
    let mut signatures = SignatureSet::new();
    signatures.add("mygame", &["prefix=ca:fe"]).unwrap();
    assert_eq!(
        detect_with(&signatures, &stream),
        Detection::Protocol(Protocol::ProxyProtocol)
    );
    let header = proxy_header(&stream).unwrap();
    assert_eq!(header.source.unwrap().to_string(), "192.0.2.7:51234");
    assert_eq!(
        detect_with(&signatures, &stream[header.len..]),
        Detection::Protocol(Protocol::Tls)
    );
    let game = b"\xca\xfe\x00\x10";
    let found = detect_with(&signatures, game);
    assert_eq!(found, Detection::Signature(0));
    assert_eq!(found.name(&signatures), Some("mygame"));
    assert_eq!(detect_with(&signatures, b"\xca"), Detection::NeedMore);
}

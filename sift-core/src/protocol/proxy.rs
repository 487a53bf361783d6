//! The PROXY protocol (HAProxy's `proxy-protocol.txt`): a header a proxy
//! sends before the client's own bytes, carrying the client's address.
//! Version 1 is a text line, `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or
//! `PROXY UNKNOWN...\r\n`, at most 107 bytes; version 2 is binary, a
//! 12-byte signature, version/command, family/transport, a big-endian u16
//! length and that many bytes of addresses and TLVs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::reader::{Parsed, Reader, Stop};
use super::ProxyHeader;

/// The whole v1 line, CRLF included, is at most this long.
const V1_MAX_LEN: usize = 107;
const V1_FAMILIES: [&[u8]; 3] = [b"TCP4 ", b"TCP6 ", b"UNKNOWN"];
/// `\r\n\r\n\0\r\nQUIT\n`.
pub(crate) const V2_SIGNATURE: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n";
const V2_FIXED_LEN: usize = 16;
const V2_LOCAL: u8 = 0x20;
const V2_PROXY: u8 = 0x21;
/// Family (high nibble: UNSPEC, INET, INET6, UNIX) and transport (low:
/// STREAM or DGRAM); UNSPEC only with an unspecified transport.
const fn is_v2_family(byte: u8) -> bool {
    matches!(byte, 0x00 | 0x11 | 0x12 | 0x21 | 0x22 | 0x31 | 0x32)
}
/// An IPv6 address in text: 2 (`::`) to 45 (`ffff:...:255.255.255.255`)
/// bytes.
const MAX_V6_TEXT_LEN: usize = 45;

/// Decided at the CRLF for version 1 and after the 16-byte fixed part for
/// version 2 (its signature alone is twelve bytes no other protocol
/// starts with).
pub(crate) fn header_start(bytes: &[u8]) -> Parsed<()> {
    match bytes.first() {
        None => Err(Stop::Incomplete),
        Some(b'P') => v1(bytes).map(|_| ()),
        Some(_) => v2_fixed(&mut Reader::new(bytes)).map(|_| ()),
    }
}

/// The whole header: through CRLF for v1, all 16 + length bytes for v2.
pub(crate) fn header(bytes: &[u8]) -> Parsed<ProxyHeader> {
    match bytes.first() {
        None => Err(Stop::Incomplete),
        Some(b'P') => v1(bytes),
        Some(_) => v2(bytes),
    }
}

fn v1(bytes: &[u8]) -> Parsed<ProxyHeader> {
    let mut reader = Reader::with_limit(bytes, V1_MAX_LEN);
    reader.literal(b"PROXY ")?;
    let family = reader.one_of(&V1_FAMILIES)?;
    let (source, destination) = if family == b"UNKNOWN" {
        // The rest of the line, if any, is to be ignored.
        if reader.one_of(&[b"\r\n", b" "])? == b" " {
            reader.until(b'\r', V1_MAX_LEN, |byte| matches!(byte, 0x20..=0x7e))?;
            reader.literal(b"\n")?;
        }
        (None, None)
    } else {
        let v4 = family == b"TCP4 ";
        let source = address(&mut reader, v4)?;
        let destination = address(&mut reader, v4)?;
        let source_port = port(&mut reader)?;
        reader.literal(b" ")?;
        let destination_port = port(&mut reader)?;
        reader.literal(b"\r\n")?;
        (
            source.map(|ip| SocketAddr::new(ip, source_port)),
            destination.map(|ip| SocketAddr::new(ip, destination_port)),
        )
    };
    Ok(ProxyHeader {
        version: 1,
        len: V1_MAX_LEN.saturating_sub(reader.room()),
        source,
        destination,
    })
}

/// An address and the space after it. IPv4: four decimals 0..=255 without
/// leading zeros. IPv6: 2..=45 bytes of hex digits, `:` and `.` with at
/// least two colons, checked at the space; the address itself is `None`
/// if it does not parse as IPv6.
fn address(reader: &mut Reader<'_>, v4: bool) -> Parsed<Option<IpAddr>> {
    if v4 {
        let mut octets = [0u8; 4];
        for (index, octet) in octets.iter_mut().enumerate() {
            if index > 0 {
                reader.literal(b".")?;
            }
            *octet = u8::try_from(reader.decimal(255)?).map_err(|_| Stop::Invalid)?;
        }
        reader.literal(b" ")?;
        return Ok(Some(IpAddr::V4(Ipv4Addr::from(octets))));
    }
    let text = reader.until(b' ', MAX_V6_TEXT_LEN, |byte| {
        byte.is_ascii_hexdigit() || byte == b':' || byte == b'.'
    })?;
    if text.len() < 2 || text.iter().filter(|&&byte| byte == b':').count() < 2 {
        return Err(Stop::Invalid);
    }
    Ok(core::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6))
}

fn port(reader: &mut Reader<'_>) -> Parsed<u16> {
    let value = reader.decimal(usize::from(u16::MAX))?;
    u16::try_from(value).map_err(|_| Stop::Invalid)
}

/// The fixed part: command, family byte and the length that follows.
fn v2_fixed(reader: &mut Reader<'_>) -> Parsed<(u8, u8, usize)> {
    reader.literal(V2_SIGNATURE)?;
    let command = reader.byte_where(|byte| byte == V2_LOCAL || byte == V2_PROXY)?;
    let family = reader.byte_where(is_v2_family)?;
    // PROXY must carry the addresses of its family; LOCAL's are ignored.
    let min_len = match (command, family >> 4) {
        (V2_PROXY, 1) => 12,
        (V2_PROXY, 2) => 36,
        (V2_PROXY, 3) => 216,
        _ => 0,
    };
    let len = reader.uint_in(2, min_len, usize::from(u16::MAX))?;
    Ok((command, family, len))
}

fn v2(bytes: &[u8]) -> Parsed<ProxyHeader> {
    let mut reader = Reader::new(bytes);
    let (command, family, len) = v2_fixed(&mut reader)?;
    let mut body = reader.nested(len)?;
    // All of it must be in, TLVs included, before the client's bytes.
    if body.rest().len() < body.room() {
        return Err(Stop::Incomplete);
    }
    let (source, destination) = match (command, family >> 4) {
        (V2_PROXY, 1) => {
            let source: [u8; 4] = array(&mut body)?;
            let destination: [u8; 4] = array(&mut body)?;
            let (source_port, destination_port) = ports(&mut body)?;
            (
                Some(SocketAddr::new(Ipv4Addr::from(source).into(), source_port)),
                Some(SocketAddr::new(
                    Ipv4Addr::from(destination).into(),
                    destination_port,
                )),
            )
        }
        (V2_PROXY, 2) => {
            let source: [u8; 16] = array(&mut body)?;
            let destination: [u8; 16] = array(&mut body)?;
            let (source_port, destination_port) = ports(&mut body)?;
            (
                Some(SocketAddr::new(Ipv6Addr::from(source).into(), source_port)),
                Some(SocketAddr::new(
                    Ipv6Addr::from(destination).into(),
                    destination_port,
                )),
            )
        }
        _ => (None, None),
    };
    Ok(ProxyHeader {
        version: 2,
        len: V2_FIXED_LEN.saturating_add(len),
        source,
        destination,
    })
}

fn array<const N: usize>(reader: &mut Reader<'_>) -> Parsed<[u8; N]> {
    reader.take(N)?.try_into().map_err(|_| Stop::Invalid)
}

fn ports(reader: &mut Reader<'_>) -> Parsed<(u16, u16)> {
    let source: [u8; 2] = array(reader)?;
    let destination: [u8; 2] = array(reader)?;
    Ok((u16::from_be_bytes(source), u16::from_be_bytes(destination)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nginx 1.22 `proxy_protocol on`, then the client's `hello\n`.
    const NGINX_V1: &[u8] = b"PROXY TCP4 127.0.0.1 127.0.0.1 45556 48351\r\nhello\n";
    /// haproxy 2.6 `send-proxy-v2`, then the client's `hello\n`.
    const HAPROXY_V2: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x01\x87\x60\xac\xfdhello\n";

    #[test]
    fn v1_is_decided_at_crlf() {
        let line_end = NGINX_V1.len() - 6;
        for len in 0..line_end {
            assert_eq!(
                header_start(&NGINX_V1[..len]),
                Err(Stop::Incomplete),
                "{len}"
            );
        }
        assert_eq!(header_start(&NGINX_V1[..line_end]), Ok(()));
        let parsed = header(NGINX_V1).unwrap();
        assert_eq!(parsed.version, 1);
        assert_eq!(parsed.len, line_end);
        assert_eq!(parsed.source, Some("127.0.0.1:45556".parse().unwrap()));
        assert_eq!(parsed.destination, Some("127.0.0.1:48351".parse().unwrap()));
    }

    #[test]
    fn v1_tcp6_and_unknown() {
        let tcp6 = b"PROXY TCP6 2001:db8::1 ::ffff:192.0.2.7 65535 0\r\n";
        let parsed = header(tcp6).unwrap();
        assert_eq!(parsed.source, Some("[2001:db8::1]:65535".parse().unwrap()));
        assert_eq!(
            parsed.destination,
            Some("[::ffff:192.0.2.7]:0".parse().unwrap())
        );
        // Shaped like IPv6 but not parseable: detected, no address.
        let odd = header(b"PROXY TCP6 1:2:3 ::1 1 2\r\n").unwrap();
        assert_eq!((odd.source, odd.len), (None, 26));
        assert!(odd.destination.is_some());
        for unknown in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        ] {
            let parsed = header(unknown).unwrap();
            assert_eq!((parsed.source, parsed.len), (None, unknown.len()));
        }
        // The longest possible line is 107 bytes.
        let mut longest = b"PROXY UNKNOWN ".to_vec();
        longest.resize(105, b'x');
        longest.extend_from_slice(b"\r\n");
        assert_eq!(header(&longest).map(|h| h.len), Ok(107));
        longest.insert(20, b'x');
        assert_eq!(header(&longest), Err(Stop::Invalid));
    }

    #[test]
    fn v1_near_misses() {
        for bytes in [
            &b"PROXY TCP5 "[..],
            b"PROXY  TCP4",
            b"PROXY tcp4",
            b"PROXY TCP4 127.0.0.01 ",
            b"PROXY TCP4 256.0.0.1 ",
            b"PROXY TCP4 1.2.3 ",
            b"PROXY TCP4 1.2.3.4  ",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 65536",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 02",
            b"PROXY TCP6 1.2.3.4 ",
            b"PROXY TCP6 : ",
            b"PROXY TCP6 fe80::1%eth0",
            b"PROXY UNKNOWN\n",
            b"PROXY UNKNOWNX",
            b"PROXY UNKNOWN \x00",
            b"PRI * HTTP/2.0",
        ] {
            assert_eq!(
                header_start(bytes),
                Err(Stop::Invalid),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn v2_is_decided_after_sixteen_bytes() {
        for len in 0..V2_FIXED_LEN {
            assert_eq!(
                header_start(&HAPROXY_V2[..len]),
                Err(Stop::Incomplete),
                "{len}"
            );
        }
        assert_eq!(header_start(&HAPROXY_V2[..V2_FIXED_LEN]), Ok(()));
        // The details need all 12 address bytes.
        for len in 0..28 {
            assert!(header(&HAPROXY_V2[..len]).is_err(), "{len}");
        }
        let parsed = header(HAPROXY_V2).unwrap();
        assert_eq!(parsed.version, 2);
        assert_eq!(parsed.len, 28);
        assert_eq!(parsed.source, Some("127.0.0.1:34656".parse().unwrap()));
        assert_eq!(parsed.destination, Some("127.0.0.1:44285".parse().unwrap()));
    }

    #[test]
    fn v2_families_and_commands() {
        let mut v6 = V2_SIGNATURE.to_vec();
        v6.extend_from_slice(&[0x21, 0x21, 0x00, 0x24 + 5]);
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6.extend_from_slice(&[0; 11]);
        v6.push(1);
        v6.extend_from_slice(&[0; 15]);
        v6.push(2);
        v6.extend_from_slice(&[0x01, 0xbb, 0x00, 0x50]);
        // A TLV (PP2_TYPE_NOOP) after the addresses.
        v6.extend_from_slice(&[0x04, 0x00, 0x02, 0xaa, 0xbb]);
        let parsed = header(&v6).unwrap();
        assert_eq!(parsed.len, 16 + 41);
        assert_eq!(parsed.source, Some("[2001:db8::1]:443".parse().unwrap()));
        assert_eq!(parsed.destination, Some("[::2]:80".parse().unwrap()));
        assert_eq!(header(&v6[..v6.len() - 1]), Err(Stop::Incomplete));
        // LOCAL (a health check): no addresses, nothing else to wait for.
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        let parsed = header(&local).unwrap();
        assert_eq!((parsed.len, parsed.source), (16, None));
        for (command, family, len) in [
            (0x22, 0x11, 12),
            (0x11, 0x11, 12),
            (0x21, 0x13, 12),
            (0x21, 0x01, 12),
            (0x21, 0x11, 11),
            (0x21, 0x21, 35),
            (0x21, 0x31, 215),
        ] {
            let mut bytes = V2_SIGNATURE.to_vec();
            bytes.extend_from_slice(&[command, family]);
            bytes.extend_from_slice(&u16::to_be_bytes(len));
            assert_eq!(
                header_start(&bytes),
                Err(Stop::Invalid),
                "{command:02x} {family:02x} {len}"
            );
        }
        assert_eq!(header_start(b"\r\n\r\n\x00\r\nQUIX"), Err(Stop::Invalid));
        assert_eq!(header_start(b"\r\r"), Err(Stop::Invalid));
    }
}

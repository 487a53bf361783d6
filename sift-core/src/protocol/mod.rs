//! Protocol detection from a client's first bytes.
//!
//! nginx calls [`detect`] in the stream preread phase each time more bytes
//! arrive, always on the whole buffer so far. Detection never allocates,
//! never panics and reads nothing past the slice it is given.
//!
//! # How a verdict is reached
//!
//! Every detector looks at the bytes and answers a [`Probe`]: `Match` (the
//! bytes so far are enough to say it is this protocol), `Prefix` (not yet,
//! but some continuation could match) or `NoMatch` (no continuation can).
//! Detectors are exact on prefixes: `Prefix` only while a match is still
//! possible, so garbage is rejected at its first impossible byte. (The one
//! looseness: a header that must fit a length bound, like xmpp's 1024
//! bytes or a syslog octet count, stays `Prefix` until the bound is
//! reached even when what is missing could no longer fit.)
//!
//! [`detect`] asks the detectors in the fixed order of [`PRIORITY`] and
//! stops at the first answer that is not `NoMatch`: a `Match` is the
//! verdict, a `Prefix` means [`Verdict::NeedMore`] (a detector ranked higher
//! is still undecided, so a lower one's match must wait). All `NoMatch` is
//! `Detected(Unknown)`; empty input is `NeedMore`. Verdicts are monotone:
//! once `Detected(p)` for some bytes, every longer buffer starting with them
//! gives `Detected(p)` too.
//!
//! # Detection table
//!
//! "Decided" is the buffer length at which the verdict becomes final for a
//! well-formed sample; anything shorter is `NeedMore`.
//!
//! | rank | protocol | bytes that decide | decided after |
//! |-----:|----------|-------------------|---------------|
//! | 1 | `tls` | record `16 03 {00..04} LEN(1..=16384) 01` (handshake, ClientHello) | 6 bytes |
//! | 1 | `tls` | SSLv2-framed hello: `{80..ff} LEN 01`, version `00 02` or `03 {00..03}`, cipher-spec length a multiple of 3, session-id length 0 or 16, challenge 16..=32, and 9 + those three = record length | 11 bytes |
//! | 2 | `ssh` | `SSH-2.0-` or `SSH-1.99-` | 8 or 9 bytes |
//! | 3 | `proxy_protocol` | v1: `PROXY SP`, then `TCP4 SP SRC SP DST SP SPORT SP DPORT` (dotted quads, octets and ports without leading zeros, ports ≤ 65535), `TCP6 ...` (addresses of 2..=45 hex digits, `:` and `.` with at least two colons) or `UNKNOWN` (then CRLF, or SP and printable ASCII), then CRLF, all within 107 bytes | v1: the CRLF (44 bytes for nginx's TCP4 line on loopback) |
//! | 3 | `proxy_protocol` | v2: `0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a`, command `20` (LOCAL) or `21` (PROXY), family/transport `00`, `11`, `12`, `21`, `22`, `31` or `32`, length u16 (with PROXY at least the family's addresses: 12, 36, 216) | v2: 16 bytes |
//! | 4 | `h2c` | the whole preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` | 24 bytes |
//! | 5 | `http` | `token SP target SP HTTP/1.0\|HTTP/1.1 CRLF\|LF`; token: any RFC 9110 token of at most 32 bytes; target: bytes `21..7e` and `80..ff` | the request line's LF |
//! | 6 | `redis` | `*N\r\n$L\r\nNAME\r\n`: N in 1..=2^31-1, L in 1..=64, decimals without sign or leading zero, NAME of letters, digits, `.`, `_`, `-` | the first element's CRLF (14 bytes for `PING`) |
//! | 7 | `xmpp` | optional `<?xml` S ... `?>`, optional S, then `<stream:stream` S, and `jabber:client` or `jabber:server` before the tag's `>`, all within 1024 bytes | the namespace's last byte |
//! | 8 | `syslog` | optional RFC 6587 octet count `MSG-LEN SP` (6..=2^20, no leading zero), `<PRI>` (0..=191, no leading zero), then either RFC 5424 `VERSION SP` (1..=999) and TIMESTAMP's first byte (a digit or `-`), or RFC 3164's `Mmm dd hh:mm:ss SP` (day space- or zero-padded, hour 00..=23, minutes and seconds 00..=59) | RFC 5424: 7 bytes for `<13>1 2`; RFC 3164: 20 bytes for `<13>Dec  2 05:10:57 `; plus the octet count and its SP |
//! | 9 | `tinc` | `0 SP NAME SP MAJOR[.MINOR] LF`: NAME 1..=255 letters, digits or `_`; MAJOR 1..=255, MINOR 0..=255, no leading zeros | the LF (16 bytes for `0 sift_alice 17\n`) |
//! | 10 | `adb` | `CNXN`, version `00 00 00 01` or `01 00 00 01`, max payload (u32 LE) 1..=2^20, payload length (u32 LE) at most that, any checksum, magic `bc b1 a7 b1` | 24 bytes |
//! | 11 | `socks4` | `04 {01\|02} PORT(≠0) IP(≠0.0.0.0) USERID 00`, USERID printable ASCII ≤ 255 bytes; for SOCKS4a (IP `0.0.0.x`) also `DOMAIN 00`, DOMAIN 1..=255 bytes of `21..7e` | the last NUL (9 bytes at least) |
//! | 12 | `socks5` | `05 N METHODS`: N ≥ 1, each method `00..09` (IANA) or `80..fe` (private) | 2 + N bytes (3 for `05 01 00`) |
//! | 13 | `rdp` | TPKT `03 00 LEN(11..=259)`, X.224 `LI=LEN-5 E0 DST(2) SRC(2) CLASS(0x)` | 11 bytes |
//! | 14 | `dns` | `LEN(17..=300)`, ID, flags with QR, OPCODE, AA, TC, RA, Z and RCODE 0 (RD, AD, CD free), QDCOUNT 1, ANCOUNT 0, NSCOUNT ≤ 1, ARCOUNT ≤ 2, an uncompressed QNAME of visible-ASCII labels (≤ 63 bytes each, ≤ 255 in all), QTYPE ≠ 0, QCLASS IN, CH, HS, NONE or ANY; the question leaves 11 bytes per announced record, and fills the message exactly when none is announced | the question's last byte (31 bytes for dig's `example.com A`, all 35 of kdig's `www.example.net AAAA`) |
//! | 15 | `openvpn` | `LEN(2) 38` with LEN 14..=255 (hard reset V2) or `LEN(2) 50` with LEN 336..=1278 (V3, tls-crypt-v2), key id 0, then the whole packet | 2 + LEN bytes |
//! | 16 | `postgres` | `00000008 04d2162f` (SSLRequest) or `04d21630` (GSSENCRequest); `LEN 04d2162e` with LEN 16..=268 (CancelRequest); `LEN 00030000` or `00030002` with LEN 9..=10004 (StartupMessage 3.0, 3.2) | 8 bytes |
//! | 17 | `mqtt` | `10 REMAINING(varint ≥ 12)`, `00 04 MQTT` level 4 or 5, or `00 06 MQIsdp` level 3 (the mosquitto bridge bit 0x80 allowed on top), connect flags with reserved bit 0 and will QoS ≠ 3, and the remaining length large enough for keep alive and client id length | the flags byte (10 bytes for `MQTT`, 12 for `MQIsdp`, with a one-byte remaining length) |
//!
//! The bytes each detector accepts as a first byte, so that anything else
//! is `Unknown` after a single byte: `00` (postgres, openvpn, dns), `01`
//! (openvpn, dns), `02` (openvpn), `03` (rdp, openvpn), `04` (socks4,
//! openvpn), `05` (socks5), `0d` (proxy_protocol v2), `10` (mqtt), `16`
//! and `80`-`ff` (tls), `<` (xmpp, syslog), and RFC 9110 token characters
//! (http; among them `S` for ssh, `P` for h2c and proxy_protocol v1, `*`
//! for redis, `1`-`9` for syslog's octet count, `0` for tinc, `C` for
//! adb).
//!
//! # Ambiguities and how they are resolved
//!
//! - **ssh vs http**: `SSH-2.0-...` is also a valid HTTP method token. ssh
//!   ranks higher and decides at 8 bytes; a real banner could not complete
//!   an HTTP request line anyway.
//! - **h2c vs http**: `PRI` is a valid method, so both are `Prefix` on
//!   `PRI * HTTP/`; the next byte (`2` vs `1`) separates them. The preface
//!   is never http; `PRI * HTTP/1.1` is http. h2c also ranks higher.
//! - **redis vs http**: `*` is a token character; the CR after the count
//!   rules http out.
//! - **socks4 vs openvpn**: `04 01 50` / `04 02 50` start both a SOCKS4
//!   request to a port `0x50xx` and a V3 hard reset of 1025 or 1026 bytes.
//!   socks4 ranks higher, so a SOCKS4 request is decided at its NUL without
//!   waiting for 1027 bytes that will never come; a V3 packet is taken for
//!   socks4 only if its bytes from offset 8 (HMAC, ciphertext) are printable
//!   ASCII up to a NUL, which real ones are not in practice.
//! - **rdp vs openvpn**, **postgres vs openvpn**: disjoint at the third
//!   (`00`/`01` vs `50`) resp. second byte (`00` vs ≥ `0e`).
//! - **proxy_protocol vs h2c vs http** (`P`): `PROXY` is a valid HTTP
//!   method token and shares `PR` with h2c's `PRI`. h2c parts at byte 2
//!   (`I` vs `O`). A TCP4/TCP6 line leaves http at the first address byte
//!   (a digit or hex digit where `HTTP/` must come). `PROXY UNKNOWN
//!   HTTP/1.1\r\n` is both a PROXY v1 header and a request line:
//!   proxy_protocol ranks higher and takes it, as it does every PROXY
//!   header, which by definition precedes whatever the client speaks. With
//!   a bare LF that line is no PROXY header, only http.
//! - **syslog vs xmpp** (`<`): syslog's second byte is a digit, xmpp's `?`
//!   or `s`.
//! - **syslog vs http**: an octet-counted message `105 <13>1 ...` is an
//!   HTTP-shaped line (token `105`, target `<13>1`) until the byte where
//!   `HTTP/` would have to start; RFC 5424's TIMESTAMP starts there (a
//!   digit or `-`), RFC 3164's day is space-padded or a digit, so http is
//!   out exactly when, or before, syslog decides: no delay, either order.
//!   The octet count has no leading zero, so `0` is never syslog.
//! - **tinc vs http**: `0 NAME ` is HTTP-shaped (token `0`, target NAME)
//!   until the version, where a digit stands for `HTTP/`; tinc decides at
//!   its LF, later. Unframed syslog starts with `<`, tinc with `0`:
//!   disjoint.
//! - **adb vs http**: `CNXN` is a token; its version bytes (`00`/`01`)
//!   end http at byte 4, long before adb decides at 24.
//! - **dns vs postgres**: postgres' first two bytes are `00 00`, a DNS
//!   length of 0, which dns refuses (it needs 17 and more).
//! - **dns vs openvpn**: a DNS query whose ID starts with `38` and whose
//!   length is 14..=255 is also a prefix of an OpenVPN V2 hard reset of
//!   the same length. dns ranks higher and decides at the question's last
//!   byte, never after the message's end where openvpn would: such a query
//!   is always dns. A real hard reset passes for a DNS query only if the
//!   random session id's bytes 1..=5 spell a query's flags, QDCOUNT 1 and
//!   ANCOUNT 0 (about one in 2^40), and then its tail must still parse as
//!   a name. DNS lengths stop at 300 and V3 lengths start at 336: no
//!   overlap with V3.
//! - Other first bytes belong to one detector only.
//!
//! # Deliberate limits
//!
//! - HTTP: only HTTP/1.0 and 1.1 request lines, single SPs, no empty lines
//!   before the request line; HTTP/0.9 (`GET /` without a version) is
//!   unknown.
//!   The request line has no length limit of its own: a line longer than
//!   the caller's buffer stays `NeedMore` until the buffer is full, and the
//!   caller then treats the connection as unknown. An `Upgrade: h2c`
//!   request is http (it is an HTTP/1.1 request).
//! - h2c is only HTTP/2 with prior knowledge; HTTP/2 over TLS is tls.
//! - Redis inline commands (`PING\r\n`) are not detected: they are
//!   indistinguishable from other line protocols and HTTP method tokens.
//! - XMPP needs the conventional `stream:` prefix and no leading whitespace;
//!   direct TLS (XEP-0368) is tls.
//! - OpenVPN: only TCP with TLS (no static-key mode, which has no hard
//!   reset). V3 packets can reach 1280 bytes; a smaller preread buffer
//!   never sees them whole.
//! - PostgreSQL 17's direct SSL (TLS ClientHello with ALPN `postgresql`) is
//!   tls.
//! - PROXY protocol: `proxy_protocol` names the header only. What the
//!   client behind the proxy speaks is `detect(&bytes[header.len..])` with
//!   [`proxy_header`]'s length, should the caller want it. v1 TCP6
//!   addresses are checked for their shape; [`ProxyHeader::source`] is
//!   None if one then does not parse.
//! - DNS: only standard queries (OPCODE QUERY) with one question; NOTIFY,
//!   UPDATE and responses are unknown, as are names with bytes outside
//!   `21..7e` (escaped spaces, binary labels) and queries over 300 bytes
//!   (a long name with a TSIG). DNS over TLS is tls.
//! - Syslog: only the two header shapes above; vendor formats such as
//!   `<13>2026-12-02T...` without VERSION, or `<13>host: ...`, are
//!   unknown. Syslog over TLS (RFC 5425) is tls.
//! - tinc: the ID line of tinc 1.0 and 1.1 meta connections (1.1's SPTPS
//!   follows the same line); 1.1's invitation requests (`0 ?KEY ...`) and
//!   control connections are unknown.
//! - adb: the host's CNXN over TCP (`adb connect`); adb's TLS comes after
//!   it.
//!
//! # User-defined signatures
//!
//! [`detect_with`] adds the operator's [`SignatureSet`] (`prefix=HEX` or
//! `pattern=REGEX` signatures, built once at configuration time) after
//! the built-in detectors: only bytes [`detect`] calls `Unknown` reach
//! them, in configuration order. [`signature`] has the matchers' rules,
//! the precedence and why.
//!
//! # Details
//!
//! [`details_complete`] says when the bytes carry all the detail sift
//! extracts; the extractors ([`http_request`], [`http_host`],
//! [`ssh_banner`], [`postgres_startup`], [`mqtt_client_id`],
//! [`dns_query`], [`proxy_header`], [`tinc_node`]) return `None` while
//! what they extract is incomplete or malformed.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod adb;
mod dns;
mod http;
mod mqtt;
pub(crate) mod openvpn;
mod outcome;
mod postgres;
mod proxy;
mod rdp;
mod reader;
mod redis;
pub mod signature;
mod socks;
mod ssh;
mod syslog;
mod tinc;
mod tls_record;
mod xmpp;

#[cfg(test)]
mod tests;

use core::fmt;
use core::str::FromStr;
use std::net::SocketAddr;

pub use outcome::Classification;
use reader::{Parsed, Stop};
pub use signature::{
    detect_with, detect_with_final, Detection, Signature, SignatureError, SignatureSet,
};

/// What sift recognised a connection as; `as_str` is `$sift_protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tls,
    Http,
    H2c,
    Ssh,
    OpenVpn,
    Socks4,
    Socks5,
    Xmpp,
    Rdp,
    Postgres,
    Mqtt,
    Redis,
    Dns,
    Syslog,
    Adb,
    Tinc,
    ProxyProtocol,
    Unknown,
}

impl Protocol {
    /// Every protocol, `Unknown` last, in declaration order.
    pub const ALL: [Protocol; 18] = [
        Protocol::Tls,
        Protocol::Http,
        Protocol::H2c,
        Protocol::Ssh,
        Protocol::OpenVpn,
        Protocol::Socks4,
        Protocol::Socks5,
        Protocol::Xmpp,
        Protocol::Rdp,
        Protocol::Postgres,
        Protocol::Mqtt,
        Protocol::Redis,
        Protocol::Dns,
        Protocol::Syslog,
        Protocol::Adb,
        Protocol::Tinc,
        Protocol::ProxyProtocol,
        Protocol::Unknown,
    ];

    /// The value of `$sift_protocol`: "tls", "http", "h2c", "ssh",
    /// "openvpn", "socks4", "socks5", "xmpp", "rdp", "postgres", "mqtt",
    /// "redis", "dns", "syslog", "adb", "tinc", "proxy_protocol", "unknown".
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Tls => "tls",
            Protocol::Http => "http",
            Protocol::H2c => "h2c",
            Protocol::Ssh => "ssh",
            Protocol::OpenVpn => "openvpn",
            Protocol::Socks4 => "socks4",
            Protocol::Socks5 => "socks5",
            Protocol::Xmpp => "xmpp",
            Protocol::Rdp => "rdp",
            Protocol::Postgres => "postgres",
            Protocol::Mqtt => "mqtt",
            Protocol::Redis => "redis",
            Protocol::Dns => "dns",
            Protocol::Syslog => "syslog",
            Protocol::Adb => "adb",
            Protocol::Tinc => "tinc",
            Protocol::ProxyProtocol => "proxy_protocol",
            Protocol::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A name that is not one of [`Protocol::as_str`]'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownProtocolName;

impl fmt::Display for UnknownProtocolName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("not a sift protocol name")
    }
}

impl std::error::Error for UnknownProtocolName {}

impl FromStr for Protocol {
    type Err = UnknownProtocolName;

    /// Exactly the names of [`Protocol::as_str`] (lowercase).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Protocol::ALL
            .into_iter()
            .find(|protocol| protocol.as_str() == name)
            .ok_or(UnknownProtocolName)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes so far are a proper prefix of something a detector accepts.
    NeedMore,
    Detected(Protocol),
}

/// One detector's answer on the bytes so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Enough to say it is this protocol; more bytes will not change that.
    Match,
    /// Not yet, but some continuation of these bytes would match.
    Prefix,
    /// No continuation of these bytes can match.
    NoMatch,
}

impl<T> From<Parsed<T>> for Probe {
    fn from(parsed: Parsed<T>) -> Self {
        match parsed {
            Ok(_) => Probe::Match,
            Err(Stop::Incomplete) => Probe::Prefix,
            Err(Stop::Invalid) => Probe::NoMatch,
        }
    }
}

/// The order in which [`detect`] consults the detectors: a detector still
/// at `Prefix` holds back every match ranked below it.
pub const PRIORITY: [Protocol; 17] = [
    Protocol::Tls,
    Protocol::Ssh,
    Protocol::ProxyProtocol,
    Protocol::H2c,
    Protocol::Http,
    Protocol::Redis,
    Protocol::Xmpp,
    Protocol::Syslog,
    Protocol::Tinc,
    Protocol::Adb,
    Protocol::Socks4,
    Protocol::Socks5,
    Protocol::Rdp,
    Protocol::Dns,
    Protocol::OpenVpn,
    Protocol::Postgres,
    Protocol::Mqtt,
];

/// One detector's answer on `bytes`; `Unknown` has no detector and never
/// matches.
#[inline]
pub fn probe(protocol: Protocol, bytes: &[u8]) -> Probe {
    match protocol {
        Protocol::Tls => tls_record::client_hello(bytes).into(),
        Protocol::Ssh => ssh::identification(bytes).into(),
        Protocol::H2c => http::h2_preface(bytes).into(),
        Protocol::Http => http::request_line(bytes).into(),
        Protocol::Redis => redis::command(bytes).into(),
        Protocol::Xmpp => xmpp::stream_header(bytes).into(),
        Protocol::Socks4 => socks::socks4_request(bytes).into(),
        Protocol::Socks5 => socks::socks5_greeting(bytes).into(),
        Protocol::Rdp => rdp::connection_request(bytes).into(),
        Protocol::OpenVpn => openvpn::hard_reset(bytes).into(),
        Protocol::Postgres => postgres::first_message(bytes).into(),
        Protocol::Mqtt => mqtt::connect_start(bytes).into(),
        Protocol::Dns => dns::query(bytes).into(),
        Protocol::Syslog => syslog::message(bytes).into(),
        Protocol::Adb => adb::connect(bytes).into(),
        Protocol::Tinc => tinc::id_request(bytes).into(),
        Protocol::ProxyProtocol => proxy::header_start(bytes).into(),
        Protocol::Unknown => Probe::NoMatch,
    }
}

/// Classify the client's first bytes. NeedMore only while the bytes so far
/// are a prefix of something some detector accepts; as soon as no detector
/// can match -> Detected(Unknown). Empty input -> NeedMore.
///
/// The same answer as asking every detector in [`PRIORITY`] order, but
/// only those that accept the first byte are asked: a detector's
/// `NoMatch` is final, so one that refuses the first byte alone refuses
/// every buffer starting with it.
pub fn detect(first_bytes: &[u8]) -> Verdict {
    let Some(&first) = first_bytes.first() else {
        return Verdict::NeedMore;
    };
    let mut candidates = first_byte_candidates()
        .get(usize::from(first))
        .copied()
        .unwrap_or(u32::MAX);
    while candidates != 0 {
        let rank = candidates.trailing_zeros();
        candidates &= candidates.wrapping_sub(1);
        let Some(&protocol) = usize::try_from(rank)
            .ok()
            .and_then(|rank| PRIORITY.get(rank))
        else {
            break;
        };
        match probe(protocol, first_bytes) {
            Probe::Match => return Verdict::Detected(protocol),
            Probe::Prefix => return Verdict::NeedMore,
            Probe::NoMatch => {}
        }
    }
    Verdict::Detected(Protocol::Unknown)
}

/// For each first byte, the detectors that do not refuse it on its own:
/// bit `i` stands for `PRIORITY[i]`. Built once, from the detectors
/// themselves, so it cannot disagree with them.
fn first_byte_candidates() -> &'static [u32; 256] {
    static CANDIDATES: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    CANDIDATES.get_or_init(|| {
        let mut table = [0u32; 256];
        for (byte, entry) in (0..=u8::MAX).zip(table.iter_mut()) {
            for (rank, protocol) in (0u32..).zip(PRIORITY) {
                if probe(protocol, &[byte]) != Probe::NoMatch {
                    *entry |= 1u32.checked_shl(rank).unwrap_or(0);
                }
            }
        }
        table
    })
}

/// After detection: whether the bytes so far carry all the detail sift
/// extracts for this protocol (HTTP: whole header block up to CRLFCRLF;
/// SSH: the identification line through LF; Postgres: the whole
/// StartupMessage (or true at once for SSLRequest/GSSENCRequest, which
/// carry none); MQTT: through the client identifier; PROXY protocol v2:
/// the whole header, its 16 + length bytes (v1 is decided at its CRLF);
/// others, dns included (decided with its question): true). The
/// nginx handler keeps reading while this is false and its buffer has room,
/// then extracts what it has.
///
/// Also true once the bytes are malformed so that more could not help (an
/// SSH line over 255 bytes, a StartupMessage without its terminator, a
/// client id overrunning the packet): there is nothing left to wait for.
/// HTTP accepts a bare LF for CRLF here too; CancelRequest is like
/// SSLRequest.
pub fn details_complete(protocol: Protocol, bytes: &[u8]) -> bool {
    match protocol {
        Protocol::Http => http::header_block_complete(bytes),
        Protocol::Ssh => ssh::banner(bytes) != Err(Stop::Incomplete),
        Protocol::Postgres => postgres::startup(bytes) != Err(Stop::Incomplete),
        Protocol::Mqtt => mqtt::client_id(bytes) != Err(Stop::Incomplete),
        Protocol::ProxyProtocol => proxy::header(bytes) != Err(Stop::Incomplete),
        Protocol::Tls
        | Protocol::H2c
        | Protocol::OpenVpn
        | Protocol::Socks4
        | Protocol::Socks5
        | Protocol::Xmpp
        | Protocol::Rdp
        | Protocol::Redis
        | Protocol::Dns
        | Protocol::Syslog
        | Protocol::Adb
        | Protocol::Tinc
        | Protocol::Unknown => true,
    }
}

/// An HTTP/1.x request line; every field borrows from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    pub method: &'a [u8],
    /// The request-target as sent: origin form (`/a?b`), absolute form,
    /// authority form (CONNECT) or `*`.
    pub uri: &'a [u8],
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: &'a [u8],
}

/// The request line, once complete and valid by the http detector's rules.
pub fn http_request(bytes: &[u8]) -> Option<HttpRequest<'_>> {
    http::request_line(bytes).ok()
}

/// Host header value, port removed (handle `[v6]:port` and `name:port`),
/// whitespace trimmed; raw case (caller lowercases as it copies). None if
/// no complete Host header line in `bytes`.
///
/// - Only header lines after the request line and before the empty line
///   count, and only complete ones (through LF).
/// - The field name matches case-insensitively; `Host :` (space before the
///   colon) is no Host field (RFC 9112 §5.1 makes it an error).
/// - `[v6]:port` gives `[v6]` with its brackets, like nginx's `$host`;
///   otherwise the value is cut at its first colon, as nginx does.
/// - Two Host fields, or a Host field continued by obs-fold lines, give
///   None: RFC 9112 §3.2 makes the request invalid (nginx answers 400), and
///   picking one would let a client choose what a filter sees.
/// - An empty value gives `Some(b"")`. The value is not otherwise
///   validated.
pub fn http_host(bytes: &[u8]) -> Option<&[u8]> {
    http::host(bytes)
}

/// The client's SSH identification line without CR/LF, e.g.
/// b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3". None until the LF arrives,
/// and for a line the ssh detector rejects, longer than 255 bytes with its
/// line ending, or containing NUL. Other bytes, control characters
/// included, are returned as sent.
pub fn ssh_banner(bytes: &[u8]) -> Option<&[u8]> {
    ssh::banner(bytes).ok()
}

/// The parameters of interest in a PostgreSQL StartupMessage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostgresStartup<'a> {
    /// `user`; None if absent (the server then refuses the connection).
    pub user: Option<&'a [u8]>,
    /// `database`; None if absent (the server then uses the user name).
    pub database: Option<&'a [u8]>,
}

/// Plaintext StartupMessage only (protocol 3.0, and 3.2 which has the same
/// layout), once all of it has arrived and is well formed; None for
/// SSLRequest, GSSENCRequest and CancelRequest. A repeated parameter counts
/// with its last value, as in the server.
pub fn postgres_startup(bytes: &[u8]) -> Option<PostgresStartup<'_>> {
    postgres::startup(bytes).ok().flatten()
}

/// The client identifier of an MQTT 3.1, 3.1.1 or 5.0 CONNECT (after MQTT
/// 5's properties), once it has arrived; `Some(b"")` for an empty one. None
/// if it would overrun the packet. UTF-8 is not checked.
pub fn mqtt_client_id(bytes: &[u8]) -> Option<&[u8]> {
    mqtt::client_id(bytes).ok()
}

/// The question of a DNS query over TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsQuery<'a> {
    /// QNAME in wire form, as sent (case kept): length-prefixed labels
    /// ending with the root's zero byte; [`DnsQuery::labels`] splits it.
    pub name: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
}

/// The question of a DNS query, once the dns detector has matched (the
/// question is then complete); None otherwise.
pub fn dns_query(bytes: &[u8]) -> Option<DnsQuery<'_>> {
    dns::query(bytes).ok()
}

/// A PROXY protocol header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// 1 (text) or 2 (binary).
    pub version: u8,
    /// The header's length: the proxied client's own bytes start here, so
    /// `detect(&bytes[len..])` classifies them.
    pub len: usize,
    /// The client's address and port as the proxy saw them; None for v1
    /// `UNKNOWN`, v2 `LOCAL`, the UNSPEC and UNIX families, and a v1 TCP6
    /// address that does not parse.
    pub source: Option<SocketAddr>,
    /// The address the client connected to, under the same conditions.
    pub destination: Option<SocketAddr>,
}

/// The PROXY header, once all of it has arrived (v1: through CRLF; v2: its
/// 16 + length bytes, TLVs included, which are skipped) and is well formed
/// by the proxy_protocol detector's rules; None otherwise.
pub fn proxy_header(bytes: &[u8]) -> Option<ProxyHeader> {
    proxy::header(bytes).ok()
}

/// The node name of a tinc ID line (letters, digits, `_`), once its LF has
/// arrived.
pub fn tinc_node(bytes: &[u8]) -> Option<&[u8]> {
    tinc::id_request(bytes).ok()
}

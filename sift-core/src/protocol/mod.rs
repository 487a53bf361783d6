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
//! bytes, stays `Prefix` until the bound is reached even when what is
//! missing could no longer fit.)
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
//! | 3 | `h2c` | the whole preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` | 24 bytes |
//! | 4 | `http` | `token SP target SP HTTP/1.0\|HTTP/1.1 CRLF\|LF`; token: any RFC 9110 token of at most 32 bytes; target: bytes `21..7e` and `80..ff` | the request line's LF |
//! | 5 | `redis` | `*N\r\n$L\r\nNAME\r\n`: N in 1..=2^31-1, L in 1..=64, decimals without sign or leading zero, NAME of letters, digits, `.`, `_`, `-` | the first element's CRLF (14 bytes for `PING`) |
//! | 6 | `xmpp` | optional `<?xml` S ... `?>`, optional S, then `<stream:stream` S, and `jabber:client` or `jabber:server` before the tag's `>`, all within 1024 bytes | the namespace's last byte |
//! | 7 | `socks4` | `04 {01\|02} PORT(≠0) IP(≠0.0.0.0) USERID 00`, USERID printable ASCII ≤ 255 bytes; for SOCKS4a (IP `0.0.0.x`) also `DOMAIN 00`, DOMAIN 1..=255 bytes of `21..7e` | the last NUL (9 bytes at least) |
//! | 8 | `socks5` | `05 N METHODS`: N ≥ 1, each method `00..09` (IANA) or `80..fe` (private) | 2 + N bytes (3 for `05 01 00`) |
//! | 9 | `rdp` | TPKT `03 00 LEN(11..=259)`, X.224 `LI=LEN-5 E0 DST(2) SRC(2) CLASS(0x)` | 11 bytes |
//! | 10 | `openvpn` | `LEN(2) 38` with LEN 14..=255 (hard reset V2) or `LEN(2) 50` with LEN 336..=1278 (V3, tls-crypt-v2), key id 0, then the whole packet | 2 + LEN bytes |
//! | 11 | `postgres` | `00000008 04d2162f` (SSLRequest) or `04d21630` (GSSENCRequest); `LEN 04d2162e` with LEN 16..=268 (CancelRequest); `LEN 00030000` or `00030002` with LEN 9..=10004 (StartupMessage 3.0, 3.2) | 8 bytes |
//! | 12 | `mqtt` | `10 REMAINING(varint ≥ 12)`, `00 04 MQTT` level 4 or 5, or `00 06 MQIsdp` level 3 (the mosquitto bridge bit 0x80 allowed on top), connect flags with reserved bit 0 and will QoS ≠ 3, and the remaining length large enough for keep alive and client id length | the flags byte (10 bytes for `MQTT`, 12 for `MQIsdp`, with a one-byte remaining length) |
//!
//! The bytes each detector accepts as a first byte, so that anything else
//! is `Unknown` after a single byte: `00` (postgres, openvpn), `01`-`02`
//! (openvpn), `03` (rdp, openvpn), `04` (socks4, openvpn), `05` (socks5),
//! `10` (mqtt), `16` and `80`-`ff` (tls), `<` (xmpp), and RFC 9110 token
//! characters (http; among them `S` for ssh, `P` for h2c, `*` for redis).
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
//!
//! # Details
//!
//! [`details_complete`] says when the bytes carry all the detail sift
//! extracts; the extractors ([`http_request`], [`http_host`],
//! [`ssh_banner`], [`postgres_startup`], [`mqtt_client_id`]) return `None`
//! while what they extract is incomplete or malformed.
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

mod http;
mod mqtt;
mod openvpn;
mod outcome;
mod postgres;
mod rdp;
mod reader;
mod redis;
mod socks;
mod ssh;
mod tls_record;
mod xmpp;

#[cfg(test)]
mod tests;

use core::fmt;
use core::str::FromStr;

pub use outcome::Classification;
use reader::{Parsed, Stop};

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
    Unknown,
}

impl Protocol {
    /// Every protocol, `Unknown` last, in declaration order.
    pub const ALL: [Protocol; 13] = [
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
        Protocol::Unknown,
    ];

    /// The value of `$sift_protocol`: "tls", "http", "h2c", "ssh",
    /// "openvpn", "socks4", "socks5", "xmpp", "rdp", "postgres", "mqtt",
    /// "redis", "unknown".
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
pub const PRIORITY: [Protocol; 12] = [
    Protocol::Tls,
    Protocol::Ssh,
    Protocol::H2c,
    Protocol::Http,
    Protocol::Redis,
    Protocol::Xmpp,
    Protocol::Socks4,
    Protocol::Socks5,
    Protocol::Rdp,
    Protocol::OpenVpn,
    Protocol::Postgres,
    Protocol::Mqtt,
];

/// One detector's answer on `bytes`; `Unknown` has no detector and never
/// matches.
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
        Protocol::Unknown => Probe::NoMatch,
    }
}

/// Classify the client's first bytes. NeedMore only while the bytes so far
/// are a prefix of something some detector accepts; as soon as no detector
/// can match -> Detected(Unknown). Empty input -> NeedMore.
pub fn detect(first_bytes: &[u8]) -> Verdict {
    if first_bytes.is_empty() {
        return Verdict::NeedMore;
    }
    for protocol in PRIORITY {
        match probe(protocol, first_bytes) {
            Probe::Match => return Verdict::Detected(protocol),
            Probe::Prefix => return Verdict::NeedMore,
            Probe::NoMatch => {}
        }
    }
    Verdict::Detected(Protocol::Unknown)
}

/// After detection: whether the bytes so far carry all the detail sift
/// extracts for this protocol (HTTP: whole header block up to CRLFCRLF;
/// SSH: the identification line through LF; Postgres: the whole
/// StartupMessage (or true at once for SSLRequest/GSSENCRequest, which
/// carry none); MQTT: through the client identifier; others: true). The
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
        Protocol::Tls
        | Protocol::H2c
        | Protocol::OpenVpn
        | Protocol::Socks4
        | Protocol::Socks5
        | Protocol::Xmpp
        | Protocol::Rdp
        | Protocol::Redis
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

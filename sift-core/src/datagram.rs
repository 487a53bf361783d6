//! What protocol a UDP flow speaks, from its first client datagram.
//!
//! nginx's stream module sees UDP as sessions of datagrams per client
//! address; [`classify`] looks at the first one, whole (a datagram is never
//! partial, so there is no "need more": every answer is final). It never
//! allocates, never panics and reads nothing outside the slice.
//!
//! | protocol | what decides |
//! | --- | --- |
//! | `quic` | a long header (`1` form bit) with the fixed bit set, a non-zero version and connection IDs that fit (RFC 8999's version-independent layout), in a datagram of at least 1200 bytes (RFC 9000 §14.1). Every version counts, not only 1 and 2, so drafts and future versions are `quic` too; [`quic::looks_like_quic_initial`] is the stricter v1/v2 Initial check, and [`quic::InitialReader`] the one that opens it. |
//! | `dtls` | a DTLS record of content type 22 (handshake), version `fe ff` (DTLS 1.0) or `fe fd` (1.2, and 1.3's legacy field), epoch 0, a length that fits the datagram, holding a ClientHello (type 1) whose fragment lies within its message, message sequence 0 or 1 (1 after a HelloVerifyRequest or HelloRetryRequest), and, in the first fragment, client version `fe ff` or `fe fd` |
//! | `dns` | a query (QR 0) with opcode QUERY (0), NOTIFY (4) or UPDATE (5); TC, Z and RCODE 0 (AA only for NOTIFY); QDCOUNT 1; ANCOUNT 0 for QUERY, ≤ 1 for NOTIFY, ≤ 16 for UPDATE; NSCOUNT ≤ 1 (an IXFR's SOA), 0 for NOTIFY, ≤ 64 for UPDATE; ARCOUNT ≤ 2 (OPT, TSIG); a QNAME of uncompressed visible-ASCII labels (≤ 63 bytes each, ≤ 255 in all), QTYPE ≠ 0, QCLASS IN, CH, HS, NONE or ANY; and every announced record well-formed up to exactly the datagram's end. Opcodes 1 (IQUERY, obsolete), 2 (STATUS, never specified) and 6 (DSO, TCP only) are not accepted |
//! | `wireguard` | a handshake initiation: type 1, three zero bytes, exactly 148 bytes |
//! | `openvpn` | a control-channel hard reset without the TCP length prefix: opcode `P_CONTROL_HARD_RESET_CLIENT_V2` (7) in 14..=255 bytes or `_V3` (10, tls-crypt-v2) in 336..=1278 bytes, key id 0 (the same rules as the TCP detector), and a session id that is not all zeros |
//!
//! Anything else is `unknown`.
//!
//! # Overlaps
//!
//! The checks are tried in the order of the table's rows, and the first
//! that holds decides. `quic` needs a first byte of `c0` or more, `dtls`
//! `16`, `wireguard` `01`, `openvpn` `38` or `50`: those four are disjoint.
//! A DNS message starts with a random ID, so a query can begin with any of
//! those bytes; `dns` ranks before `wireguard` and `openvpn` because its
//! check covers every byte of the datagram, which theirs (random keys and
//! session ids) cannot. A WireGuard initiation or OpenVPN reset passes for
//! DNS only if its random bytes happen to form a whole valid query. A query
//! of 1200 bytes or more whose ID starts with `c0`-`ff` would be taken for
//! QUIC, but real queries are far smaller.
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

use core::fmt;

use crate::protocol::openvpn;
use crate::quic::{self, MIN_INITIAL_DATAGRAM_LEN};

/// What a UDP flow's first datagram is; `as_str` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatagramProtocol {
    Quic,
    Dtls,
    Dns,
    Wireguard,
    Openvpn,
    Unknown,
}

impl DatagramProtocol {
    /// Every value, in the order [`classify`] tries them (`Unknown` last).
    pub const ALL: [Self; 6] = [
        Self::Quic,
        Self::Dtls,
        Self::Dns,
        Self::Wireguard,
        Self::Openvpn,
        Self::Unknown,
    ];

    /// `"quic"`, `"dtls"`, `"dns"`, `"wireguard"`, `"openvpn"`, `"unknown"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Quic => "quic",
            Self::Dtls => "dtls",
            Self::Dns => "dns",
            Self::Wireguard => "wireguard",
            Self::Openvpn => "openvpn",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for DatagramProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies a UDP flow by its first client datagram (the UDP payload).
pub fn classify(datagram: &[u8]) -> DatagramProtocol {
    if is_quic(datagram) {
        DatagramProtocol::Quic
    } else if is_dtls_client_hello(datagram) {
        DatagramProtocol::Dtls
    } else if is_dns_query(datagram) {
        DatagramProtocol::Dns
    } else if is_wireguard_initiation(datagram) {
        DatagramProtocol::Wireguard
    } else if is_openvpn_hard_reset(datagram) {
        DatagramProtocol::Openvpn
    } else {
        DatagramProtocol::Unknown
    }
}

/// A bounds-checked reader over one datagram.
struct Bytes<'a> {
    rest: &'a [u8],
    position: usize,
}

impl<'a> Bytes<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            position: 0,
        }
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(len)?;
        self.rest = tail;
        self.position = self.position.checked_add(len)?;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }

    fn u24(&mut self) -> Option<u32> {
        let [high, mid, low]: [u8; 3] = self.take(3)?.try_into().ok()?;
        Some(u32::from_be_bytes([0, high, mid, low]))
    }
}

fn is_quic(datagram: &[u8]) -> bool {
    quic::looks_like_quic_initial(datagram) || is_quic_long_header(datagram)
}

/// RFC 8999 §5.1: form bit, then a version, DCID and SCID of up to 255
/// bytes each; here also the fixed bit, a non-zero version (0 is Version
/// Negotiation, server-sent) and the 1200-byte minimum.
fn is_quic_long_header(datagram: &[u8]) -> bool {
    let check = || -> Option<bool> {
        if datagram.len() < MIN_INITIAL_DATAGRAM_LEN {
            return Some(false);
        }
        let mut bytes = Bytes::new(datagram);
        let first = bytes.u8()?;
        let version = bytes.take(4)?;
        let dcid_len = bytes.u8()?;
        bytes.take(usize::from(dcid_len))?;
        let scid_len = bytes.u8()?;
        bytes.take(usize::from(scid_len))?;
        Some(first & 0xc0 == 0xc0 && version != [0; 4])
    };
    check().unwrap_or(false)
}

const DTLS_HANDSHAKE: u8 = 22;
const DTLS_1_0: [u8; 2] = [0xfe, 0xff];
const DTLS_1_2: [u8; 2] = [0xfe, 0xfd];
const DTLS_RECORD_HEADER_LEN: usize = 13;
const DTLS_HANDSHAKE_HEADER_LEN: u32 = 12;

/// RFC 6347 §4.1 and §4.2.2; RFC 9147 §4 keeps this plaintext record for
/// the first ClientHello.
fn is_dtls_client_hello(datagram: &[u8]) -> bool {
    let check = || -> Option<bool> {
        let mut bytes = Bytes::new(datagram);
        let content_type = bytes.u8()?;
        let version = bytes.take(2)?;
        let epoch = bytes.u16()?;
        bytes.take(6)?; // sequence number
        let length = bytes.u16()?;
        let record_ok = content_type == DTLS_HANDSHAKE
            && (version == DTLS_1_0 || version == DTLS_1_2)
            && epoch == 0
            && u32::from(length) >= DTLS_HANDSHAKE_HEADER_LEN
            && usize::from(length) <= datagram.len().saturating_sub(DTLS_RECORD_HEADER_LEN);
        if !record_ok {
            return Some(false);
        }
        let msg_type = bytes.u8()?;
        let message_len = bytes.u24()?;
        let message_seq = bytes.u16()?;
        let fragment_offset = bytes.u24()?;
        let fragment_len = bytes.u24()?;
        let fragment_fits = fragment_offset
            .checked_add(fragment_len)
            .is_some_and(|end| end <= message_len)
            && fragment_len <= u32::from(length).saturating_sub(DTLS_HANDSHAKE_HEADER_LEN);
        let client_version_ok = if fragment_offset == 0 && fragment_len >= 2 {
            let client_version = bytes.take(2)?;
            client_version == DTLS_1_0 || client_version == DTLS_1_2
        } else {
            true
        };
        Some(msg_type == 1 && message_seq <= 1 && fragment_fits && client_version_ok)
    };
    check().unwrap_or(false)
}

const DNS_HEADER_LEN: usize = 12;
const DNS_OPCODE_QUERY: u8 = 0;
const DNS_OPCODE_NOTIFY: u8 = 4;
const DNS_OPCODE_UPDATE: u8 = 5;
const DNS_MAX_NAME_LEN: usize = 255;
const DNS_MAX_LABEL_LEN: u8 = 63;
/// IN, CH, HS, NONE, ANY.
const DNS_CLASSES: [u16; 5] = [1, 3, 4, 254, 255];

/// RFC 1035 §4.1, RFC 1996 (NOTIFY), RFC 2136 (UPDATE), RFC 6891 (OPT).
fn is_dns_query(datagram: &[u8]) -> bool {
    let check = || -> Option<bool> {
        let mut bytes = Bytes::new(datagram);
        bytes.take(2)?; // ID
        let [high, low]: [u8; 2] = bytes.take(2)?.try_into().ok()?;
        let query = high & 0x80 == 0;
        let opcode = (high >> 3) & 0x0f;
        let authoritative = high & 0x04 != 0;
        let truncated = high & 0x02 != 0;
        // RA, Z and RCODE 0; AD and CD free.
        let low_ok = low & 0xcf == 0;
        let qdcount = bytes.u16()?;
        let ancount = bytes.u16()?;
        let nscount = bytes.u16()?;
        let arcount = bytes.u16()?;
        let (max_an, max_ns, aa_ok) = match opcode {
            DNS_OPCODE_QUERY => (0, 1, !authoritative),
            DNS_OPCODE_NOTIFY => (1, 0, true),
            DNS_OPCODE_UPDATE => (16, 64, !authoritative),
            _ => return Some(false),
        };
        if !query
            || truncated
            || !low_ok
            || !aa_ok
            || qdcount != 1
            || ancount > max_an
            || nscount > max_ns
            || arcount > 2
        {
            return Some(false);
        }
        if !dns_question_name(&mut bytes)? {
            return Some(false);
        }
        let qtype = bytes.u16()?;
        let qclass = bytes.u16()?;
        if qtype == 0 || !DNS_CLASSES.contains(&qclass) {
            return Some(false);
        }
        let records = ancount.saturating_add(nscount).saturating_add(arcount);
        for _ in 0..records {
            dns_record(&mut bytes)?;
        }
        Some(bytes.rest.is_empty())
    };
    check().unwrap_or(false)
}

/// An uncompressed name of visible-ASCII labels.
fn dns_question_name(bytes: &mut Bytes<'_>) -> Option<bool> {
    let mut name_len = 0usize;
    loop {
        let label_len = bytes.u8()?;
        name_len = name_len
            .saturating_add(1)
            .saturating_add(usize::from(label_len));
        if label_len > DNS_MAX_LABEL_LEN || name_len > DNS_MAX_NAME_LEN {
            return Some(false);
        }
        if label_len == 0 {
            return Some(true);
        }
        let label = bytes.take(usize::from(label_len))?;
        if !label.iter().all(|byte| matches!(byte, 0x21..=0x7e)) {
            return Some(false);
        }
    }
}

/// One resource record (owner name, possibly ending in a compression
/// pointer to an earlier offset; TYPE, CLASS, TTL, RDLENGTH, RDATA).
fn dns_record(bytes: &mut Bytes<'_>) -> Option<()> {
    let mut name_len = 0usize;
    loop {
        let start = bytes.position;
        let label_len = bytes.u8()?;
        match label_len {
            0 => break,
            1..=DNS_MAX_LABEL_LEN => {
                name_len = name_len
                    .saturating_add(1)
                    .saturating_add(usize::from(label_len));
                if name_len >= DNS_MAX_NAME_LEN {
                    return None;
                }
                bytes.take(usize::from(label_len))?;
            }
            0xc0..=0xff => {
                let low = bytes.u8()?;
                let target = usize::from(u16::from_be_bytes([label_len & 0x3f, low]));
                // A pointer goes back, into the message after the header.
                if target < DNS_HEADER_LEN || target >= start {
                    return None;
                }
                break;
            }
            _ => return None,
        }
    }
    bytes.take(2 + 2 + 4)?; // TYPE, CLASS, TTL
    let rdlength = bytes.u16()?;
    bytes.take(usize::from(rdlength))?;
    Some(())
}

const WIREGUARD_INITIATION: [u8; 4] = [1, 0, 0, 0];
const WIREGUARD_INITIATION_LEN: usize = 148;

/// The WireGuard whitepaper, §5.4.2: type 1, three reserved zero bytes,
/// sender index, ephemeral key, encrypted static key and timestamp, two
/// MACs: 148 bytes.
fn is_wireguard_initiation(datagram: &[u8]) -> bool {
    datagram.len() == WIREGUARD_INITIATION_LEN && datagram.starts_with(&WIREGUARD_INITIATION)
}

/// The TCP detector's hard reset, without its length prefix, and a
/// session id (bytes 1-8) that is not all zeros: clients pick it at
/// random.
fn is_openvpn_hard_reset(datagram: &[u8]) -> bool {
    openvpn::hard_reset_datagram(datagram)
        && datagram
            .get(1..9)
            .is_some_and(|session| session.iter().any(|&byte| byte != 0))
}

#[cfg(test)]
mod tests;

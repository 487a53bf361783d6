//! Addresses and CIDR prefixes of `type=ip` lists: parsing, the canonical
//! text, and the binary key stored in the table.
//!
//! The stored key is `[family, prefix length, address bytes]` (6 bytes for
//! IPv4, 18 for IPv6) with the bits past the prefix cleared, so that one
//! range has one key whatever its spelling. IPv4-mapped IPv6 addresses
//! (`::ffff:a.b.c.d`, and prefixes of at least 96 bits over them) are IPv4.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ListError;

/// The longest stored key (IPv6).
pub(crate) const KEY_LEN_MAX: usize = 18;
/// Family bytes of the stored key.
pub(crate) const V4: u8 = 4;
pub(crate) const V6: u8 = 6;

/// An address or range, masked to its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefix {
    V4(u32, u8),
    V6(u128, u8),
}

/// `bits` with everything past the first `len` cleared.
fn mask_v4(bits: u32, len: u8) -> u32 {
    bits & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask_v6(bits: u128, len: u8) -> u128 {
    bits & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

impl Prefix {
    /// The prefix of `addr` of length `len` (at most the family's width).
    pub(crate) fn new(addr: IpAddr, len: u8) -> Prefix {
        match addr {
            IpAddr::V4(a) => Prefix::V4(mask_v4(a.to_bits(), len.min(32)), len.min(32)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if len >= 96 => Prefix::V4(mask_v4(v4.to_bits(), len - 96), len - 96),
                _ => Prefix::V6(mask_v6(a.to_bits(), len.min(128)), len.min(128)),
            },
        }
    }

    /// The key stored in the table, on the stack.
    pub(crate) fn key(self) -> ([u8; KEY_LEN_MAX], usize) {
        let mut out = [0u8; KEY_LEN_MAX];
        match self {
            Prefix::V4(bits, len) => {
                out[0] = V4;
                out[1] = len;
                out[2..6].copy_from_slice(&bits.to_be_bytes());
                (out, 6)
            }
            Prefix::V6(bits, len) => {
                out[0] = V6;
                out[1] = len;
                out[2..18].copy_from_slice(&bits.to_be_bytes());
                (out, 18)
            }
        }
    }

    /// The prefix a stored key describes (None if it is not one).
    pub(crate) fn from_key(key: &[u8]) -> Option<Prefix> {
        match key {
            [V4, len, rest @ ..] if *len <= 32 => {
                let bytes: [u8; 4] = rest.try_into().ok()?;
                Some(Prefix::V4(u32::from_be_bytes(bytes), *len))
            }
            [V6, len, rest @ ..] if *len <= 128 => {
                let bytes: [u8; 16] = rest.try_into().ok()?;
                Some(Prefix::V6(u128::from_be_bytes(bytes), *len))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Prefix {
    /// The canonical text: the address alone for a full-length prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Prefix::V4(bits, 32) => write!(f, "{}", Ipv4Addr::from_bits(bits)),
            Prefix::V4(bits, len) => write!(f, "{}/{len}", Ipv4Addr::from_bits(bits)),
            Prefix::V6(bits, 128) => write!(f, "{}", Ipv6Addr::from_bits(bits)),
            Prefix::V6(bits, len) => write!(f, "{}/{len}", Ipv6Addr::from_bits(bits)),
        }
    }
}

/// Parses `ADDRESS` or `ADDRESS/LENGTH` (no spaces, no zone id, a decimal
/// length within the family's width).
pub(crate) fn parse_prefix(text: &[u8]) -> Result<Prefix, ListError> {
    let bad = |why: &str| {
        let shown = String::from_utf8_lossy(&text[..text.len().min(64)]).into_owned();
        ListError::BadKey(format!(
            "\"{shown}\" is not an IP address or CIDR range: {why}"
        ))
    };
    let text_str = core::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
    let (addr_text, len_text) = match text_str.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (text_str, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| bad("bad address"))?;
    let width: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len_text {
        None => width,
        Some(digits) => {
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad("bad prefix length"));
            }
            let len: u16 = digits.parse().map_err(|_| bad("bad prefix length"))?;
            if len > u16::from(width) {
                return Err(bad("prefix length too long for the address family"));
            }
            len as u8
        }
    };
    Ok(Prefix::new(addr, len))
}

/// The address a lookup key names: 4 raw bytes (`$binary_remote_addr`),
/// text (`$remote_addr`), or 16 raw bytes. No allocation.
///
/// Text is tried before 16 raw bytes (a 16-character IPv6 text is common;
/// 16 raw bytes that all are hex digits and colons are not a routable
/// address); 4 bytes are always raw (no IPv4 text is that short).
pub(crate) fn parse_lookup(key: &[u8]) -> Option<IpAddr> {
    if let Ok(bytes) = <[u8; 4]>::try_from(key) {
        return Some(IpAddr::V4(Ipv4Addr::from(bytes)));
    }
    if let Some(addr) = core::str::from_utf8(key)
        .ok()
        .and_then(|text| text.parse().ok())
    {
        return Some(addr);
    }
    <[u8; 16]>::try_from(key)
        .ok()
        .map(|bytes| IpAddr::V6(Ipv6Addr::from(bytes)))
}

/// `addr` with IPv4-mapped IPv6 addresses turned into IPv4.
pub(crate) fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        v4 => v4,
    }
}

//! Address rules for `sift_allow` / `sift_deny`, as nginx's stream access
//! module understands them.
//!
//! [`parse_address_rule`] reads one rule's text: `all`, `unix:`, an address
//! (`192.0.2.1`, `::1`, `::ffff:192.0.2.1`) or a network in CIDR notation
//! (`192.0.2.0/24`, `2001:db8::/32`). A bare address is a /32 or /128
//! network. [`AddressRule::matches`] tests a client against a rule; the
//! caller scans its rules in order and the first match decides.
//!
//! ```
//! use std::net::IpAddr;
//! use sift_core::access::{parse_address_rule, AddressRule};
//!
//! let rules: Vec<(bool, AddressRule)> = [("allow", "10.0.0.0/8"), ("deny", "all")]
//!     .iter()
//!     .map(|(verb, text)| (*verb == "allow", parse_address_rule(text).unwrap().rule))
//!     .collect();
//! let allowed = |client: Option<IpAddr>| {
//!     rules.iter().find(|(_, rule)| rule.matches(client)).map_or(true, |(allow, _)| *allow)
//! };
//! assert!(allowed(Some("10.1.2.3".parse().unwrap())));
//! assert!(allowed(Some("::ffff:10.1.2.3".parse().unwrap())));
//! assert!(!allowed(Some("192.0.2.1".parse().unwrap())));
//! assert!(!allowed(None));
//! ```
//!
//! # Differences from nginx
//!
//! - Addresses are parsed by the standard library, which is stricter than
//!   nginx's `ngx_inet_addr`: an IPv4 octet with a leading zero (`010.0.0.1`,
//!   which some parsers read as octal) and empty octets (`1..2.3`) are
//!   invalid here, while `255.255.255.255`, which nginx rejects because it
//!   equals `INADDR_NONE`, is valid. The prefix length is read as nginx
//!   reads it: ASCII digits only, leading zeros allowed.
//! - Each rule is matched on its own. nginx sends an IPv4-mapped IPv6
//!   client (`::ffff:a.b.c.d`) through its IPv4 rules only (whenever the
//!   location has any), so an IPv6 rule such as `::ffff:0:0/96` never sees
//!   it there; here that rule matches such clients, and IPv4 rules match
//!   them as well, so the first rule written that matches decides.

// Enforced on the shipped code; tests may index and unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects
    )
)]

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One `sift_allow` / `sift_deny` operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressRule {
    /// `all`: every client, unix-domain ones included.
    All,
    /// `unix:`: clients on unix-domain sockets, and no others.
    Unix,
    /// An address or network: IP clients in it (see [`IpNet::contains`]).
    Net(IpNet),
}

impl AddressRule {
    /// Whether the rule applies to a client. `client` is the client's IP
    /// address, or `None` for a unix-domain client.
    ///
    /// An IPv4 rule also matches IPv4-mapped IPv6 clients
    /// (`::ffff:a.b.c.d`) by their IPv4 address, as nginx's access module
    /// does; an IPv6 rule compares all 128 bits, so `::ffff:0:0/96` matches
    /// every mapped client and no plain IPv4 one.
    #[inline]
    pub fn matches(&self, client: Option<IpAddr>) -> bool {
        match (self, client) {
            (AddressRule::All, _) => true,
            (AddressRule::Unix, client) => client.is_none(),
            (AddressRule::Net(net), Some(ip)) => net.contains(ip),
            (AddressRule::Net(_), None) => false,
        }
    }
}

impl fmt::Display for AddressRule {
    /// `all`, `unix:`, or the network as [`IpNet`] writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressRule::All => f.write_str("all"),
            AddressRule::Unix => f.write_str("unix:"),
            AddressRule::Net(net) => fmt::Display::fmt(net, f),
        }
    }
}

/// An IPv4 or IPv6 network: its address with the host bits cleared, and
/// its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    bits: NetBits,
    prefix_len: u8,
}

/// The network address and the mask it was cut with (`net & !mask == 0`).
/// The mask is a function of the prefix length, kept so that matching is
/// one AND and one compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum NetBits {
    V4 { net: u32, mask: u32 },
    V6 { net: u128, mask: u128 },
}

impl IpNet {
    /// The network of `addr` with `prefix_len` leading bits (at most 32 for
    /// IPv4, 128 for IPv6); host bits in `addr` are cleared. `None` if the
    /// prefix length is too long.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Option<IpNet> {
        Some(Self::split(addr, prefix_len)?.0)
    }

    /// The network, and whether `addr` had host bits set.
    fn split(addr: IpAddr, prefix_len: u8) -> Option<(IpNet, bool)> {
        let (bits, host_bits_set) = match addr {
            IpAddr::V4(v4) => {
                let mask = mask_u32(prefix_len)?;
                let full = u32::from(v4);
                (
                    NetBits::V4 {
                        net: full & mask,
                        mask,
                    },
                    full & !mask != 0,
                )
            }
            IpAddr::V6(v6) => {
                let mask = mask_u128(prefix_len)?;
                let full = u128::from(v6);
                (
                    NetBits::V6 {
                        net: full & mask,
                        mask,
                    },
                    full & !mask != 0,
                )
            }
        };
        Some((IpNet { bits, prefix_len }, host_bits_set))
    }

    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        match self.bits {
            NetBits::V4 { net, .. } => IpAddr::V4(Ipv4Addr::from(net)),
            NetBits::V6 { net, .. } => IpAddr::V6(Ipv6Addr::from(net)),
        }
    }

    /// The prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` is in the network. An IPv4 network also contains the
    /// IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) of its addresses; an IPv6
    /// network never contains an IPv4 address.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.bits, ip) {
            (NetBits::V4 { net, mask }, IpAddr::V4(v4)) => u32::from(v4) & mask == net,
            (NetBits::V4 { net, mask }, IpAddr::V6(v6)) => {
                // ::ffff:a.b.c.d is 80 zero bits, 16 one bits, then a.b.c.d.
                let bits = u128::from(v6);
                bits >> 32 == 0xffff && low_u32(bits) & mask == net
            }
            (NetBits::V6 { net, mask }, IpAddr::V6(v6)) => u128::from(v6) & mask == net,
            (NetBits::V6 { .. }, IpAddr::V4(_)) => false,
        }
    }
}

impl fmt::Display for IpNet {
    /// `192.0.2.0/24`, `2001:db8::/32`: always with the prefix length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.prefix_len)
    }
}

/// The low 32 bits.
#[inline]
fn low_u32(bits: u128) -> u32 {
    u32::try_from(bits & u128::from(u32::MAX)).unwrap_or(0)
}

/// `prefix_len` leading one bits, or `None` past 32.
fn mask_u32(prefix_len: u8) -> Option<u32> {
    // The complement of the host bits; shifting by 32 means no host bits.
    (prefix_len <= 32).then(|| {
        u32::MAX
            .checked_shr(u32::from(prefix_len))
            .map_or(u32::MAX, |host| !host)
    })
}

/// `prefix_len` leading one bits, or `None` past 128.
fn mask_u128(prefix_len: u8) -> Option<u128> {
    (prefix_len <= 128).then(|| {
        u128::MAX
            .checked_shr(u32::from(prefix_len))
            .map_or(u128::MAX, |host| !host)
    })
}

/// A parsed rule, and whether its text had host bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The rule, with host bits cleared.
    pub rule: AddressRule,
    /// True when the text had host bits set past its prefix (e.g.
    /// `10.0.0.1/8`): nginx then warns `low address bits of 10.0.0.1/8 are
    /// meaningless` and uses the masked network, as `rule` does.
    pub host_bits_set: bool,
}

/// Why a rule's text is not a rule. [`Display`](fmt::Display) gives a
/// short phrase; the caller adds the text itself, as nginx does
/// (`invalid parameter "10.0.0.0/33": prefix length is longer than 32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressRuleError {
    /// The text before any `/` is not `all`, `unix:` or an IP address.
    InvalidAddress,
    /// What follows `/` is empty or not a decimal number.
    InvalidPrefixLength,
    /// The prefix length is longer than the address (`max`: 32 or 128).
    PrefixLengthTooLong {
        /// The longest prefix for the address family.
        max: u8,
    },
}

impl fmt::Display for AddressRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressRuleError::InvalidAddress => f.write_str("invalid address"),
            AddressRuleError::InvalidPrefixLength => f.write_str("invalid prefix length"),
            AddressRuleError::PrefixLengthTooLong { max } => {
                write!(f, "prefix length is longer than {max}")
            }
        }
    }
}

impl std::error::Error for AddressRuleError {}

/// Parses one `sift_allow` / `sift_deny` operand: `all`, `unix:`, an IPv4
/// or IPv6 address, or either followed by `/` and a prefix length. Case
/// matters for `all` and `unix:`, as in nginx; surrounding whitespace is
/// not allowed.
pub fn parse_address_rule(text: &str) -> Result<Parsed, AddressRuleError> {
    match text {
        "all" => {
            return Ok(Parsed {
                rule: AddressRule::All,
                host_bits_set: false,
            })
        }
        "unix:" => {
            return Ok(Parsed {
                rule: AddressRule::Unix,
                host_bits_set: false,
            })
        }
        _ => {}
    }

    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr = parse_ip(addr_text).ok_or(AddressRuleError::InvalidAddress)?;
    let max: u8 = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix_len = match prefix_text {
        None => max,
        Some(digits) => parse_prefix_len(digits, max)?,
    };
    let (net, host_bits_set) =
        IpNet::split(addr, prefix_len).ok_or(AddressRuleError::PrefixLengthTooLong { max })?;
    Ok(Parsed {
        rule: AddressRule::Net(net),
        host_bits_set,
    })
}

/// An IPv4 address in dotted decimal, or an IPv6 address in any RFC 4291
/// text form (including `::ffff:192.0.2.1`). Zone ids (`%eth0`) are not
/// addresses.
fn parse_ip(text: &str) -> Option<IpAddr> {
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// A decimal prefix length like nginx's `ngx_atoi` reads it: one or more
/// ASCII digits, no sign, leading zeros allowed.
fn parse_prefix_len(digits: &str, max: u8) -> Result<u8, AddressRuleError> {
    if digits.is_empty() {
        return Err(AddressRuleError::InvalidPrefixLength);
    }
    let mut value: u32 = 0;
    for byte in digits.bytes() {
        if !byte.is_ascii_digit() {
            return Err(AddressRuleError::InvalidPrefixLength);
        }
        // Saturates far above 128, so a long run of digits cannot wrap.
        value = value
            .saturating_mul(10)
            .saturating_add(u32::from(byte.wrapping_sub(b'0')));
    }
    match u8::try_from(value) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(AddressRuleError::PrefixLengthTooLong { max }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        match parse_address_rule(text).unwrap().rule {
            AddressRule::Net(net) => net,
            other => panic!("{text}: not a network: {other:?}"),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn masks() {
        assert_eq!(mask_u32(0), Some(0));
        assert_eq!(mask_u32(1), Some(0x8000_0000));
        assert_eq!(mask_u32(24), Some(0xffff_ff00));
        assert_eq!(mask_u32(32), Some(u32::MAX));
        assert_eq!(mask_u32(33), None);
        assert_eq!(mask_u128(0), Some(0));
        assert_eq!(mask_u128(1), Some(1 << 127));
        assert_eq!(mask_u128(64), Some(u128::from(u64::MAX) << 64));
        assert_eq!(mask_u128(128), Some(u128::MAX));
        assert_eq!(mask_u128(129), None);
        assert_eq!(mask_u128(255), None);
    }

    #[test]
    fn every_prefix_len_masks_consistently() {
        // All-ones addresses cut at every length leave exactly the mask.
        for len in 0..=32u8 {
            let n = IpNet::new(ip("255.255.255.255"), len).unwrap();
            let IpAddr::V4(addr) = n.addr() else { panic!() };
            assert_eq!(u32::from(addr).leading_ones(), u32::from(len));
            assert_eq!(u32::from(addr).count_ones(), u32::from(len));
        }
        for len in 0..=128u8 {
            let n = IpNet::new(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), len).unwrap();
            let IpAddr::V6(addr) = n.addr() else { panic!() };
            assert_eq!(u128::from(addr).leading_ones(), u32::from(len));
            assert_eq!(u128::from(addr).count_ones(), u32::from(len));
        }
    }

    #[test]
    fn prefix_digits_like_ngx_atoi() {
        assert_eq!(parse_prefix_len("0", 32), Ok(0));
        assert_eq!(parse_prefix_len("024", 32), Ok(24));
        assert_eq!(parse_prefix_len("00000000000000000000000032", 32), Ok(32));
        assert_eq!(
            parse_prefix_len("99999999999999999999999", 32),
            Err(AddressRuleError::PrefixLengthTooLong { max: 32 })
        );
        assert_eq!(
            parse_prefix_len("256", 128),
            Err(AddressRuleError::PrefixLengthTooLong { max: 128 })
        );
        for bad in ["", "+8", "-8", " 8", "8 ", "0x8", "8/8", "٣"] {
            assert_eq!(
                parse_prefix_len(bad, 32),
                Err(AddressRuleError::InvalidPrefixLength),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn contains_compares_masked_bits() {
        let n = net("192.0.2.0/24");
        assert!(n.contains(ip("192.0.2.0")));
        assert!(n.contains(ip("192.0.2.255")));
        assert!(!n.contains(ip("192.0.3.0")));
        assert!(n.contains(ip("::ffff:192.0.2.7")));
        assert!(
            !n.contains(ip("::192.0.2.7")),
            "IPv4-compatible is not mapped"
        );
        assert!(!n.contains(ip("64:ff9b::192.0.2.7")), "NAT64 is not mapped");
        let n6 = net("2001:db8::/32");
        assert!(n6.contains(ip("2001:db8:ffff::1")));
        assert!(!n6.contains(ip("2001:db9::")));
        assert!(!n6.contains(ip("32.1.13.184")));
    }
}

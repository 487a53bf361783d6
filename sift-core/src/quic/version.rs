//! The QUIC versions whose Initial packets sift can open, and what differs
//! between them: the Initial salt, the HKDF labels, and the long-header
//! packet-type bits.

/// A QUIC version with published Initial protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// QUIC version 1 (RFC 9000, RFC 9001), `0x00000001`.
    V1,
    /// QUIC version 2 (RFC 9369), `0x6b3343cf`.
    V2,
}

/// The long-header packet types (RFC 9000 §17.2, RFC 9369 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// The key, IV and header-protection labels for HKDF-Expand-Label.
pub(crate) struct Labels {
    pub(crate) key: &'static [u8],
    pub(crate) iv: &'static [u8],
    pub(crate) hp: &'static [u8],
}

/// RFC 9001 §5.2.
const V1_SALT: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const V2_SALT: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

impl Version {
    /// The version for a long header's version field, if sift knows it.
    pub const fn from_wire(version: u32) -> Option<Self> {
        match version {
            0x0000_0001 => Some(Self::V1),
            0x6b33_43cf => Some(Self::V2),
            _ => None,
        }
    }

    /// The version field's value.
    pub const fn wire(self) -> u32 {
        match self {
            Self::V1 => 0x0000_0001,
            Self::V2 => 0x6b33_43cf,
        }
    }

    /// `"1"` or `"2"`, for logs and variables.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1",
            Self::V2 => "2",
        }
    }

    pub(crate) const fn initial_salt(self) -> &'static [u8; 20] {
        match self {
            Self::V1 => &V1_SALT,
            Self::V2 => &V2_SALT,
        }
    }

    /// RFC 9001 §5.1 labels; RFC 9369 §3.3.2 renames them for v2.
    pub(crate) const fn labels(self) -> Labels {
        match self {
            Self::V1 => Labels {
                key: b"quic key",
                iv: b"quic iv",
                hp: b"quic hp",
            },
            Self::V2 => Labels {
                key: b"quicv2 key",
                iv: b"quicv2 iv",
                hp: b"quicv2 hp",
            },
        }
    }

    /// The packet type in bits 4-5 of a long header's first byte. v2
    /// rotates the codes so that Initial is `0b01` (RFC 9369 §3.2).
    pub(crate) const fn packet_type(self, first_byte: u8) -> PacketType {
        let bits = (first_byte >> 4) & 0b11;
        let v1_bits = match self {
            Self::V1 => bits,
            // v2: Initial 1, 0-RTT 2, Handshake 3, Retry 0.
            Self::V2 => bits.wrapping_add(3) & 0b11,
        };
        match v1_bits {
            0 => PacketType::Initial,
            1 => PacketType::ZeroRtt,
            2 => PacketType::Handshake,
            _ => PacketType::Retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_type_bits() {
        let types = |version: Version| -> Vec<PacketType> {
            (0..4u8)
                .map(|bits| version.packet_type(0xc0 | bits << 4))
                .collect()
        };
        use PacketType::*;
        assert_eq!(types(Version::V1), [Initial, ZeroRtt, Handshake, Retry]);
        assert_eq!(types(Version::V2), [Retry, Initial, ZeroRtt, Handshake]);
        assert_eq!(Version::from_wire(1), Some(Version::V1));
        assert_eq!(Version::from_wire(0x6b33_43cf), Some(Version::V2));
        assert_eq!(Version::from_wire(0xff00_001d), None);
        assert_eq!(Version::from_wire(0), None);
        assert_eq!(Version::V2.wire(), 0x6b33_43cf);
    }
}

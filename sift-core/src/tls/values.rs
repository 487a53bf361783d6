//! Protocol numbers and the small classification functions built on them.

/// Extension types the parser interprets (IANA "TLS ExtensionType Values").
pub mod extension {
    pub const SERVER_NAME: u16 = 0x0000;
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    pub const ALPN: u16 = 0x0010;
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
}

/// Protocol version numbers as they appear on the wire.
pub mod version {
    pub const SSL_2_0: u16 = 0x0002;
    pub const SSL_3_0: u16 = 0x0300;
    pub const TLS_1_0: u16 = 0x0301;
    pub const TLS_1_1: u16 = 0x0302;
    pub const TLS_1_2: u16 = 0x0303;
    pub const TLS_1_3: u16 = 0x0304;
    pub const DTLS_1_0: u16 = 0xfeff;
    pub const DTLS_1_2: u16 = 0xfefd;
    pub const DTLS_1_3: u16 = 0xfefc;
}

/// True for the GREASE values of RFC 8701 (`0x0a0a`, `0x1a1a`, ... `0xfafa`),
/// which clients sprinkle into cipher, extension, group, version and
/// signature lists so servers keep tolerating unknown values. Fingerprints
/// skip them because they are chosen at random per connection.
pub const fn is_grease(value: u16) -> bool {
    let [high, low] = value.to_be_bytes();
    high == low && low & 0x0f == 0x0a
}

/// Whether a wire list of two-byte values (`bytes`, big-endian pairs; an
/// odd last byte is ignored) holds a GREASE value: what [`is_grease`] says
/// of each pair, four pairs per 64-bit word.
pub fn has_grease_pair(bytes: &[u8]) -> bool {
    const LOW_BYTES: u64 = 0x00ff_00ff_00ff_00ff;
    const LOW_NIBBLES: u64 = 0x000f_000f_000f_000f;
    const GREASE_NIBBLES: u64 = 0x000a_000a_000a_000a;
    const ONES: u64 = 0x0001_0001_0001_0001;
    const HIGH_BITS: u64 = 0x8000_8000_8000_8000;
    let mut words = bytes.chunks_exact(8);
    let found = words.any(|word| {
        // Each 16-bit lane holds one pair, first byte low. A lane is GREASE
        // when its bytes are equal and the low nibble is 0xa: then `lane`
        // is zero there (every lane is at most 0xff, so the zero-lane test
        // below has no false positive, and a borrow only follows a zero).
        let word = word.try_into().map(u64::from_le_bytes).unwrap_or_default();
        let lane = ((word ^ (word >> 8)) & LOW_BYTES) | ((word & LOW_NIBBLES) ^ GREASE_NIBBLES);
        lane.wrapping_sub(ONES) & !lane & HIGH_BITS != 0
    });
    found
        || words.remainder().chunks_exact(2).any(|pair| {
            pair.try_into()
                .is_ok_and(|&pair| is_grease(u16::from_be_bytes(pair)))
        })
}

/// The name nginx's `$ssl_preread_protocol` gives a version (the spelling of
/// OpenSSL's `SSL_get_version()`), or `None` for any other number, where
/// nginx leaves the variable empty.
pub const fn version_name(version: u16) -> Option<&'static str> {
    match version {
        version::SSL_2_0 => Some("SSLv2"),
        version::SSL_3_0 => Some("SSLv3"),
        version::TLS_1_0 => Some("TLSv1"),
        version::TLS_1_1 => Some("TLSv1.1"),
        version::TLS_1_2 => Some("TLSv1.2"),
        version::TLS_1_3 => Some("TLSv1.3"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{has_grease_pair, is_grease, version_name};

    /// The word-at-a-time check agrees with [`is_grease`] for every value in
    /// every lane of a word and in the tail.
    #[test]
    fn grease_pairs_found_in_any_lane() {
        for value in 0..=u16::MAX {
            let want = is_grease(value);
            let [high, low] = value.to_be_bytes();
            for lane in 0..5 {
                // Lanes 0-3 of one word of ordinary suites, then the tail
                // after that word.
                let mut list = vec![0x13, 0x01, 0xc0, 0x2b, 0x00, 0x2f, 0xcc, 0xa9];
                match list.get_mut(lane * 2..lane * 2 + 2) {
                    Some(place) => place.copy_from_slice(&[high, low]),
                    None => list.extend_from_slice(&[high, low]),
                }
                assert_eq!(has_grease_pair(&list), want, "{value:#06x} in lane {lane}");
            }
        }
        assert!(!has_grease_pair(&[]));
        assert!(!has_grease_pair(&[0x0a]), "a lone byte is no pair");
    }

    #[test]
    fn grease_is_exactly_the_sixteen_rfc8701_values() {
        let grease: Vec<u16> = (0..=u16::MAX).filter(|&value| is_grease(value)).collect();
        let expected: Vec<u16> = (0..16u16)
            .map(|n| (n << 12) | 0x0a00 | (n << 4) | 0x0a)
            .collect();
        assert_eq!(grease, expected);
        assert_eq!(grease.first(), Some(&0x0a0a));
        assert_eq!(grease.last(), Some(&0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x0b0b));
    }

    #[test]
    fn version_names_match_nginx_ssl_preread() {
        assert_eq!(version_name(0x0304), Some("TLSv1.3"));
        assert_eq!(version_name(0x0303), Some("TLSv1.2"));
        assert_eq!(version_name(0x0302), Some("TLSv1.1"));
        assert_eq!(version_name(0x0301), Some("TLSv1"));
        assert_eq!(version_name(0x0300), Some("SSLv3"));
        assert_eq!(version_name(0x0002), Some("SSLv2"));
        assert_eq!(version_name(0x7f17), None);
        assert_eq!(version_name(0x0a0a), None);
    }
}

//! `$sift_quic_version`: a flow's QUIC version as an operator reads it.

/// The version field of the long-header packet that starts `datagram`
/// (bytes 1..5), if it starts with one (the top bit set).
pub fn wire_version(datagram: &[u8]) -> Option<u32> {
    let (&first, rest) = datagram.split_first()?;
    let version: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    (first & 0x80 != 0).then_some(u32::from_be_bytes(version))
}

/// `1` for QUIC v1, `2` for v2 (RFC 9369's `0x6b3343cf`), else the eight
/// hex digits of the wire value (`ff00001d` for draft 29).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionLabel {
    text: [u8; 8],
    len: usize,
}

impl VersionLabel {
    /// The label for a wire version.
    pub fn new(version: u32) -> VersionLabel {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let short = |digit: u8| {
            let mut text = [0u8; 8];
            text[0] = digit;
            VersionLabel { text, len: 1 }
        };
        match version {
            0x0000_0001 => short(b'1'),
            0x6b33_43cf => short(b'2'),
            _ => {
                // Nibbles from the most significant, as hex digits.
                let mut text = [0u8; 8];
                let mut rest = version;
                for digit in text.iter_mut().rev() {
                    *digit = HEX.get((rest & 0xf) as usize).copied().unwrap_or(b'0');
                    rest >>= 4;
                }
                VersionLabel { text, len: 8 }
            }
        }
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.text.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(VersionLabel::new(1).as_str(), "1");
        assert_eq!(VersionLabel::new(0x6b33_43cf).as_str(), "2");
        assert_eq!(VersionLabel::new(0xff00_001d).as_str(), "ff00001d");
        assert_eq!(VersionLabel::new(0).as_str(), "00000000");
    }

    #[test]
    fn wire_versions() {
        assert_eq!(wire_version(&[0xc3, 0, 0, 0, 1, 8]), Some(1));
        assert_eq!(
            wire_version(&[0xc3, 0x6b, 0x33, 0x43, 0xcf]),
            Some(0x6b33_43cf)
        );
        assert_eq!(wire_version(&[0x43, 0, 0, 0, 1]), None, "short header");
        assert_eq!(wire_version(&[0xc3, 0, 0]), None, "truncated");
        assert_eq!(wire_version(&[]), None);
    }
}

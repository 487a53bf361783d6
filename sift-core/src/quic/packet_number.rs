//! Packet-number recovery (RFC 9000 §17.1, Appendix A.3): the full number
//! from its truncated 1-4 byte encoding and the largest number seen.

/// The full packet number closest to the one after `largest` whose low
/// `len` bytes are `truncated`. `largest` is `None` before the first packet.
pub(crate) fn decode(largest: Option<u64>, truncated: u64, len: usize) -> u64 {
    let expected = largest.map_or(0, |largest| largest.saturating_add(1));
    let window: u64 = match len {
        1 => 1 << 8,
        2 => 1 << 16,
        3 => 1 << 24,
        _ => 1 << 32,
    };
    let half = window / 2;
    let candidate = (expected & !(window.wrapping_sub(1))) | truncated;
    if candidate.saturating_add(half) <= expected && candidate < (1u64 << 62).saturating_sub(window)
    {
        candidate.saturating_add(window)
    } else if candidate > expected.saturating_add(half) && candidate >= window {
        candidate.saturating_sub(window)
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn rfc9000_examples() {
        // RFC 9000 Appendix A.3's example.
        assert_eq!(decode(Some(0xa82f30ea), 0x9b32, 2), 0xa82f9b32);
        // RFC 9000 §17.1's examples, seen from the decoder.
        assert_eq!(decode(Some(0xabe8b3), 0xac5c02, 3), 0xac5c02);
        assert_eq!(decode(None, 2, 4), 2);
        assert_eq!(decode(None, 0, 1), 0);
        assert_eq!(decode(Some(0xff), 0x01, 1), 0x101);
        assert_eq!(decode(Some(0x100), 0xff, 1), 0xff);
    }
}

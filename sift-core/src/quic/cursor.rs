//! A bounds-checked cursor over QUIC wire bytes: fixed-size big-endian
//! integers and RFC 9000 §16 variable-length integers. Every read returns
//! `None` when the bytes run out, and consumes nothing then.

/// Reads from the front of a byte slice, remembering how far it got.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

/// The largest value a variable-length integer can hold (2^62 - 1).
pub(crate) const VARINT_MAX: u64 = (1 << 62) - 1;

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    /// How many bytes have been consumed.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    /// The bytes not consumed yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or_default()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }

    /// Consumes exactly `len` bytes, or nothing if fewer remain.
    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(len)?;
        let taken = self.bytes.get(self.position..end)?;
        self.position = end;
        Some(taken)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// A variable-length integer: the two high bits of the first byte give
    /// its length (1, 2, 4 or 8 bytes), the rest is the value, big-endian.
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let first = *self.rest().first()?;
        let len = match first >> 6 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let (head, tail) = self.take(len)?.split_first()?;
        Some(tail.iter().fold(u64::from(head & 0x3f), |value, &byte| {
            value << 8 | u64::from(byte)
        }))
    }

    /// A variable-length integer used as a length within this input.
    pub(crate) fn varint_len(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_rfc9000_appendix_a1() {
        // RFC 9000, Appendix A.1: sample variable-length integer decodings.
        for (bytes, value) in [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
            (&[0x40, 0x25], 37),
        ] {
            let mut cursor = Cursor::new(bytes);
            assert_eq!(cursor.varint(), Some(value), "{bytes:02x?}");
            assert!(cursor.is_empty());
        }
        assert_eq!(Cursor::new(&[0xff; 8]).varint(), Some(VARINT_MAX));
        assert_eq!(Cursor::new(&[0x3f]).varint(), Some(63));
        assert_eq!(Cursor::new(&[0x7f, 0xff]).varint(), Some(16_383));
    }

    #[test]
    fn short_reads_consume_nothing() {
        let mut cursor = Cursor::new(&[0x80, 0x00, 0x01]);
        assert_eq!(cursor.varint(), None);
        assert_eq!(cursor.position(), 0);
        assert_eq!(cursor.u32(), None);
        assert_eq!(cursor.take(4), None);
        assert_eq!(cursor.u8(), Some(0x80));
        assert_eq!(cursor.rest(), &[0x00, 0x01]);
        assert_eq!(cursor.take(usize::MAX), None);
        assert_eq!(Cursor::new(&[]).varint(), None);
    }
}

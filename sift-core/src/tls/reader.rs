//! A bounds-checked cursor over a byte slice.
//!
//! Every read returns `None` instead of panicking when the bytes run out, so
//! the parsers above it can turn "ran off the end" into a precise error with
//! `?`/`ok_or` and never index a slice directly.

/// Reads big-endian TLS wire values from the front of a byte slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Consumes exactly `len` bytes, or nothing if fewer remain.
    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Some(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        self.take(N).and_then(|bytes| bytes.try_into().ok())
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|&[byte]| byte)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array::<2>().map(|&bytes| u16::from_be_bytes(bytes))
    }

    /// A vector with a one-byte length prefix (`opaque x<0..2^8-1>`).
    pub(crate) fn u8_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = self.u8()?;
        self.take(usize::from(len))
    }

    /// A vector with a two-byte length prefix (`opaque x<0..2^16-1>`).
    pub(crate) fn u16_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::Reader;

    #[test]
    fn reads_stop_at_the_end_without_consuming() {
        let mut reader = Reader::new(&[0x01, 0x02, 0x03]);
        assert_eq!(reader.u16(), Some(0x0102));
        assert_eq!(reader.u16(), None);
        assert_eq!(reader.u8(), Some(0x03));
        assert!(reader.is_empty());
        assert_eq!(reader.u8(), None);
    }

    #[test]
    fn prefixed_vectors_check_their_length() {
        assert_eq!(Reader::new(&[2, 7, 8, 9]).u8_prefixed(), Some(&[7, 8][..]));
        assert_eq!(Reader::new(&[3, 7, 8]).u8_prefixed(), None);
        assert_eq!(Reader::new(&[0, 1, 7]).u16_prefixed(), Some(&[7][..]));
        assert_eq!(Reader::new(&[0xff, 0xff, 7]).u16_prefixed(), None);
    }
}

//! A cursor over the bytes received so far, for parsers that must tell
//! "not here yet" apart from "can never match".
//!
//! Every read answers [`Stop::Incomplete`] when the bytes end too early and
//! [`Stop::Invalid`] when the bytes present already rule the structure out,
//! so a parser written with it is exact on prefixes: it says `Incomplete`
//! only while some continuation could still succeed.

/// Why a parse did not reach its goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Consistent so far, but cut short: more bytes may complete it.
    Incomplete,
    /// Ruled out by the bytes present, whatever follows.
    Invalid,
}

pub(crate) type Parsed<T> = Result<T, Stop>;

/// Reads forward through `rest`. `room` is how many more bytes the
/// structure being read may occupy: running out of `rest` is `Incomplete`
/// while `rest` is shorter than `room` (the peer may still send them) and
/// `Invalid` once it is not (the structure overran its declared length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    room: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a structure of unbounded length.
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            room: usize::MAX,
        }
    }

    /// A reader over a structure that must fit in the first `limit` bytes.
    pub(crate) fn with_limit(bytes: &'a [u8], limit: usize) -> Self {
        Self {
            rest: bytes.get(..limit).unwrap_or(bytes),
            room: limit,
        }
    }

    /// The bytes present that the structure may still occupy.
    pub(crate) const fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// How many more bytes the structure may occupy.
    pub(crate) const fn room(&self) -> usize {
        self.room
    }

    /// The verdict on needing bytes beyond those present.
    pub(crate) fn out_of_bytes(&self) -> Stop {
        if self.rest.len() < self.room {
            Stop::Incomplete
        } else {
            Stop::Invalid
        }
    }

    pub(crate) fn take(&mut self, count: usize) -> Parsed<&'a [u8]> {
        if count > self.room {
            return Err(Stop::Invalid);
        }
        let (taken, rest) = self
            .rest
            .split_at_checked(count)
            .ok_or_else(|| self.out_of_bytes())?;
        self.rest = rest;
        self.room = self.room.saturating_sub(count);
        Ok(taken)
    }

    pub(crate) fn byte(&mut self) -> Parsed<u8> {
        let taken = self.take(1)?;
        taken.first().copied().ok_or(Stop::Invalid)
    }

    /// One byte, which `accept` must approve.
    pub(crate) fn byte_where(&mut self, accept: impl Fn(u8) -> bool) -> Parsed<u8> {
        match self.rest.first() {
            Some(&byte) if !accept(byte) => Err(Stop::Invalid),
            _ => self.byte(),
        }
    }

    /// `count` bytes, each approved by `accept`; a bad byte is `Invalid`
    /// even before all `count` have arrived.
    pub(crate) fn take_where(
        &mut self,
        count: usize,
        accept: impl Fn(u8) -> bool,
    ) -> Parsed<&'a [u8]> {
        if self.rest.iter().take(count).any(|&byte| !accept(byte)) {
            return Err(Stop::Invalid);
        }
        self.take(count)
    }

    /// Exactly `expected`; a mismatch in the part present is `Invalid`.
    pub(crate) fn literal(&mut self, expected: &[u8]) -> Parsed<()> {
        let agrees = self.rest.iter().zip(expected).all(|(a, b)| a == b);
        if !agrees {
            return Err(Stop::Invalid);
        }
        self.take(expected.len()).map(|_| ())
    }

    /// The first of `candidates` the bytes start with. Callers pass
    /// candidates of which none is a prefix of another, so the answer
    /// cannot change as more bytes arrive.
    pub(crate) fn one_of(&mut self, candidates: &[&[u8]]) -> Parsed<&'a [u8]> {
        let mut could_still_match = false;
        for candidate in candidates {
            if candidate.len() > self.room {
                continue;
            }
            if self.rest.starts_with(candidate) {
                return self.take(candidate.len());
            }
            if candidate.starts_with(self.rest) {
                could_still_match = true;
            }
        }
        if could_still_match {
            Err(Stop::Incomplete)
        } else {
            Err(Stop::Invalid)
        }
    }

    /// A big-endian unsigned integer of `width` bytes (at most 4) within
    /// `min..=max`. With only some of its bytes present it is `Invalid` as
    /// soon as no completion could land in the range.
    pub(crate) fn uint_in(&mut self, width: usize, min: usize, max: usize) -> Parsed<usize> {
        if width > 4 || width > self.room {
            return Err(Stop::Invalid);
        }
        let present = self.rest.get(..width).unwrap_or(self.rest);
        let mut lowest: u64 = 0;
        let mut highest: u64 = 0;
        for position in 0..width {
            let (low_byte, high_byte) = match present.get(position) {
                Some(&byte) => (byte, byte),
                None => (u8::MIN, u8::MAX),
            };
            lowest = lowest.wrapping_shl(8) | u64::from(low_byte);
            highest = highest.wrapping_shl(8) | u64::from(high_byte);
        }
        let min = u64::try_from(min).unwrap_or(u64::MAX);
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        if highest < min || lowest > max {
            return Err(Stop::Invalid);
        }
        self.take(width)?;
        usize::try_from(lowest).map_err(|_| Stop::Invalid)
    }

    /// A little-endian unsigned integer of `width` bytes (at most 4) within
    /// `min..=max`; like [`Reader::uint_in`], `Invalid` as soon as the bytes
    /// present rule the range out (here the low-order bytes come first).
    pub(crate) fn uint_le_in(&mut self, width: usize, min: usize, max: usize) -> Parsed<usize> {
        if width > 4 || width > self.room {
            return Err(Stop::Invalid);
        }
        let present = self.rest.get(..width).unwrap_or(self.rest);
        let mut lowest: u64 = 0;
        let mut highest: u64 = 0;
        for position in (0..width).rev() {
            let (low_byte, high_byte) = match present.get(position) {
                Some(&byte) => (byte, byte),
                None => (u8::MIN, u8::MAX),
            };
            lowest = lowest.wrapping_shl(8) | u64::from(low_byte);
            highest = highest.wrapping_shl(8) | u64::from(high_byte);
        }
        let min = u64::try_from(min).unwrap_or(u64::MAX);
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        if highest < min || lowest > max {
            return Err(Stop::Invalid);
        }
        self.take(width)?;
        usize::try_from(lowest).map_err(|_| Stop::Invalid)
    }

    /// A decimal of ASCII digits without leading zeros (a lone `0` is
    /// zero) and at most `max`, read up to the first non-digit, which is
    /// left for the caller: a delimiter must follow, so running out of
    /// bytes is never a complete number.
    pub(crate) fn decimal(&mut self, max: usize) -> Parsed<usize> {
        let first = self.byte_where(|byte| byte.is_ascii_digit())?;
        let mut value = usize::from(first.wrapping_sub(b'0'));
        if value > max {
            return Err(Stop::Invalid);
        }
        loop {
            match self.rest.first() {
                Some(&byte) if byte.is_ascii_digit() => {
                    if first == b'0' {
                        return Err(Stop::Invalid);
                    }
                    value = value
                        .checked_mul(10)
                        .and_then(|tens| tens.checked_add(usize::from(byte.wrapping_sub(b'0'))))
                        .filter(|&value| value <= max)
                        .ok_or(Stop::Invalid)?;
                    self.byte()?;
                }
                Some(_) => return Ok(value),
                None => return Err(self.out_of_bytes()),
            }
        }
    }

    /// The bytes before the next `delimiter`, which is consumed too. The
    /// field holds at most `max_len` bytes, each approved by `accept`.
    pub(crate) fn until(
        &mut self,
        delimiter: u8,
        max_len: usize,
        accept: impl Fn(u8) -> bool,
    ) -> Parsed<&'a [u8]> {
        for (len, &byte) in self.rest.iter().enumerate() {
            if byte == delimiter {
                let field = self.take(len)?;
                self.take(1)?;
                return Ok(field);
            }
            if len >= max_len || !accept(byte) {
                return Err(Stop::Invalid);
            }
        }
        Err(self.out_of_bytes())
    }

    /// Skips bytes approved by `accept`.
    pub(crate) fn skip_while(&mut self, accept: impl Fn(u8) -> bool) {
        let count = self.rest.iter().take_while(|&&byte| accept(byte)).count();
        // Cannot fail: `count` bytes are present and `rest` never exceeds `room`.
        let _ = self.take(count);
    }

    /// Skips through the first occurrence of `needle`.
    pub(crate) fn skip_past(&mut self, needle: &[u8]) -> Parsed<()> {
        match find(self.rest, needle) {
            Some(start) => self.take(start.saturating_add(needle.len())).map(|_| ()),
            None => Err(self.out_of_bytes()),
        }
    }

    /// A reader over the next `len` bytes, which this reader skips. Running
    /// out inside it is `Invalid` once all `len` bytes are present.
    pub(crate) fn nested(&mut self, len: usize) -> Parsed<Reader<'a>> {
        if len > self.room {
            return Err(Stop::Invalid);
        }
        let inner = Self::with_limit(self.rest, len);
        self.rest = self.rest.get(inner.rest.len()..).unwrap_or_default();
        self.room = self.room.saturating_sub(len);
        Ok(inner)
    }
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_distinguishes_short_from_overrun() {
        let mut reader = Reader::new(b"ab");
        assert_eq!(reader.take(3), Err(Stop::Incomplete));
        let mut bounded = Reader::with_limit(b"ab", 2);
        assert_eq!(bounded.take(3), Err(Stop::Invalid));
        let mut partial = Reader::with_limit(b"ab", 4);
        assert_eq!(partial.take(3), Err(Stop::Incomplete));
        assert_eq!(partial.take(2), Ok(&b"ab"[..]));
        assert_eq!(partial.room(), 2);
    }

    #[test]
    fn literal_fails_early_on_mismatch() {
        assert_eq!(Reader::new(b"SS").literal(b"SSH-"), Err(Stop::Incomplete));
        assert_eq!(Reader::new(b"SX").literal(b"SSH-"), Err(Stop::Invalid));
        assert_eq!(Reader::new(b"SSH-2").literal(b"SSH-"), Ok(()));
    }

    #[test]
    fn uint_in_rejects_prefixes_that_cannot_reach_the_range() {
        // 14..=255 needs a zero high byte.
        assert_eq!(
            Reader::new(&[0x00]).uint_in(2, 14, 255),
            Err(Stop::Incomplete)
        );
        assert_eq!(Reader::new(&[0x01]).uint_in(2, 14, 255), Err(Stop::Invalid));
        assert_eq!(
            Reader::new(&[0x00, 0x0d]).uint_in(2, 14, 255),
            Err(Stop::Invalid)
        );
        assert_eq!(Reader::new(&[0x00, 0x0e]).uint_in(2, 14, 255), Ok(14));
        assert_eq!(
            Reader::new(&[0x00, 0x00, 0x27, 0x14]).uint_in(4, 8, 10_004),
            Ok(10_004)
        );
        assert_eq!(
            Reader::new(&[0x00, 0x00, 0x28]).uint_in(4, 8, 10_004),
            Err(Stop::Invalid)
        );
        assert_eq!(Reader::new(&[0u8; 5]).uint_in(5, 0, 1), Err(Stop::Invalid));
    }

    #[test]
    fn until_respects_length_and_alphabet() {
        let mut reader = Reader::new(b"GET / ");
        assert_eq!(
            reader.until(b' ', 8, |b| b.is_ascii_uppercase()),
            Ok(&b"GET"[..])
        );
        assert_eq!(reader.rest(), b"/ ");
        assert_eq!(
            Reader::new(b"GETX").until(b' ', 3, |_| true),
            Err(Stop::Invalid)
        );
        assert_eq!(
            Reader::new(b"GET").until(b' ', 3, |_| true),
            Err(Stop::Incomplete)
        );
        assert_eq!(
            Reader::new(b"G\x01").until(b' ', 9, |b| b > 0x20),
            Err(Stop::Invalid)
        );
    }

    #[test]
    fn one_of_and_skips() {
        let candidates: [&[u8]; 2] = [b"\r\n", b"\n"];
        assert_eq!(
            Reader::new(b"\r").one_of(&candidates),
            Err(Stop::Incomplete)
        );
        assert_eq!(Reader::new(b"\n").one_of(&candidates), Ok(&b"\n"[..]));
        assert_eq!(Reader::new(b"\rx").one_of(&candidates), Err(Stop::Invalid));
        let mut reader = Reader::new(b"  x?>y");
        reader.skip_while(|b| b == b' ');
        assert_eq!(reader.skip_past(b"?>"), Ok(()));
        assert_eq!(reader.rest(), b"y");
        assert_eq!(
            Reader::with_limit(b"abc", 3).skip_past(b"?>"),
            Err(Stop::Invalid)
        );
    }

    #[test]
    fn little_endian_ranges() {
        assert_eq!(
            Reader::new(&[0x00, 0x00, 0x10, 0x00]).uint_le_in(4, 1, 1 << 20),
            Ok(1 << 20)
        );
        // The third byte alone already puts it above 1 MiB.
        assert_eq!(
            Reader::new(&[0x01, 0x00, 0x11]).uint_le_in(4, 1, 1 << 20),
            Err(Stop::Invalid)
        );
        assert_eq!(
            Reader::new(&[0xff, 0xff]).uint_le_in(4, 1, 1 << 20),
            Err(Stop::Incomplete)
        );
        assert_eq!(
            Reader::new(&[0x00, 0x00, 0x00, 0x00]).uint_le_in(4, 1, 9),
            Err(Stop::Invalid)
        );
    }

    #[test]
    fn decimals() {
        assert_eq!(Reader::new(b"191>").decimal(191), Ok(191));
        assert_eq!(Reader::new(b"192").decimal(191), Err(Stop::Invalid));
        assert_eq!(Reader::new(b"0>").decimal(191), Ok(0));
        assert_eq!(Reader::new(b"01").decimal(191), Err(Stop::Invalid));
        assert_eq!(Reader::new(b"19").decimal(191), Err(Stop::Incomplete));
        assert_eq!(Reader::new(b"x").decimal(191), Err(Stop::Invalid));
        assert_eq!(Reader::with_limit(b"12", 2).decimal(99), Err(Stop::Invalid));
        assert_eq!(Reader::new(b"9").decimal(8), Err(Stop::Invalid));
    }

    #[test]
    fn nested_readers_are_bounded() {
        let mut outer = Reader::new(b"\x03abcdef");
        let len = usize::from(outer.byte().unwrap());
        let mut inner = outer.nested(len).unwrap();
        assert_eq!(inner.take(4), Err(Stop::Invalid));
        assert_eq!(inner.take(3), Ok(&b"abc"[..]));
        assert_eq!(outer.rest(), b"def");
        let mut short = Reader::new(b"\x05ab");
        let len = usize::from(short.byte().unwrap());
        let mut inner = short.nested(len).unwrap();
        assert_eq!(inner.take(3), Err(Stop::Incomplete));
        assert_eq!(inner.take(6), Err(Stop::Invalid));
    }
}

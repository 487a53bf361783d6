//! Small allocation-free text helpers shared by the fingerprints: hex and
//! decimal formatting, a fixed-size string, and digests fed through
//! `fmt::Write` so a hash always covers exactly the raw string.

use core::fmt::{self, Write};

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A short ASCII string of exactly `N` bytes, such as a hash in hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint<const N: usize>([u8; N]);

impl<const N: usize> Fingerprint<N> {
    /// Wraps bytes the caller has made sure are ASCII.
    pub(crate) const fn from_ascii(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// All `'0'`: the JA4 placeholder for an empty list, and the fallback
    /// should formatting ever fail.
    pub(crate) const ZEROS: Self = Self([b'0'; N]);

    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this never falls back.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Display for Fingerprint<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for Fingerprint<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> AsRef<str> for Fingerprint<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Builds a [`Fingerprint`] through `fmt::Write`; writes past `N` bytes
/// fail instead of panicking.
pub(crate) struct FixedWriter<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> FixedWriter<N> {
    pub(crate) fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    pub(crate) fn push_ascii(&mut self, ascii: &[u8]) -> fmt::Result {
        let end = self.len.checked_add(ascii.len()).ok_or(fmt::Error)?;
        let destination = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        destination.copy_from_slice(ascii);
        self.len = end;
        Ok(())
    }

    /// The fingerprint, if exactly `N` bytes were written.
    pub(crate) fn finish(self) -> Option<Fingerprint<N>> {
        (self.len == N).then_some(Fingerprint(self.bytes))
    }
}

impl<const N: usize> Write for FixedWriter<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_ascii(s.as_bytes())
    }
}

/// Feeds everything written into a digest.
pub(crate) struct DigestWriter<D>(pub(crate) D);

impl<D: sha2::Digest> Write for DigestWriter<D> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// Lower-case hex of `bytes`, truncated to `N` characters.
pub(crate) fn hex_prefix<const N: usize>(bytes: &[u8]) -> Option<Fingerprint<N>> {
    let mut out = FixedWriter::<N>::new();
    for &byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            if out.len == N {
                return out.finish();
            }
            out.push_ascii(&[hex_digit(nibble)]).ok()?;
        }
    }
    out.finish()
}

#[inline]
pub(crate) fn hex_digit(nibble: u8) -> u8 {
    HEX_DIGITS
        .get(usize::from(nibble & 0x0f))
        .copied()
        .unwrap_or(b'0')
}

/// `value` as four lower-case hex digits, computed in one 32-bit word (a
/// digit per byte) instead of four table lookups: JA4 formats every cipher,
/// extension and signature algorithm of a hello this way.
#[inline]
pub(crate) fn hex4(value: u16) -> [u8; 4] {
    let x = u32::from(value);
    // Nibbles, most significant first, one per byte (little-endian order).
    let nibbles = (x >> 12) | ((x >> 8) & 0xf) << 8 | ((x >> 4) & 0xf) << 16 | (x & 0xf) << 24;
    // 1 in each byte whose nibble is 10..=15 (no carry: bytes stay < 0x16).
    let letters = ((nibbles + 0x0606_0606) >> 4) & 0x0101_0101;
    // '0' + nibble, plus ('a' - '0' - 10) for letters.
    (nibbles + 0x3030_3030 + letters * 0x27).to_le_bytes()
}

/// Writes `value` as four lower-case hex digits.
pub(crate) fn write_hex4<W: Write + ?Sized>(out: &mut W, value: u16) -> fmt::Result {
    out.write_str(core::str::from_utf8(&hex4(value)).map_err(|_| fmt::Error)?)
}

/// Writes `value` in decimal without going through `core::fmt` machinery.
pub(crate) fn write_decimal<W: Write + ?Sized>(out: &mut W, value: u16) -> fmt::Result {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            // `rest % 10` < 10, so the cast cannot truncate.
            *slot = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    let used = digits.get(start..).ok_or(fmt::Error)?;
    out.write_str(core::str::from_utf8(used).map_err(|_| fmt::Error)?)
}

/// Writes `values` separated by `separator`, each through `write_one`.
pub(crate) fn write_joined<W: Write + ?Sized, T>(
    out: &mut W,
    values: impl IntoIterator<Item = T>,
    separator: char,
    mut write_one: impl FnMut(&mut W, T) -> fmt::Result,
) -> fmt::Result {
    let mut first = true;
    for value in values {
        if !first {
            out.write_char(separator)?;
        }
        first = false;
        write_one(out, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex4_matches_format_for_every_value() {
        for value in 0..=u16::MAX {
            assert_eq!(
                super::hex4(value),
                format!("{value:04x}").as_bytes(),
                "{value:#06x}"
            );
        }
    }

    use super::*;

    fn decimal(value: u16) -> String {
        let mut out = String::new();
        write_decimal(&mut out, value).unwrap();
        out
    }

    #[test]
    fn decimal_matches_display() {
        for value in [0, 7, 10, 99, 100, 771, 4865, 52393, u16::MAX] {
            assert_eq!(decimal(value), value.to_string());
        }
    }

    #[test]
    fn hex4_is_zero_padded_lower_case() {
        let mut out = String::new();
        write_hex4(&mut out, 0x00ff).unwrap();
        write_hex4(&mut out, 0xCCA9).unwrap();
        assert_eq!(out, "00ffcca9");
    }

    #[test]
    fn hex_prefix_truncates() {
        assert_eq!(hex_prefix::<3>(&[0xab, 0xcd]).unwrap().as_str(), "abc");
        assert_eq!(hex_prefix::<4>(&[0xab, 0xcd]).unwrap().as_str(), "abcd");
        assert!(hex_prefix::<5>(&[0xab, 0xcd]).is_none());
    }

    #[test]
    fn fixed_writer_refuses_overflow() {
        let mut out = FixedWriter::<2>::new();
        assert!(out.write_str("abc").is_err());
        assert!(out.write_str("ab").is_ok());
        assert_eq!(out.finish().unwrap().as_str(), "ab");
    }
}

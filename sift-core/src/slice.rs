//! Slice arithmetic the FFI layer needs without `unsafe`.

use core::ops::Range;

/// Where `inner` lies within `outer`, if it is a subslice of it (same
/// memory, not merely equal bytes).
pub fn subslice_range(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let outer_start = outer.as_ptr() as usize;
    let inner_start = inner.as_ptr() as usize;
    let start = inner_start.checked_sub(outer_start)?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

/// `inner`, a subslice of `from`, at the same offset within `to` (a copy of
/// `from`). None if `inner` is not within `from` or `to` is shorter.
pub fn rebase<'t>(from: &[u8], inner: &[u8], to: &'t [u8]) -> Option<&'t [u8]> {
    to.get(subslice_range(from, inner)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_subslices_and_rejects_others() {
        let outer = [1u8, 2, 3, 4, 5];
        assert_eq!(subslice_range(&outer, &outer[1..4]), Some(1..4));
        assert_eq!(subslice_range(&outer, &outer[5..]), Some(5..5));
        let elsewhere = [2u8, 3, 4];
        assert_eq!(subslice_range(&outer, &elsewhere), None);
        assert_eq!(subslice_range(&outer[1..], &outer[..2]), None);
    }

    #[test]
    fn rebases_into_a_copy() {
        let original = *b"hello world";
        let copy = original;
        let word = &original[6..];
        assert_eq!(rebase(&original, word, &copy), Some(&b"world"[..]));
        assert!(core::ptr::eq(
            rebase(&original, word, &copy).unwrap().as_ptr(),
            &copy[6]
        ));
        assert_eq!(rebase(&original, word, &copy[..8]), None);
    }
}

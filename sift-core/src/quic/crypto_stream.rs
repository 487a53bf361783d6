//! The client's Initial CRYPTO stream, reassembled by offset into the
//! caller's buffer.
//!
//! Frames may arrive in any order, repeat, overlap and leave gaps (Chrome
//! shuffles and splits its ClientHello on purpose). What has arrived is a
//! sorted list of disjoint byte ranges with a fixed capacity; a frame
//! whose bytes disagree with bytes already received is rejected, since a
//! retransmission must repeat the same data (RFC 9000 §19.6).

use super::error::QuicError;

/// The most disjoint ranges (pieces separated by gaps) tracked at once.
/// Real clients leave a dozen at most, even shuffled.
pub const MAX_RANGES: usize = 32;

/// Which byte ranges of the stream have arrived. The bytes themselves are
/// in the caller's buffer, at their stream offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// `(start, end)` pairs, sorted, disjoint and not adjacent.
    ranges: [(u32, u32); MAX_RANGES],
    len: usize,
}

impl Default for Received {
    fn default() -> Self {
        Self::new()
    }
}

impl Received {
    pub(crate) const fn new() -> Self {
        Self {
            ranges: [(0, 0); MAX_RANGES],
            len: 0,
        }
    }

    fn ranges(&self) -> &[(u32, u32)] {
        self.ranges.get(..self.len).unwrap_or_default()
    }

    /// How many bytes from offset 0 have arrived without a gap.
    pub(crate) fn contiguous(&self) -> usize {
        match self.ranges().first() {
            Some(&(0, end)) => end as usize,
            _ => 0,
        }
    }

    /// Stores `data` at stream offset `offset` in `buffer`, whose length is
    /// the stream's capacity.
    pub(crate) fn insert(
        &mut self,
        buffer: &mut [u8],
        offset: u64,
        data: &[u8],
    ) -> Result<(), QuicError> {
        if data.is_empty() {
            return Ok(());
        }
        let start = usize::try_from(offset).map_err(|_| QuicError::CryptoTooLarge)?;
        let end = start
            .checked_add(data.len())
            .ok_or(QuicError::CryptoTooLarge)?;
        let (Ok(start32), Ok(end32)) = (u32::try_from(start), u32::try_from(end)) else {
            return Err(QuicError::CryptoTooLarge);
        };
        let destination = buffer
            .get_mut(start..end)
            .ok_or(QuicError::CryptoTooLarge)?;

        // Bytes that arrived before must be repeated exactly.
        for &(have_start, have_end) in self.ranges() {
            let overlap_start = start32.max(have_start);
            let overlap_end = end32.min(have_end);
            if overlap_start >= overlap_end {
                continue;
            }
            let from = overlap_start.saturating_sub(start32) as usize;
            let to = overlap_end.saturating_sub(start32) as usize;
            if destination.get(from..to) != data.get(from..to) {
                return Err(QuicError::CryptoConflict);
            }
        }
        destination.copy_from_slice(data);
        self.merge(start32, end32)
    }

    /// Adds `[start, end)` to the ranges, joining every range it overlaps
    /// or touches.
    fn merge(&mut self, start: u32, end: u32) -> Result<(), QuicError> {
        let ranges = self.ranges();
        // The first range that ends at or after `start`, and the first that
        // starts after `end`: everything between them joins the new one.
        let first = ranges.partition_point(|&(_, have_end)| have_end < start);
        let last = ranges.partition_point(|&(have_start, _)| have_start <= end);
        let joined = last.saturating_sub(first);
        let mut merged = (start, end);
        if let Some(between) = ranges.get(first..last) {
            for &(have_start, have_end) in between {
                merged = (merged.0.min(have_start), merged.1.max(have_end));
            }
        }
        let new_len = if joined == 0 {
            if self.len >= MAX_RANGES {
                return Err(QuicError::TooManyGaps);
            }
            self.len.saturating_add(1)
        } else {
            self.len.saturating_sub(joined).saturating_add(1)
        };
        // Shift the ranges after the joined ones into place, then write the
        // merged one at `first`.
        let tail_from = last;
        let tail_to = first.saturating_add(1);
        let tail_len = self.len.saturating_sub(tail_from);
        if tail_from != tail_to {
            // Both ends stay within the array: the tail moves right only
            // when `len < MAX_RANGES` (checked above).
            if tail_to.saturating_add(tail_len) > MAX_RANGES || tail_from > self.len {
                return Err(QuicError::TooManyGaps);
            }
            self.ranges.copy_within(tail_from..self.len, tail_to);
        }
        if let Some(slot) = self.ranges.get_mut(first) {
            *slot = merged;
        }
        self.len = new_len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(
        received: &mut Received,
        buffer: &mut [u8],
        offset: u64,
        data: &[u8],
    ) -> Result<(), QuicError> {
        received.insert(buffer, offset, data)
    }

    #[test]
    fn out_of_order_with_duplicates_and_gaps() {
        let mut buffer = [0u8; 32];
        let mut received = Received::new();
        insert(&mut received, &mut buffer, 10, b"klm").unwrap();
        assert_eq!(received.ranges(), &[(10, 13)]);
        assert_eq!(received.contiguous(), 0);
        insert(&mut received, &mut buffer, 3, b"def").unwrap();
        insert(&mut received, &mut buffer, 20, b"uv").unwrap();
        assert_eq!(received.ranges(), &[(3, 6), (10, 13), (20, 22)]);
        // A duplicate, and an overlap with the same bytes.
        insert(&mut received, &mut buffer, 3, b"def").unwrap();
        insert(&mut received, &mut buffer, 4, b"efghij").unwrap();
        assert_eq!(received.ranges(), &[(3, 13), (20, 22)]);
        insert(&mut received, &mut buffer, 0, b"abc").unwrap();
        assert_eq!(received.ranges(), &[(0, 13), (20, 22)]);
        assert_eq!(received.contiguous(), 13);
        // Touching ranges join; one covering several swallows them.
        insert(&mut received, &mut buffer, 13, b"nopqrst").unwrap();
        assert_eq!(received.ranges(), &[(0, 22)]);
        assert_eq!(&buffer[..22], b"abcdefghijklmnopqrstuv");
        insert(&mut received, &mut buffer, 0, b"").unwrap();
        assert_eq!(received.contiguous(), 22);
    }

    #[test]
    fn one_range_covering_many() {
        let mut buffer = [0u8; 32];
        let mut received = Received::new();
        for at in [1u64, 5, 9, 13] {
            insert(&mut received, &mut buffer, at, &[0x11]).unwrap();
        }
        insert(&mut received, &mut buffer, 30, &[0x11]).unwrap();
        assert_eq!(received.len, 5);
        insert(&mut received, &mut buffer, 0, &[0x11; 16]).unwrap();
        assert_eq!(received.ranges(), &[(0, 16), (30, 31)]);
    }

    #[test]
    fn conflicts_capacity_and_gaps() {
        let mut buffer = [0u8; 16];
        let mut received = Received::new();
        insert(&mut received, &mut buffer, 2, b"abcd").unwrap();
        assert_eq!(
            insert(&mut received, &mut buffer, 4, b"cX"),
            Err(QuicError::CryptoConflict)
        );
        assert_eq!(insert(&mut received, &mut buffer, 0, b"..abcdX"), Ok(()));
        assert_eq!(
            insert(&mut received, &mut buffer, 0, b"..abcdY"),
            Err(QuicError::CryptoConflict)
        );
        assert_eq!(
            insert(&mut received, &mut buffer, 15, b"ab"),
            Err(QuicError::CryptoTooLarge)
        );
        assert_eq!(
            insert(&mut received, &mut buffer, u64::MAX, b"a"),
            Err(QuicError::CryptoTooLarge)
        );
        // A conflicting frame leaves what was there untouched.
        assert_eq!(&buffer[..7], b"..abcdX");

        let mut big = [0u8; 4 * MAX_RANGES];
        let mut received = Received::new();
        for index in 0..MAX_RANGES as u64 {
            insert(&mut received, &mut big, index * 2 + 1, &[1]).unwrap();
        }
        assert_eq!(
            insert(&mut received, &mut big, 2 * MAX_RANGES as u64 + 5, &[1]),
            Err(QuicError::TooManyGaps)
        );
        // Filling a gap still works at the cap.
        insert(&mut received, &mut big, 0, &[1]).unwrap();
        assert_eq!(received.ranges()[0], (0, 2));
    }
}

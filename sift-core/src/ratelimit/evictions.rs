//! When a full rate zone evicts live keys to make room, the operator should
//! hear of it (a larger zone would keep them) without a line per session:
//! [`EvictionReport`] counts a worker's evictions of one zone and says when
//! a notice is due, at most one per [`EVICTION_NOTICE_INTERVAL_MS`].

/// The least time between two notices for one zone (per worker).
pub const EVICTION_NOTICE_INTERVAL_MS: u64 = 10_000;

/// One zone's evictions in one worker since its last notice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvictionReport {
    pending: u64,
    last_notice_ms: Option<u64>,
}

impl EvictionReport {
    /// Counts `evicted` evictions made at `now_ms`. Returns how many to
    /// report when a notice is due: the first eviction at once, then the
    /// evictions since the last notice once the interval has passed (the
    /// count waits for the next eviction after that).
    pub fn record(&mut self, evicted: u64, now_ms: u64) -> Option<u64> {
        if evicted == 0 {
            return None;
        }
        self.pending = self.pending.saturating_add(evicted);
        let due = self
            .last_notice_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= EVICTION_NOTICE_INTERVAL_MS);
        if !due {
            return None;
        }
        self.last_notice_ms = Some(now_ms);
        Some(core::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_at_once_then_once_per_interval_with_the_count() {
        let mut report = EvictionReport::default();
        assert_eq!(report.record(0, 5), None);
        assert_eq!(report.record(1, 1_000), Some(1));
        for at in 1_001..1_219 {
            assert_eq!(report.record(1, at), None);
        }
        assert_eq!(report.record(2, 10_999), None);
        // 218 + 2 while waiting, and this one.
        assert_eq!(report.record(1, 11_000), Some(221));
        assert_eq!(report.record(1, 11_001), None);
        // A clock that goes back delays the next notice, never panics.
        assert_eq!(report.record(1, 3), None);
        assert_eq!(report.record(u64::MAX, 21_000), Some(u64::MAX));
    }
}

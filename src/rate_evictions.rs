//! The notice that a full `sift_rate_zone` evicted live keys to make room:
//! at warn, at most one per zone every 10 s per worker, with the count
//! (`sift_core::ratelimit::EvictionReport` decides when).

use core::cell::RefCell;

use ngx_stream::ffi::NGX_LOG_WARN;
use ngx_stream::{stream_log, Session};
use sift_core::ratelimit::{EvictionReport, EVICTION_NOTICE_INTERVAL_MS};

thread_local! {
    /// Per zone name (a handful per configuration).
    static REPORTS: RefCell<Vec<(String, EvictionReport)>> = const { RefCell::new(Vec::new()) };
}

/// Counts `evicted` keys that `session`'s check evicted from `zone` (the
/// zone's lock released), logging when a notice is due.
pub fn note(session: &Session<'_>, zone: &str, evicted: u64, now_ms: u64) {
    if evicted == 0 {
        return;
    }
    let due = REPORTS.with(|cell| {
        let mut reports = cell.try_borrow_mut().ok()?;
        let index = match reports.iter().position(|(name, _)| name == zone) {
            Some(index) => index,
            None => {
                reports.push((zone.to_owned(), EvictionReport::default()));
                reports.len().saturating_sub(1)
            }
        };
        reports.get_mut(index)?.1.record(evicted, now_ms)
    });
    if let (Some(count), Some(log)) = (due, session.log()) {
        stream_log!(
            NGX_LOG_WARN,
            log,
            "sift: sift_rate_zone \"{zone}\" is full: {count} live key{} evicted (least recently used first) to make room since this worker's last notice, at most one every {} s; a larger zone keeps more keys",
            if count == 1 { "" } else { "s" },
            EVICTION_NOTICE_INTERVAL_MS / 1000
        );
    }
}

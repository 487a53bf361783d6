//! Live lists (`sift_list_zone`, `sift_list`): key → value tables in shared
//! memory that the HTTP API (`sift_api`) changes at runtime and every
//! worker reads on its next session, optionally saved to a state file.
//! The table itself is `sift_core::list`.

mod directives;
mod state;
pub mod sync;
mod variable;
mod zone;

pub use directives::check_uses;
pub use directives::{SiftList, SiftListZone};
pub use zone::{ListZone, ListZoneKind, WriteError};

/// Each list's name and entries in force, for `sift_list_entries`.
pub fn entry_counts(registry: &crate::metrics::MetricsZone) -> Vec<(String, u64)> {
    let now_ms = ngx_stream::time::wall_msec();
    registry
        .lists
        .borrow()
        .iter()
        .filter_map(|zone| zone.data())
        .map(|zone| (zone.name.clone(), zone.live_len(now_ms).unwrap_or(0) as u64))
        .collect()
}

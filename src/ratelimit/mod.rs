//! Per-key connection-rate limiting in shared memory: `sift_rate_zone`
//! declares a zone (key, size, rate, and with `sync=` a Redis that makes
//! the limit hold across hosts), `sift_rate` applies it to servers (both
//! parsed in `directives.rs`). The table itself (leaky buckets, LRU
//! eviction) is `sift_core::ratelimit`.

mod limit;
pub mod sync;
mod zone;

pub use limit::RateLimit;
pub use sync::{PendingSync, RateSync};
pub use zone::{RateKey, RateZone, RateZoneKind};

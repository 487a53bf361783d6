//! Per-key connection-rate limiting in shared memory: `sift_rate_zone`
//! declares a zone (key, size, rate), `sift_rate` applies it to servers
//! (both parsed in `directives.rs`). The table itself (leaky buckets, LRU
//! eviction) is `sift_core::ratelimit`.

mod limit;
mod zone;

pub use limit::RateLimit;
pub use zone::{RateKey, RateZone, RateZoneKind};

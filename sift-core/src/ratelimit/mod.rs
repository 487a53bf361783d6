//! Per-key connection-rate limiting, with its state in nginx shared memory.
//!
//! A [`RateTable`] keeps a leaky bucket per key (typically the client
//! address) and answers, for each new connection, whether it is within a
//! [`Rate`] plus a burst: the algorithm and integer arithmetic of nginx's
//! `limit_req`, applied to connections.
//!
//! ```
//! use sift_core::ratelimit::{slots_for, Header, Rate, RateTable, Slot, Verdict};
//!
//! // The FFI makes these two from the shared memory zone instead.
//! let mut header = Header::default();
//! let mut slots = vec![Slot::default(); slots_for(64 * 1024)];
//!
//! let rate = Rate::parse("1r/s").unwrap();
//! let mut table = RateTable::init(&mut header, &mut slots, 0x5eed);
//! assert_eq!(table.check(b"192.0.2.1", 0, rate, 0), Verdict::Passed);
//! assert_eq!(table.check(b"192.0.2.1", 500, rate, 0), Verdict::Rejected);
//! assert_eq!(table.check(b"192.0.2.1", 1000, rate, 0), Verdict::Passed);
//!
//! // Another worker, or the same zone after a reload:
//! let table = RateTable::attach(&mut header, &mut slots).unwrap();
//! assert_eq!(table.len(), 1);
//! ```
//!
//! # Memory layout
//!
//! The table lives in a caller-provided region, 8-byte aligned
//! ([`TABLE_ALIGN`]): a [`Header`] ([`HEADER_SIZE`] = 64 bytes) followed by
//! [`slots_for`]`(region size)` [`Slot`]s ([`SLOT_SIZE`] = 32 bytes each).
//! Both are `#[repr(C)]` structs of `u64` and `u32` fields with no padding,
//! no pointers and no `usize`, so every worker (and every reload of the same
//! binary) reads the same bytes the same way, and all zeros is a valid
//! value: an empty slot, a header that [`RateTable::attach`] refuses.
//!
//! | `Slot` offset | field | |
//! |---:|---|---|
//! | 0 | `hash: u64` | the key's seeded hash; 0 = empty slot |
//! | 8 | `last_ms: u64` | time of the bucket's last update |
//! | 16 | `excess: u64` | bucket level, milli-connections |
//! | 24 | `prev: u32` | more recently used slot, or `u32::MAX` |
//! | 28 | `next: u32` | less recently used slot, or `u32::MAX` |
//!
//! | `Header` offset | field | |
//! |---:|---|---|
//! | 0 | `magic: u64` | `"siftRL\0\x01"`: format and layout version |
//! | 8 | `seed: u64` | per-zone hash seed |
//! | 16 | `slots: u32` | slot count |
//! | 20 | `len: u32` | keys held |
//! | 24 | `head: u32` | most recently used slot |
//! | 28 | `tail: u32` | least recently used slot |
//! | 32 | `evicted: u64` | keys evicted at max load |
//! | 40 | `expired: u64` | drained keys dropped |
//! | 48 | `reserved: [u64; 2]` | zero |
//!
//! The FFI allocates the region (e.g. one `ngx_slab_alloc` block from the
//! zone's pool, which is page-aligned for large sizes), turns its start into
//! `&mut Header` and the rest into `&mut [Slot]` of length
//! [`slots_for`]`(size)`, and calls [`RateTable::init`] once for a new zone
//! (or when [`attach`](RateTable::attach) returns `None`) and
//! [`attach`](RateTable::attach) for each check, holding the zone's mutex
//! while the `RateTable` lives. Nothing here locks.
//!
//! # Keys
//!
//! Slots are fixed-size, so a slot stores a 64-bit hash of its key, not
//! the key: two distinct keys share a bucket with probability about 2^-64
//! per pair (about 2^-35 for some pair among the 28670 keys a MiB holds).
//! The hash is seeded per zone, so the slot a key lands in cannot be
//! predicted by a client; it is not a cryptographic hash. Hashing costs
//! O(key length) and does not allocate; keys of any length are accepted.
//!
//! # Table
//!
//! Open addressing with linear probing in Robin Hood order (a probe stops
//! at the first slot whose occupant is nearer its home than the probe is),
//! deletion by backward shift, and a maximum load of 7/8 of the slots:
//! [`keys_per_mib`] = 28670 keys per MiB of region. An intrusive doubly
//! linked list of slot indices keeps the keys in order of use; every check
//! moves its key to the most recently used end. A new key arriving when
//! the table is at max load evicts the least recently used key; and every
//! new key first drops up to two least recently used keys whose buckets
//! have drained (which loses nothing, see [`RateTable::check`]). Every loop
//! is bounded by the slot count, nothing recurses, and nothing allocates.
//!
//! The memory is trusted only as far as safety goes: indices are checked,
//! and a table found inconsistent (which only a foreign write or a process
//! dying mid-update could cause) is reformatted rather than trusted.
//!
//! # Time
//!
//! `now_ms` is a millisecond clock shared by the workers (nginx's
//! `ngx_current_msec`). If it reads earlier than a bucket's last update,
//! no time has passed for that bucket; if it is more than 60 s earlier, the
//! bucket's time is reset to `now_ms` the next time it passes, so a key is
//! not frozen while the clock catches up. All arithmetic saturates.
//!
//! A zone is meant to be used with one rate, as `limit_req_zone` fixes its
//! rate; the drained-bucket check uses the rate of the call making it.

// Enforced on the shipped code; tests may index and unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

mod evictions;
mod hash;

/// The rate table's seeded key hash, for `top`'s table.
pub(crate) fn hash_for_top(seed: u64, key: &[u8]) -> u64 {
    hash::hash_key(seed, key)
}
mod rate;
pub mod sync;
mod table;

#[cfg(test)]
mod tests;

pub mod params;
pub use evictions::{EvictionReport, EVICTION_NOTICE_INTERVAL_MS};
pub use rate::{Rate, RateError};
pub use table::{
    keys_for, keys_per_mib, slots_for, split_region, Header, RateTable, Slot, Verdict, HEADER_SIZE,
    SLOT_SIZE, TABLE_ALIGN,
};

//! Counters for sift's Prometheus metrics, laid out in a shared memory
//! region of 64-bit atomic words, and the Prometheus text format they are
//! rendered in.
//!
//! Counting is one relaxed `fetch_add` on a word of shared memory: no lock,
//! no allocation, nothing a client controls. Every worker adds to the same
//! words, so a scrape in any worker sees the sum over all of them.
//!
//! # Memory layout
//!
//! The region is a slice of `AtomicU64` (the FFI makes it from a zone):
//!
//! | words | what |
//! |---|---|
//! | 0 | magic (`"siftMT\0\x01"`): format and layout version |
//! | 1 | blocks in use |
//! | 2.. | blocks of [`BLOCK_WORDS`] words each |
//!
//! A block is one series group: a server (connections, TLS, access,
//! preread histogram) or a rate zone (its three outcomes). Its first word
//! is its kind and name length, the next [`NAME_WORDS`] words its name
//! (at most [`NAME_MAX`] bytes, little-endian packed), the remaining
//! [`COUNTERS`] words its counters. Blocks are found by kind and name
//! ([`Registry::find_or_insert`]), so the same server keeps its counters
//! across reloads (the zone's memory is kept when its size is).
//!
//! Only nginx's master process adds blocks (when the configuration is
//! loaded); workers only add to counters and read them.

mod render;

pub use render::{
    escape_label, render, render_lists, ListSeries, RateSeries, ServerSeries, TopSeries,
    CONTENT_TYPE,
};
pub use render::{render_list_syncs, ListSyncSeries};

use core::sync::atomic::{AtomicU64, Ordering};

/// `"siftMT\0\x01"`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"siftMT\0\x01");
/// Words before the first block.
pub const HEADER_WORDS: usize = 2;
/// Words of a block's name.
pub const NAME_WORDS: usize = 15;
/// The longest name a block keeps (longer names are cut at a character
/// boundary: a server's listen address or `sift_metrics_name` fits).
pub const NAME_MAX: usize = NAME_WORDS * 8;
/// Counters in a block.
pub const COUNTERS: usize = 64;
/// Words of a block: kind and length, name, counters.
pub const BLOCK_WORDS: usize = 1 + NAME_WORDS + COUNTERS;

/// What a block counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum BlockKind {
    /// A stream server: [`server`] offsets.
    Server = 1,
    /// A `sift_rate_zone`: [`rate`] offsets.
    Rate = 2,
}

/// Counter offsets in a server block.
pub mod server {
    use crate::protocol::Protocol;

    /// `$sift_protocol` values: the built-in protocols in
    /// [`Protocol::ALL`] order, then `timeout`, `closed`, then the server's
    /// user signatures (at most [`SIGNATURES`]).
    pub const PROTOCOLS: usize = 0;
    /// Offset of `timeout`.
    pub const TIMEOUT: usize = Protocol::ALL.len();
    /// Offset of `closed`.
    pub const CLOSED: usize = TIMEOUT + 1;
    /// Offset of the first user signature.
    pub const SIGNATURE: usize = CLOSED + 1;
    /// User signatures counted by name; later ones are counted as `signature`.
    pub const SIGNATURES: usize = 15;
    /// Offset of signatures past [`SIGNATURES`].
    pub const OTHER_SIGNATURE: usize = SIGNATURE + SIGNATURES;
    /// `$sift_tls_status`: ok, malformed, too_large.
    pub const TLS: usize = OTHER_SIGNATURE + 1;
    /// `$sift_access`: allowed, denied, dry_run_denied.
    pub const ACCESS: usize = TLS + 3;
    /// Preread histogram buckets (not cumulative), one per bound plus +Inf.
    pub const HISTOGRAM: usize = ACCESS + 3;
    /// Sum of observed preread times, milliseconds.
    pub const HISTOGRAM_SUM_MS: usize = HISTOGRAM + super::HISTOGRAM_BOUNDS_MS.len() + 1;
    /// Observations.
    pub const HISTOGRAM_COUNT: usize = HISTOGRAM_SUM_MS + 1;
    /// UDP-only `$sift_protocol` values, in [`DATAGRAM_ONLY`] order; the
    /// others a datagram can be (`dns`, `openvpn`, `unknown`) count where
    /// the same TCP value does.
    pub const DATAGRAM: usize = HISTOGRAM_COUNT + 1;
    /// Counters used.
    pub const USED: usize = DATAGRAM + DATAGRAM_ONLY.len();
    const _: () = assert!(USED <= super::COUNTERS);

    /// `$sift_protocol` values only UDP sessions have.
    pub const DATAGRAM_ONLY: [&str; 3] = ["quic", "dtls", "wireguard"];

    /// The counter of a UDP session's `$sift_protocol` value.
    pub fn datagram_offset(protocol: crate::datagram::DatagramProtocol) -> usize {
        let name = protocol.as_str();
        if let Some(i) = DATAGRAM_ONLY.iter().position(|p| *p == name) {
            return DATAGRAM + i;
        }
        Protocol::ALL
            .iter()
            .position(|p| p.as_str() == name)
            .map_or(PROTOCOLS + Protocol::ALL.len() - 1, |i| PROTOCOLS + i)
    }

    /// `$sift_tls_status` values in counter order.
    pub const TLS_STATUSES: [&str; 3] = ["ok", "malformed", "too_large"];
    /// `$sift_access` values in counter order.
    pub const ACCESS_DECISIONS: [&str; 3] = ["allowed", "denied", "dry_run_denied"];
}

/// Counter offsets in a rate zone block.
pub mod rate {
    /// Sessions the zone let through.
    pub const PASSED: usize = 0;
    /// Sessions it refused.
    pub const REJECTED: usize = 1;
    /// Sessions it would have refused (dry run).
    pub const REJECTED_DRY_RUN: usize = 2;
    /// Label values in counter order.
    pub const STATUSES: [&str; 3] = ["passed", "rejected", "rejected_dry_run"];
}

/// Upper bounds of the preread histogram's buckets, milliseconds (nginx's
/// clock has millisecond resolution).
pub const HISTOGRAM_BOUNDS_MS: [u64; 12] =
    [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// The bucket (index into the histogram counters) of an observation.
pub fn histogram_bucket(ms: u64) -> usize {
    HISTOGRAM_BOUNDS_MS
        .iter()
        .position(|&bound| ms <= bound)
        .unwrap_or(HISTOGRAM_BOUNDS_MS.len())
}

/// Blocks that fit in a region of `words` words.
pub fn blocks_for(words: usize) -> usize {
    words.saturating_sub(HEADER_WORDS) / BLOCK_WORDS
}

/// The block registry over a region of atomic words.
#[derive(Clone, Copy)]
pub struct Registry<'a> {
    words: &'a [AtomicU64],
}

impl<'a> Registry<'a> {
    /// Attaches to a region, laying it out if it is fresh (all zero) or of
    /// another layout (then every counter restarts). None if it is too
    /// small for one block.
    pub fn attach_or_init(words: &'a [AtomicU64]) -> Option<Registry<'a>> {
        if blocks_for(words.len()) == 0 {
            return None;
        }
        if words[0].load(Ordering::Acquire) != MAGIC {
            for word in words {
                word.store(0, Ordering::Relaxed);
            }
            words[0].store(MAGIC, Ordering::Release);
        }
        Some(Registry { words })
    }

    /// Attaches to a region laid out by [`Registry::attach_or_init`]; None
    /// if it is not (or is too small).
    pub fn attach(words: &'a [AtomicU64]) -> Option<Registry<'a>> {
        (blocks_for(words.len()) > 0 && words[0].load(Ordering::Acquire) == MAGIC)
            .then_some(Registry { words })
    }

    /// How many blocks the region can hold.
    pub fn capacity(&self) -> usize {
        blocks_for(self.words.len())
    }

    /// Blocks in use.
    pub fn len(&self) -> usize {
        (self.words[1].load(Ordering::Acquire) as usize).min(self.capacity())
    }

    /// True when no block is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn block(&self, index: usize) -> &'a [AtomicU64] {
        let start = HEADER_WORDS + index * BLOCK_WORDS;
        &self.words[start..start + BLOCK_WORDS]
    }

    fn name_matches(block: &[AtomicU64], kind: BlockKind, name: &[u8]) -> bool {
        let head = block[0].load(Ordering::Relaxed);
        if head != kind as u64 | (name.len() as u64) << 8 {
            return false;
        }
        name.chunks(8).zip(&block[1..]).all(|(chunk, word)| {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            word.load(Ordering::Relaxed) == u64::from_le_bytes(bytes)
        })
    }

    /// The block of `kind` named `name` (cut to [`NAME_MAX`] bytes), added
    /// if there is none. None when the region is full. Only one process may
    /// call this at a time (nginx's master, while loading a configuration).
    pub fn find_or_insert(&self, kind: BlockKind, name: &[u8]) -> Option<usize> {
        let name = &name[..name.len().min(NAME_MAX)];
        let used = self.len();
        if let Some(found) = (0..used).find(|&i| Self::name_matches(self.block(i), kind, name)) {
            return Some(found);
        }
        if used >= self.capacity() {
            return None;
        }
        let block = self.block(used);
        for (chunk, word) in name.chunks(8).zip(&block[1..]) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            word.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
        }
        for counter in &block[1 + NAME_WORDS..] {
            counter.store(0, Ordering::Relaxed);
        }
        block[0].store(kind as u64 | (name.len() as u64) << 8, Ordering::Relaxed);
        self.words[1].store(used as u64 + 1, Ordering::Release);
        Some(used)
    }

    /// The counters of block `index` ([`COUNTERS`] words); empty if there
    /// is no such block.
    pub fn counters(&self, index: usize) -> &'a [AtomicU64] {
        if index >= self.capacity() {
            return &[];
        }
        &self.block(index)[1 + NAME_WORDS..]
    }
}

/// Adds one to `counters[offset]` (nothing if out of range).
#[inline]
pub fn bump(counters: &[AtomicU64], offset: usize) {
    add(counters, offset, 1);
}

/// Adds `value` to `counters[offset]` (nothing if out of range).
#[inline]
pub fn add(counters: &[AtomicU64], offset: usize, value: u64) {
    if let Some(counter) = counters.get(offset) {
        counter.fetch_add(value, Ordering::Relaxed);
    }
}

/// Records a preread time in a server block's histogram.
pub fn observe_preread(counters: &[AtomicU64], ms: u64) {
    bump(counters, server::HISTOGRAM + histogram_bucket(ms));
    add(counters, server::HISTOGRAM_SUM_MS, ms);
    bump(counters, server::HISTOGRAM_COUNT);
}

/// The value of `counters[offset]` (0 if out of range).
pub fn read(counters: &[AtomicU64], offset: usize) -> u64 {
    counters
        .get(offset)
        .map_or(0, |counter| counter.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests;

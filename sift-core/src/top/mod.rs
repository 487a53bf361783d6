//! The heaviest keys of a stream of sessions (`sift_top`), in a fixed
//! region of shared memory: the space-saving algorithm (Metwally, Agrawal
//! and El Abbadi, "Efficient computation of frequent and top-k elements in
//! data streams", 2005).
//!
//! With `m` entries, after `N` recorded keys:
//!
//! - every key whose true count is above `N / m` has an entry;
//! - an entry's `count` is never below the key's true count, and at most
//!   its `error` above it; `error` is at most `N / m` (the smallest count
//!   when the key took its entry over).
//!
//! Keys are compared by a seeded 64-bit hash of the whole key; the first
//! [`KEY_MAX`] bytes are kept for display. Recording is one pass over the
//! entries (find the key, or the entry with the smallest count): no
//! allocation, whatever the key.
//!
//! # Memory layout
//!
//! A [`TopHeader`] (64 bytes) then [`TopEntry`]s (96 bytes each), `repr(C)`
//! integers and bytes only, all-zero valid (an empty entry, a header that
//! [`TopTable::attach`] refuses).

use bytemuck::{Pod, Zeroable};

/// `"siftTK\0\x01"`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"siftTK\0\x01");
/// Bytes of a key kept for display.
pub const KEY_MAX: usize = 64;
/// Entries at most, whatever the zone's size: recording scans them all.
pub const MAX_ENTRIES: usize = 512;

/// The table's header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct TopHeader {
    magic: u64,
    seed: u64,
    capacity: u32,
    len: u32,
    total: u64,
    reserved: [u64; 4],
}

/// One monitored key.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct TopEntry {
    hash: u64,
    count: u64,
    error: u64,
    key_len: u32,
    reserved: u32,
    key: [u8; KEY_MAX],
}

impl Default for TopEntry {
    fn default() -> Self {
        Zeroable::zeroed()
    }
}

/// Splits a region into the header and as many entries as fit (at most
/// [`MAX_ENTRIES`]). None if it is misaligned or too small for two entries.
pub fn split_region(region: &mut [u8]) -> Option<(&mut TopHeader, &mut [TopEntry])> {
    let header_size = core::mem::size_of::<TopHeader>();
    let entry_size = core::mem::size_of::<TopEntry>();
    if region.len() < header_size + 2 * entry_size {
        return None;
    }
    let (head, rest) = region.split_at_mut(header_size);
    let count = (rest.len() / entry_size).min(MAX_ENTRIES);
    let header = bytemuck::try_from_bytes_mut::<TopHeader>(head).ok()?;
    let entries =
        bytemuck::try_cast_slice_mut::<u8, TopEntry>(&mut rest[..count * entry_size]).ok()?;
    Some((header, entries))
}

/// One key of [`TopTable::top`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heavy {
    /// The key's first [`KEY_MAX`] bytes.
    pub key: Vec<u8>,
    /// Its estimated count (never below the true one).
    pub count: u64,
    /// How far above the true count `count` may be.
    pub error: u64,
}

/// The space-saving table over a region.
pub struct TopTable<'a> {
    header: &'a mut TopHeader,
    entries: &'a mut [TopEntry],
}

fn hash(seed: u64, key: &[u8]) -> u64 {
    crate::ratelimit::hash_for_top(seed, key).max(1)
}

impl<'a> TopTable<'a> {
    /// Formats a fresh region.
    pub fn init(header: &'a mut TopHeader, entries: &'a mut [TopEntry], seed: u64) -> Self {
        entries.fill(TopEntry::default());
        *header = TopHeader {
            magic: MAGIC,
            seed,
            capacity: entries.len() as u32,
            ..TopHeader::default()
        };
        TopTable { header, entries }
    }

    /// Re-attaches to a formatted region (another worker, a reload). None
    /// if the header does not describe these entries.
    pub fn attach(header: &'a mut TopHeader, entries: &'a mut [TopEntry]) -> Option<Self> {
        let valid = header.magic == MAGIC
            && header.capacity as usize == entries.len()
            && header.len <= header.capacity;
        valid.then_some(TopTable { header, entries })
    }

    /// Entries the table can hold (`m`).
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Keys recorded so far (`N`).
    pub fn total(&self) -> u64 {
        self.header.total
    }

    /// Counts one occurrence of `key` (an empty key is not counted).
    pub fn record(&mut self, key: &[u8]) {
        if key.is_empty() || self.entries.is_empty() {
            return;
        }
        let hash = hash(self.header.seed, key);
        self.header.total = self.header.total.saturating_add(1);
        let len = (self.header.len as usize).min(self.entries.len());
        let (mut smallest, mut smallest_count) = (0, u64::MAX);
        for (i, entry) in self.entries[..len].iter_mut().enumerate() {
            if entry.hash == hash {
                entry.count = entry.count.saturating_add(1);
                return;
            }
            if entry.count < smallest_count {
                (smallest, smallest_count) = (i, entry.count);
            }
        }
        let (slot, base) = if len < self.entries.len() {
            self.header.len = len as u32 + 1;
            (len, 0)
        } else {
            (smallest, self.entries[smallest].count)
        };
        let kept = key.len().min(KEY_MAX);
        let mut entry = TopEntry {
            hash,
            count: base.saturating_add(1),
            error: base,
            key_len: kept as u32,
            ..TopEntry::default()
        };
        entry.key[..kept].copy_from_slice(&key[..kept]);
        self.entries[slot] = entry;
    }

    /// The `n` heaviest keys, heaviest first (ties: the smaller error first).
    pub fn top(&self, n: usize) -> Vec<Heavy> {
        let len = (self.header.len as usize).min(self.entries.len());
        let mut found: Vec<&TopEntry> = self.entries[..len].iter().collect();
        found.sort_by(|a, b| b.count.cmp(&a.count).then(a.error.cmp(&b.error)));
        found
            .into_iter()
            .take(n)
            .map(|entry| Heavy {
                key: entry.key[..(entry.key_len as usize).min(KEY_MAX)].to_vec(),
                count: entry.count,
                error: entry.error,
            })
            .collect()
    }
}

/// A key as a Prometheus label or JSON string: itself when it is printable
/// UTF-8, else `0x` and its bytes in hex (`$binary_remote_addr`).
pub fn display_key(key: &[u8]) -> String {
    match core::str::from_utf8(key) {
        Ok(text) if text.chars().all(|c| !c.is_control()) => text.to_owned(),
        _ => {
            let mut out = String::from("0x");
            for byte in key {
                out.push_str(&format!("{byte:02x}"));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests;

//! [`ListTable`]: the table over a zone's region (layout in `layout.rs`).
//!
//! Lookups hash the key and probe the index (linear probing, the load
//! capped at 3/4); `type=ip` lookups probe once per prefix length present
//! in the table (a bitmap per family), longest first. Writes append
//! records to the arena; a removed record is left dead until the arena
//! runs out, then live records are compacted down and the index rebuilt.
//!
//! Every read of the region is bounds-checked: a region a crashed worker
//! left half-written gives wrong answers, never a panic.

use std::collections::{HashMap, HashSet};

use core::net::IpAddr;

use super::ip::{self, Prefix};
use super::layout::{
    self, Header, Parts, Slot, EMPTY, MAGIC, RECORD_HEAD, TOMBSTONE, V6_COUNTS_BASE,
};
use super::{Change, Entry, ListError, ListKind, KEY_MAX, VALUE_MAX};

/// The hash seed. Keys are written by the operator, not by clients, so a
/// fixed seed is enough; it is in the header should that change.
const SEED: u64 = 0x5eed_6c15_7ab1_e001;

/// A key → value table laid over a zone's whole byte region.
///
/// Not synchronised: writes move records in place, so the caller holds the
/// zone's lock around every call, lookups included (a lookup is a few
/// dozen nanoseconds, see `benches/list.rs`).
pub struct ListTable<'a> {
    header: &'a mut Header,
    counts: &'a mut [u32],
    slots: &'a mut [Slot],
    arena: &'a mut [u8],
}

/// A record read from the arena.
struct Record<'r> {
    expires_at_ms: u64,
    key: &'r [u8],
    value: &'r [u8],
    live: bool,
    size: usize,
}

fn read_record(arena: &[u8], off: usize) -> Option<Record<'_>> {
    let head: &[u8; RECORD_HEAD] = arena
        .get(off..off.checked_add(RECORD_HEAD)?)?
        .try_into()
        .ok()?;
    let [e0, e1, e2, e3, e4, e5, e6, e7, k0, k1, v0, v1, live, ..] = *head;
    let key_len = usize::from(u16::from_le_bytes([k0, k1]));
    let value_len = usize::from(u16::from_le_bytes([v0, v1]));
    let key_at = off + RECORD_HEAD;
    let value_at = key_at + key_len;
    Some(Record {
        expires_at_ms: u64::from_le_bytes([e0, e1, e2, e3, e4, e5, e6, e7]),
        key: arena.get(key_at..value_at)?,
        value: arena.get(value_at..value_at + value_len)?,
        live: live == 1,
        size: RECORD_HEAD + key_len + value_len,
    })
}

fn is_expired(expires_at_ms: u64, now_ms: u64) -> bool {
    expires_at_ms != 0 && expires_at_ms <= now_ms
}

fn kind_code(kind: ListKind) -> u32 {
    match kind {
        ListKind::String => 1,
        ListKind::Ip => 2,
    }
}

fn kind_from_code(code: u32) -> Option<ListKind> {
    match code {
        1 => Some(ListKind::String),
        2 => Some(ListKind::Ip),
        _ => None,
    }
}

/// The first slot of `hash`'s probe sequence among `n`.
fn home(hash: u64, n: usize) -> usize {
    (((hash & 0xffff_ffff) * n as u64) >> 32) as usize
}

fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Puts `pos` in the first empty or tombstone slot of `hash`'s probe
/// sequence; returns whether it took a tombstone (None: no room).
fn place(slots: &mut [Slot], hash: u64, pos: u32) -> Option<bool> {
    let n = slots.len();
    let mut i = home(hash, n);
    for _ in 0..n {
        let slot = slots.get_mut(i)?;
        if slot.pos == EMPTY || slot.pos == TOMBSTONE {
            let reused = slot.pos == TOMBSTONE;
            *slot = Slot {
                tag: tag(hash),
                pos,
            };
            return Some(reused);
        }
        i = if i + 1 == n { 0 } else { i + 1 };
    }
    None
}

/// Adds `delta` to the count of the prefix length of the stored ip key,
/// keeping the header's bitmaps in step.
fn count_prefix(header: &mut Header, counts: &mut [u32], key: &[u8], add: bool) {
    let (index, bit) = match Prefix::from_key(key) {
        Some(Prefix::V4(_, len)) => (usize::from(len), usize::from(len)),
        Some(Prefix::V6(_, len)) => (V6_COUNTS_BASE + usize::from(len), usize::from(len)),
        None => return,
    };
    let Some(count) = counts.get_mut(index) else {
        return;
    };
    *count = if add {
        count.saturating_add(1)
    } else {
        count.saturating_sub(1)
    };
    let present = *count > 0;
    let word = match Prefix::from_key(key) {
        Some(Prefix::V4(..)) => &mut header.v4_lengths,
        _ => match header.v6_lengths.get_mut(bit / 64) {
            Some(word) => word,
            None => return,
        },
    };
    let mask = 1u64 << (bit % 64);
    if present {
        *word |= mask;
    } else {
        *word &= !mask;
    }
}

/// Prefix lengths whose bit is set, longest first.
struct LengthsDesc<const N: usize> {
    words: [u64; N],
    left: usize,
}

impl<const N: usize> LengthsDesc<N> {
    fn new(words: [u64; N]) -> Self {
        LengthsDesc { words, left: N }
    }
}

impl<const N: usize> Iterator for LengthsDesc<N> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        while self.left > 0 {
            let w = self.left - 1;
            let bits = self.words.get_mut(w)?;
            if *bits == 0 {
                self.left = w;
                continue;
            }
            let top = 63 - bits.leading_zeros();
            *bits &= !(1u64 << top);
            return u8::try_from(w * 64 + top as usize).ok();
        }
        None
    }
}

/// The upsert of a state file's entry.
fn change(entry: &Entry) -> Change<'_> {
    Change::Upsert {
        key: entry.key.as_bytes(),
        value: entry.value.as_bytes(),
        expires_at_ms: entry.expires_at_ms,
    }
}

/// What a batch does to one key.
struct Plan<'c> {
    key: Vec<u8>,
    /// The key's record now: (slot, arena offset), expired or not.
    existing: Option<(usize, usize)>,
    /// Present after the changes so far.
    present: bool,
    /// The value and expiry to write, if present at the end.
    write: Option<(&'c [u8], u64)>,
}

impl<'a> ListTable<'a> {
    /// Lays a fresh, empty table over `region` (None: smaller than
    /// [`REGION_MIN`](Self::REGION_MIN) or not 8-byte aligned).
    pub fn init(region: &'a mut [u8], kind: ListKind) -> Option<Self> {
        let Parts {
            header,
            counts,
            slots,
            arena,
        } = layout::split(region)?;
        counts.fill(0);
        slots.fill(Slot::default());
        *header = Header {
            magic: MAGIC,
            seed: SEED,
            kind: kind_code(kind),
            slots: u32::try_from(slots.len()).ok()?,
            arena_len: u32::try_from(arena.len()).ok()?,
            ..Header::default()
        };
        Some(ListTable {
            header,
            counts,
            slots,
            arena,
        })
    }

    /// The smallest region [`init`](Self::init) accepts, in bytes.
    pub const REGION_MIN: usize = layout::REGION_MIN;

    /// Attaches to a region [`init`](Self::init) laid out (another worker,
    /// a reload). None if the header is not this layout for this size.
    pub fn attach(region: &'a mut [u8]) -> Option<Self> {
        let Parts {
            header,
            counts,
            slots,
            arena,
        } = layout::split(region)?;
        let valid = header.magic == MAGIC
            && kind_from_code(header.kind).is_some()
            && header.slots as usize == slots.len()
            && header.arena_len as usize == arena.len()
            && header.arena_top <= header.arena_len
            && header.dead_bytes <= header.arena_top
            && header.len as usize + header.tombstones as usize <= slots.len();
        valid.then_some(ListTable {
            header,
            counts,
            slots,
            arena,
        })
    }

    /// How keys are matched.
    pub fn kind(&self) -> ListKind {
        kind_from_code(self.header.kind).unwrap_or(ListKind::String)
    }

    /// Entries stored, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.header.len as usize
    }

    /// Entries stored and not expired at `now_ms` (a walk over the arena:
    /// for metrics, not per session).
    pub fn live_len(&self, now_ms: u64) -> usize {
        let (mut count, mut off) = (0, 0);
        while off < self.header.arena_top as usize {
            let Some(record) = read_record(self.arena, off) else {
                break;
            };
            if record.live && !is_expired(record.expires_at_ms, now_ms) {
                count += 1;
            }
            off += record.size;
        }
        count
    }

    /// Whether no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.header.len == 0
    }

    /// The most entries the table holds (3/4 of its index slots).
    pub fn max_entries(&self) -> usize {
        self.slots.len() * 3 / 4
    }

    /// Bytes for records (keys and values, 16 bytes of overhead each).
    pub fn capacity_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Bytes of the arena held by stored records.
    pub fn used_bytes(&self) -> usize {
        self.header.arena_top.saturating_sub(self.header.dead_bytes) as usize
    }

    /// A counter bumped by every change.
    pub fn version(&self) -> u64 {
        self.header.version
    }

    /// Index slots that may be taken before the index is rebuilt (keeps
    /// empty slots, so that misses stop early).
    fn slot_limit(&self) -> usize {
        self.slots.len() * 7 / 8
    }

    fn hash(&self, key: &[u8]) -> u64 {
        crate::ratelimit::hash_for_top(self.header.seed, key)
    }

    /// The slot and arena offset of the record of stored key `key`.
    fn find(&self, key: &[u8]) -> Option<(usize, usize)> {
        let n = self.slots.len();
        let hash = self.hash(key);
        let mut i = home(hash, n);
        for _ in 0..n {
            let slot = *self.slots.get(i)?;
            match slot.pos {
                EMPTY => return None,
                TOMBSTONE => {}
                pos if slot.tag == tag(hash) => {
                    let off = (pos - 1) as usize;
                    if let Some(record) = read_record(self.arena, off) {
                        if record.live && record.key == key {
                            return Some((i, off));
                        }
                    }
                }
                _ => {}
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        None
    }

    /// The value of stored key `key`, unless expired.
    fn value_of(&self, key: &[u8], now_ms: u64) -> Option<&[u8]> {
        let (_, off) = self.find(key)?;
        let record = read_record(self.arena, off)?;
        (!is_expired(record.expires_at_ms, now_ms)).then_some(record.value)
    }

    /// The value for `key`. String lists: the exact key. Ip lists: `key`
    /// is an address, as text (`192.0.2.1`, `2001:db8::1`) or 4 or 16 raw
    /// bytes; the value of the longest stored prefix holding it. Expired
    /// entries never match. No allocation.
    pub fn lookup(&self, key: &[u8], now_ms: u64) -> Option<&[u8]> {
        match self.kind() {
            ListKind::String => {
                if key.is_empty() || key.len() > KEY_MAX {
                    return None;
                }
                self.value_of(key, now_ms)
            }
            ListKind::Ip => self.lookup_ip(ip::parse_lookup(key)?, now_ms),
        }
    }

    /// The value of the longest stored prefix holding `addr` (ip lists;
    /// None for string lists). IPv4-mapped IPv6 addresses are IPv4.
    pub fn lookup_ip(&self, addr: IpAddr, now_ms: u64) -> Option<&[u8]> {
        if self.kind() != ListKind::Ip {
            return None;
        }
        let addr = ip::unmap(addr);
        let probe = |len: u8| {
            let (key, key_len) = Prefix::new(addr, len).key();
            self.value_of(key.get(..key_len)?, now_ms)
        };
        match addr {
            IpAddr::V4(_) => LengthsDesc::new([self.header.v4_lengths]).find_map(probe),
            IpAddr::V6(_) => LengthsDesc::new(self.header.v6_lengths).find_map(probe),
        }
    }

    /// The stored form of a change's key, or why it is not valid.
    fn stored_key(&self, key: &[u8]) -> Result<Vec<u8>, ListError> {
        if key.len() > KEY_MAX {
            return Err(ListError::KeyTooLong);
        }
        match self.kind() {
            ListKind::String => {
                if key.is_empty() {
                    return Err(ListError::BadKey("empty key".into()));
                }
                if core::str::from_utf8(key).is_err() {
                    return Err(ListError::BadKey("not UTF-8".into()));
                }
                Ok(key.to_vec())
            }
            ListKind::Ip => {
                let (bytes, len) = ip::parse_prefix(key)?.key();
                Ok(bytes[..len].to_vec())
            }
        }
    }

    /// The text of a stored key.
    fn display_key(&self, key: &[u8]) -> String {
        match self.kind() {
            ListKind::String => String::from_utf8_lossy(key).into_owned(),
            ListKind::Ip => match Prefix::from_key(key) {
                Some(prefix) => prefix.to_string(),
                None => String::from_utf8_lossy(key).into_owned(),
            },
        }
    }

    /// The entry of `key` itself (canonicalised; no longest-prefix
    /// match), unless absent or expired.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let stored = self.stored_key(key).ok()?;
        let (_, off) = self.find(&stored)?;
        let record = read_record(self.arena, off)?;
        (!is_expired(record.expires_at_ms, now_ms)).then(|| Entry {
            key: self.display_key(record.key),
            value: String::from_utf8_lossy(record.value).into_owned(),
            expires_at_ms: record.expires_at_ms,
        })
    }

    /// Applies a batch in order, all or nothing: every key and value is
    /// checked, then whether the result fits (after reclaiming expired
    /// entries and dead space), and only then is anything written. An
    /// error leaves the table as it was.
    pub fn apply(&mut self, changes: &[Change<'_>], now_ms: u64) -> Result<(), ListError> {
        if changes.is_empty() {
            return Ok(());
        }
        let plans = self.plan(changes, now_ms)?;
        let new_bytes: usize = plans
            .iter()
            .filter_map(|p| {
                p.write
                    .map(|(value, _)| RECORD_HEAD + p.key.len() + value.len())
            })
            .sum();
        let new_count = plans.iter().filter(|p| p.write.is_some()).count();
        let replaced = plans.iter().filter(|p| p.existing.is_some()).count();
        if replaced == 0 && new_count == 0 {
            // Only removals of absent keys: nothing to write, no new version.
            return Ok(());
        }
        let len_after = self.len() - replaced.min(self.len()) + new_count;
        let fits_now = self.header.arena_top as usize + new_bytes <= self.arena.len()
            && len_after <= self.max_entries();
        if !fits_now {
            let touched: HashSet<usize> = plans
                .iter()
                .filter_map(|p| p.existing.map(|e| e.1))
                .collect();
            let (kept_bytes, kept_count) = self.kept(now_ms, &touched);
            if kept_bytes + new_bytes > self.arena.len()
                || kept_count + new_count > self.max_entries()
            {
                return Err(ListError::Full);
            }
        }
        for plan in &plans {
            if let Some((slot, off)) = plan.existing {
                self.remove_at(slot, off);
            }
        }
        if !fits_now {
            self.compact(now_ms);
        }
        for plan in &plans {
            if let Some((value, expires_at_ms)) = plan.write {
                self.append(&plan.key, value, expires_at_ms);
            }
        }
        self.header.version = self.header.version.wrapping_add(1);
        Ok(())
    }

    /// Loads `entries` (a state file) into the table: all of them if they
    /// fit, else as many as fit, in order. Returns how many are stored;
    /// entries expired at `now_ms`, invalid or not fitting are left out.
    /// Linear in the table's size, where one [`apply`](Self::apply) per
    /// entry would be quadratic once the zone is full.
    pub fn fill(&mut self, entries: &[Entry], now_ms: u64) -> usize {
        let live = |entry: &&Entry| !is_expired(entry.expires_at_ms, now_ms);
        let all: Vec<Change<'_>> = entries.iter().map(change).collect();
        if self.apply(&all, now_ms).is_ok() {
            return entries.iter().filter(live).count();
        }
        // Full: reclaim once, then append while there is room; a key
        // already present goes through apply (its old record dies).
        self.compact(now_ms);
        let mut stored = 0;
        for entry in entries.iter().filter(live) {
            let Ok(key) = self.stored_key(entry.key.as_bytes()) else {
                continue;
            };
            let value = entry.value.as_bytes();
            if value.len() > VALUE_MAX {
                continue;
            }
            let size = RECORD_HEAD + key.len() + value.len();
            let fits = self.header.arena_top as usize + size <= self.arena.len()
                && self.len() < self.max_entries();
            if fits && self.find(&key).is_none() {
                self.append(&key, value, entry.expires_at_ms);
                self.header.version = self.header.version.wrapping_add(1);
                stored += 1;
            } else if self.apply(&[change(entry)], now_ms).is_ok() {
                stored += 1;
            }
        }
        stored
    }

    /// Checks a batch and works out its effect per key.
    fn plan<'c>(&self, changes: &[Change<'c>], now_ms: u64) -> Result<Vec<Plan<'c>>, ListError> {
        let mut plans: Vec<Plan<'c>> = Vec::new();
        let mut by_key: HashMap<Vec<u8>, usize> = HashMap::new();
        for change in changes {
            let key = self.stored_key(change.key())?;
            let write = match *change {
                Change::Insert {
                    value,
                    expires_at_ms,
                    ..
                }
                | Change::Upsert {
                    value,
                    expires_at_ms,
                    ..
                } => {
                    if value.len() > VALUE_MAX {
                        return Err(ListError::ValueTooLong);
                    }
                    if core::str::from_utf8(value).is_err() {
                        return Err(ListError::BadValue("not UTF-8".into()));
                    }
                    Some((value, expires_at_ms))
                }
                Change::Remove { .. } => None,
            };
            let index = match by_key.get(&key) {
                Some(&index) => index,
                None => {
                    let existing = self.find(&key);
                    let present = existing
                        .and_then(|(_, off)| read_record(self.arena, off))
                        .is_some_and(|record| !is_expired(record.expires_at_ms, now_ms));
                    by_key.insert(key.clone(), plans.len());
                    plans.push(Plan {
                        key,
                        existing,
                        present,
                        write: None,
                    });
                    plans.len() - 1
                }
            };
            let Some(plan) = plans.get_mut(index) else {
                continue;
            };
            if matches!(change, Change::Insert { .. }) && plan.present {
                return Err(ListError::Exists(self.display_key(&plan.key)));
            }
            // Expired already: nothing to store, the key is gone.
            let write = write.filter(|&(_, expires_at_ms)| !is_expired(expires_at_ms, now_ms));
            plan.present = write.is_some();
            plan.write = write;
        }
        Ok(plans)
    }

    /// Bytes and count of the live, unexpired records not at `touched`.
    fn kept(&self, now_ms: u64, touched: &HashSet<usize>) -> (usize, usize) {
        let (mut bytes, mut count, mut off) = (0, 0, 0);
        while off < self.header.arena_top as usize {
            let Some(record) = read_record(self.arena, off) else {
                break;
            };
            if record.live && !is_expired(record.expires_at_ms, now_ms) && !touched.contains(&off) {
                bytes += record.size;
                count += 1;
            }
            off += record.size;
        }
        (bytes, count)
    }

    /// Kills the record at `off`, indexed at `slot`.
    fn remove_at(&mut self, slot: usize, off: usize) {
        let Some(record) = read_record(self.arena, off) else {
            return;
        };
        let size = record.size;
        let mut key = [0u8; KEY_MAX];
        let key_len = record.key.len().min(KEY_MAX);
        key[..key_len].copy_from_slice(&record.key[..key_len]);
        if let Some(live) = self.arena.get_mut(off + 12) {
            *live = 0;
        }
        if let Some(slot) = self.slots.get_mut(slot) {
            slot.pos = TOMBSTONE;
        }
        self.header.tombstones = self.header.tombstones.saturating_add(1);
        self.header.len = self.header.len.saturating_sub(1);
        self.header.dead_bytes = self.header.dead_bytes.saturating_add(size as u32);
        if self.kind() == ListKind::Ip {
            count_prefix(self.header, self.counts, &key[..key_len], false);
        }
    }

    /// Writes a record at the top of the arena and indexes it (the caller
    /// made sure it fits).
    fn append(&mut self, key: &[u8], value: &[u8], expires_at_ms: u64) {
        if self.len() + self.header.tombstones as usize + 1 > self.slot_limit() {
            self.rebuild_index();
        }
        let off = self.header.arena_top as usize;
        let size = RECORD_HEAD + key.len() + value.len();
        let hash = self.hash(key);
        let Some(to) = self.arena.get_mut(off..off + size) else {
            return;
        };
        let (head, body) = to.split_at_mut(RECORD_HEAD);
        head.fill(0);
        head[..8].copy_from_slice(&expires_at_ms.to_le_bytes());
        head[8..10].copy_from_slice(&(key.len() as u16).to_le_bytes());
        head[10..12].copy_from_slice(&(value.len() as u16).to_le_bytes());
        head[12] = 1;
        body[..key.len()].copy_from_slice(key);
        body[key.len()..].copy_from_slice(value);
        match place(self.slots, hash, off as u32 + 1) {
            Some(reused) => {
                if reused {
                    self.header.tombstones -= 1;
                }
            }
            // No free slot (cannot happen below the slot limit): leave the
            // record dead rather than unindexed.
            None => {
                head[12] = 0;
                self.header.arena_top += size as u32;
                self.header.dead_bytes += size as u32;
                return;
            }
        }
        self.header.arena_top += size as u32;
        self.header.len += 1;
        if self.kind() == ListKind::Ip {
            count_prefix(self.header, self.counts, key, true);
        }
    }

    /// Re-indexes every live record (drops tombstones; recounts prefix
    /// lengths).
    fn rebuild_index(&mut self) {
        self.slots.fill(Slot::default());
        self.counts.fill(0);
        self.header.v4_lengths = 0;
        self.header.v6_lengths = [0; 3];
        self.header.len = 0;
        self.header.tombstones = 0;
        let seed = self.header.seed;
        let is_ip = self.kind() == ListKind::Ip;
        let mut off = 0;
        while off < self.header.arena_top as usize {
            let Some(record) = read_record(self.arena, off) else {
                // Garbage past here: forget it.
                self.header.arena_top = off as u32;
                break;
            };
            if record.live {
                let hash = crate::ratelimit::hash_for_top(seed, record.key);
                if place(self.slots, hash, off as u32 + 1).is_some() {
                    self.header.len += 1;
                    if is_ip {
                        count_prefix(self.header, self.counts, record.key, true);
                    }
                }
            }
            off += record.size;
        }
        self.header.dead_bytes = self.header.dead_bytes.min(self.header.arena_top);
    }

    /// Moves the live, unexpired records to the bottom of the arena and
    /// rebuilds the index; returns how many expired records it dropped.
    fn compact(&mut self, now_ms: u64) -> usize {
        let top = self.header.arena_top as usize;
        let (mut read, mut write, mut expired) = (0, 0, 0);
        while read < top {
            let Some(record) = read_record(self.arena, read) else {
                break;
            };
            let (size, live) = (record.size, record.live);
            let keep = live && !is_expired(record.expires_at_ms, now_ms);
            if live && !keep {
                expired += 1;
            }
            if keep {
                self.arena.copy_within(read..read + size, write);
                write += size;
            }
            read += size;
        }
        self.header.arena_top = write as u32;
        self.header.dead_bytes = 0;
        self.rebuild_index();
        expired
    }

    /// Reclaims expired entries (and dead space); returns how many.
    pub fn purge_expired(&mut self, now_ms: u64) -> usize {
        let mut expired = 0;
        let mut off = 0;
        while off < self.header.arena_top as usize {
            let Some(record) = read_record(self.arena, off) else {
                break;
            };
            if record.live && is_expired(record.expires_at_ms, now_ms) {
                expired += 1;
            }
            off += record.size;
        }
        if expired == 0 {
            return 0;
        }
        self.compact(now_ms)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.counts.fill(0);
        let header = &mut *self.header;
        header.v4_lengths = 0;
        header.v6_lengths = [0; 3];
        header.len = 0;
        header.tombstones = 0;
        header.arena_top = 0;
        header.dead_bytes = 0;
        header.version = header.version.wrapping_add(1);
    }

    /// The live entries (expired ones skipped), sorted by key; ip keys in
    /// canonical text.
    pub fn entries(&self, now_ms: u64) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut off = 0;
        while off < self.header.arena_top as usize {
            let Some(record) = read_record(self.arena, off) else {
                break;
            };
            if record.live && !is_expired(record.expires_at_ms, now_ms) {
                out.push(Entry {
                    key: self.display_key(record.key),
                    value: String::from_utf8_lossy(record.value).into_owned(),
                    expires_at_ms: record.expires_at_ms,
                });
            }
            off += record.size;
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

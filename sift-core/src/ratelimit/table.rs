//! The table: its layout in shared memory and the operations on it.

use core::fmt;
use core::mem::{align_of, size_of};

use super::hash::hash_key;
use super::rate::Rate;

/// Size in bytes of one [`Slot`].
pub const SLOT_SIZE: usize = size_of::<Slot>();
/// Size in bytes of the [`Header`].
pub const HEADER_SIZE: usize = size_of::<Header>();
/// The alignment [`Header`] and [`Slot`] need, in bytes.
pub const TABLE_ALIGN: usize = align_of::<Header>();

// The layout is part of the contract with the FFI (and with an older
// worker still running during a binary upgrade): fixed sizes, no padding.
const _: () = {
    assert!(SLOT_SIZE == 32);
    assert!(align_of::<Slot>() == 8);
    assert!(HEADER_SIZE == 64);
    assert!(align_of::<Header>() == 8);
    assert!(HEADER_SIZE % align_of::<Slot>() == 0);
    // Every field accounted for: no padding bytes.
    assert!(SLOT_SIZE == 3 * 8 + 2 * 4);
    assert!(HEADER_SIZE == 2 * 8 + 4 * 4 + 2 * 8 + 2 * 8);
};

/// `siftRL`, then the layout version (1). A header that does not start
/// with it was never initialised, or by an incompatible layout.
const MAGIC: u64 = u64::from_le_bytes(*b"siftRL\x00\x01");

/// "No slot" in the LRU links.
const NIL: u32 = u32::MAX;

/// The stored hash of an empty slot; key hashes that come out as 0 are
/// stored as 1.
const EMPTY: u64 = 0;

/// The most slots a table uses: slot indices are `u32`, and `u32::MAX` is
/// [`NIL`].
const MAX_SLOTS: u32 = u32::MAX - 1;

/// New keys expire up to this many drained least-recently-used entries
/// before they are inserted (nginx's `limit_req` expires up to two).
const EXPIRE_PER_INSERT: u32 = 2;

/// A backward clock step larger than this (in ms) re-anchors a bucket at
/// the current time when it next passes, so that a key is not frozen until
/// the clock catches up (nginx's `limit_req` uses the same 60 s).
const CLOCK_RESYNC_MS: u64 = 60_000;

/// One key's bucket, and its place in the LRU list.
///
/// `#[repr(C)]`, 32 bytes, 8-byte aligned, no padding, no pointers: it is
/// stored in shared memory and read by every worker. All zeros is an empty
/// slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Slot {
    /// The key's seeded hash, never 0; 0 marks an empty slot.
    hash: u64,
    /// When the bucket was last updated, on the caller's millisecond clock.
    last_ms: u64,
    /// The bucket's level in thousandths of a connection.
    excess: u64,
    /// The next more recently used slot, or `NIL` at the MRU end.
    prev: u32,
    /// The next less recently used slot, or `NIL` at the LRU end.
    next: u32,
}

/// What the table knows about itself: format, seed, size, LRU ends and
/// counters.
///
/// `#[repr(C)]`, 64 bytes, 8-byte aligned, no padding, no pointers. All
/// zeros is a header that was never initialised.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Header {
    /// [`MAGIC`] once initialised.
    magic: u64,
    /// The per-zone hash seed.
    seed: u64,
    /// The number of slots after the header.
    slots: u32,
    /// The number of occupied slots.
    len: u32,
    /// The most recently used slot, or `NIL` when empty.
    head: u32,
    /// The least recently used slot, or `NIL` when empty.
    tail: u32,
    /// Entries evicted at max load since initialisation.
    evicted: u64,
    /// Drained entries expired since initialisation.
    expired: u64,
    /// Zero; room for later fields in this layout version.
    reserved: [u64; 2],
}

impl fmt::Debug for Header {
    /// Everything but the seed, which is a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("magic", &format_args!("{:#018x}", self.magic))
            .field("slots", &self.slots)
            .field("len", &self.len)
            .field("head", &self.head)
            .field("tail", &self.tail)
            .field("evicted", &self.evicted)
            .field("expired", &self.expired)
            .finish_non_exhaustive()
    }
}

/// What [`RateTable::check`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Within the rate (and burst); the connection was counted.
    Passed,
    /// Over the rate; the bucket was left as it was.
    Rejected,
}

/// Splits a raw region (shared memory, as the FFI gets it) into the
/// header and the [`slots_for`]`(region.len())` slots after it, without
/// copying. `None` if the region is not 8-byte aligned or too small for
/// the header. (bytemuck checks size and alignment; the layout needs no
/// `unsafe` here.)
pub fn split_region(region: &mut [u8]) -> Option<(&mut Header, &mut [Slot])> {
    let count = slots_for(region.len());
    let (header, rest) = region.split_at_mut_checked(HEADER_SIZE)?;
    let slot_bytes = count.checked_mul(SLOT_SIZE)?;
    let slots = rest.get_mut(..slot_bytes)?;
    let header = bytemuck::try_from_bytes_mut::<Header>(header).ok()?;
    let slots = bytemuck::try_cast_slice_mut::<u8, Slot>(slots).ok()?;
    Some((header, slots))
}

/// How many slots fit in `bytes` after the header: what the FFI passes to
/// [`RateTable::init`] with a region of that size (capped at `u32::MAX - 1`).
pub const fn slots_for(bytes: usize) -> usize {
    let slots = bytes.saturating_sub(HEADER_SIZE) / SLOT_SIZE;
    if slots > MAX_SLOTS as usize {
        MAX_SLOTS as usize
    } else {
        slots
    }
}

/// How many keys a region of `bytes` holds before the least recently used
/// is evicted: 7/8 of [`slots_for`], rounded down.
pub const fn keys_for(bytes: usize) -> usize {
    max_len(slots_for(bytes))
}

/// How many keys one MiB holds: 28670 (32766 slots at 7/8 load).
pub const fn keys_per_mib() -> usize {
    keys_for(1 << 20)
}

/// The maximum load: `floor(7 * slots / 8)`, which always leaves an empty
/// slot (for `slots` ≥ 1) so that every probe ends.
const fn max_len(slots: usize) -> usize {
    slots.saturating_sub(slots.div_ceil(8))
}

/// Where a probe for a hash ended.
enum Probe {
    /// The key is in this slot.
    Found(u32),
    /// The key is absent; it belongs in this slot.
    Vacant(u32),
}

/// The table was found inconsistent (an index out of range, a link to
/// nowhere, a probe with no end). Only possible if something other than
/// this code wrote the memory, or a process died in the middle of an
/// update; the table is then reformatted.
struct Corrupt;

/// Per-key connection-rate state, in a region shared by all workers.
///
/// The region is a [`Header`] followed by [`Slot`]s (see the module
/// documentation). The caller must hold the zone's inter-process lock for
/// the whole life of a `RateTable` value; it is cheap to create
/// ([`attach`](RateTable::attach) is O(1)), so make one per check.
pub struct RateTable<'a> {
    header: &'a mut Header,
    slots: &'a mut [Slot],
    /// `slots.len()` as a `u32`.
    n: u32,
    /// How many keys the table holds before it evicts.
    max_len: u32,
}

impl fmt::Debug for RateTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateTable")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("slots", &self.n)
            .field("evicted", &self.header.evicted)
            .field("expired", &self.header.expired)
            .finish()
    }
}

impl<'a> RateTable<'a> {
    /// Formats a fresh zone: clears every slot and writes the header.
    /// `seed`, random per zone, keys the hash so that clients cannot aim
    /// keys at one probe chain. Slots past `u32::MAX - 1` are left unused.
    ///
    /// O(`slots.len()`). A table with fewer than 2 slots holds no key and
    /// passes every connection.
    pub fn init(header: &'a mut Header, slots: &'a mut [Slot], seed: u64) -> Self {
        let slots = clamp_slots(slots);
        slots.fill(Slot::default());
        let n = u32::try_from(slots.len()).unwrap_or(0);
        *header = Header {
            magic: MAGIC,
            seed,
            slots: n,
            len: 0,
            head: NIL,
            tail: NIL,
            evicted: 0,
            expired: 0,
            reserved: [0; 2],
        };
        Self::new(header, slots, n)
    }

    /// Re-attaches to a zone [`init`](RateTable::init) formatted (after
    /// `nginx -s reload`, or in another worker). `None` if the header does
    /// not describe `slots`: never initialised (all zeros), another layout
    /// version, another slot count, or inconsistent counts and ends. O(1):
    /// the slots themselves are not checked, and [`check`](Self::check)
    /// never trusts them blindly.
    pub fn attach(header: &'a mut Header, slots: &'a mut [Slot]) -> Option<Self> {
        let slots = clamp_slots(slots);
        let n = u32::try_from(slots.len()).ok()?;
        let max = u32::try_from(max_len(slots.len())).ok()?;
        let ends_ok = if header.len == 0 {
            header.head == NIL && header.tail == NIL
        } else {
            header.head < n && header.tail < n
        };
        let valid = header.magic == MAGIC && header.slots == n && header.len <= max && ends_ok;
        valid.then(|| Self::new(header, slots, n))
    }

    /// Formats a fresh zone (as [`init`](RateTable::init)) with `old`'s
    /// seed and as many of its keys as fit, most recently used first, with
    /// their buckets and LRU order: a zone given another size keeps its
    /// state. The number of keys copied is returned with the table.
    ///
    /// O(`old.len()` + `slots.len()`); allocates one entry per key copied
    /// (at configuration time, never per connection).
    pub fn init_from(
        header: &'a mut Header,
        slots: &'a mut [Slot],
        old: &RateTable<'_>,
    ) -> (Self, usize) {
        let mut table = Self::init(header, slots, old.header.seed);
        // Most recent first, from the MRU end, at most what fits.
        let mut entries = Vec::new();
        let mut at = old.header.head;
        while at != NIL && entries.len() < table.max_len as usize && entries.len() < old.n as usize
        {
            let Ok(slot) = old.slot(at) else {
                break;
            };
            if slot.hash == EMPTY {
                break;
            }
            entries.push((slot.hash, slot.last_ms, slot.excess));
            at = slot.next;
        }
        // Inserted least recent first, so the order comes out the same.
        for &(hash, last_ms, excess) in entries.iter().rev() {
            let copied =
                table
                    .insert_new(hash, last_ms)
                    .and_then(|()| match table.probe(hash)? {
                        Probe::Found(at) => {
                            table.slot_mut(at)?.excess = excess;
                            Ok(())
                        }
                        Probe::Vacant(_) => Err(Corrupt),
                    });
            if copied.is_err() {
                // A corrupt old table: start empty rather than half-copied.
                table.reset();
                return (table, 0);
            }
        }
        let len = table.len();
        (table, len)
    }

    fn new(header: &'a mut Header, slots: &'a mut [Slot], n: u32) -> Self {
        let max_len = u32::try_from(max_len(slots.len())).unwrap_or(0);
        RateTable {
            header,
            slots,
            n,
            max_len,
        }
    }

    /// Counts one connection for `key` at `now_ms` against `rate`, allowing
    /// `burst` connections above it: the leaky bucket of nginx's
    /// `limit_req`, on the same integers.
    ///
    /// - A key not in the table passes, and its bucket starts empty at
    ///   `now_ms`.
    /// - Otherwise, with `ms` the time since the bucket's last update
    ///   (0 if the clock went backwards) and `excess` its level in
    ///   milli-connections: `new = max(0, excess - rate_milli * ms / 1000 +
    ///   1000)` (saturating). The connection passes if `new <= burst *
    ///   1000`, and the bucket becomes `new`, its time `now_ms` if `ms > 0`
    ///   (or if the clock went back by more than 60 s); otherwise it is
    ///   rejected and the bucket is left as it was.
    /// - Either way the key becomes the most recently used.
    ///
    /// A new key in a table at max load first evicts the least recently
    /// used key. Before that, up to two least recently used keys whose
    /// buckets have drained completely are dropped; forgetting them changes
    /// no later verdict, since a returning key starts empty either way.
    ///
    /// For a dry run, call this the same way and ignore a rejection: the
    /// state then evolves exactly as in a real run.
    pub fn check(&mut self, key: &[u8], now_ms: u64, rate: Rate, burst: u32) -> Verdict {
        if self.max_len == 0 {
            return Verdict::Passed;
        }
        let hash = hash_key(self.header.seed, key).max(1);
        let rate_milli = rate.per_second_milli();
        let burst_milli = u64::from(burst).saturating_mul(1000);
        match self.check_hashed(hash, now_ms, rate_milli, burst_milli) {
            Ok(verdict) => verdict,
            Err(Corrupt) => {
                // Start over, and count this connection as its key's first.
                self.reset();
                let _ = self.insert_new(hash, now_ms);
                Verdict::Passed
            }
        }
    }

    /// How many keys the table holds now.
    pub fn len(&self) -> usize {
        usize::try_from(self.header.len).unwrap_or(usize::MAX)
    }

    /// Whether the table holds no key.
    pub fn is_empty(&self) -> bool {
        self.header.len == 0
    }

    /// How many keys the table holds before it evicts: 7/8 of the slots
    /// (see [`keys_for`]).
    pub fn capacity(&self) -> usize {
        usize::try_from(self.max_len).unwrap_or(usize::MAX)
    }

    /// How many keys were evicted, least recently used first, to make room
    /// for new ones since the zone was formatted.
    pub fn evicted(&self) -> u64 {
        self.header.evicted
    }

    /// How many keys with drained buckets were dropped since the zone was
    /// formatted.
    pub fn expired(&self) -> u64 {
        self.header.expired
    }

    fn check_hashed(
        &mut self,
        hash: u64,
        now_ms: u64,
        rate_milli: u64,
        burst_milli: u64,
    ) -> Result<Verdict, Corrupt> {
        match self.probe(hash)? {
            Probe::Found(at) => {
                self.touch(at)?;
                let slot = self.slot_mut(at)?;
                Ok(leak(slot, now_ms, rate_milli, burst_milli))
            }
            Probe::Vacant(at) => {
                if self.make_room(now_ms, rate_milli)? {
                    // Entries moved: look for the place again.
                    self.insert_new(hash, now_ms)?;
                } else {
                    self.insert_at(at, hash, now_ms)?;
                }
                Ok(Verdict::Passed)
            }
        }
    }

    /// Inserts a key known to be absent, into a table below max load.
    fn insert_new(&mut self, hash: u64, now_ms: u64) -> Result<(), Corrupt> {
        match self.probe(hash)? {
            Probe::Vacant(at) => self.insert_at(at, hash, now_ms),
            Probe::Found(_) => Err(Corrupt),
        }
    }

    /// Clears every slot and the counts, keeping the seed.
    fn reset(&mut self) {
        self.slots.fill(Slot::default());
        self.header.len = 0;
        self.header.head = NIL;
        self.header.tail = NIL;
    }

    /// Before a new key goes in: drops up to [`EXPIRE_PER_INSERT`] drained
    /// entries from the LRU end, then evicts from the LRU end until the
    /// table is below max load. Whether anything was removed (and so
    /// whether entries may have moved).
    fn make_room(&mut self, now_ms: u64, rate_milli: u64) -> Result<bool, Corrupt> {
        let mut removed = false;
        for _ in 0..EXPIRE_PER_INSERT {
            let Some(tail) = self.lru_tail()? else {
                break;
            };
            if !drained(self.slot(tail)?, now_ms, rate_milli) {
                break;
            }
            self.remove(tail)?;
            self.header.expired = self.header.expired.saturating_add(1);
            removed = true;
        }
        // Each round removes an entry, so at most `len` rounds.
        for _ in 0..self.n {
            if self.header.len < self.max_len {
                return Ok(removed);
            }
            let tail = self.lru_tail()?.ok_or(Corrupt)?;
            self.remove(tail)?;
            self.header.evicted = self.header.evicted.saturating_add(1);
            removed = true;
        }
        Err(Corrupt)
    }

    /// The least recently used entry, if any.
    fn lru_tail(&self) -> Result<Option<u32>, Corrupt> {
        let tail = self.header.tail;
        if tail == NIL {
            return if self.header.len == 0 {
                Ok(None)
            } else {
                Err(Corrupt)
            };
        }
        if self.slot(tail)?.next != NIL {
            return Err(Corrupt);
        }
        Ok(Some(tail))
    }

    // Robin Hood hashing with linear probing. Every key has a home slot
    // (from its hash) and sits at some distance after it, wrapping at the
    // end; along any run of occupied slots the homes never decrease
    // (cyclically), so a probe can stop at the first slot whose occupant
    // is nearer its home than the probe is to the key's. Insertion shifts
    // the rest of the run one slot on; removal shifts it back.

    /// The home slot of a hash: the top 32 bits scaled to `0..n`.
    fn home(&self, hash: u64) -> u32 {
        let scaled = (hash >> 32).wrapping_mul(u64::from(self.n)) >> 32;
        u32::try_from(scaled).unwrap_or(0)
    }

    /// How far slot `at` is past the home of `hash`, cyclically.
    fn distance(&self, at: u32, hash: u64) -> u32 {
        let home = self.home(hash);
        if at >= home {
            at.wrapping_sub(home)
        } else {
            at.wrapping_add(self.n).wrapping_sub(home)
        }
    }

    fn next_index(&self, at: u32) -> u32 {
        let next = at.wrapping_add(1);
        if next >= self.n {
            0
        } else {
            next
        }
    }

    fn prev_index(&self, at: u32) -> u32 {
        if at == 0 {
            self.n.wrapping_sub(1)
        } else {
            at.wrapping_sub(1)
        }
    }

    fn slot(&self, at: u32) -> Result<&Slot, Corrupt> {
        let index = usize::try_from(at).map_err(|_| Corrupt)?;
        self.slots.get(index).ok_or(Corrupt)
    }

    fn slot_mut(&mut self, at: u32) -> Result<&mut Slot, Corrupt> {
        let index = usize::try_from(at).map_err(|_| Corrupt)?;
        self.slots.get_mut(index).ok_or(Corrupt)
    }

    /// Finds `hash`, or the slot it would be inserted at. At most `n`
    /// slots are looked at.
    fn probe(&self, hash: u64) -> Result<Probe, Corrupt> {
        let mut at = self.home(hash);
        for dist in 0..self.n {
            let slot = self.slot(at)?;
            if slot.hash == hash {
                return Ok(Probe::Found(at));
            }
            if slot.hash == EMPTY || self.distance(at, slot.hash) < dist {
                return Ok(Probe::Vacant(at));
            }
            at = self.next_index(at);
        }
        Err(Corrupt)
    }

    /// Puts a new entry at `at`, the place [`probe`](Self::probe) found,
    /// shifting the occupied run from there one slot on, and makes it the
    /// most recently used.
    fn insert_at(&mut self, at: u32, hash: u64, now_ms: u64) -> Result<(), Corrupt> {
        if self.header.len >= self.max_len {
            return Err(Corrupt);
        }
        // The end of the run: the first empty slot from `at`.
        let mut end = at;
        let mut run: u32 = 0;
        while self.slot(end)?.hash != EMPTY {
            run = run.wrapping_add(1);
            if run >= self.n {
                return Err(Corrupt);
            }
            end = self.next_index(end);
        }
        for _ in 0..run {
            let from = self.prev_index(end);
            self.move_entry(from, end)?;
            end = from;
        }
        *self.slot_mut(at)? = Slot {
            hash,
            last_ms: now_ms,
            excess: 0,
            prev: NIL,
            next: NIL,
        };
        self.push_front(at)?;
        self.header.len = self.header.len.saturating_add(1);
        Ok(())
    }

    /// Removes the entry at `at` and shifts the rest of its run back.
    fn remove(&mut self, at: u32) -> Result<(), Corrupt> {
        self.unlink(at)?;
        let mut hole = at;
        for _ in 0..self.n {
            let next = self.next_index(hole);
            let slot = self.slot(next)?;
            if slot.hash == EMPTY || self.distance(next, slot.hash) == 0 {
                break;
            }
            self.move_entry(next, hole)?;
            hole = next;
        }
        *self.slot_mut(hole)? = Slot::default();
        self.header.len = self.header.len.saturating_sub(1);
        Ok(())
    }

    /// Copies the entry at `from` to `to` (whose contents are dead) and
    /// points its LRU neighbours at the new place.
    fn move_entry(&mut self, from: u32, to: u32) -> Result<(), Corrupt> {
        let entry = *self.slot(from)?;
        *self.slot_mut(to)? = entry;
        if entry.prev == NIL {
            self.header.head = to;
        } else {
            self.slot_mut(entry.prev)?.next = to;
        }
        if entry.next == NIL {
            self.header.tail = to;
        } else {
            self.slot_mut(entry.next)?.prev = to;
        }
        Ok(())
    }

    /// Takes the entry at `at` out of the LRU list, after checking that
    /// its neighbours (or the list's ends) point back at it.
    fn unlink(&mut self, at: u32) -> Result<(), Corrupt> {
        let Slot {
            hash, prev, next, ..
        } = *self.slot(at)?;
        if hash == EMPTY || prev == at || next == at {
            return Err(Corrupt);
        }
        let prev_next = match prev {
            NIL => &mut self.header.head,
            _ => &mut self.slot_mut(prev)?.next,
        };
        if *prev_next != at {
            return Err(Corrupt);
        }
        *prev_next = next;
        let next_prev = match next {
            NIL => &mut self.header.tail,
            _ => &mut self.slot_mut(next)?.prev,
        };
        if *next_prev != at {
            return Err(Corrupt);
        }
        *next_prev = prev;
        Ok(())
    }

    /// Makes the (unlinked) entry at `at` the most recently used.
    fn push_front(&mut self, at: u32) -> Result<(), Corrupt> {
        let old_head = self.header.head;
        if old_head == at {
            return Err(Corrupt);
        }
        let slot = self.slot_mut(at)?;
        slot.prev = NIL;
        slot.next = old_head;
        if old_head == NIL {
            self.header.tail = at;
        } else {
            let head = self.slot_mut(old_head)?;
            if head.prev != NIL {
                return Err(Corrupt);
            }
            head.prev = at;
        }
        self.header.head = at;
        Ok(())
    }

    /// Makes the entry at `at` the most recently used.
    fn touch(&mut self, at: u32) -> Result<(), Corrupt> {
        if self.header.head == at {
            return Ok(());
        }
        self.unlink(at)?;
        self.push_front(at)
    }
}

/// `slots`, without those past [`MAX_SLOTS`].
fn clamp_slots(slots: &mut [Slot]) -> &mut [Slot] {
    let max = usize::try_from(MAX_SLOTS).unwrap_or(usize::MAX);
    if slots.len() > max {
        slots.get_mut(..max).unwrap_or_default()
    } else {
        slots
    }
}

/// The time since the bucket's update, and whether a pass should move the
/// update time to `now_ms`: when time went on (as nginx does), or when the
/// clock went back by more than [`CLOCK_RESYNC_MS`].
fn elapsed(slot: &Slot, now_ms: u64) -> (u64, bool) {
    match now_ms.checked_sub(slot.last_ms) {
        Some(ms) => (ms, ms != 0),
        None => (0, slot.last_ms.saturating_sub(now_ms) > CLOCK_RESYNC_MS),
    }
}

/// The leaky bucket step of `ngx_http_limit_req_lookup`, in unsigned
/// saturating arithmetic.
fn leak(slot: &mut Slot, now_ms: u64, rate_milli: u64, burst_milli: u64) -> Verdict {
    let (ms, move_time) = elapsed(slot, now_ms);
    let leaked = rate_milli.saturating_mul(ms) / 1000;
    let excess = slot.excess.saturating_add(1000).saturating_sub(leaked);
    if excess > burst_milli {
        return Verdict::Rejected;
    }
    slot.excess = excess;
    if move_time {
        slot.last_ms = now_ms;
    }
    Verdict::Passed
}

/// Whether a check at `now_ms` would find the bucket at 0, exactly as for
/// a key not in the table: then the entry can go without changing any
/// later verdict.
fn drained(slot: &Slot, now_ms: u64, rate_milli: u64) -> bool {
    let (ms, _) = elapsed(slot, now_ms);
    rate_milli.saturating_mul(ms) / 1000 >= slot.excess.saturating_add(1000)
}

#[cfg(test)]
pub(super) mod inspect {
    //! Test access to the table's internals.
    use super::*;

    /// Panics unless the table is consistent: the count, the Robin Hood
    /// order, unique hashes, and an LRU list through exactly the occupied
    /// slots. Returns the longest distance from home.
    pub fn verify(table: &RateTable<'_>) -> u32 {
        let n = table.n;
        assert_eq!(n as usize, table.slots.len());
        let occupied: Vec<u32> = (0..n)
            .filter(|&i| table.slots[i as usize].hash != EMPTY)
            .collect();
        assert_eq!(occupied.len(), table.header.len as usize, "len");
        assert!(table.header.len <= table.max_len, "over max load");
        let mut hashes: Vec<u64> = occupied
            .iter()
            .map(|&i| table.slots[i as usize].hash)
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), occupied.len(), "duplicate hash");
        let mut longest = 0;
        for &i in &occupied {
            let slot = &table.slots[i as usize];
            let dist = table.distance(i, slot.hash);
            longest = longest.max(dist);
            // Every slot between home and here is occupied, and the
            // occupant before is at least as far from its home minus one.
            let prev = table.prev_index(i);
            if dist > 0 {
                let before = &table.slots[prev as usize];
                assert_ne!(before.hash, EMPTY, "gap before slot {i}");
                assert!(
                    table.distance(prev, before.hash) + 1 >= dist,
                    "order at {i}"
                );
            }
            assert_eq!(
                table
                    .probe(slot.hash)
                    .ok()
                    .map(|p| matches!(p, Probe::Found(at) if at == i)),
                Some(true)
            );
        }
        // LRU list.
        let mut seen = vec![false; n as usize];
        let mut at = table.header.head;
        let mut prev = NIL;
        let mut count = 0;
        while at != NIL {
            assert!(at < n, "link out of range");
            assert!(!seen[at as usize], "cycle");
            seen[at as usize] = true;
            let slot = &table.slots[at as usize];
            assert_ne!(slot.hash, EMPTY, "list through an empty slot");
            assert_eq!(slot.prev, prev, "prev link of {at}");
            prev = at;
            at = slot.next;
            count += 1;
        }
        assert_eq!(prev, table.header.tail, "tail");
        assert_eq!(count, table.header.len, "list length");
        longest
    }

    /// The slot count.
    pub fn slot_count(table: &RateTable<'_>) -> u32 {
        table.n
    }

    /// The probe length (slots looked at) of a lookup for `hash`.
    pub fn probe_len(table: &RateTable<'_>, hash: u64) -> u32 {
        let mut at = table.home(hash);
        for dist in 0..table.n {
            let slot = &table.slots[at as usize];
            if slot.hash == hash || slot.hash == EMPTY || table.distance(at, slot.hash) < dist {
                return dist + 1;
            }
            at = table.next_index(at);
        }
        table.n
    }

    /// The hash the table stores for `key`.
    pub fn stored_hash(table: &RateTable<'_>, key: &[u8]) -> u64 {
        hash_key(table.header.seed, key).max(1)
    }

    /// Keys from most to least recently used, as stored hashes.
    pub fn lru_order(table: &RateTable<'_>) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = table.header.head;
        while at != NIL {
            out.push(table.slots[at as usize].hash);
            at = table.slots[at as usize].next;
        }
        out
    }

    impl Slot {
        pub fn next_for_test(&self) -> u32 {
            self.next
        }

        pub fn set_for_test(&mut self, hash: u64, prev: u32, next: u32) {
            self.hash = hash;
            self.prev = prev;
            self.next = next;
        }
    }

    impl Header {
        pub fn head_for_test(&self) -> u32 {
            self.head
        }

        pub fn len_for_test(&self) -> u32 {
            self.len
        }
    }

    /// Mutable access to the raw parts, to corrupt them.
    pub fn parts<'t>(table: &'t mut RateTable<'_>) -> (&'t mut Header, &'t mut [Slot]) {
        (&mut *table.header, &mut *table.slots)
    }

    /// Sets raw fields of a slot.
    pub fn set_links(slot: &mut Slot, prev: u32, next: u32) {
        slot.prev = prev;
        slot.next = next;
    }

    /// Sets the header's ends.
    pub fn set_ends(header: &mut Header, head: u32, tail: u32, len: u32) {
        header.head = head;
        header.tail = tail;
        header.len = len;
    }

    /// The (excess, last_ms) of `key`'s bucket.
    pub fn bucket(table: &RateTable<'_>, key: &[u8]) -> Option<(u64, u64)> {
        let hash = stored_hash(table, key);
        match table.probe(hash).ok()? {
            Probe::Found(at) => {
                let slot = &table.slots[at as usize];
                Some((slot.excess, slot.last_ms))
            }
            Probe::Vacant(_) => None,
        }
    }
}

//! What a host knows about each key's count across hosts, for
//! `sift_rate_zone ... sync=NAME`: a fixed-window counter per key in
//! Redis, and here, in the zone's shared memory, the last count Redis
//! returned plus this host's admissions not yet added to it.
//!
//! A connection passes when `global + local < limit` (the window's limit
//! across hosts) and is then counted in `local`. Every `batch` local
//! admissions, one connection adds `local` to Redis (`INCRBY`) and reads
//! the new total back: that connection waits one round trip; the others
//! none. Rejected connections never call. While a sync is in flight other
//! connections of the key go on deciding from the snapshot.
//!
//! Accuracy: in a window, each host admits at most `batch - 1` connections
//! Redis has not heard of (plus those admitted while a sync is in flight),
//! so the total across H hosts is at most `limit + H * (batch - 1 +
//! in-flight)`. With `batch=1` every admitted connection makes a call and
//! the total overshoots only by concurrent calls. Fixed windows also let
//! up to twice the limit through across a window's edge, as any
//! fixed-window limiter.
//!
//! Layout: a 32-byte [`SyncHeader`] then [`SyncSlot`]s (48 bytes) in sets
//! of [`WAYS`]: a key's set is chosen by its seeded hash; a new key takes
//! an empty way or the one synced longest ago. Losing a key loses at most
//! its unsynced local count (less than `batch`). Nothing allocates; every
//! loop is bounded by [`WAYS`].

use core::mem::size_of;

/// Ways per set.
pub const WAYS: usize = 4;
/// Size of the header.
pub const SYNC_HEADER_SIZE: usize = size_of::<SyncHeader>();
/// Size of one slot.
pub const SYNC_SLOT_SIZE: usize = size_of::<SyncSlot>();

const MAGIC: u64 = u64::from_le_bytes(*b"siftRS\x00\x01");

const _: () = {
    assert!(SYNC_HEADER_SIZE == 32);
    assert!(SYNC_SLOT_SIZE == 48);
};

/// The table's header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SyncHeader {
    magic: u64,
    seed: u64,
    sets: u64,
    reserved: u64,
}

/// One key's sync state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SyncSlot {
    /// Seeded hash of the key; 0 = empty.
    hash: u64,
    /// The window this state is for (time / window length).
    window: u64,
    /// The window's count across hosts, as Redis last said.
    global: u64,
    /// When a sync started (0 = none in flight).
    flight_ms: u64,
    /// Admissions here not yet added to Redis.
    local: u32,
    /// How many of `local` the sync in flight adds.
    flight_add: u32,
    /// When Redis last answered for this key (0 = never in this window).
    synced_ms: u64,
}

/// The per-zone parameters of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncParams {
    /// Connections per window across hosts.
    pub limit: u64,
    /// The window's length in milliseconds (1000 for r/s, 60000 for r/m).
    pub window_ms: u64,
    /// Local admissions between syncs.
    pub batch: u32,
    /// A sync in flight longer than this is given up (its worker died).
    pub flight_timeout_ms: u64,
}

/// What [`SyncTable::admit`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncVerdict {
    /// Admitted; no call.
    Pass,
    /// Over the limit across hosts as far as this host knows.
    Reject,
    /// Admitted, and this connection adds `add` to the window's counter in
    /// Redis, then reports with [`SyncTable::synced`] or
    /// [`SyncTable::failed`].
    Sync {
        /// The count to add.
        add: u32,
        /// The window (for the counter's name and the report).
        window: u64,
    },
}

/// Splits a region into header and slots (whole sets only).
pub fn split_sync_region(region: &mut [u8]) -> Option<(&mut SyncHeader, &mut [SyncSlot])> {
    let (header, rest) = region.split_at_mut_checked(SYNC_HEADER_SIZE)?;
    let sets = rest.len() / (SYNC_SLOT_SIZE * WAYS);
    let slots = rest.get_mut(..sets.checked_mul(WAYS * SYNC_SLOT_SIZE)?)?;
    Some((
        bytemuck::try_from_bytes_mut(header).ok()?,
        bytemuck::try_cast_slice_mut(slots).ok()?,
    ))
}

/// Keys a region of `bytes` can track.
pub const fn sync_keys_for(bytes: usize) -> usize {
    (bytes.saturating_sub(SYNC_HEADER_SIZE) / (SYNC_SLOT_SIZE * WAYS)).saturating_mul(WAYS)
}

/// The table over a zone's region; hold the zone's lock while it lives.
pub struct SyncTable<'a> {
    header: &'a mut SyncHeader,
    slots: &'a mut [SyncSlot],
}

impl<'a> SyncTable<'a> {
    /// Formats a region.
    pub fn init(header: &'a mut SyncHeader, slots: &'a mut [SyncSlot], seed: u64) -> Self {
        slots.fill(SyncSlot::default());
        *header = SyncHeader {
            magic: MAGIC,
            seed,
            sets: (slots.len() / WAYS) as u64,
            reserved: 0,
        };
        SyncTable { header, slots }
    }

    /// A region [`init`](Self::init) formatted, or None.
    pub fn attach(header: &'a mut SyncHeader, slots: &'a mut [SyncSlot]) -> Option<Self> {
        let ok = header.magic == MAGIC && header.sets == (slots.len() / WAYS) as u64;
        (ok && header.sets > 0).then_some(SyncTable { header, slots })
    }

    /// Keys the table tracks.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Counts a connection of `key` at `now_ms` (after the local limit
    /// passed it).
    pub fn admit(&mut self, key: &[u8], now_ms: u64, params: &SyncParams) -> SyncVerdict {
        let window = now_ms.checked_div(params.window_ms).unwrap_or(0);
        let Some(slot) = self.slot_for(key, window) else {
            return SyncVerdict::Pass;
        };
        if slot.global.saturating_add(u64::from(slot.local)) >= params.limit {
            return SyncVerdict::Reject;
        }
        slot.local = slot.local.saturating_add(1);
        if slot.flight_ms != 0 && now_ms.saturating_sub(slot.flight_ms) <= params.flight_timeout_ms
        {
            return SyncVerdict::Pass;
        }
        if slot.local < params.batch.max(1) {
            return SyncVerdict::Pass;
        }
        slot.flight_ms = now_ms.max(1);
        slot.flight_add = slot.local;
        SyncVerdict::Sync {
            add: slot.local,
            window,
        }
    }

    /// Redis answered a sync of `key` for `window` with `global` (the count
    /// after `add` was added). Whether the connection that made it is
    /// within the limit.
    pub fn synced(
        &mut self,
        key: &[u8],
        window: u64,
        add: u32,
        global: u64,
        now_ms: u64,
        params: &SyncParams,
    ) -> bool {
        let Some(slot) = self.existing(key, window) else {
            // Evicted or a new window meanwhile: Redis's count decides.
            return global <= params.limit;
        };
        slot.local = slot.local.saturating_sub(add);
        slot.global = slot.global.max(global);
        slot.flight_ms = 0;
        slot.flight_add = 0;
        slot.synced_ms = now_ms.max(1);
        global <= params.limit
    }

    /// A sync of `key` failed: its count stays local, for the next one.
    pub fn failed(&mut self, key: &[u8], window: u64) {
        if let Some(slot) = self.existing(key, window) {
            slot.flight_ms = 0;
            slot.flight_add = 0;
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        super::hash_for_top(self.header.seed, key).max(1)
    }

    fn set(&mut self, hash: u64) -> Option<&mut [SyncSlot]> {
        let sets = self.header.sets.max(1);
        let set = usize::try_from(hash.checked_rem(sets)?).ok()?;
        let start = set.checked_mul(WAYS)?;
        self.slots.get_mut(start..start.checked_add(WAYS)?)
    }

    fn existing(&mut self, key: &[u8], window: u64) -> Option<&mut SyncSlot> {
        let hash = self.hash(key);
        self.set(hash)?
            .iter_mut()
            .find(|slot| slot.hash == hash && slot.window == window)
    }

    /// The key's slot for `window`: found, or taken over and reset.
    fn slot_for(&mut self, key: &[u8], window: u64) -> Option<&mut SyncSlot> {
        let hash = self.hash(key);
        let set = self.set(hash)?;
        let at = match set.iter().position(|slot| slot.hash == hash) {
            Some(at) => at,
            None => {
                // An empty way, else a key of an older window, else the
                // one synced longest ago.
                set.iter()
                    .enumerate()
                    .min_by_key(|(_, slot)| (slot.hash != 0, slot.window >= window, slot.synced_ms))
                    .map(|(at, _)| at)?
            }
        };
        let slot = set.get_mut(at)?;
        if slot.hash != hash || slot.window != window {
            *slot = SyncSlot {
                hash,
                window,
                ..SyncSlot::default()
            };
        }
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: SyncParams = SyncParams {
        limit: 10,
        window_ms: 1000,
        batch: 1,
        flight_timeout_ms: 500,
    };

    fn region(keys: usize) -> Vec<u64> {
        vec![0u64; (SYNC_HEADER_SIZE + keys * SYNC_SLOT_SIZE) / 8]
    }

    #[test]
    fn batch_one_syncs_every_admission() {
        let mut mem = region(16);
        let (h, s) = split_sync_region(bytemuck::cast_slice_mut(&mut mem)).unwrap();
        let mut table = SyncTable::init(h, s, 7);
        assert_eq!(table.capacity(), 16);
        assert_eq!(
            table.admit(b"k", 5000, &PARAMS),
            SyncVerdict::Sync { add: 1, window: 5 }
        );
        // In flight: the next passes without a call.
        assert_eq!(table.admit(b"k", 5001, &PARAMS), SyncVerdict::Pass);
        // Other hosts had 7: Redis says 1 + 7 + ... = 8 after our 1.
        assert!(table.synced(b"k", 5, 1, 8, 5002, &PARAMS));
        // 8 global + 1 local (the one admitted in flight) = 9 < 10.
        assert_eq!(
            table.admit(b"k", 5003, &PARAMS),
            SyncVerdict::Sync { add: 2, window: 5 }
        );
        assert!(table.synced(b"k", 5, 2, 10, 5004, &PARAMS));
        assert_eq!(table.admit(b"k", 5005, &PARAMS), SyncVerdict::Reject);
        // A new window starts afresh.
        assert_eq!(
            table.admit(b"k", 6000, &PARAMS),
            SyncVerdict::Sync { add: 1, window: 6 }
        );
    }

    #[test]
    fn batches_and_rejects_from_local_alone() {
        let mut mem = region(16);
        let (h, s) = split_sync_region(bytemuck::cast_slice_mut(&mut mem)).unwrap();
        let mut table = SyncTable::init(h, s, 7);
        let params = SyncParams { batch: 4, ..PARAMS };
        for i in 0..3 {
            assert_eq!(table.admit(b"k", 100 + i, &params), SyncVerdict::Pass);
        }
        assert_eq!(
            table.admit(b"k", 104, &params),
            SyncVerdict::Sync { add: 4, window: 0 }
        );
        table.failed(b"k", 0);
        // Redis down: the count stays local and the limit holds locally.
        let mut passed = 4;
        for i in 0..20 {
            if table.admit(b"k", 110 + i, &params) != SyncVerdict::Reject {
                passed += 1;
                table.failed(b"k", 0);
            }
        }
        assert_eq!(passed, 10);
    }

    #[test]
    fn abandoned_flight_is_retried() {
        let mut mem = region(16);
        let (h, s) = split_sync_region(bytemuck::cast_slice_mut(&mut mem)).unwrap();
        let mut table = SyncTable::init(h, s, 7);
        assert!(matches!(
            table.admit(b"k", 1, &PARAMS),
            SyncVerdict::Sync { .. }
        ));
        assert_eq!(table.admit(b"k", 2, &PARAMS), SyncVerdict::Pass);
        assert_eq!(
            table.admit(b"k", 600, &PARAMS),
            SyncVerdict::Sync { add: 3, window: 0 }
        );
    }

    #[test]
    fn full_sets_take_over_the_stalest() {
        let mut mem = region(4);
        let (h, s) = split_sync_region(bytemuck::cast_slice_mut(&mut mem)).unwrap();
        let mut table = SyncTable::init(h, s, 7);
        for key in 0u32..100 {
            let _ = table.admit(&key.to_le_bytes(), 10, &PARAMS);
        }
        // Key 99 is tracked; the table stays within its 4 slots.
        assert_eq!(
            table.admit(&99u32.to_le_bytes(), 11, &PARAMS),
            SyncVerdict::Pass
        );
        let (h, s) = split_sync_region(bytemuck::cast_slice_mut(&mut mem)).unwrap();
        assert!(SyncTable::attach(h, s).is_some());
        let mut zero = region(4);
        let (h, s) = split_sync_region(bytemuck::cast_slice_mut(&mut zero)).unwrap();
        assert!(SyncTable::attach(h, s).is_none());
    }
}

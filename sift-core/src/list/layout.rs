//! The table's layout in the zone: header, prefix-length counts, index
//! slots, then the arena of records. Every part is integers and bytes
//! (`repr(C)`, no padding, no pointers): it is shared by every worker and
//! kept across reloads.
//!
//! ```text
//! Header (120 bytes) | counts: u32 × 164 | slots: Slot × n | arena
//! ```
//!
//! A record in the arena (little-endian, unaligned, packed):
//!
//! ```text
//! expires_at_ms: u64 | key_len: u16 | value_len: u16 | live: u8 | 0 0 0 | key | value
//! ```

use bytemuck::{Pod, Zeroable};

/// `siftLS`, then the layout version (1).
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"siftLS\0\x01");

/// Prefix-length counts: IPv4 lengths 0..=32 at 0..33, IPv6 0..=128 at
/// 33..162, padded to a multiple of 8 bytes.
pub(crate) const COUNTS: usize = 164;
pub(crate) const V6_COUNTS_BASE: usize = 33;

pub(crate) const HEADER_SIZE: usize = core::mem::size_of::<Header>();
pub(crate) const SLOT_SIZE: usize = core::mem::size_of::<Slot>();
const COUNTS_SIZE: usize = COUNTS * 4;

/// Bytes of a record before its key.
pub(crate) const RECORD_HEAD: usize = 16;

/// One index slot per this many bytes of the region after the header:
/// with the load capped at 3/4 and records of about 50 bytes, the index
/// and the arena run out at about the same time.
const BYTES_PER_SLOT: usize = 48;
/// The smallest region [`split`] accepts.
pub(crate) const REGION_MIN: usize = 4096;

/// Index slots: `pos` is the record's arena offset plus one; 0 marks an
/// empty slot, [`TOMBSTONE`] a removed one.
pub(crate) const EMPTY: u32 = 0;
pub(crate) const TOMBSTONE: u32 = u32::MAX;

const _: () = {
    assert!(HEADER_SIZE == 120);
    assert!(HEADER_SIZE == 7 * 8 + 8 * 4 + 4 * 8);
    assert!(SLOT_SIZE == 8);
    assert!(COUNTS_SIZE % 8 == 0);
    assert!(V6_COUNTS_BASE + 129 <= COUNTS);
};

/// What the table knows about itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct Header {
    /// [`MAGIC`] once initialised.
    pub magic: u64,
    /// Bumped by every change.
    pub version: u64,
    /// The hash seed.
    pub seed: u64,
    /// Bit `L` set: some entry is an IPv4 prefix of length `L`.
    pub v4_lengths: u64,
    /// Bit `L` (of the 192) set: some entry is an IPv6 prefix of length `L`.
    pub v6_lengths: [u64; 3],
    /// `ListKind` as 1 (string) or 2 (ip).
    pub kind: u32,
    /// Index slots.
    pub slots: u32,
    /// Records in the index (live ones, expired or not).
    pub len: u32,
    /// Tombstone slots.
    pub tombstones: u32,
    /// Bytes of the arena.
    pub arena_len: u32,
    /// Bytes of the arena written so far (records, live or dead).
    pub arena_top: u32,
    /// Bytes of dead records below `arena_top`.
    pub dead_bytes: u32,
    pub reserved32: u32,
    /// Zero; room for later fields in this layout version.
    pub reserved: [u64; 4],
}

/// One index slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct Slot {
    /// The high half of the key's hash (skips most key comparisons).
    pub tag: u32,
    /// The record's arena offset + 1, or [`EMPTY`] or [`TOMBSTONE`].
    pub pos: u32,
}

/// The parts of a region.
pub(crate) struct Parts<'a> {
    pub header: &'a mut Header,
    pub counts: &'a mut [u32],
    pub slots: &'a mut [Slot],
    pub arena: &'a mut [u8],
}

/// How many slots and arena bytes a region of `len` bytes holds.
pub(crate) fn geometry(len: usize) -> Option<(usize, usize)> {
    if len < REGION_MIN {
        return None;
    }
    let rest = len.checked_sub(HEADER_SIZE + COUNTS_SIZE)?;
    // Offsets are u32 (plus one): cap the arena, and the slots with it.
    let slots = (rest / BYTES_PER_SLOT).min(u32::MAX as usize / 64);
    let arena = (rest - slots * SLOT_SIZE).min(u32::MAX as usize - 1);
    Some((slots, arena))
}

/// Splits a region into its parts (None: too small or misaligned).
pub(crate) fn split(region: &mut [u8]) -> Option<Parts<'_>> {
    let (slots, arena) = geometry(region.len())?;
    let (header, rest) = region.split_at_mut_checked(HEADER_SIZE)?;
    let (counts, rest) = rest.split_at_mut_checked(COUNTS_SIZE)?;
    let (slot_bytes, rest) = rest.split_at_mut_checked(slots * SLOT_SIZE)?;
    Some(Parts {
        header: bytemuck::try_from_bytes_mut(header).ok()?,
        counts: bytemuck::try_cast_slice_mut(counts).ok()?,
        slots: bytemuck::try_cast_slice_mut(slot_bytes).ok()?,
        arena: rest.get_mut(..arena)?,
    })
}

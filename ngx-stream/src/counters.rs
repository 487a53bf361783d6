//! Shared memory as 64-bit atomic counters: every worker adds to the same
//! words without taking the zone's lock.

use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;

use ngx::allocator::Allocator;
use ngx::core::SlabPool;

use crate::error::{Error, Result};
use crate::shm::{page_size, ZoneMemory};

/// A block of a shared zone read and written as `AtomicU64`s, by any
/// process, without the zone's lock.
#[derive(Clone)]
pub struct SharedCounters {
    // Kept so the block's zone is visibly the one this came from.
    _pool: SlabPool,
    data: NonNull<AtomicU64>,
    len: usize,
}

impl core::fmt::Debug for SharedCounters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedCounters")
            .field("len", &self.len)
            .finish()
    }
}

impl SharedCounters {
    /// The words (all zero in a fresh zone).
    pub fn words(&self) -> &[AtomicU64] {
        // The block is page-aligned zone memory, mapped shared at the same
        // address in every process for the cycle's life (zones are mapped
        // before fork), `len` words long; all-zero bytes are a valid
        // AtomicU64, and atomics are the only way anyone touches the words
        // (no &mut to them is ever made), so shared references are sound
        // across processes as across threads.
        // SAFETY: so this is a live, aligned, initialised [AtomicU64].
        unsafe { core::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }
}

impl ZoneMemory {
    /// Takes every free page of a fresh zone as one block of zeroed
    /// atomic words. [`Error::NoMemory`] if not even one page is free.
    pub fn take_all_free_counters(&self) -> Result<SharedCounters> {
        let page = page_size();
        let pool = self.slab_pool();
        let mut bytes = pool.as_ref().pfree * page;
        let locked = pool.lock();
        loop {
            if bytes < page {
                return Err(Error::NoMemory);
            }
            let layout = Layout::from_size_align(bytes, page).map_err(|_| Error::NoMemory)?;
            if let Ok(block) = locked.allocate_zeroed(layout) {
                return Ok(SharedCounters {
                    _pool: pool.clone(),
                    data: block.cast(),
                    len: bytes / core::mem::size_of::<AtomicU64>(),
                });
            }
            // Some of the free pages hold the pool's own bookkeeping.
            bytes -= page;
        }
    }
}

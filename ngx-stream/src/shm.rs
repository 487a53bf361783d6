//! Shared memory zones: state all worker processes see, kept across
//! `nginx -s reload` when a zone keeps its name and size.
//!
//! A module describes each kind of zone it has with a [`ZoneKind`]: the
//! per-cycle data nginx keeps with the zone, and what to do when the zone
//! is mapped. Directives declare zones ([`Conf::add_zone`]) or refer to
//! them by name ([`Conf::zone_ref`]); each kind has its own tag, so a name
//! declared for one kind and used as another is nginx's own error ("the
//! shared memory zone ... is already declared for a different use").

use core::alloc::Layout;
use core::cell::Cell;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;

use nginx_sys::{ngx_int_t, ngx_shm_zone_t, ngx_str_t, NGX_ERROR, NGX_OK};
use ngx::allocator::Allocator;
use ngx::core::slab::LockedSlabPool;
use ngx::core::SlabPool;

use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::guard::contain;
use crate::log::Log;
use crate::module::{pool_allocate, StreamModule};

/// A zone kind's identity for nginx: its address tells kinds apart. Make
/// one `static` per kind and return it from [`ZoneKind::tag`].
pub struct ZoneTag(#[allow(dead_code)] u8);

impl ZoneTag {
    /// A tag (its own address is what counts).
    pub const fn new() -> ZoneTag {
        ZoneTag(0)
    }
}

impl Default for ZoneTag {
    fn default() -> Self {
        ZoneTag::new()
    }
}

/// A kind of shared zone a module declares.
pub trait ZoneKind: 'static {
    /// The module the zones belong to (names it in logs).
    type Module: StreamModule;
    /// The per-cycle description of a zone, kept in the configuration's
    /// pool as the zone's `data`.
    type Data: 'static;
    /// This kind's tag: `fn tag() -> &'static ZoneTag { static T: ZoneTag = ZoneTag::new(); &T }`.
    fn tag() -> &'static ZoneTag;
    /// Called once per cycle in the master process when the zone is
    /// mapped. `previous` is the previous cycle's data when the zone is
    /// reused across a reload (same name and size, memory kept).
    fn init(
        data: &mut Self::Data,
        previous: Option<&Self::Data>,
        zone: &ZoneMemory,
        log: Option<Log<'_>>,
    ) -> Result<()>;
}

/// A zone found by name, valid for the configuration cycle that found it.
pub struct ZoneRef<Z: ZoneKind> {
    raw: NonNull<ngx_shm_zone_t>,
    _kind: PhantomData<fn() -> Z>,
}

impl<Z: ZoneKind> Clone for ZoneRef<Z> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Z: ZoneKind> Copy for ZoneRef<Z> {}

impl<Z: ZoneKind> core::fmt::Debug for ZoneRef<Z> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ZoneRef").field(&self.raw).finish()
    }
}

impl<Z: ZoneKind> ZoneRef<Z> {
    /// The zone's data; None while no directive has declared it (or, after
    /// the configuration is read, never: report it then).
    pub fn data(&self) -> Option<&Z::Data> {
        // The zone lives as long as its cycle; its data is null or, under
        // Z's tag (checked by nginx when the zone was found), a Z::Data set
        // by add_zone.
        // SAFETY: so it is null or a live Z::Data, never mutated after init.
        unsafe { ((*self.raw.as_ptr()).data as *const Z::Data).as_ref() }
    }
}

/// What [`Conf::add_zone`] found.
pub enum Declared<'a, Z: ZoneKind> {
    /// The zone is new in this configuration and now has the given data.
    New(ZoneRef<Z>),
    /// A zone of this name and kind was already declared; its data is this.
    Existing(&'a Z::Data),
}

impl<'a> Conf<'a> {
    fn shared_memory_add<Z: ZoneKind>(
        &self,
        name: &[u8],
        size: usize,
    ) -> Result<NonNull<ngx_shm_zone_t>> {
        // nginx keeps the name's pointer for the cycle.
        let name = self.pool_copy(name)?;
        let mut name = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        let tag = Z::tag() as *const ZoneTag as *mut c_void;
        // SAFETY: the conf is live; the name lives in its pool.
        let zone = unsafe { nginx_sys::ngx_shared_memory_add(self.as_ptr(), &mut name, size, tag) };
        // nginx has logged a conflicting size or kind.
        NonNull::new(zone).ok_or(Error::Logged)
    }

    /// Declares the zone `name` of `size` bytes with `data` as its
    /// per-cycle data, or finds the one this configuration already
    /// declared (then `data` is dropped and nothing changes).
    pub fn add_zone<Z: ZoneKind>(
        &self,
        name: &[u8],
        size: usize,
        data: Z::Data,
    ) -> Result<Declared<'a, Z>> {
        let zone = self.shared_memory_add::<Z>(name, size)?;
        let found = ZoneRef::<Z> {
            raw: zone,
            _kind: PhantomData,
        };
        if let Some(existing) = found.data() {
            // SAFETY: zone data lives in the conf pool for the cycle ('a).
            let existing: &'a Z::Data = unsafe { &*(existing as *const Z::Data) };
            return Ok(Declared::Existing(existing));
        }
        // SAFETY: the conf pool lives as long as the cycle and its zones.
        let data = unsafe { pool_allocate::<Z::Module, _>(self.pool(), data) }?;
        // The zone is ours (our tag) and still without data.
        // SAFETY: nginx reads these two fields when it maps the zone.
        unsafe {
            (*zone.as_ptr()).init = Some(init_trampoline::<Z>);
            (*zone.as_ptr()).data = data.as_ptr().cast();
        }
        Ok(Declared::New(found))
    }

    /// Refers to the zone `name` of kind `Z`, wherever in the configuration
    /// it is declared; [`ZoneRef::data`] is None until it is.
    pub fn zone_ref<Z: ZoneKind>(&self, name: &[u8]) -> Result<ZoneRef<Z>> {
        Ok(ZoneRef {
            raw: self.shared_memory_add::<Z>(name, 0)?,
            _kind: PhantomData,
        })
    }
}

/// A zone's slab pool while [`ZoneKind::init`] runs.
pub struct ZoneMemory {
    pool: SlabPool,
    zone: NonNull<ngx_shm_zone_t>,
}

impl ZoneMemory {
    /// The zone's slab pool.
    pub(crate) fn slab_pool(&self) -> &SlabPool {
        &self.pool
    }

    /// When nginx made this zone afresh because its size changed: the
    /// previous configuration's data of the zone of the same name and kind,
    /// whose memory is still mapped while the new configuration's zones are
    /// initialised, so that `init` can copy what it can. None otherwise
    /// (first start, a new name, or the zone was kept: then `init` got it
    /// as `previous`).
    pub fn resized_previous<Z: ZoneKind>(&self) -> Option<&Z::Data> {
        if cfg!(test) {
            return None;
        }
        let tag = Z::tag() as *const ZoneTag as *mut c_void;
        // While nginx initialises a new cycle's zones, ngx_cycle is still the
        // cycle before it (or the bare init cycle, with no zones), whose
        // zones stay mapped until the new cycle is in place; zones of our
        // tag hold Z::Data set by add_zone (or null).
        // SAFETY: so every zone in that list, and its data, is live here.
        unsafe {
            let zone = self.zone.as_ref();
            let name = core::slice::from_raw_parts(zone.shm.name.data, zone.shm.name.len);
            let old = nginx_sys::ngx_cycle;
            if old.is_null() {
                return None;
            }
            let mut part: *const nginx_sys::ngx_list_part_t = &(*old).shared_memory.part;
            while let Some(current) = part.as_ref() {
                let zones = current.elts as *const ngx_shm_zone_t;
                for i in 0..current.nelts {
                    let candidate = &*zones.add(i);
                    let candidate_name = &candidate.shm.name;
                    if core::ptr::eq(candidate, zone)
                        || candidate.tag != tag
                        || candidate.shm.size == zone.shm.size
                        || candidate_name.data.is_null()
                        || core::slice::from_raw_parts(candidate_name.data, candidate_name.len)
                            != name
                    {
                        continue;
                    }
                    return (candidate.data as *const Z::Data).as_ref();
                }
                part = current.next;
            }
        }
        None
    }

    /// True while `nginx -t` reads the configuration: zones are mapped and
    /// initialised, but nothing outside nginx should change.
    pub fn is_config_test(&self) -> bool {
        // SAFETY: a plain integer nginx sets from its command line at startup.
        unsafe { nginx_sys::ngx_test_config != 0 }
    }

    /// Takes every free page of a fresh zone as one block (for a table laid
    /// out once). [`Error::NoMemory`] if not even one page is free.
    pub fn take_all_free(&self) -> Result<SharedRegion> {
        let page = page_size();
        let mut bytes = self.pool.as_ref().pfree * page;
        let locked = self.pool.lock();
        loop {
            if bytes < page {
                return Err(Error::NoMemory);
            }
            let layout = Layout::from_size_align(bytes, page).map_err(|_| Error::NoMemory)?;
            if let Ok(block) = locked.allocate_zeroed(layout) {
                return Ok(SharedRegion {
                    pool: self.pool.clone(),
                    data: block.cast(),
                    len: bytes,
                    locked: Cell::new(false),
                });
            }
            // Some of the free pages hold the pool's own bookkeeping.
            bytes -= page;
        }
    }
}

/// A block of a shared zone, read and written under the zone's lock.
pub struct SharedRegion {
    pool: SlabPool,
    data: NonNull<u8>,
    len: usize,
    /// Whether this process holds the lock through this region: a second
    /// `lock` would deadlock (and alias the first guard's bytes).
    locked: Cell<bool>,
}

impl Clone for SharedRegion {
    fn clone(&self) -> Self {
        SharedRegion {
            pool: self.pool.clone(),
            data: self.data,
            len: self.len,
            locked: Cell::new(false),
        }
    }
}

impl core::fmt::Debug for SharedRegion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedRegion")
            .field("len", &self.len)
            .finish()
    }
}

impl SharedRegion {
    /// The region's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty region.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the zone's lock (shared by every process) and gives the bytes
    /// until the guard is dropped. None if this process already holds it
    /// through this region.
    pub fn lock(&self) -> Option<RegionGuard<'_>> {
        if self.locked.replace(true) {
            return None;
        }
        Some(RegionGuard {
            region: self,
            _lock: self.pool.lock(),
        })
    }
}

/// The bytes of a [`SharedRegion`] under the zone's lock.
pub struct RegionGuard<'a> {
    region: &'a SharedRegion,
    _lock: LockedSlabPool,
}

impl RegionGuard<'_> {
    /// The region's bytes: page-aligned, exclusively ours while the guard lives.
    pub fn bytes(&mut self) -> &mut [u8] {
        // The block stays mapped for the worker's life (zones are mapped
        // before fork, at the same address everywhere); the zone's lock
        // keeps other processes out, `locked` other guards of this one.
        // SAFETY: so this is the only reference to the bytes now.
        unsafe { core::slice::from_raw_parts_mut(self.region.data.as_ptr(), self.region.len) }
    }
}

impl Drop for RegionGuard<'_> {
    fn drop(&mut self) {
        // The slab lock itself is released by `_lock`'s own drop.
        self.region.locked.set(false);
    }
}

/// The system's page size, as nginx found it at startup.
pub fn page_size() -> usize {
    // SAFETY: a plain integer nginx sets once at startup, before modules run.
    unsafe { nginx_sys::ngx_pagesize }
}

unsafe extern "C" fn init_trampoline<Z: ZoneKind>(
    zone: *mut ngx_shm_zone_t,
    previous: *mut c_void,
) -> ngx_int_t {
    // SAFETY: nginx passes the zone being initialised; its shm is mapped.
    let log = unsafe { Log::from_raw((*zone).shm.log) };
    contain(
        <Z::Module as StreamModule>::NAME,
        log,
        "shared zone init",
        || NGX_ERROR as ngx_int_t,
        || {
            // data was set by add_zone; `previous` is the last cycle's data
            // for this zone (same tag, so same kind) or null; the zone is
            // mapped and starts with its slab pool.
            // SAFETY: so all three are what their types say, and live.
            let (data, previous, pool) = unsafe {
                (
                    &mut *((*zone).data as *mut Z::Data),
                    (previous as *const Z::Data).as_ref(),
                    SlabPool::from_shm_zone(&*zone),
                )
            };
            let Some(pool) = pool else {
                return NGX_ERROR as ngx_int_t;
            };
            let memory = ZoneMemory {
                pool,
                // SAFETY: nginx passes a non-null zone.
                zone: unsafe { NonNull::new_unchecked(zone) },
            };
            match Z::init(data, previous, &memory, log) {
                Ok(()) => NGX_OK as ngx_int_t,
                Err(error) => {
                    if let (Some(log), Some(message)) = (log, error.message()) {
                        log.error(nginx_sys::NGX_LOG_EMERG as usize, format_args!("{message}"));
                    }
                    NGX_ERROR as ngx_int_t
                }
            }
        },
    )
}

//! Shared memory zones: state all worker processes see, kept across
//! `nginx -s reload` when a zone keeps its name and size.

use core::ffi::c_void;

use nginx_sys::{
    ngx_int_t, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock, ngx_slab_pool_t, ngx_str_t,
    NGX_ERROR, NGX_OK,
};

use super::directive::ConfArgs;
use super::guard::contain;
use super::log::Log;
use super::module::StreamModule;

/// What a zone's owner does when nginx maps the zone.
pub trait ZoneInit: 'static {
    /// The per-cycle description of the zone (in the configuration pool),
    /// stored as the zone's `data`.
    type Data: 'static;
    /// Called once per cycle in the master process. `previous` is the
    /// previous cycle's data when the zone is reused across a reload (same
    /// name and size); `pool` is the zone's slab pool.
    fn init(
        data: &mut Self::Data,
        previous: Option<&Self::Data>,
        pool: &mut ngx_slab_pool_t,
        log: Option<Log<'_>>,
    ) -> Result<(), String>;
}

/// Declares the zone `name` of `size` bytes owned by module `M`, with
/// `data` as its per-cycle data. If the zone was already declared in this
/// configuration, returns its data instead (and changes nothing). nginx
/// reports conflicting sizes and owners itself (then `Err("")`: nothing
/// more to log).
///
/// # Safety
/// `data` must live as long as the configuration cycle (allocate it in
/// the conf pool) and be a `Z::Data`; a zone already declared with `M`'s
/// tag must have `Z::Data` data.
pub unsafe fn add_zone<'c, M: StreamModule, Z: ZoneInit>(
    args: &ConfArgs,
    name: &[u8],
    size: usize,
    data: *mut Z::Data,
) -> Result<Option<&'c Z::Data>, String> {
    let mut name = ngx_str_t {
        len: name.len(),
        data: name.as_ptr() as *mut u8,
    };
    // nginx keeps `name`'s pointer: callers pass bytes of the directive's
    // arguments, which live in the conf pool as long as the cycle.
    // SAFETY: the conf is live for the directive handler.
    let zone = unsafe {
        nginx_sys::ngx_shared_memory_add(args.as_ptr(), &mut name, size, M::module() as *mut c_void)
    };
    if zone.is_null() {
        return Err(String::new());
    }
    // A zone returned by ngx_shared_memory_add is live for the cycle.
    // SAFETY: its data is null or, with our tag, a Z::Data.
    unsafe {
        if let Some(existing) = ((*zone).data as *const Z::Data).as_ref() {
            return Ok(Some(existing));
        }
        (*zone).init = Some(init_trampoline::<Z>);
        (*zone).data = data.cast();
    }
    Ok(None)
}

unsafe extern "C" fn init_trampoline<Z: ZoneInit>(
    zone: *mut ngx_shm_zone_t,
    previous: *mut c_void,
) -> ngx_int_t {
    // SAFETY: nginx passes the zone being initialised; its shm is mapped.
    let log = unsafe { Log::from_raw((*zone).shm.log) };
    contain(
        log,
        "shared zone init",
        || NGX_ERROR as ngx_int_t,
        || {
            // data was set by add_zone; `previous` is the last cycle's data for
            // this zone (same tag) or null; the zone starts with its slab pool.
            // SAFETY: so all three are what their types say, and live.
            let (data, previous, pool) = unsafe {
                (
                    &mut *((*zone).data as *mut Z::Data),
                    (previous as *const Z::Data).as_ref(),
                    &mut *((*zone).shm.addr as *mut ngx_slab_pool_t),
                )
            };
            match Z::init(data, previous, pool, log) {
                Ok(()) => NGX_OK as ngx_int_t,
                Err(message) => {
                    if let Some(log) = log {
                        log.error(nginx_sys::NGX_LOG_EMERG as usize, format_args!("{message}"));
                    }
                    NGX_ERROR as ngx_int_t
                }
            }
        },
    )
}

/// Holds a zone's slab pool mutex (shared by all processes) until dropped.
pub struct ZoneLock {
    pool: *mut ngx_slab_pool_t,
}

impl ZoneLock {
    /// # Safety
    /// `pool` must be a mapped zone's slab pool.
    pub unsafe fn acquire(pool: *mut ngx_slab_pool_t) -> ZoneLock {
        // SAFETY: the pool's mutex was created by nginx with the pool.
        unsafe { ngx_shmtx_lock(&mut (*pool).mutex) };
        ZoneLock { pool }
    }
}

impl Drop for ZoneLock {
    fn drop(&mut self) {
        // SAFETY: we hold this mutex (acquire), and unlock it exactly once.
        unsafe { ngx_shmtx_unlock(&mut (*self.pool).mutex) };
    }
}

//! Module identity, server configuration and per-session context.

use core::ffi::{c_char, c_void};
use core::{mem, ptr};

use nginx_sys::{
    ngx_conf_t, ngx_flag_t, ngx_module_t, ngx_msec_t, ngx_pool_cleanup_add, ngx_pool_t,
    ngx_stream_conf_ctx_t, ngx_stream_session_t, NGX_CONF_UNSET,
};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};

use super::guard::contain;
use super::log::conf_log_handle;

/// A stream module written in Rust.
///
/// # Safety
/// [`StreamModule::module`] must return the module's own `ngx_module_t`, the
/// one listed in `ngx_modules` (its `ctx_index` indexes the per-server and
/// per-session arrays nginx keeps for every stream module).
pub unsafe trait StreamModule: 'static {
    /// The module's `ngx_module_t`.
    fn module() -> *const ngx_module_t;

    /// The module's identity as a shared memory zone tag.
    fn module_tag() -> *mut c_void {
        Self::module() as *mut c_void
    }

    /// The module's index into stream context arrays, assigned by nginx.
    fn ctx_index() -> usize {
        // nginx writes ctx_index once, before any conf handler runs.
        // SAFETY: the trait contract makes module() our registered ngx_module_t.
        unsafe { (*Self::module()).ctx_index }
    }
}

/// How a server configuration inherits from the enclosing `stream {}` block.
pub trait MergeSrvConf {
    /// Fills unset fields from `prev` (the `stream` level) or defaults.
    /// An `Err` is logged at `emerg` and fails the configuration; it runs
    /// at the end of the `stream` block, so the message should name the
    /// place of the directive at fault (`... in /etc/nginx/nginx.conf:12`).
    fn merge(&mut self, prev: &Self) -> Result<(), String>;
}

/// A module with a per-server configuration (`create_srv_conf`/`merge_srv_conf`).
pub trait SrvConfModule: StreamModule {
    /// The server configuration. Created with `Default` at every level
    /// (`stream` and each `server`) and merged downwards.
    type SrvConf: Default + MergeSrvConf + 'static;

    /// This module's server configuration for the block being parsed.
    ///
    /// # Safety
    /// `cf` must be a live conf inside a `stream` block (main or server level),
    /// and no other reference to that configuration may be alive.
    unsafe fn srv_conf_mut<'a>(cf: *mut ngx_conf_t) -> Option<&'a mut Self::SrvConf> {
        // SAFETY: in stream blocks cf->ctx has a srv_conf entry per stream module.
        unsafe {
            let ctx = (*cf).ctx as *mut ngx_stream_conf_ctx_t;
            if ctx.is_null() || (*ctx).srv_conf.is_null() {
                return None;
            }
            let conf = *(*ctx).srv_conf.add(Self::ctx_index()) as *mut Self::SrvConf;
            conf.as_mut()
        }
    }
}

/// A module with per-session state, kept in `s->ctx[ctx_index]`.
pub trait SessionCtxModule: StreamModule {
    /// The state. It lives in the connection's pool; a type that needs `Drop`
    /// gets a pool cleanup, one that does not costs a single pool allocation.
    type Ctx: 'static;
}

/// Allocates `value` in `pool`, registering a cleanup only if `T` needs
/// dropping. Returns null if the pool is out of memory (`value` is dropped).
///
/// # Safety
/// `pool` must be a live nginx pool; the result lives until it is destroyed.
pub unsafe fn pool_allocate<T>(pool: *mut ngx_pool_t, value: T) -> *mut T {
    unsafe extern "C" fn drop_value<T>(data: *mut c_void) {
        // SAFETY: registered below for exactly this initialised T.
        unsafe { ptr::drop_in_place(data as *mut T) };
    }

    // ngx_palloc aligns to NGX_ALIGNMENT (a pointer's alignment): T must
    // need no more, checked when this is instantiated.
    const { assert!(mem::align_of::<T>() <= nginx_sys::NGX_ALIGNMENT) };
    // SAFETY: `pool` is a live pool (the caller's contract).
    let slot = unsafe { nginx_sys::ngx_palloc(pool, mem::size_of::<T>()) } as *mut T;
    if slot.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `slot` is fresh, sized and aligned for T.
    unsafe { ptr::write(slot, value) };
    if mem::needs_drop::<T>() {
        // SAFETY: `pool` is live; a size of 0 asks for no extra data.
        let cleanup = unsafe { ngx_pool_cleanup_add(pool, 0) };
        if cleanup.is_null() {
            // SAFETY: we own the just-written value and nobody saw it.
            unsafe { ptr::drop_in_place(slot) };
            return ptr::null_mut();
        }
        // SAFETY: `cleanup` is a live cleanup entry of `pool`.
        unsafe {
            (*cleanup).handler = Some(drop_value::<T>);
            (*cleanup).data = slot as *mut c_void;
        }
    }
    slot
}

/// `create_srv_conf` for [`SrvConfModule`]s.
///
/// # Safety
/// Called by nginx with a live conf.
pub unsafe extern "C" fn create_srv_conf<M: SrvConfModule>(cf: *mut ngx_conf_t) -> *mut c_void {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(log, "create_srv_conf", ptr::null_mut, || {
        // SAFETY: cf->pool lives as long as the configuration cycle.
        unsafe { pool_allocate((*cf).pool, M::SrvConf::default()) as *mut c_void }
    })
}

/// `merge_srv_conf` for [`SrvConfModule`]s.
///
/// # Safety
/// Called by nginx with the two confs this module created.
pub unsafe extern "C" fn merge_srv_conf<M: SrvConfModule>(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        log,
        "merge_srv_conf",
        || NGX_CONF_ERROR,
        || {
            // Both were returned by create_srv_conf::<M>.
            // SAFETY: nothing else references them during the merge.
            let (prev, conf) = unsafe {
                (
                    &*(prev as *const M::SrvConf),
                    &mut *(conf as *mut M::SrvConf),
                )
            };
            match conf.merge(prev) {
                Ok(()) => NGX_CONF_OK,
                Err(message) => {
                    // Merging happens at the end of the stream block, so
                    // the message names the directive's own place itself.
                    super::log::log_error(
                        nginx_sys::NGX_LOG_EMERG as usize,
                        log,
                        format_args!("{message}"),
                    );
                    NGX_CONF_ERROR
                }
            }
        },
    )
}

/// nginx's `NGX_CONF_UNSET` for `ngx_flag_t` fields.
pub const FLAG_UNSET: ngx_flag_t = NGX_CONF_UNSET as ngx_flag_t;
/// nginx's `NGX_CONF_UNSET_MSEC`.
pub const MSEC_UNSET: ngx_msec_t = ngx_msec_t::MAX;

/// `ngx_conf_merge_value` for flags set by `ngx_conf_set_flag_slot`.
pub fn conf_flag(value: &mut ngx_flag_t, prev: ngx_flag_t, default: bool) {
    if *value == FLAG_UNSET {
        *value = if prev == FLAG_UNSET {
            default as ngx_flag_t
        } else {
            prev
        };
    }
}

/// `ngx_conf_merge_msec_value` for times set by `ngx_conf_set_msec_slot`.
pub fn conf_msec(value: &mut ngx_msec_t, prev: ngx_msec_t, default: ngx_msec_t) {
    if *value == MSEC_UNSET {
        *value = if prev == MSEC_UNSET { default } else { prev };
    }
}

/// The main configuration of nginx's `ngx_stream_core_module`.
///
/// # Safety
/// `cf` must be a live conf inside a `stream` block.
pub(crate) unsafe fn core_main_conf<'a>(
    cf: *mut ngx_conf_t,
) -> Option<&'a mut nginx_sys::ngx_stream_core_main_conf_t> {
    // The core module's ctx_index is set once the stream block is parsed.
    // SAFETY: in stream blocks cf->ctx is an ngx_stream_conf_ctx_t.
    unsafe {
        let ctx = (*cf).ctx as *mut ngx_stream_conf_ctx_t;
        if ctx.is_null() {
            return None;
        }
        let index = nginx_sys::ngx_stream_core_module.ctx_index;
        let conf = *(*ctx).main_conf.add(index) as *mut nginx_sys::ngx_stream_core_main_conf_t;
        conf.as_mut()
    }
}

/// A session's slot for module `M`'s context.
///
/// # Safety
/// `s` must be a live session.
pub(crate) unsafe fn ctx_slot<M: StreamModule>(s: *mut ngx_stream_session_t) -> *mut *mut c_void {
    // SAFETY: s->ctx has one slot per stream module, indexed by ctx_index.
    unsafe { (*s).ctx.add(M::ctx_index()) }
}

/// A module with a configuration for the whole `stream {}` block.
pub trait MainConfModule: StreamModule {
    /// Created with `Default` when nginx enters the `stream` block.
    type MainConf: Default + 'static;

    /// This module's main configuration while parsing.
    ///
    /// # Safety
    /// `cf` must be a live conf inside a `stream` block, and no other
    /// reference to that configuration may be alive.
    unsafe fn main_conf_mut<'a>(cf: *mut ngx_conf_t) -> Option<&'a mut Self::MainConf> {
        // SAFETY: in stream blocks cf->ctx has a main_conf entry per stream module.
        unsafe {
            let ctx = (*cf).ctx as *mut ngx_stream_conf_ctx_t;
            if ctx.is_null() || (*ctx).main_conf.is_null() {
                return None;
            }
            let conf = *(*ctx).main_conf.add(Self::ctx_index()) as *mut Self::MainConf;
            conf.as_mut()
        }
    }
}

/// `create_main_conf` for [`MainConfModule`]s.
///
/// # Safety
/// Called by nginx with a live conf.
pub unsafe extern "C" fn create_main_conf<M: MainConfModule>(cf: *mut ngx_conf_t) -> *mut c_void {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(log, "create_main_conf", ptr::null_mut, || {
        // SAFETY: cf->pool lives as long as the configuration cycle.
        unsafe { pool_allocate((*cf).pool, M::MainConf::default()) as *mut c_void }
    })
}

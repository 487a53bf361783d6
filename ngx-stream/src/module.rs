//! Module identity, configuration and per-session state.
//!
//! A module is a type implementing [`StreamModule`] (safe: what it holds
//! and does) plus [`Registered`] (unsafe: which `ngx_module_t` is its own),
//! which the [`stream_module!`](crate::stream_module) macro implements
//! together with the exported `ngx_module_t` itself.

use core::ffi::{c_char, c_void};
use core::mem;
use core::ptr::{self, NonNull};

use nginx_sys::{
    ngx_conf_t, ngx_flag_t, ngx_int_t, ngx_module_t, ngx_msec_t, ngx_pool_cleanup_add, ngx_pool_t,
    ngx_stream_conf_ctx_t, ngx_stream_module_t, NGX_CONF_UNSET, NGX_ERROR, NGX_OK,
};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};

use crate::call::CallOutcome;
use crate::conf::Conf;
use crate::datagram::DatagramAction;
use crate::error::{Error, Result};
use crate::guard::{contain, install_panic_hook};
use crate::log::{conf_log_handle, log_error, Log};
use crate::session::Session;

/// A stream module written in Rust: its name, its configuration and
/// session types, and its configuration hooks.
pub trait StreamModule: Sized + 'static {
    /// Names the module in the lines the layer logs on its behalf, e.g.
    /// `mymodule: panic in ...`.
    const NAME: &'static str;
    /// The `stream {}` level configuration (`()` if none).
    type MainConf: Default + 'static;
    /// The per-server configuration, created at every level (`stream` and
    /// each `server`) and merged downwards (`()` if none).
    type SrvConf: Default + MergeSrvConf + 'static;
    /// Per-session state, created on demand in the connection's pool
    /// ([`Session::ctx_or_insert_with`]); reached only through shared
    /// references, so what changes during a session sits in `Cell`s.
    type Ctx: 'static;

    /// Runs before the `stream` block is parsed: add variables here.
    fn preconfiguration(_cf: &Conf<'_>) -> Result<()> {
        Ok(())
    }

    /// Runs after the `stream` block is parsed and every server merged:
    /// register phase handlers here.
    fn postconfiguration(_cf: &Conf<'_>) -> Result<()> {
        Ok(())
    }

    /// Runs in the master process once a configuration is in place
    /// (nginx's `init_module`: at start, at each reload, and for `nginx
    /// -t`; not in `nginx -s` signal processes), with the new cycle's log.
    fn init_module(_log: Option<Log<'_>>) -> Result<()> {
        Ok(())
    }

    /// Runs when a session's timer ([`Session::arm_timer`]) expires.
    fn on_timer(_session: &Session<'_>) -> TimerAction {
        TimerAction::Wait
    }

    /// Runs when a call made with [`Session::call`] ends; what it returns
    /// says how the session goes on (by default its phases run again from
    /// the phase that made the call).
    fn on_call_done(_session: &Session<'_>, _outcome: CallOutcome<'_>) -> TimerAction {
        TimerAction::ResumePhases
    }

    /// Runs for each later datagram of a session held with
    /// [`Session::hold_datagrams`], once it is kept. `last`: the limits are
    /// reached, no more will be held (a `Wait` then resumes anyway).
    fn on_datagram(_session: &Session<'_>, _datagram: &[u8], _last: bool) -> DatagramAction {
        DatagramAction::Resume
    }
}

/// What to do with a session when its timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerAction {
    /// Nothing: the session goes on waiting for whatever it waits for.
    Wait,
    /// Run the session's phases again from the current one (e.g. so a
    /// preread handler waiting for bytes can decide without them). A
    /// pending `preread_timeout` is cancelled first, or the preread checker
    /// would keep waiting instead of calling its handlers; a session held
    /// for its datagrams is given back (see [`crate::datagram`]).
    ResumePhases,
    /// End the session with this status (`NGX_STREAM_OK`, ...).
    Finalize(u32),
}

/// Ties a [`StreamModule`] to its exported `ngx_module_t`.
///
/// # Safety
/// [`Registered::module`] must return the module's own `ngx_module_t`, the
/// one listed in `ngx_modules`, whose `ctx` is [`module_ctx::<Self>`]: its
/// `ctx_index` indexes the configuration and session arrays nginx keeps for
/// every stream module, and the layer reads them as `Self`'s types. Use
/// [`stream_module!`](crate::stream_module) rather than implementing this.
pub unsafe trait Registered: StreamModule {
    /// The module's `ngx_module_t`.
    fn module() -> *const ngx_module_t;

    /// The module's index into stream context arrays, assigned by nginx
    /// before any configuration handler runs.
    fn ctx_index() -> usize {
        // module() is our registered, static ngx_module_t; nginx
        // writes ctx_index once, before any of our handlers run.
        // SAFETY: for the reasons just above.
        unsafe { (*Self::module()).ctx_index }
    }
}

/// How a server configuration inherits from the enclosing `stream {}` block.
pub trait MergeSrvConf {
    /// Fills unset fields from `prev` (the `stream` level) or defaults.
    /// An [`Error::Invalid`] is logged at `emerg` and fails the
    /// configuration; merging runs at the end of the `stream` block, so the
    /// message should name the place of the directive at fault.
    fn merge(&mut self, prev: &Self) -> Result<()>;
}

impl MergeSrvConf for () {
    fn merge(&mut self, _prev: &()) -> Result<()> {
        Ok(())
    }
}

/// The `ngx_stream_module_t` for `M`: its configuration callbacks.
pub const fn module_ctx<M: Registered>() -> ngx_stream_module_t {
    ngx_stream_module_t {
        preconfiguration: Some(preconfiguration::<M>),
        postconfiguration: Some(postconfiguration::<M>),
        create_main_conf: Some(create_main_conf::<M>),
        init_main_conf: None,
        create_srv_conf: Some(create_srv_conf::<M>),
        merge_srv_conf: Some(merge_srv_conf::<M>),
    }
}

/// Runs a configuration hook, logging its error against the configuration.
fn conf_hook<M: StreamModule>(
    cf: *mut ngx_conf_t,
    site: &str,
    hook: impl FnOnce(&Conf<'_>) -> Result<()>,
) -> ngx_int_t {
    // SAFETY: nginx passes a live conf to configuration hooks.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        M::NAME,
        log,
        site,
        || NGX_ERROR as ngx_int_t,
        || {
            // SAFETY: as above; the wrapper lives for this call only.
            let Some(conf) = (unsafe { Conf::from_raw(cf) }) else {
                return NGX_ERROR as ngx_int_t;
            };
            match hook(&conf) {
                Ok(()) => NGX_OK as ngx_int_t,
                Err(error) => {
                    conf.emerg(&error);
                    NGX_ERROR as ngx_int_t
                }
            }
        },
    )
}

unsafe extern "C" fn preconfiguration<M: Registered>(cf: *mut ngx_conf_t) -> ngx_int_t {
    conf_hook::<M>(cf, "preconfiguration", M::preconfiguration)
}

unsafe extern "C" fn postconfiguration<M: Registered>(cf: *mut ngx_conf_t) -> ngx_int_t {
    install_panic_hook();
    conf_hook::<M>(cf, "postconfiguration", M::postconfiguration)
}

/// Allocates `value` in `pool`, registering a cleanup only if `T` needs
/// dropping (then the drop is contained: a panic in it is logged, not
/// unwound into nginx). [`Error::NoMemory`] if the pool is out of memory
/// (`value` is dropped).
///
/// ngx's own `Pool::allocate` would do, but writes through the pointer
/// `ngx_palloc` returns without checking it for null (ngx 0.5.1).
///
/// # Safety
/// `pool` must be a live nginx pool; the result lives until it is destroyed.
pub(crate) unsafe fn pool_allocate<M: StreamModule, T>(
    pool: *mut ngx_pool_t,
    value: T,
) -> Result<NonNull<T>> {
    // SAFETY: `pool` is a live pool (the caller's contract).
    let slot = unsafe { pool_place(pool, value) }?;
    if mem::needs_drop::<T>() {
        // SAFETY: `slot` holds an initialised T that nothing else has seen.
        if let Err(error) = unsafe { add_drop_cleanup::<M, T>(pool, slot) } {
            // SAFETY: we own the value and nobody saw it.
            unsafe { ptr::drop_in_place(slot.as_ptr()) };
            return Err(error);
        }
    }
    Ok(slot)
}

/// Moves `value` into `pool`, which will never drop it.
///
/// # Safety
/// `pool` must be a live nginx pool; the result lives until it is destroyed.
pub(crate) unsafe fn pool_place<T>(pool: *mut ngx_pool_t, value: T) -> Result<NonNull<T>> {
    // ngx_palloc aligns to NGX_ALIGNMENT (a pointer's alignment): T must
    // need no more, checked when this is instantiated.
    const { assert!(mem::align_of::<T>() <= nginx_sys::NGX_ALIGNMENT) };
    // SAFETY: `pool` is a live pool (the caller's contract).
    let slot = unsafe { nginx_sys::ngx_palloc(pool, mem::size_of::<T>()) } as *mut T;
    let slot = NonNull::new(slot).ok_or(Error::NoMemory)?;
    // SAFETY: `slot` is fresh, sized and aligned for T.
    unsafe { ptr::write(slot.as_ptr(), value) };
    Ok(slot)
}

/// Makes `pool` drop the `T` at `value` when it is destroyed.
///
/// # Safety
/// `pool` must be live and `value` an initialised `T` in it, dropped by
/// nothing else.
pub(crate) unsafe fn add_drop_cleanup<M: StreamModule, T>(
    pool: *mut ngx_pool_t,
    value: NonNull<T>,
) -> Result<()> {
    unsafe extern "C" fn drop_value<M: StreamModule, T>(data: *mut c_void) {
        contain(
            M::NAME,
            Log::cycle(),
            "pool cleanup",
            || (),
            || {
                // registered below for exactly this initialised T,
                // and pool cleanups run once.
                // SAFETY: for the reasons just above.
                unsafe { ptr::drop_in_place(data as *mut T) }
            },
        )
    }
    // SAFETY: `pool` is live; a size of 0 asks for no extra data.
    let cleanup = unsafe { ngx_pool_cleanup_add(pool, 0) };
    if cleanup.is_null() {
        return Err(Error::NoMemory);
    }
    // SAFETY: `cleanup` is a live cleanup entry of `pool`.
    unsafe {
        (*cleanup).handler = Some(drop_value::<M, T>);
        (*cleanup).data = value.as_ptr().cast();
    }
    Ok(())
}

/// nginx's `init_module` for `M`.
///
/// # Safety
/// nginx calls it with the live cycle being started.
pub unsafe extern "C" fn init_module<M: StreamModule>(
    cycle: *mut nginx_sys::ngx_cycle_t,
) -> ngx_int_t {
    // SAFETY: the cycle and its log are live for the call.
    let log = unsafe { cycle.as_ref().and_then(|cycle| Log::from_raw(cycle.log)) };
    contain(
        M::NAME,
        log,
        "init_module",
        || NGX_ERROR as ngx_int_t,
        || match M::init_module(log) {
            Ok(()) => NGX_OK as ngx_int_t,
            Err(error) => {
                if let Some(message) = error.message() {
                    log_error(
                        nginx_sys::NGX_LOG_EMERG as usize,
                        log,
                        format_args!("{message}"),
                    );
                }
                NGX_ERROR as ngx_int_t
            }
        },
    )
}

unsafe extern "C" fn create_srv_conf<M: Registered>(cf: *mut ngx_conf_t) -> *mut c_void {
    create_conf::<M, M::SrvConf>(cf, "create_srv_conf")
}

unsafe extern "C" fn create_main_conf<M: Registered>(cf: *mut ngx_conf_t) -> *mut c_void {
    create_conf::<M, M::MainConf>(cf, "create_main_conf")
}

fn create_conf<M: StreamModule, T: Default>(cf: *mut ngx_conf_t, site: &str) -> *mut c_void {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(M::NAME, log, site, ptr::null_mut, || {
        // SAFETY: cf->pool lives as long as the configuration cycle.
        unsafe { pool_allocate::<M, T>((*cf).pool, T::default()) }
            .map_or(ptr::null_mut(), |conf| conf.as_ptr().cast())
    })
}

unsafe extern "C" fn merge_srv_conf<M: Registered>(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        M::NAME,
        log,
        "merge_srv_conf",
        || NGX_CONF_ERROR,
        || {
            // Both were made by create_srv_conf::<M>, and nothing else
            // references them during the merge.
            // SAFETY: so they are distinct, live M::SrvConf values.
            let (prev, conf) = unsafe {
                (
                    &*(prev as *const M::SrvConf),
                    &mut *(conf as *mut M::SrvConf),
                )
            };
            match conf.merge(prev) {
                Ok(()) => NGX_CONF_OK,
                Err(error) => {
                    // Merging happens at the end of the stream block, so
                    // the message names the directive's own place itself.
                    if let Some(message) = error.message() {
                        log_error(
                            nginx_sys::NGX_LOG_EMERG as usize,
                            log,
                            format_args!("{message}"),
                        );
                    }
                    NGX_CONF_ERROR
                }
            }
        },
    )
}

/// nginx's `NGX_CONF_UNSET` for `ngx_flag_t` fields set by
/// `ngx_conf_set_flag_slot` ([`crate::command::flag`]).
pub const FLAG_UNSET: ngx_flag_t = NGX_CONF_UNSET as ngx_flag_t;
/// nginx's `NGX_CONF_UNSET_MSEC`, for [`crate::command::msec`] fields.
pub const MSEC_UNSET: ngx_msec_t = ngx_msec_t::MAX;

/// `ngx_conf_merge_value` for flags.
pub fn merge_flag(value: &mut ngx_flag_t, prev: ngx_flag_t, default: bool) {
    if *value == FLAG_UNSET {
        *value = if prev == FLAG_UNSET {
            default as ngx_flag_t
        } else {
            prev
        };
    }
}

/// `ngx_conf_merge_msec_value` for times.
pub fn merge_msec(value: &mut ngx_msec_t, prev: ngx_msec_t, default: ngx_msec_t) {
    if *value == MSEC_UNSET {
        *value = if prev == MSEC_UNSET { default } else { prev };
    }
}

/// A configuration array entry of `M` in a stream conf context.
///
/// # Safety
/// `array` must be a stream conf context's `main_conf` or `srv_conf` array
/// in which `M`'s entry, if non-null, is a `T` made by this layer.
pub(crate) unsafe fn conf_entry<'a, M: Registered, T>(array: *mut *mut c_void) -> Option<&'a T> {
    if array.is_null() {
        return None;
    }
    // SAFETY: the array has an entry per stream module (the caller's contract).
    unsafe { (*array.add(M::ctx_index()) as *const T).as_ref() }
}

/// The conf context of a configuration being parsed inside `stream {}`.
///
/// # Safety
/// `cf` must be a live conf inside a `stream` block.
pub(crate) unsafe fn stream_conf_ctx(
    cf: *mut ngx_conf_t,
) -> Option<NonNull<ngx_stream_conf_ctx_t>> {
    // SAFETY: inside a stream block cf->ctx is an ngx_stream_conf_ctx_t.
    NonNull::new(unsafe { (*cf).ctx } as *mut ngx_stream_conf_ctx_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_merge_like_nginx() {
        let mut value = FLAG_UNSET;
        merge_flag(&mut value, FLAG_UNSET, true);
        assert_eq!(value, 1);
        let mut value = FLAG_UNSET;
        merge_flag(&mut value, 0, true);
        assert_eq!(value, 0);
        let mut value = 1;
        merge_flag(&mut value, 0, false);
        assert_eq!(value, 1);
    }

    #[test]
    fn times_merge_like_nginx() {
        let mut value = MSEC_UNSET;
        merge_msec(&mut value, MSEC_UNSET, 5000);
        assert_eq!(value, 5000);
        let mut value = MSEC_UNSET;
        merge_msec(&mut value, 200, 5000);
        assert_eq!(value, 200);
        let mut value = 0;
        merge_msec(&mut value, 200, 5000);
        assert_eq!(value, 0);
    }
}

//! `ngx_stream_sift_module`: the nginx module.

mod conf;
mod preread;
#[cfg(feature = "test-hooks")]
mod test_hooks;
mod tls;
mod variables;

use core::ffi::c_void;
use core::mem::offset_of;
use core::ptr;

use nginx_sys::{
    ngx_command_t, ngx_conf_set_flag_slot, ngx_conf_set_msec_slot, ngx_conf_t, ngx_int_t,
    ngx_module_t, ngx_stream_module_t, ngx_uint_t, NGX_CONF_FLAG, NGX_CONF_TAKE1, NGX_ERROR,
    NGX_LOG_EMERG, NGX_OK, NGX_STREAM_MAIN_CONF, NGX_STREAM_MODULE, NGX_STREAM_SRV_CONF,
    NGX_STREAM_SRV_CONF_OFFSET,
};
use sift_core::protocol::Classification;

use crate::stream::guard::{contain, install_panic_hook};
use crate::stream::log::{conf_log, conf_log_handle};
use crate::stream::module::{create_srv_conf, merge_srv_conf};
use crate::stream::session::SessionBytes;
use crate::stream::timer::SessionTimer;
use crate::stream::{phase, variable, SessionCtxModule, SrvConfModule, StreamModule};

pub use conf::SiftSrvConf;

/// Type-level handle on the module for the stream layer's generics.
pub struct Sift;

// SAFETY: module() returns the ngx_module_t exported to nginx below.
unsafe impl StreamModule for Sift {
    fn module() -> *const ngx_module_t {
        &raw const ngx_stream_sift_module
    }
}

impl SrvConfModule for Sift {
    type SrvConf = SiftSrvConf;
}

impl SessionCtxModule for Sift {
    type Ctx = SiftCtx;
}

/// Per-session inspection state, in the connection's pool. Holds no heap
/// memory; its one pool cleanup deletes the `sift_timeout` timer.
#[derive(Default)]
pub struct SiftCtx {
    /// None until decided (by the bytes, or by `sift_timeout`).
    pub classification: Option<Classification>,
    /// Set when the protocol is TLS.
    pub tls: Option<tls::TlsInspection>,
    /// The client's bytes when the decision was made, for the detail
    /// variables (`$sift_http_host`, `$sift_ssh_banner`, ...).
    pub first_bytes: SessionBytes,
    /// The bytes seen by the last undecided call, for `sift_timeout`.
    pub pending: SessionBytes,
    /// `$sift_http_host`, lowercased once on first use.
    pub http_host: core::cell::Cell<Option<SessionBytes>>,
    /// Fires `sift_timeout` after the session's first preread call.
    pub timer: SessionTimer<preread::SilenceTimer>,
    pub timer_started: bool,
}

const SRV_DIRECTIVE: ngx_uint_t = (NGX_STREAM_MAIN_CONF | NGX_STREAM_SRV_CONF) as ngx_uint_t;

/// A directive name: nginx matches names with `strcmp`, so the bytes must be
/// NUL-terminated even though `len` excludes the NUL.
const fn name(text: &'static core::ffi::CStr) -> nginx_sys::ngx_str_t {
    nginx_sys::ngx_str_t {
        len: text.count_bytes(),
        data: text.as_ptr() as *mut u8,
    }
}

#[cfg(not(feature = "test-hooks"))]
const COMMAND_COUNT: usize = 3;
#[cfg(feature = "test-hooks")]
const COMMAND_COUNT: usize = 4;

static mut COMMANDS: [ngx_command_t; COMMAND_COUNT] = [
    // sift on | off;  (stream, server; default off)
    ngx_command_t {
        name: name(c"sift"),
        type_: SRV_DIRECTIVE | NGX_CONF_FLAG as ngx_uint_t,
        set: Some(ngx_conf_set_flag_slot),
        conf: NGX_STREAM_SRV_CONF_OFFSET,
        offset: offset_of!(SiftSrvConf, enabled),
        post: ptr::null_mut(),
    },
    // sift_timeout <time>;  (stream, server; default 5s)
    ngx_command_t {
        name: name(c"sift_timeout"),
        type_: SRV_DIRECTIVE | NGX_CONF_TAKE1 as ngx_uint_t,
        set: Some(ngx_conf_set_msec_slot),
        conf: NGX_STREAM_SRV_CONF_OFFSET,
        offset: offset_of!(SiftSrvConf, timeout),
        post: ptr::null_mut(),
    },
    #[cfg(feature = "test-hooks")]
    ngx_command_t {
        name: name(c"sift_test_panic"),
        type_: SRV_DIRECTIVE | NGX_CONF_FLAG as ngx_uint_t,
        set: Some(ngx_conf_set_flag_slot),
        conf: NGX_STREAM_SRV_CONF_OFFSET,
        offset: offset_of!(SiftSrvConf, test_panic),
        post: ptr::null_mut(),
    },
    ngx_command_t::empty(),
];

static SIFT_MODULE_CTX: ngx_stream_module_t = ngx_stream_module_t {
    preconfiguration: Some(preconfiguration),
    postconfiguration: Some(postconfiguration),
    create_main_conf: None,
    init_main_conf: None,
    create_srv_conf: Some(create_srv_conf::<Sift>),
    merge_srv_conf: Some(merge_srv_conf::<Sift>),
};

/// The module nginx loads (`load_module modules/ngx_stream_sift_module.so;`).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut ngx_stream_sift_module: ngx_module_t = ngx_module_t {
    ctx: &raw const SIFT_MODULE_CTX as *mut c_void,
    commands: &raw mut COMMANDS as *mut ngx_command_t,
    type_: NGX_STREAM_MODULE as ngx_uint_t,
    ..ngx_module_t::default()
};

/// Adds sift's variables before the configuration that uses them is parsed.
unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        log,
        "preconfiguration",
        || NGX_ERROR as ngx_int_t,
        || {
            // SAFETY: this is a stream module's preconfiguration.
            let registered = unsafe { variable::register::<variables::SiftVariables>(cf) };
            #[cfg(feature = "test-hooks")]
            // SAFETY: as above.
            let registered = registered
                .and_then(|()| unsafe { variable::register::<test_hooks::TestHookVariables>(cf) });
            conf_result(cf, registered)
        },
    )
}

/// Installs sift's phase handlers once the whole `stream` block is parsed.
unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        log,
        "postconfiguration",
        || NGX_ERROR as ngx_int_t,
        || {
            install_panic_hook();
            // SAFETY: this is a stream module's postconfiguration.
            let registered = unsafe { phase::register::<preread::Preread>(cf) };
            conf_result(cf, registered)
        },
    )
}

fn conf_result(cf: *mut ngx_conf_t, result: Result<(), &'static str>) -> ngx_int_t {
    match result {
        Ok(()) => NGX_OK as ngx_int_t,
        Err(why) => {
            // SAFETY: called from a conf handler with its live conf.
            unsafe { conf_log(NGX_LOG_EMERG as usize, cf, format_args!("sift: {why}")) };
            NGX_ERROR as ngx_int_t
        }
    }
}

//! `ngx_stream_sift_module`: the nginx module.

mod access;
mod conf;
mod enforce;
mod preread;
mod ratelimit;
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

use crate::stream::directive::set_trampoline;
use crate::stream::guard::{contain, install_panic_hook};
use crate::stream::log::{conf_log, conf_log_handle};
use crate::stream::module::{create_main_conf, create_srv_conf, merge_srv_conf, MainConfModule};
use crate::stream::session::SessionBytes;
use crate::stream::timer::SessionTimer;
use crate::stream::{phase, variable, SessionCtxModule, SrvConfModule, StreamModule};

pub use conf::{SiftMainConf, SiftSrvConf};

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

impl MainConfModule for Sift {
    type MainConf = SiftMainConf;
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
    /// What `sift_allow` / `sift_deny` decided.
    pub access: Option<access::AccessOutcome>,
    /// What `sift_rate` decided.
    pub rate: Option<enforce::RateStatus>,
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

type SetFn = Option<
    unsafe extern "C" fn(
        *mut ngx_conf_t,
        *mut ngx_command_t,
        *mut c_void,
    ) -> *mut core::ffi::c_char,
>;

const MAIN_DIRECTIVE: ngx_uint_t = NGX_STREAM_MAIN_CONF as ngx_uint_t;

const fn command(
    name_text: &'static core::ffi::CStr,
    type_: ngx_uint_t,
    set: SetFn,
    conf: ngx_uint_t,
    offset: usize,
    post: *mut c_void,
) -> ngx_command_t {
    ngx_command_t {
        name: name(name_text),
        type_,
        set,
        conf,
        offset,
        post,
    }
}

/// `sift_rate_log_level` values, as nginx's `limit_req_log_level`.
static mut RATE_LOG_LEVELS: [nginx_sys::ngx_conf_enum_t; 5] = [
    nginx_sys::ngx_conf_enum_t {
        name: name(c"info"),
        value: nginx_sys::NGX_LOG_INFO as ngx_uint_t,
    },
    nginx_sys::ngx_conf_enum_t {
        name: name(c"notice"),
        value: nginx_sys::NGX_LOG_NOTICE as ngx_uint_t,
    },
    nginx_sys::ngx_conf_enum_t {
        name: name(c"warn"),
        value: nginx_sys::NGX_LOG_WARN as ngx_uint_t,
    },
    nginx_sys::ngx_conf_enum_t {
        name: name(c"error"),
        value: nginx_sys::NGX_LOG_ERR as ngx_uint_t,
    },
    nginx_sys::ngx_conf_enum_t {
        name: nginx_sys::ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        },
        value: 0,
    },
];

const SRV: ngx_uint_t = NGX_STREAM_SRV_CONF_OFFSET as ngx_uint_t;
const MAIN: ngx_uint_t = nginx_sys::NGX_STREAM_MAIN_CONF_OFFSET as ngx_uint_t;
const FLAG: ngx_uint_t = NGX_CONF_FLAG as ngx_uint_t;
const TAKE1: ngx_uint_t = NGX_CONF_TAKE1 as ngx_uint_t;

#[cfg(not(feature = "test-hooks"))]
const COMMAND_COUNT: usize = 10;
#[cfg(feature = "test-hooks")]
const COMMAND_COUNT: usize = 11;

static mut COMMANDS: [ngx_command_t; COMMAND_COUNT] = [
    // sift on | off;  (stream, server; default off)
    command(
        c"sift",
        SRV_DIRECTIVE | FLAG,
        Some(ngx_conf_set_flag_slot),
        SRV,
        offset_of!(SiftSrvConf, enabled),
        ptr::null_mut(),
    ),
    // sift_timeout <time>;  (stream, server; default 5s)
    command(
        c"sift_timeout",
        SRV_DIRECTIVE | TAKE1,
        Some(ngx_conf_set_msec_slot),
        SRV,
        offset_of!(SiftSrvConf, timeout),
        ptr::null_mut(),
    ),
    // sift_allow / sift_deny address | CIDR | unix: | all | $variable;
    command(
        c"sift_allow",
        SRV_DIRECTIVE | TAKE1,
        Some(set_trampoline::<access::SiftAllow>),
        SRV,
        0,
        ptr::null_mut(),
    ),
    command(
        c"sift_deny",
        SRV_DIRECTIVE | TAKE1,
        Some(set_trampoline::<access::SiftDeny>),
        SRV,
        0,
        ptr::null_mut(),
    ),
    command(
        c"sift_access_dry_run",
        SRV_DIRECTIVE | FLAG,
        Some(ngx_conf_set_flag_slot),
        SRV,
        offset_of!(SiftSrvConf, access_dry_run),
        ptr::null_mut(),
    ),
    // sift_rate_zone $key zone=name:size rate=Nr/s;  (stream)
    command(
        c"sift_rate_zone",
        MAIN_DIRECTIVE | nginx_sys::NGX_CONF_TAKE3 as ngx_uint_t,
        Some(set_trampoline::<ratelimit::SiftRateZone>),
        MAIN,
        0,
        ptr::null_mut(),
    ),
    // sift_rate zone=name [burst=N];  (stream, server; may repeat)
    command(
        c"sift_rate",
        SRV_DIRECTIVE | nginx_sys::NGX_CONF_TAKE12 as ngx_uint_t,
        Some(set_trampoline::<ratelimit::SiftRate>),
        SRV,
        0,
        ptr::null_mut(),
    ),
    command(
        c"sift_rate_dry_run",
        SRV_DIRECTIVE | FLAG,
        Some(ngx_conf_set_flag_slot),
        SRV,
        offset_of!(SiftSrvConf, rate_dry_run),
        ptr::null_mut(),
    ),
    command(
        c"sift_rate_log_level",
        SRV_DIRECTIVE | TAKE1,
        Some(nginx_sys::ngx_conf_set_enum_slot),
        SRV,
        offset_of!(SiftSrvConf, rate_log_level),
        &raw mut RATE_LOG_LEVELS as *mut c_void,
    ),
    #[cfg(feature = "test-hooks")]
    command(
        c"sift_test_panic",
        SRV_DIRECTIVE | FLAG,
        Some(ngx_conf_set_flag_slot),
        SRV,
        offset_of!(SiftSrvConf, test_panic),
        ptr::null_mut(),
    ),
    ngx_command_t::empty(),
];

static SIFT_MODULE_CTX: ngx_stream_module_t = ngx_stream_module_t {
    preconfiguration: Some(preconfiguration),
    postconfiguration: Some(postconfiguration),
    create_main_conf: Some(create_main_conf::<Sift>),
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
            let registered = registered.and_then(|()| {
                // SAFETY: this is a stream module's preconfiguration.
                unsafe { variable::register::<test_hooks::TestHookVariables>(cf) }
            });
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
            let registered = unsafe { phase::register::<preread::Preread>(cf) }
                // Rules run before each server's content handler, so they see
                // what every preread handler found.
                // SAFETY: this is a stream module's postconfiguration.
                .and_then(|()| unsafe { phase::install_pre_content::<enforce::Enforce>(cf) });
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

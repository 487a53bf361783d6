//! A safe layer over nginx's stream module API, for modules built with the
//! [`ngx`] crate (which wraps the http module API only).
//!
//! A module is a type implementing [`StreamModule`]; [`stream_module!`]
//! exports its `ngx_module_t`. From there everything is safe Rust:
//!
//! - configuration: [`Conf`] (directive arguments, nginx-style errors,
//!   variables, complex values, sizes, times), the command table
//!   ([`command`]), server configuration merging ([`MergeSrvConf`]);
//! - handlers in the phase engine ([`PhaseHandler`]) and in front of a
//!   server's content handler ([`PreContentHandler`]);
//! - sessions ([`Session`]): preread bytes, client address, configuration,
//!   per-session state in the connection's pool, a per-session timer,
//!   variable lookups;
//! - variables computed in Rust ([`VariableSet`]);
//! - shared memory zones ([`ZoneKind`]) with locked access to their bytes;
//! - logging ([`stream_log!`]) and the clock ([`time`]);
//! - one error type ([`Error`]) for every fallible call.
//!
//! Every function nginx calls is an `extern "C"` trampoline of this crate
//! that contains panics ([`guard`]): a panic is logged at `alert`, the one
//! session or configuration step fails, the worker goes on. Modules must
//! be built with `panic = "unwind"`.
//!
//! See `examples/first_bytes.rs` for a complete module.

pub mod backoff;
pub mod call;
pub mod command;
mod conf;
mod counters;
pub mod datagram;
mod error;
pub mod guard;
pub mod http;
pub mod keepalive;
pub mod log;
pub mod module;
pub mod phase;
mod servers;
pub mod session;
pub mod shm;
pub mod task;
pub mod time;
pub mod variable;

pub use backoff::Backoff;
pub use call::{CallOptions, CallOutcome, CallSpec, Prelude, PreludeReply};
pub use conf::{ComplexValue, Conf, VariableIndex};
pub use counters::SharedCounters;
pub use datagram::{DatagramAction, DatagramLimits};
pub use error::{Error, Result};
pub use keepalive::Keepalive;
pub use module::{MergeSrvConf, Registered, StreamModule, TimerAction};
pub use phase::{Phase, PhaseHandler, PhaseOutcome, PreContentHandler, SavedContentHandler};
pub use servers::StreamServer;
pub use session::{Session, SessionBytes};
pub use shm::{Declared, SharedRegion, ZoneKind, ZoneMemory, ZoneRef, ZoneTag};
pub use task::{PeriodicTask, TaskCall, TaskPrelude};
pub use variable::{DataVariable, VariableSet, VariableSpec, VariableValue};

/// nginx's C API as bindgen made it (`nginx-sys`), for constants such as
/// `NGX_LOG_ERR` and `NGX_STREAM_FORBIDDEN`.
pub use nginx_sys as ffi;

/// Facts about the nginx this module is built against, read from nginx-sys
/// by the build script.
pub mod build {
    /// nginx's version, e.g. `1.26.3`.
    pub const NGINX_VERSION: &str = env!("NGX_STREAM_NGINX_VERSION");
    /// Whether this nginx may read the preread phase's bytes with
    /// `MSG_PEEK` (1.25.5 and later): see [`Session::preread`](crate::Session::preread).
    pub const PREREAD_PEEKS: bool = cfg!(ngx_stream_preread_peek);
}

/// Exports a stream module: `stream_module!(ngx_stream_mine_module, Mine, COMMANDS);`
/// defines the `ngx_module_t` named `ngx_stream_mine_module` (the name
/// nginx's `load_module` and `ngx_modules` use) for the [`StreamModule`]
/// `Mine`, whose directives are the [`command::CommandTable`] `COMMANDS`,
/// and implements [`Registered`] for `Mine`. To list it in the shared
/// object's module table, follow with `ngx::ngx_modules!(ngx_stream_mine_module);`.
#[macro_export]
macro_rules! stream_module {
    ($symbol:ident, $module:ty, $commands:expr) => {
        /// The module nginx loads.
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static mut $symbol: $crate::ffi::ngx_module_t = $crate::ffi::ngx_module_t {
            ctx: {
                static CTX: $crate::ffi::ngx_stream_module_t =
                    $crate::module::module_ctx::<$module>();
                &raw const CTX as *mut ::core::ffi::c_void
            },
            commands: $commands.as_ptr(),
            type_: $crate::ffi::NGX_STREAM_MODULE as $crate::ffi::ngx_uint_t,
            init_module: Some($crate::module::init_module::<$module>),
            init_process: Some($crate::task::init_process::<$module>),
            exit_process: Some($crate::task::exit_process::<$module>),
            ..$crate::ffi::ngx_module_t::default()
        };

        // SAFETY: `$symbol` is the module exported just above, whose ctx is
        // module_ctx::<$module>(), so the layer made its configurations.
        unsafe impl $crate::Registered for $module {
            fn module() -> *const $crate::ffi::ngx_module_t {
                &raw const $symbol
            }
        }
    };
}

/// The module table of a shared object with several modules:
/// `modules!(ngx_stream_mine_module, ngx_http_mine_module);` defines
/// `ngx_modules`, `ngx_module_names` and `ngx_module_order`, which nginx
/// looks up with `dlsym` when it loads the object. (`ngx::ngx_modules!`
/// 0.5.1 counts only one module right.)
#[macro_export]
macro_rules! modules {
    ($($module:ident),+ $(,)?) => {
        /// The modules of this shared object, for nginx's `load_module`.
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static mut ngx_modules: [*const $crate::ffi::ngx_module_t; [$(stringify!($module)),+].len() + 1] = [
            $( &raw const $module, )+
            ::core::ptr::null(),
        ];

        /// Their names, in the same order.
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static mut ngx_module_names: [*const ::core::ffi::c_char; [$(stringify!($module)),+].len() + 1] = [
            $( concat!(stringify!($module), "\0").as_ptr().cast(), )+
            ::core::ptr::null(),
        ];

        /// No ordering constraints.
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static mut ngx_module_order: [*const ::core::ffi::c_char; 1] = [::core::ptr::null()];
    };
}

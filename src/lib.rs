//! sift: layer-4 inspection and filtering for nginx `stream {}`.
//!
//! `stream` is a small safe layer over nginx's stream API (ngx 0.5 has none);
//! `sift` is the module built on it. Protocol logic lives in `sift-core`,
//! which knows nothing of nginx.

pub mod stream;

mod sift;

pub use sift::ngx_stream_sift_module;

/// The module list nginx looks up with `dlsym` when it loads the `.so`.
/// Built by `cargo build`; nginx's own `make modules` (the `config` path)
/// generates these from its module list and builds without this feature.
#[cfg(feature = "export-modules")]
mod exported {
    use core::ffi::c_char;
    use core::ptr;

    use nginx_sys::ngx_module_t;

    use crate::sift::ngx_stream_sift_module;

    #[no_mangle]
    #[allow(non_upper_case_globals)]
    pub static mut ngx_modules: [*const ngx_module_t; 2] =
        [&raw const ngx_stream_sift_module, ptr::null()];

    #[no_mangle]
    #[allow(non_upper_case_globals)]
    pub static mut ngx_module_names: [*const c_char; 2] =
        [c"ngx_stream_sift_module".as_ptr(), ptr::null()];

    #[no_mangle]
    #[allow(non_upper_case_globals)]
    pub static mut ngx_module_order: [*const c_char; 1] = [ptr::null()];
}

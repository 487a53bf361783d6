//! nginx's clock.

/// nginx's monotonic millisecond clock, as this worker last updated it
/// (once per event loop iteration, as every nginx module reads it).
pub fn current_msec() -> u64 {
    // SAFETY: a plain integer the worker's own thread updates.
    unsafe { nginx_sys::ngx_current_msec as u64 }
}

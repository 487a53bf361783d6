//! nginx's clock.

/// nginx's monotonic millisecond clock, as this worker last updated it
/// (once per event loop iteration, as every nginx module reads it).
pub fn current_msec() -> u64 {
    // SAFETY: a plain integer the worker's own thread updates.
    unsafe { nginx_sys::ngx_current_msec as u64 }
}

/// Milliseconds since `session` was accepted, by the worker's cached clock
/// (nginx's `$session_time`).
pub fn session_elapsed_msec(session: &crate::Session<'_>) -> u64 {
    // The cached time is updated by the worker's own thread; the session
    // is live for the call.
    // SAFETY: both pointers are live (nginx sets ngx_cached_time at startup).
    unsafe {
        let now = &*nginx_sys::ngx_cached_time;
        let s = &*session.as_ptr();
        let sec = (now.sec - s.start_sec).max(0) as u64;
        (sec * 1000 + now.msec as u64).saturating_sub(s.start_msec as u64)
    }
}

/// Wall-clock milliseconds since the Unix epoch, as this worker last
/// updated its cached time (for deadlines that outlive the process, such
/// as entries written to a file).
pub fn wall_msec() -> u64 {
    // nginx sets ngx_cached_time at startup and the worker's own
    // thread updates it; it always points to a valid ngx_time_t.
    // SAFETY: for the reasons just above.
    unsafe {
        let now = &*nginx_sys::ngx_cached_time;
        (now.sec.max(0) as u64) * 1000 + now.msec as u64
    }
}

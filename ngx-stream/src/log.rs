//! nginx-style logging from Rust: to a connection's log (which adds the
//! client and server as nginx does), to the cycle's, or to the configuration
//! being parsed (which appends `in nginx.conf:12`).

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use nginx_sys::{ngx_conf_t, ngx_log_t, ngx_uint_t};

/// A live nginx log, borrowed for `'a`.
#[derive(Clone, Copy)]
pub struct Log<'a> {
    raw: NonNull<ngx_log_t>,
    _borrow: PhantomData<&'a ngx_log_t>,
}

impl<'a> Log<'a> {
    /// # Safety
    /// `log` must be null or point to an `ngx_log_t` live for `'a`.
    pub unsafe fn from_raw(log: *mut ngx_log_t) -> Option<Self> {
        NonNull::new(log).map(|raw| Log {
            raw,
            _borrow: PhantomData,
        })
    }

    /// The current cycle's log.
    pub fn cycle() -> Option<Log<'static>> {
        // Unit tests run outside nginx, where the symbol has no storage.
        if cfg!(test) {
            return None;
        }
        // ngx_cycle is set before module code runs; nginx replaces, never
        // frees, the cycle under running code.
        // SAFETY: the cycle and its log are live for this call.
        unsafe {
            let cycle = nginx_sys::ngx_cycle;
            if cycle.is_null() {
                return None;
            }
            Log::from_raw((*cycle).log)
        }
    }

    /// The raw log, for calls into nginx.
    pub fn as_ptr(&self) -> *mut ngx_log_t {
        self.raw.as_ptr()
    }

    fn level(&self) -> ngx_uint_t {
        // SAFETY: a Log points to a live ngx_log_t (from_raw's contract).
        unsafe { self.raw.as_ref().log_level }
    }

    /// Logs at `level` (`NGX_LOG_ERR`, ...) if the log's level allows it.
    /// Messages longer than nginx's error line are truncated, as nginx does.
    pub fn error(&self, level: ngx_uint_t, args: fmt::Arguments<'_>) {
        if level > self.level() {
            return;
        }
        let mut buf = [const { MaybeUninit::<u8>::uninit() }; ngx::log::LOG_BUFFER_SIZE];
        let message = ngx::log::write_fmt(&mut buf, args);
        // Unit tests run outside nginx: its logger does not exist there.
        #[cfg(not(test))]
        // SAFETY: the log is live; nginx copies the message ("%*s") at once.
        unsafe {
            ngx::log::log_error(level, self.as_ptr(), 0, message)
        };
        #[cfg(test)]
        let _ = message;
    }

    /// Logs at debug level when nginx is built `--with-debug` and the log
    /// enables the stream debug mask (`error_log ... debug`).
    pub fn debug(&self, args: fmt::Arguments<'_>) {
        if !ngx::log::DEBUG || self.level() & nginx_sys::NGX_LOG_DEBUG_STREAM as usize == 0 {
            return;
        }
        let mut buf = [const { MaybeUninit::<u8>::uninit() }; ngx::log::LOG_BUFFER_SIZE];
        let message = ngx::log::write_fmt(&mut buf, args);
        #[cfg(not(test))]
        // SAFETY: as in error().
        unsafe {
            ngx::log::log_debug(self.as_ptr(), 0, message)
        };
        #[cfg(test)]
        let _ = message;
    }
}

/// Logs to `log`, or to the cycle's log when there is none.
pub fn log_error(level: ngx_uint_t, log: Option<Log<'_>>, args: fmt::Arguments<'_>) {
    match log {
        Some(log) => log.error(level, args),
        None => {
            if let Some(cycle) = Log::cycle() {
                cycle.error(level, args);
            }
        }
    }
}

/// Logs against the configuration being parsed: nginx appends the file and
/// line, giving `nginx: [emerg] <message> in /etc/nginx/nginx.conf:12`.
///
/// # Safety
/// `cf` must be the live `ngx_conf_t` nginx passed to the current handler.
pub unsafe fn conf_log(level: ngx_uint_t, cf: *mut ngx_conf_t, args: fmt::Arguments<'_>) {
    let mut buf = [const { MaybeUninit::<u8>::uninit() }; ngx::log::LOG_BUFFER_SIZE];
    let message = ngx::log::write_fmt(&mut buf, args);
    // SAFETY: the caller passes a live conf; "%*s" copies the message.
    unsafe {
        nginx_sys::ngx_conf_log_error(
            level,
            cf,
            0,
            c"%*s".as_ptr(),
            message.len(),
            message.as_ptr(),
        )
    };
}

/// The log of the configuration being parsed.
///
/// # Safety
/// `cf` must be the live `ngx_conf_t` nginx passed to the current handler.
pub unsafe fn conf_log_handle<'a>(cf: *mut ngx_conf_t) -> Option<Log<'a>> {
    // SAFETY: a live conf's log lives at least as long as the conf.
    unsafe { Log::from_raw((*cf).log) }
}

/// `stream_log!(level, log, "fmt", args...)` where `log` is a [`Log`]:
/// logs at `level` (`NGX_LOG_ERR`, ...) if the log's level allows it.
#[macro_export]
macro_rules! stream_log {
    ($level:expr, $log:expr, $($arg:tt)+) => {
        $log.error($level as ::nginx_sys::ngx_uint_t, format_args!($($arg)+))
    };
}

/// `stream_debug!(log, "fmt", args...)` where `log` is a [`Log`]: logs
/// at debug level in nginx builds `--with-debug`.
#[macro_export]
macro_rules! stream_debug {
    ($log:expr, $($arg:tt)+) => {
        $log.debug(format_args!($($arg)+))
    };
}

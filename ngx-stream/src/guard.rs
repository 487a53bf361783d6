//! Panic containment for `extern "C"` entry points.
//!
//! Unwinding into nginx's C frames is undefined behaviour, so every function
//! nginx calls runs its body through [`contain`]. A panic is logged at
//! `alert` with its message and source location, and the entry point returns
//! its failure value (`NGX_ERROR`, `NGX_CONF_ERROR`, ...): nginx then ends the
//! one session or configuration step involved, and the worker keeps serving.
//! Modules must be built with `panic = "unwind"` for this to work.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use nginx_sys::NGX_LOG_ALERT;

use crate::log::{log_error, Log};

thread_local! {
    /// How many [`contain`] calls are on this thread's stack.
    static CONTAIN_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Where the last contained panic happened, recorded by our hook.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL_HOOK: Once = Once::new();

/// Installs a panic hook that records the location of panics inside
/// [`contain`] (so the alert can name it) instead of printing to stderr.
/// Panics elsewhere, e.g. in another Rust module in the same process, still
/// go to the hook that was installed before ours. The layer installs it in
/// every module's `postconfiguration`; once per process.
pub fn install_panic_hook() {
    INSTALL_HOOK.call_once(|| {
        let previous = panic::take_hook();
        // The hook lives as long as the process: its one allocation (the
        // boxed closure) is never freed, as with any process-wide hook.
        panic::set_hook(Box::new(move |info| {
            if CONTAIN_DEPTH.with(Cell::get) > 0 {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body`, containing any panic. On a panic, logs
/// `<module>: panic in <site> at <file:line>: <message>` at `alert` to `log`
/// (the cycle log when `None`) and returns `on_panic()`.
pub fn contain<R>(
    module: &str,
    log: Option<Log<'_>>,
    site: &str,
    on_panic: impl FnOnce() -> R,
    body: impl FnOnce() -> R,
) -> R {
    CONTAIN_DEPTH.with(|depth| depth.set(depth.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(body));
    CONTAIN_DEPTH.with(|depth| depth.set(depth.get() - 1));

    match result {
        Ok(value) => value,
        Err(payload) => {
            let location = PANIC_LOCATION
                .with(|slot| slot.borrow_mut().take())
                .unwrap_or_else(|| "unknown location".to_owned());
            log_error(
                NGX_LOG_ALERT as usize,
                log,
                format_args!(
                    "{module}: panic in {site} at {location}: {}",
                    payload_message(payload.as_ref())
                ),
            );
            // A payload's own Drop may panic too; it must not escape either.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
            on_panic()
        }
    }
}

fn payload_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "non-string panic payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_body_value() {
        assert_eq!(contain("m", None, "site", || 0, || 7), 7);
    }

    #[test]
    fn contains_a_panic_and_records_where() {
        install_panic_hook();
        // No cycle log outside nginx: the alert is dropped, the value is not.
        let got = contain("m", None, "site", || -1, || panic!("boom"));
        assert_eq!(got, -1);
        assert_eq!(CONTAIN_DEPTH.with(Cell::get), 0);
        // The hook recorded the location, and contain took it.
        assert!(PANIC_LOCATION.with(|slot| slot.borrow().is_none()));
    }

    #[test]
    fn payload_messages() {
        assert_eq!(payload_message(&"static"), "static");
        assert_eq!(payload_message(&String::from("owned")), "owned");
        assert_eq!(payload_message(&42u32), "non-string panic payload");
    }
}

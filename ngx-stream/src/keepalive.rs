//! The worker's pool of idle call connections ([`crate::call`]): after a
//! whole reply, a call's connection may wait here for the next call to the
//! same peer (and the same `key`, which tells apart connections set up
//! differently, e.g. authenticated as another user), instead of being
//! closed.
//!
//! Bounded: at most `max_idle` connections per peer and key; a connection
//! returned to a full pool pushes out the one idle longest. An idle
//! connection is closed when its idle timeout passes, when the peer
//! closes it, when it sends anything (nothing is expected between
//! replies), and when the worker shuts down (it is marked idle, so
//! nginx's `ngx_close_idle_connections` closes it; its timer is
//! cancelable, so it does not keep an exiting worker alive). The pool is
//! per worker (nginx workers share no connections), kept in a thread
//! local: a worker runs one thread.

use core::cell::RefCell;
use core::ptr;
use std::net::SocketAddr;

use nginx_sys::{
    ngx_add_timer, ngx_close_connection, ngx_connection_t, ngx_del_timer, ngx_event_t, ngx_msec_t,
};

use crate::guard::contain;

/// How a call's connection may be kept for later calls.
#[derive(Clone, Copy, Debug)]
pub struct Keepalive {
    /// Tells apart connections to one peer that were set up differently.
    pub key: u64,
    /// Idle connections kept per peer and key, per worker.
    pub max_idle: usize,
    /// How long a connection may stay idle, in milliseconds.
    pub idle_timeout: ngx_msec_t,
    /// Whether the whole reply leaves the connection fit for another call
    /// (e.g. exactly the replies asked for, nothing more).
    pub reusable: fn(&[u8]) -> bool,
}

struct Idle {
    connection: *mut ngx_connection_t,
    peer: SocketAddr,
    key: u64,
}

thread_local! {
    static IDLE: RefCell<Vec<Idle>> = const { RefCell::new(Vec::new()) };
}

/// How many connections wait in this worker's pool (all peers).
pub fn idle_count() -> usize {
    IDLE.with(|idle| idle.try_borrow().map_or(0, |idle| idle.len()))
}

/// Takes the most recently pooled connection to `peer` with `key`, if
/// any; its timer and pool handlers are gone, it is no longer idle, and
/// its events log to `log`.
pub(crate) fn take(
    peer: SocketAddr,
    key: u64,
    log: *mut nginx_sys::ngx_log_t,
) -> Option<*mut ngx_connection_t> {
    let connection = IDLE.with(|idle| {
        let mut idle = idle.try_borrow_mut().ok()?;
        let at = idle
            .iter()
            .rposition(|entry| entry.peer == peer && entry.key == key)?;
        Some(idle.remove(at).connection)
    })?;
    // a pooled connection is open and owned by the pool, which
    // just gave it up.
    // SAFETY: for the reasons just above.
    unsafe {
        let read = (*connection).read;
        if (*read).timer_set() != 0 {
            ngx_del_timer(read);
        }
        (*read).set_cancelable(0);
        (*connection).set_idle(0);
        (*connection).log = log;
        (*read).log = log;
        (*(*connection).write).log = log;
    }
    Some(connection)
}

/// Keeps `connection` (open, a whole reply read, no timer pending that
/// the caller still needs) for later calls, or closes it when the worker
/// is exiting.
///
/// # Safety
/// `connection` is an open connection the caller owns and gives up.
pub(crate) unsafe fn put(connection: *mut ngx_connection_t, peer: SocketAddr, spec: &Keepalive) {
    // SAFETY: nginx's process globals, read on the worker's only thread.
    let exiting = unsafe {
        nginx_sys::ngx_exiting != 0 || nginx_sys::ngx_terminate != 0 || nginx_sys::ngx_quit != 0
    };
    if exiting || spec.max_idle == 0 {
        // SAFETY: the caller's contract.
        unsafe { ngx_close_connection(connection) };
        return;
    }
    let pushed_out = IDLE.with(|idle| {
        let Ok(mut idle) = idle.try_borrow_mut() else {
            return Some(connection);
        };
        let group = idle
            .iter()
            .filter(|entry| entry.peer == peer && entry.key == spec.key)
            .count();
        let oldest = if group >= spec.max_idle {
            idle.iter()
                .position(|entry| entry.peer == peer && entry.key == spec.key)
                .map(|at| idle.remove(at).connection)
        } else {
            None
        };
        idle.push(Idle {
            connection,
            peer,
            key: spec.key,
        });
        oldest
    });
    if let Some(oldest) = pushed_out {
        if oldest == connection {
            // The pool is busy (cannot happen on one thread): just close.
            // SAFETY: the caller's contract.
            unsafe { ngx_close_connection(connection) };
            return;
        }
        // SAFETY: taken out of the pool, which owned it.
        unsafe { ngx_close_connection(oldest) };
    }
    // the caller gave the open connection to the pool; the cycle's
    // log outlives any session's.
    // SAFETY: for the reasons just above.
    unsafe {
        let log = (*nginx_sys::ngx_cycle).log;
        let read = (*connection).read;
        let write = (*connection).write;
        if (*write).timer_set() != 0 {
            ngx_del_timer(write);
        }
        if (*read).timer_set() != 0 {
            ngx_del_timer(read);
        }
        (*connection).data = ptr::null_mut();
        (*connection).pool = ptr::null_mut();
        (*connection).log = log;
        (*read).log = log;
        (*write).log = log;
        (*connection).set_idle(1);
        (*read).handler = Some(idle_event);
        (*write).handler = Some(idle_write);
        (*read).set_cancelable(1);
        ngx_add_timer(read, spec.idle_timeout);
        let _ = nginx_sys::ngx_handle_read_event(read, 0);
        if (*read).ready() != 0 {
            // Bytes (or the peer's close) already came.
            idle_event(read);
        }
    }
}

/// An idle connection's write events: nothing to write.
unsafe extern "C" fn idle_write(_ev: *mut ngx_event_t) {}

/// An idle connection's read events: a timeout, the worker's shutdown
/// (`close`), the peer closing, or unexpected bytes close it. A spurious
/// wake-up (nothing to read) keeps it.
unsafe extern "C" fn idle_event(ev: *mut ngx_event_t) {
    // nginx calls a handler with its own event, whose data is the
    // pooled connection.
    // SAFETY: for the reasons just above.
    let connection = unsafe { (*ev).data as *mut ngx_connection_t };
    let keep = contain(
        "ngx_stream keepalive",
        None,
        "idle connection handler",
        || false,
        || {
            // SAFETY: the event and its connection are live while pooled.
            unsafe {
                if (*ev).timedout() != 0 || (*connection).close() != 0 {
                    return false;
                }
                let mut byte = 0u8;
                let n = libc::recv(
                    (*connection).fd,
                    (&mut byte as *mut u8).cast(),
                    1,
                    libc::MSG_PEEK,
                );
                let errno = *libc::__errno_location();
                if n == -1 && (errno == libc::EAGAIN || errno == libc::EWOULDBLOCK) {
                    (*ev).set_ready(0);
                    return nginx_sys::ngx_handle_read_event(ev, 0) == nginx_sys::NGX_OK as isize;
                }
                false
            }
        },
    );
    if keep {
        return;
    }
    let owned = IDLE.with(|idle| {
        let Ok(mut idle) = idle.try_borrow_mut() else {
            return false;
        };
        match idle.iter().position(|entry| entry.connection == connection) {
            Some(at) => {
                idle.remove(at);
                true
            }
            None => false,
        }
    });
    if owned {
        // out of the pool, which owned it; closing deletes its
        // timer and events.
        // SAFETY: for the reasons just above.
        unsafe { ngx_close_connection(connection) };
    }
}

//! Timers tied to one session, for handlers that must act when a client
//! stays silent (nginx's own `preread_timeout` ends such sessions instead).

use core::marker::PhantomData;
use core::mem;

use nginx_sys::{ngx_add_timer, ngx_del_timer, ngx_event_t, ngx_msec_t, ngx_stream_session_t};

use super::guard::contain;
use super::session::Session;

/// What to do with the session when its timer fires.
pub trait TimerHandler: 'static {
    /// Names the handler in logs.
    const NAME: &'static str;
    /// Runs on expiry. Return true to resume the session's phases (e.g. to
    /// let a waiting preread handler decide), false to leave it waiting.
    fn fire(session: &mut Session<'_>) -> bool;
}

/// A timer event living in a session's pool-allocated context. It is
/// deleted when dropped (the context's pool cleanup), so it can never fire
/// for a session that has ended. It must not move once armed: it stays
/// where the context was allocated.
pub struct SessionTimer<H: TimerHandler> {
    event: ngx_event_t,
    _handler: PhantomData<H>,
}

impl<H: TimerHandler> Default for SessionTimer<H> {
    fn default() -> Self {
        SessionTimer {
            // SAFETY: all-zero is the idle ngx_event_t nginx itself starts from.
            event: unsafe { mem::zeroed() },
            _handler: PhantomData,
        }
    }
}

impl<H: TimerHandler> SessionTimer<H> {
    /// Arms (or re-arms) the timer for session `s`.
    ///
    /// # Safety
    /// `s` must be the live session whose context holds this timer, so the
    /// timer is deleted (dropped with the context) before `s` goes away.
    pub unsafe fn arm(&mut self, s: *mut ngx_stream_session_t, after: ngx_msec_t) {
        self.event.data = s.cast();
        // SAFETY: the caller passes a live session, which has a connection.
        self.event.log = unsafe { (*(*s).connection).log };
        self.event.handler = Some(timer_trampoline::<H>);
        // The event stays at this address until the pool cleanup drops it.
        // SAFETY: it is initialised above, and dropping it deletes the timer.
        unsafe { ngx_add_timer(&mut self.event, after) };
    }

    /// Cancels the timer if armed.
    pub fn disarm(&mut self) {
        if self.event.timer_set() != 0 {
            // SAFETY: timer_set means the event is in nginx's timer tree.
            unsafe { ngx_del_timer(&mut self.event) };
        }
    }

    pub fn is_armed(&self) -> bool {
        self.event.timer_set() != 0
    }
}

impl<H: TimerHandler> Drop for SessionTimer<H> {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Resumes a session's phase engine from an event handler. If the current
/// phase checker is waiting on the client read timer (preread), that timer
/// is deleted first so the checker calls the phase's handler again.
///
/// # Safety
/// `s` must be a live session not borrowed elsewhere.
unsafe fn resume_phases(s: *mut ngx_stream_session_t) {
    // SAFETY: a live session has a connection with a read event.
    unsafe {
        let read = (*(*s).connection).read;
        if (*read).timer_set() != 0 {
            ngx_del_timer(read);
        }
        nginx_sys::ngx_stream_core_run_phases(s);
    }
}

unsafe extern "C" fn timer_trampoline<H: TimerHandler>(ev: *mut ngx_event_t) {
    // The timer is deleted when the session's pool goes.
    // SAFETY: so the event we armed carries a live session.
    let s = unsafe { (*ev).data } as *mut ngx_stream_session_t;
    let resume = {
        // SAFETY: as above; the borrow ends with this block.
        let Some(mut session) = (unsafe { Session::from_raw(s) }) else {
            return;
        };
        let log = session.log();
        contain(log, H::NAME, || None, || Some(H::fire(&mut session)))
    };
    match resume {
        // SAFETY: the session is live (above) and no Rust borrow remains.
        Some(true) => unsafe { resume_phases(s) },
        Some(false) => {}
        // A contained panic ends this session, as in a phase handler.
        // SAFETY: the session is live and no Rust borrow of it remains.
        None => unsafe {
            nginx_sys::ngx_stream_finalize_session(
                s,
                nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR as usize,
            )
        },
    }
}

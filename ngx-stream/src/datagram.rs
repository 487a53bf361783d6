//! UDP sessions held in the preread phase across several client datagrams.
//!
//! For a `listen ... udp` server nginx makes a session per client address
//! and port; its preread buffer is exactly the session's first datagram,
//! and a preread handler asking for more (`NGX_AGAIN`) ends the session
//! with "preread buffer full". A module that must see a later datagram
//! before deciding (a QUIC ClientHello spanning two Initial packets, say)
//! holds the session instead ([`Session::hold_datagrams`]): the preread
//! handler returns `NGX_DONE`, and the layer takes over the connection's
//! read handler. Each later datagram of the same client is then read,
//! kept in the session's pool, and shown to the module
//! ([`StreamModule::on_datagram`](crate::StreamModule::on_datagram)),
//! until it decides. The layer then gives the read handler back, runs the
//! session's phases again from the preread phase (the handler, called
//! again, now hands on), and **replays** the kept datagrams to whatever
//! reads the session next: `proxy_pass` receives the first datagram from
//! the preread buffer, then each kept one as its own read, in order, each
//! sent upstream as its own datagram, unchanged.

use core::cell::Cell;
use core::ptr::{self, NonNull};
use std::cell::RefCell;

use nginx_sys::{
    ngx_connection_t, ngx_del_timer, ngx_event_handler_pt, ngx_event_t, ngx_recv_pt,
    ngx_stream_session_t, NGX_AGAIN,
};

use crate::error::{Error, Result};
use crate::guard::contain;
use crate::module::{pool_place, Registered};

use crate::phase::PhaseOutcome;
use crate::session::Session;

/// The most datagrams a held session keeps (beyond its first).
pub const MAX_HELD_DATAGRAMS: usize = 16;

/// Bounds on what a held session keeps: when either is reached, the
/// module is told it gets no more (`last`) and must decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramLimits {
    /// Datagrams kept beyond the first (at most [`MAX_HELD_DATAGRAMS`]).
    pub max_datagrams: usize,
    /// Bytes kept in all.
    pub max_bytes: usize,
}

/// What to do with a held session after one of its datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatagramAction {
    /// Keep holding it for the next datagram.
    Wait,
    /// Decided: give the session back to nginx's phases.
    Resume,
    /// End the session with this status.
    Finalize(u32),
}

/// A held session's bookkeeping, in its pool.
pub(crate) struct Held {
    read_handler: ngx_event_handler_pt,
    recv: ngx_recv_pt,
    datagrams: [(*const u8, usize); MAX_HELD_DATAGRAMS],
    count: usize,
    replayed: usize,
    bytes: usize,
    limits: DatagramLimits,
    /// True while the layer owns the read handler.
    holding: bool,
}

thread_local! {
    /// Room for one datagram while it is read (UDP payloads are < 64 KiB).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

const MAX_DATAGRAM: usize = 65_535;

impl<'s> Session<'s> {
    /// Datagram sessions, from a preread handler: holds the session until
    /// `M::on_datagram` decides on a later datagram or `M`'s timer resumes
    /// it. Returns the outcome the preread handler must return
    /// ([`PhaseOutcome::Done`]). Arm the timer first: a client that sends
    /// nothing more would otherwise hold the session until nginx's own
    /// timeouts.
    pub fn hold_datagrams<M: Registered>(&self, limits: DatagramLimits) -> Result<PhaseOutcome>
    where
        M::Ctx: Default,
    {
        if !self.is_datagram() {
            return Err(Error::from("only datagram sessions can be held"));
        }
        let held_cell = self.held_cell::<M>()?;
        if held_cell.get().is_some_and(|held| {
            // SAFETY: a held pointer is a live Held in the session's pool.
            unsafe { held.as_ref() }.holding
        }) {
            return Ok(PhaseOutcome::Done);
        }
        let c = self.connection_ptr();
        // SAFETY: a live session's connection and its read event.
        let (read_handler, recv) = unsafe { ((*(*c).read).handler, (*c).recv) };
        let held = Held {
            read_handler,
            recv,
            datagrams: [(ptr::null(), 0); MAX_HELD_DATAGRAMS],
            count: 0,
            replayed: 0,
            bytes: 0,
            limits: DatagramLimits {
                max_datagrams: limits.max_datagrams.min(MAX_HELD_DATAGRAMS),
                max_bytes: limits.max_bytes,
            },
            holding: true,
        };
        // Held owns nothing to drop; it lives as long as the session.
        // SAFETY: the connection's pool lives as long as the session.
        let held = unsafe { pool_place((*c).pool, held) }?;
        held_cell.set(Some(held));
        // Datagrams of this client now reach the layer's handler.
        // SAFETY: the read event is live; nginx calls this handler with it.
        unsafe { (*(*c).read).handler = Some(held_read::<M>) };
        // A worker shutting down (a reload) closes its idle connections
        // by calling their read handler with `close` set: a held session
        // is idle in that sense, and ends then (its UDP socket is the
        // listening one, which that worker closes; the client's
        // retransmitted Initial reaches the new workers).
        // SAFETY: a flag of the live connection.
        unsafe { (*c).set_idle(1) };
        Ok(PhaseOutcome::Done)
    }

    /// The datagrams held so far (beyond the first, which is
    /// [`Session::preread`]), in arrival order.
    pub fn held_datagrams<M: Registered>(&self) -> impl Iterator<Item = &'s [u8]> {
        let held = self.held_state::<M>();
        let (datagrams, count) = match held {
            // a held pointer is a live Held in the session's pool;
            // only its kept (pointer, length) pairs are copied out here.
            // SAFETY: for the reasons just above.
            Some(held) => unsafe { (held.as_ref().datagrams, held.as_ref().count) },
            None => ([(ptr::null(), 0); MAX_HELD_DATAGRAMS], 0),
        };
        datagrams
            .into_iter()
            .take(count)
            // Each pair is a pool copy made by read_one, alive as long as
            // the session.
            // SAFETY: so the bytes are live for 's.
            .map(|(data, len)| unsafe { core::slice::from_raw_parts(data, len) })
    }

    /// Whether the session is held for its datagrams now.
    pub fn is_held<M: Registered>(&self) -> bool {
        self.held_state::<M>()
            // SAFETY: a held pointer is a live Held in the session's pool.
            .is_some_and(|held| unsafe { held.as_ref() }.holding)
    }
}

/// Gives a session's phases back to nginx: if it was held, its read
/// handler is restored and its kept datagrams are set to replay; a pending
/// read timer (`preread_timeout`) is cancelled; then the phases run again.
///
/// # Safety
/// `s` must be a live session with no [`Session`] handle alive.
pub(crate) unsafe fn resume<M: Registered>(s: *mut ngx_stream_session_t) {
    // SAFETY: the caller's contract.
    unsafe {
        if let Some(session) = Session::from_raw(s) {
            if let Some(mut held) = session.held_state::<M>() {
                let held = held.as_mut();
                if held.holding {
                    held.holding = false;
                    let c = session.connection_ptr();
                    (*c).set_idle(0);
                    (*(*c).read).handler = held.read_handler;
                    if held.replayed < held.count {
                        (*c).recv = Some(replay_recv::<M>);
                        (*(*c).read).set_ready(1);
                    }
                }
            }
        }
        let read = (*(*s).connection).read;
        if (*read).timer_set() != 0 {
            ngx_del_timer(read);
        }
        nginx_sys::ngx_stream_core_run_phases(s);
    }
}

/// The read handler of a held session: one more datagram from its client.
unsafe extern "C" fn held_read<M: Registered>(ev: *mut ngx_event_t) {
    // The event is the read event of a live stream connection, whose data
    // is its session.
    // SAFETY: nginx calls read handlers with the connection's own event.
    let (c, s) = unsafe {
        let c = (*ev).data as *mut ngx_connection_t;
        (c, (*c).data as *mut ngx_stream_session_t)
    };
    // The worker is shutting down (ngx_close_idle_connections): end the
    // session quietly rather than keep it, or resume it, on a socket that
    // worker is closing.
    // SAFETY: the live connection's flag.
    if unsafe { (*c).close() } != 0 {
        // SAFETY: the session is live and no handle of it exists.
        unsafe { nginx_sys::ngx_stream_finalize_session(s, nginx_sys::NGX_STREAM_OK as usize) };
        return;
    }
    let action = {
        // SAFETY: the session is live while its connection gets events.
        let Some(session) = (unsafe { Session::from_raw(s) }) else {
            return;
        };
        contain(
            M::NAME,
            session.log(),
            "datagram handler",
            || DatagramAction::Finalize(nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR),
            || read_one::<M>(&session, c),
        )
    };
    match action {
        DatagramAction::Wait => {}
        // SAFETY: the handle above is gone; the session is live.
        DatagramAction::Resume => unsafe { resume::<M>(s) },
        // SAFETY: as above.
        DatagramAction::Finalize(status) => unsafe {
            nginx_sys::ngx_stream_finalize_session(s, status as usize)
        },
    }
}

/// Reads the datagram nginx has for `c`, keeps it, and asks the module.
fn read_one<M: Registered>(session: &Session<'_>, c: *mut ngx_connection_t) -> DatagramAction {
    let Some(mut held_ptr) = session.held_state::<M>() else {
        return DatagramAction::Resume;
    };
    // The Held is only reached through this pointer, here and in resume
    // and replay_recv, which never run while this runs.
    // SAFETY: so this is the only reference to it now.
    let held = unsafe { held_ptr.as_mut() };
    let Some(recv) = held.recv else {
        return DatagramAction::Resume;
    };
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < MAX_DATAGRAM {
            scratch.resize(MAX_DATAGRAM, 0);
        }
        // nginx's UDP recv copies the pending datagram (at most `len`).
        // SAFETY: `c` is the session's connection; the buffer is ours.
        let n = unsafe { recv(c, scratch.as_mut_ptr(), scratch.len()) };
        if n == NGX_AGAIN as isize {
            return DatagramAction::Wait;
        }
        let Some(datagram) = usize::try_from(n).ok().and_then(|n| scratch.get(..n)) else {
            // A read error ends the holding; nginx's phases deal with it.
            return DatagramAction::Resume;
        };
        let Ok(kept) = session.pool_copy(datagram) else {
            return DatagramAction::Finalize(nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR);
        };
        if let Some(slot) = held.datagrams.get_mut(held.count) {
            *slot = (kept.as_ptr(), kept.len());
            held.count += 1;
            held.bytes += kept.len();
        }
        let last = held.count >= held.limits.max_datagrams || held.bytes >= held.limits.max_bytes;
        match M::on_datagram(session, kept, last) {
            DatagramAction::Wait if last => DatagramAction::Resume,
            action => action,
        }
    })
}

/// `c->recv` while a resumed session has kept datagrams to hand on: each
/// call returns the next one, as the UDP recv it stands in for returns one
/// datagram per call; after the last, the original recv is back.
unsafe extern "C" fn replay_recv<M: Registered>(
    c: *mut ngx_connection_t,
    buf: *mut u8,
    size: usize,
) -> isize {
    // SAFETY: nginx calls recv with a live connection whose data is its session.
    let s = unsafe { (*c).data } as *mut ngx_stream_session_t;
    // SAFETY: as above.
    let Some(session) = (unsafe { Session::from_raw(s) }) else {
        return nginx_sys::NGX_ERROR as isize;
    };
    let Some(mut held_ptr) = session.held_state::<M>() else {
        return nginx_sys::NGX_ERROR as isize;
    };
    // SAFETY: only reached through this pointer, and not re-entrantly.
    let held = unsafe { held_ptr.as_mut() };
    let restore = |held: &Held| {
        // SAFETY: the connection and its read event are live.
        unsafe {
            (*c).recv = held.recv;
            (*(*c).read).set_ready(0);
            (*(*c).read).set_active(1);
        }
    };
    let Some(&(data, len)) = held
        .datagrams
        .get(held.replayed)
        .filter(|_| held.replayed < held.count)
    else {
        restore(held);
        return match held.recv {
            // SAFETY: the original recv of this connection.
            Some(recv) => unsafe { recv(c, buf, size) },
            None => NGX_AGAIN as isize,
        };
    };
    let n = len.min(size);
    // The kept datagram lives in the session's pool; `buf` has `size` bytes.
    // SAFETY: both ranges are valid for `n` bytes and do not overlap.
    unsafe { ptr::copy_nonoverlapping(data, buf, n) };
    held.replayed += 1;
    if held.replayed == held.count {
        restore(held);
    }
    n as isize
}

impl<'s> Session<'s> {
    fn connection_ptr(&self) -> *mut ngx_connection_t {
        // SAFETY: a live session's connection pointer, never null (from_raw).
        unsafe { (*self.as_ptr()).connection }
    }

    fn held_cell<M: Registered>(&self) -> Result<&'s Cell<Option<NonNull<Held>>>>
    where
        M::Ctx: Default,
    {
        self.layer_state::<M>(M::Ctx::default)
            .map(|state| state.held())
    }

    fn held_state<M: Registered>(&self) -> Option<NonNull<Held>> {
        self.existing_layer_state::<M>()?.held().get()
    }
}

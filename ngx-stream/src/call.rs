//! One request/response exchange with a TCP peer from inside a session,
//! on nginx's event loop, without blocking the worker: the way ngx_lua's
//! cosockets talk to Redis or an HTTP service.
//!
//! A handler starts the call ([`Session::call`]) and returns the outcome it
//! is given ([`PhaseOutcome::Done`]); the session then waits. The layer
//! connects with nginx's own `ngx_event_connect_peer`, sends the request,
//! reads the reply until the caller's `complete` says it is whole (or the
//! peer closes, the reply outgrows its cap, or the timeout passes), closes
//! the connection, and calls
//! [`StreamModule::on_call_done`](crate::StreamModule::on_call_done) with
//! the outcome; its [`TimerAction`] says how the session goes on (usually
//! `ResumePhases`: the phase handler that made the call runs again and now
//! finds the reply it stored). Meanwhile the client's read events are
//! parked, so nginx's phases do not run under the call's feet; a session
//! that ends first closes the peer connection with it.
//!
//! [`Session::call_with`] adds, per call: a keepalive pool
//! ([`crate::keepalive`]: a whole reply's connection waits, bounded, for
//! the next call to the same peer, which takes it before connecting
//! anew; a reused connection that turns out closed is replaced by a new
//! one once), reconnect backoff ([`crate::backoff`]: after a failure,
//! calls to the peer fail at once for a growing, capped period), and a
//! prelude sent only on a new connection (e.g. an `AUTH` command), whose
//! reply the layer checks and strips. Several requests may be pipelined in
//! one call: the caller's `complete` counts the replies.
//!
//! Why not the `ngx` crate's `async` feature (futures spawned on nginx's
//! event loop): a call here is one bounded exchange tied to one session,
//! and its whole state is a struct in the session's pool that nginx's own
//! pool cleanup closes; an executor would add a task allocation, a waker
//! and a second lifetime (the task's) to reconcile with the session's at
//! every return to nginx, for no gain in what a call can do. The event
//! handlers below are the whole state machine, and nothing outlives the
//! session but a connection handed to the pool.

use core::cell::Cell;
use core::ptr::{self, NonNull};
use std::net::SocketAddr;

use nginx_sys::{
    ngx_add_timer, ngx_close_connection, ngx_connection_t, ngx_del_timer, ngx_event_handler_pt,
    ngx_event_t, ngx_msec_t, ngx_peer_connection_t, ngx_str_t, ngx_stream_session_t, NGX_AGAIN,
    NGX_OK,
};

use crate::backoff::{self, Backoff};
use crate::error::{Error, Result};
use crate::guard::contain;
use crate::keepalive::{self, Keepalive};
use crate::module::{add_drop_cleanup, pool_place, Registered, TimerAction};
use crate::phase::PhaseOutcome;
use crate::session::Session;

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome<'s> {
    /// The reply, whole by the caller's `complete`.
    Reply(&'s [u8]),
    /// The peer closed before the reply was whole (what came, if anything).
    Closed(&'s [u8]),
    /// No whole reply within the timeout.
    Timeout,
    /// Could not connect or send, a read failed, or the reply outgrew its cap.
    Failed,
}

/// What to call, and how to know the reply is whole.
#[derive(Clone, Copy, Debug)]
pub struct CallSpec<'a> {
    /// The peer (a fixed address; no resolver).
    pub peer: SocketAddr,
    /// The bytes to send.
    pub request: &'a [u8],
    /// For connecting, sending and the whole reply, in milliseconds.
    pub timeout: ngx_msec_t,
    /// The largest reply accepted (bytes kept in the session's pool).
    pub max_reply: usize,
    /// Whether the bytes read so far are a whole reply.
    pub complete: fn(&[u8]) -> bool,
}

/// What a prelude's reply says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreludeReply {
    /// Not whole yet.
    Incomplete,
    /// Whole and accepted: its length, stripped from the call's reply.
    Accepted(usize),
    /// Refused or not understood: the call fails.
    Refused,
}

/// Bytes sent first on a new connection only (not on a pooled one), e.g.
/// an authentication command, pipelined with the request.
#[derive(Clone, Copy, Debug)]
pub struct Prelude<'a> {
    /// The bytes.
    pub request: &'a [u8],
    /// Reads the prelude's reply at the start of what came.
    pub reply: fn(&[u8]) -> PreludeReply,
}

/// The optional parts of a call ([`Session::call_with`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallOptions<'a> {
    /// Keep the connection after a whole reply, and reuse kept ones.
    pub keepalive: Option<Keepalive>,
    /// Fail calls to a failing peer at once for a while.
    pub backoff: Option<Backoff>,
    /// Sent first on a new connection.
    pub prelude: Option<Prelude<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    Reply,
    Closed,
    Timeout,
    Failed,
}

/// A call's state, in the session's pool; dropping it (the pool's cleanup)
/// closes a connection still open.
pub(crate) struct CallState {
    peer: ngx_peer_connection_t,
    sockaddr: libc::sockaddr_in6,
    name: ngx_str_t,
    /// The prelude then the request.
    request: (*const u8, usize),
    /// Where sending starts: past the prelude on a reused connection.
    start: usize,
    prelude_len: usize,
    prelude_reply: Option<fn(&[u8]) -> PreludeReply>,
    /// Reply bytes that answered the prelude (not the caller's).
    skip: usize,
    /// Whether the prelude's reply is behind us (or there is none to wait for).
    prelude_done: bool,
    address: SocketAddr,
    keepalive: Option<Keepalive>,
    backoff: Option<Backoff>,
    /// Whether the connection came from the pool, and whether a broken
    /// pooled connection was replaced already.
    reused: bool,
    retried: bool,
    /// The session's log, quietened to `crit` while connecting with
    /// backoff (the layer reports failures once per interval itself).
    quiet_log: nginx_sys::ngx_log_t,
    sent: usize,
    reply: *mut u8,
    reply_cap: usize,
    received: usize,
    complete: fn(&[u8]) -> bool,
    timeout: ngx_msec_t,
    client_read_handler: ngx_event_handler_pt,
    ended: Option<Ended>,
}

impl Drop for CallState {
    fn drop(&mut self) {
        if !self.peer.connection.is_null() {
            // The connection is ours (made by ngx_event_connect_peer for
            // this call) and still open.
            // SAFETY: closing it deletes its timers and events first.
            unsafe { ngx_close_connection(self.peer.connection) };
            self.peer.connection = ptr::null_mut();
        }
    }
}

impl CallState {
    /// A call not yet started; `request` (the prelude then the request),
    /// `reply` and `name` (the peer as text) are buffers the caller keeps
    /// alive, at fixed addresses, until the call ends.
    pub(crate) fn new(
        spec: &CallSpec<'_>,
        options: &CallOptions<'_>,
        request: (*const u8, usize),
        reply: (*mut u8, usize),
        name: &[u8],
        client_read_handler: ngx_event_handler_pt,
    ) -> Self {
        // SAFETY: all-zero is a valid sockaddr_in6, peer connection and log.
        let (sockaddr, peer, quiet_log): (
            libc::sockaddr_in6,
            ngx_peer_connection_t,
            nginx_sys::ngx_log_t,
        ) =
            // SAFETY: see the comment above this statement.
            unsafe { (core::mem::zeroed(), core::mem::zeroed(), core::mem::zeroed()) };
        CallState {
            peer,
            sockaddr,
            name: ngx_str_t {
                len: name.len(),
                data: name.as_ptr() as *mut u8,
            },
            request,
            start: 0,
            prelude_len: options.prelude.map_or(0, |prelude| prelude.request.len()),
            prelude_reply: options.prelude.map(|prelude| prelude.reply),
            skip: 0,
            prelude_done: true,
            address: spec.peer,
            keepalive: options.keepalive,
            backoff: options.backoff,
            reused: false,
            retried: false,
            quiet_log,
            sent: 0,
            reply: reply.0,
            reply_cap: reply.1,
            received: 0,
            complete: spec.complete,
            timeout: spec.timeout,
            client_read_handler,
            ended: None,
        }
    }

    /// Points the peer at the state's own address and name, once the state
    /// is at the address it keeps for the call.
    pub(crate) fn bind(&mut self) {
        let address = self.address;
        let socklen = write_sockaddr(&address, &mut self.sockaddr);
        self.peer.sockaddr = (&mut self.sockaddr as *mut libc::sockaddr_in6).cast();
        self.peer.socklen = socklen;
        self.peer.name = &mut self.name;
        self.peer.get = Some(nginx_sys::ngx_event_get_peer);
        self.peer.type_ = libc::SOCK_STREAM;
    }

    /// Closes a broken pooled connection before [`open_with`] makes a
    /// new one (once: see [`Next::Retry`]).
    pub(crate) fn prepare_retry(&mut self) {
        drop_connection(self);
        self.retried = true;
    }

    /// Marks the call ended (`Failed`) without a connection, e.g. when
    /// [`open_with`] failed; reports the failure to the backoff.
    pub(crate) fn fail_to_start(&mut self, log: Option<crate::log::Log<'_>>) {
        self.ended = Some(Ended::Failed);
        if let Some(backoff) = self.backoff {
            backoff::peer_failed(self.address, &backoff, "cannot connect", log);
        }
    }
}

impl<'s> Session<'s> {
    /// Starts a call; the handler returns the outcome this gives. One call
    /// at a time per session and module (another may follow once it ended).
    pub fn call<M: Registered>(&self, spec: CallSpec<'_>) -> Result<PhaseOutcome>
    where
        M::Ctx: Default,
    {
        self.call_with::<M>(spec, CallOptions::default())
    }

    /// [`call`](Self::call) with a keepalive pool, backoff or a prelude.
    /// With backoff, a call to a peer backing off fails at once (`Err`).
    pub fn call_with<M: Registered>(
        &self,
        spec: CallSpec<'_>,
        options: CallOptions<'_>,
    ) -> Result<PhaseOutcome>
    where
        M::Ctx: Default,
    {
        let state_cell = self.layer_state::<M>(M::Ctx::default)?.call();
        if let Some(existing) = state_cell.get() {
            // SAFETY: a call pointer is a live CallState in the session's pool.
            if unsafe { existing.as_ref() }.ended.is_none() {
                return Err(Error::from("a call is already made for this session"));
            }
        }
        // Checked with the call's own key: that is the key a failure of
        // this kind of call is recorded under (peer_failed).
        if options
            .backoff
            .is_some_and(|backoff| backoff::in_backoff_for(spec.peer, backoff.key))
        {
            return Err(Error::Invalid(format!("calls to {} back off", spec.peer)));
        }
        let c = self.connection_raw();
        // SAFETY: a live session's connection has a pool.
        let pool = unsafe { (*c).pool };
        let prelude = options.prelude.map_or(&[][..], |prelude| prelude.request);
        let request = self.pool_copy_with(prelude.len() + spec.request.len(), |bytes| {
            bytes[..prelude.len()].copy_from_slice(prelude);
            bytes[prelude.len()..].copy_from_slice(spec.request);
        })?;
        let reply = self.pool_copy_with(spec.max_reply, |_| {})?;
        let name = self.pool_copy(spec.peer.to_string().as_bytes())?;
        let state = CallState::new(
            &spec,
            &options,
            (request.as_ptr(), request.len()),
            (reply.as_ptr() as *mut u8, reply.len()),
            name,
            // SAFETY: a live connection's read event.
            unsafe { (*(*c).read).handler },
        );
        // SAFETY: the pool lives as long as the session.
        let mut state = unsafe { pool_place(pool, state) }?;
        // SAFETY: `state` is an initialised CallState in `pool`.
        if let Err(error) = unsafe { add_drop_cleanup::<M, CallState>(pool, state) } {
            // SAFETY: ours; nothing else has seen it.
            unsafe { ptr::drop_in_place(state.as_ptr()) };
            return Err(error);
        }
        state_cell.set(Some(state));
        // The state stays at this address in the pool for the session.
        // SAFETY: the only reference to it now.
        let call = unsafe { state.as_mut() };
        call.bind();
        if open::<M>(call, self.as_ptr(), true).is_err() {
            call.fail_to_start(self.log());
            return Err(Error::Invalid(format!("cannot connect to {}", spec.peer)));
        }
        // SAFETY: the client's read event is live.
        unsafe {
            // Park the client: its events must not run the phases meanwhile.
            (*(*c).read).handler = Some(parked_client);
        }
        Ok(PhaseOutcome::Done)
    }

    /// Whether a call of module `M` is under way for this session.
    pub fn call_in_progress<M: Registered>(&self) -> bool {
        self.existing_layer_state::<M>()
            .and_then(|state| state.call().get())
            // SAFETY: a call pointer is a live CallState in the session's pool.
            .is_some_and(|call| unsafe { call.as_ref() }.ended.is_none())
    }

    fn connection_raw(&self) -> *mut ngx_connection_t {
        // SAFETY: a live session's connection (never null: from_raw).
        unsafe { (*self.as_ptr()).connection }
    }
}

/// Gives a session's call a connection ([`open_with`]).
fn open<M: Registered>(
    call: &mut CallState,
    s: *mut ngx_stream_session_t,
    may_reuse: bool,
) -> core::result::Result<(), ()> {
    // SAFETY: a live session's connection, its log and pool.
    let (log, pool) = unsafe {
        let c = (*s).connection;
        ((*c).log, (*c).pool)
    };
    open_with(call, log, pool, s.cast(), call_event::<M>, may_reuse)
}

/// Gives the call a connection: a pooled one if `may_reuse` and there is
/// one, else a new one; arms its handlers (`handler`, with `data` as the
/// connection's data) and deadline, and schedules the first write. Its
/// events log to `log`.
pub(crate) fn open_with(
    call: &mut CallState,
    log: *mut nginx_sys::ngx_log_t,
    pool: *mut nginx_sys::ngx_pool_t,
    data: *mut core::ffi::c_void,
    handler: unsafe extern "C" fn(*mut ngx_event_t),
    may_reuse: bool,
) -> core::result::Result<(), ()> {
    let pooled = match call.keepalive {
        Some(spec) if may_reuse => keepalive::take(call.address, spec.key, log),
        _ => None,
    };
    call.sent = 0;
    call.received = 0;
    call.skip = 0;
    let rc = if let Some(connection) = pooled {
        call.peer.connection = connection;
        call.reused = true;
        call.start = call.prelude_len;
        call.prelude_done = true;
        NGX_OK as isize
    } else {
        call.reused = false;
        call.start = 0;
        call.prelude_done = call.prelude_len == 0 || call.prelude_reply.is_none();
        call.peer.log = log;
        if call.backoff.is_some() {
            // Refused connections are reported once per interval by the
            // layer, not by nginx for every attempt.
            // `log` is the session's live log; a shallow copy
            // shares its writers and file, and lives in the call's state.
            // SAFETY: for the reasons just above.
            unsafe {
                call.quiet_log = *log;
                call.quiet_log.log_level = call
                    .quiet_log
                    .log_level
                    .min(nginx_sys::NGX_LOG_CRIT as usize);
            }
            call.peer.log = &mut call.quiet_log;
            call.peer
                .set_log_error(nginx_sys::ngx_connection_log_error_e_NGX_ERROR_INFO);
        } else {
            call.peer
                .set_log_error(nginx_sys::ngx_connection_log_error_e_NGX_ERROR_ERR);
        }
        // SAFETY: the peer connection is filled in as nginx's own callers do.
        let rc = unsafe { nginx_sys::ngx_event_connect_peer(&mut call.peer) };
        let peer = call.peer.connection;
        if peer.is_null() || (rc != NGX_OK as isize && rc != NGX_AGAIN as isize) {
            drop_connection(call);
            return Err(());
        }
        // SAFETY: the new connection; its events log to the session again.
        unsafe {
            (*peer).log = log;
            (*(*peer).read).log = log;
            (*(*peer).write).log = log;
        }
        rc
    };
    let peer = call.peer.connection;
    // `peer` is the call's open connection; `data` and `pool` are
    // the caller's, live for the call.
    // SAFETY: for the reasons just above.
    unsafe {
        (*peer).data = data;
        (*peer).pool = pool;
        (*(*peer).read).handler = Some(handler);
        (*(*peer).write).handler = Some(handler);
        ngx_add_timer((*peer).write, call.timeout);
        if rc == NGX_OK as isize {
            // Connected at once: write when this handler has returned.
            nginx_sys::ngx_post_event((*peer).write, &raw mut nginx_sys::ngx_posted_events);
        }
    }
    Ok(())
}

/// The address in the layout nginx connects to; returns its length.
fn write_sockaddr(peer: &SocketAddr, out: &mut libc::sockaddr_in6) -> libc::socklen_t {
    match peer {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // sockaddr_in6 is larger than sockaddr_in and as aligned.
            // SAFETY: so the write stays inside `out`.
            unsafe { ptr::write((out as *mut libc::sockaddr_in6).cast(), sin) };
            core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            out.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            out.sin6_port = v6.port().to_be();
            out.sin6_addr.s6_addr = v6.ip().octets();
            out.sin6_scope_id = v6.scope_id();
            core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

pub(crate) fn drop_connection(call: &mut CallState) {
    if !call.peer.connection.is_null() {
        // SAFETY: our open connection; closing deletes its timers and events.
        unsafe { ngx_close_connection(call.peer.connection) };
        call.peer.connection = ptr::null_mut();
    }
}

/// The client's read handler during a call: events are noted by nginx on
/// the event itself (ready, eof); the phases see them when they resume.
unsafe extern "C" fn parked_client(_ev: *mut ngx_event_t) {}

/// Read and write events of the peer connection.
unsafe extern "C" fn call_event<M: Registered>(ev: *mut ngx_event_t) {
    // The event belongs to the peer connection, whose data is the session.
    // SAFETY: nginx calls handlers with their own event.
    let (c, s) = unsafe {
        let c = (*ev).data as *mut ngx_connection_t;
        (c, (*c).data as *mut ngx_stream_session_t)
    };
    let ended = {
        // SAFETY: the peer connection is closed before the session ends.
        let Some(session) = (unsafe { Session::from_raw(s) }) else {
            return;
        };
        contain(
            M::NAME,
            session.log(),
            "call handler",
            || Some(Ended::Failed),
            || {
                // SAFETY: the event is live for this call.
                match step::<M>(&session, c, unsafe { &*ev }) {
                    Next::Wait => None,
                    Next::End(ended) => Some(ended),
                    Next::Retry => retry::<M>(&session),
                }
            },
        )
    };
    if let Some(ended) = ended {
        // SAFETY: the handle above is gone; the session is live.
        unsafe { finish::<M>(s, ended) };
    }
}

/// What a call does after an event.
pub(crate) enum Next {
    Wait,
    End(Ended),
    /// A pooled connection turned out closed before any reply: try a new one.
    Retry,
}

/// Replaces a broken pooled connection by a new one (once).
fn retry<M: Registered>(session: &Session<'_>) -> Option<Ended> {
    let mut state = session.existing_layer_state::<M>()?.call().get()?;
    // SAFETY: the only reference (this connection's handler is returning).
    let call = unsafe { state.as_mut() };
    call.prepare_retry();
    match open::<M>(call, session.as_ptr(), false) {
        Ok(()) => None,
        Err(()) => Some(Ended::Failed),
    }
}

/// Advances the call on one event.
fn step<M: Registered>(session: &Session<'_>, c: *mut ngx_connection_t, ev: &ngx_event_t) -> Next {
    let Some(mut state) = session
        .existing_layer_state::<M>()
        .and_then(|state| state.call().get())
    else {
        return Next::End(Ended::Failed);
    };
    // Only the event handlers of this one connection reach the state, one
    // at a time.
    // SAFETY: so this is the only reference to it now.
    let call = unsafe { state.as_mut() };
    advance(call, c, ev)
}

/// Advances a call on one event of its connection `c`.
pub(crate) fn advance(call: &mut CallState, c: *mut ngx_connection_t, ev: &ngx_event_t) -> Next {
    let broken = if call.reused && !call.retried && call.received == 0 {
        Next::Retry
    } else {
        Next::End(Ended::Failed)
    };
    if ev.timedout() != 0 {
        return Next::End(Ended::Timeout);
    }
    if ev.write() != 0 {
        let total = call.request.1 - call.start;
        while call.sent < total {
            // SAFETY: request bytes live in the pool; `c` is the peer connection.
            let n = unsafe {
                let Some(send) = (*c).send else {
                    return Next::End(Ended::Failed);
                };
                send(
                    c,
                    call.request.0.add(call.start + call.sent) as *mut u8,
                    total - call.sent,
                )
            };
            if n == NGX_AGAIN as isize {
                // SAFETY: the peer connection's write event.
                let _ = unsafe { nginx_sys::ngx_handle_write_event((*c).write, 0) };
                return Next::Wait;
            }
            if n <= 0 {
                return broken;
            }
            call.sent += n as usize;
        }
        // Sent: now the reply's turn, under the same deadline.
        // SAFETY: the peer connection's events.
        unsafe {
            if (*(*c).write).timer_set() != 0 {
                ngx_del_timer((*c).write);
            }
            ngx_add_timer((*c).read, call.timeout);
            (*(*c).write).handler = Some(ignore_event);
            let _ = nginx_sys::ngx_handle_read_event((*c).read, 0);
        }
        return Next::Wait;
    }
    loop {
        if call.received >= call.reply_cap {
            return Next::End(Ended::Failed);
        }
        // SAFETY: the reply buffer lives in the pool with reply_cap bytes.
        let n = unsafe {
            let Some(recv) = (*c).recv else {
                return Next::End(Ended::Failed);
            };
            recv(
                c,
                call.reply.add(call.received),
                call.reply_cap - call.received,
            )
        };
        if n == NGX_AGAIN as isize {
            // SAFETY: the peer connection's read event.
            let _ = unsafe { nginx_sys::ngx_handle_read_event((*c).read, 0) };
            return Next::Wait;
        }
        if n == 0 {
            return match broken {
                Next::Retry => Next::Retry,
                _ => Next::End(Ended::Closed),
            };
        }
        if n < 0 {
            return broken;
        }
        call.received += n as usize;
        // SAFETY: `received` bytes of the reply buffer are written.
        let reply = unsafe { core::slice::from_raw_parts(call.reply, call.received) };
        if !call.prelude_done {
            match call.prelude_reply.map(|read| read(reply)) {
                Some(PreludeReply::Incomplete) => continue,
                Some(PreludeReply::Accepted(len)) if len <= reply.len() => {
                    call.skip = len;
                    call.prelude_done = true;
                }
                _ => return Next::End(Ended::Failed),
            }
        }
        if (call.complete)(&reply[call.skip..]) {
            return Next::End(Ended::Reply);
        }
    }
}

pub(crate) unsafe extern "C" fn ignore_event(_ev: *mut ngx_event_t) {}

/// Ends a call's connection (to the keepalive pool after a reusable
/// reply, else closed), tells the backoff how the peer did, and gives the
/// outcome.
pub(crate) fn settle<'c>(
    call: &'c mut CallState,
    ended: Ended,
    log: Option<crate::log::Log<'_>>,
) -> CallOutcome<'c> {
    call.ended = Some(ended);
    // `received` bytes of the reply buffer are written, and it
    // lives as long as the call's state.
    // SAFETY: for the reasons just above.
    let bytes = unsafe { core::slice::from_raw_parts(call.reply, call.received) };
    let bytes = bytes.get(call.skip..).unwrap_or_default();
    match (ended, call.keepalive) {
        (Ended::Reply, Some(spec)) if (spec.reusable)(bytes) && !call.peer.connection.is_null() => {
            let connection = core::mem::replace(&mut call.peer.connection, ptr::null_mut());
            // SAFETY: the call's open connection, given up to the pool.
            unsafe { keepalive::put(connection, call.address, &spec) };
        }
        _ => drop_connection(call),
    }
    if let Some(backoff) = call.backoff {
        match ended {
            Ended::Reply => backoff::peer_succeeded(call.address),
            Ended::Closed => backoff::peer_failed(call.address, &backoff, "closed", log),
            Ended::Timeout => backoff::peer_failed(call.address, &backoff, "timed out", log),
            Ended::Failed => backoff::peer_failed(call.address, &backoff, "error", log),
        }
    }
    match ended {
        Ended::Reply => CallOutcome::Reply(bytes),
        Ended::Closed => CallOutcome::Closed(bytes),
        Ended::Timeout => CallOutcome::Timeout,
        Ended::Failed => CallOutcome::Failed,
    }
}

/// Ends the call: closes the peer, gives the client its read handler back,
/// tells the module, and goes on as it says.
///
/// # Safety
/// `s` must be a live session with no handle alive.
unsafe fn finish<M: Registered>(s: *mut ngx_stream_session_t, ended: Ended) {
    let action = {
        // SAFETY: the caller's contract.
        let Some(session) = (unsafe { Session::from_raw(s) }) else {
            return;
        };
        let Some(mut state) = session
            .existing_layer_state::<M>()
            .and_then(|st| st.call().get())
        else {
            return;
        };
        // SAFETY: the only reference (the connection's handlers are done).
        let call = unsafe { state.as_mut() };
        call.ended = Some(ended);
        // SAFETY: the client's read event is live.
        unsafe { (*(*session.connection_raw()).read).handler = call.client_read_handler };
        let outcome = settle(call, ended, session.log());
        contain(
            M::NAME,
            session.log(),
            "call done handler",
            || TimerAction::Finalize(nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR),
            || M::on_call_done(&session, outcome),
        )
    };
    match action {
        TimerAction::Wait => {}
        // SAFETY: no handle is alive; the session is live.
        TimerAction::ResumePhases => unsafe { crate::datagram::resume::<M>(s) },
        // SAFETY: as above.
        TimerAction::Finalize(status) => unsafe {
            nginx_sys::ngx_stream_finalize_session(s, status as usize)
        },
    }
}

/// The cell that holds a session's call, in the layer's state.
pub(crate) type CallCell = Cell<Option<NonNull<CallState>>>;

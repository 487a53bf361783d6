//! Safe access to a stream session for the duration of one callback.
//!
//! # Handles are shared
//!
//! nginx may call back into a module while one of its handlers runs: a
//! handler that reads a variable ([`Session::variable`],
//! [`Session::evaluate`]) makes nginx call that variable's getter, which
//! gets a [`Session`] of its own for the same session. So the layer never
//! hands out `&mut` into a session: handlers and getters get `&Session`,
//! a module's per-session state is reached by shared reference only
//! ([`Session::ctx`]), and what changes during a session sits in `Cell`s
//! (or `OnceCell`s) of that state. Any number of handles may then be live
//! at once without aliasing a mutable borrow.
//!
//! # The session lifetime `'s`
//!
//! `'s` is the callback's lifetime, chosen by the layer's trampoline, and
//! invariant: a `Session<'s>` cannot be shortened to a `Session<'local>`.
//! Memory handed out with `'s` (the preread bytes, pool copies, variable
//! values) lives at least as long as the session itself, so it may be kept
//! across callbacks ([`Session::keep`]); nothing shorter-lived can be.

use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::mem;
use core::ptr::{self, NonNull};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nginx_sys::{
    ngx_add_timer, ngx_connection_t, ngx_del_timer, ngx_event_t, ngx_msec_t, ngx_stream_session_t,
};

use crate::conf::{ComplexValue, VariableIndex};
use crate::datagram::Held;
use crate::error::{Error, Result};
use crate::guard::contain;
use crate::log::Log;
use crate::module::{add_drop_cleanup, pool_place, Registered, StreamModule, TimerAction};

/// `fn(&'s ()) -> &'s ()` makes `'s` invariant; `*mut ()` keeps a handle
/// on the worker's thread.
type Invariant<'s> = PhantomData<(fn(&'s ()) -> &'s (), *mut ())>;

/// A live stream session, borrowed for one call from nginx.
pub struct Session<'s> {
    raw: NonNull<ngx_stream_session_t>,
    _lifetime: Invariant<'s>,
}

impl<'s> Session<'s> {
    /// # Safety
    /// `s` must be null or a live session, and stay live for `'s`.
    pub(crate) unsafe fn from_raw(s: *mut ngx_stream_session_t) -> Option<Self> {
        let raw = NonNull::new(s)?;
        // SAFETY: a live session always has a connection.
        if unsafe { raw.as_ref() }.connection.is_null() {
            return None;
        }
        Some(Session {
            raw,
            _lifetime: PhantomData,
        })
    }

    /// The raw session, for calls into nginx the layer does not wrap.
    pub fn as_ptr(&self) -> *mut ngx_stream_session_t {
        self.raw.as_ptr()
    }

    fn connection(&self) -> &'s ngx_connection_t {
        // SAFETY: non-null (from_raw); the connection outlives the session's callbacks.
        unsafe { &*self.raw.as_ref().connection }
    }

    /// The connection's log: messages get nginx's "client: ..., server: ..." suffix.
    pub fn log(&self) -> Option<Log<'s>> {
        // SAFETY: c->log lives as long as the connection.
        unsafe { Log::from_raw(self.connection().log) }
    }

    /// The connection's number (`$connection`), unique in the nginx instance.
    pub fn connection_number(&self) -> u64 {
        #[allow(clippy::unnecessary_cast)] // ngx_atomic_uint_t is usize on some targets
        let number = self.connection().number as u64;
        number
    }

    /// True for `listen ... udp` sessions.
    pub fn is_datagram(&self) -> bool {
        self.connection().type_ == libc::SOCK_DGRAM
    }

    /// The client's bytes read so far in the preread phase (empty before
    /// the first read). Never consumed: whatever proxies the session later
    /// sends them on unchanged.
    ///
    /// nginx ≥ 1.25.5 peeks (`MSG_PEEK`) where it can and empties the
    /// buffer again after each preread call; the bytes stay in the
    /// socket and in the buffer's memory, so a slice kept from an earlier
    /// call ([`Session::keep`]) still reads them.
    pub fn preread(&self) -> &'s [u8] {
        let buffer = self.connection().buffer;
        if buffer.is_null() {
            return &[];
        }
        // c->buffer is a pool buffer; pos..last are the bytes read, unconsumed,
        // and they stay in place while the session lives.
        // SAFETY: so the slice is live for 's.
        unsafe {
            let (pos, last) = ((*buffer).pos, (*buffer).last);
            if pos.is_null() || last < pos {
                return &[];
            }
            core::slice::from_raw_parts(pos, last.offset_from(pos) as usize)
        }
    }

    /// True once the preread buffer exists and has no room left: asking for
    /// more would make nginx end the session with "preread buffer full".
    pub fn preread_is_full(&self) -> bool {
        let buffer = self.connection().buffer;
        // SAFETY: a non-null c->buffer is a valid ngx_buf_t.
        !buffer.is_null() && unsafe { (*buffer).last >= (*buffer).end }
    }

    /// The size of the preread buffer (`preread_buffer_size`), once allocated.
    pub fn preread_capacity(&self) -> Option<usize> {
        let buffer = self.connection().buffer;
        if buffer.is_null() {
            return None;
        }
        // SAFETY: a non-null c->buffer is a valid ngx_buf_t with start <= end.
        Some(unsafe { (*buffer).end.offset_from((*buffer).start) } as usize)
    }

    /// Whether the client closed its side, as far as the preread phase saw.
    pub fn client_closed(&self) -> bool {
        // SAFETY: a live connection has a read event.
        let read = unsafe { &*self.connection().read };
        // When nginx peeks, a close is seen by the event method
        // (EPOLLRDHUP), never by a read that returns 0.
        #[cfg(ngx_stream_preread_peek)]
        if read.pending_eof() != 0 {
            return true;
        }
        read.eof() != 0
    }

    /// Whether the client read timed out (nginx's own `preread_timeout`,
    /// say): the session left the preread phase for want of bytes.
    pub fn read_timed_out(&self) -> bool {
        // SAFETY: a live connection has a read event.
        unsafe { (*self.connection().read).timedout() != 0 }
    }

    /// Ends the client connection from under whatever nginx is doing with
    /// it, without freeing anything: the TCP socket is shut down, so nginx's
    /// next read or write on it fails and nginx finalizes the session on its
    /// ordinary error path. For code that cannot fail the session itself (a
    /// variable getter). Datagram sessions are left alone: their descriptor
    /// may be the shared listening socket.
    pub fn abort_connection(&self) {
        let c = self.connection();
        if self.is_datagram() || c.fd < 0 {
            return;
        }
        // shutdown() only changes the socket's state; nginx still closes it.
        // SAFETY: c->fd is this connection's open socket.
        unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
    }

    /// The client address as text, as in `$remote_addr`.
    pub fn client_addr_text(&self) -> &'s [u8] {
        let text = &self.connection().addr_text;
        if text.data.is_null() {
            return &[];
        }
        // SAFETY: addr_text is set at accept time and lives in the pool.
        unsafe { core::slice::from_raw_parts(text.data, text.len) }
    }

    /// The client's IP address; None for unix-domain clients.
    pub fn client_ip(&self) -> Option<IpAddr> {
        let c = self.connection();
        if c.sockaddr.is_null() {
            return None;
        }
        // SAFETY: c->sockaddr is a sockaddr whose family field tells its real type.
        unsafe {
            match i32::from((*c.sockaddr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(c.sockaddr as *const libc::sockaddr_in);
                    Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(c.sockaddr as *const libc::sockaddr_in6);
                    Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            }
        }
    }

    /// Module `M`'s configuration for the server handling this session.
    pub fn srv_conf<M: Registered>(&self) -> &'s M::SrvConf {
        // s->srv_conf holds each module's merged server conf, made by the
        // layer for M (the Registered contract), alive for the cycle.
        // SAFETY: so the entry is a live, shared M::SrvConf.
        unsafe { &*(*self.raw.as_ref().srv_conf.add(M::ctx_index()) as *const M::SrvConf) }
    }

    /// Module `M`'s `stream {}` configuration.
    pub fn main_conf<M: Registered>(&self) -> &'s M::MainConf {
        // SAFETY: as in srv_conf, for s->main_conf.
        unsafe { &*(*self.raw.as_ref().main_conf.add(M::ctx_index()) as *const M::MainConf) }
    }

    fn ctx_slot<M: Registered>(&self) -> *mut *mut core::ffi::c_void {
        // SAFETY: s->ctx has one slot per stream module, indexed by ctx_index.
        unsafe { self.raw.as_ref().ctx.add(M::ctx_index()) }
    }

    pub(crate) fn existing_layer_state<M: Registered>(&self) -> Option<&'s SessionState<M>> {
        self.state::<M>()
    }

    pub(crate) fn layer_state<M: Registered>(
        &self,
        init: impl FnOnce() -> M::Ctx,
    ) -> Result<&'s SessionState<M>> {
        self.state_or_insert_with::<M>(init)
    }

    fn state<M: Registered>(&self) -> Option<&'s SessionState<M>> {
        // The slot is null or a SessionState<M> from state_or_insert_with,
        // in the session's pool, never borrowed mutably.
        // SAFETY: so a shared borrow for the session's life is sound.
        unsafe { (*self.ctx_slot::<M>() as *const SessionState<M>).as_ref() }
    }

    fn state_or_insert_with<M: Registered>(
        &self,
        init: impl FnOnce() -> M::Ctx,
    ) -> Result<&'s SessionState<M>> {
        if let Some(state) = self.state::<M>() {
            return Ok(state);
        }
        let value = SessionState {
            ctx: init(),
            // SAFETY: all-zero is the idle ngx_event_t nginx itself starts from.
            timer: UnsafeCell::new(unsafe { mem::zeroed() }),
            cleanup_registered: Cell::new(false),
            held: Cell::new(None),
            call: Cell::new(None),
        };
        // `init` may have made the state itself (e.g. through a variable
        // lookup): keep that one, drop ours.
        if let Some(state) = self.state::<M>() {
            return Ok(state);
        }
        let pool = self.connection().pool;
        // The drop is arranged below, only where needed.
        // SAFETY: the connection's pool lives as long as the session.
        let state = unsafe { pool_place(pool, value) }?;
        // SAFETY: just made, and nothing else has seen it yet.
        let state_ref = unsafe { state.as_ref() };
        // Only states that need a drop get a cleanup now; a timer adds one
        // when first armed. Most sessions of most modules need none.
        if mem::needs_drop::<M::Ctx>() {
            // SAFETY: `state` is an initialised state in `pool`.
            unsafe { add_drop_cleanup::<M, SessionState<M>>(pool, state) }?;
            state_ref.cleanup_registered.set(true);
        }
        // SAFETY: the slot is M's, and null (checked above).
        unsafe { *self.ctx_slot::<M>() = state.as_ptr().cast() };
        Ok(state_ref)
    }

    /// Module `M`'s state for this session, if it was created.
    pub fn ctx<M: Registered>(&self) -> Option<&'s M::Ctx> {
        self.state::<M>().map(|state| &state.ctx)
    }

    /// Module `M`'s state for this session, created with `init` on first use.
    pub fn ctx_or_insert_with<M: Registered>(
        &self,
        init: impl FnOnce() -> M::Ctx,
    ) -> Result<&'s M::Ctx> {
        self.state_or_insert_with::<M>(init).map(|state| &state.ctx)
    }

    /// Arms (or re-arms) module `M`'s timer for this session: after
    /// `after` milliseconds nginx calls `M::on_timer`. The timer is deleted
    /// with the session, so it never fires for one that has ended.
    pub fn arm_timer<M: Registered>(&self, after: ngx_msec_t) -> Result<()>
    where
        M::Ctx: Default,
    {
        let state = self.state_or_insert_with::<M>(M::Ctx::default)?;
        if !state.cleanup_registered.get() {
            let pool = self.connection().pool;
            // SAFETY: `state` is M's initialised state in the session's pool.
            unsafe { add_drop_cleanup::<M, SessionState<M>>(pool, NonNull::from(state)) }?;
            state.cleanup_registered.set(true);
        }
        let event = state.timer.get();
        // The event lives in the session's pool until the cleanup above
        // deletes it from the timer tree and the pool goes.
        // so nginx may keep its address; no Rust reference to the
        // event exists (it is only reached through the cell's pointer).
        // SAFETY: for the reasons just above.
        unsafe {
            (*event).data = self.as_ptr().cast();
            (*event).log = self.connection().log;
            (*event).handler = Some(timer_trampoline::<M>);
            ngx_add_timer(event, after);
        }
        Ok(())
    }

    /// Cancels module `M`'s timer if it is armed.
    pub fn disarm_timer<M: Registered>(&self) {
        if let Some(state) = self.state::<M>() {
            state.disarm();
        }
    }

    /// Copies `bytes` into the session's pool, e.g. to hand them to nginx as
    /// a variable value.
    pub fn pool_copy(&self, bytes: &[u8]) -> Result<&'s [u8]> {
        self.pool_copy_with(bytes.len(), |out| out.copy_from_slice(bytes))
    }

    /// Allocates `len` bytes in the session's pool and lets `fill` write them.
    pub fn pool_copy_with(&self, len: usize, fill: impl FnOnce(&mut [u8])) -> Result<&'s [u8]> {
        if len == 0 {
            return Ok(&[]);
        }
        // SAFETY: the pool is live; ngx_pnalloc returns `len` bytes or null.
        let data = unsafe { nginx_sys::ngx_pnalloc(self.connection().pool, len) } as *mut u8;
        if data.is_null() {
            return Err(Error::NoMemory);
        }
        // Zeroed first so `fill` never sees uninitialised memory.
        // SAFETY: `data` is `len` fresh bytes owned by the session's pool.
        let out = unsafe {
            data.write_bytes(0, len);
            core::slice::from_raw_parts_mut(data, len)
        };
        fill(out);
        Ok(out)
    }

    /// Keeps `bytes` for later callbacks of this session, e.g. in its
    /// state. They must live as long as the session: its preread bytes,
    /// pool copies, variable values or static data. A shorter borrow does
    /// not compile:
    ///
    /// ```compile_fail,E0597
    /// fn handler<'s>(session: &ngx_stream::Session<'s>) -> ngx_stream::SessionBytes {
    ///     let local = vec![1u8, 2, 3];
    ///     session.keep(&local)
    /// }
    /// ```
    ///
    /// nor does one shortened through the handle, since `'s` is invariant:
    ///
    /// ```compile_fail
    /// fn shorten<'s, 'l>(session: &'l ngx_stream::Session<'s>) -> &'l ngx_stream::Session<'l> {
    ///     session
    /// }
    /// ```
    pub fn keep(&self, bytes: &'s [u8]) -> SessionBytes {
        SessionBytes {
            data: bytes.as_ptr(),
            len: bytes.len(),
            connection: self.connection_number(),
        }
    }

    /// The value of a variable (`$name`); None when it has no value or its
    /// lookup failed. nginx may call a getter of this or another module
    /// meanwhile (see the module docs: handles are shared).
    pub fn variable(&self, index: VariableIndex) -> Option<&'s [u8]> {
        // nginx checks the index against the configuration's variables;
        // the value lives in the session's pool.
        // SAFETY: the session is live.
        unsafe {
            let value = nginx_sys::ngx_stream_get_indexed_variable(self.as_ptr(), index.0);
            if value.is_null() || (*value).not_found() != 0 {
                return None;
            }
            let len = (*value).len() as usize;
            if (*value).data.is_null() || len == 0 {
                return Some(&[]);
            }
            Some(core::slice::from_raw_parts((*value).data, len))
        }
    }

    /// Evaluates text with variables compiled at configuration time.
    /// [`Error::Logged`] if nginx failed to (it logs why).
    pub fn evaluate(&self, value: &ComplexValue) -> Result<&'s [u8]> {
        let mut out = nginx_sys::ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        // The value was compiled for this configuration (ComplexValue's
        // contract); the result is allocated in the session's pool.
        // SAFETY: so nginx reads a valid value and writes `out`.
        let rc = unsafe {
            nginx_sys::ngx_stream_complex_value(self.as_ptr(), value.raw.as_ptr(), &mut out)
        };
        if rc != nginx_sys::NGX_OK as nginx_sys::ngx_int_t {
            return Err(Error::Logged);
        }
        if out.data.is_null() || out.len == 0 {
            return Ok(&[]);
        }
        // SAFETY: nginx wrote `len` bytes at `data`, in the session's pool.
        Ok(unsafe { core::slice::from_raw_parts(out.data, out.len) })
    }
}

/// Bytes of a session (its preread buffer, pool, or static data), kept in
/// that session's state across callbacks: [`Session::keep`] makes one,
/// [`SessionBytes::get`] reads it back with the session's lifetime.
/// Read through another session (say, after being stashed somewhere
/// else), it is empty: the bytes may be gone with their session.
#[derive(Clone, Copy, Debug)]
pub struct SessionBytes {
    data: *const u8,
    len: usize,
    connection: u64,
}

impl Default for SessionBytes {
    fn default() -> Self {
        SessionBytes::EMPTY
    }
}

impl SessionBytes {
    /// An empty value.
    pub const EMPTY: SessionBytes = SessionBytes {
        data: ptr::null(),
        len: 0,
        connection: 0,
    };

    /// The bytes, for a callback of the session that kept them.
    pub fn get<'s>(&self, session: &Session<'s>) -> &'s [u8] {
        if self.data.is_null() || self.connection != session.connection_number() {
            return &[];
        }
        // Made by Session::keep of this very session (connection numbers
        // are unique) from memory that lives as long as the session.
        // SAFETY: so the bytes are live for 's.
        unsafe { core::slice::from_raw_parts(self.data, self.len) }
    }

    /// True if there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the layer keeps in a session's context slot for module `M`.
pub(crate) struct SessionState<M: StreamModule> {
    ctx: M::Ctx,
    timer: UnsafeCell<ngx_event_t>,
    /// Whether the pool drops this state (and so deletes the timer).
    cleanup_registered: Cell<bool>,
    /// A datagram session held across datagrams ([`crate::datagram`]).
    held: Cell<Option<NonNull<Held>>>,
    /// A call under way or done ([`crate::call`]).
    call: crate::call::CallCell,
}

impl<M: StreamModule> SessionState<M> {
    pub(crate) fn held(&self) -> &Cell<Option<NonNull<Held>>> {
        &self.held
    }

    pub(crate) fn call(&self) -> &crate::call::CallCell {
        &self.call
    }

    fn disarm(&self) {
        let event = self.timer.get();
        // The event is only reached through this pointer.
        // SAFETY: timer_set means nginx has it in its timer tree.
        unsafe {
            if (*event).timer_set() != 0 {
                ngx_del_timer(event);
            }
        }
    }
}

impl<M: StreamModule> Drop for SessionState<M> {
    fn drop(&mut self) {
        self.disarm();
    }
}

unsafe extern "C" fn timer_trampoline<M: Registered>(ev: *mut ngx_event_t) {
    // The timer is deleted when the session's pool goes.
    // SAFETY: so the event we armed carries a live session.
    let s = unsafe { (*ev).data } as *mut ngx_stream_session_t;
    let action = {
        // SAFETY: as above; the handle ends with this block.
        let Some(session) = (unsafe { Session::from_raw(s) }) else {
            return;
        };
        contain(
            M::NAME,
            session.log(),
            "timer handler",
            || TimerAction::Finalize(nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR),
            || M::on_timer(&session),
        )
    };
    match action {
        TimerAction::Wait => {}
        // SAFETY: the session is live (above) and no handle of it remains.
        TimerAction::ResumePhases => unsafe { crate::datagram::resume::<M>(s) },
        // SAFETY: as above.
        TimerAction::Finalize(status) => unsafe {
            nginx_sys::ngx_stream_finalize_session(s, status as usize)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session as nginx lays it out, with only what the accessors read.
    struct Fake {
        session: Box<ngx_stream_session_t>,
        _connection: Box<ngx_connection_t>,
        _buffer: Box<nginx_sys::ngx_buf_t>,
        _read: Box<ngx_event_t>,
        _addr: Box<libc::sockaddr_in>,
        _bytes: Vec<u8>,
    }

    fn fake(number: u64, bytes: &[u8], capacity: usize) -> Fake {
        let mut storage = bytes.to_vec();
        storage.resize(capacity, 0);
        // SAFETY: all-zero is what nginx's pcalloc starts from.
        let mut buffer: Box<nginx_sys::ngx_buf_t> = Box::new(unsafe { mem::zeroed() });
        // SAFETY: as above.
        let mut read: Box<ngx_event_t> = Box::new(unsafe { mem::zeroed() });
        // SAFETY: as above.
        let mut connection: Box<ngx_connection_t> = Box::new(unsafe { mem::zeroed() });
        let start = storage.as_mut_ptr();
        buffer.start = start;
        buffer.pos = start;
        // SAFETY: both within `storage`.
        buffer.last = unsafe { start.add(bytes.len()) };
        // SAFETY: one past the end of `storage`.
        buffer.end = unsafe { start.add(capacity) };
        read.set_eof(0);
        let mut addr: Box<libc::sockaddr_in> = Box::new(libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes([192, 0, 2, 7]).to_be(),
            },
            sin_zero: [0; 8],
        });
        connection.number = number as _;
        connection.buffer = &mut *buffer;
        connection.read = &mut *read;
        connection.sockaddr = (&mut *addr as *mut libc::sockaddr_in).cast();
        connection.type_ = libc::SOCK_STREAM;
        // SAFETY: as above.
        let mut session: Box<ngx_stream_session_t> = Box::new(unsafe { mem::zeroed() });
        session.connection = &mut *connection;
        Fake {
            session,
            _connection: connection,
            _buffer: buffer,
            _read: read,
            _addr: addr,
            _bytes: storage,
        }
    }

    fn with_session<R>(fake: &mut Fake, f: impl for<'s> FnOnce(&Session<'s>) -> R) -> R {
        // SAFETY: the fake outlives the call and has a connection.
        let session = unsafe { Session::from_raw(&mut *fake.session) }.expect("has a connection");
        f(&session)
    }

    #[test]
    fn preread_bytes_and_buffer_state() {
        let mut partial = fake(1, b"\x16\x03\x01", 8);
        with_session(&mut partial, |s| {
            assert_eq!(s.preread(), b"\x16\x03\x01");
            assert!(!s.preread_is_full());
            assert_eq!(s.preread_capacity(), Some(8));
            assert!(!s.client_closed());
            assert!(!s.is_datagram());
        });
        let mut full = fake(2, b"12345678", 8);
        with_session(&mut full, |s| assert!(s.preread_is_full()));
    }

    #[test]
    fn client_address() {
        let mut fake = fake(3, b"", 4);
        with_session(&mut fake, |s| {
            assert_eq!(s.client_ip(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))));
        });
    }

    #[test]
    fn kept_bytes_read_back_only_in_their_session() {
        let mut first = fake(10, b"hello", 16);
        let kept = with_session(&mut first, |s| {
            let kept = s.keep(s.preread());
            assert_eq!(kept.get(s), b"hello");
            kept
        });
        // Another session (another connection number) never reads them.
        let mut second = fake(11, b"", 16);
        with_session(&mut second, |s| assert_eq!(kept.get(s), b""));
        // The session that kept them still does.
        with_session(&mut first, |s| assert_eq!(kept.get(s), b"hello"));
        assert!(SessionBytes::EMPTY.is_empty());
    }

    #[test]
    fn no_session_without_a_connection() {
        // SAFETY: all-zero, so with a null connection.
        let mut session: ngx_stream_session_t = unsafe { mem::zeroed() };
        // SAFETY: the pointer is live for the call.
        assert!(unsafe { Session::from_raw(&mut session) }.is_none());
        // SAFETY: null is allowed.
        assert!(unsafe { Session::from_raw(ptr::null_mut()) }.is_none());
    }
}

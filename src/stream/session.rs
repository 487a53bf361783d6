//! Safe access to a stream session for the duration of one callback.

use core::marker::PhantomData;
use core::ptr::NonNull;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nginx_sys::{ngx_connection_t, ngx_pool_t, ngx_stream_session_t};

use super::log::Log;
use super::module::{ctx_slot, pool_allocate, SessionCtxModule, SrvConfModule};

/// A live stream session, borrowed for one call from nginx.
///
/// `'s` is the callback's lifetime; memory handed out with it (the preread
/// bytes, pool copies) lives at least as long as the session itself.
pub struct Session<'s> {
    raw: NonNull<ngx_stream_session_t>,
    _call: PhantomData<&'s mut ngx_stream_session_t>,
}

impl<'s> Session<'s> {
    /// # Safety
    /// `s` must be a live session (or null), not otherwise borrowed from Rust
    /// for `'s`.
    pub unsafe fn from_raw(s: *mut ngx_stream_session_t) -> Option<Self> {
        let raw = NonNull::new(s)?;
        // SAFETY: a live session always has a connection.
        if unsafe { raw.as_ref() }.connection.is_null() {
            return None;
        }
        Some(Session {
            raw,
            _call: PhantomData,
        })
    }

    /// The raw session, for calls into nginx.
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

    /// The connection's pool, destroyed when the session ends.
    pub fn pool(&self) -> *mut ngx_pool_t {
        self.connection().pool
    }

    /// True for `listen ... udp` sessions.
    pub fn is_datagram(&self) -> bool {
        self.connection().type_ == libc::SOCK_DGRAM
    }

    /// The client's bytes read so far in the preread phase (empty before the
    /// first read). Never consumed: whatever proxies the session later sends
    /// them on unchanged.
    pub fn preread(&self) -> &'s [u8] {
        let buffer = self.connection().buffer;
        if buffer.is_null() {
            return &[];
        }
        // c->buffer is a pool buffer; pos..last are the bytes read, unconsumed.
        // SAFETY: they stay in place while the session lives.
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

    /// Whether the client closed its side (seen by the last read).
    pub fn client_closed(&self) -> bool {
        // SAFETY: a live connection has a read event.
        unsafe { (*self.connection().read).eof() != 0 }
    }

    /// Ends the client connection from under whatever nginx is doing with
    /// it, without freeing anything: the TCP socket is shut down, so nginx's
    /// next read or write on it fails and nginx finalizes the session on its
    /// ordinary error path. Used after a contained panic in code that cannot
    /// fail the session itself (a variable getter). Datagram sessions are
    /// left alone: their descriptor may be the shared listening socket.
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
    pub fn srv_conf<M: SrvConfModule>(&self) -> &'s M::SrvConf {
        // s->srv_conf holds each module's merged server conf, alive for the cycle.
        // SAFETY: M's entry was created by create_srv_conf::<M>.
        unsafe { &*(*self.raw.as_ref().srv_conf.add(M::ctx_index()) as *const M::SrvConf) }
    }

    /// Module `M`'s state for this session, if it was created.
    pub fn ctx<M: SessionCtxModule>(&self) -> Option<&M::Ctx> {
        // SAFETY: the slot is null or an M::Ctx from ctx_or_insert_with::<M>.
        unsafe { (*ctx_slot::<M>(self.raw.as_ptr()) as *const M::Ctx).as_ref() }
    }

    /// Module `M`'s state for this session, created with `init` on first use.
    /// None if the pool is out of memory.
    pub fn ctx_or_insert_with<M: SessionCtxModule>(
        &mut self,
        init: impl FnOnce() -> M::Ctx,
    ) -> Option<&mut M::Ctx> {
        // SAFETY: as in ctx(); `&mut self` makes this the only Rust borrow.
        unsafe {
            let slot = ctx_slot::<M>(self.raw.as_ptr());
            if (*slot).is_null() {
                let ctx = pool_allocate(self.pool(), init());
                if ctx.is_null() {
                    return None;
                }
                *slot = ctx.cast();
            }
            (*slot as *mut M::Ctx).as_mut()
        }
    }

    /// Copies `bytes` into the session's pool, e.g. to hand them to nginx as
    /// a variable value. None if the pool is out of memory.
    pub fn pool_copy(&self, bytes: &[u8]) -> Option<&'s [u8]> {
        self.pool_copy_with(bytes.len(), |out| out.copy_from_slice(bytes))
    }

    /// Allocates `len` bytes in the session's pool and lets `fill` write them.
    pub fn pool_copy_with(&self, len: usize, fill: impl FnOnce(&mut [u8])) -> Option<&'s [u8]> {
        if len == 0 {
            return Some(&[]);
        }
        // SAFETY: the pool is live; ngx_pnalloc returns `len` bytes or null.
        let data = unsafe { nginx_sys::ngx_pnalloc(self.pool(), len) } as *mut u8;
        if data.is_null() {
            return None;
        }
        // Zeroed first so `fill` never sees uninitialised memory.
        // SAFETY: `data` is `len` fresh bytes owned by the session's pool.
        let out = unsafe {
            data.write_bytes(0, len);
            core::slice::from_raw_parts_mut(data, len)
        };
        fill(out);
        Some(out)
    }
}

/// Bytes in a session's pool (or its preread buffer), kept in that
/// session's context across callbacks. Only a [`Session`] can make one, and
/// only the same session's callbacks can read it back, with their lifetime.
#[derive(Clone, Copy, Debug)]
pub struct SessionBytes {
    data: *const u8,
    len: usize,
}

impl Default for SessionBytes {
    fn default() -> Self {
        SessionBytes::EMPTY
    }
}

impl SessionBytes {
    /// An empty value.
    pub const EMPTY: SessionBytes = SessionBytes {
        data: core::ptr::null(),
        len: 0,
    };

    /// The bytes, for a callback of the session that made them.
    pub fn get<'s>(&self, _session: &Session<'s>) -> &'s [u8] {
        if self.data.is_null() {
            return &[];
        }
        // Made by Session::keep from memory that lives until the session's
        // pool goes; the context holding this value lives in that same pool.
        // SAFETY: so the bytes outlive every read of this value.
        unsafe { core::slice::from_raw_parts(self.data, self.len) }
    }
}

impl<'s> Session<'s> {
    /// Keeps `bytes` for later callbacks of this session. They must be this
    /// session's preread bytes or pool memory (what [`Session::preread`] and
    /// [`Session::pool_copy`] return): anything with lifetime `'s` is.
    pub fn keep(&self, bytes: &'s [u8]) -> SessionBytes {
        SessionBytes {
            data: bytes.as_ptr(),
            len: bytes.len(),
        }
    }
}

impl<'s> Session<'s> {
    /// The value of the variable with `index` (from
    /// `ngx_stream_get_variable_index` at configuration time); None when it
    /// has no value or its lookup failed.
    pub fn variable(&self, index: usize) -> Option<&'s [u8]> {
        // The value lives in the session's pool.
        // SAFETY: the session is live; `index` comes from this configuration.
        unsafe {
            let value = nginx_sys::ngx_stream_get_indexed_variable(self.as_ptr(), index);
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

    /// Evaluates a complex value compiled at configuration time (e.g.
    /// `"$binary_remote_addr:$sift_ja4"`); None if evaluation failed.
    ///
    /// # Safety
    /// `value` must be a complex value compiled for this session's
    /// configuration cycle.
    pub unsafe fn complex_value(
        &self,
        value: *mut nginx_sys::ngx_stream_complex_value_t,
    ) -> Option<&'s [u8]> {
        let mut out = nginx_sys::ngx_str_t {
            len: 0,
            data: core::ptr::null_mut(),
        };
        // SAFETY: per the caller; the result is allocated in the session pool.
        let rc = unsafe { nginx_sys::ngx_stream_complex_value(self.as_ptr(), value, &mut out) };
        if rc != nginx_sys::NGX_OK as nginx_sys::ngx_int_t {
            return None;
        }
        if out.data.is_null() || out.len == 0 {
            return Some(&[]);
        }
        // SAFETY: nginx wrote `len` bytes at `data`, in the session's pool.
        Some(unsafe { core::slice::from_raw_parts(out.data, out.len) })
    }
}

//! A small http side for a module that also serves a few locations of its
//! own (a status page, an API) from the same shared object: an http
//! module with a location configuration, location directives, and content
//! handlers that answer a request with one complete response. A handler
//! that declares [`ContentHandler::MAX_BODY`] gets the request body whole,
//! read by nginx's own body reader; any other handler's body is discarded.
//!
//! `ngx` 0.5.1 has an http module trait, but its default configuration
//! callbacks do not contain panics and allocate through a `Pool` that does
//! not check for null; this is the same contract as the stream side
//! ([`StreamModule`](crate::StreamModule)) instead.

use core::ffi::{c_char, c_void, CStr};
use core::marker::PhantomData;
use core::mem;
use core::ptr::{self, NonNull};

use nginx_sys::{
    ngx_buf_t, ngx_chain_t, ngx_command_t, ngx_conf_t, ngx_http_conf_ctx_t,
    ngx_http_core_loc_conf_t, ngx_http_module_t, ngx_http_request_t, ngx_int_t, ngx_module_t,
    ngx_str_t, ngx_uint_t, NGX_ERROR, NGX_OK,
};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};

use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::guard::contain;
use crate::log::{conf_log_handle, log_error, Log};
use crate::module::pool_place;

/// An http module written in Rust: its name and location configuration.
pub trait HttpModule: Sized + 'static {
    /// Names the module in the lines the layer logs on its behalf.
    const NAME: &'static str;
    /// The per-location configuration, created at every level (`http`,
    /// `server`, `location`) and merged downwards. Plain data: nginx's pool
    /// never drops it.
    type LocConf: Default + MergeLocConf + 'static;
}

/// How a location configuration inherits from the enclosing level.
pub trait MergeLocConf {
    /// Fills unset fields from `prev`. An [`Error::Invalid`] fails the
    /// configuration (logged at `emerg`).
    fn merge(&mut self, prev: &Self) -> Result<()>;
}

/// Ties an [`HttpModule`] to its exported `ngx_module_t`.
///
/// # Safety
/// [`HttpRegistered::module`] must return the module's own `ngx_module_t`,
/// whose `ctx` is [`http_module_ctx::<Self>`]. Use
/// [`http_module!`](crate::http_module).
pub unsafe trait HttpRegistered: HttpModule {
    /// The module's `ngx_module_t`.
    fn module() -> *const ngx_module_t;

    /// The module's index into http configuration arrays.
    fn ctx_index() -> usize {
        // module() is our registered, static ngx_module_t; nginx
        // writes ctx_index once, before any of our handlers run.
        // SAFETY: for the reasons just above.
        unsafe { (*Self::module()).ctx_index }
    }
}

/// The `ngx_http_module_t` for `M`.
pub const fn http_module_ctx<M: HttpRegistered>() -> ngx_http_module_t {
    ngx_http_module_t {
        preconfiguration: None,
        postconfiguration: None,
        create_main_conf: None,
        init_main_conf: None,
        create_srv_conf: None,
        merge_srv_conf: None,
        create_loc_conf: Some(create_loc_conf::<M>),
        merge_loc_conf: Some(merge_loc_conf::<M>),
    }
}

/// Exports an http module: `http_module!(ngx_http_mine_module, Mine, COMMANDS);`
/// defines the `ngx_module_t` and implements [`HttpRegistered`] for `Mine`.
/// List it in `ngx::ngx_modules!` beside the stream module.
#[macro_export]
macro_rules! http_module {
    ($symbol:ident, $module:ty, $commands:expr) => {
        /// The http module nginx loads.
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static mut $symbol: $crate::ffi::ngx_module_t = $crate::ffi::ngx_module_t {
            ctx: {
                static CTX: $crate::ffi::ngx_http_module_t =
                    $crate::http::http_module_ctx::<$module>();
                &raw const CTX as *mut ::core::ffi::c_void
            },
            commands: $commands.as_ptr(),
            type_: $crate::ffi::NGX_HTTP_MODULE as $crate::ffi::ngx_uint_t,
            ..$crate::ffi::ngx_module_t::default()
        };

        // SAFETY: `$symbol` is the module exported just above, whose ctx is
        // http_module_ctx::<$module>().
        unsafe impl $crate::http::HttpRegistered for $module {
            fn module() -> *const $crate::ffi::ngx_module_t {
                &raw const $symbol
            }
        }
    };
}

unsafe extern "C" fn create_loc_conf<M: HttpRegistered>(cf: *mut ngx_conf_t) -> *mut c_void {
    const { assert!(!mem::needs_drop::<M::LocConf>()) };
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(M::NAME, log, "create_loc_conf", ptr::null_mut, || {
        // cf->pool lives as long as the configuration cycle; the
        // value needs no drop (asserted above).
        // SAFETY: for the reasons just above.
        unsafe { pool_place((*cf).pool, M::LocConf::default()) }
            .map_or(ptr::null_mut(), |conf| conf.as_ptr().cast())
    })
}

unsafe extern "C" fn merge_loc_conf<M: HttpRegistered>(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        M::NAME,
        log,
        "merge_loc_conf",
        || NGX_CONF_ERROR,
        || {
            // Both were made by create_loc_conf::<M> and are distinct.
            // SAFETY: so they are live M::LocConf values no one else borrows.
            let (prev, conf) = unsafe {
                (
                    &*(prev as *const M::LocConf),
                    &mut *(conf as *mut M::LocConf),
                )
            };
            match conf.merge(prev) {
                Ok(()) => NGX_CONF_OK,
                Err(error) => {
                    if let Some(message) = error.message() {
                        log_error(
                            nginx_sys::NGX_LOG_EMERG as usize,
                            log,
                            format_args!("{message}"),
                        );
                    }
                    NGX_CONF_ERROR
                }
            }
        },
    )
}

/// Allowed in `location {}` blocks.
pub const LOCATION: ngx_uint_t = nginx_sys::NGX_HTTP_LOC_CONF as ngx_uint_t;

/// A directive that writes to its module's location configuration.
pub trait LocationDirective: 'static {
    /// The module the directive belongs to.
    type Module: HttpRegistered;
    /// Parses the directive; an error is logged at `emerg` with the
    /// directive's file and line.
    fn set(cf: &Conf<'_>, conf: &mut <Self::Module as HttpModule>::LocConf) -> Result<()>;
}

/// A location directive handled by `D`; `type_` combines contexts and
/// argument counts (`LOCATION | command::NOARGS | command::TAKE1`).
pub const fn location_directive<D: LocationDirective>(
    text: &'static CStr,
    type_: ngx_uint_t,
) -> ngx_command_t {
    ngx_command_t {
        name: ngx_str_t {
            len: text.count_bytes(),
            data: text.as_ptr() as *mut u8,
        },
        type_,
        set: Some(location_trampoline::<D>),
        conf: mem::offset_of!(ngx_http_conf_ctx_t, loc_conf) as ngx_uint_t,
        offset: 0,
        post: ptr::null_mut(),
    }
}

unsafe extern "C" fn location_trampoline<D: LocationDirective>(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes a live conf to directive handlers.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        D::Module::NAME,
        log,
        "directive handler",
        || NGX_CONF_ERROR,
        || {
            // The command's conf offset is the location level, where the
            // module's LocConf was made by create_loc_conf.
            // SAFETY: so `conf` is null or a live LocConf no one else borrows.
            let conf = unsafe { (conf as *mut <D::Module as HttpModule>::LocConf).as_mut() };
            // SAFETY: as above, for this call only.
            let (Some(args), Some(conf)) = (unsafe { Conf::from_raw(cf) }, conf) else {
                return NGX_CONF_ERROR;
            };
            match D::set(&args, conf) {
                Ok(()) => NGX_CONF_OK,
                Err(error) => {
                    args.emerg(&error);
                    NGX_CONF_ERROR
                }
            }
        },
    )
}

/// A location's content handler: one request in, one complete response out.
pub trait ContentHandler: 'static {
    /// The module the handler belongs to.
    type Module: HttpRegistered;
    /// Names the handler in logs.
    const NAME: &'static str;
    /// The largest request body the handler reads, in bytes; `0` (the
    /// default) discards any body. Bodies are read into one memory buffer,
    /// so the location's `client_body_buffer_size` caps them too: a body
    /// over the smaller of the two is answered with
    /// [`ContentHandler::too_large`] and the handler is not called.
    const MAX_BODY: usize = 0;
    /// Answers one request.
    fn handle(request: &Request<'_>) -> Response;
    /// The answer to a body over `limit`: [`ContentHandler::MAX_BODY`] or
    /// the location's `client_body_buffer_size`, whichever is smaller.
    fn too_large(limit: usize) -> Response {
        Response::new(
            413,
            "text/plain",
            format!("413 request body over {limit} bytes\n").into_bytes(),
        )
    }
}

/// What a content handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code (200, 404, ...).
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body, sent whole with its `Content-Length`.
    pub body: Vec<u8>,
    /// More header lines (`Allow` with a 405, ...), as given.
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    /// A response with no header lines beyond nginx's own.
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type,
            body,
            headers: Vec::new(),
        }
    }

    /// Adds a header line.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl Conf<'_> {
    /// Makes `H` the content handler of the location being parsed (from a
    /// [`LocationDirective`], as `stub_status` does).
    pub fn set_content_handler<H: ContentHandler>(&self) -> Result<()> {
        // Inside an http block cf->ctx is an ngx_http_conf_ctx_t whose
        // loc_conf array has the core module's location conf.
        // SAFETY: directive handlers of location directives run there.
        unsafe {
            let ctx = ((*self.as_ptr()).ctx as *mut ngx_http_conf_ctx_t)
                .as_ref()
                .ok_or("not in an http block")?;
            let index = nginx_sys::ngx_http_core_module.ctx_index;
            let clcf = (*ctx.loc_conf.add(index) as *mut ngx_http_core_loc_conf_t)
                .as_mut()
                .ok_or(Error::from("no http core location configuration"))?;
            clcf.handler = Some(content_trampoline::<H>);
        }
        Ok(())
    }
}

/// A request while its content handler runs.
pub struct Request<'r> {
    raw: NonNull<ngx_http_request_t>,
    body: &'r [u8],
    _lifetime: PhantomData<&'r ngx_http_request_t>,
}

fn str_bytes(value: &ngx_str_t) -> &[u8] {
    if value.data.is_null() {
        return &[];
    }
    // SAFETY: nginx's strings are len bytes at data, in the request's pool.
    unsafe { core::slice::from_raw_parts(value.data, value.len) }
}

impl<'r> Request<'r> {
    fn raw(&self) -> &'r ngx_http_request_t {
        // SAFETY: live for the handler call ('r).
        unsafe { &*self.raw.as_ptr() }
    }

    /// The method as sent (`GET`, `POST`, ...).
    pub fn method(&self) -> &'r [u8] {
        str_bytes(&self.raw().method_name)
    }

    /// The path, percent-decoded and normalised by nginx (`$uri`).
    pub fn uri(&self) -> &'r [u8] {
        str_bytes(&self.raw().uri)
    }

    /// The query string, undecoded (`$args`).
    pub fn args(&self) -> &'r [u8] {
        str_bytes(&self.raw().args)
    }

    /// The request body, whole (empty when there is none, or when the
    /// handler's [`ContentHandler::MAX_BODY`] is `0`).
    pub fn body(&self) -> &'r [u8] {
        self.body
    }

    /// The request's log.
    pub fn log(&self) -> Option<Log<'r>> {
        // SAFETY: a request's connection and its log live as long as it.
        unsafe { Log::from_raw((*self.raw().connection).log) }
    }

    /// `M`'s configuration of the request's location.
    pub fn loc_conf<M: HttpRegistered>(&self) -> Option<&'r M::LocConf> {
        let loc_conf = self.raw().loc_conf;
        if loc_conf.is_null() {
            return None;
        }
        // loc_conf has an entry per http module, ours made by create_loc_conf::<M>.
        // SAFETY: so it is null or a live M::LocConf for the request's life.
        unsafe { (*loc_conf.add(M::ctx_index()) as *const M::LocConf).as_ref() }
    }

    /// The name of the request's location as written (`/sift/`, or a
    /// regex location's pattern), for paths below a prefix.
    pub fn location_name(&self) -> &'r [u8] {
        let loc_conf = self.raw().loc_conf;
        if loc_conf.is_null() {
            return &[];
        }
        // loc_conf holds every http module's location conf, the core
        // module's (at its ctx_index, set once at startup) an
        // ngx_http_core_loc_conf_t whose name lives in the configuration's
        // pool, longer than the request.
        // SAFETY: so it is null or live for 'r.
        unsafe {
            let index = nginx_sys::ngx_http_core_module.ctx_index;
            (*loc_conf.add(index) as *const ngx_http_core_loc_conf_t)
                .as_ref()
                .map_or(&[], |clcf| str_bytes(&clcf.name))
        }
    }
}

unsafe extern "C" fn content_trampoline<H: ContentHandler>(
    r: *mut ngx_http_request_t,
) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a live request.
    let log = unsafe { Log::from_raw((*(*r).connection).log) };
    contain(
        H::Module::NAME,
        log,
        H::NAME,
        || nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
        || {
            // SAFETY: the request is live for the handler call.
            unsafe { content::<H>(r) }
        },
    )
}

/// # Safety
/// `r` is the live request nginx passed to the content handler.
unsafe fn content<H: ContentHandler>(r: *mut ngx_http_request_t) -> ngx_int_t {
    if H::MAX_BODY == 0 {
        // The handler answers from what the request line says: the body,
        // if any, is read and dropped (as nginx's stub_status does).
        // SAFETY: a live request.
        let rc = unsafe { nginx_sys::ngx_http_discard_request_body(r) };
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        // SAFETY: a live request, whose header has not been sent.
        return unsafe { answer::<H>(r, &[]) };
    }
    // SAFETY: a live request.
    let limit = unsafe { body_limit(r, H::MAX_BODY) };
    // SAFETY: a live request.
    let declared = unsafe { (*r).headers_in.content_length_n };
    if declared > limit as nginx_sys::off_t {
        // Refused before a byte of it is buffered.
        // SAFETY: a live request.
        let rc = unsafe { nginx_sys::ngx_http_discard_request_body(r) };
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        // SAFETY: a live request, whose header has not been sent.
        return unsafe { send(r, &H::too_large(limit)) };
    }
    // One buffer in memory when the body fits client_body_buffer_size;
    // a body nginx spills to a file is refused in body_read.
    // SAFETY: a live request.
    unsafe { (*r).set_request_body_in_single_buf(1) };
    // a live request; body_read::<H> is called once the body is
    // whole (possibly before this returns), with r->main->count raised.
    // SAFETY: for the reasons just above.
    let rc = unsafe { nginx_sys::ngx_http_read_client_request_body(r, Some(body_read::<H>)) };
    if rc >= nginx_sys::NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
        return rc;
    }
    // body_read finalizes the request.
    nginx_sys::NGX_DONE as ngx_int_t
}

/// Calls the handler with `body` and sends its response.
///
/// # Safety
/// `r` is a live request whose header has not been sent.
unsafe fn answer<H: ContentHandler>(r: *mut ngx_http_request_t, body: &[u8]) -> ngx_int_t {
    let request = Request {
        raw: NonNull::new(r).expect("nginx passes a request"),
        body,
        _lifetime: PhantomData,
    };
    let response = H::handle(&request);
    // SAFETY: the request is live, its header not sent.
    unsafe { send(r, &response) }
}

/// nginx's body reader calls this once the whole body is read.
unsafe extern "C" fn body_read<H: ContentHandler>(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls body handlers with a live request.
    let log = unsafe { Log::from_raw((*(*r).connection).log) };
    let rc = contain(
        H::Module::NAME,
        log,
        H::NAME,
        || nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
        || {
            // SAFETY: the request is live; nginx's body reader filled
            // r->request_body (or left it null for no body).
            // SAFETY: as above.
            let limit = unsafe { body_limit(r, H::MAX_BODY) };
            // SAFETY: as above.
            match unsafe { body_bytes(r, limit) } {
                // SAFETY: the request is live, its header not sent.
                Some(body) => unsafe { answer::<H>(r, &body) },
                // SAFETY: as above.
                None => unsafe { send(r, &H::too_large(limit)) },
            }
        },
    );
    // Balances the count ngx_http_read_client_request_body raised.
    // SAFETY: a live request, finalized once here.
    unsafe { nginx_sys::ngx_http_finalize_request(r, rc) };
}

/// The largest body read for `r`: `max`, or the location's
/// `client_body_buffer_size` when smaller (a larger body goes to a file).
///
/// # Safety
/// `r` is a live request.
unsafe fn body_limit(r: *mut ngx_http_request_t, max: usize) -> usize {
    // a live request's loc_conf has an entry per http module, the
    // core module's an ngx_http_core_loc_conf_t.
    // SAFETY: for the reasons just above.
    let clcf = unsafe {
        let index = nginx_sys::ngx_http_core_module.ctx_index;
        (*(*r).loc_conf.add(index) as *const ngx_http_core_loc_conf_t).as_ref()
    };
    clcf.map_or(max, |clcf| max.min(clcf.client_body_buffer_size))
}

/// The body's bytes, or `None` when it is over `max` or (part of it) in a
/// temporary file.
///
/// # Safety
/// `r` is a live request whose body nginx has read.
unsafe fn body_bytes(r: *mut ngx_http_request_t, max: usize) -> Option<Vec<u8>> {
    // SAFETY: a live request; request_body is null or nginx's.
    let Some(request_body) = (unsafe { (*r).request_body.as_ref() }) else {
        return Some(Vec::new());
    };
    let mut body = Vec::new();
    let mut link = request_body.bufs;
    // SAFETY: nginx's chain links and buffers, live with the request.
    while let Some(chain) = unsafe { link.as_ref() } {
        // SAFETY: as above.
        if let Some(buf) = unsafe { chain.buf.as_ref() } {
            if buf.in_file() != 0 {
                return None;
            }
            let len = (buf.last as usize).saturating_sub(buf.pos as usize);
            if body.len() + len > max {
                return None;
            }
            if len > 0 {
                // SAFETY: a memory buffer holds len bytes at pos.
                body.extend_from_slice(unsafe { core::slice::from_raw_parts(buf.pos, len) });
            }
        }
        link = chain.next;
    }
    Some(body)
}

/// Adds `name: value` to the response's header lines; the value is
/// copied into the request's pool (the header is written later).
///
/// # Safety
/// `r` is a live request whose header has not been sent.
unsafe fn add_header(r: *mut ngx_http_request_t, name: &'static str, value: &[u8]) -> Option<()> {
    // SAFETY: the request's pool is live.
    let copy = unsafe { nginx_sys::ngx_pnalloc((*r).pool, value.len()) } as *mut u8;
    if copy.is_null() && !value.is_empty() {
        return None;
    }
    // the request is live; its headers_out.headers list was made
    // by nginx for this request.
    // SAFETY: for the reasons just above.
    let elt = unsafe { nginx_sys::ngx_list_push(&mut (*r).headers_out.headers) }
        as *mut nginx_sys::ngx_table_elt_t;
    if elt.is_null() {
        return None;
    }
    // A fresh element is uninitialised: zeroed first, every field nginx
    // reads (lowcase_key, and `next` on nginx >= 1.23) is null; hash 1
    // marks it live. The copy has room for value.len() bytes.
    // SAFETY: for the reasons just above.
    unsafe {
        ptr::write(elt, mem::zeroed());
        ptr::copy_nonoverlapping(value.as_ptr(), copy, value.len());
        (*elt).hash = 1;
        (*elt).key = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        (*elt).value = ngx_str_t {
            len: value.len(),
            data: copy,
        };
    }
    Some(())
}

/// Sends `response` whole: status, headers, body.
///
/// # Safety
/// `r` is a live request whose header has not been sent.
unsafe fn send(r: *mut ngx_http_request_t, response: &Response) -> ngx_int_t {
    let len = response.body.len();
    // SAFETY: the request is live; the content type is static.
    unsafe {
        let out = &mut (*r).headers_out;
        out.status = response.status as ngx_uint_t;
        out.content_type_len = response.content_type.len();
        out.content_type = ngx_str_t {
            len: response.content_type.len(),
            data: response.content_type.as_ptr() as *mut u8,
        };
        out.content_type_lowcase = ptr::null_mut();
        out.content_length_n = len as nginx_sys::off_t;
    }
    for (name, value) in &response.headers {
        // SAFETY: the request is live and its header not sent.
        if unsafe { add_header(r, name, value.as_bytes()) }.is_none() {
            return NGX_ERROR as ngx_int_t;
        }
    }
    // SAFETY: the request is live, its header filled.
    let rc = unsafe { nginx_sys::ngx_http_send_header(r) };
    // nginx's header filter marks HEAD requests header-only; the method is
    // checked too, so no nginx version can send a body to a HEAD.
    // SAFETY: the request is live.
    let header_only =
        // SAFETY: see the comment above this statement.
        unsafe { (*r).header_only() != 0 || (*r).method == nginx_sys::NGX_HTTP_HEAD as ngx_uint_t };
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || header_only {
        return rc;
    }
    if len == 0 {
        // SAFETY: the request is live.
        return unsafe {
            nginx_sys::ngx_http_send_special(r, nginx_sys::NGX_HTTP_LAST as ngx_uint_t)
        };
    }
    // SAFETY: the request's pool is live.
    let buf: *mut ngx_buf_t = unsafe { nginx_sys::ngx_create_temp_buf((*r).pool, len) };
    // SAFETY: null or a fresh buffer of `len` bytes, ours alone.
    let Some(buf) = (unsafe { buf.as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY: the buffer has room for len bytes at pos; r and r->main are live.
    unsafe {
        ptr::copy_nonoverlapping(response.body.as_ptr(), buf.pos, len);
        buf.last = buf.pos.add(len);
        buf.set_last_buf(u32::from(ptr::eq(r, (*r).main)));
        buf.set_last_in_chain(1);
    }
    let mut out = ngx_chain_t {
        buf,
        next: ptr::null_mut(),
    };
    // SAFETY: the request is live; nginx copies the chain link it keeps.
    unsafe { nginx_sys::ngx_http_output_filter(r, &mut out) }
}

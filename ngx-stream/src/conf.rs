//! The configuration being parsed: directive arguments, nginx-style
//! messages, and values compiled from arguments (variable indexes, complex
//! values, sizes, times).

use core::fmt;
use core::marker::PhantomData;
use core::mem;
use core::ptr::NonNull;

use nginx_sys::{ngx_conf_t, ngx_str_t, ngx_stream_complex_value_t, ngx_uint_t};
use nginx_sys::{NGX_ERROR, NGX_LOG_EMERG, NGX_LOG_WARN, NGX_OK};

use crate::error::{Error, Result};
use crate::log::conf_log;

/// nginx's configuration while it is parsed, for one call of a directive
/// handler or a configuration hook.
pub struct Conf<'a> {
    raw: NonNull<ngx_conf_t>,
    _call: PhantomData<&'a mut ngx_conf_t>,
}

/// A variable, found by name at configuration time
/// ([`Conf::variable_index`]), read per session with
/// [`Session::variable`](crate::Session::variable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariableIndex(pub(crate) usize);

/// Text with variables (`"$binary_remote_addr:$server_port"`), compiled at
/// configuration time ([`Conf::complex_value`]) and evaluated per session
/// with [`Session::evaluate`](crate::Session::evaluate). It belongs to the
/// configuration that compiled it: keep it in that configuration.
#[derive(Clone, Copy, Debug)]
pub struct ComplexValue {
    pub(crate) raw: NonNull<ngx_stream_complex_value_t>,
}

impl<'a> Conf<'a> {
    /// # Safety
    /// `cf` must be null or the live conf nginx passed to the current
    /// handler, not otherwise borrowed from Rust for `'a`.
    pub(crate) unsafe fn from_raw(cf: *mut ngx_conf_t) -> Option<Self> {
        Some(Conf {
            raw: NonNull::new(cf)?,
            _call: PhantomData,
        })
    }

    /// The raw conf, for calls into nginx the layer does not wrap.
    pub fn as_ptr(&self) -> *mut ngx_conf_t {
        self.raw.as_ptr()
    }

    fn raw_args(&self) -> &'a [ngx_str_t] {
        // In a directive handler cf->args is the directive's ngx_str_t
        // array, allocated in the conf pool.
        // SAFETY: so its nelts entries are live for the call.
        unsafe {
            let args = self.raw.as_ref().args;
            if args.is_null() || (*args).elts.is_null() {
                return &[];
            }
            core::slice::from_raw_parts((*args).elts as *const ngx_str_t, (*args).nelts)
        }
    }

    fn bytes_of(arg: &ngx_str_t) -> &'a [u8] {
        if arg.data.is_null() {
            return &[];
        }
        // nginx's conf parser stores each token as len bytes at data, in
        // the conf pool, which outlives the handler call.
        // SAFETY: so the bytes are live and unchanged for 'a.
        unsafe { core::slice::from_raw_parts(arg.data, arg.len) }
    }

    /// The directive's name, e.g. `proxy_pass`.
    pub fn name(&self) -> &'a str {
        let name = self.raw_args().first().map_or(&[][..], Self::bytes_of);
        core::str::from_utf8(name).unwrap_or("")
    }

    /// The arguments after the directive's name.
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> {
        self.raw_args().iter().skip(1).map(Self::bytes_of)
    }

    /// The argument at `index` (0 is the first after the name).
    pub fn arg(&self, index: usize) -> Option<&'a [u8]> {
        self.raw_args().get(index + 1).map(Self::bytes_of)
    }

    /// Where the directive is: `/etc/nginx/nginx.conf:12`.
    pub fn location(&self) -> String {
        // SAFETY: while parsing, cf->conf_file is null or the file being read.
        unsafe {
            let file = self.raw.as_ref().conf_file;
            if file.is_null() {
                return String::from("(command line)");
            }
            let name = &(*file).file.name;
            let name = if name.data.is_null() {
                &[][..]
            } else {
                core::slice::from_raw_parts(name.data, name.len)
            };
            format!("{}:{}", String::from_utf8_lossy(name), (*file).line)
        }
    }

    /// Logs a warning against the directive (`nginx: [warn] ... in file:line`).
    pub fn warn(&self, args: fmt::Arguments<'_>) {
        // SAFETY: the conf is live for the handler call.
        unsafe { conf_log(NGX_LOG_WARN as ngx_uint_t, self.as_ptr(), args) };
    }

    /// Logs `error` at `emerg` against the directive, unless nginx already did.
    pub fn emerg(&self, error: &Error) {
        if let Some(message) = error.message() {
            // SAFETY: the conf is live for the handler call.
            unsafe {
                conf_log(
                    NGX_LOG_EMERG as ngx_uint_t,
                    self.as_ptr(),
                    format_args!("{message}"),
                )
            };
        }
    }

    /// nginx's own phrase: `invalid value "x" in "name" directive`.
    pub fn invalid_value(&self, value: &[u8]) -> Error {
        Error::Invalid(format!(
            "invalid value \"{}\" in \"{}\" directive",
            String::from_utf8_lossy(value),
            self.name()
        ))
    }

    /// The variable argument `index` names (`$name`), whether it is known
    /// now or defined later in the configuration: nginx checks that it
    /// exists once the whole configuration is read (`unknown "name"
    /// variable`).
    pub fn variable_index(&self, index: usize) -> Result<VariableIndex> {
        let value = self.arg(index).ok_or("missing argument")?;
        let name = match value.split_first() {
            Some((b'$', name)) if !name.is_empty() => name,
            _ => return Err(self.invalid_value(value)),
        };
        // nginx keeps the name's pointer until variables are resolved at
        // the end of the configuration; arguments live in the conf pool,
        // longer than that.
        let mut name = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: the conf is live for the handler call.
        let found = unsafe { nginx_sys::ngx_stream_get_variable_index(self.as_ptr(), &mut name) };
        usize::try_from(found).map(VariableIndex).map_err(|_| {
            Error::Invalid(format!(
                "unknown variable \"{}\"",
                String::from_utf8_lossy(value)
            ))
        })
    }

    /// The variable called `name` (without `$`), e.g. one of the module's
    /// own, checked like [`Conf::variable_index`] once the configuration is
    /// read. `name` must live as long as the configuration (a `'static`
    /// string does).
    pub fn variable(&self, name: &'static str) -> Result<VariableIndex> {
        let mut text = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: the conf is live; nginx keeps the pointer to a 'static name.
        let found = unsafe { nginx_sys::ngx_stream_get_variable_index(self.as_ptr(), &mut text) };
        usize::try_from(found)
            .map(VariableIndex)
            .map_err(|_| Error::Invalid(format!("unknown variable \"{name}\"")))
    }

    /// Compiles argument `index` as text with variables.
    pub fn complex_value(&self, index: usize) -> Result<ComplexValue> {
        let arg = self.arg(index).ok_or("missing argument")?;
        self.compile(arg)
    }

    /// Compiles `text` (e.g. the part of an argument after `key=`) as text
    /// with variables.
    pub fn compile(&self, text: &[u8]) -> Result<ComplexValue> {
        // nginx keeps pointers into the text: a copy in the conf pool
        // lives as long as the configuration.
        let text = self.pool_copy(text)?;
        let cf = self.as_ptr();
        // SAFETY: the conf and its pool are live for the handler call.
        let value = unsafe {
            nginx_sys::ngx_pcalloc((*cf).pool, mem::size_of::<ngx_stream_complex_value_t>())
        } as *mut ngx_stream_complex_value_t;
        let value = NonNull::new(value).ok_or(Error::NoMemory)?;
        let mut source = ngx_str_t {
            len: text.len(),
            data: text.as_ptr() as *mut u8,
        };
        // nginx's own callers zero the compile request, then set these three.
        // SAFETY: all-zero is a valid request (null pointers, zero flags).
        let mut request: nginx_sys::ngx_stream_compile_complex_value_t = unsafe { mem::zeroed() };
        request.cf = cf;
        request.value = &mut source;
        request.complex_value = value.as_ptr();
        // The text and the value live in the conf pool, for the cycle; nginx
        // copies the ngx_str_t itself.
        // SAFETY: nginx reads the text and fills the zeroed value.
        let rc = unsafe { nginx_sys::ngx_stream_compile_complex_value(&mut request) };
        if rc != NGX_OK as nginx_sys::ngx_int_t {
            // nginx has said what is wrong with the variable syntax.
            return Err(Error::Logged);
        }
        Ok(ComplexValue { raw: value })
    }

    /// A size in nginx's syntax (`512`, `64k`, `10m`), as `client_max_body_size`.
    pub fn parse_size(&self, text: &[u8]) -> Result<usize> {
        let mut value = ngx_str_t {
            len: text.len(),
            data: text.as_ptr() as *mut u8,
        };
        // SAFETY: ngx_parse_size only reads `len` bytes at `data`.
        let parsed = unsafe { nginx_sys::ngx_parse_size(&mut value) };
        usize::try_from(parsed).map_err(|_| self.invalid_value(text))
    }

    /// A time in nginx's syntax (`500ms`, `5s`, `1m30s`) in milliseconds.
    pub fn parse_time(&self, text: &[u8]) -> Result<nginx_sys::ngx_msec_t> {
        let mut value = ngx_str_t {
            len: text.len(),
            data: text.as_ptr() as *mut u8,
        };
        // SAFETY: ngx_parse_time only reads `len` bytes at `data`.
        let parsed = unsafe { nginx_sys::ngx_parse_time(&mut value, 0) };
        if parsed == NGX_ERROR as nginx_sys::ngx_int_t {
            return Err(self.invalid_value(text));
        }
        nginx_sys::ngx_msec_t::try_from(parsed).map_err(|_| self.invalid_value(text))
    }

    /// A file name as nginx resolves it: relative names against the prefix
    /// (`-p`, e.g. `/usr/share/nginx/`), as `ngx_conf_full_name` does.
    pub fn full_name(&self, name: &[u8]) -> Vec<u8> {
        if name.starts_with(b"/") {
            return name.to_vec();
        }
        // While parsing, cf->cycle is the cycle being configured; its prefix
        // is len bytes at data (ending in '/'), set from the command line.
        // SAFETY: so both are live for the call.
        let prefix = unsafe {
            let cycle = &*(*self.as_ptr()).cycle;
            if cycle.prefix.data.is_null() {
                &[][..]
            } else {
                core::slice::from_raw_parts(cycle.prefix.data, cycle.prefix.len)
            }
        };
        let mut full = prefix.to_vec();
        full.extend_from_slice(name);
        full
    }

    /// Copies `bytes` into the configuration's pool, to live as long as
    /// the configuration (for nginx structures that keep a pointer).
    pub(crate) fn pool_copy(&self, bytes: &[u8]) -> Result<&'a [u8]> {
        if bytes.is_empty() {
            return Ok(&[]);
        }
        // SAFETY: cf->pool is live for the cycle.
        let data = unsafe { nginx_sys::ngx_pnalloc((*self.as_ptr()).pool, bytes.len()) } as *mut u8;
        if data.is_null() {
            return Err(Error::NoMemory);
        }
        // SAFETY: `data` is bytes.len() fresh bytes of the conf pool.
        unsafe {
            data.copy_from_nonoverlapping(bytes.as_ptr(), bytes.len());
            Ok(core::slice::from_raw_parts(data, bytes.len()))
        }
    }

    /// The conf's pool (the cycle's), for allocations of the layer.
    pub(crate) fn pool(&self) -> *mut nginx_sys::ngx_pool_t {
        // SAFETY: a live conf has a pool.
        unsafe { self.raw.as_ref().pool }
    }
}

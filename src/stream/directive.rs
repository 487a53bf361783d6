//! Directive handlers written in Rust, for directives whose arguments
//! nginx's stock `ngx_conf_set_*_slot` handlers cannot parse.

use core::ffi::{c_char, c_void};
use core::fmt;

use nginx_sys::{ngx_command_t, ngx_conf_t, ngx_str_t, ngx_uint_t, NGX_LOG_EMERG, NGX_LOG_WARN};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};

use super::guard::contain;
use super::log::{conf_log, conf_log_handle};

/// The directive being parsed, for one call of a [`Directive`] handler.
pub struct ConfArgs {
    cf: *mut ngx_conf_t,
}

impl ConfArgs {
    /// The raw conf, for calls into nginx (variables, zones, ...).
    pub fn as_ptr(&self) -> *mut ngx_conf_t {
        self.cf
    }

    fn raw_args(&self) -> &[ngx_str_t] {
        // SAFETY: in a directive handler cf->args is the directive's ngx_str_t array.
        unsafe {
            let args = (*self.cf).args;
            if args.is_null() || (*args).elts.is_null() {
                return &[];
            }
            core::slice::from_raw_parts((*args).elts as *const ngx_str_t, (*args).nelts)
        }
    }

    fn arg_bytes(arg: &ngx_str_t) -> &[u8] {
        if arg.data.is_null() {
            return &[];
        }
        // SAFETY: nginx's conf parser stores each token as len bytes at data.
        unsafe { core::slice::from_raw_parts(arg.data, arg.len) }
    }

    /// The directive's name, e.g. `sift_deny`.
    pub fn name(&self) -> String {
        self.raw_args().first().map_or_else(String::new, |arg| {
            String::from_utf8_lossy(Self::arg_bytes(arg)).into_owned()
        })
    }

    /// The arguments after the name.
    pub fn args(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.raw_args().iter().skip(1).map(Self::arg_bytes)
    }

    /// The argument at `index` (0 is the first after the name) as text.
    pub fn arg(&self, index: usize) -> Option<&str> {
        let arg = self.raw_args().get(index + 1)?;
        core::str::from_utf8(Self::arg_bytes(arg)).ok()
    }

    /// The argument at `index` as nginx's own string (for nginx APIs that
    /// take `ngx_str_t *`).
    pub fn raw_arg(&self, index: usize) -> Option<*mut ngx_str_t> {
        let arg = self.raw_args().get(index + 1)?;
        Some(arg as *const ngx_str_t as *mut ngx_str_t)
    }

    /// The index of the variable that argument `index` names (`$name`),
    /// whether it is known now or defined later in the configuration:
    /// nginx checks that it exists once the whole configuration is read
    /// (`unknown "name" variable`). `Err` if the argument is not `$name`.
    pub fn variable_index(&self, index: usize) -> Result<usize, String> {
        let raw = self.raw_arg(index).ok_or("missing argument")?;
        // SAFETY: `raw` is one of the directive's arguments.
        let value = Self::arg_bytes(unsafe { &*raw });
        if value.len() < 2 || value[0] != b'$' {
            return Err(self.invalid_value(value));
        }
        // nginx keeps the name's pointer until variables are resolved at
        // the end of the configuration; the argument lives in the conf pool,
        // longer than that.
        let mut name = ngx_str_t {
            len: value.len() - 1,
            data: value[1..].as_ptr() as *mut u8,
        };
        // SAFETY: cf is live for the handler call.
        let found = unsafe { nginx_sys::ngx_stream_get_variable_index(self.cf, &mut name) };
        usize::try_from(found)
            .map_err(|_| format!("unknown variable \"{}\"", String::from_utf8_lossy(value)))
    }

    /// Where the directive is: `/etc/nginx/nginx.conf:12`.
    pub fn location(&self) -> String {
        // SAFETY: while parsing, cf->conf_file is the file being read.
        unsafe {
            let file = (*self.cf).conf_file;
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
        // SAFETY: cf is live for the handler call.
        unsafe { conf_log(NGX_LOG_WARN as ngx_uint_t, self.cf, args) };
    }

    /// `invalid value "x" in "name" directive`: nginx's phrase.
    pub fn invalid_value(&self, value: &[u8]) -> String {
        format!(
            "invalid value \"{}\" in \"{}\" directive",
            String::from_utf8_lossy(value),
            self.name()
        )
    }
}

/// A directive handler written in safe Rust.
pub trait Directive: 'static {
    /// The configuration the directive writes to (nginx passes the one for
    /// the command's `conf` offset).
    type Conf: 'static;
    /// Parses the directive. `Err(message)` is logged at `emerg` against
    /// the directive's file and line, and fails the configuration.
    fn set(args: &ConfArgs, conf: &mut Self::Conf) -> Result<(), String>;
}

/// The `set` function to put in an `ngx_command_t` for `D`.
///
/// # Safety
/// Called by nginx with the conf for the command's `conf` offset, which
/// must be a `D::Conf`.
pub unsafe extern "C" fn set_trampoline<D: Directive>(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes a live conf.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        log,
        "directive handler",
        || NGX_CONF_ERROR,
        || {
            let args = ConfArgs { cf };
            // SAFETY: the command table pairs this handler with a D::Conf.
            let conf = unsafe { &mut *(conf as *mut D::Conf) };
            match D::set(&args, conf) {
                Ok(()) => NGX_CONF_OK,
                // An empty message: nginx has already said what is wrong.
                Err(message) if message.is_empty() => NGX_CONF_ERROR,
                Err(message) => {
                    // SAFETY: cf is live for this call.
                    unsafe { conf_log(NGX_LOG_EMERG as ngx_uint_t, cf, format_args!("{message}")) };
                    NGX_CONF_ERROR
                }
            }
        },
    )
}

//! A module's directives: the `ngx_command_t` table nginx reads, built with
//! `const` helpers, and directive handlers written in safe Rust.
//!
//! ```ignore
//! static COMMANDS: CommandTable<3> = CommandTable::new([
//!     command::flag::<Mine>(c"mine", command::STREAM | command::SERVER,
//!                           offset_of!(MineSrvConf, enabled)),
//!     command::directive::<MineLimit>(c"mine_limit", command::SERVER | command::TAKE1),
//!     command::END,
//! ]);
//! ```

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_void, CStr};
use core::ptr;

use nginx_sys::{ngx_command_t, ngx_conf_t, ngx_str_t, ngx_uint_t};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};

use crate::conf::Conf;
use crate::error::Result;
use crate::guard::contain;
use crate::log::conf_log_handle;
use crate::module::{Registered, StreamModule};

/// Allowed in the `stream {}` block itself.
pub const STREAM: ngx_uint_t = nginx_sys::NGX_STREAM_MAIN_CONF as ngx_uint_t;
/// Allowed in `server {}` blocks.
pub const SERVER: ngx_uint_t = nginx_sys::NGX_STREAM_SRV_CONF as ngx_uint_t;
/// `on` or `off`.
pub const FLAG: ngx_uint_t = nginx_sys::NGX_CONF_FLAG as ngx_uint_t;
/// No argument.
pub const NOARGS: ngx_uint_t = nginx_sys::NGX_CONF_NOARGS as ngx_uint_t;
/// Exactly one argument.
pub const TAKE1: ngx_uint_t = nginx_sys::NGX_CONF_TAKE1 as ngx_uint_t;
/// One or two arguments.
pub const TAKE12: ngx_uint_t = nginx_sys::NGX_CONF_TAKE12 as ngx_uint_t;
/// Exactly two arguments.
pub const TAKE2: ngx_uint_t = nginx_sys::NGX_CONF_TAKE2 as ngx_uint_t;
/// Exactly three arguments.
pub const TAKE3: ngx_uint_t = nginx_sys::NGX_CONF_TAKE3 as ngx_uint_t;
/// One to three arguments.
pub const TAKE123: ngx_uint_t = nginx_sys::NGX_CONF_TAKE123 as ngx_uint_t;
/// One or more arguments.
pub const ONE_OR_MORE: ngx_uint_t = nginx_sys::NGX_CONF_1MORE as ngx_uint_t;
/// Two or more arguments.
pub const TWO_OR_MORE: ngx_uint_t = nginx_sys::NGX_CONF_2MORE as ngx_uint_t;

/// A directive that writes to its module's server configuration (in the
/// block it appears in: `stream {}` or `server {}`).
pub trait Directive: 'static {
    /// The module the directive belongs to.
    type Module: Registered;
    /// Parses the directive. An error is logged at `emerg` against the
    /// directive's file and line, and fails the configuration.
    fn set(cf: &Conf<'_>, conf: &mut <Self::Module as StreamModule>::SrvConf) -> Result<()>;
}

/// A directive that writes to its module's `stream {}` configuration.
pub trait MainDirective: 'static {
    /// The module the directive belongs to.
    type Module: Registered;
    /// As [`Directive::set`].
    fn set(cf: &Conf<'_>, conf: &mut <Self::Module as StreamModule>::MainConf) -> Result<()>;
}

const SRV_CONF: ngx_uint_t = nginx_sys::NGX_STREAM_SRV_CONF_OFFSET as ngx_uint_t;
const MAIN_CONF: ngx_uint_t = nginx_sys::NGX_STREAM_MAIN_CONF_OFFSET as ngx_uint_t;

/// A module's command table, as nginx reads it. nginx never writes to it;
/// the cell only lets the table be handed to nginx as `*mut`.
pub struct CommandTable<const N: usize>(UnsafeCell<[ngx_command_t; N]>);

// SAFETY: nobody writes to the table after it is made (nginx only reads
// it), so sharing it between threads cannot race.
unsafe impl<const N: usize> Sync for CommandTable<N> {}

impl<const N: usize> CommandTable<N> {
    /// The table; its last entry must be [`END`].
    pub const fn new(commands: [ngx_command_t; N]) -> Self {
        assert!(
            N > 0 && commands[N - 1].name.len == 0,
            "the last command must be END"
        );
        CommandTable(UnsafeCell::new(commands))
    }

    /// The table for `ngx_module_t::commands`.
    pub const fn as_ptr(&self) -> *mut ngx_command_t {
        self.0.get().cast()
    }
}

/// The end of a command table.
pub const END: ngx_command_t = ngx_command_t {
    name: ngx_str_t {
        len: 0,
        data: ptr::null_mut(),
    },
    type_: 0,
    set: None,
    conf: 0,
    offset: 0,
    post: ptr::null_mut(),
};

/// A name as nginx wants it: it compares names with `strcmp`, so the bytes
/// must end in a NUL that `len` leaves out.
const fn name(text: &'static CStr) -> ngx_str_t {
    ngx_str_t {
        len: text.count_bytes(),
        data: text.as_ptr() as *mut u8,
    }
}

/// `NAME on | off;` stored by nginx's `ngx_conf_set_flag_slot` into the
/// `ngx_flag_t` at `offset` of the module's `SrvConf` (`offset_of!`);
/// unset is [`FLAG_UNSET`](crate::module::FLAG_UNSET).
pub const fn flag(text: &'static CStr, contexts: ngx_uint_t, offset: usize) -> ngx_command_t {
    ngx_command_t {
        name: name(text),
        type_: contexts | FLAG,
        set: Some(nginx_sys::ngx_conf_set_flag_slot),
        conf: SRV_CONF,
        offset,
        post: ptr::null_mut(),
    }
}

/// `NAME time;` stored by nginx's `ngx_conf_set_msec_slot` into the
/// `ngx_msec_t` at `offset` of the module's `SrvConf`; unset is
/// [`MSEC_UNSET`](crate::module::MSEC_UNSET).
pub const fn msec(text: &'static CStr, contexts: ngx_uint_t, offset: usize) -> ngx_command_t {
    ngx_command_t {
        name: name(text),
        type_: contexts | TAKE1,
        set: Some(nginx_sys::ngx_conf_set_msec_slot),
        conf: SRV_CONF,
        offset,
        post: ptr::null_mut(),
    }
}

/// A directive handled by `D`; `type_` combines contexts and argument
/// counts (`STREAM | SERVER | TAKE12`).
pub const fn directive<D: Directive>(text: &'static CStr, type_: ngx_uint_t) -> ngx_command_t {
    ngx_command_t {
        name: name(text),
        type_,
        set: Some(srv_trampoline::<D>),
        conf: SRV_CONF,
        offset: 0,
        post: ptr::null_mut(),
    }
}

/// A `stream {}` level directive handled by `D` (`type_` includes [`STREAM`]
/// only).
pub const fn main_directive<D: MainDirective>(
    text: &'static CStr,
    type_: ngx_uint_t,
) -> ngx_command_t {
    ngx_command_t {
        name: name(text),
        type_,
        set: Some(main_trampoline::<D>),
        conf: MAIN_CONF,
        offset: 0,
        post: ptr::null_mut(),
    }
}

unsafe extern "C" fn srv_trampoline<D: Directive>(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // nginx passes the configuration at the command's `conf` offset, which
    // directive() set to the server level: the module's SrvConf, made by
    // the layer (the Registered contract).
    // SAFETY: so `conf` is null or a live SrvConf no one else borrows now.
    let conf = unsafe { (conf as *mut <D::Module as StreamModule>::SrvConf).as_mut() };
    run_directive::<D::Module, _>(cf, conf, D::set)
}

unsafe extern "C" fn main_trampoline<D: MainDirective>(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // As in srv_trampoline, at the main level.
    // SAFETY: `conf` is null or a live MainConf no one else borrows now.
    let conf = unsafe { (conf as *mut <D::Module as StreamModule>::MainConf).as_mut() };
    run_directive::<D::Module, _>(cf, conf, D::set)
}

fn run_directive<M: StreamModule, T>(
    cf: *mut ngx_conf_t,
    conf: Option<&mut T>,
    set: fn(&Conf<'_>, &mut T) -> Result<()>,
) -> *mut c_char {
    // SAFETY: nginx passes a live conf to directive handlers.
    let log = unsafe { conf_log_handle(cf) };
    contain(
        M::NAME,
        log,
        "directive handler",
        || NGX_CONF_ERROR,
        || {
            // SAFETY: as above, borrowed for this call only.
            let (Some(args), Some(conf)) = (unsafe { Conf::from_raw(cf) }, conf) else {
                return NGX_CONF_ERROR;
            };
            match set(&args, conf) {
                Ok(()) => NGX_CONF_OK,
                Err(error) => {
                    args.emerg(&error);
                    NGX_CONF_ERROR
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    // Commands that name nginx's own slot functions cannot be built here:
    // outside nginx those symbols do not exist.
    use super::*;

    #[test]
    fn names_keep_their_nul() {
        let text = name(c"mine");
        assert_eq!(text.len, 4);
        // SAFETY: the name points at a static C string of len + 1 bytes.
        let with_nul = unsafe { core::slice::from_raw_parts(text.data, 5) };
        assert_eq!(with_nul, b"mine\0");
    }

    #[test]
    fn table_ends_with_end() {
        static TABLE: CommandTable<1> = CommandTable::new([END]);
        // SAFETY: the table is a static of one command.
        let last = unsafe { &*TABLE.as_ptr() };
        assert_eq!(last.name.len, 0);
        assert!(last.set.is_none());
    }

    #[test]
    fn contexts_combine_like_nginx() {
        assert_eq!(STREAM | SERVER | TAKE1, 0x0200_0000 | 0x0400_0000 | 0x2);
        assert_eq!(FLAG, 0x200);
    }
}

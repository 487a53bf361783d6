//! The servers of a `stream {}` block, with their first `listen` address,
//! for a module's `postconfiguration`.

use core::ptr;

use nginx_sys::{ngx_str_t, ngx_stream_conf_ctx_t, ngx_stream_core_srv_conf_t};

use crate::conf::Conf;
use crate::error::Result;
use crate::module::{conf_entry, Registered, StreamModule};

/// One server block.
pub struct StreamServer<'a, M: StreamModule> {
    /// The module's merged configuration of the server.
    pub conf: &'a M::SrvConf,
    /// The address of the server's first `listen` (`127.0.0.1:8443`,
    /// `[::]:443`, `unix:/run/x.sock`), as nginx prints it.
    pub listen: Option<String>,
    /// The server's `preread_timeout`, milliseconds.
    pub preread_timeout: u64,
    /// Where the server block is: `/etc/nginx/nginx.conf:12`.
    pub location: String,
}

fn text(value: &ngx_str_t) -> String {
    if value.data.is_null() {
        return String::new();
    }
    // SAFETY: nginx keeps addr_text in the cycle's pool, len bytes long.
    String::from_utf8_lossy(unsafe { core::slice::from_raw_parts(value.data, value.len) })
        .into_owned()
}

impl<'a> Conf<'a> {
    /// Logs at `level` to the configuration's log without nginx's
    /// `in file:line` suffix (for messages that name their own place).
    pub fn log_plain(&self, level: nginx_sys::ngx_uint_t, args: core::fmt::Arguments<'_>) {
        // SAFETY: the conf is live for the hook call.
        let log = unsafe { crate::log::conf_log_handle(self.as_ptr()) };
        crate::log::log_error(level, log, args);
    }

    /// Every server of the stream block with `M`'s configuration, in the
    /// order they appear (from `postconfiguration`, once servers are merged).
    pub fn stream_servers<M: Registered>(&self) -> Result<Vec<StreamServer<'a, M>>> {
        let cmcf = self.core_main_conf()?;
        let mut found = Vec::new();
        // cmcf->servers holds the core module's server confs, each with its
        // server block's ctx, where every module has its merged conf.
        // SAFETY: servers are parsed and merged before postconfiguration.
        unsafe {
            for &cscf in cmcf.servers.as_slice::<*mut ngx_stream_core_srv_conf_t>() {
                let ctx = (*cscf).ctx;
                let Some(ctx_ref) = ctx.as_ref() else {
                    continue;
                };
                let Some(conf) = conf_entry::<M, M::SrvConf>(ctx_ref.srv_conf) else {
                    continue;
                };
                let listen = first_listen(cmcf, cscf, ctx);
                let file = (*cscf).file_name;
                let file = if file.is_null() {
                    String::from("(unknown)")
                } else {
                    core::ffi::CStr::from_ptr(file.cast())
                        .to_string_lossy()
                        .into_owned()
                };
                found.push(StreamServer {
                    conf,
                    listen,
                    preread_timeout: (*cscf).preread_timeout as u64,
                    location: format!("{file}:{}", (*cscf).line),
                });
            }
        }
        Ok(found)
    }
}

/// nginx before 1.25.5 keeps every `listen` in one array, with its server's ctx.
///
/// # Safety
/// `cmcf` is the stream block's core main conf after parsing.
#[cfg(not(ngx_stream_virtual_servers))]
unsafe fn first_listen(
    cmcf: &nginx_sys::ngx_stream_core_main_conf_t,
    _cscf: *mut ngx_stream_core_srv_conf_t,
    ctx: *mut ngx_stream_conf_ctx_t,
) -> Option<String> {
    // SAFETY: listen is an array of ngx_stream_listen_t made by the core module.
    let listens = unsafe { cmcf.listen.as_slice::<nginx_sys::ngx_stream_listen_t>() };
    listens
        .iter()
        .find(|listen| ptr::eq(listen.ctx, ctx))
        .map(|listen| text(&listen.addr_text))
}

/// nginx 1.25.5 and later group `listen`s by port and address, each with
/// the servers on it.
///
/// # Safety
/// `cmcf` is the stream block's core main conf after parsing.
#[cfg(ngx_stream_virtual_servers)]
unsafe fn first_listen(
    cmcf: &nginx_sys::ngx_stream_core_main_conf_t,
    cscf: *mut ngx_stream_core_srv_conf_t,
    _ctx: *mut ngx_stream_conf_ctx_t,
) -> Option<String> {
    // ports is null or an array of ngx_stream_conf_port_t, each
    // with an array of ngx_stream_conf_addr_t, made by the core module.
    // SAFETY: for the reasons just above.
    unsafe {
        let ports = cmcf.ports.as_ref()?;
        for port in ports.as_slice::<nginx_sys::ngx_stream_conf_port_t>() {
            for addr in port.addrs.as_slice::<nginx_sys::ngx_stream_conf_addr_t>() {
                let servers = addr.servers.as_slice::<*mut ngx_stream_core_srv_conf_t>();
                if servers.iter().any(|&server| ptr::eq(server, cscf)) {
                    return Some(text(&addr.opt.addr_text));
                }
            }
        }
    }
    None
}

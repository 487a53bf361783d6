//! What sift says once the `stream` block is read: its version and the
//! nginx it was built for, and warnings about settings that cannot work as
//! written.

use ngx_stream::ffi::{ngx_uint_t, NGX_LOG_NOTICE, NGX_LOG_WARN};
use ngx_stream::log::Log;
use ngx_stream::{Conf, Result};

use crate::module::Sift;

/// Logs sift's version and the nginx it was built for at `notice`, when
/// the master process starts with a configuration (and at each reload).
pub fn announce(log: Option<Log<'_>>) {
    let nginx = ngx_stream::build::NGINX_VERSION;
    let nginx = nginx.strip_prefix("nginx/").unwrap_or(nginx);
    if let Some(log) = log {
        log.error(
            NGX_LOG_NOTICE as ngx_uint_t,
            format_args!(
                "sift {} (ngx_stream_sift_module, built for nginx {nginx})",
                env!("CARGO_PKG_VERSION"),
            ),
        );
    }
}

/// Warns about each server whose `sift_timeout` cannot expire before
/// nginx's own `preread_timeout`.
pub fn check(cf: &Conf<'_>) -> Result<()> {
    for server in cf.stream_servers::<Sift>()? {
        let conf = server.conf;
        let timeout = conf.timeout as u64;
        if conf.is_enabled() && timeout > 0 && timeout >= server.preread_timeout {
            cf.log_plain(
                NGX_LOG_WARN as ngx_uint_t,
                format_args!(
                    "sift_timeout {timeout}ms is not below preread_timeout {}ms in the server at {}: \
                     nginx ends silent sessions before sift can decide \"timeout\"",
                    server.preread_timeout, server.location
                ),
            );
        }
    }
    Ok(())
}

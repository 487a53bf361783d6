//! Per-server configuration.

use nginx_sys::{ngx_flag_t, ngx_msec_t};

use crate::stream::module::{conf_flag, conf_msec, FLAG_UNSET, MSEC_UNSET};

/// `sift_timeout` default: well under nginx's 30s `preread_timeout`, and
/// long enough for a client on a slow link to send its first bytes.
pub const DEFAULT_TIMEOUT_MS: ngx_msec_t = 5000;
use crate::stream::MergeSrvConf;

/// Fields set by `ngx_conf_set_*_slot` handlers, hence `repr(C)` and nginx's
/// field types; read through [`SiftSrvConf::enabled`] and friends.
#[repr(C)]
#[derive(Debug)]
pub struct SiftSrvConf {
    /// `sift on | off;`
    pub enabled: ngx_flag_t,
    /// `sift_timeout <time>;` (0: no timer of sift's own)
    pub timeout: ngx_msec_t,
    /// `sift_test_panic on;` makes the preread handler panic (test builds only).
    #[cfg(feature = "test-hooks")]
    pub test_panic: ngx_flag_t,
}

impl Default for SiftSrvConf {
    fn default() -> Self {
        SiftSrvConf {
            enabled: FLAG_UNSET,
            timeout: MSEC_UNSET,
            #[cfg(feature = "test-hooks")]
            test_panic: FLAG_UNSET,
        }
    }
}

impl SiftSrvConf {
    /// Whether sift inspects sessions of this server.
    pub fn is_enabled(&self) -> bool {
        self.enabled == 1
    }
}

impl MergeSrvConf for SiftSrvConf {
    fn merge(&mut self, prev: &Self) -> Result<(), String> {
        conf_flag(&mut self.enabled, prev.enabled, false);
        conf_msec(&mut self.timeout, prev.timeout, DEFAULT_TIMEOUT_MS);
        #[cfg(feature = "test-hooks")]
        conf_flag(&mut self.test_panic, prev.test_panic, false);
        Ok(())
    }
}

//! Per-server configuration.

use nginx_sys::ngx_flag_t;

use crate::stream::module::{conf_flag, FLAG_UNSET};
use crate::stream::MergeSrvConf;

/// Fields set by `ngx_conf_set_*_slot` handlers, hence `repr(C)` and nginx's
/// field types; read through [`SiftSrvConf::enabled`] and friends.
#[repr(C)]
#[derive(Debug)]
pub struct SiftSrvConf {
    /// `sift on | off;`
    pub enabled: ngx_flag_t,
    /// `sift_test_panic on;` makes the preread handler panic (test builds only).
    #[cfg(feature = "test-hooks")]
    pub test_panic: ngx_flag_t,
}

impl Default for SiftSrvConf {
    fn default() -> Self {
        SiftSrvConf {
            enabled: FLAG_UNSET,
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
        #[cfg(feature = "test-hooks")]
        conf_flag(&mut self.test_panic, prev.test_panic, false);
        Ok(())
    }
}

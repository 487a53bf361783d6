//! Per-server configuration.

use nginx_sys::{ngx_flag_t, ngx_msec_t, ngx_uint_t};

use super::access::AccessRule;
use super::ratelimit::RateLimit;

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
    /// `sift_access_dry_run on | off;`
    pub access_dry_run: ngx_flag_t,
    /// `sift_rate_dry_run on | off;`
    pub rate_dry_run: ngx_flag_t,
    /// `sift_rate_log_level info | notice | warn | error;`
    pub rate_log_level: ngx_uint_t,
    /// `sift_allow` / `sift_deny`, in order; None: inherit.
    pub rules: Option<Vec<AccessRule>>,
    /// `sift_rate zone=...`; None: inherit.
    pub rates: Option<Vec<RateLimit>>,
    /// The server's own content handler, when rules or limits run first.
    pub content_handler: nginx_sys::ngx_stream_content_handler_pt,
    /// `sift_test_panic on;` makes the preread handler panic (test builds only).
    #[cfg(feature = "test-hooks")]
    pub test_panic: ngx_flag_t,
}

impl Default for SiftSrvConf {
    fn default() -> Self {
        SiftSrvConf {
            enabled: FLAG_UNSET,
            timeout: MSEC_UNSET,
            access_dry_run: FLAG_UNSET,
            rate_dry_run: FLAG_UNSET,
            rate_log_level: ngx_uint_t::MAX,
            rules: None,
            rates: None,
            content_handler: None,
            #[cfg(feature = "test-hooks")]
            test_panic: FLAG_UNSET,
        }
    }
}

/// The `stream {}` level configuration.
#[derive(Debug, Default)]
pub struct SiftMainConf {}

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
        conf_flag(&mut self.access_dry_run, prev.access_dry_run, false);
        conf_flag(&mut self.rate_dry_run, prev.rate_dry_run, false);
        if self.rate_log_level == ngx_uint_t::MAX {
            self.rate_log_level = if prev.rate_log_level == ngx_uint_t::MAX {
                nginx_sys::NGX_LOG_ERR as ngx_uint_t
            } else {
                prev.rate_log_level
            };
        }
        if self.rules.is_none() {
            self.rules = prev.rules.clone();
        }
        if self.rates.is_none() {
            self.rates = prev.rates.clone();
        }
        for limit in self.rates.iter().flatten() {
            limit.check_declared()?;
        }
        #[cfg(feature = "test-hooks")]
        conf_flag(&mut self.test_panic, prev.test_panic, false);
        Ok(())
    }
}

//! Per-server configuration.

use ngx_stream::ffi::{ngx_flag_t, ngx_msec_t, ngx_uint_t, NGX_LOG_ERR};
use ngx_stream::module::{merge_flag, merge_msec, FLAG_UNSET, MSEC_UNSET};
use ngx_stream::{MergeSrvConf, Result, SavedContentHandler};
use sift_core::protocol::SignatureSet;

use crate::access::AccessRule;
use crate::auth::{AuthHeader, AuthService};
use crate::ratelimit::RateLimit;

/// `sift_timeout` default: well under nginx's 30s `preread_timeout`, and
/// long enough for a client on a slow link to send its first bytes.
pub const DEFAULT_TIMEOUT_MS: ngx_msec_t = 5000;

/// Fields set by nginx's `ngx_conf_set_*_slot` handlers keep nginx's types
/// (the command table names them by offset).
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
    /// `sift_rate_log_level info | notice | warn | error;` (None: inherit)
    pub rate_log_level: Option<ngx_uint_t>,
    /// `sift_signature`, in order; None: inherit.
    pub signatures: Option<SignatureSet>,
    /// `sift_metrics_name`, and where the server counts (never inherited).
    pub metrics: crate::metrics::ServerMetrics,
    /// `sift_allow` / `sift_deny`, in order; None: inherit.
    pub rules: Option<Vec<AccessRule>>,
    /// `sift_rate zone=...`; None: inherit.
    pub rates: Option<Vec<RateLimit>>,
    /// `sift_top zone=...`; None: inherit.
    pub tops: Option<Vec<ngx_stream::ZoneRef<crate::top::TopZoneKind>>>,
    /// `sift_auth_request URL;` (None: inherit, then off).
    pub auth: Option<AuthService>,
    /// `sift_auth_request_set_header NAME VALUE;` lines; None: inherit.
    pub auth_header_list: Option<Vec<AuthHeader>>,
    /// `sift_auth_request_cache ...;` (None: inherit, then no cache).
    pub auth_cache: Option<crate::auth::AuthCacheConf>,
    /// `sift_auth_request_timeout TIME;`
    pub auth_timeout: ngx_msec_t,
    /// `sift_auth_request_fail open | closed;` (None: inherit, then closed)
    pub auth_fail_open: Option<bool>,
    /// `sift_auth_request_keepalive N;` (None: inherit, then the default)
    pub auth_keepalive: Option<usize>,
    /// The server's own content handler, when rules or limits run first.
    pub content_handler: SavedContentHandler,
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
            rate_log_level: None,
            signatures: None,
            metrics: Default::default(),
            rules: None,
            rates: None,
            tops: None,
            auth: None,
            auth_header_list: None,
            auth_cache: None,
            auth_timeout: MSEC_UNSET,
            auth_fail_open: None,
            auth_keepalive: None,
            content_handler: SavedContentHandler::default(),
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

    /// The user-defined signatures; None without any.
    pub fn signatures(&self) -> Option<&SignatureSet> {
        self.signatures.as_ref().filter(|set| !set.is_empty())
    }

    /// The access rules, in order (empty without any).
    pub fn rules(&self) -> &[AccessRule] {
        self.rules.as_deref().unwrap_or_default()
    }

    /// Idle connections kept per authorization service and worker.
    pub fn auth_keepalive(&self) -> usize {
        self.auth_keepalive
            .unwrap_or(crate::auth::DEFAULT_KEEPALIVE)
    }

    /// The extra headers of authorization requests.
    pub fn auth_headers(&self) -> &[AuthHeader] {
        self.auth_header_list.as_deref().unwrap_or_default()
    }

    /// The `sift_top` zones counting this server's sessions.
    pub fn tops(&self) -> &[ngx_stream::ZoneRef<crate::top::TopZoneKind>] {
        self.tops.as_deref().unwrap_or_default()
    }

    /// The rate limits (empty without any).
    pub fn rates(&self) -> &[RateLimit] {
        self.rates.as_deref().unwrap_or_default()
    }
}

impl MergeSrvConf for SiftSrvConf {
    fn merge(&mut self, prev: &Self) -> Result<()> {
        merge_flag(&mut self.enabled, prev.enabled, false);
        merge_msec(&mut self.timeout, prev.timeout, DEFAULT_TIMEOUT_MS);
        merge_flag(&mut self.access_dry_run, prev.access_dry_run, false);
        merge_flag(&mut self.rate_dry_run, prev.rate_dry_run, false);
        self.rate_log_level = self
            .rate_log_level
            .or(prev.rate_log_level)
            .or(Some(NGX_LOG_ERR as ngx_uint_t));
        self.metrics.merge(&prev.metrics);
        if self.signatures.is_none() {
            self.signatures = prev.signatures.clone();
        }
        if self.rules.is_none() {
            self.rules = prev.rules.clone();
        }
        if self.rates.is_none() {
            self.rates = prev.rates.clone();
        }
        if self.tops.is_none() {
            self.tops = prev.tops.clone();
        }
        if self.auth.is_none() {
            self.auth = prev.auth.clone();
        }
        if self.auth_cache.is_none() {
            self.auth_cache = prev.auth_cache.clone();
        }
        if self.auth_header_list.is_none() {
            self.auth_header_list = prev.auth_header_list.clone();
        }
        merge_msec(
            &mut self.auth_timeout,
            prev.auth_timeout,
            crate::auth::DEFAULT_TIMEOUT_MS,
        );
        self.auth_fail_open = self.auth_fail_open.or(prev.auth_fail_open).or(Some(false));
        self.auth_keepalive = self.auth_keepalive.or(prev.auth_keepalive);
        for limit in self.rates() {
            limit.check_declared()?;
        }
        #[cfg(feature = "test-hooks")]
        merge_flag(&mut self.test_panic, prev.test_panic, false);
        Ok(())
    }
}

//! `sift_redis name=NAME server=HOST:PORT [server=...] [timeout=TIME]
//! [keepalive=N] [user=USER] password=PASSWORD;`: a Redis (or Valkey)
//! that other directives share state through (`sift_rate_zone ...
//! sync=NAME`). Calls go over nginx's event loop (`ngx_stream::call`)
//! with the layer's keepalive pool and reconnect backoff; a new
//! connection first sends `AUTH` when credentials are set.
//!
//! Addresses are resolved once, when the configuration is read (as
//! nginx's `upstream` servers without `resolve`): a changed DNS record
//! takes effect at the next reload.

mod directive;

use std::net::SocketAddr;

use ngx_stream::ffi::{ngx_msec_t, NGX_LOG_ERR};
use ngx_stream::log::Log;
use ngx_stream::{
    Backoff, CallOptions, Keepalive, Prelude, PreludeReply, Result, SharedRegion, ZoneKind,
    ZoneMemory, ZoneTag,
};
use sift_core::redis::rate::{auth_reply, AuthReply};

use crate::module::Sift;

pub use directive::SiftRedis;

/// `timeout=` default: a Redis on the same network answers in well under
/// a millisecond; a stalled one costs the connection that asked this much.
pub const DEFAULT_TIMEOUT_MS: ngx_msec_t = 100;
/// `keepalive=` default: idle connections per server, per worker.
pub const DEFAULT_KEEPALIVE: usize = 4;
/// How long a pooled connection may stay idle.
pub const IDLE_TIMEOUT_MS: ngx_msec_t = 60_000;
/// At most one log line per Redis per this interval (all workers).
pub const LOG_INTERVAL_MS: u64 = 10_000;
/// Reconnect backoff: first period and cap.
pub const BACKOFF_INITIAL_MS: ngx_msec_t = 200;
pub const BACKOFF_MAX_MS: ngx_msec_t = 5_000;

/// One `sift_redis` (the zone's per-cycle data).
pub struct RedisConf {
    pub name: String,
    pub servers: Vec<SocketAddr>,
    pub timeout: ngx_msec_t,
    pub keepalive: usize,
    /// `AUTH ...` for a new connection (empty without credentials).
    pub prelude: Vec<u8>,
    /// Tells this configuration's pooled connections from others to the
    /// same server (other credentials).
    pub pool_key: u64,
    /// When a failure was last logged, and how many since (all workers).
    pub state: Option<SharedRegion>,
    /// Whether the last call from this worker failed (`sync_fail=closed`
    /// refuses meanwhile).
    pub down: core::cell::Cell<bool>,
}

impl RedisConf {
    /// The server to call: the first not backing off; None when all are.
    pub fn server(&self) -> Option<SocketAddr> {
        self.servers
            .iter()
            .copied()
            .find(|peer| !ngx_stream::backoff::in_backoff_for(*peer, self.pool_key))
    }

    /// How calls back off after a failure: apart from other `sift_redis`
    /// lines naming the same server with other credentials.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            initial: BACKOFF_INITIAL_MS,
            max: BACKOFF_MAX_MS,
            log_interval: LOG_INTERVAL_MS as ngx_msec_t,
            key: self.pool_key,
        }
    }

    /// The call options every call to this Redis uses.
    pub fn options(&self, reusable: fn(&[u8]) -> bool) -> CallOptions<'_> {
        CallOptions {
            keepalive: Some(Keepalive {
                key: self.pool_key,
                max_idle: self.keepalive,
                idle_timeout: IDLE_TIMEOUT_MS,
                reusable,
            }),
            backoff: Some(self.backoff()),
            prelude: (!self.prelude.is_empty()).then_some(Prelude {
                request: &self.prelude,
                reply: |bytes| match auth_reply(bytes) {
                    AuthReply::Incomplete => PreludeReply::Incomplete,
                    AuthReply::Accepted(len) => PreludeReply::Accepted(len),
                    AuthReply::Refused => PreludeReply::Refused,
                },
            }),
        }
    }

    /// Logs `what` at most once per interval across the workers, with how
    /// many were not logged since.
    pub fn log_failure(&self, log: Option<Log<'_>>, what: core::fmt::Arguments<'_>) {
        let now = ngx_stream::time::current_msec();
        let unlogged = {
            let Some(mut guard) = self.state.as_ref().and_then(SharedRegion::lock) else {
                return;
            };
            let Some(words) = guard.bytes().get_mut(..16) else {
                return;
            };
            let (last, count) = words.split_at_mut(8);
            let read = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or([0; 8]));
            let (last_ms, missed) = (read(last), read(count));
            if last_ms != 0 && now.saturating_sub(last_ms) < LOG_INTERVAL_MS {
                count.copy_from_slice(&missed.saturating_add(1).to_ne_bytes());
                return;
            }
            last.copy_from_slice(&now.max(1).to_ne_bytes());
            count.copy_from_slice(&0u64.to_ne_bytes());
            missed
        };
        if let Some(log) = log {
            log.error(
                NGX_LOG_ERR as usize,
                format_args!(
                    "sift: redis \"{}\": {what}; {unlogged} more since the last report",
                    self.name
                ),
            );
        }
    }
}

/// The zone name a `sift_redis` is kept under (zone names are shared by
/// every kind of zone: the prefix keeps `sift_redis name=a` apart from
/// `zone=a:1m`).
pub fn zone_name(name: &[u8]) -> Vec<u8> {
    let mut out = b"sift_redis:".to_vec();
    out.extend_from_slice(name);
    out
}

/// `sift_redis` zones: a page of shared state (the log's interval).
pub struct RedisZoneKind;

impl ZoneKind for RedisZoneKind {
    type Module = Sift;
    type Data = RedisConf;

    fn tag() -> &'static ZoneTag {
        static TAG: ZoneTag = ZoneTag::new();
        &TAG
    }

    fn init(
        data: &mut RedisConf,
        previous: Option<&RedisConf>,
        zone: &ZoneMemory,
        _log: Option<Log<'_>>,
    ) -> Result<()> {
        data.state = match previous.and_then(|previous| previous.state.clone()) {
            Some(state) => Some(state),
            None => Some(zone.take_all_free()?),
        };
        Ok(())
    }
}

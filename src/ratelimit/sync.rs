//! `sift_rate_zone ... sync=NAME [sync_fail=open|closed] [sync_batch=N]`:
//! the zone's limit across every host sharing the Redis `NAME`.
//!
//! The local leaky bucket stays the fast path and decides first. A
//! connection it passes is then counted against the key's fixed window
//! across hosts (`sift_core::ratelimit::sync`): from the last count Redis
//! returned plus this host's admissions since, with no call; every
//! `sync_batch` admissions one connection adds them to Redis (`INCRBY` and
//! `PEXPIRE`, pipelined) and waits for the new total. Rejected connections
//! never call.
//!
//! When Redis cannot be reached (refused, timed out, garbage), the call
//! fails (at once while the layer backs off) and the zone goes on by
//! `sync_fail`: `open` (default) admits by the local limits alone,
//! `closed` refuses what needed Redis, and while Redis is down every
//! connection of the zone. Failures are logged once per interval.

use std::cell::RefCell;
use std::net::SocketAddr;

use ngx_stream::{CallOutcome, CallSpec, PhaseOutcome, Session, TimerAction, ZoneRef};
use sift_core::metrics;
use sift_core::ratelimit::sync::{split_sync_region, SyncParams, SyncTable, SyncVerdict};
use sift_core::ratelimit::Verdict;
use sift_core::redis::rate::{counter_key, sync_complete, sync_count, sync_request, sync_reusable};

use super::zone::zone_parts;
use super::RateZone;
use crate::enforce::RateStatus;
use crate::module::{Sift, SiftCtx};
use crate::redis::{RedisConf, RedisZoneKind};

/// A zone's `sync=` settings.
#[derive(Clone, Debug)]
pub struct RateSync {
    pub redis_name: String,
    /// Where `sync=` is written, for an unknown name found later.
    pub location: String,
    pub redis: ZoneRef<RedisZoneKind>,
    pub fail_closed: bool,
    /// `sync_batch=N`; None: a tenth of the window's limit (at least 1).
    pub batch: Option<u32>,
}

/// `sync_batch=` default: a tenth of the window's limit, so each host
/// runs at most a tenth of the limit ahead of Redis, and a key with fewer
/// admissions than that in a window (most clients) costs no call at all.
pub fn default_batch(limit: u64) -> u32 {
    u32::try_from(limit / 10).unwrap_or(u32::MAX).max(1)
}

/// A sync a session waits for.
#[derive(Clone, Copy, Debug)]
pub struct PendingSync {
    /// The limit's place in the server's `sift_rate` list.
    index: usize,
    window: u64,
    add: u32,
    peer: SocketAddr,
}

thread_local! {
    /// The request being written (sessions take turns on a worker).
    static REQUEST: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Whether the zone's Redis failed last (this worker).
fn is_down(sync: &RateSync) -> bool {
    sync.redis().is_some_and(|redis| redis.down.get())
}

fn set_down(sync: &RateSync, down: bool) {
    if let Some(redis) = sync.redis() {
        redis.down.set(down);
    }
}

impl RateSync {
    pub fn redis(&self) -> Option<&RedisConf> {
        self.redis.data()
    }
}

/// The zone's parameters for the sync table.
pub fn params(zone: &RateZone, sync: &RateSync, burst: u32) -> SyncParams {
    let window_ms = if zone.rate.is_per_minute() {
        60_000
    } else {
        1_000
    };
    let timeout = sync.redis().map_or(1_000, |redis| redis.timeout as u64);
    let limit = u64::from(zone.rate.count()) + u64::from(burst);
    SyncParams {
        limit,
        window_ms,
        batch: sync.batch.unwrap_or_else(|| default_batch(limit)),
        flight_timeout_ms: timeout.saturating_mul(2).saturating_add(1_000),
    }
}

/// Counts a connection the local bucket passed against the key's window
/// across hosts (under the zone's lock, held by the caller).
pub fn admit(bytes: &mut [u8], key: &[u8], now: u64, params: &SyncParams) -> Option<SyncVerdict> {
    let (_, sync) = zone_parts(bytes, true);
    let (header, slots) = split_sync_region(sync)?;
    Some(SyncTable::attach(header, slots)?.admit(key, now, params))
}

/// What a synced zone decides for a connection its local bucket passed:
/// None when a call was started (the verdict comes with the reply).
pub fn decide(
    session: &Session<'_>,
    ctx: &SiftCtx,
    index: usize,
    zone: &RateZone,
    sync: &RateSync,
    key: &[u8],
    verdict: SyncVerdict,
) -> Option<Verdict> {
    let down = is_down(sync);
    match verdict {
        SyncVerdict::Reject => Some(Verdict::Rejected),
        SyncVerdict::Pass if down && sync.fail_closed => Some(Verdict::Rejected),
        SyncVerdict::Pass => Some(Verdict::Passed),
        SyncVerdict::Sync { add, window } => {
            if ctx.rate_sync.get().is_none() {
                if let Some(peer) = start(session, zone, sync, key, add, window) {
                    ctx.rate_sync.set(Some(PendingSync {
                        index,
                        window,
                        add,
                        peer,
                    }));
                    return None;
                }
                failed(
                    session,
                    zone,
                    sync,
                    key,
                    window,
                    "cannot connect or backing off",
                );
                return Some(fail_verdict(sync));
            }
            // One call per connection: this zone's count waits for the next.
            forget_flight(zone, key, window);
            Some(Verdict::Passed)
        }
    }
}

fn fail_verdict(sync: &RateSync) -> Verdict {
    if sync.fail_closed {
        Verdict::Rejected
    } else {
        Verdict::Passed
    }
}

/// Starts the call: `INCRBY` + `PEXPIRE` to the first server not backing off.
fn start(
    session: &Session<'_>,
    zone: &RateZone,
    sync: &RateSync,
    key: &[u8],
    add: u32,
    window: u64,
) -> Option<SocketAddr> {
    let redis = sync.redis()?;
    let peer = redis.server()?;
    let params_window = if zone.rate.is_per_minute() {
        60_000
    } else {
        1_000
    };
    REQUEST.with(|cell| {
        let mut buffers = cell.try_borrow_mut().ok()?;
        let (counter, request) = &mut *buffers;
        counter_key(counter, &zone.name, key, window);
        sync_request(request, counter, u64::from(add), params_window * 2);
        let spec = CallSpec {
            peer,
            request,
            timeout: redis.timeout,
            max_reply: 256,
            complete: sync_complete,
        };
        // The call parks the session: the handler returns `Done`.
        let _: PhaseOutcome = session
            .call_with::<Sift>(spec, redis.options(sync_reusable))
            .ok()?;
        Some(peer)
    })
}

/// Whether this session waits for a sync.
pub fn waiting(ctx: &SiftCtx) -> bool {
    ctx.rate_sync.get().is_some()
}

/// The sync's reply (or failure): the verdict of its zone for this
/// connection, folded into `$sift_rate_status`.
pub fn on_call_done(session: &Session<'_>, outcome: CallOutcome<'_>) -> TimerAction {
    let conf = session.srv_conf::<Sift>();
    let Some(ctx) = session.ctx::<Sift>() else {
        return TimerAction::ResumePhases;
    };
    let Some(pending) = ctx.rate_sync.take() else {
        return TimerAction::ResumePhases;
    };
    let Some(limit) = conf.rates().get(pending.index) else {
        return TimerAction::ResumePhases;
    };
    let (Some(zone), Some(key)) = (limit.zone_data(), limit.key(session)) else {
        return TimerAction::ResumePhases;
    };
    let Some(sync) = zone.sync.as_ref() else {
        return TimerAction::ResumePhases;
    };
    let count = match outcome {
        CallOutcome::Reply(bytes) => sync_count(bytes),
        _ => None,
    };
    let verdict = match count {
        Some(global) => {
            set_down(sync, false);
            let params = params(zone, sync, limit.burst);
            let now = ngx_stream::time::wall_msec();
            let within = zone
                .table
                .as_ref()
                .and_then(|table| table.lock())
                .and_then(|mut guard| {
                    let (_, bytes) = zone_parts(guard.bytes(), true);
                    let (header, slots) = split_sync_region(bytes)?;
                    let mut table = SyncTable::attach(header, slots)?;
                    Some(table.synced(key, pending.window, pending.add, global, now, &params))
                })
                .unwrap_or(global <= params.limit);
            if within {
                Verdict::Passed
            } else {
                Verdict::Rejected
            }
        }
        None => {
            let why = match outcome {
                CallOutcome::Reply(_) => {
                    // Answered, but not with two integers: treat the server
                    // as failing, so the next calls back off.
                    if let Some(redis) = sync.redis() {
                        ngx_stream::backoff::peer_failed(
                            pending.peer,
                            &redis.backoff(),
                            "unexpected reply",
                            None,
                        );
                    }
                    "unexpected reply"
                }
                CallOutcome::Closed(_) => "connection closed",
                CallOutcome::Timeout => "timed out",
                CallOutcome::Failed => "error",
            };
            failed(session, zone, sync, key, pending.window, why);
            fail_verdict(sync)
        }
    };
    let status = record(session, conf, zone, verdict);
    let merged = match (ctx.rate.get(), status) {
        (Some(RateStatus::Rejected), _) | (_, RateStatus::Rejected) => RateStatus::Rejected,
        (Some(RateStatus::RejectedDryRun), _) | (_, RateStatus::RejectedDryRun) => {
            RateStatus::RejectedDryRun
        }
        _ => RateStatus::Passed,
    };
    ctx.rate.set(Some(merged));
    TimerAction::ResumePhases
}

/// Counts the zone's outcome (as `check_limits` does for local zones) and
/// logs a rejection.
fn record(
    session: &Session<'_>,
    conf: &crate::conf::SiftSrvConf,
    zone: &RateZone,
    verdict: Verdict,
) -> RateStatus {
    let counters = zone.metrics.get().map_or(&[][..], |slot| slot.counters());
    if verdict == Verdict::Passed {
        metrics::bump(counters, metrics::rate::PASSED);
        return RateStatus::Passed;
    }
    let dry_run = conf.rate_dry_run == 1;
    metrics::bump(
        counters,
        if dry_run {
            metrics::rate::REJECTED_DRY_RUN
        } else {
            metrics::rate::REJECTED
        },
    );
    if let (Some(log), Some(level)) = (session.log(), conf.rate_log_level) {
        let dry = if dry_run { ", dry run," } else { "" };
        ngx_stream::stream_log!(
            level,
            log,
            "sift: limiting connections{dry} by zone \"{}\" across hosts",
            zone.name
        );
    }
    if dry_run {
        RateStatus::RejectedDryRun
    } else {
        RateStatus::Rejected
    }
}

/// A sync failed: its count stays local for the next one; logged once per
/// interval.
fn failed(
    session: &Session<'_>,
    zone: &RateZone,
    sync: &RateSync,
    key: &[u8],
    window: u64,
    why: &str,
) {
    set_down(sync, true);
    forget_flight(zone, key, window);
    if let Some(redis) = sync.redis() {
        let mode = if sync.fail_closed {
            "refusing connections (sync_fail=closed)"
        } else {
            "enforcing the local limit alone (sync_fail=open)"
        };
        redis.log_failure(
            session.log(),
            format_args!(
                "sync of sift_rate_zone \"{}\" failed ({why}), {mode}",
                zone.name
            ),
        );
    }
}

fn forget_flight(zone: &RateZone, key: &[u8], window: u64) {
    if let Some(mut guard) = zone.table.as_ref().and_then(|table| table.lock()) {
        let (_, bytes) = zone_parts(guard.bytes(), true);
        if let Some((header, slots)) = split_sync_region(bytes) {
            if let Some(mut table) = SyncTable::attach(header, slots) {
                table.failed(key, window);
            }
        }
    }
}

//! `sift_list_zone ... sync=NAME [sync_interval=TIME]`: the list shared
//! by every host using the Redis `NAME` (`sift_redis`), kept by polling.
//!
//! Every `sync_interval` (default 1s) one worker of the host (a lease in
//! the list's sync zone) makes one call to Redis, not tied to any client
//! connection (`ngx_stream::task`): an atomic script
//! (`sift_core::redis::list`) that applies the changes this host's API
//! made since the last sync (a bounded journal in shared memory; after an
//! overflow, the whole list replaces Redis's), and returns Redis's version
//! counter, plus the whole list when that version is not the one applied
//! last. The list is then replaced all or nothing, with changes made here
//! meanwhile laid over it. So a change reaches every host within about two
//! intervals (one to reach Redis, one to be read), and one written
//! directly in Redis (`HSET` then `INCR ...:version`) within one.
//!
//! Failures (Redis down, slow, answering garbage, a list too big for the
//! zone) leave the local list as it is: lookups and API writes go on,
//! writes stay journaled and reach Redis once it answers. They are logged
//! at most once per interval across the host's workers.

use ngx_stream::ffi::{ngx_msec_t, NGX_LOG_ERR, NGX_LOG_NOTICE};
use ngx_stream::log::Log;
use ngx_stream::task::{PeriodicTask, TaskCall, TaskPrelude};
use ngx_stream::{
    CallOutcome, Conf, Declared, Error, Result, SharedRegion, ZoneKind, ZoneMemory, ZoneRef,
    ZoneTag,
};
use sift_core::list::journal::{diff, overlay, Outbox, SyncState};
use sift_core::list::{Change, ListError};
use sift_core::redis::list::{parse_sync_reply, sync_complete, sync_request, sync_reusable, Push};

use crate::list::{ListZone, ListZoneKind};
use crate::module::Sift;
use crate::redis::{RedisConf, RedisZoneKind, LOG_INTERVAL_MS};

/// `sync_interval=` default.
pub const DEFAULT_INTERVAL_MS: u64 = 1_000;
/// Journal bytes per synced list: changes made through the API between
/// two syncs (a full API body is at most client_body_buffer_size, 16k by
/// default); beyond, the next sync pushes the whole list.
pub const JOURNAL_BYTES: usize = 256 * 1024;
/// A sync's call may take this long at least (it is off the client's path;
/// a large list takes a while to transfer).
const MIN_TIMEOUT_MS: ngx_msec_t = 1_000;

/// A list's `sync=` settings.
#[derive(Clone, Debug)]
pub struct ListSync {
    pub redis_name: String,
    /// Where `sync=` is written, for an unknown name found later.
    pub location: String,
    pub redis: ZoneRef<RedisZoneKind>,
    pub interval_ms: u64,
    /// The sync zone: lease, applied version, journal.
    pub state: ZoneRef<SyncZoneKind>,
    /// The largest reply accepted: well over what fits in the list zone,
    /// so a list too big for it is read and reported as such (a larger
    /// reply fails the call, and the server backs off as for any failure).
    /// The buffer is allocated zeroed, so untouched pages cost nothing.
    pub max_reply: usize,
}

/// Declares the sync zone of list `list` with Redis `redis_name`.
pub fn declare(
    cf: &Conf<'_>,
    list: &str,
    redis_name: &[u8],
    interval_ms: Option<u64>,
    list_size: usize,
) -> Result<ListSync> {
    let redis_name = String::from_utf8_lossy(redis_name).into_owned();
    let zone_name = format!("sift_list_sync:{list}:{redis_name}");
    let size = JOURNAL_BYTES + sift_core::list::journal::HEADER + 8 * ngx_stream::shm::page_size();
    let state = match cf.add_zone::<SyncZoneKind>(
        zone_name.as_bytes(),
        size,
        SyncZone {
            name: list.to_string(),
            region: None,
        },
    )? {
        Declared::New(zone) => zone,
        Declared::Existing(_) => {
            return Err(Error::Invalid(format!(
                "duplicate sift_list_zone \"{list}\""
            )))
        }
    };
    Ok(ListSync {
        redis: cf.zone_ref::<RedisZoneKind>(&crate::redis::zone_name(redis_name.as_bytes()))?,
        redis_name,
        location: cf.location(),
        interval_ms: interval_ms.unwrap_or(DEFAULT_INTERVAL_MS),
        state,
        max_reply: list_size.saturating_mul(4).saturating_add(1 << 20),
    })
}

/// From `postconfiguration`: every `sync=` names a `sift_redis`; each
/// synced list gets its worker task.
pub fn start(cf: &Conf<'_>) -> Result<()> {
    for list in crate::metrics::lists(cf)? {
        let Some(zone) = list.data() else {
            continue;
        };
        let Some(sync) = &zone.sync else {
            continue;
        };
        if sync.redis.data().is_none() {
            return Err(Error::Invalid(format!(
                "unknown sift_redis \"{}\" in sift_list_zone \"{}\" in {}",
                sync.redis_name, zone.name, sync.location
            )));
        }
        // Ticks come four times per interval: the lease makes one of them
        // (in one worker) a sync, so syncs are interval to 1.25 intervals apart.
        let tick = (sync.interval_ms / 4).max(10) as ngx_msec_t;
        ngx_stream::task::register::<Sift>(
            cf,
            tick,
            Box::new(SyncTask {
                list,
                outbox: None,
                label: format!("sift_list_zone \"{}\" sync", zone.name),
            }),
        )?;
    }
    Ok(())
}

/// Each synced list's name and sync state, for the `sift_list_sync_*`
/// metrics: (name, failures, pending changes, last success in Unix ms).
pub fn sync_counts(registry: &crate::metrics::MetricsZone) -> Vec<(String, u64, u64, u64)> {
    registry
        .lists
        .borrow()
        .iter()
        .filter_map(|zone| zone.data())
        .filter_map(|zone| {
            with_state(zone, |state| {
                (
                    zone.name.clone(),
                    state.failures(),
                    state.len() as u64 + u64::from(state.overflowed()),
                    state.last_success_ms(),
                )
            })
        })
        .collect()
}

/// Journals a batch the API applied to `zone` (called under the list's
/// lock, right after the table took it, so the journal's order is the
/// table's).
pub fn journal_changes(zone: &ListZone, changes: &[Change<'_>]) {
    with_state(zone, |state| state.record_changes(changes));
}

/// Journals a clear of the whole list (under the list's lock).
pub fn journal_clear(zone: &ListZone) {
    with_state(zone, |state| state.record_clear());
}

fn with_state<R>(zone: &ListZone, f: impl FnOnce(&mut SyncState<'_>) -> R) -> Option<R> {
    let region = zone.sync.as_ref()?.state.data()?.region.as_ref()?;
    let mut guard = region.lock()?;
    let mut state = SyncState::attach_or_init(guard.bytes())?;
    Some(f(&mut state))
}

/// One synced list's worker task.
struct SyncTask {
    list: ZoneRef<ListZoneKind>,
    /// What the call in flight pushes.
    outbox: Option<Outbox>,
    label: String,
}

impl SyncTask {
    fn failed(&self, zone: &ListZone, sync: &ListSync, why: &str, log: Option<Log<'_>>) {
        let report = with_state(zone, |state| {
            state.end_lease();
            state.count_failure();
            state.should_log(ngx_stream::time::current_msec(), LOG_INTERVAL_MS)
        })
        .flatten();
        if let (Some(unlogged), Some(log)) = (report, log) {
            log.error(
                NGX_LOG_ERR as usize,
                format_args!(
                    "sift_list_zone \"{}\": sync with sift_redis \"{}\" failed ({why}); the list keeps its entries and API changes wait for Redis; {unlogged} more failures since the last report",
                    zone.name, sync.redis_name
                ),
            );
        }
    }
}

/// The list's zone, sync settings and Redis.
fn parts(list: &ZoneRef<ListZoneKind>) -> Option<(&ListZone, &ListSync, &RedisConf)> {
    let zone = list.data()?;
    let sync = zone.sync.as_ref()?;
    Some((zone, sync, sync.redis.data()?))
}

/// What applying Redis's list did.
enum Applied {
    Changed(usize),
    Same,
    /// Changes were dropped here (journal overflow): this host's list is
    /// pushed whole next time instead.
    Deferred,
    /// Redis has never held this list: this host's list seeds it.
    Seeding,
}

impl PeriodicTask for SyncTask {
    fn name(&self) -> &str {
        &self.label
    }

    fn tick(&mut self, log: Option<Log<'_>>) -> Option<TaskCall> {
        let list = self.list;
        let (zone, sync, redis) = parts(&list)?;
        let now = ngx_stream::time::current_msec();
        let timeout = redis.timeout.max(MIN_TIMEOUT_MS);
        let flight = (timeout as u64).saturating_add(1_000);
        if !with_state(zone, |state| {
            state.take_lease(now, sync.interval_ms, flight)
        })? {
            return None;
        }
        let Some(peer) = redis.server() else {
            self.failed(zone, sync, "every server backs off after failures", log);
            return None;
        };
        let wall = ngx_stream::time::wall_msec();
        // The list's lock, then the sync zone's (the API's order too).
        let prepared = zone.with_table(|_, table| {
            with_state(zone, |state| {
                let outbox = state.outbox();
                let entries = (outbox.replace || outbox.merge).then(|| table.entries(wall));
                (outbox, entries, state.applied())
            })
        });
        let Some(Some((outbox, entries, applied))) = prepared else {
            self.failed(zone, sync, "the zone is not available", log);
            return None;
        };
        let push = match &entries {
            Some(entries) if outbox.merge => Push::Merge(entries),
            Some(entries) => Push::Replace(entries),
            None => Push::Records(&outbox.records),
        };
        let mut request = Vec::new();
        sync_request(&mut request, &zone.name, applied, wall, &push);
        let options = redis.options(sync_reusable);
        self.outbox = Some(outbox);
        Some(TaskCall {
            peer,
            request,
            timeout,
            max_reply: sync.max_reply,
            complete: sync_complete,
            keepalive: options.keepalive,
            backoff: options.backoff,
            prelude: options.prelude.map(|prelude| TaskPrelude {
                request: prelude.request.to_vec(),
                reply: prelude.reply,
            }),
        })
    }

    fn done(&mut self, outcome: CallOutcome<'_>, log: Option<Log<'_>>) {
        let list = self.list;
        let Some((zone, sync, _)) = parts(&list) else {
            return;
        };
        let outbox = self.outbox.take();
        let why = match outcome {
            CallOutcome::Reply(bytes) => {
                match parse_sync_reply(bytes, zone.kind, ngx_stream::time::wall_msec()) {
                    Ok(reply) => {
                        self.apply(zone, sync, outbox, reply, log);
                        return;
                    }
                    Err(why) => why,
                }
            }
            CallOutcome::Closed(_) => "Redis closed the connection".into(),
            CallOutcome::Timeout => "timed out".into(),
            CallOutcome::Failed => {
                "no connection, AUTH refused, or a reply over its size limit".into()
            }
        };
        if let Some(outbox) = &outbox {
            with_state(zone, |state| state.push_failed(outbox));
        }
        self.failed(zone, sync, &why, log);
    }
}

impl SyncTask {
    fn apply(
        &self,
        zone: &ListZone,
        sync: &ListSync,
        outbox: Option<Outbox>,
        reply: sift_core::redis::list::SyncReply,
        log: Option<Log<'_>>,
    ) {
        with_state(zone, |state| {
            state.count_success(ngx_stream::time::wall_msec())
        });
        if reply.lost {
            // Nothing was applied in Redis; this host's whole list goes next.
            with_state(zone, |state| {
                state.seed();
                state.sync_now();
                state.end_lease();
            });
            if let Some(log) = log {
                log.error(
                    NGX_LOG_NOTICE as usize,
                    format_args!(
                        "sift_list_zone \"{}\": sift_redis \"{}\" lost the list (no version key): this host's entries are added back",
                        zone.name, sync.redis_name
                    ),
                );
            }
            return;
        }
        if let Some(outbox) = &outbox {
            with_state(zone, |state| state.acknowledge(outbox.upto));
        }
        let version = reply.version;
        let Some(snapshot) = reply.snapshot else {
            with_state(zone, |state| {
                state.set_applied(version);
                state.end_lease();
            });
            return;
        };
        let now = ngx_stream::time::wall_msec();
        let result = zone.change(now, log, |table| {
            let Some((pending, overflowed, applied)) = with_state(zone, |state| {
                (state.pending(), state.overflowed(), state.applied())
            }) else {
                return Ok(Applied::Deferred);
            };
            if overflowed {
                return Ok(Applied::Deferred);
            }
            let current = table.entries(now);
            if applied.is_none() && version == 0 && snapshot.entries.is_empty() {
                if current.is_empty() {
                    return Ok(Applied::Same);
                }
                with_state(zone, |state| state.seed());
                return Ok(Applied::Seeding);
            }
            // Usually nothing is pending: no copy of the snapshot then
            // (this runs under the list's lock: ~3 ms for 14,000 entries).
            let overlaid;
            let target = if pending.is_empty() {
                &snapshot.entries
            } else {
                overlaid = overlay(snapshot.entries.clone(), &pending);
                &overlaid
            };
            let changes = diff(&current, target);
            if changes.is_empty() {
                return Ok(Applied::Same);
            }
            table.apply(&changes, now)?;
            Ok::<Applied, ListError>(Applied::Changed(changes.len()))
        });
        with_state(zone, |state| {
            if !matches!(result, Ok(Applied::Deferred) | Ok(Applied::Seeding)) {
                state.set_applied(version);
            }
            state.end_lease();
        });
        let Some(log) = log else {
            return;
        };
        match result {
            Ok(Applied::Changed(count)) => log.error(
                NGX_LOG_NOTICE as usize,
                format_args!(
                    "sift_list_zone \"{}\": {count} changes from sift_redis \"{}\" (version {version})",
                    zone.name, sync.redis_name
                ),
            ),
            Ok(Applied::Seeding) => log.error(
                NGX_LOG_NOTICE as usize,
                format_args!(
                    "sift_list_zone \"{}\": sift_redis \"{}\" has no such list yet: this host's entries seed it",
                    zone.name, sync.redis_name
                ),
            ),
            Ok(_) => {}
            Err(_) => {
                let entries = snapshot.entries.len();
                self.failed(
                    zone,
                    sync,
                    &format!("Redis's list of {entries} entries does not fit in the zone, kept the old contents"),
                    Some(log),
                );
            }
        }
        if snapshot.skipped > 0 {
            log.error(
                NGX_LOG_ERR as usize,
                format_args!(
                    "sift_list_zone \"{}\": {} entries in sift_redis \"{}\" left out ({})",
                    zone.name,
                    snapshot.skipped,
                    sync.redis_name,
                    snapshot.first_skip.as_deref().unwrap_or("")
                ),
            );
        }
    }
}

/// A sync zone's per-cycle data.
pub struct SyncZone {
    pub name: String,
    pub region: Option<SharedRegion>,
}

/// Sync zones (`sift_list_sync:LIST:REDIS`), kept across reloads.
pub struct SyncZoneKind;

impl ZoneKind for SyncZoneKind {
    type Module = Sift;
    type Data = SyncZone;

    fn tag() -> &'static ZoneTag {
        static TAG: ZoneTag = ZoneTag::new();
        &TAG
    }

    fn init(
        data: &mut SyncZone,
        previous: Option<&SyncZone>,
        zone: &ZoneMemory,
        _log: Option<Log<'_>>,
    ) -> Result<()> {
        if let Some(region) = previous.and_then(|previous| previous.region.clone()) {
            data.region = Some(region);
            return Ok(());
        }
        let region = zone.take_all_free()?;
        {
            let mut guard = region.lock().ok_or_else(|| {
                Error::Invalid(format!("sync zone of \"{}\" unavailable", data.name))
            })?;
            SyncState::attach_or_init(guard.bytes()).ok_or_else(|| {
                Error::Invalid(format!("sync zone of \"{}\" is too small", data.name))
            })?;
        }
        data.region = Some(region);
        Ok(())
    }
}

//! sift's Prometheus counters: one shared zone (`sift_metrics`) of atomic
//! words that every worker adds to without a lock, found by name by the
//! stream servers that count and by the http locations that serve
//! `sift_metrics`. The layout and the text format are
//! `sift_core::metrics`.

use core::cell::{OnceCell, RefCell};
use core::sync::atomic::AtomicU64;

use ngx_stream::command::Directive;
use ngx_stream::ffi::{ngx_flag_t, NGX_LOG_NOTICE, NGX_LOG_WARN};
use ngx_stream::log::Log;
use ngx_stream::module::{merge_flag, FLAG_UNSET};
use ngx_stream::{
    Conf, Declared, Error, PhaseHandler, PhaseOutcome, Result, Session, SharedCounters, ZoneKind,
    ZoneMemory, ZoneRef, ZoneTag,
};
use sift_core::metrics::{self as core_metrics, server, BlockKind, Registry};
use sift_core::protocol::{Classification, Protocol};

use crate::access::AccessOutcome;
use crate::conf::SiftSrvConf;
use crate::module::Sift;
use crate::ratelimit::RateZoneKind;

/// The zone's name: one per nginx, shared by `stream {}` and `http {}`.
pub const ZONE_NAME: &[u8] = b"sift_metrics";
/// Its size: 1 MB holds about 1,600 servers and rate zones.
pub const ZONE_SIZE: usize = 1 << 20;

/// What a block counts, as registered while the configuration is read.
pub struct Series {
    pub kind: BlockKind,
    pub name: String,
    /// A server's user signature names.
    pub signatures: Vec<String>,
    /// A rate zone's table, for its gauges.
    pub rate_zone: Option<ZoneRef<RateZoneKind>>,
}

/// The zone's per-cycle data.
#[derive(Default)]
pub struct MetricsZone {
    pub series: RefCell<Vec<Series>>,
    /// The `sift_top` zones, for `sift_top_count`.
    pub tops: RefCell<Vec<ZoneRef<crate::top::TopZoneKind>>>,
    /// The `sift_list_zone` zones, for `sift_list_entries` and `sift_api`.
    pub lists: RefCell<Vec<ZoneRef<crate::list::ListZoneKind>>>,
    /// Each `sift_list`'s zone, its name and where it is, checked once the
    /// stream block is read.
    pub list_uses: RefCell<Vec<ListUse>>,
    /// Each series' block, once the zone is mapped (None: the zone is full).
    blocks: Vec<Option<usize>>,
    counters: Option<SharedCounters>,
}

impl MetricsZone {
    fn registry(&self) -> Option<Registry<'_>> {
        Registry::attach(self.counters.as_ref()?.words())
    }

    /// The counters of series `index` (empty if it has none).
    pub fn counters(&self, index: usize) -> &[AtomicU64] {
        match (self.registry(), self.blocks.get(index).copied().flatten()) {
            (Some(registry), Some(block)) => registry.counters(block),
            _ => &[],
        }
    }
}

/// `sift_metrics` zones (there is one).
pub struct MetricsZoneKind;

impl ZoneKind for MetricsZoneKind {
    type Module = Sift;
    type Data = MetricsZone;

    fn tag() -> &'static ZoneTag {
        static TAG: ZoneTag = ZoneTag::new();
        &TAG
    }

    /// Takes over the previous cycle's counters (the zone is kept when its
    /// size is, always for this one), or lays a fresh zone out; then finds
    /// or adds each series' block by kind and name.
    fn init(
        data: &mut MetricsZone,
        previous: Option<&MetricsZone>,
        zone: &ZoneMemory,
        log: Option<Log<'_>>,
    ) -> Result<()> {
        let counters = match previous.and_then(|previous| previous.counters.clone()) {
            Some(counters) => counters,
            None => zone
                .take_all_free_counters()
                .map_err(|_| Error::Invalid(String::from("zone \"sift_metrics\" is too small")))?,
        };
        let registry = Registry::attach_or_init(counters.words())
            .ok_or_else(|| Error::Invalid(String::from("zone \"sift_metrics\" is too small")))?;
        let series = data.series.get_mut();
        data.blocks = series
            .iter()
            .map(|series| {
                let block = registry.find_or_insert(series.kind, series.name.as_bytes());
                if let (None, Some(log)) = (block, log) {
                    log.error(
                        NGX_LOG_WARN as usize,
                        format_args!(
                            "sift_metrics: no room left for \"{}\", not counted",
                            series.name
                        ),
                    );
                }
                block
            })
            .collect();
        if previous.is_none() {
            if let Some(log) = log {
                log.error(
                    NGX_LOG_NOTICE as usize,
                    format_args!(
                        "sift_metrics: {} series in {} bytes of the zone",
                        registry.capacity(),
                        counters.words().len() * 8
                    ),
                );
            }
        }
        data.counters = Some(counters);
        Ok(())
    }
}

/// The metrics zone of the configuration being read, declared on first use.
pub fn zone(cf: &Conf<'_>) -> Result<ZoneRef<MetricsZoneKind>> {
    match cf.add_zone::<MetricsZoneKind>(ZONE_NAME, ZONE_SIZE, MetricsZone::default())? {
        Declared::New(zone) => Ok(zone),
        Declared::Existing(_) => cf.zone_ref::<MetricsZoneKind>(ZONE_NAME),
    }
}

/// Where a server or rate zone counts.
#[derive(Clone, Copy, Debug)]
pub struct MetricsSlot {
    zone: ZoneRef<MetricsZoneKind>,
    index: usize,
}

impl MetricsSlot {
    /// Adds `series` to the configuration's metrics.
    pub fn register(cf: &Conf<'_>, series: Series) -> Result<MetricsSlot> {
        let zone = zone(cf)?;
        let data = zone.data().ok_or("sift_metrics zone without data")?;
        let mut all = data
            .series
            .try_borrow_mut()
            .map_err(|_| "sift_metrics zone busy")?;
        all.push(series);
        Ok(MetricsSlot {
            zone,
            index: all.len() - 1,
        })
    }

    /// The counters (empty when not counted).
    pub fn counters(&self) -> &[AtomicU64] {
        self.zone
            .data()
            .map_or(&[], |data| data.counters(self.index))
    }
}

/// A server's metrics: its name, and where it counts.
#[derive(Debug)]
pub struct ServerMetrics {
    /// `sift_metrics_name NAME;`
    pub name: Option<String>,
    /// `sift_metrics_count on | off;` (set by nginx's flag slot)
    pub count: ngx_flag_t,
    pub slot: OnceCell<MetricsSlot>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics {
            name: None,
            count: FLAG_UNSET,
            slot: OnceCell::new(),
        }
    }
}

impl ServerMetrics {
    /// Inherits `sift_metrics_count` (on by default); the name is the server's own.
    pub fn merge(&mut self, prev: &ServerMetrics) {
        merge_flag(&mut self.count, prev.count, true);
    }

    fn counters(&self) -> &[AtomicU64] {
        self.slot.get().map_or(&[], MetricsSlot::counters)
    }
}

/// `sift_metrics_name NAME;` (server)
pub struct SiftMetricsName;

impl Directive for SiftMetricsName {
    type Module = Sift;
    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        if conf.metrics.name.is_some() {
            return Err(Error::Invalid(String::from(
                "\"sift_metrics_name\" directive is duplicate",
            )));
        }
        let value = cf.arg(0).unwrap_or_default();
        let name = core::str::from_utf8(value)
            .ok()
            .filter(|name| !name.is_empty() && name.len() <= core_metrics::NAME_MAX)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{} (1 to {} bytes of UTF-8)",
                    cf.invalid_value(value),
                    core_metrics::NAME_MAX
                ))
            })?;
        conf.metrics.name = Some(name.to_owned());
        Ok(())
    }
}

/// From `postconfiguration`: every server where sift does something gets a
/// block, named by `sift_metrics_name` or its first `listen`.
pub fn register_servers(cf: &Conf<'_>) -> Result<()> {
    for (number, server) in cf.stream_servers::<Sift>()?.into_iter().enumerate() {
        let conf = server.conf;
        let counts = conf.metrics.count != 0
            && (conf.is_enabled()
                || !conf.rules().is_empty()
                || !conf.rates().is_empty()
                || conf.metrics.name.is_some());
        if !counts || conf.metrics.slot.get().is_some() {
            continue;
        }
        let name = conf
            .metrics
            .name
            .clone()
            .or(server.listen)
            .unwrap_or_else(|| format!("server#{}", number + 1));
        let signatures = conf.signatures().map_or_else(Vec::new, |set| {
            set.iter().map(|s| s.name().to_owned()).collect()
        });
        let slot = MetricsSlot::register(
            cf,
            Series {
                kind: BlockKind::Server,
                name,
                signatures,
                rate_zone: None,
            },
        )?;
        let _ = conf.metrics.slot.set(slot);
    }
    Ok(())
}

/// From `sift_rate_zone`: the zone's outcomes get a block.
pub fn register_rate_zone(cf: &Conf<'_>, zone: ZoneRef<RateZoneKind>) -> Result<()> {
    let data = zone.data().ok_or("rate zone without data")?;
    let slot = MetricsSlot::register(
        cf,
        Series {
            kind: BlockKind::Rate,
            name: data.name.clone(),
            signatures: Vec::new(),
            rate_zone: Some(zone),
        },
    )?;
    let _ = data.metrics.set(slot);
    Ok(())
}

/// From `sift_top`: the zone's heaviest keys are shown.
pub fn register_top(cf: &Conf<'_>, top: ZoneRef<crate::top::TopZoneKind>) -> Result<()> {
    let zone = zone(cf)?;
    let data = zone.data().ok_or("sift_metrics zone without data")?;
    data.tops
        .try_borrow_mut()
        .map_err(|_| "sift_metrics zone busy")?
        .push(top);
    Ok(())
}

/// A `sift_list` directive's zone, by name and place.
pub type ListUse = (ZoneRef<crate::list::ListZoneKind>, String, String);

/// From `sift_list_zone`: the list is shown and served.
pub fn register_list(cf: &Conf<'_>, list: ZoneRef<crate::list::ListZoneKind>) -> Result<()> {
    let zone = zone(cf)?;
    let data = zone.data().ok_or("sift_metrics zone without data")?;
    data.lists
        .try_borrow_mut()
        .map_err(|_| "sift_metrics zone busy")?
        .push(list);
    Ok(())
}

/// The list zones declared so far.
pub fn lists(cf: &Conf<'_>) -> Result<Vec<ZoneRef<crate::list::ListZoneKind>>> {
    let zone = zone(cf)?;
    let data = zone.data().ok_or("sift_metrics zone without data")?;
    let lists = data
        .lists
        .try_borrow()
        .map_err(|_| "sift_metrics zone busy")?;
    Ok(lists.clone())
}

/// From `sift_list`: a zone to check once the stream block is read.
pub fn register_list_use(
    cf: &Conf<'_>,
    list: ZoneRef<crate::list::ListZoneKind>,
    name: String,
    location: String,
) -> Result<()> {
    let zone = zone(cf)?;
    let data = zone.data().ok_or("sift_metrics zone without data")?;
    data.list_uses
        .try_borrow_mut()
        .map_err(|_| "sift_metrics zone busy")?
        .push((list, name, location));
    Ok(())
}

/// The `sift_list` directives read so far.
pub fn list_uses(cf: &Conf<'_>) -> Result<Vec<ListUse>> {
    let zone = zone(cf)?;
    let data = zone.data().ok_or("sift_metrics zone without data")?;
    let uses = data
        .list_uses
        .try_borrow()
        .map_err(|_| "sift_metrics zone busy")?;
    Ok(uses.clone())
}

/// The sift protocol counter of a session, as `$sift_protocol` names it.
fn protocol_offset(classification: Classification) -> usize {
    match classification {
        Classification::Protocol(protocol) => Protocol::ALL
            .iter()
            .position(|p| *p == protocol)
            .map_or(server::PROTOCOLS + Protocol::ALL.len() - 1, |i| {
                server::PROTOCOLS + i
            }),
        Classification::Timeout => server::TIMEOUT,
        Classification::Closed => server::CLOSED,
        Classification::Signature(i) if i < server::SIGNATURES => server::SIGNATURE + i,
        Classification::Signature(_) => server::OTHER_SIGNATURE,
    }
}

/// Records the time from accept to the protocol decision.
pub fn observe_decision(session: &Session<'_>) {
    let counters = session.srv_conf::<Sift>().metrics.counters();
    if !counters.is_empty() {
        let ms = ngx_stream::time::session_elapsed_msec(session);
        core_metrics::observe_preread(counters, ms);
    }
}

/// Counts each session once, at its end (the log phase), with what sift found.
pub struct CountSession;

impl PhaseHandler for CountSession {
    type Module = Sift;
    const PHASE: ngx_stream::Phase = ngx_stream::Phase::Log;
    const NAME: &'static str = "sift metrics";

    fn handle(session: &Session<'_>) -> PhaseOutcome {
        let conf = session.srv_conf::<Sift>();
        crate::top::record(session, conf.tops());
        let counters = conf.metrics.counters();
        if counters.is_empty() {
            return PhaseOutcome::Continue;
        }
        let ctx = session.ctx::<Sift>();
        if let (true, true, Some(ctx)) = (conf.is_enabled(), session.is_datagram(), ctx) {
            if let Some(protocol) = ctx.datagram.get() {
                core_metrics::bump(counters, server::datagram_offset(protocol));
            }
        }
        if conf.is_enabled() && !session.is_datagram() {
            if let Some(ctx) = ctx {
                // As $sift_protocol (variables.rs): undecided means the
                // session left preread without sift deciding: nginx's
                // preread_timeout came first (the read timed out), or the
                // client closed (on nginx >= 1.25.5 possibly with no flag set).
                let classification = ctx.classification.get().unwrap_or_else(|| {
                    let closed = session.client_closed() || !session.read_timed_out();
                    Classification::undecided(ctx.pending.get().get(session).len(), closed)
                });
                core_metrics::bump(counters, protocol_offset(classification));
                if let Some(tls) = ctx.tls.get() {
                    let status = tls.status();
                    if let Some(i) = server::TLS_STATUSES.iter().position(|s| *s == status) {
                        core_metrics::bump(counters, server::TLS + i);
                    }
                }
            }
        }
        if let Some(access) = ctx.and_then(|ctx| ctx.access.get()) {
            let i = match access {
                AccessOutcome::Allowed(_) => 0,
                AccessOutcome::Denied(_) => 1,
                AccessOutcome::DryRunDenied(_) => 2,
            };
            core_metrics::bump(counters, server::ACCESS + i);
        }
        PhaseOutcome::Continue
    }
}

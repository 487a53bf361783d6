//! `sift_top zone=NAME:SIZE key=EXPRESSION [n=N];`: the heaviest keys of a
//! server's sessions, counted in shared memory when each session ends, and
//! shown by `sift_metrics` (`sift_top_count`). The algorithm (space-saving)
//! is `sift_core::top`.

use std::hash::{BuildHasher, RandomState};

use ngx_stream::command::Directive;
use ngx_stream::ffi::NGX_LOG_NOTICE;
use ngx_stream::log::Log;
use ngx_stream::{
    ComplexValue, Conf, Declared, Error, Result, Session, SharedRegion, ZoneKind, ZoneMemory,
    ZoneRef, ZoneTag,
};
use sift_core::ratelimit::params;
use sift_core::top::{split_region, Heavy, TopTable};

use crate::conf::SiftSrvConf;
use crate::module::Sift;

/// Keys shown at most (`n=`).
pub const MAX_SHOWN: usize = 100;

/// A `sift_top` zone's per-cycle description.
pub struct TopZone {
    pub name: String,
    pub key_text: String,
    pub key: ComplexValue,
    /// How many keys the metrics show.
    pub shown: usize,
    pub table: Option<SharedRegion>,
}

impl TopZone {
    /// The `shown` heaviest keys, read under the zone's lock.
    pub fn heaviest(&self) -> Vec<Heavy> {
        let Some(mut guard) = self.table.as_ref().and_then(SharedRegion::lock) else {
            return Vec::new();
        };
        split_region(guard.bytes())
            .and_then(|(header, entries)| TopTable::attach(header, entries))
            .map_or_else(Vec::new, |table| table.top(self.shown))
    }

    /// Counts the session's key (nothing for an empty key).
    fn record(&self, session: &Session<'_>) {
        // Evaluated before the zone is locked: it may call variable getters.
        let Ok(key) = session.evaluate(&self.key) else {
            return;
        };
        if key.is_empty() {
            return;
        }
        let Some(mut guard) = self.table.as_ref().and_then(SharedRegion::lock) else {
            return;
        };
        if let Some(mut table) = split_region(guard.bytes())
            .and_then(|(header, entries)| TopTable::attach(header, entries))
        {
            table.record(key);
        }
    }
}

/// `sift_top` zones.
pub struct TopZoneKind;

impl ZoneKind for TopZoneKind {
    type Module = Sift;
    type Data = TopZone;

    fn tag() -> &'static ZoneTag {
        static TAG: ZoneTag = ZoneTag::new();
        &TAG
    }

    /// Keeps the previous cycle's table when the zone is kept (same name,
    /// size and key), else lays a fresh one out.
    fn init(
        data: &mut TopZone,
        previous: Option<&TopZone>,
        zone: &ZoneMemory,
        log: Option<Log<'_>>,
    ) -> Result<()> {
        if let Some(previous) = previous {
            if previous.key_text == data.key_text {
                data.table = previous.table.clone();
                return Ok(());
            }
        }
        let too_small = || Error::Invalid(format!("zone \"{}\" is too small", data.name));
        let region = zone.take_all_free().map_err(|_| too_small())?;
        let capacity = {
            let mut guard = region.lock().ok_or_else(too_small)?;
            let (header, entries) = split_region(guard.bytes()).ok_or_else(too_small)?;
            let seed = RandomState::new().hash_one(&data.name);
            TopTable::init(header, entries, seed).capacity()
        };
        if let Some(log) = log {
            log.error(
                NGX_LOG_NOTICE as usize,
                format_args!("sift_top \"{}\": {capacity} keys monitored", data.name),
            );
        }
        data.table = Some(region);
        Ok(())
    }
}

/// `sift_top zone=NAME:SIZE key=EXPRESSION [n=N];` (stream, server)
pub struct SiftTop;

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

impl Directive for SiftTop {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        let mut zone = None;
        let mut key = None;
        let mut shown = 10usize;
        for param in cf.args() {
            if let Some(value) = param.strip_prefix(b"zone=") {
                let (name, size) = params::zone_name_and_size(value).map_err(Error::invalid)?;
                let bytes = cf.parse_size(size).map_err(|_| {
                    Error::Invalid(format!("invalid zone size \"{}\"", lossy(value)))
                })?;
                zone = Some((name, bytes));
            } else if let Some(value) = param.strip_prefix(b"key=") {
                if value.is_empty() {
                    return Err(Error::Invalid(String::from("empty key in \"sift_top\"")));
                }
                key = Some(value);
            } else if let Some(value) = param.strip_prefix(b"n=") {
                shown = core::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse::<usize>().ok())
                    .filter(|n| (1..=MAX_SHOWN).contains(n))
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "invalid n \"{}\" in \"sift_top\" (1 to {MAX_SHOWN})",
                            lossy(value)
                        ))
                    })?;
            } else {
                return Err(Error::Invalid(format!(
                    "invalid parameter \"{}\"",
                    lossy(param)
                )));
            }
        }
        let (name, size) = zone.ok_or("\"sift_top\" must have \"zone\" parameter")?;
        let key = key.ok_or("\"sift_top\" must have \"key\" parameter")?;
        if size < 8 * ngx_stream::shm::page_size() {
            return Err(Error::Invalid(format!(
                "zone \"{}\" is too small",
                lossy(name)
            )));
        }
        let data = TopZone {
            name: lossy(name).into_owned(),
            key_text: lossy(key).into_owned(),
            key: cf.compile(key)?,
            shown,
            table: None,
        };
        let zone = match cf.add_zone::<TopZoneKind>(name, size, data)? {
            Declared::New(zone) => zone,
            Declared::Existing(_) => {
                return Err(Error::Invalid(format!(
                    "duplicate sift_top zone \"{}\"",
                    lossy(name)
                )))
            }
        };
        crate::metrics::register_top(cf, zone)?;
        conf.tops.get_or_insert_with(Vec::new).push(zone);
        Ok(())
    }
}

/// From the log phase: counts the session in each `sift_top` zone of its server.
pub fn record(session: &Session<'_>, zones: &[ZoneRef<TopZoneKind>]) {
    for zone in zones {
        if let Some(zone) = zone.data() {
            zone.record(session);
        }
    }
}

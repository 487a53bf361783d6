//! A rate zone: its per-cycle description, and the table laid out in its
//! shared memory when nginx maps it.

use std::cell::OnceCell;
use std::hash::{BuildHasher, RandomState};

use ngx_stream::ffi::NGX_LOG_NOTICE;
use ngx_stream::log::Log;
use ngx_stream::{
    ComplexValue, Error, Result, SharedRegion, VariableIndex, ZoneKind, ZoneMemory, ZoneTag,
};
use sift_core::ratelimit::sync::{split_sync_region, SyncTable};
use sift_core::ratelimit::{split_region, Rate, RateTable};

use crate::metrics::MetricsSlot;
use crate::module::Sift;

/// How a zone's key is computed for a session.
#[derive(Clone, Copy, Debug)]
pub enum RateKey {
    /// The key is one variable (`$binary_remote_addr`): read it directly,
    /// with no copy into the session's pool.
    Variable(VariableIndex),
    /// Anything else (`"$sift_protocol:$sift_tls_sni"`): nginx's script
    /// engine builds it in the session's pool.
    Complex(ComplexValue),
}

/// A zone's per-cycle description (the shared zone's data).
pub struct RateZone {
    pub name: String,
    pub key_text: String,
    pub key: RateKey,
    pub rate: Rate,
    /// The table's memory, once nginx has mapped the zone.
    pub table: Option<SharedRegion>,
    /// Where the zone counts its outcomes (`sift_rate_total`).
    pub metrics: OnceCell<MetricsSlot>,
    /// `sync=NAME`: the limit holds across the hosts sharing that Redis.
    pub sync: Option<super::sync::RateSync>,
}

/// The rate table's bytes and the sync table's (empty without `sync=`):
/// a synced zone gives a third of its memory to the sync table.
pub fn zone_parts(bytes: &mut [u8], synced: bool) -> (&mut [u8], &mut [u8]) {
    if !synced {
        return (bytes, &mut []);
    }
    let rate_len = (bytes.len() / 3 * 2) & !63;
    bytes.split_at_mut(rate_len.min(bytes.len()))
}

impl RateZone {
    /// Keys held and keys the table can hold, read under the zone's lock.
    pub fn usage(&self) -> Option<(usize, usize)> {
        let mut guard = self.table.as_ref()?.lock()?;
        let (rate, _) = zone_parts(guard.bytes(), self.sync.is_some());
        let (header, slots) = split_region(rate)?;
        let table = RateTable::attach(header, slots)?;
        Some((table.len(), table.capacity()))
    }
}

/// `sift_rate_zone` zones.
pub struct RateZoneKind;

impl ZoneKind for RateZoneKind {
    type Module = Sift;
    type Data = RateZone;

    fn tag() -> &'static ZoneTag {
        static TAG: ZoneTag = ZoneTag::new();
        &TAG
    }

    /// Lays the table out in a new zone, or takes over the previous cycle's.
    fn init(
        data: &mut RateZone,
        previous: Option<&RateZone>,
        zone: &ZoneMemory,
        log: Option<Log<'_>>,
    ) -> Result<()> {
        if let Some(previous) = previous {
            if previous.key_text != data.key_text {
                return Err(Error::Invalid(format!(
                    "sift_rate_zone \"{}\" uses the \"{}\" key while previously it used the \"{}\" key",
                    data.name, data.key_text, previous.key_text
                )));
            }
            // Same zone after a reload: keep counting where we were.
            data.table = previous.table.clone();
            if previous.sync.is_some() != data.sync.is_some() {
                // Split otherwise now: both tables start afresh.
                let region = data
                    .table
                    .as_ref()
                    .ok_or_else(|| Error::from(String::from("no table")))?;
                format(data, region, None)?;
            }
            return Ok(());
        }

        let too_small = || Error::Invalid(format!("zone \"{}\" is too small", data.name));
        let region = zone.take_all_free().map_err(|_| too_small())?;
        // The same zone with another size (nginx made it afresh): its keys,
        // if the key is the same.
        let resized_zone = zone
            .resized_previous::<RateZoneKind>()
            .filter(|old| old.key_text == data.key_text);
        let resized_synced = resized_zone.is_some_and(|old| old.sync.is_some());
        let resized = resized_zone.and_then(|old| old.table.clone());
        let (capacity, kept) = {
            let mut guard = region.lock().ok_or_else(too_small)?;
            let (rate, sync) = zone_parts(guard.bytes(), data.sync.is_some());
            if data.sync.is_some() {
                let seed = RandomState::new().hash_one(("sync", &data.name));
                let (header, slots) = split_sync_region(sync).ok_or_else(too_small)?;
                if SyncTable::init(header, slots, seed).capacity() == 0 {
                    return Err(too_small());
                }
            }
            let (header, slots) = split_region(rate).ok_or_else(too_small)?;
            let mut old_guard = resized.as_ref().and_then(SharedRegion::lock);
            let old_table = old_guard
                .as_mut()
                .and_then(|guard| {
                    let synced = resized_synced;
                    split_region(zone_parts(guard.bytes(), synced).0)
                })
                .and_then(|(header, slots)| RateTable::attach(header, slots));
            match old_table {
                Some(old) => {
                    let (table, kept) = RateTable::init_from(header, slots, &old);
                    (table.capacity(), Some((kept, old.len())))
                }
                None => {
                    // A per-zone seed, so clients cannot precompute colliding keys.
                    let seed = RandomState::new().hash_one(&data.name);
                    (RateTable::init(header, slots, seed).capacity(), None)
                }
            }
        };
        if let (Some((kept, had)), Some(log)) = (kept, log) {
            log.error(
                NGX_LOG_NOTICE as usize,
                format_args!(
                    "sift_rate_zone \"{}\" changed size: {kept} of its {had} keys kept",
                    data.name
                ),
            );
        }
        if let Some(log) = log {
            log.error(
                NGX_LOG_NOTICE as usize,
                format_args!(
                    "sift_rate_zone \"{}\": {capacity} keys in {} bytes of the zone",
                    data.name,
                    region.len()
                ),
            );
        }
        data.table = Some(region);
        Ok(())
    }
}

/// Formats both tables of a kept zone whose split changed.
fn format(data: &RateZone, region: &SharedRegion, _log: Option<Log<'_>>) -> Result<()> {
    let too_small = || Error::Invalid(format!("zone \"{}\" is too small", data.name));
    let mut guard = region.lock().ok_or_else(too_small)?;
    let (rate, sync) = zone_parts(guard.bytes(), data.sync.is_some());
    if data.sync.is_some() {
        let seed = RandomState::new().hash_one(("sync", &data.name));
        let (header, slots) = split_sync_region(sync).ok_or_else(too_small)?;
        SyncTable::init(header, slots, seed);
    }
    let (header, slots) = split_region(rate).ok_or_else(too_small)?;
    let seed = RandomState::new().hash_one(&data.name);
    RateTable::init(header, slots, seed);
    Ok(())
}

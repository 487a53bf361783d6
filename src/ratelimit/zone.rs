//! A rate zone: its per-cycle description, and the table laid out in its
//! shared memory when nginx maps it.

use std::hash::{BuildHasher, RandomState};

use ngx_stream::ffi::NGX_LOG_NOTICE;
use ngx_stream::log::Log;
use ngx_stream::{
    ComplexValue, Error, Result, SharedRegion, VariableIndex, ZoneKind, ZoneMemory, ZoneTag,
};
use sift_core::ratelimit::{split_region, Rate, RateTable};

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
            return Ok(());
        }

        let too_small = || Error::Invalid(format!("zone \"{}\" is too small", data.name));
        let region = zone.take_all_free().map_err(|_| too_small())?;
        let capacity = {
            let mut guard = region.lock().ok_or_else(too_small)?;
            let (header, slots) = split_region(guard.bytes()).ok_or_else(too_small)?;
            // A per-zone seed, so clients cannot precompute colliding keys.
            let seed = RandomState::new().hash_one(&data.name);
            RateTable::init(header, slots, seed).capacity()
        };
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

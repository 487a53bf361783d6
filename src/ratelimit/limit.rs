//! One `sift_rate zone=... [burst=...]` line of a server, and the check it
//! makes for each session.

use ngx_stream::{Error, Result, Session, ZoneRef};
use sift_core::ratelimit::{split_region, RateTable, Verdict};

use super::{RateKey, RateZone, RateZoneKind};

#[derive(Clone, Debug)]
pub struct RateLimit {
    pub zone: ZoneRef<RateZoneKind>,
    pub burst: u32,
    pub zone_name: String,
    /// Where the `sift_rate` line is, for errors found after parsing.
    pub location: String,
}

impl RateLimit {
    fn zone(&self) -> Option<&RateZone> {
        self.zone.data()
    }

    /// Checked when servers are merged (the whole stream block is parsed).
    pub fn check_declared(&self) -> Result<()> {
        match self.zone() {
            Some(_) => Ok(()),
            None => Err(Error::Invalid(format!(
                "unknown sift_rate_zone \"{}\" in {}",
                self.zone_name, self.location
            ))),
        }
    }

    /// Counts one connection for `session`. None when not counted: the key
    /// is empty or could not be evaluated, or the zone is not mapped.
    pub fn check(&self, session: &Session<'_>) -> Option<(Verdict, &RateZone)> {
        let zone = self.zone()?;
        // Evaluated before the zone is locked: it may call variable getters.
        let key = match &zone.key {
            RateKey::Variable(index) => session.variable(*index)?,
            RateKey::Complex(value) => session.evaluate(value).ok()?,
        };
        if key.is_empty() {
            return None;
        }
        let now = ngx_stream::time::current_msec();
        let mut guard = zone.table.as_ref()?.lock()?;
        let (header, slots) = split_region(guard.bytes())?;
        let mut table = RateTable::attach(header, slots)?;
        Some((table.check(key, now, zone.rate, self.burst), zone))
    }
}

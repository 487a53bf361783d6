//! One `sift_rate zone=... [burst=...]` line of a server, and the check it
//! makes for each session.

use ngx_stream::{Error, Result, Session, ZoneRef};
use sift_core::ratelimit::sync::SyncVerdict;
use sift_core::ratelimit::{split_region, RateTable, Verdict};

use super::zone::zone_parts;
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
    /// The zone's description, once declared.
    pub fn zone_data(&self) -> Option<&RateZone> {
        self.zone.data()
    }

    /// Checked when servers are merged (the whole stream block is parsed).
    pub fn check_declared(&self) -> Result<()> {
        let Some(zone) = self.zone_data() else {
            return Err(Error::Invalid(format!(
                "unknown sift_rate_zone \"{}\" in {}",
                self.zone_name, self.location
            )));
        };
        match &zone.sync {
            Some(sync) if sync.redis().is_none() => Err(Error::Invalid(format!(
                "unknown sift_redis \"{}\" in sift_rate_zone \"{}\" in {}",
                sync.redis_name, zone.name, sync.location
            ))),
            _ => Ok(()),
        }
    }

    /// The session's key for this zone; None when it cannot be evaluated.
    pub fn key<'s>(&self, session: &Session<'s>) -> Option<&'s [u8]> {
        let zone = self.zone_data()?;
        match &zone.key {
            RateKey::Variable(index) => session.variable(*index),
            RateKey::Complex(value) => session.evaluate(value).ok(),
        }
    }

    /// Counts one connection for `session`. None when not counted: the key
    /// is empty or could not be evaluated, or the zone is not mapped. With
    /// `sync=`, a connection the local bucket passes is also counted
    /// against the key's window across hosts: what that says comes third.
    pub fn check<'s>(
        &self,
        session: &Session<'s>,
    ) -> Option<(Verdict, &RateZone, Option<SyncVerdict>, &'s [u8])> {
        let zone = self.zone_data()?;
        // Evaluated before the zone is locked: it may call variable getters.
        let key = self.key(session)?;
        if key.is_empty() {
            return None;
        }
        let now = ngx_stream::time::current_msec();
        let mut guard = zone.table.as_ref()?.lock()?;
        let synced = zone.sync.is_some();
        let (verdict, evicted) = {
            let (rate, _) = zone_parts(guard.bytes(), synced);
            let (header, slots) = split_region(rate)?;
            let mut table = RateTable::attach(header, slots)?;
            let before = table.evicted();
            let verdict = table.check(key, now, zone.rate, self.burst);
            (verdict, table.evicted().saturating_sub(before))
        };
        let sync = match (&zone.sync, verdict) {
            (Some(sync), Verdict::Passed) => {
                let params = super::sync::params(zone, sync, self.burst);
                // Windows are numbered on the wall clock: the same on every host.
                let wall = ngx_stream::time::wall_msec();
                super::sync::admit(guard.bytes(), key, wall, &params)
            }
            _ => None,
        };
        drop(guard);
        crate::rate_evictions::note(session, &self.zone_name, evicted, now);
        Some((verdict, zone, sync, key))
    }
}

//! Per-key connection-rate limiting in shared memory:
//! `sift_rate_zone` declares a zone (key, size, rate), `sift_rate` applies
//! it to servers. The table itself (leaky buckets, LRU eviction) is
//! `sift_core::ratelimit`; this file maps it onto an nginx zone.

use core::{mem, ptr, slice};

use nginx_sys::{ngx_shm_zone_t, ngx_slab_pool_t, ngx_str_t, ngx_stream_complex_value_t};
use sift_core::ratelimit::{slots_for, Header, Rate, RateTable, Slot, Verdict, HEADER_SIZE};

use super::conf::{SiftMainConf, SiftSrvConf};
use super::Sift;
use crate::stream::directive::{ConfArgs, Directive};
use crate::stream::log::Log;
use crate::stream::module::pool_allocate;
use crate::stream::shm::{add_zone, ZoneInit, ZoneLock};
use crate::stream::{Session, StreamModule};

/// Where a zone's table lives in shared memory (same address in every
/// worker: zones are mapped by the master before it forks).
#[derive(Clone, Copy, Debug)]
struct TableLocation {
    pool: *mut ngx_slab_pool_t,
    header: *mut Header,
    slots: *mut Slot,
    count: usize,
}

/// How a zone's key is computed for a session.
#[derive(Clone, Copy, Debug)]
enum RateKey {
    /// The key is one variable (`$binary_remote_addr`): read it directly,
    /// with no copy into the session's pool.
    Variable(usize),
    /// Anything else (`"$sift_protocol:$sift_tls_sni"`): nginx's script
    /// engine builds it in the session's pool.
    Complex(*mut ngx_stream_complex_value_t),
}

/// A zone's per-cycle description (the shm zone's `data`).
pub struct RateZone {
    pub name: String,
    key_text: String,
    key: RateKey,
    pub rate: Rate,
    table: Option<TableLocation>,
}

/// One `sift_rate zone=... [burst=...]` line of a server.
#[derive(Clone, Debug)]
pub struct RateLimit {
    zone: *mut ngx_shm_zone_t,
    pub burst: u32,
    zone_name: String,
    location: String,
}

impl RateLimit {
    fn zone(&self) -> Option<&RateZone> {
        // Zones live as long as the cycle; data is null until declared.
        // SAFETY: a declared zone of ours has RateZone data.
        unsafe { ((*self.zone).data as *const RateZone).as_ref() }
    }

    /// Checked when servers are merged (the whole stream block is parsed).
    pub fn check_declared(&self) -> Result<(), String> {
        match self.zone() {
            Some(_) => Ok(()),
            None => Err(format!(
                "unknown sift_rate_zone \"{}\" in {}",
                self.zone_name, self.location
            )),
        }
    }

    /// Counts one connection for `session`. None when not counted: the key
    /// is empty, or could not be evaluated.
    pub fn check(&self, session: &Session<'_>) -> Option<(Verdict, &str)> {
        let zone = self.zone()?;
        let key = match zone.key {
            RateKey::Variable(index) => session.variable(index)?,
            // SAFETY: the key was compiled for this cycle's configuration.
            RateKey::Complex(value) => unsafe { session.complex_value(value) }?,
        };
        if key.is_empty() {
            return None;
        }
        let table = zone.table?;
        // SAFETY: the zone is mapped; its pool mutex is shared by workers.
        let _lock = unsafe { ZoneLock::acquire(table.pool) };
        // init laid header and slots out in this zone's memory.
        // SAFETY: the zone lock makes this the only access to them.
        let (header, slots) = unsafe {
            (
                &mut *table.header,
                slice::from_raw_parts_mut(table.slots, table.count),
            )
        };
        let mut rates = RateTable::attach(header, slots)?;
        // nginx's monotonic millisecond clock, updated by this process.
        // SAFETY: a plain integer read on the worker's own thread.
        let now = unsafe { nginx_sys::ngx_current_msec } as u64;
        Some((rates.check(key, now, zone.rate, self.burst), &zone.name))
    }
}

/// `sift_rate_zone $key zone=name:size rate=Nr/s;`
pub struct SiftRateZone;

impl Directive for SiftRateZone {
    type Conf = SiftMainConf;

    fn set(args: &ConfArgs, _conf: &mut SiftMainConf) -> Result<(), String> {
        let key_text = args.arg(0).unwrap_or_default().to_owned();
        let mut zone = None;
        let mut rate = None;
        for (index, param) in args.args().enumerate().skip(1) {
            if let Some(value) = param.strip_prefix(b"zone=") {
                let colon = value.iter().rposition(|&b| b == b':');
                let (name, size) = match colon {
                    Some(at) if at > 0 => (&value[..at], &value[at + 1..]),
                    _ => {
                        return Err(format!(
                            "invalid zone size \"{}\"",
                            String::from_utf8_lossy(value)
                        ))
                    }
                };
                zone = Some((name, parse_size(args, index, name.len() + 1 + 5, size)?));
            } else if let Some(value) = param.strip_prefix(b"rate=") {
                let text = core::str::from_utf8(value).unwrap_or("");
                rate =
                    Some(Rate::parse(text).map_err(|_| {
                        format!("invalid rate \"{}\"", String::from_utf8_lossy(value))
                    })?);
            } else {
                return Err(format!(
                    "invalid parameter \"{}\"",
                    String::from_utf8_lossy(param)
                ));
            }
        }
        let (name, size) = zone.ok_or("\"sift_rate_zone\" must have \"zone\" parameter")?;
        let rate = rate.ok_or("\"sift_rate_zone\" must have \"rate\" parameter")?;
        // SAFETY: ngx_pagesize is set at startup, before configuration.
        let page = unsafe { nginx_sys::ngx_pagesize };
        if size < 8 * page {
            return Err(format!(
                "zone \"{}\" is too small",
                String::from_utf8_lossy(name)
            ));
        }

        let key = if is_one_variable(key_text.as_bytes()) {
            RateKey::Variable(args.variable_index(0)?)
        } else {
            RateKey::Complex(compile_complex_value(args)?)
        };
        let zone_name = String::from_utf8_lossy(name).into_owned();
        let data = RateZone {
            name: zone_name.clone(),
            key_text,
            key,
            rate,
            table: None,
        };
        // SAFETY: the conf pool lives as long as the cycle (and the zone).
        let data = unsafe { pool_allocate((*args.as_ptr()).pool, data) };
        if data.is_null() {
            return Err(String::from("out of memory"));
        }
        // `data` is a live RateZone in the conf pool.
        // SAFETY: every zone with our tag has RateZone data (or none yet).
        let existing = unsafe { add_zone::<Sift, RateZoneInit>(args, name, size, data) }?;
        if let Some(existing) = existing {
            return Err(format!(
                "sift_rate_zone \"{zone_name}\" is already bound to key \"{}\"",
                existing.key_text
            ));
        }
        Ok(())
    }
}

/// `zone=name:SIZE`: nginx's size syntax (`10m`, `512k`).
fn parse_size(args: &ConfArgs, index: usize, skip: usize, size: &[u8]) -> Result<usize, String> {
    let raw = args.raw_arg(index).ok_or("missing argument")?;
    // `size` is the tail of the argument `raw` points to.
    // SAFETY: skip + size.len() is within the argument; nginx reads len bytes.
    let parsed = unsafe {
        let mut text = ngx_str_t {
            len: size.len(),
            data: (*raw).data.add(skip),
        };
        nginx_sys::ngx_parse_size(&mut text)
    };
    usize::try_from(parsed)
        .ok()
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("invalid zone size \"{}\"", String::from_utf8_lossy(size)))
}

/// `$name` and nothing else (nginx's variable name characters).
fn is_one_variable(text: &[u8]) -> bool {
    match text.split_first() {
        Some((b'$', name)) => {
            !name.is_empty()
                && name
                    .iter()
                    .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_')
        }
        _ => false,
    }
}

fn compile_complex_value(args: &ConfArgs) -> Result<*mut ngx_stream_complex_value_t, String> {
    let cf = args.as_ptr();
    let value = args.raw_arg(0).ok_or("missing key")?;
    // ccv is zeroed, as nginx's own callers do, before setting three fields.
    // SAFETY: the conf and its pool are live for the directive handler.
    unsafe {
        let cv = nginx_sys::ngx_pcalloc((*cf).pool, mem::size_of::<ngx_stream_complex_value_t>())
            as *mut ngx_stream_complex_value_t;
        if cv.is_null() {
            return Err(String::from("out of memory"));
        }
        let mut ccv: nginx_sys::ngx_stream_compile_complex_value_t = mem::zeroed();
        ccv.cf = cf;
        ccv.value = value;
        ccv.complex_value = cv;
        if nginx_sys::ngx_stream_compile_complex_value(&mut ccv)
            != nginx_sys::NGX_OK as nginx_sys::ngx_int_t
        {
            return Err(format!(
                "invalid key \"{}\"",
                args.arg(0).unwrap_or_default()
            ));
        }
        Ok(cv)
    }
}

/// Lays the table out in a new zone, or takes over the previous cycle's.
pub struct RateZoneInit;

impl ZoneInit for RateZoneInit {
    type Data = RateZone;

    fn init(
        data: &mut RateZone,
        previous: Option<&RateZone>,
        pool: &mut ngx_slab_pool_t,
        log: Option<Log<'_>>,
    ) -> Result<(), String> {
        if let Some(previous) = previous {
            if previous.key_text != data.key_text {
                return Err(format!(
                    "sift_rate_zone \"{}\" uses the \"{}\" key while previously it used the \"{}\" key",
                    data.name, data.key_text, previous.key_text
                ));
            }
            // Same zone after a reload: keep counting where we were.
            data.table = previous.table;
            return Ok(());
        }

        // SAFETY: set at startup.
        let page = unsafe { nginx_sys::ngx_pagesize };
        // Take every free page of the fresh zone in one block.
        let mut bytes = pool.pfree * page;
        let block = loop {
            if bytes < page {
                return Err(format!("zone \"{}\" is too small", data.name));
            }
            // SAFETY: the pool is the zone's slab pool, initialised by nginx.
            let block = unsafe { nginx_sys::ngx_slab_alloc(pool, bytes) } as *mut u8;
            if !block.is_null() {
                break block;
            }
            bytes -= page;
        };
        let count = slots_for(bytes);
        // `block` is `bytes` of page-aligned shared memory that we own; Header
        // and Slot are plain data for which all-zero is valid.
        // SAFETY: zeroed, it holds a Header and then `count` Slots, in bounds.
        let (header, slots) = unsafe {
            ptr::write_bytes(block, 0, bytes);
            (block as *mut Header, block.add(HEADER_SIZE) as *mut Slot)
        };
        // SAFETY: as above; nothing else references the new block yet.
        let table = unsafe { (&mut *header, slice::from_raw_parts_mut(slots, count)) };
        let capacity = RateTable::init(table.0, table.1, zone_seed()).capacity();
        if let Some(log) = log {
            log.error(
                nginx_sys::NGX_LOG_NOTICE as usize,
                format_args!(
                    "sift_rate_zone \"{}\": {capacity} keys in {bytes} bytes of the zone",
                    data.name
                ),
            );
        }
        pool.data = block.cast();
        data.table = Some(TableLocation {
            pool,
            header,
            slots,
            count,
        });
        Ok(())
    }
}

/// A per-zone hash seed, so clients cannot precompute colliding keys.
fn zone_seed() -> u64 {
    let mut seed = [0u8; 8];
    // getrandom(2) never fails for 8 bytes once the pool is initialised;
    // fall back to time and pid mixing if it does.
    // SAFETY: writes at most 8 bytes into `seed`.
    let got = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
    if got == 8 {
        return u64::from_ne_bytes(seed);
    }
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    time ^ (u64::from(std::process::id()) << 32)
}

/// `sift_rate zone=name [burst=N];`
pub struct SiftRate;

impl Directive for SiftRate {
    type Conf = SiftSrvConf;

    fn set(args: &ConfArgs, conf: &mut SiftSrvConf) -> Result<(), String> {
        let mut name = None;
        let mut burst = 0u32;
        for param in args.args() {
            if let Some(value) = param.strip_prefix(b"zone=") {
                if value.is_empty() {
                    return Err(args.invalid_value(param));
                }
                name = Some(value);
            } else if let Some(value) = param.strip_prefix(b"burst=") {
                burst = core::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| {
                        format!("invalid burst value \"{}\"", String::from_utf8_lossy(value))
                    })?;
            } else {
                return Err(format!(
                    "invalid parameter \"{}\"",
                    String::from_utf8_lossy(param)
                ));
            }
        }
        let name = name.ok_or("\"sift_rate\" must have \"zone\" parameter")?;
        let zone_name = String::from_utf8_lossy(name).into_owned();
        let limits = conf.rates.get_or_insert_with(Vec::new);
        if limits.iter().any(|limit| limit.zone_name == zone_name) {
            return Err(format!("duplicate sift_rate zone \"{zone_name}\""));
        }
        // Size 0 finds the zone wherever sift_rate_zone declares it; an
        // undeclared one is reported when servers are merged.
        // SAFETY: the conf is live; `name` lives in the conf pool.
        let zone = unsafe {
            nginx_sys::ngx_shared_memory_add(
                args.as_ptr(),
                &mut ngx_str_t {
                    len: name.len(),
                    data: name.as_ptr() as *mut u8,
                },
                0,
                Sift::module_tag(),
            )
        };
        if zone.is_null() {
            return Err(String::from("cannot add shared memory zone"));
        }
        limits.push(RateLimit {
            zone,
            burst,
            zone_name,
            location: args.location(),
        });
        Ok(())
    }
}

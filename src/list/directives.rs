//! `sift_list_zone` and `sift_list` (stream level).

use std::path::PathBuf;

use ngx_stream::command::MainDirective;
use ngx_stream::ffi::NGX_STREAM_VAR_NOCACHEABLE;
use ngx_stream::{Conf, Declared, Error, Result};
use sift_core::list::ListKind;
use sift_core::ratelimit::params;

use crate::list::variable::{ListKey, ListVariable};
use crate::list::{ListZone, ListZoneKind};
use crate::module::Sift;

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn once<T>(slot: &mut Option<T>, value: T, param: &[u8]) -> Result<()> {
    if slot.is_some() {
        let name = param.split(|&b| b == b'=').next().unwrap_or_default();
        return Err(Error::Invalid(format!(
            "duplicate \"{}\" parameter",
            lossy(name)
        )));
    }
    *slot = Some(value);
    Ok(())
}

/// `sift_list_zone zone=NAME:SIZE [type=string|ip] [timeout=TIME] [state=FILE] [sync=REDIS [sync_interval=TIME]];`
pub struct SiftListZone;

impl MainDirective for SiftListZone {
    type Module = Sift;

    fn set(cf: &Conf<'_>, _conf: &mut ()) -> Result<()> {
        let mut zone = None;
        let mut kind = None;
        let mut timeout = None;
        let mut state = None;
        let mut sync = None;
        let mut sync_interval = None;
        for param in cf.args() {
            if let Some(value) = param.strip_prefix(b"zone=") {
                let (name, size) = params::zone_name_and_size(value).map_err(Error::invalid)?;
                let bytes = cf.parse_size(size).map_err(|_| {
                    Error::Invalid(format!("invalid zone size \"{}\"", lossy(value)))
                })?;
                once(&mut zone, (name, bytes), param)?;
            } else if let Some(value) = param.strip_prefix(b"type=") {
                let parsed = match value {
                    b"string" => ListKind::String,
                    b"ip" => ListKind::Ip,
                    _ => {
                        return Err(Error::Invalid(format!(
                            "invalid type \"{}\" in \"sift_list_zone\" (string or ip)",
                            lossy(value)
                        )))
                    }
                };
                once(&mut kind, parsed, param)?;
            } else if let Some(value) = param.strip_prefix(b"timeout=") {
                let ms = cf
                    .parse_time(value)
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "invalid timeout \"{}\" in \"sift_list_zone\" (a time above 0, e.g. 30s, 1h, 7d)",
                            lossy(value)
                        ))
                    })?;
                once(&mut timeout, ms as u64, param)?;
            } else if let Some(value) = param.strip_prefix(b"sync=") {
                if value.is_empty() {
                    return Err(Error::Invalid("empty value in \"sync=\"".into()));
                }
                once(&mut sync, value, param)?;
            } else if let Some(value) = param.strip_prefix(b"sync_interval=") {
                let ms = cf
                    .parse_time(value)
                    .ok()
                    .filter(|ms| *ms >= 10)
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "invalid sync_interval \"{}\" in \"sift_list_zone\" (a time of at least 10ms, e.g. 500ms, 1s)",
                            lossy(value)
                        ))
                    })?;
                once(&mut sync_interval, ms as u64, param)?;
            } else if let Some(value) = param.strip_prefix(b"state=") {
                if value.is_empty() || value.ends_with(b"/") {
                    return Err(Error::Invalid(format!(
                        "invalid state file \"{}\" in \"sift_list_zone\"",
                        lossy(value)
                    )));
                }
                let path = PathBuf::from(lossy(&cf.full_name(value)).into_owned());
                once(&mut state, path, param)?;
            } else {
                return Err(Error::Invalid(format!(
                    "invalid parameter \"{}\"",
                    lossy(param)
                )));
            }
        }
        let (name, size) = zone.ok_or("\"sift_list_zone\" must have \"zone\" parameter")?;
        if size < 8 * ngx_stream::shm::page_size() {
            return Err(Error::Invalid(format!(
                "zone \"{}\" is too small",
                lossy(name)
            )));
        }
        let zone_name = lossy(name).into_owned();
        if sync.is_none() && sync_interval.is_some() {
            return Err(Error::from("\"sync_interval\" needs \"sync\""));
        }
        let sync = match sync {
            Some(redis) => Some(crate::list::sync::declare(
                cf,
                &zone_name,
                redis,
                sync_interval,
                size,
            )?),
            None => None,
        };
        if let Some(path) = &state {
            if let Some(other) = crate::metrics::lists(cf)?
                .iter()
                .filter_map(|zone| zone.data())
                .find(|other| other.state.as_ref() == Some(path))
            {
                return Err(Error::Invalid(format!(
                    "sift_list_zone \"{zone_name}\" has the state file \"{}\" of \"{}\"",
                    path.display(),
                    other.name
                )));
            }
        }
        let data = ListZone {
            name: zone_name.clone(),
            kind: kind.unwrap_or(ListKind::String),
            timeout_ms: timeout.unwrap_or(0),
            state,
            state_off: None,
            table: None,
            sync,
        };
        match cf.add_zone::<ListZoneKind>(name, size, data)? {
            Declared::New(zone) => crate::metrics::register_list(cf, zone),
            Declared::Existing(_) => Err(Error::Invalid(format!(
                "duplicate sift_list_zone \"{zone_name}\""
            ))),
        }
    }
}

/// `sift_list KEY $variable zone=NAME;`
pub struct SiftList;

impl MainDirective for SiftList {
    type Module = Sift;

    fn set(cf: &Conf<'_>, _conf: &mut ()) -> Result<()> {
        let key = cf.arg(0).unwrap_or_default();
        if key.is_empty() {
            return Err(Error::Invalid(String::from("empty key in \"sift_list\"")));
        }
        let variable = cf.arg(1).unwrap_or_default();
        let name = match variable.split_first() {
            Some((b'$', name)) if is_variable_name(name) => name,
            _ => {
                return Err(Error::Invalid(format!(
                    "invalid variable name \"{}\" in \"sift_list\"",
                    lossy(variable)
                )))
            }
        };
        let param = cf.arg(2).unwrap_or_default();
        let zone_name = match param.strip_prefix(b"zone=") {
            Some(value) if !value.is_empty() => value,
            _ => {
                return Err(Error::Invalid(format!(
                    "invalid parameter \"{}\" in \"sift_list\" (zone=NAME)",
                    lossy(param)
                )))
            }
        };
        if !key.contains(&b'$') {
            cf.warn(format_args!(
                "sift_list key \"{}\" has no variable: every session looks up the same key",
                lossy(key)
            ));
        }
        let key = match key.split_first() {
            Some((b'$', rest)) if is_variable_name(rest) => {
                ListKey::Variable(cf.variable_index(0)?)
            }
            _ => ListKey::Complex(cf.complex_value(0)?),
        };
        // Found wherever sift_list_zone declares it (checked once the
        // stream block is read).
        let zone = cf.zone_ref::<ListZoneKind>(zone_name)?;
        crate::metrics::register_list_use(cf, zone, lossy(zone_name).into_owned(), cf.location())?;
        cf.add_data_variable(name, NGX_STREAM_VAR_NOCACHEABLE, ListVariable { zone, key })
    }
}

fn is_variable_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// From `postconfiguration`: every `sift_list` names a declared zone.
pub fn check_uses(cf: &Conf<'_>) -> Result<()> {
    for (zone, name, location) in crate::metrics::list_uses(cf)? {
        if zone.data().is_none() {
            return Err(Error::Invalid(format!(
                "unknown sift_list_zone \"{name}\" in \"sift_list\" at {location}"
            )));
        }
    }
    Ok(())
}

//! Parsing `sift_redis`.

use std::hash::{BuildHasher, RandomState};
use std::net::{SocketAddr, ToSocketAddrs};

use ngx_stream::command::MainDirective;
use ngx_stream::{Conf, Declared, Error, Result};
use sift_core::redis::rate::auth_command;

use super::{zone_name, RedisConf, RedisZoneKind, DEFAULT_KEEPALIVE, DEFAULT_TIMEOUT_MS};
use crate::module::Sift;

/// Servers one `sift_redis` may list.
const MAX_SERVERS: usize = 8;
/// The most idle connections per server and worker.
const MAX_KEEPALIVE: usize = 1024;

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `sift_redis name=NAME server=HOST:PORT ...;` (stream level)
pub struct SiftRedis;

impl MainDirective for SiftRedis {
    type Module = Sift;

    fn set(cf: &Conf<'_>, _conf: &mut ()) -> Result<()> {
        let mut name = None;
        let mut servers = Vec::new();
        let mut timeout = None;
        let mut keepalive = None;
        let mut user = None;
        let mut password = None;
        for param in cf.args() {
            let (key, value) = match param.iter().position(|&byte| byte == b'=') {
                Some(at) => (&param[..at], &param[at + 1..]),
                None => (param, &b""[..]),
            };
            let empty = || Error::Invalid(format!("empty value in \"{}\"", lossy(param)));
            if value.is_empty() && param.contains(&b'=') {
                return Err(empty());
            }
            match key {
                b"name" if !value.is_empty() => {
                    if !value
                        .iter()
                        .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
                    {
                        return Err(Error::Invalid(format!(
                            "invalid name \"{}\": letters, digits, \"_\" and \"-\" only",
                            lossy(value)
                        )));
                    }
                    name = Some(value);
                }
                b"server" if !value.is_empty() => {
                    if servers.len() >= MAX_SERVERS {
                        return Err(Error::Invalid(format!(
                            "too many servers: at most {MAX_SERVERS}"
                        )));
                    }
                    servers.push(resolve(value)?);
                }
                b"timeout" if !value.is_empty() => {
                    let ms = cf.parse_time(value).map_err(|_| {
                        Error::Invalid(format!("invalid timeout \"{}\"", lossy(value)))
                    })?;
                    if ms == 0 {
                        return Err(Error::Invalid(format!(
                            "invalid timeout \"{}\": must be above 0",
                            lossy(value)
                        )));
                    }
                    timeout = Some(ms);
                }
                b"keepalive" if !value.is_empty() => {
                    let n = core::str::from_utf8(value)
                        .ok()
                        .and_then(|text| text.parse::<usize>().ok())
                        .filter(|&n| n <= MAX_KEEPALIVE)
                        .ok_or_else(|| {
                            Error::Invalid(format!(
                                "invalid keepalive \"{}\": a number from 0 to {MAX_KEEPALIVE}",
                                lossy(value)
                            ))
                        })?;
                    keepalive = Some(n);
                }
                b"user" if !value.is_empty() => user = Some(value),
                b"password" if !value.is_empty() => password = Some(value),
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid parameter \"{}\"",
                        lossy(param)
                    )))
                }
            }
        }
        let name = name.ok_or("\"sift_redis\" must have \"name\" parameter")?;
        if servers.is_empty() {
            return Err(Error::from(String::from(
                "\"sift_redis\" must have \"server\" parameter",
            )));
        }
        if user.is_some() && password.is_none() {
            return Err(Error::from(String::from(
                "\"sift_redis\" has \"user\" without \"password\"",
            )));
        }
        let mut prelude = Vec::new();
        if let Some(password) = password {
            auth_command(&mut prelude, user, password);
        }
        // Connections authenticated otherwise are not shared.
        let pool_key = RandomState::new().hash_one(&prelude);
        let data = RedisConf {
            name: lossy(name).into_owned(),
            servers,
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT_MS),
            keepalive: keepalive.unwrap_or(DEFAULT_KEEPALIVE),
            prelude,
            pool_key,
            state: None,
            down: Default::default(),
        };
        let size = 8 * ngx_stream::shm::page_size();
        match cf.add_zone::<RedisZoneKind>(&zone_name(name), size, data)? {
            Declared::New(_) => Ok(()),
            Declared::Existing(_) => Err(Error::Invalid(format!(
                "duplicate sift_redis \"{}\"",
                lossy(name)
            ))),
        }
    }
}

/// `HOST:PORT` (or `[v6]:PORT`), resolved now: the first address.
fn resolve(value: &[u8]) -> Result<SocketAddr> {
    let text = core::str::from_utf8(value)
        .map_err(|_| Error::Invalid(format!("invalid server \"{}\"", lossy(value))))?;
    if let Ok(address) = text.parse::<SocketAddr>() {
        if address.port() == 0 {
            return Err(Error::Invalid(format!("invalid server \"{text}\"")));
        }
        return Ok(address);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(Error::Invalid(format!(
            "invalid server \"{text}\": no port"
        )));
    };
    if host.is_empty() || port.parse::<u16>().map_or(true, |port| port == 0) {
        return Err(Error::Invalid(format!("invalid server \"{text}\"")));
    }
    // Resolved while the configuration is read, as nginx does for
    // `upstream` servers.
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| Error::Invalid(format!("host not found in server \"{text}\"")))
}

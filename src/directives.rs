//! Directives whose arguments nginx's stock slot handlers cannot parse.

use ngx_stream::command::{Directive, MainDirective};
use ngx_stream::ffi::{ngx_uint_t, NGX_LOG_ERR, NGX_LOG_INFO, NGX_LOG_NOTICE, NGX_LOG_WARN};
use ngx_stream::{Conf, Declared, Error, Result};
use sift_core::access::parse_address_rule;
use sift_core::protocol::SignatureSet;
use sift_core::ratelimit::{params, Rate};

use crate::access::{AccessRule, Action, Matcher};
use crate::conf::SiftSrvConf;
use crate::module::Sift;
use crate::ratelimit::{RateKey, RateLimit, RateZone, RateZoneKind};

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `sift_allow address | CIDR | unix: | all | $variable;`
pub struct SiftAllow;
/// `sift_deny address | CIDR | unix: | all | $variable;`
pub struct SiftDeny;

impl Directive for SiftAllow {
    type Module = Sift;
    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        add_rule(cf, conf, Action::Allow)
    }
}

impl Directive for SiftDeny {
    type Module = Sift;
    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        add_rule(cf, conf, Action::Deny)
    }
}

fn add_rule(cf: &Conf<'_>, conf: &mut SiftSrvConf, action: Action) -> Result<()> {
    let value = cf.arg(0).unwrap_or_default();
    let matcher = if value.starts_with(b"$") {
        Matcher::Variable(cf.variable_index(0)?)
    } else {
        let text = core::str::from_utf8(value).map_err(|_| cf.invalid_value(value))?;
        let parsed = parse_address_rule(text)
            .map_err(|why| Error::Invalid(format!("{} ({why})", cf.invalid_value(value))))?;
        if parsed.host_bits_set {
            // nginx's access module says the same of such rules.
            cf.warn(format_args!("low address bits of {text} are meaningless"));
        }
        Matcher::Address(parsed.rule)
    };
    let described = format!("{} {} at {}", cf.name(), lossy(value), cf.location());
    // Rules after `all` in the same block never run: the first match decides.
    if let Some(all) = conf.rules.iter().flatten().find(|rule| {
        matches!(
            rule.matcher,
            Matcher::Address(sift_core::access::AddressRule::All)
        )
    }) {
        cf.warn(format_args!(
            "\"{} {}\" can never match: \"{}\" decides first",
            cf.name(),
            lossy(value),
            all.described
        ));
    }
    conf.rules.get_or_insert_with(Vec::new).push(AccessRule {
        action,
        matcher,
        described,
    });
    Ok(())
}

/// `sift_rate_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m;` (stream level)
pub struct SiftRateZone;

impl MainDirective for SiftRateZone {
    type Module = Sift;

    fn set(cf: &Conf<'_>, _conf: &mut ()) -> Result<()> {
        let key_text = lossy(cf.arg(0).unwrap_or_default()).into_owned();
        let mut zone = None;
        let mut rate = None;
        let mut sync_name = None;
        let mut sync_fail = None;
        let mut sync_batch = None;
        for param in cf.args().skip(1) {
            if let Some(value) = param.strip_prefix(b"sync=") {
                if value.is_empty() {
                    return Err(cf.invalid_value(param));
                }
                sync_name = Some(value);
            } else if let Some(value) = param.strip_prefix(b"sync_fail=") {
                sync_fail = Some(match value {
                    b"open" => false,
                    b"closed" => true,
                    _ => {
                        return Err(Error::Invalid(format!(
                            "invalid sync_fail \"{}\", it must be \"open\" or \"closed\"",
                            lossy(value)
                        )))
                    }
                });
            } else if let Some(value) = param.strip_prefix(b"sync_batch=") {
                let batch = core::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse::<u32>().ok())
                    .filter(|batch| (1..=1_000_000).contains(batch))
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "invalid sync_batch \"{}\", it must be a number from 1 to 1000000",
                            lossy(value)
                        ))
                    })?;
                sync_batch = Some(batch);
            } else if let Some(value) = param.strip_prefix(b"zone=") {
                let (name, size) = params::zone_name_and_size(value).map_err(Error::invalid)?;
                let bytes = cf.parse_size(size).map_err(|_| {
                    Error::Invalid(format!("invalid zone size \"{}\"", lossy(value)))
                })?;
                zone = Some((name, bytes));
            } else if let Some(value) = param.strip_prefix(b"rate=") {
                let text = core::str::from_utf8(value).unwrap_or("");
                rate =
                    Some(Rate::parse(text).map_err(|_| {
                        Error::Invalid(format!("invalid rate \"{}\"", lossy(value)))
                    })?);
            } else {
                return Err(Error::Invalid(format!(
                    "invalid parameter \"{}\"",
                    lossy(param)
                )));
            }
        }
        let (name, size) = zone.ok_or("\"sift_rate_zone\" must have \"zone\" parameter")?;
        let rate = rate.ok_or("\"sift_rate_zone\" must have \"rate\" parameter")?;
        if size < 8 * ngx_stream::shm::page_size() {
            return Err(Error::Invalid(format!(
                "zone \"{}\" is too small",
                lossy(name)
            )));
        }

        if !key_text.contains('$') {
            cf.warn(format_args!(
                "sift_rate_zone key \"{key_text}\" has no variable: every client shares one bucket"
            ));
        }
        let key = if is_one_variable(key_text.as_bytes()) {
            RateKey::Variable(cf.variable_index(0)?)
        } else {
            RateKey::Complex(cf.complex_value(0)?)
        };
        if sync_name.is_none() && (sync_fail.is_some() || sync_batch.is_some()) {
            return Err(Error::from(String::from(
                "\"sync_fail\" and \"sync_batch\" need \"sync\"",
            )));
        }
        let sync = match sync_name {
            Some(redis) => Some(crate::ratelimit::RateSync {
                redis_name: lossy(redis).into_owned(),
                location: cf.location(),
                // Found wherever sift_redis declares it; checked when
                // servers are merged.
                redis: cf
                    .zone_ref::<crate::redis::RedisZoneKind>(&crate::redis::zone_name(redis))?,
                fail_closed: sync_fail.unwrap_or(false),
                batch: sync_batch,
            }),
            None => None,
        };
        let zone_name = lossy(name).into_owned();
        let data = RateZone {
            name: zone_name.clone(),
            key_text,
            key,
            rate,
            table: None,
            metrics: Default::default(),
            sync,
        };
        match cf.add_zone::<RateZoneKind>(name, size, data)? {
            Declared::New(zone) => crate::metrics::register_rate_zone(cf, zone),
            Declared::Existing(existing) => Err(Error::Invalid(format!(
                "sift_rate_zone \"{zone_name}\" is already bound to key \"{}\"",
                existing.key_text
            ))),
        }
    }
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

/// `sift_rate zone=NAME [burst=N];` (stream, server; may repeat)
pub struct SiftRate;

impl Directive for SiftRate {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        let mut name = None;
        let mut burst = 0u32;
        for param in cf.args() {
            if let Some(value) = param.strip_prefix(b"zone=") {
                if value.is_empty() {
                    return Err(cf.invalid_value(param));
                }
                name = Some(value);
            } else if let Some(value) = param.strip_prefix(b"burst=") {
                burst = params::burst(value).map_err(Error::invalid)?;
            } else {
                return Err(Error::Invalid(format!(
                    "invalid parameter \"{}\"",
                    lossy(param)
                )));
            }
        }
        let name = name.ok_or("\"sift_rate\" must have \"zone\" parameter")?;
        let zone_name = lossy(name).into_owned();
        let limits = conf.rates.get_or_insert_with(Vec::new);
        if limits.iter().any(|limit| limit.zone_name == zone_name) {
            return Err(Error::Invalid(format!(
                "duplicate sift_rate zone \"{zone_name}\""
            )));
        }
        // Found wherever sift_rate_zone declares it; an undeclared zone is
        // reported when servers are merged.
        let zone = cf.zone_ref::<RateZoneKind>(name)?;
        limits.push(RateLimit {
            zone,
            burst,
            zone_name,
            location: cf.location(),
        });
        Ok(())
    }
}

/// `sift_rate_log_level info | notice | warn | error;` as nginx's
/// `limit_req_log_level`.
pub struct SiftRateLogLevel;

impl Directive for SiftRateLogLevel {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        if conf.rate_log_level.is_some() {
            return Err(Error::Invalid(String::from(
                "\"sift_rate_log_level\" directive is duplicate",
            )));
        }
        let value = cf.arg(0).unwrap_or_default();
        let level = match value {
            b"info" => NGX_LOG_INFO,
            b"notice" => NGX_LOG_NOTICE,
            b"warn" => NGX_LOG_WARN,
            b"error" => NGX_LOG_ERR,
            _ => {
                return Err(Error::Invalid(format!(
                    "{}, it must be \"info\", \"notice\", \"warn\" or \"error\"",
                    cf.invalid_value(value)
                )))
            }
        };
        conf.rate_log_level = Some(level as ngx_uint_t);
        Ok(())
    }
}

/// `sift_signature NAME pattern=REGEX | prefix=HEX [offset=N] [min=N];`
/// (stream, server; repeatable, in order)
pub struct SiftSignature;

impl Directive for SiftSignature {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        let mut words = cf
            .args()
            .map(|word| core::str::from_utf8(word).map_err(|_| cf.invalid_value(word)));
        let name = words.next().ok_or("missing signature name")??;
        let params = words.collect::<Result<Vec<&str>>>()?;
        conf.signatures
            .get_or_insert_with(SignatureSet::default)
            .add(name, &params)
            .map_err(|why| Error::Invalid(format!("{why} in \"sift_signature\" directive")))?;
        Ok(())
    }
}

/// `sift_auth_request URL;` (stream, server)
pub struct SiftAuthRequest;

impl Directive for SiftAuthRequest {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        if conf.auth.is_some() {
            return Err(Error::from("\"sift_auth_request\" directive is duplicate"));
        }
        let value = cf.arg(0).unwrap_or_default();
        let text = core::str::from_utf8(value).map_err(|_| cf.invalid_value(value))?;
        let url = sift_core::auth::parse_url(text)
            .map_err(|why| Error::Invalid(format!("{why} in \"sift_auth_request\" directive")))?;
        let mut facts = Vec::with_capacity(crate::auth::FACTS.len());
        for (header, variable) in crate::auth::FACTS {
            facts.push((header, cf.variable(variable)?));
        }
        let facts = facts
            .try_into()
            .map_err(|_| Error::from("internal: facts"))?;
        conf.auth = Some(crate::auth::AuthService {
            url: text.to_owned(),
            peer: url.peer,
            host: url.host,
            path: url.path,
            facts,
        });
        Ok(())
    }
}

/// `sift_auth_request_set_header NAME VALUE;` (stream, server; repeatable)
pub struct SiftAuthRequestSetHeader;

impl Directive for SiftAuthRequestSetHeader {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        let name = cf.arg(0).unwrap_or_default();
        let valid = !name.is_empty()
            && name
                .iter()
                .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !valid {
            return Err(cf.invalid_value(name));
        }
        let value = cf.complex_value(1)?;
        conf.auth_header_list
            .get_or_insert_with(Vec::new)
            .push(crate::auth::AuthHeader {
                name: lossy(name).into_owned(),
                value,
            });
        Ok(())
    }
}

/// `sift_auth_request_fail open | closed;` (stream, server)
pub struct SiftAuthRequestFail;

impl Directive for SiftAuthRequestFail {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        if conf.auth_fail_open.is_some() {
            return Err(Error::from(
                "\"sift_auth_request_fail\" directive is duplicate",
            ));
        }
        conf.auth_fail_open = Some(match cf.arg(0).unwrap_or_default() {
            b"open" => true,
            b"closed" => false,
            other => {
                return Err(Error::Invalid(format!(
                    "{}, it must be \"open\" or \"closed\"",
                    cf.invalid_value(other)
                )))
            }
        });
        Ok(())
    }
}

/// `sift_auth_request_keepalive NUMBER;` (stream, server): idle
/// connections to the authorization service kept per worker (0: none).
pub struct SiftAuthRequestKeepalive;

impl Directive for SiftAuthRequestKeepalive {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        if conf.auth_keepalive.is_some() {
            return Err(Error::from(
                "\"sift_auth_request_keepalive\" directive is duplicate",
            ));
        }
        let arg = cf.arg(0).unwrap_or_default();
        let number = core::str::from_utf8(arg)
            .ok()
            .filter(|text| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .and_then(|text| text.parse::<usize>().ok())
            .filter(|number| *number <= crate::auth::MAX_KEEPALIVE);
        match number {
            Some(number) => {
                conf.auth_keepalive = Some(number);
                Ok(())
            }
            None => Err(Error::Invalid(format!(
                "{}, it must be a number of connections from 0 to {}",
                cf.invalid_value(arg),
                crate::auth::MAX_KEEPALIVE
            ))),
        }
    }
}

/// `sift_auth_request_cache key=EXPRESSION valid=TIME [zone=NAME:SIZE];`
/// (stream, server)
pub struct SiftAuthRequestCache;

/// The zone `sift_auth_request_cache` uses without `zone=`.
const DEFAULT_AUTH_CACHE_ZONE: (&[u8], &[u8]) = (b"sift_auth_cache", b"1m");

impl Directive for SiftAuthRequestCache {
    type Module = Sift;

    fn set(cf: &Conf<'_>, conf: &mut SiftSrvConf) -> Result<()> {
        if conf.auth_cache.is_some() {
            return Err(Error::from(
                "\"sift_auth_request_cache\" directive is duplicate",
            ));
        }
        let mut key = None;
        let mut valid = None;
        let mut zone = DEFAULT_AUTH_CACHE_ZONE;
        for param in cf.args() {
            if let Some(value) = param.strip_prefix(b"key=") {
                if value.is_empty() {
                    return Err(cf.invalid_value(param));
                }
                key = Some(cf.compile(value)?);
            } else if let Some(value) = param.strip_prefix(b"valid=") {
                valid = Some(cf.parse_time(value)?);
            } else if let Some(value) = param.strip_prefix(b"zone=") {
                zone = params::zone_name_and_size(value).map_err(Error::invalid)?;
            } else {
                return Err(Error::Invalid(format!(
                    "invalid parameter \"{}\"",
                    lossy(param)
                )));
            }
        }
        let key = key.ok_or("\"sift_auth_request_cache\" must have \"key\" parameter")?;
        let valid = valid.ok_or("\"sift_auth_request_cache\" must have \"valid\" parameter")?;
        let (name, size_text) = zone;
        let size = cf.parse_size(size_text)?;
        if size < 8 * ngx_stream::shm::page_size() {
            return Err(Error::Invalid(format!(
                "zone \"{}\" is too small",
                lossy(name)
            )));
        }
        let data = crate::auth::AuthCacheZone {
            name: lossy(name).into_owned(),
            table: None,
        };
        // Servers may share one zone (the default one, say).
        cf.add_zone::<crate::auth::AuthCacheKind>(name, size, data)?;
        let zone = cf.zone_ref::<crate::auth::AuthCacheKind>(name)?;
        conf.auth_cache = Some(crate::auth::AuthCacheConf { zone, key, valid });
        Ok(())
    }
}

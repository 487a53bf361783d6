//! `sift_auth_request`: after the rules and limits, a session's facts go
//! to an HTTP authorization service, whose answer decides (2xx allows, 403
//! denies, anything else or nothing in time per `sift_auth_request_fail`).
//! The call is made on nginx's event loop (`ngx_stream::call`): the
//! session waits, the worker does not.

use core::cell::Cell;
use std::net::SocketAddr;

use ngx_stream::ffi::{ngx_msec_t, NGX_LOG_ERR};
use ngx_stream::{
    stream_log, CallOptions, CallOutcome, CallSpec, ComplexValue, Keepalive, PhaseOutcome, Session,
    TimerAction, VariableIndex,
};
use sift_core::auth::{
    parse_reply, reply_complete, reply_reusable, write_request, Decision, Reply, MAX_REPLY,
};

use crate::conf::SiftSrvConf;
use crate::module::{Sift, SiftCtx};

/// `sift_auth_request URL;`, with the variables whose values it sends.
#[derive(Clone, Debug)]
pub struct AuthService {
    pub url: String,
    pub peer: SocketAddr,
    pub host: String,
    pub path: String,
    pub facts: [(&'static str, VariableIndex); 5],
}

/// `sift_auth_request_set_header NAME VALUE;`
#[derive(Clone, Debug)]
pub struct AuthHeader {
    pub name: String,
    pub value: ComplexValue,
}

/// The headers every request carries, and the variables they come from.
pub const FACTS: [(&str, &str); 5] = [
    ("X-Sift-Client", "remote_addr"),
    ("X-Sift-Protocol", "sift_protocol"),
    ("X-Sift-SNI", "sift_tls_sni"),
    ("X-Sift-ALPN", "sift_tls_alpn"),
    ("X-Sift-JA4", "sift_ja4"),
];

/// What the authorization step says about a session.
pub enum Step {
    Pass,
    Deny,
    Wait(PhaseOutcome),
}

thread_local! {
    /// The request being written (one per worker: sessions take turns).
    static REQUEST: core::cell::RefCell<Vec<u8>> = const { core::cell::RefCell::new(Vec::new()) };
    /// Failures are logged once per interval per worker: when, and how
    /// many since.
    static LAST_LOGGED: Cell<u64> = const { Cell::new(0) };
    static UNLOGGED: Cell<u64> = const { Cell::new(0) };
}

/// How often a failing service is logged (per worker).
const LOG_INTERVAL_MS: u64 = 10_000;

/// `sift_auth_request_keepalive` default: idle connections per service
/// and worker.
pub const DEFAULT_KEEPALIVE: usize = 8;
/// The most `sift_auth_request_keepalive` accepts.
pub const MAX_KEEPALIVE: usize = 1024;
/// How long a kept connection may stay idle (below nginx's own 75 s
/// `keepalive_timeout`, so the service rarely closes one under us).
const KEEPALIVE_IDLE_MS: ngx_msec_t = 60_000;
/// Tells the authorization calls' kept connections from other calls' to
/// the same address (a Redis on that port would not speak HTTP).
const KEEPALIVE_KEY: u64 = u64::from_le_bytes(*b"siftauth");

/// The authorization step for a session whose rules and limits passed.
pub fn step(session: &Session<'_>, conf: &SiftSrvConf, ctx: &SiftCtx) -> Step {
    let Some(service) = conf.auth.as_ref() else {
        return Step::Pass;
    };
    if let Some(decision) = ctx.auth.get() {
        return if decision.allows() {
            Step::Pass
        } else {
            Step::Deny
        };
    }
    if session.call_in_progress::<Sift>() {
        return Step::Wait(PhaseOutcome::Done);
    }
    if let Some(decision) = cached(session, conf, service) {
        ctx.auth.set(Some(decision));
        ctx.auth_status.set(AuthStatus::Cached);
        return if decision.allows() {
            Step::Pass
        } else {
            Step::Deny
        };
    }
    let started = REQUEST.with(|cell| {
        let Ok(mut request) = cell.try_borrow_mut() else {
            return None;
        };
        let values: Vec<(&str, &[u8])> = service
            .facts
            .iter()
            .map(|(name, index)| (*name, session.variable(*index).unwrap_or_default()))
            .chain(conf.auth_headers().iter().map(|header| {
                (
                    header.name.as_str(),
                    session.evaluate(&header.value).unwrap_or_default(),
                )
            }))
            .collect();
        let keep = conf.auth_keepalive();
        write_request(
            &mut request,
            &service.host,
            &service.path,
            &values,
            keep > 0,
        );
        let spec = CallSpec {
            peer: service.peer,
            request: &request,
            timeout: conf.auth_timeout,
            max_reply: MAX_REPLY,
            complete: reply_complete,
        };
        let options = CallOptions {
            keepalive: (keep > 0).then_some(Keepalive {
                key: KEEPALIVE_KEY,
                max_idle: keep,
                idle_timeout: KEEPALIVE_IDLE_MS,
                reusable: reply_reusable,
            }),
            ..CallOptions::default()
        };
        session.call_with::<Sift>(spec, options).ok()
    });
    match started {
        Some(outcome) => Step::Wait(outcome),
        None => {
            // Could not even connect: decide by the fail mode now.
            let decision = Decision::from_status(None, conf.auth_fail_open == Some(true));
            log_failure(session, service, "cannot connect");
            ctx.auth.set(Some(decision));
            ctx.auth_status.set(AuthStatus::Error);
            if decision.allows() {
                Step::Pass
            } else {
                Step::Deny
            }
        }
    }
}

/// `$sift_auth_status`: the service's status, or why there is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthStatus {
    #[default]
    None,
    Http(u16),
    Timeout,
    Error,
    /// Answered from `sift_auth_request_cache`.
    Cached,
}

/// The call ended: record the decision, then let the pre-content handler
/// (run again) apply it.
pub fn on_call_done(session: &Session<'_>, outcome: CallOutcome<'_>) -> TimerAction {
    let conf = session.srv_conf::<Sift>();
    let (Some(ctx), Some(service)) = (session.ctx::<Sift>(), conf.auth.as_ref()) else {
        return TimerAction::ResumePhases;
    };
    let status = match outcome {
        CallOutcome::Reply(bytes) | CallOutcome::Closed(bytes) => match parse_reply(bytes) {
            Reply::Status(code) => AuthStatus::Http(code),
            _ => AuthStatus::Error,
        },
        CallOutcome::Timeout => AuthStatus::Timeout,
        CallOutcome::Failed => AuthStatus::Error,
    };
    let code = match status {
        AuthStatus::Http(code) => Some(code),
        _ => None,
    };
    let decision = Decision::from_status(code, conf.auth_fail_open == Some(true));
    if let Decision::Failed { .. } = decision {
        let why = match status {
            AuthStatus::Timeout => "timed out",
            AuthStatus::Http(_) => "unexpected status",
            _ => "error",
        };
        log_failure(session, service, why);
    }
    remember(session, conf, service, decision);
    ctx.auth.set(Some(decision));
    ctx.auth_status.set(status);
    TimerAction::ResumePhases
}

/// Logs a failing service at most once per interval per worker, with the
/// number of failures not logged since.
fn log_failure(session: &Session<'_>, service: &AuthService, why: &str) {
    let now = ngx_stream::time::current_msec();
    let due = LAST_LOGGED.with(|last| {
        let due = last.get() == 0 || now.saturating_sub(last.get()) >= LOG_INTERVAL_MS;
        if due {
            last.set(now.max(1));
        }
        due
    });
    let unlogged = UNLOGGED.with(|count| {
        if due {
            count.replace(0)
        } else {
            count.set(count.get() + 1);
            0
        }
    });
    if !due {
        return;
    }
    if let Some(log) = session.log() {
        stream_log!(
            NGX_LOG_ERR,
            log,
            "sift: auth request to \"{}\" failed ({why}); {unlogged} more failures since the last report",
            service.url
        );
    }
}

/// `sift_auth_request_timeout` default.
pub const DEFAULT_TIMEOUT_MS: ngx_msec_t = 1000;

/// `sift_auth_request_cache key=EXPRESSION valid=TIME [zone=NAME:SIZE];`
#[derive(Clone, Debug)]
pub struct AuthCacheConf {
    pub zone: ngx_stream::ZoneRef<AuthCacheKind>,
    pub key: ComplexValue,
    pub valid: ngx_msec_t,
}

/// A cache zone's per-cycle description.
pub struct AuthCacheZone {
    pub name: String,
    pub table: Option<ngx_stream::SharedRegion>,
}

/// `sift_auth_request_cache` zones.
pub struct AuthCacheKind;

impl ngx_stream::ZoneKind for AuthCacheKind {
    type Module = Sift;
    type Data = AuthCacheZone;

    fn tag() -> &'static ngx_stream::ZoneTag {
        static TAG: ngx_stream::ZoneTag = ngx_stream::ZoneTag::new();
        &TAG
    }

    fn init(
        data: &mut AuthCacheZone,
        previous: Option<&AuthCacheZone>,
        zone: &ngx_stream::ZoneMemory,
        log: Option<ngx_stream::log::Log<'_>>,
    ) -> ngx_stream::Result<()> {
        if let Some(previous) = previous {
            // A reload keeps the cached decisions.
            data.table = previous.table.clone();
            return Ok(());
        }
        let too_small =
            || ngx_stream::Error::Invalid(format!("zone \"{}\" is too small", data.name));
        let region = zone.take_all_free().map_err(|_| too_small())?;
        let capacity = {
            let mut guard = region.lock().ok_or_else(too_small)?;
            use std::hash::{BuildHasher, RandomState};
            let seeds = [
                RandomState::new().hash_one(&data.name),
                RandomState::new().hash_one(&data.name),
            ];
            sift_core::auth_cache::AuthCache::init(guard.bytes(), seeds)
                .ok_or_else(too_small)?
                .capacity()
        };
        if let Some(log) = log {
            log.error(
                ngx_stream::ffi::NGX_LOG_NOTICE as usize,
                format_args!(
                    "sift_auth_request_cache zone \"{}\": {capacity} entries",
                    data.name
                ),
            );
        }
        data.table = Some(region);
        Ok(())
    }
}

/// The cached decision for this session's key, if any.
fn cached(session: &Session<'_>, conf: &SiftSrvConf, service: &AuthService) -> Option<Decision> {
    let cache = conf.auth_cache.as_ref()?;
    let key = session.evaluate(&cache.key).ok()?;
    let zone = cache.zone.data()?;
    let mut guard = zone.table.as_ref()?.lock()?;
    let table = sift_core::auth_cache::AuthCache::attach(guard.bytes())?;
    let hashed = table.key(&[service.url.as_bytes(), key]);
    match table.lookup(hashed, ngx_stream::time::current_msec())? {
        sift_core::auth_cache::Cached::Allow => Some(Decision::Allow),
        sift_core::auth_cache::Cached::Deny => Some(Decision::Deny),
    }
}

/// Keeps an answer (never a failure) for the validity period.
fn remember(session: &Session<'_>, conf: &SiftSrvConf, service: &AuthService, decision: Decision) {
    let answer = match decision {
        Decision::Allow => sift_core::auth_cache::Cached::Allow,
        Decision::Deny => sift_core::auth_cache::Cached::Deny,
        Decision::Failed { .. } => return,
    };
    let Some(cache) = conf.auth_cache.as_ref() else {
        return;
    };
    let Ok(key) = session.evaluate(&cache.key) else {
        return;
    };
    let Some(zone) = cache.zone.data() else {
        return;
    };
    let Some(mut guard) = zone.table.as_ref().and_then(|table| table.lock()) else {
        return;
    };
    if let Some(mut table) = sift_core::auth_cache::AuthCache::attach(guard.bytes()) {
        let hashed = table.key(&[service.url.as_bytes(), key]);
        let expires = ngx_stream::time::current_msec().saturating_add(cache.valid as u64);
        table.store(hashed, answer, expires);
    }
}

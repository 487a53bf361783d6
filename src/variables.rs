//! sift's variables. Values are known only after the preread phase, so
//! they are registered non-cacheable and cached in the session's context.

use ngx_stream::ffi::NGX_STREAM_VAR_NOCACHEABLE;
use ngx_stream::variable::Getter;
use ngx_stream::{Result, Session, VariableSet, VariableSpec, VariableValue};
use sift_core::protocol::{self, Classification, Protocol};

use crate::module::Sift;
use crate::tls::{Derived, KeptHello, TlsInspection};

pub struct SiftVariables;

const fn late(name: &'static str, get: Getter) -> VariableSpec {
    VariableSpec {
        name,
        get,
        flags: NGX_STREAM_VAR_NOCACHEABLE,
    }
}

impl VariableSet for SiftVariables {
    type Module = Sift;
    const VARIABLES: &'static [VariableSpec] = &[
        late("sift_protocol", protocol),
        late("sift_http_method", |s| http_detail(s, HttpDetail::Method)),
        late("sift_http_uri", |s| http_detail(s, HttpDetail::Uri)),
        late("sift_http_host", http_host),
        late("sift_ssh_banner", |s| {
            detail(s, Protocol::Ssh, protocol::ssh_banner)
        }),
        late("sift_postgres_user", |s| {
            detail(s, Protocol::Postgres, |b| {
                protocol::postgres_startup(b)?.user
            })
        }),
        late("sift_postgres_database", |s| {
            detail(s, Protocol::Postgres, |b| {
                protocol::postgres_startup(b)?.database
            })
        }),
        late("sift_mqtt_client_id", |s| {
            detail(s, Protocol::Mqtt, protocol::mqtt_client_id)
        }),
        late("sift_tls_sni", tls_sni),
        late("sift_tls_alpn", |s| derived(s, Derived::Alpn)),
        late("sift_tls_version", tls_version),
        late("sift_tls_ech", tls_ech),
        late("sift_tls_status", tls_status),
        late("sift_ja3", |s| derived(s, Derived::Ja3)),
        late("sift_ja3_string", |s| derived(s, Derived::Ja3String)),
        late("sift_ja4", |s| derived(s, Derived::Ja4)),
        late("sift_ja4_r", |s| derived(s, Derived::Ja4R)),
        late("sift_ja4_o", |s| derived(s, Derived::Ja4O)),
        late("sift_ja4_ro", |s| derived(s, Derived::Ja4Ro)),
        late("sift_quic_version", quic_version),
        late("sift_auth", auth),
        late("sift_auth_status", auth_status),
        late("sift_access", access),
        late("sift_access_rule", access_rule),
        late("sift_rate_status", rate_status),
    ];
}

type Lookup<'s> = Result<VariableValue<'s>>;

fn found(value: Option<&[u8]>) -> VariableValue<'_> {
    value.map_or(VariableValue::NotFound, VariableValue::Bytes)
}

/// `$sift_protocol`: `tls`, `http`, `ssh`, ..., `unknown`, `timeout`,
/// `closed`; empty when sift is off.
fn protocol<'s>(session: &Session<'s>) -> Lookup<'s> {
    // The context also exists for access rules and rate limits, which work
    // with sift off: only inspected sessions have a protocol.
    let conf = session.srv_conf::<Sift>();
    if !conf.is_enabled() {
        return Ok(VariableValue::NotFound);
    }
    let Some(ctx) = session.ctx::<Sift>() else {
        return Ok(VariableValue::NotFound);
    };
    if session.is_datagram() {
        return Ok(found(ctx.datagram.get().map(|p| p.as_str().as_bytes())));
    }
    // Undecided means the session left preread without sift deciding:
    // nginx's preread_timeout came first (the read timed out), or the
    // client closed. On nginx >= 1.25.5 a close can end preread with no
    // flag set at all (its MSG_PEEK read returns 0 before any event), so
    // "not timed out" is what tells a close.
    let classification = ctx.classification.get().unwrap_or_else(|| {
        let closed = session.client_closed() || !session.read_timed_out();
        Classification::undecided(ctx.pending.get().get(session).len(), closed)
    });
    // Signature names live in the server's configuration, as long as the session.
    let name = classification.name(conf.signatures());
    Ok(VariableValue::Bytes(name.as_bytes()))
}

/// The client's first bytes, if sift classified them as `expected`.
fn first_bytes<'s>(session: &Session<'s>, expected: Protocol) -> Option<&'s [u8]> {
    let ctx = session.ctx::<Sift>()?;
    (ctx.classification.get()? == Classification::Protocol(expected))
        .then(|| ctx.first_bytes.get().get(session))
}

/// A detail extracted from the first bytes of a session of `expected`.
fn detail<'s>(
    session: &Session<'s>,
    expected: Protocol,
    extract: impl FnOnce(&'s [u8]) -> Option<&'s [u8]>,
) -> Lookup<'s> {
    Ok(found(first_bytes(session, expected).and_then(extract)))
}

enum HttpDetail {
    Method,
    Uri,
}

fn http_detail<'s>(session: &Session<'s>, which: HttpDetail) -> Lookup<'s> {
    detail(session, Protocol::Http, |bytes| {
        let request = protocol::http_request(bytes)?;
        Some(match which {
            HttpDetail::Method => request.method,
            HttpDetail::Uri => request.uri,
        })
    })
}

/// `$sift_http_host`: the Host header, port removed, lowercased (once,
/// into the pool, then cached).
fn http_host<'s>(session: &Session<'s>) -> Lookup<'s> {
    let Some(host) = first_bytes(session, Protocol::Http).and_then(protocol::http_host) else {
        return Ok(VariableValue::NotFound);
    };
    let Some(ctx) = session.ctx::<Sift>() else {
        return Ok(VariableValue::NotFound);
    };
    if let Some(cached) = ctx.http_host.get() {
        return Ok(VariableValue::Bytes(cached.get(session)));
    }
    let lowered = if host.iter().any(u8::is_ascii_uppercase) {
        session.pool_copy_with(host.len(), |out| {
            for (to, from) in out.iter_mut().zip(host) {
                *to = from.to_ascii_lowercase();
            }
        })?
    } else {
        host
    };
    ctx.http_host.set(Some(session.keep(lowered)));
    Ok(VariableValue::Bytes(lowered))
}

fn inspection<'s>(session: &Session<'s>) -> Option<&'s TlsInspection> {
    session.ctx::<Sift>()?.tls.get()
}

fn hello<'s>(session: &Session<'s>) -> Option<&'s KeptHello> {
    match inspection(session)? {
        TlsInspection::Hello(hello) => Some(hello),
        _ => None,
    }
}

fn tls_sni<'s>(session: &Session<'s>) -> Lookup<'s> {
    Ok(found(
        hello(session).and_then(|hello| hello.server_name(session)),
    ))
}

fn tls_version<'s>(session: &Session<'s>) -> Lookup<'s> {
    Ok(found(
        hello(session)
            .and_then(KeptHello::version_name)
            .map(str::as_bytes),
    ))
}

fn tls_ech<'s>(session: &Session<'s>) -> Lookup<'s> {
    Ok(found(hello(session).map(|hello| {
        if hello.has_ech() {
            &b"1"[..]
        } else {
            b"0"
        }
    })))
}

fn tls_status<'s>(session: &Session<'s>) -> Lookup<'s> {
    Ok(found(
        inspection(session).map(|tls| tls.status().as_bytes()),
    ))
}

/// ALPN list and fingerprints: computed on first lookup, then cached.
/// Inlined into each variable's getter, where `which` is a constant: a
/// lookup then runs only its own arm's code (fewer cache lines per session).
#[inline(always)]
fn derived<'s>(session: &Session<'s>, which: Derived) -> Lookup<'s> {
    let Some(hello) = hello(session) else {
        return Ok(VariableValue::NotFound);
    };
    // An error here means the pool is out of memory: fail the lookup.
    let value = hello.derived(session, which)?;
    // No ALPN extension (or an empty one): no value, like the other
    // variables of things the client did not send.
    Ok(if value.is_empty() {
        VariableValue::NotFound
    } else {
        VariableValue::Bytes(value)
    })
}

/// `$sift_access`: `allowed`, `denied`, `dry_run_denied`; empty without rules.
fn access<'s>(session: &Session<'s>) -> Lookup<'s> {
    let outcome = session.ctx::<Sift>().and_then(|ctx| ctx.access.get());
    Ok(found(outcome.map(|outcome| outcome.as_str().as_bytes())))
}

/// `$sift_access_rule`: the rule that decided, with its file and line.
fn access_rule<'s>(session: &Session<'s>) -> Lookup<'s> {
    let index = session
        .ctx::<Sift>()
        .and_then(|ctx| ctx.access.get()?.rule());
    let rules = session.srv_conf::<Sift>().rules();
    Ok(found(
        index
            .and_then(|index| rules.get(index))
            .map(|rule| rule.described.as_bytes()),
    ))
}

/// `$sift_rate_status`: `PASSED`, `REJECTED`, `REJECTED_DRY_RUN`; empty when
/// no limit counted the session.
fn rate_status<'s>(session: &Session<'s>) -> Lookup<'s> {
    let status = session.ctx::<Sift>().and_then(|ctx| ctx.rate.get());
    Ok(found(status.map(|status| status.as_str().as_bytes())))
}

/// `$sift_quic_version`: `1`, `2`, or the hex of another version, for a
/// QUIC session (whatever its hello's fate).
fn quic_version<'s>(session: &Session<'s>) -> Lookup<'s> {
    let Some(version) = session.ctx::<Sift>().and_then(|ctx| ctx.quic_version.get()) else {
        return Ok(VariableValue::NotFound);
    };
    let label = sift_core::quic::VersionLabel::new(version);
    Ok(VariableValue::Bytes(
        session.pool_copy(label.as_str().as_bytes())?,
    ))
}

/// `$sift_auth`: `allowed`, `denied`, `failed_open`, `failed_closed`;
/// empty without `sift_auth_request`.
fn auth<'s>(session: &Session<'s>) -> Lookup<'s> {
    let decision = session.ctx::<Sift>().and_then(|ctx| ctx.auth.get());
    Ok(found(decision.map(|decision| decision.as_str().as_bytes())))
}

/// `$sift_auth_status`: the service's HTTP status, `timeout` or `error`.
fn auth_status<'s>(session: &Session<'s>) -> Lookup<'s> {
    use crate::auth::AuthStatus;
    let status = session.ctx::<Sift>().map(|ctx| ctx.auth_status.get());
    Ok(match status {
        Some(AuthStatus::Http(code)) => {
            let text = code.to_string();
            VariableValue::Bytes(session.pool_copy(text.as_bytes())?)
        }
        Some(AuthStatus::Timeout) => VariableValue::Bytes(b"timeout"),
        Some(AuthStatus::Error) => VariableValue::Bytes(b"error"),
        Some(AuthStatus::Cached) => VariableValue::Bytes(b"cached"),
        _ => VariableValue::NotFound,
    })
}

//! sift's variables. Values are known only after the preread phase, so
//! they are registered non-cacheable and cached in the session's context.

use nginx_sys::NGX_STREAM_VAR_NOCACHEABLE;

use super::tls::{Derived, KeptHello, TlsInspection};
use super::Sift;
use crate::stream::variable::{Getter, VariableSpec};
use crate::stream::{Session, VariableSet, VariableValue};

pub struct SiftVariables;

const fn late(name: &'static str, get: Getter) -> VariableSpec {
    VariableSpec {
        name,
        get,
        flags: NGX_STREAM_VAR_NOCACHEABLE,
    }
}

impl VariableSet for SiftVariables {
    const VARIABLES: &'static [VariableSpec] = &[
        late("sift_protocol", protocol),
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
    ];
}

type Lookup<'s> = Result<VariableValue<'s>, ()>;

fn found(value: Option<&[u8]>) -> VariableValue<'_> {
    value.map_or(VariableValue::NotFound, VariableValue::Bytes)
}

/// `$sift_protocol`: `tls`, `http`, `ssh`, ..., `unknown`; empty when sift
/// is off or has not decided.
fn protocol<'s>(session: &mut Session<'s>) -> Lookup<'s> {
    let protocol = session.ctx::<Sift>().and_then(|ctx| ctx.protocol);
    Ok(found(protocol.map(|p| p.as_str().as_bytes())))
}

fn inspection<'a>(session: &'a Session<'_>) -> Option<&'a TlsInspection> {
    session.ctx::<Sift>()?.tls.as_ref()
}

fn hello<'a>(session: &'a Session<'_>) -> Option<&'a KeptHello> {
    match inspection(session)? {
        TlsInspection::Hello(hello) => Some(hello),
        _ => None,
    }
}

fn tls_sni<'s>(session: &mut Session<'s>) -> Lookup<'s> {
    Ok(found(
        hello(session).and_then(|hello| hello.server_name(session)),
    ))
}

fn tls_version<'s>(session: &mut Session<'s>) -> Lookup<'s> {
    Ok(found(
        hello(session)
            .and_then(KeptHello::version_name)
            .map(str::as_bytes),
    ))
}

fn tls_ech<'s>(session: &mut Session<'s>) -> Lookup<'s> {
    Ok(found(hello(session).map(|hello| {
        if hello.has_ech() {
            &b"1"[..]
        } else {
            b"0"
        }
    })))
}

fn tls_status<'s>(session: &mut Session<'s>) -> Lookup<'s> {
    Ok(found(
        inspection(session).map(|tls| tls.status().as_bytes()),
    ))
}

/// ALPN list and fingerprints: computed on first lookup, then cached.
fn derived<'s>(session: &mut Session<'s>, which: Derived) -> Lookup<'s> {
    let Some(hello) = hello(session) else {
        return Ok(VariableValue::NotFound);
    };
    // None here means the pool is out of memory: fail the lookup.
    hello
        .derived(session, which)
        .map(VariableValue::Bytes)
        .ok_or(())
}

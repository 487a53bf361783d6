//! `sift_api [write=on];` (location): the JSON API over sift's live lists
//! and `sift_top` zones. Paths are `sift_core::api_route`; bodies and
//! errors `sift_core::list::api`.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /sift/` | 200 `{"lists":[...],"tops":[...]}` |
//! | `GET /sift/lists/NAME` | 200 `{"key":"value",...}` |
//! | `GET /sift/lists/NAME/KEY` | 200 `{"key":"value"}`, 404 |
//! | `POST /sift/lists/NAME` | 201 (adds; 409 if a key exists) |
//! | `PATCH /sift/lists/NAME` | 204 (adds or changes; null deletes) |
//! | `DELETE /sift/lists/NAME` | 204 (every entry) |
//! | `DELETE /sift/lists/NAME/KEY` | 204, 404 |
//! | `GET /sift/top/NAME` | 200 `[{"key":"...","count":N},...]` |

use ngx_stream::ffi::NGX_LOG_NOTICE;
use ngx_stream::http::{ContentHandler, LocationDirective, Request, Response};
use ngx_stream::{Conf, Error, Result, ZoneRef};
use sift_core::api_route::{self, Route};
use sift_core::list::api::{self as list_api, ApiError};
use sift_core::list::{canonical_key, Change, ListError};

use crate::http::{SiftHttp, SiftLocConf};
use crate::list::{ListZone, ListZoneKind, WriteError};
use crate::metrics::{self, MetricsZone, MetricsZoneKind};

const JSON: &str = "application/json";

/// A `sift_api` location's settings.
#[derive(Clone, Copy, Debug)]
pub struct ApiConf {
    /// `write=on`: POST, PATCH and DELETE are allowed.
    pub write: bool,
    /// Where the configuration's lists and tops are registered.
    pub registry: ZoneRef<MetricsZoneKind>,
}

/// `sift_api [write=on|off];` (location)
pub struct SiftApi;

impl LocationDirective for SiftApi {
    type Module = SiftHttp;

    fn set(cf: &Conf<'_>, conf: &mut SiftLocConf) -> Result<()> {
        if conf.api.is_some() {
            return Err(Error::Invalid(String::from(
                "\"sift_api\" directive is duplicate",
            )));
        }
        let write = match cf.arg(0) {
            None | Some(b"write=off") => false,
            Some(b"write=on") => true,
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "invalid parameter \"{}\" in \"sift_api\" (write=on or write=off)",
                    String::from_utf8_lossy(other)
                )))
            }
        };
        conf.api = Some(ApiConf {
            write,
            registry: metrics::zone(cf)?,
        });
        cf.set_content_handler::<ApiHandler>()
    }
}

/// Answers the API's requests.
pub struct ApiHandler;

fn json(status: u16, body: String) -> Response {
    Response::new(status, JSON, body.into_bytes())
}

fn empty(status: u16) -> Response {
    Response::new(status, JSON, Vec::new())
}

fn error(status: u16, code: &str, text: &str) -> Response {
    json(status, list_api::render_error(status, code, text))
}

fn api_error(e: &ApiError) -> Response {
    json(e.status, e.render())
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

enum Method {
    Read,
    Post,
    Patch,
    Delete,
    Other,
}

fn method(request: &Request<'_>) -> Method {
    match request.method() {
        b"GET" | b"HEAD" => Method::Read,
        b"POST" => Method::Post,
        b"PATCH" => Method::Patch,
        b"DELETE" => Method::Delete,
        _ => Method::Other,
    }
}

/// 405 with the `Allow` line HTTP asks for; `allowed` is that line's
/// value (`GET, HEAD`).
fn not_allowed(request: &Request<'_>, allowed: &'static str) -> Response {
    error(
        405,
        "MethodNotSupported",
        &format!(
            "method {} is not supported here (use {allowed})",
            lossy(request.method())
        ),
    )
    .with_header("Allow", allowed)
}

fn write_disabled(request: &Request<'_>) -> Response {
    error(
        405,
        "MethodDisabled",
        &format!(
            "method {} is disabled: \"sift_api write=on\" allows changes",
            lossy(request.method())
        ),
    )
    .with_header("Allow", "GET, HEAD")
}

impl ContentHandler for ApiHandler {
    type Module = SiftHttp;
    const NAME: &'static str = "sift_api handler";
    const MAX_BODY: usize = list_api::BODY_MAX;

    fn too_large(limit: usize) -> Response {
        error(
            413,
            "BodyTooLarge",
            &format!(
                "request body larger than {limit} bytes or than client_body_buffer_size (sift_api reads bodies in one buffer)"
            ),
        )
    }

    fn handle(request: &Request<'_>) -> Response {
        let Some(conf) = request
            .loc_conf::<SiftHttp>()
            .and_then(|conf| conf.api.as_ref())
        else {
            return error(500, "NoConfiguration", "sift_api configuration not found");
        };
        let Some(registry) = conf.registry.data() else {
            return error(500, "NoRegistry", "sift_api zone not found");
        };
        match api_route::route(request.uri(), request.location_name()) {
            Route::Index | Route::Lists | Route::Tops
                if !matches!(method(request), Method::Read) =>
            {
                not_allowed(request, "GET, HEAD")
            }
            Route::Index => json(
                200,
                api_route::render_index(&strs(&list_names(registry)), &strs(&top_names(registry))),
            ),
            Route::Lists => json(200, api_route::render_names(&strs(&list_names(registry)))),
            Route::Tops => json(200, api_route::render_names(&strs(&top_names(registry)))),
            Route::Top(name) => top(request, registry, name),
            Route::List(name) => match find_list(registry, name) {
                Some(zone) => zone
                    .data()
                    .map_or_else(|| list_not_found(name), |zone| list(request, conf, zone)),
                None => list_not_found(name),
            },
            Route::Entry(name, key) => match find_list(registry, name) {
                Some(zone) => zone.data().map_or_else(
                    || list_not_found(name),
                    |zone| entry(request, conf, zone, key),
                ),
                None => list_not_found(name),
            },
            Route::NotFound => error(
                404,
                "PathNotFound",
                &format!("no such API path \"{}\"", lossy(request.uri())),
            ),
        }
    }
}

fn strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

fn list_names(registry: &MetricsZone) -> Vec<String> {
    let lists = registry.lists.borrow();
    lists
        .iter()
        .filter_map(|zone| zone.data().map(|zone| zone.name.clone()))
        .collect()
}

fn top_names(registry: &MetricsZone) -> Vec<String> {
    let tops = registry.tops.borrow();
    tops.iter()
        .filter_map(|zone| zone.data().map(|zone| zone.name.clone()))
        .collect()
}

fn find_list(registry: &MetricsZone, name: &[u8]) -> Option<ZoneRef<ListZoneKind>> {
    let lists = registry.lists.borrow();
    lists
        .iter()
        .find(|zone| zone.data().is_some_and(|zone| zone.name.as_bytes() == name))
        .copied()
}

fn list_not_found(name: &[u8]) -> Response {
    error(
        404,
        "ListNotFound",
        &format!("no sift_list_zone \"{}\"", lossy(name)),
    )
}

fn top(request: &Request<'_>, registry: &MetricsZone, name: &[u8]) -> Response {
    let tops = registry.tops.borrow();
    let Some(zone) = tops
        .iter()
        .filter_map(|zone| zone.data())
        .find(|zone| zone.name.as_bytes() == name)
    else {
        return error(
            404,
            "TopNotFound",
            &format!("no sift_top zone \"{}\"", lossy(name)),
        );
    };
    if !matches!(method(request), Method::Read) {
        return not_allowed(request, "GET, HEAD");
    }
    let keys: Vec<(String, u64)> = zone
        .heaviest()
        .into_iter()
        .map(|heavy| (sift_core::top::display_key(&heavy.key), heavy.count))
        .collect();
    json(200, api_route::render_top(&keys))
}

fn now_ms() -> u64 {
    ngx_stream::time::wall_msec()
}

fn unavailable(zone: &ListZone) -> Response {
    error(
        500,
        "ListUnavailable",
        &format!("sift_list_zone \"{}\" is not available", zone.name),
    )
}

fn write_failed(zone: &ListZone, e: WriteError) -> Response {
    match e {
        WriteError::List(e) => api_error(&ApiError::from(e)),
        WriteError::Unavailable => unavailable(zone),
    }
}

fn audit(request: &Request<'_>, zone: &ListZone, what: core::fmt::Arguments<'_>) {
    if let Some(log) = request.log() {
        log.error(
            NGX_LOG_NOTICE as usize,
            format_args!(
                "sift_api: {} list \"{}\": {what}",
                lossy(request.method()),
                zone.name
            ),
        );
    }
}

/// `/sift/lists/NAME`
fn list(request: &Request<'_>, conf: &ApiConf, zone: &ListZone) -> Response {
    let method = method(request);
    if matches!(method, Method::Post | Method::Patch | Method::Delete) && !conf.write {
        return write_disabled(request);
    }
    let now = now_ms();
    match method {
        Method::Read => match zone.entries(now) {
            Some(entries) => json(200, list_api::render_entries(&entries)),
            None => unavailable(zone),
        },
        Method::Post | Method::Patch => {
            let patch = matches!(method, Method::Patch);
            let parsed = match list_api::parse_object(request.body(), zone.kind, patch) {
                Ok(parsed) => parsed,
                Err(e) => return api_error(&e),
            };
            let expires_at_ms = zone.expiry(now);
            let changes: Vec<Change<'_>> = parsed
                .iter()
                .map(|(key, value)| match (value, patch) {
                    (None, _) => Change::Remove {
                        key: key.as_bytes(),
                    },
                    (Some(value), false) => Change::Insert {
                        key: key.as_bytes(),
                        value: value.as_bytes(),
                        expires_at_ms,
                    },
                    (Some(value), true) => Change::Upsert {
                        key: key.as_bytes(),
                        value: value.as_bytes(),
                        expires_at_ms,
                    },
                })
                .collect();
            match zone.change(now, request.log(), |table| {
                table.apply(&changes, now)?;
                crate::list::sync::journal_changes(zone, &changes);
                Ok(())
            }) {
                Ok(()) => {
                    audit(request, zone, format_args!("{} keys", changes.len()));
                    empty(if patch { 204 } else { 201 })
                }
                Err(e) => write_failed(zone, e),
            }
        }
        Method::Delete => {
            match zone.change(now, request.log(), |table| {
                table.clear();
                crate::list::sync::journal_clear(zone);
                Ok::<(), ListError>(())
            }) {
                Ok(()) => {
                    audit(request, zone, format_args!("every entry"));
                    empty(204)
                }
                Err(e) => write_failed(zone, e),
            }
        }
        Method::Other => not_allowed(request, "GET, HEAD, POST, PATCH, DELETE"),
    }
}

/// `/sift/lists/NAME/KEY`
fn entry(request: &Request<'_>, conf: &ApiConf, zone: &ListZone, key: &[u8]) -> Response {
    let method = method(request);
    match method {
        Method::Read | Method::Delete => {}
        _ => return not_allowed(request, "GET, HEAD, DELETE"),
    }
    if matches!(method, Method::Delete) && !conf.write {
        return write_disabled(request);
    }
    let key = match canonical_key(zone.kind, key) {
        Ok(key) => key,
        Err(e) => return api_error(&ApiError::from(e)),
    };
    let not_found = || {
        error(
            404,
            "KeyNotFound",
            &format!("no key \"{key}\" in list \"{}\"", zone.name),
        )
    };
    let now = now_ms();
    if matches!(method, Method::Read) {
        return match zone.with_table(|_, table| table.get(key.as_bytes(), now)) {
            Some(Some(entry)) => json(200, list_api::render_entries(&[entry])),
            Some(None) => not_found(),
            None => unavailable(zone),
        };
    }
    let removed = zone.change(now, request.log(), |table| {
        if table.get(key.as_bytes(), now).is_none() {
            return Ok(false);
        }
        let remove = [Change::Remove {
            key: key.as_bytes(),
        }];
        table.apply(&remove, now)?;
        crate::list::sync::journal_changes(zone, &remove);
        Ok(true)
    });
    match removed {
        Ok(true) => {
            audit(request, zone, format_args!("key \"{key}\""));
            empty(204)
        }
        Ok(false) => not_found(),
        Err(e) => write_failed(zone, e),
    }
}

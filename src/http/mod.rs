//! `ngx_http_sift_module`: the http side of the same shared object, which
//! serves sift's metrics (`location = /metrics { sift_metrics; }`) from the
//! shared zone the stream servers count in.

use ngx_stream::command::{self, NOARGS};
use ngx_stream::http::{
    self, ContentHandler, HttpModule, LocationDirective, MergeLocConf, Request, Response,
};
use ngx_stream::{Conf, Result, ZoneRef};
use sift_core::metrics::{self as core_metrics, RateSeries, ServerSeries, TopSeries};

use crate::metrics::{self, MetricsZoneKind};

mod api;

/// Type-level handle on the http module.
pub struct SiftHttp;

/// Per-location configuration: which zone a `sift_metrics` location shows.
#[derive(Clone, Copy, Default)]
pub struct SiftLocConf {
    metrics: Option<ZoneRef<MetricsZoneKind>>,
    /// `sift_api`.
    api: Option<api::ApiConf>,
}

impl MergeLocConf for SiftLocConf {
    fn merge(&mut self, _prev: &Self) -> Result<()> {
        // A handler belongs to its own location: nothing is inherited.
        Ok(())
    }
}

impl HttpModule for SiftHttp {
    const NAME: &'static str = "sift";
    type LocConf = SiftLocConf;
}

/// `sift_metrics;` (location)
pub struct SiftMetrics;

impl LocationDirective for SiftMetrics {
    type Module = SiftHttp;
    fn set(cf: &Conf<'_>, conf: &mut SiftLocConf) -> Result<()> {
        if conf.metrics.is_some() {
            return Err(ngx_stream::Error::Invalid(String::from(
                "\"sift_metrics\" directive is duplicate",
            )));
        }
        conf.metrics = Some(metrics::zone(cf)?);
        cf.set_content_handler::<MetricsPage>()
    }
}

/// The Prometheus text of every server and rate zone.
pub struct MetricsPage;

fn plain(status: u16, text: &str) -> Response {
    Response::new(status, "text/plain", text.as_bytes().to_vec())
}

impl ContentHandler for MetricsPage {
    type Module = SiftHttp;
    const NAME: &'static str = "sift_metrics handler";

    fn handle(request: &Request<'_>) -> Response {
        if !matches!(request.method(), b"GET" | b"HEAD") {
            return plain(405, "405 method not allowed: use GET\n")
                .with_header("Allow", "GET, HEAD");
        }
        let Some(zone) = request
            .loc_conf::<SiftHttp>()
            .and_then(|conf| conf.metrics.as_ref())
            .and_then(|zone| zone.data())
        else {
            return plain(500, "500 sift_metrics zone not found\n");
        };
        let series = zone.series.borrow();
        let mut servers = Vec::new();
        let mut rates = Vec::new();
        let mut signatures: Vec<Vec<&str>> = Vec::new();
        for s in series.iter() {
            signatures.push(s.signatures.iter().map(String::as_str).collect());
        }
        let mut usages = Vec::new();
        for s in series.iter() {
            usages.push(
                s.rate_zone
                    .and_then(|zone| zone.data().and_then(|data| data.usage())),
            );
        }
        for (index, s) in series.iter().enumerate() {
            let counters = zone.counters(index);
            match s.kind {
                core_metrics::BlockKind::Server => servers.push(ServerSeries {
                    name: &s.name,
                    signatures: &signatures[index],
                    counters,
                }),
                core_metrics::BlockKind::Rate => rates.push(RateSeries {
                    name: &s.name,
                    counters,
                    keys: usages[index].map(|(keys, _)| keys as u64),
                    capacity: usages[index].map(|(_, capacity)| capacity as u64),
                }),
            }
        }
        let tops: Vec<(String, Vec<(String, u64)>)> = zone
            .tops
            .borrow()
            .iter()
            .filter_map(|top| top.data())
            .map(|top| {
                let keys = top
                    .heaviest()
                    .into_iter()
                    .map(|heavy| (sift_core::top::display_key(&heavy.key), heavy.count))
                    .collect();
                (top.name.clone(), keys)
            })
            .collect();
        let top_series: Vec<TopSeries<'_>> = tops
            .iter()
            .map(|(name, keys)| TopSeries { name, keys })
            .collect();
        let mut out = String::with_capacity(4096);
        core_metrics::render(&servers, &rates, &top_series, &mut out);
        let lists = crate::list::entry_counts(zone);
        let list_series: Vec<core_metrics::ListSeries<'_>> = lists
            .iter()
            .map(|(name, entries)| core_metrics::ListSeries {
                name,
                entries: *entries,
            })
            .collect();
        core_metrics::render_lists(&list_series, &mut out);
        let syncs = crate::list::sync::sync_counts(zone);
        let sync_series: Vec<core_metrics::ListSyncSeries<'_>> = syncs
            .iter()
            .map(
                |(name, failures, pending, last_success_ms)| core_metrics::ListSyncSeries {
                    name,
                    failures: *failures,
                    pending: *pending,
                    last_success_ms: *last_success_ms,
                },
            )
            .collect();
        core_metrics::render_list_syncs(&sync_series, &mut out);
        Response::new(200, core_metrics::CONTENT_TYPE, out.into_bytes())
    }
}

/// The directives, plus the test-only ones in a test-hooks build.
const HTTP_COMMAND_COUNT: usize = if cfg!(feature = "test-hooks") { 4 } else { 3 };

static HTTP_COMMANDS: command::CommandTable<HTTP_COMMAND_COUNT> = command::CommandTable::new([
    http::location_directive::<SiftMetrics>(c"sift_metrics", http::LOCATION | NOARGS),
    http::location_directive::<api::SiftApi>(c"sift_api", http::LOCATION | NOARGS | command::TAKE1),
    #[cfg(feature = "test-hooks")]
    http::location_directive::<crate::test_hooks::EchoBodyDirective>(
        c"sift_test_echo_body",
        http::LOCATION | NOARGS,
    ),
    command::END,
]);

ngx_stream::http_module!(ngx_http_sift_module, SiftHttp, HTTP_COMMANDS);

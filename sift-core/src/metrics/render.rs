//! The Prometheus text exposition format (version 0.0.4) of sift's counters.

use core::fmt::Write;
use core::sync::atomic::AtomicU64;

use super::{rate, read, server, HISTOGRAM_BOUNDS_MS};
use crate::protocol::Protocol;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// A server's counters, as [`render`] reads them.
pub struct ServerSeries<'a> {
    /// The `server` label.
    pub name: &'a str,
    /// The server's user signature names, in their counter order.
    pub signatures: &'a [&'a str],
    /// The block's counters ([`server`](super::server) offsets).
    pub counters: &'a [AtomicU64],
}

/// A rate zone's counters and gauges.
pub struct RateSeries<'a> {
    /// The `zone` label.
    pub name: &'a str,
    /// The block's counters ([`rate`](super::rate) offsets).
    pub counters: &'a [AtomicU64],
    /// Keys held now (None: the zone could not be read).
    pub keys: Option<u64>,
    /// Keys the zone can hold.
    pub capacity: Option<u64>,
}

/// A `sift_top` zone's heaviest keys, heaviest first.
pub struct TopSeries<'a> {
    /// The `zone` label.
    pub name: &'a str,
    /// Each key as its label shows it, and its estimated count.
    pub keys: &'a [(String, u64)],
}

/// A label value as the text format writes it: `\`, `"` and newline escaped.
pub fn escape_label(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `name{label="value",label2="value2"} number`
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl core::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, text)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            escape_label(text, out);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Milliseconds as seconds, exactly (`1500` -> `1.5`).
fn seconds(ms: u64) -> String {
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("{whole}")
    } else {
        let text = format!("{whole}.{frac:03}");
        text.trim_end_matches('0').to_string()
    }
}

/// Renders every family, servers and zones in the order given. Families
/// with no series are still described (HELP and TYPE), so a scrape always
/// shows what exists.
pub fn render(
    servers: &[ServerSeries<'_>],
    rates: &[RateSeries<'_>],
    tops: &[TopSeries<'_>],
    out: &mut String,
) {
    family(
        out,
        "sift_connections_total",
        "counter",
        "Sessions of a stream server with sift on, by $sift_protocol (TCP and UDP).",
    );
    for s in servers {
        let builtin = Protocol::ALL
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), server::PROTOCOLS + i))
            .chain([("timeout", server::TIMEOUT), ("closed", server::CLOSED)])
            .chain(
                server::DATAGRAM_ONLY
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (*p, server::DATAGRAM + i)),
            );
        for (protocol, offset) in builtin {
            let labels = [("server", s.name), ("protocol", protocol)];
            sample(
                out,
                "sift_connections_total",
                &labels,
                read(s.counters, offset),
            );
        }
        for (i, name) in s.signatures.iter().take(server::SIGNATURES).enumerate() {
            let labels = [("server", s.name), ("protocol", *name)];
            let value = read(s.counters, server::SIGNATURE + i);
            sample(out, "sift_connections_total", &labels, value);
        }
        if s.signatures.len() > server::SIGNATURES {
            let labels = [("server", s.name), ("protocol", "signature")];
            let value = read(s.counters, server::OTHER_SIGNATURE);
            sample(out, "sift_connections_total", &labels, value);
        }
    }

    family(
        out,
        "sift_tls_total",
        "counter",
        "TLS sessions by $sift_tls_status.",
    );
    for s in servers {
        for (i, status) in server::TLS_STATUSES.iter().enumerate() {
            let labels = [("server", s.name), ("status", *status)];
            sample(
                out,
                "sift_tls_total",
                &labels,
                read(s.counters, server::TLS + i),
            );
        }
    }

    family(
        out,
        "sift_access_total",
        "counter",
        "Sessions decided by sift_allow/sift_deny rules, by $sift_access.",
    );
    for s in servers {
        for (i, decision) in server::ACCESS_DECISIONS.iter().enumerate() {
            let labels = [("server", s.name), ("decision", *decision)];
            let value = read(s.counters, server::ACCESS + i);
            sample(out, "sift_access_total", &labels, value);
        }
    }

    family(
        out,
        "sift_preread_seconds",
        "histogram",
        "Time from accept to sift's protocol decision.",
    );
    for s in servers {
        let mut cumulative = 0u64;
        for (i, bound) in HISTOGRAM_BOUNDS_MS.iter().enumerate() {
            cumulative += read(s.counters, server::HISTOGRAM + i);
            let le = seconds(*bound);
            let labels = [("server", s.name), ("le", le.as_str())];
            sample(out, "sift_preread_seconds_bucket", &labels, cumulative);
        }
        cumulative += read(s.counters, server::HISTOGRAM + HISTOGRAM_BOUNDS_MS.len());
        let labels = [("server", s.name), ("le", "+Inf")];
        sample(out, "sift_preread_seconds_bucket", &labels, cumulative);
        let sum = seconds(read(s.counters, server::HISTOGRAM_SUM_MS));
        sample(out, "sift_preread_seconds_sum", &[("server", s.name)], sum);
        // The buckets' total, so the series agree even while workers count.
        sample(
            out,
            "sift_preread_seconds_count",
            &[("server", s.name)],
            cumulative,
        );
    }

    family(
        out,
        "sift_rate_total",
        "counter",
        "Sessions counted by a sift_rate_zone, by outcome.",
    );
    for z in rates {
        for (i, status) in rate::STATUSES.iter().enumerate() {
            let labels = [("zone", z.name), ("status", *status)];
            sample(out, "sift_rate_total", &labels, read(z.counters, i));
        }
    }
    family(
        out,
        "sift_rate_zone_keys",
        "gauge",
        "Keys a sift_rate_zone holds now.",
    );
    for z in rates {
        if let Some(keys) = z.keys {
            sample(out, "sift_rate_zone_keys", &[("zone", z.name)], keys);
        }
    }
    family(
        out,
        "sift_rate_zone_capacity",
        "gauge",
        "Keys a sift_rate_zone can hold.",
    );
    for z in rates {
        if let Some(capacity) = z.capacity {
            sample(
                out,
                "sift_rate_zone_capacity",
                &[("zone", z.name)],
                capacity,
            );
        }
    }
    family(
        out,
        "sift_top_count",
        "gauge",
        "Estimated sessions of the heaviest keys of a sift_top zone (space-saving: never below the true count).",
    );
    for t in tops {
        for (key, count) in t.keys {
            sample(
                out,
                "sift_top_count",
                &[("zone", t.name), ("key", key)],
                count,
            );
        }
    }
}

/// One `sift_list_zone`: its name and the entries it holds.
#[derive(Clone, Copy, Debug)]
pub struct ListSeries<'a> {
    /// The `list` label.
    pub name: &'a str,
    pub entries: u64,
}

/// Appends `sift_list_entries` (after [`render`]'s families).
pub fn render_lists(lists: &[ListSeries<'_>], out: &mut String) {
    family(
        out,
        "sift_list_entries",
        "gauge",
        "Entries in force in a sift_list_zone (expired ones excluded).",
    );
    for list in lists {
        sample(
            out,
            "sift_list_entries",
            &[("list", list.name)],
            list.entries,
        );
    }
}

/// One synced `sift_list_zone` (`sync=`): its name and its sync's state.
#[derive(Clone, Copy, Debug)]
pub struct ListSyncSeries<'a> {
    /// The `list` label.
    pub name: &'a str,
    pub failures: u64,
    /// API changes waiting for Redis.
    pub pending: u64,
    /// When a sync last succeeded, Unix milliseconds (0: never).
    pub last_success_ms: u64,
}

/// Appends the `sift_list_sync_*` families, when any list is synced.
pub fn render_list_syncs(lists: &[ListSyncSeries<'_>], out: &mut String) {
    if lists.is_empty() {
        return;
    }
    family(
        out,
        "sift_list_sync_failures_total",
        "counter",
        "Syncs of a sift_list_zone with Redis that failed (no answer, an error, garbage, a list too big for the zone).",
    );
    for list in lists {
        sample(
            out,
            "sift_list_sync_failures_total",
            &[("list", list.name)],
            list.failures,
        );
    }
    family(
        out,
        "sift_list_sync_pending",
        "gauge",
        "Changes made through this host's API that Redis has not acknowledged yet.",
    );
    for list in lists {
        sample(
            out,
            "sift_list_sync_pending",
            &[("list", list.name)],
            list.pending,
        );
    }
    family(
        out,
        "sift_list_sync_last_success_timestamp_seconds",
        "gauge",
        "When a sync of the list with Redis last succeeded (Unix time; 0: never).",
    );
    for list in lists {
        sample(
            out,
            "sift_list_sync_last_success_timestamp_seconds",
            &[("list", list.name)],
            seconds(list.last_success_ms),
        );
    }
}

#[cfg(test)]
pub(super) fn seconds_for_test(ms: u64) -> String {
    seconds(ms)
}

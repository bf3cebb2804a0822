//! The report document: what every renderer shows, built once from a run's merged [`Traffic`].
//! Its JSON form is the versioned schema `cflogs-report/1` (docs/report.schema.json).

use super::collect::{DistTraffic, List};
use super::sketch::{Entry, SpaceSaving};
use super::{RunCounts, Traffic};
use serde::Serialize;
use std::collections::BTreeMap;

/// The schema name and version of the JSON document.
pub const SCHEMA: &str = "cflogs-report/1";

/// Relative standard error of the unique-visitor estimate past its exact range: HyperLogLog++
/// at precision 12 (4,096 registers), 1.04 / sqrt(4096).
pub const VISITORS_ERROR: f64 = 0.01625;

/// Distinct client IPs the visitor sketch counts exactly (its small and array forms).
pub const VISITORS_EXACT_UP_TO: u64 = 128;

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    /// The `--since`/`--until` bounds (RFC 3339), when given.
    pub since: Option<String>,
    pub until: Option<String>,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub top_n: usize,
    pub sketch_capacity: usize,
    pub unique_visitors_error: f64,
    pub distributions: Vec<Distribution>,
}

/// One distribution.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub id: String,
    pub first_record: Option<String>,
    pub last_record: Option<String>,
    pub totals: Totals,
    pub hours: Vec<HourRow>,
    /// Host names seen in `x-host-header`/`cs(Host)`: excluded from the referrer hosts.
    pub own_hosts: Vec<String>,
    /// One per list, keyed by [`List::key`].
    pub top: BTreeMap<&'static str, TopList>,
}

impl Distribution {
    /// The lists in report order.
    pub fn lists(&self) -> impl Iterator<Item = &TopList> {
        List::ALL.iter().filter_map(|l| self.top.get(l.key()))
    }
}

/// Totals over the range.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub requests: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// (Hit + RefreshHit) / requests.
    pub cache_hit_ratio: Option<f64>,
    /// (4xx + 5xx) / requests.
    pub error_ratio: Option<f64>,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub status_000: u64,
    /// Approximate distinct client IPs; `None` when the logs carry no `c-ip`.
    pub unique_visitors: Option<u64>,
    /// Whether the visitor count is in the sketch's exact range.
    pub unique_visitors_exact: bool,
    pub time_taken_ms: Percentiles,
    pub time_to_first_byte_ms: Percentiles,
}

/// Nearest-rank percentiles in milliseconds (exact below one second, three significant digits
/// above); `None` without samples.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub samples: u64,
    pub p50: Option<u32>,
    pub p90: Option<u32>,
    pub p99: Option<u32>,
}

/// One UTC hour.
#[derive(Debug, Clone, Serialize)]
pub struct HourRow {
    /// `YYYY-MM-DDTHH:00:00Z`.
    pub hour: String,
    pub requests: u64,
    pub bytes: u64,
    pub cache_hit_ratio: Option<f64>,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub p50_ms: Option<u32>,
    pub p99_ms: Option<u32>,
}

/// A list ranked both ways.
#[derive(Debug, Clone, Serialize)]
pub struct TopList {
    pub title: &'static str,
    pub by_requests: Ranking,
    pub by_bytes: Ranking,
}

/// The top entries of one Space-Saving summary.
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    /// Whether every count is exact (the distinct values fitted in the sketch).
    pub exact: bool,
    /// When not exact: the most any count over-estimates by, and the most a value left out
    /// may have had. 0 when exact.
    pub max_overcount: u64,
    pub entries: Vec<Ranked>,
}

/// One ranked value.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub value: String,
    pub count: u64,
    /// count / the distribution's total (requests or bytes).
    pub share: Option<f64>,
    /// What `count` may over-estimate by (0 when exact).
    pub error: u64,
}

/// RFC 3339 UTC of epoch milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn ranking(s: &SpaceSaving, top: usize, total: u64, keep: &dyn Fn(&[u8]) -> bool) -> Ranking {
    Ranking {
        exact: s.is_exact(),
        max_overcount: s.bound(),
        entries: s
            .top(top, keep)
            .into_iter()
            .map(|Entry { key, count, error }| Ranked {
                value: String::from_utf8_lossy(&key).into_owned(),
                count,
                share: ratio(count, total),
                error,
            })
            .collect(),
    }
}

fn percentiles(l: &super::sketch::Latency) -> Percentiles {
    let [p50, p90, p99] = l.percentiles([50.0, 90.0, 99.0]);
    Percentiles {
        samples: l.count(),
        p50,
        p90,
        p99,
    }
}

fn distribution(id: &str, d: &DistTraffic, top: usize) -> Distribution {
    let visitors = d.visitors.estimate() as u64;
    // Referrer hosts are lower-cased; so are the own hosts they are compared with.
    let own: std::collections::BTreeSet<Vec<u8>> =
        d.own_hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    let own = &own;
    let mut lists = BTreeMap::new();
    for l in List::ALL {
        let p = d.list(l);
        let keep: &dyn Fn(&[u8]) -> bool = if l == List::Referrers {
            &|k: &[u8]| !own.contains(k)
        } else {
            &|_: &[u8]| true
        };
        lists.insert(
            l.key(),
            TopList {
                title: l.title(),
                by_requests: ranking(&p.by_requests, top, d.requests, keep),
                by_bytes: ranking(&p.by_bytes, top, d.bytes_out, keep),
            },
        );
    }
    Distribution {
        id: id.to_owned(),
        first_record: d.first_ms.map(rfc3339),
        last_record: d.last_ms.map(rfc3339),
        totals: Totals {
            requests: d.requests,
            bytes_out: d.bytes_out,
            bytes_in: d.bytes_in,
            cache_hit_ratio: ratio(d.hits, d.requests),
            error_ratio: ratio(d.statuses[2] + d.statuses[3], d.requests),
            status_2xx: d.statuses[0],
            status_3xx: d.statuses[1],
            status_4xx: d.statuses[2],
            status_5xx: d.statuses[3],
            status_000: d.statuses[4],
            unique_visitors: (d.with_client_ip > 0).then_some(visitors),
            unique_visitors_exact: visitors <= VISITORS_EXACT_UP_TO,
            time_taken_ms: percentiles(&d.time_taken),
            time_to_first_byte_ms: percentiles(&d.time_to_first_byte),
        },
        hours: d
            .hours
            .iter()
            .map(|(h, s)| {
                let [p50_ms, p99_ms] = s.time_taken.percentiles([50.0, 99.0]);
                HourRow {
                    hour: rfc3339(h * 3_600_000),
                    requests: s.requests,
                    bytes: s.bytes,
                    cache_hit_ratio: ratio(s.hits, s.requests),
                    status_4xx: s.status_4xx,
                    status_5xx: s.status_5xx,
                    p50_ms,
                    p99_ms,
                }
            })
            .collect(),
        own_hosts: own
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect(),
        top: lists,
    }
}

impl Report {
    /// The report of a run: `top` entries per list, over the `since`/`until` bounds given
    /// (epoch ms, for the header only: the records were selected when read).
    pub fn new(
        t: &Traffic,
        top: usize,
        capacity: usize,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Report {
        Report {
            schema: SCHEMA,
            since: since.map(rfc3339),
            until: until.map(rfc3339),
            counts: t.counts.clone(),
            top_n: top,
            sketch_capacity: capacity,
            unique_visitors_error: VISITORS_ERROR,
            distributions: t
                .distributions
                .iter()
                .map(|(id, d)| distribution(id, d, top))
                .collect(),
        }
    }

    /// The JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

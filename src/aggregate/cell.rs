//! One row's minute of the aggregate stage: a [`Cell`] holds the sums (requests, bytes, result
//! types, status classes) and the exact latency distributions ([`Histogram`]) of the records of
//! one distribution, dimension values and minute. Sums saturate, never wrap.

use crate::catalogue::Metric;
use crate::parse::{Field, Record};
use rustc_hash::FxHashMap;

/// Index of each result-type counter in [`Cell::results`], in catalogue order.
pub(super) const RESULT_METRICS: [Metric; 9] = [
    Metric::Hit,
    Metric::RefreshHit,
    Metric::Miss,
    Metric::Error,
    Metric::Redirect,
    Metric::LimitExceeded,
    Metric::CapacityExceeded,
    Metric::LambdaExecutionError,
    Metric::OtherResult,
];

/// Status classes in [`Cell::statuses`], in catalogue order.
pub(super) const STATUS_METRICS: [Metric; 5] = [
    Metric::Status2xx,
    Metric::Status3xx,
    Metric::Status4xx,
    Metric::Status5xx,
    Metric::Status000,
];

/// Latency distributions in [`Cell::latency`], in catalogue order.
pub const LATENCY_METRICS: [Metric; 4] = [
    Metric::TimeTaken,
    Metric::TimeToFirstByte,
    Metric::OriginFirstByteLatency,
    Metric::OriginLastByteLatency,
];

#[inline]
pub(super) fn result_index(v: &[u8]) -> Option<usize> {
    Some(match v {
        b"" => return None,
        b"Hit" => 0,
        b"RefreshHit" => 1,
        b"Miss" => 2,
        b"Error" => 3,
        b"Redirect" => 4,
        b"LimitExceeded" => 5,
        b"CapacityExceeded" => 6,
        b"LambdaExecutionError" => 7,
        _ => 8,
    })
}

#[inline]
pub(super) fn status_index(status: Option<u16>) -> Option<usize> {
    match status? {
        0 => Some(4),
        200..=299 => Some(0),
        300..=399 => Some(1),
        400..=499 => Some(2),
        500..=599 => Some(3),
        _ => None,
    }
}

/// An exact distribution of millisecond values: value → count.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Histogram(FxHashMap<u32, u64>);

impl Histogram {
    /// Adds `count` samples of `ms`.
    #[inline]
    pub fn add(&mut self, ms: u32, count: u64) {
        let c = self.0.entry(ms).or_insert(0);
        *c = c.saturating_add(count);
    }

    /// Adds every sample of another histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for (&v, &c) in &other.0 {
            self.add(v, c);
        }
    }

    /// (value, count) pairs sorted by value.
    pub fn sorted(&self) -> Vec<(u32, u64)> {
        let mut v: Vec<(u32, u64)> = self.0.iter().map(|(&v, &c)| (v, c)).collect();
        v.sort_unstable();
        v
    }

    /// Number of samples (saturating at `u64::MAX`).
    pub fn count(&self) -> u64 {
        self.0.values().fold(0, |a, &c| a.saturating_add(c))
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The nearest-rank percentile `p` (0 to 100) of the samples.
    pub fn percentile(&self, p: f64) -> Option<u32> {
        let sorted = self.sorted();
        let total = sorted.iter().fold(0u64, |a, &(_, c)| a.saturating_add(c));
        if total == 0 {
            return None;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (v, c) in sorted {
            seen = c.saturating_add(seen);
            if seen >= rank {
                return Some(v);
            }
        }
        None
    }
}

/// The aggregates of one (minute, dimension values) cell. Every sum saturates at `u64::MAX`
/// rather than wrap, whatever the input (a line's byte counts are bounded by the parser, but many
/// lines add up).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cell {
    /// Accepted records.
    pub requests: u64,
    /// Sum of sc-bytes.
    pub bytes_downloaded: u64,
    /// Sum of cs-bytes.
    pub bytes_uploaded: u64,
    /// Counts per result type, in the order of the catalogue (Hit ... OtherResult).
    pub results: [u64; 9],
    /// Counts per status class (2xx, 3xx, 4xx, 5xx, 000).
    pub statuses: [u64; 5],
    /// TimeTaken, TimeToFirstByte, OriginFirstByteLatency, OriginLastByteLatency.
    pub latency: [Histogram; 4],
}

impl Cell {
    #[inline]
    pub(super) fn add(&mut self, r: &Record<'_>) {
        self.requests = self.requests.saturating_add(1);
        self.bytes_downloaded = self.bytes_downloaded.saturating_add(r.sc_bytes);
        self.bytes_uploaded = self.bytes_uploaded.saturating_add(r.cs_bytes);
        if let Some(i) = result_index(r.field(Field::XEdgeResultType)) {
            self.results[i] = self.results[i].saturating_add(1);
        }
        if let Some(i) = status_index(r.sc_status) {
            self.statuses[i] = self.statuses[i].saturating_add(1);
        }
        let lat = [
            r.time_taken_ms,
            r.time_to_first_byte_ms,
            r.origin_fbl_ms,
            r.origin_lbl_ms,
        ];
        for (h, v) in self.latency.iter_mut().zip(lat) {
            if let Some(ms) = v {
                h.add(ms, 1);
            }
        }
    }

    /// Adds another cell's aggregates.
    pub fn merge(&mut self, o: &Cell) {
        self.requests = self.requests.saturating_add(o.requests);
        self.bytes_downloaded = self.bytes_downloaded.saturating_add(o.bytes_downloaded);
        self.bytes_uploaded = self.bytes_uploaded.saturating_add(o.bytes_uploaded);
        for (a, b) in self.results.iter_mut().zip(o.results) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.statuses.iter_mut().zip(o.statuses) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.latency.iter_mut().zip(&o.latency) {
            a.merge(b);
        }
    }

    /// The summed value of a [`crate::catalogue::Kind::Sum`] metric.
    pub fn sum(&self, m: Metric) -> u64 {
        match m {
            Metric::Requests => self.requests,
            Metric::BytesDownloaded => self.bytes_downloaded,
            Metric::BytesUploaded => self.bytes_uploaded,
            _ => {
                if let Some(i) = RESULT_METRICS.iter().position(|&x| x == m) {
                    self.results[i]
                } else if let Some(i) = STATUS_METRICS.iter().position(|&x| x == m) {
                    self.statuses[i]
                } else {
                    0
                }
            }
        }
    }

    /// The distribution of a latency metric.
    pub fn histogram(&self, m: Metric) -> Option<&Histogram> {
        LATENCY_METRICS
            .iter()
            .position(|&x| x == m)
            .map(|i| &self.latency[i])
    }
}

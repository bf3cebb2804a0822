//! Running the library's pipeline in-process and a view over the datums it makes, for the core's
//! integration tests (`samples`, `generated`, `properties`, `cli`).
//!
//! The view is written independently of the library: it checks the datum invariants itself.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use cloudfront_log_metrics::batch::MAX_DATUMS_PER_BATCH;
use cloudfront_log_metrics::config::{MetricsConfig, parse_dimension_sets};
use cloudfront_log_metrics::datum::{Datum, DatumValue, MAX_VALUES_PER_DATUM};
use cloudfront_log_metrics::pipeline::{self, ProcessedFile};
use std::collections::{BTreeMap, BTreeSet};

/// The distribution ID used when a test's file name carries none.
pub const DIST: &str = "EMLARXS9EXAMPLE";

/// A configuration with the given dimension sets and [`DIST`] as the fallback distribution ID.
pub fn config(sets: &str) -> MetricsConfig {
    MetricsConfig {
        dimension_sets: parse_dimension_sets("test", sets).unwrap(),
        distribution_id: Some(DIST.to_owned()),
        ..MetricsConfig::default()
    }
}

/// Runs bytes (gzip or plain) through `pipeline::process_reader`.
pub fn process(key: &str, bytes: &[u8], config: &MetricsConfig, now_ms: i64) -> ProcessedFile {
    pipeline::process_reader(key, key, bytes, config, now_ms, u64::MAX)
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// Dimension pairs of a datum as (name, value) strings.
pub type Dims = Vec<(String, String)>;

/// Builds [`Dims`] from string pairs.
pub fn dims(pairs: &[(&str, &str)]) -> Dims {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The DistributionId-only dimension set of [`DIST`].
pub fn dist_only() -> Dims {
    dims(&[("DistributionId", DIST)])
}

/// What the datums say for one (metric, dimensions, minute).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Point {
    /// A `Value` datum, if any.
    pub value: Option<u64>,
    /// The merged `Values`/`Counts` of every distribution datum.
    pub hist: BTreeMap<u64, u64>,
    /// Number of datums that made this point.
    pub datums: usize,
}

/// A view over datums, indexed by (metric name, dimensions, minute). Building it checks the
/// datum invariants that hold for every output: a `Value` is never 0 and appears once per
/// (metric, dimensions, minute); a distribution has 1 to 150 strictly ascending values with as many
/// counts, each at least 1, and its values are disjoint from the other datums of the same point;
/// timestamps are whole minutes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View(pub BTreeMap<(String, Dims, i64), Point>);

impl View {
    pub fn new<'a>(datums: impl IntoIterator<Item = &'a Datum>) -> View {
        let mut map: BTreeMap<(String, Dims, i64), Point> = BTreeMap::new();
        for d in datums {
            assert_eq!(d.timestamp_ms.rem_euclid(60_000), 0, "{d:?}");
            let dims: Dims = d
                .dimensions
                .iter()
                .map(|(k, v)| (k.name().to_owned(), v.clone()))
                .collect();
            let p = map
                .entry((d.metric.name().to_owned(), dims, d.timestamp_ms))
                .or_default();
            p.datums += 1;
            match &d.value {
                DatumValue::Value(v) => {
                    assert!(*v > 0, "zero value datum {d:?}");
                    assert!(p.value.is_none(), "duplicate value datum {d:?}");
                    assert!(p.hist.is_empty());
                    p.value = Some(*v);
                }
                DatumValue::Distribution { values, counts } => {
                    assert!(p.value.is_none());
                    assert!(!values.is_empty() && values.len() <= MAX_VALUES_PER_DATUM);
                    assert_eq!(values.len(), counts.len());
                    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
                    for (&v, &c) in values.iter().zip(counts) {
                        assert!(c >= 1);
                        assert!(p.hist.insert(v, c).is_none(), "value {v} repeated");
                    }
                }
            }
        }
        View(map)
    }

    /// The view of a processed file, also checking its batches (consecutive indices, at most
    /// 1000 datums each, none empty).
    pub fn of(f: &ProcessedFile) -> View {
        for (i, b) in f.batches.iter().enumerate() {
            assert_eq!(b.index, i);
            assert!(!b.datums.is_empty() && b.datums.len() <= MAX_DATUMS_PER_BATCH);
        }
        // The freshness datums (LogFiles, DeliveryDelay) describe the file's delivery, not its
        // requests: at most one of each, per distribution, one file.
        for d in f.datums().filter(|d| d.metric.is_freshness()) {
            assert_eq!(d.dimensions.len(), 1, "{d:?}");
            assert_eq!(d.dimensions[0].0.name(), "DistributionId", "{d:?}");
            match &d.value {
                DatumValue::Value(v) => assert_eq!(*v, 1, "one log file: {d:?}"),
                DatumValue::Distribution { counts, .. } => {
                    assert_eq!(counts.iter().sum::<u64>(), 1, "one delay: {d:?}")
                }
            }
        }
        View::new(f.datums().filter(|d| !d.metric.is_freshness()))
    }

    /// The summed value of a metric for these dimensions at a minute (0 when no datum).
    pub fn value_at(&self, metric: &str, dims: &Dims, minute: i64) -> u64 {
        self.0
            .get(&(metric.to_owned(), dims.clone(), minute))
            .and_then(|p| p.value)
            .unwrap_or(0)
    }

    /// The sum over every minute of a metric's values for these dimensions.
    pub fn total(&self, metric: &str, dims: &Dims) -> u64 {
        self.0
            .iter()
            .filter(|((m, d, _), _)| m == metric && d == dims)
            .filter_map(|(_, p)| p.value)
            .sum()
    }

    /// The merged distribution of a metric for these dimensions at a minute.
    pub fn hist_at(&self, metric: &str, dims: &Dims, minute: i64) -> BTreeMap<u64, u64> {
        self.0
            .get(&(metric.to_owned(), dims.clone(), minute))
            .map(|p| p.hist.clone())
            .unwrap_or_default()
    }

    /// The merged distribution of a metric for these dimensions over every minute.
    pub fn hist(&self, metric: &str, dims: &Dims) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        for ((m, d, _), p) in &self.0 {
            if m == metric && d == dims {
                for (&v, &c) in &p.hist {
                    *out.entry(v).or_insert(0) += c;
                }
            }
        }
        out
    }

    /// The minutes at which a metric has a datum for these dimensions.
    pub fn minutes(&self, metric: &str, dims: &Dims) -> Vec<i64> {
        self.0
            .keys()
            .filter(|(m, d, _)| m == metric && d == dims)
            .map(|(_, _, t)| *t)
            .collect()
    }

    /// The metric names that have a datum for these dimensions.
    pub fn metrics(&self, dims: &Dims) -> BTreeSet<String> {
        self.0
            .keys()
            .filter(|(_, d, _)| d == dims)
            .map(|(m, _, _)| m.clone())
            .collect()
    }

    /// Every distinct dimension set present.
    pub fn dimension_sets(&self) -> BTreeSet<Dims> {
        self.0.keys().map(|(_, d, _)| d.clone()).collect()
    }
}

/// Builds a histogram from (value, count) pairs.
pub fn hist(pairs: &[(u64, u64)]) -> BTreeMap<u64, u64> {
    let mut h = BTreeMap::new();
    for &(v, c) in pairs {
        *h.entry(v).or_insert(0) += c;
    }
    h
}

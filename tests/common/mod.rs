//! Shared helpers of the core's integration tests (`samples`, `generated`, `properties`, `cli`).
//!
//! Everything that computes an *expected* value here is written independently of the library:
//! civil time ↔ epoch conversion, the PRNG, gzip framing and the view over datums.
#![allow(dead_code)]

use cloudfront_log_metrics::batch::MAX_DATUMS_PER_BATCH;
use cloudfront_log_metrics::config::{MetricsConfig, parse_dimension_sets};
use cloudfront_log_metrics::datum::{Datum, DatumValue, MAX_VALUES_PER_DATUM};
use cloudfront_log_metrics::pipeline::{self, ProcessedFile};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

/// The distribution ID used when a test's file name carries none.
pub const DIST: &str = "EMLARXS9EXAMPLE";

/// Path of a file under `tests/fixtures/`.
pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The bytes of `tests/fixtures/samples/<name>`.
pub fn sample(name: &str) -> Vec<u8> {
    let p = fixture_path("samples").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Epoch milliseconds of a UTC civil time, by counting days (deliberately naive, independent of
/// the library's `days_from_civil`). Years from 1970 on.
pub fn epoch_ms(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    assert!(y >= 1970 && (1..=12).contains(&mo) && (1..=31).contains(&d));
    let mut days: i64 = 0;
    for year in 1970..y {
        days += if is_leap(year) { 366 } else { 365 };
    }
    let month_days = [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    for md in &month_days[..(mo - 1) as usize] {
        days += md;
    }
    days += i64::from(d) - 1;
    ((days * 24 + i64::from(h)) * 60 + i64::from(mi)) * 60_000 + i64::from(s) * 1000
}

/// Epoch milliseconds of `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (or with a space instead of `T`, `Z`
/// optional).
pub fn at(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> u32 { s[r].parse().unwrap() };
    let base = epoch_ms(
        i64::from(n(0..4)),
        n(5..7),
        n(8..10),
        n(11..13),
        n(14..16),
        n(17..19),
    );
    let ms = if s.len() > 20 && &s[19..20] == "." {
        i64::from(n(20..23))
    } else {
        0
    };
    base + ms
}

/// Civil time of epoch milliseconds, as (y, mo, d, h, mi, s, ms); inverse of [`epoch_ms`].
pub fn civil(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    assert!(ms >= 0);
    let mut days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let mut y = 1970;
    loop {
        let len = if is_leap(y) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        y += 1;
    }
    let mut mo = 1;
    loop {
        let len = match mo {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if days < len {
            break;
        }
        days -= len;
        mo += 1;
    }
    (
        y,
        mo,
        days as u32 + 1,
        (rem / 3_600_000) as u32,
        (rem / 60_000 % 60) as u32,
        (rem / 1000 % 60) as u32,
        (rem % 1000) as u32,
    )
}

/// `YYYY-MM-DD` and `HH:MM:SS` of epoch milliseconds.
pub fn date_time(ms: i64) -> (String, String) {
    let (y, mo, d, h, mi, s, _) = civil(ms);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        format!("{h:02}:{mi:02}:{s:02}"),
    )
}

/// Start of the minute of epoch milliseconds.
pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(60_000)
}

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

/// Gzip of `data`, one member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Gzip of `data` as several members, cut at the given byte offsets (not necessarily at line
/// ends), concatenated as `cat a.gz b.gz` would.
pub fn gzip_members(data: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts.iter().chain(std::iter::once(&data.len())) {
        out.extend(gzip(&data[start..c]));
        start = c;
    }
    out
}

/// SplitMix64: a small deterministic PRNG.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
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
        View::new(f.datums())
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

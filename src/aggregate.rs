//! Stage "aggregate": per distribution, per minute of request time (UTC, truncated), per dimension
//! set, the sums and exact latency distributions of one file's records.
//!
//! Dimension values are interned per key, so the hot path neither allocates nor copies; they are
//! escaped into values CloudWatch accepts ([`crate::dimension_value`]) once each, at the end. At the
//! end of the file the cardinality guard keeps the busiest values of each key and folds the rest
//! into [`OTHER_VALUE`]; the result is sorted, so the same file and configuration always give the
//! same [`FileAggregate`], whatever the order of its records. A key that reaches 8 times the
//! guard's values (at least 1,024) within one file is folded early, to its busiest half so far,
//! which bounds memory whatever the file holds; totals stay exact, and for such a file which
//! values are kept depends on when they were busy.

use crate::catalogue::Metric;
use crate::config::{
    DIMENSION_KEY_COUNT, DimensionKey, MAX_KEYS_PER_SET, MetricsConfig, OTHER_VALUE,
};
use crate::dimension_value::dimension_value;
use crate::parse::{Field, FieldSet, Record};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// CloudWatch accepts datapoints up to two weeks old ...
pub const MAX_AGE_MS: i64 = 14 * 86_400_000;
/// ... and up to two hours in the future.
pub const MAX_FUTURE_MS: i64 = 2 * 3_600_000;
/// Margin kept inside the two-week limit, so that a datum accepted here is still accepted by the
/// time it is sent.
pub const AGE_MARGIN_MS: i64 = 10 * 60_000;

/// The window of request times that can still be published at `now_ms`.
pub fn publishable_window(now_ms: i64) -> (i64, i64) {
    (now_ms - MAX_AGE_MS + AGE_MARGIN_MS, now_ms + MAX_FUTURE_MS)
}

/// Which records of a file are aggregated. Only CloudWatch's window clips CloudWatch's data:
/// PutMetricData and EMF (CloudWatch Logs takes no event older than 14 days) drop what falls
/// outside it; a dry run keeps every record. Both count the records outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Publishing to CloudWatch at this time (epoch ms): records outside
    /// [`publishable_window`] are dropped and counted as [`FileAggregate::skipped_stale`].
    CloudWatch(i64),
    /// Nothing is published: every record is kept; those a publish at this time (epoch ms)
    /// would drop are counted as [`FileAggregate::kept_outside_window`].
    KeepAll(i64),
}

/// A time alone means publishing at it.
impl From<i64> for Window {
    fn from(now_ms: i64) -> Self {
        Window::CloudWatch(now_ms)
    }
}

/// Index of each result-type counter in [`Cell::results`], in catalogue order.
const RESULT_METRICS: [Metric; 9] = [
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
const STATUS_METRICS: [Metric; 5] = [
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
fn result_index(v: &[u8]) -> Option<usize> {
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
fn status_index(status: Option<u16>) -> Option<usize> {
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    fn add(&mut self, r: &Record<'_>) {
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

#[derive(Debug, Default)]
struct Interner {
    ids: FxHashMap<Box<[u8]>, u32>,
    values: Vec<Box<[u8]>>,
    requests: Vec<u64>,
}

impl Interner {
    #[inline]
    fn intern(&mut self, v: &[u8]) -> u32 {
        let v: &[u8] = if v.is_empty() { b"-" } else { v };
        let id = match self.ids.get(v) {
            Some(&id) => id,
            None => {
                let id = self.values.len() as u32;
                self.ids.insert(v.into(), id);
                self.values.push(v.into());
                self.requests.push(0);
                id
            }
        };
        let n = &mut self.requests[id as usize];
        *n = n.saturating_add(1);
        id
    }

    /// The ids by request count, busiest first, ties by value: the order the cardinality guard
    /// (and an early fold) keeps values in.
    fn busiest_first(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.values.len() as u32).collect();
        order.sort_by(|&a, &b| {
            self.requests[b as usize]
                .cmp(&self.requests[a as usize])
                .then_with(|| self.values[a as usize].cmp(&self.values[b as usize]))
        });
        order
    }
}

/// The id of the values already folded into [`OTHER_VALUE`] by an early fold.
const FOLDED: u32 = u32::MAX;

/// An early fold starts when a key holds this many times the guard's values ...
const EARLY_FOLD_FACTOR: usize = 8;
/// ... and at least this many, so that ordinary files are folded once, exactly, at the end.
const EARLY_FOLD_MIN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CellKey {
    minute: i64,
    set: u32,
    values: [u32; MAX_KEYS_PER_SET],
}

/// One output row: a dimension set's values for one minute, with its aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow {
    /// Index of the dimension set in the configuration.
    pub set: usize,
    /// Dimension name/value pairs, in the set's order.
    pub dimensions: Vec<(DimensionKey, String)>,
    /// Start of the minute, epoch milliseconds.
    pub minute_ms: i64,
    /// The aggregates.
    pub cell: Cell,
}

/// The whole-file view used for summaries: totals over every minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// All accepted records of the file that the [`Window`] kept.
    pub cell: Cell,
    /// Earliest and latest request minute seen, epoch milliseconds.
    pub first_minute_ms: Option<i64>,
    pub last_minute_ms: Option<i64>,
}

/// Everything one file contributes, ready to become datums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAggregate {
    /// The distribution the file belongs to.
    pub distribution_id: String,
    /// Rows sorted by (dimension set, dimension values, minute).
    pub rows: Vec<AggregateRow>,
    /// Totals over the file.
    pub totals: Totals,
    /// Records dropped outside the publishable window (older than 14 days, more than 2 h ahead).
    pub skipped_stale: u64,
    /// Records outside the publishable window that were kept ([`Window::KeepAll`]).
    pub kept_outside_window: u64,
    /// Dimension values folded into `Other` by the cardinality guard.
    pub folded_values: u64,
}

/// Aggregates the records of one file. Feed it with [`Aggregator::add`], then [`finish`].
///
/// [`finish`]: Aggregator::finish
#[derive(Debug)]
pub struct Aggregator<'c> {
    config: &'c MetricsConfig,
    distribution_id: String,
    window: (i64, i64),
    /// Whether records outside `window` are dropped ([`Window::CloudWatch`]).
    clip: bool,
    /// Keys used by any set, with the field each reads.
    used: Vec<(DimensionKey, Field)>,
    interners: Vec<Interner>,
    cells: FxHashMap<CellKey, u32>,
    rows: Vec<Cell>,
    keys: Vec<CellKey>,
    last: Vec<Option<(CellKey, u32)>>,
    /// Records outside `window`, dropped or kept.
    outside_window: u64,
    /// Distinct values of one key that start an early fold.
    fold_at: usize,
    /// Values folded by early folds.
    folded_early: u64,
}

impl<'c> Aggregator<'c> {
    /// An aggregator for one file of `distribution_id`, keeping the records `window` keeps.
    pub fn new(
        config: &'c MetricsConfig,
        distribution_id: &str,
        window: impl Into<Window>,
    ) -> Self {
        let (now_ms, clip) = match window.into() {
            Window::CloudWatch(now_ms) => (now_ms, true),
            Window::KeepAll(now_ms) => (now_ms, false),
        };
        let mut used = Vec::new();
        for set in &config.dimension_sets {
            for &k in set {
                if let Some(f) = k.source()
                    && !used.iter().any(|(u, _)| *u == k)
                {
                    used.push((k, f));
                }
            }
        }
        Aggregator {
            config,
            distribution_id: distribution_id.to_owned(),
            window: publishable_window(now_ms),
            clip,
            used,
            interners: (0..DIMENSION_KEY_COUNT)
                .map(|_| Interner::default())
                .collect(),
            cells: FxHashMap::default(),
            rows: Vec::new(),
            keys: Vec::new(),
            last: vec![None; config.dimension_sets.len()],
            outside_window: 0,
            fold_at: config
                .max_dimension_values
                .max(1)
                .saturating_mul(EARLY_FOLD_FACTOR)
                .max(EARLY_FOLD_MIN),
            folded_early: 0,
        }
    }

    /// Sets the number of distinct values of one key that starts an early fold (tests).
    pub fn with_fold_at(mut self, values: usize) -> Self {
        self.fold_at = values.max(2);
        self
    }

    /// Bounds memory whatever the file holds: once a key has `fold_at` distinct values (a scan of
    /// random URLs, say), its busiest half is kept and the rest is folded into [`OTHER_VALUE`]
    /// now rather than at the end, merging their cells. Totals stay exact; which values are kept
    /// is then decided by the requests seen so far, not the whole file's.
    fn fold_early(&mut self, key: DimensionKey) {
        let interner = &mut self.interners[key.index()];
        let keep = self.fold_at / 2;
        let order = interner.busiest_first();
        let mut remap = vec![FOLDED; interner.values.len()];
        let mut kept = Interner::default();
        for &old in &order[..keep.min(order.len())] {
            let new = kept.values.len() as u32;
            remap[old as usize] = new;
            let v = std::mem::take(&mut interner.values[old as usize]);
            kept.ids.insert(v.clone(), new);
            kept.values.push(v);
            kept.requests.push(interner.requests[old as usize]);
        }
        self.folded_early += (order.len() - kept.values.len()) as u64;
        *interner = kept;
        // Re-key every cell whose set holds `key`, merging the cells that now coincide.
        let sets = &self.config.dimension_sets;
        let mut cells: FxHashMap<CellKey, u32> = FxHashMap::default();
        let mut keys = Vec::with_capacity(self.keys.len());
        let mut rows: Vec<Cell> = Vec::with_capacity(self.rows.len());
        for (mut k, cell) in self.keys.drain(..).zip(self.rows.drain(..)) {
            for (j, dk) in sets[k.set as usize].iter().enumerate() {
                if *dk == key && k.values[j] != FOLDED {
                    k.values[j] = remap[k.values[j] as usize];
                }
            }
            match cells.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    rows[*e.get() as usize].merge(&cell)
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(rows.len() as u32);
                    keys.push(k);
                    rows.push(cell);
                }
            }
        }
        self.cells = cells;
        self.keys = keys;
        self.rows = rows;
        self.last.iter_mut().for_each(|l| *l = None);
    }

    /// The fields [`Aggregator::add`] reads from records beyond [`FieldSet::CORE`]: those of the
    /// configured dimensions.
    pub fn fields(&self) -> FieldSet {
        self.used
            .iter()
            .fold(FieldSet::CORE, |set, &(_, f)| set.with(f))
    }

    /// Adds one record.
    #[inline]
    pub fn add(&mut self, r: &Record<'_>) {
        if r.timestamp_ms < self.window.0 || r.timestamp_ms > self.window.1 {
            self.outside_window += 1;
            if self.clip {
                return;
            }
        }
        let minute = r.timestamp_ms.div_euclid(60_000);
        let mut ids = [0u32; DIMENSION_KEY_COUNT];
        for i in 0..self.used.len() {
            let (k, f) = self.used[i];
            if self.interners[k.index()].values.len() >= self.fold_at {
                self.fold_early(k);
            }
            ids[k.index()] = self.interners[k.index()].intern(r.field(f));
        }
        for (si, set) in self.config.dimension_sets.iter().enumerate() {
            let mut key = CellKey {
                minute,
                set: si as u32,
                values: [0; MAX_KEYS_PER_SET],
            };
            for (j, k) in set.iter().enumerate() {
                key.values[j] = ids[k.index()];
            }
            let idx = match self.last[si] {
                Some((k, i)) if k == key => i,
                _ => {
                    let next = self.rows.len() as u32;
                    let i = *self.cells.entry(key).or_insert(next);
                    if i == next {
                        self.rows.push(Cell::default());
                        self.keys.push(key);
                    }
                    self.last[si] = Some((key, i));
                    i
                }
            };
            self.rows[idx as usize].add(r);
        }
    }

    /// Applies the cardinality guard and returns the sorted rows.
    pub fn finish(self) -> FileAggregate {
        let max = self.config.max_dimension_values.max(1);
        let mut folded_values = self.folded_early;
        // For each key, the printable value of every id after folding.
        let mut names: Vec<Vec<String>> = Vec::with_capacity(DIMENSION_KEY_COUNT);
        for interner in &self.interners {
            let n = interner.values.len();
            let mut keep = vec![true; n];
            if n > max {
                let order = interner.busiest_first();
                for &id in &order[max - 1..] {
                    keep[id as usize] = false;
                }
                folded_values += (n - (max - 1)) as u64;
            }
            // Escaped for CloudWatch once per distinct value, not per record.
            names.push(
                interner
                    .values
                    .iter()
                    .zip(keep)
                    .map(|(v, k)| {
                        if k {
                            dimension_value(v)
                        } else {
                            OTHER_VALUE.to_owned()
                        }
                    })
                    .collect(),
            );
        }
        // Every dimension set partitions all records, so the rows of the first set add up to
        // the file's totals.
        let mut totals = Totals::default();
        for (key, cell) in self.keys.iter().zip(&self.rows) {
            if key.set == 0 {
                totals.cell.merge(cell);
                let m = key.minute * 60_000;
                totals.first_minute_ms = Some(totals.first_minute_ms.map_or(m, |f| f.min(m)));
                totals.last_minute_ms = Some(totals.last_minute_ms.map_or(m, |l| l.max(m)));
            }
        }
        let mut merged: BTreeMap<(usize, Vec<String>, i64), Cell> = BTreeMap::new();
        for (key, cell) in self.keys.iter().zip(self.rows) {
            let set = &self.config.dimension_sets[key.set as usize];
            let values: Vec<String> = set
                .iter()
                .enumerate()
                .map(|(j, k)| match k {
                    DimensionKey::DistributionId => self.distribution_id.clone(),
                    _ => names[k.index()]
                        .get(key.values[j] as usize)
                        .cloned()
                        .unwrap_or_else(|| OTHER_VALUE.to_owned()),
                })
                .collect();
            match merged.entry((key.set as usize, values, key.minute * 60_000)) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(cell);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().merge(&cell),
            }
        }
        let rows = merged
            .into_iter()
            .map(|((set, values, minute_ms), cell)| AggregateRow {
                set,
                dimensions: self.config.dimension_sets[set]
                    .iter()
                    .copied()
                    .zip(values)
                    .collect(),
                minute_ms,
                cell,
            })
            .collect();
        FileAggregate {
            distribution_id: self.distribution_id,
            rows,
            totals,
            skipped_stale: if self.clip { self.outside_window } else { 0 },
            kept_outside_window: if self.clip { 0 } else { self.outside_window },
            folded_values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_dimension_sets;
    use crate::parse::LogParser;

    const NOW: i64 = 1_700_000_000_000; // 2023-11-14T22:13:20Z

    fn aggregate(config: &MetricsConfig, input: &str) -> FileAggregate {
        let mut agg = Aggregator::new(config, "E2Q4ABCDEFGH", NOW);
        let mut p = LogParser::new();
        p.process(input.as_bytes(), true, |r| agg.add(r)).unwrap();
        agg.finish()
    }

    fn log(lines: &[&str]) -> String {
        let mut s = String::from(
            "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type time-taken cs-bytes\n",
        );
        for l in lines {
            s.push_str(&l.replace(' ', "\t"));
            s.push('\n');
        }
        s
    }

    #[test]
    fn per_minute_sums_and_classes() {
        let input = log(&[
            "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
            "2023-11-14 22:00:59 IAD1 50 404 Miss 0.020 5",
            "2023-11-14 22:01:00 FRA2 7 000 Error 0.010 -",
            "2023-11-14 22:01:30 FRA2 - 503 Weird - 1",
        ]);
        let a = aggregate(&MetricsConfig::default(), &input);
        assert_eq!(a.rows.len(), 2);
        let c0 = &a.rows[0].cell;
        assert_eq!(a.rows[0].minute_ms, 1_699_999_200_000);
        assert_eq!(
            a.rows[0].dimensions,
            vec![(DimensionKey::DistributionId, "E2Q4ABCDEFGH".to_owned())]
        );
        assert_eq!(
            (c0.requests, c0.bytes_downloaded, c0.bytes_uploaded),
            (2, 150, 10)
        );
        assert_eq!(c0.sum(Metric::Hit), 1);
        assert_eq!(c0.sum(Metric::Status4xx), 1);
        assert_eq!(c0.latency[0].sorted(), vec![(10, 1), (20, 1)]);
        let c1 = &a.rows[1].cell;
        assert_eq!(c1.sum(Metric::Status000), 1);
        assert_eq!(c1.sum(Metric::Status5xx), 1);
        assert_eq!(c1.sum(Metric::OtherResult), 1);
        assert_eq!(c1.sum(Metric::Error), 1);
        assert_eq!(c1.latency[0].count(), 1);
        assert_eq!(a.totals.cell.requests, 4);
    }

    #[test]
    fn stale_records_are_skipped_and_counted() {
        let input = log(&[
            "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
            "2023-10-01 22:00:01 IAD1 100 200 Hit 0.010 5",
            "2023-11-15 02:00:01 IAD1 100 200 Hit 0.010 5",
        ]);
        let a = aggregate(&MetricsConfig::default(), &input);
        assert_eq!(a.skipped_stale, 2);
        assert_eq!(a.kept_outside_window, 0);
        assert_eq!(a.totals.cell.requests, 1);
    }

    #[test]
    fn a_dry_run_keeps_records_outside_the_window_and_counts_them() {
        let input = log(&[
            "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
            "2023-10-01 22:00:01 IAD1 100 200 Hit 0.010 5",
            "2023-11-15 02:00:01 IAD1 100 200 Hit 0.010 5",
        ]);
        let config = MetricsConfig::default();
        let mut agg = Aggregator::new(&config, "E2Q4ABCDEFGH", Window::KeepAll(NOW));
        let mut p = LogParser::new();
        p.process(input.as_bytes(), true, |r| agg.add(r)).unwrap();
        let a = agg.finish();
        assert_eq!((a.skipped_stale, a.kept_outside_window), (0, 2));
        assert_eq!(a.totals.cell.requests, 3);
        assert_eq!(a.rows.len(), 3, "one row per minute, the old one included");
    }

    #[test]
    fn dimension_sets_roll_up_separately() {
        let config = MetricsConfig {
            dimension_sets: parse_dimension_sets("x", "DistributionId;DistributionId,EdgeLocation")
                .unwrap(),
            ..MetricsConfig::default()
        };
        let input = log(&[
            "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
            "2023-11-14 22:00:02 FRA2 100 200 Hit 0.010 5",
            "2023-11-14 22:00:03 FRA2 100 200 Hit 0.010 5",
        ]);
        let a = aggregate(&config, &input);
        assert_eq!(a.rows.len(), 3);
        assert_eq!(a.rows[0].cell.requests, 3);
        assert_eq!(a.rows[1].dimensions[1].1, "FRA2");
        assert_eq!(a.rows[1].cell.requests, 2);
        assert_eq!(a.rows[2].dimensions[1].1, "IAD1");
    }

    #[test]
    fn cardinality_guard_folds_the_quiet_values() {
        let config = MetricsConfig {
            dimension_sets: parse_dimension_sets("x", "DistributionId,EdgeLocation").unwrap(),
            max_dimension_values: 3,
            ..MetricsConfig::default()
        };
        let mut lines = Vec::new();
        for (pop, n) in [
            ("AAA1", 5),
            ("BBB1", 4),
            ("CCC1", 3),
            ("DDD1", 2),
            ("EEE1", 1),
        ] {
            for _ in 0..n {
                lines.push(format!("2023-11-14 22:00:01 {pop} 1 200 Hit 0.010 5"));
            }
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let a = aggregate(&config, &log(&refs));
        let got: Vec<(String, u64)> = a
            .rows
            .iter()
            .map(|r| (r.dimensions[1].1.clone(), r.cell.requests))
            .collect();
        assert_eq!(
            got,
            vec![
                ("AAA1".to_owned(), 5),
                ("BBB1".to_owned(), 4),
                ("Other".to_owned(), 6)
            ]
        );
        assert_eq!(a.folded_values, 3);
    }

    #[test]
    fn early_folds_bound_memory_and_keep_totals_exact() {
        let config = MetricsConfig {
            dimension_sets: parse_dimension_sets("x", "DistributionId;DistributionId,EdgeLocation")
                .unwrap(),
            max_dimension_values: 3,
            ..MetricsConfig::default()
        };
        // Two busy edges throughout, and 2,000 edges seen once each, over three minutes.
        let mut text = log(&[]);
        for i in 0..2_000 {
            let minute = i % 3;
            for pop in ["BUSY1", "BUSY2"] {
                text.push_str(&format!(
                    "2023-11-14\t22:0{minute}:01\t{pop}\t1\t200\tHit\t0.010\t5\n"
                ));
            }
            text.push_str(&format!(
                "2023-11-14\t22:0{minute}:02\tONCE{i}\t1\t200\tHit\t0.010\t5\n"
            ));
        }
        let mut agg = Aggregator::new(&config, "E2Q4ABCDEFGH", NOW).with_fold_at(64);
        let mut p = LogParser::new();
        let mut most_cells = 0;
        p.process(text.as_bytes(), true, |r| {
            agg.add(r);
            most_cells = most_cells.max(agg.rows.len());
        })
        .unwrap();
        let edge_values = agg.interners[DimensionKey::EdgeLocation.index()]
            .values
            .len();
        assert!(edge_values <= 64, "{edge_values} values held");
        // 3 minutes x (1 + at most 64 values + Other) cells.
        assert!(most_cells <= 3 * 66, "{most_cells} cells held");
        let a = agg.finish();
        let per_edge: BTreeMap<String, u64> =
            a.rows
                .iter()
                .filter(|r| r.set == 1)
                .fold(BTreeMap::new(), |mut m, r| {
                    *m.entry(r.dimensions[1].1.clone()).or_default() += r.cell.requests;
                    m
                });
        assert_eq!(per_edge.values().sum::<u64>(), 6_000, "{per_edge:?}");
        assert_eq!(a.totals.cell.requests, 6_000);
        assert_eq!(per_edge.len(), 3, "{per_edge:?}");
        assert_eq!(per_edge["BUSY1"], 2_000);
        assert_eq!(per_edge["BUSY2"], 2_000);
        assert_eq!(per_edge["Other"], 2_000);
    }

    #[test]
    fn empty_dimension_values_become_dash() {
        let config = MetricsConfig {
            dimension_sets: parse_dimension_sets("x", "DistributionId,Country").unwrap(),
            ..MetricsConfig::default()
        };
        let a = aggregate(
            &config,
            &log(&["2023-11-14 22:00:01 IAD1 1 200 Hit 0.010 5"]),
        );
        assert_eq!(a.rows[0].dimensions[1].1, "-");
    }

    #[test]
    fn dimension_values_are_escaped_for_cloudwatch() {
        let config = MetricsConfig {
            dimension_sets: parse_dimension_sets("x", "DistributionId,Host").unwrap(),
            ..MetricsConfig::default()
        };
        let mut input = b"#Fields: date time x-host-header\n".to_vec();
        // A first kilobyte of text, so that the control byte below passes the text check.
        while input.len() < 1100 {
            input.extend_from_slice(b"2023-11-14\t22:00:01\tpad\n");
        }
        for host in [
            &b"caf\xc3\xa9.example"[..],
            b"  ",
            b"a\x01b",
            b"\xff",
            b"50%",
        ] {
            input.extend_from_slice(b"2023-11-14\t22:00:01\t");
            input.extend_from_slice(host);
            input.push(b'\n');
        }
        let mut agg = Aggregator::new(&config, "E2Q4ABCDEFGH", NOW);
        LogParser::new()
            .process(&input, true, |r| agg.add(r))
            .unwrap();
        let got: Vec<String> = agg
            .finish()
            .rows
            .iter()
            .map(|r| r.dimensions[1].1.clone())
            .filter(|v| v != "pad")
            .collect();
        assert_eq!(
            got,
            ["%20%20", "%FF", "50%25", "a%01b", "caf%C3%A9.example"]
        );
    }

    #[test]
    fn sums_saturate_rather_than_wrap() {
        let mut a = Cell {
            requests: u64::MAX - 1,
            bytes_downloaded: u64::MAX - 5,
            bytes_uploaded: 7,
            results: [u64::MAX; 9],
            statuses: [u64::MAX - 1; 5],
            ..Cell::default()
        };
        a.latency[0].add(5, u64::MAX - 1);
        let mut b = Cell {
            requests: 3,
            bytes_downloaded: 10,
            bytes_uploaded: 1,
            results: [1; 9],
            statuses: [2; 5],
            ..Cell::default()
        };
        b.latency[0].add(5, 3);
        b.latency[0].add(6, u64::MAX);
        a.merge(&b);
        assert_eq!(a.requests, u64::MAX);
        assert_eq!(a.bytes_downloaded, u64::MAX);
        assert_eq!(a.bytes_uploaded, 8);
        assert_eq!(a.results, [u64::MAX; 9]);
        assert_eq!(a.statuses, [u64::MAX; 5]);
        assert_eq!(a.latency[0].sorted(), vec![(5, u64::MAX), (6, u64::MAX)]);
        assert_eq!(a.latency[0].count(), u64::MAX);
        assert_eq!(a.latency[0].percentile(50.0), Some(5));
    }

    #[test]
    fn percentiles_nearest_rank() {
        let mut h = Histogram::default();
        for v in 1..=100 {
            h.add(v, 1);
        }
        assert_eq!(h.percentile(50.0), Some(50));
        assert_eq!(h.percentile(99.0), Some(99));
        assert_eq!(h.percentile(100.0), Some(100));
        assert_eq!(Histogram::default().percentile(50.0), None);
    }
}

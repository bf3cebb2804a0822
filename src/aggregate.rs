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

use crate::config::{
    DIMENSION_KEY_COUNT, DimensionKey, MAX_KEYS_PER_SET, MetricsConfig, OTHER_VALUE,
};
use crate::dimension_value::dimension_value;
use crate::parse::{Field, FieldSet, Record};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

mod cell;
pub use cell::{Cell, Histogram, LATENCY_METRICS};

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// When a file was published and how new its newest record was: the freshness metrics
/// (`LogFiles`, `DeliveryDelay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// The time the file is published at: the window's time (a resumed file's first attempt's).
    pub published_ms: i64,
    /// The newest record kept, if any.
    pub newest_ms: Option<i64>,
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
    /// For the freshness datums of a log file (`None` for real-time records, whose minutes get
    /// theirs when they close).
    pub freshness: Option<Freshness>,
    /// Real-time records whose distribution could not be resolved: counted, not published.
    pub unresolved: u64,
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
    /// Whether each record's distribution is resolved on its own (real-time records).
    per_record: bool,
    /// Records whose distribution could not be resolved.
    unresolved: u64,
    /// The window's time: the file's publication time.
    now_ms: i64,
    /// The newest record kept.
    newest_ms: Option<i64>,
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
            per_record: config.realtime.is_some(),
            unresolved: 0,
            now_ms,
            newest_ms: None,
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
        let base = if self.per_record {
            FieldSet::CORE
                .with(Field::CsHost)
                .with(Field::PrimaryDistributionId)
        } else {
            FieldSet::CORE
        };
        self.used.iter().fold(base, |set, &(_, f)| set.with(f))
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
        if Some(r.timestamp_ms) > self.newest_ms {
            self.newest_ms = Some(r.timestamp_ms);
        }
        let mut ids = [0u32; DIMENSION_KEY_COUNT];
        if self.per_record {
            let hosts = &self.config.distribution_hosts;
            let Some(id) = crate::distribution::resolve(r, hosts, &self.distribution_id) else {
                self.unresolved += 1;
                return;
            };
            let k = DimensionKey::DistributionId.index();
            ids[k] = self.interners[k].intern(id);
        }
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
                    DimensionKey::DistributionId if !self.per_record => {
                        self.distribution_id.clone()
                    }
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
            unresolved: self.unresolved,
            freshness: (!self.per_record).then_some(Freshness {
                published_ms: self.now_ms,
                newest_ms: self.newest_ms,
            }),
        }
    }
}

#[cfg(test)]
mod tests;

//! The state one Kinesis shard carries between invocations, a transactional outbox: the sequence
//! number up to which records are aggregated (the checkpoint), the aggregate rows of minutes not
//! yet published (pending), and the rows being published (the outbox) with the batches of it
//! already settled. Pure data and functions; the Kinesis adapter keeps it in one marker object
//! per shard, written with conditional PUTs, and the README ("Real-time logs") says why this
//! makes every record count exactly once across retries, bisection, resharding and crashes.

use crate::aggregate::{AggregateRow, FileAggregate, Totals};
use crate::batch::{Batch, batches};
use crate::config::{DimensionKey, MetricsConfig};
use crate::datum::datums;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Version of the serialised state.
pub const STATE_VERSION: u32 = 1;

/// A shard's carried state. See the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardState {
    pub version: u32,
    /// Sequence number of the last record aggregated; records at or before it are duplicates.
    pub checkpoint: Option<String>,
    /// Rows of minutes not yet closed, merged across invocations.
    pub pending: Vec<AggregateRow>,
    /// Rows of closed minutes being published: their batches are a function of these rows.
    pub outbox: Vec<AggregateRow>,
    /// Indices of the outbox's batches that are settled (sent, or refused for good).
    pub settled: Vec<usize>,
    /// Records aggregated over the shard's life, and those of no known distribution.
    pub records: u64,
    pub unresolved: u64,
}

/// Whether Kinesis sequence number `a` comes after `b` (decimal strings of up to 128 digits,
/// compared as numbers).
pub fn sequence_after(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    match a.len().cmp(&b.len()) {
        Ordering::Equal => a > b,
        o => o == Ordering::Greater,
    }
}

/// Merges `rows` into `into`, adding the cells of rows with the same set, dimensions and minute;
/// the result is sorted, so the batches made of it are the same whatever order rows came in.
fn merge_rows(into: &mut Vec<AggregateRow>, rows: Vec<AggregateRow>) {
    type RowKey = (usize, Vec<(DimensionKey, String)>, i64);
    let mut merged: BTreeMap<RowKey, AggregateRow> = BTreeMap::new();
    for row in std::mem::take(into).into_iter().chain(rows) {
        match merged.entry((row.set, row.dimensions.clone(), row.minute_ms)) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(row);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                e.get_mut().cell.merge(&row.cell)
            }
        }
    }
    *into = merged.into_values().collect();
}

impl ShardState {
    /// Whether the record with sequence number `seq` is new: after the checkpoint.
    pub fn is_new(&self, seq: &str) -> bool {
        self.checkpoint
            .as_deref()
            .is_none_or(|c| sequence_after(seq, c))
    }

    /// Adds the aggregates of records up to `checkpoint` (the last one's sequence number).
    pub fn absorb(&mut self, aggregate: FileAggregate, records: u64, checkpoint: String) {
        self.version = STATE_VERSION;
        self.records += records;
        self.unresolved += aggregate.unresolved;
        merge_rows(&mut self.pending, aggregate.rows);
        if self.is_new(&checkpoint) {
            self.checkpoint = Some(checkpoint);
        }
    }

    /// Moves the pending rows of minutes that ended at least `delay_ms` before `now_ms` into the
    /// outbox, unless an outbox is still being published (its batches must not change). Returns
    /// how many rows moved.
    pub fn close(&mut self, now_ms: i64, delay_ms: i64) -> usize {
        if !self.outbox.is_empty() {
            return 0;
        }
        let (closed, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|r| r.minute_ms + 60_000 + delay_ms <= now_ms);
        self.pending = open;
        let n = closed.len();
        merge_rows(&mut self.outbox, closed);
        self.settled.clear();
        n
    }

    /// The outbox's batches, in order (deterministic: a resumed publish sends the same batches).
    pub fn outbox_batches(&self, config: &MetricsConfig) -> Vec<Batch> {
        let aggregate = FileAggregate {
            distribution_id: String::new(),
            rows: self.outbox.clone(),
            totals: Totals::default(),
            skipped_stale: 0,
            kept_outside_window: 0,
            folded_values: 0,
            unresolved: 0,
        };
        batches(datums(&aggregate, config))
    }

    /// The outbox's batches not settled yet.
    pub fn unsettled(&self, config: &MetricsConfig) -> Vec<Batch> {
        self.outbox_batches(config)
            .into_iter()
            .filter(|b| !self.settled.contains(&b.index))
            .collect()
    }

    /// Records batch `index` of the outbox as settled; once all `total` are, the outbox is done.
    pub fn settle(&mut self, index: usize, total: usize) {
        if !self.settled.contains(&index) {
            self.settled.push(index);
        }
        if self.settled.len() >= total {
            self.outbox.clear();
            self.settled.clear();
        }
    }

    /// Minutes (epoch ms) with pending rows, ascending.
    pub fn pending_minutes(&self) -> Vec<i64> {
        let mut m: Vec<i64> = self.pending.iter().map(|r| r.minute_ms).collect();
        m.sort_unstable();
        m.dedup();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::parse::{LogParser, RealtimeFields};

    const MIN: i64 = 1_700_000_040_000; // a minute's start

    fn config() -> MetricsConfig {
        MetricsConfig {
            realtime: Some(RealtimeFields::parse("timestamp,sc-status,sc-bytes").unwrap()),
            distribution_id: Some("E2Q4ABCDEFGH".into()),
            ..MetricsConfig::default()
        }
    }

    fn aggregate(config: &MetricsConfig, lines: &[(i64, u64)]) -> FileAggregate {
        let fields = config.realtime.as_ref().unwrap();
        let mut agg = Aggregator::new(config, "E2Q4ABCDEFGH", MIN + 600_000);
        let mut p = LogParser::realtime(fields, agg.fields());
        let text: String = lines
            .iter()
            .map(|(ms, b)| format!("{}.{:03}\t200\t{b}\n", ms / 1000, ms % 1000))
            .collect();
        p.process(text.as_bytes(), true, |r| agg.add(r)).unwrap();
        agg.finish()
    }

    fn bytes(state: &ShardState, rows: &[AggregateRow]) -> u64 {
        let _ = state;
        rows.iter().map(|r| r.cell.bytes_downloaded).sum()
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(sequence_after("10", "9"));
        assert!(!sequence_after("9", "10"));
        assert!(!sequence_after("42", "42"));
        assert!(sequence_after(
            "49590338271490256608559692540925702759324208523137515618",
            "49590338271490256608559692538361571095921575989136588898"
        ));
    }

    #[test]
    fn batches_merge_per_minute_and_close_after_the_delay() {
        let c = config();
        let mut s = ShardState::default();
        s.absorb(
            aggregate(&c, &[(MIN + 1_000, 10), (MIN + 61_000, 5)]),
            2,
            "1".into(),
        );
        s.absorb(aggregate(&c, &[(MIN + 2_000, 7)]), 1, "2".into());
        assert_eq!(s.pending_minutes(), [MIN, MIN + 60_000]);
        assert_eq!(s.pending.len(), 2, "one row per minute: {:?}", s.pending);
        // The first minute closes 20 s after its end, not before.
        assert_eq!(s.close(MIN + 79_999, 20_000), 0);
        assert_eq!(s.close(MIN + 80_000, 20_000), 1);
        assert_eq!(bytes(&s, &s.outbox), 17);
        assert_eq!(bytes(&s, &s.pending), 5);
        // While the outbox is published, nothing more closes into it.
        assert_eq!(s.close(MIN + 600_000, 20_000), 0);
        let total = s.outbox_batches(&c).len();
        assert_eq!(total, 1);
        s.settle(0, total);
        assert!(s.outbox.is_empty() && s.settled.is_empty());
        assert_eq!(s.close(MIN + 600_000, 20_000), 1);
        assert_eq!(s.records, 3);
    }

    #[test]
    fn records_at_or_before_the_checkpoint_are_not_new() {
        let c = config();
        let mut s = ShardState::default();
        assert!(s.is_new("5"));
        s.absorb(aggregate(&c, &[(MIN, 1)]), 1, "5".into());
        assert!(!s.is_new("5") && !s.is_new("4") && s.is_new("6"));
        // A late, older checkpoint never moves it back.
        s.absorb(aggregate(&c, &[]), 0, "3".into());
        assert_eq!(s.checkpoint.as_deref(), Some("5"));
    }

    #[test]
    fn the_state_survives_serialisation_and_keeps_its_batches() {
        let c = config();
        let mut s = ShardState::default();
        let lines: Vec<(i64, u64)> = (0..500).map(|i| (MIN + i * 100, i as u64)).collect();
        s.absorb(aggregate(&c, &lines), 500, "77".into());
        s.close(MIN + 200_000, 20_000);
        let json = serde_json::to_vec(&s).unwrap();
        let back: ShardState = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.outbox_batches(&c), s.outbox_batches(&c));
    }
}

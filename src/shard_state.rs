//! The state one Kinesis shard carries between invocations, its ledger: the sequence number up
//! to which records are aggregated (the checkpoint), the aggregate rows of minutes not yet
//! closed (pending), the batches cut from closed minutes and not yet settled (the outbox), and
//! the lease of whoever is publishing that outbox. Pure data and functions; the Kinesis adapter
//! keeps it in one object per shard, written with conditional PUTs, and the README ("Real-time
//! logs") says why this makes every record count exactly once across retries, bisection,
//! resharding, concurrent flushes and crashes.
//!
//! The outbox holds the batches themselves, cut once with the settings of that moment (their
//! fingerprint is kept beside each): a redeploy with other settings while an outbox is half
//! published changes nothing of what is still to be sent. A closed minute that makes no datums
//! (a metric selection it has nothing for) cuts no batch, so there is nothing to wait for.

use crate::aggregate::{AggregateRow, FileAggregate, Totals};
use crate::batch::{Batch, batches};
use crate::config::{DimensionKey, MetricsConfig};
use crate::datum::{datums, delay_s, freshness_datums};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Version of the serialised state this code writes. Version 1 (an outbox of rows, recut on
/// every read) is still read; anything newer is refused.
pub const STATE_VERSION: u32 = 2;

/// A state this code cannot use. The object is left as it is, and the shard fails loudly until
/// someone looks: starting afresh would silently lose its pending minutes.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("shard state unreadable ({0}); left as it is: restore or delete it")]
    Unreadable(String),
    #[error(
        "shard state of version {0}; this function reads versions 1 to {STATE_VERSION} (written by a newer one?); left as it is"
    )]
    UnknownVersion(u32),
}

/// Who publishes the outbox, until when (wall clock, ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    pub until_ms: i64,
}

/// One batch of the outbox, with the namespace and the fingerprint of the settings it was cut
/// with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxBatch {
    pub namespace: String,
    pub fingerprint: String,
    pub batch: Batch,
}

/// A shard's carried state. See the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardState {
    pub version: u32,
    /// Sequence number of the last record aggregated; records at or before it are duplicates.
    pub checkpoint: Option<String>,
    /// Rows of minutes not yet closed, merged across invocations.
    pub pending: Vec<AggregateRow>,
    /// Batches of closed minutes not yet settled (sent, or refused for good), in order.
    pub outbox: Vec<OutboxBatch>,
    /// Number the next batch cut gets: batch numbers are never reused within a shard.
    #[serde(default)]
    pub next_batch: usize,
    /// The publisher of the outbox, while it publishes.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Records aggregated over the shard's life, and those of no known distribution.
    pub records: u64,
    pub unresolved: u64,
}

/// Version 1: the outbox as rows, cut into batches at every read, with the settled numbers.
#[derive(Deserialize)]
struct StateV1 {
    checkpoint: Option<String>,
    pending: Vec<AggregateRow>,
    outbox: Vec<AggregateRow>,
    settled: Vec<usize>,
    records: u64,
    unresolved: u64,
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

/// The batches of `rows` under `config`, numbered from 0. When they close at `closed_ms`, each
/// distribution's minutes add their freshness datums: one `LogFiles` per minute, and its
/// `DeliveryDelay` from the minute's end to `closed_ms`.
fn cut(rows: Vec<AggregateRow>, config: &MetricsConfig, closed_ms: Option<i64>) -> Vec<Batch> {
    let mut minutes: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for r in &rows {
        if let Some((_, d)) = r
            .dimensions
            .iter()
            .find(|(k, _)| *k == DimensionKey::DistributionId)
        {
            minutes.entry(d.clone()).or_default().insert(r.minute_ms);
        }
    }
    let aggregate = FileAggregate {
        distribution_id: String::new(),
        rows,
        totals: Totals::default(),
        skipped_stale: 0,
        kept_outside_window: 0,
        folded_values: 0,
        unresolved: 0,
        freshness: None,
    };
    let mut all = datums(&aggregate, config);
    if let Some(now) = closed_ms {
        for (dist, minutes) in minutes {
            let delays: Vec<u64> = minutes.iter().map(|m| delay_s(now, m + 60_000)).collect();
            all.extend(freshness_datums(
                config,
                &dist,
                now,
                delays.len() as u64,
                &delays,
            ));
        }
    }
    batches(all)
}

impl ShardState {
    /// Reads a stored state; a version-1 state's outbox is cut with `config`, as version 1 did.
    pub fn from_json(bytes: &[u8], config: &MetricsConfig) -> Result<ShardState, StateError> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            version: u32,
        }
        let unreadable = |e: serde_json::Error| StateError::Unreadable(e.to_string());
        let v: Version = serde_json::from_slice(bytes).map_err(unreadable)?;
        match v.version {
            STATE_VERSION => serde_json::from_slice(bytes).map_err(unreadable),
            0 | 1 => {
                let old: StateV1 = serde_json::from_slice(bytes).map_err(unreadable)?;
                let mut s = ShardState {
                    version: STATE_VERSION,
                    checkpoint: old.checkpoint,
                    pending: old.pending,
                    records: old.records,
                    unresolved: old.unresolved,
                    ..ShardState::default()
                };
                let fingerprint = config.fingerprint();
                for b in cut(old.outbox, config, None) {
                    if !old.settled.contains(&b.index) {
                        s.outbox.push(OutboxBatch {
                            namespace: config.namespace.clone(),
                            fingerprint: fingerprint.clone(),
                            batch: b,
                        });
                    }
                }
                s.next_batch = s
                    .outbox
                    .iter()
                    .map(|b| b.batch.index + 1)
                    .max()
                    .unwrap_or(0);
                Ok(s)
            }
            n => Err(StateError::UnknownVersion(n)),
        }
    }

    /// The document as stored.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

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

    /// Cuts the pending rows of minutes that ended at least `delay_ms` before `now_ms` into
    /// batches at the end of the outbox (an outbox being published is never changed, only added
    /// to). Returns how many rows closed; rows that make no datums close into no batch.
    pub fn close(&mut self, config: &MetricsConfig, now_ms: i64, delay_ms: i64) -> usize {
        self.version = STATE_VERSION;
        let (closed, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|r| r.minute_ms + 60_000 + delay_ms <= now_ms);
        self.pending = open;
        let n = closed.len();
        let mut rows = Vec::new();
        merge_rows(&mut rows, closed);
        let fingerprint = config.fingerprint();
        for mut batch in cut(rows, config, Some(now_ms)) {
            batch.index = self.next_batch;
            self.next_batch += 1;
            self.outbox.push(OutboxBatch {
                namespace: config.namespace.clone(),
                fingerprint: fingerprint.clone(),
                batch,
            });
        }
        n
    }

    /// Records batch `index` as settled (sent, or refused for good): it leaves the outbox.
    /// Returns whether it was there.
    pub fn settle(&mut self, index: usize) -> bool {
        let before = self.outbox.len();
        self.outbox.retain(|b| b.batch.index != index);
        self.outbox.len() != before
    }

    /// The owner of a lease that is still running at `now_ms` (with `margin_ms` for clock skew),
    /// unless it is `me`.
    pub fn leased_to_other(&self, me: &str, now_ms: i64, margin_ms: i64) -> Option<&Lease> {
        self.lease
            .as_ref()
            .filter(|l| l.owner != me && l.until_ms.saturating_add(margin_ms) >= now_ms)
    }

    /// Takes (or renews) the lease for `me` until `until_ms`, unless another holds it; returns
    /// whether `me` holds it now.
    pub fn take_lease(&mut self, me: &str, now_ms: i64, margin_ms: i64, until_ms: i64) -> bool {
        if self.leased_to_other(me, now_ms, margin_ms).is_some() {
            return false;
        }
        self.lease = Some(Lease {
            owner: me.to_owned(),
            until_ms,
        });
        true
    }

    /// Gives the lease up if `me` holds it.
    pub fn release(&mut self, me: &str) {
        if self.lease.as_ref().is_some_and(|l| l.owner == me) {
            self.lease = None;
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
mod tests;

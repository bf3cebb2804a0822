//! The Kinesis Data Streams entry point: real-time log records, one batch per shard, through the
//! core (parse with the configured field selection, aggregate per minute of event time) into
//! the shard's carried state ([`ShardState`], one marker object per shard), and the minutes that
//! have ended out to the metric sink. Answers with `batchItemFailures`.
//!
//! Exactly once: a record counts when the conditional write that advances the shard's
//! checkpoint past it and adds its aggregates to the state succeeds; records at or before the
//! checkpoint are skipped, so a retried, bisected or re-batched delivery cannot count them twice.
//! Closed minutes are cut into batches in the state's outbox, published through the one publish
//! loop ([`crate::ledger`]) under a lease, each settled batch recorded, so a crash mid-publish
//! resumes where it stopped. The scheduled flush ([`flush_all`], every minute) publishes the
//! closed minutes of quiet and closed shards under the same lease. See README "Real-time logs".

mod records;
mod state;

pub use records::{ShardBatch, StreamRecord, shard_batches};

use crate::batch::Batch;
use crate::conditional::{ConditionalStore, PutError};
use crate::config::MetricsConfig;
use crate::idempotency::{Clock, owner_token};
use crate::ledger::{SendFailure, send_recorded};
use crate::object_store::ObjectStore;
use crate::parse::RealtimeFields;
use crate::settings::Settings;
use crate::shard_state::StateError;
use crate::sink::{MetricSink, SinkError, Stop};
use records::read_records;
use serde_json::{Value, json};
use state::{Holder, ShardLedger, StateObject, settle};
use std::time::Instant;

/// Why a Kinesis invocation (or a scheduled flush) cannot be handled at all.
#[derive(Debug, thiserror::Error)]
pub enum KinesisError {
    #[error(
        "Kinesis events need REALTIME_FIELDS: the field selection of the real-time log configuration"
    )]
    NoFields,
    #[error("Kinesis events need MARKER_BUCKET: the bucket that keeps each shard's state")]
    NoMarkerBucket,
    #[error("listing the shard states under s3://{bucket}/{prefix} failed: {source}")]
    List {
        bucket: String,
        prefix: String,
        source: std::io::Error,
    },
    #[error("scheduled flush: {failed} of {total} shards failed; first: {first}")]
    Flush {
        failed: usize,
        total: usize,
        first: String,
    },
}

/// Why one shard's batch (or flush) failed; its records are retried from the one named.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("shard {shard}: reading its state failed: {source}")]
    Read {
        shard: String,
        source: std::io::Error,
    },
    #[error("shard {shard}: {source}")]
    State { shard: String, source: StateError },
    #[error("shard {shard}: writing its state failed: {source}")]
    Write { shard: String, source: PutError },
    #[error("shard {shard}: the state moved past these records while they were read; retried")]
    Moved { shard: String },
    #[error("shard {shard}: its outbox's lease was taken over; stopped publishing")]
    LeaseLost { shard: String },
    #[error("shard {shard}: its outbox's lease could not be renewed in time; stopped publishing")]
    LeaseExpired { shard: String },
    #[error("shard {shard}: {source}")]
    Publish { shard: String, source: SinkError },
}

/// What one shard's batch did.
#[derive(Debug, Clone, Default)]
pub struct ShardOutcome {
    pub records: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub unresolved: u64,
    pub skipped_stale: u64,
    pub put_requests: usize,
    pub rejected_batches: usize,
}

/// The metrics configuration Kinesis records are read with.
pub fn realtime_config(settings: &Settings) -> Result<MetricsConfig, KinesisError> {
    let fields: &RealtimeFields = settings
        .metrics
        .realtime
        .as_ref()
        .ok_or(KinesisError::NoFields)?;
    Ok(MetricsConfig {
        realtime: Some(fields.clone()),
        ..settings.metrics.clone()
    })
}

/// The key of a shard's state object.
pub fn state_key(settings: &Settings, batch: &ShardBatch) -> String {
    format!(
        "{}kinesis/{}/{}.json",
        settings.marker_prefix, batch.stream, batch.shard
    )
}

/// The lease terms of this invocation.
fn holder(settings: &Settings) -> Holder {
    Holder {
        me: owner_token(),
        // Leases run on the wall clock; `now_ms` only closes minutes (it may be pinned).
        clock: Clock::system(),
        lease_ms: i64::try_from(settings.marker_lease_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX),
    }
}

/// Publishes the outbox of `obj` if `holder` holds its lease, through the one publish loop;
/// then settles what was sent and releases the lease in one write. Stopping at the deadline is
/// no failure: the rest goes out on the next invocation or tick.
async fn publish_outbox<S: ConditionalStore, M: MetricSink>(
    obj: &mut StateObject<'_, S>,
    sink: &M,
    holder: &Holder,
    stop: &Stop,
    outcome: &mut ShardOutcome,
) -> Result<(), ShardError> {
    if !holder.holds(&obj.state) {
        return Ok(());
    }
    let shard = obj.shard.clone();
    // Each batch goes to the namespace it was cut for; one run of the loop per namespace.
    let mut namespaces: Vec<String> = obj
        .state
        .outbox
        .iter()
        .map(|b| b.namespace.clone())
        .collect();
    namespaces.dedup();
    let mut result = Ok(());
    let mut noted = Vec::new();
    for namespace in namespaces {
        let batches: Vec<Batch> = obj
            .state
            .outbox
            .iter()
            .filter(|b| b.namespace == namespace)
            .map(|b| b.batch.clone())
            .collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        let mut ledger = ShardLedger::new(obj, holder);
        // One request at a time, each recorded before the next: an outbox is a minute's batch
        // or two, so this costs nothing and a crash can double count one request at most.
        let sent = send_recorded(sink, &namespace, &refs, 1, &mut ledger, stop).await;
        noted.extend(std::mem::take(&mut ledger.noted));
        match sent {
            Ok((requests, refused)) => {
                outcome.put_requests += requests;
                outcome.rejected_batches += refused.len();
                for e in refused {
                    tracing::error!(shard, error = %e, "batch refused by CloudWatch; not retried");
                }
            }
            Err(SendFailure::Sink(SinkError::Stopped { unsent })) => {
                tracing::info!(shard, unsent, "deadline: the rest of the outbox waits");
                break;
            }
            Err(SendFailure::Sink(source)) => {
                let shard = shard.clone();
                result = Err(ShardError::Publish { shard, source });
                break;
            }
            Err(SendFailure::Ledger(e)) => {
                result = Err(e);
                break;
            }
        }
    }
    // The final write: what was sent leaves the outbox, the lease is given up.
    obj.update(|st| settle(st, &noted, holder, true, &shard))
        .await?;
    result
}

/// Handles one shard's batch. On failure, returns the sequence number to retry from with the
/// error: the first new record when they were not committed, else the last record (already
/// counted, so the retry only resumes the publish).
#[allow(clippy::too_many_arguments)] // the shard's parts, each from the caller's own source
pub async fn process_shard<S: ConditionalStore, M: MetricSink>(
    store: &S,
    sink: &M,
    settings: &Settings,
    config: &MetricsConfig,
    bucket: &str,
    batch: &ShardBatch,
    now_ms: i64,
    stop: &Stop,
) -> Result<ShardOutcome, (String, ShardError)> {
    let shard = batch.shard.as_str();
    let first = batch
        .records
        .first()
        .map(|r| r.sequence_number.clone())
        .unwrap_or_default();
    let key = state_key(settings, batch);
    let mut obj = StateObject::load(store, bucket, key, shard.to_owned(), config)
        .await
        .map_err(|e| (first.clone(), e))?;
    let mut outcome = ShardOutcome::default();
    let new: Vec<&StreamRecord> = batch
        .records
        .iter()
        .filter(|r| obj.state.is_new(&r.sequence_number))
        .collect();
    outcome.duplicates = (batch.records.len() - new.len()) as u64;
    let read = read_records(&new, settings, config, shard, now_ms);
    if let Some((stats, aggregate)) = &read {
        outcome.records = stats.records;
        outcome.rejected = stats.rejected;
        outcome.unresolved = aggregate.unresolved;
        outcome.skipped_stale = aggregate.skipped_stale;
    }
    let base = obj.state.checkpoint.clone();
    let last = new.last().map(|r| r.sequence_number.clone());
    let delay_ms = settings.realtime_publish_delay_seconds as i64 * 1000;
    let holder = holder(settings);
    let commit = obj
        .update(|st| {
            let mut changed = false;
            if let (Some(last), Some((stats, aggregate))) = (&last, &read) {
                if st.checkpoint == base {
                    st.absorb(aggregate.clone(), stats.records, last.clone());
                    changed = true;
                } else if st.checkpoint.as_ref() != Some(last) {
                    return Err(ShardError::Moved {
                        shard: shard.to_owned(),
                    });
                } // else: this very write landed before, its answer lost
            }
            changed |= st.close(config, now_ms, delay_ms) > 0;
            if !st.outbox.is_empty() && !holder.holds(st) && holder.take(st) {
                changed = true;
            }
            Ok(changed)
        })
        .await;
    let first_new = new.first().map_or(first, |r| r.sequence_number.clone());
    commit.map_err(|e| (first_new, e))?;
    // Committed: a failure from here on is retried from the last record, which the retry
    // skips as a duplicate before it resumes the publish.
    let last = batch
        .records
        .last()
        .map(|r| r.sequence_number.clone())
        .unwrap_or_default();
    publish_outbox(&mut obj, sink, &holder, stop, &mut outcome)
        .await
        .map_err(|e| (last, e))?;
    Ok(outcome)
}

/// The metrics configuration and the state bucket, or why Kinesis cannot be handled.
fn setup(settings: &Settings) -> Result<(MetricsConfig, &str), KinesisError> {
    let config = realtime_config(settings)?;
    let bucket = settings
        .marker_bucket
        .as_deref()
        .ok_or(KinesisError::NoMarkerBucket)?;
    Ok((config, bucket))
}

/// Handles a Kinesis event: each shard's batch in turn; the response names, per failed shard,
/// the record to retry from.
pub async fn handle<S: ConditionalStore, M: MetricSink>(
    store: &S,
    sink: &M,
    settings: &Settings,
    payload: &Value,
    now_ms: i64,
    deadline: Option<Instant>,
) -> Result<Value, KinesisError> {
    let (config, bucket) = setup(settings)?;
    let (batches, errors) = shard_batches(payload);
    for e in &errors {
        // Unreadable records carry no sequence number to retry from; retrying cannot help.
        tracing::error!(error = %e, "Kinesis record malformed; skipped");
    }
    let stop = Stop::at(deadline);
    let mut failures = Vec::new();
    for batch in &batches {
        match process_shard(store, sink, settings, &config, bucket, batch, now_ms, &stop).await {
            Ok(o) => tracing::info!(
                stream = %batch.stream,
                shard = %batch.shard,
                records = o.records,
                duplicates = o.duplicates,
                rejected = o.rejected,
                unresolved = o.unresolved,
                skipped_stale = o.skipped_stale,
                put_requests = o.put_requests,
                rejected_batches = o.rejected_batches,
                "shard batch processed"
            ),
            Err((seq, e)) => {
                tracing::error!(error = %e, retry_from = %seq, "shard batch failed");
                failures.push(json!({"itemIdentifier": seq}));
            }
        }
    }
    Ok(json!({"batchItemFailures": failures}))
}

/// The scheduled flush (EventBridge, every minute): every shard state under
/// `<MARKER_PREFIX>kinesis/`, closed parent shards and quiet ones included, gets its ended
/// minutes closed and its outbox published, under the same lease and conditional writes as a
/// shard's own invocation. Fails (for the Errors alarm; the next tick retries anyway) when a
/// shard failed.
pub async fn flush_all<S: ObjectStore + ConditionalStore, M: MetricSink>(
    store: &S,
    sink: &M,
    settings: &Settings,
    now_ms: i64,
    deadline: Option<Instant>,
) -> Result<Value, KinesisError> {
    let (config, bucket) = setup(settings)?;
    let prefix = format!("{}kinesis/", settings.marker_prefix);
    let listed = store.list(bucket, &prefix).await;
    let listed = listed.map_err(|source| KinesisError::List {
        bucket: bucket.to_owned(),
        prefix: prefix.clone(),
        source,
    })?;
    let keys: Vec<String> = listed
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".json"))
        .collect();
    let stop = Stop::at(deadline);
    let delay_ms = settings.realtime_publish_delay_seconds as i64 * 1000;
    let (mut published, mut errors) = (0, Vec::new());
    for key in &keys {
        let shard = key
            .strip_prefix(&prefix)
            .unwrap_or(key)
            .trim_end_matches(".json");
        let holder = holder(settings);
        let mut outcome = ShardOutcome::default();
        let flushed = async {
            let mut obj =
                StateObject::load(store, bucket, key.clone(), shard.to_owned(), &config).await?;
            obj.update(|st| {
                let mut changed = st.close(&config, now_ms, delay_ms) > 0;
                if !st.outbox.is_empty() && !holder.holds(st) && holder.take(st) {
                    changed = true;
                }
                Ok(changed)
            })
            .await?;
            publish_outbox(&mut obj, sink, &holder, &stop, &mut outcome).await
        };
        match flushed.await {
            Ok(()) => published += outcome.put_requests,
            Err(e) => {
                tracing::error!(shard, error = %e, "scheduled flush of a shard failed");
                errors.push(e.to_string());
            }
        }
    }
    tracing::info!(
        shards = keys.len(),
        put_requests = published,
        failed = errors.len(),
        "scheduled flush"
    );
    if let Some(first) = errors.first() {
        return Err(KinesisError::Flush {
            failed: errors.len(),
            total: keys.len(),
            first: first.clone(),
        });
    }
    Ok(json!({"shards": keys.len(), "put_requests": published}))
}

#[cfg(test)]
mod tests;

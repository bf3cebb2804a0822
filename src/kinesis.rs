//! The Kinesis Data Streams entry point: real-time log records, one batch per shard, through the
//! core (parse with the configured field selection, aggregate per minute of event time) into
//! the shard's carried state ([`ShardState`], one marker object per shard), and the minutes that
//! have ended out to the metric sink. Answers with `batchItemFailures`.
//!
//! Exactly once: a record counts when the conditional write that advances the shard's
//! checkpoint past it and adds its aggregates to the state succeeds; records at or before the
//! checkpoint are skipped, so a retried, bisected or re-batched delivery cannot count them twice.
//! Closed minutes move into the state's outbox, whose batches are a function of its rows; each
//! settled batch is recorded before the next is sent, so a crash mid-publish resumes where it
//! stopped. See README "Real-time logs".

use crate::aggregate::Aggregator;
use crate::batch::Batch;
use crate::config::MetricsConfig;
use crate::idempotency::{Condition, MarkerStore, PutError};
use crate::parse::{ParseStats, RealtimeFields};
use crate::pipeline::FileProcessor;
use crate::settings::Settings;
use crate::shard_state::ShardState;
use crate::sink::{MetricSink, SinkError};
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use serde::Deserialize as _;
use serde_json::{Value, json};

/// Why a Kinesis invocation cannot be handled at all.
#[derive(Debug, thiserror::Error)]
pub enum KinesisError {
    #[error(
        "Kinesis events need REALTIME_FIELDS: the field selection of the real-time log configuration"
    )]
    NoFields,
    #[error("Kinesis events need MARKER_BUCKET: the bucket that keeps each shard's state")]
    NoMarkerBucket,
}

/// Why one shard's batch failed; its records are retried from the one named.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("shard {shard}: reading its state failed: {source}")]
    Read {
        shard: String,
        source: std::io::Error,
    },
    #[error("shard {shard}: writing its state failed: {source}")]
    Write { shard: String, source: PutError },
    #[error("shard {shard}: {source}")]
    Publish { shard: String, source: SinkError },
}

/// One record of a batch: its sequence number and data.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub sequence_number: String,
    pub data: Vec<u8>,
}

/// The records of one shard in an event, in order.
#[derive(Debug, Clone)]
pub struct ShardBatch {
    /// The stream's name, from `eventSourceARN`.
    pub stream: String,
    /// `shardId-...`, from `eventID`.
    pub shard: String,
    pub records: Vec<StreamRecord>,
}

/// Whether `payload` is a Kinesis event (its first record comes from `aws:kinesis`).
pub fn is_kinesis_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:kinesis")
}

/// Splits an event into per-shard batches. A record that cannot be read is returned as an error
/// naming its position (and never its data); the others are kept.
pub fn shard_batches(payload: &Value) -> (Vec<ShardBatch>, Vec<String>) {
    let mut batches: Vec<ShardBatch> = Vec::new();
    let mut errors = Vec::new();
    let records = payload.get("Records").and_then(Value::as_array);
    for (i, v) in records.into_iter().flatten().enumerate() {
        // Deserialised from the borrowed value: no copy of the record's JSON.
        let r = match KinesisEventRecord::deserialize(v) {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("Kinesis record Records[{i}]: {e}"));
                continue;
            }
        };
        let shard = r
            .event_id
            .as_deref()
            .and_then(|id| id.split_once(':'))
            .map_or("shardId-unknown", |(s, _)| s)
            .to_owned();
        let stream = r
            .event_source_arn
            .as_deref()
            .and_then(|a| a.rsplit_once(":stream/"))
            .map_or("unknown", |(_, s)| s)
            .to_owned();
        if r.kinesis.sequence_number.is_empty()
            || !r
                .kinesis
                .sequence_number
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            errors.push(format!("Kinesis record Records[{i}]: no sequence number"));
            continue;
        }
        let record = StreamRecord {
            sequence_number: r.kinesis.sequence_number,
            data: r.kinesis.data.0,
        };
        match batches
            .iter_mut()
            .find(|b| b.shard == shard && b.stream == stream)
        {
            Some(b) => b.records.push(record),
            None => batches.push(ShardBatch {
                stream,
                shard,
                records: vec![record],
            }),
        }
    }
    (batches, errors)
}

/// Whether a record's data can be a real-time log line: text (tabs and line ends aside) that
/// starts with a digit.
fn looks_like_record(data: &[u8]) -> bool {
    data.first().is_some_and(u8::is_ascii_digit)
        && !data
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
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

/// A shard's state and the ETag it was read with (`None`: no state yet).
struct Stored {
    state: ShardState,
    etag: Option<String>,
}

impl Stored {
    async fn load<S: MarkerStore>(store: &S, bucket: &str, key: &str) -> std::io::Result<Stored> {
        let Some((body, etag)) = store.get_marker(bucket, key).await? else {
            return Ok(Stored {
                state: ShardState::default(),
                etag: None,
            });
        };
        let state = serde_json::from_slice(&body).unwrap_or_else(|e| {
            // Our own object, so this should not happen; failing every retry on it would stall
            // the shard for good, so the shard starts afresh (its pending minutes are lost).
            tracing::error!(key, error = %e, "shard state unreadable; starting afresh");
            ShardState::default()
        });
        Ok(Stored {
            state,
            etag: Some(etag),
        })
    }

    async fn save<S: MarkerStore>(
        &mut self,
        store: &S,
        bucket: &str,
        key: &str,
    ) -> Result<(), PutError> {
        let body = serde_json::to_vec(&self.state).map_err(|e| PutError::Io(e.into()))?;
        let condition = match &self.etag {
            Some(e) => Condition::Matches(e),
            None => Condition::Absent,
        };
        self.etag = Some(store.put_marker(bucket, key, body, condition).await?);
        Ok(())
    }
}

/// Publishes the outbox's unsettled batches one at a time, recording each as settled before the
/// next is sent. A batch CloudWatch refuses for good is settled too (logged): sending it again
/// cannot succeed.
async fn flush<S: MarkerStore, M: MetricSink>(
    store: &S,
    sink: &M,
    config: &MetricsConfig,
    (bucket, key, shard): (&str, &str, &str),
    stored: &mut Stored,
    outcome: &mut ShardOutcome,
) -> Result<(), ShardError> {
    let batches: Vec<Batch> = stored.state.outbox_batches(config);
    let total = batches.len();
    for b in batches {
        if stored.state.settled.contains(&b.index) {
            continue;
        }
        match sink.put(&config.namespace, &b).await {
            Ok(()) => outcome.put_requests += 1,
            Err(e @ SinkError::Rejected { .. }) => {
                tracing::error!(shard, error = %e, "batch refused by CloudWatch; not retried");
                outcome.rejected_batches += 1;
            }
            Err(source) => {
                return Err(ShardError::Publish {
                    shard: shard.to_owned(),
                    source,
                });
            }
        }
        stored.state.settle(b.index, total);
        stored
            .save(store, bucket, key)
            .await
            .map_err(|source| ShardError::Write {
                shard: shard.to_owned(),
                source,
            })?;
    }
    Ok(())
}

/// Handles one shard's batch. On failure, returns the sequence number to retry from with the
/// error: the first new record when they were not committed, else the last record (already
/// counted, so the retry only resumes the publish).
pub async fn process_shard<S: MarkerStore, M: MetricSink>(
    store: &S,
    sink: &M,
    settings: &Settings,
    config: &MetricsConfig,
    bucket: &str,
    batch: &ShardBatch,
    now_ms: i64,
) -> Result<ShardOutcome, (String, ShardError)> {
    let key = state_key(settings, batch);
    let shard = batch.shard.as_str();
    let first = batch
        .records
        .first()
        .map(|r| r.sequence_number.clone())
        .unwrap_or_default();
    let mut stored = Stored::load(store, bucket, &key).await.map_err(|source| {
        let e = ShardError::Read {
            shard: shard.to_owned(),
            source,
        };
        (first.clone(), e)
    })?;
    let mut outcome = ShardOutcome::default();
    let place = (bucket, key.as_str(), shard);
    // An outbox left by a failed invocation goes out first: its batches must not change.
    flush(store, sink, config, place, &mut stored, &mut outcome)
        .await
        .map_err(|e| (first.clone(), e))?;

    let new: Vec<&StreamRecord> = batch
        .records
        .iter()
        .filter(|r| stored.state.is_new(&r.sequence_number))
        .collect();
    outcome.duplicates = (batch.records.len() - new.len()) as u64;
    if let Some(last) = new.last() {
        // A record that is not text starting with a digit (a timestamp) is rejected here, on its
        // own: the parser would otherwise judge the whole batch by its first bytes.
        let (good, bad): (Vec<&StreamRecord>, Vec<&StreamRecord>) =
            new.iter().partition(|r| looks_like_record(&r.data));
        if let Some(r) = bad.first() {
            tracing::warn!(shard, sequence_number = %r.sequence_number, rejected = bad.len(), reason = "not a real-time log record (binary, or not starting with a timestamp)", "record rejected");
        }
        let mut text = Vec::with_capacity(good.iter().map(|r| r.data.len() + 1).sum());
        // Line number (1-based, cumulative) of each record's last line, to name rejected ones.
        let mut ends = Vec::with_capacity(good.len());
        let mut lines = 0u64;
        for r in &good {
            text.extend_from_slice(&r.data);
            if !r.data.ends_with(b"\n") {
                text.push(b'\n');
            }
            lines += memchr::memchr_iter(b'\n', &r.data).count() as u64
                + u64::from(!r.data.ends_with(b"\n"));
            ends.push(lines);
        }
        let default = config.distribution_id.clone().unwrap_or_default();
        let mut p = FileProcessor::new(config, &default, settings.window(now_ms));
        let (mut stats, aggregate) = match p.feed(&text).and_then(|()| p.finish()) {
            Ok((_, stats, aggregate)) => (stats, aggregate),
            Err(e) => {
                // Cannot happen after the screening above; if it does, nothing is counted and
                // the records are reported rejected rather than failing the shard for good.
                tracing::error!(shard, error = %e, "batch not readable as real-time records");
                let empty = Aggregator::new(config, &default, settings.window(now_ms)).finish();
                let stats = ParseStats {
                    rejected: good.len() as u64,
                    ..ParseStats::default()
                };
                (stats, empty)
            }
        };
        stats.rejected += bad.len() as u64;
        if let Some(s) = stats.reject_samples.first() {
            let i = ends.partition_point(|&e| e < s.line);
            let seq = good.get(i).map_or("", |r| r.sequence_number.as_str());
            tracing::warn!(shard, sequence_number = seq, reason = %s.reason, rejected = stats.rejected, "record rejected");
        }
        outcome.records = stats.records;
        outcome.rejected = stats.rejected;
        outcome.unresolved = aggregate.unresolved;
        outcome.skipped_stale = aggregate.skipped_stale;
        if aggregate.unresolved > 0 {
            tracing::warn!(
                shard,
                unresolved = aggregate.unresolved,
                "records of no known distribution: select primary-distribution-id, or set DISTRIBUTION_HOSTS or DISTRIBUTION_ID"
            );
        }
        stored
            .state
            .absorb(aggregate, stats.records, last.sequence_number.clone());
    }
    let delay_ms = settings.realtime_publish_delay_seconds as i64 * 1000;
    let closed = stored.state.close(now_ms, delay_ms);
    if !new.is_empty() || closed > 0 {
        let first_new = new
            .first()
            .map_or(first.clone(), |r| r.sequence_number.clone());
        stored.save(store, bucket, &key).await.map_err(|source| {
            let e = ShardError::Write {
                shard: shard.to_owned(),
                source,
            };
            (first_new, e)
        })?;
    }
    // Committed: a failure from here on is retried from the last record, which the retry
    // skips as a duplicate before it resumes the publish.
    let last = batch
        .records
        .last()
        .map(|r| r.sequence_number.clone())
        .unwrap_or_default();
    flush(store, sink, config, place, &mut stored, &mut outcome)
        .await
        .map_err(|e| (last, e))?;
    Ok(outcome)
}

/// Handles a Kinesis event: each shard's batch in turn; the response names, per failed shard,
/// the record to retry from.
pub async fn handle<S: MarkerStore, M: MetricSink>(
    store: &S,
    sink: &M,
    settings: &Settings,
    payload: &Value,
    now_ms: i64,
) -> Result<Value, KinesisError> {
    let config = realtime_config(settings)?;
    let bucket = settings
        .marker_bucket
        .as_deref()
        .ok_or(KinesisError::NoMarkerBucket)?;
    let (batches, errors) = shard_batches(payload);
    for e in &errors {
        // Unreadable records carry no sequence number to retry from; retrying cannot help.
        tracing::error!(error = %e, "Kinesis record malformed; skipped");
    }
    let mut failures = Vec::new();
    for batch in &batches {
        match process_shard(store, sink, settings, &config, bucket, batch, now_ms).await {
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

#[cfg(test)]
mod tests;

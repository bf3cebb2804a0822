//! A Kinesis event's records at the edge: split per shard (a malformed record named, never its
//! data), screened one by one, and the new ones of a shard's batch parsed and aggregated through
//! the core with the real-time field selection.

use crate::aggregate::{Aggregator, FileAggregate};
use crate::config::MetricsConfig;
use crate::parse::ParseStats;
use crate::pipeline::FileProcessor;
use crate::settings::Settings;
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use serde::Deserialize as _;
use serde_json::Value;

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

/// Parses and aggregates the new records of a shard's batch; `None` when there are none. A
/// record that is not text starting with a digit (a timestamp) is rejected on its own: the
/// parser would otherwise judge the whole batch by its first bytes.
pub(super) fn read_records(
    new: &[&StreamRecord],
    settings: &Settings,
    config: &MetricsConfig,
    shard: &str,
    now_ms: i64,
) -> Option<(ParseStats, FileAggregate)> {
    new.last()?;
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
    if aggregate.unresolved > 0 {
        tracing::warn!(
            shard,
            unresolved = aggregate.unresolved,
            "records of no known distribution: select primary-distribution-id, or set DISTRIBUTION_HOSTS or DISTRIBUTION_ID"
        );
    }
    Some((stats, aggregate))
}

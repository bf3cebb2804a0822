//! The Kinesis Data Firehose transformation entry point: each record's log lines (real-time
//! records from a Kinesis source, or lines PUT directly) become JSON documents
//! ([`crate::export`]), newline-delimited, base64-encoded; one response record per input
//! `recordId`: `Ok` (the documents) or `Dropped`: only headers or blank lines, or no document
//! could be made (base64 that does not decode, lines that are no log). A record's content never
//! makes it `ProcessingFailed`: Firehose would write the original, raw IPs and cookies included,
//! to its error output, the bucket the export keeps them out of. Each dropped record's reason is
//! logged (never its content) and the batch's log line counts them.
//!
//! Firehose takes at most 6 MB of response: when the documents would not fit, the records that
//! do not are answered `ProcessingFailed` with their original data (which always fits: the
//! originals came in one request of at most 6 MB), never the whole batch.

use crate::export::{ExportConfig, Exporter, LineOutcome, OutputFormat};
use crate::settings::Settings;
use aws_lambda_events::event::firehose::KinesisFirehoseEventRecord;
use base64::Engine as _;
use serde::Deserialize as _;
use serde_json::{Value, json};

/// Firehose's limit on a transformation's response.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;
/// Room kept for the response's JSON around the data.
const MARGIN: usize = 64 * 1024;
/// JSON around one response record (`recordId`, `result`, keys, quotes).
const PER_RECORD: usize = 160;

/// How one record is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub record_id: String,
    pub result: &'static str,
    /// The data to return, before base64.
    pub data: Vec<u8>,
    /// Why a record was dropped, when it held something (never its content).
    pub reason: Option<String>,
}

fn b64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Transforms a Firehose event's records. Records are read in order with one exporter, so a
/// `#Fields` header sent as a record maps the records after it.
pub fn transform(payload: &Value, settings: &Settings) -> Vec<Answer> {
    let config = ExportConfig {
        format: OutputFormat::Ndjson,
        privacy: settings.privacy,
        realtime: settings.metrics.realtime.clone(),
        hosts: settings.metrics.distribution_hosts.clone(),
    };
    let source = payload
        .get("sourceKinesisStreamArn")
        .or_else(|| payload.get("deliveryStreamArn"))
        .and_then(Value::as_str)
        .unwrap_or("firehose");
    let default = settings.metrics.distribution_id.clone().unwrap_or_default();
    let mut exporter = Exporter::new(&config, source, &default);
    let records: Vec<&Value> = payload
        .get("records")
        .and_then(Value::as_array)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    // Each record's original (decoded) data, and its id.
    let inputs: Vec<(String, Option<Vec<u8>>)> = records
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let id = v
                .get("recordId")
                .and_then(Value::as_str)
                .map_or_else(|| format!("records[{i}]"), str::to_owned);
            let data = KinesisFirehoseEventRecord::deserialize(*v)
                .ok()
                .map(|r| r.data.0);
            (id, data)
        })
        .collect();
    let mut remaining_originals: usize = inputs
        .iter()
        .map(|(_, d)| b64_len(d.as_ref().map_or(0, Vec::len)) + PER_RECORD)
        .sum();
    let budget = MAX_RESPONSE_BYTES - MARGIN;
    let mut used = 0usize;
    let mut answers = Vec::with_capacity(inputs.len());
    for (record_id, data) in inputs {
        let original = data.clone().unwrap_or_default();
        let original_size = b64_len(original.len()) + PER_RECORD;
        remaining_originals -= original_size;
        let Some(data) = data else {
            let reason = "data is not base64".to_owned();
            tracing::warn!(record_id, reason, "Firehose record dropped");
            used += PER_RECORD;
            answers.push(Answer {
                record_id,
                result: "Dropped",
                data: Vec::new(),
                reason: Some(reason),
            });
            continue;
        };
        let mut docs = Vec::with_capacity(data.len() * 2);
        let (mut made, mut failed, mut first_reason) = (0u64, 0u64, None);
        for line in data.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            match exporter.line(line, &mut docs) {
                LineOutcome::Document => made += 1,
                LineOutcome::Header => {}
                LineOutcome::Rejected(r) => {
                    failed += 1;
                    first_reason.get_or_insert(r);
                }
            }
        }
        if let Some(reason) = first_reason {
            tracing::warn!(record_id, rejected = failed, reason = %reason, "log line rejected");
        }
        let ok_size = b64_len(docs.len()) + PER_RECORD;
        let answer = if made == 0 && failed == 0 {
            Answer {
                record_id,
                result: "Dropped",
                data: Vec::new(),
                reason: None,
            }
        } else if made == 0 {
            let reason = match first_reason {
                Some(r) => format!("{failed} unreadable line(s): {r}"),
                None => format!("{failed} unreadable line(s)"),
            };
            tracing::warn!(record_id, reason, "Firehose record dropped");
            Answer {
                record_id,
                result: "Dropped",
                data: Vec::new(),
                reason: Some(reason),
            }
        } else if used + ok_size + remaining_originals > budget {
            tracing::warn!(
                record_id,
                "documents would exceed Firehose's 6 MB response; answered ProcessingFailed"
            );
            Answer {
                record_id,
                result: "ProcessingFailed",
                data: original,
                reason: None,
            }
        } else {
            Answer {
                record_id,
                result: "Ok",
                data: docs,
                reason: None,
            }
        };
        used += match answer.result {
            "Ok" => ok_size,
            "Dropped" => PER_RECORD,
            _ => original_size,
        };
        answers.push(answer);
    }
    answers
}

/// The transformation's response.
pub fn handle(payload: &Value, settings: &Settings) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let answers = transform(payload, settings);
    let count = |r: &str| answers.iter().filter(|a| a.result == r).count();
    tracing::info!(
        records = answers.len(),
        ok = count("Ok"),
        dropped = count("Dropped"),
        dropped_unreadable = answers.iter().filter(|a| a.reason.is_some()).count(),
        failed = count("ProcessingFailed"),
        "Firehose batch transformed"
    );
    let records: Vec<Value> = answers
        .iter()
        .map(|a| json!({"recordId": a.record_id, "result": a.result, "data": b64.encode(&a.data)}))
        .collect();
    json!({ "records": records })
}

#[cfg(test)]
mod tests;

//! S3 Batch Operations, the function's side: every task of a job ([`BatchJob`]) through the one
//! publish path ([`publish_object`]: markers, leases, resume), answered with the result code the
//! job acts on. A thin adapter: a task that an S3 notification already published is a
//! duplicate, and the job's own retries (TemporaryFailure) resume where an attempt stopped.
//!
//! # Result codes
//!
//! Each `resultString` is `<reason>: <detail>`, the reason one of a few fixed words, so that a
//! completion report groups by it (`cflogs backfill --status`). Never any log content.
//!
//! | outcome | code | reason |
//! |---|---|---|
//! | published (or resumed) | Succeeded | `published` |
//! | published before (marker `done`) | Succeeded | `duplicate` |
//! | `dryRun` | Succeeded | `dry run` |
//! | PutMetricData failed after the SDK's retries (throttling, 5xx, network) | TemporaryFailure | `cloudwatch unavailable` |
//! | claimed by a live invocation | TemporaryFailure | `busy` |
//! | marker write lost, lease lost, read error other than 404/403 | TemporaryFailure | `marker`, `read failed` |
//! | the invocation's deadline came first (requests in flight awaited and recorded) | TemporaryFailure | `timeout` |
//! | not a CloudFront log (binary, unknown text, bad gzip, too large), no distribution ID | PermanentFailure | `not a log` |
//! | every record older than CloudWatch's two weeks (decided from the key's hour, unread) | PermanentFailure | `too old` |
//! | object or version missing; access denied | PermanentFailure | `missing`, `access denied` |
//! | overwritten since its version was listed | PermanentFailure | `superseded` |
//! | CloudWatch refused batches for good; marker unusable | PermanentFailure | `refused by cloudwatch`, `marker` |
//! | task or `userArguments` unreadable | PermanentFailure | `bad task`, `bad arguments` |
//!
//! # `userArguments` (schema 2.0)
//!
//! `namespace`, `dimensions`, `include`, `maxDimensionValues` override the function's
//! `METRICS_*` settings for the job and are checked by the same parsers; `dryRun` (`true`/`false`)
//! reads and counts without publishing. A job works in the function's markers: a file's marker
//! records the series families (namespace, metric, dimension names) published for it, so a job
//! with another selection publishes only the families missing, and nothing twice
//! ([`crate::idempotency::family`]).

use crate::aggregate::MAX_AGE_MS;
use crate::conditional::ConditionalStore;
use crate::distribution::key_info;
use crate::error::FileError;
use crate::event::{BatchJob, ObjectRef};
use crate::idempotency::MarkerError;
use crate::object_store::ObjectStore;
use crate::publish::{ObjectError, Published, in_order};
use crate::s3_object::{publish_object_until, read_object};
use crate::settings::Settings;
use crate::settings::overrides::{JobSettings, job_settings};
use crate::sink::{MetricSink, SinkError};
use futures::StreamExt;
use serde_json::{Value, json};
use std::io;
use std::time::Instant;

/// What the job does with a task whose key is missing.
pub const TREAT_MISSING_KEYS_AS: &str = "PermanentFailure";
/// Longest `resultString` returned (the completion report keeps it).
const MAX_RESULT_STRING: usize = 900;

/// A task's result code, as Batch Operations reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResultCode {
    Succeeded,
    TemporaryFailure,
    PermanentFailure,
}

impl ResultCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Succeeded => "Succeeded",
            ResultCode::TemporaryFailure => "TemporaryFailure",
            ResultCode::PermanentFailure => "PermanentFailure",
        }
    }
}

/// One task's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    pub code: ResultCode,
    /// A fixed word or two (see the module documentation).
    pub reason: &'static str,
    pub detail: String,
}

impl TaskResult {
    fn new(code: ResultCode, reason: &'static str, detail: impl Into<String>) -> Self {
        TaskResult {
            code,
            reason,
            detail: detail.into(),
        }
    }

    /// `reason: detail`, cut to what the report keeps.
    pub fn result_string(&self) -> String {
        let mut s = format!("{}: {}", self.reason, self.detail);
        if s.len() > MAX_RESULT_STRING {
            let mut end = MAX_RESULT_STRING;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
        s
    }
}

/// Whether every record of a file is older than CloudWatch accepts at `now_ms`, by the hour its
/// key names (a file holds its hour's requests, and a few late ones: an hour of slack).
pub fn too_old(key: &str, now_ms: i64) -> bool {
    key_info(key)
        .hour
        .is_some_and(|h| (h + 2) * 3_600_000 < now_ms - MAX_AGE_MS)
}

/// The answer for one task's outcome.
pub fn classify(outcome: &Result<Published, ObjectError>, dry_run: bool) -> TaskResult {
    use ResultCode::*;
    let p = match outcome {
        Ok(p) => p,
        Err(e) => return classify_error(e),
    };
    let r = &p.file.report;
    if p.file.datum_count() == 0 && r.skipped_stale > 0 {
        let detail = format!(
            "all {} records are older than CloudWatch's two weeks",
            r.skipped_stale
        );
        return TaskResult::new(PermanentFailure, "too old", detail);
    }
    if !p.rejected_batches.is_empty() {
        let detail = format!(
            "{} of {} batches refused for good; the rest published (see the function's log)",
            p.rejected_batches.len(),
            p.file.batches.len()
        );
        return TaskResult::new(PermanentFailure, "refused by cloudwatch", detail);
    }
    let counts = format!(
        "{} records, {} rejected lines, {} stale, {} datums",
        r.parse.records,
        r.parse.rejected,
        r.skipped_stale,
        p.file.datum_count()
    );
    if dry_run {
        TaskResult::new(Succeeded, "dry run", format!("{counts}; nothing published"))
    } else if p.duplicate {
        let marker = p.marker.as_deref().unwrap_or("");
        TaskResult::new(
            Succeeded,
            "duplicate",
            format!("published before (marker {marker})"),
        )
    } else {
        let resumed = match p.already_sent {
            0 => String::new(),
            n => format!(", resumed after {n} batches sent before"),
        };
        let detail = format!("{counts} in {} requests{resumed}", p.put_requests);
        TaskResult::new(Succeeded, "published", detail)
    }
}

fn classify_error(e: &ObjectError) -> TaskResult {
    use ResultCode::*;
    let detail = e.to_string();
    match e {
        ObjectError::File(FileError::Read { source, .. }) => match source.kind() {
            io::ErrorKind::NotFound => TaskResult::new(PermanentFailure, "missing", detail),
            io::ErrorKind::PermissionDenied => {
                TaskResult::new(PermanentFailure, "access denied", detail)
            }
            _ => TaskResult::new(TemporaryFailure, "read failed", detail),
        },
        ObjectError::File(FileError::Superseded { .. }) => {
            TaskResult::new(PermanentFailure, "superseded", detail)
        }
        ObjectError::File(_) => TaskResult::new(PermanentFailure, "not a log", detail),
        ObjectError::Publish {
            source: SinkError::Rejected { .. },
            ..
        } => TaskResult::new(PermanentFailure, "refused by cloudwatch", detail),
        ObjectError::Deadline { .. }
        | ObjectError::Publish {
            source: SinkError::Stopped { .. },
            ..
        } => TaskResult::new(TemporaryFailure, "timeout", detail),
        ObjectError::Publish { .. } => {
            TaskResult::new(TemporaryFailure, "cloudwatch unavailable", detail)
        }
        ObjectError::Marker {
            source: MarkerError::Busy { .. },
            ..
        } => TaskResult::new(TemporaryFailure, "busy", detail),
        ObjectError::Marker {
            source: MarkerError::Unreadable { .. } | MarkerError::Incompatible { .. },
            ..
        } => TaskResult::new(PermanentFailure, "marker", detail),
        ObjectError::Marker { .. } => TaskResult::new(TemporaryFailure, "marker", detail),
    }
}

/// Reads (dry run) or publishes one object, unless its key says it is too old for CloudWatch.
async fn run_task<S, M>(
    store: &S,
    sink: &M,
    job: &JobSettings,
    obj: &ObjectRef,
    now_ms: i64,
    deadline: Option<Instant>,
) -> TaskResult
where
    S: ObjectStore + ConditionalStore,
    M: MetricSink,
{
    if too_old(&obj.key, now_ms) {
        let detail = "the key's hour is older than CloudWatch's two weeks; not read";
        return TaskResult::new(ResultCode::PermanentFailure, "too old", detail);
    }
    let s = &job.settings;
    let outcome = if job.dry_run {
        // Nothing is published: a read still running at the deadline is simply abandoned.
        let read = async {
            Ok(Published::unmarked(
                read_object(store, s, obj, now_ms).await?,
                0,
            ))
        };
        match deadline {
            None => read.await,
            Some(d) => tokio::time::timeout_at(d.into(), read)
                .await
                .unwrap_or_else(|_| Err(ObjectError::Deadline { file: obj.url() })),
        }
    } else {
        // The deadline is checked between requests; every request sent is awaited and recorded.
        publish_object_until(store, sink, s, obj, now_ms, deadline).await
    };
    classify(&outcome, job.dry_run)
}

/// Answers a Batch Operations invocation: every task through the publish path (concurrently,
/// bounded by `FILE_CONCURRENCY`), the results in task order. At `deadline` no task starts a
/// further PutMetricData request; those in flight are awaited and recorded, and the unfinished
/// tasks are answered as temporary failures, so that the job's retry resumes them rather than
/// the whole invocation failing or sending again what CloudWatch already has.
pub async fn answer<S, M>(
    store: &S,
    sink: &M,
    settings: &Settings,
    job: BatchJob,
    now_ms: i64,
    deadline: Option<Instant>,
) -> Value
where
    S: ObjectStore + ConditionalStore,
    M: MetricSink,
{
    let job_settings = job_settings(settings, &job.user_arguments);
    let results: Vec<TaskResult> = in_order(
        settings,
        job.tasks.iter().map(|t| {
            let job_settings = &job_settings;
            async move {
                match (&t.object, job_settings) {
                    (Err(e), _) => {
                        TaskResult::new(ResultCode::PermanentFailure, "bad task", e.clone())
                    }
                    (Ok(_), Err(e)) => TaskResult::new(
                        ResultCode::PermanentFailure,
                        "bad arguments",
                        e.to_string(),
                    ),
                    (Ok(obj), Ok(js)) => run_task(store, sink, js, obj, now_ms, deadline).await,
                }
            }
        }),
    )
    .collect()
    .await;
    let mut answers = Vec::with_capacity(results.len());
    for (t, r) in job.tasks.iter().zip(&results) {
        let (bucket, key) = match &t.object {
            Ok(o) => (o.bucket.as_str(), o.key.as_str()),
            Err(_) => ("", ""),
        };
        let result = r.result_string();
        if r.code == ResultCode::Succeeded {
            tracing::info!(job = %job.job_id, task = %t.task_id, bucket, key,
                result_code = r.code.as_str(), result = %result, "batch task");
        } else {
            tracing::warn!(job = %job.job_id, task = %t.task_id, bucket, key,
                result_code = r.code.as_str(), result = %result, "batch task");
        }
        answers.push(json!({
            "taskId": t.task_id,
            "resultCode": r.code.as_str(),
            "resultString": result,
        }));
    }
    json!({
        "invocationSchemaVersion": job.schema,
        "treatMissingKeysAs": TREAT_MISSING_KEYS_AS,
        "invocationId": job.invocation_id,
        "results": answers,
    })
}

#[cfg(test)]
mod tests;

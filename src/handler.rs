//! The Lambda handler: an invocation's event → its objects ([`crate::event`]) → each through
//! [`crate::s3_object::publish_object`], the one publish path, concurrently; the response, or
//! the failure of the unit that failed. Generic over the object store and the metric sink so
//! tests can run it against moto or swap either side.
//!
//! A file is aggregated completely before anything of it is published, so a stream that breaks
//! halfway publishes nothing. With `IDEMPOTENCY=on` (the default) a file version is published
//! exactly once ([`crate::idempotency`]). A file that cannot be read, parsed as a whole or
//! published fails its unit: the invocation (S3, EventBridge: Lambda retries it, then its
//! on-failure destination gets it) or only its SQS message (`batchItemFailures`).

use crate::batch_ops;
use crate::conditional::ConditionalStore;
use crate::event::{self, EventError, Invocation, ObjectRef, WorkUnit};
use crate::kinesis;
use crate::object_store::ObjectStore;
use crate::publish::{ObjectError, Published, in_order};
use crate::s3_object::publish_object_until;
use crate::settings::Settings;
use crate::sink::MetricSink;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Instant;

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not an event this function handles.
    #[error(transparent)]
    Event(#[from] EventError),
    /// A Kinesis event the configuration cannot handle.
    #[error(transparent)]
    Kinesis(#[from] crate::kinesis::KinesisError),
    /// Some files failed; the invocation is failed so that Lambda retries it.
    #[error("{failed} of {total} log files failed; first: {first}")]
    Files {
        failed: usize,
        total: usize,
        first: String,
    },
}

/// The function: an object store, a metric sink and the settings, built once per container.
pub struct Handler<S, M> {
    pub store: S,
    pub sink: M,
    pub settings: Settings,
}

impl<S: ObjectStore + ConditionalStore, M: MetricSink> Handler<S, M> {
    /// Reads one object completely, then publishes its batches (exactly once with
    /// `IDEMPOTENCY=on`); logs one JSON line for it.
    pub async fn process_object(
        &self,
        obj: &ObjectRef,
        now_ms: i64,
        deadline: Option<Instant>,
    ) -> Result<Published, ObjectError> {
        let started = Instant::now();
        let (store, sink, settings) = (&self.store, &self.sink, &self.settings);
        let result = publish_object_until(store, sink, settings, obj, now_ms, deadline).await;
        match &result {
            // Logged by publish_object; no "file processed" line, so that the log's metric
            // filters (files, rejected and stale records) do not count the file twice.
            Ok(p) if p.duplicate => {}
            Ok(p) => {
                let r = &p.file.report;
                for s in &r.parse.reject_samples {
                    tracing::warn!(
                        bucket = %obj.bucket,
                        key = %obj.key,
                        line = s.line,
                        reason = %s.reason,
                        "line rejected"
                    );
                }
                tracing::info!(
                    bucket = %obj.bucket,
                    key = %obj.key,
                    distribution = %r.distribution_id,
                    format = r.format.map_or("empty".to_owned(), |f| f.to_string()),
                    records = r.parse.records,
                    rejected = r.parse.rejected,
                    skipped_stale = r.skipped_stale,
                    datums = p.file.datum_count(),
                    put_requests = p.put_requests,
                    rejected_batches = p.rejected_batches.len(),
                    already_sent = p.already_sent,
                    expired_datums = p.expired_datums,
                    bytes_read = r.stream.compressed_bytes,
                    bytes_decompressed = r.stream.bytes,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "file processed"
                );
            }
            Err(e) if e.is_superseded() => tracing::warn!(
                bucket = %obj.bucket,
                key = %obj.key,
                error = %e,
                "superseded: the key was overwritten after the event; skipped"
            ),
            Err(e) => tracing::error!(
                bucket = %obj.bucket,
                key = %obj.key,
                error = %e,
                duration_ms = started.elapsed().as_millis() as u64,
                "file failed"
            ),
        }
        result
    }

    /// Processes objects concurrently (bounded by `FILE_CONCURRENCY`), results in input order.
    pub async fn process_all(
        &self,
        objects: &[ObjectRef],
        now_ms: i64,
        deadline: Option<Instant>,
    ) -> Vec<Result<Published, ObjectError>> {
        in_order(
            &self.settings,
            objects
                .iter()
                .map(|o| self.process_object(o, now_ms, deadline)),
        )
        .collect()
        .await
    }

    fn log_ignored(unit: &WorkUnit) {
        for (key, why) in &unit.ignored {
            tracing::info!(key = %key, reason = *why, "object ignored");
        }
        for e in &unit.errors {
            tracing::error!(error = %e, "event record malformed");
        }
    }

    /// Handles one invocation payload. Returns the response: a summary for direct invocations, a
    /// `batchItemFailures` response for SQS. Valid records are processed even when others of the
    /// event are malformed; those fail their unit afterwards ([`EventError::Malformed`], or the
    /// SQS message).
    pub async fn handle(&self, payload: &Value, now_ms: i64) -> Result<Value, HandlerError> {
        self.handle_until(payload, now_ms, None).await
    }

    /// [`Self::handle`], dispatched on the event's shape ([`event::parse`]) to the entry point
    /// that reads it. At `deadline` (the invocation's, less a margin) no further PutMetricData
    /// request starts; those in flight are awaited and recorded: Batch Operations tasks still
    /// unfinished are answered as temporary failures, files fail their unit for a retry to
    /// resume, a shard's outbox waits for its next invocation or the schedule.
    pub async fn handle_until(
        &self,
        payload: &Value,
        now_ms: i64,
        deadline: Option<Instant>,
    ) -> Result<Value, HandlerError> {
        let (store, sink, settings) = (&self.store, &self.sink, &self.settings);
        match event::parse(payload, settings.own_prefixes())? {
            Invocation::Firehose => Ok(crate::firehose::handle(payload, settings)),
            Invocation::Kinesis => {
                // Boxed: the Kinesis future nests deep enough to strain the compiler's layout
                // limit.
                let f = kinesis::handle(store, sink, settings, payload, now_ms, deadline);
                Ok(Box::pin(f).await?)
            }
            Invocation::Scheduled => {
                let f = kinesis::flush_all(store, sink, settings, now_ms, deadline);
                Ok(Box::pin(f).await?)
            }
            Invocation::TestEvent => {
                tracing::info!("s3:TestEvent acknowledged");
                Ok(json!({"files": 0, "test_event": true}))
            }
            Invocation::Direct(unit) => self.handle_direct(unit, now_ms, deadline).await,
            Invocation::Sqs(units) => self.handle_sqs(units, now_ms, deadline).await,
            Invocation::BatchOperations(job) => {
                Ok(batch_ops::answer(store, sink, settings, job, now_ms, deadline).await)
            }
        }
    }

    /// One unit failing as a whole: its valid files are processed, then it fails if any file
    /// failed or any record was malformed (Lambda retries; the published files are then
    /// duplicates).
    async fn handle_direct(
        &self,
        unit: WorkUnit,
        now_ms: i64,
        deadline: Option<Instant>,
    ) -> Result<Value, HandlerError> {
        Self::log_ignored(&unit);
        let results = self.process_all(&unit.objects, now_ms, deadline).await;
        // A superseded record is answered (the newer version's own event publishes it), not
        // failed: no retry could read the version it named.
        let superseded = results
            .iter()
            .filter(|r| r.as_ref().is_err_and(ObjectError::is_superseded))
            .count();
        let failed: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .filter(|e| !e.is_superseded())
            .map(|e| e.to_string())
            .collect();
        if !unit.errors.is_empty() {
            return Err(EventError::Malformed {
                records: unit.errors,
                files: results.len(),
                failed_files: failed.len(),
                first_file_error: failed.into_iter().next(),
            }
            .into());
        }
        if let Some(first) = failed.first() {
            return Err(HandlerError::Files {
                failed: failed.len(),
                total: results.len(),
                first: first.clone(),
            });
        }
        // Totals of what this invocation published: duplicates are counted apart.
        let ok = || results.iter().flatten().filter(|p| !p.duplicate);
        Ok(json!({
            "files": results.len(),
            "duplicates": results.iter().flatten().filter(|p| p.duplicate).count(),
            "already_sent": ok().map(|p| p.already_sent).sum::<usize>(),
            "records": ok().map(|p| p.file.report.parse.records).sum::<u64>(),
            "rejected": ok().map(|p| p.file.report.parse.rejected).sum::<u64>(),
            "skipped_stale": ok().map(|p| p.file.report.skipped_stale).sum::<u64>(),
            "datums": ok().map(|p| p.file.datum_count()).sum::<usize>(),
            "put_requests": ok().map(|p| p.put_requests).sum::<usize>(),
            "superseded": superseded,
            "rejected_batches": ok().map(|p| p.rejected_batches.len()).sum::<usize>(),
        }))
    }

    /// SQS messages, each its own unit: a message fails when one of its records is malformed or
    /// one of its files failed, and is named in `batchItemFailures`. A failed message without a
    /// `messageId` cannot be named: the whole invocation fails ([`EventError::MessagesWithoutId`]),
    /// as Lambda would treat an empty identifier, but saying so.
    async fn handle_sqs(
        &self,
        units: Vec<WorkUnit>,
        now_ms: i64,
        deadline: Option<Instant>,
    ) -> Result<Value, HandlerError> {
        let mut all = Vec::new();
        let mut owner = Vec::new();
        let mut failed: Vec<Vec<String>> = Vec::with_capacity(units.len());
        for (i, unit) in units.iter().enumerate() {
            Self::log_ignored(unit);
            failed.push(unit.errors.clone());
            for o in &unit.objects {
                all.push(o.clone());
                owner.push(i);
            }
        }
        let results = self.process_all(&all, now_ms, deadline).await;
        for (r, &i) in results.iter().zip(&owner) {
            match (r, &units[i].message_id) {
                (Ok(_), _) => {}
                (Err(e), _) if e.is_superseded() => {}
                (Err(e), Some(_)) => failed[i].push(e.to_string()),
                // Record errors name their message; a file error of a message without an ID
                // must say which one it is.
                (Err(e), None) => failed[i].push(format!("SQS message Records[{i}]: {e}")),
            }
        }
        let mut failures = Vec::new();
        let mut without_id = Vec::new();
        for (unit, errors) in units.iter().zip(failed) {
            match (&unit.message_id, errors.is_empty()) {
                (_, true) => {}
                (Some(id), false) => failures.push(json!({"itemIdentifier": id})),
                (None, false) => without_id.extend(errors),
            }
        }
        if !without_id.is_empty() {
            let e = EventError::MessagesWithoutId { errors: without_id };
            tracing::error!(error = %e, "SQS batch failed as a whole");
            return Err(e.into());
        }
        Ok(json!({"batchItemFailures": failures}))
    }
}

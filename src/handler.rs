//! The Lambda handler: event → objects → (stream, decompress, parse, aggregate, batch) → sink,
//! generic over the object store and the metric sink so tests can run it against moto or swap
//! either side. `cflogs process s3://...` uses the same [`Handler::process_object`].
//!
//! A file is aggregated completely before anything of it is published, so a stream that breaks
//! halfway publishes nothing. A file that cannot be read, parsed as a whole or published fails
//! its unit: the invocation (S3, EventBridge: Lambda retries it, then its on-failure destination
//! gets it) or only its SQS message (`batchItemFailures`).

use crate::config::Settings;
use crate::decompress;
use crate::error::FileError;
use crate::event::{self, EventError, Invocation, ObjectRef, WorkUnit};
use crate::object_store::ObjectStore;
use crate::pipeline::{self, FileProcessor, ProcessedFile};
use crate::sink::{self, MetricSink, SinkError};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Instant;

/// Why one object failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Reading or parsing it failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// Publishing its datums failed.
    #[error("{file}: {source}")]
    Publish {
        file: String,
        #[source]
        source: SinkError,
    },
}

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not an event this function handles.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Some files failed; the invocation is failed so that Lambda retries it.
    #[error("{failed} of {total} log files failed; first: {first}")]
    Files {
        failed: usize,
        total: usize,
        first: String,
    },
}

/// What publishing one file did.
#[derive(Debug, Clone)]
pub struct Published {
    pub file: ProcessedFile,
    pub put_requests: usize,
}

/// Streams one object through the core stages (GetObject → gzip → parse → aggregate → batches);
/// publishes nothing.
pub async fn read_object<S: ObjectStore>(
    store: &S,
    settings: &Settings,
    obj: &ObjectRef,
    now_ms: i64,
) -> Result<ProcessedFile, FileError> {
    let file = obj.url();
    let config = &settings.metrics;
    let distribution = pipeline::distribution_for(&file, &obj.key, config)?;
    let (body, _meta) =
        store
            .get(&obj.bucket, &obj.key)
            .await
            .map_err(|source| FileError::Read {
                file: file.clone(),
                source,
            })?;
    let mut processor = FileProcessor::new(config, &distribution, now_ms);
    let not_a_log = |source| FileError::NotALog {
        file: file.clone(),
        source,
    };
    let stream = decompress::stream_async(&file, body, settings.max_decompressed_bytes, |chunk| {
        processor.feed(chunk)
    })
    .await?
    .map_err(not_a_log)?;
    let finished = processor.finish().map_err(not_a_log)?;
    Ok(pipeline::complete(&file, config, stream, finished))
}

/// The function: an object store, a metric sink and the settings, built once per container.
pub struct Handler<S, M> {
    pub store: S,
    pub sink: M,
    pub settings: Settings,
}

impl<S: ObjectStore, M: MetricSink> Handler<S, M> {
    /// Reads one object completely, then publishes its batches; logs one JSON line for it.
    pub async fn process_object(
        &self,
        obj: &ObjectRef,
        now_ms: i64,
    ) -> Result<Published, ObjectError> {
        let started = Instant::now();
        let result = self.publish_object(obj, now_ms).await;
        match &result {
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
                    bytes_read = r.stream.compressed_bytes,
                    bytes_decompressed = r.stream.bytes,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "file processed"
                );
            }
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

    async fn publish_object(&self, obj: &ObjectRef, now_ms: i64) -> Result<Published, ObjectError> {
        let file = read_object(&self.store, &self.settings, obj, now_ms).await?;
        let batches: Vec<_> = file.batches.iter().collect();
        let put_requests = sink::publish(
            &self.sink,
            &self.settings.metrics.namespace,
            &batches,
            self.settings.put_concurrency,
            |_| {},
        )
        .await
        .map_err(|source| ObjectError::Publish {
            file: obj.url(),
            source,
        })?;
        Ok(Published { file, put_requests })
    }

    /// Processes objects concurrently (bounded by `FILE_CONCURRENCY`), results in input order.
    pub async fn process_all(
        &self,
        objects: &[ObjectRef],
        now_ms: i64,
    ) -> Vec<Result<Published, ObjectError>> {
        futures::stream::iter(objects.iter().map(|o| self.process_object(o, now_ms)))
            .buffered(self.settings.file_concurrency.max(1))
            .collect()
            .await
    }

    fn log_ignored(unit: &WorkUnit) {
        for (key, why) in &unit.ignored {
            tracing::info!(key = %key, reason = *why, "object ignored");
        }
    }

    /// Handles one invocation payload. Returns the response: a summary for direct invocations, a
    /// `batchItemFailures` response for SQS.
    pub async fn handle(&self, payload: &Value, now_ms: i64) -> Result<Value, HandlerError> {
        match event::parse(payload, &self.settings.marker_prefix)? {
            Invocation::TestEvent => {
                tracing::info!("s3:TestEvent acknowledged");
                Ok(json!({"files": 0, "test_event": true}))
            }
            Invocation::Direct(unit) => {
                Self::log_ignored(&unit);
                let objects = unit.objects.map_err(|first| HandlerError::Files {
                    failed: 1,
                    total: 1,
                    first,
                })?;
                let results = self.process_all(&objects, now_ms).await;
                let failed: Vec<String> = results
                    .iter()
                    .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
                    .collect();
                if let Some(first) = failed.first() {
                    return Err(HandlerError::Files {
                        failed: failed.len(),
                        total: results.len(),
                        first: first.clone(),
                    });
                }
                let ok = || results.iter().flatten();
                Ok(json!({
                    "files": results.len(),
                    "records": ok().map(|p| p.file.report.parse.records).sum::<u64>(),
                    "rejected": ok().map(|p| p.file.report.parse.rejected).sum::<u64>(),
                    "skipped_stale": ok().map(|p| p.file.report.skipped_stale).sum::<u64>(),
                    "datums": ok().map(|p| p.file.datum_count()).sum::<usize>(),
                    "put_requests": ok().map(|p| p.put_requests).sum::<usize>(),
                }))
            }
            Invocation::Sqs(units) => {
                let mut all = Vec::new();
                let mut owner = Vec::new();
                let mut failed_units = vec![false; units.len()];
                for (i, unit) in units.iter().enumerate() {
                    Self::log_ignored(unit);
                    match &unit.objects {
                        Ok(objs) => {
                            for o in objs {
                                all.push(o.clone());
                                owner.push(i);
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "SQS message not understood");
                            failed_units[i] = true;
                        }
                    }
                }
                let results = self.process_all(&all, now_ms).await;
                for (r, &i) in results.iter().zip(&owner) {
                    if r.is_err() {
                        failed_units[i] = true;
                    }
                }
                let failures: Vec<Value> = units
                    .iter()
                    .zip(failed_units)
                    .filter(|(_, f)| *f)
                    .filter_map(|(u, _)| u.message_id.as_ref())
                    .map(|id| json!({"itemIdentifier": id}))
                    .collect();
                Ok(json!({"batchItemFailures": failures}))
            }
        }
    }
}

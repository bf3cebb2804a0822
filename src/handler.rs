//! The Lambda handler: event → objects → (stream, decompress, parse, aggregate, batch) → sink,
//! generic over the object store and the metric sink so tests can run it against moto or swap
//! either side. `cflogs process s3://...` uses the same [`publish_object`] ([`crate::backfill`]).
//!
//! A file is aggregated completely before anything of it is published, so a stream that breaks
//! halfway publishes nothing. With `IDEMPOTENCY=on` (the default) a file version is published
//! exactly once: a marker object claims it, records the batches CloudWatch accepted, and says
//! when it is done ([`crate::idempotency`]); a redelivery is skipped as a duplicate, a retry after
//! a partial failure sends only what is missing. A file that cannot be read, parsed as a whole or published fails
//! its unit: the invocation (S3, EventBridge: Lambda retries it, then its on-failure destination
//! gets it) or only its SQS message (`batchItemFailures`).

use crate::aggregate::MAX_AGE_MS;
use crate::batch::Batch;
use crate::config::Settings;
use crate::decompress;
use crate::error::FileError;
use crate::event::{self, EventError, Invocation, ObjectRef, WorkUnit};
use crate::idempotency::{
    self, Begin, Claim, Clock, FileVersion, MarkerError, MarkerLocation, MarkerStore,
};
use crate::object_store::ObjectStore;
use crate::pipeline::{self, FileProcessor, ProcessedFile};
use crate::sink::{self, MetricSink, SinkError};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use std::future::Future;
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
    /// The exactly-once bookkeeping stopped it (busy elsewhere, marker unreadable or unwritable).
    #[error("{file}: {source}")]
    Marker {
        file: String,
        #[source]
        source: MarkerError,
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
    /// PutMetricData requests this attempt made.
    pub put_requests: usize,
    /// Nothing was sent: the file's marker says this version was published completely before.
    pub duplicate: bool,
    /// Batches an earlier attempt had sent, not sent again.
    pub already_sent: usize,
    /// Datums of a resumed file that had become older than CloudWatch's two weeks since the
    /// first attempt, dropped.
    pub expired_datums: usize,
    /// The marker object, when exactly-once publishing is on.
    pub marker: Option<String>,
}

impl Published {
    /// A file published without a marker (or not at all, `put_requests` 0, in a dry run).
    pub fn unmarked(file: ProcessedFile, put_requests: usize) -> Self {
        Published {
            file,
            put_requests,
            duplicate: false,
            already_sent: 0,
            expired_datums: 0,
            marker: None,
        }
    }

    /// The line to tell the user about a skipped or resumed file, if it was either.
    pub fn notice(&self) -> Option<String> {
        let name = &self.file.report.file;
        if self.duplicate {
            Some(format!(
                "{name}: already published (marker {}), skipped",
                self.marker.as_deref().unwrap_or("")
            ))
        } else if self.already_sent > 0 {
            Some(format!(
                "{name}: resumed, {} of {} batches had been sent before",
                self.already_sent,
                self.file.batches.len()
            ))
        } else {
            None
        }
    }
}

/// Streams one object through the core stages (GetObject → gzip → parse → aggregate → batches);
/// publishes nothing.
pub async fn read_object<S: ObjectStore>(
    store: &S,
    settings: &Settings,
    obj: &ObjectRef,
    now_ms: i64,
) -> Result<ProcessedFile, FileError> {
    read_object_at(store, settings, obj, |_| now_ms).await
}

/// [`read_object`], evaluating the publishable window at the time `window` picks once it knows
/// the object's ETag (a resumed file must be read as its first attempt read it).
pub async fn read_object_at<S: ObjectStore>(
    store: &S,
    settings: &Settings,
    obj: &ObjectRef,
    window: impl FnOnce(Option<&str>) -> i64,
) -> Result<ProcessedFile, FileError> {
    let file = obj.url();
    let config = &settings.metrics;
    let distribution = pipeline::distribution_for(&file, &obj.key, config)?;
    let (body, meta) =
        store
            .get(&obj.bucket, &obj.key)
            .await
            .map_err(|source| FileError::Read {
                file: file.clone(),
                source,
            })?;
    let now_ms = window(meta.etag.as_deref());
    let mut processor = FileProcessor::new(config, &distribution, settings.window(now_ms));
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
    let mut processed = pipeline::complete(&file, config, stream, finished);
    processed.etag = meta.etag;
    Ok(processed)
}

/// Why [`publish_recorded`] stopped.
enum PublishFailure {
    Sink(SinkError),
    Marker(MarkerError),
}

/// Publishes `batches` while recording each accepted batch in the claim's marker: whenever
/// batches completed since the last write and no write is in flight, one checkpoint records them
/// all. A checkpoint that fails for an S3 error is only logged (the next one, or the final write,
/// carries the same batches); losing the claim to a takeover stops publishing at once.
async fn publish_recorded<S: MarkerStore, M: MetricSink>(
    sink: &M,
    namespace: &str,
    batches: &[&Batch],
    concurrency: usize,
    claim: &mut Claim<'_, S>,
) -> Result<usize, PublishFailure> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let total = batches.len();
    let publish = sink::publish(sink, namespace, batches, concurrency, move |i| {
        let _ = tx.send(i);
    });
    let recorder = async {
        let mut recorded = 0;
        while let Some(first) = rx.recv().await {
            let mut done = vec![first];
            while let Ok(i) = rx.try_recv() {
                done.push(i);
            }
            recorded += done.len();
            claim.add_sent(&done);
            if recorded == total {
                continue; // the final write records them
            }
            match claim.checkpoint().await {
                Ok(()) => {}
                Err(e @ MarkerError::LostOwnership { .. }) => return Err(e),
                Err(e) => tracing::warn!(error = %e, "marker checkpoint failed; carrying on"),
            }
        }
        Ok(())
    };
    futures::pin_mut!(publish, recorder);
    match futures::future::select(publish, recorder).await {
        futures::future::Either::Left((published, recorder)) => {
            // The sender is gone with the publishing future: the recorder drains and ends.
            recorder.await.map_err(PublishFailure::Marker)?;
            published.map_err(PublishFailure::Sink)
        }
        // The claim was lost: dropping the publishing future abandons its requests.
        futures::future::Either::Right((Err(e), _)) => Err(PublishFailure::Marker(e)),
        futures::future::Either::Right((Ok(()), publish)) => {
            publish.await.map_err(PublishFailure::Sink)
        }
    }
}

/// Publishes every batch of a read file, without any marker: the path of `IDEMPOTENCY=off` and
/// of local files in `cflogs`. Returns the number of PutMetricData requests made.
pub async fn publish_file<M: MetricSink>(
    sink: &M,
    settings: &Settings,
    file: &ProcessedFile,
) -> Result<usize, ObjectError> {
    let batches: Vec<_> = file.batches.iter().collect();
    sink::publish(
        sink,
        &settings.metrics.namespace,
        &batches,
        settings.put_concurrency,
        |_| {},
    )
    .await
    .map_err(|source| ObjectError::Publish {
        file: file.report.file.clone(),
        source,
    })
}

/// Runs one future per file, at most `FILE_CONCURRENCY` at a time, yielding results in input
/// order: shared by [`Handler::process_all`] and [`crate::backfill::process_inputs`].
pub fn in_order<F: Future>(
    settings: &Settings,
    files: impl IntoIterator<Item = F>,
) -> impl Stream<Item = F::Output> {
    futures::stream::iter(files).buffered(settings.file_concurrency.max(1))
}

/// Reads one object completely, then publishes its batches: exactly once per object version when
/// `settings.idempotency` is on (see [`crate::idempotency`]), else every time.
pub async fn publish_object<S, M>(
    store: &S,
    sink: &M,
    settings: &Settings,
    obj: &ObjectRef,
    now_ms: i64,
) -> Result<Published, ObjectError>
where
    S: ObjectStore + MarkerStore,
    M: MetricSink,
{
    let namespace = &settings.metrics.namespace;
    let publish_error = |source| ObjectError::Publish {
        file: obj.url(),
        source,
    };
    if !settings.idempotency {
        let file = read_object(store, settings, obj, now_ms).await?;
        let put_requests = publish_file(sink, settings, &file).await?;
        return Ok(Published::unmarked(file, put_requests));
    }

    let marker_error = |source| ObjectError::Marker {
        file: obj.url(),
        source,
    };
    let loc = MarkerLocation::new(
        settings.marker_bucket.as_deref(),
        &settings.marker_prefix,
        &obj.bucket,
        &obj.key,
    );
    let marker_url = loc.url();
    let existing = idempotency::read_marker(store, &loc)
        .await
        .map_err(marker_error)?;
    let fingerprint = settings.metrics.fingerprint();
    let mut window_ms = now_ms;
    let file = read_object_at(store, settings, obj, |etag| {
        let etag = idempotency::normalize_etag(etag.unwrap_or(""));
        let existing = existing.as_ref().map(|(m, _)| m);
        window_ms = idempotency::window_for(existing, &etag, &fingerprint, now_ms);
        window_ms
    })
    .await?;
    let version = FileVersion {
        bucket: obj.bucket.clone(),
        key: obj.key.clone(),
        etag: idempotency::normalize_etag(file.etag.as_deref().unwrap_or("")),
        fingerprint,
        digest: idempotency::digest(&file.batches),
        batches: file.batches.len(),
        window_ms,
    };
    let stale_ms =
        i64::try_from(settings.marker_lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let begin = Claim::begin(
        store,
        loc,
        idempotency::owner_token(),
        &version,
        existing,
        Clock::new(now_ms),
        stale_ms,
    )
    .await
    .map_err(marker_error)?;
    let (mut claim, already_sent, takeover) = match begin {
        Begin::Duplicate {
            marker,
            same_config,
        } => {
            tracing::info!(
                bucket = %obj.bucket,
                key = %obj.key,
                etag = %version.etag,
                marker = %marker_url,
                finished_by = marker.owner.as_deref().unwrap_or(""),
                same_config,
                "duplicate: this version was published before; skipped"
            );
            return Ok(Published {
                file,
                put_requests: 0,
                duplicate: true,
                already_sent: marker.sent.len(),
                expired_datums: 0,
                marker: Some(marker_url),
            });
        }
        Begin::Publish {
            claim,
            already_sent,
            takeover,
        } => (claim, already_sent, takeover),
    };
    if !already_sent.is_empty() || takeover.is_some() {
        tracing::info!(
            bucket = %obj.bucket,
            key = %obj.key,
            marker = %marker_url,
            already_sent = already_sent.len(),
            batches = version.batches,
            took_over_from = takeover.as_deref().unwrap_or(""),
            "resuming a partly published file"
        );
    }

    // A resumed file is read as its first attempt read it; datums that have aged out of
    // CloudWatch's two weeks since then would fail the request: they are dropped.
    let oldest = now_ms - MAX_AGE_MS;
    let todo: Vec<&Batch> = file
        .batches
        .iter()
        .filter(|b| !already_sent.contains(&b.index))
        .collect();
    let expired_datums: usize = todo
        .iter()
        .map(|b| b.datums.iter().filter(|d| d.timestamp_ms < oldest).count())
        .sum();
    let trimmed: Vec<Batch>;
    let todo: Vec<&Batch> = if expired_datums == 0 {
        todo
    } else {
        trimmed = todo
            .iter()
            .map(|b| Batch {
                index: b.index,
                datums: b
                    .datums
                    .iter()
                    .filter(|d| d.timestamp_ms >= oldest)
                    .cloned()
                    .collect(),
            })
            .collect();
        let emptied: Vec<usize> = trimmed
            .iter()
            .filter(|b| b.datums.is_empty())
            .map(|b| b.index)
            .collect();
        claim.add_sent(&emptied);
        trimmed.iter().filter(|b| !b.datums.is_empty()).collect()
    };

    let result =
        publish_recorded(sink, namespace, &todo, settings.put_concurrency, &mut claim).await;
    let put_requests = match result {
        Ok(n) => n,
        Err(PublishFailure::Sink(e)) => {
            if let Err(re) = claim.release().await {
                tracing::warn!(error = %re, "could not release the marker after a failure");
            }
            return Err(publish_error(e));
        }
        Err(PublishFailure::Marker(e)) => return Err(marker_error(e)),
    };
    if let Err(e) = claim.finish().await {
        if !matches!(e, MarkerError::LostOwnership { .. })
            && let Err(re) = claim.release().await
        {
            tracing::warn!(error = %re, "could not release the marker after a failure");
        }
        return Err(marker_error(e));
    }
    Ok(Published {
        file,
        put_requests,
        duplicate: false,
        already_sent: already_sent.len(),
        expired_datums,
        marker: Some(marker_url),
    })
}

/// The function: an object store, a metric sink and the settings, built once per container.
pub struct Handler<S, M> {
    pub store: S,
    pub sink: M,
    pub settings: Settings,
}

impl<S: ObjectStore + MarkerStore, M: MetricSink> Handler<S, M> {
    /// Reads one object completely, then publishes its batches (exactly once with
    /// `IDEMPOTENCY=on`); logs one JSON line for it.
    pub async fn process_object(
        &self,
        obj: &ObjectRef,
        now_ms: i64,
    ) -> Result<Published, ObjectError> {
        let started = Instant::now();
        let result = publish_object(&self.store, &self.sink, &self.settings, obj, now_ms).await;
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
                    already_sent = p.already_sent,
                    expired_datums = p.expired_datums,
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

    /// Processes objects concurrently (bounded by `FILE_CONCURRENCY`), results in input order.
    pub async fn process_all(
        &self,
        objects: &[ObjectRef],
        now_ms: i64,
    ) -> Vec<Result<Published, ObjectError>> {
        in_order(
            &self.settings,
            objects.iter().map(|o| self.process_object(o, now_ms)),
        )
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

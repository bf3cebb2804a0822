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
use crate::decompress_async;
use crate::error::FileError;
use crate::event::{self, EventError, Invocation, ObjectRef, WorkUnit};
use crate::idempotency::{
    self, Begin, Claim, Clock, FileVersion, MarkerError, MarkerLocation, MarkerStore,
};
use crate::object_store::{Expected, ObjectStore, version_changed};
use crate::pipeline::{self, FileProcessor, ProcessedFile};
use crate::sink::{self, MetricSink, Settled, SinkError};
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

impl ObjectError {
    /// The object was overwritten after its event: an answer for that record, not a failure
    /// (no retry could read the version the event named).
    pub fn is_superseded(&self) -> bool {
        matches!(self, ObjectError::File(FileError::Superseded { .. }))
    }
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
    /// Batches CloudWatch refused for good (a non-retryable 400), each error naming the file,
    /// the batch and the datum: recorded, logged, never retried.
    pub rejected_batches: Vec<String>,
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
            rejected_batches: Vec::new(),
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
    let expected = Expected {
        etag: obj.etag.as_deref(),
        version_id: obj.version_id.as_deref(),
    };
    let (body, meta) = store
        .get(&obj.bucket, &obj.key, expected)
        .await
        .map_err(|source| match version_changed(&source) {
            Some(v) => FileError::Superseded {
                file: file.clone(),
                expected: v.expected.clone(),
            },
            None => FileError::Read {
                file: file.clone(),
                source,
            },
        })?;
    let now_ms = window(meta.etag.as_deref());
    let mut processor = FileProcessor::new(config, &distribution, now_ms);
    let not_a_log = |source| FileError::NotALog {
        file: file.clone(),
        source,
    };
    let stream =
        decompress_async::stream_async(&file, body, settings.max_decompressed_bytes, |chunk| {
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

/// `file: error` for each batch CloudWatch refused for good, logged as errors.
fn refusals(file: &str, refused: Vec<SinkError>) -> Vec<String> {
    refused
        .into_iter()
        .map(|e| {
            let line = format!("{file}: {e}");
            tracing::error!(file = %file, error = %e, "batch refused by CloudWatch; not retried");
            line
        })
        .collect()
}

/// Publishes `batches` while recording each accepted (or for good refused) batch in the claim's
/// marker and keeping its lease: whenever batches completed since the last write and no write
/// is in flight, one checkpoint records them all, and when no write happened for a third of the
/// lease one renews it. A checkpoint that fails for an S3 error is only logged (the next one, or
/// the final write, carries the same batches); losing the claim to a takeover, or the lease
/// running out unrenewed, stops publishing at once. Returns the requests sent and the batches
/// refused.
async fn publish_recorded<S: MarkerStore, M: MetricSink>(
    sink: &M,
    namespace: &str,
    batches: &[&Batch],
    concurrency: usize,
    claim: &mut Claim<'_, S>,
) -> Result<(usize, Vec<SinkError>), PublishFailure> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Settled>();
    let total = batches.len();
    let publish = sink::publish(sink, namespace, batches, concurrency, move |s| {
        let _ = tx.send(s);
    });
    let renew_every = claim.lease() / 3;
    let recorder = async {
        let mut recorded = 0;
        let mut refused = Vec::new();
        let mut next_renewal = tokio::time::Instant::now() + renew_every;
        loop {
            let deadline = tokio::time::Instant::from_std(claim.held_until());
            let settled = tokio::select! {
                s = rx.recv() => s,
                () = tokio::time::sleep_until(next_renewal.min(deadline)) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(claim.expired());
                    }
                    next_renewal = tokio::time::Instant::now() + renew_every;
                    match tokio::time::timeout_at(deadline, claim.checkpoint()).await {
                        Err(_) => return Err(claim.expired()),
                        Ok(Ok(())) => {}
                        Ok(Err(e @ MarkerError::LostOwnership { .. })) => return Err(e),
                        Ok(Err(e)) => tracing::warn!(error = %e, "lease renewal failed; carrying on"),
                    }
                    continue;
                }
            };
            let Some(first) = settled else {
                return Ok(refused);
            };
            let mut done = vec![first];
            while let Ok(s) = rx.try_recv() {
                done.push(s);
            }
            recorded += done.len();
            for s in done {
                match s {
                    Settled::Sent(i) => claim.add_sent(&[i]),
                    Settled::Rejected(e) => {
                        if let SinkError::Rejected { batch, .. } = &e {
                            claim.add_rejected(*batch);
                        }
                        refused.push(e);
                    }
                }
            }
            if recorded == total {
                continue; // the final write records them
            }
            next_renewal = tokio::time::Instant::now() + renew_every;
            match tokio::time::timeout_at(deadline, claim.checkpoint()).await {
                Err(_) => return Err(claim.expired()),
                Ok(Ok(())) => {}
                Ok(Err(e @ MarkerError::LostOwnership { .. })) => return Err(e),
                Ok(Err(e)) => tracing::warn!(error = %e, "marker checkpoint failed; carrying on"),
            }
        }
    };
    futures::pin_mut!(publish, recorder);
    match futures::future::select(publish, recorder).await {
        futures::future::Either::Left((published, recorder)) => {
            // The sender is gone with the publishing future: the recorder drains and ends.
            let refused = recorder.await.map_err(PublishFailure::Marker)?;
            let sent = published.map_err(PublishFailure::Sink)?;
            Ok((sent, refused))
        }
        // The claim was lost or ran out: dropping the publishing future abandons its requests.
        futures::future::Either::Right((Err(e), _)) => Err(PublishFailure::Marker(e)),
        futures::future::Either::Right((Ok(refused), publish)) => {
            let sent = publish.await.map_err(PublishFailure::Sink)?;
            Ok((sent, refused))
        }
    }
}

/// Publishes every batch of a read file, without any marker: the path of `IDEMPOTENCY=off` and
/// of local files in `cflogs`. Returns the number of PutMetricData requests made and the
/// batches CloudWatch refused for good.
pub async fn publish_file<M: MetricSink>(
    sink: &M,
    settings: &Settings,
    file: &ProcessedFile,
) -> Result<(usize, Vec<String>), ObjectError> {
    let batches: Vec<_> = file.batches.iter().collect();
    let mut refused = Vec::new();
    let sent = sink::publish(
        sink,
        &settings.metrics.namespace,
        &batches,
        settings.put_concurrency,
        |s| {
            if let Settled::Rejected(e) = s {
                refused.push(e);
            }
        },
    )
    .await
    .map_err(|source| ObjectError::Publish {
        file: file.report.file.clone(),
        source,
    })?;
    Ok((sent, refusals(&file.report.file, refused)))
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
        let (put_requests, rejected_batches) = publish_file(sink, settings, &file).await?;
        return Ok(Published {
            rejected_batches,
            ..Published::unmarked(file, put_requests)
        });
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
    let lease_ms =
        i64::try_from(settings.marker_lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let begin = Claim::begin(
        store,
        loc,
        idempotency::owner_token(),
        &version,
        existing,
        // The lease runs on the wall clock, read at each write: `now_ms` is only the time the
        // publishable window is evaluated at (a backfill's start, a pinned clock).
        Clock::system(),
        lease_ms,
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
                rejected_batches: Vec::new(),
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
    let (put_requests, refused) = match result {
        Ok(r) => r,
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
        put_requests,
        duplicate: false,
        already_sent: already_sent.len(),
        expired_datums,
        marker: Some(marker_url),
        rejected_batches: refusals(&file.report.file, refused),
        file,
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
        for e in &unit.errors {
            tracing::error!(error = %e, "event record malformed");
        }
    }

    /// Handles one invocation payload. Returns the response: a summary for direct invocations, a
    /// `batchItemFailures` response for SQS. Valid records are processed even when others of the
    /// event are malformed; those fail their unit afterwards ([`EventError::Malformed`], or the
    /// SQS message).
    pub async fn handle(&self, payload: &Value, now_ms: i64) -> Result<Value, HandlerError> {
        match event::parse(payload, &self.settings.marker_prefix)? {
            Invocation::TestEvent => {
                tracing::info!("s3:TestEvent acknowledged");
                Ok(json!({"files": 0, "test_event": true}))
            }
            Invocation::Direct(unit) => self.handle_direct(unit, now_ms).await,
            Invocation::Sqs(units) => self.handle_sqs(units, now_ms).await,
        }
    }

    /// One unit failing as a whole: its valid files are processed, then it fails if any file
    /// failed or any record was malformed (Lambda retries; the published files are then
    /// duplicates).
    async fn handle_direct(&self, unit: WorkUnit, now_ms: i64) -> Result<Value, HandlerError> {
        Self::log_ignored(&unit);
        let results = self.process_all(&unit.objects, now_ms).await;
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
    async fn handle_sqs(&self, units: Vec<WorkUnit>, now_ms: i64) -> Result<Value, HandlerError> {
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
        let results = self.process_all(&all, now_ms).await;
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

//! One S3 object through the pipeline: GetObject (the version its event named) streamed through
//! the async inflate into the core stages, then its batches through the one publish path,
//! exactly once per object version when `IDEMPOTENCY=on`.

use crate::config::Settings;
use crate::decompress_async;
use crate::error::FileError;
use crate::event::ObjectRef;
use crate::idempotency::{self, FileVersion, MarkerLocation, MarkerStore};
use crate::object_store::{Expected, ObjectStore, version_changed};
use crate::pipeline::{self, FileProcessor, ProcessedFile};
use crate::publish::{ObjectError, Published, publish_claimed, publish_file};
use crate::sink::MetricSink;

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
    publish_claimed(store, sink, settings, loc, version, existing, file, now_ms).await
}

//! One S3 object through the pipeline: GetObject (the version its event named) streamed through
//! the async inflate into the core stages, then its batches through the one publish path,
//! exactly once per object version when `IDEMPOTENCY=on`.

use crate::columnar;
use crate::conditional::ConditionalStore;
use crate::decompress_async;
use crate::error::FileError;
use crate::event::ObjectRef;
use crate::idempotency::{self, FileVersion, MarkerLocation};
use crate::object_store::{Expected, ObjectStore, version_changed};
use crate::pipeline::{self, FileProcessor, ParquetProcessor, ProcessedFile};
use crate::publish::{ObjectError, Published, publish_claimed, publish_file};
use crate::settings::Settings;
use crate::sink::MetricSink;
use std::io;
use tokio::io::AsyncReadExt;
use tokio_util::either::Either;

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

/// Bytes read first: enough to tell Parquet from text by content, and a whole small log in one
/// GET.
pub const HEAD_BYTES: u64 = 64 * 1024;

/// [`read_object`], evaluating the publishable window at the time `window` picks once it knows
/// the object's ETag (a resumed file must be read as its first attempt read it).
///
/// The first GET reads the object's first [`HEAD_BYTES`]. Parquet (told by its magic bytes) is
/// then read by ranged GETs of its footer and of the column chunks it needs; anything else
/// streams on from where the head ended. Every read after the first is bound (`If-Match`) to
/// the ETag the first one returned.
pub async fn read_object_at<S: ObjectStore>(
    store: &S,
    settings: &Settings,
    obj: &ObjectRef,
    window: impl FnOnce(Option<&str>) -> i64,
) -> Result<ProcessedFile, FileError> {
    let file = obj.url();
    let config = &settings.metrics;
    let distribution = pipeline::distribution_for(&file, &obj.key, config);
    let expected = Expected {
        etag: obj.etag.as_deref(),
        version_id: obj.version_id.as_deref(),
    };
    let read_error = |source: io::Error| match version_changed(&source) {
        Some(v) => FileError::Superseded {
            file: file.clone(),
            expected: v.expected.clone(),
        },
        None => FileError::Read {
            file: file.clone(),
            source,
        },
    };
    let (head, mut meta) = store
        .get_range(&obj.bucket, &obj.key, expected, 0..HEAD_BYTES)
        .await
        .map_err(read_error)?;
    if head.is_empty() {
        // An empty object answers a ranged read with 416 and no ETag: ask for it whole.
        meta = store
            .get(&obj.bucket, &obj.key, expected, 0)
            .await
            .map_err(read_error)?
            .1;
    }
    // Not knowing whose log it is matters only if it is a log.
    let distribution = match distribution {
        Ok(d) => d,
        Err(e) => return Err(pipeline::content_verdict(&file, &head).unwrap_or(e)),
    };
    let pinned = Expected {
        etag: meta.etag.as_deref().or(expected.etag),
        version_id: expected.version_id,
    };
    let size = meta
        .size
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(head.len() as u64);
    let window = settings.window(window(meta.etag.as_deref()));
    let mut processed = if columnar::is_parquet(&head) {
        let mut p = ParquetProcessor::new(config, &distribution, window, size)
            .with_max_page_bytes(settings.max_parquet_page_bytes);
        let parquet_error = |source| FileError::Parquet {
            file: file.clone(),
            source,
        };
        while let Some(ranges) = p.wants().map_err(parquet_error)? {
            let mut fetched = Vec::with_capacity(ranges.len());
            for r in ranges {
                let start = r.start;
                let bytes = if r.end <= head.len() as u64 {
                    head.slice(r.start as usize..r.end as usize)
                } else {
                    let got = store.get_range(&obj.bucket, &obj.key, pinned, r).await;
                    got.map_err(read_error)?.0
                };
                fetched.push((start, bytes));
            }
            p.supply(fetched).map_err(parquet_error)?;
        }
        p.finish(&file, config)
    } else {
        let mut processor = FileProcessor::new(config, &distribution, window);
        let rest = if size > head.len() as u64 {
            let from = head.len() as u64;
            let got = store.get(&obj.bucket, &obj.key, pinned, from).await;
            Some(got.map_err(read_error)?.0)
        } else {
            None
        };
        // The head, then (for a larger object) the rest from where it ended.
        let head = std::io::Cursor::new(head);
        let reader = match rest {
            Some(rest) => Either::Left(head.chain(rest)),
            None => Either::Right(head),
        };
        let not_a_log = |source| FileError::NotALog {
            file: file.clone(),
            source,
        };
        let stream = decompress_async::stream_async(
            &file,
            reader,
            settings.max_decompressed_bytes,
            |chunk| processor.feed(chunk),
        )
        .await?
        .map_err(not_a_log)?;
        let finished = processor.finish().map_err(not_a_log)?;
        pipeline::complete(&file, config, stream, finished)
    };
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
    S: ObjectStore + ConditionalStore,
    M: MetricSink,
{
    publish_object_until(store, sink, settings, obj, now_ms, None).await
}

/// [`publish_object`], stopping at `deadline`: a read still running then is abandoned (nothing
/// of it was published); a publish starts no request after it, awaits those in flight and
/// records them, and fails with [`crate::sink::SinkError::Stopped`] for a retry to resume.
pub async fn publish_object_until<S, M>(
    store: &S,
    sink: &M,
    settings: &Settings,
    obj: &ObjectRef,
    now_ms: i64,
    deadline: Option<std::time::Instant>,
) -> Result<Published, ObjectError>
where
    S: ObjectStore + ConditionalStore,
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
    let read = read_object_at(store, settings, obj, |etag| {
        let etag = idempotency::normalize_etag(etag.unwrap_or(""));
        let existing = existing.as_ref().map(|(m, _)| m);
        window_ms = idempotency::window_for(existing, &etag, &fingerprint, now_ms);
        window_ms
    });
    let mut file = match deadline {
        None => read.await?,
        Some(d) => tokio::time::timeout_at(d.into(), read)
            .await
            .map_err(|_| ObjectError::Deadline { file: obj.url() })??,
    };
    let etag = idempotency::normalize_etag(file.etag.as_deref().unwrap_or(""));
    let namespace = &settings.metrics.namespace;
    // Series families an earlier part of this version published (another selection) are left
    // out: this part publishes only what is missing.
    let done = idempotency::published_families(existing.as_ref().map(|(m, _)| m), &etag);
    if !done.is_empty() {
        let missing = file
            .batches
            .drain(..)
            .flat_map(|b| b.datums)
            .filter(|d| !done.contains(&idempotency::family(namespace, d)))
            .collect();
        file.batches = crate::batch::batches(missing);
    }
    let version = FileVersion {
        bucket: obj.bucket.clone(),
        key: obj.key.clone(),
        families: idempotency::families(namespace, &file.batches),
        etag,
        fingerprint,
        digest: idempotency::digest(&file.batches),
        batches: file.batches.len(),
        window_ms,
    };
    publish_claimed(
        store, sink, settings, loc, version, existing, file, now_ms, deadline,
    )
    .await
}

/// An S3 object opened by [`open`]: Parquet (by its first bytes), or a stream of its content.
pub enum Opened<B> {
    /// Read by ranged GETs of its footer and column chunks ([`read_parquet`]), bound to the
    /// version the first GET returned.
    Parquet { size: u64, etag: Option<String> },
    /// The whole content, its first bytes included.
    Stream(tokio::io::Chain<std::io::Cursor<Vec<u8>>, B>),
}

/// Opens an object for `cflogs report` and `cflogs export`: one GetObject, its first bytes read
/// to tell Parquet from a stream of text or gzip, as [`read_object_at`] does for `process`.
pub async fn open<S: ObjectStore>(
    store: &S,
    obj: &ObjectRef,
    expected: Expected<'_>,
) -> io::Result<Opened<S::Body>> {
    let (mut body, meta) = store.get(&obj.bucket, &obj.key, expected, 0).await?;
    let mut head = vec![0u8; columnar::MAGIC.len()];
    let mut n = 0;
    while n < head.len() {
        match body.read(&mut head[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    head.truncate(n);
    if columnar::is_parquet(&head) {
        let size = meta.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
        return Ok(Opened::Parquet {
            size,
            etag: meta.etag,
        });
    }
    Ok(Opened::Stream(std::io::Cursor::new(head).chain(body)))
}

/// Reads the records of a Parquet object that fill `fields` by ranged GETs (bound to `etag`),
/// calling `on_record` for each accepted one: the reader `cflogs process` uses, for `report`
/// and `export`.
#[allow(clippy::too_many_arguments)]
pub async fn read_parquet<S: ObjectStore>(
    store: &S,
    obj: &ObjectRef,
    version_id: Option<&str>,
    etag: Option<&str>,
    size: u64,
    fields: crate::parse::FieldSet,
    max_page_bytes: u64,
    mut on_record: impl FnMut(&crate::parse::Record<'_>),
) -> Result<crate::parse::ParseStats, FileError> {
    let file = obj.url();
    let pinned = Expected { etag, version_id };
    let mut read = columnar::FileRead::new(size, fields).with_max_page_bytes(max_page_bytes);
    let parquet_error = |source| FileError::Parquet {
        file: file.clone(),
        source,
    };
    while let Some(ranges) = read.wants().map_err(parquet_error)? {
        let mut fetched = Vec::with_capacity(ranges.len());
        for r in ranges {
            let start = r.start;
            let (bytes, _) = store
                .get_range(&obj.bucket, &obj.key, pinned, r)
                .await
                .map_err(|source| FileError::Read {
                    file: file.clone(),
                    source,
                })?;
            fetched.push((start, bytes));
        }
        read.supply(fetched, &mut on_record)
            .map_err(parquet_error)?;
    }
    Ok(read.finish().0)
}

#[cfg(test)]
mod tests {
    //! The publish path over the in-memory doubles: fast, beside the moto scenarios of
    //! tests/exactly_once.rs.
    use super::*;
    use crate::idempotency::Clock;
    use crate::memory::{MemorySink, MemoryStore};
    use crate::parse::value::format_rfc3339;
    use std::time::Duration;

    const BUCKET: &str = "logs";
    const KEY: &str = "cf/E2MEMORYAAAAA.2026-11-20-12.abc.gz";
    /// 2026-11-20T12:00:00Z; the window is evaluated a day later.
    const START: i64 = 1_795_176_000_000;
    const NOW: i64 = START + 86_400_000;

    /// A W3C log of `n` records over `minutes` minutes and 40 edge locations.
    fn log(n: usize, minutes: i64) -> Vec<u8> {
        let mut s = String::from(
            "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type time-taken\n",
        );
        for i in 0..n {
            let ts = START + (i as i64 % minutes) * 60_000;
            let t = format_rfc3339(ts);
            let (d, t) = (&t[..10], &t[11..19]);
            s.push_str(&format!(
                "{d}\t{t}\tE{:02}-C1\t{}\t200\tHit\t0.0{}\n",
                (i as i64 / minutes) % 40,
                100 + i,
                i % 10
            ));
        }
        s.into_bytes()
    }

    /// Dimensions that make a file of several batches.
    fn settings() -> Settings {
        let mut s = Settings::default();
        s.metrics.dimension_sets =
            crate::config::parse_dimension_sets("t", "DistributionId;DistributionId,EdgeLocation")
                .unwrap();
        s.marker_lease_seconds = 2;
        s
    }

    fn object(etag: &str) -> ObjectRef {
        ObjectRef {
            bucket: BUCKET.into(),
            key: KEY.into(),
            etag: Some(etag.into()),
            version_id: None,
            size: None,
        }
    }

    fn marker(store: &MemoryStore) -> serde_json::Value {
        let key = format!("_cflm/processed/{KEY}.json");
        serde_json::from_slice(&store.bytes(BUCKET, &key).unwrap()).unwrap()
    }

    /// Every datum the file has, as a multiset of (metric, dimensions, minute, value) lines.
    fn lines(datums: &[crate::datum::Datum]) -> Vec<String> {
        let mut v: Vec<String> = datums.iter().map(|d| format!("{d:?}")).collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn failure_then_resume_then_duplicate_sends_every_datum_once() {
        let store = MemoryStore::default();
        let etag = store.put(BUCKET, KEY, log(4000, 60));
        let sink = MemorySink::default();
        let s = settings();
        let all = read_object(&store, &s, &object(&etag), NOW).await.unwrap();
        assert!(all.batches.len() >= 3, "{} batches", all.batches.len());
        sink.failing.lock().unwrap().insert(1);
        let e = publish_object(&store, &sink, &s, &object(&etag), NOW)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("batch 1"), "{e}");
        assert_eq!(marker(&store)["state"], "failed");
        sink.failing.lock().unwrap().clear();
        let p = publish_object(&store, &sink, &s, &object(&etag), NOW)
            .await
            .unwrap();
        assert!(p.already_sent >= 1, "{}", p.already_sent);
        let d = publish_object(&store, &sink, &s, &object(&etag), NOW)
            .await
            .unwrap();
        assert!(d.duplicate);
        let want: Vec<_> = all.batches.iter().flat_map(|b| b.datums.clone()).collect();
        assert_eq!(lines(&sink.datums()), lines(&want));
        assert_eq!(marker(&store)["state"], "done");
        // The file's freshness datums went out once, with the first attempt's delay.
        let fresh: Vec<_> = sink
            .datums()
            .into_iter()
            .filter(|d| d.metric.is_freshness())
            .collect();
        assert_eq!(fresh.len(), 2, "{fresh:?}");
        let newest = START + 59 * 60_000;
        assert_eq!(
            fresh[1].value,
            crate::datum::DatumValue::Distribution {
                values: vec![crate::datum::delay_s(NOW, newest)],
                counts: vec![1]
            }
        );
    }

    #[tokio::test]
    async fn a_refused_batch_is_recorded_and_never_resent() {
        let store = MemoryStore::default();
        let etag = store.put(BUCKET, KEY, log(4000, 60));
        let sink = MemorySink::default();
        sink.refused.lock().unwrap().insert(0);
        let s = settings();
        let p = publish_object(&store, &sink, &s, &object(&etag), NOW)
            .await
            .unwrap();
        assert_eq!(p.rejected_batches.len(), 1);
        assert!(
            p.rejected_batches[0]
                .starts_with(&format!("s3://{BUCKET}/{KEY}: CloudWatch rejected batch 0")),
            "{:?}",
            p.rejected_batches
        );
        let m = marker(&store);
        assert_eq!(
            (m["state"].as_str(), &m["rejected"]),
            (Some("done"), &serde_json::json!([0]))
        );
        let requests = sink.requests();
        let d = publish_object(&store, &sink, &s, &object(&etag), NOW)
            .await
            .unwrap();
        assert!(d.duplicate);
        assert_eq!(sink.requests(), requests);
        assert!(!sink.batches().contains(&0));
    }

    #[tokio::test]
    async fn an_overwritten_key_is_superseded_and_nothing_is_claimed() {
        let store = MemoryStore::default();
        let old = store.put(BUCKET, KEY, log(10, 5));
        store.put(BUCKET, KEY, log(20, 5));
        let sink = MemorySink::default();
        let e = publish_object(&store, &sink, &settings(), &object(&old), NOW)
            .await
            .unwrap_err();
        assert!(e.is_superseded(), "{e}");
        assert_eq!(sink.requests(), 0);
        assert!(store.keys(BUCKET, "_cflm/").is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_hanging_holder_renews_its_lease_and_a_dead_one_is_taken_over() {
        let store = MemoryStore::default();
        let etag = store.put(BUCKET, KEY, log(4000, 60));
        let s = settings(); // lease 2 s, renewed every 667 ms, taken over 2.5 s after
        let hanging = MemorySink::default();
        *hanging.hang_after.lock().unwrap() = Some(1);
        let obj = object(&etag);
        let run = publish_object(&store, &hanging, &s, &obj, NOW);
        let killed = tokio::time::timeout(Duration::from_secs(5), run).await;
        assert!(killed.is_err(), "it hangs");
        let m = marker(&store);
        let renewed_ago = Clock::system().now_ms() - m["updated_ms"].as_i64().unwrap();
        assert!(renewed_ago < 1_500, "renewed {renewed_ago} ms ago: {m}");
        let sink = MemorySink::default();
        let busy = publish_object(&store, &sink, &s, &object(&etag), NOW)
            .await
            .unwrap_err();
        assert!(
            busy.to_string().contains("being published by another"),
            "{busy}"
        );
        tokio::time::sleep(Duration::from_millis(2_500 + 200)).await;
        let p = publish_object(&store, &sink, &s, &object(&etag), NOW)
            .await
            .unwrap();
        assert_eq!(p.already_sent, 1);
        assert_eq!(marker(&store)["attempts"], 2);
    }

    /// Issue 25: the function reads a hostile Parquet object as `cflogs` does: a clear error
    /// naming the object, the row group and the column, without allocating what it declares.
    #[tokio::test]
    async fn the_function_refuses_a_hostile_parquet_object() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/parquet/hostile/"
        );
        for name in ["snappy-page-declares-2gb.parquet", "gzip-bomb.parquet"] {
            let bytes = std::fs::read(format!("{dir}{name}")).unwrap();
            let key = format!("cf/E2Q4ABCDEFGH.2023-11-14-22.{name}");
            let store = MemoryStore::default();
            store.put(BUCKET, &key, bytes);
            let obj = ObjectRef {
                bucket: BUCKET.into(),
                key: key.clone(),
                version_id: None,
                etag: None,
                size: None,
            };
            let e = read_object(&store, &Settings::default(), &obj, NOW)
                .await
                .unwrap_err();
            let want = format!("s3://{BUCKET}/{key}: Parquet: row group 0, column timestamp: ");
            assert!(e.to_string().starts_with(&want), "{e}");
        }
    }
}

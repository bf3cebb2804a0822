//! Batch Operations tasks over the in-memory doubles: every result code, schemas 1.0 and 2.0,
//! encoded keys, repeats, mixed batches and per-job overrides.

use super::*;
use crate::event::{self, Invocation};
use crate::memory::{MemorySink, MemoryStore};
use crate::parse::value::format_rfc3339;
use serde_json::json;
use std::time::Duration;

const BUCKET: &str = "logs";
/// 2026-11-20T12:00:00Z; the window is evaluated a day later.
const START: i64 = 1_795_176_000_000;
const NOW: i64 = START + 86_400_000;

/// A W3C log of `n` records over 5 minutes and 3 edge locations, in hour 2026-11-20T12.
fn log(n: usize) -> Vec<u8> {
    log_over(n, 3)
}

/// [`log`] over `edges` edge locations.
fn log_over(n: usize, edges: usize) -> Vec<u8> {
    let mut s = String::from(
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type time-taken\n",
    );
    for i in 0..n {
        let t = format_rfc3339(START + (i as i64 % 5) * 60_000);
        let (d, t) = (&t[..10], &t[11..19]);
        s.push_str(&format!(
            "{d}\t{t}\tE{:02}-C1\t{}\t200\tHit\t0.01\n",
            i % edges,
            100 + i
        ));
    }
    s.into_bytes()
}

fn key(dir: &str) -> String {
    format!("{dir}/E2MEMORYAAAAA.2026-11-20-12.abc.gz")
}

/// A Batch Operations event of `schema` over (task ID, URL-encoded key) pairs.
fn event(schema: &str, args: Value, tasks: &[(&str, &str)]) -> Value {
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|(id, k)| {
            if schema == "1.0" {
                json!({"taskId": id, "s3Key": k, "s3VersionId": null,
                       "s3BucketArn": format!("arn:aws:s3:::{BUCKET}")})
            } else {
                json!({"taskId": id, "s3Key": k, "s3VersionId": null, "s3Bucket": BUCKET})
            }
        })
        .collect();
    let mut job = json!({"id": "job-1"});
    if !args.is_null() {
        job["userArguments"] = args;
    }
    json!({"invocationSchemaVersion": schema, "invocationId": format!("inv-{schema}"),
           "job": job, "tasks": tasks})
}

async fn run(store: &MemoryStore, sink: &MemorySink, s: &Settings, e: &Value) -> Value {
    run_until(store, sink, s, e, None).await
}

async fn run_until(
    store: &MemoryStore,
    sink: &MemorySink,
    s: &Settings,
    e: &Value,
    deadline: Option<Instant>,
) -> Value {
    let Ok(Invocation::BatchOperations(job)) = event::parse(e, &s.marker_prefix) else {
        panic!("not read as a batch job: {e}");
    };
    answer(store, sink, s, job, NOW, deadline).await
}

/// (resultCode, the reason before the first ':') of each result.
fn codes(response: &Value) -> Vec<(String, String)> {
    response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = r["resultString"].as_str().unwrap();
            let reason = s.split(':').next().unwrap();
            (
                r["resultCode"].as_str().unwrap().to_owned(),
                reason.to_owned(),
            )
        })
        .collect()
}

fn pair(code: &str, reason: &str) -> (String, String) {
    (code.to_owned(), reason.to_owned())
}

/// The datums, as sorted debug lines.
fn lines(datums: &[crate::datum::Datum]) -> Vec<String> {
    let mut v: Vec<String> = datums.iter().map(|d| format!("{d:?}")).collect();
    v.sort();
    v
}

/// What reading an object gives, published or not.
async fn expected(store: &MemoryStore, s: &Settings, key: &str) -> Vec<String> {
    let obj = ObjectRef {
        bucket: BUCKET.into(),
        key: key.into(),
        version_id: None,
        etag: None,
        size: None,
    };
    let file = read_object(store, s, &obj, NOW).await.unwrap();
    lines(&file.datums().cloned().collect::<Vec<_>>())
}

#[tokio::test]
async fn both_schemas_publish_url_encoded_keys_with_spaces_plus_and_unicode() {
    let store = MemoryStore::default();
    let s = Settings::default();
    let keys = [key("cf/with space"), key("cf/a+b"), key("cf/ünï 😀")];
    let mut want = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        store.put(BUCKET, k, log(10 + i));
        want.extend(expected(&store, &s, k).await);
    }
    want.sort();
    let sink = MemorySink::default();
    let one = event(
        "1.0",
        Value::Null,
        &[("t1", "cf/with+space/E2MEMORYAAAAA.2026-11-20-12.abc.gz")],
    );
    let r1 = run(&store, &sink, &s, &one).await;
    assert_eq!(r1["invocationSchemaVersion"], "1.0");
    assert_eq!(r1["invocationId"], "inv-1.0");
    assert_eq!(r1["treatMissingKeysAs"], "PermanentFailure");
    assert_eq!(r1["results"][0]["taskId"], "t1");
    let two = event(
        "2.0",
        json!({}),
        &[
            ("t2", "cf/a%2Bb/E2MEMORYAAAAA.2026-11-20-12.abc.gz"),
            (
                "t3",
                "cf/%C3%BCn%C3%AF%20%F0%9F%98%80/E2MEMORYAAAAA.2026-11-20-12.abc.gz",
            ),
        ],
    );
    let r2 = run(&store, &sink, &s, &two).await;
    assert_eq!(r2["invocationSchemaVersion"], "2.0");
    let published = pair("Succeeded", "published");
    assert_eq!(codes(&r1), [pair("Succeeded", "published")]);
    assert_eq!(codes(&r2), [published.clone(), published]);
    assert_eq!(lines(&sink.datums()), want);
}

#[tokio::test]
async fn a_task_repeated_in_two_invocations_or_after_a_notification_publishes_once() {
    let store = MemoryStore::default();
    let s = Settings::default();
    let (a, b) = (key("cf/a"), key("cf/b"));
    store.put(BUCKET, &a, log(20));
    store.put(BUCKET, &b, log(30));
    let sink = MemorySink::default();
    // b first reaches the function as a notification would send it: the one publish path.
    let notified = ObjectRef {
        bucket: BUCKET.into(),
        key: b.clone(),
        version_id: None,
        etag: None,
        size: None,
    };
    crate::s3_object::publish_object(&store, &sink, &s, &notified, NOW)
        .await
        .unwrap();
    let e = event("2.0", Value::Null, &[("t1", &a), ("t2", &b)]);
    let first = run(&store, &sink, &s, &e).await;
    assert_eq!(
        codes(&first),
        [
            pair("Succeeded", "published"),
            pair("Succeeded", "duplicate")
        ]
    );
    let requests = sink.requests();
    let again = run(&store, &sink, &s, &e).await;
    assert_eq!(
        codes(&again),
        [
            pair("Succeeded", "duplicate"),
            pair("Succeeded", "duplicate")
        ]
    );
    assert_eq!(sink.requests(), requests);
    let mut want = expected(&store, &s, &a).await;
    want.extend(expected(&store, &s, &b).await);
    want.sort();
    assert_eq!(lines(&sink.datums()), want);
}

#[tokio::test]
async fn a_mixed_batch_answers_each_task_and_publishes_the_good_ones() {
    let store = MemoryStore::default();
    let s = Settings::default();
    let (a, c) = (key("cf/a"), key("cf/c"));
    store.put(BUCKET, &a, log(7));
    store.put(BUCKET, &c, log(9));
    let not_a_log = key("cf/binary");
    store.put(BUCKET, &not_a_log, vec![0u8, 159, 146, 150, 1, 2, 3]);
    let sink = MemorySink::default();
    let e = event(
        "1.0",
        Value::Null,
        &[
            ("t1", &a),
            ("t2", &key("cf/missing")),
            ("t3", &c),
            ("t4", &not_a_log),
        ],
    );
    let r = run(&store, &sink, &s, &e).await;
    assert_eq!(
        codes(&r),
        [
            pair("Succeeded", "published"),
            pair("PermanentFailure", "missing"),
            pair("Succeeded", "published"),
            pair("PermanentFailure", "not a log"),
        ]
    );
    let ids: Vec<&str> = (0..4)
        .map(|i| r["results"][i]["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t1", "t2", "t3", "t4"]);
    let mut want = expected(&store, &s, &a).await;
    want.extend(expected(&store, &s, &c).await);
    want.sort();
    assert_eq!(lines(&sink.datums()), want);
}

#[tokio::test]
async fn cloudwatch_failures_are_temporary_and_the_retry_publishes() {
    let store = MemoryStore::default();
    let s = Settings::default();
    let a = key("cf/a");
    store.put(BUCKET, &a, log(12));
    let sink = MemorySink::default();
    sink.failing.lock().unwrap().insert(0);
    let e = event("2.0", Value::Null, &[("t1", &a)]);
    let r = run(&store, &sink, &s, &e).await;
    assert_eq!(
        codes(&r),
        [pair("TemporaryFailure", "cloudwatch unavailable")]
    );
    assert!(sink.datums().is_empty());
    sink.failing.lock().unwrap().clear();
    let r = run(&store, &sink, &s, &e).await;
    assert_eq!(codes(&r), [pair("Succeeded", "published")]);
    assert_eq!(lines(&sink.datums()), expected(&store, &s, &a).await);
}

#[tokio::test]
async fn a_batch_refused_for_good_is_a_permanent_failure() {
    let store = MemoryStore::default();
    let a = key("cf/a");
    store.put(BUCKET, &a, log(12));
    let sink = MemorySink::default();
    sink.refused.lock().unwrap().insert(0);
    let e = event("2.0", Value::Null, &[("t1", &a)]);
    let r = run(&store, &sink, &Settings::default(), &e).await;
    assert_eq!(
        codes(&r),
        [pair("PermanentFailure", "refused by cloudwatch")]
    );
}

#[tokio::test]
async fn too_old_is_permanent_whether_the_key_or_the_records_say_so() {
    let store = MemoryStore::default();
    let s = Settings::default();
    // Hour 2026-11-01T00: more than two weeks before NOW. Not stored: it must not be read.
    let old = "cf/E2MEMORYAAAAA.2026-11-01-00.abc.gz";
    // No hour in the key: read, and every record is found stale.
    let unnamed = "cf/E2MEMORYAAAAA/access.log";
    store.put(BUCKET, unnamed, log(6));
    let sink = MemorySink::default();
    let e = event("2.0", Value::Null, &[("t1", old), ("t2", unnamed)]);
    let later = NOW + 20 * 86_400_000;
    let Ok(Invocation::BatchOperations(job)) = event::parse(&e, "_cflm/") else {
        panic!("not a batch job");
    };
    let r = answer(&store, &sink, &s, job, later, None).await;
    let too_old = pair("PermanentFailure", "too old");
    assert_eq!(codes(&r), [too_old.clone(), too_old]);
    assert!(
        r["results"][1]["resultString"]
            .as_str()
            .unwrap()
            .contains("all 6 records"),
        "{r}"
    );
    assert_eq!(sink.requests(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_claim_elsewhere_is_busy() {
    let store = MemoryStore::default();
    let s = Settings::default();
    let a = key("cf/a");
    store.put(BUCKET, &a, log(12));
    let hanging = MemorySink::default();
    *hanging.hang_after.lock().unwrap() = Some(0);
    let e = event("2.0", Value::Null, &[("t1", &a)]);
    // The first invocation hangs in PutMetricData, holding the claim, and is killed.
    let killed = tokio::time::timeout(Duration::from_millis(300), run(&store, &hanging, &s, &e));
    assert!(killed.await.is_err());
    let sink = MemorySink::default();
    let r = run(&store, &sink, &s, &e).await;
    assert_eq!(codes(&r), [pair("TemporaryFailure", "busy")]);
    assert_eq!(sink.requests(), 0);
}

/// Dimensions that give the 12-record log several batches.
fn wide() -> Settings {
    let mut s = Settings::default();
    s.metrics.dimension_sets = crate::config::parse_dimension_sets(
        "t",
        "DistributionId;DistributionId,EdgeLocation;EdgeLocation,ResultType",
    )
    .unwrap();
    s.metrics.max_dimension_values = 1000;
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_mid_publish_awaits_and_records_what_was_sent() {
    let store = MemoryStore::default();
    let mut s = wide();
    s.put_concurrency = 2;
    let a = key("cf/a");
    store.put(BUCKET, &a, log_over(6000, 600));
    let want = expected(&store, &s, &a).await;
    // CloudWatch accepts each request at once but answers 200 ms later: at the deadline two are
    // in flight, accepted, unanswered.
    let sink = MemorySink::default();
    *sink.answer_delay.lock().unwrap() = Duration::from_millis(200);
    let e = event("2.0", Value::Null, &[("t1", &a)]);
    let deadline = Instant::now() + Duration::from_millis(300);
    let r = run_until(&store, &sink, &s, &e, Some(deadline)).await;
    assert_eq!(codes(&r), [pair("TemporaryFailure", "timeout")]);
    assert!(sink.requests() >= 2, "{}", sink.requests());
    // The job's retry sends only what no attempt recorded.
    *sink.answer_delay.lock().unwrap() = Duration::ZERO;
    let r = run(&store, &sink, &s, &e).await;
    assert_eq!(codes(&r), [pair("Succeeded", "published")]);
    assert_eq!(lines(&sink.datums()), want);
}

#[tokio::test]
async fn unreadable_tasks_and_bad_arguments_are_permanent_failures() {
    let store = MemoryStore::default();
    let s = Settings::default();
    let a = key("cf/a");
    store.put(BUCKET, &a, log(3));
    let sink = MemorySink::default();
    let mut e = event(
        "2.0",
        Value::Null,
        &[("t1", &a), ("t2", "_cflm/processed/x.json")],
    );
    e["tasks"][0]["s3Bucket"] = Value::Null;
    let r = run(&store, &sink, &s, &e).await;
    assert_eq!(
        codes(&r),
        [
            pair("PermanentFailure", "bad task"),
            pair("PermanentFailure", "bad task")
        ]
    );
    for (args, says) in [
        (
            json!({"dimensions": "DistributionId,Colour"}),
            "userArguments.dimensions",
        ),
        (json!({"colour": "blue"}), "unknown key \"colour\""),
        (json!({"dryRun": "perhaps"}), "userArguments.dryRun"),
    ] {
        let e = event("2.0", args, &[("t1", &a)]);
        let r = run(&store, &sink, &s, &e).await;
        assert_eq!(codes(&r), [pair("PermanentFailure", "bad arguments")]);
        let text = r["results"][0]["resultString"].as_str().unwrap();
        assert!(text.contains(says), "{text}");
    }
    assert_eq!(sink.requests(), 0);
    assert!(store.keys(BUCKET, "_cflm/").is_empty());
}

#[tokio::test]
async fn a_dry_run_counts_and_publishes_nothing() {
    let store = MemoryStore::default();
    let a = key("cf/a");
    store.put(BUCKET, &a, log(11));
    let sink = MemorySink::default();
    let e = event("2.0", json!({"dryRun": "true"}), &[("t1", &a)]);
    let r = run(&store, &sink, &Settings::default(), &e).await;
    assert_eq!(codes(&r), [pair("Succeeded", "dry run")]);
    let text = r["results"][0]["resultString"].as_str().unwrap();
    assert!(text.starts_with("dry run: 11 records"), "{text}");
    assert_eq!(sink.requests(), 0);
    assert!(store.keys(BUCKET, "_cflm/").is_empty());
}

/// Sum of `metric` over datums with only the DistributionId dimension.
fn total(sink: &MemorySink, metric: crate::catalogue::Metric) -> u64 {
    sink.datums()
        .iter()
        .filter(|d| d.metric == metric && d.dimensions.len() == 1)
        .map(|d| match d.value {
            crate::datum::DatumValue::Value(v) => v,
            _ => 0,
        })
        .sum()
}

#[tokio::test]
async fn a_backfill_with_overrides_publishes_only_what_is_missing() {
    use crate::catalogue::Metric;
    let store = MemoryStore::default();
    let mut s = Settings::default();
    s.metrics.include = crate::config::parse_include("t", "Requests").unwrap();
    let a = key("cf/a");
    store.put(BUCKET, &a, log(100));
    let sink = MemorySink::default();
    let plain = event("2.0", Value::Null, &[("t1", &a)]);
    assert_eq!(
        codes(&run(&store, &sink, &s, &plain).await),
        [pair("Succeeded", "published")]
    );
    assert_eq!(total(&sink, Metric::Requests), 100);
    // A job adds a metric, another a dimension set, a third both again.
    for args in [
        json!({"include": "Requests,BytesDownloaded"}),
        json!({"dimensions": "DistributionId;DistributionId,EdgeLocation", "maxDimensionValues": "50"}),
        json!({"include": "Requests,BytesDownloaded", "dimensions": "DistributionId;DistributionId,EdgeLocation"}),
    ] {
        let e = event("2.0", args, &[("t1", &a)]);
        run(&store, &sink, &s, &e).await;
        run(&store, &sink, &s, &e).await;
    }
    assert_eq!(total(&sink, Metric::Requests), 100);
    let bytes: u64 = (0..100).map(|i| 100 + i).sum();
    assert_eq!(total(&sink, Metric::BytesDownloaded), bytes);
    let edge: u64 = sink
        .datums()
        .iter()
        .filter(|d| d.metric == Metric::Requests && d.dimensions.len() == 2)
        .map(|d| match d.value {
            crate::datum::DatumValue::Value(v) => v,
            _ => 0,
        })
        .sum();
    assert_eq!(edge, 100);
    // One marker for the file, whatever the jobs' selections.
    assert_eq!(
        store.keys(BUCKET, "_cflm/processed/"),
        [format!("_cflm/processed/{a}.json")]
    );
    // The third job found everything published: a duplicate.
    let e = event(
        "2.0",
        json!({"include": "Requests,BytesDownloaded"}),
        &[("t1", &a)],
    );
    assert_eq!(
        codes(&run(&store, &sink, &s, &e).await),
        [pair("Succeeded", "duplicate")]
    );
}

#[tokio::test]
async fn a_namespace_override_is_its_own_series() {
    let store = MemoryStore::default();
    // A namespace of the job's own needs the stack's leave.
    let s = Settings {
        allow_namespace_override: true,
        ..Settings::default()
    };
    let a = key("cf/a");
    store.put(BUCKET, &a, log(12));
    let sink = MemorySink::default();
    run(&store, &sink, &s, &event("2.0", Value::Null, &[("t1", &a)])).await;
    let before = sink.datums().len();
    let args = json!({"namespace": "Backfill/Test"});
    let e = event("2.0", args.clone(), &[("t1", &a)]);
    assert_eq!(
        codes(&run(&store, &sink, &s, &e).await),
        [pair("Succeeded", "published")]
    );
    assert_eq!(
        codes(&run(&store, &sink, &s, &e).await),
        [pair("Succeeded", "duplicate")]
    );
    let overridden = job_settings(&s, &serde_json::from_value(args).unwrap()).unwrap();
    assert_eq!(
        lines(&sink.datums()[before..]),
        expected(&store, &overridden.settings, &a).await
    );
}

#[test]
fn errors_map_to_their_codes() {
    use crate::error::FileError;
    let file = || "s3://logs/k".to_owned();
    let read = |kind| {
        ObjectError::File(FileError::Read {
            file: file(),
            source: io::Error::new(kind, "x"),
        })
    };
    let marker = |source| ObjectError::Marker {
        file: file(),
        source,
    };
    let cases = [
        (
            read(io::ErrorKind::NotFound),
            ResultCode::PermanentFailure,
            "missing",
        ),
        (
            read(io::ErrorKind::PermissionDenied),
            ResultCode::PermanentFailure,
            "access denied",
        ),
        (
            read(io::ErrorKind::TimedOut),
            ResultCode::TemporaryFailure,
            "read failed",
        ),
        (
            ObjectError::File(FileError::Superseded {
                file: file(),
                expected: "e".into(),
            }),
            ResultCode::PermanentFailure,
            "superseded",
        ),
        (
            ObjectError::File(FileError::TruncatedGzip { file: file() }),
            ResultCode::PermanentFailure,
            "not a log",
        ),
        (
            marker(MarkerError::Incompatible {
                marker: "m".into(),
                sent: 1,
                batches: 2,
            }),
            ResultCode::PermanentFailure,
            "marker",
        ),
        (
            marker(MarkerError::Contended { marker: "m".into() }),
            ResultCode::TemporaryFailure,
            "marker",
        ),
        (
            ObjectError::Publish {
                file: file(),
                source: SinkError::Put {
                    batch: 0,
                    message: "Throttling".into(),
                },
            },
            ResultCode::TemporaryFailure,
            "cloudwatch unavailable",
        ),
    ];
    for (e, code, reason) in cases {
        let r = classify(&Err(e), false);
        assert_eq!((r.code, r.reason), (code, reason), "{}", r.detail);
    }
}

#[test]
fn result_strings_are_cut_on_a_character_boundary() {
    let r = TaskResult::new(ResultCode::Succeeded, "published", "é".repeat(1000));
    let s = r.result_string();
    assert!(s.len() <= MAX_RESULT_STRING + '…'.len_utf8(), "{}", s.len());
    assert!(s.ends_with('…'));
}

#[test]
fn too_old_goes_by_the_keys_hour_with_an_hour_of_slack() {
    // Hour 2026-11-20T12 ends at START + 1 h; with the slack, too old from 2 h past 14 days.
    let k = key("cf");
    assert!(!too_old(&k, START + MAX_AGE_MS + 2 * 3_600_000));
    assert!(too_old(&k, START + MAX_AGE_MS + 2 * 3_600_000 + 1));
    assert!(!too_old("cf/no-hour.log", i64::MAX / 2));
}

//! Tests of [`super`]: every event shape, valid and malformed, and the sample events.

use super::*;
use serde_json::json;

fn s3_record(key: &str, name: &str) -> Value {
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-21T12:00:00.000Z", "eventName": name,
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "x",
            "bucket": {"name": "logs", "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::logs"},
            "object": {"key": key, "size": 10, "eTag": "abc", "sequencer": "01"}}
    })
}

fn put(key: &str) -> Value {
    s3_record(key, "ObjectCreated:Put")
}

/// `put(key)` with `path` (dotted, under the record) set to `v`, or removed when `v` is null.
fn put_with(key: &str, path: &str, v: Value) -> Value {
    let mut r = put(key);
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    let mut at = &mut r;
    for p in parent.split('.').filter(|p| !p.is_empty()) {
        at = &mut at[p];
    }
    match v {
        Value::Null => at.as_object_mut().unwrap().remove(last),
        v => at.as_object_mut().unwrap().insert(last.to_owned(), v),
    };
    r
}

fn sqs(id: Option<&str>, body: &str) -> Value {
    let mut m = json!({"receiptHandle": "r", "eventSource": "aws:sqs", "body": body});
    if let Some(id) = id {
        m["messageId"] = json!(id);
    }
    m
}

fn eventbridge(id: &str, detail: Value) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-21T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:s3:::logs"], "detail": detail})
}

fn on_failure(original: Value) -> Value {
    json!({"version": "1.0", "timestamp": "2026-11-21T12:00:00Z",
        "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": original, "responseContext": {"statusCode": 200}})
}

/// Objects as `s3://bucket/key` (`?versionId=` when the event named a version), errors, and
/// for SQS the message ID of each failing message.
fn outcome(inv: Invocation) -> (Vec<String>, Vec<String>, Vec<Option<String>>) {
    let units = match inv {
        Invocation::Direct(u) => vec![u],
        Invocation::Sqs(us) => us,
        Invocation::TestEvent
        | Invocation::Kinesis
        | Invocation::Firehose
        | Invocation::Scheduled => vec![],
        Invocation::BatchOperations(job) => {
            let mut unit = WorkUnit::default();
            for t in job.tasks {
                match t.object {
                    Ok(o) => unit.objects.push(o),
                    Err(e) => unit.errors.push(format!("task {}: {e}", t.task_id)),
                }
            }
            vec![unit]
        }
    };
    let objects = units
        .iter()
        .flat_map(|u| &u.objects)
        .map(|o| match &o.version_id {
            Some(v) => format!("{}?versionId={v}", o.url()),
            None => o.url(),
        });
    let errors = units.iter().flat_map(|u| u.errors.clone()).collect();
    let failing = units.iter().filter(|u| !u.errors.is_empty());
    let failing = failing.map(|u| u.message_id.clone()).collect();
    (objects.collect(), errors, failing)
}

/// A case: its name, the event, the objects that come out, the errors (fragments each must
/// contain, in order) and the message ID of each failing unit (`None`: a direct invocation, or
/// a message without one).
type Case = (
    &'static str,
    Value,
    Vec<&'static str>,
    Vec<Vec<&'static str>>,
    Vec<Option<&'static str>>,
);

#[test]
fn malformed_records_are_named_and_never_hide_valid_ones() {
    let two_good_one_bad = json!({"Records": [put("a.gz"), json!(7), put("c.gz")]});
    let s3_batch = |records: Vec<Value>| json!({"Records": records}).to_string();
    let cases: Vec<Case> = vec![
        (
            "S3: record without bucket",
            json!({"Records": [put("a.gz"), put_with("b.gz", "s3.bucket.name", Value::Null)]}),
            vec!["s3://logs/a.gz"],
            vec![vec!["Records[1]", "s3.bucket.name is missing"]],
            vec![None],
        ),
        (
            "S3: record without key",
            json!({"Records": [put_with("x", "s3.object.key", Value::Null), put("a.gz")]}),
            vec!["s3://logs/a.gz"],
            vec![vec!["Records[0]", "s3.object.key is missing"]],
            vec![None],
        ),
        (
            "S3: a non-object record between two valid ones",
            two_good_one_bad.clone(),
            vec!["s3://logs/a.gz", "s3://logs/c.gz"],
            vec![vec!["Records[1]", "not an object but a number"]],
            vec![None],
        ),
        (
            "S3: wrong types, empty key, key not UTF-8 once decoded",
            json!({"Records": [
                put_with("a.gz", "s3.object.size", json!("10")),
                put_with("x", "s3.object.key", json!(5)),
                put_with("b.gz", "s3.bucket", json!("logs")),
                put(""),
                put("ok%2Bv.gz"),
                put("caf%FF.gz"),
                put_with("v.gz", "s3.object.versionId", json!("3HL4kqtJ")),
            ]}),
            vec!["s3://logs/ok+v.gz", "s3://logs/v.gz?versionId=3HL4kqtJ"],
            vec![
                vec!["Records[0]", "s3.object.size is a string, not an integer"],
                vec!["Records[1]", "s3.object.key is a number, not a string"],
                vec!["Records[2]", "s3.bucket is a string, not an object"],
                vec!["Records[3]", "s3.object.key is empty"],
                vec!["Records[5]", "s3.object.key \"caf%FF.gz\"", "not UTF-8"],
            ],
            vec![None],
        ),
        (
            "SQS: non-JSON body, JSON but not S3, no messageId, bad record between two good",
            json!({"Records": [
                sqs(Some("m1"), &s3_batch(vec![put("a.gz")])),
                sqs(Some("m2"), "not json"),
                sqs(Some("m3"), "{\"Message\": \"hello\"}"),
                sqs(Some("m4"), "\"a string\""),
                sqs(None, "{}"),
                sqs(Some("m6"), &s3_batch(vec![put("b.gz"), put_with("x.gz", "s3.bucket.name", Value::Null), put("c.gz")])),
                sqs(Some(""), &s3_batch(vec![put("d.gz")])),
                sqs(Some("m8"), "{\"Event\":\"s3:TestEvent\"}"),
            ]}),
            vec![
                "s3://logs/a.gz",
                "s3://logs/b.gz",
                "s3://logs/c.gz",
                "s3://logs/d.gz",
            ],
            vec![
                vec!["SQS message m2 (Records[1])", "body is not JSON"],
                vec![
                    "SQS message m3 (Records[2])",
                    "body is a JSON object, not an S3 notification",
                ],
                vec![
                    "SQS message m4 (Records[3])",
                    "body is a string, not an S3 notification",
                ],
                vec![
                    "SQS message Records[4] (no messageId)",
                    "body is a JSON object, not an S3",
                ],
                vec![
                    "SQS message m6 (Records[5])",
                    "body Records[1]",
                    "s3.bucket.name is missing",
                ],
            ],
            vec![Some("m2"), Some("m3"), Some("m4"), None, Some("m6")],
        ),
        (
            "SQS: a message that is not an object, one without body",
            json!({"Records": [sqs(Some("m1"), &s3_batch(vec![put("a.gz")])), json!("x"),
                json!({"messageId": "m3", "eventSource": "aws:sqs"})]}),
            vec!["s3://logs/a.gz"],
            vec![
                vec![
                    "SQS message Records[1] (no messageId)",
                    "not an object but a string",
                ],
                vec!["SQS message m3 (Records[2])", "body is missing"],
            ],
            vec![None, Some("m3")],
        ),
        (
            "EventBridge: no bucket",
            eventbridge("ev-1", json!({"object": {"key": "k.gz", "size": 5}})),
            vec![],
            vec![vec![
                "EventBridge event ev-1",
                "detail.bucket.name is missing",
            ]],
            vec![None],
        ),
        (
            "EventBridge: detail of the wrong type",
            eventbridge("ev-2", json!("nothing")),
            vec![],
            vec![vec![
                "EventBridge event ev-2",
                "detail is a string, not an object",
            ]],
            vec![None],
        ),
        (
            "EventBridge: version and etag carried",
            eventbridge(
                "ev-3",
                json!({"bucket": {"name": "b"},
                "object": {"key": "k:1.gz", "etag": "e", "version-id": "v1"}}),
            ),
            vec!["s3://b/k:1.gz?versionId=v1"],
            vec![],
            vec![],
        ),
        (
            "on-failure record: a bad record between two valid ones",
            on_failure(two_good_one_bad),
            vec!["s3://logs/a.gz", "s3://logs/c.gz"],
            vec![vec!["Records[1]", "not an object but a number"]],
            vec![None],
        ),
        (
            "on-failure record of an EventBridge event without key",
            on_failure(eventbridge(
                "ev-4",
                json!({"bucket": {"name": "b"}, "object": {}}),
            )),
            vec![],
            vec![vec![
                "EventBridge event ev-4",
                "detail.object.key is missing",
            ]],
            vec![None],
        ),
    ];
    for (case, event, objects, errors, failing) in cases {
        let inv = parse(&event, "_cflm/").unwrap_or_else(|e| panic!("{case}: {e}"));
        let (got_objects, got_errors, got_failing) = outcome(inv);
        assert_eq!(got_objects, objects, "{case}");
        assert_eq!(got_errors.len(), errors.len(), "{case}: {got_errors:?}");
        for (got, want) in got_errors.iter().zip(&errors) {
            let mut rest = got.as_str();
            for fragment in want {
                let at = rest.find(fragment).unwrap_or_else(|| {
                    panic!("{case}: error {got:?} lacks {fragment:?} (in order)")
                });
                rest = &rest[at + fragment.len()..];
            }
        }
        let failing: Vec<Option<String>> = failing.iter().map(|f| f.map(str::to_owned)).collect();
        assert_eq!(got_failing, failing, "{case}");
    }
}

#[test]
fn keys_are_url_decoded_plus_is_space() {
    assert_eq!(
        decode_notification_key("a+b%2Bc%3A%20d").unwrap(),
        "a b+c: d"
    );
    assert_eq!(decode_notification_key("caf%C3%A9").unwrap(), "café");
    assert!(decode_notification_key("caf%E9").is_err());
}

#[test]
fn s3_notification_with_several_records() {
    let ev = json!({"Records": [
        put("cf/E2Q4ABCDEFGH.2026-11-21-12.a+b.gz"),
        put("cf/"),
        put("_cflm/processed/x.json"),
        s3_record("cf/y.gz", "ObjectRemoved:Delete"),
    ]});
    let Invocation::Direct(unit) = parse(&ev, "_cflm/").unwrap() else {
        panic!("not direct")
    };
    assert_eq!(unit.objects.len(), 1);
    assert_eq!(unit.objects[0].key, "cf/E2Q4ABCDEFGH.2026-11-21-12.a b.gz");
    assert_eq!(unit.objects[0].etag.as_deref(), Some("abc"));
    assert_eq!(unit.objects[0].size, Some(10));
    assert_eq!(unit.ignored.len(), 3);
    assert!(unit.errors.is_empty());
}

#[test]
fn sqs_wrapped_notifications_and_test_events() {
    let body = json!({"Records": [put("k%20one.gz")]}).to_string();
    let ev = json!({"Records": [
        sqs(Some("m1"), &body),
        sqs(Some("m3"), "{\"Event\":\"s3:TestEvent\"}"),
    ]});
    let Invocation::Sqs(units) = parse(&ev, "_cflm/").unwrap() else {
        panic!("not sqs")
    };
    assert_eq!(units[0].message_id.as_deref(), Some("m1"));
    assert_eq!(units[0].objects[0].key, "k one.gz");
    assert_eq!(units[1].message_id.as_deref(), Some("m3"));
    assert!(units[1].objects.is_empty() && units[1].errors.is_empty());
}

#[test]
fn eventbridge_keys_are_taken_as_written() {
    let ev = eventbridge(
        "x",
        json!({"version": "0", "bucket": {"name": "b"},
        "object": {"key": "raw/2023-08-08T14:03:40.532432+x%20.zip", "size": 5, "etag": "e"}}),
    );
    let Invocation::Direct(unit) = parse(&ev, "_cflm/").unwrap() else {
        panic!("not direct")
    };
    let o = &unit.objects[0];
    assert_eq!(o.key, "raw/2023-08-08T14:03:40.532432+x%20.zip");
    assert_eq!(
        (o.etag.as_deref(), o.size, o.version_id.as_deref()),
        (Some("e"), Some(5), None)
    );
}

#[test]
fn on_failure_destination_records_replay_the_original_event() {
    let original = json!({"Records": [put("cf/E2Q4ABCDEFGH.2026-11-21-12.x.gz")]});
    assert_eq!(
        parse(&on_failure(original.clone()), "").unwrap(),
        parse(&original, "").unwrap()
    );
    // EventBridge's dead letters are the event itself, as the failure queue's body.
    let ev = eventbridge(
        "x",
        json!({"bucket": {"name": "b"}, "object": {"key": "k.gz"}}),
    );
    let Invocation::Direct(unit) = parse(&ev, "").unwrap() else {
        panic!("not direct")
    };
    assert_eq!(unit.objects[0].url(), "s3://b/k.gz");
}

#[test]
fn test_event_and_garbage() {
    let ev = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
    assert_eq!(parse(&ev, "").unwrap(), Invocation::TestEvent);
    for garbage in [
        json!({"x": 1}),
        json!([1]),
        json!("Records"),
        json!({"Records": 1}),
    ] {
        assert!(matches!(parse(&garbage, ""), Err(EventError::Unrecognised)));
    }
}

#[test]
fn sample_events_parse_without_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        seen += 1;
        // Kinesis events are the Kinesis entry point's (its own tests run the sample).
        let inv = parse(&v, "_cflm/processed/").unwrap();
        match inv {
            Invocation::Firehose => {
                assert!(!crate::firehose::transform(&v, &Default::default()).is_empty());
                continue;
            }
            Invocation::Kinesis => {
                let (batches, errors) = crate::kinesis::shard_batches(&v);
                assert!(
                    errors.is_empty() && batches.len() == 1,
                    "{}",
                    path.display()
                );
                continue;
            }
            Invocation::Scheduled => continue,
            _ => {}
        }
        let test_event = inv == Invocation::TestEvent;
        let (objects, errors, _) = outcome(inv);
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        assert!(test_event || !objects.is_empty(), "{}", path.display());
    }
    assert_eq!(seen, 12);
}

/// Issue 29: an export document, an export error, a Batch Operations manifest or report under
/// the trigger's prefix (a prefix nested inside LogPrefix, which CloudFormation's rules cannot
/// refuse) is skipped as the markers are, in every event shape, and never read.
#[test]
fn keys_under_the_stack_s_own_prefixes_are_skipped() {
    let own = OwnPrefixes {
        marker: "logs/_cflm/processed/",
        export: "logs/export/",
        batch: "logs/_cflm/batch/",
    };
    let skipped = [
        (
            "logs/export/2026/11/21/cflm-export-1.gz",
            "export object of this stack",
        ),
        (
            "logs/export/errors/processing-failed/2026/11/21/x.gz",
            "export object of this stack",
        ),
        (
            "logs/_cflm/batch/manifests/job-1.csv",
            "S3 Batch Operations file of this stack",
        ),
        (
            "logs/_cflm/batch/reports/job-1/manifest.json",
            "S3 Batch Operations file of this stack",
        ),
        (
            "logs/_cflm/processed/x.gz.json",
            "marker object of this function",
        ),
    ];
    let log = "logs/E2Q4ABCDEFGH.2026-11-21-12.abc.gz";
    for (key, why) in skipped {
        assert_eq!(own.ignore_reason(key), Some(why), "{key}");
        let direct = json!({"Records": [put(key), put(log)]});
        let Invocation::Direct(unit) = parse(&direct, own).unwrap() else {
            panic!("not direct")
        };
        assert_eq!(unit.ignored, [(key.to_owned(), why)]);
        assert_eq!(unit.objects.len(), 1, "{key}");
        assert!(unit.errors.is_empty());
        let eb = eventbridge(
            "e",
            json!({"bucket": {"name": "logs"}, "object": {"key": key}}),
        );
        let Invocation::Direct(unit) = parse(&eb, own).unwrap() else {
            panic!("not direct")
        };
        assert_eq!(unit.ignored, [(key.to_owned(), why)]);
        assert!(unit.objects.is_empty() && unit.errors.is_empty());
        let body = json!({"Records": [put(key)]}).to_string();
        let Invocation::Sqs(units) =
            parse(&json!({"Records": [sqs(Some("m1"), &body)]}), own).unwrap()
        else {
            panic!("not sqs")
        };
        assert_eq!(units[0].ignored, [(key.to_owned(), why)]);
        assert!(units[0].objects.is_empty() && units[0].errors.is_empty());
    }
    assert_eq!(own.ignore_reason(log), None);
    // A sibling that only starts like a prefix is a log (the template's prefixes end in "/").
    assert_eq!(own.ignore_reason("logs/exported.gz"), None);
    // Empty prefixes name nothing; a marker prefix alone converts, as before.
    assert_eq!(OwnPrefixes::default().ignore_reason(log), None);
    assert_eq!(
        OwnPrefixes::from("_cflm/").ignore_reason("_cflm/x"),
        Some("marker object of this function")
    );
}

/// Through the handler, as the Lambda runs it: the export's own objects under LogPrefix cost
/// an invocation and nothing else: not read, no marker, no datum, no rejected line, no failure
/// (so no retry and no failure-queue message).
#[tokio::test]
async fn the_handler_skips_export_and_batch_keys_without_a_marker_or_a_retry() {
    use crate::memory::{MemorySink, MemoryStore};
    let settings = crate::settings::Settings::from_lookup(|var| {
        let v = match var {
            "MARKER_PREFIX" => "logs/_cflm/processed/",
            "EXPORT_PREFIX" => "logs/export/",
            "BATCH_OPERATIONS_PREFIX" => "logs/_cflm/batch/",
            _ => return None,
        };
        Some((v.to_owned(), var))
    })
    .unwrap();
    let store = MemoryStore::default();
    // Not a log: read, it would be rejected (and fail the invocation).
    let keys = [
        "logs/export/2026/11/21/cflm-export-1.gz",
        "logs/export/errors/processing-failed/2026/11/21/x.gz",
        "logs/_cflm/batch/manifests/job-1.csv",
    ];
    for key in keys {
        store.put("logs", key, b"{\"not\": \"a log\"}\n".to_vec());
    }
    let handler = crate::handler::Handler {
        store,
        sink: MemorySink::default(),
        settings,
    };
    let event = json!({"Records": keys.iter().map(|k| put(k)).collect::<Vec<_>>()});
    let answer = handler
        .handle_until(&event, 1_795_179_600_000, None)
        .await
        .unwrap();
    assert_eq!(answer["files"], 0, "{answer}");
    assert_eq!(answer["rejected"], 0, "{answer}");
    assert!(
        handler
            .store
            .keys("logs", "logs/_cflm/processed/")
            .is_empty()
    );
    assert!(handler.sink.datums().is_empty());
}

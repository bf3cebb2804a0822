//! Stage "event": what a Lambda invocation asks for. S3 event notifications (direct or inside SQS
//! messages), EventBridge "Object Created" events and `s3:TestEvent` become a list of objects to
//! process, each tied to the unit that fails together (the invocation, or one SQS message).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use percent_encoding::percent_decode_str;
use serde_json::Value;

/// One S3 object to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    /// The ETag the event announced, if any.
    pub etag: Option<String>,
    /// The size the event announced, if any.
    pub size: Option<i64>,
}

impl ObjectRef {
    /// `s3://bucket/key`, as files are named in errors and logs.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The objects of one failure unit: the whole invocation (S3, EventBridge) or one SQS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkUnit {
    /// The SQS message ID, for `batchItemFailures`; `None` outside SQS.
    pub message_id: Option<String>,
    /// The objects to process, or why the message could not be read.
    pub objects: Result<Vec<ObjectRef>, String>,
    /// Objects the unit names but that are not processed (folder markers, marker objects,
    /// events other than ObjectCreated), with the reason, for the log.
    pub ignored: Vec<(String, &'static str)>,
}

/// What the invocation carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Direct S3 notification(s) or an EventBridge event: one unit, failing as a whole.
    Direct(WorkUnit),
    /// SQS messages, each its own unit (partial batch failure).
    Sqs(Vec<WorkUnit>),
    /// `s3:TestEvent`, sent by S3 when a notification is configured.
    TestEvent,
}

/// The event could not be understood at all.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(
        "unrecognised event: neither an S3 notification, an SQS message batch, an EventBridge S3 event nor s3:TestEvent"
    )]
    Unrecognised,
    #[error("malformed {kind} event: {source}")]
    Malformed {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Decodes a key from an S3 event notification: `+` is a space, then `%XX` escapes.
pub fn decode_notification_key(key: &str) -> String {
    let plus = key.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// Why a key is not a log file to process, if it is not.
pub fn ignore_reason(key: &str, marker_prefix: &str) -> Option<&'static str> {
    if key.is_empty() || key.ends_with('/') {
        Some("folder marker")
    } else if !marker_prefix.is_empty() && key.starts_with(marker_prefix) {
        Some("marker object of this function")
    } else {
        None
    }
}

fn is_test_event(v: &Value) -> bool {
    v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

/// Objects of an S3 notification (already parsed).
fn from_s3(event: S3Event, marker_prefix: &str) -> WorkUnit {
    let mut objects = Vec::new();
    let mut ignored = Vec::new();
    for r in event.records {
        let key = decode_notification_key(r.s3.object.key.as_deref().unwrap_or(""));
        let created = r
            .event_name
            .as_deref()
            .is_none_or(|n| n.starts_with("ObjectCreated"));
        if !created {
            ignored.push((key, "not an ObjectCreated event"));
            continue;
        }
        if let Some(why) = ignore_reason(&key, marker_prefix) {
            ignored.push((key, why));
            continue;
        }
        objects.push(ObjectRef {
            bucket: r.s3.bucket.name.unwrap_or_default(),
            key,
            etag: r.s3.object.e_tag,
            size: r.s3.object.size,
        });
    }
    WorkUnit {
        message_id: None,
        objects: Ok(objects),
        ignored,
    }
}

/// Reads an invocation payload. `marker_prefix` names the function's own marker objects, which
/// are never processed as logs.
pub fn parse(payload: &Value, marker_prefix: &str) -> Result<Invocation, EventError> {
    // A record from the function's on-failure destination: replaying it replays the original.
    if let (Some(inner), Some(_)) = (payload.get("requestPayload"), payload.get("requestContext")) {
        return parse(inner, marker_prefix);
    }
    if is_test_event(payload) {
        return Ok(Invocation::TestEvent);
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let sqs = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if sqs {
            let event: SqsEvent = serde_json::from_value(payload.clone()).map_err(|source| {
                EventError::Malformed {
                    kind: "SQS",
                    source,
                }
            })?;
            let units = event
                .records
                .into_iter()
                .map(|m| {
                    let id = m.message_id.clone().unwrap_or_default();
                    let body = m.body.as_deref().unwrap_or("");
                    let unit = match serde_json::from_str::<Value>(body) {
                        Ok(v) if is_test_event(&v) => WorkUnit {
                            message_id: None,
                            objects: Ok(Vec::new()),
                            ignored: vec![(String::new(), "s3:TestEvent")],
                        },
                        Ok(v) => match serde_json::from_value::<S3Event>(v) {
                            Ok(e) => from_s3(e, marker_prefix),
                            Err(e) => WorkUnit {
                                message_id: None,
                                objects: Err(format!(
                                    "SQS message {id}: body is not an S3 event notification: {e}"
                                )),
                                ignored: Vec::new(),
                            },
                        },
                        Err(e) => WorkUnit {
                            message_id: None,
                            objects: Err(format!("SQS message {id}: body is not JSON: {e}")),
                            ignored: Vec::new(),
                        },
                    };
                    WorkUnit {
                        message_id: Some(id),
                        ..unit
                    }
                })
                .collect();
            return Ok(Invocation::Sqs(units));
        }
        let event: S3Event = serde_json::from_value(payload.clone())
            .map_err(|source| EventError::Malformed { kind: "S3", source })?;
        return Ok(Invocation::Direct(from_s3(event, marker_prefix)));
    }
    if payload.get("source").and_then(Value::as_str) == Some("aws.s3")
        && payload.get("detail-type").is_some()
    {
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(payload.clone()).map_err(|source| EventError::Malformed {
                kind: "EventBridge",
                source,
            })?;
        let d = &event.detail;
        // EventBridge carries the key as written, not URL-encoded like notifications.
        let key = d
            .pointer("/object/key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let bucket = d
            .pointer("/bucket/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut unit = WorkUnit {
            message_id: None,
            objects: Ok(Vec::new()),
            ignored: Vec::new(),
        };
        if event.detail_type != "Object Created" {
            unit.ignored.push((key, "not an Object Created event"));
        } else if let Some(why) = ignore_reason(&key, marker_prefix) {
            unit.ignored.push((key, why));
        } else if bucket.is_empty() {
            unit.objects = Err("EventBridge event without detail.bucket.name".to_owned());
        } else {
            unit.objects = Ok(vec![ObjectRef {
                bucket,
                etag: d
                    .pointer("/object/etag")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                size: d.pointer("/object/size").and_then(Value::as_i64),
                key,
            }]);
        }
        return Ok(Invocation::Direct(unit));
    }
    Err(EventError::Unrecognised)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn keys_are_url_decoded_plus_is_space() {
        assert_eq!(decode_notification_key("a+b%2Bc%3A%20d"), "a b+c: d");
        assert_eq!(decode_notification_key("caf%C3%A9"), "café");
    }

    #[test]
    fn s3_notification_with_several_records() {
        let ev = json!({"Records": [
            s3_record("cf/E2Q4ABCDEFGH.2026-11-21-12.a+b.gz", "ObjectCreated:Put"),
            s3_record("cf/", "ObjectCreated:Put"),
            s3_record("_cflm/processed/x.json", "ObjectCreated:Put"),
            s3_record("cf/y.gz", "ObjectRemoved:Delete"),
        ]});
        let Invocation::Direct(unit) = parse(&ev, "_cflm/").unwrap() else {
            panic!("not direct")
        };
        let objects = unit.objects.unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].key, "cf/E2Q4ABCDEFGH.2026-11-21-12.a b.gz");
        assert_eq!(objects[0].etag.as_deref(), Some("abc"));
        assert_eq!(unit.ignored.len(), 3);
    }

    #[test]
    fn sqs_wrapped_notifications_and_bad_bodies() {
        let body = json!({"Records": [s3_record("k%20one.gz", "ObjectCreated:Put")]}).to_string();
        let ev = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": body},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": "not json"},
            {"messageId": "m3", "eventSource": "aws:sqs", "body": "{\"Event\":\"s3:TestEvent\"}"},
        ]});
        let Invocation::Sqs(units) = parse(&ev, "_cflm/").unwrap() else {
            panic!("not sqs")
        };
        assert_eq!(units[0].message_id.as_deref(), Some("m1"));
        assert_eq!(units[0].objects.as_ref().unwrap()[0].key, "k one.gz");
        assert!(units[1].objects.as_ref().unwrap_err().contains("m2"));
        assert_eq!(units[2].objects, Ok(vec![]));
    }

    #[test]
    fn eventbridge_keys_are_taken_as_written() {
        let ev = json!({
            "version": "0", "id": "x", "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "time": "2023-08-09T13:09:50Z", "region": "eu-west-1",
            "resources": ["arn:aws:s3:::b"],
            "detail": {"version": "0", "bucket": {"name": "b"},
                "object": {"key": "raw/2023-08-08T14:03:40.532432.zip", "size": 5, "etag": "e"}}
        });
        let Invocation::Direct(unit) = parse(&ev, "_cflm/").unwrap() else {
            panic!("not direct")
        };
        assert_eq!(
            unit.objects.unwrap()[0].key,
            "raw/2023-08-08T14:03:40.532432.zip"
        );
    }

    #[test]
    fn on_failure_destination_records_replay_the_original_event() {
        let original = json!({"Records": [s3_record("cf/E2Q4ABCDEFGH.2026-11-21-12.x.gz", "ObjectCreated:Put")]});
        let record = json!({"version": "1.0", "timestamp": "2026-11-21T12:00:00Z",
            "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": original, "responseContext": {"statusCode": 200}});
        assert_eq!(parse(&record, "").unwrap(), parse(&original, "").unwrap());
    }

    #[test]
    fn test_event_and_garbage() {
        let ev = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
        assert_eq!(parse(&ev, "").unwrap(), Invocation::TestEvent);
        assert!(matches!(
            parse(&json!({"x": 1}), ""),
            Err(EventError::Unrecognised)
        ));
    }
}

//! The Lambda events of the tests, as AWS sends them: S3 notifications (direct or wrapped in SQS
//! messages) and EventBridge "Object Created", with keys encoded as S3 encodes them.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use serde_json::{Value, json};

/// URL-encodes a key the way S3 event notifications do (space as `+`).
pub fn notification_key(key: &str) -> String {
    let mut s = String::new();
    for b in key.bytes() {
        match b {
            b' ' => s.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                s.push(b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

/// One `ObjectCreated:Put` record of an S3 notification, its key encoded, without an ETag (the
/// function then reads whatever the key holds); see [`s3_record_of`].
pub fn s3_record(bucket: &str, key: &str) -> Value {
    let mut r = s3_record_of(bucket, key, "");
    if let Some(o) = r.pointer_mut("/s3/object").and_then(Value::as_object_mut) {
        o.remove("eTag");
    }
    r
}

/// One `ObjectCreated:Put` record of an S3 notification of the version of `key` whose ETag is
/// `etag`, as S3 sends it (without quotes).
pub fn s3_record_of(bucket: &str, key: &str, etag: &str) -> Value {
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T08:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "X", "x-amz-id-2": "Y"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "logs",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "X"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": notification_key(key), "size": 1, "eTag": etag.trim_matches('"'), "sequencer": "01"}}
    })
}

/// An S3 notification (a direct invocation) with one record per key.
pub fn s3_event<K: AsRef<str>>(bucket: &str, keys: &[K]) -> Value {
    json!({"Records": keys.iter().map(|k| s3_record(bucket, k.as_ref())).collect::<Vec<_>>()})
}

/// One SQS message of an SQS-triggered invocation, carrying `body` (JSON) as its text.
pub fn sqs_message(id: &str, body: &Value) -> Value {
    json!({"messageId": id, "receiptHandle": "r", "body": body.to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1"})
}

/// An SQS event with one message per key, each an S3 notification of that key (message IDs
/// `m-<i>-<key>`).
pub fn sqs_event<K: AsRef<str>>(bucket: &str, keys: &[K]) -> Value {
    let messages: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let k = k.as_ref();
            sqs_message(&format!("m-{i}-{k}"), &s3_event(bucket, &[k]))
        })
        .collect();
    json!({"Records": messages})
}

/// An EventBridge "Object Created" event; the key is carried as written (not encoded).
pub fn eventbridge(bucket: &str, key: &str) -> Value {
    json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-23T08:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
            "object": {"key": key, "size": 1}, "reason": "PutObject"}})
}

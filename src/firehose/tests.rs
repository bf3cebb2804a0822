//! The Firehose transformation: every recordId answered, the right result per record, documents
//! that parse with their types, and the 6 MB response limit failing only what does not fit.

use super::*;
use crate::parse::RealtimeFields;

fn settings() -> Settings {
    let mut s = Settings::default();
    s.metrics.realtime = Some(
        RealtimeFields::parse("timestamp,c-ip,sc-status,sc-bytes,cs-host,cs-uri-stem,time-taken")
            .unwrap(),
    );
    s.metrics.distribution_id = Some("E2EXAMPLE1234".into());
    s
}

fn event(records: &[&[u8]]) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "recordId": format!("r{i}"),
                "approximateArrivalTimestamp": 1795176000000i64,
                "data": b64.encode(d),
                "kinesisRecordMetadata": {"shardId": "shardId-000000000000", "partitionKey": "p",
                    "sequenceNumber": format!("{}", 1000 + i), "subsequenceNumber": 0,
                    "approximateArrivalTimestamp": 1795176000000i64}
            })
        })
        .collect();
    json!({
        "invocationId": "inv",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/cf",
        "sourceKinesisStreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/cf-rt",
        "region": "us-east-1",
        "records": records
    })
}

const LINE: &[u8] =
    b"1795176001.250\t203.0.113.9\t200\t512\td1.cloudfront.net\t/a?token=x\t0.004\n";

#[test]
fn every_record_is_answered_with_its_result() {
    let v = handle(
        &event(&[LINE, b"#Version: 1.0\n", b"garbage that is no log\n", LINE]),
        &settings(),
    );
    let recs = v["records"].as_array().unwrap();
    let results: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["recordId"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("r0", "Ok"),
            ("r1", "Dropped"),
            ("r2", "ProcessingFailed"),
            ("r3", "Ok")
        ]
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let doc: Value = serde_json::from_slice(
        b64.decode(recs[0]["data"].as_str().unwrap())
            .unwrap()
            .trim_ascii(),
    )
    .unwrap();
    assert_eq!(doc["sc-bytes"], 512);
    assert_eq!(doc["time-taken"], 0.004);
    assert_eq!(doc["c-ip"], "203.0.113.0");
    assert_eq!(doc["cs-uri-stem"], "/a");
    assert_eq!(doc["distribution_id"], "E2EXAMPLE1234");
    assert_eq!(doc["@timestamp"], "2026-11-20T12:00:01.250Z");
    // A failed record goes back as it came, for Firehose's error output.
    let failed = b64.decode(recs[2]["data"].as_str().unwrap()).unwrap();
    assert_eq!(failed, b"garbage that is no log\n");
}

#[test]
fn documents_past_6_mb_fail_their_records_not_the_batch() {
    // 3 MB of lines in 30 records (4 MB as base64, as Firehose sends them): their documents
    // are about twice as large.
    let record: Vec<u8> = LINE.repeat(100 * 1024 / LINE.len());
    let records: Vec<&[u8]> = (0..30).map(|_| record.as_slice()).collect();
    let answers = transform(&event(&records), &settings());
    assert_eq!(answers.len(), 30);
    let ok = answers.iter().filter(|a| a.result == "Ok").count();
    assert!(ok > 0 && ok < 30, "{ok} Ok");
    // The Ok ones come first, the rest failed with their originals; the response fits.
    assert!(answers[..ok].iter().all(|a| a.result == "Ok"));
    assert!(
        answers[ok..]
            .iter()
            .all(|a| a.result == "ProcessingFailed" && a.data == record)
    );
    let size = serde_json::to_vec(&handle(&event(&records), &settings()))
        .unwrap()
        .len();
    assert!(size <= MAX_RESPONSE_BYTES, "{size}");
}

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
            ("r2", "Dropped"),
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
    // An unreadable record is dropped: nothing of it goes back for Firehose's error output.
    assert_eq!(recs[2]["data"], "");
}

#[test]
fn unreadable_records_are_dropped_with_a_reason_never_failed() {
    let mut v = event(&[b"garbage that is no log\n", LINE, b"1795176001.250\t1\t2\n"]);
    // A record whose data is not base64.
    v["records"]
        .as_array_mut()
        .unwrap()
        .push(json!({"recordId": "r3", "data": "%%%not base64"}));
    let answers = transform(&v, &settings());
    let got: Vec<(&str, &str, bool)> = answers
        .iter()
        .map(|a| (a.record_id.as_str(), a.result, a.data.is_empty()))
        .collect();
    assert_eq!(
        got,
        [
            ("r0", "Dropped", true),
            ("r1", "Ok", false),
            ("r2", "Dropped", true),
            ("r3", "Dropped", true),
        ]
    );
    let reasons: Vec<Option<String>> = answers.iter().map(|a| a.reason.clone()).collect();
    assert_eq!(
        reasons,
        [
            Some("1 unreadable line(s): a tab-separated line before any #Fields header, in no known layout".to_owned()),
            None,
            Some("1 unreadable line(s): 3 fields where 7 are expected".to_owned()),
            Some("data is not base64".to_owned()),
        ]
    );
    assert!(answers.iter().all(|a| a.result != "ProcessingFailed"));
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

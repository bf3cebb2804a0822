//! The Kinesis entry point against moto (S3 for the shard state, CloudWatch through the test
//! adapter) with the real SDK clients: the state write that records the first batch hangs (it
//! lands; its answer never comes). The function stops once its outbox lease cannot be renewed,
//! records what it sent and fails the batch from its last record; the mapping's retry then sends
//! the second batch only: CloudWatch's totals are exact.
//! (Duplicate deliveries and a failed PutMetricData run through the runtime API in
//! tests/lambda_runtime.rs; more scenarios over in-memory doubles in src/kinesis/tests.rs.)

mod support;

use base64::Engine as _;
use cloudfront_log_metrics::handler::Handler;
use cloudfront_log_metrics::parse::RealtimeFields;
use cloudfront_log_metrics::settings::Settings;
use serde_json::{Value, json};
use std::time::Duration;
use support::MotoStack;
use support::metrics::total;

const BUCKET: &str = "shard-state";
/// 2026-11-20T12:00:00Z; the function's clock is 11 hours later.
const START: i64 = 1_795_176_000_000;
const NOW: i64 = START + 11 * 3_600_000;
const RECORDS: u64 = 600;

/// 600 records, one a minute for 10 hours: 600 minutes of datums, more than one PutMetricData
/// batch.
fn event() -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = (0..RECORDS)
        .map(|i| {
            let ms = START + i as i64 * 60_000;
            // Canonical order: timestamp, sc-status, sc-bytes, x-edge-location, primary-distribution-id.
            let line = format!(
                "{}.{:03}\t200\t{}\tE{i:03}-C1\tE2CRASHTEST123\n",
                ms / 1000,
                ms % 1000,
                100 + i
            );
            let seq = format!(
                "4965651287743343722735046273541726894131846653{:010}",
                i + 1
            );
            json!({"eventSource": "aws:kinesis",
                   "eventID": format!("shardId-000000000000:{seq}"),
                   "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/crash",
                   "kinesis": {"sequenceNumber": seq, "data": b64.encode(line),
                               "partitionKey": "p", "approximateArrivalTimestamp": 1795176000.0}})
        })
        .collect();
    json!({ "Records": records })
}

type MotoHandler = Handler<aws_sdk_s3::Client, aws_sdk_cloudwatch::Client>;

/// A moto stack with the state bucket, and the handler over the real S3 (through the fault
/// adapter when `via_adapter`) and CloudWatch clients, reading the records of [`event`].
async fn setup(via_adapter: bool) -> Option<(MotoStack, aws_config::SdkConfig, MotoHandler)> {
    let stack = MotoStack::start()?;
    let sdk = stack.sdk_config().await;
    stack
        .s3_client(&sdk)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let mut settings = Settings::default();
    settings.metrics.realtime = Some(
        RealtimeFields::parse(
            "timestamp,sc-status,sc-bytes,x-edge-location,primary-distribution-id",
        )
        .unwrap(),
    );
    settings.marker_bucket = Some(BUCKET.into());
    let store = if via_adapter {
        stack.s3_client_via_adapter(&sdk)
    } else {
        stack.s3_client(&sdk)
    };
    let sink = stack.cloudwatch_client(&sdk);
    Some((
        stack,
        sdk,
        Handler {
            store,
            sink,
            settings,
        },
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn state_write_hangs_between_two_put_metric_data_calls() {
    let Some((stack, sdk, mut handler)) = setup(true).await else {
        return;
    };
    // A lease of 3 s: the function stops publishing once it cannot renew it for that long.
    handler.settings.marker_lease_seconds = 3;
    let ev = event();
    // PutObject 1 commits the records; PutMetricData sends batch 0; PutObject 2 records it as
    // settled: that write lands, but its answer is held 30 s.
    stack.fault(
        r#"{"rules":[{"operation":"PutObject","action":"slow","delay_ms":30000,"phase":"response","skip":1,"times":1}]}"#,
    );
    let started = std::time::Instant::now();
    let v = tokio::time::timeout(Duration::from_secs(20), handler.handle(&ev, NOW))
        .await
        .expect("the function stops when its lease runs out")
        .unwrap();
    // It stopped without sending batch 1, recorded batch 0, and names the last record.
    let last = ev["Records"][RECORDS as usize - 1]["kinesis"]["sequenceNumber"].clone();
    assert_eq!(v, json!({"batchItemFailures": [{"itemIdentifier": last}]}));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let requests = stack.stats()["requests"]["PutMetricData"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(requests, 1, "one batch out before the stop");
    stack.clear_faults();

    let cw = stack.cloudwatch_client(&sdk);
    let dims = [("DistributionId", "E2CRASHTEST123")];
    let (from, to) = (START - 60_000, START + 10 * 3_600_000 + 60_000);
    let partial = total(&cw, &dims, "Requests", from, to).await;
    // The mapping's retry (the same records: duplicates) resumes the outbox.
    let v = handler.handle(&ev, NOW).await.unwrap();
    assert_eq!(v, json!({"batchItemFailures": []}));
    assert_eq!(
        stack.stats()["requests"]["PutMetricData"].as_u64().unwrap(),
        2,
        "the retry sends the second batch only"
    );
    let requests = total(&cw, &dims, "Requests", from, to).await;
    let bytes = total(&cw, &dims, "BytesDownloaded", from, to).await;
    assert_eq!(
        requests, RECORDS as f64,
        "partial before the retry: {partial}"
    );
    assert_eq!(bytes, (0..RECORDS).map(|i| (100 + i) as f64).sum::<f64>());
}

/// Issue 13's cost and delay targets over the moto stack, in simulated time: one shard at a
/// steady 1,000 records/s, delivered as the event source mapping does at its defaults (batches
/// of 10,000 every 10 s), through the real S3 (shard state) and CloudWatch clients. Counts the
/// PutMetricData requests moto's adapter sees per invocation and when each minute went out; the
/// totals read back from CloudWatch are exact. `scripts/realtime-cost.sh` prints the figures.
#[tokio::test(flavor = "multi_thread")]
async fn one_shard_at_1000_records_per_second_over_moto() {
    let Some((stack, sdk, handler)) = setup(false).await else {
        return;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let minutes = 5i64;
    let mut seq = 0u64;
    let mut calls: std::collections::BTreeMap<i64, (u64, i64)> = Default::default();
    for tick in 1..=minutes * 6 {
        let now = START + tick * 10_000;
        let records: Vec<Value> = (0..10_000i64)
            .map(|j| {
                seq += 1;
                let ms = now - 10_000 + j;
                let line = format!(
                    "{}.{:03}\t200\t100\tIAD89-C1\tE2COSTTEST1234\n",
                    ms / 1000,
                    ms % 1000
                );
                let sn = format!("{seq:020}");
                json!({"eventSource": "aws:kinesis",
                       "eventID": format!("shardId-000000000000:{sn}"),
                       "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cost",
                       "kinesis": {"sequenceNumber": sn, "data": b64.encode(line),
                                   "partitionKey": "p", "approximateArrivalTimestamp": 0.0}})
            })
            .collect();
        let before = stack.stats()["requests"]["PutMetricData"]
            .as_u64()
            .unwrap_or(0);
        let v = handler
            .handle(&json!({ "Records": records }), now)
            .await
            .unwrap();
        assert_eq!(v, json!({"batchItemFailures": []}));
        let sent = stack.stats()["requests"]["PutMetricData"]
            .as_u64()
            .unwrap_or(0)
            - before;
        if sent > 0 {
            // The minute that closed at this tick: the last whose end is 20 s behind `now`.
            let minute = (now - 20_000 - 60_000).div_euclid(60_000) * 60_000;
            let e = calls.entry(minute).or_insert((0, now - (minute + 60_000)));
            e.0 += sent;
        }
    }
    let cw = stack.cloudwatch_client(&sdk);
    let dims = [("DistributionId", "E2COSTTEST1234")];
    for m in 0..minutes - 1 {
        let minute = START + m * 60_000;
        let (sent, delay) = calls.get(&minute).copied().unwrap_or((0, i64::MAX));
        println!(
            "minute {m}: {sent} PutMetricData call(s), published {} s after its end",
            delay / 1000
        );
        assert!((1..=2).contains(&sent), "minute {m}: {sent} calls");
        assert!(delay <= 90_000, "minute {m}: {delay} ms");
        let n = total(&cw, &dims, "Requests", minute, minute + 60_000).await;
        assert_eq!(n, 60_000.0, "minute {m}");
    }
}

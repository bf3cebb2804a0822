//! The new edges of the one ledger against moto, each a row of the reliability table: real-time
//! shards that reshard mid-minute or go quiet (published by the scheduled flush), a selection
//! that leaves minutes empty, every delivery twice with the schedule racing the shard, and S3
//! Batch Operations under a short deadline with slow CloudWatch answers and with overrides over
//! files already published. CloudWatch's totals are compared with the truth the test computed.

use super::*;
use base64::Engine as _;

/// The real-time field selection of these scenarios (canonical order: timestamp, sc-status,
/// sc-bytes, x-edge-location, primary-distribution-id).
const FIELDS: &str = "timestamp,sc-status,sc-bytes,x-edge-location,primary-distribution-id";
const STATES: &str = "shard-states";

/// A minute's truth: requests, bytes and 5xx per distribution.
#[derive(Default, Clone, Copy, PartialEq, Debug)]
struct Truth {
    requests: f64,
    bytes: f64,
    errors: f64,
}

/// Real-time records on one shard, sequence numbers counting on.
struct Shard {
    stream: &'static str,
    id: &'static str,
    seq: u64,
}

impl Shard {
    fn new(stream: &'static str, id: &'static str, first_seq: u64) -> Self {
        Shard {
            stream,
            id,
            seq: first_seq,
        }
    }

    /// An event of records at `times` (ms) for `dist`, every `error_every`th a 503, added to
    /// `truth`.
    fn event(&mut self, dist: &str, times: &[i64], error_every: usize, truth: &mut Truth) -> Value {
        let b64 = base64::engine::general_purpose::STANDARD;
        let records: Vec<Value> = times
            .iter()
            .enumerate()
            .map(|(i, ms)| {
                self.seq += 1;
                let status = if error_every > 0 && i % error_every == 0 { 503 } else { 200 };
                let bytes = 100 + i as u64;
                truth.requests += 1.0;
                truth.bytes += bytes as f64;
                truth.errors += f64::from(u8::from(status == 503));
                let line = format!(
                    "{}.{:03}\t{status}\t{bytes}\tIAD89-C{}\t{dist}\n",
                    ms / 1000,
                    ms % 1000,
                    i % 3
                );
                let seq = format!("{:056}", self.seq);
                json!({"eventSource": "aws:kinesis",
                       "eventID": format!("{}:{seq}", self.id),
                       "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{}", self.stream),
                       "kinesis": {"sequenceNumber": seq, "data": b64.encode(line),
                                   "partitionKey": "p", "approximateArrivalTimestamp": 0.0}})
            })
            .collect();
        json!({ "Records": records })
    }
}

fn scheduled() -> Value {
    json!({"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": "2026-11-20T12:00:00Z", "region": "us-east-1",
           "resources": [], "detail": {}})
}

/// The function's settings for real-time records, its shard states in their own bucket.
async fn realtime_settings(env: &Env) -> Settings {
    let _ = env.s3.create_bucket().bucket(STATES).send().await;
    let mut s = Settings::default();
    s.metrics.realtime =
        Some(cloudfront_log_metrics::parse::RealtimeFields::parse(FIELDS).unwrap());
    s.marker_bucket = Some(STATES.into());
    s
}

/// What CloudWatch holds for `dist` over `[from, to)`.
async fn published(env: &Env, dist: &str, from: i64, to: i64) -> Truth {
    let dims = [("DistributionId", dist)];
    Truth {
        requests: total(&env.cw, &dims, "Requests", from, to).await,
        bytes: total(&env.cw, &dims, "BytesDownloaded", from, to).await,
        errors: total(&env.cw, &dims, "Status5xx", from, to).await,
    }
}

/// Times `n` records spread over `[from, from + span)`.
fn times(from: i64, span: i64, n: i64) -> Vec<i64> {
    (0..n).map(|i| from + i * span / n).collect()
}

/// A minute start well inside CloudWatch's two weeks.
fn base_minute() -> i64 {
    now_ms() / 60_000 * 60_000 - 60 * 60_000
}

#[tokio::test]
async fn realtime_reshard_mid_minute_and_a_quiet_shard() {
    let Some(env) = env().await else { return };
    reset_peak();
    let s = realtime_settings(&env).await;
    let h = env.handler(env.cw.clone(), s);
    let m = base_minute();
    let mut truth = Truth::default();
    // The parent's last records are the first half of minute m; its children take the rest.
    let mut parent = Shard::new("resharded", "shardId-000000000000", 1_000);
    let mut child = Shard::new("resharded", "shardId-000000000001", 9_000);
    let ev = parent.event("E7RESHARD1234", &times(m, 30_000, 40), 0, &mut truth);
    h.handle(&ev, m + 31_000).await.unwrap();
    let ev = child.event(
        "E7RESHARD1234",
        &times(m + 30_000, 60_000, 40),
        0,
        &mut truth,
    );
    h.handle(&ev, m + 91_000).await.unwrap();
    // A quiet stream: one record, then nothing.
    let mut quiet = Shard::new("quiet", "shardId-000000000000", 1);
    let mut quiet_truth = Truth::default();
    let ev = quiet.event("E7QUIETAAAAAA", &[m + 45_000], 0, &mut quiet_truth);
    h.handle(&ev, m + 46_000).await.unwrap();
    let before = (
        published(&env, "E7RESHARD1234", m, m + 120_000).await,
        published(&env, "E7QUIETAAAAAA", m, m + 60_000).await,
    );
    // Two ticks of the schedule after the minutes ended (plus the 20 s delay).
    let mut events = 3;
    for tick in [m + 121_000, m + 181_000] {
        h.handle(&scheduled(), tick).await.unwrap();
        events += 1;
    }
    let got = published(&env, "E7RESHARD1234", m, m + 120_000).await;
    let got_quiet = published(&env, "E7QUIETAAAAAA", m, m + 60_000).await;
    let exact = got == truth && got_quiet == quiet_truth;
    report(Row {
        scenario: "real-time: reshard mid-minute, and a quiet shard (scheduled flush)",
        events,
        duplicates: 0,
        faults: 0,
        records: (truth.requests + quiet_truth.requests) as u64,
        exact,
        note: format!(
            "before the schedule: {} of {} and {} of {} requests published",
            before.0.requests as u64,
            truth.requests as u64,
            before.1.requests as u64,
            quiet_truth.requests as u64
        ),
    });
    assert_eq!((got, got_quiet), (truth, quiet_truth));
}

#[tokio::test]
async fn realtime_selection_that_leaves_minutes_empty() {
    let Some(env) = env().await else { return };
    reset_peak();
    let mut s = realtime_settings(&env).await;
    s.metrics.include = parse_include("t", "Requests,Status5xx").unwrap();
    let h = env.handler(env.cw.clone(), s);
    let m = base_minute() - 20 * 60_000;
    let mut truth = Truth::default();
    let mut shard = Shard::new("selection", "shardId-000000000000", 1);
    // Minute 0 without errors: its Status5xx makes no datum; then minutes with some.
    let mut events = 0;
    for (i, every) in [(0, 0), (1, 4), (2, 0), (3, 5)] {
        let start = m + i * 60_000;
        let ev = shard.event(
            "E7SELECTAAAAA",
            &times(start, 60_000, 30),
            every,
            &mut truth,
        );
        h.handle(&ev, start + 61_000).await.unwrap();
        events += 1;
    }
    h.handle(&scheduled(), m + 6 * 60_000).await.unwrap();
    events += 1;
    let got = published(&env, "E7SELECTAAAAA", m, m + 4 * 60_000).await;
    let want = Truth {
        bytes: 0.0,
        ..truth
    };
    report(Row {
        scenario: "real-time: a selection that leaves minutes empty",
        events,
        duplicates: 0,
        faults: 0,
        records: truth.requests as u64,
        exact: got == want,
        note: "METRICS_INCLUDE=Requests,Status5xx; two minutes without 5xx".into(),
    });
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn realtime_every_delivery_twice_with_the_schedule_racing() {
    let Some(env) = env().await else { return };
    reset_peak();
    let s = realtime_settings(&env).await;
    let h = env.handler(env.cw.clone(), s);
    let m = base_minute() - 40 * 60_000;
    let mut truth = Truth::default();
    let mut shard = Shard::new("twice", "shardId-000000000000", 1);
    let mut events = 0;
    let tick = scheduled();
    for i in 0..4 {
        let start = m + i * 60_000;
        let ev = shard.event("E7TWICEAAAAAA", &times(start, 60_000, 50), 7, &mut truth);
        let now = start + 81_000;
        // The delivery, its redelivery, and two ticks of the schedule at the same moment.
        let (a, b, c, d) = tokio::join!(
            h.handle(&ev, now),
            h.handle(&ev, now),
            h.handle(&tick, now),
            h.handle(&tick, now)
        );
        events += 4;
        for r in [a, b] {
            // A delivery that lost the race for the state is retried by the mapping.
            let failed = match &r {
                Ok(v) => v["batchItemFailures"] != json!([]),
                Err(_) => true,
            };
            if failed {
                h.handle(&ev, now).await.unwrap();
                events += 1;
            }
        }
        let _ = (c, d);
    }
    h.handle(&tick, m + 6 * 60_000).await.unwrap();
    events += 1;
    let got = published(&env, "E7TWICEAAAAAA", m, m + 4 * 60_000).await;
    report(Row {
        scenario: "real-time: every delivery twice, the schedule racing the shard",
        events,
        duplicates: 4,
        faults: 0,
        records: truth.requests as u64,
        exact: got == truth,
        note: "4 batches of 50 records, each delivered twice at once beside two ticks".into(),
    });
    assert_eq!(got, truth);
}

/// A Batch Operations invocation over `keys` (schema 2.0) with `args`.
fn job(keys: &[String], args: Value) -> Value {
    let tasks: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| json!({"taskId": format!("t{i}"), "s3Key": k, "s3VersionId": null, "s3Bucket": BUCKET}))
        .collect();
    json!({"invocationSchemaVersion": "2.0", "invocationId": "inv",
           "job": {"id": "job-1", "userArguments": args}, "tasks": tasks})
}

fn codes(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["resultString"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_operations_slow_cloudwatch_under_a_short_deadline() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let c = one_big_file(&env, "E7DEADLINEAAA", 7).await;
    let mut s = Settings::default();
    s.metrics.dimension_sets = parse_dimension_sets("t", "DistributionId;EdgeLocation").unwrap();
    let h = env.handler(env.cw.clone(), s);
    // CloudWatch takes each request, then answers 700 ms later: at the deadline requests are
    // accepted and unanswered.
    env.stack.fault(
        r#"{"rules":[{"operation":"PutMetricData","action":"slow","delay_ms":700,"phase":"response"}]}"#,
    );
    let ev = job(&c.keys, json!({}));
    let mut events = 0;
    let mut timeouts = 0;
    loop {
        let deadline = Instant::now() + Duration::from_millis(900);
        let v = h.handle_until(&ev, now, Some(deadline)).await.unwrap();
        events += 1;
        match codes(&v).as_slice() {
            [c] if c == "timeout" => timeouts += 1,
            [c] if c == "published" => break,
            other => panic!("{other:?}: {v}"),
        }
        assert!(events < 40, "{v}");
    }
    let faults = faults(&env.stack);
    env.stack.clear_faults();
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "Batch Operations: slow CloudWatch under a short deadline",
        events,
        duplicates: 0,
        faults,
        records: c.records,
        exact: exact.is_ok(),
        note: format!(
            "answers 0.7 s late, deadline 0.9 s: {timeouts} tasks answered timeout, retried"
        ),
    });
    exact.unwrap();
}

#[tokio::test]
async fn batch_operations_overrides_over_files_already_published() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let c = one_big_file(&env, "E7OVERRIDEAAA", 8).await;
    // (The per-edge set leaves DistributionId out: moto answers a query for [DistributionId]
    // with every series that has that dimension among others.)
    let mut s = Settings::default();
    s.metrics.include = parse_include("t", "Requests,Hit,TimeTaken").unwrap();
    let h = env.handler(env.cw.clone(), s);
    let mut events = 1;
    h.handle(&s3_event(BUCKET, &c.keys), now).await.unwrap();
    let mut duplicates = 0;
    for args in [
        json!({"include": "Requests,BytesDownloaded,Hit,TimeTaken"}),
        json!({"dimensions": "DistributionId;EdgeLocation", "maxDimensionValues": "2"}),
        json!({"include": "all", "dimensions": "DistributionId;EdgeLocation"}),
    ] {
        for _ in 0..2 {
            let v = h.handle(&job(&c.keys, args.clone()), now).await.unwrap();
            events += 1;
            duplicates += u64::from(codes(&v) == ["duplicate"]);
        }
    }
    // The notification again, after the jobs.
    let v = h.handle(&s3_event(BUCKET, &c.keys), now).await.unwrap();
    events += 1;
    duplicates += dup(&v);
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "Batch Operations: overrides over files already published, each twice",
        events,
        duplicates,
        faults: 0,
        records: c.records,
        exact: exact.is_ok(),
        note: "each job publishes only the series the file is missing".into(),
    });
    exact.unwrap();
}

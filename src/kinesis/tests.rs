//! The Kinesis entry point over the in-memory doubles: duplicates, re-batching, failures and a
//! crash mid-publish, every record counted once. The same scenarios run against moto through
//! the runtime API in tests/realtime_moto.rs.

use super::*;
use crate::catalogue::Metric;
use crate::datum::DatumValue;
use crate::memory::{MemorySink, MemoryStore};
use base64::Engine as _;

const BUCKET: &str = "state";
/// 2026-11-20T12:00:00Z.
const START: i64 = 1_795_176_000_000;

fn settings() -> Settings {
    let mut s = Settings::default();
    s.metrics.realtime = Some(
        RealtimeFields::parse("timestamp,sc-status,sc-bytes,x-edge-location,cs-host").unwrap(),
    );
    s.metrics.distribution_hosts = crate::config::parse_distribution_hosts(
        "t",
        "d111abcdef8.cloudfront.net=E2Q4ABCDEFGH,d222abcdef8.cloudfront.net=E3Q4ABCDEFGH",
    )
    .unwrap();
    s.metrics.dimension_sets =
        crate::config::parse_dimension_sets("t", "DistributionId;DistributionId,EdgeLocation")
            .unwrap();
    s.metrics.max_dimension_values = 1000;
    s.marker_bucket = Some(BUCKET.into());
    s
}

/// Record `i`: one request of `i` bytes at START + i seconds, on one of two distributions and
/// 900 edge locations (so that a minute makes more than one batch), or of an unknown host.
fn line(i: u64) -> String {
    let host = match i % 10 {
        9 => "unknown.example.com",
        n if n % 2 == 0 => "d111abcdef8.cloudfront.net",
        _ => "d222abcdef8.cloudfront.net",
    };
    let ms = START + i as i64 * 1000;
    // Canonical order: timestamp, sc-status, sc-bytes, cs-host, x-edge-location.
    format!(
        "{}.{:03}\t200\t{i}\t{host}\tE{:03}-C1\n",
        ms / 1000,
        ms % 1000,
        i % 900
    )
}

fn event(range: std::ops::Range<u64>) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = range
        .map(|i| {
            let seq = format!(
                "4959033827149025660855969253836157109592157598913{:07}",
                i + 1
            );
            json!({
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cf-realtime",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "p",
                    "sequenceNumber": seq,
                    "data": b64.encode(line(i)),
                    "approximateArrivalTimestamp": 1795176000.5
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Bytes published per distribution (Requests must agree with the number of records).
fn published(sink: &MemorySink) -> (u64, u64) {
    let (mut requests, mut bytes) = (0, 0);
    for d in sink.datums() {
        if d.dimensions.len() != 1 {
            continue;
        }
        match (d.metric, &d.value) {
            (Metric::Requests, DatumValue::Value(v)) => requests += v,
            (Metric::BytesDownloaded, DatumValue::Value(v)) => bytes += v,
            _ => {}
        }
    }
    (requests, bytes)
}

/// The sum of `metric`'s values over datums with `dims` dimensions.
fn sum_of(sink: &MemorySink, metric: Metric, dims: usize) -> u64 {
    sink.datums()
        .iter()
        .filter(|d| d.metric == metric && d.dimensions.len() == dims)
        .map(|d| match d.value {
            DatumValue::Value(v) => v,
            _ => 0,
        })
        .sum()
}

/// What records `0..n` should publish: all but the unknown host's.
fn expected(n: u64) -> (u64, u64) {
    let known: Vec<u64> = (0..n).filter(|i| i % 10 != 9).collect();
    (known.len() as u64, known.iter().sum())
}

fn failures(v: &Value) -> Vec<String> {
    v["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

async fn run(store: &MemoryStore, sink: &MemorySink, ev: &Value, now: i64) -> Value {
    handle(store, sink, &settings(), ev, now, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn minutes_publish_after_their_end_and_duplicates_count_once() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    // Records of 3 minutes; at START + 3 min the first two minutes are 20 s past their end.
    let now = START + 180_000;
    let v = run(&store, &sink, &event(0..150), now).await;
    assert!(failures(&v).is_empty());
    assert_eq!(published(&sink), expected(120));
    // The whole batch again (a retry), then a re-batched overlap: nothing counts twice.
    run(&store, &sink, &event(0..150), now).await;
    run(&store, &sink, &event(100..180), now + 60_000).await;
    assert_eq!(published(&sink), expected(180));
    let state = crate::shard_state::ShardState::from_json(
        &store.bytes(BUCKET, STATE_KEY).unwrap(),
        &realtime_config(&settings()).unwrap(),
    )
    .unwrap();
    assert_eq!(state.records, 180);
    assert_eq!(state.unresolved, 18);
    assert!(state.pending.is_empty() && state.outbox.is_empty());
}

#[tokio::test]
async fn a_failed_publish_is_retried_from_the_last_record_and_resumes() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let now = START + 700_000;
    // Batch 1 of the outbox fails: batch 0 is sent, the records are committed.
    sink.failing.lock().unwrap().insert(1);
    let ev = event(0..600);
    let v = run(&store, &sink, &ev, now).await;
    let last = ev["Records"][599]["kinesis"]["sequenceNumber"]
        .as_str()
        .unwrap();
    assert_eq!(failures(&v), [last.to_owned()]);
    assert_eq!(sink.batches(), [0]);
    // Lambda retries from that record: it is a duplicate, the publish resumes at batch 1.
    sink.failing.lock().unwrap().clear();
    let retry = json!({"Records": [ev["Records"][599].clone()]});
    let v = run(&store, &sink, &retry, now).await;
    assert!(failures(&v).is_empty());
    // Each batch sent once: 0 before the failure, 1 on the retry.
    assert_eq!(sink.batches(), [0, 1]);
    assert_eq!(published(&sink), expected(600));
}

#[tokio::test]
async fn a_lost_state_write_retries_the_batch_without_counting_it() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let now = START + 200_000;
    // Every round of the write fails (one failed write is retried at once: see below).
    store.faults.lock().unwrap().io_before_write = 5;
    let ev = event(0..60);
    let v = run(&store, &sink, &ev, now).await;
    let first = ev["Records"][0]["kinesis"]["sequenceNumber"]
        .as_str()
        .unwrap();
    assert_eq!(failures(&v), [first.to_owned()]);
    assert_eq!(sink.requests(), 0);
    // Bisected retry: the first half, then the second.
    run(&store, &sink, &event(0..30), now).await;
    run(&store, &sink, &event(30..60), now).await;
    assert_eq!(published(&sink), expected(60));
}

#[tokio::test]
async fn broken_records_are_rejected_alone() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let mut ev = event(0..20);
    let b64 = base64::engine::general_purpose::STANDARD;
    ev["Records"][0]["kinesis"]["data"] = json!(b64.encode(b"\x00\x01binary"));
    ev["Records"][1]["kinesis"]["data"] = json!(b64.encode(b"1795176000.000\t200\n"));
    ev["Records"][2]["kinesis"]["sequenceNumber"] = json!("");
    let v = run(&store, &sink, &ev, START + 200_000).await;
    assert!(failures(&v).is_empty());
    let want = expected(20);
    let lost: Vec<u64> = (0..3).filter(|i| i % 10 != 9).collect();
    assert_eq!(
        published(&sink),
        (
            want.0 - lost.len() as u64,
            want.1 - lost.iter().sum::<u64>()
        )
    );
}

#[tokio::test]
async fn kinesis_needs_its_fields_and_a_state_bucket() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let mut s = settings();
    s.marker_bucket = None;
    let e = handle(&store, &sink, &s, &event(0..1), START, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("MARKER_BUCKET"));
    s.metrics.realtime = None;
    let e = handle(&store, &sink, &s, &event(0..1), START, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("REALTIME_FIELDS"));
}

/// Issue 13's cost and delay targets at the defaults, in simulated time: a steady 1,000
/// records/s on one shard, delivered as the event source mapping does at its defaults (batches of
/// up to 10,000 records, every 10 s: the batching window, and the time 10,000 records take to
/// arrive). Every minute must go out in at most 2 PutMetricData calls, within 90 s of its end.
/// `scripts/realtime-cost.sh` prints the figures.
#[tokio::test]
async fn one_shard_at_1000_records_per_second_costs_and_delays() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let mut s = settings();
    s.metrics.dimension_sets = crate::config::parse_dimension_sets("t", "DistributionId").unwrap();
    let config = realtime_config(&s).unwrap();
    let minutes = 6;
    let mut calls_per_minute: std::collections::BTreeMap<i64, usize> = Default::default();
    let mut delay_ms: std::collections::BTreeMap<i64, i64> = Default::default();
    let mut seq = 0u64;
    for tick in 1..=(minutes * 6 + 6) {
        // At START + 10 s x tick: the records of the last 10 s (none after `minutes`).
        let now = START + tick * 10_000;
        let records: Vec<StreamRecord> = if tick <= minutes * 6 {
            (0..10_000)
                .map(|j| {
                    seq += 1;
                    let ms = now - 10_000 + j / 10;
                    StreamRecord {
                        sequence_number: seq.to_string(),
                        data: format!(
                            "{}.{:03}\t200\t100\td111abcdef8.cloudfront.net\tIAD89-C1\n",
                            ms / 1000,
                            ms % 1000
                        )
                        .into_bytes(),
                    }
                })
                .collect()
        } else {
            // No records: what a quiet stream's next invocation would flush.
            vec![]
        };
        if records.is_empty() {
            continue;
        }
        let batch = ShardBatch {
            stream: "s".into(),
            shard: "shardId-000000000000".into(),
            records,
        };
        let before = sink.requests();
        let seen = sink.datums().len();
        process_shard(
            &store,
            &sink,
            &s,
            &config,
            BUCKET,
            &batch,
            now,
            &Stop::default(),
        )
        .await
        .unwrap();
        let mut minutes_sent: Vec<i64> = sink.datums()[seen..]
            .iter()
            .map(|d| d.timestamp_ms)
            .collect();
        minutes_sent.sort_unstable();
        minutes_sent.dedup();
        for m in minutes_sent {
            *calls_per_minute.entry(m).or_default() += sink.requests() - before;
            delay_ms.entry(m).or_insert(now - (m + 60_000));
        }
    }
    // The minutes fully inside the run (the last one waits for a next batch: see README).
    let full: Vec<i64> = (0..minutes - 1).map(|m| START + m * 60_000).collect();
    for m in &full {
        let calls = calls_per_minute.get(m).copied().unwrap_or(0);
        let delay = delay_ms.get(m).copied().unwrap_or(i64::MAX);
        eprintln!(
            "minute {}: {calls} PutMetricData call(s), published {:.0} s after its end",
            (m - START) / 60_000,
            delay as f64 / 1000.0
        );
        assert!((1..=2).contains(&calls), "minute {m}: {calls} calls");
        assert!(delay <= 90_000, "minute {m}: {delay} ms");
    }
    let (requests, _) = published(&sink);
    assert_eq!(requests, (minutes as u64 - 1) * 60_000);
}

// ---- one ledger (issue "one ledger for every entry point") ------------------------------------

const STATE_KEY: &str = "_cflm/processed/kinesis/cf-realtime/shardId-000000000000.json";

/// `event(range)` with each record's line from `line_of`.
fn event_of(range: std::ops::Range<u64>, line_of: impl Fn(u64) -> String) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ev = event(range.clone());
    for (r, i) in ev["Records"].as_array_mut().unwrap().iter_mut().zip(range) {
        r["kinesis"]["data"] = json!(b64.encode(line_of(i)));
    }
    ev
}

/// A scheduled EventBridge event, as the template's every-minute rule sends it.
fn scheduled() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-20T12:03:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/cflm-flush"], "detail": {}
    })
}

fn handler() -> crate::handler::Handler<MemoryStore, MemorySink> {
    crate::handler::Handler {
        store: MemoryStore::default(),
        sink: MemorySink::default(),
        settings: settings(),
    }
}

fn state(store: &MemoryStore) -> Value {
    serde_json::from_slice(&store.bytes(BUCKET, STATE_KEY).unwrap()).unwrap()
}

#[tokio::test]
async fn a_minute_that_makes_no_datums_never_stalls_the_shard() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let mut s = settings();
    s.metrics.include = crate::config::parse_include("t", "Status5xx").unwrap();
    // Minute 0: only 200s, so nothing to publish once it closes; minute 2: a 500 per record.
    let ok = |i: u64| line(i);
    let error = |i: u64| line(i).replacen("\t200\t", "\t500\t", 1);
    // Minute 3 arrives last; minute 2 (130..160 s) has closed by then and goes out.
    for (ev, now) in [
        (event_of(0..30, ok), START + 100_000),
        (event_of(130..160, error), START + 200_000),
        (event_of(200..201, ok), START + 240_000),
    ] {
        let v = handle(&store, &sink, &s, &ev, now, None).await.unwrap();
        assert!(failures(&v).is_empty());
    }
    let errors = sum_of(&sink, Metric::Status5xx, 1);
    assert_eq!(errors, (130..160).filter(|i| i % 10 != 9).count() as u64);
    let st = state(&store);
    assert_eq!(st["outbox"].as_array().map_or(0, Vec::len), 0, "{st}");
}

#[tokio::test]
async fn the_outbox_keeps_the_batches_it_was_cut_with_when_settings_change() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let now = START + 700_000;
    sink.failing.lock().unwrap().insert(1);
    let ev = event(0..600);
    run(&store, &sink, &ev, now).await;
    assert_eq!(sink.batches(), [0]);
    // Redeployed with fewer metrics while the outbox is half published.
    sink.failing.lock().unwrap().clear();
    let mut s = settings();
    s.metrics.include = crate::config::parse_include("t", "Requests").unwrap();
    let retry = json!({"Records": [ev["Records"][599].clone()]});
    let v = handle(&store, &sink, &s, &retry, now, None).await.unwrap();
    assert!(failures(&v).is_empty());
    assert_eq!(published(&sink), expected(600));
    // The per-edge rows of the first cut went out too, each once.
    let per_edge = sum_of(&sink, Metric::Requests, 2);
    assert_eq!(per_edge, expected(600).0);
}

#[tokio::test]
async fn a_state_of_an_unknown_version_is_refused_loudly() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    run(&store, &sink, &event(0..10), START + 5_000).await;
    let mut st = state(&store);
    st["version"] = json!(99);
    let body = serde_json::to_vec(&st).unwrap();
    store.put(BUCKET, STATE_KEY, body.clone());
    let v = run(&store, &sink, &event(10..20), START + 25_000).await;
    assert_eq!(failures(&v).len(), 1, "{v}");
    assert_eq!(
        store.bytes(BUCKET, STATE_KEY).unwrap(),
        body,
        "left as it was"
    );
}

#[tokio::test]
async fn closed_minutes_of_quiet_and_closed_shards_go_out_on_the_schedule() {
    let h = handler();
    let (store, sink) = (&h.store, &h.sink);
    // The parent shard's last records, then its children take over: no more records for it.
    let v = run(store, sink, &event(0..50), START + 51_000).await;
    assert!(failures(&v).is_empty());
    assert_eq!(sink.requests(), 0, "the minute is still open");
    let mut child = event(50..60);
    for r in child["Records"].as_array_mut().unwrap() {
        let id = r["eventID"]
            .as_str()
            .unwrap()
            .replace("000000000000:", "000000000001:");
        r["eventID"] = json!(id);
    }
    run(store, sink, &child, START + 61_000).await;
    // Before the first minute's end plus the publish delay nothing is due.
    let delay = settings().realtime_publish_delay_seconds as i64 * 1000;
    h.handle(&scheduled(), START + 60_000 + delay - 1)
        .await
        .unwrap();
    assert_eq!(sink.requests(), 0);
    let v = h
        .handle(&scheduled(), START + 120_000 + delay)
        .await
        .unwrap();
    assert_eq!(published(sink), expected(60), "{v}");
    // A second tick finds nothing to do.
    let before = sink.requests();
    h.handle(&scheduled(), START + 180_000 + delay)
        .await
        .unwrap();
    assert_eq!(sink.requests(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_and_a_shard_never_send_one_batch_twice() {
    let h = handler();
    let (store, sink) = (&h.store, &h.sink);
    *sink.answer_delay.lock().unwrap() = std::time::Duration::from_millis(30);
    run(store, sink, &event(0..600), START + 30_000).await;
    assert_eq!(sink.requests(), 0);
    let now = START + 700_000;
    let ticks = async {
        for _ in 0..2 {
            let _ = h.handle(&scheduled(), now).await;
        }
    };
    let shard = async {
        for range in [600..610, 610..620] {
            let _ = run(store, sink, &event(range), now).await;
        }
    };
    let tick = scheduled();
    let (_, _, _) = tokio::join!(ticks, shard, h.handle(&tick, now));
    // Whatever is left goes out on a later tick, once any lease has run out.
    let later = now + 120_000;
    h.handle(&scheduled(), later).await.unwrap();
    let mut sent = sink.batches();
    let n = sent.len();
    sent.sort_unstable();
    sent.dedup();
    assert_eq!(
        sent.len(),
        n,
        "a batch was sent twice: {:?}",
        sink.batches()
    );
    assert_eq!(published(sink), expected(620));
}

#[tokio::test]
async fn a_failed_state_write_after_an_accepted_publish_is_retried_not_resent() {
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let now = START + 200_000;
    // The first write (records absorbed) lands; the one after the publish fails once.
    *store.faults.lock().unwrap() = crate::memory::MarkerFaults {
        skip_writes: 1,
        io_before_write: 1,
        ..Default::default()
    };
    let ev = event(0..60);
    let v = run(&store, &sink, &ev, now).await;
    assert!(failures(&v).is_empty(), "{v}");
    run(&store, &sink, &ev, now).await;
    assert_eq!(sink.requests(), 1);
    assert_eq!(published(&sink), expected(60));
}

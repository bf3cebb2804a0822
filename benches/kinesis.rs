//! Real-time records through the Kinesis entry point vs the same records as an access-log file
//! through the S3 entry point, end to end in the handler (event JSON, base64 or gzip, parse,
//! aggregate, state or marker objects, publish) with the in-memory object store and metric sink,
//! per record, in the same run:
//! - `kinesis/batch_10000`: a Kinesis event of 10,000 real-time records (one shard, one minute);
//! - `s3/file_10000`: an S3 notification of one gzip'd W3C file of the same 10,000 requests.
//!
//! `cargo bench --bench kinesis` prints both; their ratio is what the issue asks for.

use base64::Engine as _;
use cloudfront_log_metrics::handler::Handler;
use cloudfront_log_metrics::memory::{MemorySink, MemoryStore};
use cloudfront_log_metrics::parse::RealtimeFields;
use cloudfront_log_metrics::settings::Settings;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::io::Write;

const RECORDS: u64 = 10_000;
/// 2026-11-20T12:00:00Z; the function's clock is 10 minutes later.
const START: i64 = 1_795_176_000_000;
const NOW: i64 = START + 600_000;
const FIELDS: &str = "timestamp,time-to-first-byte,sc-status,sc-bytes,cs-host,cs-bytes,x-edge-location,time-taken,x-edge-result-type,primary-distribution-id";

/// Record `i`'s values: (epoch ms, status, bytes, edge, seconds, result).
fn values(i: u64) -> (i64, &'static str, u64, &'static str, String, &'static str) {
    let status = ["200", "200", "304", "404", "502"][(i % 5) as usize];
    let edge = ["IAD89-C1", "FRA56-P3", "NRT57-C1"][(i % 3) as usize];
    let result = ["Hit", "Hit", "Miss", "RefreshHit"][(i % 4) as usize];
    (
        START + (i * 60_000 / RECORDS) as i64,
        status,
        500 + i * 7 % 90_000,
        edge,
        format!("0.{:03}", i % 997),
        result,
    )
}

fn kinesis_event() -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = (0..RECORDS)
        .map(|i| {
            let (ms, status, bytes, edge, secs, result) = values(i);
            let line = format!(
                "{}.{:03}\t{secs}\t{status}\t{bytes}\td111abcdef8.cloudfront.net\t120\t{edge}\t{secs}\t{result}\tEBENCHMARK123\n",
                ms / 1000,
                ms % 1000
            );
            let seq = format!("4965651287743343722735046273541726894131846653{:010}", i + 1);
            json!({
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench",
                "kinesis": {"sequenceNumber": seq, "data": b64.encode(line),
                            "partitionKey": "p", "approximateArrivalTimestamp": 1795176000.0}
            })
        })
        .collect();
    json!({ "Records": records })
}

fn access_log() -> Vec<u8> {
    let mut s = String::from(
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type cs-bytes time-taken time-to-first-byte\n",
    );
    for i in 0..RECORDS {
        let (ms, status, bytes, edge, secs, result) = values(i);
        let sec = (ms - START) / 1000;
        s.push_str(&format!(
            "2026-11-20\t12:{:02}:{:02}\t{edge}\t{bytes}\t{status}\t{result}\t120\t{secs}\t{secs}\n",
            sec / 60,
            sec % 60
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(s.as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut settings = Settings::default();
    settings.metrics.realtime = Some(RealtimeFields::parse(FIELDS).unwrap());
    settings.marker_bucket = Some("state".into());
    let event = kinesis_event();
    let gz = access_log();
    let key = "cf/EBENCHMARK123.2026-11-20-12.abc.gz";
    let s3_event = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "logs"}, "object": {"key": key, "size": gz.len()}}}]});

    let mut g = c.benchmark_group("handler_per_record");
    g.throughput(Throughput::Elements(RECORDS));
    g.bench_function("kinesis/batch_10000", |b| {
        b.iter(|| {
            let h = Handler {
                store: MemoryStore::default(),
                sink: MemorySink::default(),
                settings: settings.clone(),
            };
            let v = rt.block_on(h.handle(&event, NOW)).unwrap();
            assert_eq!(v["batchItemFailures"], json!([]));
            assert!(h.sink.requests() > 0);
        })
    });
    g.bench_function("s3/file_10000", |b| {
        b.iter(|| {
            let h = Handler {
                store: MemoryStore::default(),
                sink: MemorySink::default(),
                settings: settings.clone(),
            };
            h.store.put("logs", key, gz.clone());
            let v = rt.block_on(h.handle(&s3_event, NOW)).unwrap();
            assert_eq!(v["records"], json!(RECORDS));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

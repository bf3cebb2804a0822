//! The real Lambda binary through the Lambda runtime API: `cargo lambda watch` runs it (the same
//! control-plane protocol AWS and `sam local invoke` speak) and `cargo lambda invoke` sends every
//! sample event in events/, with S3 and CloudWatch redirected to moto by the standard
//! `AWS_ENDPOINT_URL_*` variables. The function's clock for CloudWatch's two-week window is pinned
//! with `CFLM_NOW` just after the samples (2026-11-20 12:00-12:10 UTC), so the test asserts the
//! same on any date: every sample published, read back from moto's CloudWatch.
//!
//! Needs the dev venv with cargo-lambda (`bash scripts/dev-venv.sh`); without it this test skips
//! locally and fails when `CI=true`.

mod support;

use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::pipeline::process_reader;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::events::s3_event;
use support::logs::{at, gzip, hour_stamp, small_log};
use support::metrics::total;
use support::runtime::{Function, response, root};
use support::{MotoStack, put_object};

const BUCKET: &str = "cloudfront-logs-example";
/// The function's clock (`CFLM_NOW`): just after the sample logs.
const NOW: &str = "2026-11-20T12:30:00Z";
/// The fields of tests/fixtures/realtime/sample.tsv and events/kinesis-realtime.json.
const REALTIME_FIELDS: &str = "timestamp,time-to-first-byte,sc-status,sc-bytes,cs-method,cs-protocol,cs-host,cs-bytes,x-edge-location,x-host-header,time-taken,cs-protocol-version,x-edge-result-type,sc-content-type,x-edge-detailed-result-type,c-country,cache-behavior-path-pattern,primary-distribution-id,origin-fbl,origin-lbl";

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Records in a sample log, counted by the library directly (not through the Lambda).
fn records_in(path: &Path) -> u64 {
    let config = MetricsConfig {
        distribution_id: Some("EXXXXXXXXXXX".to_owned()),
        ..MetricsConfig::default()
    };
    let f = std::fs::File::open(path).unwrap();
    let p = process_reader("x", "x", f, &config, 0, u64::MAX).unwrap();
    p.report.parse.records
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_through_the_runtime_api() {
    let Some((stack, _sdk, s3, cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let logs = root().join("events/logs");
    let mut files = Vec::new();
    files_under(&logs, &mut files);
    let mut records = std::collections::HashMap::new();
    for f in &files {
        let key = f
            .strip_prefix(&logs)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        records.insert(key.clone(), records_in(f));
        put_object(&s3, BUCKET, &key, std::fs::read(f).unwrap()).await;
    }

    let env = [
        "AWS_ACCESS_KEY_ID=testing".to_owned(),
        "AWS_SECRET_ACCESS_KEY=testing".to_owned(),
        "AWS_REGION=us-east-1".to_owned(),
        // S3 through the adapter, which counts GETs and the bytes they return (Parquet below).
        format!("AWS_ENDPOINT_URL_S3={}", stack.adapter),
        format!("AWS_ENDPOINT_URL_CLOUDWATCH={}", stack.adapter),
        format!("CFLM_NOW={NOW}"),
        format!("AWS_ENDPOINT_URL_KINESIS={}", stack.moto),
        // Real-time records (Kinesis): their fields, the host map, and where shard states live.
        // Set for the whole run: the S3 samples above must read exactly as without them.
        format!("REALTIME_FIELDS={REALTIME_FIELDS}"),
        "DISTRIBUTION_HOSTS=d333example.cloudfront.net=E6EXAMPLE7890".to_owned(),
        format!("MARKER_BUCKET={BUCKET}"),
    ];
    let Some(f) = Function::watch(&env, "cflm-cargo-lambda-watch.log") else {
        return;
    };

    // The first invocation waits for the function to build and start.
    let test_event = root().join("events/s3-test-event.json");
    let first = f
        .warm_up(&["--data-file", &test_event.to_string_lossy()])
        .await;
    assert_eq!(response(&first)["files"], json!(0));

    let legacy_a = records["cloudfront/E2EXAMPLE1234.2026-11-20-12.a1b2c3d4.gz"];
    let legacy_b = records["cloudfront/E2EXAMPLE1234.2026-11-20-12.e5f6a7b8.gz"];
    let v2_json = records["v2 logs/E3EXAMPLE5678/2026/11/20/12/part+1.log.gz"];
    let v2_w3c = records["v2/distributionid=E4EXAMPLE9012/2026-11-20T12:09:00.log.gz"];
    assert!(legacy_a > 0 && legacy_b > 0 && v2_json > 0 && v2_w3c > 0);
    // The sample logs are dated 2026-11-20 12:00-12:10 UTC; the function's clock is pinned just
    // after them, so every record is published whatever today's date.
    let now = at(NOW);
    let samples_start = at("2026-11-20T12:00:00Z");
    // Idempotency is on (the default): files already published by an earlier event are skipped
    // as duplicates, and "records" counts the files this invocation published.
    for (event, files, duplicates, recs) in [
        ("s3-put.json", 1, 0, legacy_a),
        ("s3-put-encoded-key.json", 1, 0, v2_json),
        ("s3-put-multiple.json", 3, 2, legacy_b),
        ("eventbridge-object-created.json", 1, 0, v2_w3c),
    ] {
        let path = root().join("events").join(event);
        let r = response(&f.invoke(&["--data-file", &path.to_string_lossy()]));
        assert_eq!(r["files"], json!(files), "{event}: {r}");
        assert_eq!(r["duplicates"], json!(duplicates), "{event}: {r}");
        assert_eq!(r["records"], json!(recs), "{event}: {r}");
        assert_eq!(r["rejected"], json!(0), "{event}: {r}");
        assert_eq!(r["skipped_stale"], json!(0), "{event}: {r}");
        assert!(r["put_requests"].as_u64().unwrap() >= 1, "{event}: {r}");
    }
    // What moto's CloudWatch holds is every sample record, per distribution.
    for (dist, recs) in [
        ("E2EXAMPLE1234", legacy_a + legacy_b),
        ("E3EXAMPLE5678", v2_json),
        ("E4EXAMPLE9012", v2_w3c),
    ] {
        let dims = [("DistributionId", dist)];
        let from = samples_start - 3_600_000;
        let sum = total(&cw, &dims, "Requests", from, now + 3_600_000).await;
        assert_eq!(sum, recs as f64, "{dist}");
    }
    let sqs = root().join("events/sqs-s3.json");
    let r = response(&f.invoke(&["--data-file", &sqs.to_string_lossy()]));
    assert_eq!(r, json!({"batchItemFailures": []}));

    // A missing object fails the invocation with an error naming it.
    let missing = s3_event(BUCKET, &["cloudfront/E2EXAMPLE1234.2026-11-20-12.gone.gz"]);
    let out = f.invoke(&["--data-ascii", &missing.to_string()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("E2EXAMPLE1234.2026-11-20-12.gone.gz"),
        "{text}"
    );

    // A log of minutes before the function's clock lands in CloudWatch.
    let ts = now / 60_000 * 60_000 - 5 * 60_000;
    let text = small_log(ts, 25, |i| 100 + i as u64);
    let key = format!("fresh/EFRESHFRESH12.{}.x.gz", hour_stamp(ts));
    put_object(&s3, BUCKET, &key, gzip(text)).await;
    let event = s3_event(BUCKET, &[&key]);
    let r = response(&f.invoke(&["--data-ascii", &event.to_string()]));
    assert_eq!(r["records"], json!(25), "{r}");
    assert_eq!(r["put_requests"], json!(1), "{r}");
    let dims = [("DistributionId", "EFRESHFRESH12")];
    let sum = total(&cw, &dims, "BytesDownloaded", ts - 60_000, ts + 120_000).await;
    assert_eq!(sum, (0..25).map(|i| 100.0 + f64::from(i)).sum::<f64>());

    parquet_through_the_runtime_api(&f, &stack, &s3, &cw, &env).await;
    realtime_through_kinesis(&f, &stack, &cw).await;
    scheduled_flush_through_the_runtime_api(&f, &cw, &env).await;
}

/// A quiet shard: its last records are of a minute still open at the function's clock, and no
/// more records come. The every-minute schedule publishes that minute: a second function
/// process, whose clock (`CFLM_NOW`) is five minutes later, receives EventBridge's Scheduled
/// Event; a second tick publishes nothing more.
async fn scheduled_flush_through_the_runtime_api(
    f: &Function,
    cw: &aws_sdk_cloudwatch::Client,
    env: &[String],
) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let minute = at(NOW) - 60_000;
    let template = std::fs::read_to_string(root().join("tests/fixtures/realtime/sample.tsv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let records: Vec<Value> = (0..12i64)
        .map(|i| {
            let mut fields: Vec<String> = template.split('\t').map(str::to_owned).collect();
            let ms = minute + i * 5_000;
            fields[0] = format!("{}.{:03}", ms / 1000, ms % 1000);
            fields[17] = "EQUIETSHARD123".to_owned();
            let seq = format!(
                "4965651287743343722735046273541726894131846600{:010}",
                i + 1
            );
            json!({"eventSource": "aws:kinesis",
                   "eventID": format!("shardId-000000000007:{seq}"),
                   "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cf-quiet",
                   "kinesis": {"sequenceNumber": seq, "data": b64.encode(fields.join("\t")),
                               "partitionKey": "p", "approximateArrivalTimestamp": 0.0}})
        })
        .collect();
    let r = response(&f.invoke_event(&json!({ "Records": records })));
    assert_eq!(r, json!({"batchItemFailures": []}));
    let dims = [("DistributionId", "EQUIETSHARD123")];
    let published = || total(cw, &dims, "Requests", minute, minute + 60_000);
    assert_eq!(published().await, 0.0, "the minute is still open");

    let later = "CFLM_NOW=2026-11-20T12:35:00Z".to_owned();
    let mut env: Vec<String> = env
        .iter()
        .filter(|e| !e.starts_with("CFLM_NOW="))
        .cloned()
        .collect();
    env.push(later);
    let Some(g) = Function::watch(&env, "cflm-cargo-lambda-watch-later.log") else {
        return;
    };
    let tick = root().join("events/scheduled-flush.json");
    let r = response(&g.warm_up(&["--data-file", &tick.to_string_lossy()]).await);
    assert!(r["shards"].as_u64().unwrap() >= 1, "{r}");
    assert!(r["put_requests"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(published().await, 12.0);
    let r = response(&g.invoke(&["--data-file", &tick.to_string_lossy()]));
    assert_eq!(r["put_requests"], json!(0), "{r}");
    assert_eq!(published().await, 12.0);
}

/// A standard logging v2 Parquet object (Hive path, AWS's underscored column names, four row
/// groups, long viewer columns the metrics never read): published exactly, reading only the
/// first 64 KiB, the footer and the column chunks the catalogue needs, as the function's own
/// core plans them from the same file.
async fn parquet_through_the_runtime_api(
    f: &Function,
    stack: &MotoStack,
    s3: &aws_sdk_s3::Client,
    cw: &aws_sdk_cloudwatch::Client,
    env: &[String],
) {
    use cloudfront_log_metrics::pipeline::ParquetProcessor;
    use cloudfront_log_metrics::s3_object::HEAD_BYTES;
    use cloudfront_log_metrics::settings::Settings;
    use support::parquet_logs::cloudfront_file;
    use support::parquet_writer::Options;

    let start = at("2026-11-20T12:00:00Z");
    let options = Options {
        row_group_rows: 10_000,
        ..Options::default()
    };
    let (file, totals) = cloudfront_file(40_000, start, 10, options, 16);
    let key =
        "v2parquet/DistributionId=EPARQUETDEMO1/year=2026/month=11/day=20/hour=12/part-1.parquet";
    put_object(s3, BUCKET, key, file.clone()).await;

    // What the function must fetch, planned by the core from the same settings and bytes.
    let settings = Settings::from_lookup(|k| {
        env.iter()
            .find_map(|e| e.strip_prefix(k)?.strip_prefix('='))
            .map(|v| (v.to_owned(), "test"))
    })
    .unwrap();
    let size = file.len() as u64;
    let window = at(NOW);
    let mut plan = ParquetProcessor::new(&settings.metrics, "EPARQUETDEMO1", window, size);
    let (mut gets, mut bytes) = (1u64, HEAD_BYTES.min(size));
    while let Some(ranges) = plan.wants().unwrap() {
        let mut fetched = Vec::new();
        for r in ranges {
            if r.end > HEAD_BYTES {
                gets += 1;
                bytes += r.end - r.start;
            }
            let b = bytes::Bytes::copy_from_slice(&file[r.start as usize..r.end as usize]);
            fetched.push((r.start, b));
        }
        plan.supply(fetched).unwrap();
    }
    assert!(
        bytes * 3 < size,
        "{bytes} of {size}: more than the needed columns"
    );

    stack.reset_stats();
    let event = s3_event(BUCKET, &[key]);
    let r = response(&f.invoke(&["--data-ascii", &event.to_string()]));
    assert_eq!(r["files"], json!(1), "{r}");
    assert_eq!(r["records"], json!(totals.requests), "{r}");
    assert_eq!(r["rejected"], json!(0), "{r}");
    let stats = stack.stats();
    // Ranged GETs are the data's; the marker's reads are whole-object GETs.
    assert_eq!(stats["ranged"]["GetObject"], json!(gets), "{stats}");
    assert_eq!(stats["ranged_bytes"]["GetObject"], json!(bytes), "{stats}");

    let dims = [("DistributionId", "EPARQUETDEMO1")];
    let (from, to) = (start - 60_000, start + 11 * 60_000);
    let requests = total(cw, &dims, "Requests", from, to).await;
    assert_eq!(requests, totals.requests as f64);
    let sent = total(cw, &dims, "BytesDownloaded", from, to).await;
    assert_eq!(sent, totals.sc_bytes as f64);
}

/// Requests and bytes per distribution in CloudWatch, over the sample's minutes.
async fn realtime_totals(cw: &aws_sdk_cloudwatch::Client) -> [(f64, f64); 2] {
    let (from, to) = (at("2026-11-20T11:00:00Z"), at("2026-11-20T14:00:00Z"));
    let mut out = [(0.0, 0.0); 2];
    for (i, dist) in ["E5EXAMPLE3456", "E6EXAMPLE7890"].iter().enumerate() {
        let dims = [("DistributionId", *dist)];
        out[i] = (
            total(cw, &dims, "Requests", from, to).await,
            total(cw, &dims, "BytesDownloaded", from, to).await,
        );
    }
    out
}

/// Real-time records: the sample Kinesis event, delivered twice; then records put into a
/// Kinesis stream on moto with boto3, read back with GetRecords and wrapped as the event source
/// mapping does, published through a CloudWatch that fails, retried, then the rest. Every
/// record counts exactly once.
async fn realtime_through_kinesis(
    f: &Function,
    stack: &MotoStack,
    cw: &aws_sdk_cloudwatch::Client,
) {
    let sample =
        std::fs::read_to_string(root().join("tests/fixtures/realtime/sample.tsv")).unwrap();
    let mut want = [(0.0, 0.0); 2];
    for l in sample.lines() {
        let i = usize::from(!l.contains("E5EXAMPLE3456"));
        want[i].0 += 1.0;
        want[i].1 += l.split('\t').nth(3).unwrap().parse::<f64>().unwrap();
    }
    assert_eq!(want[0].0 + want[1].0, 60.0);
    let event = root().join("events/kinesis-realtime.json");
    for _ in 0..2 {
        let r = response(&f.invoke(&["--data-file", &event.to_string_lossy()]));
        assert_eq!(r, json!({"batchItemFailures": []}));
        assert_eq!(
            realtime_totals(cw).await,
            want,
            "the sample event, delivered again"
        );
    }

    // The same lines through a real stream (another stream: its own shard state).
    let kinesis_event = |first: usize, count: usize| -> String {
        let out = Command::new(support::venv_python())
            .arg(root().join("tests/support/kinesis_event.py"))
            .args([&stack.moto, "cf-realtime-moto"])
            .arg(root().join("tests/fixtures/realtime/sample.tsv"))
            .args([first.to_string(), count.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let a = kinesis_event(0, 40);
    let a_json: Value = serde_json::from_str(&a).unwrap();
    let last = a_json["Records"][39]["kinesis"]["sequenceNumber"].clone();
    // CloudWatch fails every PutMetricData: the records are committed to the shard's state,
    // and the response names the last record, so that the retry resumes the publish.
    stack.fault(r#"{"rules": [{"operation": "PutMetricData", "action": "error500"}]}"#);
    let r = response(&f.invoke(&["--data-ascii", &a]));
    assert_eq!(r, json!({"batchItemFailures": [{"itemIdentifier": last}]}));
    stack.clear_faults();
    assert_eq!(
        realtime_totals(cw).await,
        want,
        "nothing of the failed publish"
    );
    // The event source mapping retries from that record; it is a duplicate, the publish resumes.
    let retry = json!({"Records": [a_json["Records"][39].clone()]}).to_string();
    let r = response(&f.invoke(&["--data-ascii", &retry]));
    assert_eq!(r, json!({"batchItemFailures": []}));
    // The whole batch again (a redelivery), then the rest of the records.
    response(&f.invoke(&["--data-ascii", &a]));
    let b = kinesis_event(40, 20);
    let r = response(&f.invoke(&["--data-ascii", &b]));
    assert_eq!(r, json!({"batchItemFailures": []}));
    let doubled = want.map(|(n, b)| (2.0 * n, 2.0 * b));
    assert_eq!(realtime_totals(cw).await, doubled);
    firehose_transformations(f);
}

/// The Firehose transformation events: every recordId answered, with the expected result, and
/// every `Ok` document parses with the promised types and carries nothing private.
fn firehose_transformations(f: &Function) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    for (file, want) in [
        ("firehose-realtime.json", vec!["Ok"; 20]),
        (
            "firehose-direct-put.json",
            // The last record is no log: dropped, never ProcessingFailed (Firehose would write
            // it raw to the error output).
            vec!["Dropped", "Ok", "Dropped", "Dropped"],
        ),
    ] {
        let path = root().join("events").join(file);
        let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let r = response(&f.invoke(&["--data-file", &path.to_string_lossy()]));
        let records = r["records"].as_array().unwrap();
        let ids: Vec<&Value> = event["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["recordId"])
            .collect();
        assert_eq!(
            records.iter().map(|r| &r["recordId"]).collect::<Vec<_>>(),
            ids,
            "{file}"
        );
        let results: Vec<&str> = records
            .iter()
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        assert_eq!(results, want, "{file}");
        for rec in records.iter().filter(|r| r["result"] == "Dropped") {
            assert_eq!(rec["data"], "", "{file}: a dropped record returns nothing");
        }
        for rec in records.iter().filter(|r| r["result"] == "Ok") {
            let data = b64.decode(rec["data"].as_str().unwrap()).unwrap();
            let text = String::from_utf8(data).unwrap();
            for private in [
                "198.51.100.23",
                "s3cr3t",
                "size=big",
                "utm=1",
                "EXAMPLEreqid",
            ] {
                assert!(!text.contains(private), "{file}: {private} in {text}");
            }
            for line in text.lines() {
                let doc: Value = serde_json::from_str(line).unwrap();
                assert!(doc["@timestamp"].as_str().unwrap().ends_with('Z'), "{doc}");
                assert!(
                    doc["sc-bytes"].is_u64() && doc["sc-status"].is_u64(),
                    "{doc}"
                );
                assert!(doc["time-taken"].is_f64(), "{doc}");
                assert!(doc["distribution_id"].is_string(), "{doc}");
            }
        }
    }
}

//! `cflogs process s3://bucket/prefix/` against moto: listing with pagination, `--since/--until`
//! by the hour in CloudFront's file names, and publishing (without `--dry-run`) exactly as the
//! Lambda does.
//!
//! Needs the dev venv (`bash scripts/dev-venv.sh`); without it these tests skip locally and fail
//! when `CI=true`.

mod support;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_s3::primitives::ByteStream;
use cloudfront_log_metrics::parse::value::civil_from_days;
use flate2::write::GzEncoder;
use std::io::Write;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};
use support::MotoStack;

fn stamp(ms: i64) -> (String, String, String) {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}", sod / 3600),
        format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60),
    )
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// A log of `n` requests at `ts_ms`, each `bytes` large.
fn log(ts_ms: i64, n: usize, bytes: u64) -> String {
    let (d, _, t) = stamp(ts_ms);
    let mut s = String::from(
        "#Version: 1.0\n#Fields: date time sc-bytes sc-status x-edge-result-type time-taken\n",
    );
    for i in 0..n {
        s.push_str(&format!("{d}\t{t}\t{bytes}\t200\tHit\t0.{:03}\n", i % 1000));
    }
    s
}

fn cflogs(stack: &MotoStack, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cflogs"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_S3", &stack.moto)
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", &stack.adapter)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

#[tokio::test]
async fn backfill_from_s3_prefix_publishes_and_filters_by_hour() {
    let Some(stack) = MotoStack::start() else {
        return;
    };
    let sdk = stack.sdk_config().await;
    let s3 = stack.s3_client(&sdk);
    let cw = stack.cloudwatch_client(&sdk);
    s3.create_bucket().bucket("logs").send().await.unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Three hours of files: 3 h ago, 2 h ago, 1 h ago (minute 5 of each hour).
    let mut expected_requests = 0;
    for (h, n) in [(3i64, 10usize), (2, 20), (1, 30)] {
        let ts = (now / 3_600_000 - h) * 3_600_000 + 5 * 60_000;
        let (d, hh, _) = stamp(ts);
        let key = format!("cf/EBACKFILL1234.{d}-{hh}.f{h}.gz");
        s3.put_object()
            .bucket("logs")
            .key(&key)
            .body(ByteStream::from(gz(&log(ts, n, 1000))))
            .send()
            .await
            .unwrap();
        if h <= 2 {
            expected_requests += n;
        }
    }
    // A marker object of the function and a folder marker: never read as logs.
    for key in ["cf/_cflm/processed/x.json", "cf/"] {
        s3.put_object()
            .bucket("logs")
            .key(key)
            .body(ByteStream::from(b"{}".to_vec()))
            .send()
            .await
            .unwrap();
    }
    let since = {
        let (d, hh, _) = stamp((now / 3_600_000 - 2) * 3_600_000);
        format!("{d}T{hh}")
    };
    let out = cflogs(
        &stack,
        &[
            "process",
            "--output",
            "none",
            "--since",
            &since,
            "--marker-prefix",
            "cf/_cflm/",
            "s3://logs/cf/",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("files: 2 (0 failed)"), "{stderr}");
    let stats = cw
        .get_metric_statistics()
        .namespace("CloudFront/AccessLogs")
        .metric_name("Requests")
        .dimensions(
            Dimension::builder()
                .name("DistributionId")
                .value("EBACKFILL1234")
                .build(),
        )
        .start_time(DateTime::from_millis(now - 4 * 3_600_000))
        .end_time(DateTime::from_millis(now))
        .period(3600 * 4)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap();
    let total: f64 = stats.datapoints().iter().filter_map(|d| d.sum()).sum();
    assert_eq!(total, expected_requests as f64);

    // Run again: the function's markers (written by this run) make it skip both files.
    let args = [
        "process",
        "--output",
        "none",
        "--since",
        &since,
        "--marker-prefix",
        "cf/_cflm/",
        "s3://logs/cf/",
    ];
    let out = cflogs(&stack, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("files: 2 (0 failed, 2 already published)"),
        "{stderr}"
    );
    let again = cw
        .get_metric_statistics()
        .namespace("CloudFront/AccessLogs")
        .metric_name("Requests")
        .dimensions(
            Dimension::builder()
                .name("DistributionId")
                .value("EBACKFILL1234")
                .build(),
        )
        .start_time(DateTime::from_millis(now - 4 * 3_600_000))
        .end_time(DateTime::from_millis(now))
        .period(3600 * 4)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap();
    let total: f64 = again.datapoints().iter().filter_map(|d| d.sum()).sum();
    assert_eq!(total, expected_requests as f64, "not published twice");
}

#[tokio::test]
async fn listing_follows_pagination() {
    let Some(stack) = MotoStack::start() else {
        return;
    };
    let sdk = stack.sdk_config().await;
    let s3 = stack.s3_client(&sdk);
    s3.create_bucket().bucket("many").send().await.unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = gz(&log(now - 600_000, 1, 10));
    let n = 1003;
    for i in 0..n {
        s3.put_object()
            .bucket("many")
            .key(format!("p/EPAGINATE1234/{i:05}.gz"))
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
    }
    let out = cflogs(
        &stack,
        &[
            "process",
            "--dry-run",
            "--output",
            "jsonl",
            "--include",
            "Requests",
            "s3://many/p/",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("files: {n} (0 failed), records: {n}")),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let total: u64 = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(total, n as u64);
}

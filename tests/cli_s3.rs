//! `cflogs process s3://bucket/prefix/` against moto: listing with pagination, `--since/--until`
//! by the hour in CloudFront's file names, and publishing (without `--dry-run`) exactly as the
//! Lambda does; only a publish skips what is outside CloudWatch's two-week window.
//!
//! Needs the dev venv (`bash scripts/dev-venv.sh`); without it these tests skip locally and fail
//! when `CI=true`.

mod support;

use std::process::Command;
use support::logs::{at, date_time, gzip, hour_stamp, now_ms, small_log};
use support::metrics::total;
use support::{MotoStack, put_object};

fn cflogs(stack: &MotoStack, args: &[&str]) -> std::process::Output {
    cflogs_env(stack, &[], args)
}

/// [`cflogs`] with `vars` set (the configuration variables cleared first).
fn cflogs_env(stack: &MotoStack, vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cflogs"));
    for v in cloudfront_log_metrics::settings::env::LAMBDA {
        cmd.env_remove(v);
    }
    cmd.env_remove("CFLM_NOW")
        .envs(vars.iter().copied())
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
    let Some((stack, _sdk, s3, cw)) = MotoStack::with_bucket("logs").await else {
        return;
    };
    let now = now_ms();
    // Three hours of files: 3 h ago, 2 h ago, 1 h ago (minute 5 of each hour).
    let mut expected_requests = 0;
    for (h, n) in [(3i64, 10usize), (2, 20), (1, 30)] {
        let ts = (now / 3_600_000 - h) * 3_600_000 + 5 * 60_000;
        let key = format!("cf/EBACKFILL1234.{}.f{h}.gz", hour_stamp(ts));
        put_object(&s3, "logs", &key, gzip(small_log(ts, n, |_| 1000))).await;
        if h <= 2 {
            expected_requests += n;
        }
    }
    // A marker object of the function and a folder marker: never read as logs.
    for key in ["cf/_cflm/processed/x.json", "cf/"] {
        put_object(&s3, "logs", key, b"{}".to_vec()).await;
    }
    let since = {
        let (d, t) = date_time((now / 3_600_000 - 2) * 3_600_000);
        format!("{d}T{}", &t[..2])
    };
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
    assert!(stderr.contains("files: 2 (0 failed)"), "{stderr}");
    let dims = [("DistributionId", "EBACKFILL1234")];
    let published = || total(&cw, &dims, "Requests", now - 4 * 3_600_000, now);
    assert_eq!(published().await, expected_requests as f64);

    // Run again: the function's markers (written by this run) make it skip both files.
    let out = cflogs(&stack, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("files: 2 (0 failed, 2 already published)"),
        "{stderr}"
    );
    assert_eq!(
        published().await,
        expected_requests as f64,
        "not published twice"
    );
}

#[tokio::test]
async fn listing_follows_pagination() {
    let Some((stack, _sdk, s3, _cw)) = MotoStack::with_bucket("many").await else {
        return;
    };
    let body = gzip(small_log(now_ms() - 600_000, 1, |_| 10));
    let n = 1003;
    for i in 0..n {
        let key = format!("p/EPAGINATE1234/{i:05}.gz");
        put_object(&s3, "many", &key, body.clone()).await;
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

/// Publishing the bundled sample logs (2026-11-20 12:00-12:10 UTC): with the clock 60 days later
/// every record is outside CloudWatch's window and skipped, nothing reaches CloudWatch; with the
/// clock just after them, all are published. A dry run of them from S3 keeps them all.
#[tokio::test]
async fn publishing_skips_records_outside_cloudwatchs_window() {
    let Some((stack, _sdk, s3, cw)) = MotoStack::with_bucket("samples").await else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/logs/cloudfront");
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let key = format!("cf/{}", path.file_name().unwrap().to_string_lossy());
        put_object(&s3, "samples", &key, std::fs::read(&path).unwrap()).await;
    }
    let late = [("CFLM_NOW", "2027-01-19T12:00:00Z")];
    let out = cflogs_env(
        &stack,
        &late,
        &[
            "process",
            "--dry-run",
            "--output",
            "jsonl",
            "s3://samples/cf/",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "records: 90, rejected lines: 0, outside CloudWatch's window: 90 (kept in this dry run)"
        ),
        "{stderr}"
    );
    let requests: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|d| d["metric_name"] == "Requests")
        .map(|d| d["value"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 90);

    let logs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/logs");
    let logs = logs.to_str().unwrap();
    let start = at("2026-11-20T12:00:00Z");
    let published = |dist: &'static str| {
        let cw = cw.clone();
        async move {
            let dims = [("DistributionId", dist)];
            total(&cw, &dims, "Requests", start - 3_600_000, start + 3_600_000).await
        }
    };
    let args = ["process", "--output", "none", logs];

    let out = cflogs_env(&stack, &late, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "records: 132, rejected lines: 0, outside CloudWatch's window: 132 skipped, datums: 0, PutMetricData requests: 0,"
        ),
        "{stderr}"
    );
    assert_eq!(published("E2EXAMPLE1234").await, 0.0);

    let out = cflogs_env(&stack, &[("CFLM_NOW", "2026-11-20T13:00:00Z")], &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("outside CloudWatch's window: 0 skipped, datums: 126,"),
        "{stderr}"
    );
    assert_eq!(published("E2EXAMPLE1234").await, 90.0);
    assert_eq!(published("E3EXAMPLE5678").await, 30.0);
    assert_eq!(published("E4EXAMPLE9012").await, 12.0);
}

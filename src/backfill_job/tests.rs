//! The job's pieces over the in-memory store: selection, manifest, estimate, report totals.

use super::*;
use crate::memory::MemoryStore;

// 2026-11-20T12 in epoch hours.
const H12: i64 = 1_795_176_000_000 / 3_600_000;

#[test]
fn keys_are_encoded_as_batch_operations_decodes_them() {
    assert_eq!(
        encode_key("cf/a b+c/É😀.gz"),
        "cf/a%20b%2Bc/%C3%89%F0%9F%98%80.gz"
    );
    assert_eq!(
        encode_key("cf/E2A.2026-11-20-12.x_y~z.gz"),
        "cf/E2A.2026-11-20-12.x_y~z.gz"
    );
    assert_eq!(encode_key("a,b%\"c"), "a%2Cb%25%22c");
    // What the function decodes from an event is the key again.
    for key in ["cf/a b+c/É😀.gz", "x%2B,y"] {
        assert_eq!(
            crate::event::decode_notification_key(&encode_key(key)).unwrap(),
            key
        );
    }
}

#[tokio::test]
async fn the_selection_is_the_hours_asked_without_markers_manifests_or_reports() {
    let store = MemoryStore::default();
    for k in [
        "cf/E2AAAAAAAAAAAA.2026-11-20-11.a.gz",
        "cf/E2AAAAAAAAAAAA.2026-11-20-12.a b.gz",
        "cf/E2AAAAAAAAAAAA.2026-11-20-13.c.gz",
        "cf/_cflm/processed/cf/x.json",
        "cf/_cflm/batch/manifests/m.csv",
        "other/E2AAAAAAAAAAAA.2026-11-20-12.d.gz",
    ] {
        store.put("logs", k, vec![0; 10]);
    }
    let hours = HourWindow {
        since: Some(H12),
        until: Some(H12 + 1),
    };
    let sel = select(
        &store,
        "s3://logs/cf/",
        &["cf/_cflm/processed/", "cf/_cflm/batch/"],
        hours,
    )
    .await
    .unwrap();
    assert_eq!(sel.bucket, "logs");
    let keys: Vec<&str> = sel.objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "cf/E2AAAAAAAAAAAA.2026-11-20-12.a b.gz",
            "cf/E2AAAAAAAAAAAA.2026-11-20-13.c.gz"
        ]
    );
    assert_eq!(sel.bytes(), 20);
    assert_eq!(
        sel.manifest(),
        "logs,cf/E2AAAAAAAAAAAA.2026-11-20-12.a%20b.gz\nlogs,cf/E2AAAAAAAAAAAA.2026-11-20-13.c.gz\n"
    );
    assert!(matches!(
        select(&store, "logs/cf/", &[], hours).await,
        Err(JobError::NotS3(_))
    ));
}

#[tokio::test]
async fn the_manifest_is_written_once_and_its_etag_returned() {
    let store = MemoryStore::default();
    let etag = write_manifest(&store, "logs", "m/1.csv", "logs,k\n".into())
        .await
        .unwrap();
    assert!(!etag.contains('"'), "{etag}");
    assert_eq!(store.bytes("logs", "m/1.csv").unwrap(), b"logs,k\n");
    let again = write_manifest(&store, "logs", "m/1.csv", "other".into()).await;
    assert!(matches!(again, Err(JobError::Manifest { .. })), "{again:?}");
    assert_eq!(store.bytes("logs", "m/1.csv").unwrap(), b"logs,k\n");
}

#[test]
fn the_estimate_adds_up() {
    let sel = Selection {
        bucket: "logs".into(),
        objects: (0..1000).map(|i| (format!("k{i}"), 3_180_000)).collect(),
    };
    let e = estimate(&sel, 12_345, 512, 2, 10);
    // 0.2 s + 3.18 MB at 31.8 MB/s = 0.3 s per object; 300 s in all, at 0.5 GB.
    assert!((e.seconds_per_object - 0.3).abs() < 1e-9, "{e:?}");
    assert!((e.gb_seconds - 150.0).abs() < 1e-6, "{e:?}");
    assert_eq!(e.put_requests, 2000);
    let lambda = 1000.0 * price::LAMBDA_REQUEST + 150.0 * price::LAMBDA_GB_SECOND;
    assert!((e.lambda_usd - lambda).abs() < 1e-12);
    assert!((e.cloudwatch_usd - 0.02).abs() < 1e-12);
    assert!((e.batch_usd - (0.25 + 0.001)).abs() < 1e-12);
    assert!((e.hours - 300.0 / 10.0 / 3600.0).abs() < 1e-12);
    let text = e.to_string();
    assert!(
        text.starts_with("objects: 1000 (3180.0 MB gzip'd); manifest: 12345 bytes"),
        "{text}"
    );
    assert!(text.contains("at a concurrency of 10"), "{text}");
}

#[test]
fn arns_name_their_account() {
    assert_eq!(
        account_of("arn:aws:iam::123456789012:role/batch"),
        Some("123456789012")
    );
    assert_eq!(
        account_of("arn:aws:lambda:us-east-1:123456789012:function:f"),
        Some("123456789012")
    );
    assert_eq!(account_of("arn:aws:s3:::bucket"), None);
    assert_eq!(account_of("role/batch"), None);
}

#[test]
fn csv_lines_with_quotes_and_commas() {
    assert_eq!(
        csv_fields(
            r#"logs,cf/a%20b.gz,,failed,PermanentFailure,200,"missing: s3://logs/k, ""x""""#
        ),
        [
            "logs",
            "cf/a%20b.gz",
            "",
            "failed",
            "PermanentFailure",
            "200",
            "missing: s3://logs/k, \"x\""
        ]
    );
    assert_eq!(csv_fields(""), [""]);
}

const REPORT_CSV: &str = "logs,k1,,succeeded,200,,\"published: 12 records, 0 rejected lines\"\n\
logs,k2,,succeeded,200,,duplicate: published before (marker s3://logs/m)\n\
logs,k3,,failed,PermanentFailure,200,\"too old: all 6 records are older, than two weeks\"\n\
logs,k4,,succeeded,200,,\"published: 3 records\"\n";

#[test]
fn reports_are_totalled_by_code_and_reason() {
    let mut t = BTreeMap::new();
    tally(REPORT_CSV, &mut t);
    let pairs: Vec<(&str, &str, u64)> = t
        .iter()
        .map(|((c, r), n)| (c.as_str(), r.as_str(), *n))
        .collect();
    assert_eq!(
        pairs,
        [
            ("PermanentFailure", "too old", 1),
            ("Succeeded", "duplicate", 1),
            ("Succeeded", "published", 2)
        ]
    );
}

#[tokio::test]
async fn report_totals_follow_the_reports_manifest() {
    let store = MemoryStore::default();
    assert_eq!(
        report_totals(&store, "logs", "_cflm/batch/reports", "j1")
            .await
            .unwrap(),
        None
    );
    store.put(
        "logs",
        "_cflm/batch/reports/job-j1/results/a.csv",
        REPORT_CSV.into(),
    );
    store.put(
        "logs",
        "_cflm/batch/reports/job-j1/manifest.json",
        serde_json::to_vec(&serde_json::json!({
            "Format": "Report_CSV_20180820",
            "Results": [{"TaskExecutionStatus": "succeeded", "Bucket": "arn:aws:s3:::logs",
                         "Key": "_cflm/batch/reports/job-j1/results/a.csv"}]
        }))
        .unwrap(),
    );
    let t = report_totals(&store, "logs", "_cflm/batch/reports/", "j1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.values().sum::<u64>(), 4);
    assert_eq!(t[&("Succeeded".to_owned(), "published".to_owned())], 2);
}

fn plan(url: &str) -> Plan {
    Plan {
        url: url.to_owned(),
        hours: HourWindow::default(),
        exclude: vec!["_cflm/processed/".into(), "_cflm/batch/".into()],
        manifest_bucket: None,
        manifest_prefix: "_cflm/batch/manifests/".into(),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        report_bucket: None,
        report_prefix: "_cflm/batch/reports/".into(),
        priority: 10,
        user_arguments: BTreeMap::new(),
        memory_mb: 512,
        concurrency: 10,
        requests_per_object: 2,
        now_ms: 1_795_176_000_000,
    }
}

/// An S3 Control client that must not be called: nothing listens at its endpoint.
fn unused_control() -> aws_sdk_s3control::Client {
    let conf = aws_sdk_s3control::Config::builder()
        .behavior_version(aws_sdk_s3control::config::BehaviorVersion::latest())
        .region(aws_sdk_s3control::config::Region::new("us-east-1"))
        .build();
    aws_sdk_s3control::Client::from_conf(conf)
}

#[tokio::test]
async fn more_than_ten_thousand_objects_need_confirm_and_a_dry_run_writes_nothing() {
    let store = MemoryStore::default();
    for i in 0..=CONFIRM_ABOVE {
        store.put(
            "logs",
            &format!("cf/E2AAAAAAAAAAAA.2026-11-20-12.{i:05}.gz"),
            Vec::new(),
        );
    }
    let control = unused_control();
    let p = plan("s3://logs/cf/");
    let Started::NeedsConfirm(e) = start(&store, &control, &p, false, false).await.unwrap() else {
        panic!("started without --confirm");
    };
    assert_eq!(e.objects, CONFIRM_ABOVE + 1);
    let Started::DryRun(d) = start(&store, &control, &p, true, true).await.unwrap() else {
        panic!("not a dry run");
    };
    assert_eq!(d, e);
    assert!(store.keys("logs", "_cflm/").is_empty(), "nothing written");
    let empty = start(&store, &control, &plan("s3://logs/none/"), false, true).await;
    assert_eq!(empty.unwrap(), Started::Empty);
}

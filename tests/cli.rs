//! Tests of the `cflogs` binary: `process --dry-run` on local files (JSON lines and table output,
//! per-file errors, distribution ID fallback, hour filters), the settings read from the
//! environment and flags alike, and `catalogue`. The clock is pinned with `--now` or `CFLM_NOW`,
//! and the configuration variables are cleared so that the caller's environment cannot change
//! the results.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use support::logs::*;

const AWS_DOCS: &str = "aws-docs_AccessLogs_example_2019-12.tsv";
const NOW: &str = "2019-12-14T00:00:00Z";
const GOOD: &str = "EMLARXS9EXAMPLE.2019-12-04-21.abc123.gz";

/// The 23 metrics of the catalogue with their units (README "Metric catalogue").
const METRICS: [(&str, &str); 23] = [
    ("Requests", "Count"),
    ("BytesDownloaded", "Bytes"),
    ("BytesUploaded", "Bytes"),
    ("Hit", "Count"),
    ("RefreshHit", "Count"),
    ("Miss", "Count"),
    ("Error", "Count"),
    ("Redirect", "Count"),
    ("LimitExceeded", "Count"),
    ("CapacityExceeded", "Count"),
    ("LambdaExecutionError", "Count"),
    ("OtherResult", "Count"),
    ("Status2xx", "Count"),
    ("Status3xx", "Count"),
    ("Status4xx", "Count"),
    ("Status5xx", "Count"),
    ("Status000", "Count"),
    ("TimeTaken", "Milliseconds"),
    ("TimeToFirstByte", "Milliseconds"),
    ("OriginFirstByteLatency", "Milliseconds"),
    ("OriginLastByteLatency", "Milliseconds"),
    ("LogFiles", "Count"),
    ("DeliveryDelay", "Seconds"),
];

fn unit_of(metric: &str) -> &'static str {
    METRICS
        .iter()
        .find(|(m, _)| *m == metric)
        .map(|(_, u)| *u)
        .unwrap_or_else(|| panic!("unknown metric {metric}"))
}

/// `cflogs` with the configuration variables cleared.
fn cflogs(args: &[&str]) -> Output {
    cflogs_env(&[], args)
}

/// `cflogs` with the configuration variables cleared, then `vars` set.
fn cflogs_env(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cflogs"));
    for v in cloudfront_log_metrics::settings::env::LAMBDA
        .iter()
        .chain(&[
            "METRICS_NAMESPACE",
            "METRICS_DIMENSIONS",
            "METRICS_INCLUDE",
            "METRICS_MAX_DIMENSION_VALUES",
            "DISTRIBUTION_ID",
            "MAX_DECOMPRESSED_BYTES",
            "FILE_CONCURRENCY",
            "PUT_CONCURRENCY",
            "MARKER_PREFIX",
            "CFLM_NOW",
        ])
    {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().copied());
    cmd.args(args).output().expect("run cflogs")
}

/// `cflogs process --dry-run --now <now>` followed by `args`: the clock pinned, nothing published.
fn dry_run(now: &str, args: &[&str]) -> Output {
    let mut all = vec!["process", "--dry-run", "--now", now];
    all.extend_from_slice(args);
    cflogs(&all)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Parses JSON-lines stdout, checking that every line is a datum of the documented shape:
/// `namespace, metric_name, dimensions, timestamp, unit, storage_resolution` in that order, then
/// `value`, or `values` and `counts`.
fn datums(stdout: &[u8]) -> Vec<Value> {
    let s = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    let mut out = Vec::new();
    for line in s.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {line}"));
        let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
        let common = [
            "namespace",
            "metric_name",
            "dimensions",
            "timestamp",
            "unit",
            "storage_resolution",
        ];
        let dist = keys.contains("values");
        let mut want: Vec<&str> = common.to_vec();
        if dist {
            want.extend(["values", "counts"]);
        } else {
            want.push("value");
        }
        assert_eq!(keys, want.iter().copied().collect(), "{line}");
        // Key order as documented.
        let pos: Vec<usize> = want
            .iter()
            .map(|k| line.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "key order: {line}");
        let metric = obj["metric_name"].as_str().unwrap();
        assert_eq!(obj["unit"], unit_of(metric), "{line}");
        assert_eq!(obj["storage_resolution"], 60);
        assert!(obj["dimensions"].is_object());
        let ts = obj["timestamp"].as_str().unwrap();
        assert!(
            ts.len() == 20 && ts.ends_with(":00Z") && ts.as_bytes()[10] == b'T',
            "{ts}"
        );
        if dist {
            let values = obj["values"].as_array().unwrap();
            let counts = obj["counts"].as_array().unwrap();
            assert_eq!(values.len(), counts.len());
            assert!(!values.is_empty() && values.len() <= 150);
            assert!(
                matches!(unit_of(metric), "Milliseconds" | "Seconds"),
                "{line}"
            );
        } else {
            assert!(obj["value"].as_u64().unwrap() > 0, "{line}");
        }
        out.push(v);
    }
    out
}

/// Sum of `value` per (metric, timestamp) for datums whose dimensions are exactly `dims`.
fn sums(datums: &[Value], dims: &[(&str, &str)]) -> BTreeMap<(String, String), u64> {
    let want: serde_json::Map<String, Value> = dims
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let mut out = BTreeMap::new();
    for d in datums {
        if d["dimensions"].as_object() == Some(&want)
            && let Some(v) = d["value"].as_u64()
        {
            *out.entry((
                d["metric_name"].as_str().unwrap().to_owned(),
                d["timestamp"].as_str().unwrap().to_owned(),
            ))
            .or_insert(0) += v;
        }
    }
    out
}

fn total(datums: &[Value], dims: &[(&str, &str)], metric: &str) -> u64 {
    sums(datums, dims)
        .iter()
        .filter(|((m, _), _)| m == metric)
        .map(|(_, v)| v)
        .sum()
}

/// A one-line legacy log at the given time with the given sc-bytes.
fn one_line(date: &str, time: &str, bytes: u64) -> Vec<u8> {
    format!(
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type time-taken\n{date}\t{time}\tLAX1\t{bytes}\t200\tHit\t0.005\n"
    )
    .into_bytes()
}

/// Issue 28: with the clock pinned, each file's DeliveryDelay is the clock minus its newest
/// record, per distribution, and LogFiles counts the files; both at the minute of publication.
#[test]
fn freshness_datums_say_how_late_each_file_is() {
    let dir = tempfile::tempdir().unwrap();
    let log = |name: &str, times: &[&str]| {
        let mut body = one_line("2026-11-20", times[0], 10);
        for t in &times[1..] {
            body.extend_from_slice(
                format!("2026-11-20\t{t}\tLAX1\t10\t200\tHit\t0.005\n").as_bytes(),
            );
        }
        std::fs::write(dir.path().join(name), body).unwrap();
    };
    log(
        "EFRESHAAAAAA1.2026-11-20-12.a.gz",
        &["12:00:05", "12:41:10", "12:10:00"],
    );
    log("EFRESHAAAAAA1.2026-11-20-12.c.gz", &["12:50:00"]);
    log("EFRESHAAAAAA2.2026-11-20-12.b.gz", &["12:20:00"]);
    let out = dry_run("2026-11-20T13:00:30Z", &[p(dir.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let all = datums(&out.stdout);
    for (dist, files, mut delays) in [
        ("EFRESHAAAAAA1", 2, vec![1160, 630]),
        ("EFRESHAAAAAA2", 1, vec![2430]),
    ] {
        let dims = [("DistributionId", dist)];
        assert_eq!(total(&all, &dims, "LogFiles"), files, "{dist}");
        let mut got: Vec<u64> = Vec::new();
        for d in &all {
            if d["metric_name"] == "DeliveryDelay" && d["dimensions"]["DistributionId"] == dist {
                assert_eq!(d["timestamp"], "2026-11-20T13:00:00Z");
                let values = d["values"].as_array().unwrap();
                let counts = d["counts"].as_array().unwrap();
                for (v, c) in values.iter().zip(counts) {
                    for _ in 0..c.as_u64().unwrap() {
                        got.push(v.as_u64().unwrap());
                    }
                }
            }
        }
        got.sort_unstable();
        delays.sort_unstable();
        assert_eq!(got, delays, "{dist}");
    }
    // Left out of the selection, neither is shown.
    let out = cflogs_env(
        &[("METRICS_INCLUDE", "Requests")],
        &[
            "process",
            "--dry-run",
            "--now",
            "2026-11-20T13:00:30Z",
            p(dir.path()),
        ],
    );
    assert!(
        datums(&out.stdout)
            .iter()
            .all(|d| d["metric_name"] == "Requests")
    );
}

#[test]
fn dry_run_jsonl_with_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join(GOOD), gzip(sample(AWS_DOCS))).unwrap();
    // Not gzip although named .gz, and not text either.
    let binary = logs.join("EBINARY00001.2019-12-04-21.bin.gz");
    std::fs::write(&binary, [0u8, 1, 2, 3, 0xff, 0xfe, 7, 8, 9, 10, 0x80, 0]).unwrap();
    // A gzip stream cut in the middle.
    let mut big = Vec::new();
    for _ in 0..200 {
        big.extend_from_slice(&sample(AWS_DOCS));
    }
    let gz = gzip(&big);
    let truncated = logs.join("ETRUNCATED01.2019-12-04-21.cut.gz");
    std::fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    let missing = dir.path().join("missing.gz");

    let out = dry_run(NOW, &["--output", "jsonl", p(&logs), p(&missing)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");

    // Each bad file is named with its error.
    let line_of = |path: &Path| -> String {
        stderr
            .lines()
            .find(|l| l.contains(p(path)))
            .unwrap_or_else(|| panic!("{} not named in stderr:\n{stderr}", path.display()))
            .to_owned()
    };
    let l = line_of(&binary);
    assert!(l.starts_with("error: "), "{l}");
    assert!(
        l.contains("not a CloudFront log") && l.contains("binary"),
        "{l}"
    );
    let l = line_of(&truncated);
    assert!(l.contains("truncated gzip"), "{l}");
    let l = line_of(&missing);
    assert!(l.contains("cannot read"), "{l}");
    assert!(
        !stderr.contains(GOOD),
        "the good file has no error: {stderr}"
    );
    assert!(stderr.contains("files: 4 (3 failed)"), "{stderr}");

    // stdout: only datums, all of the good file. From the sample: 6 requests, 3 at 21:02 on the
    // 4th, 2 at 22:36 and 1 at 22:37 on the 13th; 3876 bytes; TimeTaken 0,1,1 / 102,107 / 103 ms.
    let ds = datums(&out.stdout);
    assert!(!ds.is_empty());
    let dist = [("DistributionId", "EMLARXS9EXAMPLE")];
    for d in &ds {
        assert_eq!(d["namespace"], "CloudFront/AccessLogs");
        assert_eq!(d["dimensions"]["DistributionId"], "EMLARXS9EXAMPLE");
    }
    let s = sums(&ds, &dist);
    let key = |m: &str, t: &str| (m.to_owned(), t.to_owned());
    assert_eq!(s[&key("Requests", "2019-12-04T21:02:00Z")], 3);
    assert_eq!(s[&key("Requests", "2019-12-13T22:36:00Z")], 2);
    assert_eq!(s[&key("Requests", "2019-12-13T22:37:00Z")], 1);
    assert_eq!(total(&ds, &dist, "Requests"), 6);
    assert_eq!(total(&ds, &dist, "BytesDownloaded"), 3876);
    assert_eq!(total(&ds, &dist, "Status5xx"), 3);
    let tt: Vec<(&str, Vec<u64>, Vec<u64>)> = ds
        .iter()
        .filter(|d| d["metric_name"] == "TimeTaken")
        .map(|d| {
            let nums = |k: &str| -> Vec<u64> {
                d[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect()
            };
            (
                d["timestamp"].as_str().unwrap(),
                nums("values"),
                nums("counts"),
            )
        })
        .collect();
    assert_eq!(
        tt,
        vec![
            ("2019-12-04T21:02:00Z", vec![0, 1], vec![1, 2]),
            ("2019-12-13T22:36:00Z", vec![102, 107], vec![1, 1]),
            ("2019-12-13T22:37:00Z", vec![103], vec![1]),
        ]
    );
}

#[test]
fn default_output_off_a_terminal_is_jsonl_and_options_apply() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(GOOD);
    std::fs::write(&good, sample(AWS_DOCS)).unwrap();
    let out = dry_run(
        NOW,
        &[
            "--namespace",
            "Test/CF",
            "--dimensions",
            "DistributionId;DistributionId,EdgeLocation",
            "--include",
            "Requests,TimeTaken",
            p(&good),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ds = datums(&out.stdout);
    let names: BTreeSet<&str> = ds
        .iter()
        .map(|d| d["metric_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["Requests", "TimeTaken"]));
    assert!(ds.iter().all(|d| d["namespace"] == "Test/CF"));
    let by_edge = |e: &str| {
        total(
            &ds,
            &[("DistributionId", "EMLARXS9EXAMPLE"), ("EdgeLocation", e)],
            "Requests",
        )
    };
    assert_eq!(
        (by_edge("LAX1"), by_edge("SEA19-C1"), by_edge("SEA19-C2")),
        (3, 2, 1)
    );
    // At 2019-12-20 the lines of the 4th are more than 14 days old: a publish would skip them,
    // a dry run keeps them and says so.
    let out = dry_run("2019-12-20T00:00:00Z", &[p(&good)]);
    assert_eq!(out.status.code(), Some(0));
    let ds = datums(&out.stdout);
    assert_eq!(
        total(&ds, &[("DistributionId", "EMLARXS9EXAMPLE")], "Requests"),
        6
    );
    assert!(
        text(&out.stderr).contains("outside CloudWatch's window: 3 (kept in this dry run)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn table_output_summarises_the_distribution() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(GOOD);
    std::fs::write(&good, gzip(sample(AWS_DOCS))).unwrap();
    let out = dry_run(NOW, &["--output", "table", p(&good)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains('{'), "no JSON in table mode: {stdout}");
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header[0], "distribution");
    assert!(header.contains(&"requests") && header.contains(&"p99"));
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("EMLARXS9EXAMPLE"))
        .unwrap_or_else(|| panic!("no row: {stdout}"))
        .split_whitespace()
        .collect();
    // 6 requests, 3876 bytes = 0.000 GB, hits 3 of 3 Hit+Miss = 100.0 %, 4xx 0.0 %, 5xx 3/6 =
    // 50.0 %; TimeTaken sorted 0 1 1 102 103 107: nearest rank p50 = 3rd = 1, p90 = 6th = 107,
    // p99 = 6th = 107.
    assert_eq!(
        row,
        [
            "EMLARXS9EXAMPLE",
            "6",
            "0.000",
            "100.0",
            "0.0",
            "50.0",
            "1",
            "107",
            "107"
        ]
    );
}

#[test]
fn distribution_id_fallback_and_missing_id() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("access.log");
    std::fs::write(&plain, sample(AWS_DOCS)).unwrap();

    let out = dry_run(
        NOW,
        &[
            "--output",
            "jsonl",
            "--distribution-id",
            "E2Q4ABCDEFGH",
            p(&plain),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ds = datums(&out.stdout);
    assert_eq!(
        total(&ds, &[("DistributionId", "E2Q4ABCDEFGH")], "Requests"),
        6
    );

    // The ID in a file's name wins over the fallback.
    let named = dir.path().join(GOOD);
    std::fs::write(&named, sample(AWS_DOCS)).unwrap();
    let out = dry_run(NOW, &["--distribution-id", "E2Q4ABCDEFGH", p(&named)]);
    let ds = datums(&out.stdout);
    assert_eq!(
        total(&ds, &[("DistributionId", "EMLARXS9EXAMPLE")], "Requests"),
        6
    );
    assert_eq!(
        total(&ds, &[("DistributionId", "E2Q4ABCDEFGH")], "Requests"),
        0
    );

    // No ID anywhere: a clear error naming the file, exit status 1, nothing on stdout.
    let out = dry_run(NOW, &[p(&plain)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    let l = stderr
        .lines()
        .find(|l| l.contains(p(&plain)))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(l.contains("no distribution ID"), "{l}");
    assert!(
        l.contains("--distribution-id"),
        "the error says how to fix it: {l}"
    );

    // An invalid fallback is a usage error.
    let out = cflogs(&[
        "process",
        "--dry-run",
        "--distribution-id",
        "not-an-id",
        p(&plain),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not-an-id"));
}

#[test]
fn since_and_until_filter_by_the_hour_in_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    // One file per hour, each with one line of that hour and its own byte count.
    for (hour, bytes) in [("20", 100), ("21", 200), ("22", 400)] {
        std::fs::write(
            dir.path()
                .join(format!("EFILTER00001.2019-12-04-{hour}.x{hour}.gz")),
            gzip(one_line("2019-12-04", &format!("{hour}:30:00"), bytes)),
        )
        .unwrap();
    }
    let run = |extra: &[&str]| -> u64 {
        let mut args = extra.to_vec();
        args.push(p(dir.path()));
        let out = dry_run("2019-12-05T00:00:00Z", &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        total(
            &datums(&out.stdout),
            &[("DistributionId", "EFILTER00001")],
            "BytesDownloaded",
        )
    };
    assert_eq!(run(&[]), 700);
    assert_eq!(
        run(&["--since", "2019-12-04T21", "--until", "2019-12-04T21"]),
        200
    );
    assert_eq!(run(&["--since", "2019-12-04T21"]), 600);
    assert_eq!(run(&["--until", "2019-12-04T20"]), 100);
    assert_eq!(run(&["--since", "2019-12-04T21:59:59Z"]), 600);
    // RFC 3339 with an offset, fractional seconds, lowercase: its UTC hour.
    assert_eq!(run(&["--since", "2019-12-04T23:30:00.5+02:00"]), 600);
    assert_eq!(run(&["--until", "2019-12-04t17:59:59-04:00"]), 300);
    assert_eq!(run(&["--since", "2019-12-04t22"]), 400);
    assert_eq!(run(&["--since", "2019-12-05T00"]), 0);
    // A file whose name carries no hour is not filtered out (its hour is unknown).
    std::fs::write(
        dir.path().join("EFILTER00001-no-hour.log"),
        one_line("2019-12-04", "23:00:00", 1000),
    )
    .unwrap();
    let out = dry_run(
        "2019-12-05T00:00:00Z",
        &[
            "--distribution-id",
            "EFILTER00001",
            "--since",
            "2019-12-04T22",
            p(dir.path()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        total(
            &datums(&out.stdout),
            &[("DistributionId", "EFILTER00001")],
            "BytesDownloaded"
        ),
        1400
    );
    // A malformed hour is a usage error.
    let out = cflogs(&[
        "process",
        "--dry-run",
        "--since",
        "yesterday",
        p(dir.path()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("YYYY-MM-DDTHH"));
}

#[test]
fn bad_now_is_a_usage_error() {
    let out = dry_run("2019-12-05", &["x.log"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        r#"error: --now: "2019-12-05" is not an RFC 3339 time such as 2026-11-20T13:00:00Z"#
    );
    assert!(out.stdout.is_empty());
    let out = cflogs_env(
        &[("CFLM_NOW", "tomorrow")],
        &["process", "--dry-run", "x.log"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        r#"error: CFLM_NOW: "tomorrow" is not an RFC 3339 time such as 2026-11-20T13:00:00Z"#
    );
}

/// Each setting: (variable, its flag, a value, `None` if accepted, else the error after
/// "<variable or flag>: "), as the Lambda reads the variable.
const SETTINGS: &[(&str, &str, &str, Option<&str>)] = &[
    ("EXPORT_CLIENT_IP", "--export-client-ip", "remove", None),
    (
        "EXPORT_CLIENT_IP",
        "--export-client-ip",
        "hash",
        Some(r#""hash" is not one of truncate, remove, keep"#),
    ),
    ("EXPORT_COOKIES", "--export-cookies", "on", None),
    (
        "EXPORT_COOKIES",
        "--export-cookies",
        "maybe",
        Some(r#""maybe" is not one of on, off (or true, false, 1, 0)"#),
    ),
    ("EXPORT_QUERY_STRINGS", "--export-query-strings", "on", None),
    (
        "EXPORT_QUERY_STRINGS",
        "--export-query-strings",
        "maybe",
        Some(r#""maybe" is not one of on, off (or true, false, 1, 0)"#),
    ),
    ("EXPORT_REQUEST_IDS", "--export-request-ids", "on", None),
    (
        "EXPORT_REQUEST_IDS",
        "--export-request-ids",
        "maybe",
        Some(r#""maybe" is not one of on, off (or true, false, 1, 0)"#),
    ),
    ("EXPORT_HEADERS", "--export-headers", "on", None),
    (
        "EXPORT_HEADERS",
        "--export-headers",
        "maybe",
        Some(r#""maybe" is not one of on, off (or true, false, 1, 0)"#),
    ),
    ("EXPORT_SESSION_IDS", "--export-session-ids", "on", None),
    (
        "EXPORT_SESSION_IDS",
        "--export-session-ids",
        "maybe",
        Some(r#""maybe" is not one of on, off (or true, false, 1, 0)"#),
    ),
    (
        "EXPORT_CONNECTION_IDS",
        "--export-connection-ids",
        "off",
        None,
    ),
    (
        "EXPORT_CONNECTION_IDS",
        "--export-connection-ids",
        "yes",
        Some(r#""yes" is not one of on, off (or true, false, 1, 0)"#),
    ),
    (
        "MAX_PARQUET_PAGE_BYTES",
        "--max-parquet-page-bytes",
        "1048576",
        None,
    ),
    (
        "MAX_PARQUET_PAGE_BYTES",
        "--max-parquet-page-bytes",
        "0",
        Some(r#""0" is not a positive whole number"#),
    ),
    (
        "REALTIME_FIELDS",
        "--realtime-fields",
        "sc-bytes,timestamp",
        None,
    ),
    (
        "REALTIME_FIELDS",
        "--realtime-fields",
        "timestamp,nope",
        Some(
            "unknown real-time log field \"nope\"; known fields: timestamp,c-ip,s-ip,time-to-first-byte,sc-status,sc-bytes,cs-method,cs-protocol,cs-host,cs-uri-stem,cs-bytes,x-edge-location,x-edge-request-id,x-host-header,time-taken,cs-protocol-version,c-ip-version,cs-user-agent,cs-referer,cs-cookie,cs-uri-query,x-edge-response-result-type,x-forwarded-for,ssl-protocol,ssl-cipher,x-edge-result-type,fle-encrypted-fields,fle-status,sc-content-type,sc-content-len,sc-range-start,sc-range-end,c-port,x-edge-detailed-result-type,c-country,cs-accept-encoding,cs-accept,cache-behavior-path-pattern,cs-headers,cs-header-names,cs-headers-count,primary-distribution-id,primary-distribution-dns-name,origin-fbl,origin-lbl,asn,cmcd-encoded-bitrate,cmcd-buffer-length,cmcd-buffer-starvation,cmcd-content-id,cmcd-object-duration,cmcd-deadline,cmcd-measured-throughput,cmcd-next-object-request,cmcd-next-range-request,cmcd-object-type,cmcd-playback-rate,cmcd-requested-maximum-throughput,cmcd-streaming-format,cmcd-session-id,cmcd-stream-type,cmcd-startup,cmcd-top-bitrate,cmcd-version,r-host,sr-reason,x-edge-mqcs,distribution-tenant-id,connection-id",
        ),
    ),
    (
        "DISTRIBUTION_HOSTS",
        "--distribution-hosts",
        "d1.cloudfront.net=E2EXAMPLE1234",
        None,
    ),
    (
        "DISTRIBUTION_HOSTS",
        "--distribution-hosts",
        "d1.cloudfront.net",
        Some(r#""d1.cloudfront.net" is not one of host=DISTRIBUTIONID pairs separated by commas"#),
    ),
    ("METRICS_NAMESPACE", "--namespace", "Test/CF", None),
    (
        "METRICS_NAMESPACE",
        "--namespace",
        "AWS/CF",
        Some(r#"namespace "AWS/CF" must be 1 to 255 characters and not start with "AWS/""#),
    ),
    (
        "METRICS_DIMENSIONS",
        "--dimensions",
        "distributionid;DistributionId,Host",
        None,
    ),
    (
        "METRICS_DIMENSIONS",
        "--dimensions",
        "Host,Host",
        Some(r#"dimension set "Host,Host" names Host twice"#),
    ),
    ("METRICS_INCLUDE", "--include", "Requests,TimeTaken", None),
    (
        "METRICS_INCLUDE",
        "--include",
        "Nope",
        Some(r#"unknown metric "Nope" (see the metric catalogue in README)"#),
    ),
    (
        "METRICS_MAX_DIMENSION_VALUES",
        "--max-dimension-values",
        "10000",
        None,
    ),
    (
        "METRICS_MAX_DIMENSION_VALUES",
        "--max-dimension-values",
        "0",
        Some(r#""0" is not a whole number from 1 to 10000"#),
    ),
    ("DISTRIBUTION_ID", "--distribution-id", "E2Q4ABCDEFGH", None),
    (
        "DISTRIBUTION_ID",
        "--distribution-id",
        "not-an-id",
        Some(r#""not-an-id" is not a CloudFront distribution ID"#),
    ),
    ("METRICS_SINK", "--sink", "EMF", None),
    (
        "METRICS_SINK",
        "--sink",
        "kinesis",
        Some(r#""kinesis" is not one of cloudwatch, emf"#),
    ),
    (
        "MAX_DECOMPRESSED_BYTES",
        "--max-decompressed-bytes",
        "1048576",
        None,
    ),
    (
        "MAX_DECOMPRESSED_BYTES",
        "--max-decompressed-bytes",
        "0",
        Some(r#""0" is not a positive whole number"#),
    ),
    ("FILE_CONCURRENCY", "--file-concurrency", "2", None),
    (
        "FILE_CONCURRENCY",
        "--file-concurrency",
        "0",
        Some(r#""0" is not a whole number from 1 to 10000"#),
    ),
    ("PUT_CONCURRENCY", "--put-concurrency", "1", None),
    (
        "PUT_CONCURRENCY",
        "--put-concurrency",
        "lots",
        Some(r#""lots" is not a whole number from 1 to 10000"#),
    ),
    ("IDEMPOTENCY", "--idempotency", "on", None),
    ("IDEMPOTENCY", "--idempotency", "true", None),
    ("IDEMPOTENCY", "--idempotency", "1", None),
    ("IDEMPOTENCY", "--idempotency", "OFF", None),
    ("IDEMPOTENCY", "--idempotency", "false", None),
    ("IDEMPOTENCY", "--idempotency", "0", None),
    (
        "IDEMPOTENCY",
        "--idempotency",
        "maybe",
        Some(r#""maybe" is not one of on, off (or true, false, 1, 0)"#),
    ),
    ("MARKER_BUCKET", "--marker-bucket", "markers", None),
    ("MARKER_PREFIX", "--marker-prefix", "m/", None),
    ("MARKER_LEASE_SECONDS", "--marker-lease-seconds", "30", None),
    (
        "MARKER_LEASE_SECONDS",
        "--marker-lease-seconds",
        "0",
        Some(r#""0" is not a positive whole number"#),
    ),
    ("CFLM_NOW", "--now", "2019-12-14T02:00:00.123+02:00", None),
    ("CFLM_NOW", "--now", "2019-12-14t00:00:00z", None),
    (
        "CFLM_NOW",
        "--now",
        "2019-12-14 00:00",
        Some(r#""2019-12-14 00:00" is not an RFC 3339 time such as 2026-11-20T13:00:00Z"#),
    ),
];

/// cflogs reads its settings as the Lambda does: every variable from the environment and from
/// its flag accepts the same values and fails with the same error, naming the source.
#[test]
fn every_setting_reads_alike_from_the_environment_and_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(GOOD);
    std::fs::write(&good, sample(AWS_DOCS)).unwrap();
    let run = |vars: &[(&str, &str)], flags: &[&str]| {
        let mut args = vec!["process", "--dry-run", "--output", "none"];
        args.extend_from_slice(flags);
        args.push(p(&good));
        cflogs_env(vars, &args)
    };
    let mut covered = BTreeSet::new();
    for &(var, flag, value, error) in SETTINGS {
        covered.insert(var);
        for (source, out) in [
            (var, run(&[(var, value)], &[])),
            (flag, run(&[], &[flag, value])),
        ] {
            let stderr = text(&out.stderr);
            match error {
                None => assert_eq!(out.status.code(), Some(0), "{source}={value:?}: {stderr}"),
                Some(e) => {
                    assert_eq!(out.status.code(), Some(2), "{source}={value:?}: {stderr}");
                    assert_eq!(stderr.trim(), format!("error: {source}: {e}"));
                }
            }
        }
    }
    for var in cloudfront_log_metrics::settings::env::LAMBDA {
        assert!(
            // AWS_MAX_ATTEMPTS is aws-config's; a Kinesis shard's publish delay and the
            // prefixes of the stack's own objects (skipped in events) are the Lambda's.
            covered.contains(var)
                || *var == "AWS_MAX_ATTEMPTS"
                || *var == "REALTIME_PUBLISH_DELAY_SECONDS"
                || *var == "EXPORT_PREFIX"
                || *var == "BATCH_OPERATIONS_PREFIX"
                || *var == "ALLOW_NAMESPACE_OVERRIDE",
            "{var} is not tested"
        );
    }
}

/// A flag overrides its variable, whether the variable's value is good or not.
#[test]
fn a_flag_overrides_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(GOOD);
    std::fs::write(&good, sample(AWS_DOCS)).unwrap();
    let vars = [
        ("METRICS_NAMESPACE", "Env/NS"),
        ("METRICS_INCLUDE", "Nope"),
        ("CFLM_NOW", "2019-12-20T00:00:00Z"),
    ];
    let out = cflogs_env(
        &vars,
        &[
            "process",
            "--dry-run",
            "--output",
            "jsonl",
            "--namespace",
            "Flag/NS",
            "--include",
            "Requests",
            "--now",
            "2019-12-14T00:00:00Z",
            p(&good),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let ds = datums(&out.stdout);
    assert!(!ds.is_empty());
    assert!(
        ds.iter()
            .all(|d| d["namespace"] == "Flag/NS" && d["metric_name"] == "Requests")
    );
    assert!(
        stderr.contains("outside CloudWatch's window: 0 "),
        "{stderr}"
    );
    // And the variables apply without the flags.
    let out = cflogs_env(
        &[vars[0], vars[2]],
        &["process", "--dry-run", "--output", "jsonl", p(&good)],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        datums(&out.stdout)
            .iter()
            .all(|d| d["namespace"] == "Env/NS")
    );
    assert!(
        stderr.contains("outside CloudWatch's window: 3 "),
        "{stderr}"
    );
}

/// The bundled sample logs (2026-11-20 12:00-12:10 UTC) in a dry run without `--now`.
fn sample_dry_run(vars: &[(&str, &str)], extra: &[&str]) -> (Vec<Value>, String) {
    let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/logs");
    let mut args = vec!["process", "--dry-run", "--output", "jsonl"];
    args.extend_from_slice(extra);
    args.push(p(&logs));
    let out = cflogs_env(vars, &args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (datums(&out.stdout), stderr)
}

/// A dry run keeps every record whatever the date, and says how many a publish would skip;
/// `CFLM_NOW` is the default of `--now`.
#[test]
fn a_dry_run_keeps_every_record_and_counts_those_outside_the_window() {
    let dists = ["E2EXAMPLE1234", "E3EXAMPLE5678", "E4EXAMPLE9012"];
    let requests = |ds: &[Value]| -> Vec<u64> {
        dists
            .iter()
            .map(|d| total(ds, &[("DistributionId", d)], "Requests"))
            .collect()
    };
    // 60 days after the samples: all of them outside CloudWatch's window, all of them kept.
    let (late, stderr) = sample_dry_run(&[("CFLM_NOW", "2027-01-19T12:00:00Z")], &[]);
    assert_eq!(requests(&late), [90, 30, 12]);
    // 118 datums of requests, and a LogFiles and a DeliveryDelay for each of the 4 files.
    assert_eq!(late.len(), 126);
    assert!(
        stderr.contains(
            "records: 132, rejected lines: 0, outside CloudWatch's window: 132 (kept in this dry run), datums: 126,"
        ),
        "{stderr}"
    );
    // Just after them: none outside, the same datums of requests (the freshness ones carry the
    // time of publication).
    let (fresh, stderr) = sample_dry_run(&[("CFLM_NOW", "2026-11-20T13:00:00Z")], &[]);
    let of_requests = |ds: &[Value]| -> Vec<Value> {
        ds.iter()
            .filter(|d| d["metric_name"] != "LogFiles" && d["metric_name"] != "DeliveryDelay")
            .cloned()
            .collect()
    };
    assert_eq!(of_requests(&fresh), of_requests(&late));
    assert_eq!(of_requests(&late).len(), 118);
    assert!(
        stderr.contains("outside CloudWatch's window: 0 (kept in this dry run)"),
        "{stderr}"
    );
    // --now over CFLM_NOW.
    let (_, stderr) = sample_dry_run(
        &[("CFLM_NOW", "2027-01-19T12:00:00Z")],
        &["--now", "2026-11-20T14:00:00+01:00"],
    );
    assert!(stderr.contains("window: 0 (kept"), "{stderr}");
    // The wall clock, whatever today is: the same datums of requests.
    let (today, _) = sample_dry_run(&[], &[]);
    assert_eq!(of_requests(&today), of_requests(&late));
}

/// METRICS_SINK=emf (or --sink emf): cflogs publishes Embedded Metric Format lines on stdout,
/// as the Lambda does, and needs no AWS for local files.
#[test]
fn the_emf_sink_publishes_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(GOOD);
    std::fs::write(&good, sample(AWS_DOCS)).unwrap();
    let vars = [
        ("METRICS_SINK", "emf"),
        ("CFLM_NOW", "2019-12-14T00:00:00Z"),
        // Nothing to reach: a PutMetricData attempt would fail.
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "us-east-1"),
    ];
    let out = cflogs_env(&vars, &["process", "--include", "Requests", p(&good)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e["_aws"]["CloudWatchMetrics"].is_array()),
        "{events:?}"
    );
    let requests: u64 = events.iter().map(|e| e["Requests"].as_u64().unwrap()).sum();
    assert_eq!(requests, 6);
    assert!(
        stderr.contains("outside CloudWatch's window: 0 skipped"),
        "{stderr}"
    );
    // stdout carries the EMF lines: no datums or table there.
    let out = cflogs_env(&vars, &["process", "--output", "jsonl", p(&good)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--output: stdout carries the EMF lines"));
}

#[test]
fn catalogue_lists_the_23_metrics() {
    let out = cflogs(&["catalogue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("catalogue is JSON");
    assert_eq!(doc["namespace"], "CloudFront/AccessLogs");
    let metrics = doc["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 23);
    let got: Vec<(&str, &str)> = metrics
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["unit"].as_str().unwrap()))
        .collect();
    assert_eq!(got, METRICS.to_vec());
    for m in metrics {
        let kind = if m["unit"] == "Milliseconds" || m["unit"] == "Seconds" {
            "distribution"
        } else {
            "sum"
        };
        assert_eq!(m["kind"], kind, "{m}");
        assert!(!m["from"].as_str().unwrap().is_empty());
    }
    let keys: Vec<&str> = doc["dimension_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for k in ["DistributionId", "EdgeLocation", "StatusCode", "Country"] {
        assert!(keys.contains(&k), "{k}");
    }
    let env: Vec<&str> = doc["lambda_env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for v in ["METRICS_NAMESPACE", "METRICS_DIMENSIONS", "DISTRIBUTION_ID"] {
        assert!(env.contains(&v), "{v}");
    }
}

/// Issue 11: a dimension value CloudWatch would refuse (here a non-ASCII Host) is escaped before
/// any sink sees it, so the dry run shows exactly the value that would be sent.
#[test]
fn dry_run_shows_escaped_dimension_values() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("EESCAPE00001.2019-12-04-21.abc.gz");
    std::fs::write(
        &log,
        gzip(
            "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type time-taken x-host-header\n\
             2019-12-04\t21:02:31\tLAX1\t10\t200\tHit\t0.005\tcafé.example.com\n\
             2019-12-04\t21:02:32\tLAX1\t20\t200\tHit\t0.005\t100%.example.com\n",
        ),
    )
    .unwrap();
    let out = dry_run(
        "2019-12-05T00:00:00Z",
        &[
            "--output",
            "jsonl",
            "--dimensions",
            "DistributionId,Host",
            p(&log),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ds = datums(&out.stdout);
    let hosts: BTreeSet<&str> = ds
        .iter()
        .filter(|d| d["metric_name"] != "LogFiles" && d["metric_name"] != "DeliveryDelay")
        .map(|d| d["dimensions"]["Host"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        BTreeSet::from(["caf%C3%A9.example.com", "100%25.example.com"])
    );
    let by_host = |h: &str| {
        total(
            &ds,
            &[("DistributionId", "EESCAPE00001"), ("Host", h)],
            "BytesDownloaded",
        )
    };
    assert_eq!(by_host("caf%C3%A9.example.com"), 10);
    assert_eq!(by_host("100%25.example.com"), 20);
}

/// The `records: N` of the closing summary.
fn summary_records(stderr: &str) -> u64 {
    let s = stderr
        .lines()
        .find(|l| l.starts_with("files: "))
        .unwrap_or_else(|| panic!("no closing summary: {stderr}"));
    let n = s
        .split("records: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("{s}"));
    n.parse().unwrap()
}

/// Issue 11: a directory holding a symlink to itself is walked once (it was walked ~40 levels
/// deep, its one file counted 41 times, and the run then failed); the loop is reported once as
/// that path's error, as `find -L` does.
#[cfg(unix)]
#[test]
fn a_symlink_loop_is_walked_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("ELOOP0000001.2019-12-04-21.a.gz"),
        gzip(one_line("2019-12-04", "21:30:00", 100)),
    )
    .unwrap();
    std::os::unix::fs::symlink(&logs, logs.join("self")).unwrap();
    let out = dry_run("2019-12-05T00:00:00Z", &["--output", "jsonl", p(&logs)]);
    let stderr = text(&out.stderr);
    assert_eq!(summary_records(&stderr), 1, "{stderr}");
    let ds = datums(&out.stdout);
    assert_eq!(
        total(
            &ds,
            &[("DistributionId", "ELOOP0000001")],
            "BytesDownloaded"
        ),
        100
    );
    let loops: Vec<&str> = stderr.lines().filter(|l| l.contains("loop")).collect();
    assert_eq!(loops.len(), 1, "{stderr}");
    assert!(loops[0].contains(p(&logs.join("self"))), "{stderr}");
    assert!(stderr.contains("files: 2 (1 failed)"), "{stderr}");
}

/// Symlinks to a file and to a directory outside the tree are followed, each file read once even
/// when it is reached by several paths.
#[cfg(unix)]
#[test]
fn symlinked_files_and_directories_are_followed_once() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(
        outside.join("ELINKS000001.2019-12-04-20.a.gz"),
        gzip(one_line("2019-12-04", "20:30:00", 1)),
    )
    .unwrap();
    let other = dir.path().join("other.gz");
    std::fs::write(&other, gzip(one_line("2019-12-04", "21:30:00", 10))).unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(
        tree.join("ELINKS000001.2019-12-04-22.a.gz"),
        gzip(one_line("2019-12-04", "22:30:00", 100)),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("dir-link")).unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("dir-link-2")).unwrap();
    std::os::unix::fs::symlink(&other, tree.join("ELINKS000001.2019-12-04-21.b.gz")).unwrap();
    // The same file given again on the command line is not read twice either.
    let out = dry_run(
        "2019-12-05T00:00:00Z",
        &["--output", "jsonl", p(&tree), p(&other)],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(summary_records(&stderr), 3, "{stderr}");
    assert!(stderr.contains("files: 3 (0 failed)"), "{stderr}");
    let ds = datums(&out.stdout);
    assert_eq!(
        total(
            &ds,
            &[("DistributionId", "ELINKS000001")],
            "BytesDownloaded"
        ),
        111
    );
}

/// The defaults `cflogs process --help` states are the ones the settings reader applies.
#[test]
fn help_states_the_defaults_and_variables() {
    use cloudfront_log_metrics::config;
    use cloudfront_log_metrics::settings::Settings;
    let out = cflogs(&["process", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let d = Settings::default();
    for (var, default) in [
        ("METRICS_NAMESPACE", d.metrics.namespace.clone()),
        ("METRICS_DIMENSIONS", config::DEFAULT_DIMENSIONS.to_owned()),
        (
            "METRICS_MAX_DIMENSION_VALUES",
            d.metrics.max_dimension_values.to_string(),
        ),
        ("METRICS_SINK", "cloudwatch".to_owned()),
        (
            "MAX_DECOMPRESSED_BYTES",
            d.max_decompressed_bytes.to_string(),
        ),
        ("FILE_CONCURRENCY", d.file_concurrency.to_string()),
        ("PUT_CONCURRENCY", d.put_concurrency.to_string()),
        ("IDEMPOTENCY", "on".to_owned()),
        ("MARKER_PREFIX", d.marker_prefix.clone()),
        ("MARKER_LEASE_SECONDS", d.marker_lease_seconds.to_string()),
    ] {
        let want = format!("[env: {var}] [default: {default}]");
        assert!(help.contains(&want), "{want} not in help:\n{help}");
    }
    assert!(help.contains("[env: CFLM_NOW]"), "{help}");
}

/// Real-time records by their field selection (the sample of scripts/make-realtime-sample.py):
/// distributions resolved by primary-distribution-id and by cs-host, the rest counted, and a
/// selection of the wrong size refused record by record.
#[test]
fn realtime_records_by_their_field_selection() {
    const FIELDS: &str = "timestamp,time-to-first-byte,sc-status,sc-bytes,cs-method,cs-protocol,cs-host,cs-bytes,x-edge-location,x-host-header,time-taken,cs-protocol-version,x-edge-result-type,sc-content-type,x-edge-detailed-result-type,c-country,cache-behavior-path-pattern,primary-distribution-id,origin-fbl,origin-lbl";
    let sample = "tests/fixtures/realtime/sample.tsv";
    let lines: Vec<String> = std::fs::read_to_string(sample)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let bytes = |own: bool| -> u64 {
        lines
            .iter()
            .filter(|l| l.contains("E5EXAMPLE3456") == own)
            .map(|l| l.split('\t').nth(3).unwrap().parse::<u64>().unwrap())
            .sum()
    };
    // Listed in another order: sorted into canonical order by the program.
    let mut shuffled: Vec<&str> = FIELDS.split(',').collect();
    shuffled.reverse();
    let out = cflogs(&[
        "process",
        "--dry-run",
        "--realtime-fields",
        &shuffled.join(","),
        "--distribution-hosts",
        "d333example.cloudfront.net=E6EXAMPLE7890",
        sample,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut by_dist: BTreeMap<String, u64> = BTreeMap::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        if v["metric_name"] == "BytesDownloaded" && v["dimensions"].as_object().unwrap().len() == 1
        {
            let d = v["dimensions"]["DistributionId"]
                .as_str()
                .unwrap()
                .to_owned();
            *by_dist.entry(d).or_default() += v["value"].as_u64().unwrap();
        }
    }
    let want = BTreeMap::from([
        ("E5EXAMPLE3456".to_owned(), bytes(true)),
        ("E6EXAMPLE7890".to_owned(), bytes(false)),
    ]);
    assert_eq!(by_dist, want);

    // Without the host map, the records named only by cs-host are counted, not published.
    let out = cflogs(&["process", "--dry-run", "--realtime-fields", FIELDS, sample]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("of no known distribution (not published): 30"),
        "{err}"
    );

    // One field short of the records: every record refused, naming both counts.
    let short: Vec<&str> = FIELDS.split(',').filter(|f| *f != "origin-lbl").collect();
    let out = cflogs(&[
        "process",
        "--dry-run",
        "--realtime-fields",
        &short.join(","),
        sample,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rejected lines: 60"), "{err}");
    assert!(
        err.contains("20 fields where the real-time log field selection has 19"),
        "{err}"
    );

    // An unknown name is a usage error listing the known ones.
    let out = cflogs(&[
        "process",
        "--dry-run",
        "--realtime-fields",
        "timestamp,cs(Host)",
        sample,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--realtime-fields") && err.contains("cs-host"),
        "{err}"
    );
}

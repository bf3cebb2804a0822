//! Integration tests over every file of `tests/fixtures/samples/` (real and documented CloudFront
//! logs, provenance in `tests/fixtures/README.md`).
//!
//! Each file goes through `pipeline::process_reader` with a clock (`now_ms`) chosen near its dates
//! (records older than 14 days or more than 2 h ahead of it are `skipped_stale`), and the test
//! asserts the records accepted and rejected and the aggregates as datums. Every expected value is
//! computed by hand from the sample lines, in the comments next to it.

mod support;

use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::parse::{Format, LogParser, RejectReason};
use cloudfront_log_metrics::pipeline::{FileProcessor, ProcessedFile};
use std::collections::BTreeSet;
use support::logs::*;
use support::view::*;

const AWS_DOCS: &str = "aws-docs_AccessLogs_example_2019-12.tsv";
const ELASTIC: &str = "elastic-integrations_aws_cloudfront_logs_test-cloudfront.log";
const SOLUTIONS: &str = "aws-solutions_centralized-logging_log-processor_cloudfront.log";
const OPENSEARCH: &str = "opensearch-dashboards-observability_issue775_2023.tsv";
const LOGSTASH_PATTERNS: &str = "logstash-patterns-core_aws_spec.tsv";
const LOGSTASH_S3: &str = "logstash-input-s3_issue158_2018_26fields.tsv";
const ADAMVR: &str = "adamvr_node-log-dissector_cloudfront_2015_19fields.tsv";
const MATOMO: &str = "matomo-log-analytics_amazon_cloudfront_web.log";
const CLAY_WEB: &str = "claygregory_node-cloudfront-log-parser_web-1-0.txt";
const CLAY_WEB_2019: &str = "claygregory_node-cloudfront-log-parser_web-1-0-2019-12.txt";
const CLAY_KINESIS: &str = "claygregory_node-cloudfront-log-parser_kinesis-1-0.txt";
const CLAY_RTMP: &str = "claygregory_node-cloudfront-log-parser_rtmp-1-0.txt";
const REALTIME: &str = "aws-solutions_centralized-logging_realtime-kinesis-record.tsv";
const ASAAKI: &str = "asaaki_cloudfront-logs_tests_modified-docs-example.tsv";
const V2_CWL_JSON: &str = "aws-docs_standard-logging-v2_cloudwatch-logs-example.json";
const V2_FIREHOSE: &str = "aws-docs_standard-logging-v2_firehose-example.ndjson";
const V2_W3C: &str = "aws-docs_standard-logging-v2_s3-w3c-example_RECONSTRUCTED.tsv";
const JAVA_V2_JSON: &str = "thirdparty-java-CloudFrontLogParserTest_v2-json.ndjson";

/// Every sample with its size in bytes (checked by `fixtures_are_intact`).
const ALL: [(&str, usize); 18] = [
    (AWS_DOCS, 2844),
    (ELASTIC, 5587),
    (SOLUTIONS, 1440),
    (OPENSEARCH, 896),
    (LOGSTASH_PATTERNS, 856),
    (LOGSTASH_S3, 302),
    (ADAMVR, 270),
    (MATOMO, 793),
    (CLAY_WEB, 1263),
    (CLAY_WEB_2019, 1824),
    (CLAY_KINESIS, 2299),
    (CLAY_RTMP, 2007),
    (REALTIME, 1316),
    (ASAAKI, 2914),
    (V2_CWL_JSON, 259),
    (V2_FIREHOSE, 480),
    (V2_W3C, 178),
    (JAVA_V2_JSON, 848),
];

/// A clock for each sample, near its dates, used by the whole-suite checks.
fn clock_for(name: &str) -> i64 {
    at(match name {
        AWS_DOCS | ELASTIC | ASAAKI | CLAY_WEB_2019 => "2019-12-14T00:00:00Z",
        SOLUTIONS => "2022-03-25T00:00:00Z",
        OPENSEARCH => "2023-02-23T00:00:00Z",
        LOGSTASH_PATTERNS => "2019-12-05T00:00:00Z",
        LOGSTASH_S3 => "2018-07-25T00:00:00Z",
        ADAMVR => "2015-01-29T00:00:00Z",
        MATOMO | CLAY_WEB => "2014-05-24T00:00:00Z",
        CLAY_KINESIS => "2020-12-08T00:00:00Z",
        CLAY_RTMP => "2010-03-13T00:00:00Z",
        REALTIME => "2022-12-15T00:00:00Z",
        V2_CWL_JSON | V2_W3C => "2024-11-15T00:00:00Z",
        V2_FIREHOSE => "2024-11-16T00:00:00Z",
        JAVA_V2_JSON => "2026-04-05T00:00:00Z",
        other => panic!("no clock for {other}"),
    })
}

/// Runs a sample through the pipeline with the given dimension sets and clock; the file name
/// carries no distribution ID, so the configured fallback [`DIST`] is used.
fn run(name: &str, sets: &str, now: &str) -> (ProcessedFile, View) {
    let f = process(name, &sample(name), &config(sets), at(now));
    let v = View::of(&f);
    (f, v)
}

fn d1() -> Dims {
    dist_only()
}

fn d2(key: &str, value: &str) -> Dims {
    dims(&[("DistributionId", DIST), (key, value)])
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// (records accepted, lines rejected, records skipped as stale) of a processed file.
fn counts(f: &ProcessedFile) -> (u64, u64, u64) {
    (
        f.report.parse.records,
        f.report.parse.rejected,
        f.report.skipped_stale,
    )
}

#[test]
fn epoch_helpers_agree_with_known_instants() {
    // 1970-01-01 and the library unit tests' day count of 2019-12-04 (18 234 days).
    assert_eq!(epoch_ms(1970, 1, 1, 0, 0, 0), 0);
    assert_eq!(epoch_ms(2019, 12, 4, 0, 0, 0), 18_234 * 86_400_000);
    // The v2 samples give date, time and timestamp(ms) of the same request.
    assert_eq!(at("2024-11-14T21:34:06.814Z"), 1_731_620_046_814);
    assert_eq!(at("2024-11-15T19:45:51.183Z"), 1_731_699_951_183);
    assert_eq!(at("2024-11-14T22:30:25.421Z"), 1_731_623_425_421);
    for ms in [0, 951_782_400_000, 1_709_164_800_000, 1_731_620_046_814] {
        let (y, mo, d, h, mi, s, milli) = civil(ms);
        assert_eq!(epoch_ms(y, mo, d, h, mi, s) + i64::from(milli), ms);
    }
    assert_eq!(
        date_time(at("2024-02-29T23:59:59Z")),
        ("2024-02-29".to_owned(), "23:59:59".to_owned())
    );
}

#[test]
fn fixtures_are_intact_and_all_tested() {
    // Byte sizes as listed in tests/fixtures/README.md (an editor stripping a trailing TAB or
    // adding a final newline changes them).
    for (name, size) in ALL {
        assert_eq!(sample(name).len(), size, "{name}");
    }
    // Every file of the directory is one of ALL (so each has its test below).
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixture_path("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = ALL.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, listed);
    // The whitespace features the tests rely on.
    assert!(sample(AWS_DOCS).windows(2).any(|w| w == b"\t\n"));
    assert_ne!(sample(SOLUTIONS).last(), Some(&b'\n'));
    assert_ne!(sample(CLAY_WEB).last(), Some(&b'\n'));
    assert_eq!(sample(CLAY_WEB_2019).last(), Some(&b'\t'));
    assert!(sample(CLAY_WEB_2019).starts_with(b"#Version:\t1.0\n#Fields:\tdate\ttime\t"));
}

/// AWS docs example: 6 lines (the 3rd with a trailing TAB, a 34th empty field), two days.
///
/// | line | date time           | edge     | sc-bytes | status | result | cs-bytes | time-taken = ttfb |
/// |------|---------------------|----------|----------|--------|--------|----------|-------------------|
/// | 3    | 2019-12-04 21:02:31 | LAX1     | 392      | 200    | Hit    | 23       | 0.001             |
/// | 4    | 2019-12-04 21:02:31 | LAX1     | 392      | 200    | Hit    | 23       | 0.000             |
/// | 5    | 2019-12-04 21:02:31 | LAX1     | 392      | 200    | Hit    | 23       | 0.001  (+TAB)     |
/// | 6    | 2019-12-13 22:36:27 | SEA19-C1 | 900      | 502    | Error  | 675      | 0.102             |
/// | 7    | 2019-12-13 22:36:26 | SEA19-C1 | 900      | 502    | Error  | 735      | 0.107             |
/// | 8    | 2019-12-13 22:37:02 | SEA19-C2 | 900      | 502    | Error  | 387      | 0.103             |
///
/// x-edge-detailed-result-type: Hit ×3, OriginDnsError ×3.
#[test]
fn aws_docs_example() {
    let (f, v) = run(
        AWS_DOCS,
        "DistributionId;DistributionId,EdgeLocation;DistributionId,DetailedResultType",
        "2019-12-14T00:00:00Z",
    );
    // All 6 accepted (the trailing-TAB line too), 0 rejected, none stale.
    assert_eq!(counts(&f), (6, 0, 0));
    assert_eq!(f.report.parse.lines, 8);
    assert_eq!(f.report.format, Some(Format::W3c));
    assert_eq!(f.report.distribution_id, DIST);
    // sc-bytes: 3×392 + 3×900 = 1176 + 2700 = 3876; cs-bytes: 3×23 + 675 + 735 + 387 = 1866.
    assert_eq!(v.total("Requests", &d1()), 6);
    assert_eq!(v.total("BytesDownloaded", &d1()), 3876);
    assert_eq!(v.total("BytesUploaded", &d1()), 1866);
    assert_eq!(v.total("Hit", &d1()), 3);
    assert_eq!(v.total("Error", &d1()), 3);
    assert_eq!(v.total("Status2xx", &d1()), 3);
    assert_eq!(v.total("Status5xx", &d1()), 3);
    // Only the metrics with a non-zero value are sent; legacy logs have no origin-fbl/lbl.
    assert_eq!(
        v.metrics(&d1()),
        names(&[
            "Requests",
            "BytesDownloaded",
            "BytesUploaded",
            "Hit",
            "Error",
            "Status2xx",
            "Status5xx",
            "TimeTaken",
            "TimeToFirstByte",
        ])
    );
    // Exact milliseconds: 1, 0, 1, 102, 107, 103.
    let tt = hist(&[(0, 1), (1, 2), (102, 1), (103, 1), (107, 1)]);
    assert_eq!(v.hist("TimeTaken", &d1()), tt);
    assert_eq!(v.hist("TimeToFirstByte", &d1()), tt);
    // Per minute: 21:02 on the 4th (3 requests), 22:36 (2) and 22:37 (1) on the 13th.
    let (m1, m2, m3) = (
        at("2019-12-04T21:02:00Z"),
        at("2019-12-13T22:36:00Z"),
        at("2019-12-13T22:37:00Z"),
    );
    assert_eq!(v.minutes("Requests", &d1()), vec![m1, m2, m3]);
    assert_eq!(v.value_at("Requests", &d1(), m1), 3);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m1), 1176);
    assert_eq!(v.value_at("Requests", &d1(), m2), 2);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m2), 1800);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m2), 675 + 735);
    assert_eq!(v.value_at("Requests", &d1(), m3), 1);
    assert_eq!(
        v.hist_at("TimeTaken", &d1(), m2),
        hist(&[(102, 1), (107, 1)])
    );
    assert_eq!(v.hist_at("TimeTaken", &d1(), m3), hist(&[(103, 1)]));
    // The edge-location rollup.
    assert_eq!(v.value_at("Requests", &d2("EdgeLocation", "LAX1"), m1), 3);
    assert_eq!(
        v.value_at("Requests", &d2("EdgeLocation", "SEA19-C1"), m2),
        2
    );
    assert_eq!(
        v.value_at("Requests", &d2("EdgeLocation", "SEA19-C2"), m3),
        1
    );
    assert_eq!(v.total("Requests", &d2("EdgeLocation", "SEA19-C2")), 1);
    // The detailed-result-type rollup.
    let dns = d2("DetailedResultType", "OriginDnsError");
    assert_eq!(v.total("Requests", &dns), 3);
    assert_eq!(v.total("Status5xx", &dns), 3);
    assert_eq!(v.total("Hit", &d2("DetailedResultType", "Hit")), 3);
    assert_eq!(v.dimension_sets().len(), 1 + 3 + 2);
    // The totals are the file's as well.
    assert_eq!(f.aggregate.totals.cell.requests, 6);
    assert_eq!(f.aggregate.totals.first_minute_ms, Some(m1));
    assert_eq!(f.aggregate.totals.last_minute_ms, Some(m3));
}

#[test]
fn aws_docs_example_stale_records_are_skipped() {
    // At 2019-12-20T00:00Z the window starts at 2019-12-06T00:10Z: the three lines of the 4th are
    // stale, the three of the 13th are kept.
    let (f, v) = run(AWS_DOCS, "DistributionId", "2019-12-20T00:00:00Z");
    assert_eq!(counts(&f), (6, 0, 3));
    assert_eq!(v.total("Requests", &d1()), 3);
    assert_eq!(v.total("BytesDownloaded", &d1()), 2700);
    assert_eq!(v.total("Hit", &d1()), 0);
    // At 2019-12-04T18:00Z the lines of the 13th are more than 2 h ahead, and those of the 4th
    // (21:02) too: nothing is publishable.
    let (f, v) = run(AWS_DOCS, "DistributionId", "2019-12-04T18:00:00Z");
    assert_eq!(counts(&f), (6, 0, 6));
    assert!(v.0.is_empty());
    assert!(f.batches.is_empty());
    // At 19:10 the 21:02 lines are less than 2 h ahead: accepted.
    let (f, _) = run(AWS_DOCS, "DistributionId", "2019-12-04T19:10:00Z");
    assert_eq!(counts(&f), (6, 0, 3));
}

#[test]
fn distribution_id_from_the_key_wins_over_the_fallback() {
    let f = process(
        "logs/E2Q4ABCDEFGH.2019-12-04-21.abc.gz",
        &sample(AWS_DOCS),
        &config("DistributionId"),
        at("2019-12-14T00:00:00Z"),
    );
    assert_eq!(f.report.distribution_id, "E2Q4ABCDEFGH");
    let v = View::of(&f);
    assert_eq!(
        v.total("Requests", &dims(&[("DistributionId", "E2Q4ABCDEFGH")])),
        6
    );
    assert_eq!(v.total("Requests", &d1()), 0);
    // Without fallback and without an ID in the key: a clear error naming the file.
    let e = cloudfront_log_metrics::pipeline::process_reader(
        "local/access.log",
        "local/access.log",
        &sample(AWS_DOCS)[..],
        &MetricsConfig::default(),
        at("2019-12-14T00:00:00Z"),
        u64::MAX,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("local/access.log: no distribution ID"),
        "{msg}"
    );
}

/// Elastic's fixture: the docs lines (one with an IPv6 c-ip), 2 POST lines of 2022-04-19 (one
/// with status 000), 3 lines of 2022-11-15, and a deliberately truncated 31-field last line
/// (line 14, 2024-07-13).
#[test]
fn elastic_fixture() {
    // Window of 2019-12: the 6 docs lines; the 5 lines of 2022 are stale; the truncated line is
    // rejected whatever the clock.
    let (f, v) = run(ELASTIC, "DistributionId", "2019-12-14T00:00:00Z");
    assert_eq!(counts(&f), (11, 1, 5));
    assert_eq!(f.report.parse.lines, 14);
    assert_eq!(f.report.parse.reject_samples.len(), 1);
    assert_eq!(f.report.parse.reject_samples[0].line, 14);
    assert_eq!(
        f.report.parse.reject_samples[0].reason,
        RejectReason::TooFewFields { got: 31, want: 33 }
    );
    // Same values as the AWS docs lines: 3876 bytes, 3 Hit (one from the IPv6 client), 3 Error.
    assert_eq!(v.total("Requests", &d1()), 6);
    assert_eq!(v.total("BytesDownloaded", &d1()), 3876);
    assert_eq!(v.total("Hit", &d1()), 3);
    assert_eq!(v.total("Status5xx", &d1()), 3);

    // Window of 2022-04-19: the two POST lines at 12:29:36, both Miss, statuses 200 and 000,
    // sc-bytes 2×10157 = 20314, cs-bytes 2×1057 = 2114, time-taken 0.238 twice.
    let (f, v) = run(
        ELASTIC,
        "DistributionId;DistributionId,ContentType;DistributionId,Method",
        "2022-04-20T00:00:00Z",
    );
    assert_eq!(counts(&f), (11, 1, 9));
    let m = at("2022-04-19T12:29:00Z");
    assert_eq!(v.minutes("Requests", &d1()), vec![m]);
    assert_eq!(v.value_at("Requests", &d1(), m), 2);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 20314);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 2114);
    assert_eq!(v.value_at("Miss", &d1(), m), 2);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 1);
    assert_eq!(v.value_at("Status000", &d1(), m), 1);
    assert_eq!(v.value_at("Status4xx", &d1(), m), 0);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(238, 2)]));
    assert_eq!(v.hist_at("TimeToFirstByte", &d1(), m), hist(&[(238, 2)]));
    // The content type keeps its parameter; the method is POST.
    assert_eq!(
        v.total(
            "Requests",
            &d2("ContentType", "application/json;charset=UTF-8")
        ),
        2
    );
    assert_eq!(v.total("Status000", &d2("Method", "POST")), 1);

    // Window of 2022-11-15: three GET lines at 08:43:04 (the x-forwarded-for variants), Miss,
    // 200, 3×10157 = 30471 bytes, time-taken 0.093.
    let (f, v) = run(ELASTIC, "DistributionId", "2022-11-15T09:00:00Z");
    assert_eq!(counts(&f), (11, 1, 8));
    let m = at("2022-11-15T08:43:00Z");
    assert_eq!(v.value_at("Requests", &d1(), m), 3);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 30471);
    assert_eq!(v.value_at("Miss", &d1(), m), 3);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 3);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(93, 3)]));

    // Window of 2024-07-13, the date of the truncated line: it is rejected, nothing is left.
    let (f, v) = run(ELASTIC, "DistributionId", "2024-07-14T00:00:00Z");
    assert_eq!(counts(&f), (11, 1, 11));
    assert!(v.0.is_empty());
}

/// Two real lines of 2022-03-24 (HKG54-C1), no final newline: `Error` result with status 200
/// (client disconnect), sc-bytes 350 + 348 = 698, cs-bytes 488 + 82 = 570, time-taken 0.834 and
/// 1.044, sc-content-type `-`.
#[test]
fn aws_solutions_log_without_final_newline() {
    let (f, v) = run(
        SOLUTIONS,
        "DistributionId;DistributionId,ContentType",
        "2022-03-25T00:00:00Z",
    );
    assert_eq!(counts(&f), (2, 0, 0));
    assert_eq!(f.report.parse.lines, 4);
    let m = at("2022-03-24T22:14:00Z");
    assert_eq!(v.minutes("Requests", &d1()), vec![m]);
    assert_eq!(v.value_at("Requests", &d1(), m), 2);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 698);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 570);
    assert_eq!(v.value_at("Error", &d1(), m), 2);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 2);
    assert_eq!(v.value_at("Status5xx", &d1(), m), 0);
    assert_eq!(
        v.hist_at("TimeTaken", &d1(), m),
        hist(&[(834, 1), (1044, 1)])
    );
    // `-` content type becomes the dimension value "-".
    assert_eq!(v.total("Requests", &d2("ContentType", "-")), 2);
}

/// Two headerless 33-field lines of 2023-02-22 03:22:42, Miss, status 304, sc-bytes 676 + 675 =
/// 1351, cs-bytes 101 + 100 = 201, time-taken 0.596 and 0.644.
#[test]
fn opensearch_headerless_33_fields() {
    let (f, v) = run(
        OPENSEARCH,
        "DistributionId;DistributionId,EdgeLocation",
        "2023-02-23T00:00:00Z",
    );
    assert_eq!(counts(&f), (2, 0, 0));
    assert_eq!(f.report.format, Some(Format::W3cHeaderless));
    let m = at("2023-02-22T03:22:00Z");
    assert_eq!(v.value_at("Requests", &d1(), m), 2);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 1351);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 201);
    assert_eq!(v.value_at("Miss", &d1(), m), 2);
    assert_eq!(v.value_at("Status3xx", &d1(), m), 2);
    assert_eq!(
        v.hist_at("TimeTaken", &d1(), m),
        hist(&[(596, 1), (644, 1)])
    );
    assert_eq!(v.total("Requests", &d2("EdgeLocation", "HKG62-C2")), 2);
}

/// Headerless: a 23-field line of 2016-06-10 (x-edge-result-type Miss, the 23rd field is the
/// response result type RefreshHit; no time-to-first-byte yet) and a 33-field docs line of
/// 2019-12-04.
#[test]
fn logstash_headerless_23_and_33_fields() {
    let (f, v) = run(LOGSTASH_PATTERNS, "DistributionId", "2016-06-11T00:00:00Z");
    assert_eq!(counts(&f), (2, 0, 1));
    assert_eq!(f.report.format, Some(Format::W3cHeaderless));
    let m = at("2016-06-10T18:41:00Z");
    assert_eq!(v.value_at("Requests", &d1(), m), 1);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 224_281);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 883);
    assert_eq!(v.value_at("Miss", &d1(), m), 1);
    assert_eq!(v.value_at("RefreshHit", &d1(), m), 0);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(36, 1)]));
    // A 23-field line has no time-to-first-byte column: no datum.
    assert!(v.hist("TimeToFirstByte", &d1()).is_empty());

    let (f, v) = run(LOGSTASH_PATTERNS, "DistributionId", "2019-12-05T00:00:00Z");
    assert_eq!(counts(&f), (2, 0, 1));
    let m = at("2019-12-04T21:02:00Z");
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 392);
    assert_eq!(v.value_at("Hit", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeToFirstByte", &d1(), m), hist(&[(1, 1)]));
}

/// One headerless 26-field line of 2018-07-24 22:22:47: 557 bytes, 301, Redirect, cs-bytes 127,
/// time-taken 0.000 (a real 0 ms sample), HTTP/1.1.
#[test]
fn logstash_s3_headerless_26_fields() {
    let (f, v) = run(
        LOGSTASH_S3,
        "DistributionId;DistributionId,HttpVersion",
        "2018-07-25T00:00:00Z",
    );
    assert_eq!(counts(&f), (1, 0, 0));
    let m = at("2018-07-24T22:22:00Z");
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 557);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 127);
    assert_eq!(v.value_at("Redirect", &d1(), m), 1);
    assert_eq!(v.value_at("Status3xx", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(0, 1)]));
    assert_eq!(v.total("Redirect", &d2("HttpVersion", "HTTP/1.1")), 1);
}

/// One headerless 19-field line of 2015-01-28 18:41:47 (LHR5): 4082 bytes, 200, Hit, cs-bytes
/// 154, time-taken 0.001 as the last field.
#[test]
fn adamvr_headerless_19_fields() {
    let (f, v) = run(ADAMVR, "DistributionId", "2015-01-29T00:00:00Z");
    assert_eq!(counts(&f), (1, 0, 0));
    let m = at("2015-01-28T18:41:00Z");
    assert_eq!(v.value_at("Requests", &d1(), m), 1);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 4082);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 154);
    assert_eq!(v.value_at("Hit", &d1(), m), 1);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(1, 1)]));
}

/// A 26-field `#Fields` header and one line of 2014-05-23 01:13:11: 182 bytes, 200, Miss,
/// cs-bytes 217, time-taken 0.001.
#[test]
fn matomo_26_field_header() {
    let (f, v) = run(MATOMO, "DistributionId", "2014-05-24T00:00:00Z");
    assert_eq!(counts(&f), (1, 0, 0));
    assert_eq!(f.report.format, Some(Format::W3c));
    let m = at("2014-05-23T01:13:00Z");
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 182);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 217);
    assert_eq!(v.value_at("Miss", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(1, 1)]));
}

/// A 24-field header, two lines of 2014-05-23 01:13:11/12 (FRA2 RefreshHit 200 182 bytes 0.001;
/// LAX1 Hit 304 2390282 bytes 0.002), cs-bytes `-` on both, no final newline.
#[test]
fn claygregory_web_24_fields_no_final_newline() {
    let (f, v) = run(
        CLAY_WEB,
        "DistributionId;DistributionId,EdgeLocation",
        "2014-05-24T00:00:00Z",
    );
    assert_eq!(counts(&f), (2, 0, 0));
    let m = at("2014-05-23T01:13:00Z");
    assert_eq!(v.value_at("Requests", &d1(), m), 2);
    // 182 + 2 390 282 = 2 390 464.
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 2_390_464);
    // cs-bytes `-` counts 0, and a zero sum is not sent.
    assert!(!v.metrics(&d1()).contains("BytesUploaded"));
    assert_eq!(v.value_at("RefreshHit", &d1(), m), 1);
    assert_eq!(v.value_at("Hit", &d1(), m), 1);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 1);
    assert_eq!(v.value_at("Status3xx", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(1, 1), (2, 1)]));
    assert_eq!(
        v.value_at("BytesDownloaded", &d2("EdgeLocation", "LAX1"), m),
        2_390_282
    );
    assert_eq!(v.value_at("RefreshHit", &d2("EdgeLocation", "FRA2"), m), 1);
}

/// Header lines with TABs after `#Version:` and `#Fields:`; the three docs lines of 2019-12-04
/// (UA double-encoded), the last with a trailing TAB and no final newline.
#[test]
fn claygregory_web_2019_tab_header() {
    let (f, v) = run(CLAY_WEB_2019, "DistributionId", "2019-12-05T00:00:00Z");
    assert_eq!(counts(&f), (3, 0, 0));
    // The lines were mapped by the header, not by the headerless fallback.
    assert_eq!(f.report.format, Some(Format::W3c));
    let m = at("2019-12-04T21:02:00Z");
    assert_eq!(v.value_at("Requests", &d1(), m), 3);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 1176);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 69);
    assert_eq!(v.value_at("Hit", &d1(), m), 3);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(0, 1), (1, 2)]));
}

/// A real-time log record behind a synthetic 40-field `#Fields` header: `timestamp`
/// 1607374321.541 = 2020-12-07T20:52:01.541Z (18 603 days + 75 121 s), 485 bytes, 200, Miss,
/// cs-bytes 745, time-taken and time-to-first-byte 0.042, c-country US, cache behavior `*`.
#[test]
fn claygregory_kinesis_with_header() {
    let (f, v) = run(
        CLAY_KINESIS,
        "DistributionId;DistributionId,Country;DistributionId,PathPattern",
        "2020-12-08T00:00:00Z",
    );
    assert_eq!(counts(&f), (1, 0, 0));
    assert_eq!(f.report.format, Some(Format::W3c));
    assert_eq!(at("2020-12-07T20:52:01.541Z"), 1_607_374_321_541);
    let m = at("2020-12-07T20:52:00Z");
    assert_eq!(v.minutes("Requests", &d1()), vec![m]);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 485);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 745);
    assert_eq!(v.value_at("Miss", &d1(), m), 1);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(42, 1)]));
    assert_eq!(v.hist_at("TimeToFirstByte", &d1(), m), hist(&[(42, 1)]));
    assert_eq!(v.total("Requests", &d2("Country", "US")), 1);
    assert_eq!(v.total("Requests", &d2("PathPattern", "*")), 1);
}

/// A headerless real-time Kinesis record of 45 fields: `timestamp` 1671005351.148 =
/// 2022-12-14T08:09:11.148Z (19 340 days + 29 351 s), time-to-first-byte 0.001, 200, 2212 bytes,
/// cs-bytes 50, NRT57-C1, time-taken 0.001, Hit, c-country JP, origin-fbl/lbl `-`.
#[test]
fn realtime_record_headerless_45_fields() {
    let (f, v) = run(
        REALTIME,
        "DistributionId;DistributionId,Country;DistributionId,EdgeLocation",
        "2022-12-15T00:00:00Z",
    );
    assert_eq!(counts(&f), (1, 0, 0));
    assert_eq!(f.report.format, Some(Format::W3cHeaderless));
    let m = at("2022-12-14T08:09:00Z");
    assert_eq!(v.minutes("Requests", &d1()), vec![m]);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 2212);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 50);
    assert_eq!(v.value_at("Hit", &d1(), m), 1);
    assert_eq!(v.value_at("Status2xx", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(1, 1)]));
    assert_eq!(v.hist_at("TimeToFirstByte", &d1(), m), hist(&[(1, 1)]));
    // origin-fbl/lbl are `-` on a Hit: no origin latency datum.
    assert!(!v.metrics(&d1()).contains("OriginFirstByteLatency"));
    assert!(!v.metrics(&d1()).contains("OriginLastByteLatency"));
    assert_eq!(v.total("Requests", &d2("Country", "JP")), 1);
    assert_eq!(v.total("Requests", &d2("EdgeLocation", "NRT57-C1")), 1);
}

/// RTMP (distribution type discontinued in 2020): its `#Fields` header maps `date`, `time`,
/// `x-edge-location` and `sc-bytes` by name and nothing else (its status is `x-cf-status`, it has
/// no result type and no time-taken). What the parser does, and it is sensible: the 6 events are
/// counted as requests with their bytes, no status, result or latency metric is invented, nothing
/// is rejected and nothing panics (the header holds a U+200B).
///
/// sc-bytes per minute of 2010-03-12: 23:51 → 2014 + 3914 = 5928; 23:53 → 323914 + 8783724 =
/// 9107638; 23:56 → 429822014; 23:59 → 429824092; total 868759672.
#[test]
fn rtmp_sample_counts_events_and_bytes_only() {
    let (f, v) = run(CLAY_RTMP, "DistributionId", "2010-03-13T00:00:00Z");
    assert_eq!(counts(&f), (6, 0, 0));
    assert_eq!(f.report.format, Some(Format::W3c));
    assert_eq!(v.metrics(&d1()), names(&["Requests", "BytesDownloaded"]));
    assert_eq!(v.total("Requests", &d1()), 6);
    assert_eq!(v.total("BytesDownloaded", &d1()), 868_759_672);
    let at_m = |hm: &str| at(&format!("2010-03-12T{hm}:00Z"));
    assert_eq!(
        v.minutes("Requests", &d1()),
        vec![at_m("23:51"), at_m("23:53"), at_m("23:56"), at_m("23:59")]
    );
    assert_eq!(v.value_at("Requests", &d1(), at_m("23:51")), 2);
    assert_eq!(v.value_at("BytesDownloaded", &d1(), at_m("23:51")), 5928);
    assert_eq!(
        v.value_at("BytesDownloaded", &d1(), at_m("23:53")),
        9_107_638
    );
    assert_eq!(
        v.value_at("BytesDownloaded", &d1(), at_m("23:56")),
        429_822_014
    );
    assert_eq!(
        v.value_at("BytesDownloaded", &d1(), at_m("23:59")),
        429_824_092
    );
}

/// The docs lines modified by the cloudfront-logs crate author (`x-forwarded-for` lists, one with a
/// literal `\x20`): that field is never read, so the aggregates equal the AWS docs example's.
#[test]
fn asaaki_modified_docs_example() {
    let (f, v) = run(ASAAKI, "DistributionId", "2019-12-14T00:00:00Z");
    assert_eq!(counts(&f), (6, 0, 0));
    assert_eq!(v.total("BytesDownloaded", &d1()), 3876);
    assert_eq!(v.total("BytesUploaded", &d1()), 1866);
    assert_eq!(
        v.hist("TimeTaken", &d1()),
        hist(&[(0, 1), (1, 2), (102, 1), (103, 1), (107, 1)])
    );
    let (_, docs) = run(AWS_DOCS, "DistributionId", "2019-12-14T00:00:00Z");
    assert_eq!(v, docs);
}

/// The pretty-printed v2 JSON object of the CloudWatch Logs example: every value a string,
/// `timestamp(ms)` 1731620046814 = 2024-11-14T21:34:06.814Z (its `date`/`time` say the same),
/// origin-fbl = origin-lbl = 0.251, no sc-bytes, status or result type.
#[test]
fn v2_cloudwatch_logs_pretty_json() {
    let (f, v) = run(
        V2_CWL_JSON,
        "DistributionId;DistributionId,EdgeLocation;DistributionId,Host",
        "2024-11-15T00:00:00Z",
    );
    assert_eq!(counts(&f), (1, 0, 0));
    assert_eq!(f.report.format, Some(Format::Json));
    // One object over the file's 11 lines.
    assert_eq!(f.report.parse.lines, 11);
    let m = at("2024-11-14T21:34:00Z");
    assert_eq!(v.minutes("Requests", &d1()), vec![m]);
    assert_eq!(
        v.metrics(&d1()),
        names(&[
            "Requests",
            "OriginFirstByteLatency",
            "OriginLastByteLatency"
        ])
    );
    assert_eq!(v.value_at("Requests", &d1(), m), 1);
    assert_eq!(
        v.hist_at("OriginFirstByteLatency", &d1(), m),
        hist(&[(251, 1)])
    );
    assert_eq!(
        v.hist_at("OriginLastByteLatency", &d1(), m),
        hist(&[(251, 1)])
    );
    assert_eq!(v.total("Requests", &d2("EdgeLocation", "SOF50-P2")), 1);
    assert_eq!(
        v.total("Requests", &d2("Host", "d111111abcdef8.cloudfront.net")),
        1
    );
}

/// Firehose NDJSON: two records at 2024-11-15 19:45:51 and :52, origin-fbl/lbl 0.254 and 0.125.
#[test]
fn v2_firehose_ndjson() {
    let (f, v) = run(V2_FIREHOSE, "DistributionId", "2024-11-16T00:00:00Z");
    assert_eq!(counts(&f), (2, 0, 0));
    assert_eq!(f.report.format, Some(Format::Json));
    let m = at("2024-11-15T19:45:00Z");
    assert_eq!(v.value_at("Requests", &d1(), m), 2);
    let h = hist(&[(125, 1), (254, 1)]);
    assert_eq!(v.hist_at("OriginFirstByteLatency", &d1(), m), h);
    assert_eq!(v.hist_at("OriginLastByteLatency", &d1(), m), h);
}

/// v2 W3C to S3: no `#Version`, a `#Fields` line with only 7 selected fields, one line of
/// 2024-11-14 22:30:25 (`timestamp(ms)` 1731623425421 agrees).
#[test]
fn v2_w3c_fields_only_header() {
    let (f, v) = run(
        V2_W3C,
        "DistributionId;DistributionId,EdgeLocation",
        "2024-11-15T00:00:00Z",
    );
    assert_eq!(counts(&f), (1, 0, 0));
    assert_eq!(f.report.format, Some(Format::W3c));
    let m = at("2024-11-14T22:30:00Z");
    assert_eq!(v.metrics(&d1()), names(&["Requests"]));
    assert_eq!(v.value_at("Requests", &d1(), m), 1);
    assert_eq!(
        v.value_at("Requests", &d2("EdgeLocation", "SOF50-P2"), m),
        1
    );
}

/// A third-party v2 JSON record of 2026-04-04 12:57:53 with the 33 legacy keys and c-country: 1068
/// bytes, 304, Hit, cs-bytes 336, time-taken and time-to-first-byte 0.001, US.
#[test]
fn thirdparty_v2_json_34_keys() {
    let (f, v) = run(
        JAVA_V2_JSON,
        "DistributionId;DistributionId,Country",
        "2026-04-05T00:00:00Z",
    );
    assert_eq!(counts(&f), (1, 0, 0));
    assert_eq!(f.report.format, Some(Format::Json));
    let m = at("2026-04-04T12:57:00Z");
    assert_eq!(v.value_at("BytesDownloaded", &d1(), m), 1068);
    assert_eq!(v.value_at("BytesUploaded", &d1(), m), 336);
    assert_eq!(v.value_at("Hit", &d1(), m), 1);
    assert_eq!(v.value_at("Status3xx", &d1(), m), 1);
    assert_eq!(v.hist_at("TimeTaken", &d1(), m), hist(&[(1, 1)]));
    assert_eq!(v.hist_at("TimeToFirstByte", &d1(), m), hist(&[(1, 1)]));
    assert_eq!(v.total("Hit", &d2("Country", "US")), 1);
}

/// Every sample gives the same result plain, gzipped, gzipped as two members cut mid-file, and
/// fed to `FileProcessor` in chunks of any size; and `LogParser` alone (whole input) agrees on the
/// counts.
#[test]
fn every_sample_is_the_same_whatever_the_framing() {
    for (name, _) in ALL {
        let bytes = sample(name);
        let now = clock_for(name);
        let config = config("DistributionId;DistributionId,EdgeLocation");
        let plain = process(name, &bytes, &config, now);
        assert!(!plain.report.stream.gzip);
        assert_eq!(plain.report.stream.bytes, bytes.len() as u64);
        assert!(plain.report.parse.records > 0, "{name}");
        assert!(plain.datum_count() > 0, "{name}");

        let gz = process(name, &gzip(&bytes), &config, now);
        assert!(gz.report.stream.gzip);
        assert_eq!(gz.report.parse, plain.report.parse, "{name}");
        assert_eq!(gz.batches, plain.batches, "{name}");

        let two = process(
            name,
            &gzip_members(&bytes, &[bytes.len() / 3]),
            &config,
            now,
        );
        assert_eq!(two.report.parse, plain.report.parse, "{name}");
        assert_eq!(two.batches, plain.batches, "{name}");

        for size in [1, 2, 5, 17, 100, 4096] {
            let mut p = FileProcessor::new(&config, DIST, now);
            for c in bytes.chunks(size) {
                p.feed(c).unwrap();
            }
            let (format, stats, agg) = p.finish().unwrap();
            assert_eq!(format, plain.report.format, "{name} / {size}");
            assert_eq!(stats, plain.report.parse, "{name} / {size}");
            assert_eq!(agg, plain.aggregate, "{name} / {size}");
        }

        let mut parser = LogParser::new();
        let mut n = 0u64;
        let used = parser.process(&bytes, true, |_| n += 1).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(n, plain.report.parse.records);
        assert_eq!(parser.stats(), &plain.report.parse);
    }
}

/// Expected (records, rejected) of every sample, as established in the tests above, checked in
/// one place together with the "no datum is 0 / at most 150 values" invariants of [`View`].
#[test]
fn record_and_reject_counts_of_every_sample() {
    let expect: [(&str, u64, u64); 18] = [
        (AWS_DOCS, 6, 0),
        (ELASTIC, 11, 1),
        (SOLUTIONS, 2, 0),
        (OPENSEARCH, 2, 0),
        (LOGSTASH_PATTERNS, 2, 0),
        (LOGSTASH_S3, 1, 0),
        (ADAMVR, 1, 0),
        (MATOMO, 1, 0),
        (CLAY_WEB, 2, 0),
        (CLAY_WEB_2019, 3, 0),
        (CLAY_KINESIS, 1, 0),
        (CLAY_RTMP, 6, 0),
        (REALTIME, 1, 0),
        (ASAAKI, 6, 0),
        (V2_CWL_JSON, 1, 0),
        (V2_FIREHOSE, 2, 0),
        (V2_W3C, 1, 0),
        (JAVA_V2_JSON, 1, 0),
    ];
    let mut total = 0;
    for (name, records, rejected) in expect {
        let f = process(
            name,
            &sample(name),
            &config("DistributionId"),
            clock_for(name),
        );
        assert_eq!(
            (f.report.parse.records, f.report.parse.rejected),
            (records, rejected),
            "{name}"
        );
        let v = View::of(&f);
        // Requests over the publishable minutes = records - stale.
        assert_eq!(
            v.total("Requests", &d1()),
            records - f.report.skipped_stale,
            "{name}"
        );
        total += records;
    }
    assert_eq!(total, 50);
}

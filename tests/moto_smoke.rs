//! Smoke tests of the moto test stack (tests/support): the real aws-sdk-s3 and
//! aws-sdk-cloudwatch clients against a local moto, CloudWatch going through the
//! CBOR <-> JSON adapter, plus the adapter's fault injection.
//!
//! Needs the dev venv (`bash scripts/dev-venv.sh`); without it these tests skip
//! locally and fail when `CI=true`.

mod support;

use std::collections::BTreeSet;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Datapoint, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit,
};
use aws_sdk_s3::primitives::ByteStream;
use support::logs::now_ms;
use support::metrics::{dim, statistics_request};
use support::{MotoStack, fast_retry};

/// Now minus five minutes, truncated to the minute (epoch seconds).
fn minute_ts() -> i64 {
    now_ms() / 60_000 * 60 - 300
}

/// Sum, SampleCount, Minimum, Maximum of `values` each weighted by `counts`.
fn expected_stats(values: &[f64], counts: &[f64]) -> (f64, f64, f64, f64) {
    let sum = values.iter().zip(counts).map(|(v, c)| v * c).sum();
    let n = counts.iter().sum();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (sum, n, min, max)
}

/// GetMetricStatistics (Sum, SampleCount, Minimum, Maximum; period 60) around `ts`;
/// asserts there is exactly one datapoint, at `ts`, and returns it.
async fn one_datapoint(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dims: &[Dimension],
    ts: i64,
) -> Datapoint {
    let from = DateTime::from_secs(ts - 60);
    let to = DateTime::from_secs(ts + 120);
    let out = statistics_request(cw, namespace, metric, dims, from, to, 60)
        .send()
        .await
        .expect("GetMetricStatistics");
    assert_eq!(out.label(), Some(metric));
    let points = out.datapoints();
    assert_eq!(points.len(), 1, "{metric} {dims:?}: {points:?}");
    let p = points[0].clone();
    assert_eq!(p.timestamp().map(|t| t.secs()), Some(ts), "{metric}: {p:?}");
    p
}

fn assert_stats(p: &Datapoint, (sum, n, min, max): (f64, f64, f64, f64)) {
    assert_eq!(p.sum(), Some(sum), "Sum of {p:?}");
    assert_eq!(p.sample_count(), Some(n), "SampleCount of {p:?}");
    assert_eq!(p.minimum(), Some(min), "Minimum of {p:?}");
    assert_eq!(p.maximum(), Some(max), "Maximum of {p:?}");
}

fn query(
    id: &str,
    namespace: &str,
    metric: &str,
    dims: &[Dimension],
    stat: &str,
) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(metric)
                        .set_dimensions(Some(dims.to_vec()))
                        .build(),
                )
                .period(60)
                .stat(stat)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn s3_and_cloudwatch_round_trip() {
    let Some(stack) = MotoStack::start() else {
        return;
    };
    let sdk = stack.sdk_config().await;

    // ---- S3, straight to moto
    let s3 = stack.s3_client(&sdk);
    let bucket = "smoke-logs";
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("CreateBucket");
    let key = "E2EXAMPLE/2024 06 01/a+b c.2024-06-01-12.gz";
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("PutObject");
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("ListObjectsV2");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [key]);
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("GetObject");
    assert_eq!(got.content_length(), Some(body.len() as i64));
    let got = got
        .body
        .collect()
        .await
        .expect("GetObject body")
        .into_bytes();
    assert_eq!(got.as_ref(), body.as_slice());

    // ---- CloudWatch, through the adapter
    let cw = stack.cloudwatch_client(&sdk);
    let ns = "MotoSmoke/RoundTrip";
    let ts = minute_ts();
    let at = DateTime::from_secs(ts);

    // (a) a plain value
    let plain_value = 42.5;
    cw.put_metric_data()
        .namespace(ns)
        .metric_data(
            MetricDatum::builder()
                .metric_name("Plain")
                .value(plain_value)
                .unit(StandardUnit::Count)
                .timestamp(at)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData (value)");

    // (b) 300 distinct values with counts, as two datums of 150 at the same timestamp
    let values: Vec<f64> = (1..=300).map(|i| f64::from(i) * 1.5).collect();
    let counts: Vec<f64> = (1..=300).map(|i| f64::from(i % 7 + 1)).collect();
    let hist_dims = [dim("DistributionId", "E2EXAMPLE"), dim("Status", "2xx")];
    let mut put = cw.put_metric_data().namespace(ns);
    for (vs, cs) in values.chunks(150).zip(counts.chunks(150)) {
        put = put.metric_data(
            MetricDatum::builder()
                .metric_name("Hist")
                .set_dimensions(Some(hist_dims.to_vec()))
                .set_values(Some(vs.to_vec()))
                .set_counts(Some(cs.to_vec()))
                .unit(StandardUnit::Milliseconds)
                .timestamp(at)
                .build(),
        );
    }
    put.send().await.expect("PutMetricData (values/counts)");

    // (c) 1000 datums in one request: big enough for the SDK to gzip it
    let shards = 4;
    let batch: Vec<(usize, f64)> = (0..1000).map(|i| (i % shards, (i * 3) as f64)).collect();
    let mut put = cw.put_metric_data().namespace(ns);
    for (shard, v) in &batch {
        put = put.metric_data(
            MetricDatum::builder()
                .metric_name("Batch")
                .dimensions(dim("Shard", &shard.to_string()))
                .value(*v)
                .unit(StandardUnit::Bytes)
                .timestamp(at)
                .build(),
        );
    }
    put.send().await.expect("PutMetricData (1000 datums)");

    let stats = stack.stats();
    assert_eq!(stats["requests"]["PutMetricData"], 3, "{stats}");
    assert_eq!(
        stats["gzip"]["PutMetricData"], 1,
        "only the 1000-datum request is gzip'd: {stats}"
    );

    // ---- read back: GetMetricStatistics
    let p = one_datapoint(&cw, ns, "Plain", &[], ts).await;
    assert_stats(&p, expected_stats(&[plain_value], &[1.0]));
    assert_eq!(p.unit(), Some(&StandardUnit::Count));

    let p = one_datapoint(&cw, ns, "Hist", &hist_dims, ts).await;
    let hist = expected_stats(&values, &counts);
    assert_stats(&p, hist);

    let mut batch_stats = Vec::new();
    for shard in 0..shards {
        let (vs, cs): (Vec<f64>, Vec<f64>) = batch
            .iter()
            .filter(|(s, _)| *s == shard)
            .map(|(_, v)| (*v, 1.0))
            .unzip();
        let d = [dim("Shard", &shard.to_string())];
        let p = one_datapoint(&cw, ns, "Batch", &d, ts).await;
        let want = expected_stats(&vs, &cs);
        assert_stats(&p, want);
        batch_stats.push(want);
    }

    // ---- read back: GetMetricData
    let out = cw
        .get_metric_data()
        .start_time(DateTime::from_secs(ts - 60))
        .end_time(DateTime::from_secs(ts + 120))
        .metric_data_queries(query("hsum", ns, "Hist", &hist_dims, "Sum"))
        .metric_data_queries(query("hcount", ns, "Hist", &hist_dims, "SampleCount"))
        .metric_data_queries(query("plain", ns, "Plain", &[], "Maximum"))
        .metric_data_queries(query("b2min", ns, "Batch", &[dim("Shard", "2")], "Minimum"))
        .send()
        .await
        .expect("GetMetricData");
    let results = out.metric_data_results();
    let want = [
        ("hsum", hist.0),
        ("hcount", hist.1),
        ("plain", plain_value),
        ("b2min", batch_stats[2].2),
    ];
    assert_eq!(results.len(), want.len(), "{results:?}");
    for (id, value) in want {
        let r = results
            .iter()
            .find(|r| r.id() == Some(id))
            .unwrap_or_else(|| panic!("no result {id}: {results:?}"));
        assert_eq!(r.values(), [value], "{id}: {r:?}");
        let times: Vec<i64> = r.timestamps().iter().map(|t| t.secs()).collect();
        assert_eq!(times, [ts], "{id}: {r:?}");
    }

    // ---- ListMetrics, all pages (moto pages by 500 and lists a dimensionless
    // metric once per stored value: hence the set)
    let pages: Vec<_> = cw
        .list_metrics()
        .namespace(ns)
        .into_paginator()
        .send()
        .collect::<Result<_, _>>()
        .await
        .expect("ListMetrics");
    let listed: BTreeSet<(String, Vec<(String, String)>)> = pages
        .iter()
        .flat_map(|page| page.metrics())
        .map(|m| {
            let dims = m
                .dimensions()
                .iter()
                .map(|d| {
                    (
                        d.name().unwrap_or("").to_owned(),
                        d.value().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            (m.metric_name().unwrap_or("").to_owned(), dims)
        })
        .collect();
    let mut expected = BTreeSet::from([
        ("Plain".to_owned(), vec![]),
        (
            "Hist".to_owned(),
            hist_dims
                .iter()
                .map(|d| (d.name().unwrap().to_owned(), d.value().unwrap().to_owned()))
                .collect(),
        ),
    ]);
    for shard in 0..shards {
        expected.insert((
            "Batch".to_owned(),
            vec![("Shard".to_owned(), shard.to_string())],
        ));
    }
    assert_eq!(listed, expected);

    // ---- a modelled error comes back with its code and message
    let err = cw
        .put_metric_data()
        .namespace(ns)
        .metric_data(
            MetricDatum::builder()
                .metric_name("Bad")
                .value(1.0)
                .values(1.0)
                .timestamp(at)
                .build(),
        )
        .send()
        .await
        .expect_err("Value and Values together are refused");
    let err = err.into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert!(
        err.meta()
            .message()
            .unwrap_or("")
            .contains("mutually exclusive"),
        "{err:?}"
    );
}

#[tokio::test]
async fn throttled_put_metric_data_is_retried() {
    let Some(stack) = MotoStack::start() else {
        return;
    };
    let sdk = stack.sdk_config().await;
    // The SDK's standard retry strategy (3 attempts), with a short backoff for speed.
    let cw = stack.cloudwatch_client_with_attempts(&sdk, 3);
    let ns = "MotoSmoke/Throttle";
    let ts = minute_ts();
    let datum = |v: f64| {
        MetricDatum::builder()
            .metric_name("Requests")
            .value(v)
            .timestamp(DateTime::from_secs(ts))
            .build()
    };

    // Two throttles, then the third attempt goes through.
    stack.fault(r#"{"rules":[{"operation":"PutMetricData","action":"throttle","times":2}]}"#);
    cw.put_metric_data()
        .namespace(ns)
        .metric_data(datum(7.0))
        .send()
        .await
        .expect("PutMetricData succeeds after two throttles");
    let stats = stack.stats();
    assert_eq!(stats["requests"]["PutMetricData"], 3, "{stats}");
    assert_eq!(stats["faults"]["PutMetricData"]["throttle"], 2, "{stats}");
    assert_eq!(stats["faults_total"], 2, "{stats}");
    assert_eq!(stats["rules"][0]["injected"], 2, "{stats}");
    // moto saw the datum once
    let p = one_datapoint(&cw, ns, "Requests", &[], ts).await;
    assert_stats(&p, expected_stats(&[7.0], &[1.0]));

    // Throttled on every attempt: the SDK gives up after 3 and reports the code.
    stack.fault(r#"{"rules":[{"operation":"PutMetricData","action":"throttle"}]}"#);
    stack.reset_stats();
    let err = cw
        .put_metric_data()
        .namespace(ns)
        .metric_data(datum(1.0))
        .send()
        .await
        .expect_err("always throttled");
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("ThrottlingException"), "{err:?}");
    let stats = stack.stats();
    assert_eq!(stats["requests"]["PutMetricData"], 3, "{stats}");
    assert_eq!(stats["faults"]["PutMetricData"]["throttle"], 3, "{stats}");
    stack.clear_faults();
}

#[tokio::test]
async fn dropped_and_failed_responses_are_retried() {
    let Some(stack) = MotoStack::start() else {
        return;
    };
    let sdk = stack.sdk_config().await;
    let cw = stack.cloudwatch_client_with_attempts(&sdk, 3);
    let s3 = aws_sdk_s3::Client::from_conf(
        stack
            .s3_config(&sdk)
            .endpoint_url(&stack.adapter)
            .retry_config(fast_retry(3))
            .build(),
    );
    let ns = "MotoSmoke/Drop";
    let ts = minute_ts();

    // A response lost after moto stored the data: the SDK retries, so moto stores it twice.
    stack.fault(
        r#"{"rules":[{"operation":"PutMetricData","action":"drop","phase":"response","times":1}]}"#,
    );
    cw.put_metric_data()
        .namespace(ns)
        .metric_data(
            MetricDatum::builder()
                .metric_name("Dup")
                .value(5.0)
                .timestamp(DateTime::from_secs(ts))
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData succeeds after a dropped response");
    let p = one_datapoint(&cw, ns, "Dup", &[], ts).await;
    assert_stats(&p, expected_stats(&[5.0], &[2.0]));
    let stats = stack.stats();
    assert_eq!(stats["faults"]["PutMetricData"]["drop"], 1, "{stats}");
    assert_eq!(stats["requests"]["PutMetricData"], 2, "{stats}");

    // S3 through the adapter: a 500 on the 1st GetObject, then the retry succeeds.
    stack.fault(
        r#"{"rules":[{"service":"s3","operation":"GetObject","action":"error500","times":1}]}"#,
    );
    s3.create_bucket()
        .bucket("drop-bucket")
        .send()
        .await
        .expect("CreateBucket");
    s3.put_object()
        .bucket("drop-bucket")
        .key("k")
        .body(ByteStream::from_static(b"payload"))
        .send()
        .await
        .expect("PutObject");
    let got = s3
        .get_object()
        .bucket("drop-bucket")
        .key("k")
        .send()
        .await
        .expect("GetObject");
    let got = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(got.as_ref(), b"payload");
    let stats = stack.stats();
    assert_eq!(stats["requests"]["CreateBucket"], 1, "{stats}");
    assert_eq!(stats["requests"]["PutObject"], 1, "{stats}");
    assert_eq!(stats["requests"]["GetObject"], 2, "{stats}");
    assert_eq!(stats["faults"]["GetObject"]["error500"], 1, "{stats}");
}

#[tokio::test]
async fn adapter_enforces_put_metric_data_limits() {
    let Some(stack) = MotoStack::start() else {
        return;
    };
    let sdk = stack.sdk_config().await;
    let cw = stack.cloudwatch_client(&sdk);
    let at = DateTime::from_secs(minute_ts());
    let values: Vec<f64> = (0..151).map(f64::from).collect();
    let too_many_values = || {
        cw.put_metric_data()
            .namespace("MotoSmoke/Limits")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Wide")
                    .set_values(Some(values.clone()))
                    .timestamp(at)
                    .build(),
            )
    };

    // moto itself takes 151 values; the adapter refuses them as CloudWatch does.
    let err = too_many_values()
        .send()
        .await
        .expect_err("151 values in one datum")
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert!(
        err.meta()
            .message()
            .unwrap_or("")
            .starts_with("moto_stack limit check: MetricData.member.1.Values has 151 items"),
        "{err:?}"
    );
    let stats = stack.stats();
    assert_eq!(stats["limit_rejections"]["PutMetricData"], 1, "{stats}");

    stack.set_limits(false);
    too_many_values()
        .send()
        .await
        .expect("limits off: moto takes it");
}

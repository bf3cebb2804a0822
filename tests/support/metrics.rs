//! Reading metrics back from CloudWatch (moto, through the adapter) with the SDK, and comparing
//! them, minute by minute, with totals a test computed itself while generating its logs.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use super::logs::{Request, minute_of};
use aws_sdk_cloudwatch::operation::get_metric_statistics::builders::GetMetricStatisticsFluentBuilder;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use std::collections::{BTreeMap, BTreeSet};

/// The function's default namespace.
pub const NAMESPACE: &str = "CloudFront/AccessLogs";

/// A CloudWatch dimension.
pub fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// Sum, SampleCount, Minimum and Maximum of one datapoint.
pub type Stats = (f64, f64, f64, f64);

/// GetMetricStatistics of `metric` with exactly `dims`, asking for every [`Stats`] statistic
/// per `period_s`, ready to send (or to customise first).
pub fn statistics_request(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dims: &[Dimension],
    from: DateTime,
    to: DateTime,
    period_s: i32,
) -> GetMetricStatisticsFluentBuilder {
    cw.get_metric_statistics()
        .namespace(namespace)
        .metric_name(metric)
        .set_dimensions(Some(dims.to_vec()))
        .start_time(from)
        .end_time(to)
        .period(period_s)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
}

/// The [`Stats`] of each minute of `metric` in [`NAMESPACE`], by minute (epoch ms). moto matches
/// dimensions as a subset, so the tests ask for the DistributionId set alone unless they say
/// otherwise.
pub async fn per_minute(
    cw: &aws_sdk_cloudwatch::Client,
    dims: &[(&str, &str)],
    metric: &str,
    from_ms: i64,
    to_ms: i64,
) -> BTreeMap<i64, Stats> {
    let dims: Vec<Dimension> = dims.iter().map(|(k, v)| dim(k, v)).collect();
    let from = DateTime::from_millis(from_ms);
    let to = DateTime::from_millis(to_ms);
    let out = statistics_request(cw, NAMESPACE, metric, &dims, from, to, 60)
        .send()
        .await
        .unwrap();
    out.datapoints()
        .iter()
        .map(|d| {
            let t = d.timestamp().unwrap().to_millis().unwrap();
            (
                t,
                (
                    d.sum().unwrap(),
                    d.sample_count().unwrap(),
                    d.minimum().unwrap(),
                    d.maximum().unwrap(),
                ),
            )
        })
        .collect()
}

/// The Sum of `metric` over `from_ms..to_ms` (all minutes added).
pub async fn total(
    cw: &aws_sdk_cloudwatch::Client,
    dims: &[(&str, &str)],
    metric: &str,
    from_ms: i64,
    to_ms: i64,
) -> f64 {
    let minutes = per_minute(cw, dims, metric, from_ms, to_ms).await;
    minutes.values().map(|s| s.0).sum()
}

/// Every value of every dimension of the metrics listed in [`NAMESPACE`] (of `metric` only,
/// when given): which distributions (and other values) were published at all.
pub async fn listed_values(
    cw: &aws_sdk_cloudwatch::Client,
    metric: Option<&str>,
) -> BTreeSet<String> {
    cw.list_metrics()
        .namespace(NAMESPACE)
        .set_metric_name(metric.map(str::to_owned))
        .send()
        .await
        .unwrap()
        .metrics()
        .iter()
        .flat_map(|m| m.dimensions().iter())
        .filter_map(|d| d.value().map(str::to_owned))
        .collect()
}

/// Expected per-minute totals of one distribution, computed while generating.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Minute {
    pub requests: u64,
    pub bytes: u64,
    pub hits: u64,
    pub latencies: Vec<u64>,
}

/// Expected totals of one distribution, by minute (epoch ms).
pub type Expected = BTreeMap<i64, Minute>;

/// Adds one generated request to the expected totals of its minute.
pub fn count(exp: &mut Expected, r: &Request) {
    let m = exp.entry(minute_of(r.ts)).or_default();
    m.requests += 1;
    m.bytes += r.bytes;
    m.hits += u64::from(r.hit);
    m.latencies.push(r.latency_ms);
}

/// Compares CloudWatch's per-minute statistics of one distribution (Requests, BytesDownloaded,
/// Hit, TimeTaken) with the expected totals; the first difference, if any.
pub async fn compare(
    cw: &aws_sdk_cloudwatch::Client,
    dist: &str,
    exp: &Expected,
) -> Result<(), String> {
    if exp.is_empty() {
        return Ok(());
    }
    let from = *exp.keys().next().unwrap() - 60_000;
    let to = *exp.keys().last().unwrap() + 120_000;
    let dims = [("DistributionId", dist)];
    let requests = per_minute(cw, &dims, "Requests", from, to).await;
    let bytes = per_minute(cw, &dims, "BytesDownloaded", from, to).await;
    let hits = per_minute(cw, &dims, "Hit", from, to).await;
    let latency = per_minute(cw, &dims, "TimeTaken", from, to).await;
    if requests.len() != exp.len() {
        return Err(format!(
            "{dist}: {} minutes with Requests, expected {}",
            requests.len(),
            exp.len()
        ));
    }
    let sum = |m: &BTreeMap<i64, Stats>, k: &i64| m.get(k).map_or(0.0, |x| x.0);
    for (minute, m) in exp {
        let got = [
            sum(&requests, minute),
            sum(&bytes, minute),
            sum(&hits, minute),
        ];
        let want = [m.requests as f64, m.bytes as f64, m.hits as f64];
        if got != want {
            return Err(format!(
                "{dist} minute {minute}: Requests/BytesDownloaded/Hit {got:?}, expected {want:?}"
            ));
        }
        let got = latency.get(minute).copied().unwrap_or_default();
        let want = (
            m.latencies.iter().sum::<u64>() as f64,
            m.latencies.len() as f64,
            *m.latencies.iter().min().unwrap() as f64,
            *m.latencies.iter().max().unwrap() as f64,
        );
        if got != want {
            return Err(format!(
                "{dist} minute {minute}: TimeTaken sum/count/min/max {got:?}, expected {want:?}"
            ));
        }
    }
    Ok(())
}

/// [`compare`] for every distribution of `expected`.
pub async fn compare_all(
    cw: &aws_sdk_cloudwatch::Client,
    expected: &BTreeMap<String, Expected>,
) -> Result<(), String> {
    for (dist, exp) in expected {
        compare(cw, dist, exp).await?;
    }
    Ok(())
}

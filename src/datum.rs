//! Stage "datums": a file's aggregates become CloudWatch metric datums, free of any SDK type.
//!
//! Sums become one `Value` datum (zero sums are not sent: any datapoint in an hour makes a custom
//! metric billable for that hour, and dashboards fill gaps with 0). Latencies become `Values` /
//! `Counts` datums at millisecond resolution, at most [`MAX_VALUES_PER_DATUM`] distinct values
//! each; a minute with more becomes several datums with the same name, dimensions and timestamp,
//! which CloudWatch merges. The SampleCount, Sum, Minimum and Maximum CloudWatch derives are
//! therefore exactly the log's.

use crate::aggregate::FileAggregate;
use crate::catalogue::{Kind, Metric};
use crate::config::{DimensionKey, MetricsConfig};
use std::sync::Arc;

/// Most `Values` in one datum (PutMetricData limit).
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// Storage resolution of every datum: standard, one minute.
pub const STORAGE_RESOLUTION: i32 = 60;

/// The value part of a datum.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DatumValue {
    /// A single summed value.
    Value(u64),
    /// Distinct values (milliseconds, ascending) with how often each occurred.
    Distribution { values: Vec<u64>, counts: Vec<u64> },
}

/// One CloudWatch metric datum.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Datum {
    /// The metric.
    pub metric: Metric,
    /// Dimension name/value pairs (shared by every datum of the same row).
    pub dimensions: Arc<[(DimensionKey, String)]>,
    /// Start of the minute, epoch milliseconds.
    pub timestamp_ms: i64,
    /// The value.
    pub value: DatumValue,
}

impl Datum {
    /// Number of samples the datum stands for (1 for a value).
    pub fn sample_count(&self) -> u64 {
        match &self.value {
            DatumValue::Value(_) => 1,
            DatumValue::Distribution { counts, .. } => {
                counts.iter().fold(0, |a, &c| a.saturating_add(c))
            }
        }
    }

    /// A generous estimate of the datum's size in a PutMetricData request body, in bytes, used to
    /// keep requests well under the 1 MB limit whatever the wire protocol.
    pub fn estimated_size(&self) -> usize {
        let dims: usize = self
            .dimensions
            .iter()
            .map(|(k, v)| k.name().len() + v.len() + 48)
            .sum();
        let value = match &self.value {
            DatumValue::Value(_) => 40,
            DatumValue::Distribution { values, .. } => 40 + values.len() * 48,
        };
        96 + self.metric.name().len() + dims + value
    }
}

/// The freshness datums of one distribution (`LogFiles`, `DeliveryDelay`), timestamped at the
/// minute of `published_ms`: `files` log files (or shard-minutes) published, with their delays
/// in seconds.
pub fn freshness_datums(
    config: &MetricsConfig,
    distribution_id: &str,
    published_ms: i64,
    files: u64,
    delays_s: &[u64],
) -> Vec<Datum> {
    let dims: Arc<[(DimensionKey, String)]> =
        vec![(DimensionKey::DistributionId, distribution_id.to_owned())].into();
    let timestamp_ms = published_ms.div_euclid(60_000) * 60_000;
    let mut out = Vec::new();
    if config.include.contains(Metric::LogFiles) && files > 0 {
        out.push(Datum {
            metric: Metric::LogFiles,
            dimensions: dims.clone(),
            timestamp_ms,
            value: DatumValue::Value(files),
        });
    }
    if config.include.contains(Metric::DeliveryDelay) && !delays_s.is_empty() {
        let mut sorted = delays_s.to_vec();
        sorted.sort_unstable();
        let mut values: Vec<u64> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        for v in sorted {
            match values.last() {
                Some(&last) if last == v => *counts.last_mut().unwrap_or(&mut 0) += 1,
                _ => {
                    values.push(v);
                    counts.push(1);
                }
            }
        }
        for (v, c) in values
            .chunks(MAX_VALUES_PER_DATUM)
            .zip(counts.chunks(MAX_VALUES_PER_DATUM))
        {
            out.push(Datum {
                metric: Metric::DeliveryDelay,
                dimensions: dims.clone(),
                timestamp_ms,
                value: DatumValue::Distribution {
                    values: v.to_vec(),
                    counts: c.to_vec(),
                },
            });
        }
    }
    out
}

/// Seconds from `newest_ms` to `published_ms`, never negative.
pub fn delay_s(published_ms: i64, newest_ms: i64) -> u64 {
    u64::try_from(published_ms.saturating_sub(newest_ms).max(0) / 1000).unwrap_or(0)
}

/// Turns a file's aggregates into datums, deterministically: rows in aggregate order, metrics in
/// catalogue order, then the file's freshness datums (when it kept a record).
pub fn datums(aggregate: &FileAggregate, config: &MetricsConfig) -> Vec<Datum> {
    let mut out = row_datums(aggregate, config);
    if let Some(f) = aggregate.freshness
        && let Some(newest) = f.newest_ms
        && !aggregate.distribution_id.is_empty()
    {
        let delay = [delay_s(f.published_ms, newest)];
        let dist = &aggregate.distribution_id;
        out.extend(freshness_datums(config, dist, f.published_ms, 1, &delay));
    }
    out
}

/// The datums of the aggregate rows alone.
fn row_datums(aggregate: &FileAggregate, config: &MetricsConfig) -> Vec<Datum> {
    let mut out = Vec::new();
    for row in &aggregate.rows {
        let dims: Arc<[(DimensionKey, String)]> = row.dimensions.clone().into();
        for metric in Metric::ALL {
            if !config.include.contains(metric) || metric.is_freshness() {
                continue;
            }
            match metric.kind() {
                Kind::Sum => {
                    let v = row.cell.sum(metric);
                    if v > 0 {
                        out.push(Datum {
                            metric,
                            dimensions: dims.clone(),
                            timestamp_ms: row.minute_ms,
                            value: DatumValue::Value(v),
                        });
                    }
                }
                Kind::Distribution => {
                    let Some(h) = row.cell.histogram(metric) else {
                        continue;
                    };
                    for chunk in h.sorted().chunks(MAX_VALUES_PER_DATUM) {
                        out.push(Datum {
                            metric,
                            dimensions: dims.clone(),
                            timestamp_ms: row.minute_ms,
                            value: DatumValue::Distribution {
                                values: chunk.iter().map(|&(v, _)| u64::from(v)).collect(),
                                counts: chunk.iter().map(|&(_, c)| c).collect(),
                            },
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::catalogue::MetricSet;
    use crate::parse::LogParser;

    fn file(lines: &[String], config: &MetricsConfig) -> Vec<Datum> {
        let mut s =
            String::from("#Fields: date time sc-bytes sc-status x-edge-result-type time-taken\n");
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        let mut agg = Aggregator::new(config, "E2Q4ABCDEFGH", 1_700_000_000_000);
        LogParser::new()
            .process(s.as_bytes(), true, |r| agg.add(r))
            .unwrap();
        datums(&agg.finish(), config)
    }

    #[test]
    fn zero_sums_are_not_sent() {
        let d = file(
            &["2023-11-14\t22:00:01\t10\t200\tHit\t0.005".to_owned()],
            &MetricsConfig::default(),
        );
        let names: Vec<&str> = d.iter().map(|d| d.metric.name()).collect();
        assert_eq!(
            names,
            vec![
                "Requests",
                "BytesDownloaded",
                "Hit",
                "Status2xx",
                "TimeTaken",
                "LogFiles",
                "DeliveryDelay"
            ]
        );
        assert_eq!(
            d[4].value,
            DatumValue::Distribution {
                values: vec![5],
                counts: vec![1]
            }
        );
    }

    #[test]
    fn a_file_says_how_late_it_is_published_at_its_publication_minute() {
        // The window's clock (publication) is 2023-11-14T22:13:20Z.
        let d = file(
            &[
                "2023-11-14\t22:00:01\t10\t200\tHit\t0.005".to_owned(),
                "2023-11-14\t22:05:30\t10\t200\tHit\t0.005".to_owned(),
            ],
            &MetricsConfig::default(),
        );
        let fresh: Vec<&Datum> = d.iter().filter(|d| d.metric.is_freshness()).collect();
        assert_eq!(fresh.len(), 2);
        let published_minute = 1_700_000_000_000 / 60_000 * 60_000;
        for f in &fresh {
            assert_eq!(f.timestamp_ms, published_minute);
            assert_eq!(
                &*f.dimensions,
                &[(DimensionKey::DistributionId, "E2Q4ABCDEFGH".to_owned())]
            );
        }
        assert_eq!(fresh[0].value, DatumValue::Value(1));
        // 22:13:20 - 22:05:30, the newest record.
        assert_eq!(
            fresh[1].value,
            DatumValue::Distribution {
                values: vec![470],
                counts: vec![1]
            }
        );
        assert_eq!(Metric::DeliveryDelay.unit().as_str(), "Seconds");
        // Not selected, not sent; a file that kept no record sends none.
        let mut include = MetricSet::empty();
        include.insert(Metric::Requests);
        let config = MetricsConfig {
            include,
            ..MetricsConfig::default()
        };
        assert!(
            file(
                &["2023-11-14\t22:00:01\t10\t200\tHit\t0.005".to_owned()],
                &config
            )
            .iter()
            .all(|d| d.metric == Metric::Requests)
        );
        assert!(file(&[], &MetricsConfig::default()).is_empty());
    }

    #[test]
    fn many_distinct_latencies_split_into_datums_of_150() {
        let lines: Vec<String> = (0..400)
            .map(|i| format!("2023-11-14\t22:00:01\t1\t200\tHit\t0.{:03}", i % 321))
            .collect();
        let mut include = MetricSet::empty();
        include.insert(Metric::TimeTaken);
        let config = MetricsConfig {
            include,
            ..MetricsConfig::default()
        };
        let d = file(&lines, &config);
        assert_eq!(d.len(), 3);
        let sizes: Vec<usize> = d
            .iter()
            .map(|d| match &d.value {
                DatumValue::Distribution { values, .. } => values.len(),
                DatumValue::Value(_) => 0,
            })
            .collect();
        assert_eq!(sizes, vec![150, 150, 21]);
        assert_eq!(d.iter().map(Datum::sample_count).sum::<u64>(), 400);
        assert!(d.iter().all(|x| x.timestamp_ms == d[0].timestamp_ms));
    }
}

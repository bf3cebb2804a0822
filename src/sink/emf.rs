//! The EMF sink: CloudWatch Embedded Metric Format lines on stdout, which CloudWatch Logs turns
//! into the same metrics as PutMetricData (log ingestion is billed instead of API requests).
//!
//! Datums of the same dimensions and minute share one event. EMF has no `Counts`, so a latency
//! distribution is written as its values repeated by their counts, at most 100 per event (the
//! EMF array limit), spread over as many events as needed.

use super::{MetricSink, SinkError};
use crate::batch::Batch;
use crate::datum::{Datum, DatumValue, STORAGE_RESOLUTION};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::sync::Mutex;

/// Most values in one EMF metric array.
pub const MAX_EMF_VALUES: usize = 100;

/// Builds the EMF events of a batch, in order.
pub fn events(namespace: &str, datums: &[Datum]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < datums.len() {
        let head = &datums[i];
        let mut j = i;
        while j < datums.len()
            && datums[j].timestamp_ms == head.timestamp_ms
            && datums[j].dimensions == head.dimensions
        {
            j += 1;
        }
        // Spread each metric's samples over events: event n carries the n-th slice of every metric.
        let mut slices: Vec<Vec<(&Datum, Value)>> = Vec::new();
        for d in &datums[i..j] {
            let parts: Vec<Value> = match &d.value {
                DatumValue::Value(v) => vec![json!(v)],
                DatumValue::Distribution { values, counts } => {
                    let expanded: Vec<u64> = values
                        .iter()
                        .zip(counts)
                        .flat_map(|(&v, &c)| std::iter::repeat_n(v, c as usize))
                        .collect();
                    expanded.chunks(MAX_EMF_VALUES).map(|c| json!(c)).collect()
                }
            };
            for (n, p) in parts.into_iter().enumerate() {
                if slices.len() <= n {
                    slices.push(Vec::new());
                }
                slices[n].push((d, p));
            }
        }
        let dim_names: Vec<&str> = head.dimensions.iter().map(|(k, _)| k.name()).collect();
        for slice in slices {
            let mut root = Map::new();
            let mut metrics = Vec::new();
            for (d, value) in slice {
                let name = d.metric.name();
                if root.contains_key(name) {
                    // Two datums of one metric in the same slice (a split distribution): merge.
                    if let (Some(Value::Array(a)), Value::Array(b)) = (root.get_mut(name), value) {
                        a.extend(b);
                    }
                    continue;
                }
                metrics.push(json!({
                    "Name": name,
                    "Unit": d.metric.unit().as_str(),
                    "StorageResolution": STORAGE_RESOLUTION,
                }));
                root.insert(name.to_owned(), value);
            }
            for (k, v) in head.dimensions.iter() {
                root.insert(k.name().to_owned(), json!(v));
            }
            root.insert(
                "_aws".to_owned(),
                json!({
                    "Timestamp": head.timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [dim_names],
                        "Metrics": metrics,
                    }],
                }),
            );
            out.push(Value::Object(root));
        }
        i = j;
    }
    out
}

/// Prints EMF events to a writer (stdout in the Lambda).
pub struct EmfSink<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> EmfSink<W> {
    /// An EMF sink writing to `out`.
    pub fn new(out: W) -> Self {
        EmfSink {
            out: Mutex::new(out),
        }
    }

    /// The writer back (for tests).
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl<W: Write + Send> MetricSink for EmfSink<W> {
    async fn put(&self, namespace: &str, batch: &Batch) -> Result<(), SinkError> {
        let mut text = Vec::new();
        for e in events(namespace, &batch.datums) {
            serde_json::to_writer(&mut text, &e).map_err(std::io::Error::from)?;
            text.push(b'\n');
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(&text)?;
        out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Metric;
    use crate::config::DimensionKey;
    use std::sync::Arc;

    #[test]
    fn groups_by_row_and_repeats_values_by_count() {
        let dims: Arc<[(DimensionKey, String)]> = Arc::from(vec![(
            DimensionKey::DistributionId,
            "E2Q4ABCDEFGH".to_owned(),
        )]);
        let d = |metric, value| Datum {
            metric,
            dimensions: dims.clone(),
            timestamp_ms: 60_000,
            value,
        };
        let datums = vec![
            d(Metric::Requests, DatumValue::Value(130)),
            d(
                Metric::TimeTaken,
                DatumValue::Distribution {
                    values: vec![1, 2],
                    counts: vec![120, 10],
                },
            ),
        ];
        let ev = events("NS", &datums);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0]["Requests"], json!(130));
        assert_eq!(ev[0]["TimeTaken"].as_array().unwrap().len(), 100);
        assert_eq!(ev[1]["TimeTaken"].as_array().unwrap().len(), 30);
        assert!(ev[1].get("Requests").is_none());
        assert_eq!(ev[0]["DistributionId"], json!("E2Q4ABCDEFGH"));
        assert_eq!(
            ev[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["DistributionId"]])
        );
        assert_eq!(ev[1]["_aws"]["Timestamp"], json!(60_000));
        let total: u64 = ev
            .iter()
            .flat_map(|e| e["TimeTaken"].as_array().cloned().unwrap_or_default())
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(total, 120 + 20);
    }
}

//! The CloudWatch sink: one PutMetricData request per batch, with the SDK's standard retry
//! (throttling and 5xx, with backoff) and its request compression left on.

use super::{MetricSink, SinkError};
use crate::batch::Batch;
use crate::catalogue::Unit;
use crate::datum::{Datum, DatumValue, STORAGE_RESOLUTION};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;

fn unit(u: Unit) -> StandardUnit {
    match u {
        Unit::Count => StandardUnit::Count,
        Unit::Bytes => StandardUnit::Bytes,
        Unit::Milliseconds => StandardUnit::Milliseconds,
    }
}

/// Converts one datum to the SDK type. Values are integers below 2^53, exact as f64.
pub fn to_sdk(d: &Datum) -> MetricDatum {
    let dims = d
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(k.name()).value(v).build())
        .collect();
    let b = MetricDatum::builder()
        .metric_name(d.metric.name())
        .set_dimensions(Some(dims))
        .timestamp(DateTime::from_millis(d.timestamp_ms))
        .unit(unit(d.metric.unit()))
        .storage_resolution(STORAGE_RESOLUTION);
    match &d.value {
        DatumValue::Value(v) => b.value(*v as f64),
        DatumValue::Distribution { values, counts } => b
            .set_values(Some(values.iter().map(|&v| v as f64).collect()))
            .set_counts(Some(counts.iter().map(|&c| c as f64).collect())),
    }
    .build()
}

impl MetricSink for aws_sdk_cloudwatch::Client {
    async fn put(&self, namespace: &str, batch: &Batch) -> Result<(), SinkError> {
        self.put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(batch.datums.iter().map(to_sdk).collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SinkError::Put {
                batch: batch.index,
                message: aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string(),
            })
    }
}

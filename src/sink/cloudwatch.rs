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
        Unit::Seconds => StandardUnit::Seconds,
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

/// Error codes of a 400 that a later attempt may get past.
const THROTTLING: [&str; 4] = [
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];

/// Names the datum a refusal is about: CloudWatch's message says
/// `MetricData.member.<n>` (1-based); without it, the batch's first and last datums.
pub fn refused_datum(batch: &Batch, message: &str) -> String {
    let describe = |d: &Datum| {
        let dims: Vec<String> = d
            .dimensions
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!(
            "{} {{{}}} at {}",
            d.metric.name(),
            dims.join(", "),
            crate::parse::value::format_rfc3339(d.timestamp_ms)
        )
    };
    let lower = message.to_ascii_lowercase();
    let member = lower.find("metricdata.member.").and_then(|at| {
        let digits: String = lower[at + 18..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<usize>().ok()
    });
    match member
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| batch.datums.get(i))
    {
        Some(d) => format!(
            "datum {} of {}: {}",
            member.unwrap_or(0),
            batch.datums.len(),
            describe(d)
        ),
        None => match (batch.datums.first(), batch.datums.last()) {
            (Some(first), Some(last)) => format!(
                "{} datums, from {} to {}",
                batch.datums.len(),
                describe(first),
                describe(last)
            ),
            _ => "no datums".to_owned(),
        },
    }
}

impl MetricSink for aws_sdk_cloudwatch::Client {
    async fn put(&self, namespace: &str, batch: &Batch) -> Result<(), SinkError> {
        use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
        self.put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(batch.datums.iter().map(to_sdk).collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e.code().map(str::to_owned);
                let message = aws_sdk_cloudwatch::error::DisplayErrorContext(&e).to_string();
                let throttled = code.as_deref().is_some_and(|c| THROTTLING.contains(&c));
                match status {
                    Some(400 | 413) if !throttled => SinkError::Rejected {
                        batch: batch.index,
                        datum: refused_datum(batch, &message),
                        message,
                    },
                    _ => SinkError::Put {
                        batch: batch.index,
                        message,
                    },
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Metric;
    use crate::config::DimensionKey;
    use std::sync::Arc;

    fn datum(value: &str) -> Datum {
        Datum {
            metric: Metric::Requests,
            dimensions: Arc::from(vec![(DimensionKey::DistributionId, value.to_owned())]),
            timestamp_ms: 1_795_176_000_000,
            value: DatumValue::Value(1),
        }
    }

    #[test]
    fn a_refusal_names_the_datum_cloudwatch_names() {
        let batch = Batch {
            index: 3,
            datums: vec![datum("E1"), datum("E2"), datum("E3")],
        };
        let msg =
            "The value for parameter MetricData.member.2.Dimensions.member.1.Value is invalid.";
        assert_eq!(
            refused_datum(&batch, msg),
            "datum 2 of 3: Requests {DistributionId=\"E2\"} at 2026-11-20T12:00:00Z"
        );
        // Without a member number (or one out of range): the batch's range.
        for msg in ["Invalid request", "metricData.member.9.Value"] {
            let text = refused_datum(&batch, msg);
            assert!(text.starts_with("3 datums, from Requests"), "{text}");
            assert!(text.contains("\"E3\""), "{text}");
        }
    }
}

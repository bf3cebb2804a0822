//! Stage "sink": where batches of datums go. [`jsonl`] prints them for dry runs; [`cloudwatch`]
//! publishes them with PutMetricData; [`emf`] prints CloudWatch Embedded Metric Format lines that
//! CloudWatch Logs turns into the same metrics (no request charges, no throttling). All are
//! driven by the same datums.

pub mod cloudwatch;
pub mod emf;
pub mod jsonl;

use crate::batch::Batch;
use futures::StreamExt;
use std::future::Future;

/// A batch could not be published.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// PutMetricData failed after the SDK's retries.
    #[error("PutMetricData failed for batch {batch}: {message}")]
    Put { batch: usize, message: String },
    /// Writing EMF lines failed.
    #[error("writing EMF to stdout failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Where batches are published. Implemented for the CloudWatch client and for EMF; tests can swap
/// in their own.
pub trait MetricSink: Send + Sync {
    /// Publishes one batch (one PutMetricData request's worth).
    fn put(
        &self,
        namespace: &str,
        batch: &Batch,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// Which sink the function uses (env `METRICS_SINK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    CloudWatch,
    Emf,
}

impl SinkKind {
    /// Parses `cloudwatch` or `emf`.
    pub fn parse(v: &str) -> Option<SinkKind> {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "cloudwatch" => Some(SinkKind::CloudWatch),
            "emf" => Some(SinkKind::Emf),
            _ => None,
        }
    }
}

/// Publishes batches with at most `concurrency` requests in flight. `on_sent` is called with the
/// index of each batch once it is accepted. Stops at the first failure (requests already in
/// flight complete) and returns it; batches after it are not sent.
pub async fn publish<S: MetricSink>(
    sink: &S,
    namespace: &str,
    batches: &[&Batch],
    concurrency: usize,
    mut on_sent: impl FnMut(usize),
) -> Result<usize, SinkError> {
    let mut sent = 0;
    let mut results = futures::stream::iter(
        batches
            .iter()
            .map(|b| async move { sink.put(namespace, b).await.map(|()| b.index) }),
    )
    .buffer_unordered(concurrency.max(1));
    let mut first_error = None;
    while let Some(r) = results.next().await {
        match r {
            Ok(index) => {
                sent += 1;
                on_sent(index);
            }
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
                break;
            }
        }
    }
    drop(results);
    match first_error {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}

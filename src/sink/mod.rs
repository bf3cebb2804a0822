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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// A batch could not be published.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// PutMetricData failed after the SDK's retries (throttling, 5xx, network): a later retry
    /// may succeed.
    #[error("PutMetricData failed for batch {batch}: {message}")]
    Put { batch: usize, message: String },
    /// CloudWatch refused the batch for good (a 400 other than throttling, naming `datum`):
    /// sending it again cannot succeed, so it is never retried.
    #[error("CloudWatch rejected batch {batch} ({datum}); not retried: {message}")]
    Rejected {
        batch: usize,
        datum: String,
        message: String,
    },
    /// Writing EMF lines failed.
    #[error("writing EMF to stdout failed: {0}")]
    Io(#[from] std::io::Error),
    /// The publish was stopped (the invocation's deadline, or a lost lease) before `unsent`
    /// batches were started; every request started was awaited.
    #[error("stopped before sending {unsent} batches (deadline or lease); a retry sends them")]
    Stopped { unsent: usize },
}

/// When a publish stops starting requests: on demand ([`Stop::now`]) or at a deadline. Checked
/// only between requests: a request that was started is always awaited.
#[derive(Debug, Default)]
pub struct Stop {
    flag: AtomicBool,
    deadline: Option<Instant>,
}

impl Stop {
    /// Stops at `deadline`, if any.
    pub fn at(deadline: Option<Instant>) -> Self {
        Stop {
            flag: AtomicBool::new(false),
            deadline,
        }
    }

    /// Starts no further request.
    pub fn now(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether no further request may start.
    pub fn stopped(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
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

/// What became of one batch that will not be sent again.
#[derive(Debug)]
pub enum Settled {
    /// CloudWatch accepted batch `.0`.
    Sent(usize),
    /// CloudWatch refused it for good ([`SinkError::Rejected`]).
    Rejected(SinkError),
}

/// Publishes batches with at most `concurrency` requests in flight. `on_settled` is called for
/// each batch once it is accepted, or refused for good (which stops nothing: the other batches
/// go on). After the first other failure, or once `stop` says so, no further request is started,
/// but those already in flight complete (and are reported to `on_settled`: a request abandoned
/// halfway could have been accepted without anyone knowing); then that failure (or
/// [`SinkError::Stopped`]) is returned. Otherwise returns the number of batches sent.
pub async fn publish<S: MetricSink>(
    sink: &S,
    namespace: &str,
    batches: &[&Batch],
    concurrency: usize,
    stop: &Stop,
    mut on_settled: impl FnMut(Settled),
) -> Result<usize, SinkError> {
    let failed = AtomicBool::new(false);
    let unsent = AtomicUsize::new(0);
    let (failed, unsent) = (&failed, &unsent);
    let mut sent = 0;
    let mut results = futures::stream::iter(batches.iter().map(|b| async move {
        if failed.load(Ordering::Relaxed) || stop.stopped() {
            unsent.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(sink.put(namespace, b).await.map(|()| b.index))
    }))
    .buffer_unordered(concurrency.max(1));
    let mut first_error = None;
    while let Some(r) = results.next().await {
        match r {
            None => {}
            Some(Ok(index)) => {
                sent += 1;
                on_settled(Settled::Sent(index));
            }
            Some(Err(e @ SinkError::Rejected { .. })) => on_settled(Settled::Rejected(e)),
            Some(Err(e)) => {
                failed.store(true, Ordering::Relaxed);
                first_error.get_or_insert(e);
            }
        }
    }
    match (first_error, unsent.load(Ordering::Relaxed)) {
        (Some(e), _) => Err(e),
        (None, 0) => Ok(sent),
        (None, unsent) => Err(SinkError::Stopped { unsent }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    /// Fails batch 2; every other batch takes a moment, so that some are in flight then.
    struct FailTwo {
        started: AtomicUsize,
        done: Mutex<Vec<usize>>,
    }

    impl MetricSink for FailTwo {
        async fn put(&self, _: &str, batch: &Batch) -> Result<(), SinkError> {
            self.started.fetch_add(1, Ordering::SeqCst);
            if batch.index == 2 {
                return Err(SinkError::Put {
                    batch: 2,
                    message: "no".into(),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            self.done.lock().unwrap().push(batch.index);
            Ok(())
        }
    }

    #[tokio::test]
    async fn in_flight_requests_complete_after_a_failure_and_no_more_start() {
        let sink = FailTwo {
            started: AtomicUsize::new(0),
            done: Mutex::new(Vec::new()),
        };
        let batches: Vec<Batch> = (0..10)
            .map(|index| Batch {
                index,
                datums: Vec::new(),
            })
            .collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        let mut reported = Vec::new();
        let r = publish(&sink, "ns", &refs, 4, &Stop::default(), |s| {
            if let Settled::Sent(i) = s {
                reported.push(i)
            }
        })
        .await;
        assert!(matches!(r, Err(SinkError::Put { batch: 2, .. })));
        // 0..=3 start together (3 only if polled before 2 fails); 2 fails at once; those in
        // flight complete and are reported; none after them starts.
        assert!(sink.started.load(Ordering::SeqCst) <= 4);
        reported.sort();
        assert!(
            reported.starts_with(&[0, 1]) && reported.len() <= 3,
            "{reported:?}"
        );
        let mut done = sink.done.lock().unwrap().clone();
        done.sort();
        assert_eq!(done, reported);
    }

    /// Refuses batch 1 for good.
    struct RefuseOne;

    impl MetricSink for RefuseOne {
        async fn put(&self, _: &str, batch: &Batch) -> Result<(), SinkError> {
            if batch.index == 1 {
                return Err(SinkError::Rejected {
                    batch: 1,
                    datum: "Requests".into(),
                    message: "invalid".into(),
                });
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_batch_refused_for_good_stops_nothing() {
        let batches: Vec<Batch> = (0..5)
            .map(|index| Batch {
                index,
                datums: Vec::new(),
            })
            .collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        let (mut sent, mut refused) = (Vec::new(), Vec::new());
        let r = publish(&RefuseOne, "ns", &refs, 2, &Stop::default(), |s| match s {
            Settled::Sent(i) => sent.push(i),
            Settled::Rejected(e) => refused.push(e.to_string()),
        })
        .await;
        assert_eq!(r.unwrap(), 4);
        sent.sort();
        assert_eq!(sent, [0, 2, 3, 4]);
        assert_eq!(
            refused,
            ["CloudWatch rejected batch 1 (Requests); not retried: invalid"]
        );
    }
}

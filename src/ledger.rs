//! The one publish loop and the ledger it records into. A [`Ledger`] is what has been published
//! for one unit of work, kept under a lease: an S3 object version's marker
//! ([`crate::idempotency::Claim`]) or a Kinesis shard's outbox ([`crate::kinesis`]). Every entry
//! point publishes through [`send_recorded`]: send batches (at most `concurrency` in flight),
//! record each settled one (accepted, or refused for good) in the ledger, renew the lease while
//! sending, and stop starting requests at a deadline, on a transient error or when the lease is
//! lost; a request that was started is always awaited and recorded, never dropped.

use crate::batch::Batch;
use crate::conditional::ConditionalStore;
use crate::idempotency::{Claim, MarkerError};
use crate::sink::{self, MetricSink, Settled, SinkError, Stop};
use std::future::Future;
use std::time::{Duration, Instant};

/// What has been published for one unit of work, held under a lease. See the module
/// documentation.
pub trait Ledger: Send {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Notes a settled batch; written with the next checkpoint.
    fn note(&mut self, settled: &Settled);
    /// Writes what was noted, renewing the lease.
    fn checkpoint(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// The lease's length.
    fn lease(&self) -> Duration;
    /// When the lease runs out unless renewed; publishing must stop by then.
    fn held_until(&self) -> Instant;
    /// The error of a lease that ran out unrenewed.
    fn expired(&self) -> Self::Error;
    /// Whether `e` says the unit was taken over (nothing more may be written).
    fn lost(e: &Self::Error) -> bool;
}

impl<S: ConditionalStore> Ledger for Claim<'_, S> {
    type Error = MarkerError;
    fn note(&mut self, settled: &Settled) {
        match settled {
            Settled::Sent(i) => self.add_sent(&[*i]),
            Settled::Rejected(SinkError::Rejected { batch, .. }) => self.add_rejected(*batch),
            Settled::Rejected(_) => {}
        }
    }
    fn checkpoint(&mut self) -> impl Future<Output = Result<(), MarkerError>> + Send {
        Claim::checkpoint(self)
    }
    fn lease(&self) -> Duration {
        Claim::lease(self)
    }
    fn held_until(&self) -> Instant {
        Claim::held_until(self)
    }
    fn expired(&self) -> MarkerError {
        Claim::expired(self)
    }
    fn lost(e: &MarkerError) -> bool {
        matches!(e, MarkerError::LostOwnership { .. })
    }
}

/// Why [`send_recorded`] stopped.
#[derive(Debug)]
pub enum SendFailure<E> {
    /// A transient PutMetricData failure, or [`SinkError::Stopped`] at the deadline.
    Sink(SinkError),
    /// The ledger could not be kept (lease lost or run out).
    Ledger(E),
}

/// Publishes `batches` while recording each settled batch in `ledger` and keeping its lease.
/// With `concurrency` 1, strictly one at a time: send a batch, record it, next (a crash can
/// double count at most the one request in flight). Above 1, whenever batches completed since
/// the last write and no write is in flight, one checkpoint records them all, and when no write
/// happened for a third of the lease one renews it. A
/// checkpoint that fails otherwise is only logged (the next one, or the caller's final write,
/// carries the same batches). When the lease is lost or runs out, no further request starts;
/// those in flight are awaited and noted. Returns the requests sent and the batches refused;
/// the caller writes the final state (done, or released with the progress noted).
pub async fn send_recorded<L: Ledger, M: MetricSink>(
    sink: &M,
    namespace: &str,
    batches: &[&Batch],
    concurrency: usize,
    ledger: &mut L,
    stop: &Stop,
) -> Result<(usize, Vec<SinkError>), SendFailure<L::Error>> {
    if concurrency <= 1 {
        return send_one_by_one(sink, namespace, batches, ledger, stop).await;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Settled>();
    let total = batches.len();
    let publish = sink::publish(sink, namespace, batches, concurrency, stop, move |s| {
        let _ = tx.send(s);
    });
    let renew_every = ledger.lease() / 3;
    let recorder = async {
        let mut recorded = 0;
        let mut refused = Vec::new();
        let mut failure: Option<L::Error> = None;
        let mut next_renewal = tokio::time::Instant::now() + renew_every;
        loop {
            let settled = if failure.is_some() {
                // Stopped: only note what the requests in flight settle.
                rx.recv().await
            } else {
                let deadline = tokio::time::Instant::from_std(ledger.held_until());
                tokio::select! {
                    s = rx.recv() => s,
                    () = tokio::time::sleep_until(next_renewal.min(deadline)) => {
                        next_renewal = tokio::time::Instant::now() + renew_every;
                        if let Err(e) = write(ledger, deadline).await {
                            stop.now();
                            failure = Some(e);
                        }
                        continue;
                    }
                }
            };
            let Some(first) = settled else {
                return match failure {
                    Some(e) => Err(e),
                    None => Ok(refused),
                };
            };
            let mut done = vec![first];
            while let Ok(s) = rx.try_recv() {
                done.push(s);
            }
            recorded += done.len();
            for s in done {
                ledger.note(&s);
                if let Settled::Rejected(e) = s {
                    refused.push(e);
                }
            }
            if failure.is_some() || recorded == total {
                continue; // the caller's final write records them
            }
            next_renewal = tokio::time::Instant::now() + renew_every;
            let deadline = tokio::time::Instant::from_std(ledger.held_until());
            if let Err(e) = write(ledger, deadline).await {
                stop.now();
                failure = Some(e);
            }
        }
    };
    let (published, recorded) = futures::join!(publish, recorder);
    let refused = recorded.map_err(SendFailure::Ledger)?;
    let sent = published.map_err(SendFailure::Sink)?;
    Ok((sent, refused))
}

/// [`send_recorded`] one batch at a time, each recorded before the next is sent.
async fn send_one_by_one<L: Ledger, M: MetricSink>(
    sink: &M,
    namespace: &str,
    batches: &[&Batch],
    ledger: &mut L,
    stop: &Stop,
) -> Result<(usize, Vec<SinkError>), SendFailure<L::Error>> {
    let (mut sent, mut refused) = (0, Vec::new());
    for (i, b) in batches.iter().enumerate() {
        if stop.stopped() {
            let unsent = batches.len() - i;
            return Err(SendFailure::Sink(SinkError::Stopped { unsent }));
        }
        let deadline = tokio::time::Instant::from_std(ledger.held_until());
        if tokio::time::Instant::now() >= deadline {
            return Err(SendFailure::Ledger(ledger.expired()));
        }
        let settled = match sink.put(namespace, b).await {
            Ok(()) => {
                sent += 1;
                Settled::Sent(b.index)
            }
            Err(e @ SinkError::Rejected { .. }) => Settled::Rejected(e),
            Err(e) => return Err(SendFailure::Sink(e)),
        };
        ledger.note(&settled);
        if let Settled::Rejected(e) = settled {
            refused.push(e);
        }
        if i + 1 < batches.len() {
            // The last one is recorded by the caller's final write.
            write(ledger, deadline).await.map_err(SendFailure::Ledger)?;
        }
    }
    Ok((sent, refused))
}

/// One checkpoint, bounded by the lease: an error only when the lease is lost or ran out.
async fn write<L: Ledger>(ledger: &mut L, deadline: tokio::time::Instant) -> Result<(), L::Error> {
    if tokio::time::Instant::now() >= deadline {
        return Err(ledger.expired());
    }
    match tokio::time::timeout_at(deadline, ledger.checkpoint()).await {
        Err(_) => Err(ledger.expired()),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if L::lost(&e) => Err(e),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "ledger checkpoint failed; carrying on");
            Ok(())
        }
    }
}

//! A log file's publish: its batches to a metric sink, exactly once under its marker (claim with
//! a lease, the one publish loop of [`crate::ledger`], finish) or every time without one. The S3
//! notification, SQS, EventBridge, Batch Operations and `cflogs` entry points call it; none
//! imports another's. Generic over the conditional store and the sink.

use crate::aggregate::MAX_AGE_MS;
use crate::batch::Batch;
use crate::conditional::ConditionalStore;
use crate::error::FileError;
use crate::idempotency::{
    self, Begin, Claim, Clock, FileVersion, Marker, MarkerError, MarkerLocation,
};
use crate::ledger::{SendFailure, send_recorded};
use crate::pipeline::ProcessedFile;
use crate::settings::Settings;
use crate::sink::{self, MetricSink, Settled, SinkError, Stop};
use futures::{Stream, StreamExt};
use std::future::Future;

/// Why one object failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Reading or parsing it failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// Publishing its datums failed.
    #[error("{file}: {source}")]
    Publish {
        file: String,
        #[source]
        source: SinkError,
    },
    /// The invocation's deadline came while it was being read (nothing of it was published).
    #[error("{file}: the invocation's deadline came while it was read; a retry reads it again")]
    Deadline { file: String },
    /// The exactly-once bookkeeping stopped it (busy elsewhere, marker unreadable or unwritable).
    #[error("{file}: {source}")]
    Marker {
        file: String,
        #[source]
        source: MarkerError,
    },
}

impl ObjectError {
    /// The object was overwritten after its event: an answer for that record, not a failure
    /// (no retry could read the version the event named).
    pub fn is_superseded(&self) -> bool {
        matches!(self, ObjectError::File(FileError::Superseded { .. }))
    }
}

/// What publishing one file did.
#[derive(Debug, Clone)]
pub struct Published {
    pub file: ProcessedFile,
    /// PutMetricData requests this attempt made.
    pub put_requests: usize,
    /// Nothing was sent: the file's marker says this version was published completely before.
    pub duplicate: bool,
    /// Batches an earlier attempt had sent, not sent again.
    pub already_sent: usize,
    /// Datums of a resumed file that had become older than CloudWatch's two weeks since the
    /// first attempt, dropped.
    pub expired_datums: usize,
    /// The marker object, when exactly-once publishing is on.
    pub marker: Option<String>,
    /// Batches CloudWatch refused for good (a non-retryable 400), each error naming the file,
    /// the batch and the datum: recorded, logged, never retried.
    pub rejected_batches: Vec<String>,
}

impl Published {
    /// A file published without a marker (or not at all, `put_requests` 0, in a dry run).
    pub fn unmarked(file: ProcessedFile, put_requests: usize) -> Self {
        Published {
            file,
            put_requests,
            duplicate: false,
            already_sent: 0,
            expired_datums: 0,
            marker: None,
            rejected_batches: Vec::new(),
        }
    }

    /// The line to tell the user about a skipped or resumed file, if it was either.
    pub fn notice(&self) -> Option<String> {
        let name = &self.file.report.file;
        if self.duplicate {
            Some(format!(
                "{name}: already published (marker {}), skipped",
                self.marker.as_deref().unwrap_or("")
            ))
        } else if self.already_sent > 0 {
            Some(format!(
                "{name}: resumed, {} of {} batches had been sent before",
                self.already_sent,
                self.file.batches.len()
            ))
        } else {
            None
        }
    }
}

/// `file: error` for each batch CloudWatch refused for good, logged as errors.
fn refusals(file: &str, refused: Vec<SinkError>) -> Vec<String> {
    refused
        .into_iter()
        .map(|e| {
            let line = format!("{file}: {e}");
            tracing::error!(file = %file, error = %e, "batch refused by CloudWatch; not retried");
            line
        })
        .collect()
}

/// Publishes every batch of a read file, without any marker: the path of `IDEMPOTENCY=off` and
/// of local files in `cflogs`. Returns the number of PutMetricData requests made and the
/// batches CloudWatch refused for good.
pub async fn publish_file<M: MetricSink>(
    sink: &M,
    settings: &Settings,
    file: &ProcessedFile,
) -> Result<(usize, Vec<String>), ObjectError> {
    let batches: Vec<_> = file.batches.iter().collect();
    let mut refused = Vec::new();
    let sent = sink::publish(
        sink,
        &settings.metrics.namespace,
        &batches,
        settings.put_concurrency,
        &Stop::default(),
        |s| {
            if let Settled::Rejected(e) = s {
                refused.push(e);
            }
        },
    )
    .await
    .map_err(|source| ObjectError::Publish {
        file: file.report.file.clone(),
        source,
    })?;
    Ok((sent, refusals(&file.report.file, refused)))
}

/// Runs one future per file, at most `FILE_CONCURRENCY` at a time, yielding results in input
/// order: shared by the Lambda's handler and `cflogs`.
pub fn in_order<F: Future>(
    settings: &Settings,
    files: impl IntoIterator<Item = F>,
) -> impl Stream<Item = F::Output> {
    futures::stream::iter(files).buffered(settings.file_concurrency.max(1))
}

/// Publishes one unit of work exactly once: its batches (`file`, computed at the window
/// [`crate::idempotency::window_for`] picked from `existing`), under the marker at `loc` for
/// `version`. Claims the unit with a lease, sends the batches no earlier attempt recorded
/// (datums that aged out of CloudWatch's two weeks since the first attempt dropped), records
/// each, and says done; a failure releases the claim for an immediate retry. The unit is
/// whatever a marker stands for: a log object version today, a batch of stream records as well.
#[allow(clippy::too_many_arguments)] // the unit's parts, each from the caller's own source
pub async fn publish_claimed<S, M>(
    store: &S,
    sink: &M,
    settings: &Settings,
    loc: MarkerLocation,
    version: FileVersion,
    existing: Option<(Marker, String)>,
    file: ProcessedFile,
    now_ms: i64,
    deadline: Option<std::time::Instant>,
) -> Result<Published, ObjectError>
where
    S: ConditionalStore,
    M: MetricSink,
{
    let namespace = &settings.metrics.namespace;
    let name = file.report.file.clone();
    let publish_error = |source| ObjectError::Publish {
        file: name.clone(),
        source,
    };
    let marker_error = |source| ObjectError::Marker {
        file: name.clone(),
        source,
    };
    let marker_url = loc.url();
    let lease_ms =
        i64::try_from(settings.marker_lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let begin = Claim::begin(
        store,
        loc,
        idempotency::owner_token(),
        &version,
        existing,
        // The lease runs on the wall clock, read at each write: `now_ms` is only the time the
        // publishable window is evaluated at (a backfill's start, a pinned clock).
        Clock::system(),
        lease_ms,
    )
    .await
    .map_err(marker_error)?;
    let (mut claim, already_sent, takeover) = match begin {
        Begin::Duplicate {
            marker,
            same_config,
        } => {
            tracing::info!(
                bucket = %version.bucket,
                key = %version.key,
                etag = %version.etag,
                marker = %marker_url,
                finished_by = marker.owner.as_deref().unwrap_or(""),
                same_config,
                "duplicate: this version was published before; skipped"
            );
            return Ok(Published {
                file,
                put_requests: 0,
                duplicate: true,
                already_sent: marker.sent.len(),
                expired_datums: 0,
                marker: Some(marker_url),
                rejected_batches: Vec::new(),
            });
        }
        Begin::Publish {
            claim,
            already_sent,
            takeover,
        } => (claim, already_sent, takeover),
    };
    if !already_sent.is_empty() || takeover.is_some() {
        tracing::info!(
            bucket = %version.bucket,
            key = %version.key,
            marker = %marker_url,
            already_sent = already_sent.len(),
            batches = version.batches,
            took_over_from = takeover.as_deref().unwrap_or(""),
            "resuming a partly published file"
        );
    }

    // A resumed file is read as its first attempt read it; datums that have aged out of
    // CloudWatch's two weeks since then would fail the request: they are dropped.
    let oldest = now_ms - MAX_AGE_MS;
    let todo: Vec<&Batch> = file
        .batches
        .iter()
        .filter(|b| !already_sent.contains(&b.index))
        .collect();
    let expired_datums: usize = todo
        .iter()
        .map(|b| b.datums.iter().filter(|d| d.timestamp_ms < oldest).count())
        .sum();
    let trimmed: Vec<Batch>;
    let todo: Vec<&Batch> = if expired_datums == 0 {
        todo
    } else {
        trimmed = todo
            .iter()
            .map(|b| Batch {
                index: b.index,
                datums: b
                    .datums
                    .iter()
                    .filter(|d| d.timestamp_ms >= oldest)
                    .cloned()
                    .collect(),
            })
            .collect();
        let emptied: Vec<usize> = trimmed
            .iter()
            .filter(|b| b.datums.is_empty())
            .map(|b| b.index)
            .collect();
        claim.add_sent(&emptied);
        trimmed.iter().filter(|b| !b.datums.is_empty()).collect()
    };

    let stop = Stop::at(deadline);
    let concurrency = settings.put_concurrency;
    let result = send_recorded(sink, namespace, &todo, concurrency, &mut claim, &stop).await;
    let (put_requests, refused) = match result {
        Ok(r) => r,
        Err(failure) => {
            // Whatever was settled before the stop is recorded with the release.
            if !matches!(
                failure,
                SendFailure::Ledger(MarkerError::LostOwnership { .. })
            ) && let Err(re) = claim.release().await
            {
                tracing::warn!(error = %re, "could not release the marker after a failure");
            }
            return Err(match failure {
                SendFailure::Sink(e) => publish_error(e),
                SendFailure::Ledger(e) => marker_error(e),
            });
        }
    };
    if let Err(e) = claim.finish().await {
        if !matches!(e, MarkerError::LostOwnership { .. })
            && let Err(re) = claim.release().await
        {
            tracing::warn!(error = %re, "could not release the marker after a failure");
        }
        return Err(marker_error(e));
    }
    Ok(Published {
        put_requests,
        duplicate: false,
        already_sent: already_sent.len(),
        expired_datums,
        marker: Some(marker_url),
        rejected_batches: refusals(&file.report.file, refused),
        file,
    })
}

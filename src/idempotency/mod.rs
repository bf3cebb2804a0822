//! Exactly-once publishing per log file version, with one S3 marker object per file.
//!
//! CloudWatch has no idempotency of its own, and a log file can reach the function more than
//! once (S3 notifications are at least once, Lambda retries failed asynchronous invocations, SQS
//! redelivers). Before publishing, the function claims the file with a conditional write
//! (`If-None-Match: *`, or `If-Match` on the marker's own ETag when one exists) of a marker
//! object, `<MARKER_PREFIX><key>.json` in the log's bucket (or in `MARKER_BUCKET`, then
//! `<MARKER_PREFIX><log bucket>/<key>.json`). As batches are accepted by CloudWatch their numbers
//! are recorded in the marker (again `If-Match`), and at the end it says `done`.
//!
//! # The marker
//!
//! ```json
//! {"version": 1, "bucket": "logs", "key": "cf/E2Q4.2026-11-23-08.abcd.gz",
//!  "etag": "9b2cf535f27731c974343645a3985328", "fingerprint": "6f1c0e5a4b3d2a19",
//!  "digest": "0c4d5e6f7a8b9c0d", "window_ms": 1795420800000, "batches": 12,
//!  "sent": [0, 1, 2, 3], "state": "in_progress", "owner": "1c-5e0f3b2a9d1c4e7f-0",
//!  "attempts": 1, "started_ms": 1795420801234, "updated_ms": 1795420802345}
//! ```
//!
//! `etag` is the ETag of the log object as it was read; `fingerprint` the configuration that
//! shapes datums ([`crate::config::MetricsConfig::fingerprint`]); `digest` a hash of the batches
//! themselves; `window_ms` the time the two-week window was evaluated at, so that a retry
//! computes the very same batches; `sent` the batch numbers CloudWatch accepted.
//!
//! # States
//!
//! - no marker → claim (`If-None-Match: *`), publish every batch;
//! - `done`, same ETag → **duplicate**: skipped;
//! - `in_progress` by another invocation whose lease has not run out (`lease_until_ms`, plus
//!   a margin for clock skew) → **busy**: this delivery fails and is retried later;
//! - `failed` (the last attempt failed and said so), or `in_progress` with its lease run out
//!   (its invocation died) → **resume** (taking it over): publish only the batches not in `sent`, when
//!   fingerprint and digest agree; when they do not and nothing was sent, start over; when they do
//!   not and something was sent, refuse (it cannot be resumed exactly);
//! - a marker of another ETag (a new version of the key) → start over for the new version
//!   (unless its marker is busy).
//!
//! Every write is conditional, so two invocations never both hold a claim: the loser of a race
//! re-reads the marker and decides again.
//!
//! # The lease
//!
//! A claim is a lease of `MARKER_LEASE_SECONDS` (default 45 s): every marker write stamps
//! `updated_ms` and `lease_until_ms` with the wall clock at that write (never a time fixed
//! earlier, such as the start of a long backfill), and the holder renews it with a checkpoint at
//! least every third of the lease while it publishes, even when no batch completed. Another
//! invocation may take the file over once `lease_until_ms` plus a skew margin (a quarter of the
//! lease, at most 10 s) has passed on its own clock. The holder stops publishing by itself when
//! it could not renew within the lease, so a takeover never runs beside a live holder unless
//! the clocks disagree by more than the margin. With the defaults a crashed holder's file can be
//! taken over 55 s after its last renewal: Lambda's first retry of a failed asynchronous
//! invocation (about a minute later) resumes it.
//!
//! # Update cadence
//!
//! A checkpoint is written whenever batches have completed since the last write and no write is
//! in flight: at most one S3 PUT per PutMetricData request, usually fewer, and a file of one
//! batch costs two PUTs (claim and done). What a crash can double count is what CloudWatch
//! accepted but no checkpoint recorded yet: the requests in flight and those that completed
//! during the last marker write.

pub mod claim;
pub mod marker;
pub mod store;

pub use claim::{Begin, Claim, Clock, owner_token};
pub use marker::{
    Decision, FileVersion, MARKER_VERSION, MAX_SKEW_MS, Marker, State, decide, digest, families,
    family, normalize_etag, published_families, skew_margin_ms, window_for,
};
pub use store::{MarkerError, MarkerLocation, read_marker};

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

use crate::batch::Batch;
use crate::datum::DatumValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::time::Instant;

/// Version of the marker document.
pub const MARKER_VERSION: u32 = 1;
/// Default lease of a claim (env `MARKER_LEASE_SECONDS`). With the skew margin a crashed
/// holder's lease has run out 55 s after its last renewal, so Lambda's first retry of a failed
/// asynchronous invocation (about a minute later) takes the file over.
pub const DEFAULT_LEASE_SECONDS: u64 = 45;
/// Most skew tolerated between the clocks of two machines holding and taking over a lease.
pub const MAX_SKEW_MS: i64 = 10_000;
/// Longest S3 key.
const MAX_KEY_BYTES: usize = 1024;
/// Conflicting writes tolerated while claiming before giving up for this attempt.
const MAX_CLAIM_ROUNDS: usize = 5;

/// Where a marker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Claimed by `owner`, which is publishing.
    InProgress,
    /// The last attempt failed (and said so): anyone may resume at once.
    Failed,
    /// Every batch was accepted.
    Done,
}

/// The marker document of one log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub version: u32,
    pub bucket: String,
    pub key: String,
    /// ETag of the log object that was read (without quotes).
    pub etag: String,
    /// Configuration fingerprint.
    pub fingerprint: String,
    /// Hash of the batches.
    pub digest: String,
    /// The time the publishable window was evaluated at.
    pub window_ms: i64,
    /// Number of batches of the file.
    pub batches: usize,
    /// Batch numbers CloudWatch accepted, ascending.
    pub sent: Vec<usize>,
    /// Batch numbers CloudWatch refused for good (a non-retryable 400): never sent again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<usize>,
    pub state: State,
    /// The invocation that holds (or last held) the claim.
    #[serde(default)]
    pub owner: Option<String>,
    /// Claims so far (first claim, resumes, takeovers).
    #[serde(default)]
    pub attempts: u32,
    pub started_ms: i64,
    pub updated_ms: i64,
    /// Until when the holder's lease runs (wall clock, ms); markers written before leases have
    /// none and are read as `updated_ms` plus the configured lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until_ms: Option<i64>,
}

impl Marker {
    /// Parses a marker; anything else at a marker key is an error.
    pub fn from_json(bytes: &[u8]) -> Result<Marker, String> {
        let m: Marker = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.version != MARKER_VERSION {
            return Err(format!(
                "version {} (this function writes {MARKER_VERSION})",
                m.version
            ));
        }
        if m.sent.iter().chain(&m.rejected).any(|&i| i >= m.batches) {
            return Err(format!("sent names a batch beyond {}", m.batches));
        }
        Ok(m)
    }

    /// The document as written.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a marker serialises")
    }
}

/// The log file version about to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    pub bucket: String,
    pub key: String,
    /// ETag of the object read, without quotes.
    pub etag: String,
    pub fingerprint: String,
    pub digest: String,
    pub batches: usize,
    pub window_ms: i64,
}

/// What to do with a file, given its marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing usable recorded: claim the file and publish every batch.
    Start,
    /// Published completely before: skip. `same_config` is false when the configuration or
    /// content changed since (the file is still not published again).
    Duplicate { same_config: bool },
    /// Publish the batches not in `sent`; `takeover` names the owner whose lease ran out, if
    /// any.
    Resume {
        sent: BTreeSet<usize>,
        takeover: Option<String>,
    },
    /// Another invocation is publishing this key now; its lease runs for `left_ms` more (skew
    /// margin included).
    Busy { owner: String, left_ms: i64 },
    /// The marker was resumable with another window than the one the file was read with (it
    /// changed while the file was read): retry.
    Changed,
    /// Part of the file was published with other batches (another configuration or content):
    /// it cannot be resumed exactly.
    Incompatible { sent: usize, batches: usize },
}

/// ETags compare without their quotes.
pub fn normalize_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_owned()
}

/// The margin for clock skew added to a lease before another invocation takes it over: a
/// quarter of the lease, at most [`MAX_SKEW_MS`].
pub fn skew_margin_ms(lease_ms: i64) -> i64 {
    (lease_ms / 4).min(MAX_SKEW_MS)
}

/// Decides what to do with file version `v` given its marker, as invocation `me` at `now_ms`
/// (the wall clock now) with leases of `lease_ms`. Pure: the whole state machine, testable
/// without S3.
pub fn decide(
    existing: Option<&Marker>,
    v: &FileVersion,
    me: &str,
    now_ms: i64,
    lease_ms: i64,
) -> Decision {
    let Some(m) = existing else {
        return Decision::Start;
    };
    let lease_until = m
        .lease_until_ms
        .unwrap_or_else(|| m.updated_ms.saturating_add(lease_ms));
    let left_ms = lease_until.saturating_add(skew_margin_ms(lease_ms)) - now_ms;
    let held_by_other = m.state == State::InProgress && m.owner.as_deref() != Some(me);
    let busy = held_by_other && left_ms >= 0;
    let busy_decision = || Decision::Busy {
        owner: m.owner.clone().unwrap_or_default(),
        left_ms,
    };
    if m.etag != v.etag {
        // Another version of the key: wait for a live owner, else start over for this one.
        return if busy {
            busy_decision()
        } else {
            Decision::Start
        };
    }
    if m.state == State::Done {
        return Decision::Duplicate {
            same_config: m.fingerprint == v.fingerprint && m.digest == v.digest,
        };
    }
    if busy {
        return busy_decision();
    }
    if m.fingerprint == v.fingerprint && m.digest == v.digest && m.batches == v.batches {
        return Decision::Resume {
            sent: m.sent.iter().chain(&m.rejected).copied().collect(),
            takeover: held_by_other.then(|| m.owner.clone().unwrap_or_default()),
        };
    }
    if m.sent.is_empty() {
        Decision::Start
    } else if m.fingerprint == v.fingerprint && m.window_ms != v.window_ms {
        Decision::Changed
    } else {
        Decision::Incompatible {
            sent: m.sent.len(),
            batches: m.batches,
        }
    }
}

/// The time to evaluate the publishable window at for a file of ETag `etag`: the marker's, when
/// it is a partly published attempt at the same version and configuration (so that the retry
/// computes the same batches), else `now_ms`.
pub fn window_for(existing: Option<&Marker>, etag: &str, fingerprint: &str, now_ms: i64) -> i64 {
    match existing {
        Some(m)
            if m.etag == etag
                && m.state != State::Done
                && m.fingerprint == fingerprint
                && !m.sent.is_empty() =>
        {
            m.window_ms
        }
        _ => now_ms,
    }
}

/// FNV-1a, 64 bit: stable across releases and platforms.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn u64(&mut self, n: u64) {
        self.bytes(&n.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

/// A hash of the batches (boundaries, datums, values): a resumed file must have the same.
pub fn digest(batches: &[Batch]) -> String {
    let mut h = Fnv::new();
    h.u64(batches.len() as u64);
    for b in batches {
        h.u64(b.index as u64);
        h.u64(b.datums.len() as u64);
        for d in &b.datums {
            h.str(d.metric.name());
            h.u64(d.dimensions.len() as u64);
            for (k, v) in d.dimensions.iter() {
                h.str(k.name());
                h.str(v);
            }
            h.u64(d.timestamp_ms as u64);
            match &d.value {
                DatumValue::Value(v) => {
                    h.u64(0);
                    h.u64(*v);
                }
                DatumValue::Distribution { values, counts } => {
                    h.u64(1);
                    h.u64(values.len() as u64);
                    values.iter().chain(counts).for_each(|&x| h.u64(x));
                }
            }
        }
    }
    format!("{:016x}", h.0)
}

/// Where the marker of one log object lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerLocation {
    pub bucket: String,
    pub key: String,
}

impl MarkerLocation {
    /// The marker of `log_bucket`/`key`: `<prefix><key>.json` in the log's bucket, or
    /// `<prefix><log bucket>/<key>.json` in another `marker_bucket`. Keys too long for S3 become
    /// `<prefix>_long/<hash>.json` (the marker names the key it is for, and is checked).
    pub fn new(marker_bucket: Option<&str>, prefix: &str, log_bucket: &str, key: &str) -> Self {
        let bucket = marker_bucket.unwrap_or(log_bucket);
        let mut k = if bucket == log_bucket {
            format!("{prefix}{key}.json")
        } else {
            format!("{prefix}{log_bucket}/{key}.json")
        };
        if k.len() > MAX_KEY_BYTES {
            let mut h = Fnv::new();
            h.str(log_bucket);
            h.str(key);
            let mut h2 = Fnv::new();
            h2.str(key);
            h2.str(log_bucket);
            k = format!("{prefix}_long/{:016x}{:016x}.json", h.0, h2.0);
        }
        MarkerLocation {
            bucket: bucket.to_owned(),
            key: k,
        }
    }

    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A unique name for one attempt at one file, recorded as the marker's owner.
pub fn owner_token() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // RandomState is seeded randomly per process.
    let random = std::collections::hash_map::RandomState::new().hash_one((nanos, n));
    format!("{:x}-{random:016x}-{n}", std::process::id())
}

/// A condition on a marker write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition<'a> {
    /// `If-None-Match: *`: only if there is no marker.
    Absent,
    /// `If-Match: <etag>`: only if the marker is still the one read or written last.
    Matches(&'a str),
}

/// A marker write that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The condition did not hold (412, or 409 for a concurrent conditional write, or 404 for
    /// `If-Match` on a marker that is gone).
    #[error("the marker changed (precondition failed)")]
    Conflict,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads and conditionally writes marker objects. Implemented for `aws_sdk_s3::Client`; tests
/// may use their own.
pub trait MarkerStore: Send + Sync {
    /// The marker's bytes and ETag; `None` when there is none.
    fn get_marker(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = io::Result<Option<(Vec<u8>, String)>>> + Send;

    /// Writes the marker if `condition` holds; returns its new ETag.
    fn put_marker(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> impl Future<Output = Result<String, PutError>> + Send;
}

impl MarkerStore for aws_sdk_s3::Client {
    async fn get_marker(&self, bucket: &str, key: &str) -> io::Result<Option<(Vec<u8>, String)>> {
        match self.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag.clone().unwrap_or_default();
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Ok(Some((body.into_bytes().to_vec(), etag)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(io::Error::other(
                aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            )),
        }
    }

    async fn put_marker(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<String, PutError> {
        let req = self
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(aws_sdk_s3::primitives::ByteStream::from(body));
        let req = match condition {
            Condition::Absent => req.if_none_match("*"),
            Condition::Matches(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(out) => out.e_tag.ok_or_else(|| {
                PutError::Io(io::Error::other("PutObject answered without an ETag"))
            }),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                match (status, condition) {
                    (Some(412 | 409), _) | (Some(404), Condition::Matches(_)) => {
                        Err(PutError::Conflict)
                    }
                    _ => Err(PutError::Io(io::Error::other(
                        aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                    ))),
                }
            }
        }
    }
}

/// Why exactly-once bookkeeping stopped a file.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("marker {marker}: {source}")]
    Io {
        marker: String,
        #[source]
        source: io::Error,
    },
    #[error("marker {marker} is unreadable ({detail}); delete it to publish the file again")]
    Unreadable { marker: String, detail: String },
    #[error(
        "being published by another invocation (marker {marker}, owner {owner}, its lease runs {left_s} s more); a later retry skips it once done, or takes it over once the lease has run out"
    )]
    Busy {
        marker: String,
        owner: String,
        left_s: i64,
    },
    #[error("marker {marker} changed while the file was read; retry")]
    Changed { marker: String },
    #[error(
        "cannot resume: {sent} of {batches} batches were published with another configuration or content (marker {marker}); delete the marker to publish the whole file again"
    )]
    Incompatible {
        marker: String,
        sent: usize,
        batches: usize,
    },
    #[error("marker {marker} was taken over by {owner} (this attempt was presumed dead): stopped")]
    LostOwnership { marker: String, owner: String },
    #[error("marker {marker} kept changing under concurrent writers; retry")]
    Contended { marker: String },
    #[error(
        "marker {marker}: the lease could not be renewed within {lease_s} s; stopped publishing so that a takeover never runs beside this attempt"
    )]
    LeaseExpired { marker: String, lease_s: i64 },
}

/// Whether a marker read back after a write whose answer was lost (a conflict on the SDK's retry
/// of it, or an I/O error) is still this attempt's (`me`) for this file version.
fn still_ours(m: &Marker, me: &str, file_etag: &str) -> bool {
    m.owner.as_deref() == Some(me) && m.etag == file_etag
}

/// Reads a marker; `None` when there is none.
pub async fn read_marker<S: MarkerStore>(
    store: &S,
    loc: &MarkerLocation,
) -> Result<Option<(Marker, String)>, MarkerError> {
    let Some((bytes, etag)) = store
        .get_marker(&loc.bucket, &loc.key)
        .await
        .map_err(|source| MarkerError::Io {
            marker: loc.url(),
            source,
        })?
    else {
        return Ok(None);
    };
    let m = Marker::from_json(&bytes).map_err(|detail| MarkerError::Unreadable {
        marker: loc.url(),
        detail,
    })?;
    Ok(Some((m, etag)))
}

/// The wall clock of claims and leases, read anew at every claim and marker write: milliseconds
/// since the epoch, from `now_ms` at creation advanced by a monotonic clock. The handler makes
/// it with [`Clock::system`]; never from a time fixed earlier (a backfill's start, a pinned
/// `--now`), which would stamp late claims as already run out.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_ms: i64,
    started: Instant,
}

impl Clock {
    /// A clock reading `now_ms` now (tests move it with this).
    pub fn new(now_ms: i64) -> Self {
        Clock {
            base_ms: now_ms,
            started: Instant::now(),
        }
    }
    /// The system's wall clock.
    pub fn system() -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Clock::new(now_ms)
    }
    pub fn now_ms(&self) -> i64 {
        self.base_ms + self.started.elapsed().as_millis() as i64
    }
}

/// The outcome of [`Claim::begin`].
#[allow(clippy::large_enum_variant)] // one per file, moved once
pub enum Begin<'s, S> {
    /// Published completely before.
    Duplicate { marker: Marker, same_config: bool },
    /// This invocation holds the claim: publish every batch not in `already_sent`.
    Publish {
        claim: Claim<'s, S>,
        already_sent: BTreeSet<usize>,
        takeover: Option<String>,
    },
}

/// A held claim on one file: records progress and renews its lease, then says done (or
/// failed).
pub struct Claim<'s, S> {
    store: &'s S,
    loc: MarkerLocation,
    me: String,
    doc: Marker,
    sent: BTreeSet<usize>,
    rejected: BTreeSet<usize>,
    /// ETag of the marker as this claim last wrote it.
    etag: String,
    clock: Clock,
    lease_ms: i64,
    /// When the last write that landed was started: the lease runs from there.
    renewed_at: Instant,
}

impl<'s, S: MarkerStore> Claim<'s, S> {
    /// Decides with the marker read before (`existing`) and claims the file if it is to be
    /// published, with a lease of `lease_ms` from the moment of the claim; re-reads and decides
    /// again when a conditional write loses a race.
    pub async fn begin(
        store: &'s S,
        loc: MarkerLocation,
        me: String,
        v: &FileVersion,
        mut existing: Option<(Marker, String)>,
        clock: Clock,
        lease_ms: i64,
    ) -> Result<Begin<'s, S>, MarkerError> {
        let marker = loc.url();
        for _ in 0..MAX_CLAIM_ROUNDS {
            let now = clock.now_ms();
            let renewed_at = Instant::now();
            let current = existing.as_ref().map(|(m, _)| m);
            if let Some(m) = current
                && (m.bucket != v.bucket || m.key != v.key)
            {
                return Err(MarkerError::Unreadable {
                    marker,
                    detail: format!("it is the marker of s3://{}/{}", m.bucket, m.key),
                });
            }
            let (doc, takeover) = match decide(current, v, &me, now, lease_ms) {
                Decision::Duplicate { same_config } => {
                    let (m, _) = existing.expect("a duplicate has a marker");
                    return Ok(Begin::Duplicate {
                        marker: m,
                        same_config,
                    });
                }
                Decision::Busy { owner, left_ms } => {
                    return Err(MarkerError::Busy {
                        marker,
                        owner,
                        left_s: (left_ms + 999) / 1000,
                    });
                }
                Decision::Changed => return Err(MarkerError::Changed { marker }),
                Decision::Incompatible { sent, batches } => {
                    return Err(MarkerError::Incompatible {
                        marker,
                        sent,
                        batches,
                    });
                }
                Decision::Start => {
                    let attempts = current
                        .filter(|m| m.etag == v.etag)
                        .map_or(0, |m| m.attempts);
                    let doc = Marker {
                        version: MARKER_VERSION,
                        bucket: v.bucket.clone(),
                        key: v.key.clone(),
                        etag: v.etag.clone(),
                        fingerprint: v.fingerprint.clone(),
                        digest: v.digest.clone(),
                        window_ms: v.window_ms,
                        batches: v.batches,
                        sent: Vec::new(),
                        rejected: Vec::new(),
                        state: State::InProgress,
                        owner: Some(me.clone()),
                        attempts: attempts + 1,
                        started_ms: now,
                        updated_ms: now,
                        lease_until_ms: Some(now.saturating_add(lease_ms)),
                    };
                    (doc, None)
                }
                // The batches sent are the marker's own (`doc.sent`).
                Decision::Resume { takeover, .. } => {
                    let mut doc = current.expect("a resume has a marker").clone();
                    doc.state = State::InProgress;
                    doc.attempts += u32::from(doc.owner.as_deref() != Some(me.as_str()));
                    doc.owner = Some(me.clone());
                    doc.window_ms = v.window_ms;
                    doc.updated_ms = now;
                    doc.lease_until_ms = Some(now.saturating_add(lease_ms));
                    (doc, takeover)
                }
            };
            let condition = match &existing {
                None => Condition::Absent,
                Some((_, etag)) => Condition::Matches(etag),
            };
            let landed = match store
                .put_marker(&loc.bucket, &loc.key, doc.to_json(), condition)
                .await
            {
                Ok(etag) => (doc, etag),
                // Lost a race (or our own write landed and only its answer was lost): look again.
                Err(PutError::Conflict) => {
                    existing = read_marker(store, &loc).await?;
                    continue;
                }
                // The write may have landed with its answer lost and the SDK's retries failing
                // after it: if the marker now names this attempt, the claim is ours. Giving up
                // instead would leave the file "busy" for every retry until it went stale.
                Err(PutError::Io(source)) => match read_marker(store, &loc).await {
                    Ok(Some(ours)) if still_ours(&ours.0, &me, &v.etag) => ours,
                    _ => return Err(MarkerError::Io { marker, source }),
                },
            };
            let (doc, etag) = landed;
            let sent: BTreeSet<usize> = doc.sent.iter().copied().collect();
            let rejected: BTreeSet<usize> = doc.rejected.iter().copied().collect();
            return Ok(Begin::Publish {
                claim: Claim {
                    store,
                    loc,
                    me,
                    doc,
                    sent: sent.clone(),
                    rejected: rejected.clone(),
                    etag,
                    clock,
                    lease_ms,
                    renewed_at,
                },
                already_sent: sent.union(&rejected).copied().collect(),
                takeover,
            });
        }
        Err(MarkerError::Contended { marker })
    }

    /// Where the marker is.
    pub fn location(&self) -> &MarkerLocation {
        &self.loc
    }

    /// The owner token of this claim.
    pub fn owner(&self) -> &str {
        &self.me
    }

    /// Batch numbers recorded as sent (including those of earlier attempts).
    pub fn sent(&self) -> &BTreeSet<usize> {
        &self.sent
    }

    /// Notes batches as accepted (written with the next checkpoint).
    pub fn add_sent(&mut self, batches: &[usize]) {
        self.sent.extend(batches.iter().copied());
    }

    /// Notes a batch CloudWatch refused for good (written with the next checkpoint): no retry
    /// sends it again.
    pub fn add_rejected(&mut self, batch: usize) {
        self.rejected.insert(batch);
    }

    /// The lease's length.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.lease_ms).unwrap_or(0))
    }

    /// When the lease this attempt holds runs out on its own (monotonic) clock, unless renewed:
    /// the start of the last write that landed plus the lease. Publishing must stop by then.
    pub fn held_until(&self) -> Instant {
        self.renewed_at + self.lease()
    }

    /// Writes the progress so far, renewing the lease.
    pub async fn checkpoint(&mut self) -> Result<(), MarkerError> {
        self.write(State::InProgress).await
    }

    /// The error of a lease that ran out before it could be renewed.
    pub fn expired(&self) -> MarkerError {
        MarkerError::LeaseExpired {
            marker: self.loc.url(),
            lease_s: self.lease_ms / 1000,
        }
    }

    /// Marks the file done.
    pub async fn finish(&mut self) -> Result<(), MarkerError> {
        self.write(State::Done).await
    }

    /// Gives the claim up after a failure, with the progress so far, so that a retry resumes at
    /// once instead of waiting for the claim to go stale.
    pub async fn release(&mut self) -> Result<(), MarkerError> {
        self.write(State::Failed).await
    }

    /// The marker as last written (or about to be).
    pub fn marker(&self) -> &Marker {
        &self.doc
    }

    async fn write(&mut self, state: State) -> Result<(), MarkerError> {
        let marker = self.loc.url();
        self.doc.state = state;
        self.doc.sent = self.sent.iter().copied().collect();
        self.doc.rejected = self.rejected.iter().copied().collect();
        for _ in 0..3 {
            // Stamped at each write: the lease runs from now.
            let started = Instant::now();
            let now = self.clock.now_ms();
            self.doc.updated_ms = now;
            self.doc.lease_until_ms = Some(now.saturating_add(self.lease_ms));
            match self
                .store
                .put_marker(
                    &self.loc.bucket,
                    &self.loc.key,
                    self.doc.to_json(),
                    Condition::Matches(&self.etag),
                )
                .await
            {
                Ok(etag) => {
                    self.etag = etag;
                    self.renewed_at = started;
                    return Ok(());
                }
                Err(PutError::Io(source)) => return Err(MarkerError::Io { marker, source }),
                Err(PutError::Conflict) => match read_marker(self.store, &self.loc).await? {
                    // Our previous write landed but its answer was lost (the SDK's retry then
                    // failed the condition): it is still ours.
                    Some((m, etag)) if still_ours(&m, &self.me, &self.doc.etag) => {
                        self.sent.extend(m.sent.iter().copied());
                        self.rejected.extend(m.rejected.iter().copied());
                        self.doc.sent = self.sent.iter().copied().collect();
                        self.doc.rejected = self.rejected.iter().copied().collect();
                        self.etag = etag;
                    }
                    other => {
                        return Err(MarkerError::LostOwnership {
                            marker,
                            owner: other
                                .and_then(|(m, _)| m.owner)
                                .unwrap_or_else(|| "(deleted)".to_owned()),
                        });
                    }
                },
            }
        }
        Err(MarkerError::Contended { marker })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Metric;
    use crate::config::DimensionKey;
    use crate::datum::Datum;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// The lease of these tests; its skew margin is 10 s.
    const LEASE: i64 = 40_000;
    const SKEW: i64 = 10_000;

    fn version() -> FileVersion {
        FileVersion {
            bucket: "logs".into(),
            key: "cf/E2Q4ABCDEFGH.2026-11-23-08.abcd.gz".into(),
            etag: "e1".into(),
            fingerprint: "f1".into(),
            digest: "d1".into(),
            batches: 4,
            window_ms: 1_000,
        }
    }

    fn marker(state: State, sent: &[usize], owner: &str, updated_ms: i64) -> Marker {
        let v = version();
        Marker {
            version: MARKER_VERSION,
            bucket: v.bucket,
            key: v.key,
            etag: v.etag,
            fingerprint: v.fingerprint,
            digest: v.digest,
            window_ms: v.window_ms,
            batches: v.batches,
            sent: sent.to_vec(),
            rejected: Vec::new(),
            state,
            owner: Some(owner.into()),
            attempts: 1,
            started_ms: 0,
            updated_ms,
            lease_until_ms: Some(updated_ms + LEASE),
        }
    }

    #[test]
    fn no_marker_starts() {
        assert_eq!(decide(None, &version(), "me", 0, LEASE), Decision::Start);
    }

    #[test]
    fn done_is_a_duplicate_even_with_another_config() {
        let m = marker(State::Done, &[0, 1, 2, 3], "a", 0);
        assert_eq!(
            decide(Some(&m), &version(), "me", 10, LEASE),
            Decision::Duplicate { same_config: true }
        );
        let v = FileVersion {
            fingerprint: "f2".into(),
            ..version()
        };
        assert_eq!(
            decide(Some(&m), &v, "me", 10, LEASE),
            Decision::Duplicate { same_config: false }
        );
    }

    #[test]
    fn live_lease_is_busy_run_out_lease_is_taken_over() {
        assert_eq!(skew_margin_ms(LEASE), SKEW);
        assert_eq!(skew_margin_ms(2_000), 500);
        assert_eq!(skew_margin_ms(3_600_000), MAX_SKEW_MS);
        let m = marker(State::InProgress, &[0, 1], "a", 1_000);
        assert_eq!(
            decide(Some(&m), &version(), "me", 1_000 + LEASE + SKEW, LEASE),
            Decision::Busy {
                owner: "a".into(),
                left_ms: 0
            }
        );
        // The lease the marker states counts, not its age: a holder that renewed for longer.
        let long = Marker {
            lease_until_ms: Some(1_000 + 5 * LEASE),
            ..m.clone()
        };
        assert!(matches!(
            decide(Some(&long), &version(), "me", 1_001 + LEASE + SKEW, LEASE),
            Decision::Busy { .. }
        ));
        // A marker written before leases: its update time plus the configured lease.
        let old = Marker {
            lease_until_ms: None,
            ..m.clone()
        };
        assert!(matches!(
            decide(Some(&old), &version(), "me", 1_000 + LEASE, LEASE),
            Decision::Busy { .. }
        ));
        assert!(matches!(
            decide(Some(&old), &version(), "me", 1_001 + LEASE + SKEW, LEASE),
            Decision::Resume { .. }
        ));
        assert_eq!(
            decide(Some(&m), &version(), "me", 1_001 + LEASE + SKEW, LEASE),
            Decision::Resume {
                sent: [0, 1].into_iter().collect(),
                takeover: Some("a".into())
            }
        );
        // Our own claim (a write whose answer was lost) is ours to continue.
        assert_eq!(
            decide(Some(&m), &version(), "a", 1_000, LEASE),
            Decision::Resume {
                sent: [0, 1].into_iter().collect(),
                takeover: None
            }
        );
    }

    #[test]
    fn failed_attempt_resumes_at_once() {
        let m = marker(State::Failed, &[1, 3], "a", 5);
        assert_eq!(
            decide(Some(&m), &version(), "me", 6, LEASE),
            Decision::Resume {
                sent: [1, 3].into_iter().collect(),
                takeover: None
            }
        );
    }

    #[test]
    fn new_etag_starts_over_unless_busy() {
        let v = FileVersion {
            etag: "e2".into(),
            ..version()
        };
        for state in [State::Done, State::Failed] {
            let m = marker(state, &[0], "a", 0);
            assert_eq!(decide(Some(&m), &v, "me", 1, LEASE), Decision::Start);
        }
        let m = marker(State::InProgress, &[0], "a", 0);
        assert!(matches!(
            decide(Some(&m), &v, "me", 1, LEASE),
            Decision::Busy { .. }
        ));
        assert_eq!(
            decide(Some(&m), &v, "me", LEASE + SKEW + 1, LEASE),
            Decision::Start
        );
    }

    #[test]
    fn other_batches_restart_only_when_nothing_was_sent() {
        let v = FileVersion {
            digest: "d2".into(),
            ..version()
        };
        let m = marker(State::Failed, &[], "a", 0);
        assert_eq!(decide(Some(&m), &v, "me", 1, LEASE), Decision::Start);
        let m = marker(State::Failed, &[0], "a", 0);
        assert_eq!(
            decide(Some(&m), &v, "me", 1, LEASE),
            Decision::Incompatible {
                sent: 1,
                batches: 4
            }
        );
        let v = FileVersion {
            digest: "d2".into(),
            window_ms: 2_000,
            ..version()
        };
        assert_eq!(decide(Some(&m), &v, "me", 1, LEASE), Decision::Changed);
    }

    #[test]
    fn window_is_anchored_only_for_partly_sent_attempts() {
        let m = marker(State::Failed, &[0], "a", 0);
        assert_eq!(window_for(Some(&m), "e1", "f1", 99), 1_000);
        assert_eq!(window_for(Some(&m), "e2", "f1", 99), 99);
        assert_eq!(window_for(Some(&m), "e1", "f2", 99), 99);
        let m = marker(State::Failed, &[], "a", 0);
        assert_eq!(window_for(Some(&m), "e1", "f1", 99), 99);
        assert_eq!(window_for(None, "e1", "f1", 99), 99);
    }

    #[test]
    fn marker_round_trips_and_rejects_foreign_documents() {
        let m = marker(State::InProgress, &[0, 2], "a", 7);
        let text = String::from_utf8(m.to_json()).unwrap();
        assert!(text.contains("\"state\":\"in_progress\""), "{text}");
        assert_eq!(Marker::from_json(text.as_bytes()).unwrap(), m);
        assert!(Marker::from_json(b"{}").is_err());
        let mut bad = m.clone();
        bad.version = 2;
        assert!(Marker::from_json(&bad.to_json()).is_err());
        bad = m;
        bad.sent = vec![4];
        assert!(Marker::from_json(&bad.to_json()).is_err());
    }

    #[test]
    fn locations() {
        let l = MarkerLocation::new(None, "_cflm/processed/", "logs", "cf/a b+é.gz");
        assert_eq!(l.bucket, "logs");
        assert_eq!(l.key, "_cflm/processed/cf/a b+é.gz.json");
        let l = MarkerLocation::new(Some("marks"), "m/", "logs", "x.gz");
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str()),
            ("marks", "m/logs/x.gz.json")
        );
        let l = MarkerLocation::new(Some("logs"), "m/", "logs", "x.gz");
        assert_eq!(l.key, "m/x.gz.json");
        let long = "k".repeat(1020);
        let l = MarkerLocation::new(None, "m/", "logs", &long);
        assert!(
            l.key.starts_with("m/_long/") && l.key.len() < 100,
            "{}",
            l.key
        );
        assert_eq!(normalize_etag("\"abc-2\""), "abc-2");
    }

    fn batch(index: usize, value: u64) -> Batch {
        Batch {
            index,
            datums: vec![Datum {
                metric: Metric::Requests,
                dimensions: Arc::from(vec![(DimensionKey::DistributionId, "E1".to_owned())]),
                timestamp_ms: 60_000,
                value: DatumValue::Value(value),
            }],
        }
    }

    #[test]
    fn digest_sees_every_value() {
        let a = digest(&[batch(0, 1), batch(1, 2)]);
        assert_eq!(a, digest(&[batch(0, 1), batch(1, 2)]));
        assert_ne!(a, digest(&[batch(0, 1), batch(1, 3)]));
        assert_ne!(a, digest(&[batch(0, 1)]));
        assert_eq!(a.len(), 16);
    }

    /// An in-memory marker store with S3's conditional-write semantics.
    #[derive(Default)]
    struct Memory {
        objects: Mutex<HashMap<String, (Vec<u8>, String)>>,
        next: Mutex<u64>,
        /// Writes that land but answer with a conflict (a lost answer after a retry).
        lose_answers: Mutex<usize>,
        /// Writes that land but answer with an I/O error (retries exhausted after a lost answer).
        io_after_write: Mutex<usize>,
        /// Writes that fail with an I/O error without landing.
        io_before_write: Mutex<usize>,
    }

    impl MarkerStore for Memory {
        async fn get_marker(&self, _: &str, key: &str) -> io::Result<Option<(Vec<u8>, String)>> {
            Ok(self.objects.lock().unwrap().get(key).cloned())
        }

        async fn put_marker(
            &self,
            _: &str,
            key: &str,
            body: Vec<u8>,
            condition: Condition<'_>,
        ) -> Result<String, PutError> {
            let mut objects = self.objects.lock().unwrap();
            let ok = match (condition, objects.get(key)) {
                (Condition::Absent, None) => true,
                (Condition::Matches(e), Some((_, cur))) => e == cur,
                _ => false,
            };
            if !ok {
                return Err(PutError::Conflict);
            }
            let mut before = self.io_before_write.lock().unwrap();
            if *before > 0 {
                *before -= 1;
                return Err(PutError::Io(io::Error::other("connection reset")));
            }
            let mut n = self.next.lock().unwrap();
            *n += 1;
            let etag = format!("\"m{n}\"");
            objects.insert(key.to_owned(), (body, etag.clone()));
            let mut lose = self.lose_answers.lock().unwrap();
            if *lose > 0 {
                *lose -= 1;
                return Err(PutError::Conflict);
            }
            let mut after = self.io_after_write.lock().unwrap();
            if *after > 0 {
                *after -= 1;
                return Err(PutError::Io(io::Error::other("timed out")));
            }
            Ok(etag)
        }
    }

    fn loc() -> MarkerLocation {
        MarkerLocation::new(None, "_cflm/processed/", "logs", &version().key)
    }

    async fn begin<'s>(
        store: &'s Memory,
        me: &str,
        now: i64,
    ) -> Result<Begin<'s, Memory>, MarkerError> {
        let existing = read_marker(store, &loc()).await?;
        Claim::begin(
            store,
            loc(),
            me.into(),
            &version(),
            existing,
            Clock::new(now),
            LEASE,
        )
        .await
    }

    fn stored(store: &Memory) -> Marker {
        let objects = store.objects.lock().unwrap();
        Marker::from_json(&objects[&loc().key].0).unwrap()
    }

    #[tokio::test]
    async fn claim_checkpoint_release_resume_finish() {
        let store = Memory::default();
        let Begin::Publish { mut claim, .. } = begin(&store, "a", 0).await.unwrap() else {
            panic!("expected a claim");
        };
        // A second invocation meanwhile is busy.
        assert!(matches!(
            begin(&store, "b", 10).await,
            Err(MarkerError::Busy { .. })
        ));
        claim.add_sent(&[0, 2]);
        claim.checkpoint().await.unwrap();
        claim.release().await.unwrap();
        let m = stored(&store);
        assert_eq!((m.state, m.sent.clone()), (State::Failed, vec![0, 2]));
        // The retry resumes with what was sent, at once.
        let Begin::Publish {
            mut claim,
            already_sent,
            takeover,
        } = begin(&store, "b", 20).await.unwrap()
        else {
            panic!("expected a resume");
        };
        assert_eq!(already_sent, [0, 2].into_iter().collect());
        assert_eq!(takeover, None);
        claim.add_sent(&[1, 3]);
        claim.finish().await.unwrap();
        let m = stored(&store);
        assert_eq!((m.state, m.attempts), (State::Done, 2));
        assert_eq!(m.sent, vec![0, 1, 2, 3]);
        assert!(matches!(
            begin(&store, "c", 30).await.unwrap(),
            Begin::Duplicate {
                same_config: true,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_stale_claim_is_taken_over_and_the_old_owner_stops() {
        let store = Memory::default();
        let Begin::Publish { claim: mut old, .. } = begin(&store, "a", 0).await.unwrap() else {
            panic!()
        };
        old.add_sent(&[0]);
        old.checkpoint().await.unwrap();
        let updated = stored(&store).updated_ms;
        let Begin::Publish {
            claim: mut new,
            already_sent,
            takeover,
        } = begin(&store, "b", updated + LEASE + SKEW + 1)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(takeover.as_deref(), Some("a"));
        assert_eq!(already_sent.len(), 1);
        old.add_sent(&[1]);
        assert!(matches!(
            old.checkpoint().await,
            Err(MarkerError::LostOwnership { ref owner, .. }) if owner == "b"
        ));
        new.add_sent(&[1, 2, 3]);
        new.finish().await.unwrap();
        assert_eq!(stored(&store).owner.as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn a_lost_answer_to_our_own_write_is_recognised() {
        let store = Memory::default();
        *store.lose_answers.lock().unwrap() = 1;
        // The claim lands, its answer is lost: the re-read shows our own claim.
        let Begin::Publish { mut claim, .. } = begin(&store, "a", 0).await.unwrap() else {
            panic!()
        };
        *store.lose_answers.lock().unwrap() = 1;
        claim.add_sent(&[0, 1, 2, 3]);
        claim.finish().await.unwrap();
        assert_eq!(stored(&store).state, State::Done);
    }

    #[tokio::test]
    async fn a_claim_that_landed_behind_an_io_error_is_ours() {
        let store = Memory::default();
        *store.io_after_write.lock().unwrap() = 1;
        // Without this the next delivery would find the file "busy" until the claim went stale.
        let Begin::Publish { mut claim, .. } = begin(&store, "a", 0).await.unwrap() else {
            panic!("the landed claim is ours")
        };
        claim.add_sent(&[0, 1, 2, 3]);
        claim.finish().await.unwrap();
        assert_eq!(stored(&store).state, State::Done);
        // A write that did not land is still an error, and leaves no marker behind.
        let store = Memory::default();
        *store.io_before_write.lock().unwrap() = 1;
        assert!(matches!(
            begin(&store, "a", 0).await,
            Err(MarkerError::Io { .. })
        ));
        assert!(store.objects.lock().unwrap().is_empty());
        assert!(matches!(
            begin(&store, "b", 10).await.unwrap(),
            Begin::Publish { .. }
        ));
    }

    #[tokio::test]
    async fn concurrent_claims_have_one_winner() {
        let store = Memory::default();
        // Both read "no marker", then both try to claim.
        let v = version();
        let (a, b) = tokio::join!(
            Claim::begin(&store, loc(), "a".into(), &v, None, Clock::new(0), LEASE),
            Claim::begin(&store, loc(), "b".into(), &v, None, Clock::new(0), LEASE),
        );
        let winners = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Ok(Begin::Publish { .. })))
            .count();
        assert_eq!(winners, 1);
        assert!(
            [&a, &b]
                .iter()
                .any(|r| matches!(r, Err(MarkerError::Busy { .. })))
        );
    }
}

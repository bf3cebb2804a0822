//! The claim and its lease: taking a file (a conditional marker write decided by
//! [`super::marker::decide`]), recording the batches sent, renewing the lease while publishing,
//! and saying done or failed; a lost race re-reads the marker and decides again.

use super::marker::{Decision, FileVersion, MARKER_VERSION, Marker, State, decide};
use super::store::{MarkerError, MarkerLocation, read_marker, still_ours};
use crate::conditional::{Condition, ConditionalStore, PutError};
use std::collections::BTreeSet;
use std::time::Instant;

/// Conflicting writes tolerated while claiming before giving up for this attempt.
const MAX_CLAIM_ROUNDS: usize = 5;

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
    /// The series families this part publishes, recorded as published when it is done.
    families: Vec<String>,
    /// The families earlier parts of this version published.
    published_before: Vec<String>,
}

impl<'s, S: ConditionalStore> Claim<'s, S> {
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
                    let same_version = current.filter(|m| m.etag == v.etag);
                    let attempts = same_version.map_or(0, |m| m.attempts);
                    // Completed parts of this version stay recorded.
                    let published = same_version
                        .and_then(|m| m.published.clone())
                        .unwrap_or_default();
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
                        published: Some(published),
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
                .put_if(&loc.bucket, &loc.key, doc.to_json(), condition)
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
            let published_before = doc.published.clone().unwrap_or_default();
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
                    families: v.families.clone(),
                    published_before,
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

    /// Marks the file done: this part's families join those published.
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
        // This part's families count as published only in a `done` marker: a release after a
        // failed `done` write must not say so.
        let mut published: BTreeSet<String> = self.published_before.iter().cloned().collect();
        if state == State::Done {
            published.extend(self.families.iter().cloned());
        }
        self.doc.published = Some(published.into_iter().collect());
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
                .put_if(
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
mod tests;

//! A shard's state object at the edge: read with its ETag, changed only by read-modify-write
//! under a conditional PUT (on a conflict or a failed write it is read again and the change
//! applied again, so a write whose answer was lost is neither lost nor doubled), and the
//! [`Ledger`] of its outbox, held under a lease so that a shard's own invocation and the
//! scheduled flush never send one batch twice.

use super::ShardError;
use crate::conditional::{Condition, ConditionalStore, PutError};
use crate::config::MetricsConfig;
use crate::idempotency::{Clock, skew_margin_ms};
use crate::ledger::Ledger;
use crate::shard_state::ShardState;
use crate::sink::{Settled, SinkError};
use std::time::{Duration, Instant};

/// Rounds of re-read and re-apply before a change gives up.
const MAX_ROUNDS: usize = 5;

/// One shard's state object, as last read or written.
pub(super) struct StateObject<'s, S> {
    store: &'s S,
    pub bucket: &'s str,
    pub key: String,
    /// Names the shard in errors and logs.
    pub shard: String,
    config: &'s MetricsConfig,
    pub state: ShardState,
    etag: Option<String>,
}

impl<'s, S: ConditionalStore> StateObject<'s, S> {
    /// Reads the state (none yet: an empty one). A state that cannot be read is an error, and
    /// is left as it is.
    pub async fn load(
        store: &'s S,
        bucket: &'s str,
        key: String,
        shard: String,
        config: &'s MetricsConfig,
    ) -> Result<Self, ShardError> {
        let mut obj = StateObject {
            store,
            bucket,
            key,
            shard,
            config,
            state: ShardState::default(),
            etag: None,
        };
        obj.reload().await?;
        Ok(obj)
    }

    async fn reload(&mut self) -> Result<(), ShardError> {
        let read = self.store.get_with_etag(self.bucket, &self.key).await;
        let read = read.map_err(|source| ShardError::Read {
            shard: self.shard.clone(),
            source,
        })?;
        (self.state, self.etag) = match read {
            None => (ShardState::default(), None),
            Some((body, etag)) => {
                let state = ShardState::from_json(&body, self.config).map_err(|source| {
                    ShardError::State {
                        shard: self.shard.clone(),
                        source,
                    }
                })?;
                (state, Some(etag))
            }
        };
        Ok(())
    }

    /// Applies `change` to the state and writes it when `change` says there is something to
    /// write. On a conflict (another writer) or a failed write (which may have landed), reads
    /// the state again and applies `change` to that: `change` must be idempotent. Returns
    /// whether it wrote.
    pub async fn update<F>(&mut self, mut change: F) -> Result<bool, ShardError>
    where
        F: FnMut(&mut ShardState) -> Result<bool, ShardError>,
    {
        let mut last_error = None;
        for _ in 0..MAX_ROUNDS {
            let mut next = self.state.clone();
            if !change(&mut next)? {
                return Ok(false);
            }
            let condition = match &self.etag {
                Some(e) => Condition::Matches(e),
                None => Condition::Absent,
            };
            let body = next.to_json();
            match self
                .store
                .put_if(self.bucket, &self.key, body, condition)
                .await
            {
                Ok(etag) => {
                    (self.state, self.etag) = (next, Some(etag));
                    return Ok(true);
                }
                Err(PutError::Conflict) => {}
                Err(e) => {
                    tracing::warn!(shard = %self.shard, error = %e, "shard state write failed; reading it again");
                    last_error = Some(e);
                }
            }
            self.reload().await?;
        }
        Err(ShardError::Write {
            shard: self.shard.clone(),
            source: last_error.unwrap_or(PutError::Conflict),
        })
    }
}

/// The lease terms of one invocation: who, on which clock, for how long.
#[derive(Debug, Clone)]
pub(super) struct Holder {
    pub me: String,
    pub clock: Clock,
    pub lease_ms: i64,
}

impl Holder {
    /// Takes (or renews) the outbox's lease in `st` if it is free; returns whether `me` holds
    /// it.
    pub fn take(&self, st: &mut ShardState) -> bool {
        let now = self.clock.now_ms();
        let margin = skew_margin_ms(self.lease_ms);
        st.take_lease(&self.me, now, margin, now.saturating_add(self.lease_ms))
    }

    /// Whether `me` holds the lease in `st`.
    pub fn holds(&self, st: &ShardState) -> bool {
        st.lease.as_ref().is_some_and(|l| l.owner == self.me)
    }
}

/// The outbox of one shard as a [`Ledger`]: settled batches leave the outbox at each
/// checkpoint, which also renews the lease.
pub(super) struct ShardLedger<'a, 's, S> {
    pub obj: &'a mut StateObject<'s, S>,
    pub holder: &'a Holder,
    /// Batches settled since the last checkpoint.
    pub noted: Vec<usize>,
    renewed_at: Instant,
}

impl<'a, 's, S> ShardLedger<'a, 's, S> {
    pub fn new(obj: &'a mut StateObject<'s, S>, holder: &'a Holder) -> Self {
        ShardLedger {
            obj,
            holder,
            noted: Vec::new(),
            renewed_at: Instant::now(),
        }
    }
}

/// Settles `batches` in `st`, keeping or releasing the lease of `holder`; an error when another
/// took the lease over.
pub(super) fn settle(
    st: &mut ShardState,
    batches: &[usize],
    holder: &Holder,
    release: bool,
    shard: &str,
) -> Result<bool, ShardError> {
    for &i in batches {
        st.settle(i);
    }
    if release {
        st.release(&holder.me);
    } else if !holder.take(st) {
        return Err(ShardError::LeaseLost {
            shard: shard.to_owned(),
        });
    }
    Ok(true)
}

impl<S: ConditionalStore> Ledger for ShardLedger<'_, '_, S> {
    type Error = ShardError;

    fn note(&mut self, settled: &Settled) {
        match settled {
            Settled::Sent(i) | Settled::Rejected(SinkError::Rejected { batch: i, .. }) => {
                self.noted.push(*i)
            }
            Settled::Rejected(_) => {}
        }
    }

    async fn checkpoint(&mut self) -> Result<(), ShardError> {
        let started = Instant::now();
        let (noted, holder) = (self.noted.clone(), self.holder);
        let shard = self.obj.shard.clone();
        self.obj
            .update(|st| settle(st, &noted, holder, false, &shard))
            .await?;
        self.noted.retain(|i| !noted.contains(i));
        self.renewed_at = started;
        Ok(())
    }

    fn lease(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.holder.lease_ms).unwrap_or(0))
    }

    fn held_until(&self) -> Instant {
        self.renewed_at + self.lease()
    }

    fn expired(&self) -> ShardError {
        ShardError::LeaseExpired {
            shard: self.obj.shard.clone(),
        }
    }

    fn lost(e: &ShardError) -> bool {
        matches!(e, ShardError::LeaseLost { .. })
    }
}

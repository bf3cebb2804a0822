//! The marker document of one log file and the pure decision taken on it: what a delivery does
//! given the marker it found (start, resume, busy, duplicate, changed, incompatible), and the
//! digest of a file's batches that a resume must match. No I/O: unit-tested on values.

use crate::batch::Batch;
use crate::datum::DatumValue;
use crate::hash::Fnv;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Version of the marker document.
pub const MARKER_VERSION: u32 = 1;
/// Most skew tolerated between the clocks of two machines holding and taking over a lease.
pub const MAX_SKEW_MS: i64 = 10_000;

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
    /// The series families ([`family`]) every completed part of this version published; a
    /// later run with another selection publishes only the families missing. `None` in markers
    /// written before parts existed: such a `done` marker is a duplicate for any selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Vec<String>>,
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
    /// The series families of the batches to publish (this part's).
    pub families: Vec<String>,
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
        let same_config = m.fingerprint == v.fingerprint && m.digest == v.digest;
        // Published completely, or every family this selection has was: nothing is missing.
        return if same_config || m.published.is_none() || v.batches == 0 {
            Decision::Duplicate { same_config }
        } else {
            Decision::Start
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

/// A datum's series family: namespace, metric and dimension names (not values). Exactly once
/// holds per file version and family: one published is never published again for that
/// version, whatever selection or cardinality guard a later run has.
pub fn family(namespace: &str, d: &crate::datum::Datum) -> String {
    let names: Vec<&str> = d.dimensions.iter().map(|(k, _)| k.name()).collect();
    format!("{namespace}|{}|{}", d.metric.name(), names.join(","))
}

/// The families of `batches`, sorted, each once.
pub fn families(namespace: &str, batches: &[Batch]) -> Vec<String> {
    let set: BTreeSet<String> = batches
        .iter()
        .flat_map(|b| &b.datums)
        .map(|d| family(namespace, d))
        .collect();
    set.into_iter().collect()
}

/// The families a marker says completed parts of version `etag` published.
pub fn published_families(existing: Option<&Marker>, etag: &str) -> BTreeSet<String> {
    existing
        .filter(|m| m.etag == etag)
        .and_then(|m| m.published.as_ref())
        .map(|p| p.iter().cloned().collect())
        .unwrap_or_default()
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

#[cfg(test)]
pub(crate) mod tests;

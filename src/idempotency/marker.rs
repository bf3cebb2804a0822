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
pub(crate) mod tests {
    use super::*;
    use crate::catalogue::Metric;
    use crate::config::DimensionKey;
    use crate::datum::Datum;
    use std::sync::Arc;

    /// The lease of these tests; its skew margin is 10 s.
    const LEASE: i64 = 40_000;
    const SKEW: i64 = 10_000;

    pub(crate) fn version() -> FileVersion {
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
}

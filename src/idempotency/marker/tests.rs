//! Unit tests of the marker document and the pure decision.

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
        families: Vec::new(),
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
        published: Some(Vec::new()),
    }
}

#[test]
fn no_marker_starts() {
    assert_eq!(decide(None, &version(), "me", 0, LEASE), Decision::Start);
}

#[test]
fn done_is_a_duplicate_unless_another_selection_has_families_missing() {
    let m = marker(State::Done, &[0, 1, 2, 3], "a", 0);
    assert_eq!(
        decide(Some(&m), &version(), "me", 10, LEASE),
        Decision::Duplicate { same_config: true }
    );
    // Another selection: its batches are what no part published yet (the caller left out the
    // published families), so it starts a new part; none left is a duplicate.
    let v = FileVersion {
        fingerprint: "f2".into(),
        digest: "d2".into(),
        ..version()
    };
    assert_eq!(decide(Some(&m), &v, "me", 10, LEASE), Decision::Start);
    let nothing_missing = FileVersion {
        batches: 0,
        ..v.clone()
    };
    assert_eq!(
        decide(Some(&m), &nothing_missing, "me", 10, LEASE),
        Decision::Duplicate { same_config: false }
    );
    // A marker from before parts: a duplicate for any selection.
    let old = Marker {
        published: None,
        ..m
    };
    assert_eq!(
        decide(Some(&old), &v, "me", 10, LEASE),
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
        families: Vec::new(),
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
        families: Vec::new(),
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
        families: Vec::new(),
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

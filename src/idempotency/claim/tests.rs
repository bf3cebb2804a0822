//! Unit tests of the claim and lease protocol over the in-memory store.

use super::*;

/// The lease of these tests; its skew margin is 10 s.
const LEASE: i64 = 40_000;
const SKEW: i64 = 10_000;

fn version() -> FileVersion {
    super::super::marker::tests::version()
}

/// The crate's in-memory store, with S3's conditional-write semantics.
type Memory = crate::memory::MemoryStore;

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
    Marker::from_json(&store.bytes("logs", &loc().key).unwrap()).unwrap()
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
    store.faults.lock().unwrap().lose_answers = 1;
    // The claim lands, its answer is lost: the re-read shows our own claim.
    let Begin::Publish { mut claim, .. } = begin(&store, "a", 0).await.unwrap() else {
        panic!()
    };
    store.faults.lock().unwrap().lose_answers = 1;
    claim.add_sent(&[0, 1, 2, 3]);
    claim.finish().await.unwrap();
    assert_eq!(stored(&store).state, State::Done);
}

#[tokio::test]
async fn a_claim_that_landed_behind_an_io_error_is_ours() {
    let store = Memory::default();
    store.faults.lock().unwrap().io_after_write = 1;
    // Without this the next delivery would find the file "busy" until the claim went stale.
    let Begin::Publish { mut claim, .. } = begin(&store, "a", 0).await.unwrap() else {
        panic!("the landed claim is ours")
    };
    claim.add_sent(&[0, 1, 2, 3]);
    claim.finish().await.unwrap();
    assert_eq!(stored(&store).state, State::Done);
    // A write that did not land is still an error, and leaves no marker behind.
    let store = Memory::default();
    store.faults.lock().unwrap().io_before_write = 1;
    assert!(matches!(
        begin(&store, "a", 0).await,
        Err(MarkerError::Io { .. })
    ));
    assert!(store.keys("logs", "").is_empty());
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

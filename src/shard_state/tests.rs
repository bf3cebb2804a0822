//! The shard ledger's pure logic: merging, closing, settling, leases, versions.

use super::*;
use crate::aggregate::Aggregator;
use crate::parse::{LogParser, RealtimeFields};

const MIN: i64 = 1_700_000_040_000; // a minute's start

fn config() -> MetricsConfig {
    MetricsConfig {
        realtime: Some(RealtimeFields::parse("timestamp,sc-status,sc-bytes").unwrap()),
        distribution_id: Some("E2Q4ABCDEFGH".into()),
        ..MetricsConfig::default()
    }
}

fn aggregate(config: &MetricsConfig, lines: &[(i64, u64)]) -> FileAggregate {
    let fields = config.realtime.as_ref().unwrap();
    let mut agg = Aggregator::new(config, "E2Q4ABCDEFGH", MIN + 600_000);
    let mut p = LogParser::realtime(fields, agg.fields());
    let text: String = lines
        .iter()
        .map(|(ms, b)| format!("{}.{:03}\t200\t{b}\n", ms / 1000, ms % 1000))
        .collect();
    p.process(text.as_bytes(), true, |r| agg.add(r)).unwrap();
    agg.finish()
}

fn bytes(rows: &[AggregateRow]) -> u64 {
    rows.iter().map(|r| r.cell.bytes_downloaded).sum()
}

#[test]
fn sequence_numbers_compare_as_numbers() {
    assert!(sequence_after("10", "9"));
    assert!(!sequence_after("9", "10"));
    assert!(!sequence_after("42", "42"));
    assert!(sequence_after(
        "49590338271490256608559692540925702759324208523137515618",
        "49590338271490256608559692538361571095921575989136588898"
    ));
}

#[test]
fn minutes_merge_close_after_the_delay_and_add_to_the_outbox() {
    let c = config();
    let mut s = ShardState::default();
    s.absorb(
        aggregate(&c, &[(MIN + 1_000, 10), (MIN + 61_000, 5)]),
        2,
        "1".into(),
    );
    s.absorb(aggregate(&c, &[(MIN + 2_000, 7)]), 1, "2".into());
    assert_eq!(s.pending_minutes(), [MIN, MIN + 60_000]);
    assert_eq!(s.pending.len(), 2, "one row per minute: {:?}", s.pending);
    // The first minute closes 20 s after its end, not before.
    assert_eq!(s.close(&c, MIN + 79_999, 20_000), 0);
    assert_eq!(s.close(&c, MIN + 80_000, 20_000), 1);
    assert_eq!(bytes(&s.pending), 5);
    assert_eq!(s.outbox.len(), 1);
    assert_eq!(s.outbox[0].fingerprint, c.fingerprint());
    // While the outbox is published, the next minute is added after it, numbered on.
    assert_eq!(s.close(&c, MIN + 600_000, 20_000), 1);
    let numbers: Vec<usize> = s.outbox.iter().map(|b| b.batch.index).collect();
    assert_eq!(numbers, [0, 1]);
    assert!(s.settle(0) && !s.settle(0));
    assert!(s.settle(1));
    assert!(s.outbox.is_empty());
    assert_eq!(s.records, 3);
}

#[test]
fn a_closed_minute_without_datums_cuts_no_batch() {
    let mut c = config();
    c.include = crate::config::parse_include("t", "Status5xx").unwrap();
    let mut s = ShardState::default();
    s.absorb(aggregate(&c, &[(MIN + 1_000, 10)]), 1, "1".into());
    assert_eq!(s.close(&c, MIN + 600_000, 20_000), 1);
    assert!(s.outbox.is_empty() && s.pending.is_empty());
}

#[test]
fn records_at_or_before_the_checkpoint_are_not_new() {
    let c = config();
    let mut s = ShardState::default();
    assert!(s.is_new("5"));
    s.absorb(aggregate(&c, &[(MIN, 1)]), 1, "5".into());
    assert!(!s.is_new("5") && !s.is_new("4") && s.is_new("6"));
    // A late, older checkpoint never moves it back.
    s.absorb(aggregate(&c, &[]), 0, "3".into());
    assert_eq!(s.checkpoint.as_deref(), Some("5"));
}

#[test]
fn leases_exclude_others_until_they_run_out() {
    let mut s = ShardState::default();
    assert!(s.take_lease("a", 1_000, 500, 2_000));
    assert!(
        !s.take_lease("b", 2_400, 500, 9_000),
        "within the skew margin"
    );
    assert!(
        s.take_lease("a", 2_400, 500, 3_000),
        "renewed by its holder"
    );
    s.release("b");
    assert!(s.lease.is_some(), "only the holder releases");
    assert!(s.take_lease("b", 3_501, 500, 9_000), "run out");
    s.release("b");
    assert!(s.lease.is_none());
}

#[test]
fn the_state_survives_serialisation_and_keeps_its_batches() {
    let c = config();
    let mut s = ShardState::default();
    let lines: Vec<(i64, u64)> = (0..500).map(|i| (MIN + i * 100, i as u64)).collect();
    s.absorb(aggregate(&c, &lines), 500, "77".into());
    s.close(&c, MIN + 200_000, 20_000);
    let back = ShardState::from_json(&s.to_json(), &c).unwrap();
    assert_eq!(back, s);
    // Another configuration reads the same batches.
    let mut other = c.clone();
    other.include = crate::config::parse_include("t", "Requests").unwrap();
    assert_eq!(ShardState::from_json(&s.to_json(), &other).unwrap(), s);
}

#[test]
fn version_1_is_read_and_unknown_versions_are_refused() {
    let c = config();
    let mut v2 = ShardState::default();
    v2.absorb(
        aggregate(&c, &[(MIN + 1_000, 10), (MIN + 2_000, 3)]),
        2,
        "9".into(),
    );
    let rows = v2.pending.clone();
    let v1 = serde_json::json!({
        "version": 1, "checkpoint": "9", "pending": [], "outbox": rows, "settled": [],
        "records": 2, "unresolved": 0
    });
    let s = ShardState::from_json(&serde_json::to_vec(&v1).unwrap(), &c).unwrap();
    assert_eq!(
        (s.version, s.outbox.len(), s.next_batch),
        (STATE_VERSION, 1, 1)
    );
    assert_eq!(s.checkpoint.as_deref(), Some("9"));
    let mut settled = v1.clone();
    settled["settled"] = serde_json::json!([0]);
    let s = ShardState::from_json(&serde_json::to_vec(&settled).unwrap(), &c).unwrap();
    assert!(s.outbox.is_empty());
    let mut newer = v1;
    newer["version"] = serde_json::json!(3);
    let e = ShardState::from_json(&serde_json::to_vec(&newer).unwrap(), &c).unwrap_err();
    assert!(e.to_string().contains("version 3"), "{e}");
    let e = ShardState::from_json(b"{\"version\": 2, \"pending\": 7}", &c).unwrap_err();
    assert!(e.to_string().contains("unreadable"), "{e}");
}

#[test]
fn a_closed_minute_says_how_late_it_is_published() {
    let c = config();
    let mut s = ShardState::default();
    s.absorb(
        aggregate(&c, &[(MIN + 1_000, 10), (MIN + 61_000, 5)]),
        2,
        "1".into(),
    );
    // Both minutes close 95 s after the second one's end.
    let now = MIN + 120_000 + 95_000;
    s.close(&c, now, 20_000);
    let fresh: Vec<&crate::datum::Datum> = s
        .outbox
        .iter()
        .flat_map(|b| &b.batch.datums)
        .filter(|d| d.metric.is_freshness())
        .collect();
    use crate::catalogue::Metric;
    use crate::datum::DatumValue;
    assert_eq!(fresh.len(), 2, "{fresh:?}");
    assert_eq!(fresh[0].metric, Metric::LogFiles);
    assert_eq!(fresh[0].value, DatumValue::Value(2), "one per shard-minute");
    assert_eq!(
        fresh[1].value,
        DatumValue::Distribution {
            values: vec![95, 155],
            counts: vec![1, 1]
        }
    );
    assert!(
        fresh
            .iter()
            .all(|d| d.timestamp_ms == now / 60_000 * 60_000)
    );
}

//! Property tests of the real-time record parser: any field selection, listed in any order,
//! reads records written in CloudFront's canonical order exactly (values, `-` for empty, LF or
//! CRLF); a record with one field more or less is rejected naming both counts, never mis-mapped.

use cloudfront_log_metrics::parse::fields::REALTIME_FIELDS;
use cloudfront_log_metrics::parse::{FieldSet, LogParser, RealtimeFields, RejectReason};
use proptest::prelude::*;

/// What a record says, as read back: (ms, sc-bytes, sc-status, time-taken ms).
type Read = (i64, u64, Option<u16>, Option<u32>);

#[derive(Debug, Clone)]
struct Rec {
    ms: i64,
    bytes: Option<u64>,
    status: Option<u16>,
    taken_ms: Option<u32>,
    /// A filler token for every other field (never a tab or newline).
    filler: String,
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        1_700_000_000_000i64..1_800_000_000_000,
        proptest::option::of(0u64..10_000_000),
        proptest::option::of(prop_oneof![Just(0u16), 100u16..600]),
        proptest::option::of(0u32..600_000),
        "[A-Za-z0-9%/.:=-]{1,12}",
    )
        .prop_map(|(ms, bytes, status, taken_ms, filler)| Rec {
            ms,
            bytes,
            status,
            taken_ms,
            filler,
        })
}

/// A selection: `timestamp` and any subset of the other fields, listed in a shuffled order.
fn selection() -> impl Strategy<Value = (Vec<&'static str>, String)> {
    proptest::collection::vec(any::<bool>(), REALTIME_FIELDS.len() - 1)
        .prop_map(|keep| {
            let mut names = vec!["timestamp"];
            names.extend(
                REALTIME_FIELDS[1..]
                    .iter()
                    .zip(keep)
                    .filter_map(|(n, k)| k.then_some(*n)),
            );
            names
        })
        .prop_flat_map(|canonical| {
            let listed = Just(canonical.clone()).prop_shuffle();
            (Just(canonical), listed.prop_map(|l| l.join(",")))
        })
}

fn line(canonical: &[&str], r: &Rec, crlf: bool) -> String {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let cols: Vec<String> = canonical
        .iter()
        .map(|&n| match n {
            "timestamp" => format!("{}.{:03}", r.ms / 1000, r.ms % 1000),
            "sc-bytes" => dash(r.bytes.map(|b| b.to_string())),
            "sc-status" => dash(r.status.map(|s| format!("{s:03}"))),
            "time-taken" => dash(r.taken_ms.map(|t| format!("{}.{:03}", t / 1000, t % 1000))),
            // Other numbers the parser reads: empty (their values are checked elsewhere).
            "time-to-first-byte" | "cs-bytes" | "origin-fbl" | "origin-lbl" => "-".into(),
            _ => r.filler.clone(),
        })
        .collect();
    cols.join("\t") + if crlf { "\r\n" } else { "\n" }
}

fn expected(canonical: &[&str], r: &Rec) -> Read {
    let has = |n: &str| canonical.contains(&n);
    (
        r.ms,
        if has("sc-bytes") {
            r.bytes.unwrap_or(0)
        } else {
            0
        },
        if has("sc-status") { r.status } else { None },
        if has("time-taken") { r.taken_ms } else { None },
    )
}

fn parse(listed: &str, text: &str) -> (Vec<Read>, Vec<RejectReason>) {
    let fields = RealtimeFields::parse(listed).unwrap();
    let mut p = LogParser::realtime(&fields, FieldSet::ALL);
    let mut out = Vec::new();
    p.process(text.as_bytes(), true, |r| {
        out.push((r.timestamp_ms, r.sc_bytes, r.sc_status, r.time_taken_ms))
    })
    .unwrap();
    let rejects = p.stats().reject_samples.iter().map(|s| s.reason).collect();
    (out, rejects)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_selection_in_any_listed_order_reads_back_exactly(
        (canonical, listed) in selection(),
        recs in proptest::collection::vec(rec(), 1..20),
        crlf in any::<bool>(),
    ) {
        let text: String = recs.iter().map(|r| line(&canonical, r, crlf)).collect();
        let (read, rejects) = parse(&listed, &text);
        prop_assert!(rejects.is_empty(), "{:?}", rejects);
        let want: Vec<Read> = recs.iter().map(|r| expected(&canonical, r)).collect();
        prop_assert_eq!(read, want);
    }

    #[test]
    fn one_field_more_or_less_is_rejected_with_both_counts(
        (canonical, listed) in selection(),
        r in rec(),
        more in any::<bool>(),
    ) {
        let good = line(&canonical, &r, false);
        let bad = if more {
            good.trim_end_matches('\n').to_owned() + "\tx\n"
        } else if canonical.len() > 1 {
            let cut = good.rfind('\t').unwrap();
            good[..cut].to_owned() + "\n"
        } else {
            return Ok(());
        };
        let got = bad.trim_end().split('\t').count();
        prop_assert_ne!(got, canonical.len());
        let (read, rejects) = parse(&listed, &bad);
        prop_assert!(read.is_empty());
        prop_assert_eq!(rejects, vec![RejectReason::FieldCount { got, want: canonical.len() }]);
    }
}

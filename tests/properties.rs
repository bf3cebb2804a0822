//! Property tests of the core.
//!
//! - Mangled input (lines cut short, doubled TABs, random bytes, huge fields, invalid UTF-8,
//!   joined lines, stray headers and braces, corrupt gzip) never panics, whether fed to
//!   `pipeline::FileProcessor` or `parse::LogParser` in chunks of random sizes; the result does not
//!   depend on the chunking, and every accepted record is either aggregated or counted as stale.
//! - Aggregation is independent of record order: shuffled data lines give the same datums.
//! - No input can poison a file (issue 11): any bytes become a dimension value CloudWatch accepts,
//!   distinct values stay distinct; implausible byte counts and latencies reject their line, and
//!   sums saturate rather than wrap.
//!
//! Case counts are kept moderate so that the suite stays fast in debug builds. The tests named
//! `known_bug_*` at the end document library bugs found while writing these; they are `#[ignore]`d
//! (run them with `cargo test --test properties -- --ignored`).

mod support;

use cloudfront_log_metrics::aggregate::FileAggregate;
use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::datum::datums;
use cloudfront_log_metrics::parse::{Format, LogParser, MAX_RECORD_BYTES, NotALog, ParseStats};
use cloudfront_log_metrics::pipeline::{self, FileProcessor};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use std::collections::{BTreeMap, BTreeSet};
use support::logs::*;
use support::view::*;

const NOW: &str = "2024-11-15T12:00:00Z";
const EDGES: [&str; 5] = ["IAD89-C1", "FRA56-P5", "NRT57-P2", "LHR61-P2", "-"];
const STATUSES: [&str; 7] = ["200", "304", "404", "503", "000", "-", "101"];
const RESULTS: [&str; 6] = ["Hit", "Miss", "Error", "RefreshHit", "Weird", "-"];
const HEADER: &str = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type time-taken c-ip cs(User-Agent) time-to-first-byte\n";

/// One generated record.
#[derive(Debug, Clone)]
struct R {
    /// Seconds after NOW - 3 h (or, when `stale`, 20 days before that).
    sec: u32,
    ms: u16,
    stale: bool,
    edge: usize,
    sc: Option<u32>,
    status: usize,
    result: usize,
    tt: Option<u16>,
    ttfb: Option<u16>,
    json: bool,
}

fn rec() -> impl Strategy<Value = R> {
    (
        (0u32..3 * 3600, 0u16..1000, prop::bool::weighted(0.05)),
        0..EDGES.len(),
        prop::option::weighted(0.9, 0u32..2_000_000),
        0..STATUSES.len(),
        0..RESULTS.len(),
        prop::option::weighted(0.9, 0u16..5000),
        prop::option::weighted(0.8, 0u16..5000),
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |((sec, ms, stale), edge, sc, status, result, tt, ttfb, json)| R {
                sec,
                ms,
                stale,
                edge,
                sc,
                status,
                result,
                tt,
                ttfb,
                json,
            },
        )
}

fn secs(ms: Option<u16>) -> String {
    ms.map_or("-".to_owned(), |ms| {
        format!("{}.{:03}", ms / 1000, ms % 1000)
    })
}

/// Renders a record as a W3C line (under [`HEADER`]) or a v2 JSON line, without newline.
fn line(r: &R) -> String {
    let base = at(NOW) - 3 * 3_600_000 - if r.stale { 20 * 86_400_000 } else { 0 };
    let ts = base + i64::from(r.sec) * 1000 + i64::from(r.ms);
    let sc = r.sc.map_or("-".to_owned(), |v| v.to_string());
    if r.json {
        format!(
            "{{\"timestamp(ms)\":\"{ts}\",\"x-edge-location\":\"{}\",\"sc-bytes\":\"{sc}\",\"sc-status\":\"{}\",\"x-edge-result-type\":\"{}\",\"time-taken\":\"{}\",\"time-to-first-byte\":\"{}\",\"c-ip\":\"192.0.2.1\"}}",
            EDGES[r.edge],
            STATUSES[r.status],
            RESULTS[r.result],
            secs(r.tt),
            secs(r.ttfb),
        )
    } else {
        let (d, t) = date_time(ts);
        format!(
            "{d}\t{t}\t{}\t{sc}\t{}\t{}\t{}\t192.0.2.1\tMozilla/5.0%20(X11)\t{}",
            EDGES[r.edge],
            STATUSES[r.status],
            RESULTS[r.result],
            secs(r.tt),
            secs(r.ttfb),
        )
    }
}

fn file(recs: &[R]) -> Vec<String> {
    recs.iter().map(line).collect()
}

/// A way to damage a file; indices are taken modulo the file's lines and line lengths.
#[derive(Debug, Clone)]
enum Op {
    /// Cut a line short at a byte.
    Cut { line: usize, at: usize },
    /// Double every TAB of a line.
    DoubleTabs { line: usize },
    /// Insert random bytes (control bytes, NUL, `{`, `#`, `"` included).
    Insert {
        line: usize,
        at: usize,
        bytes: Vec<u8>,
    },
    /// Insert a huge run of one byte (a huge field, or a huge number if a digit).
    Huge {
        line: usize,
        at: usize,
        len: usize,
        byte: u8,
    },
    /// Insert invalid UTF-8.
    BadUtf8 { line: usize, at: usize },
    /// Remove a line's newline (joins it to the next).
    JoinNext { line: usize },
    /// Insert a `#Fields` line naming some fields (known or not) in some order.
    Header { line: usize, names: Vec<usize> },
    /// Insert a line opening a JSON object that is never closed.
    OpenBrace { line: usize },
    /// Turn a line's newlines into CRLF.
    Crlf { line: usize },
}

const HEADER_NAMES: [&str; 10] = [
    "date",
    "time",
    "sc-bytes",
    "timestamp(ms)",
    "x-edge-location",
    "nope",
    "time-taken",
    "sc-status",
    "timestamp",
    "x-edge-result-type",
];

fn op() -> impl Strategy<Value = Op> {
    let line = 0usize..10_000;
    let pos = 0usize..10_000;
    prop_oneof![
        (line.clone(), pos.clone()).prop_map(|(line, at)| Op::Cut { line, at }),
        line.clone().prop_map(|line| Op::DoubleTabs { line }),
        (
            line.clone(),
            pos.clone(),
            prop::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(line, at, bytes)| Op::Insert { line, at, bytes }),
        (
            line.clone(),
            pos.clone(),
            1usize..60_000,
            prop::sample::select(vec![b'x', b'9', b'\t', b' ', 0xff])
        )
            .prop_map(|(line, at, len, byte)| Op::Huge {
                line,
                at,
                len,
                byte
            }),
        (line.clone(), pos.clone()).prop_map(|(line, at)| Op::BadUtf8 { line, at }),
        line.clone().prop_map(|line| Op::JoinNext { line }),
        (
            line.clone(),
            prop::collection::vec(0..HEADER_NAMES.len(), 0..12)
        )
            .prop_map(|(line, names)| Op::Header { line, names }),
        line.clone().prop_map(|line| Op::OpenBrace { line }),
        line.prop_map(|line| Op::Crlf { line }),
    ]
}

/// Applies the damage to the lines of a file (header lines included) and joins them.
fn mangle(lines: Vec<String>, ops: &[Op]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = lines
        .into_iter()
        .map(|l| [l.as_bytes(), b"\n"].concat())
        .collect();
    if lines.is_empty() {
        lines.push(b"\n".to_vec());
    }
    for op in ops {
        let n = lines.len();
        let pick = |i: usize| i % n;
        match op {
            Op::Cut { line, at } => {
                let l = &mut lines[pick(*line)];
                let at = at % (l.len() + 1);
                l.truncate(at);
                l.push(b'\n');
            }
            Op::DoubleTabs { line } => {
                let l = &mut lines[pick(*line)];
                *l = l
                    .iter()
                    .flat_map(|&b| {
                        if b == b'\t' {
                            vec![b'\t', b'\t']
                        } else {
                            vec![b]
                        }
                    })
                    .collect();
            }
            Op::Insert { line, at, bytes } => {
                let l = &mut lines[pick(*line)];
                let at = at % (l.len() + 1);
                l.splice(at..at, bytes.iter().copied());
            }
            Op::Huge {
                line,
                at,
                len,
                byte,
            } => {
                let l = &mut lines[pick(*line)];
                let at = at % (l.len() + 1);
                l.splice(at..at, std::iter::repeat_n(*byte, *len));
            }
            Op::BadUtf8 { line, at } => {
                let l = &mut lines[pick(*line)];
                let at = at % (l.len() + 1);
                l.splice(at..at, [0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]);
            }
            Op::JoinNext { line } => {
                let l = &mut lines[pick(*line)];
                if l.last() == Some(&b'\n') {
                    l.pop();
                }
            }
            Op::Header { line, names } => {
                let names: Vec<&str> = names.iter().map(|&i| HEADER_NAMES[i]).collect();
                let h = format!("#Fields: {}\n", names.join(" ")).into_bytes();
                lines.insert(pick(*line), h);
            }
            Op::OpenBrace { line } => {
                lines.insert(pick(*line), b"{\"a\":{\"b\":\"c\n".to_vec());
            }
            Op::Crlf { line } => {
                let l = &mut lines[pick(*line)];
                if l.last() == Some(&b'\n') {
                    l.pop();
                    l.extend_from_slice(b"\r\n");
                }
            }
        }
    }
    lines.concat()
}

type Finished = (Option<Format>, ParseStats, FileAggregate);

/// Feeds `bytes` to a `FileProcessor` in chunks of the given sizes (cycled), then finishes.
fn feed(config: &MetricsConfig, bytes: &[u8], sizes: &[usize]) -> Result<Finished, NotALog> {
    let mut p = FileProcessor::new(config, DIST, at(NOW));
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        p.feed(&rest[..n])?;
        rest = &rest[n..];
        i += 1;
    }
    p.finish()
}

/// The invariants every successful result satisfies.
fn check_invariants(r: &Finished) {
    let (_, stats, agg) = r;
    // A line holds one record, or several JSON objects written back to back.
    assert!(stats.rejected <= stats.lines, "{stats:?}");
    assert_eq!(
        agg.totals.cell.requests + agg.skipped_stale,
        stats.records,
        "every accepted record is aggregated or stale"
    );
    assert_eq!(stats.reject_samples.len() as u64, stats.rejected.min(5));
    for w in stats.reject_samples.windows(2) {
        assert!(w[0].line < w[1].line);
    }
    let cell_sum: u64 = agg
        .rows
        .iter()
        .filter(|r| r.set == 0)
        .map(|r| r.cell.requests)
        .sum();
    assert_eq!(cell_sum, agg.totals.cell.requests);
}

/// Parses with `LogParser` alone, the caller keeping the unconsumed rest (as the pipeline does),
/// and returns (timestamp, sc-bytes, status, time-taken) of each record with the stats.
type Row = (i64, u64, Option<u16>, Option<u32>);
fn parse_chunked(bytes: &[u8], sizes: &[usize]) -> Result<(Vec<Row>, ParseStats), NotALog> {
    let mut p = LogParser::new();
    let mut rows = Vec::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        carry.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        i += 1;
        let used = p.process(&carry, false, |r| {
            rows.push((r.timestamp_ms, r.sc_bytes, r.sc_status, r.time_taken_ms))
        })?;
        assert!(used <= carry.len());
        carry.drain(..used);
    }
    let used = p.process(&carry, true, |r| {
        rows.push((r.timestamp_ms, r.sc_bytes, r.sc_status, r.time_taken_ms))
    })?;
    assert_eq!(used, carry.len(), "with eof everything is consumed");
    Ok((rows, p.into_stats()))
}

fn mangled_input() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        prop::collection::vec(rec(), 0..60),
        prop::bool::ANY,
        prop::collection::vec(op(), 0..8),
        prop::collection::vec(1usize..3000, 1..8),
    )
        .prop_map(|(recs, with_header, ops, sizes)| {
            let mut lines: Vec<String> = if with_header {
                HEADER.lines().map(str::to_owned).collect()
            } else {
                Vec::new()
            };
            lines.extend(file(&recs));
            (mangle(lines, &ops), sizes)
        })
}

fn two_sets() -> MetricsConfig {
    config("DistributionId;DistributionId,EdgeLocation;DistributionId,StatusCode")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Mangled files never panic the file processor, give the same result whatever the chunking,
    /// and satisfy the invariants.
    #[test]
    fn mangled_files_never_panic_and_chunking_does_not_matter((bytes, sizes) in mangled_input()) {
        let config = two_sets();
        let whole = feed(&config, &bytes, &[bytes.len().max(1)]);
        let chunked = feed(&config, &bytes, &sizes);
        match (&whole, &chunked) {
            (Ok(w), Ok(c)) => {
                check_invariants(w);
                prop_assert_eq!(w, c);
                // The datums of a mangled file keep every datum invariant (checked by View).
                let _ = View::new(datums(&w.2, &config).iter());
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            _ => prop_assert!(false, "whole {:?} vs chunked {:?}", whole.is_ok(), chunked.is_ok()),
        }
    }

    /// The same through `LogParser::process` alone.
    #[test]
    fn mangled_files_never_panic_the_parser((bytes, sizes) in mangled_input()) {
        let whole = parse_chunked(&bytes, &[bytes.len().max(1)]);
        let chunked = parse_chunked(&bytes, &sizes);
        match (whole, chunked) {
            (Ok(w), Ok(c)) => {
                prop_assert_eq!(w.0.len() as u64, w.1.records);
                prop_assert_eq!(w, c);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (w, c) => prop_assert!(false, "whole {:?} vs chunked {:?}", w.is_ok(), c.is_ok()),
        }
    }

    /// Random bytes, after a valid first kilobyte (so that the text check passes) or alone.
    #[test]
    fn random_bytes_never_panic(
        noise in prop::collection::vec(any::<u8>(), 0..6000),
        valid_prefix in prop::bool::ANY,
        sizes in prop::collection::vec(1usize..700, 1..5),
    ) {
        let mut bytes = Vec::new();
        let mut prefix_records = 0;
        if valid_prefix {
            bytes.extend_from_slice(HEADER.as_bytes());
            while bytes.len() < 1100 {
                bytes.extend_from_slice(b"2024-11-15\t11:00:00\tIAD89-C1\t1\t200\tHit\t0.001\t-\t-\t-\n");
                prefix_records += 1;
            }
        }
        bytes.extend_from_slice(&noise);
        let config = two_sets();
        let whole = feed(&config, &bytes, &[bytes.len().max(1)]);
        let chunked = feed(&config, &bytes, &sizes);
        if let Ok(w) = &whole {
            check_invariants(w);
        }
        if valid_prefix {
            let w = whole.as_ref().expect("a valid first kilobyte passes the text check");
            // The noise may continue the last prefix line, never remove a record before it.
            prop_assert!(w.1.records >= prefix_records - 1);
        }
        prop_assert_eq!(whole, chunked);
        let _ = parse_chunked(&bytes, &sizes);
    }

    /// Damaged gzip (bytes flipped, cut short, garbage appended) never panics the pipeline: the
    /// file either processes or fails with an error naming it.
    #[test]
    fn damaged_gzip_never_panics(
        recs in prop::collection::vec(rec(), 1..80),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
        tail in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let text = [HEADER.to_owned(), file(&recs).join("\n")].concat();
        let mut gz = gzip(text.as_bytes());
        for (i, x) in &flips {
            let i = i.index(gz.len());
            gz[i] ^= x;
        }
        if let Some(c) = cut {
            gz.truncate(c.index(gz.len()));
        }
        gz.extend_from_slice(&tail);
        let config = two_sets();
        match pipeline::process_reader("bad.gz", "bad.gz", &gz[..], &config, at(NOW), u64::MAX) {
            Ok(f) => {
                let _ = View::of(&f);
            }
            Err(e) => prop_assert!(e.to_string().starts_with("bad.gz: "), "{}", e),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Shuffling the data lines (header kept first) gives identical datums and aggregates, with
    /// several dimension sets and a cardinality guard low enough to fold values (ties included).
    #[test]
    fn aggregation_is_independent_of_record_order(
        (recs, order) in prop::collection::vec(rec(), 1..250).prop_flat_map(|v| {
            let n = v.len();
            (Just(v), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        }),
        max_values in 1usize..5,
    ) {
        let mut config = config(
            "DistributionId;DistributionId,EdgeLocation;DistributionId,StatusCode;DistributionId,EdgeLocation,ResultType",
        );
        config.max_dimension_values = max_values;
        let lines = file(&recs);
        let text = |order: &mut dyn Iterator<Item = usize>| -> Vec<u8> {
            let mut s = HEADER.to_owned();
            for i in order {
                s.push_str(&lines[i]);
                s.push('\n');
            }
            s.into_bytes()
        };
        let original = text(&mut (0..recs.len()));
        let shuffled = text(&mut order.iter().copied());
        let a = process("a.log", &original, &config, at(NOW));
        let b = process("b.log", &shuffled, &config, at(NOW));
        prop_assert_eq!(a.report.parse.records, recs.len() as u64);
        prop_assert_eq!(&a.aggregate, &b.aggregate);
        let da = datums(&a.aggregate, &config);
        let db = datums(&b.aggregate, &config);
        prop_assert!(!da.is_empty() || a.aggregate.totals.cell.requests == 0);
        prop_assert_eq!(da, db);
        prop_assert_eq!(a.batches, b.batches);
    }
}

/// The "huge field" of the mangling above stays below MAX_RECORD_BYTES; a line of twice that is
/// rejected as too long and skipped through the pipeline (256 KiB chunks), the next line is read.
#[test]
fn overlong_line_is_rejected_through_the_pipeline() {
    let mut text = HEADER.as_bytes().to_vec();
    text.extend_from_slice(b"2024-11-15\t11:00:00\tIAD89-C1\t7\t200\tHit\t0.001\t-\t");
    text.extend(std::iter::repeat_n(b'x', 2 * MAX_RECORD_BYTES));
    text.extend_from_slice(b"\t-\n2024-11-15\t11:00:01\tIAD89-C1\t5\t200\tHit\t0.001\t-\t-\t-\n");
    let f = process("long.log", &text, &two_sets(), at(NOW));
    assert_eq!(f.report.parse.records, 1);
    assert_eq!(f.report.parse.rejected, 1);
    assert_eq!(f.aggregate.totals.cell.bytes_downloaded, 5);
}

// ---------------------------------------------------------------------------------------------
// Known library bugs, found by these tests. Each is reported with its reproduction; remove the
// `#[ignore]` once fixed.
// ---------------------------------------------------------------------------------------------

/// Regression: a line longer than `MAX_RECORD_BYTES` is rejected wherever the chunks end (it was
/// once accepted when its newline arrived in the same chunk).
#[test]
fn overlong_line_rejected_whatever_the_chunking() {
    let mut text = HEADER.as_bytes().to_vec();
    let line_start = text.len();
    text.extend_from_slice(b"2024-11-15\t11:00:00\tIAD89-C1\t7\t200\tHit\t0.001\t-\t");
    text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
    text.extend_from_slice(b"\t-\n2024-11-15\t11:00:01\tIAD89-C1\t5\t200\tHit\t0.001\t-\t-\t-\n");
    let config = two_sets();
    let whole = feed(&config, &text, &[text.len()]).unwrap();
    let split = line_start + MAX_RECORD_BYTES + 20;
    let chunked = feed(&config, &text, &[split, text.len()]).unwrap();
    let piped = process("long.log", &text, &config, at(NOW));
    assert_eq!(chunked.1.rejected, 1);
    assert_eq!(chunked.2.totals.cell.bytes_downloaded, 5);
    assert_eq!(piped.report.parse, chunked.1, "through process_reader");
    assert_eq!(whole.1, chunked.1, "in one call");
}

/// Regression: a line that opens a JSON object and never closes it once made `FileProcessor::feed`
/// rescan the buffer line by line, quadratically (~10 s in release for 880 KB after `{"a":{`).
#[test]
fn unclosed_json_object_does_not_make_parsing_quadratic() {
    let lines = |bad: bool| {
        let mut s = String::from("#Fields: date time sc-bytes\n");
        if bad {
            s.push_str("{\"a\":{\n");
        }
        for i in 0..20_000 {
            s.push_str(&format!("2024-11-15\t11:{:02}:00\t1\n", i % 60));
        }
        s.into_bytes()
    };
    let config = two_sets();
    let time = |bytes: &[u8]| {
        let t = std::time::Instant::now();
        let f = process("x.log", bytes, &config, at(NOW));
        (t.elapsed(), f)
    };
    let (good_t, good) = time(&lines(false));
    let (bad_t, bad) = time(&lines(true));
    assert_eq!(bad.report.parse.records, good.report.parse.records);
    assert_eq!(bad.report.parse.rejected, 1);
    assert!(
        bad_t < good_t * 20 + std::time::Duration::from_millis(500),
        "{bad_t:?} with the unclosed object vs {good_t:?} without"
    );
}

/// Regression: objects written back to back on one line (Firehose without a newline delimiter)
/// are each read; the objects after the first were once dropped without being counted.
#[test]
fn every_json_object_on_a_line_is_read() {
    let obj = |s: u32| {
        format!("{{\"date\":\"2024-11-15\",\"time\":\"11:00:{s:02}\",\"sc-bytes\":\"10\"}}")
    };
    for input in [
        format!("{}{}\n{}\n", obj(1), obj(2), obj(3)),
        format!("{} {}\n", obj(1), obj(2)),
    ] {
        let mut p = LogParser::new();
        let mut n = 0u64;
        p.process(input.as_bytes(), true, |_| n += 1).unwrap();
        let stats = p.into_stats();
        let objects = input.matches('{').count() as u64;
        assert!(
            n == objects || stats.rejected > 0,
            "{input:?}: {n} records of {objects} objects, {} rejected",
            stats.rejected
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 11: no input can poison a file.
// ---------------------------------------------------------------------------------------------

/// Whether CloudWatch accepts a dimension value: 1 to 1024 ASCII characters, no control
/// character, at least one that is not whitespace. Written from CloudWatch's rules, not from the
/// library's escape.
fn cloudwatch_accepts(v: &str) -> bool {
    (1..=1024).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
        && v.bytes().any(|b| !b.is_ascii_whitespace())
}

/// A file whose `x-host-header` values are the given bytes (tabs, newlines and carriage returns,
/// which end a field or a line, removed), after a valid first kilobyte so that control bytes
/// pass the text check. Returns the file and the distinct hosts as the parser reads them.
fn hosts_file(hosts: &[Vec<u8>]) -> (Vec<u8>, BTreeSet<Vec<u8>>) {
    let mut bytes =
        b"#Version: 1.0\n#Fields: date time x-edge-location sc-bytes x-host-header\n".to_vec();
    let mut distinct = BTreeSet::new();
    while bytes.len() < 1100 {
        bytes.extend_from_slice(b"2024-11-15\t11:00:00\tIAD89-C1\t1\tplain.example.com\n");
        distinct.insert(b"plain.example.com".to_vec());
    }
    for h in hosts {
        let h: Vec<u8> = h
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
            .collect();
        bytes.extend_from_slice(b"2024-11-15\t11:00:00\tIAD89-C1\t1\t");
        bytes.extend_from_slice(&h);
        bytes.push(b'\n');
        // `-` is "no value", like an empty field.
        distinct.insert(if h == b"-" { Vec::new() } else { h });
    }
    (bytes, distinct)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any bytes map to a value CloudWatch accepts, and distinct bytes to distinct values (`-` is
    /// "no value" in a log, as the empty field it is read as, and both are sent as `-`).
    #[test]
    fn dimension_values_are_always_valid_and_distinct(
        values in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..40),
                prop::collection::vec(prop::sample::select(b" \t%~-aZ\x7f\xc3\xa9".to_vec()), 0..8),
                prop::collection::vec(any::<u8>(), 300..1500),
            ],
            1..40,
        ),
        long_tail in prop::collection::vec(any::<u8>(), 1..4),
    ) {
        use cloudfront_log_metrics::dimension_value::dimension_value;
        let mut values = values;
        // Two long values that differ only at their end.
        let mut long = vec![b'a'; 2000];
        values.push(long.clone());
        long.extend_from_slice(&long_tail);
        values.push(long);
        let mut seen: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for v in &values {
            let out = dimension_value(v);
            prop_assert!(cloudwatch_accepts(&out), "{:?} -> {:?}", v, out);
            prop_assert_eq!(dimension_value(v), out.clone(), "deterministic");
            let v = if v == b"-" { Vec::new() } else { v.clone() };
            if let Some(before) = seen.insert(out.to_string(), v.clone()) {
                prop_assert_eq!(&before, &v, "two values map to {:?}", out);
            }
        }
    }

    /// The same through the whole pipeline, as a dry run would print it: every Host value sent
    /// is valid, and no two hosts are merged.
    #[test]
    fn dimension_values_sent_are_valid_and_distinct(
        hosts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1200), 1..20),
    ) {
        let (bytes, distinct) = hosts_file(&hosts);
        let mut config = config("DistributionId,Host");
        config.max_dimension_values = 1000;
        let f = process("hosts.log", &bytes, &config, at(NOW));
        prop_assert_eq!(f.report.parse.rejected, 0);
        let sent: BTreeSet<String> = f
            .datums()
            .filter(|d| !d.metric.is_freshness())
            .map(|d| d.dimensions[1].1.clone())
            .collect();
        for v in &sent {
            prop_assert!(cloudwatch_accepts(v), "{:?}", v);
        }
        prop_assert_eq!(sent.len(), distinct.len());
    }
}

/// The largest byte count a line may carry: 1 PiB (2^50).
const MAX_BYTES: u64 = 1 << 50;

/// One generated byte count: in range (the bound included), just above it, 19 or 20 digits, or
/// `u64::MAX` and above.
fn byte_count() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..=1000).prop_map(|n| n.to_string()),
        Just(MAX_BYTES.to_string()),
        (MAX_BYTES - 100..=MAX_BYTES).prop_map(|n| n.to_string()),
        (MAX_BYTES + 1..MAX_BYTES + 100).prop_map(|n| n.to_string()),
        Just("9999999999999999999".to_owned()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("000000000000000000000000042".to_owned()),
        (10_000_000_000_000_000_000u128..=u128::from(u64::MAX)).prop_map(|n| n.to_string()),
    ]
}

/// A parsed byte count the way the bound reads it: `None` when the line must be rejected.
fn plausible_bytes(s: &str) -> Option<u64> {
    let n: u128 = s.parse().ok()?;
    (n <= u128::from(MAX_BYTES)).then_some(n as u64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Extreme byte counts (20 digits, `u64::MAX`, just above the 1 PiB bound) never panic, never
    /// wrap a sum: a line whose sc-bytes or cs-bytes is above the bound is rejected and counted,
    /// the others are summed exactly.
    #[test]
    fn extreme_byte_counts_are_rejected_and_sums_never_wrap(
        lines in prop::collection::vec((byte_count(), byte_count()), 1..60),
    ) {
        let mut text = "#Fields: date time sc-bytes cs-bytes\n".to_owned();
        let (mut rejected, mut down, mut up, mut accepted) = (0u64, 0u128, 0u128, 0u64);
        for (sc, cs) in &lines {
            text.push_str(&format!("2024-11-15\t11:00:00\t{sc}\t{cs}\n"));
            match (plausible_bytes(sc), plausible_bytes(cs)) {
                (Some(a), Some(b)) => {
                    down += u128::from(a);
                    up += u128::from(b);
                    accepted += 1;
                }
                _ => rejected += 1,
            }
        }
        let f = process("x.log", text.as_bytes(), &two_sets(), at(NOW));
        prop_assert_eq!(f.report.parse.rejected, rejected);
        prop_assert_eq!(f.report.parse.records, accepted);
        let t = &f.aggregate.totals.cell;
        // At most 60 lines of 2^50: the exact sum fits; a wrap would make it smaller.
        prop_assert_eq!(u128::from(t.bytes_downloaded), down);
        prop_assert_eq!(u128::from(t.bytes_uploaded), up);
        for r in &f.report.parse.reject_samples {
            let why = r.reason.to_string();
            prop_assert!(why.contains("sc-bytes") || why.contains("cs-bytes"), "{}", why);
        }
    }
}

/// Sums of in-range values saturate rather than wrap: 20,000 lines of 1 PiB in one minute are
/// more than `u64::MAX` bytes.
#[test]
fn byte_sums_saturate() {
    let mut text = "#Fields: date time sc-bytes cs-bytes\n".to_owned();
    for _ in 0..20_000 {
        text.push_str(&format!("2024-11-15\t11:00:00\t{MAX_BYTES}\t1\n"));
    }
    let f = process("x.log", text.as_bytes(), &two_sets(), at(NOW));
    assert_eq!(f.report.parse.rejected, 0);
    assert_eq!(f.aggregate.totals.cell.bytes_downloaded, u64::MAX);
    assert_eq!(f.aggregate.totals.cell.bytes_uploaded, 20_000);
    assert_eq!(f.aggregate.totals.cell.requests, 20_000);
}

/// A latency above its bound (7 days) rejects the line; at the bound it is read.
#[test]
fn implausible_latencies_are_rejected() {
    let text = "#Fields: date time time-taken time-to-first-byte origin-fbl origin-lbl\n\
        2024-11-15\t11:00:00\t604800.000\t604800\t604800\t604800\n\
        2024-11-15\t11:00:00\t604800.001\t-\t-\t-\n\
        2024-11-15\t11:00:00\t-\t604801\t-\t-\n\
        2024-11-15\t11:00:00\t-\t-\t4294967.295\t-\n\
        2024-11-15\t11:00:00\t-\t-\t-\t99999999999999999999\n";
    let f = process("x.log", text.as_bytes(), &two_sets(), at(NOW));
    assert_eq!(f.report.parse.records, 1);
    assert_eq!(f.report.parse.rejected, 4);
    let why: Vec<String> = f
        .report
        .parse
        .reject_samples
        .iter()
        .map(|r| r.reason.to_string())
        .collect();
    assert!(why[0].starts_with("field time-taken is "), "{why:?}");
    assert!(
        why[1].starts_with("field time-to-first-byte is "),
        "{why:?}"
    );
    assert!(why[2].starts_with("field origin-fbl is "), "{why:?}");
    assert!(why[3].starts_with("field origin-lbl is "), "{why:?}");
}

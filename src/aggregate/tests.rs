//! Unit tests of the aggregate stage.

use super::*;
use crate::catalogue::Metric;
use crate::config::parse_dimension_sets;
use crate::parse::LogParser;

const NOW: i64 = 1_700_000_000_000; // 2023-11-14T22:13:20Z

fn aggregate(config: &MetricsConfig, input: &str) -> FileAggregate {
    let mut agg = Aggregator::new(config, "E2Q4ABCDEFGH", NOW);
    let mut p = LogParser::new();
    p.process(input.as_bytes(), true, |r| agg.add(r)).unwrap();
    agg.finish()
}

fn log(lines: &[&str]) -> String {
    let mut s = String::from(
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes sc-status x-edge-result-type time-taken cs-bytes\n",
    );
    for l in lines {
        s.push_str(&l.replace(' ', "\t"));
        s.push('\n');
    }
    s
}

#[test]
fn per_minute_sums_and_classes() {
    let input = log(&[
        "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
        "2023-11-14 22:00:59 IAD1 50 404 Miss 0.020 5",
        "2023-11-14 22:01:00 FRA2 7 000 Error 0.010 -",
        "2023-11-14 22:01:30 FRA2 - 503 Weird - 1",
    ]);
    let a = aggregate(&MetricsConfig::default(), &input);
    assert_eq!(a.rows.len(), 2);
    let c0 = &a.rows[0].cell;
    assert_eq!(a.rows[0].minute_ms, 1_699_999_200_000);
    assert_eq!(
        a.rows[0].dimensions,
        vec![(DimensionKey::DistributionId, "E2Q4ABCDEFGH".to_owned())]
    );
    assert_eq!(
        (c0.requests, c0.bytes_downloaded, c0.bytes_uploaded),
        (2, 150, 10)
    );
    assert_eq!(c0.sum(Metric::Hit), 1);
    assert_eq!(c0.sum(Metric::Status4xx), 1);
    assert_eq!(c0.latency[0].sorted(), vec![(10, 1), (20, 1)]);
    let c1 = &a.rows[1].cell;
    assert_eq!(c1.sum(Metric::Status000), 1);
    assert_eq!(c1.sum(Metric::Status5xx), 1);
    assert_eq!(c1.sum(Metric::OtherResult), 1);
    assert_eq!(c1.sum(Metric::Error), 1);
    assert_eq!(c1.latency[0].count(), 1);
    assert_eq!(a.totals.cell.requests, 4);
}

#[test]
fn stale_records_are_skipped_and_counted() {
    let input = log(&[
        "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
        "2023-10-01 22:00:01 IAD1 100 200 Hit 0.010 5",
        "2023-11-15 02:00:01 IAD1 100 200 Hit 0.010 5",
    ]);
    let a = aggregate(&MetricsConfig::default(), &input);
    assert_eq!(a.skipped_stale, 2);
    assert_eq!(a.kept_outside_window, 0);
    assert_eq!(a.totals.cell.requests, 1);
}

#[test]
fn a_dry_run_keeps_records_outside_the_window_and_counts_them() {
    let input = log(&[
        "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
        "2023-10-01 22:00:01 IAD1 100 200 Hit 0.010 5",
        "2023-11-15 02:00:01 IAD1 100 200 Hit 0.010 5",
    ]);
    let config = MetricsConfig::default();
    let mut agg = Aggregator::new(&config, "E2Q4ABCDEFGH", Window::KeepAll(NOW));
    let mut p = LogParser::new();
    p.process(input.as_bytes(), true, |r| agg.add(r)).unwrap();
    let a = agg.finish();
    assert_eq!((a.skipped_stale, a.kept_outside_window), (0, 2));
    assert_eq!(a.totals.cell.requests, 3);
    assert_eq!(a.rows.len(), 3, "one row per minute, the old one included");
}

#[test]
fn dimension_sets_roll_up_separately() {
    let config = MetricsConfig {
        dimension_sets: parse_dimension_sets("x", "DistributionId;DistributionId,EdgeLocation")
            .unwrap(),
        ..MetricsConfig::default()
    };
    let input = log(&[
        "2023-11-14 22:00:01 IAD1 100 200 Hit 0.010 5",
        "2023-11-14 22:00:02 FRA2 100 200 Hit 0.010 5",
        "2023-11-14 22:00:03 FRA2 100 200 Hit 0.010 5",
    ]);
    let a = aggregate(&config, &input);
    assert_eq!(a.rows.len(), 3);
    assert_eq!(a.rows[0].cell.requests, 3);
    assert_eq!(a.rows[1].dimensions[1].1, "FRA2");
    assert_eq!(a.rows[1].cell.requests, 2);
    assert_eq!(a.rows[2].dimensions[1].1, "IAD1");
}

#[test]
fn cardinality_guard_folds_the_quiet_values() {
    let config = MetricsConfig {
        dimension_sets: parse_dimension_sets("x", "DistributionId,EdgeLocation").unwrap(),
        max_dimension_values: 3,
        ..MetricsConfig::default()
    };
    let mut lines = Vec::new();
    for (pop, n) in [
        ("AAA1", 5),
        ("BBB1", 4),
        ("CCC1", 3),
        ("DDD1", 2),
        ("EEE1", 1),
    ] {
        for _ in 0..n {
            lines.push(format!("2023-11-14 22:00:01 {pop} 1 200 Hit 0.010 5"));
        }
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let a = aggregate(&config, &log(&refs));
    let got: Vec<(String, u64)> = a
        .rows
        .iter()
        .map(|r| (r.dimensions[1].1.clone(), r.cell.requests))
        .collect();
    assert_eq!(
        got,
        vec![
            ("AAA1".to_owned(), 5),
            ("BBB1".to_owned(), 4),
            ("Other".to_owned(), 6)
        ]
    );
    assert_eq!(a.folded_values, 3);
}

#[test]
fn early_folds_bound_memory_and_keep_totals_exact() {
    let config = MetricsConfig {
        dimension_sets: parse_dimension_sets("x", "DistributionId;DistributionId,EdgeLocation")
            .unwrap(),
        max_dimension_values: 3,
        ..MetricsConfig::default()
    };
    // Two busy edges throughout, and 2,000 edges seen once each, over three minutes.
    let mut text = log(&[]);
    for i in 0..2_000 {
        let minute = i % 3;
        for pop in ["BUSY1", "BUSY2"] {
            text.push_str(&format!(
                "2023-11-14\t22:0{minute}:01\t{pop}\t1\t200\tHit\t0.010\t5\n"
            ));
        }
        text.push_str(&format!(
            "2023-11-14\t22:0{minute}:02\tONCE{i}\t1\t200\tHit\t0.010\t5\n"
        ));
    }
    let mut agg = Aggregator::new(&config, "E2Q4ABCDEFGH", NOW).with_fold_at(64);
    let mut p = LogParser::new();
    let mut most_cells = 0;
    p.process(text.as_bytes(), true, |r| {
        agg.add(r);
        most_cells = most_cells.max(agg.rows.len());
    })
    .unwrap();
    let edge_values = agg.interners[DimensionKey::EdgeLocation.index()]
        .values
        .len();
    assert!(edge_values <= 64, "{edge_values} values held");
    // 3 minutes x (1 + at most 64 values + Other) cells.
    assert!(most_cells <= 3 * 66, "{most_cells} cells held");
    let a = agg.finish();
    let per_edge: BTreeMap<String, u64> =
        a.rows
            .iter()
            .filter(|r| r.set == 1)
            .fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r.dimensions[1].1.clone()).or_default() += r.cell.requests;
                m
            });
    assert_eq!(per_edge.values().sum::<u64>(), 6_000, "{per_edge:?}");
    assert_eq!(a.totals.cell.requests, 6_000);
    assert_eq!(per_edge.len(), 3, "{per_edge:?}");
    assert_eq!(per_edge["BUSY1"], 2_000);
    assert_eq!(per_edge["BUSY2"], 2_000);
    assert_eq!(per_edge["Other"], 2_000);
}

#[test]
fn empty_dimension_values_become_dash() {
    let config = MetricsConfig {
        dimension_sets: parse_dimension_sets("x", "DistributionId,Country").unwrap(),
        ..MetricsConfig::default()
    };
    let a = aggregate(
        &config,
        &log(&["2023-11-14 22:00:01 IAD1 1 200 Hit 0.010 5"]),
    );
    assert_eq!(a.rows[0].dimensions[1].1, "-");
}

#[test]
fn dimension_values_are_escaped_for_cloudwatch() {
    let config = MetricsConfig {
        dimension_sets: parse_dimension_sets("x", "DistributionId,Host").unwrap(),
        ..MetricsConfig::default()
    };
    let mut input = b"#Fields: date time x-host-header\n".to_vec();
    // A first kilobyte of text, so that the control byte below passes the text check.
    while input.len() < 1100 {
        input.extend_from_slice(b"2023-11-14\t22:00:01\tpad\n");
    }
    for host in [
        &b"caf\xc3\xa9.example"[..],
        b"  ",
        b"a\x01b",
        b"\xff",
        b"50%",
    ] {
        input.extend_from_slice(b"2023-11-14\t22:00:01\t");
        input.extend_from_slice(host);
        input.push(b'\n');
    }
    let mut agg = Aggregator::new(&config, "E2Q4ABCDEFGH", NOW);
    LogParser::new()
        .process(&input, true, |r| agg.add(r))
        .unwrap();
    let got: Vec<String> = agg
        .finish()
        .rows
        .iter()
        .map(|r| r.dimensions[1].1.clone())
        .filter(|v| v != "pad")
        .collect();
    assert_eq!(
        got,
        ["%20%20", "%FF", "50%25", "a%01b", "caf%C3%A9.example"]
    );
}

#[test]
fn sums_saturate_rather_than_wrap() {
    let mut a = Cell {
        requests: u64::MAX - 1,
        bytes_downloaded: u64::MAX - 5,
        bytes_uploaded: 7,
        results: [u64::MAX; 9],
        statuses: [u64::MAX - 1; 5],
        ..Cell::default()
    };
    a.latency[0].add(5, u64::MAX - 1);
    let mut b = Cell {
        requests: 3,
        bytes_downloaded: 10,
        bytes_uploaded: 1,
        results: [1; 9],
        statuses: [2; 5],
        ..Cell::default()
    };
    b.latency[0].add(5, 3);
    b.latency[0].add(6, u64::MAX);
    a.merge(&b);
    assert_eq!(a.requests, u64::MAX);
    assert_eq!(a.bytes_downloaded, u64::MAX);
    assert_eq!(a.bytes_uploaded, 8);
    assert_eq!(a.results, [u64::MAX; 9]);
    assert_eq!(a.statuses, [u64::MAX; 5]);
    assert_eq!(a.latency[0].sorted(), vec![(5, u64::MAX), (6, u64::MAX)]);
    assert_eq!(a.latency[0].count(), u64::MAX);
    assert_eq!(a.latency[0].percentile(50.0), Some(5));
}

#[test]
fn percentiles_nearest_rank() {
    let mut h = Histogram::default();
    for v in 1..=100 {
        h.add(v, 1);
    }
    assert_eq!(h.percentile(50.0), Some(50));
    assert_eq!(h.percentile(99.0), Some(99));
    assert_eq!(h.percentile(100.0), Some(100));
    assert_eq!(Histogram::default().percentile(50.0), None);
}

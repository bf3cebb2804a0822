//! Property test of issue 16: the same records written as v2 W3C, v2 JSON and Parquet (string
//! columns as AWS documents them, hyphenated or underscored names, or typed numbers) produce
//! identical datums. Every file goes through `pipeline::process_local`, which tells Parquet
//! from text by its content.

#[path = "support/parquet_writer.rs"]
mod parquet_writer;

use cloudfront_log_metrics::config::{MetricsConfig, parse_dimension_sets};
use cloudfront_log_metrics::parse::Format;
use cloudfront_log_metrics::parse::value::civil_from_days;
use cloudfront_log_metrics::pipeline::{self, ProcessedFile};
use parquet::basic::{Compression, ZstdLevel};
use parquet_writer::{ColumnType, Options};
use proptest::prelude::*;

/// 2026-11-20T12:00:00Z; the window is evaluated an hour after the records.
const START_S: i64 = 1_795_176_000;
const NOW_MS: i64 = (START_S + 4 * 3600) * 1000;

/// (field, its Parquet column type in the typed variant)
const FIELDS: [(&str, ColumnType); 10] = [
    ("date", ColumnType::Date),
    ("time", ColumnType::Utf8),
    ("x-edge-location", ColumnType::Utf8),
    ("sc-bytes", ColumnType::Int64),
    ("sc-status", ColumnType::Int64),
    ("x-edge-result-type", ColumnType::Utf8),
    ("time-taken", ColumnType::Double),
    ("time-to-first-byte", ColumnType::Double),
    ("cs-method", ColumnType::Utf8),
    ("c-ip", ColumnType::Utf8),
];

/// One record's values in [`FIELDS`] order (`None`: the field is `-`).
type Row = Vec<Option<String>>;

fn row() -> impl Strategy<Value = Row> {
    (
        0i64..3 * 3600,
        prop_oneof!["IAD89-C1", "FRA56-P2", "NRT57-C3"],
        prop::option::weighted(0.9, 0u64..5_000_000),
        prop::option::weighted(
            0.95,
            prop_oneof![Just(200u16), Just(304), Just(404), Just(503)],
        ),
        prop_oneof!["Hit", "Miss", "Error", "RefreshHit"],
        prop::option::weighted(0.9, 0u32..60_000),
        prop::option::weighted(0.8, 0u32..60_000),
        prop_oneof!["GET", "POST"],
    )
        .prop_map(|(sec, edge, sc, status, result, tt, ttfb, method)| {
            let t = START_S + sec;
            let (y, m, d) = civil_from_days(t.div_euclid(86_400));
            let sod = t.rem_euclid(86_400);
            let ms = |v: u32| format!("{}.{:03}", v / 1000, v % 1000);
            vec![
                Some(format!("{y:04}-{m:02}-{d:02}")),
                Some(format!(
                    "{:02}:{:02}:{:02}",
                    sod / 3600,
                    sod % 3600 / 60,
                    sod % 60
                )),
                Some(edge.to_owned()),
                sc.map(|v| v.to_string()),
                status.map(|v| v.to_string()),
                Some(result.to_owned()),
                tt.map(ms),
                ttfb.map(ms),
                Some(method.to_owned()),
                Some("192.0.2.1".to_owned()),
            ]
        })
}

fn w3c(rows: &[Row]) -> Vec<u8> {
    let names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    let mut s = format!("#Version: 1.0\n#Fields: {}\n", names.join(" "));
    for r in rows {
        let v: Vec<&str> = r.iter().map(|v| v.as_deref().unwrap_or("-")).collect();
        s.push_str(&v.join("\t"));
        s.push('\n');
    }
    s.into_bytes()
}

/// v2 JSON: every value a string, as AWS documents it; a missing value is `-`.
fn json(rows: &[Row]) -> Vec<u8> {
    let mut s = String::new();
    for r in rows {
        let obj: serde_json::Map<String, serde_json::Value> = FIELDS
            .iter()
            .zip(r)
            .map(|(f, v)| (f.0.to_owned(), v.as_deref().unwrap_or("-").into()))
            .collect();
        s.push_str(&serde_json::Value::Object(obj).to_string());
        s.push('\n');
    }
    s.into_bytes()
}

fn parquet(rows: &[Row], underscored: bool, typed: bool) -> Vec<u8> {
    let names: Vec<String> = FIELDS
        .iter()
        .map(|f| match underscored {
            true => f.0.replace('-', "_"),
            false => f.0.to_owned(),
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let types: Vec<ColumnType> = FIELDS
        .iter()
        .map(|f| if typed { f.1 } else { ColumnType::Utf8 })
        .collect();
    // Strings: `-` for a missing value as in the text formats; typed: null.
    let rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match (v, typed) {
                    (None, false) => Some("-".to_owned()),
                    (v, _) => v.clone(),
                })
                .collect()
        })
        .collect();
    let options = Options {
        row_group_rows: 37,
        compression: Compression::ZSTD(ZstdLevel::default()),
        page_rows: 16,
    };
    parquet_writer::write(&names, &types, &rows, options)
}

fn process(
    dir: &std::path::Path,
    name: &str,
    bytes: &[u8],
    config: &MetricsConfig,
) -> ProcessedFile {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    pipeline::process_local(name, name, f, config, NOW_MS, u64::MAX).unwrap()
}

fn datums(p: &ProcessedFile) -> Vec<String> {
    p.datums().map(|d| format!("{d:?}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn w3c_json_and_parquet_give_the_same_datums(
        rows in prop::collection::vec(row(), 1..200),
        underscored: bool,
        typed: bool,
    ) {
        let config = MetricsConfig {
            distribution_id: Some("E2Q4ABCDEFGH".to_owned()),
            dimension_sets: parse_dimension_sets("t", "DistributionId;DistributionId,EdgeLocation")
                .unwrap(),
            ..MetricsConfig::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let text = process(dir.path(), "a.log", &w3c(&rows), &config);
        let js = process(dir.path(), "b.json", &json(&rows), &config);
        let pq = process(dir.path(), "c.log", &parquet(&rows, underscored, typed), &config);
        prop_assert_eq!(text.report.format, Some(Format::W3c));
        prop_assert_eq!(js.report.format, Some(Format::Json));
        prop_assert_eq!(pq.report.format, Some(Format::Parquet));
        prop_assert_eq!(text.report.parse.records, rows.len() as u64);
        prop_assert_eq!(pq.report.parse.records, rows.len() as u64);
        prop_assert!(text.datum_count() > 0);
        prop_assert_eq!(datums(&text), datums(&js));
        prop_assert_eq!(datums(&text), datums(&pq));
    }
}

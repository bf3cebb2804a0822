//! The Parquet reader over files written by the `parquet` crate's own writer, compared with the
//! same records as W3C text.

#[path = "../../tests/support/parquet_writer.rs"]
mod parquet_writer;

use super::*;
use crate::aggregate::FileAggregate;
use crate::config::MetricsConfig;
use crate::pipeline::{FileProcessor, ParquetProcessor};
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet_writer::{ColumnType, Options, write};

const NOW: i64 = 1_700_000_000_000;

/// Fields as CloudFront names them, a subset of the catalogue's and some it does not read.
const FIELDS: [&str; 9] = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "sc-status",
    "x-edge-result-type",
    "time-taken",
    "cs(User-Agent)",
];

fn rows(n: usize) -> Vec<Vec<Option<String>>> {
    (0..n)
        .map(|i| {
            let v = [
                "2023-11-14".to_owned(),
                format!("22:{:02}:{:02}", i % 60, i % 7),
                format!("IAD{}-C1", i % 3),
                (i * 37 % 5000).to_string(),
                format!("192.0.2.{}", i % 250),
                ["200", "304", "404", "503"][i % 4].to_owned(),
                ["Hit", "Miss", "Error", "RefreshHit"][i % 4].to_owned(),
                format!("0.{:03}", i % 997),
                "Mozilla/5.0%20(X11)".to_owned(),
            ];
            v.into_iter().map(Some).collect()
        })
        .collect()
}

fn w3c(rows: &[Vec<Option<String>>]) -> Vec<u8> {
    let mut s = format!("#Version: 1.0\n#Fields: {}\n", FIELDS.join(" "));
    for r in rows {
        let line: Vec<&str> = r.iter().map(|v| v.as_deref().unwrap_or("-")).collect();
        s.push_str(&line.join("\t"));
        s.push('\n');
    }
    s.into_bytes()
}

fn text_aggregate(
    config: &MetricsConfig,
    text: &[u8],
) -> (crate::parse::ParseStats, FileAggregate) {
    let mut p = FileProcessor::new(config, "E2Q4ABCDEFGH", NOW);
    p.feed(text).unwrap();
    let (_, stats, agg) = p.finish().unwrap();
    (stats, agg)
}

/// Reads `file` whole through the processor, counting the bytes fetched.
fn parquet_aggregate(
    config: &MetricsConfig,
    file: &[u8],
) -> Result<crate::pipeline::ProcessedFile, ParquetError> {
    let mut p = ParquetProcessor::new(config, "E2Q4ABCDEFGH", NOW, file.len() as u64);
    while let Some(ranges) = p.wants()? {
        let fetched = ranges
            .into_iter()
            .map(|r| {
                (
                    r.start,
                    Bytes::copy_from_slice(&file[r.start as usize..r.end as usize]),
                )
            })
            .collect();
        p.supply(fetched)?;
    }
    Ok(p.finish("f.parquet", config))
}

fn all_utf8(n: usize) -> Vec<ColumnType> {
    vec![ColumnType::Utf8; n]
}

#[test]
fn parquet_gives_what_the_same_records_give_as_w3c() {
    let config = MetricsConfig::default();
    let rows = rows(3000);
    let (text_stats, text) = text_aggregate(&config, &w3c(&rows));
    assert_eq!(text_stats.records, 3000);
    let underscored: Vec<String> = FIELDS.iter().map(|f| columns::normalize(f)).collect();
    let underscored: Vec<&str> = underscored.iter().map(String::as_str).collect();
    for (names, compression) in [
        (&FIELDS[..], Compression::SNAPPY),
        (&underscored[..], Compression::ZSTD(ZstdLevel::default())),
        (&FIELDS[..], Compression::GZIP(GzipLevel::default())),
        (&underscored[..], Compression::LZ4_RAW),
        (&FIELDS[..], Compression::UNCOMPRESSED),
    ] {
        let options = Options {
            compression,
            row_group_rows: 700,
            page_rows: 256,
        };
        let file = write(names, &all_utf8(FIELDS.len()), &rows, options);
        let got = parquet_aggregate(&config, &file).unwrap();
        assert_eq!(got.report.format, Some(crate::parse::Format::Parquet));
        let stats = &got.report.parse;
        assert_eq!(
            (stats.records, stats.rejected),
            (text_stats.records, text_stats.rejected),
            "{compression:?} {names:?}"
        );
        assert_eq!(got.aggregate, text, "{compression:?} {names:?}");
    }
}

#[test]
fn typed_numbers_and_dates_read_as_their_text_does() {
    let config = MetricsConfig::default();
    let rows = rows(500);
    let (_, text) = text_aggregate(&config, &w3c(&rows));
    let mut types = all_utf8(FIELDS.len());
    types[0] = ColumnType::Date;
    types[3] = ColumnType::Int64;
    types[5] = ColumnType::Int64;
    types[7] = ColumnType::Double;
    let file = write(&FIELDS, &types, &rows, Options::default());
    let got = parquet_aggregate(&config, &file).unwrap();
    assert_eq!(got.report.parse.rejected, 0);
    assert_eq!(got.aggregate, text);
}

#[test]
fn only_the_needed_column_chunks_are_fetched() {
    let config = MetricsConfig::default();
    let rows = rows(4000);
    let options = Options {
        row_group_rows: 1000,
        ..Options::default()
    };
    let file = write(&FIELDS, &all_utf8(FIELDS.len()), &rows, options);
    let Tail::Ready(layout) = Layout::from_tail(&file, file.len() as u64, FieldSet::CORE).unwrap()
    else {
        panic!("the whole file holds the footer")
    };
    assert_eq!(layout.row_groups(), 4);
    let read: Vec<&str> = layout
        .projection()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert!(
        !read.contains(&"c-ip") && !read.contains(&"cs(User-Agent)"),
        "{read:?}"
    );
    let meta = layout.metadata();
    let mut all_needed = 0;
    for rg in 0..4 {
        let ranges = layout.ranges(rg).unwrap();
        let fetched: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        let needed: i64 = layout
            .projection()
            .iter()
            .map(|p| meta.row_group(rg).column(p.index).compressed_size())
            .sum();
        assert_eq!(fetched, needed as u64, "row group {rg}");
        all_needed += fetched;
        // The columns not read are not fetched.
        for (i, c) in meta.row_group(rg).columns().iter().enumerate() {
            if layout.projection().iter().any(|p| p.index == i) {
                continue;
            }
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset()) as u64;
            assert!(ranges.iter().all(|r| !r.contains(&start)), "column {i}");
        }
    }
    let got = parquet_aggregate(&config, &file).unwrap();
    assert_eq!(got.report.parse.records, 4000);
    // The tail (the footer), then exactly the needed chunks.
    let tail = TAIL_BYTES.min(file.len() as u64);
    assert_eq!(got.report.stream.compressed_bytes, tail + all_needed);
}

#[test]
fn unreadable_values_are_rejected_rows_with_their_reason() {
    let config = MetricsConfig::default();
    let mut rows = rows(10);
    rows[3][3] = Some("12x".to_owned());
    rows[6][0] = None;
    let file = write(&FIELDS, &all_utf8(FIELDS.len()), &rows, Options::default());
    let got = parquet_aggregate(&config, &file).unwrap();
    let stats = &got.report.parse;
    assert_eq!((stats.lines, stats.records, stats.rejected), (10, 8, 2));
    let samples: Vec<String> = stats
        .reject_samples
        .iter()
        .map(|r| format!("{}: {}", r.line, r.reason))
        .collect();
    assert_eq!(samples[0], "4: field sc-bytes is not a number");
    assert!(samples[1].starts_with("7: "), "{samples:?}");
}

#[test]
fn files_that_cannot_be_read_say_why() {
    let config = MetricsConfig::default();
    let file = write(
        &FIELDS,
        &all_utf8(FIELDS.len()),
        &rows(100),
        Options::default(),
    );
    // Truncated: no footer at the end.
    let e = parquet_aggregate(&config, &file[..file.len() - 3]).unwrap_err();
    assert_eq!(e, ParquetError::NoFooter);
    // A footer length beyond the file.
    let mut bad = file.clone();
    let n = bad.len();
    bad[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = parquet_aggregate(&config, &bad).unwrap_err();
    assert!(matches!(e, ParquetError::FooterTooLarge { .. }), "{e}");
    // No time column.
    let file = write(
        &["sc-bytes", "sc-status"],
        &all_utf8(2),
        &[],
        Options::default(),
    );
    let e = parquet_aggregate(&config, &file).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no column holds the request time (date and time, timestamp or timestamp(ms)); the file's columns: sc-bytes, sc-status"
    );
}

#[test]
fn corrupt_bytes_fail_the_file_never_the_process() {
    let config = MetricsConfig::default();
    let options = Options {
        row_group_rows: 50,
        compression: Compression::UNCOMPRESSED,
        page_rows: 20,
    };
    let file = write(&FIELDS, &all_utf8(FIELDS.len()), &rows(200), options);
    // Every 7th byte flipped in turn, footer included: each read ends, with records or an error.
    let mut errors = 0;
    for at in (4..file.len() - 8).step_by(7) {
        let mut bad = file.clone();
        bad[at] ^= 0x5a;
        if parquet_aggregate(&config, &bad).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0);
}

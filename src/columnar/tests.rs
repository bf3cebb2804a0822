//! The Parquet reader over files written by the `parquet` crate's own writer, compared with the
//! same records as W3C text.

#[path = "../../tests/support/parquet_writer.rs"]
mod parquet_writer;

use super::*;
use crate::aggregate::FileAggregate;
use crate::config::MetricsConfig;
use crate::pipeline::{FileProcessor, ParquetProcessor};
use pages::DEFAULT_MAX_PAGE_BYTES;
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

// Hostile files (issue 25): every size a file declares is checked before anything is allocated,
// and decompression stops at the declared size. Each read must end quickly with a clear error,
// and the process's peak memory stay far below what the file declares.

/// A small Thrift compact-protocol writer for page headers.
fn field_i32(out: &mut Vec<u8>, delta: u8, v: i32) {
    out.push(delta << 4 | 5);
    let mut z = ((v << 1) ^ (v >> 31)) as u32;
    while z >= 0x80 {
        out.push(z as u8 | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// A v1 data page header: PLAIN values, RLE levels.
fn data_page_header(uncompressed: i32, compressed: i32, num_values: i32) -> Vec<u8> {
    let mut h = Vec::new();
    field_i32(&mut h, 1, 0); // type: DATA_PAGE
    field_i32(&mut h, 1, uncompressed);
    field_i32(&mut h, 1, compressed);
    h.push(2 << 4 | 12); // field 5: data_page_header
    field_i32(&mut h, 1, num_values);
    field_i32(&mut h, 1, 0); // encoding PLAIN
    field_i32(&mut h, 1, 3); // definition levels RLE
    field_i32(&mut h, 1, 3); // repetition levels RLE
    h.push(0);
    h.push(0);
    h
}

/// A file of one string column, `timestamp`, whose only column chunk is `page` (a header and a
/// body, as it is) compressed with `codec`: the footer of a real file, its chunk replaced.
fn with_chunk(codec: Compression, page: &[u8]) -> Vec<u8> {
    use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
    let legit = write(
        &["timestamp"],
        &all_utf8(1),
        &[vec![Some("1700000000.000".to_owned())]],
        Options::default(),
    );
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&Bytes::from(legit))
        .unwrap();
    let rg = meta.row_group(0).clone();
    let col = rg
        .column(0)
        .clone()
        .into_builder()
        .set_data_page_offset(4)
        .set_dictionary_page_offset(None)
        .set_total_compressed_size(page.len() as i64)
        .set_compression(codec)
        .build()
        .unwrap();
    let rg = rg
        .into_builder()
        .set_column_metadata(vec![col])
        .build()
        .unwrap();
    let meta = meta.into_builder().set_row_groups(vec![rg]).build();
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(page);
    ParquetMetaDataWriter::new(&mut file, &meta)
        .finish()
        .unwrap();
    file
}

fn page(header: Vec<u8>, body: &[u8]) -> Vec<u8> {
    let mut p = header;
    p.extend_from_slice(body);
    p
}

/// The process's peak resident memory so far, in MiB (Linux).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// Reads a hostile file: it must fail, quickly, in flat memory.
fn refused(file: &[u8]) -> ParquetError {
    let config = MetricsConfig::default();
    let started = std::time::Instant::now();
    let e = parquet_aggregate(&config, file).expect_err("a hostile file is refused");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}: {e}",
        started.elapsed()
    );
    assert!(peak_rss_mib() < 768, "peak RSS {} MiB: {e}", peak_rss_mib());
    e
}

const GIB: i32 = 1 << 30;

#[test]
fn a_snappy_page_declaring_2_gb_is_refused_without_allocating_it() {
    let body = snap::raw::Encoder::new().compress_vec(b"tiny").unwrap();
    // The page header declares ~2 GB.
    let file = with_chunk(
        Compression::SNAPPY,
        &page(data_page_header(2_000_000_000, body.len() as i32, 1), &body),
    );
    assert!(file.len() < 1024, "{}", file.len());
    let e = refused(&file);
    assert_eq!(
        e,
        ParquetError::PageTooLarge {
            row_group: 0,
            column: "timestamp".to_owned(),
            declared: 2_000_000_000,
            max: DEFAULT_MAX_PAGE_BYTES,
        }
    );
    assert!(
        e.to_string().starts_with(
            "row group 0, column timestamp: a page declares 2000000000 bytes, more than the 16777216-byte page limit"
        ),
        "{e}"
    );
    // The header declares 100 bytes, the snappy preamble ~2 GB.
    let mut body = vec![0x80, 0xa8, 0xd6, 0xb9, 0x07];
    body.extend_from_slice(&[0; 16]);
    let file = with_chunk(
        Compression::SNAPPY,
        &page(data_page_header(100, body.len() as i32, 1), &body),
    );
    let e = refused(&file);
    assert!(
        e.to_string()
            .contains("snappy data declares 2000000000 bytes"),
        "{e}"
    );
}

/// `member` repeated to about a gibibyte of output: a decompression bomb of concatenated
/// gzip members or zstd frames.
fn bomb(member: &[u8]) -> Vec<u8> {
    member.repeat(1024)
}

#[test]
fn gzip_and_zstd_page_bombs_stop_at_the_declared_size() {
    use std::io::Write;
    let mib = vec![0u8; 1 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&mib).unwrap();
    let gzip = bomb(&gz.finish().unwrap());
    let zstd = bomb(&zstd::bulk::compress(&mib, 19).unwrap());
    for (codec, body) in [
        (Compression::GZIP(GzipLevel::default()), gzip),
        (Compression::ZSTD(ZstdLevel::default()), zstd),
    ] {
        // A header that tells the truth (a gibibyte) is refused before decompressing.
        let file = with_chunk(
            codec,
            &page(data_page_header(GIB, body.len() as i32, 1), &body),
        );
        let e = refused(&file);
        assert!(
            matches!(e, ParquetError::PageTooLarge { .. }),
            "{codec:?}: {e}"
        );
        // A header that declares 4 KiB: decompression stops there.
        let file = with_chunk(
            codec,
            &page(data_page_header(4096, body.len() as i32, 1), &body),
        );
        let e = refused(&file);
        let ParquetError::Decode {
            row_group: 0,
            column,
            detail,
        } = &e
        else {
            panic!("{codec:?}: {e}")
        };
        assert_eq!(column, "timestamp");
        assert!(
            detail.contains("more than the 4096 bytes") || detail.contains("zstd"),
            "{codec:?}: {e}"
        );
    }
}

#[test]
fn a_legitimate_value_beyond_the_page_limit_names_its_column() {
    let huge = "9".repeat(DEFAULT_MAX_PAGE_BYTES as usize + 1024);
    let mut rows = rows(3);
    rows[1][3] = Some(huge);
    let options = Options {
        compression: Compression::UNCOMPRESSED,
        ..Options::default()
    };
    let file = write(&FIELDS, &all_utf8(FIELDS.len()), &rows, options);
    let e = refused(&file);
    let ParquetError::PageTooLarge {
        row_group: 0,
        column,
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(column, "sc-bytes");
    // A higher limit reads it (its value is not a number: a rejected row).
    let config = MetricsConfig::default();
    let mut p = ParquetProcessor::new(&config, "E2Q4ABCDEFGH", NOW, file.len() as u64)
        .with_max_page_bytes(64 << 20);
    while let Some(ranges) = p.wants().unwrap() {
        let fetched = ranges
            .into_iter()
            .map(|r| {
                (
                    r.start,
                    Bytes::copy_from_slice(&file[r.start as usize..r.end as usize]),
                )
            })
            .collect();
        p.supply(fetched).unwrap();
    }
    let got = p.finish("f.parquet", &config);
    assert_eq!(
        (got.report.parse.records, got.report.parse.rejected),
        (2, 1)
    );
}

#[test]
fn a_footer_declaring_more_than_it_holds_is_refused() {
    let file = write(
        &FIELDS,
        &all_utf8(FIELDS.len()),
        &rows(10),
        Options::default(),
    );
    let n = file.len();
    let len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
    let footer_start = n - 8 - len;
    // The footer replaced by a struct whose list (field 4, row groups) declares 2^21 elements.
    let mut bad = file[..footer_start].to_vec();
    let footer = [0x49, 0xfc, 0x80, 0x80, 0x80, 0x01, 0x00];
    bad.extend_from_slice(&footer);
    bad.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    bad.extend_from_slice(MAGIC);
    let e = refused(&bad);
    assert!(matches!(e, ParquetError::Metadata(_)), "{e}");
    assert!(
        e.to_string()
            .contains("declares 2097152 bytes or elements with only 1 bytes left"),
        "{e}"
    );
}

/// The files under tests/fixtures/parquet/: hostile ones (read by `cflogs` in tests/cli.rs and
/// tests/parquet_hostile.rs) and small legitimate ones, the corpus the property test mutates.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    use std::io::Write;
    let mib = vec![0u8; 1 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&mib).unwrap();
    let gzip = gz.finish().unwrap().repeat(64);
    let zstd = bomb(&zstd::bulk::compress(&mib, 19).unwrap());
    let snappy = snap::raw::Encoder::new().compress_vec(b"tiny").unwrap();
    let mut preamble = vec![0x80, 0xa8, 0xd6, 0xb9, 0x07];
    preamble.extend_from_slice(&[0; 16]);
    let legit = |compression| {
        let options = Options {
            compression,
            row_group_rows: 40,
            page_rows: 16,
        };
        write(&FIELDS, &all_utf8(FIELDS.len()), &rows(100), options)
    };
    vec![
        (
            "hostile/snappy-page-declares-2gb.parquet",
            with_chunk(
                Compression::SNAPPY,
                &page(
                    data_page_header(2_000_000_000, snappy.len() as i32, 1),
                    &snappy,
                ),
            ),
        ),
        (
            "hostile/snappy-preamble-declares-2gb.parquet",
            with_chunk(
                Compression::SNAPPY,
                &page(data_page_header(100, preamble.len() as i32, 1), &preamble),
            ),
        ),
        (
            "hostile/gzip-bomb.parquet",
            with_chunk(
                Compression::GZIP(GzipLevel::default()),
                &page(data_page_header(4096, gzip.len() as i32, 1), &gzip),
            ),
        ),
        (
            "hostile/zstd-bomb.parquet",
            with_chunk(
                Compression::ZSTD(ZstdLevel::default()),
                &page(data_page_header(4096, zstd.len() as i32, 1), &zstd),
            ),
        ),
        ("corpus/snappy.parquet", legit(Compression::SNAPPY)),
        (
            "corpus/gzip.parquet",
            legit(Compression::GZIP(GzipLevel::default())),
        ),
        (
            "corpus/zstd.parquet",
            legit(Compression::ZSTD(ZstdLevel::default())),
        ),
        (
            "corpus/uncompressed.parquet",
            legit(Compression::UNCOMPRESSED),
        ),
    ]
}

/// The fixtures are what their builders write (`CFLM_WRITE_FIXTURES=1` rewrites them), and each
/// hostile one is refused.
#[test]
fn parquet_fixtures_are_current_and_the_hostile_ones_refused() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parquet");
    let write = std::env::var_os("CFLM_WRITE_FIXTURES").is_some();
    for (name, bytes) in fixtures() {
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(stored == bytes, "{name} differs from its builder");
        if name.starts_with("hostile/") {
            refused(&bytes);
        } else {
            let got = parquet_aggregate(&MetricsConfig::default(), &bytes).unwrap();
            assert_eq!(got.report.parse.records, 100, "{name}");
        }
    }
}

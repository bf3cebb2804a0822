//! Writes Parquet files as CloudFront's standard logging v2 delivers them, for the tests and the
//! benchmark (fixtures are generated, never checked in): one column per selected field, every
//! column an optional string as in AWS's Athena table definitions, or typed (INT64, DOUBLE,
//! DATE) for the "typed values" cases. Shared by `#[path]` from src/columnar/tests.rs,
//! tests/*.rs and examples/gen_logs.rs.
#![allow(dead_code)]

use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::sync::Arc;

/// A column's type in the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// BYTE_ARRAY (STRING): what AWS documents.
    Utf8,
    /// INT64.
    Int64,
    /// DOUBLE.
    Double,
    /// INT32 (DATE): days since 1970-01-01.
    Date,
}

/// How the file is written.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rows per row group.
    pub row_group_rows: usize,
    pub compression: Compression,
    /// Rows per data page (more pages per column chunk when smaller).
    pub page_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            row_group_rows: 1 << 20,
            compression: Compression::SNAPPY,
            page_rows: 20_000,
        }
    }
}

/// Writes `rows` (one value per column, `None` for null; `-` is written as it is) under the
/// column `names` and `types`.
pub fn write(
    names: &[&str],
    types: &[ColumnType],
    rows: &[Vec<Option<String>>],
    options: Options,
) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), names, types, options);
    for group in rows.chunks(options.row_group_rows.max(1)) {
        w.row_group(group);
    }
    w.finish()
}

/// A Parquet file written row group by row group (for files larger than memory).
pub struct Writer<W: std::io::Write + Send> {
    inner: SerializedFileWriter<W>,
    types: Vec<ColumnType>,
}

impl<W: std::io::Write + Send> Writer<W> {
    pub fn new(out: W, names: &[&str], types: &[ColumnType], options: Options) -> Self {
        let fields = names
            .iter()
            .zip(types)
            .map(|(name, t)| {
                let (physical, logical) = match t {
                    ColumnType::Utf8 => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
                    ColumnType::Int64 => (PhysicalType::INT64, None),
                    ColumnType::Double => (PhysicalType::DOUBLE, None),
                    ColumnType::Date => (PhysicalType::INT32, Some(LogicalType::Date)),
                };
                Arc::new(
                    Type::primitive_type_builder(name, physical)
                        .with_repetition(Repetition::OPTIONAL)
                        .with_logical_type(logical)
                        .build()
                        .unwrap(),
                )
            })
            .collect();
        let schema = Arc::new(
            Type::group_type_builder("cloudfront_logs")
                .with_fields(fields)
                .build()
                .unwrap(),
        );
        let props = WriterProperties::builder()
            .set_compression(options.compression)
            .set_max_row_group_row_count(Some(options.row_group_rows))
            .set_data_page_row_count_limit(options.page_rows)
            .set_write_batch_size(options.page_rows.min(1024))
            .build();
        Writer {
            inner: SerializedFileWriter::new(out, schema, Arc::new(props)).unwrap(),
            types: types.to_vec(),
        }
    }

    /// Writes one row group.
    pub fn row_group(&mut self, group: &[Vec<Option<String>>]) {
        let mut rg = self.inner.next_row_group().unwrap();
        for (ci, t) in self.types.iter().enumerate() {
            let mut col = rg.next_column().unwrap().unwrap();
            let values = group.iter().map(|r| r[ci].as_deref());
            let defs: Vec<i16> = values.clone().map(|v| i16::from(v.is_some())).collect();
            let present = values.flatten();
            match t {
                ColumnType::Utf8 => {
                    let v: Vec<ByteArray> =
                        present.map(|s| ByteArray::from(s.as_bytes())).collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&v, Some(&defs), None)
                }
                ColumnType::Int64 => {
                    let v: Vec<i64> = present.map(|s| s.parse().unwrap()).collect();
                    col.typed::<Int64Type>().write_batch(&v, Some(&defs), None)
                }
                ColumnType::Double => {
                    let v: Vec<f64> = present.map(|s| s.parse().unwrap()).collect();
                    col.typed::<DoubleType>().write_batch(&v, Some(&defs), None)
                }
                ColumnType::Date => {
                    let v: Vec<i32> = present.map(days).collect();
                    col.typed::<Int32Type>().write_batch(&v, Some(&defs), None)
                }
            }
            .unwrap();
            col.close().unwrap();
        }
        rg.close().unwrap();
    }

    /// Writes the footer; returns the output.
    pub fn finish(self) -> W {
        self.inner.into_inner().unwrap()
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn days(s: &str) -> i32 {
    let p: Vec<i64> = s.split('-').map(|x| x.parse().unwrap()).collect();
    let (y, m, d) = (p[0], p[1], p[2]);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// What a generated file holds, to compare with what was published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub sc_bytes: u64,
}

/// A CloudFront-shaped Parquet log: the 33 legacy fields as string columns, named as AWS's Athena
/// table for the Parquet output names them (`x_edge_location`, `cs_user_agent`, ...), `rows`
/// requests spread over `minutes` minutes from `start_ms` (epoch ms, whole minutes), with long
/// viewer columns (user agent, cookie, query, request id) the metrics never read.
pub fn cloudfront_file(
    rows: usize,
    start_ms: i64,
    minutes: i64,
    options: Options,
    seed: u64,
) -> (Vec<u8>, Totals) {
    let names: Vec<String> = LEGACY_ORDER.iter().map(|f| athena_name(f)).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut state = seed;
    let mut next = move || {
        // SplitMix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut totals = Totals::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let ts = start_ms + (i as i64 % minutes) * 60_000 + (next() % 60_000) as i64;
        let (date, time) = date_time(ts);
        let sc_bytes = next() % 200_000;
        totals.requests += 1;
        totals.sc_bytes += sc_bytes;
        let r = next();
        let v: [String; 33] = [
            date,
            time,
            ["IAD89-C1", "FRA56-P2", "NRT57-C3", "GRU3-C1"][(r % 4) as usize].to_owned(),
            sc_bytes.to_string(),
            format!("198.51.{}.{}", r >> 8 & 255, r >> 16 & 255),
            ["GET", "GET", "HEAD", "POST"][(r >> 24 & 3) as usize].to_owned(),
            "d111111abcdef8.cloudfront.net".to_owned(),
            format!("/assets/{}/app.js", r >> 28 & 1023),
            ["200", "200", "304", "404", "503"][(r >> 40) as usize % 5].to_owned(),
            "https://www.example.com/".to_owned(),
            format!(
                "Mozilla/5.0%20(X11;%20Linux%20x86_64)%20Build/{:016x}",
                next()
            ),
            format!("q={:016x}{:016x}", next(), next()),
            format!("session={:016x}{:016x}{:016x}", next(), next(), next()),
            ["Hit", "Miss", "RefreshHit", "Error"][(r >> 44 & 3) as usize].to_owned(),
            format!("{:016x}{:016x}{:016x}==", next(), next(), next()),
            "www.example.com".to_owned(),
            "https".to_owned(),
            (next() % 2000).to_string(),
            format!("0.{:03}", next() % 1000),
            "-".to_owned(),
            "TLSv1.3".to_owned(),
            "TLS_AES_128_GCM_SHA256".to_owned(),
            "Hit".to_owned(),
            "HTTP/2.0".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
            (next() % 60_000).to_string(),
            format!("0.{:03}", next() % 1000),
            "Hit".to_owned(),
            "application/javascript".to_owned(),
            sc_bytes.to_string(),
            "-".to_owned(),
            "-".to_owned(),
        ];
        out.push(v.into_iter().map(Some).collect());
    }
    let types = vec![ColumnType::Utf8; names.len()];
    (write(&names, &types, &out, options), totals)
}

/// The legacy standard log's 33 fields, in order.
pub const LEGACY_ORDER: [&str; 33] = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
];

/// A field's name as AWS's Athena table for the Parquet output spells it: `cs(User-Agent)` is
/// `cs_user_agent`.
pub fn athena_name(field: &str) -> String {
    field
        .replace(['(', ')'], "_")
        .replace('-', "_")
        .trim_end_matches('_')
        .to_lowercase()
}

/// Epoch milliseconds as (`YYYY-MM-DD`, `HH:MM:SS`).
fn date_time(ms: i64) -> (String, String) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60),
    )
}

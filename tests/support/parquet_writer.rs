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

/// A field's name as AWS's Athena table for the Parquet output spells it: `cs(User-Agent)` is
/// `cs_user_agent`.
pub fn athena_name(field: &str) -> String {
    field
        .replace(['(', ')'], "_")
        .replace('-', "_")
        .trim_end_matches('_')
        .to_lowercase()
}

//! One row group's fetched column chunks, decoded [`BATCH_ROWS`] rows at a time into records:
//! each needed column's values become text in a buffer reused from batch to batch, and each row
//! borrows its fields from those buffers (no allocation per row).

use super::chunks::Fetched;
use super::columns::{Kind, Projected};
use super::pages::{DEFAULT_MAX_PAGE_BYTES, PageFault, Pages};
use super::{BATCH_ROWS, Layout, ParquetError};
use crate::parse::fields::FIELD_COUNT;
use crate::parse::value::{DayCache, civil_from_days};
use crate::parse::{ParseStats, Record};
use bytes::Bytes;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl, get_column_reader};
use parquet::data_type::{
    ByteArrayType, DataType, DoubleType, FixedLenByteArrayType, FloatType, Int32Type, Int64Type,
};
use parquet::errors::ParquetError as CrateError;
use parquet::file::reader::ChunkReader;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// One column's values of the current batch as text: row `i` is `bytes[ends[i-1]..ends[i]]`, a
/// null is empty.
#[derive(Debug, Default)]
struct TextColumn {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl TextColumn {
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// A column's typed reader with its value buffer.
enum Typed {
    Bytes(
        ColumnReaderImpl<ByteArrayType>,
        Vec<parquet::data_type::ByteArray>,
    ),
    Fixed(
        ColumnReaderImpl<FixedLenByteArrayType>,
        Vec<parquet::data_type::FixedLenByteArray>,
    ),
    I32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    I64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    F32(ColumnReaderImpl<FloatType>, Vec<f32>),
    F64(ColumnReaderImpl<DoubleType>, Vec<f64>),
}

/// Reads the rows of a file's row groups, one after the other, counting them as a text file's
/// lines are counted (a row is a line, its number 1-based over the file).
#[derive(Debug)]
pub struct RowReader {
    stats: ParseStats,
    days: DayCache,
    columns: Vec<TextColumn>,
    def: Vec<i16>,
    max_page: u64,
}

impl Default for RowReader {
    fn default() -> Self {
        RowReader {
            stats: ParseStats::default(),
            days: DayCache::default(),
            columns: Vec::new(),
            def: Vec::new(),
            max_page: DEFAULT_MAX_PAGE_BYTES,
        }
    }
}

/// A crate error as this reader's: a refused page keeps its kind, anything else its text.
fn from_crate(row_group: usize, column: &str, e: CrateError) -> ParquetError {
    if let CrateError::External(inner) = &e
        && let Some(fault) = inner.downcast_ref::<PageFault>()
    {
        return match fault {
            PageFault::TooLarge { declared, max } => ParquetError::PageTooLarge {
                row_group,
                column: column.to_owned(),
                declared: *declared,
                max: *max,
            },
            PageFault::Corrupt(detail) => ParquetError::Decode {
                row_group,
                column: column.to_owned(),
                detail: detail.clone(),
            },
        };
    }
    ParquetError::Decode {
        row_group,
        column: column.to_owned(),
        detail: e.to_string(),
    }
}

impl RowReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the largest page read, compressed or not (see [`DEFAULT_MAX_PAGE_BYTES`]).
    pub fn with_max_page_bytes(mut self, max: u64) -> Self {
        self.max_page = max;
        self
    }

    /// The row counts of the file.
    pub fn into_stats(self) -> ParseStats {
        self.stats
    }

    /// Decodes row group `row_group` of `layout` from `fetched`, the `(offset, bytes)` of the
    /// ranges [`Layout::ranges`] named, calling `on_record` for each accepted row. An error
    /// fails the file: the row group cannot be decoded (a corrupt page, a chunk missing).
    pub fn read_row_group<F: FnMut(&Record<'_>)>(
        &mut self,
        layout: &Layout,
        row_group: usize,
        fetched: Vec<(u64, Bytes)>,
        on_record: F,
    ) -> Result<(), ParquetError> {
        let decode = |column: &str, detail: String| ParquetError::Decode {
            row_group,
            column: column.to_owned(),
            detail,
        };
        // The crate asserts on some corrupt input: a panic in it fails this file, not the run.
        catch_unwind(AssertUnwindSafe(|| {
            self.read(layout, row_group, fetched, on_record)
        }))
        .unwrap_or_else(|panic| {
            let detail = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("the decoder failed");
            Err(decode("?", format!("corrupt data ({detail})")))
        })
    }

    fn read<F: FnMut(&Record<'_>)>(
        &mut self,
        layout: &Layout,
        row_group: usize,
        fetched: Vec<(u64, Bytes)>,
        mut on_record: F,
    ) -> Result<(), ParquetError> {
        let decode = |column: &str, detail: String| ParquetError::Decode {
            row_group,
            column: column.to_owned(),
            detail,
        };
        let meta = layout.metadata().row_group(row_group);
        let chunks = Fetched::new(fetched, layout.file_size);
        let projection = layout.projection();
        let mut readers = Vec::with_capacity(projection.len());
        for p in projection {
            // Each column chunk's pages through the bounded page reader (see `pages`); its
            // range was checked against the file by `Layout::ranges`.
            let col = meta.column(p.index);
            let start = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset());
            let len = usize::try_from(col.compressed_size())
                .map_err(|_| decode(&p.name, "a negative chunk size".into()))?;
            let bytes = chunks
                .get_bytes(u64::try_from(start).unwrap_or(u64::MAX), len)
                .map_err(|e| decode(&p.name, e.to_string()))?;
            let pages = Pages::new(bytes, col.compression(), col.column_type(), self.max_page);
            let r = get_column_reader(col.column_descr_ptr(), Box::new(pages));
            readers.push(typed(r).ok_or_else(|| decode(&p.name, "unexpected type".into()))?);
        }
        self.columns
            .resize_with(projection.len(), TextColumn::default);
        let want = u64::try_from(meta.num_rows()).unwrap_or(0);
        let mut done = 0u64;
        while done < want {
            let batch = BATCH_ROWS.min((want - done) as usize);
            let mut rows = None;
            for ((p, r), out) in projection.iter().zip(&mut readers).zip(&mut self.columns) {
                let n = read_batch(r, p, batch, &mut self.def, out)
                    .map_err(|e| from_crate(row_group, &p.name, e))?;
                match rows {
                    None => rows = Some(n),
                    Some(m) if m != n => {
                        return Err(decode(
                            &p.name,
                            format!("{n} rows where the columns before it have {m}"),
                        ));
                    }
                    Some(_) => {}
                }
            }
            let n = rows.unwrap_or(0);
            if n == 0 {
                return Err(decode(
                    "?",
                    format!("{done} rows where the row group declares {want}"),
                ));
            }
            let Self {
                stats,
                days,
                columns,
                ..
            } = self;
            for i in 0..n {
                let mut raw = [&b""[..]; FIELD_COUNT];
                for (p, col) in projection.iter().zip(columns.iter()) {
                    raw[p.field.slot()] = col.get(i);
                }
                stats.lines += 1;
                let line = stats.lines;
                stats.deliver(line, Record::from_raw(&raw, days), &mut on_record);
            }
            done += n as u64;
        }
        Ok(())
    }
}

fn typed(r: ColumnReader) -> Option<Typed> {
    Some(match r {
        ColumnReader::ByteArrayColumnReader(r) => Typed::Bytes(r, Vec::new()),
        ColumnReader::FixedLenByteArrayColumnReader(r) => Typed::Fixed(r, Vec::new()),
        ColumnReader::Int32ColumnReader(r) => Typed::I32(r, Vec::new()),
        ColumnReader::Int64ColumnReader(r) => Typed::I64(r, Vec::new()),
        ColumnReader::FloatColumnReader(r) => Typed::F32(r, Vec::new()),
        ColumnReader::DoubleColumnReader(r) => Typed::F64(r, Vec::new()),
        _ => return None,
    })
}

/// Reads up to `rows` rows of one column into `out` as text; returns how many it read.
fn read_batch(
    r: &mut Typed,
    p: &Projected,
    rows: usize,
    def: &mut Vec<i16>,
    out: &mut TextColumn,
) -> parquet::errors::Result<usize> {
    out.bytes.clear();
    out.ends.clear();
    let date = p.kind == Kind::Date;
    match r {
        Typed::Bytes(r, v) => fill(r, v, rows, p.optional, def, out, |v, o| {
            o.extend_from_slice(v.data())
        }),
        Typed::Fixed(r, v) => fill(r, v, rows, p.optional, def, out, |v, o| {
            o.extend_from_slice(v.data())
        }),
        Typed::I32(r, v) if date => fill(r, v, rows, p.optional, def, out, |&d, o| {
            let (y, m, d) = civil_from_days(i64::from(d));
            let _ = write!(o, "{y:04}-{m:02}-{d:02}");
        }),
        Typed::I32(r, v) => fill(r, v, rows, p.optional, def, out, |v, o| {
            let _ = write!(o, "{v}");
        }),
        Typed::I64(r, v) => fill(r, v, rows, p.optional, def, out, |v, o| {
            let _ = write!(o, "{v}");
        }),
        Typed::F32(r, v) => fill(r, v, rows, p.optional, def, out, |v, o| {
            let _ = write!(o, "{v}");
        }),
        Typed::F64(r, v) => fill(r, v, rows, p.optional, def, out, |v, o| {
            let _ = write!(o, "{v}");
        }),
    }
}

/// [`read_batch`] for one physical type: values, with nulls (definition level below the
/// maximum) as empty text.
fn fill<T: DataType>(
    r: &mut ColumnReaderImpl<T>,
    values: &mut Vec<T::T>,
    rows: usize,
    optional: bool,
    def: &mut Vec<i16>,
    out: &mut TextColumn,
    write: impl Fn(&T::T, &mut Vec<u8>),
) -> parquet::errors::Result<usize> {
    values.clear();
    def.clear();
    let (n, _, _) = r.read_records(rows, optional.then_some(&mut *def), None, values)?;
    if optional {
        let mut present = values.iter();
        for &level in def.iter().take(n) {
            if level > 0
                && let Some(v) = present.next()
            {
                write(v, &mut out.bytes);
            }
            out.ends.push(out.bytes.len());
        }
    } else {
        for v in values.iter().take(n) {
            write(v, &mut out.bytes);
            out.ends.push(out.bytes.len());
        }
    }
    Ok(n)
}

//! Stage "decode", columnar side: standard logging v2's Apache Parquet output as [`Record`]s,
//! fed to the same aggregator as the text formats.
//!
//! Parquet keeps its directory (the footer) at the end of the file, so a Parquet file is not
//! streamed from its start. It is read in three steps, each a plain function over bytes that the
//! edges feed with what they fetch (ranged GETs from S3, positioned reads of a local file):
//!
//! 1. [`Layout::from_tail`]: the footer, from the last [`TAIL_BYTES`] of the file (or as many as
//!    it says it needs), and the projection: only the columns the metric catalogue and the
//!    dimension sets need (matched by name, see [`columns`]).
//! 2. [`Layout::ranges`]: for one row group, the byte ranges of exactly those column chunks.
//! 3. [`RowReader::read_row_group`]: those bytes, decoded page by page into records.
//!
//! Memory is bounded per row group: the needed column chunks of one row group (compressed, at
//! most [`MAX_ROW_GROUP_BYTES`], else the file fails with [`ParquetError::RowGroupTooLarge`]),
//! one decompressed page per needed column, and [`BATCH_ROWS`] rows of values. Files of any
//! number of row groups therefore read in the same memory.
//!
//! No size a file declares is trusted: the footer's lists and lengths must fit in the footer
//! (`thrift::check_struct`) before the crate decodes it, and pages are read by `pages`, not
//! by the crate's page reader: each page's sizes are checked against its column chunk and the
//! page limit ([`DEFAULT_MAX_PAGE_BYTES`], [`FileRead::with_max_page_bytes`]) and it is
//! decompressed into a buffer of its declared size, stopping there. A page beyond the limit is
//! [`ParquetError::PageTooLarge`], naming the row group and the column.
//!
//! Values are read as text and parsed by the text formats' value parsers, so `"1.234"` in a
//! string column and `1.234` in a DOUBLE one aggregate the same. A row with an unreadable value
//! is a rejected record with its reason (its 1-based row number in place of a line number).

mod chunks;
pub mod columns;
mod pages;
mod rows;
mod thrift;

use crate::parse::{FieldSet, ParseStats, Record};
use bytes::Bytes;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use std::ops::Range;

pub use columns::Projected;
pub use pages::DEFAULT_MAX_PAGE_BYTES;
pub use rows::RowReader;

/// The magic bytes a Parquet file starts and ends with.
pub const MAGIC: &[u8; 4] = b"PAR1";

/// How much of a file's end is read first: the footer of a log file is usually far smaller.
pub const TAIL_BYTES: u64 = 64 * 1024;

/// Largest footer accepted (the schema and every row group's column directory).
pub const MAX_FOOTER_BYTES: u64 = 16 * 1024 * 1024;

/// Memory cap of one row group: the compressed size of the column chunks it needs.
pub const MAX_ROW_GROUP_BYTES: u64 = 128 * 1024 * 1024;

/// Rows decoded at a time.
pub const BATCH_ROWS: usize = 4096;

/// Whether a file's first bytes are Parquet's magic (Parquet is detected by content, never by
/// name).
pub fn is_parquet(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Why a Parquet file cannot be read. Never carries a value from the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParquetError {
    #[error("starts with PAR1 but does not end with it: truncated or not Parquet")]
    NoFooter,
    #[error("the Parquet footer is encrypted: not supported")]
    Encrypted,
    #[error("the Parquet footer declares {len} bytes, more than the file or the {max}-byte cap")]
    FooterTooLarge { len: u64, max: u64 },
    #[error("corrupt Parquet metadata: {0}")]
    Metadata(String),
    #[error(
        "row group {row_group}: column {column} lies outside the file (bytes {start}..{end} of {file_size})"
    )]
    BadRange {
        row_group: usize,
        column: String,
        start: i64,
        end: i64,
        file_size: u64,
    },
    #[error(
        "row group {row_group}: the columns read need {bytes} bytes, more than the {max}-byte \
         memory cap per row group (write smaller row groups, or select fewer fields)"
    )]
    RowGroupTooLarge {
        row_group: usize,
        bytes: u64,
        max: u64,
    },
    #[error("column {column}: {what}, which is not read")]
    UnsupportedColumn { column: String, what: String },
    #[error(
        "no column holds the request time (date and time, timestamp or timestamp(ms)); the file's columns: {columns}"
    )]
    NoTimeColumn { columns: String },
    #[error(
        "row group {row_group}, column {column}: a page declares {declared} bytes, more than the \
         {max}-byte page limit (raise MAX_PARQUET_PAGE_BYTES if this is a real log)"
    )]
    PageTooLarge {
        row_group: usize,
        column: String,
        declared: u64,
        max: u64,
    },
    #[error("row group {row_group}, column {column}: {detail}")]
    Decode {
        row_group: usize,
        column: String,
        detail: String,
    },
}

/// What [`Layout::from_tail`] made of the bytes it was given.
#[derive(Debug)]
pub enum Tail {
    /// The footer is read.
    Ready(Box<Layout>),
    /// The footer is longer: read this many bytes from the end of the file and call again.
    NeedFromEnd(u64),
}

/// A Parquet file's footer and the columns read from it.
#[derive(Debug)]
pub struct Layout {
    metadata: ParquetMetaData,
    projection: Vec<Projected>,
    file_size: u64,
}

impl Layout {
    /// Reads the footer from `tail`, the last `tail.len()` bytes of a file of `file_size`
    /// bytes, and projects the columns that fill `fields`.
    pub fn from_tail(tail: &[u8], file_size: u64, fields: FieldSet) -> Result<Tail, ParquetError> {
        let n = tail.len();
        if n < 8 || &tail[n - 4..] != MAGIC {
            if n >= 8 && &tail[n - 4..] == b"PARE" {
                return Err(ParquetError::Encrypted);
            }
            return Err(ParquetError::NoFooter);
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&tail[n - 8..n - 4]);
        let meta_len = u64::from(u32::from_le_bytes(len));
        let need = meta_len + 8;
        // The file starts with PAR1 too: the footer cannot reach into it.
        if need + 4 > file_size || meta_len > MAX_FOOTER_BYTES {
            return Err(ParquetError::FooterTooLarge {
                len: meta_len,
                max: MAX_FOOTER_BYTES.min(file_size.saturating_sub(12)),
            });
        }
        if need > n as u64 {
            return Ok(Tail::NeedFromEnd(need));
        }
        let buf = &tail[n - need as usize..n - 8];
        // Every length and count the footer declares must fit in it before the crate, which
        // reserves what a list declares, decodes it.
        thrift::check_struct(buf).map_err(|e| ParquetError::Metadata(e.to_string()))?;
        // The crate asserts on some corrupt input: a panic fails this file, not the run.
        let metadata = std::panic::catch_unwind(|| ParquetMetaDataReader::decode_metadata(buf))
            .map_err(|_| ParquetError::Metadata("undecodable".to_owned()))?
            .map_err(|e| ParquetError::Metadata(e.to_string()))?;
        let projection = columns::project(metadata.file_metadata().schema_descr(), fields)?;
        Ok(Tail::Ready(Box::new(Layout {
            metadata,
            projection,
            file_size,
        })))
    }

    /// The parsed footer.
    pub fn metadata(&self) -> &ParquetMetaData {
        &self.metadata
    }

    /// The columns read, with the field each fills.
    pub fn projection(&self) -> &[Projected] {
        &self.projection
    }

    /// Number of row groups.
    pub fn row_groups(&self) -> usize {
        self.metadata.num_row_groups()
    }

    /// Uncompressed bytes of the column chunks row group `row_group` needs.
    pub fn uncompressed(&self, row_group: usize) -> u64 {
        let rg = self.metadata.row_group(row_group);
        self.projection
            .iter()
            .map(|p| u64::try_from(rg.column(p.index).uncompressed_size()).unwrap_or(0))
            .sum()
    }

    /// The byte ranges of the column chunks row group `row_group` needs, sorted, touching ones
    /// merged: what to fetch before [`RowReader::read_row_group`]. Checked against the file's
    /// size and [`MAX_ROW_GROUP_BYTES`].
    pub fn ranges(&self, row_group: usize) -> Result<Vec<Range<u64>>, ParquetError> {
        let rg = self.metadata.row_group(row_group);
        let mut ranges = Vec::with_capacity(self.projection.len());
        let mut total = 0u64;
        for p in &self.projection {
            let col = rg.column(p.index);
            let start = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset());
            let len = col.compressed_size();
            let end = start.checked_add(len).unwrap_or(-1);
            let body_end = self.file_size.saturating_sub(8);
            if start < 4 || len < 0 || end < start || end as u64 > body_end {
                return Err(ParquetError::BadRange {
                    row_group,
                    column: p.name.clone(),
                    start,
                    end,
                    file_size: self.file_size,
                });
            }
            total += len as u64;
            ranges.push(start as u64..end as u64);
        }
        if total > MAX_ROW_GROUP_BYTES {
            return Err(ParquetError::RowGroupTooLarge {
                row_group,
                bytes: total,
                max: MAX_ROW_GROUP_BYTES,
            });
        }
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        Ok(merged)
    }
}

/// What reading a file fetched: bytes and ranges, for the file's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetches {
    /// Bytes fetched.
    pub bytes: u64,
    /// Uncompressed bytes of the column chunks read.
    pub uncompressed: u64,
}

/// Reading one Parquet file, without I/O: [`FileRead::wants`] names the byte ranges to fetch
/// next, [`FileRead::supply`] takes them (footer first, then row group by row group). Local files
/// are fetched with positioned reads (`pipeline::process_local`), S3 objects with ranged GETs.
#[derive(Debug)]
pub struct FileRead {
    file_size: u64,
    fields: FieldSet,
    step: Step,
    rows: RowReader,
    fetches: Fetches,
}

#[derive(Debug)]
enum Step {
    /// Reading the last `want` bytes for the footer.
    Footer { want: u64 },
    /// Reading row group `next`.
    Rows { layout: Box<Layout>, next: usize },
}

impl FileRead {
    /// Sets the largest page read (default [`DEFAULT_MAX_PAGE_BYTES`]): a larger one fails
    /// the file with [`ParquetError::PageTooLarge`].
    pub fn with_max_page_bytes(mut self, max: u64) -> Self {
        self.rows = std::mem::take(&mut self.rows).with_max_page_bytes(max);
        self
    }

    /// A read of a file of `file_size` bytes whose records fill `fields`.
    pub fn new(file_size: u64, fields: FieldSet) -> Self {
        FileRead {
            file_size,
            fields,
            step: Step::Footer {
                want: TAIL_BYTES.min(file_size),
            },
            rows: RowReader::new(),
            fetches: Fetches::default(),
        }
    }

    /// The byte ranges to fetch next, `None` when the file is read.
    pub fn wants(&self) -> Result<Option<Vec<Range<u64>>>, ParquetError> {
        match &self.step {
            Step::Footer { want } => {
                let tail = self.file_size - want..self.file_size;
                Ok(Some(std::iter::once(tail).collect()))
            }
            Step::Rows { layout, next } if *next < layout.row_groups() => {
                layout.ranges(*next).map(Some)
            }
            Step::Rows { .. } => Ok(None),
        }
    }

    /// Takes the `(offset, bytes)` of the ranges [`FileRead::wants`] named, calling `on_record`
    /// for each accepted row of a row group.
    pub fn supply<R: FnMut(&Record<'_>)>(
        &mut self,
        fetched: Vec<(u64, Bytes)>,
        on_record: R,
    ) -> Result<(), ParquetError> {
        self.fetches.bytes += fetched.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        match &mut self.step {
            Step::Footer { want } => {
                let tail = fetched.first().map(|(_, b)| &b[..]).unwrap_or(&[]);
                match Layout::from_tail(tail, self.file_size, self.fields)? {
                    Tail::Ready(layout) => self.step = Step::Rows { layout, next: 0 },
                    Tail::NeedFromEnd(n) if n > *want => *want = n,
                    Tail::NeedFromEnd(_) => return Err(ParquetError::NoFooter),
                }
            }
            Step::Rows { layout, next } => {
                self.fetches.uncompressed += layout.uncompressed(*next);
                self.rows
                    .read_row_group(layout, *next, fetched, on_record)?;
                *next += 1;
            }
        }
        Ok(())
    }

    /// The row counts and what was fetched.
    pub fn finish(self) -> (ParseStats, Fetches) {
        (self.rows.into_stats(), self.fetches)
    }
}

#[cfg(test)]
mod tests;

//! One file through the core stages: decompressed chunks → parse → aggregate → datums → batches.
//!
//! [`FileProcessor`] is the core, fed chunks of any size by a synchronous reader
//! ([`process_reader`], used by `cflogs` on local files) or by the Lambda's asynchronous S3
//! stream. A Parquet file is read by ranges instead ([`ParquetProcessor`]: local files through
//! [`process_local`], S3 objects by the edge's ranged GETs). Nothing of a file is published before
//! it has been read to the end.

use crate::aggregate::{Aggregator, FileAggregate, Window};
use crate::batch::{Batch, batches};
use crate::columnar::{self, FileRead, ParquetError};
use crate::config::MetricsConfig;
use crate::datum::{Datum, datums};
use crate::decompress::{self, StreamStats};
use crate::distribution::key_info;
use crate::error::FileError;
use crate::parse::{Format, LogParser, MAX_RECORD_BYTES, NotALog, ParseStats, Record};
use bytes::Bytes;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

/// One file's parser fed decompressed chunks of any size: the partial line at the end of a chunk
/// is carried and completed by the next. Shared by the metric path ([`FileProcessor`]) and the
/// traffic report.
#[derive(Debug)]
pub struct ChunkFeeder {
    parser: LogParser,
    carry: Vec<u8>,
}

impl ChunkFeeder {
    /// Feeds `parser` (a new one, for one file).
    pub fn new(parser: LogParser) -> Self {
        ChunkFeeder {
            parser,
            carry: Vec::new(),
        }
    }

    /// Feeds the next chunk of decompressed bytes, calling `on_record` for each accepted record.
    pub fn feed<F: FnMut(&Record<'_>)>(
        &mut self,
        mut chunk: &[u8],
        mut on_record: F,
    ) -> Result<(), NotALog> {
        let Self { parser, carry } = self;
        if !carry.is_empty() {
            // Complete the carried partial line with the start of this chunk, cut at a newline,
            // then go on in place. While the carry cannot be consumed (a JSON record spanning
            // lines), each step at least doubles it, so rescans stay linear overall.
            while !carry.is_empty() && !chunk.is_empty() {
                let from = carry.len().max(4096).min(chunk.len()) - 1;
                let take =
                    memchr::memchr(b'\n', &chunk[from..]).map_or(chunk.len(), |i| from + i + 1);
                carry.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
                let used = parser.process(carry, false, &mut on_record)?;
                carry.drain(..used);
                if carry.len() > MAX_RECORD_BYTES {
                    parser.reject_overlong();
                    carry.clear();
                }
            }
            if !carry.is_empty() {
                return Ok(());
            }
        }
        let used = parser.process(chunk, false, &mut on_record)?;
        let rest = &chunk[used..];
        if rest.len() > MAX_RECORD_BYTES {
            parser.reject_overlong();
        } else {
            carry.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Ends the file: parses what is left (a last line without newline); returns the detected
    /// format and the line counts.
    pub fn finish<F: FnMut(&Record<'_>)>(
        mut self,
        on_record: F,
    ) -> Result<(Option<Format>, ParseStats), NotALog> {
        self.parser.process(&self.carry, true, on_record)?;
        let format = self.parser.format();
        Ok((format, self.parser.into_stats()))
    }
}

/// Parses and aggregates one file fed in chunks.
#[derive(Debug)]
pub struct FileProcessor<'c> {
    feeder: ChunkFeeder,
    aggregator: Aggregator<'c>,
}

impl<'c> FileProcessor<'c> {
    /// A processor for one file of `distribution_id`, keeping the records `window` keeps (a
    /// time alone: publishing to CloudWatch at it).
    pub fn new(
        config: &'c MetricsConfig,
        distribution_id: &str,
        window: impl Into<Window>,
    ) -> Self {
        let aggregator = Aggregator::new(config, distribution_id, window);
        let parser = match &config.realtime {
            Some(fields) => LogParser::realtime(fields, aggregator.fields()),
            None => LogParser::reading(aggregator.fields()),
        };
        FileProcessor {
            feeder: ChunkFeeder::new(parser),
            aggregator,
        }
    }

    /// Feeds the next chunk of decompressed bytes.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), NotALog> {
        let aggregator = &mut self.aggregator;
        self.feeder.feed(chunk, |r| aggregator.add(r))
    }

    /// Ends the file: parses what is left (a last line without newline) and aggregates.
    pub fn finish(self) -> Result<(Option<Format>, ParseStats, FileAggregate), NotALog> {
        let mut aggregator = self.aggregator;
        let (format, stats) = self.feeder.finish(|r| aggregator.add(r))?;
        Ok((format, stats, aggregator.finish()))
    }
}

/// Parses and aggregates one Parquet file, fed the byte ranges it asks for
/// ([`columnar::FileRead`] with the file's aggregator).
#[derive(Debug)]
pub struct ParquetProcessor<'c> {
    read: FileRead,
    aggregator: Aggregator<'c>,
}

impl<'c> ParquetProcessor<'c> {
    /// A processor for one Parquet file of `file_size` bytes (see [`FileProcessor::new`]).
    pub fn new(
        config: &'c MetricsConfig,
        distribution_id: &str,
        window: impl Into<Window>,
        file_size: u64,
    ) -> Self {
        let aggregator = Aggregator::new(config, distribution_id, window);
        ParquetProcessor {
            read: FileRead::new(file_size, aggregator.fields()),
            aggregator,
        }
    }

    /// Sets the largest Parquet page read (env `MAX_PARQUET_PAGE_BYTES`, default
    /// [`columnar::DEFAULT_MAX_PAGE_BYTES`]).
    pub fn with_max_page_bytes(mut self, max: u64) -> Self {
        self.read = self.read.with_max_page_bytes(max);
        self
    }

    /// The byte ranges to fetch next, `None` once the file is read.
    pub fn wants(&self) -> Result<Option<Vec<Range<u64>>>, ParquetError> {
        self.read.wants()
    }

    /// Takes the fetched `(offset, bytes)` of the ranges [`ParquetProcessor::wants`] named.
    pub fn supply(&mut self, fetched: Vec<(u64, Bytes)>) -> Result<(), ParquetError> {
        let aggregator = &mut self.aggregator;
        self.read.supply(fetched, |r| aggregator.add(r))
    }

    /// Ends the file: its report, aggregate and batches.
    pub fn finish(self, file: &str, config: &MetricsConfig) -> ProcessedFile {
        let (parse, fetches) = self.read.finish();
        let stream = StreamStats {
            compressed_bytes: fetches.bytes,
            bytes: fetches.uncompressed,
            gzip: false,
        };
        let finished = (Some(Format::Parquet), parse, self.aggregator.finish());
        complete(file, config, stream, finished)
    }
}

/// What one file gave, for the per-file log line and the run summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file's path or `s3://bucket/key`.
    pub file: String,
    /// Its distribution.
    pub distribution_id: String,
    /// The detected format (`None` for a file with no line).
    pub format: Option<Format>,
    /// Decompression and byte counts.
    pub stream: StreamStats,
    /// Line counts.
    pub parse: ParseStats,
    /// Records dropped outside CloudWatch's window (publishing).
    pub skipped_stale: u64,
    /// Records outside CloudWatch's window kept all the same (a dry run).
    pub kept_outside_window: u64,
    /// Real-time records whose distribution could not be resolved (not published).
    pub unresolved: u64,
}

/// A processed file: its report, aggregates, and the batches to publish.
#[derive(Debug, Clone)]
pub struct ProcessedFile {
    pub report: FileReport,
    pub aggregate: FileAggregate,
    pub batches: Vec<Batch>,
    /// The S3 object's ETag, as GetObject returned it (`None` for local files).
    pub etag: Option<String>,
}

impl ProcessedFile {
    /// Total datums over all batches.
    pub fn datum_count(&self) -> usize {
        self.batches.iter().map(|b| b.datums.len()).sum()
    }

    /// Every datum, in batch order.
    pub fn datums(&self) -> impl Iterator<Item = &Datum> {
        self.batches.iter().flat_map(|b| b.datums.iter())
    }
}

/// The distribution of a file: from its key, else from the configuration, else an error.
pub fn distribution_for(
    file: &str,
    key: &str,
    config: &MetricsConfig,
) -> Result<String, FileError> {
    let id = key_info(key)
        .distribution_id
        .or_else(|| config.distribution_id.clone());
    match id {
        Some(id) => Ok(id),
        // Real-time records name their distribution one by one; those that do not are counted
        // as unresolved.
        None if config.realtime.is_some() => Ok(String::new()),
        None => Err(FileError::NoDistributionId {
            file: file.to_owned(),
        }),
    }
}

/// Bytes of a file's start that [`content_verdict`] looks at.
pub const CHECK_BYTES: usize = 64 * 1024;

/// Why the file whose first bytes are `head` (as stored: gzip or not) is not a CloudFront log,
/// if it is not: the check every reader makes ([`crate::parse::check_log`]) on what `head`
/// inflates to. Parquet passes (its footer decides). For errors that would otherwise hide it,
/// such as a missing distribution ID.
pub fn content_verdict(file: &str, head: &[u8]) -> Option<FileError> {
    if columnar::is_parquet(head) {
        return None;
    }
    let not_a_log = |source| {
        Some(FileError::NotALog {
            file: file.to_owned(),
            source,
        })
    };
    match decompress::Compression::sniff(head) {
        decompress::Compression::Gzip => {
            let mut inflated = vec![0u8; CHECK_BYTES];
            let mut gz = flate2::read::MultiGzDecoder::new(head);
            let mut n = 0;
            // A head cut inside the stream ends in an error: judge what inflated before it.
            while n < inflated.len() {
                match gz.read(&mut inflated[n..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            crate::parse::check_log(&inflated[..n])
                .err()
                .and_then(not_a_log)
        }
        decompress::Compression::Plain => crate::parse::check_log(head).err().and_then(not_a_log),
        decompress::Compression::Unsupported(_) => None,
    }
}

/// Turns a finished file into its report, aggregate and batches.
pub fn complete(
    file: &str,
    config: &MetricsConfig,
    stream: StreamStats,
    finished: (Option<Format>, ParseStats, FileAggregate),
) -> ProcessedFile {
    let (format, parse, aggregate) = finished;
    let batches = batches(datums(&aggregate, config));
    ProcessedFile {
        report: FileReport {
            file: file.to_owned(),
            distribution_id: aggregate.distribution_id.clone(),
            format,
            stream,
            parse,
            skipped_stale: aggregate.skipped_stale,
            kept_outside_window: aggregate.kept_outside_window,
            unresolved: aggregate.unresolved,
        },
        aggregate,
        batches,
        etag: None,
    }
}

/// Processes one file from a synchronous reader (gzip or plain), inflating on a second thread.
/// `key` is the path or object key the distribution ID is read from; `window` says which records
/// are kept.
pub fn process_reader<R: Read + Send>(
    file: &str,
    key: &str,
    reader: R,
    config: &MetricsConfig,
    window: impl Into<Window>,
    max_bytes: u64,
) -> Result<ProcessedFile, FileError> {
    let mut reader = reader;
    let distribution_id = match distribution_for(file, key, config) {
        Ok(id) => id,
        Err(e) => {
            // Not knowing whose log it is matters only if it is a log.
            let mut head = vec![0u8; CHECK_BYTES];
            let n = decompress::read_up_to(&mut reader, &mut head).unwrap_or(0);
            return Err(content_verdict(file, &head[..n]).unwrap_or(e));
        }
    };
    let mut processor = FileProcessor::new(config, &distribution_id, window);
    let not_a_log = |source| FileError::NotALog {
        file: file.to_owned(),
        source,
    };
    let stream = decompress::stream(file, reader, max_bytes, |chunk| processor.feed(chunk))?
        .map_err(not_a_log)?;
    let finished = processor.finish().map_err(not_a_log)?;
    Ok(complete(file, config, stream, finished))
}

/// What one file may take: its decompressed bytes (text formats) and the largest Parquet page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Env `MAX_DECOMPRESSED_BYTES`.
    pub max_decompressed_bytes: u64,
    /// Env `MAX_PARQUET_PAGE_BYTES`.
    pub max_parquet_page_bytes: u64,
}

/// A decompressed-size limit with the default page limit.
impl From<u64> for Limits {
    fn from(max_decompressed_bytes: u64) -> Self {
        Limits {
            max_decompressed_bytes,
            max_parquet_page_bytes: columnar::DEFAULT_MAX_PAGE_BYTES,
        }
    }
}

/// Processes a local file: Parquet (told by its first bytes) through positioned reads of the
/// ranges it needs, anything else streamed as [`process_reader`] does.
pub fn process_local(
    file: &str,
    key: &str,
    mut f: std::fs::File,
    config: &MetricsConfig,
    window: impl Into<Window>,
    limits: impl Into<Limits>,
) -> Result<ProcessedFile, FileError> {
    let limits = limits.into();
    let max_bytes = limits.max_decompressed_bytes;
    let read_error = |source| FileError::Read {
        file: file.to_owned(),
        source,
    };
    let mut head = [0u8; 4];
    let n = decompress::read_up_to(&mut f, &mut head).map_err(read_error)?;
    if !columnar::is_parquet(&head[..n]) {
        f.seek(SeekFrom::Start(0)).map_err(read_error)?;
        return process_reader(file, key, f, config, window, max_bytes);
    }
    let size = f.metadata().map_err(read_error)?.len();
    let distribution_id = distribution_for(file, key, config)?;
    let mut p = ParquetProcessor::new(config, &distribution_id, window, size)
        .with_max_page_bytes(limits.max_parquet_page_bytes);
    let parquet_error = |source| FileError::Parquet {
        file: file.to_owned(),
        source,
    };
    while let Some(ranges) = p.wants().map_err(parquet_error)? {
        let fetched = fetch_local(&mut f, ranges).map_err(read_error)?;
        p.supply(fetched).map_err(parquet_error)?;
    }
    Ok(p.finish(file, config))
}

/// The `(offset, bytes)` of `ranges` of a local file, by positioned reads (the ranges a
/// [`FileRead`] wants: checked against the file and the memory caps before they are asked for).
pub fn fetch_local(
    f: &mut std::fs::File,
    ranges: Vec<Range<u64>>,
) -> std::io::Result<Vec<(u64, Bytes)>> {
    let mut fetched = Vec::with_capacity(ranges.len());
    for r in ranges {
        let mut buf = vec![0u8; (r.end - r.start) as usize];
        f.seek(SeekFrom::Start(r.start))?;
        f.read_exact(&mut buf)?;
        fetched.push((r.start, Bytes::from(buf)));
    }
    Ok(fetched)
}

/// Whether a local file is Parquet, by its first bytes (left at its start).
pub fn is_parquet_file(f: &mut std::fs::File) -> std::io::Result<bool> {
    let mut head = [0u8; 4];
    let n = decompress::read_up_to(f, &mut head)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(columnar::is_parquet(&head[..n]))
}

/// Reads the records of a local Parquet file that fill `fields`, calling `on_record` for each
/// accepted one, as `cflogs process` reads it: the reader `cflogs report` and `cflogs export`
/// share with it.
pub fn read_parquet_local(
    file: &str,
    f: &mut std::fs::File,
    fields: crate::parse::FieldSet,
    max_page_bytes: u64,
    mut on_record: impl FnMut(&Record<'_>),
) -> Result<(ParseStats, columnar::Fetches), FileError> {
    let size = f
        .metadata()
        .map_err(|source| FileError::Read {
            file: file.to_owned(),
            source,
        })?
        .len();
    let mut read = FileRead::new(size, fields).with_max_page_bytes(max_page_bytes);
    let parquet_error = |source| FileError::Parquet {
        file: file.to_owned(),
        source,
    };
    while let Some(ranges) = read.wants().map_err(parquet_error)? {
        let fetched = fetch_local(f, ranges).map_err(|source| FileError::Read {
            file: file.to_owned(),
            source,
        })?;
        read.supply(fetched, &mut on_record)
            .map_err(parquet_error)?;
    }
    Ok(read.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let mut input = String::from("#Version: 1.0\n#Fields: date time sc-bytes time-taken\n");
        for i in 0..500 {
            input.push_str(&format!(
                "2023-11-14\t22:{:02}:00\t{i}\t0.{:03}\n",
                i % 60,
                i % 7
            ));
        }
        input.push_str("{\"date\":\"2023-11-14\",\n \"time\":\"22:00:00\", \"sc-bytes\":\"5\"}");
        let config = MetricsConfig::default();
        let whole = {
            let mut p = FileProcessor::new(&config, "E2Q4ABCDEFGH", NOW);
            p.feed(input.as_bytes()).unwrap();
            p.finish().unwrap()
        };
        assert_eq!(whole.1.records, 501);
        assert_eq!(whole.1.rejected, 0);
        for size in [1, 2, 3, 7, 64, 1000] {
            let mut p = FileProcessor::new(&config, "E2Q4ABCDEFGH", NOW);
            for c in input.as_bytes().chunks(size) {
                p.feed(c).unwrap();
            }
            let got = p.finish().unwrap();
            assert_eq!(got.1, whole.1, "chunk size {size}");
            assert_eq!(got.2, whole.2, "chunk size {size}");
        }
    }

    #[test]
    fn overlong_lines_are_rejected_and_skipped() {
        let config = MetricsConfig::default();
        let mut p = FileProcessor::new(&config, "E2Q4ABCDEFGH", NOW);
        p.feed(b"#Fields: date time sc-bytes\n").unwrap();
        let huge = vec![b'a'; MAX_RECORD_BYTES + 10];
        for c in huge.chunks(100_000) {
            p.feed(c).unwrap();
        }
        p.feed(b"\n2023-11-14\t22:00:00\t5\n").unwrap();
        let (_, stats, agg) = p.finish().unwrap();
        assert_eq!(stats.rejected, 1);
        assert_eq!(stats.records, 1);
        assert_eq!(agg.totals.cell.bytes_downloaded, 5);
    }

    #[test]
    fn missing_distribution_is_a_clear_error() {
        let e = process_reader(
            "logs/x.gz",
            "logs/x.gz",
            &b""[..],
            &MetricsConfig::default(),
            NOW,
            u64::MAX,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("logs/x.gz: no distribution ID"),
            "{e}"
        );
    }
}

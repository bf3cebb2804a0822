//! Errors that fail a whole file. Each names the file and what is wrong; a broken line is never
//! one of these (it is counted as rejected), and one failed file never stops the others.

use crate::columnar::ParquetError;
use crate::parse::NotALog;
use std::io;

/// Why a file could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file or object could not be read (missing, access denied, network).
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: io::Error,
    },
    /// The gzip stream ends before its end marker.
    #[error("{file}: truncated gzip: the stream ends before its end marker")]
    TruncatedGzip { file: String },
    /// The gzip stream is corrupt.
    #[error("{file}: corrupt gzip: {detail}")]
    CorruptGzip { file: String, detail: String },
    /// A compression CloudFront does not write.
    #[error(
        "{file}: {compression} content is not supported (CloudFront writes gzip or plain text)"
    )]
    Unsupported {
        file: String,
        compression: &'static str,
    },
    /// Decompressed, but not a CloudFront log.
    #[error("{file}: not a CloudFront log ({source})")]
    NotALog {
        file: String,
        #[source]
        source: NotALog,
    },
    /// A Parquet file that cannot be read (its footer, a column, a row group).
    #[error("{file}: Parquet: {source}")]
    Parquet {
        file: String,
        #[source]
        source: ParquetError,
    },
    /// More decompressed bytes than the configured limit (a decompression bomb).
    #[error(
        "{file}: more than {limit} bytes once decompressed; stopped (raise MAX_DECOMPRESSED_BYTES if this is a real log)"
    )]
    TooLarge { file: String, limit: u64 },
    /// The key no longer holds the version the event named (overwritten since): not an error
    /// of the newer version, which its own event publishes; never worth a retry.
    #[error(
        "{file}: no longer the version the event named (ETag {expected}): the key was overwritten since; the newer version is published by its own event"
    )]
    Superseded { file: String, expected: String },
    /// The key names no distribution and none is configured.
    #[error(
        "{file}: no distribution ID: the name is not <DISTID>.YYYY-MM-DD-HH.<id>.gz and no path segment is a distribution ID or distributionid=<ID>; set --distribution-id or DISTRIBUTION_ID"
    )]
    NoDistributionId { file: String },
}

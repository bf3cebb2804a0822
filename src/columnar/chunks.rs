//! The fetched byte ranges of one row group, as the `parquet` crate's `ChunkReader`: the page
//! reader asks for a column chunk by file offset and gets it from whichever fetched range holds
//! it. Asking for bytes that were not fetched is an error, never a read.

use bytes::{Buf, Bytes};
use parquet::errors::ParquetError as CrateError;
use parquet::file::reader::{ChunkReader, Length};

/// Fetched ranges of a file of `file_size` bytes, each `(offset, bytes)`.
#[derive(Debug)]
pub struct Fetched {
    ranges: Vec<(u64, Bytes)>,
    file_size: u64,
}

impl Fetched {
    pub fn new(mut ranges: Vec<(u64, Bytes)>, file_size: u64) -> Self {
        ranges.sort_by_key(|(start, _)| *start);
        Fetched { ranges, file_size }
    }

    /// The fetched bytes from `start` to the end of the range that holds it.
    fn from(&self, start: u64) -> Result<Bytes, CrateError> {
        let i = self.ranges.partition_point(|(s, _)| *s <= start);
        let hit = i
            .checked_sub(1)
            .map(|i| &self.ranges[i])
            .filter(|(s, b)| start - s <= b.len() as u64);
        match hit {
            Some((s, b)) => Ok(b.slice((start - s) as usize..)),
            None => Err(CrateError::General(format!(
                "offset {start} was not fetched (a column chunk outside its declared range)"
            ))),
        }
    }
}

impl Length for Fetched {
    fn len(&self) -> u64 {
        self.file_size
    }
}

impl ChunkReader for Fetched {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T, CrateError> {
        Ok(self.from(start)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, CrateError> {
        let b = self.from(start)?;
        if length > b.len() {
            return Err(CrateError::EOF(format!(
                "{length} bytes at offset {start} were not fetched"
            )));
        }
        Ok(b.slice(..length))
    }
}

//! The pages of one column chunk, read in bounded memory: the `parquet` crate's own page reader
//! allocates whatever a page header declares and inflates gzip, brotli and LZ4 frames with
//! `read_to_end`, so one hostile page can take gigabytes. This one reads each page header itself
//! ([`super::thrift`]), checks every size against the chunk and the page limit before anything
//! is allocated, and decompresses into a buffer of exactly the declared size, stopping there.
//! The crate's decoders then read the [`Page`]s it gives.

use super::thrift::{self, PageHeader, PageType, Sub};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageMetadata, PageReader};
use parquet::errors::{ParquetError as CrateError, Result};
use std::io::Read;

/// Default largest page accepted, uncompressed or compressed (env `MAX_PARQUET_PAGE_BYTES`):
/// far above the pages of about a megabyte that Parquet writers cut.
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a page was refused; carried through the crate's reader as an external error and named
/// with its file, row group and column by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageFault {
    #[error(
        "a page declares {declared} bytes, more than the {max}-byte page limit (MAX_PARQUET_PAGE_BYTES)"
    )]
    TooLarge { declared: u64, max: u64 },
    #[error("corrupt page: {0}")]
    Corrupt(String),
}

fn fault(e: PageFault) -> CrateError {
    CrateError::External(Box::new(e))
}

fn corrupt(detail: impl Into<String>) -> CrateError {
    fault(PageFault::Corrupt(detail.into()))
}

/// The pages of one column chunk, `chunk` its bytes.
pub struct Pages {
    chunk: Bytes,
    pos: usize,
    codec: Compression,
    physical: PhysicalType,
    max_page: u64,
}

impl Pages {
    pub fn new(chunk: Bytes, codec: Compression, physical: PhysicalType, max_page: u64) -> Self {
        Pages {
            chunk,
            pos: 0,
            codec,
            physical,
            max_page,
        }
    }

    fn next_page(&mut self) -> Result<Option<Page>> {
        loop {
            let rest = self.chunk.slice(self.pos..);
            if rest.is_empty() {
                return Ok(None);
            }
            let (header, header_len) =
                thrift::page_header(&rest).map_err(|e| corrupt(format!("page header: {e}")))?;
            let compressed = self.size(header.compressed)?;
            let uncompressed = self.size(header.uncompressed)?;
            let body_end = header_len
                .checked_add(compressed as usize)
                .filter(|&end| end <= rest.len())
                .ok_or_else(|| {
                    corrupt(format!(
                        "a page of {compressed} bytes where the column chunk has {} left",
                        rest.len() - header_len
                    ))
                })?;
            self.pos += body_end;
            let body = rest.slice(header_len..body_end);
            if header.kind == PageType::Index {
                continue;
            }
            return self.page(&header, body, uncompressed as usize).map(Some);
        }
    }

    /// A size from a page header, checked against the page limit.
    fn size(&self, declared: i32) -> Result<u64> {
        let n = u64::try_from(declared).map_err(|_| corrupt("a negative page size"))?;
        if n > self.max_page {
            return Err(fault(PageFault::TooLarge {
                declared: n,
                max: self.max_page,
            }));
        }
        Ok(n)
    }

    /// Values a header declares, checked against what the page can hold.
    fn count(&self, n: i32, bound: u64, what: &str) -> Result<u32> {
        u32::try_from(n)
            .ok()
            .filter(|&v| u64::from(v) <= bound)
            .ok_or_else(|| corrupt(format!("{what} {n} is impossible in this page")))
    }

    fn page(&self, header: &PageHeader, body: Bytes, size: usize) -> Result<Page> {
        match header.kind {
            PageType::Dictionary => {
                let d = header
                    .dictionary
                    .ok_or_else(|| corrupt("a dictionary page without its header"))?;
                let buf = self.decompress(body, size, 0)?;
                // The decoder allocates a value per declared entry: no more than the page's
                // bytes can hold.
                let least = match self.physical {
                    PhysicalType::INT64 | PhysicalType::DOUBLE => 8,
                    PhysicalType::INT96 => 12,
                    PhysicalType::FIXED_LEN_BYTE_ARRAY => 1,
                    _ => 4,
                };
                let bound = buf.len() as u64 / least;
                Ok(Page::DictionaryPage {
                    num_values: self.count(d.num_values, bound, "dictionary size")?,
                    encoding: encoding(d.encoding)?,
                    is_sorted: d.is_sorted,
                    buf,
                })
            }
            PageType::Data => {
                let d = header
                    .data
                    .ok_or_else(|| corrupt("a data page without its header"))?;
                let buf = self.decompress(body, size, 0)?;
                let num_values = self.count(d.num_values, self.max_page, "value count")?;
                let encoding = encoding(d.encoding)?;
                Ok(Page::DataPage {
                    num_values,
                    encoding,
                    def_level_encoding: encoding_of_levels(d.def_encoding)?,
                    rep_level_encoding: encoding_of_levels(d.rep_encoding)?,
                    statistics: None,
                    buf,
                })
            }
            PageType::DataV2 => {
                let d: Sub = header
                    .data_v2
                    .ok_or_else(|| corrupt("a v2 data page without its header"))?;
                let levels = u64::try_from(d.def_len)
                    .ok()
                    .zip(u64::try_from(d.rep_len).ok())
                    .map(|(a, b)| a + b)
                    .filter(|&n| n <= body.len() as u64 && n <= size as u64)
                    .ok_or_else(|| corrupt("v2 level lengths beyond the page"))?;
                let buf = if d.is_compressed {
                    self.decompress(body, size, levels as usize)?
                } else {
                    exact(body, size)?
                };
                let num_values = self.count(d.num_values, self.max_page, "value count")?;
                Ok(Page::DataPageV2 {
                    num_values,
                    encoding: encoding(d.encoding)?,
                    num_nulls: self.count(d.num_nulls, u64::from(num_values), "null count")?,
                    num_rows: self.count(d.num_rows, u64::from(num_values), "row count")?,
                    def_levels_byte_len: d.def_len as u32,
                    rep_levels_byte_len: d.rep_len as u32,
                    is_compressed: d.is_compressed,
                    statistics: None,
                    buf,
                })
            }
            PageType::Index => Err(corrupt("an index page")),
        }
    }

    /// `body` decompressed into exactly `size` bytes, its first `keep` bytes (a v2 page's
    /// levels) as they are.
    fn decompress(&self, body: Bytes, size: usize, keep: usize) -> Result<Bytes> {
        if self.codec == Compression::UNCOMPRESSED {
            return exact(body, size);
        }
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&body[..keep]);
        let input = &body[keep..];
        let want = size - keep;
        if want > 0 {
            decompress(self.codec, input, &mut out, want).map_err(corrupt)?;
        }
        if out.len() != size {
            return Err(corrupt(format!(
                "{} bytes once decompressed where the page header declares {size}",
                out.len()
            )));
        }
        Ok(Bytes::from(out))
    }
}

fn exact(body: Bytes, size: usize) -> Result<Bytes> {
    if body.len() != size {
        return Err(corrupt(format!(
            "an uncompressed page of {} bytes where its header declares {size}",
            body.len()
        )));
    }
    Ok(body)
}

/// Appends `input` decompressed with `codec` to `out`: exactly `want` bytes, never more (more is
/// an error, found after reading one byte beyond).
fn decompress(
    codec: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
    want: usize,
) -> std::result::Result<(), String> {
    let start = out.len();
    match codec {
        Compression::SNAPPY => {
            let declared = snap::raw::decompress_len(input).map_err(|e| format!("snappy: {e}"))?;
            if declared != want {
                return Err(format!(
                    "snappy data declares {declared} bytes where the page header declares {want}"
                ));
            }
            out.resize(start + want, 0);
            let n = snap::raw::Decoder::new()
                .decompress(input, &mut out[start..])
                .map_err(|e| format!("snappy: {e}"))?;
            out.truncate(start + n);
        }
        Compression::GZIP(_) => read_bounded(flate2::read::MultiGzDecoder::new(input), out, want)?,
        Compression::BROTLI(_) => read_bounded(brotli::Decompressor::new(input, 4096), out, want)?,
        Compression::LZ4_RAW => {
            out.resize(start + want, 0);
            let n = lz4_flex::block::decompress_into(input, &mut out[start..])
                .map_err(|e| format!("lz4: {e}"))?;
            out.truncate(start + n);
        }
        Compression::LZ4 => {
            // Hadoop's framing, else a raw block, else an LZ4 frame (as the crate tries them).
            out.resize(start + want, 0);
            let n = lz4_hadoop(input, &mut out[start..])
                .or_else(|| lz4_flex::block::decompress_into(input, &mut out[start..]).ok());
            match n {
                Some(n) => out.truncate(start + n),
                None => {
                    out.truncate(start);
                    read_bounded(lz4_flex::frame::FrameDecoder::new(input), out, want)?;
                }
            }
        }
        Compression::ZSTD(_) => {
            // One-shot decompression into a buffer of the declared size: no window is allocated
            // whatever the frame header says, and a larger output is an error.
            let mut buf = Vec::with_capacity(want);
            zstd::bulk::Decompressor::new()
                .and_then(|mut d| d.decompress_to_buffer(input, &mut buf))
                .map_err(|e| format!("zstd: {e}"))?;
            out.extend_from_slice(&buf);
        }
        other => return Err(format!("{other} compression is not read")),
    }
    Ok(())
}

/// Reads `r` into `out` up to `want` bytes; a byte more is an error.
fn read_bounded(
    mut r: impl Read,
    out: &mut Vec<u8>,
    want: usize,
) -> std::result::Result<(), String> {
    let start = out.len();
    out.resize(start + want, 0);
    let mut filled = 0;
    while filled < want {
        match r.read(&mut out[start + filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    out.truncate(start + filled);
    let mut one = [0u8; 1];
    match r.read(&mut one) {
        Ok(0) => Ok(()),
        Ok(_) => Err(format!(
            "the data decompresses to more than the {want} bytes its page header declares"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// LZ4 in Hadoop's framing: frames of (decompressed size, compressed size, block), big-endian.
fn lz4_hadoop(mut input: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut written = 0usize;
    while !input.is_empty() {
        let header = input.get(..8)?;
        let raw = u32::from_be_bytes(header[..4].try_into().ok()?) as usize;
        let len = u32::from_be_bytes(header[4..].try_into().ok()?) as usize;
        let block = input.get(8..8usize.checked_add(len)?)?;
        let dest = out.get_mut(written..written.checked_add(raw)?)?;
        let n = lz4_flex::block::decompress_into(block, dest).ok()?;
        if n != raw {
            return None;
        }
        written += n;
        input = &input[8 + len..];
    }
    Some(written)
}

#[allow(deprecated)]
fn encoding(v: i32) -> Result<Encoding> {
    Ok(match v {
        0 => Encoding::PLAIN,
        2 => Encoding::PLAIN_DICTIONARY,
        3 => Encoding::RLE,
        4 => Encoding::BIT_PACKED,
        5 => Encoding::DELTA_BINARY_PACKED,
        // The delta byte-array decoders allocate a length per value the data itself declares,
        // unbounded: not read.
        6 | 7 => return Err(corrupt("DELTA_*_BYTE_ARRAY values are not read")),
        8 => Encoding::RLE_DICTIONARY,
        9 => Encoding::BYTE_STREAM_SPLIT,
        other => return Err(corrupt(format!("unknown encoding {other}"))),
    })
}

fn encoding_of_levels(v: i32) -> Result<Encoding> {
    encoding(v)
}

impl Iterator for Pages {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_page().transpose()
    }
}

impl PageReader for Pages {
    fn get_next_page(&mut self) -> Result<Option<Page>> {
        self.next_page()
    }

    fn peek_next_page(&mut self) -> Result<Option<PageMetadata>> {
        Err(CrateError::General("pages are not peeked".to_owned()))
    }

    fn skip_next_page(&mut self) -> Result<()> {
        Err(CrateError::General("pages are not skipped".to_owned()))
    }

    fn at_record_boundary(&mut self) -> Result<bool> {
        // Only repeated columns ask, and none is read.
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompression_stops_at_the_declared_size() {
        use std::io::Write;
        let big = vec![b'a'; 1 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&big).unwrap();
        let gz = gz.finish().unwrap();
        let mut out = Vec::new();
        let e = decompress(Compression::GZIP(Default::default()), &gz, &mut out, 1000).unwrap_err();
        assert!(e.contains("more than the 1000 bytes"), "{e}");
        assert!(out.capacity() < 4096, "{}", out.capacity());

        let z = zstd::bulk::compress(&big, 3).unwrap();
        let mut out = Vec::new();
        assert!(decompress(Compression::ZSTD(Default::default()), &z, &mut out, 1000).is_err());
        let mut out = Vec::new();
        decompress(
            Compression::ZSTD(Default::default()),
            &z,
            &mut out,
            big.len(),
        )
        .unwrap();
        assert_eq!(out, big);

        let s = snap::raw::Encoder::new().compress_vec(&big).unwrap();
        let mut out = Vec::new();
        let e = decompress(Compression::SNAPPY, &s, &mut out, 1000).unwrap_err();
        assert!(e.contains("snappy data declares 1048576"), "{e}");
    }
}

//! Stage "decompress": detects the compression from the first bytes (never from the name) and
//! streams the decompressed bytes. Gzip files may have several members. For local files and
//! backfills, inflating runs on its own thread so that parsing hides behind it. Plain functions
//! over `Read`; the S3 side adapts them to its async byte stream.

use crate::error::FileError;
use flate2::read::MultiGzDecoder;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc;

/// Size of the decompressed chunks handed to the parser.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks in flight between the inflating thread and the parser.
const CHUNKS_IN_FLIGHT: usize = 4;

/// The content's compression, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `1f 8b`.
    Gzip,
    /// Anything else: passed to the parser, which decides whether it is a log.
    Plain,
    /// A format CloudFront does not write.
    Unsupported(&'static str),
}

impl Compression {
    /// Detects the compression from the first bytes.
    pub fn sniff(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Unsupported("zstd"),
            [b'B', b'Z', b'h', ..] => Compression::Unsupported("bzip2"),
            [0xfd, b'7', b'z', b'X', b'Z', ..] => Compression::Unsupported("xz"),
            [b'P', b'K', 3, 4, ..] => Compression::Unsupported("zip"),
            [b'P', b'A', b'R', b'1', ..] => Compression::Unsupported("Parquet"),
            _ => Compression::Plain,
        }
    }
}

/// Classifies an error from the gzip decoder.
pub fn gzip_error(file: &str, e: io::Error) -> FileError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => FileError::TruncatedGzip {
            file: file.to_owned(),
        },
        _ => FileError::CorruptGzip {
            file: file.to_owned(),
            detail: e.to_string(),
        },
    }
}

/// Whether the content is gzip (else plain text), from its first bytes; an error for a
/// compression CloudFront does not write.
pub(crate) fn is_gzip(file: &str, head: &[u8]) -> Result<bool, FileError> {
    match Compression::sniff(head) {
        Compression::Unsupported(compression) => Err(FileError::Unsupported {
            file: file.to_owned(),
            compression,
        }),
        c => Ok(c == Compression::Gzip),
    }
}

/// The error of a stream that inflated past `limit` bytes.
pub(crate) fn too_large(file: &str, limit: u64) -> FileError {
    FileError::TooLarge {
        file: file.to_owned(),
        limit,
    }
}

/// Tells a failed read of the source (or of plain text) from a decompression error.
pub(crate) fn stream_error(file: &str, e: io::Error, read_failed: bool, gzip: bool) -> FileError {
    if read_failed || !gzip {
        FileError::Read {
            file: file.to_owned(),
            source: e,
        }
    } else {
        gzip_error(file, e)
    }
}

/// Counts the bytes read and remembers whether the underlying reader failed, so that read errors
/// are told apart from decompression errors.
struct Counting<R> {
    inner: R,
    bytes: u64,
    failed: bool,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

/// Byte counts of one decompressed stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes read from the source.
    pub compressed_bytes: u64,
    /// Bytes after decompression.
    pub bytes: u64,
    /// The detected compression was gzip.
    pub gzip: bool,
}

fn fill<R: Read>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.resize(CHUNK_BYTES, 0);
    let n = read_up_to(r, buf)?;
    buf.truncate(n);
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
pub fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Decompresses `reader` on a separate thread and calls `on_chunk` with each chunk of
/// decompressed bytes, in order. Stops with the first error of either side; stops after `limit`
/// decompressed bytes with [`FileError::TooLarge`].
pub fn stream<R, E, F>(
    file: &str,
    reader: R,
    limit: u64,
    mut on_chunk: F,
) -> Result<Result<StreamStats, E>, FileError>
where
    R: Read + Send,
    F: FnMut(&[u8]) -> Result<(), E>,
{
    let counting = Counting {
        inner: reader,
        bytes: 0,
        failed: false,
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, counting);
    let head = buffered.fill_buf().map_err(|source| FileError::Read {
        file: file.to_owned(),
        source,
    })?;
    let gzip = is_gzip(file, head)?;
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut source: Box<dyn Read + '_> = if gzip {
                Box::new(MultiGzDecoder::new(&mut buffered))
            } else {
                Box::new(&mut buffered)
            };
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                let r = fill(&mut source, &mut buf);
                let done = !matches!(&r, Ok(()) if !buf.is_empty());
                let msg = r.map(|()| buf);
                if tx.send(msg).is_err() || done {
                    break;
                }
            }
            drop(source);
            let c = buffered.into_inner();
            (c.bytes, c.failed)
        });
        let mut bytes = 0u64;
        let mut result: Result<Result<(), E>, io::Error> = Ok(Ok(()));
        for msg in rx.iter() {
            match msg {
                Ok(buf) if buf.is_empty() => break,
                Ok(buf) => {
                    bytes += buf.len() as u64;
                    if bytes > limit {
                        result = Err(io::Error::other("limit"));
                        break;
                    }
                    if let Err(e) = on_chunk(&buf) {
                        result = Ok(Err(e));
                        break;
                    }
                    let _ = back_tx.send(buf);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(rx);
        let (compressed_bytes, read_failed) = match producer.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match result {
            Ok(Ok(())) => Ok(Ok(StreamStats {
                compressed_bytes,
                bytes,
                gzip,
            })),
            Ok(Err(e)) => Ok(Err(e)),
            Err(_) if bytes > limit => Err(too_large(file, limit)),
            Err(e) => Err(stream_error(file, e, read_failed, gzip)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn collect(data: &[u8]) -> Result<Vec<u8>, FileError> {
        let mut out = Vec::new();
        stream("f", data, u64::MAX, |c| {
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        })?
        .unwrap();
        Ok(out)
    }

    #[test]
    fn sniffing() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(b"#Version"), Compression::Plain);
        assert_eq!(
            Compression::sniff(b"PAR1xx"),
            Compression::Unsupported("Parquet")
        );
    }

    #[test]
    fn multi_member_gzip_and_plain() {
        let big: Vec<u8> = (0..CHUNK_BYTES * 3).map(|i| (i % 251) as u8).collect();
        let mut data = gz(&big[..1000]);
        data.extend(gz(&big[1000..]));
        assert_eq!(collect(&data).unwrap(), big);
        assert_eq!(collect(b"plain text").unwrap(), b"plain text");
        assert_eq!(collect(b"").unwrap(), b"");
    }

    #[test]
    fn truncated_and_corrupt_gzip() {
        let data = gz(&vec![b'x'; 100_000]);
        let e = collect(&data[..data.len() / 2]).unwrap_err();
        assert!(matches!(e, FileError::TruncatedGzip { .. }), "{e}");
        let mut bad = data.clone();
        bad[12] ^= 0xff;
        bad[13] ^= 0xff;
        assert!(collect(&bad).is_err());
    }

    #[test]
    fn limit_stops_bombs() {
        let data = gz(&vec![b'x'; 4 * CHUNK_BYTES]);
        let e = stream("bomb", &data[..], CHUNK_BYTES as u64, |_| Ok::<(), ()>(())).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { .. }));
        assert!(e.to_string().starts_with("bomb: more than"));
    }
}

//! The asynchronous twin of [`crate::decompress::stream`], for S3 objects: GetObject's byte
//! stream through async-compression's multi-member gzip decoder on tokio, with the same
//! detection, limits and error classification as the core stage it adapts.

use crate::decompress::{CHUNK_BYTES, StreamStats, is_gzip, stream_error, too_large};
use crate::error::FileError;
use std::io;

/// Counts the bytes of an asynchronous source and remembers whether it failed.
struct AsyncCounting<R> {
    inner: R,
    bytes: u64,
    failed: bool,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for AsyncCounting<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        match &r {
            std::task::Poll::Ready(Ok(())) => this.bytes += (buf.filled().len() - before) as u64,
            std::task::Poll::Ready(Err(_)) => this.failed = true,
            std::task::Poll::Pending => {}
        }
        r
    }
}

/// The asynchronous twin of [`crate::decompress::stream`], for S3 objects: the byte stream goes through
/// async-compression's multi-member gzip decoder (or straight through for plain text) and each
/// decompressed chunk is handed to `on_chunk` as it arrives. The object is never held in memory.
pub async fn stream_async<R, E, F>(
    file: &str,
    reader: R,
    limit: u64,
    mut on_chunk: F,
) -> Result<Result<StreamStats, E>, FileError>
where
    R: tokio::io::AsyncRead + Unpin + Send,
    F: FnMut(&[u8]) -> Result<(), E>,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let read_error = |source| FileError::Read {
        file: file.to_owned(),
        source,
    };
    let mut buffered = tokio::io::BufReader::with_capacity(
        64 * 1024,
        AsyncCounting {
            inner: reader,
            bytes: 0,
            failed: false,
        },
    );
    let head = buffered.fill_buf().await.map_err(read_error)?;
    let gzip = is_gzip(file, head)?;
    let mut source: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send + '_>> = if gzip {
        let mut d = async_compression::tokio::bufread::GzipDecoder::new(&mut buffered);
        d.multiple_members(true);
        Box::pin(d)
    } else {
        Box::pin(&mut buffered)
    };
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut bytes = 0u64;
    loop {
        let n = match source.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                drop(source);
                return Err(stream_error(file, e, buffered.get_ref().failed, gzip));
            }
        };
        if n == 0 {
            break;
        }
        bytes += n as u64;
        if bytes > limit {
            return Err(too_large(file, limit));
        }
        if let Err(e) = on_chunk(&buf[..n]) {
            return Ok(Err(e));
        }
    }
    drop(source);
    Ok(Ok(StreamStats {
        compressed_bytes: buffered.get_ref().bytes,
        bytes,
        gzip,
    }))
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

    fn collect_async(data: &[u8]) -> Result<Vec<u8>, FileError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut out = Vec::new();
        rt.block_on(stream_async("f", data, u64::MAX, |c| {
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        }))?
        .unwrap();
        Ok(out)
    }

    #[test]
    fn async_twin_agrees() {
        let big: Vec<u8> = (0..CHUNK_BYTES * 2).map(|i| (i % 251) as u8).collect();
        let mut data = gz(&big[..1000]);
        data.extend(gz(&big[1000..]));
        assert_eq!(collect_async(&data).unwrap(), big);
        assert_eq!(collect_async(b"plain").unwrap(), b"plain");
        assert_eq!(collect_async(b"").unwrap(), b"");
        let e = collect_async(&data[..data.len() - 20]).unwrap_err();
        assert!(matches!(e, FileError::TruncatedGzip { .. }), "{e}");
        let e = collect_async(b"PAR1....").unwrap_err();
        assert!(matches!(e, FileError::Unsupported { .. }), "{e}");
    }
}

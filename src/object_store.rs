//! Stage "object stream", S3 side: a small trait over the two S3 calls the pipeline needs, so
//! the handler is generic over it (tests and other stores can swap it), implemented for the real
//! `aws_sdk_s3::Client`.

use bytes::Bytes;
use std::future::Future;
use std::io;
use std::ops::Range;
use tokio::io::AsyncRead;

/// What GetObject said about the object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub etag: Option<String>,
    /// The whole object's size (of a ranged read too).
    pub size: Option<i64>,
}

/// Which version of a key a read must get: the one an event named. A read of another version
/// fails with [`VersionChanged`] instead of returning it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The ETag the event announced (`If-Match`).
    pub etag: Option<&'a str>,
    /// The version id the event announced (versioned buckets: that very version is read).
    pub version_id: Option<&'a str>,
}

/// The key no longer holds the version that was asked for (412 to `If-Match`): it was
/// overwritten after the event; the newer version's own event publishes it. Carried inside the
/// `io::Error` of [`ObjectStore::get`]; see [`version_changed`].
#[derive(Debug, thiserror::Error)]
#[error(
    "the object is no longer the version the event named (ETag {expected}); it was overwritten"
)]
pub struct VersionChanged {
    pub expected: String,
}

/// The [`VersionChanged`] inside a read error, if that is what it is.
pub fn version_changed(e: &io::Error) -> Option<&VersionChanged> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<VersionChanged>())
}

/// An ETag as S3 wants it in `If-Match`: quoted.
fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim().trim_matches('"'))
}

/// One object found by listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: Option<i64>,
}

/// Reads log objects.
pub trait ObjectStore: Send + Sync {
    /// The streamed body of an object.
    type Body: AsyncRead + Unpin + Send;

    /// Opens an object for streaming (GetObject) from byte `from` to its end, the version
    /// `expected` names when it names one. A missing object is `io::ErrorKind::NotFound`;
    /// another version than the one expected is an error carrying [`VersionChanged`].
    fn get(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
        from: u64,
    ) -> impl Future<Output = io::Result<(Self::Body, ObjectMeta)>> + Send;

    /// Reads the bytes `range` of an object (a ranged GetObject), fewer where the object ends
    /// first, none for an empty object; errors as [`ObjectStore::get`]. The meta's size is the
    /// whole object's.
    fn get_range(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
        range: Range<u64>,
    ) -> impl Future<Output = io::Result<(Bytes, ObjectMeta)>> + Send;

    /// Lists every object under a prefix, following pagination, in key order.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = io::Result<Vec<ListedObject>>> + Send;
}

fn sdk_error<E>(e: aws_sdk_s3::error::SdkError<E>, not_found: bool) -> io::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    let kind = if not_found {
        io::ErrorKind::NotFound
    } else if e.raw_response().map(|r| r.status().as_u16()) == Some(403) {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

/// GetObject of the version `expected` names, with an optional `Range` header. 412 is
/// [`VersionChanged`], 416 (range not satisfiable) `UnexpectedEof`.
async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    expected: Expected<'_>,
    range: Option<String>,
) -> io::Result<aws_sdk_s3::operation::get_object::GetObjectOutput> {
    client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_if_match(expected.etag.map(quoted))
        .set_version_id(expected.version_id.map(str::to_owned))
        .set_range(range)
        .send()
        .await
        .map_err(|e| match e.raw_response().map(|r| r.status().as_u16()) {
            Some(412) => io::Error::other(VersionChanged {
                expected: expected.etag.unwrap_or_default().to_owned(),
            }),
            Some(416) => io::Error::new(io::ErrorKind::UnexpectedEof, "range not satisfiable"),
            _ => {
                let nf = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                sdk_error(e, nf)
            }
        })
}

/// The whole object's size: after the `/` of a `Content-Range` (`bytes 0-99/1234`), else the
/// response's length (a whole object).
fn whole_size(content_range: Option<&str>, content_length: Option<i64>) -> Option<i64> {
    match content_range {
        Some(cr) => cr.rsplit_once('/').and_then(|(_, n)| n.trim().parse().ok()),
        None => content_length,
    }
}

impl ObjectStore for aws_sdk_s3::Client {
    type Body = std::pin::Pin<Box<dyn AsyncRead + Send>>;

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
        from: u64,
    ) -> io::Result<(Self::Body, ObjectMeta)> {
        let range = (from > 0).then(|| format!("bytes={from}-"));
        let out = get_object(self, bucket, key, expected, range).await?;
        let meta = ObjectMeta {
            etag: out.e_tag.clone(),
            size: whole_size(out.content_range(), out.content_length),
        };
        Ok((Box::pin(out.body.into_async_read()), meta))
    }

    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
        range: Range<u64>,
    ) -> io::Result<(Bytes, ObjectMeta)> {
        if range.is_empty() {
            return Ok((Bytes::new(), ObjectMeta::default()));
        }
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        let out = match get_object(self, bucket, key, expected, Some(header)).await {
            Ok(out) => out,
            // 416: the range starts at or past the end (an empty object).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok((Bytes::new(), ObjectMeta::default()));
            }
            Err(e) => return Err(e),
        };
        let meta = ObjectMeta {
            etag: out.e_tag.clone(),
            size: whole_size(out.content_range(), out.content_length),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| io::Error::other(e.to_string()))?
            .into_bytes();
        Ok((bytes, meta))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> io::Result<Vec<ListedObject>> {
        let mut pages = self
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(e, false))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push(ListedObject {
                        key: key.to_owned(),
                        size: o.size(),
                    });
                }
            }
        }
        Ok(out)
    }
}

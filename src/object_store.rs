//! Stage "object stream", S3 side: a small trait over the two S3 calls the pipeline needs, so
//! the handler is generic over it (tests and other stores can swap it), implemented for the real
//! `aws_sdk_s3::Client`.

use std::future::Future;
use std::io;
use tokio::io::AsyncRead;

/// What GetObject said about the object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub etag: Option<String>,
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

    /// Opens an object for streaming (GetObject), the version `expected` names when it names one.
    /// A missing object is `io::ErrorKind::NotFound`; another version than the one expected is
    /// an error carrying [`VersionChanged`].
    fn get(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
    ) -> impl Future<Output = io::Result<(Self::Body, ObjectMeta)>> + Send;

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

impl ObjectStore for aws_sdk_s3::Client {
    type Body = std::pin::Pin<Box<dyn AsyncRead + Send>>;

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
    ) -> io::Result<(Self::Body, ObjectMeta)> {
        let out = self
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_match(expected.etag.map(quoted))
            .set_version_id(expected.version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| {
                if e.raw_response().map(|r| r.status().as_u16()) == Some(412) {
                    return io::Error::other(VersionChanged {
                        expected: expected.etag.unwrap_or_default().to_owned(),
                    });
                }
                let nf = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                sdk_error(e, nf)
            })?;
        let meta = ObjectMeta {
            etag: out.e_tag.clone(),
            size: out.content_length,
        };
        Ok((Box::pin(out.body.into_async_read()), meta))
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

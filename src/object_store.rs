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

    /// Opens an object for streaming (GetObject). A missing object is `io::ErrorKind::NotFound`.
    fn get(
        &self,
        bucket: &str,
        key: &str,
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

    async fn get(&self, bucket: &str, key: &str) -> io::Result<(Self::Body, ObjectMeta)> {
        let out = self
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
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

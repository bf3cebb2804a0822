//! A neutral conditional object store: read an object with its ETag, write it only if it is
//! absent or still the one read (S3 `If-None-Match: *` / `If-Match`). The ledgers (file markers,
//! shard states) and the Batch Operations manifests are kept in it; implemented for
//! `aws_sdk_s3::Client` and, for tests, by [`crate::memory`].

use std::future::Future;
use std::io;

/// A condition on a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition<'a> {
    /// `If-None-Match: *`: only if there is no object.
    Absent,
    /// `If-Match: <etag>`: only if the object is still the one read or written last.
    Matches(&'a str),
}

/// A conditional write that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The condition did not hold (412, or 409 for a concurrent conditional write, or 404 for
    /// `If-Match` on an object that is gone).
    #[error("the object changed (precondition failed)")]
    Conflict,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads objects with their ETag and writes them conditionally. Implemented for
/// `aws_sdk_s3::Client`; tests may use their own.
pub trait ConditionalStore: Send + Sync {
    /// The object's bytes and ETag; `None` when there is none.
    fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = io::Result<Option<(Vec<u8>, String)>>> + Send;

    /// Writes the object if `condition` holds; returns its new ETag.
    fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> impl Future<Output = Result<String, PutError>> + Send;
}

impl ConditionalStore for aws_sdk_s3::Client {
    async fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> io::Result<Option<(Vec<u8>, String)>> {
        match self.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag.clone().unwrap_or_default();
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Ok(Some((body.into_bytes().to_vec(), etag)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(io::Error::other(
                aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            )),
        }
    }

    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<String, PutError> {
        let req = self
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(aws_sdk_s3::primitives::ByteStream::from(body));
        let req = match condition {
            Condition::Absent => req.if_none_match("*"),
            Condition::Matches(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(out) => out.e_tag.ok_or_else(|| {
                PutError::Io(io::Error::other("PutObject answered without an ETag"))
            }),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                match (status, condition) {
                    (Some(412 | 409), _) | (Some(404), Condition::Matches(_)) => {
                        Err(PutError::Conflict)
                    }
                    _ => Err(PutError::Io(io::Error::other(
                        aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                    ))),
                }
            }
        }
    }
}

//! Where marker objects live and how they are read and conditionally written: the location of a
//! file's marker, the small [`ConditionalStore`] trait (S3 `If-None-Match` / `If-Match` writes,
//! implemented for `aws_sdk_s3::Client`) and the errors of the exactly-once bookkeeping.

use super::marker::Marker;
use crate::conditional::ConditionalStore;
use crate::hash::Fnv;
use std::io;

/// Longest S3 key.
const MAX_KEY_BYTES: usize = 1024;

/// Where the marker of one log object lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerLocation {
    pub bucket: String,
    pub key: String,
}

impl MarkerLocation {
    /// The marker of `log_bucket`/`key`: `<prefix><key>.json` in the log's bucket, or
    /// `<prefix><log bucket>/<key>.json` in another `marker_bucket`. Keys too long for S3 become
    /// `<prefix>_long/<hash>.json` (the marker names the key it is for, and is checked).
    pub fn new(marker_bucket: Option<&str>, prefix: &str, log_bucket: &str, key: &str) -> Self {
        let bucket = marker_bucket.unwrap_or(log_bucket);
        let mut k = if bucket == log_bucket {
            format!("{prefix}{key}.json")
        } else {
            format!("{prefix}{log_bucket}/{key}.json")
        };
        if k.len() > MAX_KEY_BYTES {
            let mut h = Fnv::new();
            h.str(log_bucket);
            h.str(key);
            let mut h2 = Fnv::new();
            h2.str(key);
            h2.str(log_bucket);
            k = format!("{prefix}_long/{:016x}{:016x}.json", h.0, h2.0);
        }
        MarkerLocation {
            bucket: bucket.to_owned(),
            key: k,
        }
    }

    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Why exactly-once bookkeeping stopped a file.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("marker {marker}: {source}")]
    Io {
        marker: String,
        #[source]
        source: io::Error,
    },
    #[error("marker {marker} is unreadable ({detail}); delete it to publish the file again")]
    Unreadable { marker: String, detail: String },
    #[error(
        "being published by another invocation (marker {marker}, owner {owner}, its lease runs {left_s} s more); a later retry skips it once done, or takes it over once the lease has run out"
    )]
    Busy {
        marker: String,
        owner: String,
        left_s: i64,
    },
    #[error("marker {marker} changed while the file was read; retry")]
    Changed { marker: String },
    #[error(
        "cannot resume: {sent} of {batches} batches were published with another configuration or content (marker {marker}); delete the marker to publish the whole file again"
    )]
    Incompatible {
        marker: String,
        sent: usize,
        batches: usize,
    },
    #[error("marker {marker} was taken over by {owner} (this attempt was presumed dead): stopped")]
    LostOwnership { marker: String, owner: String },
    #[error("marker {marker} kept changing under concurrent writers; retry")]
    Contended { marker: String },
    #[error(
        "marker {marker}: the lease could not be renewed within {lease_s} s; stopped publishing so that a takeover never runs beside this attempt"
    )]
    LeaseExpired { marker: String, lease_s: i64 },
}

/// Whether a marker read back after a write whose answer was lost (a conflict on the SDK's retry
/// of it, or an I/O error) is still this attempt's (`me`) for this file version.
pub(super) fn still_ours(m: &Marker, me: &str, file_etag: &str) -> bool {
    m.owner.as_deref() == Some(me) && m.etag == file_etag
}

/// Reads a marker; `None` when there is none.
pub async fn read_marker<S: ConditionalStore>(
    store: &S,
    loc: &MarkerLocation,
) -> Result<Option<(Marker, String)>, MarkerError> {
    let Some((bytes, etag)) =
        store
            .get_with_etag(&loc.bucket, &loc.key)
            .await
            .map_err(|source| MarkerError::Io {
                marker: loc.url(),
                source,
            })?
    else {
        return Ok(None);
    };
    let m = Marker::from_json(&bytes).map_err(|detail| MarkerError::Unreadable {
        marker: loc.url(),
        detail,
    })?;
    Ok(Some((m, etag)))
}

#[cfg(test)]
mod tests {
    use super::super::marker::normalize_etag;
    use super::*;

    #[test]
    fn locations() {
        let l = MarkerLocation::new(None, "_cflm/processed/", "logs", "cf/a b+é.gz");
        assert_eq!(l.bucket, "logs");
        assert_eq!(l.key, "_cflm/processed/cf/a b+é.gz.json");
        let l = MarkerLocation::new(Some("marks"), "m/", "logs", "x.gz");
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str()),
            ("marks", "m/logs/x.gz.json")
        );
        let l = MarkerLocation::new(Some("logs"), "m/", "logs", "x.gz");
        assert_eq!(l.key, "m/x.gz.json");
        let long = "k".repeat(1020);
        let l = MarkerLocation::new(None, "m/", "logs", &long);
        assert!(
            l.key.starts_with("m/_long/") && l.key.len() < 100,
            "{}",
            l.key
        );
        assert_eq!(normalize_etag("\"abc-2\""), "abc-2");
    }
}

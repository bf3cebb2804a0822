//! In-memory doubles of the edges, for fast tests of the publish and handler logic beside the
//! moto integration tests: [`MemoryStore`] is an object store and a conditional store with S3's
//! semantics (ETags, `If-Match` reads, conditional writes) and injectable faults; [`MemorySink`]
//! is a metric sink that records what it accepted and can fail or refuse chosen batches.

use crate::batch::Batch;
use crate::conditional::{Condition, ConditionalStore, PutError};
use crate::datum::Datum;
use crate::object_store::{Expected, ListedObject, ObjectMeta, ObjectStore, VersionChanged};
use crate::sink::{MetricSink, SinkError};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Faults the store injects into marker writes, each counted down as it is used.
#[derive(Debug, Default, Clone, Copy)]
pub struct MarkerFaults {
    /// Writes that succeed before the faults below start to apply.
    pub skip_writes: usize,
    /// Writes that fail with an I/O error without landing.
    pub io_before_write: usize,
    /// Writes that land but answer with a conflict (a lost answer after the SDK's retry).
    pub lose_answers: usize,
    /// Writes that land but answer with an I/O error (retries exhausted after a lost answer).
    pub io_after_write: usize,
}

/// Bytes and quoted ETag by bucket and key.
type Objects = BTreeMap<(String, String), (Vec<u8>, String)>;

/// Objects by bucket and key, each with an ETag (`"o<n>"`, a new one for every write).
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<Objects>,
    next: AtomicUsize,
    /// Faults injected into marker writes.
    pub faults: Mutex<MarkerFaults>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryStore {
    /// Writes an object; returns its ETag (unquoted, as S3 events carry it).
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> String {
        let etag = format!("o{}", self.next.fetch_add(1, Ordering::SeqCst) + 1);
        locked(&self.objects).insert(
            (bucket.to_owned(), key.to_owned()),
            (body, format!("\"{etag}\"")),
        );
        etag
    }

    /// An object's bytes, if there is one.
    pub fn bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        locked(&self.objects)
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|(b, _)| b.clone())
    }

    /// Every key of a bucket under a prefix.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        locked(&self.objects)
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect()
    }
}

impl ObjectStore for MemoryStore {
    type Body = io::Cursor<Vec<u8>>;

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
        from: u64,
    ) -> io::Result<(Self::Body, ObjectMeta)> {
        let end = u64::MAX;
        let (bytes, meta) = self.read(bucket, key, expected, from..end)?;
        Ok((io::Cursor::new(bytes), meta))
    }

    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
        range: std::ops::Range<u64>,
    ) -> io::Result<(bytes::Bytes, ObjectMeta)> {
        let (bytes, meta) = self.read(bucket, key, expected, range)?;
        Ok((bytes.into(), meta))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> io::Result<Vec<ListedObject>> {
        Ok(locked(&self.objects)
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .map(|((_, k), (body, _))| ListedObject {
                key: k.clone(),
                size: i64::try_from(body.len()).ok(),
            })
            .collect())
    }
}

impl MemoryStore {
    /// The bytes `range` of an object (clamped to its end), as a GET with `If-Match` reads it.
    fn read(
        &self,
        bucket: &str,
        key: &str,
        expected: Expected<'_>,
        range: std::ops::Range<u64>,
    ) -> io::Result<(Vec<u8>, ObjectMeta)> {
        let objects = locked(&self.objects);
        let Some((body, etag)) = objects.get(&(bucket.to_owned(), key.to_owned())) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "NoSuchKey"));
        };
        if let Some(want) = expected.etag
            && want.trim_matches('"') != etag.trim_matches('"')
        {
            return Err(io::Error::other(VersionChanged {
                expected: want.to_owned(),
            }));
        }
        let meta = ObjectMeta {
            etag: Some(etag.clone()),
            size: i64::try_from(body.len()).ok(),
        };
        let len = body.len() as u64;
        let (start, end) = (range.start.min(len), range.end.min(len));
        Ok((body[start as usize..end.max(start) as usize].to_vec(), meta))
    }
}

impl ConditionalStore for MemoryStore {
    async fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> io::Result<Option<(Vec<u8>, String)>> {
        Ok(locked(&self.objects)
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned())
    }

    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<String, PutError> {
        let mut objects = locked(&self.objects);
        let id = (bucket.to_owned(), key.to_owned());
        let holds = match (condition, objects.get(&id)) {
            (Condition::Absent, None) => true,
            (Condition::Matches(e), Some((_, current))) => e == current,
            _ => false,
        };
        if !holds {
            return Err(PutError::Conflict);
        }
        let mut faults = locked(&self.faults);
        let let_through = faults.skip_writes > 0;
        if let_through {
            faults.skip_writes -= 1;
        } else if faults.io_before_write > 0 {
            faults.io_before_write -= 1;
            return Err(PutError::Io(io::Error::other("connection reset")));
        }
        let etag = format!("\"m{}\"", self.next.fetch_add(1, Ordering::SeqCst) + 1);
        objects.insert(id, (body, etag.clone()));
        if !let_through && faults.lose_answers > 0 {
            faults.lose_answers -= 1;
            return Err(PutError::Conflict);
        }
        if !let_through && faults.io_after_write > 0 {
            faults.io_after_write -= 1;
            return Err(PutError::Io(io::Error::other("timed out")));
        }
        Ok(etag)
    }
}

/// A metric sink that keeps every datum it accepted.
#[derive(Debug, Default)]
pub struct MemorySink {
    accepted: Mutex<Vec<(usize, Vec<Datum>)>>,
    /// Batch numbers that fail (retryable) every time they are sent.
    pub failing: Mutex<BTreeSet<usize>>,
    /// Batch numbers CloudWatch would refuse for good.
    pub refused: Mutex<BTreeSet<usize>>,
    /// Requests after which the sink never answers again (the function hangs there); `None`:
    /// never.
    pub hang_after: Mutex<Option<usize>>,
    /// How long each request takes.
    pub delay: Mutex<Duration>,
    /// How long the answer takes after the request was accepted (CloudWatch has the datums while
    /// the caller still waits).
    pub answer_delay: Mutex<Duration>,
    requests: AtomicUsize,
}

impl MemorySink {
    /// The batch numbers accepted, in the order they were.
    pub fn batches(&self) -> Vec<usize> {
        locked(&self.accepted).iter().map(|(i, _)| *i).collect()
    }

    /// Every datum accepted.
    pub fn datums(&self) -> Vec<Datum> {
        locked(&self.accepted)
            .iter()
            .flat_map(|(_, d)| d.iter().cloned())
            .collect()
    }

    /// Requests made, accepted or not.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl MetricSink for MemorySink {
    async fn put(&self, _: &str, batch: &Batch) -> Result<(), SinkError> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        if locked(&self.hang_after).is_some_and(|h| n >= h) {
            futures::future::pending::<()>().await;
        }
        let delay = *locked(&self.delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if locked(&self.refused).contains(&batch.index) {
            return Err(SinkError::Rejected {
                batch: batch.index,
                datum: "datum 1".to_owned(),
                message: "InvalidParameterValue (memory sink)".to_owned(),
            });
        }
        if locked(&self.failing).contains(&batch.index) {
            return Err(SinkError::Put {
                batch: batch.index,
                message: "injected failure (memory sink)".to_owned(),
            });
        }
        locked(&self.accepted).push((batch.index, batch.datums.clone()));
        let answer = *locked(&self.answer_delay);
        if !answer.is_zero() {
            tokio::time::sleep(answer).await;
        }
        Ok(())
    }
}

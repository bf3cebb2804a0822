//! Stage "event": what a Lambda invocation asks for. S3 event notifications (direct or inside SQS
//! messages), EventBridge "Object Created" events, records of the on-failure destination and
//! `s3:TestEvent` become a list of objects to process, each tied to the unit that fails together
//! (the invocation, or one SQS message). Records are read one by one: a malformed record becomes
//! an error naming it (index, message ID, field) and never hides the valid records beside it.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

mod batch_job;
pub use batch_job::{BatchJob, Task};

/// S3 keys are at most this many bytes (UTF-8).
const MAX_KEY_BYTES: usize = 1024;

/// One S3 object to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    /// The object version the event named (versioned buckets), if any.
    pub version_id: Option<String>,
    /// The ETag the event announced, if any.
    pub etag: Option<String>,
    /// The size the event announced, if any.
    pub size: Option<i64>,
}

impl ObjectRef {
    /// `s3://bucket/key`, as files are named in errors and logs.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The objects of one failure unit: the whole invocation (S3, EventBridge) or one SQS message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkUnit {
    /// The SQS message ID, for `batchItemFailures`; `None` outside SQS, and for a message that
    /// has none (it cannot be named: its failure fails the whole batch).
    pub message_id: Option<String>,
    /// The objects to process.
    pub objects: Vec<ObjectRef>,
    /// What is wrong with each record that could not be read, naming it: the unit fails (after
    /// its valid objects are processed).
    pub errors: Vec<String>,
    /// Objects the unit names but that are not processed (folder markers, marker objects,
    /// events other than ObjectCreated), with the reason, for the log.
    pub ignored: Vec<(String, &'static str)>,
}

/// What the invocation carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Direct S3 notification(s) or an EventBridge event: one unit, failing as a whole.
    Direct(WorkUnit),
    /// SQS messages, each its own unit (partial batch failure).
    Sqs(Vec<WorkUnit>),
    /// `s3:TestEvent`, sent by S3 when a notification is configured.
    TestEvent,
    /// An S3 Batch Operations job's tasks, each answered with its own result code.
    BatchOperations(BatchJob),
    /// Kinesis Data Streams records (real-time logs), read by [`crate::kinesis`].
    Kinesis,
    /// A Firehose transformation request, answered by [`crate::firehose`].
    Firehose,
    /// EventBridge's "Scheduled Event": publish the closed minutes of every shard.
    Scheduled,
}

/// Whether `payload` is a Kinesis event (its first record comes from `aws:kinesis`).
fn is_kinesis(map: &Map<String, Value>) -> bool {
    map.get("Records")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:kinesis")
}

/// Whether `payload` is a Firehose transformation request.
fn is_firehose(map: &Map<String, Value>) -> bool {
    map.contains_key("deliveryStreamArn") && map.contains_key("records")
}

/// Whether `payload` is an EventBridge scheduled event (a rule with a schedule expression).
fn is_scheduled(map: &Map<String, Value>) -> bool {
    map.get("source").and_then(Value::as_str) == Some("aws.events")
        && map.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// The event, or some of its records, could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(
        "unrecognised event: neither an S3 notification, an SQS message batch, an EventBridge S3 event nor s3:TestEvent"
    )]
    Unrecognised,
    /// Records of a direct invocation could not be read; the valid ones were processed.
    #[error(
        "{} malformed event record(s): {}; {}",
        .records.len(),
        .records.join("; "),
        files_outcome(.files, .failed_files, .first_file_error)
    )]
    Malformed {
        records: Vec<String>,
        /// Log files the valid records named, processed before failing.
        files: usize,
        failed_files: usize,
        first_file_error: Option<String>,
    },
    /// Failed SQS messages without a `messageId` cannot be listed in `batchItemFailures`: the
    /// whole batch fails (and comes back), which an empty identifier would do silently.
    #[error(
        "{} failed SQS message(s) without a messageId, which batchItemFailures cannot name: the whole batch fails; {}",
        .errors.len(),
        .errors.join("; ")
    )]
    MessagesWithoutId { errors: Vec<String> },
    /// An S3 Batch Operations event that cannot be answered (its tasks' own errors are answered).
    #[error("S3 Batch Operations event: {0}")]
    BatchJob(String),
}

fn files_outcome(files: &usize, failed: &usize, first: &Option<String>) -> String {
    match first {
        Some(first) if *failed > 0 => {
            format!("{failed} of the {files} valid log file(s) failed too; first: {first}")
        }
        _ => format!("the {files} valid log file(s) were processed"),
    }
}

/// Decodes a key from an S3 event notification: `+` is a space, then `%XX` escapes. Fails when
/// the bytes are not UTF-8 (no S3 key is).
pub fn decode_notification_key(key: &str) -> Result<String, std::str::Utf8Error> {
    let plus = key.replace('+', " ");
    percent_decode_str(&plus)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
}

/// Why a key is not a log file to process, if it is not.
pub fn ignore_reason(key: &str, marker_prefix: &str) -> Option<&'static str> {
    if key.is_empty() || key.ends_with('/') {
        Some("folder marker")
    } else if !marker_prefix.is_empty() && key.starts_with(marker_prefix) {
        Some("marker object of this function")
    } else {
        None
    }
}

/// Key prefixes of the objects the stack itself writes into the log bucket: keys under them are
/// never read as logs, should a prefix lie inside the one that triggers the function (the
/// template's rules refuse equal prefixes, but CloudFormation cannot compare them further). An
/// empty prefix names nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnPrefixes<'a> {
    /// The function's markers and shard states (`MARKER_PREFIX`).
    pub marker: &'a str,
    /// The Firehose export's documents and its `errors/` (`EXPORT_PREFIX`).
    pub export: &'a str,
    /// `cflogs backfill` manifests and the jobs' completion reports (`BATCH_OPERATIONS_PREFIX`).
    pub batch: &'a str,
}

impl<'a> From<&'a str> for OwnPrefixes<'a> {
    /// The marker prefix alone.
    fn from(marker: &'a str) -> Self {
        OwnPrefixes {
            marker,
            ..OwnPrefixes::default()
        }
    }
}

impl<'a> From<&'a String> for OwnPrefixes<'a> {
    /// The marker prefix alone.
    fn from(marker: &'a String) -> Self {
        OwnPrefixes::from(marker.as_str())
    }
}

impl OwnPrefixes<'_> {
    /// Why a key is not a log file to process, if it is not: [`ignore_reason`], or a key under
    /// the export or Batch Operations prefix.
    pub fn ignore_reason(&self, key: &str) -> Option<&'static str> {
        let under = |prefix: &str| !prefix.is_empty() && key.starts_with(prefix);
        ignore_reason(key, self.marker).or_else(|| {
            if under(self.export) {
                Some("export object of this stack")
            } else if under(self.batch) {
                Some("S3 Batch Operations file of this stack")
            } else {
                None
            }
        })
    }
}

fn is_test_event(v: &Value) -> bool {
    v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value at a dotted `path` under `v`: `Ok(None)` when absent (or null).
fn field<'v>(v: &'v Value, path: &str) -> Result<Option<&'v Value>, String> {
    let mut at = v;
    let mut walked = String::new();
    for part in path.split('.') {
        let Value::Object(m) = at else {
            return Err(format!("{walked} is {}, not an object", kind(at)));
        };
        match m.get(part) {
            None | Some(Value::Null) => return Ok(None),
            Some(next) => at = next,
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
    }
    Ok(Some(at))
}

/// An optional string field.
fn opt_str(v: &Value, path: &str) -> Result<Option<String>, String> {
    match field(v, path)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{path} is {}, not a string", kind(other))),
    }
}

/// A required, non-empty string field.
fn req_str(v: &Value, path: &str) -> Result<String, String> {
    match opt_str(v, path)? {
        None => Err(format!("{path} is missing")),
        Some(s) if s.is_empty() => Err(format!("{path} is empty")),
        Some(s) => Ok(s),
    }
}

/// An optional integer field.
fn opt_i64(v: &Value, path: &str) -> Result<Option<i64>, String> {
    match field(v, path)? {
        None => Ok(None),
        Some(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{path} is {}, not an integer", kind(n))),
    }
}

/// A key as S3 stores it: non-empty and at most 1,024 bytes.
fn check_key(key: String, path: &str) -> Result<String, String> {
    if key.len() > MAX_KEY_BYTES {
        Err(format!("{path} is longer than S3's {MAX_KEY_BYTES} bytes"))
    } else {
        Ok(key)
    }
}

/// What one record asks for.
enum Read {
    Object(ObjectRef),
    Ignored(String, &'static str),
}

/// One record of an S3 notification.
fn s3_record(r: &Value, own: OwnPrefixes<'_>) -> Result<Read, String> {
    if !r.is_object() {
        return Err(format!("not an object but {}", kind(r)));
    }
    if !opt_str(r, "eventName")?.is_none_or(|n| n.starts_with("ObjectCreated")) {
        let key = opt_str(r, "s3.object.key")
            .ok()
            .flatten()
            .unwrap_or_default();
        return Ok(Read::Ignored(key, "not an ObjectCreated event"));
    }
    let raw_key = req_str(r, "s3.object.key")?;
    let key = decode_notification_key(&raw_key)
        .map_err(|_| format!("s3.object.key {raw_key:?} is not UTF-8 once URL-decoded"))?;
    let key = check_key(key, "s3.object.key")?;
    if let Some(why) = own.ignore_reason(&key) {
        return Ok(Read::Ignored(key, why));
    }
    Ok(Read::Object(ObjectRef {
        bucket: req_str(r, "s3.bucket.name")?,
        key,
        version_id: opt_str(r, "s3.object.versionId")?,
        etag: opt_str(r, "s3.object.eTag")?,
        size: opt_i64(r, "s3.object.size")?,
    }))
}

/// An EventBridge "Object Created" event (the key is carried as written, not URL-encoded).
fn eventbridge(e: &Value, own: OwnPrefixes<'_>) -> Result<Read, String> {
    if req_str(e, "detail-type")? != "Object Created" {
        let key = opt_str(e, "detail.object.key")
            .ok()
            .flatten()
            .unwrap_or_default();
        return Ok(Read::Ignored(key, "not an Object Created event"));
    }
    let key = req_str(e, "detail.object.key")?;
    let key = check_key(key, "detail.object.key")?;
    if let Some(why) = own.ignore_reason(&key) {
        return Ok(Read::Ignored(key, why));
    }
    Ok(Read::Object(ObjectRef {
        bucket: req_str(e, "detail.bucket.name")?,
        key,
        version_id: opt_str(e, "detail.object.version-id")?,
        etag: opt_str(e, "detail.object.etag")?,
        size: opt_i64(e, "detail.object.size")?,
    }))
}

impl WorkUnit {
    fn add(&mut self, read: Result<Read, String>, name: impl FnOnce() -> String) {
        match read {
            Ok(Read::Object(o)) => self.objects.push(o),
            Ok(Read::Ignored(key, why)) => self.ignored.push((key, why)),
            Err(e) => self.errors.push(format!("{}: {e}", name())),
        }
    }
}

/// The payload of an on-failure destination record, if `v` is one.
fn on_failure_payload(v: &Map<String, Value>) -> Option<&Value> {
    v.get("requestContext")?;
    v.get("requestPayload")
}

/// One SQS message: its body is an S3 notification (or an EventBridge event, or an on-failure
/// record: whatever a direct invocation accepts), or `s3:TestEvent`.
fn sqs_message(index: usize, m: &Value, own: OwnPrefixes<'_>) -> WorkUnit {
    let message_id = m
        .get("messageId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let name = match &message_id {
        Some(id) => format!("SQS message {id} (Records[{index}])"),
        None => format!("SQS message Records[{index}] (no messageId)"),
    };
    let mut unit = WorkUnit {
        message_id,
        ..WorkUnit::default()
    };
    let body = if m.is_object() {
        opt_str(m, "body").and_then(|b| {
            let b = b.ok_or("body is missing")?;
            serde_json::from_str::<Value>(&b).map_err(|e| format!("body is not JSON ({e})"))
        })
    } else {
        Err(format!("not an object but {}", kind(m)))
    };
    match body.map(|b| parse(&b, own).map_err(|_| b)) {
        Err(e) => unit.errors.push(format!("{name}: {e}")),
        Ok(Ok(Invocation::TestEvent)) => unit.ignored.push((String::new(), "s3:TestEvent")),
        Ok(Ok(Invocation::Direct(inner))) => {
            unit.objects = inner.objects;
            unit.ignored = inner.ignored;
            let inner_errors = inner.errors.into_iter();
            unit.errors = inner_errors.map(|e| format!("{name}: body {e}")).collect();
        }
        Ok(Ok(Invocation::Sqs(_))) => unit
            .errors
            .push(format!("{name}: body is an SQS batch itself")),
        Ok(Ok(Invocation::BatchOperations(_))) => unit.errors.push(format!(
            "{name}: body is an S3 Batch Operations event, which must invoke the function itself"
        )),
        Ok(Ok(inv @ (Invocation::Kinesis | Invocation::Firehose | Invocation::Scheduled))) => {
            unit.errors.push(format!(
                "{name}: body is a {} event, which must invoke the function itself",
                match inv {
                    Invocation::Kinesis => "Kinesis",
                    Invocation::Firehose => "Firehose",
                    _ => "scheduled",
                }
            ))
        }
        Ok(Err(body)) => unit.errors.push(format!(
            "{name}: body is {}, not an S3 notification, an EventBridge S3 event nor s3:TestEvent",
            if body.is_object() {
                "a JSON object"
            } else {
                kind(&body)
            }
        )),
    }
    unit
}

/// Reads an invocation payload: the one dispatch of every event the function accepts. `own`
/// names the stack's own objects (the function's markers, a marker prefix alone converts), which
/// are never processed as logs. Only a payload of no known shape is an error; a malformed record
/// is an error of its unit ([`WorkUnit::errors`]). Kinesis and Firehose payloads are only
/// recognised here: their entry points read them.
pub fn parse<'a>(
    payload: &Value,
    own: impl Into<OwnPrefixes<'a>>,
) -> Result<Invocation, EventError> {
    let own = own.into();
    let Some(map) = payload.as_object() else {
        return Err(EventError::Unrecognised);
    };
    if is_firehose(map) {
        return Ok(Invocation::Firehose);
    }
    if is_kinesis(map) {
        return Ok(Invocation::Kinesis);
    }
    if is_scheduled(map) {
        return Ok(Invocation::Scheduled);
    }
    // A record from the function's on-failure destination: replaying it replays the original.
    if let Some(inner) = on_failure_payload(map) {
        return parse(inner, own);
    }
    if is_test_event(payload) {
        return Ok(Invocation::TestEvent);
    }
    if batch_job::is_batch_job(map) {
        let job = batch_job::parse(payload, own).map_err(EventError::BatchJob)?;
        return Ok(Invocation::BatchOperations(job));
    }
    if let Some(records) = map.get("Records").and_then(Value::as_array) {
        // The first record that says where it comes from decides.
        let source = records
            .iter()
            .find_map(|r| r.get("eventSource").and_then(Value::as_str));
        if source == Some("aws:sqs") {
            let units = records.iter().enumerate();
            let units = units.map(|(i, m)| sqs_message(i, m, own));
            return Ok(Invocation::Sqs(units.collect()));
        }
        let mut unit = WorkUnit::default();
        for (i, r) in records.iter().enumerate() {
            unit.add(s3_record(r, own), || format!("Records[{i}]"));
        }
        return Ok(Invocation::Direct(unit));
    }
    if map.get("source").and_then(Value::as_str) == Some("aws.s3")
        && map.contains_key("detail-type")
    {
        let mut unit = WorkUnit::default();
        let id = map.get("id").and_then(Value::as_str).unwrap_or("(no id)");
        unit.add(eventbridge(payload, own), || {
            format!("EventBridge event {id}")
        });
        return Ok(Invocation::Direct(unit));
    }
    Err(EventError::Unrecognised)
}

#[cfg(test)]
mod tests;

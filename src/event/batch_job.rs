//! The S3 Batch Operations "invoke Lambda" event, invocation schemas 1.0 and 2.0, read into the
//! objects its tasks name. Only the shape: what each task's result is, and the response, are the
//! edge module `batch_ops`.
//!
//! Schema 1.0 names the bucket by ARN (`s3BucketArn`), 2.0 by name (`s3Bucket`) and may carry
//! `job.userArguments` (a string-to-string map). Keys are URL-encoded (`+` or `%20` a space).

use super::{MAX_KEY_BYTES, ObjectRef, OwnPrefixes, decode_notification_key, kind, opt_str};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The invocation schemas this function answers.
pub const SCHEMAS: [&str; 2] = ["1.0", "2.0"];

/// One Batch Operations invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchJob {
    /// `invocationSchemaVersion`, echoed in the response.
    pub schema: String,
    /// `invocationId`, echoed in the response.
    pub invocation_id: String,
    /// `job.id`.
    pub job_id: String,
    /// `job.userArguments` (schema 2.0), as given.
    pub user_arguments: BTreeMap<String, String>,
    /// The tasks, in order.
    pub tasks: Vec<Task>,
}

/// One task: its ID and the object it names, or why it names none that can be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub task_id: String,
    pub object: Result<ObjectRef, String>,
}

/// Whether a payload has the shape of a Batch Operations event.
pub fn is_batch_job(map: &Map<String, Value>) -> bool {
    map.contains_key("invocationSchemaVersion") && map.contains_key("tasks")
}

/// The bucket name of an `arn:aws:s3:::bucket` ARN.
fn bucket_of_arn(arn: &str) -> Option<&str> {
    let name = arn.strip_prefix("arn:")?.split(':').nth(4)?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

fn task(t: &Value, schema: &str, own: OwnPrefixes<'_>) -> Result<ObjectRef, String> {
    let bucket = if schema == "1.0" {
        let arn = opt_str(t, "s3BucketArn")?.ok_or("s3BucketArn is missing")?;
        bucket_of_arn(&arn)
            .ok_or_else(|| format!("s3BucketArn {arn:?} is not an S3 bucket ARN"))?
            .to_owned()
    } else {
        opt_str(t, "s3Bucket")?
            .filter(|b| !b.is_empty())
            .ok_or("s3Bucket is missing")?
    };
    let raw = opt_str(t, "s3Key")?.ok_or("s3Key is missing")?;
    let key = decode_notification_key(&raw)
        .map_err(|_| "s3Key is not UTF-8 once URL-decoded".to_owned())?;
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("s3Key is longer than S3's {MAX_KEY_BYTES} bytes"));
    }
    if let Some(why) = own.ignore_reason(&key) {
        return Err(format!("{why}, not a log file"));
    }
    Ok(ObjectRef {
        bucket,
        key,
        version_id: opt_str(t, "s3VersionId")?.filter(|v| !v.is_empty()),
        etag: None,
        size: None,
    })
}

/// Reads a Batch Operations event. The invocation as a whole fails (`Err`) only when it cannot be
/// answered: no invocation ID, an unknown schema, no task list; a task that cannot be read is
/// that task's error, answered for it.
pub fn parse<'a>(payload: &Value, own: impl Into<OwnPrefixes<'a>>) -> Result<BatchJob, String> {
    let own = own.into();
    let schema = opt_str(payload, "invocationSchemaVersion")?.unwrap_or_default();
    if !SCHEMAS.contains(&schema.as_str()) {
        return Err(format!(
            "invocationSchemaVersion {schema:?} is not one this function answers ({})",
            SCHEMAS.join(", ")
        ));
    }
    let invocation_id = opt_str(payload, "invocationId")?
        .filter(|i| !i.is_empty())
        .ok_or("invocationId is missing")?;
    let job_id = opt_str(payload, "job.id")?.unwrap_or_default();
    let mut user_arguments = BTreeMap::new();
    match payload.pointer("/job/userArguments") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("job.userArguments.{k} is {}, not a string", kind(v)))?;
                user_arguments.insert(k.clone(), v.to_owned());
            }
        }
        Some(other) => return Err(format!("job.userArguments is {}", kind(other))),
    }
    let Some(Value::Array(tasks)) = payload.get("tasks") else {
        return Err("tasks is not an array".to_owned());
    };
    let tasks = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let task_id = t.get("taskId").and_then(Value::as_str);
            Task {
                task_id: task_id.unwrap_or_default().to_owned(),
                object: match task_id {
                    Some(id) if !id.is_empty() => task(t, &schema, own),
                    _ => Err(format!("tasks[{i}]: taskId is missing")),
                },
            }
        })
        .collect();
    Ok(BatchJob {
        schema,
        invocation_id,
        job_id,
        user_arguments,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bucket_arns_name_their_bucket() {
        assert_eq!(bucket_of_arn("arn:aws:s3:::logs"), Some("logs"));
        assert_eq!(bucket_of_arn("arn:aws-cn:s3:::a.b-c"), Some("a.b-c"));
        assert_eq!(bucket_of_arn("arn:aws:s3:::"), None);
        assert_eq!(bucket_of_arn("logs"), None);
        assert_eq!(bucket_of_arn("arn:aws:s3:::logs/key"), None);
    }

    #[test]
    fn schema_1_and_2_name_the_bucket_differently_and_keys_are_decoded() {
        let one = json!({"invocationSchemaVersion": "1.0", "invocationId": "i1",
            "job": {"id": "j1"},
            "tasks": [{"taskId": "t1", "s3Key": "cf/a%20b+c%2B%C3%A9.gz", "s3VersionId": null,
                       "s3BucketArn": "arn:aws:s3:::logs"}]});
        let job = parse(&one, "_cflm/").unwrap();
        let o = job.tasks[0].object.as_ref().unwrap();
        assert_eq!(
            (o.bucket.as_str(), o.key.as_str()),
            ("logs", "cf/a b c+é.gz")
        );
        assert_eq!(o.version_id, None);
        let two = json!({"invocationSchemaVersion": "2.0", "invocationId": "i2",
            "job": {"id": "j2", "userArguments": {"dryRun": "true"}},
            "tasks": [{"taskId": "t2", "s3Key": "k", "s3VersionId": "v7", "s3Bucket": "b"}]});
        let job = parse(&two, "_cflm/").unwrap();
        assert_eq!(job.user_arguments["dryRun"], "true");
        let o = job.tasks[0].object.as_ref().unwrap();
        assert_eq!(
            (o.bucket.as_str(), o.version_id.as_deref()),
            ("b", Some("v7"))
        );
    }

    #[test]
    fn a_bad_task_is_its_own_error_and_a_bad_invocation_is_refused() {
        let e = json!({"invocationSchemaVersion": "2.0", "invocationId": "i",
            "job": {"id": "j"},
            "tasks": [{"taskId": "t1", "s3Key": "k"}, {"s3Key": "k", "s3Bucket": "b"},
                      {"taskId": "t3", "s3Key": "_cflm/x.json", "s3Bucket": "b"}]});
        let job = parse(&e, "_cflm/").unwrap();
        assert_eq!(job.tasks[0].object, Err("s3Bucket is missing".to_owned()));
        assert_eq!(
            job.tasks[1].object,
            Err("tasks[1]: taskId is missing".to_owned())
        );
        assert!(
            job.tasks[2]
                .object
                .as_ref()
                .unwrap_err()
                .contains("marker object")
        );
        let bad = json!({"invocationSchemaVersion": "3.0", "invocationId": "i", "tasks": []});
        assert!(parse(&bad, "").unwrap_err().contains("3.0"));
        let no_id = json!({"invocationSchemaVersion": "1.0", "tasks": []});
        assert_eq!(parse(&no_id, "").unwrap_err(), "invocationId is missing");
    }
}

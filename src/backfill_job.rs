//! `cflogs backfill`: a backfill of an S3 prefix as an S3 Batch Operations job that invokes the
//! function once per log object (the function answers each task, see `batch_ops`). Lists the
//! objects of the hours asked for (the selection `cflogs process` makes), writes the CSV
//! manifest, estimates what the job costs, creates the job (S3 Control `CreateJob`), and reads
//! its progress and completion report back.

use crate::backfill::{HourWindow, Input, collect_inputs, s3_url};
use crate::conditional::{Condition, ConditionalStore};
use crate::object_store::ObjectStore;
use aws_sdk_s3control::types::{
    JobManifest, JobManifestFieldName, JobManifestFormat, JobManifestLocation, JobManifestSpec,
    JobOperation, JobReport, JobReportFormat, JobReportScope, LambdaInvokeOperation,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;
use std::fmt;

/// A job over more objects than this needs `--confirm`.
pub const CONFIRM_ABOVE: usize = 10_000;
/// The invocation schema the job's events use (bucket names, `userArguments`).
pub const SCHEMA: &str = "2.0";

/// What a key keeps unencoded in the manifest: RFC 3986 unreserved characters and `/`. Every
/// other byte, `+` and space included, is `%XX`, as Batch Operations decodes manifests.
const KEY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Why a backfill job could not be prepared, created or read.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0:?} is not an S3 prefix (s3://bucket/prefix/)")]
    NotS3(String),
    #[error(transparent)]
    List(#[from] crate::backfill::CollectError),
    #[error("writing the manifest s3://{bucket}/{key}: {detail}")]
    Manifest {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error("stack {stack}: {detail}")]
    Stack { stack: String, detail: String },
    #[error("{0:?} is not an ARN with an account ID")]
    Arn(String),
    #[error("S3 Control {operation}: {detail}")]
    Control {
        operation: &'static str,
        detail: String,
    },
    #[error("the completion report s3://{bucket}/{key}: {detail}")]
    Report {
        bucket: String,
        key: String,
        detail: String,
    },
}

/// A key as the manifest carries it.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_SET).to_string()
}

/// The objects a backfill covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub bucket: String,
    /// Keys and sizes, in key order.
    pub objects: Vec<(String, i64)>,
}

impl Selection {
    /// Total bytes of the objects.
    pub fn bytes(&self) -> u64 {
        self.objects.iter().map(|(_, s)| *s.max(&0) as u64).sum()
    }

    /// The CSV manifest: `bucket,key` per line, keys URL-encoded.
    pub fn manifest(&self) -> String {
        let mut csv = String::new();
        for (key, _) in &self.objects {
            csv.push_str(&self.bucket);
            csv.push(',');
            csv.push_str(&encode_key(key));
            csv.push('\n');
        }
        csv
    }
}

/// Lists `url` (`s3://bucket/prefix`) for the hours asked, as `cflogs process` would select
/// them, leaving out keys under any of `exclude` (the function's markers, manifests, reports).
pub async fn select<S: ObjectStore>(
    store: &S,
    url: &str,
    exclude: &[&str],
    hours: HourWindow,
) -> Result<Selection, JobError> {
    let (bucket, _) = s3_url(url).ok_or_else(|| JobError::NotS3(url.to_owned()))?;
    let marker_prefix = exclude.first().copied().unwrap_or("");
    let inputs = collect_inputs(Some(store), &[url.to_owned()], marker_prefix, hours).await?;
    let objects = inputs
        .into_iter()
        .filter_map(|i| match i {
            Input::S3(o) => Some((o.key, o.size.unwrap_or(0))),
            Input::Local(_) => None,
        })
        .filter(|(k, _)| !exclude.iter().any(|p| !p.is_empty() && k.starts_with(p)))
        .collect();
    Ok(Selection { bucket, objects })
}

/// Writes the manifest (a new key: never overwrites); returns its ETag, unquoted.
pub async fn write_manifest<S: ConditionalStore>(
    store: &S,
    bucket: &str,
    key: &str,
    csv: String,
) -> Result<String, JobError> {
    store
        .put_if(bucket, key, csv.into_bytes(), Condition::Absent)
        .await
        .map(|etag| etag.trim_matches('"').to_owned())
        .map_err(|e| JobError::Manifest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            detail: e.to_string(),
        })
}

/// List prices (us-east-1, USD) the estimate uses; see README "Cost model".
pub mod price {
    /// Lambda, per invocation.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Lambda on arm64, per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// PutMetricData, per request.
    pub const PUT_METRIC_DATA: f64 = 0.01 / 1e3;
    /// S3 GET and PUT requests.
    pub const S3_GET: f64 = 0.0004 / 1e3;
    pub const S3_PUT: f64 = 0.005 / 1e3;
    /// S3 Batch Operations: per job, and per object processed.
    pub const BATCH_JOB: f64 = 0.25;
    pub const BATCH_OBJECT: f64 = 1.00 / 1e6;
}

/// What a job is expected to take and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub objects: usize,
    pub bytes: u64,
    pub manifest_bytes: usize,
    /// Seconds of one invocation on average.
    pub seconds_per_object: f64,
    pub gb_seconds: f64,
    pub put_requests: u64,
    pub lambda_usd: f64,
    pub cloudwatch_usd: f64,
    pub s3_usd: f64,
    pub batch_usd: f64,
    /// Wall-clock hours at the concurrency given.
    pub hours: f64,
    pub concurrency: u32,
}

/// Estimates a job: per object one invocation of `memory_mb` that spends a fixed 0.2 s on S3
/// and CloudWatch round trips plus its gzip'd size at the README's measured throughput (31.8 MB/s
/// at 512 MB, scaling with memory up to one vCPU), `requests_per_object` PutMetricData requests
/// (2 for an hour file with the default dimensions), a GET and three marker requests; run
/// `concurrency` at a time.
pub fn estimate(
    sel: &Selection,
    manifest_bytes: usize,
    memory_mb: u32,
    requests_per_object: u64,
    concurrency: u32,
) -> Estimate {
    let n = sel.objects.len();
    let bytes = sel.bytes();
    let throughput = 31.8e6 * (f64::from(memory_mb.min(1769)) / 512.0);
    let seconds = n as f64 * 0.2 + bytes as f64 / throughput;
    let gb_seconds = seconds * f64::from(memory_mb) / 1024.0;
    let put_requests = n as u64 * requests_per_object;
    let concurrency = concurrency.max(1);
    Estimate {
        objects: n,
        bytes,
        manifest_bytes,
        seconds_per_object: if n == 0 { 0.0 } else { seconds / n as f64 },
        gb_seconds,
        put_requests,
        lambda_usd: n as f64 * price::LAMBDA_REQUEST + gb_seconds * price::LAMBDA_GB_SECOND,
        cloudwatch_usd: put_requests as f64 * price::PUT_METRIC_DATA,
        s3_usd: n as f64 * (2.0 * price::S3_GET + 2.0 * price::S3_PUT),
        batch_usd: price::BATCH_JOB + n as f64 * price::BATCH_OBJECT,
        hours: seconds / f64::from(concurrency) / 3600.0,
        concurrency,
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.lambda_usd + self.cloudwatch_usd + self.s3_usd + self.batch_usd;
        writeln!(
            f,
            "objects: {} ({:.1} MB gzip'd); manifest: {} bytes",
            self.objects,
            self.bytes as f64 / 1e6,
            self.manifest_bytes
        )?;
        writeln!(
            f,
            "Lambda: {} invocations, ~{:.2} s each, {:.0} GB-s: ${:.4}",
            self.objects, self.seconds_per_object, self.gb_seconds, self.lambda_usd
        )?;
        writeln!(
            f,
            "CloudWatch: ~{} PutMetricData requests: ${:.4} (plus custom metrics, README \"Cost model\")",
            self.put_requests, self.cloudwatch_usd
        )?;
        writeln!(
            f,
            "S3 requests: ${:.4}; Batch Operations: ${:.4}",
            self.s3_usd, self.batch_usd
        )?;
        write!(
            f,
            "expected: ${total:.2} in about {:.1} h at a concurrency of {} (list prices, us-east-1)",
            self.hours, self.concurrency
        )
    }
}

/// The account ID an ARN names (`arn:partition:service:region:account:...`).
pub fn account_of(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Everything a job is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub function_arn: String,
    pub role_arn: String,
    pub manifest_bucket: String,
    pub manifest_key: String,
    pub manifest_etag: String,
    pub report_bucket: String,
    pub report_prefix: String,
    pub priority: i32,
    /// Idempotency token of the request: a retried CreateJob creates one job.
    pub token: String,
    pub description: String,
    pub user_arguments: BTreeMap<String, String>,
}

fn control<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
) -> impl FnOnce(E) -> JobError {
    move |e| JobError::Control {
        operation,
        detail: aws_sdk_s3control::error::DisplayErrorContext(e).to_string(),
    }
}

/// Creates the job (it starts without a confirmation); returns its ID.
pub async fn create_job(
    client: &aws_sdk_s3control::Client,
    spec: &JobSpec,
) -> Result<String, JobError> {
    let account = account_of(&spec.role_arn).ok_or_else(|| JobError::Arn(spec.role_arn.clone()))?;
    let lambda = LambdaInvokeOperation::builder()
        .function_arn(&spec.function_arn)
        .invocation_schema_version(SCHEMA)
        .set_user_arguments(
            (!spec.user_arguments.is_empty())
                .then(|| spec.user_arguments.clone().into_iter().collect()),
        )
        .build();
    let manifest = JobManifest::builder()
        .spec(
            JobManifestSpec::builder()
                .format(JobManifestFormat::S3BatchOperationsCsv20180820)
                .fields(JobManifestFieldName::Bucket)
                .fields(JobManifestFieldName::Key)
                .build()
                .map_err(control("CreateJob"))?,
        )
        .location(
            JobManifestLocation::builder()
                .object_arn(format!(
                    "arn:aws:s3:::{}/{}",
                    spec.manifest_bucket, spec.manifest_key
                ))
                .e_tag(&spec.manifest_etag)
                .build()
                .map_err(control("CreateJob"))?,
        )
        .build();
    let report = JobReport::builder()
        .bucket(format!("arn:aws:s3:::{}", spec.report_bucket))
        .prefix(spec.report_prefix.trim_end_matches('/'))
        .format(JobReportFormat::ReportCsv20180820)
        .enabled(true)
        .report_scope(JobReportScope::AllTasks)
        .build();
    let out = client
        .create_job()
        .account_id(account)
        .confirmation_required(false)
        .operation(JobOperation::builder().lambda_invoke(lambda).build())
        .manifest(manifest)
        .report(report)
        .priority(spec.priority)
        .role_arn(&spec.role_arn)
        .client_request_token(&spec.token)
        .description(spec.description.chars().take(256).collect::<String>())
        .send()
        .await
        .map_err(control("CreateJob"))?;
    out.job_id.ok_or(JobError::Control {
        operation: "CreateJob",
        detail: "answered without a job ID".to_owned(),
    })
}

/// The S3 console page of a job.
pub fn console_url(region: &str, job_id: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/s3/jobs/{job_id}?region={region}")
}

/// A job's state, from DescribeJob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStatus {
    pub status: String,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Where its completion report goes: bucket name and prefix.
    pub report: Option<(String, String)>,
    /// Why the job failed or was suspended, if it says.
    pub reasons: Vec<String>,
}

/// Reads a job's state.
pub async fn describe_job(
    client: &aws_sdk_s3control::Client,
    account: &str,
    job_id: &str,
) -> Result<JobStatus, JobError> {
    let out = client
        .describe_job()
        .account_id(account)
        .job_id(job_id)
        .send()
        .await
        .map_err(control("DescribeJob"))?;
    let Some(job) = out.job else {
        return Err(JobError::Control {
            operation: "DescribeJob",
            detail: format!("no job {job_id}"),
        });
    };
    let progress = job.progress_summary();
    let report = job.report().filter(|r| r.enabled()).and_then(|r| {
        let bucket = r.bucket()?;
        let bucket = bucket.rsplit(":::").next().unwrap_or(bucket);
        Some((bucket.to_owned(), r.prefix().unwrap_or("").to_owned()))
    });
    let mut reasons: Vec<String> = job
        .failure_reasons()
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f.failure_code().unwrap_or(""),
                f.failure_reason().unwrap_or("")
            )
        })
        .collect();
    reasons.extend(job.suspended_cause().map(str::to_owned));
    Ok(JobStatus {
        status: job
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        total: progress
            .and_then(|p| p.total_number_of_tasks())
            .unwrap_or(0),
        succeeded: progress
            .and_then(|p| p.number_of_tasks_succeeded())
            .unwrap_or(0),
        failed: progress
            .and_then(|p| p.number_of_tasks_failed())
            .unwrap_or(0),
        report,
        reasons,
    })
}

/// The stack outputs `cflogs backfill --stack` reads (template.yml `Outputs`).
pub mod output {
    pub const FUNCTION_ARN: &str = "FunctionArn";
    pub const ROLE_ARN: &str = "BatchOperationsRoleArn";
    pub const BUCKET: &str = "LogBucketName";
    pub const MANIFEST_PREFIX: &str = "BatchManifestPrefix";
    pub const REPORT_PREFIX: &str = "BatchReportPrefix";
}

/// A stack's outputs by key; an error names the outputs a backfill needs that it lacks.
pub async fn stack_outputs(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<BTreeMap<String, String>, JobError> {
    let out = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| JobError::Stack {
            stack: stack.to_owned(),
            detail: aws_sdk_cloudformation::error::DisplayErrorContext(e).to_string(),
        })?;
    let outputs: BTreeMap<String, String> = out
        .stacks()
        .iter()
        .flat_map(|s| s.outputs())
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let needed = [
        output::FUNCTION_ARN,
        output::ROLE_ARN,
        output::BUCKET,
        output::MANIFEST_PREFIX,
        output::REPORT_PREFIX,
    ];
    let missing: Vec<&str> = needed
        .into_iter()
        .filter(|k| !outputs.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(JobError::Stack {
            stack: stack.to_owned(),
            detail: format!(
                "no output {} (a stack of this project's template.yml has them)",
                missing.join(", ")
            ),
        });
    }
    Ok(outputs)
}

/// A backfill to prepare: what to list, where the manifest and the report go, what the job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `s3://bucket/prefix`.
    pub url: String,
    pub hours: HourWindow,
    /// Key prefixes never listed (the function's markers, manifests, reports).
    pub exclude: Vec<String>,
    /// Where the manifest goes (`None`: the log bucket), under `manifest_prefix`.
    pub manifest_bucket: Option<String>,
    pub manifest_prefix: String,
    pub function_arn: String,
    pub role_arn: String,
    /// Where the completion report goes (`None`: the manifest's bucket), under `report_prefix`.
    pub report_bucket: Option<String>,
    pub report_prefix: String,
    pub priority: i32,
    /// The job's `userArguments`.
    pub user_arguments: BTreeMap<String, String>,
    /// For the estimate: the function's memory, its concurrency, PutMetricData requests per file.
    pub memory_mb: u32,
    pub concurrency: u32,
    pub requests_per_object: u64,
    /// Names the manifest and the request token.
    pub now_ms: i64,
}

/// What [`start`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    /// Nothing in the range: no manifest, no job.
    Empty,
    /// `--dry-run`: nothing written.
    DryRun(Estimate),
    /// More than [`CONFIRM_ABOVE`] objects and no `--confirm`: nothing written.
    NeedsConfirm(Estimate),
    Created {
        job_id: String,
        /// `s3://bucket/key` of the manifest.
        manifest: String,
        estimate: Estimate,
    },
}

/// Lists the range, estimates, and (unless a dry run, or too large unconfirmed) writes the
/// manifest and creates the job.
pub async fn start<S: ObjectStore + ConditionalStore>(
    store: &S,
    control: &aws_sdk_s3control::Client,
    plan: &Plan,
    dry_run: bool,
    confirm: bool,
) -> Result<Started, JobError> {
    let exclude: Vec<&str> = plan.exclude.iter().map(String::as_str).collect();
    let sel = select(store, &plan.url, &exclude, plan.hours).await?;
    if sel.objects.is_empty() {
        return Ok(Started::Empty);
    }
    let csv = sel.manifest();
    let e = estimate(
        &sel,
        csv.len(),
        plan.memory_mb,
        plan.requests_per_object,
        plan.concurrency,
    );
    if dry_run {
        return Ok(Started::DryRun(e));
    }
    if sel.objects.len() > CONFIRM_ABOVE && !confirm {
        return Ok(Started::NeedsConfirm(e));
    }
    let stamp: String = crate::parse::value::format_rfc3339(plan.now_ms)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let name = format!(
        "backfill-{stamp}-{:08x}",
        crate::hash::fnv64(csv.as_bytes()) as u32
    );
    let manifest_bucket = plan.manifest_bucket.clone().unwrap_or(sel.bucket.clone());
    let manifest_key = format!("{}{name}.csv", plan.manifest_prefix);
    let etag = write_manifest(store, &manifest_bucket, &manifest_key, csv).await?;
    let spec = JobSpec {
        function_arn: plan.function_arn.clone(),
        role_arn: plan.role_arn.clone(),
        report_bucket: plan
            .report_bucket
            .clone()
            .unwrap_or(manifest_bucket.clone()),
        report_prefix: plan.report_prefix.clone(),
        manifest_bucket,
        manifest_key,
        manifest_etag: etag,
        priority: plan.priority,
        token: name.clone(),
        description: format!(
            "cflogs backfill of {} ({} objects)",
            plan.url,
            sel.objects.len()
        ),
        user_arguments: plan.user_arguments.clone(),
    };
    let job_id = create_job(control, &spec).await?;
    Ok(Started::Created {
        job_id,
        manifest: format!("s3://{}/{}", spec.manifest_bucket, spec.manifest_key),
        estimate: e,
    })
}

/// The fields of one CSV line (RFC 4180 quoting).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Tasks of a completion report by (result code, reason): the reason is the `resultString` up to
/// its first `:` (see `batch_ops`). Columns: Bucket, Key, VersionId, TaskStatus, ErrorCode,
/// HTTPStatusCode, ResultMessage.
pub fn tally(csv: &str, totals: &mut BTreeMap<(String, String), u64>) {
    for line in csv.lines().filter(|l| !l.trim().is_empty()) {
        let f = csv_fields(line);
        let get = |i: usize| f.get(i).map(String::as_str).unwrap_or("");
        let code = match get(4) {
            c @ ("Succeeded" | "TemporaryFailure" | "PermanentFailure") => c.to_owned(),
            _ if get(3).eq_ignore_ascii_case("succeeded") => "Succeeded".to_owned(),
            "" => get(3).to_owned(),
            other => format!("{} ({other})", get(3)),
        };
        let message = get(6);
        let reason = message.split(':').next().unwrap_or("").trim().to_owned();
        *totals.entry((code, reason)).or_default() += 1;
    }
}

/// Totals of a finished job's completion report (`<prefix>/job-<id>/manifest.json` and the CSV
/// files it lists); `None` while there is none.
pub async fn report_totals<S: ConditionalStore>(
    store: &S,
    bucket: &str,
    prefix: &str,
    job_id: &str,
) -> Result<Option<BTreeMap<(String, String), u64>>, JobError> {
    let prefix = prefix.trim_end_matches('/');
    let key = match prefix {
        "" => format!("job-{job_id}/manifest.json"),
        p => format!("{p}/job-{job_id}/manifest.json"),
    };
    let err = |bucket: &str, key: &str, detail: String| JobError::Report {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        detail,
    };
    let read = |bucket: String, key: String| async move {
        store
            .get_with_etag(&bucket, &key)
            .await
            .map(|o| o.map(|(body, _)| body))
            .map_err(|e| err(&bucket, &key, e.to_string()))
    };
    let Some(manifest) = read(bucket.to_owned(), key.clone()).await? else {
        return Ok(None);
    };
    let manifest: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| err(bucket, &key, format!("not JSON: {e}")))?;
    let mut totals = BTreeMap::new();
    for r in manifest["Results"].as_array().into_iter().flatten() {
        let (Some(b), Some(k)) = (r["Bucket"].as_str(), r["Key"].as_str()) else {
            continue;
        };
        let b = b.rsplit(":::").next().unwrap_or(b);
        let body = read(b.to_owned(), k.to_owned())
            .await?
            .ok_or_else(|| err(b, k, "listed in the report's manifest but missing".into()))?;
        tally(&String::from_utf8_lossy(&body), &mut totals);
    }
    Ok(Some(totals))
}

#[cfg(test)]
mod tests;

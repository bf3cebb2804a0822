//! Backfills on S3 Batch Operations, against moto: `cflogs backfill` lists a range, writes its
//! manifest to S3 and creates the job; `--status` reads the job and its completion report; and
//! the real Lambda binary answers Batch Operations events through the runtime API with exact
//! CloudWatch totals.
//!
//! moto has no S3 Control jobs (CreateJob, DescribeJob): a loopback HTTP listener stands in for
//! S3 Control (`AWS_ENDPOINT_URL_S3_CONTROL`), records the requests `cflogs` sends and answers
//! them as S3 Control does; the tests assert the requests' XML (manifest ETag, role, function,
//! report). Everything else is moto.
//!
//! Needs the dev venv (`bash scripts/dev-venv.sh`, or `VENV=...`), and cargo-lambda for the
//! runtime test; without them these tests skip locally and fail when `CI=true`.

mod support;

use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::event::decode_notification_key;
use cloudfront_log_metrics::pipeline::process_reader;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::logs::at;
use support::metrics::total;
use support::runtime::{Function, response, root};
use support::{MotoStack, put_object};

const BUCKET: &str = "cloudfront-logs-example";
const ROLE: &str = "arn:aws:iam::123456789012:role/cflm-BatchOperationsRole-X1";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:cflm";
const JOB: &str = "8c6a1b2e-0f3d-4e5a-9b7c-112233445566";

/// One request S3 Control received.
#[derive(Debug, Clone)]
struct Captured {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback S3 Control: records every request and answers it with `answer(method, path)`.
struct Control {
    url: String,
    requests: Arc<Mutex<Vec<Captured>>>,
}

fn serve(mut stream: TcpStream, answer: fn(&str, &str) -> (u16, String)) -> Option<Captured> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (status, text) = answer(&method, &path);
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/xml\r\nx-amz-request-id: test\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(response.as_bytes()).ok()?;
    Some(Captured {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

impl Control {
    fn start(answer: fn(&str, &str) -> (u16, String)) -> Control {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(c) = serve(stream, answer) {
                    seen.lock().unwrap().push(c);
                }
            }
        });
        Control { url, requests }
    }

    fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

/// S3 Control's answers: CreateJob and DescribeJob of [`JOB`].
fn s3_control(method: &str, path: &str) -> (u16, String) {
    match (method, path) {
        ("POST", "/v20180820/jobs") => (
            200,
            format!("<CreateJobResult><JobId>{JOB}</JobId></CreateJobResult>"),
        ),
        ("GET", p) if p == format!("/v20180820/jobs/{JOB}") => (
            200,
            format!(
                "<DescribeJobResult><Job><JobId>{JOB}</JobId><Status>Complete</Status>\
                 <Priority>10</Priority><ProgressSummary><TotalNumberOfTasks>4</TotalNumberOfTasks>\
                 <NumberOfTasksSucceeded>3</NumberOfTasksSucceeded>\
                 <NumberOfTasksFailed>1</NumberOfTasksFailed></ProgressSummary>\
                 <Report><Bucket>arn:aws:s3:::{BUCKET}</Bucket><Format>Report_CSV_20180820</Format>\
                 <Enabled>true</Enabled><Prefix>_cflm/batch/reports</Prefix>\
                 <ReportScope>AllTasks</ReportScope></Report></Job></DescribeJobResult>"
            ),
        ),
        _ => (
            404,
            "<Error><Code>NoSuchJob</Code><Message>no</Message></Error>".to_owned(),
        ),
    }
}

/// `cflogs args` against moto's S3 and the loopback S3 Control.
fn cflogs(stack: &MotoStack, control: &Control, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cflogs"));
    for v in cloudfront_log_metrics::settings::env::LAMBDA {
        cmd.env_remove(v);
    }
    cmd.args(args)
        .env_remove("CFLM_NOW")
        .env_remove("CFLOGS_FUNCTION_ARN")
        .env_remove("CFLOGS_BATCH_ROLE_ARN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_S3", &stack.moto)
        .env("AWS_ENDPOINT_URL_S3_CONTROL", &control.url)
        .env("AWS_ENDPOINT_URL_CLOUDFORMATION", &stack.moto)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The text of every `<tag>` element of `xml`, in order.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|s| s.split_once(&close).map(|(v, _)| v.to_owned()))
        .collect()
}

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> (String, String) {
    let o = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let etag = o.e_tag.clone().unwrap_or_default();
    let body = o.body.collect().await.unwrap().into_bytes();
    (String::from_utf8(body.to_vec()).unwrap(), etag)
}

async fn keys_under(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn backfill_writes_the_manifest_of_the_range_and_creates_the_job_on_it() {
    let Some((stack, _sdk, s3, _cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let control = Control::start(s3_control);
    let in_range = [
        "cloudfront/E2EXAMPLE1234.2026-11-20-12.a b+c.gz",
        "cloudfront/E2EXAMPLE1234.2026-11-20-12.plain.gz",
        "cloudfront/ünïcödé/E2EXAMPLE1234.2026-11-20-13.x.gz",
    ];
    let outside = [
        "cloudfront/E2EXAMPLE1234.2026-11-20-11.early.gz",
        "cloudfront/E2EXAMPLE1234.2026-11-20-14.late.gz",
        "_cflm/processed/cloudfront/E2EXAMPLE1234.2026-11-20-12.plain.gz.json",
        "_cflm/batch/manifests/backfill-older.csv",
        "_cflm/batch/reports/job-1/manifest.json",
    ];
    for k in in_range.iter().chain(&outside) {
        put_object(&s3, BUCKET, k, b"x".to_vec()).await;
    }
    let url = format!("s3://{BUCKET}/");
    let range = ["--since", "2026-11-20T12", "--until", "2026-11-20T13"];

    // A dry run says what the job would be and writes and creates nothing.
    let dry = cflogs(
        &stack,
        &control,
        &[&["backfill", &url, "--dry-run"][..], &range].concat(),
    );
    let (out, err) = text(&dry);
    assert!(dry.status.success(), "{out}{err}");
    assert!(out.starts_with("objects: 3 ("), "{out}");
    assert!(out.contains("expected: $"), "{out}");
    assert_eq!(keys_under(&s3, "_cflm/batch/manifests/").await.len(), 1);
    // userArguments are checked as the function checks them, before anything is written.
    let bad = cflogs(
        &stack,
        &control,
        &[
            &[
                "backfill",
                &url,
                "--function-arn",
                FUNCTION,
                "--role-arn",
                ROLE,
            ][..],
            &["--argument", "dimensions=DistributionId,Colour"],
            &range,
        ]
        .concat(),
    );
    let (_, err) = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("userArguments.dimensions"), "{err}");
    assert!(control.requests().is_empty());

    let run = cflogs(
        &stack,
        &control,
        &[
            &[
                "backfill",
                &url,
                "--function-arn",
                FUNCTION,
                "--role-arn",
                ROLE,
            ][..],
            &["--argument", "dimensions=DistributionId,EdgeLocation"],
            &range,
        ]
        .concat(),
    );
    let (out, err) = text(&run);
    assert!(run.status.success(), "{out}{err}");
    assert!(out.contains(&format!("job: {JOB}\n")), "{out}");
    assert!(
        out.contains(&format!(
            "console: https://us-east-1.console.aws.amazon.com/s3/jobs/{JOB}?region=us-east-1"
        )),
        "{out}"
    );
    let manifest_key = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("manifest: s3://{BUCKET}/")))
        .unwrap_or_else(|| panic!("no manifest line: {out}"))
        .to_owned();
    assert!(
        manifest_key.starts_with("_cflm/batch/manifests/backfill-"),
        "{manifest_key}"
    );

    // The manifest: bucket,key per object of the range, keys encoded as the function decodes.
    let (csv, etag) = get(&s3, &manifest_key).await;
    let listed: Vec<String> = csv
        .lines()
        .map(|l| {
            let (bucket, key) = l.split_once(',').unwrap();
            assert_eq!(bucket, BUCKET);
            assert!(!key.contains([' ', '+', ',']), "{key}");
            decode_notification_key(key).unwrap()
        })
        .collect();
    let mut want: Vec<String> = in_range.iter().map(|k| (*k).to_owned()).collect();
    want.sort();
    assert_eq!(listed, want);

    // CreateJob: the manifest just written (its ETag), the role, the function, the report.
    let requests = control.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v20180820/jobs")
    );
    assert_eq!(r.header("x-amz-account-id"), Some("123456789012"));
    let body = &r.body;
    let one = |tag: &str| {
        let v = elements(body, tag);
        assert_eq!(v.len(), 1, "<{tag}> in {body}");
        v[0].clone()
    };
    assert_eq!(one("ETag"), etag.trim_matches('"'));
    assert_eq!(
        one("ObjectArn"),
        format!("arn:aws:s3:::{BUCKET}/{manifest_key}")
    );
    assert_eq!(
        elements(body, "Format"),
        ["S3BatchOperations_CSV_20180820", "Report_CSV_20180820"]
    );
    assert_eq!(elements(body, "member"), ["Bucket", "Key"]);
    assert_eq!(one("RoleArn"), ROLE);
    assert_eq!(one("FunctionArn"), FUNCTION);
    assert_eq!(one("InvocationSchemaVersion"), "2.0");
    assert_eq!(one("Bucket"), format!("arn:aws:s3:::{BUCKET}"));
    assert_eq!(one("Prefix"), "_cflm/batch/reports");
    assert_eq!(one("ReportScope"), "AllTasks");
    assert_eq!(one("Enabled"), "true");
    assert_eq!(one("ConfirmationRequired"), "false");
    assert_eq!(one("key"), "dimensions");
    assert_eq!(one("value"), "DistributionId,EdgeLocation");
}

#[tokio::test]
async fn backfill_takes_the_function_role_bucket_and_prefixes_from_the_stack() {
    let Some((stack, sdk, s3, _cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let control = Control::start(s3_control);
    let cf = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(&sdk)
            .endpoint_url(&stack.moto)
            .build(),
    );
    // The outputs of template.yml, on a stand-in resource (moto cannot run SAM's transform).
    let template = json!({
        "Resources": {"Stand": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "FunctionArn": {"Value": FUNCTION},
            "BatchOperationsRoleArn": {"Value": ROLE},
            "LogBucketName": {"Value": BUCKET},
            "BatchManifestPrefix": {"Value": "ops/manifests/"},
            "BatchReportPrefix": {"Value": "ops/reports/"}
        }
    });
    cf.create_stack()
        .stack_name("cflm")
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
    put_object(
        &s3,
        BUCKET,
        "cloudfront/E2EXAMPLE1234.2026-11-20-12.a.gz",
        b"x".to_vec(),
    )
    .await;
    put_object(&s3, BUCKET, "ops/manifests/backfill-old.csv", b"x".to_vec()).await;
    let url = format!("s3://{BUCKET}/");
    let run = cflogs(&stack, &control, &["backfill", &url, "--stack", "cflm"]);
    let (out, err) = text(&run);
    assert!(run.status.success(), "{out}{err}");
    assert!(
        out.starts_with("objects: 1 ("),
        "only the log is listed: {out}"
    );
    let manifest = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("manifest: s3://{BUCKET}/")))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        manifest.starts_with("ops/manifests/backfill-"),
        "{manifest}"
    );
    let requests = control.requests();
    let body = &requests[0].body;
    assert_eq!(elements(body, "RoleArn"), [ROLE]);
    assert_eq!(elements(body, "FunctionArn"), [FUNCTION]);
    assert_eq!(elements(body, "Prefix"), ["ops/reports"]);
    assert_eq!(
        elements(body, "Bucket")[0],
        format!("arn:aws:s3:::{BUCKET}")
    );

    let none = cflogs(&stack, &control, &["backfill", &url, "--stack", "nope"]);
    let (_, err) = text(&none);
    assert_eq!(none.status.code(), Some(2), "{err}");
    assert!(err.contains("stack nope"), "{err}");
    assert_eq!(control.requests().len(), 1);
}

#[tokio::test]
async fn status_shows_progress_and_the_completion_report_by_code_and_reason() {
    let Some((stack, _sdk, s3, _cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let control = Control::start(s3_control);
    let dir = format!("_cflm/batch/reports/job-{JOB}");
    let ok = "cloudfront-logs-example,k1,,succeeded,200,,\"published: 12 records, 0 rejected lines\"\n\
              cloudfront-logs-example,k2,,succeeded,200,,\"duplicate: published before (marker m)\"\n\
              cloudfront-logs-example,k3,,succeeded,200,,\"published: 7 records\"\n";
    let failed =
        "cloudfront-logs-example,k4,,failed,PermanentFailure,200,\"too old: the key's hour\"\n";
    put_object(&s3, BUCKET, &format!("{dir}/results/a.csv"), ok.into()).await;
    put_object(&s3, BUCKET, &format!("{dir}/results/b.csv"), failed.into()).await;
    let manifest = json!({"Format": "Report_CSV_20180820", "Results": [
        {"TaskExecutionStatus": "succeeded", "Bucket": format!("arn:aws:s3:::{BUCKET}"),
         "Key": format!("{dir}/results/a.csv")},
        {"TaskExecutionStatus": "failed", "Bucket": format!("arn:aws:s3:::{BUCKET}"),
         "Key": format!("{dir}/results/b.csv")}]});
    put_object(
        &s3,
        BUCKET,
        &format!("{dir}/manifest.json"),
        manifest.to_string().into(),
    )
    .await;

    let o = cflogs(
        &stack,
        &control,
        &["backfill", "--status", JOB, "--role-arn", ROLE],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "a failed task: {out}{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "job",
            &format!("{JOB}:"),
            "Complete,",
            "3",
            "of",
            "4",
            "tasks",
            "succeeded,",
            "1",
            "failed"
        ]
    );
    assert_eq!(lines[1], ["completion", "report:"]);
    assert_eq!(
        lines[2..],
        [
            vec!["PermanentFailure", "1", "too", "old"],
            vec!["Succeeded", "1", "duplicate"],
            vec!["Succeeded", "2", "published"],
        ]
    );
    let r = control.requests();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].method, "GET");
    assert_eq!(r[0].header("x-amz-account-id"), Some("123456789012"));
}

// ------------------------------------------------------------------ through the runtime API

/// The function's clock (`CFLM_NOW`): just after the sample logs.
const NOW: &str = "2026-11-20T12:30:00Z";

fn sample_event(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(root().join("events").join(name)).unwrap()).unwrap()
}

/// (resultCode, reason) of each task, and the task IDs.
fn results(r: &Value) -> Vec<(String, String, String)> {
    r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = t["resultString"].as_str().unwrap();
            (
                t["taskId"].as_str().unwrap().to_owned(),
                t["resultCode"].as_str().unwrap().to_owned(),
                s.split(':').next().unwrap().to_owned(),
            )
        })
        .collect()
}

fn task(id: &str, code: &str, reason: &str) -> (String, String, String) {
    (id.to_owned(), code.to_owned(), reason.to_owned())
}

/// Records in a sample log, counted by the library directly (not through the Lambda).
fn records_in(rel: &str) -> u64 {
    let f = std::fs::File::open(root().join("events/logs").join(rel)).unwrap();
    let p = process_reader("x", rel, f, &MetricsConfig::default(), 0, u64::MAX).unwrap();
    p.report.parse.records
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_operations_events_through_the_runtime_api_publish_each_log_once() {
    let Some((stack, _sdk, s3, cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let legacy_a = "cloudfront/E2EXAMPLE1234.2026-11-20-12.a1b2c3d4.gz";
    let legacy_b = "cloudfront/E2EXAMPLE1234.2026-11-20-12.e5f6a7b8.gz";
    let v2 = "v2 logs/E3EXAMPLE5678/2026/11/20/12/part+1.log.gz";
    for k in [legacy_a, legacy_b, v2] {
        let body = std::fs::read(root().join("events/logs").join(k)).unwrap();
        put_object(&s3, BUCKET, k, body).await;
    }
    put_object(
        &s3,
        BUCKET,
        "cloudfront/E2EXAMPLE1234.2026-11-20-12.junk.gz",
        vec![0, 1, 2, 3, 0xff],
    )
    .await;

    let env = [
        "AWS_ACCESS_KEY_ID=testing".to_owned(),
        "AWS_SECRET_ACCESS_KEY=testing".to_owned(),
        "AWS_REGION=us-east-1".to_owned(),
        format!("AWS_ENDPOINT_URL_S3={}", stack.moto),
        format!("AWS_ENDPOINT_URL_CLOUDWATCH={}", stack.adapter),
        format!("CFLM_NOW={NOW}"),
    ];
    let Some(f) = Function::watch(&env, "cflm-batch-ops-watch.log") else {
        return;
    };

    // The first invocation waits for the function to build and start (past the deadline the
    // emulator gave it: a Batch Operations event would be answered "timeout"), so a test event
    // warms it up.
    let test_event = sample_event("s3-test-event.json");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = f.invoke_event(&test_event);
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the function did not start: {:?}",
            text(&out)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let one = sample_event("batch-operations-1.0.json");
    let first = f.invoke_event(&one);
    let r = response(&first);
    assert_eq!(r["invocationSchemaVersion"], "1.0");
    assert_eq!(r["invocationId"], one["invocationId"]);
    assert_eq!(r["treatMissingKeysAs"], "PermanentFailure");
    assert_eq!(
        results(&r),
        [task("dGFza2lkZ29lc2hlcmUK", "Succeeded", "published")]
    );

    let two = sample_event("batch-operations-2.0.json");
    let r = response(&f.invoke_event(&two));
    assert_eq!(r["invocationSchemaVersion"], "2.0");
    assert_eq!(
        results(&r),
        [
            task("dGFza2lkMQo", "Succeeded", "published"),
            task("dGFza2lkMgo", "Succeeded", "published"),
        ]
    );
    // The job retries a task, or two jobs cover the same file: published once.
    let r = response(&f.invoke_event(&one));
    assert_eq!(
        results(&r),
        [task("dGFza2lkZ29lc2hlcmUK", "Succeeded", "duplicate")]
    );
    // A mixed batch: each task answered for itself.
    let mixed = json!({"invocationSchemaVersion": "2.0", "invocationId": "mixed",
        "job": {"id": "j"},
        "tasks": [
            {"taskId": "t1", "s3Bucket": BUCKET, "s3Key": "cloudfront/E2EXAMPLE1234.2026-11-20-12.gone.gz", "s3VersionId": null},
            {"taskId": "t2", "s3Bucket": BUCKET, "s3Key": "v2+logs/E3EXAMPLE5678/2026/11/20/12/part%2B1.log.gz", "s3VersionId": null},
            {"taskId": "t3", "s3Bucket": BUCKET, "s3Key": "cloudfront/E2EXAMPLE1234.2026-11-20-12.junk.gz", "s3VersionId": null},
            {"taskId": "t4", "s3Bucket": BUCKET, "s3Key": "cloudfront/E2EXAMPLE1234.2026-10-01-12.old.gz", "s3VersionId": null}]});
    let r = response(&f.invoke_event(&mixed));
    assert_eq!(
        results(&r),
        [
            task("t1", "PermanentFailure", "missing"),
            task("t2", "Succeeded", "duplicate"),
            task("t3", "PermanentFailure", "not a log"),
            task("t4", "PermanentFailure", "too old"),
        ]
    );
    let t1 = r["results"][0]["resultString"].as_str().unwrap();
    assert!(t1.contains("E2EXAMPLE1234.2026-11-20-12.gone.gz"), "{t1}");

    // moto's CloudWatch holds every record of the three logs, once.
    let now = at(NOW);
    let from = at("2026-11-20T11:00:00Z");
    for (dist, records) in [
        ("E2EXAMPLE1234", records_in(legacy_a) + records_in(legacy_b)),
        ("E3EXAMPLE5678", records_in(v2)),
    ] {
        assert!(records > 0);
        let sum = total(
            &cw,
            &[("DistributionId", dist)],
            "Requests",
            from,
            now + 3_600_000,
        )
        .await;
        assert_eq!(sum, records as f64, "{dist}");
    }
}

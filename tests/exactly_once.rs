//! Exactly-once publishing, proven against moto with faults injected by the adapter in
//! tests/support (throttles, 500s, slow answers, dropped connections, lost responses):
//! duplicate and concurrent deliveries, PutMetricData failures with the function's own retries and
//! Lambda's retry of the invocation, a function stopped between two batches, bad inputs, the
//! cardinality guard, and a soak. Totals are read back from CloudWatch (GetMetricStatistics per
//! minute) and compared with totals this file computes itself while generating the logs.
//!
//! "Lambda's retry of the invocation" is calling `handle` again with the same event after an
//! `Err`. Each test prints one `RELIABILITY` row (scenario, events, duplicates, faults, records,
//! exact, peak RSS); `scripts/reliability.sh` runs them all in release mode, one at a time, the
//! heavy `#[ignore]`d ones included, and prints the table.
//!
//! Needs the dev venv (`bash scripts/dev-venv.sh`); without it these tests skip locally and fail
//! when `CI=true`.

mod support;

use cloudfront_log_metrics::batch::Batch;
use cloudfront_log_metrics::config::{parse_dimension_sets, parse_include};
use cloudfront_log_metrics::handler::Handler;
use cloudfront_log_metrics::settings::Settings;
use cloudfront_log_metrics::sink::{MetricSink, SinkError};
use flate2::write::GzEncoder;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::events::{s3_event, sqs_event};
use support::logs::{Request, Rng, date_time, gzip, hour_stamp, now_ms};
use support::metrics::{Expected, Minute, NAMESPACE, compare_all, count, listed_values, total};
use support::{MotoStack, put_object};

const BUCKET: &str = "cf-logs";
const MARKERS: &str = "_cflm/processed/";

// ------------------------------------------------------------------------------ measuring

/// One line of /proc/self/status, in MB.
fn status_mb(field: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// Resets the process's peak RSS (VmHWM) to its current RSS, so that a scenario measures its own
/// peak (when tests run one at a time, as scripts/reliability.sh runs them).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mb() -> f64 {
    status_mb("VmHWM:")
}

/// One row of the reliability table.
struct Row {
    scenario: &'static str,
    events: usize,
    duplicates: u64,
    faults: u64,
    records: u64,
    exact: bool,
    note: String,
}

fn report(row: Row) {
    let line = format!(
        "RELIABILITY\t{}\t{}\t{}\t{}\t{}\t{}\t{:.0}\t{}",
        row.scenario,
        row.events,
        row.duplicates,
        row.faults,
        row.records,
        if row.exact { "yes" } else { "NO" },
        peak_mb(),
        row.note
    );
    println!("{line}");
    if let Some(path) = std::env::var_os("RELIABILITY_TABLE") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }
}

// ----------------------------------------------------------------------------- generating

const HEADER: &str = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes cs-uri-stem sc-status x-edge-result-type time-taken cache-behavior-path-pattern\n";

/// The shape of generated records.
#[derive(Clone, Copy)]
struct Shape {
    /// Records are spread over this many milliseconds from the start.
    span_ms: i64,
    /// Distinct edge locations.
    edges: u64,
    /// Every record gets its own path and path pattern.
    distinct_paths: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            span_ms: 20 * 60_000,
            edges: 3,
            distinct_paths: false,
        }
    }
}

/// `n` W3C records from `start_ms`, added to `exp` (when given: records outside CloudWatch's
/// window are generated without).
fn records(
    rng: &mut Rng,
    start_ms: i64,
    n: usize,
    shape: Shape,
    mut exp: Option<&mut Expected>,
) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        let ts = start_ms + rng.below(shape.span_ms as u64) as i64;
        let r = Request::draw(rng, ts);
        let edge = rng.below(shape.edges);
        let (d, t) = date_time(ts);
        if let Some(exp) = exp.as_deref_mut() {
            count(exp, &r);
        }
        let (path, pattern) = if shape.distinct_paths {
            (format!("/p/{i}/index.html"), format!("/p/{i}/*"))
        } else {
            ("/index.html".to_owned(), "*".to_owned())
        };
        let (bytes, rt, secs) = (r.bytes, r.result_type(), r.time_taken());
        s.push_str(&format!(
            "{d}\t{t}\tE{edge:03}-C1\t{bytes}\t{path}\t200\t{rt}\t{secs}\t{pattern}\n"
        ));
    }
    s
}

/// Log files with their expected totals per distribution.
struct Corpus {
    s3: aws_sdk_s3::Client,
    rng: Rng,
    keys: Vec<String>,
    expected: BTreeMap<String, Expected>,
    records: u64,
}

impl Corpus {
    fn new(s3: &aws_sdk_s3::Client, seed: u64) -> Self {
        Corpus {
            s3: s3.clone(),
            rng: Rng::new(seed),
            keys: Vec::new(),
            expected: BTreeMap::new(),
            records: 0,
        }
    }

    /// Generates and uploads one file of `dist` (key `<dir><dist>.<hour>.<name>.gz`).
    async fn add(
        &mut self,
        dir: &str,
        dist: &str,
        name: &str,
        start_ms: i64,
        n: usize,
        shape: Shape,
    ) -> String {
        let exp = self.expected.entry(dist.to_owned()).or_default();
        let text = records(&mut self.rng, start_ms, n, shape, Some(exp));
        let key = format!("{dir}{dist}.{}.{name}.gz", hour_stamp(start_ms));
        put_object(&self.s3, BUCKET, &key, gzip(&text)).await;
        self.keys.push(key.clone());
        self.records += n as u64;
        key
    }
}

// ------------------------------------------------------------------------------ checking

/// The marker document of a log key, if any.
async fn marker(s3: &aws_sdk_s3::Client, key: &str) -> Option<Value> {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("{MARKERS}{key}.json"))
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&bytes).unwrap())
}

async fn marker_keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    s3.list_objects_v2()
        .bucket(BUCKET)
        .prefix(MARKERS)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

fn faults(stack: &MotoStack) -> u64 {
    stack.stats()["faults_total"].as_u64().unwrap_or(0)
}

fn put_requests(stack: &MotoStack) -> u64 {
    stack.stats()["requests"]["PutMetricData"]
        .as_u64()
        .unwrap_or(0)
}

// -------------------------------------------------------------------------------- set-up

struct Env {
    stack: MotoStack,
    sdk: aws_config::SdkConfig,
    /// Straight to moto: for the tests' own set-up and inspection.
    s3: aws_sdk_s3::Client,
    /// The function's S3 client: through the adapter (faults, atomic conditional writes).
    store: aws_sdk_s3::Client,
    /// The function's CloudWatch client (standard retry, 3 attempts) and the tests' reader.
    cw: aws_sdk_cloudwatch::Client,
}

async fn env() -> Option<Env> {
    let (stack, sdk, s3, cw) = MotoStack::with_bucket(BUCKET).await?;
    let store = stack.s3_client_via_adapter(&sdk);
    Some(Env {
        stack,
        sdk,
        s3,
        store,
        cw,
    })
}

impl Env {
    /// A CloudWatch client making `attempts` attempts per request, with short backoffs.
    fn cw_with_attempts(&self, attempts: u32) -> aws_sdk_cloudwatch::Client {
        self.stack
            .cloudwatch_client_with_attempts(&self.sdk, attempts)
    }

    fn handler<M: MetricSink>(
        &self,
        sink: M,
        settings: Settings,
    ) -> Handler<aws_sdk_s3::Client, M> {
        Handler {
            store: self.store.clone(),
            sink,
            settings,
        }
    }
}

/// Delivers `event` until the handler succeeds, as Lambda retries a failed invocation (here at
/// once, up to `max` times); returns the number of deliveries and the last response.
async fn deliver_until_ok<S, M>(
    h: &Handler<S, M>,
    event: &Value,
    now: i64,
    max: usize,
) -> (usize, Value)
where
    S: cloudfront_log_metrics::object_store::ObjectStore
        + cloudfront_log_metrics::conditional::ConditionalStore,
    M: MetricSink,
{
    let mut last = String::new();
    for attempt in 1..=max {
        match h.handle(event, now).await {
            Ok(v) => return (attempt, v),
            Err(e) => last = e.to_string(),
        }
    }
    panic!("still failing after {max} deliveries: {last}");
}

fn dup(v: &Value) -> u64 {
    v["duplicates"].as_u64().unwrap_or(0)
}

// ------------------------------------------------------------------------------ scenarios

/// Six files (keys with spaces, unicode and `+`), every event delivered twice in a row.
#[tokio::test]
async fn every_event_delivered_twice() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 40 * 60_000;
    let mut c = Corpus::new(&env.s3, 1);
    let dirs = ["cf logs/", "v2/é ü/", "a+b/"];
    for (i, dist) in ["E1DUPAAAAAAAA", "E1DUPBBBBBBBB", "E1DUPCCCCCCCC"]
        .iter()
        .enumerate()
    {
        for part in ["x+1 é", "y z"] {
            let shape = Shape::default();
            c.add(dirs[i], dist, part, start, 700, shape).await;
        }
    }
    let h = env.handler(env.cw.clone(), Settings::default());
    let mut events = 0;
    let mut duplicates = 0;
    for pair in c.keys.chunks(2) {
        let event = s3_event(BUCKET, pair);
        let first = h.handle(&event, now).await.unwrap();
        assert_eq!((first["files"].as_u64(), dup(&first)), (Some(2), 0));
        let again = h.handle(&event, now).await.unwrap();
        assert_eq!(dup(&again), 2, "{again}");
        assert_eq!(again["put_requests"], json!(0));
        events += 2;
        duplicates += dup(&again);
    }
    // A marker object is never read as a log.
    let m = marker_keys(&env.s3).await;
    assert_eq!(m.len(), 6, "{m:?}");
    let r = h.handle(&s3_event(BUCKET, &m[..1]), now).await.unwrap();
    assert_eq!(r["files"], json!(0));
    for k in &c.keys {
        let doc = marker(&env.s3, k).await.unwrap();
        assert_eq!(doc["state"], json!("done"), "{doc}");
        assert_eq!(
            doc["sent"].as_array().unwrap().len() as u64,
            doc["batches"].as_u64().unwrap()
        );
    }
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "every event delivered twice",
        events,
        duplicates,
        faults: 0,
        records: c.records,
        exact: exact.is_ok(),
        note: String::new(),
    });
    exact.unwrap();
}

/// The same six files, each event delivered twice at the same time: one delivery publishes, the
/// other is skipped (done) or fails as busy and is skipped on its retry.
#[tokio::test]
async fn every_event_delivered_twice_concurrently() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 40 * 60_000;
    let mut c = Corpus::new(&env.s3, 2);
    for dist in ["E2CONAAAAAAAA", "E2CONBBBBBBBB", "E2CONCCCCCCCC"] {
        for part in ["a b+c", "ü"] {
            let shape = Shape {
                span_ms: 300 * 60_000,
                ..Shape::default()
            };
            c.add("cf/", dist, part, start - 260 * 60_000, 1500, shape)
                .await;
        }
    }
    let h = env.handler(env.cw.clone(), Settings::default());
    let mut events = 0;
    let mut duplicates = 0;
    let mut busy = 0;
    let mut published_batches = 0;
    for key in &c.keys {
        let event = s3_event(BUCKET, std::slice::from_ref(key));
        let (a, b) = tokio::join!(h.handle(&event, now), h.handle(&event, now));
        events += 2;
        for r in [a, b] {
            match r {
                Ok(v) => {
                    duplicates += dup(&v);
                    published_batches += v["put_requests"].as_u64().unwrap();
                }
                Err(e) => {
                    assert!(e.to_string().contains("being published by another"), "{e}");
                    busy += 1;
                    // Lambda's retry: by now the other delivery is done.
                    let (n, v) = deliver_until_ok(&h, &event, now, 3).await;
                    events += n;
                    assert_eq!(dup(&v), 1, "{v}");
                    duplicates += 1;
                }
            }
        }
    }
    assert_eq!(duplicates, c.keys.len() as u64, "one publication per file");
    let batches: u64 = {
        let mut n = 0;
        for k in &c.keys {
            n += marker(&env.s3, k).await.unwrap()["batches"]
                .as_u64()
                .unwrap();
        }
        n
    };
    assert!(batches > c.keys.len() as u64, "several batches per file");
    assert_eq!(published_batches, batches);
    assert_eq!(put_requests(&env.stack), batches, "no batch sent twice");
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "every event delivered twice, concurrently",
        events,
        duplicates,
        faults: 0,
        records: c.records,
        exact: exact.is_ok(),
        note: format!(
            "{busy} of {} second deliveries found the file busy, the others done",
            c.keys.len()
        ),
    });
    exact.unwrap();
}

/// 30% of PutMetricData requests fail (throttling, 500, dropped connection), the SDK makes 2
/// attempts per request and the invocation is retried until it succeeds.
#[tokio::test]
async fn thirty_percent_of_put_metric_data_fail() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 300 * 60_000;
    let mut c = Corpus::new(&env.s3, 3);
    let shape = Shape {
        span_ms: 280 * 60_000,
        ..Shape::default()
    };
    for (i, dist) in ["E3FLTAAAAAAAA", "E3FLTBBBBBBBB", "E3FLTCCCCCCCC"]
        .iter()
        .enumerate()
    {
        for part in 0..2 {
            c.add("cf/", dist, &format!("{i}{part}"), start, 1200, shape)
                .await;
        }
    }
    // 3 of every 10 requests, from the first: the 1st and 2nd of each ten (back to back: with
    // one request at a time, a request and its only retry), and the 6th. A negative skip starts
    // a rule's count ahead: every 10, skip -9 injects on requests 1, 11, 21, ...
    env.stack.fault(
        r#"{"rules":[
          {"operation":"PutMetricData","action":"throttle","every":10,"skip":-9},
          {"operation":"PutMetricData","action":"error500","every":10,"skip":-8},
          {"operation":"PutMetricData","action":"drop","every":10,"skip":-4}]}"#,
    );
    let settings = Settings {
        file_concurrency: 1,
        put_concurrency: 1,
        ..Settings::default()
    };
    let h = env.handler(env.cw_with_attempts(2), settings);
    let mut events = 0;
    let mut retried = 0;
    let mut duplicates = 0;
    for pair in c.keys.chunks(2) {
        let (n, v) = deliver_until_ok(&h, &s3_event(BUCKET, pair), now, 20).await;
        events += n;
        retried += n - 1;
        // A file that was done when its sibling failed the invocation is skipped on the retry.
        duplicates += dup(&v);
    }
    let stats = env.stack.stats();
    let attempts = stats["requests"]["PutMetricData"].as_u64().unwrap();
    let injected = faults(&env.stack);
    assert!(injected * 10 >= attempts * 2, "{stats}");
    assert!(retried > 0, "some invocation needed Lambda's retry");
    env.stack.clear_faults();
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "30% of PutMetricData fail",
        events,
        duplicates,
        faults: injected,
        records: c.records,
        exact: exact.is_ok(),
        note: format!("{attempts} PutMetricData attempts, {retried} invocation retries"),
    });
    exact.unwrap();
}

/// A sink that passes the first `pass` batches to CloudWatch, then fails (or, with `hang`, never
/// answers: the function is stopped there).
struct StopAfter<M> {
    inner: M,
    pass: AtomicUsize,
    hang: bool,
}

impl<M: MetricSink> MetricSink for StopAfter<M> {
    async fn put(&self, namespace: &str, batch: &Batch) -> Result<(), SinkError> {
        if self
            .pass
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return self.inner.put(namespace, batch).await;
        }
        if self.hang {
            futures::future::pending::<()>().await;
        }
        Err(SinkError::Put {
            batch: batch.index,
            message: "simulated failure".into(),
        })
    }
}

async fn one_big_file(env: &Env, dist: &str, seed: u64) -> Corpus {
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 400 * 60_000;
    let mut c = Corpus::new(&env.s3, seed);
    let shape = Shape {
        span_ms: 390 * 60_000,
        ..Shape::default()
    };
    c.add("cf/", dist, "big", start, 3000, shape).await;
    c
}

/// The function fails after 2 batches (the failure is recorded): the retry sends the rest.
#[tokio::test]
async fn failed_between_two_batches_then_retried() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let c = one_big_file(&env, "E4STOPAAAAAAA", 4).await;
    let event = s3_event(BUCKET, &c.keys);
    let stopping = env.handler(
        StopAfter {
            inner: env.cw.clone(),
            pass: AtomicUsize::new(2),
            hang: false,
        },
        Settings::default(),
    );
    let e = stopping.handle(&event, now).await.unwrap_err();
    assert!(e.to_string().contains("simulated failure"), "{e}");
    let m = marker(&env.s3, &c.keys[0]).await.unwrap();
    assert_eq!(m["state"], json!("failed"), "{m}");
    assert_eq!(m["sent"], json!([0, 1]), "{m}");
    let batches = m["batches"].as_u64().unwrap();
    assert!(batches >= 3, "{m}");
    let h = env.handler(env.cw.clone(), Settings::default());
    let v = h.handle(&event, now).await.unwrap();
    assert_eq!(v["already_sent"], json!(2), "{v}");
    assert_eq!(v["put_requests"].as_u64(), Some(batches - 2), "{v}");
    assert_eq!(put_requests(&env.stack), batches);
    assert_eq!(
        marker(&env.s3, &c.keys[0]).await.unwrap()["state"],
        json!("done")
    );
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "failed between two batches, retried",
        events: 2,
        duplicates: 0,
        faults: 1,
        records: c.records,
        exact: exact.is_ok(),
        note: format!("{batches} batches, 2 sent before the failure"),
    });
    exact.unwrap();
}

/// The function is stopped dead between two batches (its future dropped, as a timeout kills
/// it) after hanging there for longer than its lease, which it kept renewing: a redelivery
/// before the lease ends fails as busy; one after it (lease plus skew margin) takes the file
/// over and completes it exactly. With the default lease (45 s, 10 s margin) that redelivery is
/// Lambda's first retry, about a minute after the crash.
#[tokio::test(flavor = "multi_thread")]
async fn killed_between_two_batches_then_taken_over() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let c = one_big_file(&env, "E5KILLAAAAAAA", 5).await;
    let event = s3_event(BUCKET, &c.keys);
    // A 3 s lease: renewed every second, taken over 3.75 s (lease + a quarter) after the last
    // renewal.
    let lease = Duration::from_secs(3);
    let settings = Settings {
        marker_lease_seconds: lease.as_secs(),
        ..Settings::default()
    };
    let dying = env.handler(
        StopAfter {
            inner: env.cw.clone(),
            pass: AtomicUsize::new(2),
            hang: true,
        },
        settings.clone(),
    );
    // It hangs after two batches for 2.5 leases, renewing its lease all along, then dies.
    let killed = tokio::time::timeout(lease * 5 / 2, dying.handle(&event, now)).await;
    assert!(killed.is_err(), "the invocation was stopped");
    drop(dying);
    let killed_at = Instant::now();
    let m = marker(&env.s3, &c.keys[0]).await.unwrap();
    assert_eq!(m["state"], json!("in_progress"), "{m}");
    assert_eq!(m["sent"], json!([0, 1]), "{m}");
    let renewed = m["updated_ms"].as_i64().unwrap();
    assert!(
        now_ms() - renewed < 2_000,
        "the hanging holder renewed its lease (last {} ms ago): {m}",
        now_ms() - renewed
    );
    assert_eq!(m["lease_until_ms"].as_i64(), Some(renewed + 3_000), "{m}");
    let batches = m["batches"].as_u64().unwrap();
    let h = env.handler(env.cw.clone(), settings);
    // Redelivered before the lease ends: busy. (Each delivery is handed the wall clock of its
    // own invocation, as the Lambda's runtime loop does.)
    let e = h.handle(&event, now_ms()).await.unwrap_err();
    assert!(e.to_string().contains("being published by another"), "{e}");
    // Redelivered after it (lease + skew margin since the last renewal): taken over, completed.
    tokio::time::sleep_until((killed_at + lease + lease / 4 + Duration::from_millis(500)).into())
        .await;
    let v = h.handle(&event, now_ms()).await.unwrap();
    assert_eq!(v["already_sent"], json!(2), "{v}");
    assert_eq!(put_requests(&env.stack), batches);
    let m = marker(&env.s3, &c.keys[0]).await.unwrap();
    assert_eq!(
        (m["state"].as_str(), m["attempts"].as_u64()),
        (Some("done"), Some(2))
    );
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "killed between two batches after renewing its lease; redelivered before and after it ran out",
        events: 3,
        duplicates: 0,
        faults: 1,
        records: c.records,
        exact: exact.is_ok(),
        note: format!("{batches} batches, 2 sent before the kill; lease 3 s"),
    });
    exact.unwrap();
}

/// A sink that takes `delay` for every request.
struct Slow<M> {
    inner: M,
    delay: Duration,
}

impl<M: MetricSink> MetricSink for Slow<M> {
    async fn put(&self, namespace: &str, batch: &Batch) -> Result<(), SinkError> {
        tokio::time::sleep(self.delay).await;
        self.inner.put(namespace, batch).await
    }
}

/// A backfill (`cflogs process s3://...`) that runs for several leases: each claim is stamped
/// when it is made, so a Lambda delivery of the object the backfill claimed last finds it busy
/// (not run out, as when claims carried the run's start time) and, redelivered, a duplicate.
#[tokio::test(flavor = "multi_thread")]
async fn backfill_longer_than_the_lease_with_a_concurrent_delivery() {
    use cloudfront_log_metrics::backfill::{self, Input};
    use cloudfront_log_metrics::event::ObjectRef;
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 60 * 60_000;
    let mut c = Corpus::new(&env.s3, 21);
    for i in 0..5 {
        let name = format!("part{i}");
        c.add("bf/", "E6BACKFILLAAA", &name, start, 300, Shape::default())
            .await;
    }
    let settings = Settings {
        marker_lease_seconds: 2,
        file_concurrency: 1,
        ..Settings::default()
    };
    // A request takes 1.5 s: the run takes about 7.5 s, almost 4 leases, and the Lambda's
    // delivery below has 1.5 s to find the last file claimed.
    let sink = Slow {
        inner: env.cw.clone(),
        delay: Duration::from_millis(1_500),
    };
    let inputs: Vec<Input> = c
        .keys
        .iter()
        .map(|k| {
            Input::S3(ObjectRef {
                bucket: BUCKET.to_owned(),
                key: k.clone(),
                etag: None,
                version_id: None,
                size: None,
            })
        })
        .collect();
    let run_started = Instant::now();
    let run = backfill::process_inputs(Some(&env.store), Some(&sink), &settings, inputs, now)
        .collect::<Vec<_>>();
    // Meanwhile: wait for the backfill to claim the last file, well after a lease has gone by,
    // and deliver that file's event to the Lambda: busy.
    let last = c.keys.last().unwrap().clone();
    let h = env.handler(env.cw.clone(), settings.clone());
    let event = s3_event(BUCKET, &[&last]);
    let lambda = async {
        loop {
            if marker(&env.s3, &last).await.is_some() {
                break;
            }
            assert!(
                run_started.elapsed() < Duration::from_secs(60),
                "never claimed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let claimed_after = run_started.elapsed();
        (claimed_after, h.handle(&event, now_ms()).await)
    };
    let (results, (claimed_after, first)) = tokio::join!(run, lambda);
    assert!(claimed_after > Duration::from_secs(2), "{claimed_after:?}");
    let e = first.expect_err("the backfill holds a live claim");
    assert!(e.to_string().contains("being published by another"), "{e}");
    for r in &results {
        assert!(r.is_ok(), "{:?}", r.as_ref().err().map(ToString::to_string));
    }
    // Lambda's retry, once the backfill is done: a duplicate.
    let v = h.handle(&event, now_ms()).await.unwrap();
    assert_eq!(dup(&v), 1, "{v}");
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "backfill of several leases, the Lambda delivers its last file meanwhile",
        events: 2,
        duplicates: 1,
        faults: 0,
        records: c.records,
        exact: exact.is_ok(),
        note: format!(
            "last file claimed {:.1} s into the run; lease 2 s",
            claimed_after.as_secs_f64()
        ),
    });
    exact.unwrap();
}

/// The key is overwritten between its event and the read: the event's record is answered as
/// superseded (nothing published, the invocation succeeds), and the newer version's own event
/// publishes the newer version, once.
#[tokio::test]
async fn key_overwritten_between_the_event_and_the_read() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut rng = Rng::new(31);
    let key = format!("ow/E7OVERWRITEAA.{}.x.gz", hour_stamp(start));
    let etag_of = |out: aws_sdk_s3::operation::put_object::PutObjectOutput| {
        out.e_tag.unwrap().trim_matches('"').to_owned()
    };
    let put = |body: Vec<u8>| {
        env.s3
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
    };
    let old = records(&mut rng, start, 200, Shape::default(), None);
    let etag_old = etag_of(put(gzip(&old)).await.unwrap());
    let mut expected = Expected::default();
    let newer = records(&mut rng, start, 300, Shape::default(), Some(&mut expected));
    let etag_new = etag_of(put(gzip(&newer)).await.unwrap());
    assert_ne!(etag_old, etag_new);

    let h = env.handler(env.cw.clone(), Settings::default());
    let event_old = json!({"Records": [support::events::s3_record_of(BUCKET, &key, &etag_old)]});
    let v = h.handle(&event_old, now).await.unwrap();
    assert_eq!(
        (v["superseded"].as_u64(), v["put_requests"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    assert!(marker(&env.s3, &key).await.is_none(), "nothing claimed");
    let event_new = json!({"Records": [support::events::s3_record_of(BUCKET, &key, &etag_new)]});
    let v = h.handle(&event_new, now).await.unwrap();
    assert_eq!(
        (v["superseded"].as_u64(), v["records"].as_u64()),
        (Some(0), Some(300)),
        "{v}"
    );
    let mut all = BTreeMap::new();
    all.insert("E7OVERWRITEAA".to_owned(), expected);
    let exact = compare_all(&env.cw, &all).await;
    report(Row {
        scenario: "key overwritten between its event and the read",
        events: 2,
        duplicates: 0,
        faults: 0,
        records: 300,
        exact: exact.is_ok(),
        note: "the first event's record answered as superseded".to_owned(),
    });
    exact.unwrap();
}

/// In a versioned bucket the event's version id is read, even after the key was overwritten:
/// both versions are published, each under its own event, each exactly once.
#[tokio::test]
async fn a_versioned_key_is_read_at_the_version_its_event_named() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let Some(env) = env().await else { return };
    reset_peak();
    env.s3
        .put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut rng = Rng::new(41);
    let key = format!("vv/E9VERSIONEDAA.{}.x.gz", hour_stamp(start));
    let mut expected = Expected::default();
    let mut events = Vec::new();
    for n in [200_u64, 300] {
        let text = records(
            &mut rng,
            start,
            n as usize,
            Shape::default(),
            Some(&mut expected),
        );
        let out = env
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(gzip(&text)))
            .send()
            .await
            .unwrap();
        let mut record =
            support::events::s3_record_of(BUCKET, &key, out.e_tag().unwrap_or_default());
        record["s3"]["object"]["versionId"] = json!(out.version_id().unwrap());
        events.push((n, json!({"Records": [record]})));
    }
    let h = env.handler(env.cw.clone(), Settings::default());
    // Both events arrive after the second write: each reads its own version.
    for (n, event) in &events {
        let v = h.handle(event, now).await.unwrap();
        assert_eq!(
            (v["records"].as_u64(), v["superseded"].as_u64()),
            (Some(*n), Some(0)),
            "{v}"
        );
    }
    let mut all = BTreeMap::new();
    all.insert("E9VERSIONEDAA".to_owned(), expected);
    let exact = compare_all(&env.cw, &all).await;
    report(Row {
        scenario: "versioned key overwritten: each event reads its own version",
        events: 2,
        duplicates: 0,
        faults: 0,
        records: 500,
        exact: exact.is_ok(),
        note: "GetObject with the event's versionId".to_owned(),
    });
    exact.unwrap();
}

/// CloudWatch refuses one batch for good (400 InvalidParameterValue): the file is completed
/// without it, the error names the file, the batch and the datum, and neither the invocation nor
/// any redelivery sends that batch again.
#[tokio::test]
async fn a_batch_refused_for_good_is_not_retried_forever() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let c = one_big_file(&env, "E8REFUSEDAAAA", 8).await;
    let event = s3_event(BUCKET, &c.keys);
    env.stack.fault(
        &json!({"rules": [{
            "operation": "PutMetricData", "service": "cloudwatch", "action": "invalid",
            "skip": 1, "times": 1
        }]})
        .to_string(),
    );
    let h = env.handler(env.cw.clone(), Settings::default());
    let v = h.handle(&event, now).await.unwrap();
    assert_eq!(v["rejected_batches"], json!(1), "{v}");
    let m = marker(&env.s3, &c.keys[0]).await.unwrap();
    assert_eq!(m["state"], json!("done"), "{m}");
    let refused = m["rejected"].as_array().unwrap().clone();
    assert_eq!(refused.len(), 1, "{m}");
    let attempts = put_requests(&env.stack);
    // A redelivery is a duplicate: the refused batch is not sent again.
    let v = h.handle(&event, now).await.unwrap();
    assert_eq!(dup(&v), 1, "{v}");
    assert_eq!(put_requests(&env.stack), attempts);
    // Everything but the refused batch's datums arrived.
    let batches = m["batches"].as_u64().unwrap();
    report(Row {
        scenario: "CloudWatch refuses one batch for good (400)",
        events: 2,
        duplicates: 1,
        faults: 1,
        records: c.records,
        exact: attempts == batches,
        note: format!(
            "{batches} batches, 1 refused, recorded, never resent (totals: all but that batch)"
        ),
    });
    assert_eq!(attempts, batches, "one request per batch, none retried");
}

/// The 3rd PutMetricData request fails at the proxy and the SDK does not retry it: the
/// invocation fails, its retry sends only the missing batches.
#[tokio::test]
async fn third_put_fails_without_sdk_retry() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let c = one_big_file(&env, "E6FLTKAAAAAAA", 6).await;
    env.stack.fault(
        r#"{"rules":[{"operation":"PutMetricData","action":"error500","skip":2,"times":1}]}"#,
    );
    let settings = Settings {
        put_concurrency: 1,
        ..Settings::default()
    };
    let h = env.handler(env.cw_with_attempts(1), settings);
    let (events, v) = deliver_until_ok(&h, &s3_event(BUCKET, &c.keys), now, 3).await;
    assert_eq!(events, 2);
    assert_eq!(v["already_sent"], json!(2), "{v}");
    let m = marker(&env.s3, &c.keys[0]).await.unwrap();
    let batches = m["batches"].as_u64().unwrap();
    assert_eq!(
        put_requests(&env.stack),
        batches + 1,
        "one failed attempt, no batch twice"
    );
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "3rd PutMetricData fails, no SDK retry",
        events,
        duplicates: 0,
        faults: faults(&env.stack),
        records: c.records,
        exact: exact.is_ok(),
        note: format!("{batches} batches"),
    });
    exact.unwrap();
}

/// Faults on the marker requests: 500s, throttling, slow answers and lost responses (the write
/// lands, its answer is dropped: the SDK's retry then fails the condition on our own write).
#[tokio::test]
async fn faults_on_marker_requests() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 400 * 60_000;
    let mut c = Corpus::new(&env.s3, 7);
    let shape = Shape {
        span_ms: 390 * 60_000,
        ..Shape::default()
    };
    for (i, dist) in ["E7S3FAAAAAAAA", "E7S3FBBBBBBBB"].iter().enumerate() {
        for part in 0..3 {
            c.add("cf/", dist, &format!("{i}{part}"), start, 1500, shape)
                .await;
        }
    }
    env.stack.fault(
        r#"{"rules":[
          {"operation":"PutObject","service":"s3","action":"drop","phase":"response","every":4},
          {"operation":"PutObject","service":"s3","action":"error500","every":5,"skip":2},
          {"operation":"GetObject","service":"s3","action":"throttle","every":3},
          {"operation":"GetObject","service":"s3","action":"slow","delay_ms":300,"every":4,"skip":1}]}"#,
    );
    let h = env.handler(env.cw.clone(), Settings::default());
    let mut events = 0;
    let mut duplicates = 0;
    for pair in c.keys.chunks(2) {
        let event = s3_event(BUCKET, pair);
        let (n, v) = deliver_until_ok(&h, &event, now, 10).await;
        events += n;
        duplicates += dup(&v);
        // And a redelivery, under the same faults.
        let (n, v) = deliver_until_ok(&h, &event, now, 10).await;
        events += n;
        duplicates += dup(&v);
    }
    let injected = faults(&env.stack);
    env.stack.clear_faults();
    assert!(injected >= 5, "{}", env.stack.stats());
    for k in &c.keys {
        assert_eq!(marker(&env.s3, k).await.unwrap()["state"], json!("done"));
    }
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario: "S3 faults on markers and logs",
        events,
        duplicates,
        faults: injected,
        records: c.records,
        exact: exact.is_ok(),
        note: "500s, throttles, slow answers, lost PutObject responses".into(),
    });
    exact.unwrap();
}

/// A new version of a key (another ETag) is published again; its redelivery is not.
#[tokio::test]
async fn new_version_of_a_key_is_processed_again() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut rng = Rng::new(8);
    let dist = "E8VERSAAAAAAA";
    let key = format!("cf/{dist}.{}.v.gz", hour_stamp(start));
    let mut exp = Expected::new();
    let v1 = records(&mut rng, start, 500, Shape::default(), Some(&mut exp));
    let v2 = records(&mut rng, start, 300, Shape::default(), Some(&mut exp));
    let h = env.handler(env.cw.clone(), Settings::default());
    let event = s3_event(BUCKET, std::slice::from_ref(&key));
    put_object(&env.s3, BUCKET, &key, gzip(&v1)).await;
    h.handle(&event, now).await.unwrap();
    let etag1 = marker(&env.s3, &key).await.unwrap()["etag"].clone();
    put_object(&env.s3, BUCKET, &key, gzip(&v2)).await;
    let r = h.handle(&event, now).await.unwrap();
    assert_eq!(dup(&r), 0);
    let r = h.handle(&event, now).await.unwrap();
    assert_eq!(dup(&r), 1);
    let m = marker(&env.s3, &key).await.unwrap();
    assert_ne!(m["etag"], etag1);
    assert_eq!(m["state"], json!("done"));
    let expected = BTreeMap::from([(dist.to_owned(), exp)]);
    let exact = compare_all(&env.cw, &expected).await;
    report(Row {
        scenario: "new version of a key (new ETag)",
        events: 3,
        duplicates: 1,
        faults: 0,
        records: 800,
        exact: exact.is_ok(),
        note: "both versions published once".into(),
    });
    exact.unwrap();
}

/// `IDEMPOTENCY=off`: no markers, and a redelivery is published again (doubled, as documented).
#[tokio::test]
async fn idempotency_off_publishes_every_delivery() {
    let Some(env) = env().await else { return };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut c = Corpus::new(&env.s3, 9);
    c.add("cf/", "E9OFFAAAAAAAA", "x", start, 400, Shape::default())
        .await;
    let settings = Settings {
        idempotency: false,
        ..Settings::default()
    };
    let h = env.handler(env.cw.clone(), settings);
    let event = s3_event(BUCKET, &c.keys);
    h.handle(&event, now).await.unwrap();
    h.handle(&event, now).await.unwrap();
    assert!(marker_keys(&env.s3).await.is_empty());
    let doubled: BTreeMap<String, Expected> = c
        .expected
        .iter()
        .map(|(d, e)| (d.clone(), double(e)))
        .collect();
    compare_all(&env.cw, &doubled).await.unwrap();
}

/// Records older than 14 days are skipped and counted; the file succeeds with the rest.
#[tokio::test]
async fn records_older_than_14_days_are_skipped() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut rng = Rng::new(10);
    let dist = "E10OLDAAAAAAA";
    let mut exp = Expected::new();
    let fresh = records(&mut rng, start, 600, Shape::default(), Some(&mut exp));
    let old = records(&mut rng, now - 15 * 86_400_000, 250, Shape::default(), None);
    let key = format!("cf/{dist}.{}.old.gz", hour_stamp(start));
    put_object(&env.s3, BUCKET, &key, gzip(&(old + &fresh))).await;
    let h = env.handler(env.cw.clone(), Settings::default());
    let v = h
        .handle(&s3_event(BUCKET, std::slice::from_ref(&key)), now)
        .await
        .unwrap();
    assert_eq!(v["skipped_stale"], json!(250), "{v}");
    assert_eq!(v["records"], json!(850), "{v}");
    let expected = BTreeMap::from([(dist.to_owned(), exp)]);
    let exact = compare_all(&env.cw, &expected).await;
    report(Row {
        scenario: "records older than 14 days",
        events: 1,
        duplicates: 0,
        faults: 0,
        records: 850,
        exact: exact.is_ok(),
        note: "250 skipped and counted".into(),
    });
    exact.unwrap();
}

/// `n` bytes of gzip inflating to about `members` × `block_mb` MiB of one repeated line, stamped
/// at `ts`: a decompression bomb (gzip members concatenated). Returns the body and the line.
fn bomb(ts: i64, block_mb: usize, members: usize) -> (Vec<u8>, String) {
    let (d, t) = date_time(ts);
    let line = format!("{d}\t{t}\tIAD89-C1\t1234\t/index.html\t200\tHit\t0.010\t*\n");
    let mut block = String::with_capacity(block_mb << 20);
    while block.len() + line.len() <= block_mb << 20 {
        block.push_str(&line);
    }
    let mut member = GzEncoder::new(Vec::new(), flate2::Compression::best());
    member.write_all(HEADER.as_bytes()).unwrap();
    member.write_all(block.as_bytes()).unwrap();
    let first = member.finish().unwrap();
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(block.as_bytes()).unwrap();
    let rest = e.finish().unwrap();
    let mut body = first;
    for _ in 1..members {
        body.extend_from_slice(&rest);
    }
    (body, line)
}

/// Bad inputs: each fails with a clear error and leaves no marker, or succeeds; nothing else is
/// published; a small decompression bomb stops at MAX_DECOMPRESSED_BYTES.
#[tokio::test]
async fn bad_inputs() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let hour = hour_stamp(start);
    let mut rng = Rng::new(11);
    let mut exp = Expected::new();
    let plain = records(&mut rng, start, 300, Shape::default(), Some(&mut exp));
    let whole = gzip(records(&mut rng, start, 3000, Shape::default(), None));
    let (bomb_body, _) = bomb(start, 1, 64);
    let k = |d: &str, n: &str| format!("cf/{d}.{hour}.{n}");
    let cases: Vec<(String, Vec<u8>, Option<&str>)> = vec![
        (k("E11PLAINAAAAA", "log"), plain.into_bytes(), None),
        (k("E11EMPTYAAAAA", "gz"), Vec::new(), None),
        (k("E11HEADERAAAA", "gz"), gzip(HEADER), None),
        (
            k("E11ZSTDAAAAAA", "gz"),
            vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0],
            Some("zstd content is not supported"),
        ),
        (
            k("E11TRUNCAAAAA", "gz"),
            whole[..whole.len() / 2].to_vec(),
            Some("truncated gzip"),
        ),
        (
            k("E11BINARYAAAA", "gz"),
            (0u8..=255).cycle().take(5000).collect(),
            Some("binary content"),
        ),
        (
            k("E11BOMBAAAAAA", "gz"),
            bomb_body,
            Some("more than 8388608 bytes once decompressed"),
        ),
    ];
    let settings = Settings {
        max_decompressed_bytes: 8 << 20,
        ..Settings::default()
    };
    let h = env.handler(env.cw.clone(), settings);
    let mut events = 0;
    for (key, body, error) in &cases {
        put_object(&env.s3, BUCKET, key, body.clone()).await;
        let event = s3_event(BUCKET, std::slice::from_ref(key));
        let started = Instant::now();
        // Delivered twice: Lambda's retry of a bad file fails the same way.
        for _ in 0..2 {
            events += 1;
            match (h.handle(&event, now).await, error) {
                (Ok(v), None) => assert_eq!(dup(&v) > 0, events % 2 == 0, "{key}: {v}"),
                (Err(e), Some(want)) => assert!(e.to_string().contains(want), "{key}: {e}"),
                (r, _) => panic!("{key}: {r:?}"),
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{key}");
        assert_eq!(
            marker(&env.s3, key).await.is_some(),
            error.is_none(),
            "{key}"
        );
    }
    let exact = compare_all(
        &env.cw,
        &BTreeMap::from([("E11PLAINAAAAA".to_owned(), exp)]),
    )
    .await;
    let listed = listed_values(&env.cw, None).await;
    assert_eq!(listed, BTreeSet::from(["E11PLAINAAAAA".to_owned()]));
    report(Row {
        scenario: "bad inputs (7 kinds, small bomb)",
        events,
        duplicates: 3,
        faults: 0,
        records: 300,
        exact: exact.is_ok(),
        note: "plain, empty, header-only ok; zstd, truncated, binary, bomb fail clearly".into(),
    });
    exact.unwrap();
}

/// Sum of `metric` over all values of a second dimension `key` of `dist`, and how many values.
async fn per_value_totals(
    cw: &aws_sdk_cloudwatch::Client,
    dist: &str,
    key: &str,
    metric: &str,
    from: i64,
    to: i64,
) -> (usize, f64) {
    let mut values = BTreeSet::new();
    let mut pages = cw
        .list_metrics()
        .namespace(NAMESPACE)
        .metric_name(metric)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for m in page.unwrap().metrics() {
            let dims = m.dimensions();
            let ours = dims
                .iter()
                .any(|d| d.name() == Some("DistributionId") && d.value() == Some(dist));
            if ours && dims.len() == 2 {
                for d in dims {
                    if d.name() == Some(key) {
                        values.insert(d.value().unwrap().to_owned());
                    }
                }
            }
        }
    }
    let mut sum = 0.0;
    for v in &values {
        sum += total(cw, &[("DistributionId", dist), (key, v)], metric, from, to).await;
    }
    (values.len(), sum)
}

/// 100 000 distinct paths and path patterns, 300 edge locations, dimension sets by EdgeLocation
/// and PathPattern: the cardinality guard keeps 50 values per key (plus "Other") and every
/// request is still counted once in each set.
#[tokio::test]
async fn hundred_thousand_distinct_paths() {
    let Some(env) = env().await else { return };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let dist = "E12CARDAAAAAA";
    let n = 100_000;
    let shape = Shape {
        span_ms: 10 * 60_000,
        edges: 300,
        distinct_paths: true,
    };
    let text = records(&mut Rng::new(12), start, n, shape, None);
    let key = format!("cf/{dist}.{}.card.gz", hour_stamp(start));
    put_object(&env.s3, BUCKET, &key, gzip(&text)).await;
    drop(text);
    reset_peak();
    let settings = Settings {
        metrics: cloudfront_log_metrics::config::MetricsConfig {
            dimension_sets: parse_dimension_sets(
                "test",
                "DistributionId,EdgeLocation;DistributionId,PathPattern",
            )
            .unwrap(),
            include: parse_include("test", "Requests").unwrap(),
            ..Default::default()
        },
        ..Settings::default()
    };
    let h = env.handler(env.cw.clone(), settings);
    let v = h
        .handle(&s3_event(BUCKET, std::slice::from_ref(&key)), now)
        .await
        .unwrap();
    assert_eq!(v["records"], json!(n), "{v}");
    let (from, to) = (start - 60_000, start + 12 * 60_000);
    let (edges, edge_total) =
        per_value_totals(&env.cw, dist, "EdgeLocation", "Requests", from, to).await;
    let (patterns, pattern_total) =
        per_value_totals(&env.cw, dist, "PathPattern", "Requests", from, to).await;
    assert!(
        edges <= 51 && patterns <= 51,
        "{edges} edges, {patterns} patterns"
    );
    let exact = edge_total == n as f64 && pattern_total == n as f64;
    report(Row {
        scenario: "100 000 distinct paths, guard 50",
        events: 1,
        duplicates: 0,
        faults: 0,
        records: n as u64,
        exact,
        note: format!("{edges} EdgeLocation and {patterns} PathPattern values published"),
    });
    assert!(
        exact,
        "EdgeLocation total {edge_total}, PathPattern total {pattern_total}"
    );
}

/// `files` files through the handler: SQS batches of 10, `parallel` invocations at a time, each
/// processing FILE_CONCURRENCY files at once. RSS after the first fifth and at the end.
async fn soak(files: usize, parallel: usize, scenario: &'static str) {
    let Some(env) = env().await else { return };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 60 * 60_000;
    let mut c = Corpus::new(&env.s3, 13);
    for i in 0..files {
        let dist = format!("E13SOAK{:06}", i % 10);
        let shape = Shape {
            span_ms: 50 * 60_000,
            ..Shape::default()
        };
        c.add("soak/", &dist, &format!("f{i}"), start, 500, shape)
            .await;
    }
    reset_peak();
    let h = env.handler(env.cw.clone(), Settings::default());
    let events: Vec<Value> = c
        .keys
        .chunks(10)
        .map(|keys| sqs_event(BUCKET, keys))
        .collect();
    let warm = events.len().div_ceil(5);
    async fn run<M: MetricSink>(
        h: &Handler<aws_sdk_s3::Client, M>,
        events: &[Value],
        now: i64,
        parallel: usize,
    ) {
        futures::stream::iter(events.iter().map(|e| async move {
            let v = h.handle(e, now).await.unwrap();
            assert_eq!(v, json!({"batchItemFailures": []}));
        }))
        .buffer_unordered(parallel)
        .collect::<Vec<()>>()
        .await;
    }
    let started = Instant::now();
    run(&h, &events[..warm], now, parallel).await;
    let rss_warm = rss_mb();
    run(&h, &events[warm..], now, parallel).await;
    let rss_end = rss_mb();
    let elapsed = started.elapsed();
    let exact = compare_all(&env.cw, &c.expected).await;
    report(Row {
        scenario,
        events: events.len(),
        duplicates: 0,
        faults: 0,
        records: c.records,
        exact: exact.is_ok(),
        note: format!(
            "RSS {rss_warm:.0} MB after {} files, {rss_end:.0} MB after {files}; {:.1} s",
            warm * 10,
            elapsed.as_secs_f64()
        ),
    });
    exact.unwrap();
    assert!(
        rss_end - rss_warm < 32.0,
        "RSS grew from {rss_warm:.0} MB to {rss_end:.0} MB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_40_files() {
    soak(40, 2, "soak: 40 files").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run by scripts/reliability.sh (release)"]
async fn soak_200_files() {
    soak(200, 4, "soak: 200 files").await;
}

/// A decompression bomb of a few MB inflating to 4 GiB of log lines: with the default limit it
/// finishes, memory flat, and every line is counted; with MAX_DECOMPRESSED_BYTES = 1 GiB it
/// fails with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run by scripts/reliability.sh (release)"]
async fn decompression_bomb_4_gib() {
    let Some(env) = env().await else { return };
    let now = now_ms();
    let ts = now / 60_000 * 60_000 - 20 * 60_000;
    let (body, line) = bomb(ts, 16, 256);
    let compressed_mb = body.len() as f64 / 1e6;
    let lines_per_block = (16usize << 20) / line.len();
    let lines = (lines_per_block * 256) as u64;
    let dist = "E14BOMBAAAAAA";
    let key = format!("cf/{dist}.{}.bomb.gz", hour_stamp(ts));
    put_object(&env.s3, BUCKET, &key, body).await;
    let event = s3_event(BUCKET, std::slice::from_ref(&key));
    let include = parse_include("test", "Requests,BytesDownloaded").unwrap();
    let settings = |limit: u64| Settings {
        metrics: cloudfront_log_metrics::config::MetricsConfig {
            include,
            ..Default::default()
        },
        max_decompressed_bytes: limit,
        ..Settings::default()
    };

    reset_peak();
    let base = rss_mb();
    let started = Instant::now();
    let e = env
        .handler(env.cw.clone(), settings(1 << 30))
        .handle(&event, now)
        .await
        .unwrap_err();
    let stopped_s = started.elapsed().as_secs_f64();
    assert!(
        e.to_string()
            .contains("more than 1073741824 bytes once decompressed"),
        "{e}"
    );
    assert!(marker(&env.s3, &key).await.is_none());
    report(Row {
        scenario: "bomb 4 GiB, limit 1 GiB",
        events: 1,
        duplicates: 0,
        faults: 0,
        records: 0,
        exact: true,
        note: format!(
            "{compressed_mb:.1} MB gzip; clear error after {stopped_s:.1} s; RSS +{:.0} MB",
            peak_mb() - base
        ),
    });

    reset_peak();
    let base = rss_mb();
    let started = Instant::now();
    let v = env
        .handler(env.cw.clone(), settings(20 << 30))
        .handle(&event, now)
        .await
        .unwrap();
    let done_s = started.elapsed().as_secs_f64();
    assert_eq!(v["records"].as_u64(), Some(lines), "{v}");
    let dims = [("DistributionId", dist)];
    let (from, to) = (ts - 60_000, ts + 120_000);
    let got = (
        total(&env.cw, &dims, "Requests", from, to).await,
        total(&env.cw, &dims, "BytesDownloaded", from, to).await,
    );
    let exact = got == (lines as f64, lines as f64 * 1234.0);
    let grew = peak_mb() - base;
    report(Row {
        scenario: "bomb 4 GiB, default limit",
        events: 1,
        duplicates: 0,
        faults: 0,
        records: lines,
        exact,
        note: format!("{compressed_mb:.1} MB gzip inflated in {done_s:.1} s; RSS +{grew:.0} MB"),
    });
    assert!(exact, "{got:?}");
    assert!(grew < 100.0, "RSS grew {grew:.0} MB");
}

/// The known limit: PutMetricData is processed but its answer is lost (a timeout, a reset
/// connection), and the SDK's own retry sends the same batch again. CloudWatch has no
/// idempotency token, so that batch counts twice, with or without markers. The test shows the
/// damage is exactly that one batch.
#[tokio::test]
async fn lost_put_metric_data_answer_is_the_known_limit() {
    let Some(env) = env().await else { return };
    reset_peak();
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut c = Corpus::new(&env.s3, 15);
    c.add("cf/", "E15LOSTAAAAAA", "x", start, 600, Shape::default())
        .await;
    env.stack.fault(
        r#"{"rules":[{"operation":"PutMetricData","action":"drop","phase":"response","times":1}]}"#,
    );
    let h = env.handler(env.cw.clone(), Settings::default());
    let v = h.handle(&s3_event(BUCKET, &c.keys), now).await.unwrap();
    assert_eq!(v["put_requests"], json!(1), "one batch: {v}");
    assert_eq!(put_requests(&env.stack), 2, "the SDK retried it");
    let exact = compare_all(&env.cw, &c.expected).await;
    let doubled: BTreeMap<String, Expected> = c
        .expected
        .iter()
        .map(|(d, e)| (d.clone(), double(e)))
        .collect();
    report(Row {
        scenario: "lost PutMetricData answer (limit)",
        events: 1,
        duplicates: 0,
        faults: faults(&env.stack),
        records: c.records,
        exact: exact.is_ok(),
        note: "expected NO: the SDK's retry of a processed request counts its batch twice".into(),
    });
    assert!(exact.is_err());
    compare_all(&env.cw, &doubled).await.unwrap();
}

/// Every total twice (one file published twice).
fn double(e: &Expected) -> Expected {
    e.iter()
        .map(|(t, m)| {
            let mut l = m.latencies.clone();
            l.extend(&m.latencies);
            let m2 = Minute {
                requests: m.requests * 2,
                bytes: m.bytes * 2,
                hits: m.hits * 2,
                latencies: l,
            };
            (*t, m2)
        })
        .collect()
}

// The new edges of the one ledger: real-time shards, Batch Operations deadlines and overrides.
#[path = "exactly_once/ledger.rs"]
mod ledger;

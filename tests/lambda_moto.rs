//! The Lambda handler against a real S3 and CloudWatch API (moto, with the CBOR adapter in front
//! of its CloudWatch): every event kind, keys that need decoding, several formats, and the error
//! paths. Metrics are read back with GetMetricStatistics and compared, per minute, with totals
//! this test computes itself while generating the logs.
//!
//! Needs the dev venv (`bash scripts/dev-venv.sh`); without it these tests skip locally and fail
//! when `CI=true`.

mod support;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_s3::primitives::ByteStream;
use cloudfront_log_metrics::config::Settings;
use cloudfront_log_metrics::handler::Handler;
use cloudfront_log_metrics::parse::value::civil_from_days;
use cloudfront_log_metrics::sink::emf::EmfSink;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};
use support::MotoStack;

const BUCKET: &str = "cf-logs";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Expected per-minute totals of one distribution, computed while generating.
#[derive(Default, Debug, Clone, PartialEq)]
struct Minute {
    requests: u64,
    bytes: u64,
    hits: u64,
    latencies: Vec<u64>,
}

type Expected = BTreeMap<i64, Minute>;

fn ymd_hms(ms: i64) -> (String, String) {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60),
    )
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Generates `n` records starting at `start_ms`, in the legacy 33-field layout (`json` false) or
/// as v2 JSON lines, returning the text and adding to `exp`.
fn records(rng: &mut Rng, start_ms: i64, n: usize, json: bool, exp: &mut Expected) -> String {
    let mut s = String::new();
    if !json {
        s.push_str("#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n");
    }
    for i in 0..n {
        let ts = start_ms + (i as i64 * 7_919) % 240_000;
        let bytes = rng.below(100_000);
        let ms = rng.below(1500);
        let hit = rng.below(3) != 0;
        let rt = if hit { "Hit" } else { "Miss" };
        let (d, t) = ymd_hms(ts);
        let m = exp.entry(ts.div_euclid(60_000) * 60_000).or_default();
        m.requests += 1;
        m.bytes += bytes;
        m.hits += u64::from(hit);
        m.latencies.push(ms);
        let secs = format!("{}.{:03}", ms / 1000, ms % 1000);
        if json {
            s.push_str(&format!(
                "{{\"timestamp(ms)\":\"{}\",\"sc-bytes\":\"{bytes}\",\"sc-status\":\"200\",\"x-edge-result-type\":\"{rt}\",\"time-taken\":\"{secs}\",\"c-ip\":\"192.0.2.1\"}}\n",
                ts - ts % 1000 + 123
            ));
        } else {
            s.push_str(&format!(
                "{d}\t{t}\tIAD89-C1\t{bytes}\t192.0.2.1\tGET\td111111abcdef8.cloudfront.net\t/p/{i}\t200\t-\tMozilla/5.0\t-\t-\t{rt}\treqid{i}==\texample.com\thttps\t100\t{secs}\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t{rt}\tHTTP/2.0\t-\t-\t443\t0.001\t{rt}\ttext/html\t10\t-\t-\n"
            ));
        }
    }
    s
}

fn gzip(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(p.as_bytes()).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

fn hour_stamp(ms: i64) -> String {
    let (d, t) = ymd_hms(ms);
    format!("{d}-{}", &t[..2])
}

/// URL-encodes a key the way S3 event notifications do (space as `+`).
fn notification_key(key: &str) -> String {
    let mut s = String::new();
    for b in key.bytes() {
        match b {
            b' ' => s.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                s.push(b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

fn s3_record(key: &str) -> Value {
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T08:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "X", "x-amz-id-2": "Y"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "logs",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "X"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": {"key": notification_key(key), "size": 1, "eTag": "e", "sequencer": "01"}}
    })
}

fn sqs_message(id: &str, body: &Value) -> Value {
    json!({"messageId": id, "receiptHandle": "r", "body": body.to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1"})
}

fn eventbridge(key: &str) -> Value {
    json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-23T08:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{BUCKET}")],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
            "object": {"key": key, "size": 1, "etag": "e"}, "reason": "PutObject"}})
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

/// Reads one statistic per minute for a distribution's metric.
async fn per_minute(
    cw: &aws_sdk_cloudwatch::Client,
    dist: &str,
    metric: &str,
    from_ms: i64,
    to_ms: i64,
) -> BTreeMap<i64, (f64, f64, f64, f64)> {
    let out = cw
        .get_metric_statistics()
        .namespace("CloudFront/AccessLogs")
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("DistributionId")
                .value(dist)
                .build(),
        )
        .start_time(DateTime::from_millis(from_ms))
        .end_time(DateTime::from_millis(to_ms))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .unwrap();
    out.datapoints()
        .iter()
        .map(|d| {
            let t = d.timestamp().unwrap().to_millis().unwrap();
            (
                t,
                (
                    d.sum().unwrap(),
                    d.sample_count().unwrap(),
                    d.minimum().unwrap(),
                    d.maximum().unwrap(),
                ),
            )
        })
        .collect()
}

/// Compares CloudWatch's per-minute statistics with the expected totals.
async fn assert_published(cw: &aws_sdk_cloudwatch::Client, dist: &str, exp: &Expected) {
    let from = *exp.keys().next().unwrap() - 60_000;
    let to = *exp.keys().last().unwrap() + 120_000;
    let requests = per_minute(cw, dist, "Requests", from, to).await;
    let bytes = per_minute(cw, dist, "BytesDownloaded", from, to).await;
    let hits = per_minute(cw, dist, "Hit", from, to).await;
    let latency = per_minute(cw, dist, "TimeTaken", from, to).await;
    assert_eq!(requests.len(), exp.len(), "{dist}: minutes with Requests");
    for (minute, m) in exp {
        assert_eq!(
            requests[minute].0, m.requests as f64,
            "{dist} {minute} Requests"
        );
        assert_eq!(
            bytes[minute].0, m.bytes as f64,
            "{dist} {minute} BytesDownloaded"
        );
        assert_eq!(hits[minute].0, m.hits as f64, "{dist} {minute} Hit");
        let (sum, count, min, max) = latency[minute];
        assert_eq!(
            count,
            m.latencies.len() as f64,
            "{dist} {minute} TimeTaken count"
        );
        assert_eq!(
            sum,
            m.latencies.iter().sum::<u64>() as f64,
            "{dist} {minute} TimeTaken sum"
        );
        assert_eq!(min, *m.latencies.iter().min().unwrap() as f64);
        assert_eq!(max, *m.latencies.iter().max().unwrap() as f64);
    }
}

async fn setup() -> Option<(MotoStack, aws_sdk_s3::Client, aws_sdk_cloudwatch::Client)> {
    let stack = MotoStack::start()?;
    let sdk = stack.sdk_config().await;
    let s3 = stack.s3_client(&sdk);
    let cw = stack.cloudwatch_client(&sdk);
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    Some((stack, s3, cw))
}

#[tokio::test]
async fn every_event_kind_publishes_exact_totals() {
    let Some((_stack, s3, cw)) = setup().await else {
        return;
    };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut rng = Rng(7);

    // S3 notification, two records: legacy gzip with a space and '+' in the key, and a
    // multi-member gzip (two legacy files concatenated).
    let mut exp_a = Expected::new();
    let a = records(&mut rng, start, 400, false, &mut exp_a);
    let key_a = format!("cf logs/E1AAAAAAAAAA.{}.a+b.gz", hour_stamp(start));
    put(&s3, &key_a, gzip(&[&a])).await;
    let mut exp_b = Expected::new();
    let b1 = records(&mut rng, start, 150, false, &mut exp_b);
    let b2 = records(&mut rng, start + 60_000, 150, false, &mut exp_b);
    let key_b = format!("cf/E1BBBBBBBBBB.{}.multi.gz", hour_stamp(start));
    put(&s3, &key_b, gzip(&[&b1, &b2])).await;
    // SQS-wrapped notification: v2 JSON lines under a Hive-style path, key with unicode.
    let mut exp_c = Expected::new();
    let c = records(&mut rng, start, 300, true, &mut exp_c);
    let key_c = "v2/distributionid=E2CCCCCCCCCC/year=2026/part é+1.log.gz".to_owned();
    put(&s3, &key_c, gzip(&[&c])).await;
    // EventBridge: the key is carried as written, colons included.
    let mut exp_d = Expected::new();
    let d = records(&mut rng, start, 200, false, &mut exp_d);
    let key_d = "eb/E3DDDDDDDDDD/2026-11-23T08:03:40.532432.log.gz".to_owned();
    put(&s3, &key_d, gzip(&[&d])).await;

    let handler = Handler {
        store: s3.clone(),
        sink: cw.clone(),
        settings: Settings::default(),
    };
    let direct = json!({"Records": [s3_record(&key_a), s3_record(&key_b)]});
    let r = handler.handle(&direct, now).await.unwrap();
    assert_eq!(r["files"], json!(2));

    let sqs = json!({"Records": [
        sqs_message("m-1", &json!({"Records": [s3_record(&key_c)]})),
        sqs_message("m-2", &json!({"Service": "Amazon S3", "Event": "s3:TestEvent"})),
    ]});
    let r = handler.handle(&sqs, now).await.unwrap();
    assert_eq!(r, json!({"batchItemFailures": []}));

    let r = handler.handle(&eventbridge(&key_d), now).await.unwrap();
    assert_eq!(r["files"], json!(1));

    let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET});
    assert_eq!(handler.handle(&test, now).await.unwrap()["files"], json!(0));

    assert_published(&cw, "E1AAAAAAAAAA", &exp_a).await;
    assert_published(&cw, "E1BBBBBBBBBB", &exp_b).await;
    assert_published(&cw, "E2CCCCCCCCCC", &exp_c).await;
    assert_published(&cw, "E3DDDDDDDDDD", &exp_d).await;
}

async fn listed_distributions(cw: &aws_sdk_cloudwatch::Client) -> Vec<String> {
    let mut out: Vec<String> = cw
        .list_metrics()
        .namespace("CloudFront/AccessLogs")
        .metric_name("Requests")
        .send()
        .await
        .unwrap()
        .metrics()
        .iter()
        .flat_map(|m| m.dimensions().iter())
        .filter_map(|d| d.value().map(str::to_owned))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn bad_objects_fail_their_unit_and_publish_nothing() {
    let Some((_stack, s3, cw)) = setup().await else {
        return;
    };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 20 * 60_000;
    let hour = hour_stamp(start);
    let mut rng = Rng(11);
    let mut exp_good = Expected::new();
    let good = records(&mut rng, start, 100, false, &mut exp_good);
    let key_good = format!("cf/E7GOODGOODGO.{hour}.ok.gz");
    put(&s3, &key_good, gzip(&[&good])).await;
    let key_binary = format!("cf/E4BINARYBINA.{hour}.bin.gz");
    put(&s3, &key_binary, (0u8..=255).cycle().take(5000).collect()).await;
    let mut throwaway = Expected::new();
    let whole = gzip(&[&records(&mut rng, start, 2000, false, &mut throwaway)]);
    let key_truncated = format!("cf/E5TRUNCATEDA.{hour}.cut.gz");
    put(&s3, &key_truncated, whole[..whole.len() / 2].to_vec()).await;
    let key_missing = format!("cf/E6MISSINGMISS.{hour}.none.gz");

    let handler = Handler {
        store: s3.clone(),
        sink: cw.clone(),
        settings: Settings::default(),
    };
    // Direct invocation: the whole invocation fails, naming each bad file; the good file is
    // still published.
    let direct = json!({"Records": [
        s3_record(&key_good), s3_record(&key_binary), s3_record(&key_truncated), s3_record(&key_missing)
    ]});
    let err = handler.handle(&direct, now).await.unwrap_err().to_string();
    assert!(err.starts_with("3 of 4 log files failed"), "{err}");
    assert!(
        err.contains(&key_binary) && err.contains("binary content"),
        "{err}"
    );
    assert_published(&cw, "E7GOODGOODGO", &exp_good).await;
    assert_eq!(
        listed_distributions(&cw).await,
        vec!["E7GOODGOODGO".to_owned()]
    );

    // Under SQS only the bad messages come back.
    let sqs = json!({"Records": [
        sqs_message("bad-1", &json!({"Records": [s3_record(&key_truncated)]})),
        sqs_message("bad-2", &json!({"Records": [s3_record(&key_missing)]})),
        sqs_message("bad-3", &json!({"Records": [s3_record(&key_binary)]})),
        sqs_message("bad-4", &json!("not an S3 event")),
    ]});
    let r = handler.handle(&sqs, now).await.unwrap();
    let mut ids: Vec<String> = r["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["bad-1", "bad-2", "bad-3", "bad-4"]);
    assert_eq!(
        listed_distributions(&cw).await,
        vec!["E7GOODGOODGO".to_owned()]
    );
}

#[tokio::test]
async fn emf_sink_carries_the_same_totals() {
    let Some((_stack, s3, _cw)) = setup().await else {
        return;
    };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 10 * 60_000;
    let mut exp = Expected::new();
    let text = records(&mut Rng(3), start, 500, false, &mut exp);
    let key = format!("cf/E8EMFEMFEMFE.{}.x.gz", hour_stamp(start));
    put(&s3, &key, gzip(&[&text])).await;
    let handler = Handler {
        store: s3.clone(),
        sink: EmfSink::new(Vec::new()),
        settings: Settings::default(),
    };
    handler
        .handle(&json!({"Records": [s3_record(&key)]}), now)
        .await
        .unwrap();
    let out = String::from_utf8(handler.sink.into_inner()).unwrap();
    let mut requests: BTreeMap<i64, u64> = BTreeMap::new();
    let mut latencies: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let t = v["_aws"]["Timestamp"].as_i64().unwrap();
        assert_eq!(v["DistributionId"], json!("E8EMFEMFEMFE"));
        if let Some(n) = v["Requests"].as_u64() {
            *requests.entry(t).or_default() += n;
        }
        if let Some(a) = v["TimeTaken"].as_array() {
            assert!(a.len() <= 100);
            latencies
                .entry(t)
                .or_default()
                .extend(a.iter().map(|x| x.as_u64().unwrap()));
        }
    }
    for (minute, m) in &exp {
        assert_eq!(requests[minute], m.requests);
        let mut got = latencies[minute].clone();
        let mut want = m.latencies.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
}

//! The Lambda handler against a real S3 and CloudWatch API (moto, with the CBOR adapter in front
//! of its CloudWatch): every event kind, keys that need decoding, several formats, and the error
//! paths. Metrics are read back with GetMetricStatistics and compared, per minute, with totals
//! this test computes itself while generating the logs.
//!
//! Needs the dev venv (`bash scripts/dev-venv.sh`); without it these tests skip locally and fail
//! when `CI=true`.

mod support;

use cloudfront_log_metrics::handler::Handler;
use cloudfront_log_metrics::settings::Settings;
use cloudfront_log_metrics::sink::emf::EmfSink;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use support::events::{eventbridge, s3_event, s3_record, sqs_message};
use support::logs::{Request, Rng, date_time, gzip, gzip_members, hour_stamp, now_ms};
use support::metrics::{Expected, compare, count, listed_values};
use support::{MotoStack, put_object};

const BUCKET: &str = "cf-logs";

/// Generates `n` records starting at `start_ms`, in the legacy 33-field layout (`json` false) or
/// as v2 JSON lines, returning the text and adding to `exp`.
fn records(rng: &mut Rng, start_ms: i64, n: usize, json: bool, exp: &mut Expected) -> String {
    let mut s = String::new();
    if !json {
        s.push_str("#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n");
    }
    for i in 0..n {
        let ts = start_ms + (i as i64 * 7_919) % 240_000;
        let r = Request::draw(rng, ts);
        count(exp, &r);
        let (bytes, rt, secs) = (r.bytes, r.result_type(), r.time_taken());
        if json {
            s.push_str(&format!(
                "{{\"timestamp(ms)\":\"{}\",\"sc-bytes\":\"{bytes}\",\"sc-status\":\"200\",\"x-edge-result-type\":\"{rt}\",\"time-taken\":\"{secs}\",\"c-ip\":\"192.0.2.1\"}}\n",
                ts - ts % 1000 + 123
            ));
        } else {
            let (d, t) = date_time(ts);
            s.push_str(&format!(
                "{d}\t{t}\tIAD89-C1\t{bytes}\t192.0.2.1\tGET\td111111abcdef8.cloudfront.net\t/p/{i}\t200\t-\tMozilla/5.0\t-\t-\t{rt}\treqid{i}==\texample.com\thttps\t100\t{secs}\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t{rt}\tHTTP/2.0\t-\t-\t443\t0.001\t{rt}\ttext/html\t10\t-\t-\n"
            ));
        }
    }
    s
}

/// Compares CloudWatch's per-minute statistics with the expected totals.
async fn assert_published(cw: &aws_sdk_cloudwatch::Client, dist: &str, exp: &Expected) {
    assert!(!exp.is_empty(), "{dist}: nothing expected");
    compare(cw, dist, exp).await.unwrap();
}

#[tokio::test]
async fn every_event_kind_publishes_exact_totals() {
    let Some((_stack, _sdk, s3, cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 30 * 60_000;
    let mut rng = Rng::new(7);

    // S3 notification, two records: legacy gzip with a space and '+' in the key, and a
    // multi-member gzip (two legacy files concatenated).
    let mut exp_a = Expected::new();
    let a = records(&mut rng, start, 400, false, &mut exp_a);
    let key_a = format!("cf logs/E1AAAAAAAAAA.{}.a+b.gz", hour_stamp(start));
    put_object(&s3, BUCKET, &key_a, gzip(&a)).await;
    let mut exp_b = Expected::new();
    let b1 = records(&mut rng, start, 150, false, &mut exp_b);
    let b2 = records(&mut rng, start + 60_000, 150, false, &mut exp_b);
    let key_b = format!("cf/E1BBBBBBBBBB.{}.multi.gz", hour_stamp(start));
    put_object(
        &s3,
        BUCKET,
        &key_b,
        gzip_members(format!("{b1}{b2}").as_bytes(), &[b1.len()]),
    )
    .await;
    // SQS-wrapped notification: v2 JSON lines under a Hive-style path, key with unicode.
    let mut exp_c = Expected::new();
    let c = records(&mut rng, start, 300, true, &mut exp_c);
    let key_c = "v2/distributionid=E2CCCCCCCCCC/year=2026/part é+1.log.gz".to_owned();
    put_object(&s3, BUCKET, &key_c, gzip(&c)).await;
    // EventBridge: the key is carried as written, colons included.
    let mut exp_d = Expected::new();
    let d = records(&mut rng, start, 200, false, &mut exp_d);
    let key_d = "eb/E3DDDDDDDDDD/2026-11-23T08:03:40.532432.log.gz".to_owned();
    put_object(&s3, BUCKET, &key_d, gzip(&d)).await;

    let handler = Handler {
        store: s3.clone(),
        sink: cw.clone(),
        settings: Settings::default(),
    };
    let direct = s3_event(BUCKET, &[&key_a, &key_b]);
    let r = handler.handle(&direct, now).await.unwrap();
    assert_eq!(r["files"], json!(2));

    let sqs = json!({"Records": [
        sqs_message("m-1", &s3_event(BUCKET, &[&key_c])),
        sqs_message("m-2", &json!({"Service": "Amazon S3", "Event": "s3:TestEvent"})),
    ]});
    let r = handler.handle(&sqs, now).await.unwrap();
    assert_eq!(r, json!({"batchItemFailures": []}));

    let r = handler
        .handle(&eventbridge(BUCKET, &key_d), now)
        .await
        .unwrap();
    assert_eq!(r["files"], json!(1));

    let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET});
    assert_eq!(handler.handle(&test, now).await.unwrap()["files"], json!(0));

    assert_published(&cw, "E1AAAAAAAAAA", &exp_a).await;
    assert_published(&cw, "E1BBBBBBBBBB", &exp_b).await;
    assert_published(&cw, "E2CCCCCCCCCC", &exp_c).await;
    assert_published(&cw, "E3DDDDDDDDDD", &exp_d).await;
}

#[tokio::test]
async fn bad_objects_fail_their_unit_and_publish_nothing() {
    let Some((_stack, _sdk, s3, cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 20 * 60_000;
    let hour = hour_stamp(start);
    let mut rng = Rng::new(11);
    let mut exp_good = Expected::new();
    let good = records(&mut rng, start, 100, false, &mut exp_good);
    let key_good = format!("cf/E7GOODGOODGO.{hour}.ok.gz");
    put_object(&s3, BUCKET, &key_good, gzip(&good)).await;
    let key_binary = format!("cf/E4BINARYBINA.{hour}.bin.gz");
    put_object(
        &s3,
        BUCKET,
        &key_binary,
        (0u8..=255).cycle().take(5000).collect(),
    )
    .await;
    let mut throwaway = Expected::new();
    let whole = gzip(records(&mut rng, start, 2000, false, &mut throwaway));
    let key_truncated = format!("cf/E5TRUNCATEDA.{hour}.cut.gz");
    put_object(
        &s3,
        BUCKET,
        &key_truncated,
        whole[..whole.len() / 2].to_vec(),
    )
    .await;
    let key_missing = format!("cf/E6MISSINGMISS.{hour}.none.gz");

    let handler = Handler {
        store: s3.clone(),
        sink: cw.clone(),
        settings: Settings::default(),
    };
    // Direct invocation: the whole invocation fails, naming each bad file; the good file is
    // still published.
    let direct = s3_event(
        BUCKET,
        &[&key_good, &key_binary, &key_truncated, &key_missing],
    );
    let err = handler.handle(&direct, now).await.unwrap_err().to_string();
    assert!(err.starts_with("3 of 4 log files failed"), "{err}");
    assert!(
        err.contains(&key_binary) && err.contains("binary content"),
        "{err}"
    );
    assert_published(&cw, "E7GOODGOODGO", &exp_good).await;
    assert_eq!(
        listed_values(&cw, Some("Requests")).await,
        BTreeSet::from(["E7GOODGOODGO".to_owned()])
    );

    // Under SQS only the bad messages come back.
    let sqs = json!({"Records": [
        sqs_message("bad-1", &s3_event(BUCKET, &[&key_truncated])),
        sqs_message("bad-2", &s3_event(BUCKET, &[&key_missing])),
        sqs_message("bad-3", &s3_event(BUCKET, &[&key_binary])),
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
        listed_values(&cw, Some("Requests")).await,
        BTreeSet::from(["E7GOODGOODGO".to_owned()])
    );
}

#[tokio::test]
async fn malformed_records_fail_their_unit_after_the_valid_files() {
    let Some((_stack, _sdk, s3, cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 20 * 60_000;
    let hour = hour_stamp(start);
    let mut rng = Rng::new(13);
    let mut exp = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for dist in ["E9AAAAAAAAAA", "E9CCCCCCCCCC", "E9DDDDDDDDDD"] {
        let mut e = Expected::new();
        let text = records(&mut rng, start, 120, false, &mut e);
        let key = format!("cf/{dist}.{hour}.x.gz");
        put_object(&s3, BUCKET, &key, gzip(&text)).await;
        exp.insert(dist, e);
        keys.insert(dist, key);
    }
    let handler = Handler {
        store: s3.clone(),
        sink: cw.clone(),
        settings: Settings::default(),
    };
    let mut bad = s3_record(BUCKET, &format!("cf/E9BBBBBBBBBB.{hour}.x.gz"));
    bad["s3"]["bucket"].as_object_mut().unwrap().remove("name");

    // Direct: the valid files on both sides of the malformed record are published, then the
    // invocation fails naming it. Lambda's retry skips them as duplicates and fails the same way.
    let direct = json!({"Records": [
        s3_record(BUCKET, &keys["E9AAAAAAAAAA"]),
        bad.clone(),
        s3_record(BUCKET, &keys["E9CCCCCCCCCC"]),
    ]});
    let err = handler.handle(&direct, now).await.unwrap_err().to_string();
    assert!(
        err.contains("Records[1]: s3.bucket.name is missing"),
        "{err}"
    );
    assert!(
        err.contains("the 2 valid log file(s) were processed"),
        "{err}"
    );
    let again = handler.handle(&direct, now).await.unwrap_err().to_string();
    assert_eq!(again, err);
    assert_published(&cw, "E9AAAAAAAAAA", &exp["E9AAAAAAAAAA"]).await;
    assert_published(&cw, "E9CCCCCCCCCC", &exp["E9CCCCCCCCCC"]).await;

    // SQS: only the bad message comes back.
    let good = sqs_message("good", &s3_event(BUCKET, &[&keys["E9DDDDDDDDDD"]]));
    let sqs = json!({"Records": [good.clone(), sqs_message("bad", &json!({"Records": [bad]}))]});
    let r = handler.handle(&sqs, now).await.unwrap();
    assert_eq!(r, json!({"batchItemFailures": [{"itemIdentifier": "bad"}]}));
    assert_published(&cw, "E9DDDDDDDDDD", &exp["E9DDDDDDDDDD"]).await;

    // A failed message without an ID cannot be named: the whole batch fails, saying why.
    let mut nameless = sqs_message("x", &json!("not an S3 event"));
    nameless.as_object_mut().unwrap().remove("messageId");
    let sqs = json!({"Records": [good, nameless]});
    let err = handler.handle(&sqs, now).await.unwrap_err().to_string();
    assert!(err.contains("without a messageId"), "{err}");
    assert!(
        err.contains("Records[1] (no messageId): body is a string"),
        "{err}"
    );
    assert_eq!(
        listed_values(&cw, Some("Requests")).await,
        BTreeSet::from(["E9AAAAAAAAAA", "E9CCCCCCCCCC", "E9DDDDDDDDDD"].map(str::to_owned))
    );
}

#[tokio::test]
async fn emf_sink_carries_the_same_totals() {
    let Some((_stack, _sdk, s3, _cw)) = MotoStack::with_bucket(BUCKET).await else {
        return;
    };
    let now = now_ms();
    let start = now / 60_000 * 60_000 - 10 * 60_000;
    let mut exp = Expected::new();
    let text = records(&mut Rng::new(3), start, 500, false, &mut exp);
    let key = format!("cf/E8EMFEMFEMFE.{}.x.gz", hour_stamp(start));
    put_object(&s3, BUCKET, &key, gzip(&text)).await;
    let handler = Handler {
        store: s3.clone(),
        sink: EmfSink::new(Vec::new()),
        settings: Settings::default(),
    };
    handler
        .handle(&s3_event(BUCKET, &[&key]), now)
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

//! The exporter over whole files: the same request logged as legacy W3C, v2 JSON and a real-time
//! record gives the same document; `_bulk` framing; nothing private leaves.

use super::*;
use serde_json::Value;

fn config(format: OutputFormat) -> ExportConfig {
    ExportConfig {
        format,
        privacy: Privacy::default(),
        realtime: Some(
            RealtimeFields::parse(
                "timestamp,c-ip,sc-status,sc-bytes,cs-host,cs-uri-stem,x-edge-request-id,time-taken,cs-user-agent,cs-cookie,x-edge-result-type",
            )
            .unwrap(),
        ),
        hosts: HostMap::default(),
    }
}

fn export(config: &ExportConfig, text: &str) -> (Vec<Value>, ExportStats) {
    let mut e = Exporter::new(config, "src", "E2EXAMPLE1234");
    let mut out = Vec::new();
    let used = e.feed(text.as_bytes(), true, &mut out);
    assert_eq!(used, text.len());
    let docs = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (docs, e.stats().clone())
}

const W3C: &str = "#Version: 1.0\n#Fields: date time c-ip sc-status sc-bytes cs(Host) cs-uri-stem cs-uri-query x-edge-request-id time-taken cs(User-Agent) cs(Cookie) x-edge-result-type\n2026-11-20\t12:00:01\t203.0.113.77\t200\t512\td1.cloudfront.net\t/a%20b\tq=secret\tREQID123==\t0.004\tcurl/8.0\tsid=abc\tHit\n";
const JSON: &str = r#"{"date":"2026-11-20","time":"12:00:01","c-ip":"203.0.113.77","sc-status":"200","sc-bytes":"512","cs(Host)":"d1.cloudfront.net","cs-uri-stem":"/a%20b","cs-uri-query":"q=secret","x-edge-request-id":"REQID123==","time-taken":"0.004","cs(User-Agent)":"curl/8.0","cs(Cookie)":"sid=abc","x-edge-result-type":"Hit"}"#;
const REALTIME: &str = "1795176001.000\t203.0.113.77\t200\t512\td1.cloudfront.net\t/a%20b?q=secret\tREQID123==\t0.004\tcurl/8.0\tsid=abc\tHit\n";

#[test]
fn the_same_request_in_every_format_is_the_same_document() {
    let c = config(OutputFormat::Ndjson);
    let docs: Vec<Value> = [W3C, JSON, REALTIME]
        .iter()
        .map(|t| {
            let (docs, stats) = export(&c, t);
            assert_eq!((stats.documents, stats.rejected), (1, 0), "{t}");
            docs.into_iter().next().unwrap()
        })
        .collect();
    assert_eq!(docs[0], docs[1]);
    assert_eq!(docs[0], docs[2]);
    assert_eq!(
        docs[0],
        serde_json::json!({
            "@timestamp": "2026-11-20T12:00:01.000Z",
            "distribution_id": "E2EXAMPLE1234",
            "source": "src",
            "c-ip": "203.0.113.0",
            "sc-status": 200,
            "sc-bytes": 512,
            "cs-host": "d1.cloudfront.net",
            "cs-uri-stem": "/a b",
            "time-taken": 0.004,
            "cs-user-agent": "curl/8.0",
            "x-edge-result-type": "Hit",
        })
    );
}

#[test]
fn nothing_private_leaves_by_default() {
    for format in [
        OutputFormat::Ndjson,
        OutputFormat::OpenSearchBulk { index: "cf".into() },
    ] {
        let c = config(format);
        for text in [W3C, JSON, REALTIME] {
            let mut e = Exporter::new(&c, "src", "");
            let mut out = Vec::new();
            e.feed(text.as_bytes(), true, &mut out);
            let out = String::from_utf8(out).unwrap();
            assert!(!out.is_empty());
            for private in ["203.0.113.77", "secret", "REQID123", "sid=abc"] {
                assert!(!out.contains(private), "{private} in {out}");
            }
        }
    }
}

#[test]
fn bulk_pairs_have_a_deterministic_id() {
    let c = config(OutputFormat::OpenSearchBulk {
        index: "cloudfront-logs".into(),
    });
    let text = format!("{REALTIME}{REALTIME}");
    let run = || {
        let mut e = Exporter::new(&c, "s3://b/k", "");
        let mut out = Vec::new();
        e.feed(text.as_bytes(), true, &mut out);
        String::from_utf8(out).unwrap()
    };
    let a = run();
    assert_eq!(a, run(), "the same input gives the same ids");
    let lines: Vec<Value> = a
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let ids: Vec<&str> = [0, 2]
        .iter()
        .map(|&i| lines[i]["index"]["_id"].as_str().unwrap())
        .collect();
    assert_eq!(lines[0]["index"]["_index"], "cloudfront-logs");
    assert_ne!(ids[0], ids[1], "two lines, two ids");
    assert!(lines[1]["@timestamp"].is_string() && lines[3]["@timestamp"].is_string());
}

#[test]
fn bad_lines_are_counted_and_the_rest_exported() {
    let c = config(OutputFormat::Ndjson);
    let text = format!(
        "{REALTIME}1795176001.000\t1\t2\n{{\"date\":\nnot a log\n{}",
        REALTIME.replace("\t512\t", "\tlots\t")
    );
    let (docs, stats) = export(&c, &text);
    assert_eq!(docs.len(), 1);
    assert_eq!(stats.rejected, 4);
    let reasons: Vec<String> = stats
        .reject_samples
        .iter()
        .map(|(_, r)| r.to_string())
        .collect();
    assert_eq!(
        reasons,
        [
            "3 fields where 11 are expected",
            "not a valid JSON object",
            "1 fields where 11 are expected",
            "field sc-bytes is not a valid value of its type",
        ]
    );
}

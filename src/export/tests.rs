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

/// A v2 JSON record carrying every private field CloudFront can write, as CloudFront writes
/// them: an IPv4-mapped client address, `x-forwarded-for` with `%20`-encoded separators, spaces,
/// ports and a bracketed IPv6, path parameters, query strings inside URL-valued fields.
const PRIVATE: &str = r#"{"timestamp(ms)":"1795176001000","c-ip":"::ffff:203.0.113.77","x-forwarded-for":"198.51.100.9,%20[2001:db8:aa:bb::1]:443, 192.0.2.44:8080","cs-uri-stem":"/app;jsessionid=SESSIONSECRET/page.html","cs-uri-query":"token=QUERYSECRET","cs(Referer)":"https://ref.example/p;jsessionid=REFSESSION?ref=REFQUERY","cs(Cookie)":"sid=COOKIESECRET","x-edge-request-id":"REQIDSECRET==","cs-headers":"Authorization:HEADERSECRET","cmcd-next-object-request":"%2Fseg%2F2.m4s%3Ftoken%3DNORSECRET","cmcd-session-id":"SESSIONIDSECRET","connection-id":"CONNIDSECRET","sc-status":"200"}"#;

fn private_doc(privacy: Privacy) -> serde_json::Map<String, Value> {
    let c = ExportConfig {
        privacy,
        ..config(OutputFormat::Ndjson)
    };
    let (docs, stats) = export(&c, PRIVATE);
    assert_eq!((stats.documents, stats.rejected), (1, 0), "{stats:?}");
    docs[0].as_object().unwrap().clone()
}

#[test]
fn every_private_field_is_left_out_or_cut_at_the_defaults() {
    let d = private_doc(Privacy::default());
    assert_eq!(
        Value::Object(d.clone()),
        serde_json::json!({
            "@timestamp": "2026-11-20T12:00:01.000Z",
            "distribution_id": "E2EXAMPLE1234",
            "source": "src",
            "c-ip": "203.0.113.0",
            "x-forwarded-for": "198.51.100.0,2001:db8:aa::,192.0.2.0",
            "cs-uri-stem": "/app/page.html",
            "cs-referer": "https://ref.example/p",
            "cmcd-next-object-request": "/seg/2.m4s",
            "sc-status": 200,
        })
    );
    let text = Value::Object(d).to_string();
    for private in [
        "SECRET",
        "SESSION",
        "REFQUERY",
        "203.0.113.77",
        "198.51.100.9",
        "192.0.2.44",
        ":bb:",
        "8080",
        "443",
        "jsessionid",
    ] {
        assert!(!text.contains(private), "{private} in {text}");
    }
}

#[test]
fn each_opt_in_lets_out_exactly_its_field() {
    let base = private_doc(Privacy::default());
    let cases: [(Privacy, &[(&str, &str)]); 6] = [
        (
            Privacy {
                cookies: true,
                ..Privacy::default()
            },
            &[("cs-cookie", "sid=COOKIESECRET")],
        ),
        (
            Privacy {
                request_ids: true,
                ..Privacy::default()
            },
            &[("x-edge-request-id", "REQIDSECRET==")],
        ),
        (
            Privacy {
                headers: true,
                ..Privacy::default()
            },
            &[("cs-headers", "Authorization:HEADERSECRET")],
        ),
        (
            Privacy {
                session_ids: true,
                ..Privacy::default()
            },
            &[("cmcd-session-id", "SESSIONIDSECRET")],
        ),
        (
            Privacy {
                connection_ids: true,
                ..Privacy::default()
            },
            &[("connection-id", "CONNIDSECRET")],
        ),
        (
            Privacy {
                client_ip: privacy::IpMode::Keep,
                ..Privacy::default()
            },
            &[
                ("c-ip", "::ffff:203.0.113.77"),
                (
                    "x-forwarded-for",
                    "198.51.100.9, [2001:db8:aa:bb::1]:443, 192.0.2.44:8080",
                ),
            ],
        ),
    ];
    for (privacy, fields) in cases {
        let mut want = base.clone();
        for (k, v) in fields {
            want.insert((*k).to_owned(), Value::from(*v));
        }
        assert_eq!(private_doc(privacy), want, "{privacy:?}");
    }
    // Query strings: the query field, and the query and parameters of every URL-valued field.
    let mut want = base.clone();
    for (k, v) in [
        ("cs-uri-query", "token=QUERYSECRET"),
        ("cs-uri-stem", "/app;jsessionid=SESSIONSECRET/page.html"),
        (
            "cs-referer",
            "https://ref.example/p;jsessionid=REFSESSION?ref=REFQUERY",
        ),
        ("cmcd-next-object-request", "/seg/2.m4s?token=NORSECRET"),
    ] {
        want.insert(k.to_owned(), Value::from(v));
    }
    let keep = Privacy {
        query_strings: true,
        ..Privacy::default()
    };
    assert_eq!(private_doc(keep), want);
}

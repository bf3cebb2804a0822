//! `cflogs export` end to end: a real query engine (DuckDB, from the dev venv) reads the NDJSON
//! and its SQL totals per distribution and minute equal `cflogs process` datums for the same
//! files; the `_bulk` output is checked line by line (no OpenSearch server runs here); nothing
//! private leaves.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const FIELDS: &str = "timestamp,time-to-first-byte,sc-status,sc-bytes,cs-method,cs-protocol,cs-host,cs-bytes,x-edge-location,x-host-header,time-taken,cs-protocol-version,x-edge-result-type,sc-content-type,x-edge-detailed-result-type,c-country,cache-behavior-path-pattern,primary-distribution-id,origin-fbl,origin-lbl";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cflogs(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_cflogs"))
        .args(args)
        .env_remove("REALTIME_FIELDS")
        .env_remove("DISTRIBUTION_ID")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cflogs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every format the project reads: legacy and v2 W3C, v2 JSON, real-time lines.
const INPUTS: [&str; 2] = ["events/logs", "tests/fixtures/realtime/sample.tsv"];
const SETTINGS: [&str; 4] = [
    "--realtime-fields",
    FIELDS,
    "--distribution-hosts",
    "d333example.cloudfront.net=E6EXAMPLE7890",
];

#[test]
fn duckdb_totals_equal_the_datums() {
    let py = support::venv_python();
    let has_duckdb = Command::new(&py)
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_duckdb {
        let msg = format!(
            "duckdb missing in {}: run scripts/dev-venv.sh",
            py.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("SKIPPING: {msg}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.ndjson.gz");
    let mut args = vec!["export", "--out", export.to_str().unwrap()];
    args.extend(SETTINGS);
    args.extend(INPUTS);
    let out = cflogs(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("documents: 192, rejected lines: 0"), "{err}");
    let mut args = vec!["process", "--dry-run", "--output", "jsonl"];
    args.extend(SETTINGS);
    args.extend(INPUTS);
    let datums = dir.path().join("datums.jsonl");
    std::fs::write(&datums, cflogs(&args).stdout).unwrap();
    // DuckDB reads gzip'd NDJSON itself.
    let check = Command::new(&py)
        .arg(root().join("tests/support/duckdb_check.py"))
        .arg(&export)
        .arg(&datums)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let v: Value = serde_json::from_str(&report).unwrap();
    // 4 distributions over the samples' minutes, 11 figures each compared.
    assert!(v["rows"].as_u64().unwrap() >= 10, "{report}");
    assert_eq!(v["problems"], serde_json::json!([]));
}

#[test]
fn bulk_output_is_action_document_pairs_with_stable_ids() {
    let run = || {
        let mut args = vec![
            "export",
            "--format",
            "opensearch-bulk",
            "--index",
            "cf-logs",
        ];
        args.extend(SETTINGS);
        args.extend(INPUTS);
        String::from_utf8(cflogs(&args).stdout).unwrap()
    };
    let text = run();
    assert_eq!(text, run(), "a re-run writes the same _ids");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * 192);
    let mut ids = std::collections::HashSet::new();
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).unwrap();
        let index = action["index"].as_object().unwrap();
        assert_eq!(index.len(), 2, "{action}");
        assert_eq!(index["_index"], "cf-logs");
        let id = index["_id"].as_str().unwrap();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(ids.insert(id.to_owned()), "duplicate _id {id}");
        let doc: Value = serde_json::from_str(pair[1]).unwrap();
        assert!(
            doc["@timestamp"].is_string() && doc.get("index").is_none(),
            "{doc}"
        );
    }
}

#[test]
fn no_private_value_leaves_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("E2EXAMPLE1234.2026-11-20-12.priv.log");
    std::fs::write(
        &log,
        "#Version: 1.0\n#Fields: date time c-ip sc-bytes cs-uri-stem cs-uri-query cs(Cookie) x-edge-request-id x-forwarded-for sc-status\n\
         2026-11-20\t12:00:00\t198.51.100.77\t10\t/p\tq=SECRETQ\tsid=SECRETC\tREQIDSECRET==\t203.0.113.88\t200\n",
    )
    .unwrap();
    let p = log.to_str().unwrap();
    for format in ["ndjson", "opensearch-bulk"] {
        let out = String::from_utf8(cflogs(&["export", "--format", format, p]).stdout).unwrap();
        for private in [
            "198.51.100.77",
            "SECRETQ",
            "SECRETC",
            "REQIDSECRET",
            "203.0.113.88",
        ] {
            assert!(!out.contains(private), "{format}: {private} in {out}");
        }
        assert!(out.contains("\"c-ip\":\"198.51.100.0\""), "{out}");
    }
    let out = cflogs(&[
        "export",
        "--export-client-ip",
        "keep",
        "--export-cookies",
        "on",
        "--export-query-strings",
        "on",
        "--export-request-ids",
        "on",
        p,
    ]);
    let out = String::from_utf8(out.stdout).unwrap();
    for kept in ["198.51.100.77", "SECRETQ", "SECRETC", "REQIDSECRET"] {
        assert!(out.contains(kept), "{kept} not in {out}");
    }
}

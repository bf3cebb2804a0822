//! Issue 25: every subcommand reads its inputs the same way. The same records as W3C text, as v2
//! JSON and as Parquet give the same datums (`process`), the same report (`report`) and the same
//! documents (`export`); random bytes, a JSON file that is no log and a PNG are refused by each with
//! "FILE: not a CloudFront log (...)" and a non-zero exit.

#[path = "support/parquet_writer.rs"]
mod parquet_writer;

use parquet::basic::Compression;
use parquet_writer::{ColumnType, Options, write};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const NOW: &str = "2023-11-15T00:00:00Z";

const FIELDS: [&str; 13] = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(User-Agent)",
    "x-edge-result-type",
    "time-taken",
    "cs-bytes",
];

fn rows(n: usize) -> Vec<Vec<Option<String>>> {
    (0..n)
        .map(|i| {
            let v = [
                "2023-11-14".to_owned(),
                format!("22:{:02}:{:02}", i % 60, i % 53),
                format!("IAD{}-C1", i % 3),
                (i * 37 % 5000).to_string(),
                format!("192.0.2.{}", i % 250),
                ["GET", "HEAD"][i % 2].to_owned(),
                "d111111abcdef8.cloudfront.net".to_owned(),
                format!("/p/{}.html", i % 17),
                ["200", "304", "404", "503"][i % 4].to_owned(),
                "Mozilla/5.0%20(X11)".to_owned(),
                ["Hit", "Miss", "Error", "RefreshHit"][i % 4].to_owned(),
                format!("0.{:03}", i % 997),
                (i % 900).to_string(),
            ];
            v.into_iter().map(Some).collect()
        })
        .collect()
}

fn w3c(rows: &[Vec<Option<String>>]) -> Vec<u8> {
    let mut s = format!("#Version: 1.0\n#Fields: {}\n", FIELDS.join(" "));
    for r in rows {
        let line: Vec<&str> = r.iter().map(|v| v.as_deref().unwrap_or("-")).collect();
        s.push_str(&line.join("\t"));
        s.push('\n');
    }
    s.into_bytes()
}

fn json(rows: &[Vec<Option<String>>]) -> Vec<u8> {
    let mut s = String::new();
    for r in rows {
        let object: serde_json::Map<String, Value> = FIELDS
            .iter()
            .zip(r)
            .filter_map(|(k, v)| Some(((*k).to_owned(), Value::from(v.clone()?))))
            .collect();
        s.push_str(&Value::Object(object).to_string());
        s.push('\n');
    }
    s.into_bytes()
}

fn cflogs(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cflogs"));
    for v in cloudfront_log_metrics::settings::env::LAMBDA {
        cmd.env_remove(v);
    }
    cmd.env_remove("MAX_PARQUET_PAGE_BYTES");
    cmd.args(args).output().expect("run cflogs")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "cflogs failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8 output")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// The same records as a v2 W3C text file, a v2 JSON file and a Parquet file.
fn same_records(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let rows = rows(600);
    let text = dir.join("E2Q4ABCDEFGH.2023-11-14-22.text.log");
    std::fs::write(&text, w3c(&rows)).unwrap();
    let json_file = dir.join("E2Q4ABCDEFGH.2023-11-14-22.lines.json");
    std::fs::write(&json_file, json(&rows)).unwrap();
    let parquet = dir.join("E2Q4ABCDEFGH.2023-11-14-22.columns.parquet");
    let options = Options {
        compression: Compression::SNAPPY,
        row_group_rows: 250,
        page_rows: 100,
    };
    let types = vec![ColumnType::Utf8; FIELDS.len()];
    std::fs::write(&parquet, write(&FIELDS, &types, &rows, options)).unwrap();
    (text, json_file, parquet)
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn process_report_and_export_read_json_and_parquet_as_they_read_text() {
    let dir = tempfile::tempdir().unwrap();
    let (text, json_file, parquet) = same_records(dir.path());
    let process = |f: &Path| {
        sorted_lines(&ok(cflogs(&[
            "process",
            "--dry-run",
            "--output",
            "jsonl",
            "--now",
            NOW,
            p(f),
        ])))
    };
    let datums = process(&text);
    assert!(!datums.is_empty());
    assert_eq!(process(&json_file), datums);
    assert_eq!(process(&parquet), datums);

    let report = |f: &Path| -> Value {
        serde_json::from_str(&ok(cflogs(&["report", "--format", "json", p(f)]))).unwrap()
    };
    let r = report(&text);
    assert_eq!(r["records"], 600);
    assert_eq!(report(&json_file), r);
    assert_eq!(report(&parquet), r);

    let export = |f: &Path| -> Vec<Value> {
        let out = ok(cflogs(&["export", p(f)]));
        let mut docs: Vec<Value> = out
            .lines()
            .map(|l| {
                let mut d: Value = serde_json::from_str(l).unwrap();
                d.as_object_mut().unwrap().remove("source");
                d
            })
            .collect();
        docs.sort_by_key(|d| d.to_string());
        docs
    };
    let docs = export(&text);
    assert_eq!(docs.len(), 600);
    assert_eq!(export(&json_file), docs);
    assert_eq!(export(&parquet), docs);
}

#[test]
fn garbage_is_refused_by_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let mut random = Vec::with_capacity(4096);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.push((x >> 24) as u8);
    }
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";
    let files: [(&str, &[u8], &str); 3] = [
        ("random.bin", &random, "binary content"),
        (
            "data.json",
            b"{\"hello\": \"world\", \"n\": 1}\n{\"hello\": \"again\"}\n",
            "a JSON object without any CloudFront log field",
        ),
        ("image.png", png, "binary content (byte 0x1a at offset 6)"),
    ];
    for (name, bytes, why) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for command in [
            &["process", "--dry-run", "--now", NOW][..],
            &["report"][..],
            &["export"][..],
        ] {
            let mut args = command.to_vec();
            args.push(p(&path));
            let out = cflogs(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{command:?} {name}: {stderr}");
            let want = format!("{}: not a CloudFront log ({why}", p(&path));
            assert!(stderr.contains(&want), "{command:?} {name}: {stderr}");
        }
    }
}

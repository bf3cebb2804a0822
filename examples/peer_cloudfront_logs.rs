//! Peer baseline for the end-to-end benchmark: the same job as `cflogs process`, written
//! the straightforward way a user of the [`cloudfront-logs`](https://crates.io/crates/cloudfront-logs)
//! crate would write it.
//!
//! ```text
//! cargo run --release --example peer_cloudfront_logs -- FILE.gz
//! ```
//!
//! * gzip in: `flate2::read::MultiGzDecoder` (same flate2 backend as our crate) in a `BufReader`;
//! * one reused `String` per line (`read_line`), `#` lines skipped;
//! * each line parsed with the crate's validated, borrowed, raw-`&str` parser
//!   `cloudfront_logs::ValidatedRawLogline` (`borrowed::raw::ValidatedLogline`), i.e. its
//!   fastest validated parser: it checks the field count and slices the 33 fields;
//! * aggregated per minute (`date` + `HH:MM`) in a `HashMap`: requests, sum of `sc-bytes`,
//!   sum and count of `time-taken`, count per `x-edge-result-type`, count per status class.
//!
//! Prints a short summary to stdout, ending with a `totals:` JSON line whose keys match the
//! JSON that `gen_logs` prints (records, sc_bytes, time_taken_ms, minutes, result_types,
//! status_classes), so the two can be compared.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::process::ExitCode;

use cloudfront_logs::ValidatedRawLogline;
use flate2::read::MultiGzDecoder;

/// Key: `YYYY-MM-DD HH:MM`.
type MinuteKey = [u8; 16];

#[derive(Default)]
struct Minute {
    requests: u64,
    sc_bytes: u64,
    time_taken_sum: f64,
    time_taken_count: u64,
    result_types: HashMap<String, u64>,
    /// `0xx` .. `5xx`
    status_classes: [u64; 6],
}

#[derive(Default)]
struct Report {
    lines: u64,
    comments: u64,
    invalid: u64,
    minutes: HashMap<MinuteKey, Minute>,
}

fn minute_key(date: &str, time: &str) -> Option<MinuteKey> {
    let (date, time) = (date.as_bytes(), time.as_bytes());
    if date.len() != 10 || time.len() < 5 {
        return None;
    }
    let mut key = [b' '; 16];
    key[..10].copy_from_slice(date);
    key[11..].copy_from_slice(&time[..5]);
    Some(key)
}

fn process(path: &str) -> io::Result<Report> {
    let file = File::open(path)?;
    let mut reader = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(file));
    let mut report = Report::default();
    let mut line = String::with_capacity(1024);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        report.lines += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.starts_with('#') {
            report.comments += 1;
            continue;
        }
        let Ok(record) = ValidatedRawLogline::try_from(text) else {
            report.invalid += 1;
            continue;
        };
        let Some(key) = minute_key(record.date, record.time) else {
            report.invalid += 1;
            continue;
        };
        let minute = report.minutes.entry(key).or_default();
        minute.requests += 1;
        if let Ok(bytes) = record.sc_bytes.parse::<u64>() {
            minute.sc_bytes += bytes;
        }
        if let Ok(seconds) = record.time_taken.parse::<f64>() {
            minute.time_taken_sum += seconds;
            minute.time_taken_count += 1;
        }
        match minute.result_types.get_mut(record.x_edge_result_type) {
            Some(count) => *count += 1,
            None => {
                minute
                    .result_types
                    .insert(record.x_edge_result_type.to_string(), 1);
            }
        }
        if let Some(class) = record.sc_status.bytes().next() {
            let class = usize::from(class.wrapping_sub(b'0'));
            if class < minute.status_classes.len() {
                minute.status_classes[class] += 1;
            }
        }
    }
    Ok(report)
}

fn json_map(m: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", items.join(","))
}

fn summarize(report: &Report) {
    let mut requests = 0u64;
    let mut sc_bytes = 0u64;
    let mut tt_sum = 0f64;
    let mut tt_count = 0u64;
    let mut result_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut status_classes: BTreeMap<String, u64> = BTreeMap::new();
    let mut busiest: Option<(&MinuteKey, u64)> = None;
    for (key, m) in &report.minutes {
        requests += m.requests;
        sc_bytes += m.sc_bytes;
        tt_sum += m.time_taken_sum;
        tt_count += m.time_taken_count;
        for (rt, n) in &m.result_types {
            *result_types.entry(rt.clone()).or_default() += n;
        }
        for (class, &n) in m.status_classes.iter().enumerate() {
            if n > 0 {
                *status_classes.entry(format!("{class}xx")).or_default() += n;
            }
        }
        if busiest.is_none_or(|(k, n)| m.requests > n || (m.requests == n && key < k)) {
            busiest = Some((key, m.requests));
        }
    }
    let mut keys: Vec<&MinuteKey> = report.minutes.keys().collect();
    keys.sort();
    let show = |k: Option<&&MinuteKey>| {
        k.map_or_else(
            || "-".to_string(),
            |k| String::from_utf8_lossy(&k[..]).into_owned(),
        )
    };

    println!(
        "lines: {} (comments: {}, invalid: {})",
        report.lines, report.comments, report.invalid
    );
    println!("records: {requests}");
    println!(
        "minutes: {} ({} .. {})",
        keys.len(),
        show(keys.first()),
        show(keys.last())
    );
    if let Some((k, n)) = busiest {
        println!(
            "busiest minute: {} ({n} requests)",
            String::from_utf8_lossy(&k[..])
        );
    }
    println!("sc-bytes: {sc_bytes}");
    println!(
        "time-taken: sum {tt_sum:.3} s, count {tt_count}, mean {:.4} s",
        if tt_count > 0 {
            tt_sum / tt_count as f64
        } else {
            0.0
        }
    );
    for (rt, n) in &result_types {
        println!("x-edge-result-type {rt}: {n}");
    }
    println!(
        "totals: {{\"records\":{requests},\"sc_bytes\":{sc_bytes},\"time_taken_ms\":{},\
         \"minutes\":{},\"result_types\":{},\"status_classes\":{}}}",
        (tt_sum * 1000.0).round() as u64,
        keys.len(),
        json_map(&result_types),
        json_map(&status_classes),
    );
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: peer_cloudfront_logs FILE.gz");
        return ExitCode::from(2);
    };
    match process(&path) {
        Ok(report) => {
            summarize(&report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peer_cloudfront_logs: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

//! The per-record work alone, for instruction counting under callgrind (`scripts/instructions.sh`):
//! parse + aggregate + datums with this crate, or the `cloudfront-logs` crate's validated line
//! parser alone (the criterion bench's peer), over one plain-text log held in memory.
//!
//! ```text
//! cargo run --profile bench --example per_record -- FILE.log ITERATIONS [cflm|peer]
//! ```
//!
//! Instruction counts do not depend on what else the machine runs, unlike times on a shared VM;
//! the script subtracts a 1-iteration run from a 5-iteration run so that reading the file and
//! starting up cancel out.

use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::datum::datums;
use cloudfront_log_metrics::pipeline::FileProcessor;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(Ok(iterations))) =
        (args.first(), args.get(1).map(|n| n.parse::<usize>()))
    else {
        eprintln!("usage: per_record FILE.log ITERATIONS [cflm|peer]");
        return ExitCode::from(2);
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let peer = args.get(2).is_some_and(|m| m == "peer");
    // The peer parses &str lines: validate UTF-8 once, outside the loop, as the criterion bench does.
    let text = String::from_utf8_lossy(&data);
    let config = MetricsConfig::default();
    let now = 1_715_698_800_000; // 2024-05-14T15:00:00Z: gen_logs' records are all publishable
    let mut out = 0usize;
    for _ in 0..iterations {
        if peer {
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                if let Ok(rec) = cloudfront_logs::ValidatedRawLogline::try_from(line) {
                    out += rec.sc_bytes.len();
                }
            }
        } else {
            let mut p = FileProcessor::new(&config, "EBENCHMARK123", now);
            if let Err(e) = p.feed(&data) {
                eprintln!("{path}: {e}");
                return ExitCode::FAILURE;
            }
            match p.finish() {
                Ok((_, _, agg)) => out += datums(&agg, &config).len(),
                Err(e) => {
                    eprintln!("{path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    println!("{out}");
    ExitCode::SUCCESS
}

//! Rewrites a W3C CloudFront log (gzip or plain, with a `#Fields` header) as the Parquet file
//! standard logging v2 would deliver for the same records: one string column per field, named as
//! AWS's Athena table for the Parquet output names them, Snappy, row groups of `--rows` rows.
//! For the benchmark (scripts/bench.sh): the same records in both formats.
//!
//! ```text
//! cargo run --release --example w3c_to_parquet -- IN.log.gz OUT.parquet [--rows 100000]
//! ```

#[path = "../tests/support/parquet_writer.rs"]
mod parquet_writer;

use parquet_writer::{ColumnType, Options, Writer, athena_name};
use std::io::{BufRead, BufReader, Read};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(output)) = (args.first(), args.get(1)) else {
        eprintln!("usage: w3c_to_parquet IN.log[.gz] OUT.parquet [--rows N]");
        return ExitCode::from(2);
    };
    let rows = match args.iter().position(|a| a == "--rows") {
        Some(i) => match args.get(i + 1).and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                eprintln!("--rows needs a number");
                return ExitCode::from(2);
            }
        },
        None => 100_000,
    };
    match convert(input, output, rows) {
        Ok(n) => {
            eprintln!("{n} records written to {output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("w3c_to_parquet: {e}");
            ExitCode::FAILURE
        }
    }
}

fn convert(input: &str, output: &str, group_rows: usize) -> std::io::Result<u64> {
    let file = std::fs::File::open(input)?;
    let reader: Box<dyn Read> = if input.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let options = Options {
        row_group_rows: group_rows,
        ..Options::default()
    };
    let mut writer: Option<Writer<std::io::BufWriter<std::fs::File>>> = None;
    let mut group: Vec<Vec<Option<String>>> = Vec::with_capacity(group_rows);
    let mut n = 0u64;
    for line in BufReader::new(reader).lines() {
        let line = line?;
        if let Some(fields) = line.strip_prefix("#Fields:") {
            if writer.is_none() {
                let names: Vec<String> = fields.split_whitespace().map(athena_name).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let out = std::io::BufWriter::new(std::fs::File::create(output)?);
                let types = vec![ColumnType::Utf8; names.len()];
                writer = Some(Writer::new(out, &names, &types, options));
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some(w) = writer.as_mut() else {
            return Err(std::io::Error::other("a record before any #Fields header"));
        };
        group.push(line.split('\t').map(|v| Some(v.to_owned())).collect());
        n += 1;
        if group.len() == group_rows {
            w.row_group(&group);
            group.clear();
        }
    }
    let Some(mut w) = writer else {
        return Err(std::io::Error::other("no #Fields header"));
    };
    if !group.is_empty() {
        w.row_group(&group);
    }
    std::io::Write::flush(&mut w.finish())?;
    Ok(n)
}

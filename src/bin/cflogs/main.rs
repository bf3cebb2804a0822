//! `cflogs`: the pipeline on local files (and, for backfills, S3 prefixes) from the command line.
//! This file wires the subcommands (one module each) and maps their results to exit codes.

mod args;
mod backfill_job;
mod export;
mod process;
mod report;

use anyhow::{Context, Result};
use args::{Cli, Command};
use clap::Parser;
use cloudfront_log_metrics::aws;
use cloudfront_log_metrics::backfill::{self, HourWindow, Input};
use cloudfront_log_metrics::config;
use cloudfront_log_metrics::settings::{Settings, env};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// The inputs the paths name (files and directories walked, S3 prefixes listed) within the
/// `--since`/`--until` hours, with the SDK configuration (loaded when a path names an S3 prefix or
/// `need_sdk`) and the S3 client (when a path names an S3 prefix).
pub(crate) async fn inputs(
    paths: &[String],
    since: Option<i64>,
    until: Option<i64>,
    settings: &Settings,
    need_sdk: bool,
) -> Result<(
    Option<aws_config::SdkConfig>,
    Option<aws_sdk_s3::Client>,
    Vec<Input>,
)> {
    let s3_paths = paths.iter().any(|p| p.starts_with("s3://"));
    let sdk = if s3_paths || need_sdk {
        Some(aws::sdk_config().await)
    } else {
        None
    };
    let s3 = sdk.as_ref().filter(|_| s3_paths).map(aws::s3_client);
    let hours = HourWindow { since, until };
    let marker_prefix = &settings.marker_prefix;
    let inputs = backfill::collect_inputs(s3.as_ref(), paths, marker_prefix, hours).await?;
    Ok((sdk, s3, inputs))
}

/// The wall clock in epoch milliseconds.
pub(crate) fn wall_clock_ms() -> Result<i64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_millis() as i64)
}

/// A progress bar over `files` files, on a terminal only.
pub(crate) fn progress_bar(files: usize) -> Option<indicatif::ProgressBar> {
    (files > 1 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(files as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

/// The public contract as JSON, for the template and dashboard checks.
fn catalogue() -> Result<bool> {
    use cloudfront_log_metrics::catalogue::Metric;
    use cloudfront_log_metrics::config::DimensionKey;
    let metrics: Vec<_> = Metric::ALL
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name(),
                "unit": m.unit().as_str(),
                "kind": if m.kind() == cloudfront_log_metrics::catalogue::Kind::Sum { "sum" } else { "distribution" },
                "from": m.source(),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "namespace": config::DEFAULT_NAMESPACE,
        "metrics": metrics,
        "dimension_keys": DimensionKey::ALL.map(|k| k.name()),
        "lambda_env": env::LAMBDA,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(true)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Process(a) => process::process(a).await,
        Command::Report(a) => report::report(a).await,
        Command::Catalogue => catalogue(),
        Command::Export(a) => export::export(a).await,
        Command::Backfill(a) => backfill_job::backfill_job(a).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

//! `cflogs`: the pipeline on local files (and, for backfills, S3 prefixes) from the command line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use cloudfront_log_metrics::aws;
use cloudfront_log_metrics::backfill::{self, HourWindow};
use cloudfront_log_metrics::config::{self, MetricsConfig, Settings, env};
use cloudfront_log_metrics::pipeline::DEFAULT_MAX_DECOMPRESSED_BYTES;
use cloudfront_log_metrics::report::RunSummary;
use cloudfront_log_metrics::sink::jsonl;
use futures::StreamExt;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(
    name = "cflogs",
    version,
    about = "CloudFront access logs to CloudWatch metrics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
enum Command {
    /// Parse and aggregate log files (files or directories, recursively) into metric datums.
    Process(ProcessArgs),
    /// Print the metric catalogue, dimension keys and environment variables as JSON.
    Catalogue,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// One JSON object per datum on stdout, exactly as it would be sent.
    Jsonl,
    /// A readable summary per distribution.
    Table,
    /// Nothing on stdout.
    None,
}

#[derive(clap::Args)]
struct ProcessArgs {
    /// Log files or directories (walked recursively), or S3 prefixes (s3://bucket/prefix/).
    #[arg(required = true)]
    paths: Vec<String>,
    /// Compute the datums but publish nothing (without it, datums are sent with PutMetricData).
    #[arg(long)]
    dry_run: bool,
    /// What to print on stdout [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    output: Option<Output>,
    /// CloudWatch namespace.
    #[arg(long, env = env::NAMESPACE, default_value = config::DEFAULT_NAMESPACE)]
    namespace: String,
    /// Dimension sets, e.g. "DistributionId;DistributionId,EdgeLocation".
    #[arg(long, env = env::DIMENSIONS, default_value = config::DEFAULT_DIMENSIONS)]
    dimensions: String,
    /// Comma-separated metric names to publish (default: all).
    #[arg(long, env = env::INCLUDE, default_value = "all")]
    include: String,
    /// Values kept per dimension key per file; the rest are folded into "Other".
    #[arg(long, env = env::MAX_DIMENSION_VALUES, default_value_t = config::DEFAULT_MAX_DIMENSION_VALUES)]
    max_dimension_values: usize,
    /// Distribution ID for files whose name or path carries none.
    #[arg(long, env = env::DISTRIBUTION_ID)]
    distribution_id: Option<String>,
    /// Only files whose name or path says they cover this UTC hour or later (YYYY-MM-DDTHH).
    #[arg(long, value_parser = parse_hour)]
    since: Option<i64>,
    /// Only files whose name or path says they cover this UTC hour or earlier (YYYY-MM-DDTHH).
    #[arg(long, value_parser = parse_hour)]
    until: Option<i64>,
    /// Evaluate CloudWatch's two-week window as of this time (RFC 3339) instead of now: for
    /// replaying old sample logs in dry runs.
    #[arg(long, value_parser = parse_time)]
    now: Option<i64>,
    /// Stop a file after this many decompressed bytes.
    #[arg(long, env = env::MAX_DECOMPRESSED_BYTES, default_value_t = DEFAULT_MAX_DECOMPRESSED_BYTES)]
    max_decompressed_bytes: u64,
    /// Files processed concurrently.
    #[arg(long, env = env::FILE_CONCURRENCY, default_value_t = config::DEFAULT_FILE_CONCURRENCY)]
    file_concurrency: usize,
    /// PutMetricData requests in flight per file.
    #[arg(long, env = env::PUT_CONCURRENCY, default_value_t = config::DEFAULT_PUT_CONCURRENCY)]
    put_concurrency: usize,
    /// Key prefix of the function's marker objects, never read as logs.
    #[arg(long, env = env::MARKER_PREFIX, default_value = config::DEFAULT_MARKER_PREFIX)]
    marker_prefix: String,
    /// Publishing S3 objects: exactly once per object version, with the function's marker objects
    /// (on), or every time (off). Local files are always published every time.
    #[arg(long, env = env::IDEMPOTENCY, default_value = "on", value_parser = ["on", "off"])]
    idempotency: String,
    /// Bucket of the marker objects [default: the log's bucket].
    #[arg(long, env = env::MARKER_BUCKET)]
    marker_bucket: Option<String>,
}

/// Parses `YYYY-MM-DDTHH` (or a longer RFC 3339 time) into epoch hours.
fn parse_hour(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let days = cloudfront_log_metrics::parse::value::date_field(b.get(..10).unwrap_or(b))
        .map_err(|_| format!("{s:?}: expected YYYY-MM-DDTHH"))?;
    let hour: i64 = s
        .get(11..13)
        .and_then(|h| h.parse().ok())
        .filter(|h| (0..24).contains(h))
        .ok_or_else(|| format!("{s:?}: expected YYYY-MM-DDTHH"))?;
    Ok(days * 24 + hour)
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` into epoch milliseconds.
fn parse_time(s: &str) -> Result<i64, String> {
    use cloudfront_log_metrics::parse::value::{date_field, time_field};
    let b = s.as_bytes();
    let err = || format!("{s:?}: expected YYYY-MM-DDTHH:MM:SSZ");
    if b.len() != 20 || b[10] != b'T' || b[19] != b'Z' {
        return Err(err());
    }
    let days = date_field(&b[..10]).map_err(|_| err())?;
    let secs = time_field(&b[11..19]).map_err(|_| err())?;
    Ok((days * 86_400 + secs) * 1000)
}

fn metrics_config(a: &ProcessArgs) -> Result<MetricsConfig> {
    let flag = |name: &'static str| name;
    Ok(MetricsConfig {
        namespace: config::parse_namespace(flag("--namespace"), &a.namespace)?,
        dimension_sets: config::parse_dimension_sets(flag("--dimensions"), &a.dimensions)?,
        include: config::parse_include(flag("--include"), &a.include)?,
        max_dimension_values: config::parse_max_values(
            flag("--max-dimension-values"),
            &a.max_dimension_values.to_string(),
        )?,
        distribution_id: a
            .distribution_id
            .as_deref()
            .map(|d| config::parse_distribution_id(flag("--distribution-id"), d))
            .transpose()?,
    })
}

async fn process(a: ProcessArgs) -> Result<bool> {
    let settings = Settings {
        metrics: metrics_config(&a)?,
        max_decompressed_bytes: a.max_decompressed_bytes,
        file_concurrency: a.file_concurrency.max(1),
        put_concurrency: a.put_concurrency.max(1),
        marker_prefix: a.marker_prefix.clone(),
        idempotency: a.idempotency == "on",
        marker_bucket: a.marker_bucket.clone().filter(|b| !b.trim().is_empty()),
        ..Settings::default()
    };
    let now_ms = match a.now {
        Some(t) => t,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("system clock before 1970")?
            .as_millis() as i64,
    };
    let output = a.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Table
    } else {
        Output::Jsonl
    });
    let needs_aws = !a.dry_run || a.paths.iter().any(|p| p.starts_with("s3://"));
    let sdk = if needs_aws {
        Some(aws::sdk_config().await)
    } else {
        None
    };
    let s3 = sdk.as_ref().map(aws::s3_client);
    let cloudwatch = sdk
        .as_ref()
        .filter(|_| !a.dry_run)
        .map(aws::cloudwatch_client);

    let hours = HourWindow {
        since: a.since,
        until: a.until,
    };
    let inputs =
        backfill::collect_inputs(s3.as_ref(), &a.paths, &settings.marker_prefix, hours).await?;

    let progress = (inputs.len() > 1 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(inputs.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let mut summary = RunSummary::default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut results = std::pin::pin!(backfill::process_inputs(
        s3.as_ref(),
        cloudwatch.as_ref(),
        &settings,
        inputs,
        now_ms,
    ));
    while let Some(result) = results.next().await {
        match result {
            Ok(outcome) => {
                if let Some(notice) = outcome.notice() {
                    eprintln!("{notice}");
                }
                for refused in &outcome.rejected_batches {
                    eprintln!("error: {refused}");
                }
                let f = &outcome.file;
                for r in &f.report.parse.reject_samples {
                    eprintln!("{}: line {}: rejected: {}", f.report.file, r.line, r.reason);
                }
                if f.report.parse.rejected > f.report.parse.reject_samples.len() as u64 {
                    eprintln!(
                        "{}: {} lines rejected in all",
                        f.report.file, f.report.parse.rejected
                    );
                }
                if output == Output::Jsonl {
                    let datums: Vec<_> = f.datums().cloned().collect();
                    jsonl::write(&mut out, &settings.metrics.namespace, &datums)?;
                }
                summary.add(f);
                if outcome.duplicate {
                    summary.add_duplicate(f);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                summary.add_failure();
            }
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if output == Output::Table {
        out.write_all(summary.table().as_bytes())?;
    }
    out.flush()?;
    eprintln!("{}", summary.closing(started.elapsed(), a.dry_run));
    Ok(summary.failed_files == 0)
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
        Command::Process(a) => process(a).await,
        Command::Catalogue => catalogue(),
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

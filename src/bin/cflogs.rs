//! `cflogs`: the pipeline on local files (and, for backfills, S3 prefixes) from the command line.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use cloudfront_log_metrics::aws;
use cloudfront_log_metrics::backfill::{self, HourWindow, Input};
use cloudfront_log_metrics::config;
use cloudfront_log_metrics::report::RunSummary;
use cloudfront_log_metrics::settings::{self, Settings, env};
use cloudfront_log_metrics::sink::emf::EmfSink;
use cloudfront_log_metrics::sink::{MetricSink, SinkKind, jsonl};
use cloudfront_log_metrics::traffic::{self, Traffic, TrafficOptions};
use cloudfront_log_metrics::traffic_run;
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
    /// A traffic report (totals, hours, top URIs, referrers, user agents, countries ...) of log
    /// files, directories or S3 prefixes, as text, JSON or one self-contained HTML page.
    Report(ReportArgs),
    /// Print the metric catalogue, dimension keys and environment variables as JSON.
    Catalogue,
    /// Export log records as typed, privacy-safe JSON documents (NDJSON or OpenSearch _bulk).
    Export(ExportArgs),
    /// Backfill an S3 prefix with an S3 Batch Operations job that invokes the deployed function
    /// once per log file (exactly once per object version, like its notifications), or show a
    /// job's progress and totals (--status).
    Backfill(BackfillArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// One JSON document per line.
    Ndjson,
    /// OpenSearch / Elasticsearch `_bulk` action and document lines, with a deterministic `_id`.
    OpensearchBulk,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Log files or directories (walked recursively), or S3 prefixes (s3://bucket/prefix/).
    #[arg(required = true)]
    paths: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "ndjson")]
    format: ExportFormat,
    /// Output file (gzip when it ends in .gz); `-` or none: stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
    /// Index named in `_bulk` action lines.
    #[arg(long, value_name = "NAME", default_value = "cloudfront-logs")]
    index: String,
    /// Only files whose name or path says they cover this UTC hour or later.
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    since: Option<i64>,
    /// Only files whose name or path says they cover this UTC hour or earlier.
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    until: Option<i64>,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// Aligned tables within 100 columns.
    Text,
    /// One JSON document (schema cflogs-report/1, see README).
    Json,
    /// One self-contained HTML page (inline CSS and SVG, no network request).
    Html,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// Log files or directories (walked recursively), or S3 prefixes (s3://bucket/prefix/).
    #[arg(required = true)]
    paths: Vec<String>,
    /// Only records from this UTC hour on, and files whose name or path says they cover it or
    /// later (YYYY-MM-DDTHH, or an RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    since: Option<i64>,
    /// Only records up to the end of this UTC hour, and files whose name or path says they cover
    /// it or earlier (YYYY-MM-DDTHH, or an RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    until: Option<i64>,
    /// Entries per top list.
    #[arg(long, value_name = "N", default_value_t = traffic::DEFAULT_TOP as u64,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    top: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
    /// Keep query strings on URIs (off by default: they may carry tokens and personal data).
    #[arg(long)]
    keep_query: bool,
    /// Counters per top-N sketch: lists are exact while a distribution has at most this many
    /// distinct values of them; memory grows with it.
    #[arg(long, value_name = "N", default_value_t = traffic::DEFAULT_CAPACITY as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    sketch_capacity: u64,
    #[command(flatten)]
    settings: SettingsArgs,
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
    /// Compute the datums but publish nothing, keeping the records outside CloudWatch's two-week
    /// window (without it, datums are published and those records skipped).
    #[arg(long)]
    dry_run: bool,
    /// What to print on stdout [default: table on a terminal, jsonl otherwise; none when
    /// publishing EMF, whose lines go to stdout].
    #[arg(long, value_enum)]
    output: Option<Output>,
    /// Only files whose name or path says they cover this UTC hour or later (YYYY-MM-DDTHH, or an
    /// RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    since: Option<i64>,
    /// Only files whose name or path says they cover this UTC hour or earlier (YYYY-MM-DDTHH, or
    /// an RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    until: Option<i64>,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(clap::Args)]
struct BackfillArgs {
    /// The S3 prefix to backfill (s3://bucket/prefix/).
    #[arg(required_unless_present = "status", conflicts_with = "status")]
    url: Option<String>,
    /// Show the progress of job JOB and, once it finished, its completion report's totals.
    #[arg(long, value_name = "JOB")]
    status: Option<String>,
    /// Only files whose name or path says they cover this UTC hour or later (as `process`).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    since: Option<i64>,
    /// Only files whose name or path says they cover this UTC hour or earlier (as `process`).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    until: Option<i64>,
    /// Print the manifest's size and the expected cost and duration; write and create nothing.
    #[arg(long)]
    dry_run: bool,
    /// Start a job of more than 10,000 objects.
    #[arg(long)]
    confirm: bool,
    /// Read the function, the role, the bucket and the prefixes from this stack's outputs
    /// (flags given as well win).
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,
    /// The function the job invokes (stack output FunctionArn).
    #[arg(long, env = "CFLOGS_FUNCTION_ARN", value_name = "ARN")]
    function_arn: Option<String>,
    /// The role the job assumes (stack output BatchOperationsRoleArn).
    #[arg(long, env = "CFLOGS_BATCH_ROLE_ARN", value_name = "ARN")]
    role_arn: Option<String>,
    /// The account of the job for --status [default: the account of --role-arn or --function-arn]
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// Bucket of the manifest [default: the logs' bucket]
    #[arg(long, value_name = "BUCKET")]
    manifest_bucket: Option<String>,
    /// Key prefix of the manifest (stack output BatchManifestPrefix) [default:
    /// _cflm/batch/manifests/]
    #[arg(long, value_name = "PREFIX")]
    manifest_prefix: Option<String>,
    /// Bucket of the completion report [default: the manifest's bucket]
    #[arg(long, value_name = "BUCKET")]
    report_bucket: Option<String>,
    /// Key prefix of the completion report (stack output BatchReportPrefix) [default:
    /// _cflm/batch/reports/]
    #[arg(long, value_name = "PREFIX")]
    report_prefix: Option<String>,
    /// Key prefix of the function's marker objects, never listed [env: MARKER_PREFIX]
    #[arg(
        long,
        env = "MARKER_PREFIX",
        default_value = "_cflm/processed/",
        value_name = "PREFIX"
    )]
    marker_prefix: String,
    /// The job's priority.
    #[arg(long, default_value_t = 10)]
    priority: i32,
    /// A userArguments entry for the function (namespace, dimensions, include,
    /// maxDimensionValues, dryRun), checked here as the function checks it; repeatable.
    #[arg(long = "argument", value_name = "KEY=VALUE")]
    arguments: Vec<String>,
    /// For the estimate: the function's MemorySize.
    #[arg(long, default_value_t = 512, value_name = "MB")]
    memory_mb: u32,
    /// For the estimate: invocations at a time (the function's ReservedConcurrency).
    #[arg(long, default_value_t = 10, value_name = "N")]
    concurrency: u32,
    /// For the estimate: PutMetricData requests per log file.
    #[arg(long, default_value_t = 2, value_name = "N")]
    requests_per_object: u64,
}

/// Flags over the environment variables the Lambda reads: each overrides its variable, and its
/// value is read and checked exactly as the Lambda reads that variable ([`Settings::from_lookup`]).
#[derive(clap::Args)]
struct SettingsArgs {
    /// Evaluate CloudWatch's two-week window as of this RFC 3339 time (2026-11-20T13:00:00Z,
    /// 2026-11-20T15:00:00.5+02:00) instead of now [env: CFLM_NOW]
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// CloudWatch namespace [env: METRICS_NAMESPACE] [default: CloudFront/AccessLogs]
    #[arg(long, value_name = "NAME")]
    namespace: Option<String>,
    /// Dimension sets, e.g. "DistributionId;DistributionId,EdgeLocation" [env:
    /// METRICS_DIMENSIONS] [default: DistributionId]
    #[arg(long, value_name = "SETS")]
    dimensions: Option<String>,
    /// Comma-separated metric names to publish [env: METRICS_INCLUDE] [default: all]
    #[arg(long, value_name = "METRICS")]
    include: Option<String>,
    /// Values kept per dimension key per file, 1 to 10000; the rest are folded into "Other" [env:
    /// METRICS_MAX_DIMENSION_VALUES] [default: 50]
    #[arg(long, value_name = "N")]
    max_dimension_values: Option<String>,
    /// Distribution ID for files whose name or path carries none [env: DISTRIBUTION_ID]
    #[arg(long, value_name = "ID")]
    distribution_id: Option<String>,
    /// Where published datums go: cloudwatch (PutMetricData) or emf (Embedded Metric Format lines
    /// on stdout) [env: METRICS_SINK] [default: cloudwatch]
    #[arg(long, value_name = "SINK")]
    sink: Option<String>,
    /// Stop a file after this many decompressed bytes [env: MAX_DECOMPRESSED_BYTES] [default:
    /// 21474836480]
    #[arg(long, value_name = "BYTES")]
    max_decompressed_bytes: Option<String>,
    /// Files processed concurrently, 1 to 10000 [env: FILE_CONCURRENCY] [default: 4]
    #[arg(long, value_name = "N")]
    file_concurrency: Option<String>,
    /// PutMetricData requests in flight per file, 1 to 10000 [env: PUT_CONCURRENCY] [default: 4]
    #[arg(long, value_name = "N")]
    put_concurrency: Option<String>,
    /// Publishing S3 objects: exactly once per object version, with the function's marker objects
    /// (on, true, 1), or every time (off, false, 0). Local files are always published every time
    /// [env: IDEMPOTENCY] [default: on]
    #[arg(long, value_name = "SWITCH")]
    idempotency: Option<String>,
    /// Bucket of the marker objects [env: MARKER_BUCKET] [default: the log's bucket]
    #[arg(long, value_name = "BUCKET")]
    marker_bucket: Option<String>,
    /// Key prefix of the function's marker objects, never read as logs [env: MARKER_PREFIX]
    /// [default: _cflm/processed/]
    #[arg(long, value_name = "PREFIX")]
    marker_prefix: Option<String>,
    /// Seconds of the lease a claim on an S3 object holds while publishing [env:
    /// MARKER_LEASE_SECONDS] [default: 45]
    #[arg(long, value_name = "SECONDS")]
    marker_lease_seconds: Option<String>,
    /// The real-time log configuration's fields (comma-separated, any order): headerless lines
    /// that start with an epoch timestamp are real-time records of them [env: REALTIME_FIELDS]
    #[arg(long, value_name = "LIST")]
    realtime_fields: Option<String>,
    /// host=DISTID pairs (comma-separated): the distribution of real-time records without
    /// primary-distribution-id, by their cs-host [env: DISTRIBUTION_HOSTS]
    #[arg(long, value_name = "PAIRS")]
    distribution_hosts: Option<String>,
    /// Export: client IPs truncate (to /24 or /48), remove or keep [env: EXPORT_CLIENT_IP]
    /// [default: truncate]
    #[arg(long, value_name = "MODE")]
    export_client_ip: Option<String>,
    /// Export: keep cookies [env: EXPORT_COOKIES] [default: off]
    #[arg(long, value_name = "SWITCH")]
    export_cookies: Option<String>,
    /// Export: keep query strings [env: EXPORT_QUERY_STRINGS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    export_query_strings: Option<String>,
    /// Export: keep request ids [env: EXPORT_REQUEST_IDS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    export_request_ids: Option<String>,
    /// Export: keep header values (cs-headers) [env: EXPORT_HEADERS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    export_headers: Option<String>,
}

impl SettingsArgs {
    /// Each flag with the variable it overrides.
    fn flags(&self) -> [(&'static str, &'static str, Option<&String>); 21] {
        [
            (env::NOW, "--now", self.now.as_ref()),
            (env::NAMESPACE, "--namespace", self.namespace.as_ref()),
            (env::DIMENSIONS, "--dimensions", self.dimensions.as_ref()),
            (env::INCLUDE, "--include", self.include.as_ref()),
            (
                env::MAX_DIMENSION_VALUES,
                "--max-dimension-values",
                self.max_dimension_values.as_ref(),
            ),
            (
                env::DISTRIBUTION_ID,
                "--distribution-id",
                self.distribution_id.as_ref(),
            ),
            (env::SINK, "--sink", self.sink.as_ref()),
            (
                env::MAX_DECOMPRESSED_BYTES,
                "--max-decompressed-bytes",
                self.max_decompressed_bytes.as_ref(),
            ),
            (
                env::FILE_CONCURRENCY,
                "--file-concurrency",
                self.file_concurrency.as_ref(),
            ),
            (
                env::PUT_CONCURRENCY,
                "--put-concurrency",
                self.put_concurrency.as_ref(),
            ),
            (env::IDEMPOTENCY, "--idempotency", self.idempotency.as_ref()),
            (
                env::REALTIME_FIELDS,
                "--realtime-fields",
                self.realtime_fields.as_ref(),
            ),
            (
                env::DISTRIBUTION_HOSTS,
                "--distribution-hosts",
                self.distribution_hosts.as_ref(),
            ),
            (
                env::EXPORT_CLIENT_IP,
                "--export-client-ip",
                self.export_client_ip.as_ref(),
            ),
            (
                env::EXPORT_COOKIES,
                "--export-cookies",
                self.export_cookies.as_ref(),
            ),
            (
                env::EXPORT_QUERY_STRINGS,
                "--export-query-strings",
                self.export_query_strings.as_ref(),
            ),
            (
                env::EXPORT_REQUEST_IDS,
                "--export-request-ids",
                self.export_request_ids.as_ref(),
            ),
            (
                env::EXPORT_HEADERS,
                "--export-headers",
                self.export_headers.as_ref(),
            ),
            (
                env::MARKER_BUCKET,
                "--marker-bucket",
                self.marker_bucket.as_ref(),
            ),
            (
                env::MARKER_PREFIX,
                "--marker-prefix",
                self.marker_prefix.as_ref(),
            ),
            (
                env::MARKER_LEASE_SECONDS,
                "--marker-lease-seconds",
                self.marker_lease_seconds.as_ref(),
            ),
        ]
    }

    /// The settings: the environment overlaid with the flags given, read as the Lambda reads
    /// its environment; errors name the flag or the variable the bad value came from.
    fn settings(&self) -> Result<Settings, config::ConfigError> {
        let flags = self.flags();
        Settings::from_lookup(|var| match flags.iter().find(|(v, _, _)| *v == var) {
            Some((_, flag, Some(value))) => Some(((*value).clone(), *flag)),
            _ => settings::env_lookup(var),
        })
    }
}

/// Parses `YYYY-MM-DDTHH`, or an RFC 3339 time, into epoch hours (UTC).
fn parse_hour(s: &str) -> Result<i64, String> {
    let err = || format!("{s:?}: expected YYYY-MM-DDTHH or an RFC 3339 time");
    let ms = if s.len() == 13 && matches!(s.as_bytes()[10], b'T' | b't') {
        let day = chrono::NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").map_err(|_| err())?;
        let hour: u32 = s[11..].parse().map_err(|_| err())?;
        day.and_hms_opt(hour, 0, 0)
            .ok_or_else(err)?
            .and_utc()
            .timestamp_millis()
    } else {
        settings::parse_time("", s).map_err(|_| err())?
    };
    Ok(ms.div_euclid(3_600_000))
}

/// The wall clock in epoch milliseconds.
fn wall_clock_ms() -> Result<i64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_millis() as i64)
}

async fn process(a: ProcessArgs) -> Result<bool> {
    let mut settings = a.settings.settings()?;
    // Only CloudWatch's window clips CloudWatch's data: a dry run keeps every record.
    settings.cloudwatch_window = !a.dry_run;
    let now_ms = settings.window_now(wall_clock_ms()?);
    let emf = !a.dry_run && settings.sink == SinkKind::Emf;
    if emf && a.output.is_some_and(|o| o != Output::None) {
        bail!("--output: stdout carries the EMF lines when publishing with METRICS_SINK=emf");
    }
    let output = a.output.unwrap_or(if emf {
        Output::None
    } else if std::io::stdout().is_terminal() {
        Output::Table
    } else {
        Output::Jsonl
    });
    let has_s3 = a.paths.iter().any(|p| p.starts_with("s3://"));
    let sdk = if has_s3 || (!a.dry_run && !emf) {
        Some(aws::sdk_config().await)
    } else {
        None
    };
    let s3 = sdk.as_ref().map(aws::s3_client);
    let hours = HourWindow {
        since: a.since,
        until: a.until,
    };
    let inputs =
        backfill::collect_inputs(s3.as_ref(), &a.paths, &settings.marker_prefix, hours).await?;
    let run = Run {
        s3: s3.as_ref(),
        settings: &settings,
        now_ms,
        output,
    };
    let started = Instant::now();
    let cloudwatch = sdk
        .as_ref()
        .filter(|_| !a.dry_run && !emf)
        .map(aws::cloudwatch_client);
    let summary = if emf {
        run.go(Some(&EmfSink::new(std::io::stdout())), inputs)
            .await?
    } else {
        // None in a dry run.
        run.go(cloudwatch.as_ref(), inputs).await?
    };
    eprintln!("{}", summary.closing(started.elapsed(), a.dry_run));
    Ok(summary.failed_files == 0)
}

/// A progress bar over `files` files, on a terminal only.
fn progress_bar(files: usize) -> Option<indicatif::ProgressBar> {
    (files > 1 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(files as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

async fn report(a: ReportArgs) -> Result<bool> {
    let settings = a.settings.settings()?;
    let has_s3 = a.paths.iter().any(|p| p.starts_with("s3://"));
    let sdk = if has_s3 {
        Some(aws::sdk_config().await)
    } else {
        None
    };
    let s3 = sdk.as_ref().map(aws::s3_client);
    let hours = HourWindow {
        since: a.since,
        until: a.until,
    };
    let inputs =
        backfill::collect_inputs(s3.as_ref(), &a.paths, &settings.marker_prefix, hours).await?;
    let since_ms = a.since.map(|h| h * 3_600_000);
    let until_ms = a.until.map(|h| (h + 1) * 3_600_000);
    let top = a.top as usize;
    let capacity = (a.sketch_capacity as usize).max(top);
    let opts = std::sync::Arc::new(TrafficOptions {
        capacity,
        keep_query: a.keep_query,
        since_ms,
        until_ms,
        realtime: settings.metrics.realtime.clone(),
        distribution_hosts: settings.metrics.distribution_hosts.clone(),
    });
    let progress = progress_bar(inputs.len());
    let mut run = Traffic::default();
    let mut results = std::pin::pin!(traffic_run::read_inputs(
        s3.as_ref(),
        &settings,
        opts,
        inputs
    ));
    while let Some((file, result)) = results.next().await {
        match result {
            Ok(t) => run.add_file(&file, &t),
            Err(e) => {
                eprintln!("error: {e}");
                let reason = e.to_string();
                let reason = reason
                    .strip_prefix(&format!("{file}: "))
                    .unwrap_or(&reason)
                    .to_owned();
                run.add_failure(&file, reason);
            }
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let doc = traffic::Report::new(&run, top, capacity, since_ms, until_ms);
    let rendered = match a.format {
        ReportFormat::Text => traffic::text::render(&doc),
        ReportFormat::Json => doc.to_json() + "\n",
        ReportFormat::Html => traffic::html::render(&doc),
    };
    match &a.out {
        Some(path) => {
            std::fs::write(path, rendered).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.as_bytes())?;
            out.flush()?;
        }
    }
    eprintln!(
        "{} files read, {} failed; {} records, {} lines rejected",
        run.files_read, run.files_failed, run.records, run.rejected_lines
    );
    Ok(run.files_failed == 0)
}

/// One `cflogs process` run over its inputs.
struct Run<'a> {
    s3: Option<&'a aws_sdk_s3::Client>,
    settings: &'a Settings,
    now_ms: i64,
    output: Output,
}

impl Run<'_> {
    /// Processes the inputs, publishing to `sink` unless it is `None` (a dry run); prints the
    /// datums or the table as asked, and per-file errors on stderr.
    async fn go<M: MetricSink>(&self, sink: Option<&M>, inputs: Vec<Input>) -> Result<RunSummary> {
        let settings = self.settings;
        let progress = progress_bar(inputs.len());
        let mut summary = RunSummary::default();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
        let mut results = std::pin::pin!(backfill::process_inputs(
            self.s3,
            sink,
            settings,
            inputs,
            self.now_ms,
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
                    if self.output == Output::Jsonl {
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
        if self.output == Output::Table {
            out.write_all(summary.table().as_bytes())?;
        }
        out.flush()?;
        Ok(summary)
    }
}

/// `cflogs export`: the inputs `process` would read, streamed into one output.
async fn export(a: ExportArgs) -> Result<bool> {
    use cloudfront_log_metrics::export::{ExportConfig, OutputFormat};
    use cloudfront_log_metrics::export_run;
    let settings = a.settings.settings()?;
    let config = ExportConfig {
        format: match a.format {
            ExportFormat::Ndjson => OutputFormat::Ndjson,
            ExportFormat::OpensearchBulk => OutputFormat::OpenSearchBulk { index: a.index },
        },
        privacy: settings.privacy,
        realtime: settings.metrics.realtime.clone(),
        hosts: settings.metrics.distribution_hosts.clone(),
    };
    let s3 = if a.paths.iter().any(|p| p.starts_with("s3://")) {
        Some(aws::s3_client(&aws::sdk_config().await))
    } else {
        None
    };
    let hours = HourWindow {
        since: a.since,
        until: a.until,
    };
    let inputs =
        backfill::collect_inputs(s3.as_ref(), &a.paths, &settings.marker_prefix, hours).await?;
    let mut out =
        export_run::Output::open(a.out.as_deref()).with_context(|| format!("--out {:?}", a.out))?;
    let progress = (inputs.len() > 1 && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(inputs.len() as u64));
    let started = Instant::now();
    let t = export_run::export_all(
        s3.as_ref(),
        &settings,
        &config,
        &inputs,
        &mut out,
        |i, r| {
            match r {
                Ok(stats) => {
                    for (line, reason) in &stats.reject_samples {
                        eprintln!("{}: line {line}: rejected: {reason}", i.name());
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            }
            if let Some(bar) = &progress {
                bar.inc(1);
            }
        },
    )
    .await;
    out.finish().context("writing the export")?;
    drop(progress);
    eprintln!(
        "files: {} ({} failed), documents: {}, rejected lines: {}, in {:.2} s",
        t.files,
        t.failed,
        t.documents,
        t.rejected,
        started.elapsed().as_secs_f64()
    );
    Ok(t.failed == 0)
}

/// `cflogs backfill`: creates a Batch Operations job, or shows one (`--status`).
async fn backfill_job(a: BackfillArgs) -> Result<bool> {
    use cloudfront_log_metrics::backfill_job::{self as job, Started};
    use cloudfront_log_metrics::settings::overrides::job_settings;
    let sdk = aws::sdk_config().await;
    let s3 = aws::s3_client(&sdk);
    let control = aws::s3control_client(&sdk);
    let mut a = a;
    if let Some(stack) = &a.stack {
        let cf = aws::cloudformation_client(&sdk);
        let mut out = job::stack_outputs(&cf, stack).await?;
        let mut take = |key: &str| out.remove(key);
        a.function_arn = a.function_arn.take().or(take(job::output::FUNCTION_ARN));
        a.role_arn = a.role_arn.take().or(take(job::output::ROLE_ARN));
        let bucket = take(job::output::BUCKET);
        a.manifest_bucket = a.manifest_bucket.take().or(bucket.clone());
        a.report_bucket = a.report_bucket.take().or(bucket);
        a.manifest_prefix = a
            .manifest_prefix
            .take()
            .or(take(job::output::MANIFEST_PREFIX));
        a.report_prefix = a.report_prefix.take().or(take(job::output::REPORT_PREFIX));
    }
    let manifest_prefix = a
        .manifest_prefix
        .clone()
        .unwrap_or_else(|| "_cflm/batch/manifests/".to_owned());
    let report_prefix = a
        .report_prefix
        .clone()
        .unwrap_or_else(|| "_cflm/batch/reports/".to_owned());
    if let Some(id) = &a.status {
        let arn = a.role_arn.as_deref().or(a.function_arn.as_deref());
        let account = match (&a.account_id, arn.and_then(job::account_of)) {
            (Some(account), _) => account.clone(),
            (None, Some(account)) => account.to_owned(),
            (None, None) => {
                bail!("--status needs --stack, --account-id, --role-arn or --function-arn")
            }
        };
        let st = job::describe_job(&control, &account, id).await?;
        println!(
            "job {id}: {}, {} of {} tasks succeeded, {} failed",
            st.status, st.succeeded, st.total, st.failed
        );
        for r in &st.reasons {
            println!("  {r}");
        }
        if let Some((bucket, prefix)) = &st.report {
            match job::report_totals(&s3, bucket, prefix, id).await? {
                None => println!("no completion report yet (s3://{bucket}/{prefix})"),
                Some(totals) => {
                    println!("completion report:");
                    for ((code, reason), n) in totals {
                        println!("  {code:<17} {n:>9}  {reason}");
                    }
                }
            }
        }
        return Ok(st.failed == 0);
    }
    let url = a.url.clone().unwrap_or_default();
    let mut user_arguments = std::collections::BTreeMap::new();
    for kv in &a.arguments {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--argument {kv:?}: expected KEY=VALUE");
        };
        user_arguments.insert(k.trim().to_owned(), v.to_owned());
    }
    job_settings(&Settings::default(), &user_arguments)?;
    let (function_arn, role_arn) = match (&a.function_arn, &a.role_arn, a.dry_run) {
        (Some(f), Some(r), _) => (f.clone(), r.clone()),
        (f, r, true) => (f.clone().unwrap_or_default(), r.clone().unwrap_or_default()),
        _ => bail!(
            "creating a job needs --function-arn and --role-arn (the stack's outputs FunctionArn and BatchOperationsRoleArn)"
        ),
    };
    let plan = job::Plan {
        url: url.clone(),
        hours: HourWindow {
            since: a.since,
            until: a.until,
        },
        exclude: vec![
            a.marker_prefix.clone(),
            manifest_prefix.clone(),
            report_prefix.clone(),
        ],
        manifest_bucket: a.manifest_bucket.clone(),
        manifest_prefix,
        function_arn,
        role_arn,
        report_bucket: a.report_bucket.clone(),
        report_prefix,
        priority: a.priority,
        user_arguments,
        memory_mb: a.memory_mb,
        concurrency: a.concurrency,
        requests_per_object: a.requests_per_object,
        now_ms: wall_clock_ms()?,
    };
    match job::start(&s3, &control, &plan, a.dry_run, a.confirm).await? {
        Started::Empty => {
            eprintln!("{url}: no log files in the range; no job created");
            Ok(true)
        }
        Started::DryRun(e) => {
            println!("{e}");
            Ok(true)
        }
        Started::NeedsConfirm(e) => {
            println!("{e}");
            eprintln!(
                "error: {} objects is more than {}: run again with --confirm to start the job",
                e.objects,
                job::CONFIRM_ABOVE
            );
            Ok(false)
        }
        Started::Created {
            job_id,
            manifest,
            estimate,
        } => {
            println!("{estimate}");
            println!("manifest: {manifest}");
            println!("job: {job_id}");
            let region = sdk.region().map_or("us-east-1", |r| r.as_ref());
            println!("console: {}", job::console_url(region, &job_id));
            println!(
                "progress: cflogs backfill --status {job_id} --role-arn {}",
                plan.role_arn
            );
            Ok(true)
        }
    }
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
        Command::Report(a) => report(a).await,
        Command::Catalogue => catalogue(),
        Command::Export(a) => export(a).await,
        Command::Backfill(a) => backfill_job(a).await,
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

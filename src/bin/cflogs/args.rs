//! `cflogs`'s command line: the subcommands and their flags (clap), and the settings they
//! override.

use clap::{Parser, Subcommand, ValueEnum};
use cloudfront_log_metrics::config;
use cloudfront_log_metrics::settings::{self, Settings, env};
use cloudfront_log_metrics::traffic;

#[derive(Parser)]
#[command(
    name = "cflogs",
    version,
    about = "CloudFront access logs to CloudWatch metrics"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub(crate) enum Command {
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
pub(crate) enum ExportFormat {
    /// One JSON document per line.
    Ndjson,
    /// OpenSearch / Elasticsearch `_bulk` action and document lines, with a deterministic `_id`.
    OpensearchBulk,
}

#[derive(clap::Args)]
pub(crate) struct ExportArgs {
    /// Log files or directories (walked recursively), or S3 prefixes (s3://bucket/prefix/).
    #[arg(required = true)]
    pub(crate) paths: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub(crate) format: ExportFormat,
    /// Output file (gzip when it ends in .gz); `-` or none: stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// Index named in `_bulk` action lines.
    #[arg(long, value_name = "NAME", default_value = "cloudfront-logs")]
    pub(crate) index: String,
    /// Only files whose name or path says they cover this UTC hour or later.
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) since: Option<i64>,
    /// Only files whose name or path says they cover this UTC hour or earlier.
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) until: Option<i64>,
    #[command(flatten)]
    pub(crate) settings: SettingsArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// Aligned tables within 100 columns.
    Text,
    /// One JSON document (schema cflogs-report/1, see README).
    Json,
    /// One self-contained HTML page (inline CSS and SVG, no network request).
    Html,
}

#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// Log files or directories (walked recursively), or S3 prefixes (s3://bucket/prefix/).
    #[arg(required = true)]
    pub(crate) paths: Vec<String>,
    /// Only records from this UTC hour on, and files whose name or path says they cover it or
    /// later (YYYY-MM-DDTHH, or an RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) since: Option<i64>,
    /// Only records up to the end of this UTC hour, and files whose name or path says they cover
    /// it or earlier (YYYY-MM-DDTHH, or an RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) until: Option<i64>,
    /// Entries per top list.
    #[arg(long, value_name = "N", default_value_t = traffic::DEFAULT_TOP as u64,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) top: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// Keep query strings on URIs (off by default: they may carry tokens and personal data).
    #[arg(long)]
    pub(crate) keep_query: bool,
    /// Capacity of each top-N sketch: lists are exact while a distribution has at most this
    /// many distinct values of them (each monitors up to twice as many); memory grows with it.
    #[arg(long, value_name = "N", default_value_t = traffic::DEFAULT_CAPACITY as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) sketch_capacity: u64,
    #[command(flatten)]
    pub(crate) settings: SettingsArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// One JSON object per datum on stdout, exactly as it would be sent.
    Jsonl,
    /// A readable summary per distribution.
    Table,
    /// Nothing on stdout.
    None,
}

#[derive(clap::Args)]
pub(crate) struct ProcessArgs {
    /// Log files or directories (walked recursively), or S3 prefixes (s3://bucket/prefix/).
    #[arg(required = true)]
    pub(crate) paths: Vec<String>,
    /// Compute the datums but publish nothing, keeping the records outside CloudWatch's two-week
    /// window (without it, datums are published and those records skipped).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// What to print on stdout [default: table on a terminal, jsonl otherwise; none when
    /// publishing EMF, whose lines go to stdout].
    #[arg(long, value_enum)]
    pub(crate) output: Option<Output>,
    /// Only files whose name or path says they cover this UTC hour or later (YYYY-MM-DDTHH, or an
    /// RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) since: Option<i64>,
    /// Only files whose name or path says they cover this UTC hour or earlier (YYYY-MM-DDTHH, or
    /// an RFC 3339 time: its hour).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) until: Option<i64>,
    #[command(flatten)]
    pub(crate) settings: SettingsArgs,
}

#[derive(clap::Args)]
pub(crate) struct BackfillArgs {
    /// The S3 prefix to backfill (s3://bucket/prefix/).
    #[arg(required_unless_present = "status", conflicts_with = "status")]
    pub(crate) url: Option<String>,
    /// Show the progress of job JOB and, once it finished, its completion report's totals.
    #[arg(long, value_name = "JOB")]
    pub(crate) status: Option<String>,
    /// Only files whose name or path says they cover this UTC hour or later (as `process`).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) since: Option<i64>,
    /// Only files whose name or path says they cover this UTC hour or earlier (as `process`).
    #[arg(long, value_parser = parse_hour, value_name = "HOUR")]
    pub(crate) until: Option<i64>,
    /// Print the manifest's size and the expected cost and duration; write and create nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Start a job of more than 10,000 objects.
    #[arg(long)]
    pub(crate) confirm: bool,
    /// Read the function, the role, the bucket and the prefixes from this stack's outputs
    /// (flags given as well win).
    #[arg(long, value_name = "NAME")]
    pub(crate) stack: Option<String>,
    /// The function the job invokes (stack output FunctionArn).
    #[arg(long, env = "CFLOGS_FUNCTION_ARN", value_name = "ARN")]
    pub(crate) function_arn: Option<String>,
    /// The role the job assumes (stack output BatchOperationsRoleArn).
    #[arg(long, env = "CFLOGS_BATCH_ROLE_ARN", value_name = "ARN")]
    pub(crate) role_arn: Option<String>,
    /// The account of the job for --status [default: the account of --role-arn or --function-arn]
    #[arg(long, value_name = "ID")]
    pub(crate) account_id: Option<String>,
    /// Bucket of the manifest [default: the logs' bucket]
    #[arg(long, value_name = "BUCKET")]
    pub(crate) manifest_bucket: Option<String>,
    /// Key prefix of the manifest (stack output BatchManifestPrefix) [default:
    /// _cflm/batch/manifests/]
    #[arg(long, value_name = "PREFIX")]
    pub(crate) manifest_prefix: Option<String>,
    /// Bucket of the completion report [default: the manifest's bucket]
    #[arg(long, value_name = "BUCKET")]
    pub(crate) report_bucket: Option<String>,
    /// Key prefix of the completion report (stack output BatchReportPrefix) [default:
    /// _cflm/batch/reports/]
    #[arg(long, value_name = "PREFIX")]
    pub(crate) report_prefix: Option<String>,
    /// Key prefix of the function's marker objects, never listed [env: MARKER_PREFIX]
    #[arg(
        long,
        env = "MARKER_PREFIX",
        default_value = "_cflm/processed/",
        value_name = "PREFIX"
    )]
    pub(crate) marker_prefix: String,
    /// The job's priority.
    #[arg(long, default_value_t = 10)]
    pub(crate) priority: i32,
    /// A userArguments entry for the function (namespace, dimensions, include,
    /// maxDimensionValues, dryRun), checked here as the function checks it; repeatable.
    #[arg(long = "argument", value_name = "KEY=VALUE")]
    pub(crate) arguments: Vec<String>,
    /// For the estimate: the function's MemorySize.
    #[arg(long, default_value_t = 512, value_name = "MB")]
    pub(crate) memory_mb: u32,
    /// For the estimate: invocations at a time (the function's ReservedConcurrency).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) concurrency: u32,
    /// For the estimate: PutMetricData requests per log file.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub(crate) requests_per_object: u64,
}

/// Flags over the environment variables the Lambda reads: each overrides its variable, and its
/// value is read and checked exactly as the Lambda reads that variable ([`Settings::from_lookup`]).
#[derive(clap::Args)]
pub(crate) struct SettingsArgs {
    /// Evaluate CloudWatch's two-week window as of this RFC 3339 time (2026-11-20T13:00:00Z,
    /// 2026-11-20T15:00:00.5+02:00) instead of now [env: CFLM_NOW]
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<String>,
    /// CloudWatch namespace [env: METRICS_NAMESPACE] [default: CloudFront/AccessLogs]
    #[arg(long, value_name = "NAME")]
    pub(crate) namespace: Option<String>,
    /// Dimension sets, e.g. "DistributionId;DistributionId,EdgeLocation" [env:
    /// METRICS_DIMENSIONS] [default: DistributionId]
    #[arg(long, value_name = "SETS")]
    pub(crate) dimensions: Option<String>,
    /// Comma-separated metric names to publish [env: METRICS_INCLUDE] [default: all]
    #[arg(long, value_name = "METRICS")]
    pub(crate) include: Option<String>,
    /// Values kept per dimension key per file, 1 to 10000; the rest are folded into "Other" [env:
    /// METRICS_MAX_DIMENSION_VALUES] [default: 50]
    #[arg(long, value_name = "N")]
    pub(crate) max_dimension_values: Option<String>,
    /// Distribution ID for files whose name or path carries none [env: DISTRIBUTION_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) distribution_id: Option<String>,
    /// Where published datums go: cloudwatch (PutMetricData) or emf (Embedded Metric Format lines
    /// on stdout) [env: METRICS_SINK] [default: cloudwatch]
    #[arg(long, value_name = "SINK")]
    pub(crate) sink: Option<String>,
    /// Stop a file after this many decompressed bytes [env: MAX_DECOMPRESSED_BYTES] [default:
    /// 21474836480]
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_decompressed_bytes: Option<String>,
    /// Files processed concurrently, 1 to 10000 [env: FILE_CONCURRENCY] [default: 4]
    #[arg(long, value_name = "N")]
    pub(crate) file_concurrency: Option<String>,
    /// PutMetricData requests in flight per file, 1 to 10000 [env: PUT_CONCURRENCY] [default: 4]
    #[arg(long, value_name = "N")]
    pub(crate) put_concurrency: Option<String>,
    /// Publishing S3 objects: exactly once per object version, with the function's marker objects
    /// (on, true, 1), or every time (off, false, 0). Local files are always published every time
    /// [env: IDEMPOTENCY] [default: on]
    #[arg(long, value_name = "SWITCH")]
    pub(crate) idempotency: Option<String>,
    /// Bucket of the marker objects [env: MARKER_BUCKET] [default: the log's bucket]
    #[arg(long, value_name = "BUCKET")]
    pub(crate) marker_bucket: Option<String>,
    /// Key prefix of the function's marker objects, never read as logs [env: MARKER_PREFIX]
    /// [default: _cflm/processed/]
    #[arg(long, value_name = "PREFIX")]
    pub(crate) marker_prefix: Option<String>,
    /// Seconds of the lease a claim on an S3 object holds while publishing [env:
    /// MARKER_LEASE_SECONDS] [default: 45]
    #[arg(long, value_name = "SECONDS")]
    pub(crate) marker_lease_seconds: Option<String>,
    /// The real-time log configuration's fields (comma-separated, any order): headerless lines
    /// that start with an epoch timestamp are real-time records of them [env: REALTIME_FIELDS]
    #[arg(long, value_name = "LIST")]
    pub(crate) realtime_fields: Option<String>,
    /// host=DISTID pairs (comma-separated): the distribution of real-time records without
    /// primary-distribution-id, by their cs-host [env: DISTRIBUTION_HOSTS]
    #[arg(long, value_name = "PAIRS")]
    pub(crate) distribution_hosts: Option<String>,
    /// Export: client IPs truncate (to /24 or /48), remove or keep [env: EXPORT_CLIENT_IP]
    /// [default: truncate]
    #[arg(long, value_name = "MODE")]
    pub(crate) export_client_ip: Option<String>,
    /// Export: keep cookies [env: EXPORT_COOKIES] [default: off]
    #[arg(long, value_name = "SWITCH")]
    pub(crate) export_cookies: Option<String>,
    /// Export: keep query strings [env: EXPORT_QUERY_STRINGS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    pub(crate) export_query_strings: Option<String>,
    /// Export: keep request ids [env: EXPORT_REQUEST_IDS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    pub(crate) export_request_ids: Option<String>,
    /// Export: keep header values (cs-headers) [env: EXPORT_HEADERS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    pub(crate) export_headers: Option<String>,
    /// Export: keep CMCD session ids (cmcd-session-id) [env: EXPORT_SESSION_IDS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    pub(crate) export_session_ids: Option<String>,
    /// Export: keep connection ids (connection-id) [env: EXPORT_CONNECTION_IDS] [default: off]
    #[arg(long, value_name = "SWITCH")]
    pub(crate) export_connection_ids: Option<String>,
    /// Largest Parquet page read, compressed or not [env: MAX_PARQUET_PAGE_BYTES]
    /// [default: 16777216]
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_parquet_page_bytes: Option<String>,
}

impl SettingsArgs {
    /// Each flag with the variable it overrides.
    pub(crate) fn flags(&self) -> [(&'static str, &'static str, Option<&String>); 24] {
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
                env::EXPORT_SESSION_IDS,
                "--export-session-ids",
                self.export_session_ids.as_ref(),
            ),
            (
                env::EXPORT_CONNECTION_IDS,
                "--export-connection-ids",
                self.export_connection_ids.as_ref(),
            ),
            (
                env::MAX_PARQUET_PAGE_BYTES,
                "--max-parquet-page-bytes",
                self.max_parquet_page_bytes.as_ref(),
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
    pub(crate) fn settings(&self) -> Result<Settings, config::ConfigError> {
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

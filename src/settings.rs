//! Runtime settings, read the same way by the Lambda and `cflogs`: the sink, limits,
//! concurrency, the exactly-once markers and their lease, the window clock, and the metrics
//! configuration of the core. One reader, [`Settings::from_lookup`], for both: the Lambda looks
//! variables up in its environment, `cflogs` in its environment overlaid with the flags given,
//! so the same values are accepted with the same errors, naming the variable or the flag the
//! value came from. Every variable has a documented default (README "Configuration"), kept here
//! beside its setting.

use crate::config::{
    ConfigError, MetricsConfig, parse_dimension_sets, parse_distribution_hosts,
    parse_distribution_id, parse_include, parse_max_values, parse_namespace, parse_positive,
    parse_realtime_fields, parse_switch,
};

/// Environment variables read by [`Settings::from_lookup`].
pub mod env {
    /// CloudWatch namespace.
    pub const NAMESPACE: &str = "METRICS_NAMESPACE";
    /// Dimension sets, `;`-separated sets of `,`-separated keys.
    pub const DIMENSIONS: &str = "METRICS_DIMENSIONS";
    /// Comma-separated metric names to publish (default: all).
    pub const INCLUDE: &str = "METRICS_INCLUDE";
    /// Cardinality guard.
    pub const MAX_DIMENSION_VALUES: &str = "METRICS_MAX_DIMENSION_VALUES";
    /// Fallback distribution ID when the object key carries none.
    pub const DISTRIBUTION_ID: &str = "DISTRIBUTION_ID";
    /// Where datums go: `cloudwatch` (PutMetricData, default) or `emf` (stdout).
    pub const SINK: &str = "METRICS_SINK";
    /// Stop a file after this many decompressed bytes.
    pub const MAX_DECOMPRESSED_BYTES: &str = "MAX_DECOMPRESSED_BYTES";
    /// Refuse a Parquet page larger than this many bytes, compressed or not. Read by the
    /// Lambda too; not in [`LAMBDA`] until the template sets it (it keeps its default there).
    pub const MAX_PARQUET_PAGE_BYTES: &str = "MAX_PARQUET_PAGE_BYTES";
    /// Log files processed concurrently by one invocation.
    pub const FILE_CONCURRENCY: &str = "FILE_CONCURRENCY";
    /// PutMetricData requests in flight per file.
    pub const PUT_CONCURRENCY: &str = "PUT_CONCURRENCY";
    /// The SDK's standard retry: attempts per request (read by aws-config).
    pub const MAX_ATTEMPTS: &str = "AWS_MAX_ATTEMPTS";
    /// Exactly-once publishing with S3 marker objects: `on` (default) or `off`.
    pub const IDEMPOTENCY: &str = "IDEMPOTENCY";
    /// Bucket of the marker objects (default: the log's bucket).
    pub const MARKER_BUCKET: &str = "MARKER_BUCKET";
    /// Key prefix of the marker objects.
    pub const MARKER_PREFIX: &str = "MARKER_PREFIX";
    /// Length in seconds of the lease a claim on a file holds; renewed while publishing, taken
    /// over once run out (plus a margin for clock skew).
    pub const MARKER_LEASE_SECONDS: &str = "MARKER_LEASE_SECONDS";
    /// The real-time log configuration's field selection (comma-separated, any order): real-time
    /// records (Kinesis, or files of them) are read by it.
    pub const REALTIME_FIELDS: &str = "REALTIME_FIELDS";
    /// `host=DISTID,...`: distribution domain names and their IDs, for real-time records without
    /// `primary-distribution-id`.
    pub const DISTRIBUTION_HOSTS: &str = "DISTRIBUTION_HOSTS";
    /// Seconds after a minute's end before a Kinesis shard publishes the minute (default 20):
    /// records of the minute that arrive later are published in a further request.
    pub const REALTIME_PUBLISH_DELAY_SECONDS: &str = "REALTIME_PUBLISH_DELAY_SECONDS";
    /// Export (Firehose transformation, `cflogs export`): client IPs `truncate` (default),
    /// `remove` or `keep`.
    pub const EXPORT_CLIENT_IP: &str = "EXPORT_CLIENT_IP";
    /// Export: keep `cs-cookie` (default off).
    pub const EXPORT_COOKIES: &str = "EXPORT_COOKIES";
    /// Export: keep query strings (default off).
    pub const EXPORT_QUERY_STRINGS: &str = "EXPORT_QUERY_STRINGS";
    /// Export: keep `x-edge-request-id` (default off).
    pub const EXPORT_REQUEST_IDS: &str = "EXPORT_REQUEST_IDS";
    /// Export: keep `cs-headers` (default off).
    pub const EXPORT_HEADERS: &str = "EXPORT_HEADERS";
    /// Key prefix of the Firehose export's objects in the log bucket: never read as logs.
    pub const EXPORT_PREFIX: &str = "EXPORT_PREFIX";
    /// Key prefix of the S3 Batch Operations manifests and reports: never read as logs.
    pub const BATCH_OPERATIONS_PREFIX: &str = "BATCH_OPERATIONS_PREFIX";
    /// Whether a Batch Operations job's `userArguments.namespace` may differ from
    /// [`NAMESPACE`] (default off: with the EMF sink no IAM condition limits the namespace).
    pub const ALLOW_NAMESPACE_OVERRIDE: &str = "ALLOW_NAMESPACE_OVERRIDE";
    /// Export: keep `cmcd-session-id` (default off).
    pub const EXPORT_SESSION_IDS: &str = "EXPORT_SESSION_IDS";
    /// Export: keep `connection-id` (default off). As [`EXPORT_SESSION_IDS`].
    pub const EXPORT_CONNECTION_IDS: &str = "EXPORT_CONNECTION_IDS";

    /// Every variable the Lambda function reads (besides the runtime's own `AWS_*` and `RUST_LOG`):
    /// the SAM template must set each of them or leave it to its documented default.
    pub const LAMBDA: &[&str] = &[
        NAMESPACE,
        DIMENSIONS,
        INCLUDE,
        MAX_DIMENSION_VALUES,
        DISTRIBUTION_ID,
        SINK,
        MAX_DECOMPRESSED_BYTES,
        FILE_CONCURRENCY,
        PUT_CONCURRENCY,
        MAX_ATTEMPTS,
        IDEMPOTENCY,
        MARKER_BUCKET,
        MARKER_PREFIX,
        MARKER_LEASE_SECONDS,
        REALTIME_FIELDS,
        DISTRIBUTION_HOSTS,
        REALTIME_PUBLISH_DELAY_SECONDS,
        EXPORT_CLIENT_IP,
        EXPORT_COOKIES,
        EXPORT_QUERY_STRINGS,
        EXPORT_REQUEST_IDS,
        EXPORT_HEADERS,
        EXPORT_SESSION_IDS,
        EXPORT_CONNECTION_IDS,
        MAX_PARQUET_PAGE_BYTES,
        EXPORT_PREFIX,
        BATCH_OPERATIONS_PREFIX,
        ALLOW_NAMESPACE_OVERRIDE,
    ];

    /// Pins the time CloudWatch's two-week window is evaluated at (RFC 3339) instead of the wall
    /// clock: for tests and replays of old logs. Not in [`LAMBDA`]: a deployed function has no
    /// reason to set it.
    pub const NOW: &str = "CFLM_NOW";
}

/// A value found for a variable, with where it was found: the variable's own name (the
/// environment) or the `cflogs` flag it came from, such as `--namespace`. Errors name that source.
pub type Found = (String, &'static str);

/// The process environment as a lookup for [`Settings::from_lookup`].
pub fn env_lookup(var: &'static str) -> Option<Found> {
    std::env::var(var).ok().map(|v| (v, var))
}

impl MetricsConfig {
    /// Reads the configuration from a variable lookup ([`env_lookup`] in the Lambda, the
    /// environment overlaid with flags in `cflogs`, a map in tests); unset or empty variables
    /// take their defaults.
    pub fn from_lookup(get: impl Fn(&'static str) -> Option<Found>) -> Result<Self, ConfigError> {
        let get = |k| get(k).filter(|(v, _)| !v.trim().is_empty());
        let mut c = MetricsConfig::default();
        if let Some((v, from)) = get(env::NAMESPACE) {
            c.namespace = parse_namespace(from, &v)?;
        }
        if let Some((v, from)) = get(env::DIMENSIONS) {
            c.dimension_sets = parse_dimension_sets(from, &v)?;
        }
        if let Some((v, from)) = get(env::INCLUDE) {
            c.include = parse_include(from, &v)?;
        }
        if let Some((v, from)) = get(env::MAX_DIMENSION_VALUES) {
            c.max_dimension_values = parse_max_values(from, &v)?;
        }
        if let Some((v, from)) = get(env::DISTRIBUTION_ID) {
            c.distribution_id = Some(parse_distribution_id(from, &v)?);
        }
        if let Some((v, from)) = get(env::REALTIME_FIELDS) {
            c.realtime = Some(parse_realtime_fields(from, &v)?);
        }
        if let Some((v, from)) = get(env::DISTRIBUTION_HOSTS) {
            c.distribution_hosts = parse_distribution_hosts(from, &v)?;
        }
        Ok(c)
    }
}

/// Default limit on a file's decompressed size (env `MAX_DECOMPRESSED_BYTES`): far above any real
/// CloudFront log file, low enough to stop a decompression bomb within a Lambda timeout.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 20 * 1024 * 1024 * 1024;
/// Default lease of a claim (env `MARKER_LEASE_SECONDS`). With the skew margin a crashed
/// holder's lease has run out 55 s after its last renewal, so Lambda's first retry of a failed
/// asynchronous invocation (about a minute later) takes the file over.
pub const DEFAULT_LEASE_SECONDS: u64 = 45;
/// Default wait after a minute's end before a Kinesis shard publishes the minute (env
/// `REALTIME_PUBLISH_DELAY_SECONDS`): CloudFront delivers real-time records within seconds, so
/// nearly all of a minute is in by then, and the minute still reaches CloudWatch within 90 s.
pub const DEFAULT_REALTIME_PUBLISH_DELAY_SECONDS: u64 = 20;
/// Default key prefix of the marker objects.
pub const DEFAULT_MARKER_PREFIX: &str = "_cflm/processed/";
/// Default files processed concurrently per invocation.
pub const DEFAULT_FILE_CONCURRENCY: usize = 4;
/// Default PutMetricData requests in flight per file.
pub const DEFAULT_PUT_CONCURRENCY: usize = 4;

/// Everything the Lambda function reads from its environment, and `cflogs` from its environment
/// and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// What to publish.
    pub metrics: MetricsConfig,
    /// Where to publish.
    pub sink: crate::sink::SinkKind,
    /// Stop a file after this many decompressed bytes.
    pub max_decompressed_bytes: u64,
    /// Refuse a Parquet page larger than this (compressed or not).
    pub max_parquet_page_bytes: u64,
    /// Files processed concurrently per invocation.
    pub file_concurrency: usize,
    /// PutMetricData requests in flight per file.
    pub put_concurrency: usize,
    /// Exactly-once publishing with marker objects.
    pub idempotency: bool,
    /// Bucket of the marker objects (`None`: the log's own bucket).
    pub marker_bucket: Option<String>,
    /// Key prefix of the marker objects; keys under it are never processed as logs.
    pub marker_prefix: String,
    /// Key prefixes of the export's objects and of the Batch Operations files (empty: none);
    /// keys under them are never processed as logs either.
    pub export_prefix: String,
    pub batch_operations_prefix: String,
    /// Whether a job's `userArguments.namespace` may differ from the configured namespace.
    pub allow_namespace_override: bool,
    /// The lease (seconds) a claim holds on a file: renewed by its holder at least every third
    /// of it while publishing; one that has run out (plus a margin for clock skew) belongs to an
    /// invocation that died and may be taken over.
    pub marker_lease_seconds: u64,
    /// The time (epoch ms) CloudWatch's two-week window is evaluated at instead of the wall
    /// clock (`CFLM_NOW`, `cflogs --now`). Only that window: claim leases keep the real clock.
    pub now_ms: Option<i64>,
    /// Whether records outside CloudWatch's window are dropped (`true`: publishing, as the
    /// Lambda always does) or kept and only counted (`false`: `cflogs --dry-run`). Not read from
    /// the environment.
    pub cloudwatch_window: bool,
    /// Seconds after a minute's end before a Kinesis shard publishes it.
    pub realtime_publish_delay_seconds: u64,
    /// What exported documents leave out.
    pub privacy: crate::export::privacy::Privacy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            metrics: MetricsConfig::default(),
            sink: crate::sink::SinkKind::CloudWatch,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_parquet_page_bytes: crate::columnar::DEFAULT_MAX_PAGE_BYTES,
            file_concurrency: DEFAULT_FILE_CONCURRENCY,
            put_concurrency: DEFAULT_PUT_CONCURRENCY,
            idempotency: true,
            marker_bucket: None,
            marker_prefix: DEFAULT_MARKER_PREFIX.to_owned(),
            export_prefix: String::new(),
            batch_operations_prefix: String::new(),
            allow_namespace_override: false,
            marker_lease_seconds: DEFAULT_LEASE_SECONDS,
            now_ms: None,
            cloudwatch_window: true,
            realtime_publish_delay_seconds: DEFAULT_REALTIME_PUBLISH_DELAY_SECONDS,
            privacy: crate::export::privacy::Privacy::default(),
        }
    }
}

impl Settings {
    /// Reads the settings from a variable lookup ([`env_lookup`] in the Lambda, the environment
    /// overlaid with flags in `cflogs`, a map in tests); unset or empty variables take their
    /// defaults. Errors name the variable or flag the bad value came from.
    pub fn from_lookup(get: impl Fn(&'static str) -> Option<Found>) -> Result<Self, ConfigError> {
        let get = |k| get(k).filter(|(v, _): &Found| !v.trim().is_empty());
        let mut s = Settings {
            metrics: MetricsConfig::from_lookup(get)?,
            ..Settings::default()
        };
        if let Some((v, from)) = get(env::SINK) {
            s.sink = crate::sink::SinkKind::parse(&v).ok_or(ConfigError::BadChoice {
                var: from,
                value: v.clone(),
                choices: "cloudwatch, emf",
            })?;
        }
        if let Some((v, from)) = get(env::MAX_DECOMPRESSED_BYTES) {
            s.max_decompressed_bytes = parse_positive(from, &v)?;
        }
        if let Some((v, from)) = get(env::MAX_PARQUET_PAGE_BYTES) {
            s.max_parquet_page_bytes = parse_positive(from, &v)?;
        }
        if let Some((v, from)) = get(env::FILE_CONCURRENCY) {
            s.file_concurrency = parse_max_values(from, &v)?;
        }
        if let Some((v, from)) = get(env::PUT_CONCURRENCY) {
            s.put_concurrency = parse_max_values(from, &v)?;
        }
        if let Some((v, from)) = get(env::IDEMPOTENCY) {
            s.idempotency = parse_switch(from, &v)?;
        }
        s.marker_bucket = get(env::MARKER_BUCKET).map(|(v, _)| v.trim().to_owned());
        if let Some((v, _)) = get(env::MARKER_PREFIX) {
            s.marker_prefix = v.trim().to_owned();
        }
        if let Some((v, _)) = get(env::EXPORT_PREFIX) {
            s.export_prefix = v.trim().to_owned();
        }
        if let Some((v, _)) = get(env::BATCH_OPERATIONS_PREFIX) {
            s.batch_operations_prefix = v.trim().to_owned();
        }
        if let Some((v, from)) = get(env::ALLOW_NAMESPACE_OVERRIDE) {
            s.allow_namespace_override = parse_switch(from, &v)?;
        }
        if let Some((v, from)) = get(env::MARKER_LEASE_SECONDS) {
            s.marker_lease_seconds = parse_positive(from, &v)?;
        }
        if let Some((v, from)) = get(env::NOW) {
            s.now_ms = Some(parse_time(from, &v)?);
        }
        if let Some((v, from)) = get(env::REALTIME_PUBLISH_DELAY_SECONDS) {
            s.realtime_publish_delay_seconds = parse_positive(from, &v)?;
        }
        if let Some((v, from)) = get(env::EXPORT_CLIENT_IP) {
            s.privacy.client_ip =
                crate::export::privacy::IpMode::parse(&v).ok_or(ConfigError::BadChoice {
                    var: from,
                    value: v.clone(),
                    choices: "truncate, remove, keep",
                })?;
        }
        for (var, slot) in [
            (env::EXPORT_COOKIES, &mut s.privacy.cookies),
            (env::EXPORT_QUERY_STRINGS, &mut s.privacy.query_strings),
            (env::EXPORT_REQUEST_IDS, &mut s.privacy.request_ids),
            (env::EXPORT_HEADERS, &mut s.privacy.headers),
            (env::EXPORT_SESSION_IDS, &mut s.privacy.session_ids),
            (env::EXPORT_CONNECTION_IDS, &mut s.privacy.connection_ids),
        ] {
            if let Some((v, from)) = get(var) {
                *slot = parse_switch(from, &v)?;
            }
        }
        Ok(s)
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    /// The prefixes of the stack's own objects, whose keys are never read as logs.
    pub fn own_prefixes(&self) -> crate::event::OwnPrefixes<'_> {
        crate::event::OwnPrefixes {
            marker: &self.marker_prefix,
            export: &self.export_prefix,
            batch: &self.batch_operations_prefix,
        }
    }

    /// The time CloudWatch's window is evaluated at: `CFLM_NOW` when set, else `wall_ms`.
    pub fn window_now(&self, wall_ms: i64) -> i64 {
        self.now_ms.unwrap_or(wall_ms)
    }

    /// Which records a file read at `now_ms` keeps: all of them in a dry run, only those inside
    /// CloudWatch's window when publishing.
    pub fn window(&self, now_ms: i64) -> crate::aggregate::Window {
        if self.cloudwatch_window {
            crate::aggregate::Window::CloudWatch(now_ms)
        } else {
            crate::aggregate::Window::KeepAll(now_ms)
        }
    }
}

/// Parses an RFC 3339 time (`2026-11-20T13:00:00Z`, `2026-11-20T15:00:00.5+02:00`; `T` and `Z`
/// in either case) into epoch milliseconds.
pub fn parse_time(var: &'static str, v: &str) -> Result<i64, ConfigError> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| ConfigError::BadTime {
            var,
            value: v.to_owned(),
        })
}

pub mod overrides;

#[cfg(test)]
mod tests;

//! Runtime settings, read the same way by the Lambda and `cflogs`: the sink, limits,
//! concurrency, the exactly-once markers and their lease, the window clock, and the metrics
//! configuration of the core. One reader, [`Settings::from_lookup`], for both: the Lambda looks
//! variables up in its environment, `cflogs` in its environment overlaid with the flags given,
//! so the same values are accepted with the same errors, naming the variable or the flag the
//! value came from. Every variable has a documented default (README "Configuration"), kept here
//! beside its setting.

use crate::config::{
    ConfigError, MetricsConfig, parse_dimension_sets, parse_distribution_id, parse_include,
    parse_max_values, parse_namespace, parse_positive, parse_switch,
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            metrics: MetricsConfig::default(),
            sink: crate::sink::SinkKind::CloudWatch,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            file_concurrency: DEFAULT_FILE_CONCURRENCY,
            put_concurrency: DEFAULT_PUT_CONCURRENCY,
            idempotency: true,
            marker_bucket: None,
            marker_prefix: DEFAULT_MARKER_PREFIX.to_owned(),
            marker_lease_seconds: DEFAULT_LEASE_SECONDS,
            now_ms: None,
            cloudwatch_window: true,
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
        if let Some((v, from)) = get(env::MARKER_LEASE_SECONDS) {
            s.marker_lease_seconds = parse_positive(from, &v)?;
        }
        if let Some((v, from)) = get(env::NOW) {
            s.now_ms = Some(parse_time(from, &v)?);
        }
        Ok(s)
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Metric, MetricSet};
    use crate::config::DimensionKey;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<MetricsConfig, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MetricsConfig::from_lookup(|k| m.get(k).map(|v| (v.clone(), k)))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.namespace, "CloudFront/AccessLogs");
        assert_eq!(c.dimension_sets, vec![vec![DimensionKey::DistributionId]]);
        assert_eq!(c.max_dimension_values, 50);
        assert!(c.include.contains(Metric::TimeTaken));
    }

    #[test]
    fn dimension_sets_parse() {
        let c = cfg(&[(
            "METRICS_DIMENSIONS",
            "DistributionId; DistributionId,EdgeLocation;distributionid,statuscode",
        )])
        .unwrap();
        assert_eq!(c.dimension_sets.len(), 3);
        assert_eq!(
            c.dimension_sets[2],
            vec![DimensionKey::DistributionId, DimensionKey::StatusCode]
        );
        let e = cfg(&[("METRICS_DIMENSIONS", "DistributionId,ClientIp")]).unwrap_err();
        assert!(e.to_string().contains("ClientIp"), "{e}");
        assert!(cfg(&[("METRICS_DIMENSIONS", "Host,Host")]).is_err());
        assert!(cfg(&[("METRICS_DIMENSIONS", ";")]).is_err());
    }

    #[test]
    fn include_and_numbers() {
        let c = cfg(&[("METRICS_INCLUDE", "Requests, BytesDownloaded")]).unwrap();
        assert!(c.include.contains(Metric::Requests));
        assert!(!c.include.contains(Metric::Hit));
        assert!(cfg(&[("METRICS_INCLUDE", "Requests,Nope")]).is_err());
        assert!(cfg(&[("METRICS_MAX_DIMENSION_VALUES", "0")]).is_err());
        assert!(cfg(&[("METRICS_MAX_DIMENSION_VALUES", "abc")]).is_err());
        assert!(cfg(&[("METRICS_NAMESPACE", "AWS/CloudFront")]).is_err());
        assert!(cfg(&[("DISTRIBUTION_ID", "not-an-id")]).is_err());
        assert_eq!(
            cfg(&[("DISTRIBUTION_ID", "E2EXAMPLE123")])
                .unwrap()
                .distribution_id
                .as_deref(),
            Some("E2EXAMPLE123")
        );
    }

    #[test]
    fn settings_defaults_and_errors() {
        let m: HashMap<&str, &str> = HashMap::new();
        let s = Settings::from_lookup(|k| m.get(k).map(|v| (v.to_string(), k))).unwrap();
        assert_eq!(s, Settings::default());
        assert!(s.idempotency);
        let m: HashMap<&str, &str> = [
            ("METRICS_SINK", "emf"),
            ("IDEMPOTENCY", "off"),
            ("PUT_CONCURRENCY", "8"),
            ("MARKER_LEASE_SECONDS", "30"),
        ]
        .into_iter()
        .collect();
        let s = Settings::from_lookup(|k| m.get(k).map(|v| (v.to_string(), k))).unwrap();
        assert_eq!(s.sink, crate::sink::SinkKind::Emf);
        assert!(!s.idempotency);
        assert_eq!(s.put_concurrency, 8);
        assert_eq!(s.marker_lease_seconds, 30);
        let m: HashMap<&str, &str> = [("METRICS_SINK", "kinesis")].into_iter().collect();
        let e = Settings::from_lookup(|k| m.get(k).map(|v| (v.to_string(), k))).unwrap_err();
        assert!(e.to_string().contains("METRICS_SINK"), "{e}");
    }

    /// Settings from `pairs`, each found under the source `from` gives for its variable (the
    /// variable itself for the environment, a flag name for `cflogs`).
    fn settings_from(
        pairs: &[(&'static str, &str)],
        from: impl Fn(&'static str) -> &'static str,
    ) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|k| {
            pairs
                .iter()
                .find(|(var, _)| *var == k)
                .map(|(_, v)| (v.to_string(), from(k)))
        })
    }

    /// Every variable, through the environment and through a flag: valid values with what they
    /// set, invalid ones with the exact error, naming the variable or the flag.
    #[test]
    fn every_variable_valid_and_invalid() {
        type Check = fn(&Settings) -> bool;
        let valid: &[(&str, &str, Check)] = &[
            (env::NAMESPACE, " Test/CF ", |s| {
                s.metrics.namespace == "Test/CF"
            }),
            (
                env::DIMENSIONS,
                "DistributionId;DistributionId,Country",
                |s| s.metrics.dimension_sets.len() == 2,
            ),
            (env::INCLUDE, "Requests,timetaken", |s| {
                s.metrics.include.contains(Metric::TimeTaken)
                    && !s.metrics.include.contains(Metric::Hit)
            }),
            (env::INCLUDE, "all", |s| {
                s.metrics.include == MetricSet::all()
            }),
            (env::MAX_DIMENSION_VALUES, "10000", |s| {
                s.metrics.max_dimension_values == 10_000
            }),
            (env::DISTRIBUTION_ID, "E2EXAMPLE123", |s| {
                s.metrics.distribution_id.as_deref() == Some("E2EXAMPLE123")
            }),
            (env::SINK, "EMF", |s| s.sink == crate::sink::SinkKind::Emf),
            (env::SINK, "cloudwatch", |s| {
                s.sink == crate::sink::SinkKind::CloudWatch
            }),
            (env::MAX_DECOMPRESSED_BYTES, "1", |s| {
                s.max_decompressed_bytes == 1
            }),
            (env::MAX_DECOMPRESSED_BYTES, "18446744073709551615", |s| {
                s.max_decompressed_bytes == u64::MAX
            }),
            (env::FILE_CONCURRENCY, "16", |s| s.file_concurrency == 16),
            (env::PUT_CONCURRENCY, " 1 ", |s| s.put_concurrency == 1),
            (env::IDEMPOTENCY, "on", |s| s.idempotency),
            (env::IDEMPOTENCY, "TRUE", |s| s.idempotency),
            (env::IDEMPOTENCY, "1", |s| s.idempotency),
            (env::IDEMPOTENCY, "Off", |s| !s.idempotency),
            (env::IDEMPOTENCY, "false", |s| !s.idempotency),
            (env::IDEMPOTENCY, "0", |s| !s.idempotency),
            (env::MARKER_BUCKET, " markers ", |s| {
                s.marker_bucket.as_deref() == Some("markers")
            }),
            (env::MARKER_PREFIX, "m/", |s| s.marker_prefix == "m/"),
            (env::MARKER_LEASE_SECONDS, "30", |s| {
                s.marker_lease_seconds == 30
            }),
            (env::NOW, "2026-11-20T13:00:00Z", |s| {
                s.now_ms == Some(1_795_179_600_000)
            }),
            (env::NOW, "2026-11-20t15:00:00.250+02:00", |s| {
                s.now_ms == Some(1_795_179_600_250)
            }),
            (env::NOW, "2026-11-20T13:00:00z", |s| {
                s.now_ms == Some(1_795_179_600_000)
            }),
            // Empty or blank: the default.
            (env::MAX_DECOMPRESSED_BYTES, " ", |s| {
                s.max_decompressed_bytes == DEFAULT_MAX_DECOMPRESSED_BYTES
            }),
        ];
        let invalid: &[(&str, &str, &str)] = &[
            (
                env::NAMESPACE,
                "AWS/CloudFront",
                r#"namespace "AWS/CloudFront" must be 1 to 255 characters and not start with "AWS/""#,
            ),
            (
                env::DIMENSIONS,
                "DistributionId,ClientIp",
                r#"unknown dimension key "ClientIp" (supported: DistributionId, EdgeLocation, Host, StatusCode, Method, Protocol, HttpVersion, ResultType, DetailedResultType, ContentType, Country, PathPattern)"#,
            ),
            (
                env::DIMENSIONS,
                "Host,host",
                r#"dimension set "Host,host" names Host twice"#,
            ),
            (env::DIMENSIONS, ";", "no dimension set given"),
            (
                env::INCLUDE,
                "Requests,Nope",
                r#"unknown metric "Nope" (see the metric catalogue in README)"#,
            ),
            (env::INCLUDE, ",", "no metric selected"),
            (
                env::MAX_DIMENSION_VALUES,
                "0",
                r#""0" is not a whole number from 1 to 10000"#,
            ),
            (
                env::MAX_DIMENSION_VALUES,
                "10001",
                r#""10001" is not a whole number from 1 to 10000"#,
            ),
            (
                env::DISTRIBUTION_ID,
                "not-an-id",
                r#""not-an-id" is not a CloudFront distribution ID"#,
            ),
            (
                env::SINK,
                "kinesis",
                r#""kinesis" is not one of cloudwatch, emf"#,
            ),
            (
                env::MAX_DECOMPRESSED_BYTES,
                "0",
                r#""0" is not a positive whole number"#,
            ),
            (
                env::MAX_DECOMPRESSED_BYTES,
                "-5",
                r#""-5" is not a positive whole number"#,
            ),
            (
                env::MAX_DECOMPRESSED_BYTES,
                "20GiB",
                r#""20GiB" is not a positive whole number"#,
            ),
            (
                env::FILE_CONCURRENCY,
                "0",
                r#""0" is not a whole number from 1 to 10000"#,
            ),
            (
                env::PUT_CONCURRENCY,
                "many",
                r#""many" is not a whole number from 1 to 10000"#,
            ),
            (
                env::IDEMPOTENCY,
                "yes",
                r#""yes" is not one of on, off (or true, false, 1, 0)"#,
            ),
            (
                env::MARKER_LEASE_SECONDS,
                "0",
                r#""0" is not a positive whole number"#,
            ),
            (
                env::MARKER_LEASE_SECONDS,
                "45s",
                r#""45s" is not a positive whole number"#,
            ),
            (
                env::NOW,
                "2026-11-20",
                r#""2026-11-20" is not an RFC 3339 time such as 2026-11-20T13:00:00Z"#,
            ),
            (
                env::NOW,
                "2026-11-20T13:00:00",
                r#""2026-11-20T13:00:00" is not an RFC 3339 time such as 2026-11-20T13:00:00Z"#,
            ),
        ];
        // Every variable has a row of each kind (AWS_MAX_ATTEMPTS is read by aws-config).
        for var in env::LAMBDA.iter().chain(&[env::NOW]) {
            let var = *var;
            if var == env::MAX_ATTEMPTS {
                continue;
            }
            assert!(valid.iter().any(|r| r.0 == var), "no valid value of {var}");
            let none_invalid = [env::MARKER_BUCKET, env::MARKER_PREFIX];
            assert!(
                none_invalid.contains(&var) || invalid.iter().any(|r| r.0 == var),
                "no invalid value of {var}"
            );
        }
        let flag = |_: &'static str| "--some-flag";
        for &(var, value, check) in valid {
            for from in [(|v| v) as fn(&'static str) -> &'static str, flag] {
                let s = settings_from(&[(var, value)], from)
                    .unwrap_or_else(|e| panic!("{var}={value:?}: {e}"));
                assert!(check(&s), "{var}={value:?}: {s:?}");
            }
        }
        for &(var, value, error) in invalid {
            let e = settings_from(&[(var, value)], |v| v).unwrap_err();
            assert_eq!(e.to_string(), format!("{var}: {error}"));
            let e = settings_from(&[(var, value)], flag).unwrap_err();
            assert_eq!(e.to_string(), format!("--some-flag: {error}"));
        }
    }

    /// `cflogs` overlays its flags on the environment: the flag's value wins, and its errors
    /// name the flag.
    #[test]
    fn a_flag_overrides_the_environment() {
        let env: HashMap<&str, &str> = [("METRICS_NAMESPACE", "Env/NS"), ("PUT_CONCURRENCY", "2")]
            .into_iter()
            .collect();
        let flags: HashMap<&str, (&str, &'static str)> =
            [("METRICS_NAMESPACE", ("Flag/NS", "--namespace"))]
                .into_iter()
                .collect();
        let lookup = |k: &'static str| {
            flags
                .get(k)
                .map(|(v, f)| (v.to_string(), *f))
                .or_else(|| env.get(k).map(|v| (v.to_string(), k)))
        };
        let s = Settings::from_lookup(lookup).unwrap();
        assert_eq!(s.metrics.namespace, "Flag/NS");
        assert_eq!(s.put_concurrency, 2);
    }

    #[test]
    fn fingerprint_tracks_what_shapes_datums() {
        let a = cfg(&[]).unwrap();
        let b = cfg(&[("METRICS_INCLUDE", "Requests")]).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), cfg(&[]).unwrap().fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }
}

//! Configuration shared by the Lambda and `cflogs`: namespace, dimension sets, metric selection and
//! the cardinality guard. Read from environment variables (the Lambda) and overridden by flags
//! (the CLI); every variable has a documented default (README "Configuration").

use crate::catalogue::{Metric, MetricSet};
use crate::parse::Field;
use std::fmt;

/// Default CloudWatch namespace.
pub const DEFAULT_NAMESPACE: &str = "CloudFront/AccessLogs";
/// Default dimension sets: `DistributionId` alone.
pub const DEFAULT_DIMENSIONS: &str = "DistributionId";
/// Default cardinality guard: values kept per dimension key per file.
pub const DEFAULT_MAX_DIMENSION_VALUES: usize = 50;
/// Most keys in one dimension set.
pub const MAX_KEYS_PER_SET: usize = 8;
/// The value that dimension values beyond the cardinality guard are folded into.
pub const OTHER_VALUE: &str = "Other";

/// Environment variables read by [`MetricsConfig::from_lookup`].
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
}

/// A dimension key a metric can be broken down by. Never IPs, cookies, query strings or request
/// ids: values come only from the fields named here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DimensionKey {
    DistributionId,
    EdgeLocation,
    Host,
    StatusCode,
    Method,
    Protocol,
    HttpVersion,
    ResultType,
    DetailedResultType,
    ContentType,
    Country,
    PathPattern,
}

/// Number of [`DimensionKey`] variants.
pub const DIMENSION_KEY_COUNT: usize = 12;

impl DimensionKey {
    /// Every supported key.
    pub const ALL: [DimensionKey; DIMENSION_KEY_COUNT] = [
        DimensionKey::DistributionId,
        DimensionKey::EdgeLocation,
        DimensionKey::Host,
        DimensionKey::StatusCode,
        DimensionKey::Method,
        DimensionKey::Protocol,
        DimensionKey::HttpVersion,
        DimensionKey::ResultType,
        DimensionKey::DetailedResultType,
        DimensionKey::ContentType,
        DimensionKey::Country,
        DimensionKey::PathPattern,
    ];

    /// The CloudWatch dimension name.
    pub fn name(self) -> &'static str {
        match self {
            DimensionKey::DistributionId => "DistributionId",
            DimensionKey::EdgeLocation => "EdgeLocation",
            DimensionKey::Host => "Host",
            DimensionKey::StatusCode => "StatusCode",
            DimensionKey::Method => "Method",
            DimensionKey::Protocol => "Protocol",
            DimensionKey::HttpVersion => "HttpVersion",
            DimensionKey::ResultType => "ResultType",
            DimensionKey::DetailedResultType => "DetailedResultType",
            DimensionKey::ContentType => "ContentType",
            DimensionKey::Country => "Country",
            DimensionKey::PathPattern => "PathPattern",
        }
    }

    /// The log field the value comes from; `None` for `DistributionId` (from the object key).
    pub fn source(self) -> Option<Field> {
        Some(match self {
            DimensionKey::DistributionId => return None,
            DimensionKey::EdgeLocation => Field::XEdgeLocation,
            DimensionKey::Host => Field::XHostHeader,
            DimensionKey::StatusCode => Field::ScStatus,
            DimensionKey::Method => Field::CsMethod,
            DimensionKey::Protocol => Field::CsProtocol,
            DimensionKey::HttpVersion => Field::CsProtocolVersion,
            DimensionKey::ResultType => Field::XEdgeResultType,
            DimensionKey::DetailedResultType => Field::XEdgeDetailedResultType,
            DimensionKey::ContentType => Field::ScContentType,
            DimensionKey::Country => Field::CCountry,
            DimensionKey::PathPattern => Field::CacheBehaviorPathPattern,
        })
    }

    /// Looks a key up by name, case-insensitively.
    pub fn from_name(name: &str) -> Option<DimensionKey> {
        DimensionKey::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// Position in [`DimensionKey::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DimensionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: unknown dimension key {key:?} (supported: {supported})")]
    UnknownDimension {
        var: &'static str,
        key: String,
        supported: String,
    },
    #[error("{var}: dimension set {set:?} names {key} twice")]
    RepeatedDimension {
        var: &'static str,
        set: String,
        key: DimensionKey,
    },
    #[error("{var}: dimension set {set:?} has more than {MAX_KEYS_PER_SET} keys")]
    TooManyDimensions { var: &'static str, set: String },
    #[error("{var}: no dimension set given")]
    NoDimensionSet { var: &'static str },
    #[error("{var}: unknown metric {name:?} (see the metric catalogue in README)")]
    UnknownMetric { var: &'static str, name: String },
    #[error("{var}: no metric selected")]
    NoMetric { var: &'static str },
    #[error("{var}: {value:?} is not a positive whole number (at most 10000 where a count)")]
    BadNumber { var: &'static str, value: String },
    #[error("{var}: namespace {value:?} must be 1 to 255 characters and not start with \"AWS/\"")]
    BadNamespace { var: &'static str, value: String },
    #[error("{var}: {value:?} is not one of {choices}")]
    BadChoice {
        var: &'static str,
        value: String,
        choices: &'static str,
    },
    #[error("{var}: {value:?} is not a CloudFront distribution ID")]
    BadDistributionId { var: &'static str, value: String },
}

/// What to publish and how to break it down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// CloudWatch namespace.
    pub namespace: String,
    /// Dimension sets; each produces its own rollup of every metric.
    pub dimension_sets: Vec<Vec<DimensionKey>>,
    /// Metrics to publish.
    pub include: MetricSet,
    /// Cardinality guard: values kept per dimension key per file, the rest become `Other`.
    pub max_dimension_values: usize,
    /// Distribution ID used when the object key carries none.
    pub distribution_id: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            dimension_sets: vec![vec![DimensionKey::DistributionId]],
            include: MetricSet::all(),
            max_dimension_values: DEFAULT_MAX_DIMENSION_VALUES,
            distribution_id: None,
        }
    }
}

impl MetricsConfig {
    /// Reads the configuration from a variable lookup (`std::env::var` in the binaries, a map in
    /// tests); unset or empty variables take their defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut c = MetricsConfig::default();
        if let Some(v) = get(env::NAMESPACE) {
            c.namespace = parse_namespace(env::NAMESPACE, &v)?;
        }
        if let Some(v) = get(env::DIMENSIONS) {
            c.dimension_sets = parse_dimension_sets(env::DIMENSIONS, &v)?;
        }
        if let Some(v) = get(env::INCLUDE) {
            c.include = parse_include(env::INCLUDE, &v)?;
        }
        if let Some(v) = get(env::MAX_DIMENSION_VALUES) {
            c.max_dimension_values = parse_max_values(env::MAX_DIMENSION_VALUES, &v)?;
        }
        if let Some(v) = get(env::DISTRIBUTION_ID) {
            c.distribution_id = Some(parse_distribution_id(env::DISTRIBUTION_ID, &v)?);
        }
        Ok(c)
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// A stable fingerprint of everything that shapes the datums of a file: two runs with the same
    /// fingerprint produce the same batches for the same file.
    pub fn fingerprint(&self) -> String {
        let sets: Vec<String> = self
            .dimension_sets
            .iter()
            .map(|s| s.iter().map(|k| k.name()).collect::<Vec<_>>().join(","))
            .collect();
        let metrics: Vec<&str> = Metric::ALL
            .into_iter()
            .filter(|m| self.include.contains(*m))
            .map(|m| m.name())
            .collect();
        let text = format!(
            "v1|{}|{}|{}|{}",
            self.namespace,
            sets.join(";"),
            metrics.join(","),
            self.max_dimension_values
        );
        format!("{:016x}", crate::hash::fnv64(text.as_bytes()))
    }
}

/// Default key prefix of the marker objects.
pub const DEFAULT_MARKER_PREFIX: &str = "_cflm/processed/";
/// Default files processed concurrently per invocation.
pub const DEFAULT_FILE_CONCURRENCY: usize = 4;
/// Default PutMetricData requests in flight per file.
pub const DEFAULT_PUT_CONCURRENCY: usize = 4;

/// Everything the Lambda function reads from its environment.
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            metrics: MetricsConfig::default(),
            sink: crate::sink::SinkKind::CloudWatch,
            max_decompressed_bytes: crate::pipeline::DEFAULT_MAX_DECOMPRESSED_BYTES,
            file_concurrency: DEFAULT_FILE_CONCURRENCY,
            put_concurrency: DEFAULT_PUT_CONCURRENCY,
            idempotency: true,
            marker_bucket: None,
            marker_prefix: DEFAULT_MARKER_PREFIX.to_owned(),
            marker_lease_seconds: crate::idempotency::DEFAULT_LEASE_SECONDS,
        }
    }
}

impl Settings {
    /// Reads the settings from a variable lookup; unset or empty variables take their defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut s = Settings {
            metrics: MetricsConfig::from_lookup(get)?,
            ..Settings::default()
        };
        if let Some(v) = get(env::SINK) {
            s.sink = crate::sink::SinkKind::parse(&v).ok_or(ConfigError::BadChoice {
                var: env::SINK,
                value: v.clone(),
                choices: "cloudwatch, emf",
            })?;
        }
        let number = |var: &'static str, v: String| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or(ConfigError::BadNumber { var, value: v })
        };
        if let Some(v) = get(env::MAX_DECOMPRESSED_BYTES) {
            s.max_decompressed_bytes = number(env::MAX_DECOMPRESSED_BYTES, v)?;
        }
        if let Some(v) = get(env::FILE_CONCURRENCY) {
            s.file_concurrency = parse_max_values(env::FILE_CONCURRENCY, &v)?;
        }
        if let Some(v) = get(env::PUT_CONCURRENCY) {
            s.put_concurrency = parse_max_values(env::PUT_CONCURRENCY, &v)?;
        }
        if let Some(v) = get(env::IDEMPOTENCY) {
            s.idempotency = match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::BadChoice {
                        var: env::IDEMPOTENCY,
                        value: v,
                        choices: "on, off",
                    });
                }
            };
        }
        s.marker_bucket = get(env::MARKER_BUCKET).map(|v| v.trim().to_owned());
        if let Some(v) = get(env::MARKER_PREFIX) {
            s.marker_prefix = v.trim().to_owned();
        }
        if let Some(v) = get(env::MARKER_LEASE_SECONDS) {
            s.marker_lease_seconds = number(env::MARKER_LEASE_SECONDS, v)?;
        }
        Ok(s)
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

/// Parses a namespace.
pub fn parse_namespace(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let v = v.trim();
    if v.is_empty() || v.len() > 255 || v.starts_with("AWS/") {
        return Err(ConfigError::BadNamespace {
            var,
            value: v.to_owned(),
        });
    }
    Ok(v.to_owned())
}

/// Parses `DistributionId;DistributionId,EdgeLocation` into dimension sets.
pub fn parse_dimension_sets(
    var: &'static str,
    v: &str,
) -> Result<Vec<Vec<DimensionKey>>, ConfigError> {
    let mut sets = Vec::new();
    for set in v.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut keys = Vec::new();
        for name in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let key =
                DimensionKey::from_name(name).ok_or_else(|| ConfigError::UnknownDimension {
                    var,
                    key: name.to_owned(),
                    supported: DimensionKey::ALL.map(|k| k.name()).join(", "),
                })?;
            if keys.contains(&key) {
                return Err(ConfigError::RepeatedDimension {
                    var,
                    set: set.to_owned(),
                    key,
                });
            }
            keys.push(key);
        }
        if keys.len() > MAX_KEYS_PER_SET {
            return Err(ConfigError::TooManyDimensions {
                var,
                set: set.to_owned(),
            });
        }
        if !keys.is_empty() && !sets.contains(&keys) {
            sets.push(keys);
        }
    }
    if sets.is_empty() {
        return Err(ConfigError::NoDimensionSet { var });
    }
    Ok(sets)
}

/// Parses a comma-separated list of metric names (`all` selects every metric).
pub fn parse_include(var: &'static str, v: &str) -> Result<MetricSet, ConfigError> {
    let mut set = MetricSet::empty();
    for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name.eq_ignore_ascii_case("all") {
            return Ok(MetricSet::all());
        }
        let m = Metric::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| ConfigError::UnknownMetric {
                var,
                name: name.to_owned(),
            })?;
        set.insert(m);
    }
    if set.is_empty() {
        return Err(ConfigError::NoMetric { var });
    }
    Ok(set)
}

/// Parses the cardinality guard.
pub fn parse_max_values(var: &'static str, v: &str) -> Result<usize, ConfigError> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(ConfigError::BadNumber {
            var,
            value: v.to_owned(),
        }),
    }
}

/// Validates a distribution ID given in configuration.
pub fn parse_distribution_id(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let v = v.trim();
    if crate::distribution::is_distribution_id(v) {
        Ok(v.to_owned())
    } else {
        Err(ConfigError::BadDistributionId {
            var,
            value: v.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<MetricsConfig, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MetricsConfig::from_lookup(|k| m.get(k).cloned())
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
        let s = Settings::from_lookup(|k| m.get(k).map(|v| v.to_string())).unwrap();
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
        let s = Settings::from_lookup(|k| m.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.sink, crate::sink::SinkKind::Emf);
        assert!(!s.idempotency);
        assert_eq!(s.put_concurrency, 8);
        assert_eq!(s.marker_lease_seconds, 30);
        let m: HashMap<&str, &str> = [("METRICS_SINK", "kinesis")].into_iter().collect();
        let e = Settings::from_lookup(|k| m.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(e.to_string().contains("METRICS_SINK"), "{e}");
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

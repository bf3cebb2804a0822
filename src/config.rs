//! The metrics configuration of the core: namespace, dimension sets, metric selection and the
//! cardinality guard ([`MetricsConfig`]), the dimension keys, and the parsers of their values
//! (each error naming the variable or flag the value came from). Pure data and functions: the
//! runtime settings read from the environment and flags are the edge module `settings`.

use crate::catalogue::{Metric, MetricSet};
use crate::distribution::HostMap;
use crate::parse::{Field, RealtimeFields, RealtimeFieldsError};
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

/// A dimension key a metric can be broken down by. Never IPs, cookies, query strings or request
/// ids: values come only from the fields named here.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
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
    #[error("{var}: {value:?} is not a whole number from 1 to 10000")]
    BadCount { var: &'static str, value: String },
    #[error("{var}: {value:?} is not a positive whole number")]
    BadNumber { var: &'static str, value: String },
    #[error("{var}: {value:?} is not an RFC 3339 time such as 2026-11-20T13:00:00Z")]
    BadTime { var: &'static str, value: String },
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
    #[error("{var}: {reason}")]
    RealtimeFields {
        var: &'static str,
        reason: RealtimeFieldsError,
    },
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
    /// Distribution ID used when the object key carries none (and for real-time records that
    /// name none).
    pub distribution_id: Option<String>,
    /// Real-time log records' field selection: set, headerless lines that start with an epoch
    /// timestamp are read by it, and each such record's distribution is resolved on its own
    /// ([`crate::distribution::resolve`]).
    pub realtime: Option<RealtimeFields>,
    /// Distribution domain names and their IDs, for real-time records without
    /// `primary-distribution-id`.
    pub distribution_hosts: HostMap,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            dimension_sets: vec![vec![DimensionKey::DistributionId]],
            include: MetricSet::all(),
            max_dimension_values: DEFAULT_MAX_DIMENSION_VALUES,
            distribution_id: None,
            realtime: None,
            distribution_hosts: HostMap::default(),
        }
    }
}

impl MetricsConfig {
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
        // The real-time field selection and host map are left out: they do not change what a
        // standard log file publishes, so setting them must not make published files look new.
        format!("{:016x}", crate::hash::fnv64(text.as_bytes()))
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

/// Parses a count from 1 to 10000: the cardinality guard, the concurrencies.
pub fn parse_max_values(var: &'static str, v: &str) -> Result<usize, ConfigError> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(ConfigError::BadCount {
            var,
            value: v.to_owned(),
        }),
    }
}

/// Parses a positive whole number: a size in bytes, a number of seconds.
pub fn parse_positive(var: &'static str, v: &str) -> Result<u64, ConfigError> {
    match v.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::BadNumber {
            var,
            value: v.to_owned(),
        }),
    }
}

/// Parses a switch: `on`, `true`, `1` or `off`, `false`, `0`, in any case.
pub fn parse_switch(var: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(ConfigError::BadChoice {
            var,
            value: v.to_owned(),
            choices: "on, off (or true, false, 1, 0)",
        }),
    }
}

/// Validates a distribution ID given in configuration.
/// Parses `host=DISTID,host=DISTID`: distribution domain names and their IDs.
pub fn parse_distribution_hosts(var: &'static str, v: &str) -> Result<HostMap, ConfigError> {
    let mut pairs = Vec::new();
    for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (host, id) = item.split_once('=').ok_or_else(|| ConfigError::BadChoice {
            var,
            value: item.to_owned(),
            choices: "host=DISTRIBUTIONID pairs separated by commas",
        })?;
        let host = host.trim();
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::BadChoice {
                var,
                value: item.to_owned(),
                choices: "host=DISTRIBUTIONID pairs separated by commas",
            });
        }
        pairs.push((host.to_owned(), parse_distribution_id(var, id)?));
    }
    Ok(HostMap::new(pairs))
}

/// Parses a real-time field selection (comma-separated names, any order).
pub fn parse_realtime_fields(var: &'static str, v: &str) -> Result<RealtimeFields, ConfigError> {
    RealtimeFields::parse(v).map_err(|reason| ConfigError::RealtimeFields { var, reason })
}

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

    #[test]
    fn fingerprint_tracks_what_shapes_datums() {
        let a = MetricsConfig::default();
        let b = MetricsConfig {
            include: parse_include("t", "Requests").unwrap(),
            ..MetricsConfig::default()
        };
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), MetricsConfig::default().fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }

    #[test]
    fn values_parse_or_name_their_source() {
        assert_eq!(
            parse_positive("--x", "0")
                .unwrap_err()
                .to_string()
                .split(':')
                .next(),
            Some("--x")
        );
        assert!(parse_switch("V", "TRUE").unwrap());
        assert!(!parse_switch("V", "off").unwrap());
        assert!(parse_namespace("V", "AWS/CloudFront").is_err());
        assert_eq!(parse_max_values("V", "10000").unwrap(), 10_000);
        assert!(parse_max_values("V", "10001").is_err());
    }
}

//! The metric catalogue: every metric this project publishes, with its CloudWatch unit.
//!
//! This is the public contract (README "Metric catalogue"); the SAM template, the CloudWatch
//! dashboard and the Grafana dashboard are checked against it by tests, so it is the single source
//! of truth for metric names.

use std::fmt;

/// One published metric.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Metric {
    Requests,
    BytesDownloaded,
    BytesUploaded,
    Hit,
    RefreshHit,
    Miss,
    Error,
    Redirect,
    LimitExceeded,
    CapacityExceeded,
    LambdaExecutionError,
    OtherResult,
    Status2xx,
    Status3xx,
    Status4xx,
    Status5xx,
    Status000,
    TimeTaken,
    TimeToFirstByte,
    OriginFirstByteLatency,
    OriginLastByteLatency,
    LogFiles,
    DeliveryDelay,
}

/// CloudWatch unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
    Seconds,
}

impl Unit {
    /// The unit's name as CloudWatch spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// How a metric's per-minute aggregate is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A single summed `Value`; zero sums are not sent.
    Sum,
    /// A distribution sent as `Values`/`Counts`, so CloudWatch can answer percentiles.
    Distribution,
}

impl Metric {
    /// Every metric, in the order datums are emitted.
    pub const ALL: [Metric; 23] = [
        Metric::Requests,
        Metric::BytesDownloaded,
        Metric::BytesUploaded,
        Metric::Hit,
        Metric::RefreshHit,
        Metric::Miss,
        Metric::Error,
        Metric::Redirect,
        Metric::LimitExceeded,
        Metric::CapacityExceeded,
        Metric::LambdaExecutionError,
        Metric::OtherResult,
        Metric::Status2xx,
        Metric::Status3xx,
        Metric::Status4xx,
        Metric::Status5xx,
        Metric::Status000,
        Metric::TimeTaken,
        Metric::TimeToFirstByte,
        Metric::OriginFirstByteLatency,
        Metric::OriginLastByteLatency,
        Metric::LogFiles,
        Metric::DeliveryDelay,
    ];

    /// The CloudWatch `MetricName`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Requests => "Requests",
            Metric::BytesDownloaded => "BytesDownloaded",
            Metric::BytesUploaded => "BytesUploaded",
            Metric::Hit => "Hit",
            Metric::RefreshHit => "RefreshHit",
            Metric::Miss => "Miss",
            Metric::Error => "Error",
            Metric::Redirect => "Redirect",
            Metric::LimitExceeded => "LimitExceeded",
            Metric::CapacityExceeded => "CapacityExceeded",
            Metric::LambdaExecutionError => "LambdaExecutionError",
            Metric::OtherResult => "OtherResult",
            Metric::Status2xx => "Status2xx",
            Metric::Status3xx => "Status3xx",
            Metric::Status4xx => "Status4xx",
            Metric::Status5xx => "Status5xx",
            Metric::Status000 => "Status000",
            Metric::TimeTaken => "TimeTaken",
            Metric::TimeToFirstByte => "TimeToFirstByte",
            Metric::OriginFirstByteLatency => "OriginFirstByteLatency",
            Metric::OriginLastByteLatency => "OriginLastByteLatency",
            Metric::LogFiles => "LogFiles",
            Metric::DeliveryDelay => "DeliveryDelay",
        }
    }

    /// The CloudWatch unit.
    pub fn unit(self) -> Unit {
        match self {
            Metric::BytesDownloaded | Metric::BytesUploaded => Unit::Bytes,
            Metric::TimeTaken
            | Metric::TimeToFirstByte
            | Metric::OriginFirstByteLatency
            | Metric::OriginLastByteLatency => Unit::Milliseconds,
            Metric::DeliveryDelay => Unit::Seconds,
            _ => Unit::Count,
        }
    }

    /// Whether the metric is a summed value or a distribution.
    pub fn kind(self) -> Kind {
        match self.unit() {
            Unit::Milliseconds | Unit::Seconds => Kind::Distribution,
            _ => Kind::Sum,
        }
    }

    /// The log field the metric comes from (README catalogue column "From").
    pub fn source(self) -> &'static str {
        match self {
            Metric::Requests => "every accepted record",
            Metric::BytesDownloaded => "sum of sc-bytes",
            Metric::BytesUploaded => "sum of cs-bytes",
            Metric::Hit
            | Metric::RefreshHit
            | Metric::Miss
            | Metric::Error
            | Metric::Redirect
            | Metric::LimitExceeded
            | Metric::CapacityExceeded
            | Metric::LambdaExecutionError => "x-edge-result-type",
            Metric::OtherResult => "x-edge-result-type, any other value",
            Metric::Status2xx
            | Metric::Status3xx
            | Metric::Status4xx
            | Metric::Status5xx
            | Metric::Status000 => "sc-status class",
            Metric::TimeTaken => "time-taken",
            Metric::TimeToFirstByte => "time-to-first-byte",
            Metric::OriginFirstByteLatency => "origin-fbl",
            Metric::OriginLastByteLatency => "origin-lbl",
            Metric::LogFiles => "one per log file published (real-time: per shard-minute)",
            Metric::DeliveryDelay => {
                "publication time minus the file's newest record (real-time: the minute's end)"
            }
        }
    }

    /// Whether the metric describes the delivery of the logs (one value per file or shard-minute,
    /// per distribution, timestamped at publication) rather than the requests in them.
    pub fn is_freshness(self) -> bool {
        matches!(self, Metric::LogFiles | Metric::DeliveryDelay)
    }

    /// Looks a metric up by its `MetricName` (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Position in [`Metric::ALL`]; used as a bit index in [`MetricSet`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of metrics (the `METRICS_INCLUDE` selection), as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSet(u32);

impl MetricSet {
    /// Every metric in the catalogue.
    pub fn all() -> Self {
        MetricSet((1u32 << Metric::ALL.len()) - 1)
    }

    /// No metric.
    pub fn empty() -> Self {
        MetricSet(0)
    }

    /// Adds a metric.
    pub fn insert(&mut self, m: Metric) {
        self.0 |= 1 << m.index();
    }

    /// Whether the set holds `m`.
    pub fn contains(self, m: Metric) -> bool {
        self.0 & (1 << m.index()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_indices_match_order() {
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert_eq!(Metric::from_name("requests"), None);
    }

    #[test]
    fn latency_metrics_are_distributions_in_milliseconds() {
        assert_eq!(Metric::TimeTaken.kind(), Kind::Distribution);
        assert_eq!(Metric::TimeTaken.unit().as_str(), "Milliseconds");
        assert_eq!(Metric::BytesDownloaded.unit(), Unit::Bytes);
        assert_eq!(Metric::Hit.kind(), Kind::Sum);
    }

    #[test]
    fn metric_set_membership() {
        let mut s = MetricSet::empty();
        assert!(s.is_empty());
        s.insert(Metric::Miss);
        assert!(s.contains(Metric::Miss));
        assert!(!s.contains(Metric::Hit));
        assert!(MetricSet::all().contains(Metric::OriginLastByteLatency));
    }
}

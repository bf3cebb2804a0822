//! CloudFront's field names, the subset this project reads, and the canonical column orders
//! used for files that carry no `#Fields` header.

/// A log field this project reads, named after CloudFront's own field name.
///
/// Every other field (cookies, request ids, `x-forwarded-for` ...) is skipped without being looked
/// at. The private fields that are mapped ([`Field::PRIVATE`]: the viewer's IP and the query string,
/// read by `cflogs report` for its unique-visitor sketch and its optional query-keeping URIs) are
/// never in [`FieldSet::CORE`] nor the source of a metric dimension: the metric path never fills
/// them, so they can never reach a metric, a dimension or a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Field {
    /// `date`, `YYYY-MM-DD` (UTC).
    Date,
    /// `time`, `HH:MM:SS` (UTC).
    Time,
    /// `timestamp`: epoch seconds with milliseconds (real-time logs, v2).
    Timestamp,
    /// `timestamp(ms)`: epoch milliseconds (v2).
    TimestampMs,
    /// `sc-bytes`.
    ScBytes,
    /// `cs-bytes`.
    CsBytes,
    /// `sc-status`.
    ScStatus,
    /// `x-edge-result-type`.
    XEdgeResultType,
    /// `time-taken`, seconds.
    TimeTaken,
    /// `time-to-first-byte`, seconds.
    TimeToFirstByte,
    /// `origin-fbl`, seconds.
    OriginFbl,
    /// `origin-lbl`, seconds.
    OriginLbl,
    /// `x-edge-location`.
    XEdgeLocation,
    /// `x-host-header`.
    XHostHeader,
    /// `cs-method`.
    CsMethod,
    /// `cs-protocol`.
    CsProtocol,
    /// `cs-protocol-version`.
    CsProtocolVersion,
    /// `x-edge-detailed-result-type`.
    XEdgeDetailedResultType,
    /// `sc-content-type`.
    ScContentType,
    /// `c-country`.
    CCountry,
    /// `cache-behavior-path-pattern`.
    CacheBehaviorPathPattern,
    /// `cs-host`: the distribution's domain name (real-time logs only; W3C's `cs(Host)` is not
    /// mapped, so standard logs keep the distribution of their object key).
    CsHost,
    /// `primary-distribution-id` (real-time logs only, see [`Field::from_realtime_name`]).
    PrimaryDistributionId,
    /// `cs-uri-stem`: the request path (the traffic report's URIs).
    CsUriStem,
    /// `cs(Referer)` (standard logs) or `cs-referer` (real-time logs).
    CsReferer,
    /// `cs(User-Agent)` (standard logs) or `cs-user-agent` (real-time logs).
    CsUserAgent,
    /// `ssl-protocol`: the TLS version.
    SslProtocol,
    /// `cs(Host)` of standard logs: the distribution's domain name, read by the traffic report
    /// only (to tell the distribution's own referrers from external ones); never [`Field::CsHost`],
    /// which resolves real-time records' distribution.
    CsHostStandard,
    /// `c-ip`: private, read only by the traffic report's unique-visitor sketch (hashed, never
    /// kept or written).
    CIp,
    /// `cs-uri-query`: private, read only by the traffic report when asked to keep query strings.
    CsUriQuery,
}

/// Number of [`Field`] variants: the size of per-record slot arrays.
pub const FIELD_COUNT: usize = 30;

impl Field {
    /// Every field, in slot order.
    pub const ALL: [Field; FIELD_COUNT] = [
        Field::Date,
        Field::Time,
        Field::Timestamp,
        Field::TimestampMs,
        Field::ScBytes,
        Field::CsBytes,
        Field::ScStatus,
        Field::XEdgeResultType,
        Field::TimeTaken,
        Field::TimeToFirstByte,
        Field::OriginFbl,
        Field::OriginLbl,
        Field::XEdgeLocation,
        Field::XHostHeader,
        Field::CsMethod,
        Field::CsProtocol,
        Field::CsProtocolVersion,
        Field::XEdgeDetailedResultType,
        Field::ScContentType,
        Field::CCountry,
        Field::CacheBehaviorPathPattern,
        Field::CsHost,
        Field::PrimaryDistributionId,
        Field::CsUriStem,
        Field::CsReferer,
        Field::CsUserAgent,
        Field::SslProtocol,
        Field::CsHostStandard,
        Field::CIp,
        Field::CsUriQuery,
    ];

    /// The private fields this project maps: never in [`FieldSet::CORE`], never a dimension's
    /// source, never written anywhere.
    pub const PRIVATE: [Field; 2] = [Field::CIp, Field::CsUriQuery];

    /// CloudFront's name for the field, as written in `#Fields` lines and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            Field::Date => "date",
            Field::Time => "time",
            Field::Timestamp => "timestamp",
            Field::TimestampMs => "timestamp(ms)",
            Field::ScBytes => "sc-bytes",
            Field::CsBytes => "cs-bytes",
            Field::ScStatus => "sc-status",
            Field::XEdgeResultType => "x-edge-result-type",
            Field::TimeTaken => "time-taken",
            Field::TimeToFirstByte => "time-to-first-byte",
            Field::OriginFbl => "origin-fbl",
            Field::OriginLbl => "origin-lbl",
            Field::XEdgeLocation => "x-edge-location",
            Field::XHostHeader => "x-host-header",
            Field::CsMethod => "cs-method",
            Field::CsProtocol => "cs-protocol",
            Field::CsProtocolVersion => "cs-protocol-version",
            Field::XEdgeDetailedResultType => "x-edge-detailed-result-type",
            Field::ScContentType => "sc-content-type",
            Field::CCountry => "c-country",
            Field::CacheBehaviorPathPattern => "cache-behavior-path-pattern",
            Field::CsHost => "cs-host",
            Field::PrimaryDistributionId => "primary-distribution-id",
            Field::CsUriStem => "cs-uri-stem",
            Field::CsReferer => "cs(Referer)",
            Field::CsUserAgent => "cs(User-Agent)",
            Field::SslProtocol => "ssl-protocol",
            Field::CsHostStandard => "cs(Host)",
            Field::CIp => "c-ip",
            Field::CsUriQuery => "cs-uri-query",
        }
    }

    /// The field's name in real-time log records, where it differs from [`Field::name`]; `None`
    /// for the fields real-time logs do not have.
    pub fn realtime_name(self) -> Option<&'static str> {
        match self {
            Field::Date | Field::Time | Field::TimestampMs | Field::CsHostStandard => None,
            Field::CsReferer => Some("cs-referer"),
            Field::CsUserAgent => Some("cs-user-agent"),
            f => Some(f.name()),
        }
    }

    /// Looks a field of a standard log (`#Fields` header, JSON key) up by its CloudFront name;
    /// `None` for fields this project does not read there.
    pub fn from_name(name: &[u8]) -> Option<Field> {
        Field::ALL
            .into_iter()
            .filter(|f| !f.realtime_only())
            .find(|f| f.name().as_bytes() == name)
    }

    /// Looks a field of a real-time log record up by its name: also the fields that name the
    /// record's distribution, which only real-time records are resolved by.
    pub fn from_realtime_name(name: &[u8]) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.realtime_name().is_some_and(|n| n.as_bytes() == name))
    }

    /// Whether the field is read from real-time records only.
    fn realtime_only(self) -> bool {
        matches!(self, Field::CsHost | Field::PrimaryDistributionId)
    }

    /// Slot index in per-record arrays.
    #[inline]
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// A set of [`Field`]s: the ones a parser fills (the others read as empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet(u32);

impl FieldSet {
    /// Every field.
    pub const ALL: FieldSet = FieldSet((1 << FIELD_COUNT) - 1);

    /// The fields every record needs whatever the configuration: its time, the counted values
    /// and the latencies.
    pub const CORE: FieldSet = FieldSet::none()
        .with(Field::Date)
        .with(Field::Time)
        .with(Field::Timestamp)
        .with(Field::TimestampMs)
        .with(Field::ScBytes)
        .with(Field::CsBytes)
        .with(Field::ScStatus)
        .with(Field::XEdgeResultType)
        .with(Field::TimeTaken)
        .with(Field::TimeToFirstByte)
        .with(Field::OriginFbl)
        .with(Field::OriginLbl);

    /// No field.
    pub const fn none() -> FieldSet {
        FieldSet(0)
    }

    /// This set and `f`.
    pub const fn with(self, f: Field) -> FieldSet {
        FieldSet(self.0 | 1 << f as u32)
    }

    /// Every field of both sets.
    pub const fn union(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 | other.0)
    }

    /// Whether `f` is in the set.
    #[inline]
    pub fn contains(self, f: Field) -> bool {
        self.0 & (1 << f as u32) != 0
    }
}

/// Every field.
impl Default for FieldSet {
    fn default() -> Self {
        FieldSet::ALL
    }
}

/// Column order of the legacy standard log (33 fields). Older files carry a prefix of it
/// (19, 23, 24, 26 fields ...), which is what a headerless line is mapped by.
pub const LEGACY_ORDER: [&str; 33] = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
];

/// Every real-time log field, in CloudFront's canonical order: a record carries the selected ones
/// in this order, whatever order the configuration lists them in. Positions 1 to 46 are AWS's
/// list (confirmed by real records); 47 to 69 (the CMCD fields and newer ones) follow the order
/// AWS's field reference gives them. `viewer-request-log-data` and `viewer-response-log-data`
/// are left out: their position is not documented.
pub const REALTIME_FIELDS: [&str; 69] = [
    "timestamp",
    "c-ip",
    "s-ip",
    "time-to-first-byte",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-protocol",
    "cs-host",
    "cs-uri-stem",
    "cs-bytes",
    "x-edge-location",
    "x-edge-request-id",
    "x-host-header",
    "time-taken",
    "cs-protocol-version",
    "c-ip-version",
    "cs-user-agent",
    "cs-referer",
    "cs-cookie",
    "cs-uri-query",
    "x-edge-response-result-type",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-result-type",
    "fle-encrypted-fields",
    "fle-status",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
    "c-port",
    "x-edge-detailed-result-type",
    "c-country",
    "cs-accept-encoding",
    "cs-accept",
    "cache-behavior-path-pattern",
    "cs-headers",
    "cs-header-names",
    "cs-headers-count",
    "primary-distribution-id",
    "primary-distribution-dns-name",
    "origin-fbl",
    "origin-lbl",
    "asn",
    "cmcd-encoded-bitrate",
    "cmcd-buffer-length",
    "cmcd-buffer-starvation",
    "cmcd-content-id",
    "cmcd-object-duration",
    "cmcd-deadline",
    "cmcd-measured-throughput",
    "cmcd-next-object-request",
    "cmcd-next-range-request",
    "cmcd-object-type",
    "cmcd-playback-rate",
    "cmcd-requested-maximum-throughput",
    "cmcd-streaming-format",
    "cmcd-session-id",
    "cmcd-stream-type",
    "cmcd-startup",
    "cmcd-top-bitrate",
    "cmcd-version",
    "r-host",
    "sr-reason",
    "x-edge-mqcs",
    "distribution-tenant-id",
    "connection-id",
];

/// The first 46 real-time fields: the layout assumed for headerless lines that start with an
/// epoch timestamp when no field selection is configured.
pub const REALTIME_ORDER: &[&str] = REALTIME_FIELDS.split_at(46).0;

/// A column or field name, normalised for comparison: lower case, every run of characters other
/// than ASCII letters and digits one `_`, none at either end (`cs(User-Agent)`, `cs_user_agent`
/// and `CS_User_Agent` are all `cs_user_agent`). Parquet columns are matched by it.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_declaration_order() {
        for (i, f) in Field::ALL.into_iter().enumerate() {
            assert_eq!(f.slot(), i);
            if let Some(n) = f.realtime_name() {
                assert_eq!(Field::from_realtime_name(n.as_bytes()), Some(f));
            }
            let standard = Field::from_name(f.name().as_bytes());
            assert_eq!(standard, (!f.realtime_only()).then_some(f));
        }
        // Both spellings of the header fields, each in its own kind of log.
        assert_eq!(Field::from_name(b"cs(Referer)"), Some(Field::CsReferer));
        assert_eq!(
            Field::from_realtime_name(b"cs-referer"),
            Some(Field::CsReferer)
        );
        assert_eq!(
            Field::from_realtime_name(b"cs-user-agent"),
            Some(Field::CsUserAgent)
        );
        assert_eq!(Field::from_name(b"cs(Host)"), Some(Field::CsHostStandard));
        assert_eq!(Field::from_realtime_name(b"cs(Host)"), None);
        assert_eq!(Field::from_realtime_name(b"cs-host"), Some(Field::CsHost));
    }

    #[test]
    fn real_time_fields_are_unique_and_every_field_read_is_one() {
        let mut seen = std::collections::HashSet::new();
        assert!(REALTIME_FIELDS.iter().all(|n| seen.insert(*n)));
        for f in Field::ALL {
            let realtime = f
                .realtime_name()
                .is_some_and(|n| REALTIME_FIELDS.contains(&n));
            assert_eq!(
                realtime,
                !matches!(
                    f,
                    Field::Date | Field::Time | Field::TimestampMs | Field::CsHostStandard
                ),
                "{f:?}"
            );
        }
    }

    #[test]
    fn private_fields_are_never_read_by_the_metric_path() {
        // Cookies, request ids and forwarded-for chains are never mapped at all.
        for name in [
            "cs(Cookie)",
            "cs-cookie",
            "x-edge-request-id",
            "x-forwarded-for",
        ] {
            assert_eq!(Field::from_name(name.as_bytes()), None, "{name}");
            assert_eq!(Field::from_realtime_name(name.as_bytes()), None, "{name}");
        }
        // The viewer's IP and the query string are mapped for the traffic report only: never in
        // the fields every record fills, never a dimension's source.
        for f in Field::PRIVATE {
            assert!(!FieldSet::CORE.contains(f), "{f:?} in CORE");
            for k in crate::config::DimensionKey::ALL {
                assert_ne!(k.source(), Some(f), "{k:?}");
            }
        }
        assert_eq!(Field::from_name(b"c-ip"), Some(Field::CIp));
        assert_eq!(Field::from_name(b"cs-uri-query"), Some(Field::CsUriQuery));
    }

    #[test]
    fn canonical_orders_contain_the_fields_we_read() {
        for f in [
            Field::Date,
            Field::ScBytes,
            Field::TimeTaken,
            Field::XEdgeDetailedResultType,
        ] {
            assert!(LEGACY_ORDER.contains(&f.name()));
        }
        for f in [Field::Timestamp, Field::OriginLbl, Field::CCountry] {
            assert!(REALTIME_ORDER.contains(&f.name()));
        }
    }
}

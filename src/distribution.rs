//! Finding a log file's distribution ID (and the hour it covers) from its object key or path.
//!
//! Legacy standard logs are named `<prefix>/<DISTID>.YYYY-MM-DD-HH.<unique>.gz`; v2 logs carry the
//! ID in a path segment when the delivery's suffix path uses `{DistributionId}`, plain or Hive
//! style (`distributionid=E123...`). There is no distribution field in standard log records.
//!
//! Real-time records are resolved one by one ([`resolve`]): by their `primary-distribution-id`
//! when selected, else by their `cs-host` (the distribution's domain name) through a configured
//! [`HostMap`], else by the one distribution configured for the stream.

use crate::parse::{Field, Record};

/// Distribution domain names (or alternate domain names) and the IDs they belong to, from
/// configuration (`DISTRIBUTION_HOSTS=d111abcdef8.cloudfront.net=E2Q4ABCDEFGH,...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMap(Vec<(String, String)>);

impl HostMap {
    /// A map of `(host, distribution ID)` pairs; hosts compare case-insensitively.
    pub fn new(pairs: Vec<(String, String)>) -> HostMap {
        HostMap(
            pairs
                .into_iter()
                .map(|(h, id)| (h.to_ascii_lowercase(), id))
                .collect(),
        )
    }

    /// The distribution ID of `host`.
    pub fn get(&self, host: &[u8]) -> Option<&str> {
        self.0
            .iter()
            .find(|(h, _)| h.as_bytes().eq_ignore_ascii_case(host))
            .map(|(_, id)| id.as_str())
    }

    /// Whether no host is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, as configured.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// The distribution of one real-time record: its `primary-distribution-id` when that is a
/// distribution ID, else the ID `hosts` maps its `cs-host` to, else `default` (when not empty).
/// `None` when none applies: the record is counted as unresolved, never published under a
/// guessed distribution.
#[inline]
pub fn resolve<'a>(r: &Record<'a>, hosts: &'a HostMap, default: &'a str) -> Option<&'a [u8]> {
    let primary = r.field(Field::PrimaryDistributionId);
    if std::str::from_utf8(primary).is_ok_and(is_distribution_id) {
        return Some(primary);
    }
    let host = r.field(Field::CsHost);
    if !host.is_empty()
        && let Some(id) = hosts.get(host)
    {
        return Some(id.as_bytes());
    }
    (!default.is_empty()).then_some(default.as_bytes())
}

/// Whether `s` looks like a CloudFront distribution ID: `E` then 8 to 20 upper-case letters and
/// digits.
pub fn is_distribution_id(s: &str) -> bool {
    let b = s.as_bytes();
    (9..=21).contains(&b.len())
        && b[0] == b'E'
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// What the key says about a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The distribution ID, when the key carries one.
    pub distribution_id: Option<String>,
    /// The UTC hour the file covers, as epoch hours, when the key carries it.
    pub hour: Option<i64>,
}

fn legacy_name(name: &str) -> Option<(&str, i64)> {
    // <DISTID>.YYYY-MM-DD-HH.<unique>[.gz]
    let mut parts = name.split('.');
    let id = parts.next()?;
    let stamp = parts.next()?;
    parts.next()?;
    let b = stamp.as_bytes();
    if b.len() != 13 || b[10] != b'-' {
        return None;
    }
    let days = crate::parse::value::date_field(&b[..10]).ok()?;
    let hour: i64 = stamp[11..].parse().ok().filter(|h| (0..24).contains(h))?;
    is_distribution_id(id).then_some((id, days * 24 + hour))
}

fn hive_hour(segments: &[&str]) -> Option<i64> {
    let get = |k: &str| -> Option<u32> {
        segments.iter().find_map(|s| {
            let (key, v) = s.split_once('=')?;
            if key.eq_ignore_ascii_case(k) {
                v.parse().ok()
            } else {
                None
            }
        })
    };
    let (y, m, d, h) = (get("year")?, get("month")?, get("day")?, get("hour")?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 {
        return None;
    }
    Some(crate::parse::value::days_from_civil(i64::from(y), m, d) * 24 + i64::from(h))
}

/// Reads the distribution ID and hour from an object key or file path (already URL-decoded).
pub fn key_info(key: &str) -> KeyInfo {
    let segments: Vec<&str> = key.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
    let name = segments.last().copied().unwrap_or("");
    if let Some((id, hour)) = legacy_name(name) {
        return KeyInfo {
            distribution_id: Some(id.to_owned()),
            hour: Some(hour),
        };
    }
    let hive = segments.iter().find_map(|s| {
        let (k, v) = s.split_once('=')?;
        (k.eq_ignore_ascii_case("distributionid") && is_distribution_id(v)).then_some(v)
    });
    let plain = || {
        segments[..segments.len().saturating_sub(1)]
            .iter()
            .copied()
            .find(|s| is_distribution_id(s))
    };
    KeyInfo {
        distribution_id: hive.or_else(plain).map(str::to_owned),
        hour: hive_hour(&segments),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_distribution_id("EMLARXS9EXAMPLE"));
        assert!(is_distribution_id("E2Q4ABCDEFGH"));
        assert!(!is_distribution_id("E1234567"));
        assert!(!is_distribution_id("e2q4abcdefgh"));
        assert!(!is_distribution_id("X2Q4ABCDEFGH"));
    }

    #[test]
    fn legacy_file_name() {
        let k = key_info("example-prefix/EMLARXS9EXAMPLE.2019-11-14-20.RT4KCN4SGK9.gz");
        assert_eq!(k.distribution_id.as_deref(), Some("EMLARXS9EXAMPLE"));
        let days = crate::parse::value::days_from_civil(2019, 11, 14);
        assert_eq!(k.hour, Some(days * 24 + 20));
        let k = key_info("EMLARXS9EXAMPLE.2019-11-14-20.RT4KCN4SGK9.gz");
        assert_eq!(k.distribution_id.as_deref(), Some("EMLARXS9EXAMPLE"));
    }

    #[test]
    fn hive_and_plain_segments() {
        let k = key_info(
            "cloudfront/DistributionId=E2Q4ABCDEFGH/year=2025/month=01/day=02/hour=03/logs/file.log.gz",
        );
        assert_eq!(k.distribution_id.as_deref(), Some("E2Q4ABCDEFGH"));
        let days = crate::parse::value::days_from_civil(2025, 1, 2);
        assert_eq!(k.hour, Some(days * 24 + 3));
        let k = key_info("AWSLogs/123/CloudFront/E2Q4ABCDEFGH/2025/01/02/03/x.gz");
        assert_eq!(k.distribution_id.as_deref(), Some("E2Q4ABCDEFGH"));
        assert_eq!(k.hour, None);
        // A name shaped like a legacy one but without a distribution ID does not win over the path.
        let k = key_info("v2/DistributionId=E2Q4ABCDEFGH/ABC.2024-11-15-11.json.gz");
        assert_eq!(k.distribution_id.as_deref(), Some("E2Q4ABCDEFGH"));
        let k = key_info("logs/some file.gz");
        assert_eq!(k.distribution_id, None);
    }
}

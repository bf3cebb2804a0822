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

/// The hour of a path whose directories hold `yyyy/MM/dd/HH` as four consecutive segments (a v2
/// suffix path without Hive-style names); the first such run counts.
fn path_hour(dirs: &[&str]) -> Option<i64> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    dirs.windows(4).find_map(|w| {
        if !(digits(w[0], 4) && digits(w[1], 2) && digits(w[2], 2) && digits(w[3], 2)) {
            return None;
        }
        let date = format!("{}-{}-{}", w[0], w[1], w[2]);
        let days = crate::parse::value::date_field(date.as_bytes()).ok()?;
        let hour: i64 = w[3].parse().ok().filter(|h| (0..24).contains(h))?;
        Some(days * 24 + hour)
    })
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
    let dirs = &segments[..segments.len().saturating_sub(1)];
    let plain = || dirs.iter().copied().find(|s| is_distribution_id(s));
    KeyInfo {
        distribution_id: hive.or_else(plain).map(str::to_owned),
        hour: hive_hour(&segments).or_else(|| path_hour(dirs)),
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
        assert_eq!(k.hour, Some(days * 24 + 3));
        // Not a date: a month 13, a 30 February, or the four segments not consecutive.
        assert_eq!(key_info("cf/E2Q4ABCDEFGH/2025/13/02/03/x.gz").hour, None);
        assert_eq!(key_info("cf/E2Q4ABCDEFGH/2025/02/30/03/x.gz").hour, None);
        assert_eq!(key_info("cf/2025/01/E2Q4ABCDEFGH/02/03/x.gz").hour, None);
        // The file name is not a directory: no hour from "…/2025/01/02/03".
        assert_eq!(key_info("cf/E2Q4ABCDEFGH/2025/01/02/03").hour, None);
        // A name shaped like a legacy one but without a distribution ID does not win over the path.
        let k = key_info("v2/DistributionId=E2Q4ABCDEFGH/ABC.2024-11-15-11.json.gz");
        assert_eq!(k.distribution_id.as_deref(), Some("E2Q4ABCDEFGH"));
        let k = key_info("logs/some file.gz");
        assert_eq!(k.distribution_id, None);
    }

    /// Expands a v2 suffix path as CloudFront does: each variable becomes its value, or with
    /// Hive-compatible paths a `name=value` segment.
    fn expand(suffix: &str, hive: bool, id: &str, (y, m, d, h): (i64, u32, u32, u32)) -> String {
        let vars = [
            ("{DistributionId}", "DistributionId", id.to_owned()),
            ("{distributionid}", "distributionid", id.to_owned()),
            ("{accountid}", "accountid", ACCOUNT.to_owned()),
            ("{yyyy}", "year", format!("{y:04}")),
            ("{MM}", "month", format!("{m:02}")),
            ("{dd}", "day", format!("{d:02}")),
            ("{HH}", "hour", format!("{h:02}")),
        ];
        let mut out = suffix.to_owned();
        for (var, hive_name, value) in vars {
            let with = if hive {
                format!("{hive_name}={value}")
            } else {
                value
            };
            out = out.replace(var, &with);
        }
        out
    }

    const ACCOUNT: &str = "123456789012";

    #[test]
    fn every_v2_path_layout_names_distribution_and_hour() {
        // The destination's prefix (LogPrefix), or none: then CloudFront's own AWSLogs/… prefix.
        let prefixes = |hive: bool| {
            let default = if hive {
                format!("AWSLogs/aws-account-id={ACCOUNT}/CloudFront/")
            } else {
                format!("AWSLogs/{ACCOUNT}/CloudFront/")
            };
            ["cloudfront/".to_owned(), "logs/v2/".to_owned(), default]
        };
        // The template's default first; then either spelling, with and without {accountid},
        // the variables in other orders, literal segments, the AWS documentation's examples.
        let suffixes = [
            "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}",
            "{distributionid}/{yyyy}/{MM}/{dd}/{HH}",
            "{accountid}/{DistributionId}/{yyyy}/{MM}/{dd}/{HH}",
            "{DistributionId}/{accountid}/{yyyy}/{MM}/{dd}/{HH}",
            "{yyyy}/{MM}/{dd}/{HH}/{DistributionId}",
            "{yyyy}/{MM}/{dd}/{HH}/{accountid}/{distributionid}",
            "{accountid}/{yyyy}/{MM}/{dd}/{HH}/{distributionid}/logs",
            "/cloudfront/{DistributionId}/my_distribution_log_data/{yyyy}/{MM}/{dd}/{HH}/logs",
        ];
        let names = ["a1b2c3d4.log.gz", "a1b2c3d4.parquet", "a1b2c3d4"];
        let ids = ["E2Q4ABCDEFGH", "EMLARXS9EXAMPLE"];
        // A leap day at midnight, the last hour of a year.
        let hours = [(2024, 2, 29, 0), (2025, 12, 31, 23)];
        let mut checked = 0;
        for hive in [false, true] {
            for prefix in prefixes(hive) {
                for suffix in suffixes {
                    for name in names {
                        for (id, when) in ids.iter().zip(hours) {
                            let key = format!("{prefix}{}/{name}", expand(suffix, hive, id, when));
                            assert_eq!(key.contains("year="), hive, "{key}");
                            let k = key_info(&key);
                            assert_eq!(k.distribution_id.as_deref(), Some(*id), "{key}");
                            let (y, m, d, h) = when;
                            let hour = crate::parse::value::days_from_civil(y, m, d) * 24;
                            assert_eq!(k.hour, Some(hour + i64::from(h)), "{key}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 2 * 3 * suffixes.len() * names.len() * ids.len());
    }

    #[test]
    fn account_ids_and_lookalikes_are_never_distribution_ids() {
        // Only the account in the path: no distribution ID, whatever the layout.
        for key in [
            format!("AWSLogs/{ACCOUNT}/CloudFront/2025/01/02/03/a.gz"),
            format!("AWSLogs/aws-account-id={ACCOUNT}/CloudFront/accountid={ACCOUNT}/x.parquet"),
            format!("cf/distributionid={ACCOUNT}/year=2025/month=01/day=02/hour=03/a.gz"),
            "cf/distributionid=e2q4abcdefgh/a.gz".to_owned(),
            // A file named like an ID is not a directory segment.
            "cf/E2Q4ABCDEFGH".to_owned(),
        ] {
            assert_eq!(key_info(&key).distribution_id, None, "{key}");
        }
        // The Hive segment wins over an earlier plain segment that looks like an ID.
        let k = key_info("EARCHIVE2025X/distributionid=E2Q4ABCDEFGH/a.gz");
        assert_eq!(k.distribution_id.as_deref(), Some("E2Q4ABCDEFGH"));
    }
}

//! One log record to one JSON document: `@timestamp` (ISO 8601 UTC with milliseconds, from
//! `date`+`time`, `timestamp` or `timestamp(ms)`), `distribution_id`, `source`, then every known
//! field under its export name ([`super::schema`]) with its type: numbers as numbers, seconds as
//! floating point, user agent / referer / URI URL-decoded, `-` left out, private fields left
//! out or truncated as [`Privacy`] says.

use super::privacy::{IpMode, Privacy, decode_ip_list, strip_url, truncate_ip, truncate_ip_list};
use super::schema::{FIELDS, Kind, Private};
use crate::distribution::{HostMap, is_distribution_id};
use crate::parse::value;
use percent_encoding::percent_decode;
use std::fmt;

/// Why a record makes no document. Never carries the record's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocError {
    /// No `date`+`time`, `timestamp` or `timestamp(ms)`.
    NoTime,
    /// A field of a number type holds something else.
    BadValue(&'static str),
}

impl fmt::Display for DocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocError::NoTime => f.write_str("no date/time, timestamp or timestamp(ms) value"),
            DocError::BadValue(name) => write!(f, "field {name} is not a valid value of its type"),
        }
    }
}

/// Where documents come from and what they may carry.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The file (path or `s3://bucket/key`) or stream the record was read from.
    pub source: &'a str,
    /// The distribution of records that name none themselves (may be empty).
    pub distribution_id: &'a str,
    /// Domain names of distributions, for real-time records without `primary-distribution-id`.
    pub hosts: &'a HostMap,
    pub privacy: Privacy,
}

fn is_empty(v: &[u8]) -> bool {
    v.is_empty() || v == b"-"
}

/// Epoch milliseconds of the record, from the first time field that has a value.
fn timestamp(cols: &[(usize, &[u8])]) -> Result<i64, DocError> {
    let get = |name: &str| {
        cols.iter()
            .find(|(i, v)| FIELDS[*i].name == name && !is_empty(v))
            .map(|(_, v)| *v)
    };
    let bad = |name: &'static str| move |_| DocError::BadValue(name);
    if let Some(v) = get("timestamp(ms)") {
        return value::epoch_millis_field(v)
            .map_err(bad("timestamp(ms)"))?
            .ok_or(DocError::NoTime);
    }
    if let Some(v) = get("timestamp") {
        return value::epoch_seconds_field(v)
            .map_err(bad("timestamp"))?
            .ok_or(DocError::NoTime);
    }
    match (get("date"), get("time")) {
        (Some(d), Some(t)) => {
            let days = value::date_field(d).map_err(bad("date"))?;
            let secs = value::time_field(t).map_err(bad("time"))?;
            Ok((days * 86_400 + secs) * 1000)
        }
        _ => Err(DocError::NoTime),
    }
}

/// `2026-11-20T12:00:01.123Z`.
pub fn iso8601_ms(ms: i64) -> String {
    let s = value::format_rfc3339(ms);
    format!("{}.{:03}Z", &s[..s.len() - 1], ms.rem_euclid(1000))
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly what JSON needs; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_key(out: &mut Vec<u8>, key: &str) {
    out.push(b',');
    push_str(out, key);
    out.push(b':');
}

/// The record's distribution: a valid `primary-distribution-id`, else the ID `hosts` maps its
/// `cs-host` to, else the context's.
fn distribution<'a>(cols: &[(usize, &'a [u8])], ctx: &Context<'a>) -> &'a str {
    let get = |name: &str| {
        cols.iter()
            .find(|(i, v)| FIELDS[*i].name == name && !is_empty(v))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    };
    if let Some(id) = get("primary-distribution-id").filter(|id| is_distribution_id(id)) {
        return id;
    }
    if let Some(id) = get("cs-host").and_then(|h| ctx.hosts.get(h.as_bytes())) {
        return id;
    }
    ctx.distribution_id
}

/// Writes the document of one record — `cols` are (field index in [`FIELDS`], raw value) — to
/// `out` (without a newline). Repeated fields keep their first value.
pub fn write(
    cols: &mut [(usize, &[u8])],
    ctx: &Context<'_>,
    out: &mut Vec<u8>,
) -> Result<(), DocError> {
    let start = out.len();
    let r = write_doc(cols, ctx, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn write_doc(
    cols: &mut [(usize, &[u8])],
    ctx: &Context<'_>,
    out: &mut Vec<u8>,
) -> Result<(), DocError> {
    let ms = timestamp(cols)?;
    cols.sort_by_key(|(i, _)| *i);
    out.extend_from_slice(b"{\"@timestamp\":");
    push_str(out, &iso8601_ms(ms));
    let dist = distribution(cols, ctx);
    if !dist.is_empty() {
        push_key(out, "distribution_id");
        push_str(out, dist);
    }
    push_key(out, "source");
    push_str(out, ctx.source);
    let mut last = usize::MAX;
    for &(i, v) in cols.iter() {
        if i == last || is_empty(v) {
            continue;
        }
        last = i;
        let spec = FIELDS[i];
        if spec.kind == Kind::Time || !ctx.privacy.keeps(spec.private) {
            continue;
        }
        let text = String::from_utf8_lossy(v);
        let bad = || DocError::BadValue(spec.name);
        match spec.kind {
            Kind::Time => {}
            Kind::Long => {
                let n: u64 = text.trim().parse().map_err(|_| bad())?;
                push_key(out, spec.name);
                out.extend_from_slice(n.to_string().as_bytes());
            }
            Kind::Float => {
                let f: f64 = text.trim().parse().map_err(|_| bad())?;
                if !f.is_finite() {
                    return Err(bad());
                }
                push_key(out, spec.name);
                let _ = serde_json::to_writer(&mut *out, &f);
            }
            Kind::Ip => {
                let ip = match (spec.private, ctx.privacy.client_ip) {
                    (Private::ClientIp, IpMode::Truncate) => truncate_ip(&text).ok_or_else(bad)?,
                    _ => {
                        text.trim().parse::<std::net::IpAddr>().map_err(|_| bad())?;
                        text.trim().to_owned()
                    }
                };
                push_key(out, spec.name);
                push_str(out, &ip);
            }
            Kind::Keyword if spec.private == Private::ClientIp => {
                // x-forwarded-for: a list of client addresses.
                let list = match ctx.privacy.client_ip {
                    IpMode::Truncate => truncate_ip_list(&text),
                    _ => decode_ip_list(&text),
                };
                if !list.is_empty() {
                    push_key(out, spec.name);
                    push_str(out, &list);
                }
            }
            Kind::Keyword => {
                push_key(out, spec.name);
                push_str(out, &text);
            }
            Kind::Decoded => {
                push_key(out, spec.name);
                push_str(out, &percent_decode(v).decode_utf8_lossy());
            }
            Kind::Url => {
                // Real-time cs-uri-stem carries the query string, referers and CMCD's next
                // object may, any of them path parameters (`;jsessionid=`): all go with the
                // query-string switch. Cut before decoding and again after, so that neither a
                // raw nor an encoded `?` or `;` lets one through.
                let decoded = if ctx.privacy.query_strings {
                    percent_decode(v).decode_utf8_lossy().into_owned()
                } else {
                    let raw = strip_url(&text);
                    strip_url(&percent_decode(raw.as_bytes()).decode_utf8_lossy())
                };
                push_key(out, spec.name);
                push_str(out, &decoded);
            }
        }
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::schema::lookup;

    fn doc(pairs: &[(&str, &str)], privacy: Privacy) -> Result<serde_json::Value, DocError> {
        let mut cols: Vec<(usize, &[u8])> = pairs
            .iter()
            .filter_map(|(n, v)| Some((lookup(n.as_bytes())?, v.as_bytes())))
            .collect();
        let hosts = HostMap::new(vec![("d1.cloudfront.net".into(), "E6EXAMPLE7890".into())]);
        let ctx = Context {
            source: "s3://b/k.gz",
            distribution_id: "E2EXAMPLE1234",
            hosts: &hosts,
            privacy,
        };
        let mut out = Vec::new();
        write(&mut cols, &ctx, &mut out)?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn types_names_and_decoding() {
        let d = doc(
            &[
                ("date", "2026-11-20"),
                ("time", "12:00:01"),
                ("sc-bytes", "512"),
                ("time-taken", "0.002"),
                ("cs(Host)", "d1.cloudfront.net"),
                ("cs(User-Agent)", "Mozilla/5.0%20(X11)"),
                ("cs-uri-stem", "/a%20b.html"),
                ("sc-status", "-"),
                ("c-ip", "203.0.113.77"),
                ("cs(Cookie)", "session=secret"),
                ("x-edge-request-id", "abc=="),
                ("no-such-field", "x"),
            ],
            Privacy::default(),
        )
        .unwrap();
        assert_eq!(
            d,
            serde_json::json!({
                "@timestamp": "2026-11-20T12:00:01.000Z",
                "distribution_id": "E6EXAMPLE7890",
                "source": "s3://b/k.gz",
                "c-ip": "203.0.113.0",
                "sc-bytes": 512,
                "cs-host": "d1.cloudfront.net",
                "cs-uri-stem": "/a b.html",
                "time-taken": 0.002,
                "cs-user-agent": "Mozilla/5.0 (X11)",
            })
        );
    }

    #[test]
    fn real_time_uri_loses_its_query_unless_kept() {
        let pairs = [
            ("timestamp", "1795176000.123"),
            ("cs-uri-stem", "/x?token=s3cr3t"),
        ];
        let d = doc(&pairs, Privacy::default()).unwrap();
        assert_eq!(d["cs-uri-stem"], "/x");
        assert_eq!(d["@timestamp"], "2026-11-20T12:00:00.123Z");
        let keep = Privacy {
            query_strings: true,
            ..Privacy::default()
        };
        assert_eq!(doc(&pairs, keep).unwrap()["cs-uri-stem"], "/x?token=s3cr3t");
    }

    #[test]
    fn bad_numbers_and_missing_time_are_errors_naming_the_field() {
        let e = doc(
            &[("timestamp(ms)", "1795176000123"), ("sc-bytes", "lots")],
            Privacy::default(),
        );
        assert_eq!(e.unwrap_err(), DocError::BadValue("sc-bytes"));
        assert_eq!(
            doc(&[("sc-bytes", "1")], Privacy::default()).unwrap_err(),
            DocError::NoTime
        );
    }
}

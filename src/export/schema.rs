//! The export's field table: every CloudFront log field the exporter knows, under the one name
//! its documents use (hyphenated, as real-time logs and v2 name them: W3C's `cs(Host)`,
//! `cs(Referer)`, `cs(User-Agent)` and `cs(Cookie)` become `cs-host`, `cs-referer`,
//! `cs-user-agent` and `cs-cookie` in every format), with its type and whether it is private.

/// How a field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string, as logged.
    Keyword,
    /// A string, URL-decoded once (user agent).
    Decoded,
    /// A URL or path (URI, referer, CMCD next object): URL-decoded once, its query string and
    /// path parameters left out unless query strings are kept.
    Url,
    /// A whole number.
    Long,
    /// Seconds (or another fraction): a floating-point number.
    Float,
    /// An IP address.
    Ip,
    /// Part of `@timestamp`, not written on its own (`date`, `time`, `timestamp`, `timestamp(ms)`).
    Time,
}

impl Kind {
    /// The OpenSearch / Elasticsearch mapping type of the field.
    pub fn mapping(self) -> &'static str {
        match self {
            Kind::Keyword | Kind::Decoded | Kind::Url => "keyword",
            Kind::Long => "long",
            Kind::Float => "float",
            Kind::Ip => "ip",
            Kind::Time => "date",
        }
    }
}

/// Why a field may be left out of documents ([`super::privacy::Privacy`] decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Private {
    No,
    /// The viewer's IP (`c-ip`, `x-forwarded-for`).
    ClientIp,
    /// `cs-cookie`.
    Cookie,
    /// `cs-uri-query` (and the query part of URIs and referers).
    Query,
    /// `x-edge-request-id`.
    RequestId,
    /// `cs-headers` (header values).
    Headers,
    /// `cmcd-session-id`.
    SessionId,
    /// `connection-id`.
    ConnectionId,
}

/// One field of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The document's key.
    pub name: &'static str,
    pub kind: Kind,
    pub private: Private,
}

const fn spec(name: &'static str, kind: Kind, private: Private) -> Spec {
    Spec {
        name,
        kind,
        private,
    }
}

use Kind::*;
use Private::{ClientIp, ConnectionId, Cookie, Headers, No, Query, RequestId, SessionId};

/// Every known field, in the order documents list them (canonical real-time order, then the
/// fields only standard logs have).
pub const FIELDS: &[Spec] = &[
    spec("timestamp", Time, No),
    spec("c-ip", Ip, ClientIp),
    spec("s-ip", Ip, No),
    spec("time-to-first-byte", Float, No),
    spec("sc-status", Long, No),
    spec("sc-bytes", Long, No),
    spec("cs-method", Keyword, No),
    spec("cs-protocol", Keyword, No),
    spec("cs-host", Keyword, No),
    spec("cs-uri-stem", Url, No),
    spec("cs-bytes", Long, No),
    spec("x-edge-location", Keyword, No),
    spec("x-edge-request-id", Keyword, RequestId),
    spec("x-host-header", Keyword, No),
    spec("time-taken", Float, No),
    spec("cs-protocol-version", Keyword, No),
    spec("c-ip-version", Keyword, No),
    spec("cs-user-agent", Decoded, No),
    spec("cs-referer", Url, No),
    spec("cs-cookie", Keyword, Cookie),
    spec("cs-uri-query", Keyword, Query),
    spec("x-edge-response-result-type", Keyword, No),
    spec("x-forwarded-for", Keyword, ClientIp),
    spec("ssl-protocol", Keyword, No),
    spec("ssl-cipher", Keyword, No),
    spec("x-edge-result-type", Keyword, No),
    spec("fle-encrypted-fields", Keyword, No),
    spec("fle-status", Keyword, No),
    spec("sc-content-type", Keyword, No),
    spec("sc-content-len", Long, No),
    spec("sc-range-start", Long, No),
    spec("sc-range-end", Long, No),
    spec("c-port", Long, No),
    spec("x-edge-detailed-result-type", Keyword, No),
    spec("c-country", Keyword, No),
    spec("cs-accept-encoding", Keyword, No),
    spec("cs-accept", Keyword, No),
    spec("cache-behavior-path-pattern", Keyword, No),
    spec("cs-headers", Keyword, Headers),
    spec("cs-header-names", Keyword, No),
    spec("cs-headers-count", Long, No),
    spec("primary-distribution-id", Keyword, No),
    spec("primary-distribution-dns-name", Keyword, No),
    spec("origin-fbl", Float, No),
    spec("origin-lbl", Float, No),
    spec("asn", Long, No),
    spec("cmcd-encoded-bitrate", Long, No),
    spec("cmcd-buffer-length", Long, No),
    spec("cmcd-buffer-starvation", Keyword, No),
    spec("cmcd-content-id", Keyword, No),
    spec("cmcd-object-duration", Long, No),
    spec("cmcd-deadline", Long, No),
    spec("cmcd-measured-throughput", Long, No),
    spec("cmcd-next-object-request", Url, No),
    spec("cmcd-next-range-request", Keyword, No),
    spec("cmcd-object-type", Keyword, No),
    spec("cmcd-playback-rate", Float, No),
    spec("cmcd-requested-maximum-throughput", Long, No),
    spec("cmcd-streaming-format", Keyword, No),
    spec("cmcd-session-id", Keyword, SessionId),
    spec("cmcd-stream-type", Keyword, No),
    spec("cmcd-startup", Keyword, No),
    spec("cmcd-top-bitrate", Long, No),
    spec("cmcd-version", Long, No),
    spec("r-host", Keyword, No),
    spec("sr-reason", Keyword, No),
    spec("x-edge-mqcs", Keyword, No),
    spec("distribution-tenant-id", Keyword, No),
    spec("connection-id", Keyword, ConnectionId),
    spec("date", Time, No),
    spec("time", Time, No),
    spec("timestamp(ms)", Time, No),
];

/// The field a log names `name` (any format's spelling); `None` for a name the table does not
/// know (such columns are left out of documents: an unknown field could be personal).
pub fn lookup(name: &[u8]) -> Option<usize> {
    let name: &[u8] = match name {
        b"cs(Host)" => b"cs-host",
        b"cs(Referer)" => b"cs-referer",
        b"cs(User-Agent)" => b"cs-user-agent",
        b"cs(Cookie)" => b"cs-cookie",
        n => n,
    };
    FIELDS.iter().position(|s| s.name.as_bytes() == name)
}

/// What the export does to a field at the default privacy settings, and the switch that
/// changes it: one line of the README's field table.
pub fn at_the_defaults(spec: &Spec) -> String {
    let what = match (spec.private, spec.kind) {
        (_, Kind::Time) => "read into `@timestamp`, not written on its own".to_owned(),
        (Private::ClientIp, _) => "truncated to its /24 (IPv4, IPv4-mapped IPv6 as IPv4) or /48 \
            (IPv6), ports dropped"
            .to_owned(),
        (Private::No, Kind::Url) => {
            "URL-decoded; query string and path parameters (`;jsessionid=`) removed".to_owned()
        }
        (Private::No, Kind::Decoded) => "URL-decoded".to_owned(),
        (Private::No, Kind::Long) => "a whole number".to_owned(),
        (Private::No, Kind::Float) => "a floating-point number".to_owned(),
        (Private::No, _) => "kept".to_owned(),
        _ => "left out".to_owned(),
    };
    let switch = match spec.private {
        Private::No => "",
        Private::ClientIp => "`EXPORT_CLIENT_IP`",
        Private::Cookie => "`EXPORT_COOKIES`",
        Private::Query => "`EXPORT_QUERY_STRINGS`",
        Private::RequestId => "`EXPORT_REQUEST_IDS`",
        Private::Headers => "`EXPORT_HEADERS`",
        Private::SessionId => "`EXPORT_SESSION_IDS`",
        Private::ConnectionId => "`EXPORT_CONNECTION_IDS`",
    };
    let switch = if spec.kind == Kind::Url {
        "`EXPORT_QUERY_STRINGS`"
    } else {
        switch
    };
    format!("| `{}` | {what} | {switch} |", spec.name)
}

/// The README's table of every field with what the export does to it at the defaults.
pub fn defaults_table() -> String {
    let mut out = String::from("| Field | At the defaults | Opt in with |\n|---|---|---|\n");
    for spec in FIELDS {
        out.push_str(&at_the_defaults(spec));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fields::{LEGACY_ORDER, REALTIME_FIELDS};

    /// The README lists every field with what the export does to it, generated from this table
    /// (`CFLM_WRITE_README=1` prints it).
    #[test]
    fn the_readme_field_table_is_the_codes() {
        let table = defaults_table();
        if std::env::var_os("CFLM_WRITE_README").is_some() {
            println!("{table}");
        }
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(
            readme.contains(&table),
            "README's export field table differs from schema::defaults_table():\n{table}"
        );
    }

    #[test]
    fn every_legacy_and_real_time_field_is_known_under_one_name() {
        for n in LEGACY_ORDER.iter().chain(&REALTIME_FIELDS) {
            assert!(lookup(n.as_bytes()).is_some(), "{n}");
        }
        assert_eq!(lookup(b"cs(Host)"), lookup(b"cs-host"));
        assert_eq!(lookup(b"cs(User-Agent)"), lookup(b"cs-user-agent"));
        assert_eq!(lookup(b"no-such-field"), None);
        let mut names: Vec<&str> = FIELDS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    /// The shipped index template maps every field a document can carry, with its type, and
    /// nothing else (it is `dynamic: strict`).
    #[test]
    fn the_index_template_covers_every_field_with_its_type() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/export/opensearch-index-template.json"
        );
        let t: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let props = t["template"]["mappings"]["properties"].as_object().unwrap();
        assert_eq!(t["template"]["mappings"]["dynamic"], "strict");
        let mut want = vec![
            ("@timestamp", "date"),
            ("distribution_id", "keyword"),
            ("source", "keyword"),
        ];
        want.extend(
            FIELDS
                .iter()
                .filter(|s| s.kind != Kind::Time)
                .map(|s| (s.name, s.kind.mapping())),
        );
        for (name, ty) in &want {
            assert_eq!(
                props.get(*name).map(|p| &p["type"]),
                Some(&(*ty).into()),
                "{name}"
            );
        }
        assert_eq!(props.len(), want.len());
    }
}

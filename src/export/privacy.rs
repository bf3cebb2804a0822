//! What the export leaves out or truncates, by default and when configured: client IPs are
//! truncated (IPv4 to its /24, IPv6 to its /48, an IPv4-mapped IPv6 address as its IPv4) or
//! removed; cookies, query strings (with the path parameters such as `;jsessionid=` of every
//! URL-valued field), request ids, header values, CMCD session ids and connection ids are
//! removed. Each is switchable (`EXPORT_*` variables, `cflogs export` flags); README says why
//! the defaults are what they are.

use super::schema::Private;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What becomes of client IPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMode {
    /// IPv4 to its /24 (`192.0.2.0`), IPv6 to its /48: enough for a network or a region.
    Truncate,
    /// Left out.
    Remove,
    /// Kept as logged.
    Keep,
}

impl IpMode {
    /// Parses `truncate`, `remove` or `keep`.
    pub fn parse(v: &str) -> Option<IpMode> {
        match v.trim().to_ascii_lowercase().as_str() {
            "truncate" => Some(IpMode::Truncate),
            "remove" => Some(IpMode::Remove),
            "keep" => Some(IpMode::Keep),
            _ => None,
        }
    }
}

/// The export's privacy settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privacy {
    pub client_ip: IpMode,
    pub cookies: bool,
    pub query_strings: bool,
    pub request_ids: bool,
    pub headers: bool,
    /// `cmcd-session-id`: follows one viewer's playback session across requests.
    pub session_ids: bool,
    /// `connection-id`: follows one viewer's connection across requests.
    pub connection_ids: bool,
}

/// The defaults: nothing that identifies a viewer or a request.
impl Default for Privacy {
    fn default() -> Self {
        Privacy {
            client_ip: IpMode::Truncate,
            cookies: false,
            query_strings: false,
            request_ids: false,
            headers: false,
            session_ids: false,
            connection_ids: false,
        }
    }
}

impl Privacy {
    /// Whether a field of this class is written at all.
    pub fn keeps(&self, p: Private) -> bool {
        match p {
            Private::No => true,
            Private::ClientIp => self.client_ip != IpMode::Remove,
            Private::Cookie => self.cookies,
            Private::Query => self.query_strings,
            Private::RequestId => self.request_ids,
            Private::Headers => self.headers,
            Private::SessionId => self.session_ids,
            Private::ConnectionId => self.connection_ids,
        }
    }
}

/// `ip` truncated to its /24 (IPv4, and an IPv4-mapped IPv6 address `::ffff:a.b.c.d`) or /48
/// (IPv6); `None` when it is not an IP address.
pub fn truncate_ip(ip: &str) -> Option<String> {
    match ip.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(truncate_v4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(truncate_v4(v4)),
            None => {
                let s = v6.segments();
                Some(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string())
            }
        },
    }
}

fn truncate_v4(v4: Ipv4Addr) -> String {
    let [a, b, c, _] = v4.octets();
    Ipv4Addr::new(a, b, c, 0).to_string()
}

/// One `x-forwarded-for` entry's address, without the port a proxy may have added:
/// `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`.
pub fn forwarded_address(entry: &str) -> Option<&str> {
    let e = entry.trim();
    if let Some(rest) = e.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        return (after.is_empty() || after.starts_with(':')).then_some(addr);
    }
    match e.split_once(':') {
        // One colon: IPv4 with a port. More: IPv6 without brackets.
        Some((addr, port)) if !port.contains(':') => Some(addr),
        _ => Some(e),
    }
}

/// `x-forwarded-for` as CloudFront writes it (comma-separated, the spaces after the commas
/// `%20`-encoded in text logs, ports and bracketed IPv6 as proxies wrote them): the list
/// decoded once, with spaces after commas.
pub fn decode_ip_list(list: &str) -> String {
    percent_encoding::percent_decode_str(list)
        .decode_utf8_lossy()
        .into_owned()
}

/// `x-forwarded-for` with each address truncated and its port dropped; entries that are not
/// addresses are dropped.
pub fn truncate_ip_list(list: &str) -> String {
    decode_ip_list(list)
        .split(',')
        .filter_map(|e| truncate_ip(forwarded_address(e)?))
        .collect::<Vec<_>>()
        .join(",")
}

/// A URL-valued field (URI, referer, CMCD next object) without its query string and the path
/// parameters of its segments (`/a;jsessionid=X/b` is `/a/b`).
pub fn strip_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment.split(';').next().unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_truncated_to_their_network() {
        assert_eq!(truncate_ip("203.0.113.77").as_deref(), Some("203.0.113.0"));
        assert_eq!(
            truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(),
            Some("2001:db8:85a3::")
        );
        assert_eq!(truncate_ip("not-an-ip"), None);
        assert_eq!(
            truncate_ip_list("198.51.100.9, 2001:db8::1,x"),
            "198.51.100.0,2001:db8::"
        );
        assert_eq!(
            truncate_ip("::ffff:203.0.113.77").as_deref(),
            Some("203.0.113.0")
        );
        assert_eq!(
            truncate_ip_list("198.51.100.9,%20[2001:db8:aa:bb::1]:443,%20192.0.2.44:8080"),
            "198.51.100.0,2001:db8:aa::,192.0.2.0"
        );
        assert_eq!(
            truncate_ip_list("[2001:db8::1], ::ffff:10.1.2.3"),
            "2001:db8::,10.1.2.0"
        );
    }

    #[test]
    fn urls_lose_their_query_and_path_parameters() {
        assert_eq!(strip_url("/a;jsessionid=X/b.html?q=1"), "/a/b.html");
        assert_eq!(
            strip_url("https://h.example/p;x=1;y=2?r=1#f"),
            "https://h.example/p"
        );
        assert_eq!(strip_url("/plain"), "/plain");
    }

    #[test]
    fn defaults_keep_nothing_personal() {
        let p = Privacy::default();
        for class in [
            Private::Cookie,
            Private::Query,
            Private::RequestId,
            Private::Headers,
        ] {
            assert!(!p.keeps(class), "{class:?}");
        }
        assert!(p.keeps(Private::ClientIp) && p.client_ip == IpMode::Truncate);
        assert_eq!(IpMode::parse(" REMOVE "), Some(IpMode::Remove));
    }
}

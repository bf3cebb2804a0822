//! What the export leaves out or truncates, by default and when configured: client IPs are
//! truncated (IPv4 to its /24, IPv6 to its /48) or removed; cookies, query strings, request ids
//! and header values are removed. Each is switchable (`EXPORT_*` variables, `cflogs export`
//! flags); README says why the defaults are what they are.

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
        }
    }
}

/// `ip` truncated to its /24 (IPv4) or /48 (IPv6); `None` when it is not an IP address.
pub fn truncate_ip(ip: &str) -> Option<String> {
    match ip.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(Ipv4Addr::new(a, b, c, 0).to_string())
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string())
        }
    }
}

/// `x-forwarded-for` (a comma-separated list of IPs) with each address truncated; entries that
/// are not addresses are dropped.
pub fn truncate_ip_list(list: &str) -> String {
    list.split(',')
        .filter_map(truncate_ip)
        .collect::<Vec<_>>()
        .join(",")
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

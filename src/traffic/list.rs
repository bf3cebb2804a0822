//! The report's top-N lists: their order, JSON keys and titles, and the pair of summaries
//! (by requests, by bytes) each keeps.

use super::sketch::{SpaceSaving, hash_key};

/// The report's top-N lists, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Uris,
    Uris4xx,
    Uris5xx,
    Referrers,
    UserAgents,
    UserAgentClasses,
    EdgeLocations,
    Countries,
    StatusCodes,
    ResultTypes,
    ContentTypes,
    HttpVersions,
    TlsVersions,
}

impl List {
    /// Every list, in report order.
    pub const ALL: [List; 13] = [
        List::Uris,
        List::Uris4xx,
        List::Uris5xx,
        List::Referrers,
        List::UserAgents,
        List::UserAgentClasses,
        List::EdgeLocations,
        List::Countries,
        List::StatusCodes,
        List::ResultTypes,
        List::ContentTypes,
        List::HttpVersions,
        List::TlsVersions,
    ];

    /// The list's key in JSON.
    pub fn key(self) -> &'static str {
        match self {
            List::Uris => "uris",
            List::Uris4xx => "uris_4xx",
            List::Uris5xx => "uris_5xx",
            List::Referrers => "referrer_hosts",
            List::UserAgents => "user_agents",
            List::UserAgentClasses => "user_agent_classes",
            List::EdgeLocations => "edge_locations",
            List::Countries => "countries",
            List::StatusCodes => "status_codes",
            List::ResultTypes => "result_types",
            List::ContentTypes => "content_types",
            List::HttpVersions => "http_versions",
            List::TlsVersions => "tls_versions",
        }
    }

    /// The list's title for people.
    pub fn title(self) -> &'static str {
        match self {
            List::Uris => "URIs",
            List::Uris4xx => "URIs answering 4xx",
            List::Uris5xx => "URIs answering 5xx",
            List::Referrers => "External referrer hosts",
            List::UserAgents => "User-agent families",
            List::UserAgentClasses => "User-agent classes",
            List::EdgeLocations => "Edge locations",
            List::Countries => "Countries",
            List::StatusCodes => "Status codes",
            List::ResultTypes => "Result types",
            List::ContentTypes => "Content types",
            List::HttpVersions => "HTTP versions",
            List::TlsVersions => "TLS versions",
        }
    }
}

/// A list's two summaries: requests and bytes (sc-bytes) per value.
#[derive(Debug, Clone)]
pub struct Pair {
    pub by_requests: SpaceSaving,
    pub by_bytes: SpaceSaving,
    /// Whether both summaries number their values alike: true while they were only ever added
    /// to together and neither evicted, so one look-up serves both.
    aligned: bool,
}

impl Pair {
    /// Two empty summaries of `capacity` (see [`SpaceSaving::new`]).
    pub fn new(capacity: usize) -> Self {
        Pair {
            by_requests: SpaceSaving::new(capacity),
            by_bytes: SpaceSaving::new(capacity),
            aligned: true,
        }
    }

    /// Counts one request of `bytes` for `key`.
    #[inline]
    pub fn add(&mut self, key: &[u8], bytes: u64) {
        let hash = hash_key(key);
        if self.aligned
            && self.by_requests.is_exact()
            && self.by_bytes.is_exact()
            && let Some(id) = self.by_requests.id_of_hashed(hash, key)
        {
            self.by_requests.bump(id, 1);
            self.by_bytes.bump(id, bytes);
            return;
        }
        self.by_requests.add_hashed(hash, key, 1);
        self.by_bytes.add_hashed(hash, key, bytes);
    }

    /// Adds another pair's counts (see [`SpaceSaving::merge`]).
    pub fn merge(&mut self, other: &Pair) {
        self.by_requests.merge(&other.by_requests);
        self.by_bytes.merge(&other.by_bytes);
        self.aligned = false;
    }
}

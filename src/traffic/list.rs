//! The report's top-N lists: their order, JSON keys and titles.

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

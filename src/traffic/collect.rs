//! The traffic report's consumer of parsed records: per distribution, totals, hours, latency,
//! unique visitors and the top-N summaries of one file ([`TrafficProcessor`]), mergeable across
//! files ([`DistTraffic::merge`]). Memory is bounded by the sketch capacity, never by the number
//! of distinct values.

use super::classify::{self, UaFamilies};
pub use super::list::{List, Pair};
use super::sketch::Latency;
use crate::distribution::HostMap;
use crate::parse::realtime::RealtimeFields;
use crate::parse::{Field, FieldSet, Format, LogParser, NotALog, ParseStats, Record};
use crate::pipeline::ChunkFeeder;
use cardinality_estimator::CardinalityEstimator;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};

/// One UTC hour of a distribution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hour {
    pub requests: u64,
    pub bytes: u64,
    pub hits: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub time_taken: Latency,
}

/// Host names a distribution answers to, remembered to tell its own referrers from external ones.
const MAX_OWN_HOSTS: usize = 64;

/// Everything the report keeps of one distribution's records. See the module documentation.
#[derive(Debug, Clone)]
pub struct DistTraffic {
    pub requests: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Hit + RefreshHit.
    pub hits: u64,
    /// 2xx, 3xx, 4xx, 5xx, 000.
    pub statuses: [u64; 5],
    pub time_taken: Latency,
    pub time_to_first_byte: Latency,
    /// Hashes of client IPs (the IPs themselves are never kept).
    pub visitors: CardinalityEstimator<[u8]>,
    /// Records that carried a client IP.
    pub with_client_ip: u64,
    pub hours: BTreeMap<i64, Hour>,
    /// One per [`List::ALL`].
    pub lists: Vec<Pair>,
    /// `x-host-header` and `cs(Host)` values seen, as logged (at most [`MAX_OWN_HOSTS`]).
    pub own_hosts: BTreeSet<Vec<u8>>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

impl DistTraffic {
    /// An empty summary whose top-N sketches have capacity `capacity` (see [`Pair::new`]).
    pub fn new(capacity: usize) -> Self {
        let pair = Pair::new(capacity);
        DistTraffic {
            requests: 0,
            bytes_out: 0,
            bytes_in: 0,
            hits: 0,
            statuses: [0; 5],
            time_taken: Latency::default(),
            time_to_first_byte: Latency::default(),
            visitors: CardinalityEstimator::new(),
            with_client_ip: 0,
            hours: BTreeMap::new(),
            lists: vec![pair; List::ALL.len()],
            own_hosts: BTreeSet::new(),
            first_ms: None,
            last_ms: None,
        }
    }

    /// The summary of a list.
    pub fn list(&self, l: List) -> &Pair {
        &self.lists[l as usize]
    }

    /// Adds the records of another summary.
    pub fn merge(&mut self, o: &DistTraffic) {
        self.requests = self.requests.saturating_add(o.requests);
        self.bytes_out = self.bytes_out.saturating_add(o.bytes_out);
        self.bytes_in = self.bytes_in.saturating_add(o.bytes_in);
        self.hits = self.hits.saturating_add(o.hits);
        for (a, b) in self.statuses.iter_mut().zip(o.statuses) {
            *a = a.saturating_add(b);
        }
        self.time_taken.merge(&o.time_taken);
        self.time_to_first_byte.merge(&o.time_to_first_byte);
        self.visitors.merge(&o.visitors);
        self.with_client_ip = self.with_client_ip.saturating_add(o.with_client_ip);
        for (h, oh) in &o.hours {
            let e = self.hours.entry(*h).or_default();
            e.requests = e.requests.saturating_add(oh.requests);
            e.bytes = e.bytes.saturating_add(oh.bytes);
            e.hits = e.hits.saturating_add(oh.hits);
            e.status_4xx = e.status_4xx.saturating_add(oh.status_4xx);
            e.status_5xx = e.status_5xx.saturating_add(oh.status_5xx);
            e.time_taken.merge(&oh.time_taken);
        }
        for (a, b) in self.lists.iter_mut().zip(&o.lists) {
            a.merge(b);
        }
        for h in &o.own_hosts {
            if self.own_hosts.len() < MAX_OWN_HOSTS {
                self.own_hosts.insert(h.clone());
            }
        }
        self.first_ms = [self.first_ms, o.first_ms].into_iter().flatten().min();
        self.last_ms = [self.last_ms, o.last_ms].into_iter().flatten().max();
    }
}

/// What the report reads of records, and how.
#[derive(Debug, Clone)]
pub struct TrafficOptions {
    /// Capacity of each top-N sketch (see [`super::sketch::SpaceSaving::new`]).
    pub capacity: usize,
    /// Whether URIs keep their query string (off by default: queries may carry secrets).
    pub keep_query: bool,
    /// Records before this time (epoch ms) are left out.
    pub since_ms: Option<i64>,
    /// Records at or after this time (epoch ms) are left out.
    pub until_ms: Option<i64>,
    /// Real-time records' field selection (records then name their own distribution).
    pub realtime: Option<RealtimeFields>,
    /// Distribution domain names and their IDs, for real-time records.
    pub distribution_hosts: HostMap,
}

impl Default for TrafficOptions {
    fn default() -> Self {
        TrafficOptions {
            capacity: super::DEFAULT_CAPACITY,
            keep_query: false,
            since_ms: None,
            until_ms: None,
            realtime: None,
            distribution_hosts: HostMap::default(),
        }
    }
}

impl TrafficOptions {
    /// The fields the report reads beyond [`FieldSet::CORE`].
    pub fn fields(&self) -> FieldSet {
        let set = FieldSet::CORE
            .with(Field::CsUriStem)
            .with(Field::CsReferer)
            .with(Field::CsUserAgent)
            .with(Field::SslProtocol)
            .with(Field::CsHostStandard)
            .with(Field::XHostHeader)
            .with(Field::XEdgeLocation)
            .with(Field::CCountry)
            .with(Field::ScContentType)
            .with(Field::CsProtocolVersion)
            .with(Field::CIp)
            .with(Field::CsHost)
            .with(Field::PrimaryDistributionId);
        if self.keep_query {
            set.with(Field::CsUriQuery)
        } else {
            set
        }
    }
}

/// The traffic of one file.
#[derive(Debug, Clone)]
pub struct FileTraffic {
    pub format: Option<Format>,
    pub parse: ParseStats,
    /// Per distribution ID.
    pub distributions: BTreeMap<String, DistTraffic>,
    /// Records outside `--since`/`--until`.
    pub outside_range: u64,
    /// Real-time records whose distribution could not be resolved (reported under `unknown`).
    pub unresolved: u64,
}

/// Scratch state of the per-record work.
struct Adder<'o> {
    opts: &'o TrafficOptions,
    default: Vec<u8>,
    dists: FxHashMap<Vec<u8>, DistTraffic>,
    ua: UaFamilies,
    key: Vec<u8>,
    outside_range: u64,
    unresolved: u64,
}

/// The distribution name of records none can be found for.
pub const UNKNOWN_DISTRIBUTION: &str = "unknown";

impl Adder<'_> {
    #[inline]
    fn add(&mut self, r: &Record<'_>) {
        let ts = r.timestamp_ms;
        if self.opts.since_ms.is_some_and(|s| ts < s) || self.opts.until_ms.is_some_and(|u| ts >= u)
        {
            self.outside_range += 1;
            return;
        }
        let id: &[u8] = if self.opts.realtime.is_some() {
            let default = std::str::from_utf8(&self.default).unwrap_or("");
            match crate::distribution::resolve(r, &self.opts.distribution_hosts, default) {
                Some(id) => id,
                None => {
                    self.unresolved += 1;
                    UNKNOWN_DISTRIBUTION.as_bytes()
                }
            }
        } else {
            &self.default
        };
        let d = match self.dists.get_mut(id) {
            Some(d) => d,
            None => self
                .dists
                .entry(id.to_vec())
                .or_insert_with(|| DistTraffic::new(self.opts.capacity)),
        };
        add_record(d, r, self.opts.keep_query, &mut self.ua, &mut self.key);
    }
}

#[inline]
fn add_record(
    d: &mut DistTraffic,
    r: &Record<'_>,
    keep_query: bool,
    ua: &mut UaFamilies,
    key: &mut Vec<u8>,
) {
    let bytes = r.sc_bytes;
    d.requests += 1;
    d.bytes_out = d.bytes_out.saturating_add(bytes);
    d.bytes_in = d.bytes_in.saturating_add(r.cs_bytes);
    let result = r.field(Field::XEdgeResultType);
    let hit = matches!(result, b"Hit" | b"RefreshHit");
    d.hits += u64::from(hit);
    let class = match r.sc_status {
        Some(0) => Some(4),
        Some(s @ 200..=599) => Some(usize::from(s / 100 - 2)),
        _ => None,
    };
    if let Some(c) = class {
        d.statuses[c] += 1;
    }
    if let Some(ms) = r.time_taken_ms {
        d.time_taken.add(ms);
    }
    if let Some(ms) = r.time_to_first_byte_ms {
        d.time_to_first_byte.add(ms);
    }
    let ts = r.timestamp_ms;
    d.first_ms = Some(d.first_ms.map_or(ts, |f| f.min(ts)));
    d.last_ms = Some(d.last_ms.map_or(ts, |l| l.max(ts)));
    let h = d.hours.entry(ts.div_euclid(3_600_000)).or_default();
    h.requests += 1;
    h.bytes = h.bytes.saturating_add(bytes);
    h.hits += u64::from(hit);
    h.status_4xx += u64::from(class == Some(2));
    h.status_5xx += u64::from(class == Some(3));
    if let Some(ms) = r.time_taken_ms {
        h.time_taken.add(ms);
    }
    let ip = r.field(Field::CIp);
    if !ip.is_empty() {
        d.visitors.insert(ip);
        d.with_client_ip += 1;
    }
    for f in [Field::XHostHeader, Field::CsHostStandard, Field::CsHost] {
        let host = r.field(f);
        if !host.is_empty() && d.own_hosts.len() < MAX_OWN_HOSTS && !d.own_hosts.contains(host) {
            d.own_hosts.insert(host.to_vec());
        }
    }
    let lists = &mut d.lists;
    let stem = r.field(Field::CsUriStem);
    if !stem.is_empty() {
        let query = keep_query.then(|| r.field(Field::CsUriQuery));
        classify::uri(stem, query, key);
        lists[List::Uris as usize].add(key, bytes);
        match class {
            Some(2) => lists[List::Uris4xx as usize].add(key, bytes),
            Some(3) => lists[List::Uris5xx as usize].add(key, bytes),
            _ => {}
        }
    }
    if classify::referrer_host(r.field(Field::CsReferer), key) {
        lists[List::Referrers as usize].add(key, bytes);
    }
    let agent = r.field(Field::CsUserAgent);
    if !agent.is_empty() {
        let (class, family) = ua.key(agent);
        lists[List::UserAgents as usize].add(family, bytes);
        lists[List::UserAgentClasses as usize].add(class.name().as_bytes(), bytes);
    }
    let plain = [
        (List::EdgeLocations, Field::XEdgeLocation),
        (List::Countries, Field::CCountry),
        (List::StatusCodes, Field::ScStatus),
        (List::ResultTypes, Field::XEdgeResultType),
        (List::ContentTypes, Field::ScContentType),
        (List::HttpVersions, Field::CsProtocolVersion),
        (List::TlsVersions, Field::SslProtocol),
    ];
    for (list, field) in plain {
        let mut v = r.field(field);
        if list == List::ContentTypes {
            // `text/html;charset=UTF-8` → `text/html`.
            v = v.split(|&b| b == b';').next().unwrap_or(b"");
        }
        let v = &v[..v.len().min(classify::MAX_KEY_BYTES)];
        if v.is_empty() {
            continue;
        }
        if v.iter().any(|&b| b < 0x20 || b == 0x7f) {
            key.clear();
            key.extend(
                v.iter()
                    .map(|&b| if b < 0x20 || b == 0x7f { b'?' } else { b }),
            );
            lists[list as usize].add(key, bytes);
        } else {
            // Nothing to replace: counted as logged, without a copy.
            lists[list as usize].add(v, bytes);
        }
    }
}

/// Parses one file fed in chunks into its [`FileTraffic`].
pub struct TrafficProcessor<'o> {
    feeder: ChunkFeeder,
    adder: Adder<'o>,
}

impl<'o> TrafficProcessor<'o> {
    /// A processor for one file whose records belong to `distribution_id` (real-time records
    /// may name their own).
    pub fn new(opts: &'o TrafficOptions, distribution_id: &str) -> Self {
        let parser = match &opts.realtime {
            Some(fields) => LogParser::realtime(fields, opts.fields()),
            None => LogParser::reading(opts.fields()),
        };
        TrafficProcessor {
            feeder: ChunkFeeder::new(parser),
            adder: Adder {
                opts,
                default: distribution_id.as_bytes().to_vec(),
                dists: FxHashMap::default(),
                ua: UaFamilies::default(),
                key: Vec::new(),
                outside_range: 0,
                unresolved: 0,
            },
        }
    }

    /// The fields the records read must fill (for a Parquet file's projection).
    pub fn fields(&self) -> crate::parse::FieldSet {
        self.adder.opts.fields()
    }

    /// Adds one record read elsewhere (a Parquet file's rows).
    pub fn add(&mut self, r: &crate::parse::Record<'_>) {
        self.adder.add(r);
    }

    /// Ends a file whose records came through [`TrafficProcessor::add`], with their counts.
    pub fn finish_parquet(self, parse: crate::parse::ParseStats) -> FileTraffic {
        let adder = self.adder;
        FileTraffic {
            format: Some(crate::parse::Format::Parquet),
            parse,
            distributions: adder
                .dists
                .into_iter()
                .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
                .collect(),
            outside_range: adder.outside_range,
            unresolved: adder.unresolved,
        }
    }

    /// Feeds the next chunk of decompressed bytes.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), NotALog> {
        let adder = &mut self.adder;
        self.feeder.feed(chunk, |r| adder.add(r))
    }

    /// Ends the file.
    pub fn finish(self) -> Result<FileTraffic, NotALog> {
        let mut adder = self.adder;
        let (format, parse) = self.feeder.finish(|r| adder.add(r))?;
        Ok(FileTraffic {
            format,
            parse,
            distributions: adder
                .dists
                .into_iter()
                .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
                .collect(),
            outside_range: adder.outside_range,
            unresolved: adder.unresolved,
        })
    }
}

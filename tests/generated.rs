//! Integration tests over generated log files of mixed formats, whose expected totals are computed
//! independently while generating.
//!
//! A deterministic PRNG draws request records; writers render them as legacy 33-field lines, v2
//! JSON lines or v2 W3C lines with a custom field subset in a shuffled order, and the test keeps,
//! for each line it writes, what the pipeline should make of it: accepted (and then stale or
//! aggregated per minute and per dimension set), or rejected. The datums are then compared, per
//! metric, dimension set and minute, with those expectations.

mod support;

use cloudfront_log_metrics::batch::{MAX_BATCH_BYTES, MAX_DATUMS_PER_BATCH};
use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::datum::{Datum, DatumValue, MAX_VALUES_PER_DATUM};
use cloudfront_log_metrics::parse::fields::LEGACY_ORDER;
use cloudfront_log_metrics::pipeline::ProcessedFile;
use cloudfront_log_metrics::sink::jsonl;
use std::collections::BTreeMap;
use support::logs::*;
use support::view::*;

const NOW: &str = "2024-11-15T12:00:00Z";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

const EDGES: [&str; 8] = [
    "IAD89-C1", "FRA56-P5", "NRT57-P2", "LHR61-P2", "SFO53-C1", "GRU3-C1", "SYD62-P1", "AMS1-C1",
];
const RESULTS: [&str; 12] = [
    "Hit",
    "RefreshHit",
    "Miss",
    "Error",
    "Redirect",
    "LimitExceeded",
    "CapacityExceeded",
    "LambdaExecutionError",
    "OriginShieldHit",
    "FunctionGeneratedResponse",
    "Hit",
    "-",
];
const STATUSES: [&str; 15] = [
    "200", "200", "200", "206", "204", "301", "304", "400", "403", "404", "500", "502", "503",
    "000", "101",
];
const COUNTRIES: [&str; 4] = ["US", "DE", "JP", "-"];

/// One request as drawn. `None` / `"-"` mean the field holds `-`.
#[derive(Debug, Clone)]
struct Rec {
    ts: i64,
    edge: &'static str,
    sc: Option<u64>,
    cs: Option<u64>,
    status: &'static str,
    result: &'static str,
    tt: Option<u32>,
    ttfb: Option<u32>,
    ofbl: Option<u32>,
    olbl: Option<u32>,
    country: &'static str,
    bad_utf8_ua: bool,
}

/// Draws a record: mostly within the 3 hours before [`NOW`] (whole seconds or milliseconds), 1 in
/// 40 two weeks old and 1 in 40 three hours ahead (both outside CloudWatch's window).
fn draw(rng: &mut Rng, now: i64) -> Rec {
    let ts = if rng.chance(1, 40) {
        now - 15 * DAY - rng.below(HOUR as u64) as i64
    } else if rng.chance(1, 40) {
        now + 3 * HOUR + rng.below(HOUR as u64) as i64
    } else {
        now - 3 * HOUR + rng.below(3 * HOUR as u64 - 1000) as i64
    };
    let opt = |rng: &mut Rng, max: u64| (!rng.chance(1, 15)).then(|| rng.below(max + 1));
    let tt = if rng.chance(1, 25) {
        None
    } else if rng.chance(1, 50) {
        Some(30_000 + rng.below(100_000) as u32)
    } else {
        Some(rng.below(3000) as u32)
    };
    let ttfb = tt.and_then(|t| (!rng.chance(1, 10)).then(|| rng.below(u64::from(t) + 1) as u32));
    let ofbl = (!rng.chance(1, 4)).then(|| rng.below(800) as u32);
    let olbl = ofbl.map(|f| f + rng.below(400) as u32);
    Rec {
        ts,
        edge: rng.pick(&EDGES),
        sc: opt(rng, 2_000_000),
        cs: opt(rng, 5_000),
        status: if rng.chance(1, 20) {
            "-"
        } else {
            rng.pick(&STATUSES)
        },
        result: rng.pick(&RESULTS),
        tt,
        ttfb,
        ofbl,
        olbl,
        country: rng.pick(&COUNTRIES),
        bad_utf8_ua: rng.chance(1, 10),
    }
}

fn secs(ms: Option<u32>) -> String {
    match ms {
        Some(ms) => format!("{}.{:03}", ms / 1000, ms % 1000),
        None => "-".to_owned(),
    }
}

fn num(v: Option<u64>) -> String {
    v.map_or("-".to_owned(), |v| v.to_string())
}

/// The value written in a W3C column.
fn w3c_value(name: &str, r: &Rec, rng: &mut Rng) -> Vec<u8> {
    let (date, time) = date_time(r.ts);
    let s = match name {
        "date" => date,
        "time" => time,
        "timestamp(ms)" => r.ts.to_string(),
        "timestamp" => format!("{}.{:03}", r.ts / 1000, r.ts % 1000),
        "x-edge-location" => r.edge.to_owned(),
        "sc-bytes" => num(r.sc),
        "cs-bytes" => num(r.cs),
        "sc-status" => r.status.to_owned(),
        "x-edge-result-type" | "x-edge-response-result-type" => r.result.to_owned(),
        "time-taken" => secs(r.tt),
        "time-to-first-byte" => secs(r.ttfb),
        "origin-fbl" => secs(r.ofbl),
        "origin-lbl" => secs(r.olbl),
        "c-country" => r.country.to_owned(),
        "c-ip" => format!("192.0.2.{}", rng.below(255)),
        "cs-method" => "GET".to_owned(),
        "cs-protocol" => "https".to_owned(),
        "cs-protocol-version" => "HTTP/2.0".to_owned(),
        "x-host-header" => "d111111abcdef8.cloudfront.net".to_owned(),
        "x-edge-request-id" => format!("{:016x}==", rng.next_u64()),
        "cs(User-Agent)" => {
            if r.bad_utf8_ua {
                let mut v = b"Mozilla/5.0%20\xff\xfe(broken".to_vec();
                v.push(0x80);
                return v;
            }
            "Mozilla/5.0%20(X11)".to_owned()
        }
        "cs-uri-stem" => "/index.html".to_owned(),
        "asn" => "16509".to_owned(),
        _ => "-".to_owned(),
    };
    s.into_bytes()
}

/// The record as the pipeline sees it through a header naming `names`: absent fields are `-`,
/// and without `timestamp(ms)`/`timestamp` the time has whole seconds.
fn seen_through(names: &[&str], r: &Rec) -> Rec {
    let has = |n: &str| names.contains(&n);
    let mut s = r.clone();
    if !has("timestamp(ms)") && !has("timestamp") {
        s.ts -= s.ts.rem_euclid(1000);
    }
    if !has("x-edge-location") {
        s.edge = "-";
    }
    if !has("sc-bytes") {
        s.sc = None;
    }
    if !has("cs-bytes") {
        s.cs = None;
    }
    if !has("sc-status") {
        s.status = "-";
    }
    if !has("x-edge-result-type") {
        s.result = "-";
    }
    if !has("time-taken") {
        s.tt = None;
    }
    if !has("time-to-first-byte") {
        s.ttfb = None;
    }
    if !has("origin-fbl") {
        s.ofbl = None;
    }
    if !has("origin-lbl") {
        s.olbl = None;
    }
    if !has("c-country") {
        s.country = "-";
    }
    s
}

/// The aggregates expected for one (dimension set, minute).
#[derive(Debug, Clone, Default, PartialEq)]
struct Cell {
    requests: u64,
    down: u64,
    up: u64,
    counts: BTreeMap<&'static str, u64>,
    latency: BTreeMap<&'static str, BTreeMap<u64, u64>>,
}

fn result_metric(r: &str) -> Option<&'static str> {
    Some(match r {
        "-" => return None,
        "Hit" => "Hit",
        "RefreshHit" => "RefreshHit",
        "Miss" => "Miss",
        "Error" => "Error",
        "Redirect" => "Redirect",
        "LimitExceeded" => "LimitExceeded",
        "CapacityExceeded" => "CapacityExceeded",
        "LambdaExecutionError" => "LambdaExecutionError",
        _ => "OtherResult",
    })
}

fn status_metric(s: &str) -> Option<&'static str> {
    match s {
        "000" => Some("Status000"),
        s if s.len() == 3 => match s.as_bytes()[0] {
            b'2' => Some("Status2xx"),
            b'3' => Some("Status3xx"),
            b'4' => Some("Status4xx"),
            b'5' => Some("Status5xx"),
            _ => None,
        },
        _ => None,
    }
}

impl Cell {
    fn add(&mut self, r: &Rec) {
        self.requests += 1;
        self.down += r.sc.unwrap_or(0);
        self.up += r.cs.unwrap_or(0);
        for m in [result_metric(r.result), status_metric(r.status)]
            .into_iter()
            .flatten()
        {
            *self.counts.entry(m).or_insert(0) += 1;
        }
        for (m, v) in [
            ("TimeTaken", r.tt),
            ("TimeToFirstByte", r.ttfb),
            ("OriginFirstByteLatency", r.ofbl),
            ("OriginLastByteLatency", r.olbl),
        ] {
            if let Some(v) = v {
                *self
                    .latency
                    .entry(m)
                    .or_default()
                    .entry(u64::from(v))
                    .or_insert(0) += 1;
            }
        }
    }
}

/// What a generated file should give.
#[derive(Debug, Default)]
struct Expected {
    records: u64,
    rejected: u64,
    skipped: u64,
    cells: BTreeMap<(Dims, i64), Cell>,
    /// Requests per EdgeLocation value over the publishable records (for the cardinality guard).
    per_edge: BTreeMap<String, u64>,
}

/// Points as in [`View`]: (metric, dims, minute) → (value, distribution).
type Points = BTreeMap<(String, Dims, i64), (Option<u64>, BTreeMap<u64, u64>)>;

impl Expected {
    /// Accounts for one accepted record (already [`seen_through`] its header), with the dimension
    /// sets `DistributionId` and `DistributionId,EdgeLocation`.
    fn accept(&mut self, dist: &str, r: &Rec, now: i64) {
        self.records += 1;
        if r.ts < now - 14 * DAY || r.ts > now + 2 * HOUR {
            self.skipped += 1;
            return;
        }
        let minute = minute_of(r.ts);
        *self.per_edge.entry(r.edge.to_owned()).or_insert(0) += 1;
        for d in [
            dims(&[("DistributionId", dist)]),
            dims(&[("DistributionId", dist), ("EdgeLocation", r.edge)]),
        ] {
            self.cells.entry((d, minute)).or_default().add(r);
        }
    }

    fn points(&self) -> Points {
        let mut out = Points::new();
        for ((d, minute), c) in &self.cells {
            let mut put = |m: &str, v: Option<u64>, h: BTreeMap<u64, u64>| {
                out.insert((m.to_owned(), d.clone(), *minute), (v, h));
            };
            put("Requests", Some(c.requests), BTreeMap::new());
            for (m, v) in [("BytesDownloaded", c.down), ("BytesUploaded", c.up)] {
                if v > 0 {
                    put(m, Some(v), BTreeMap::new());
                }
            }
            for (m, v) in &c.counts {
                put(m, Some(*v), BTreeMap::new());
            }
            for (m, h) in &c.latency {
                put(m, None, h.clone());
            }
        }
        out
    }
}

fn points_of(v: &View) -> Points {
    v.0.iter()
        .map(|(k, p)| (k.clone(), (p.value, p.hist.clone())))
        .collect()
}

/// (Σ value×count, Σ count, min, max) of a distribution: what CloudWatch derives from it.
fn stats(h: &BTreeMap<u64, u64>) -> (u64, u64, Option<u64>, Option<u64>) {
    (
        h.iter().map(|(v, c)| v * c).sum(),
        h.values().sum(),
        h.keys().next().copied(),
        h.keys().last().copied(),
    )
}

/// Compares the datums with the expectations, point by point, then as a whole.
fn compare(name: &str, f: &ProcessedFile, exp: &Expected) {
    assert_eq!(f.report.parse.records, exp.records, "{name}: records");
    assert_eq!(f.report.parse.rejected, exp.rejected, "{name}: rejected");
    assert_eq!(f.report.skipped_stale, exp.skipped, "{name}: skipped_stale");
    let got = points_of(&View::of(f));
    let want = exp.points();
    for (k, (v, h)) in &want {
        let (gv, gh) = got
            .get(k)
            .unwrap_or_else(|| panic!("{name}: no datum for {k:?}"));
        assert_eq!(gv, v, "{name}: {k:?}");
        // Per minute: sum of values×counts, sample count, minimum and maximum.
        assert_eq!(stats(gh), stats(h), "{name}: {k:?}");
    }
    for k in got.keys() {
        assert!(want.contains_key(k), "{name}: unexpected datum {k:?}");
    }
    assert_eq!(got, want, "{name}");
}

/// A generated file: its key, its bytes and what it should give.
struct GenFile {
    key: String,
    dist: String,
    bytes: Vec<u8>,
    expected: Expected,
}

/// Writes W3C lines (and malformed ones) under one `#Fields` header, recording expectations.
struct W3cWriter<'a> {
    rng: &'a mut Rng,
    out: Vec<u8>,
    exp: Expected,
    dist: String,
    now: i64,
}

impl W3cWriter<'_> {
    fn header(&mut self, version: bool, names: &[&str]) {
        if version {
            self.out.extend_from_slice(b"#Version: 1.0\n");
        }
        self.out.extend_from_slice(b"#Fields: ");
        self.out.extend_from_slice(names.join(" ").as_bytes());
        self.out.push(b'\n');
    }

    fn line(&mut self, names: &[&str], r: &Rec) -> Vec<Vec<u8>> {
        names.iter().map(|n| w3c_value(n, r, self.rng)).collect()
    }

    /// `n` records under `names`, with malformed lines and harmless oddities mixed in.
    fn records(&mut self, names: &[&str], n: usize) {
        for _ in 0..n {
            let r = draw(self.rng, self.now);
            match self.rng.below(60) {
                0 => {
                    // Cut short at a TAB: fewer columns than the header.
                    let cols = self.line(names, &r);
                    let keep = 1 + self.rng.below(cols.len() as u64 - 1) as usize;
                    self.out.extend(cols[..keep].join(&b'\t'));
                    self.out.push(b'\n');
                    self.exp.rejected += 1;
                }
                1 => {
                    // A bad value in a field that is read: the time.
                    let mut cols = self.line(names, &r);
                    let (i, bad): (usize, &[u8]) =
                        if let Some(i) = names.iter().position(|n| *n == "timestamp(ms)") {
                            (i, b"17316x0000000")
                        } else if let Some(i) = names.iter().position(|n| *n == "timestamp") {
                            (i, b"abc.def")
                        } else {
                            (
                                names.iter().position(|n| *n == "date").unwrap(),
                                b"2024-13-01",
                            )
                        };
                    cols[i] = bad.to_vec();
                    self.out.extend(cols.join(&b'\t'));
                    self.out.push(b'\n');
                    self.exp.rejected += 1;
                }
                2 if names.contains(&"sc-status") || names.contains(&"sc-bytes") => {
                    // A bad status or an out-of-range byte count.
                    let mut cols = self.line(names, &r);
                    if let Some(i) = names.iter().position(|n| *n == "sc-status") {
                        cols[i] = b"2x0".to_vec();
                    } else {
                        let i = names.iter().position(|n| *n == "sc-bytes").unwrap();
                        cols[i] = b"99999999999999999999999".to_vec();
                    }
                    self.out.extend(cols.join(&b'\t'));
                    self.out.push(b'\n');
                    self.exp.rejected += 1;
                }
                3 => {
                    // Text that is no record at all (one column).
                    self.out
                        .extend_from_slice(b"garbage line without any tab\n");
                    self.exp.rejected += 1;
                }
                4 => {
                    // Harmless: a blank line, a comment, then a record with CRLF.
                    self.out
                        .extend_from_slice(b"\n#Remark: not a fields line\n");
                    let l = self.line(names, &r).join(&b'\t');
                    self.out.extend(l);
                    self.out.extend_from_slice(b"\r\n");
                    self.exp
                        .accept(&self.dist, &seen_through(names, &r), self.now);
                }
                _ => {
                    let l = self.line(names, &r).join(&b'\t');
                    self.out.extend(l);
                    self.out.push(b'\n');
                    self.exp
                        .accept(&self.dist, &seen_through(names, &r), self.now);
                }
            }
        }
    }

    /// Many records in one minute with many distinct time-taken values (more than 150), so that
    /// its TimeTaken distribution needs several datums.
    fn busy_minute(&mut self, names: &[&str], minute: i64, n: usize) {
        for _ in 0..n {
            let mut r = draw(self.rng, self.now);
            r.ts = minute + self.rng.below(59_000) as i64;
            r.tt = Some(self.rng.below(1000) as u32);
            let l = self.line(names, &r).join(&b'\t');
            self.out.extend(l);
            self.out.push(b'\n');
            self.exp
                .accept(&self.dist, &seen_through(names, &r), self.now);
        }
    }
}

fn w3c_writer<'a>(rng: &'a mut Rng, dist: &str) -> W3cWriter<'a> {
    W3cWriter {
        rng,
        out: Vec::new(),
        exp: Expected::default(),
        dist: dist.to_owned(),
        now: at(NOW),
    }
}

/// The minute with many distinct latencies in the legacy file.
fn busy_minute() -> i64 {
    at("2024-11-15T11:30:00Z")
}

/// Legacy standard log, 33 fields, one gzip member.
fn legacy_gz(rng: &mut Rng) -> GenFile {
    let dist = "EGENLEGACY01";
    let mut w = w3c_writer(rng, dist);
    w.header(true, &LEGACY_ORDER);
    w.records(&LEGACY_ORDER, 1200);
    w.busy_minute(&LEGACY_ORDER, busy_minute(), 500);
    w.records(&LEGACY_ORDER, 300);
    GenFile {
        key: format!("logs/{dist}.2024-11-15-11.a1b2c3.gz"),
        dist: dist.to_owned(),
        bytes: gzip(&w.out),
        expected: w.exp,
    }
}

/// Legacy log in several gzip members cut at arbitrary bytes (mid-line too).
fn legacy_multi_member(rng: &mut Rng) -> GenFile {
    let dist = "EGENMULTI02";
    let mut w = w3c_writer(rng, dist);
    w.header(true, &LEGACY_ORDER);
    w.records(&LEGACY_ORDER, 1000);
    let len = w.out.len();
    let mut cuts: Vec<usize> = (0..4).map(|_| w.rng.below(len as u64) as usize).collect();
    cuts.sort_unstable();
    cuts.dedup();
    GenFile {
        key: format!("{dist}.2024-11-15-10.d4e5f6.gz"),
        dist: dist.to_owned(),
        bytes: gzip_members(&w.out, &cuts),
        expected: w.exp,
    }
}

/// v2 W3C with a custom subset of fields in a shuffled order, plain text, no `#Version`.
fn v2_w3c_subset(rng: &mut Rng) -> GenFile {
    let dist = "EGENW3CV204";
    let mut names: Vec<&str> = vec![
        "timestamp(ms)",
        "date",
        "time",
        "sc-bytes",
        "sc-status",
        "x-edge-result-type",
        "time-taken",
        "origin-fbl",
        "origin-lbl",
        "x-edge-location",
        "c-ip",
        "asn",
        "c-country",
        "cs(User-Agent)",
    ];
    rng.shuffle(&mut names);
    let mut w = w3c_writer(rng, dist);
    w.header(false, &names);
    w.records(&names, 800);
    GenFile {
        key: format!("AWSLogs/123456789012/CloudFront/{dist}/2024/11/15/11/part-0001.log"),
        dist: dist.to_owned(),
        bytes: w.out,
        expected: w.exp,
    }
}

/// Three logs concatenated as gzip members (`cat a.gz b.gz c.gz`), the `#Fields` header changing
/// at each: legacy 33 fields, a shuffled v2 subset with `timestamp`, the 26-field legacy prefix.
fn concatenated(rng: &mut Rng) -> GenFile {
    let dist = "EGENCONCAT05";
    let mut subset: Vec<&str> = vec![
        "timestamp",
        "x-edge-location",
        "sc-bytes",
        "cs-bytes",
        "sc-status",
        "x-edge-result-type",
        "time-to-first-byte",
        "time-taken",
        "origin-lbl",
        "x-edge-request-id",
    ];
    rng.shuffle(&mut subset);
    let legacy26 = &LEGACY_ORDER[..26];
    let mut w = w3c_writer(rng, dist);
    let mut members = Vec::new();
    for names in [&LEGACY_ORDER[..], &subset[..], legacy26] {
        let start = w.out.len();
        w.header(true, names);
        w.records(names, 300);
        members.push(gzip(&w.out[start..]));
    }
    GenFile {
        key: format!("{dist}.2024-11-15-11.g7h8i9.gz"),
        dist: dist.to_owned(),
        bytes: members.concat(),
        expected: w.exp,
    }
}

/// A JSON string literal of `s`, with some characters escaped now and then.
fn json_str(rng: &mut Rng, s: &str) -> String {
    if rng.chance(1, 8) {
        // \u escapes and \/ are unescaped by the parser.
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '-' => out.push_str("\\u002d"),
                '/' => out.push_str("\\/"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    } else {
        format!("\"{s}\"")
    }
}

/// v2 JSON lines (one object per line), gzip: values mostly strings, some numbers or null, keys
/// in random order, unread keys with escapes and nested values, and malformed lines.
fn v2_json(rng: &mut Rng) -> GenFile {
    let dist = "EGENJSON03";
    let now = at(NOW);
    let mut out = Vec::new();
    let mut exp = Expected::default();
    for _ in 0..900 {
        let r = draw(rng, now);
        match rng.below(50) {
            0 => {
                out.extend_from_slice(b"{\"date\":\"2024-11-15\",\"ti\n");
                exp.rejected += 1;
                continue;
            }
            1 => {
                out.extend_from_slice(
                    b"{\"sc-bytes\":\"12a\",\"timestamp(ms)\":\"1731670000000\"}\n",
                );
                exp.rejected += 1;
                continue;
            }
            2 => {
                out.extend_from_slice(b"{\"sc-bytes\":\"5\",\"x-edge-location\":\"IAD89-C1\"}\n");
                exp.rejected += 1;
                continue;
            }
            3 => {
                out.extend_from_slice(b"{\"timestamp(ms)\":\"1731670000000\",\"sc-bytes\":nope}\n");
                exp.rejected += 1;
                continue;
            }
            4 => {
                out.extend_from_slice(b"{\"timestamp(ms)\":\"1731670000000\",}\n");
                exp.rejected += 1;
                continue;
            }
            _ => {}
        }
        // Time: timestamp(ms) (with date/time too, sometimes), or date and time only.
        let with_ms = rng.chance(3, 4);
        let (date, time) = date_time(r.ts);
        let mut kv: Vec<(String, String)> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        if with_ms {
            let v = if rng.chance(1, 4) {
                r.ts.to_string()
            } else {
                format!("\"{}\"", r.ts)
            };
            kv.push(("timestamp(ms)".into(), v));
            names.push("timestamp(ms)");
        }
        if !with_ms || rng.chance(1, 2) {
            kv.push(("date".into(), format!("\"{date}\"")));
            kv.push(("time".into(), format!("\"{time}\"")));
            names.extend(["date", "time"]);
        }
        let mut field =
            |rng: &mut Rng, name: &'static str, v: Option<String>, numeric: bool| match v {
                Some(v) => {
                    let lit = if numeric && rng.chance(1, 4) {
                        v
                    } else {
                        json_str(rng, &v)
                    };
                    kv.push((name.into(), lit));
                    names.push(name);
                }
                None => match rng.below(3) {
                    0 => {}
                    1 => kv.push((name.into(), "null".into())),
                    _ => kv.push((name.into(), "\"-\"".into())),
                },
            };
        field(rng, "sc-bytes", r.sc.map(|v| v.to_string()), true);
        field(rng, "cs-bytes", r.cs.map(|v| v.to_string()), true);
        field(
            rng,
            "sc-status",
            (r.status != "-").then(|| r.status.to_owned()),
            false,
        );
        field(
            rng,
            "x-edge-result-type",
            (r.result != "-").then(|| r.result.to_owned()),
            false,
        );
        for (name, v) in [
            ("time-taken", r.tt),
            ("time-to-first-byte", r.ttfb),
            ("origin-fbl", r.ofbl),
            ("origin-lbl", r.olbl),
        ] {
            field(rng, name, v.map(|ms| secs(Some(ms))), true);
        }
        field(rng, "x-edge-location", Some(r.edge.to_owned()), false);
        field(
            rng,
            "c-country",
            (r.country != "-").then(|| r.country.to_owned()),
            false,
        );
        kv.push(("c-ip".into(), "\"2001:db8::1\"".into()));
        kv.push(("cs(Cookie)".into(), "\"a=\\\"b\\\\c\\\"; d={e}\"".into()));
        if rng.chance(1, 5) {
            kv.push((
                "extra".into(),
                "{\"k\": [1, {\"x\": \"}\"}], \"n\": null}".into(),
            ));
        }
        rng.shuffle(&mut kv);
        let sep = if rng.chance(1, 3) { ", " } else { "," };
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        out.extend_from_slice(format!("{{{}}}\n", body.join(sep)).as_bytes());
        exp.accept(dist, &seen_through(&names, &r), now);
    }
    GenFile {
        key: format!(
            "cf/DistributionId={dist}/year=2024/month=11/day=15/hour=11/part-00001.json.gz"
        ),
        dist: dist.to_owned(),
        bytes: gzip(&out),
        expected: exp,
    }
}

fn generated() -> Vec<GenFile> {
    let mut rng = Rng::new(0x5eed_c10d_f407_0001);
    vec![
        legacy_gz(&mut rng),
        legacy_multi_member(&mut rng),
        v2_json(&mut rng),
        v2_w3c_subset(&mut rng),
        concatenated(&mut rng),
    ]
}

fn two_sets() -> MetricsConfig {
    let mut c = config("DistributionId;DistributionId,EdgeLocation");
    c.distribution_id = None;
    c
}

#[test]
fn generated_files_match_independent_totals() {
    let config = two_sets();
    let now = at(NOW);
    for g in generated() {
        let f = process(&g.key, &g.bytes, &config, now);
        assert_eq!(f.report.distribution_id, g.dist, "{}", g.key);
        // The generator's own sanity: each file has records, rejects and stale records.
        assert!(g.expected.records > 300, "{}", g.key);
        assert!(g.expected.rejected > 0, "{}", g.key);
        assert!(g.expected.skipped > 0, "{}", g.key);
        compare(&g.key, &f, &g.expected);
    }
}

#[test]
fn rollups_agree_and_dimension_sets_are_as_configured() {
    let config = two_sets();
    for g in generated() {
        let f = process(&g.key, &g.bytes, &config, at(NOW));
        let v = View::of(&f);
        let by_dist = dims(&[("DistributionId", &g.dist)]);
        // Every dimension set is DistributionId alone or DistributionId + an EdgeLocation.
        for d in v.dimension_sets() {
            assert_eq!(d[0], ("DistributionId".to_owned(), g.dist.clone()));
            match d.len() {
                1 => {}
                2 => {
                    assert_eq!(d[1].0, "EdgeLocation");
                    assert!(EDGES.contains(&d[1].1.as_str()) || d[1].1 == "-");
                }
                _ => panic!("{d:?}"),
            }
        }
        // Per minute, the edge rollups add up to the distribution's figures.
        for metric in ["Requests", "BytesDownloaded", "Hit", "Status5xx"] {
            let mut per_edge: BTreeMap<i64, u64> = BTreeMap::new();
            let mut whole: BTreeMap<i64, u64> = BTreeMap::new();
            for ((m, d, minute), p) in &v.0 {
                if m == metric {
                    let sum = if d.len() == 2 {
                        &mut per_edge
                    } else {
                        &mut whole
                    };
                    *sum.entry(*minute).or_insert(0) += p.value.unwrap();
                }
            }
            assert!(!whole.is_empty(), "{metric}");
            assert_eq!(per_edge, whole, "{metric}");
        }
        // And the file totals are the distribution's.
        let t = &f.aggregate.totals.cell;
        assert_eq!(v.total("Requests", &by_dist), t.requests);
        assert_eq!(v.total("BytesDownloaded", &by_dist), t.bytes_downloaded);
        assert_eq!(
            t.requests,
            g.expected.records - g.expected.skipped,
            "{}",
            g.key
        );
    }
}

#[test]
fn busy_minute_distribution_is_split_into_datums_of_at_most_150_values() {
    let mut rng = Rng::new(7);
    let g = legacy_gz(&mut rng);
    let f = process(&g.key, &g.bytes, &two_sets(), at(NOW));
    let by_dist = dims(&[("DistributionId", &g.dist)]);
    let minute = busy_minute();
    let want = &g.expected.cells[&(by_dist.clone(), minute)].latency["TimeTaken"];
    assert!(want.len() > 2 * MAX_VALUES_PER_DATUM, "{}", want.len());
    let datums: Vec<&Datum> = f
        .datums()
        .filter(|d| {
            d.metric.name() == "TimeTaken" && d.timestamp_ms == minute && d.dimensions.len() == 1
        })
        .collect();
    assert_eq!(datums.len(), want.len().div_ceil(MAX_VALUES_PER_DATUM));
    let mut merged = BTreeMap::new();
    for d in &datums {
        let DatumValue::Distribution { values, counts } = &d.value else {
            panic!("{d:?}")
        };
        assert!(values.len() <= MAX_VALUES_PER_DATUM);
        for (v, c) in values.iter().zip(counts) {
            *merged.entry(*v).or_insert(0) += c;
        }
    }
    assert_eq!(&merged, want);
}

#[test]
fn same_input_gives_identical_batches_twice() {
    let config = two_sets();
    for g in generated() {
        let a = process(&g.key, &g.bytes, &config, at(NOW));
        let b = process(&g.key, &g.bytes, &config, at(NOW));
        assert_eq!(a.batches, b.batches, "{}", g.key);
        assert_eq!(a.aggregate, b.aggregate, "{}", g.key);
        let text = |f: &ProcessedFile| {
            let mut out = Vec::new();
            for batch in &f.batches {
                jsonl::write(&mut out, &config.namespace, &batch.datums).unwrap();
            }
            out
        };
        assert_eq!(text(&a), text(&b), "{}", g.key);
        assert!(!text(&a).is_empty());
    }
}

#[test]
fn batches_hold_at_most_1000_datums_and_keep_order() {
    // A busy file: every minute of 3 hours, every edge: far more than 1000 datums.
    let mut rng = Rng::new(11);
    let mut w = w3c_writer(&mut rng, "EGENBIG06");
    w.header(true, &LEGACY_ORDER);
    w.records(&LEGACY_ORDER, 6000);
    let config = two_sets();
    let f = process(
        "EGENBIG06.2024-11-15-11.big.gz",
        &gzip(&w.out),
        &config,
        at(NOW),
    );
    compare("big", &f, &w.exp);
    assert!(
        f.datum_count() > 2 * MAX_DATUMS_PER_BATCH,
        "{}",
        f.datum_count()
    );
    assert!(f.batches.len() >= 3);
    for (i, b) in f.batches.iter().enumerate() {
        assert_eq!(b.index, i);
        assert!(b.datums.len() <= MAX_DATUMS_PER_BATCH);
        let size: usize = b.datums.iter().map(Datum::estimated_size).sum();
        assert!(size <= MAX_BATCH_BYTES);
    }
    // Batches are the datums, in order, cut only where a limit forces it.
    let all: Vec<Datum> = f.datums().cloned().collect();
    assert_eq!(
        all,
        cloudfront_log_metrics::datum::datums(&f.aggregate, &config)
    );
    for pair in f.batches.windows(2) {
        let size: usize = pair[0].datums.iter().map(Datum::estimated_size).sum();
        let next = pair[1].datums[0].estimated_size();
        assert!(
            pair[0].datums.len() == MAX_DATUMS_PER_BATCH || size + next > MAX_BATCH_BYTES,
            "batch {} was cut early",
            pair[0].index
        );
    }
}

/// The cardinality guard keeps the `max - 1` busiest values of a key in the file (ties by value)
/// and folds the rest into `Other`; `folded_values` counts the folded values of every key.
#[test]
fn cardinality_guard_folds_the_quiet_values_into_other() {
    let now = at(NOW);
    let mut rng = Rng::new(3);
    // 30 edges, edge i with 1 + i/2 requests (pairs of equal counts, so ties matter), and 9
    // countries; spread over minutes in a shuffled order; plus stale records of a 31st edge,
    // which must not count.
    let edges: Vec<String> = (0..30)
        .map(|i| format!("EDGE{:02}-C1", (i * 7) % 30))
        .collect();
    let countries = ["AR", "BR", "CA", "DE", "ES", "FR", "GB", "IT", "JP"];
    let mut lines = Vec::new();
    let mut per_edge: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_country: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows: Vec<(String, String, i64)> = Vec::new();
    for (i, e) in edges.iter().enumerate() {
        for _ in 0..(1 + i / 2) {
            let c = rng.pick(&countries).to_string();
            let ts = now - HOUR + rng.below(50) as i64 * MINUTE;
            rows.push((e.clone(), c, ts));
        }
    }
    for _ in 0..50 {
        rows.push(("STALE99-C1".into(), "ZZ".into(), now - 20 * DAY));
    }
    rng.shuffle(&mut rows);
    for (e, c, ts) in &rows {
        let (d, t) = date_time(*ts);
        lines.push(format!("{d}\t{t}\t{e}\t{c}\t100"));
        if *ts > now - DAY {
            *per_edge.entry(e.clone()).or_insert(0) += 1;
            *per_country.entry(c.clone()).or_insert(0) += 1;
        }
    }
    let input = format!(
        "#Fields: date time x-edge-location c-country sc-bytes\n{}\n",
        lines.join("\n")
    );
    let max = 6;
    let mut config = config("DistributionId,EdgeLocation;DistributionId,Country");
    config.max_dimension_values = max;
    let f = process("guard.log", input.as_bytes(), &config, now);
    assert_eq!(f.report.skipped_stale, 50);

    // Independently: rank by requests (desc), then by value (asc); keep max-1.
    let kept = |counts: &BTreeMap<String, u64>| -> Vec<String> {
        let mut v: Vec<(&String, &u64)> = counts.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        if v.len() <= max {
            return v.into_iter().map(|(k, _)| k.clone()).collect();
        }
        v.into_iter()
            .take(max - 1)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let keep_edges = kept(&per_edge);
    let keep_countries = kept(&per_country);
    assert_eq!(keep_edges.len(), max - 1);
    assert_eq!(keep_countries.len(), max - 1);
    // The 5 busiest edges: the last indices (29, 28 → 15 requests each; 27, 26 → 14; 25 → 13).
    assert_eq!(per_edge[&keep_edges[0]], 15);
    assert_eq!(per_edge[&keep_edges[4]], 13);
    assert_eq!(f.aggregate.folded_values, (30 - 5) + (9 - 5));

    let v = View::of(&f);
    let mut want_edges: BTreeMap<String, u64> = BTreeMap::new();
    for (e, n) in &per_edge {
        let name = if keep_edges.contains(e) {
            e.clone()
        } else {
            "Other".to_owned()
        };
        *want_edges.entry(name).or_insert(0) += n;
    }
    let mut got_edges: BTreeMap<String, u64> = BTreeMap::new();
    let mut got_countries: BTreeMap<String, u64> = BTreeMap::new();
    for d in v.dimension_sets() {
        let n = v.total("Requests", &d);
        match d[1].0.as_str() {
            "EdgeLocation" => *got_edges.entry(d[1].1.clone()).or_insert(0) += n,
            "Country" => *got_countries.entry(d[1].1.clone()).or_insert(0) += n,
            other => panic!("{other}"),
        }
    }
    assert_eq!(got_edges, want_edges);
    assert_eq!(got_edges.len(), max);
    assert_eq!(got_countries.len(), max);
    for c in &keep_countries {
        assert_eq!(got_countries[c], per_country[c]);
    }
    let folded: u64 = per_country
        .iter()
        .filter(|(c, _)| !keep_countries.contains(c))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(got_countries["Other"], folded);
    // Bytes follow the requests into Other: 100 each.
    let other = dims(&[("DistributionId", DIST), ("EdgeLocation", "Other")]);
    assert_eq!(
        v.total("BytesDownloaded", &other),
        100 * want_edges["Other"]
    );
}

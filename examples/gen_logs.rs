//! Deterministic generator of a realistic CloudFront *legacy standard* access log.
//!
//! ```text
//! cargo run --release --example gen_logs -- --records N --out FILE [--seed S] [--members K]
//!     [--hot-ids PERMILLE]
//! ```
//!
//! * `FILE` ending in `.gz`: gzip output (flate2 `GzEncoder`, `Compression::default()`),
//!   split into `K` gzip members (default 1) written back to back, each member starting
//!   with the two `#Version` / `#Fields` header lines, exactly like `cat a.gz b.gz > c.gz`
//!   of several CloudFront log files.
//! * any other `FILE`: plain text (the header lines once, `--members` is ignored).
//!
//! * `--hot-ids`: the share (per mille, default 700) of `{id}` path values drawn from 9,000
//!   popular ids, the rest from ten million: lower gives more distinct URIs (at 1,400,000
//!   records, 700 gives about 0.9 million distinct URIs).
//!
//! The same arguments always produce the same bytes.
//!
//! Independent totals of what was generated are printed to stderr as one JSON object
//! (one line), e.g. for tests and for cross-checking other tools:
//!
//! ```text
//! {"records":N,"lines":N+2K,"members":K,"uncompressed_bytes":..,"sc_bytes":..,"cs_bytes":..,
//!  "time_taken_ms":..,"first_minute":"2024-05-14 13:00","last_minute":"2024-05-14 13:59",
//!  "minutes":60,"result_types":{"Error":..,"Hit":..,..},"status_classes":{"0xx":..,"2xx":..,..}}
//! ```
//!
//! `time_taken_ms` is the exact sum of the `time-taken` column in milliseconds
//! (the column is printed with 3 decimals).
//!
//! Only std + flate2: the PRNG is a seeded splitmix64.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use flate2::Compression;
use flate2::write::GzEncoder;

const DATE: &str = "2024-05-14";
const HOUR: u32 = 13;
const CF_DOMAIN: &str = "d3k9ex4mpl3x7q.cloudfront.net";

const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) \
cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type \
x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol \
ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields \
c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len \
sc-range-start sc-range-end";

const EDGES: [&str; 30] = [
    "IAD89-C1", "IAD89-C3", "IAD12-P2", "IAD55-P4", "JFK50-P1", "JFK52-C2", "ORD58-P3", "ATL56-C1",
    "DFW56-P1", "DFW57-P2", "SFO53-C1", "SFO20-C1", "LAX50-C2", "LAX3-C4", "SEA19-C3", "MIA3-C2",
    "YUL62-C1", "FRA56-P5", "FRA60-P3", "AMS1-C1", "AMS58-P4", "LHR61-P2", "LHR50-C1", "CDG52-P2",
    "MAD53-C1", "ARN56-C1", "NRT57-P2", "SIN2-P1", "SYD62-P1", "GRU3-C1",
];

/// Browser/bot user agents, as CloudFront writes them (URL-encoded, `%20` for spaces).
/// `{V}` is replaced by a random browser version when the client pool is built.
const UA_TEMPLATES: [&str; 16] = [
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/{V}%20Safari/537.36",
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/{V}%20Safari/537.36%20Edg/{V}",
    "Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010_15_7)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/{V}%20Safari/537.36",
    "Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010_15_7)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.4.1%20Safari/605.1.15",
    "Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%2017_4_1%20like%20Mac%20OS%20X)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.4.1%20Mobile/15E148%20Safari/604.1",
    "Mozilla/5.0%20(iPad;%20CPU%20OS%2017_4%20like%20Mac%20OS%20X)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20CriOS/{V}%20Mobile/15E148%20Safari/604.1",
    "Mozilla/5.0%20(Linux;%20Android%2014;%20Pixel%208)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/{V}%20Mobile%20Safari/537.36",
    "Mozilla/5.0%20(Linux;%20Android%2013;%20SM-S918B)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/{V}%20Mobile%20Safari/537.36",
    "Mozilla/5.0%20(X11;%20Linux%20x86_64;%20rv:125.0)%20Gecko/20100101%20Firefox/125.0",
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64;%20rv:125.0)%20Gecko/20100101%20Firefox/125.0",
    "Mozilla/5.0%20(compatible;%20Googlebot/2.1;%20+http://www.google.com/bot.html)",
    "Mozilla/5.0%20(compatible;%20bingbot/2.0;%20+http://www.bing.com/bingbot.htm)",
    "okhttp/4.12.0",
    "ExampleShop/5.2.1%20(iPhone;%20iOS%2017.4.1;%20Scale/3.00)",
    "ExampleShop/5.2.0%20(Android%2014;%20Pixel%207)%20okhttp/4.12.0",
    "curl/8.5.0",
];

const IPV6_PREFIXES: [&str; 6] = ["2a02", "2600", "2001", "2406", "2804", "2a01"];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Html,
    Js,
    Css,
    Image,
    Json,
    Segment,
    Playlist,
    Archive,
    Font,
    Icon,
    Text,
}

impl Kind {
    fn content_type(self) -> &'static str {
        match self {
            Kind::Html => "text/html",
            Kind::Js => "application/javascript",
            Kind::Css => "text/css",
            Kind::Image => "image/jpeg",
            Kind::Json => "application/json",
            Kind::Segment => "video/MP2T",
            Kind::Playlist => "application/vnd.apple.mpegurl",
            Kind::Archive => "application/gzip",
            Kind::Font => "font/woff2",
            Kind::Icon => "image/x-icon",
            Kind::Text => "text/plain",
        }
    }

    /// Body size range in bytes (log-uniform).
    fn body_range(self) -> (f64, f64) {
        match self {
            Kind::Html => (3_000.0, 90_000.0),
            Kind::Js => (8_000.0, 900_000.0),
            Kind::Css => (4_000.0, 160_000.0),
            Kind::Image => (6_000.0, 2_500_000.0),
            Kind::Json => (150.0, 24_000.0),
            Kind::Segment => (150_000.0, 3_500_000.0),
            Kind::Playlist => (300.0, 2_400.0),
            Kind::Archive => (1_000_000.0, 9_000_000.0),
            Kind::Font => (30_000.0, 60_000.0),
            Kind::Icon => (1_000.0, 16_000.0),
            Kind::Text => (60.0, 400.0),
        }
    }
}

/// Path templates: `{id}` numeric id, `{hex}` 8 hex digits, `{n}` small number,
/// `{slug}` a blog slug; with a weight and a content kind.
const PATHS: [(&str, u32, Kind); 18] = [
    ("/", 40, Kind::Html),
    ("/index.html", 20, Kind::Html),
    ("/favicon.ico", 25, Kind::Icon),
    ("/robots.txt", 4, Kind::Text),
    ("/static/js/main.{hex}.js", 60, Kind::Js),
    ("/static/js/vendor.{hex}.chunk.js", 40, Kind::Js),
    ("/static/css/styles.{hex}.css", 45, Kind::Css),
    ("/fonts/inter-var-latin.woff2", 20, Kind::Font),
    ("/images/products/{id}/{id}-800x600.jpg", 160, Kind::Image),
    ("/images/thumbs/{id}.jpg", 110, Kind::Image),
    ("/api/v2/catalog/items/{id}", 70, Kind::Json),
    ("/api/v2/users/{id}/recommendations", 35, Kind::Json),
    ("/video/hls/{id}/1080p/segment_{n}.ts", 120, Kind::Segment),
    ("/video/hls/{id}/master.m3u8", 25, Kind::Playlist),
    ("/blog/2024/05/{slug}", 30, Kind::Html),
    ("/products/{slug}-{id}", 60, Kind::Html),
    (
        "/downloads/releases/app-{n}.{n}.{n}-x86_64.tar.gz",
        3,
        Kind::Archive,
    ),
    ("/sitemap.xml", 3, Kind::Text),
];

const SLUGS: [&str; 12] = [
    "spring-sale-announcement",
    "how-we-cut-our-cdn-bill-in-half",
    "release-notes-4-2",
    "running-shoes",
    "wireless-headphones-pro",
    "ergonomic-office-chair",
    "a-deep-dive-into-http-3",
    "caching-strategies-for-spas",
    "mechanical-keyboard",
    "standing-desk-frame",
    "our-2024-roadmap",
    "stainless-steel-bottle",
];

const QUERIES: [&str; 8] = [
    "v={hex}",
    "utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2024",
    "page={n}&sort=price_asc",
    "width=800&quality=80&format=webp",
    "id={id}&ref=home",
    "q=wireless%20headphones&page={n}",
    "token={hex}{hex}&expires=1715695200",
    "fbclid=IwAR{hex}{hex}{hex}",
];

const REFERERS: [&str; 6] = [
    "https://www.example.com/",
    "https://www.example.com/products/{slug}-{id}",
    "https://www.example.com/blog/2024/05/{slug}",
    "https://www.google.com/",
    "https://t.co/{hex}",
    "https://www.example.com/search?q=shoes",
];

const TLS13_CIPHERS: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];
const TLS12_CIPHERS: [&str; 3] = [
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
];

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// splitmix64
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    /// `true` with probability `p_permille / 1000`.
    fn permille(&mut self, p_permille: u64) -> bool {
        self.below(1000) < p_permille
    }

    /// Log-uniform value in `[lo, hi]`.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
    }

    /// Exponentially distributed with the given mean.
    fn exponential(&mut self, mean: f64) -> f64 {
        -(1.0 - self.unit()).ln() * mean
    }

    /// Skewed index in `0..n`: small indexes are much more likely.
    fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * u) * n as f64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

struct Client {
    ip: String,
    ua: String,
}

fn random_ipv4(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.range(1, 223),
        rng.below(256),
        rng.below(256),
        rng.range(1, 254)
    )
}

fn random_ipv6(rng: &mut Rng) -> String {
    let prefix = rng.pick(&IPV6_PREFIXES);
    if rng.permille(400) {
        format!(
            "{prefix}:{:x}:{:x}:{:x}::{:x}",
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x100),
            rng.range(1, 0xffff)
        )
    } else {
        format!(
            "{prefix}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000)
        )
    }
}

fn random_ip(rng: &mut Rng) -> String {
    if rng.permille(180) {
        random_ipv6(rng)
    } else {
        random_ipv4(rng)
    }
}

fn random_ua(rng: &mut Rng) -> String {
    let template = *rng.pick(&UA_TEMPLATES);
    let version = format!(
        "{}.0.{}.{}",
        rng.range(118, 125),
        rng.range(6000, 6400),
        rng.below(210)
    );
    template.replace("{V}", &version)
}

/// Expands `{id}`, `{hex}`, `{n}`, `{slug}` placeholders into `out`; `hot_ids` per mille of ids
/// are popular ones.
fn expand(rng: &mut Rng, template: &str, out: &mut String, hot_ids: u64) {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').expect("unterminated placeholder");
        match &rest[start + 1..end] {
            "id" => {
                let id = if rng.permille(hot_ids) {
                    rng.range(1000, 9999)
                } else {
                    rng.range(10_000, 9_999_999)
                };
                let _ = write!(out, "{id}");
            }
            "hex" => {
                let _ = write!(out, "{:08x}", rng.next_u64() as u32);
            }
            "n" => {
                let _ = write!(out, "{}", rng.skewed(400));
            }
            "slug" => {
                let slug = *rng.pick(&SLUGS);
                out.push_str(slug);
            }
            other => panic!("unknown placeholder {other}"),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
}

/// Writes `ms` milliseconds as seconds with 3 decimals (`82` -> `0.082`).
fn push_seconds(out: &mut String, ms: u64) {
    let _ = write!(out, "{}.{:03}", ms / 1000, ms % 1000);
}

#[derive(Default)]
struct Totals {
    records: u64,
    lines: u64,
    members: u64,
    uncompressed_bytes: u64,
    sc_bytes: u64,
    cs_bytes: u64,
    time_taken_ms: u64,
    first_minute: Option<u32>,
    last_minute: Option<u32>,
    /// bit `m` set if minute `m` of the hour has records
    minutes: u64,
    result_types: BTreeMap<&'static str, u64>,
    status_classes: BTreeMap<String, u64>,
}

impl Totals {
    fn to_json(&self) -> String {
        fn map<K: std::fmt::Display>(m: &BTreeMap<K, u64>) -> String {
            let items: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", items.join(","))
        }
        let minute = |m: Option<u32>| match m {
            Some(m) => format!("\"{DATE} {HOUR:02}:{m:02}\""),
            None => "null".to_string(),
        };
        format!(
            "{{\"records\":{},\"lines\":{},\"members\":{},\"uncompressed_bytes\":{},\
             \"sc_bytes\":{},\"cs_bytes\":{},\"time_taken_ms\":{},\"first_minute\":{},\
             \"last_minute\":{},\"minutes\":{},\"result_types\":{},\"status_classes\":{}}}",
            self.records,
            self.lines,
            self.members,
            self.uncompressed_bytes,
            self.sc_bytes,
            self.cs_bytes,
            self.time_taken_ms,
            minute(self.first_minute),
            minute(self.last_minute),
            self.minutes.count_ones(),
            map(&self.result_types),
            map(&self.status_classes),
        )
    }
}

struct Generator {
    rng: Rng,
    clients: Vec<Client>,
    path_weight_total: u32,
    records: u64,
    /// Per mille of `{id}` values drawn from the popular ones.
    hot_ids: u64,
}

impl Generator {
    fn new(seed: u64, records: u64, hot_ids: u64) -> Self {
        let mut rng = Rng(seed ^ 0x5EED_C10D_F407_0001);
        let clients = (0..5000)
            .map(|_| Client {
                ip: random_ip(&mut rng),
                ua: random_ua(&mut rng),
            })
            .collect();
        Generator {
            rng,
            clients,
            path_weight_total: PATHS.iter().map(|p| p.1).sum(),
            records,
            hot_ids,
        }
    }

    /// Appends record `i` (with its trailing `\n`) to `out` and accounts for it in `totals`.
    fn record(&mut self, i: u64, out: &mut String, totals: &mut Totals) {
        let start_len = out.len();
        let rng = &mut self.rng;

        // --- when: spread over the hour, mostly increasing, some jitter
        let base = (i * 3600 / self.records.max(1)) as i64;
        let jitter = if rng.permille(250) {
            rng.range(0, 8) as i64 - 4
        } else {
            0
        };
        let sec = (base + jitter).clamp(0, 3599) as u32;
        let minute = sec / 60;

        // --- who
        let (ip, ua): (String, &str) = if rng.permille(700) {
            let c = &self.clients[rng.skewed(self.clients.len())];
            (c.ip.clone(), &c.ua)
        } else {
            let c = &self.clients[rng.below(self.clients.len() as u64) as usize];
            (random_ip(rng), &c.ua)
        };

        // --- what
        let method = match rng.below(1000) {
            0..=899 => "GET",
            900..=939 => "HEAD",
            940..=979 => "POST",
            980..=994 => "OPTIONS",
            995..=997 => "PUT",
            _ => "DELETE",
        };
        let mut w = rng.below(u64::from(self.path_weight_total)) as u32;
        let mut path = &PATHS[0];
        for p in &PATHS {
            if w < p.1 {
                path = p;
                break;
            }
            w -= p.1;
        }
        let kind = path.2;

        // --- outcome
        let roll = rng.below(1000);
        let status: u16 = match roll {
            0..=689 => 200,
            690..=749 => {
                if matches!(kind, Kind::Segment | Kind::Archive | Kind::Image) {
                    206
                } else {
                    200
                }
            }
            750..=859 => 304,
            860..=867 => 301,
            868..=874 => 302,
            875..=904 => 403,
            905..=964 => 404,
            965..=974 => 500,
            975..=984 => 502,
            985..=994 => 0,
            995..=997 => 503,
            _ => 504,
        };
        let (result, response_result, detailed): (&'static str, &'static str, &'static str) =
            match status {
                200 | 206 | 304 => match rng.below(100) {
                    0..=71 if rng.permille(60) => ("Hit", "Hit", "OriginShieldHit"),
                    0..=71 => ("Hit", "Hit", "Hit"),
                    72..=77 => ("RefreshHit", "RefreshHit", "RefreshHit"),
                    _ => ("Miss", "Miss", "Miss"),
                },
                301 | 302 => ("Redirect", "Redirect", "Redirect"),
                403 if rng.permille(200) => ("LimitExceeded", "LimitExceeded", "LimitExceeded"),
                0 if rng.permille(700) => ("Error", "Error", "ClientCommError"),
                0 => ("Error", "Error", "AbortedOrigin"),
                502 => ("Error", "Error", "OriginCommError"),
                504 => ("Error", "Error", "OriginCommError"),
                _ => ("Error", "Error", "Error"),
            };

        // --- sizes
        let headers = rng.range(280, 620);
        let (sc_bytes, content_len, range): (u64, Option<u64>, Option<(u64, u64)>) = match status {
            200 => {
                let (lo, hi) = kind.body_range();
                let body = if method == "HEAD" || method == "OPTIONS" {
                    0
                } else {
                    rng.log_uniform(lo, hi) as u64
                };
                let len = if rng.permille(850) { Some(body) } else { None };
                (headers + body, len, None)
            }
            206 => {
                let (_, hi) = kind.body_range();
                let total = rng.log_uniform(hi / 4.0, hi * 3.0) as u64;
                let len = rng.log_uniform(16_384.0, 2_097_152.0) as u64;
                let len = len.min(total);
                let start = rng.below(total - len + 1);
                (headers + len, Some(len), Some((start, start + len - 1)))
            }
            304 => (headers, None, None),
            301 | 302 => (headers + rng.range(0, 180), Some(0), None),
            0 => {
                if rng.permille(600) {
                    (0, None, None)
                } else {
                    (rng.range(0, 4000), None, None)
                }
            }
            _ => {
                let body = rng.range(150, 1200);
                (headers + body, Some(body), None)
            }
        };
        let cs_bytes = match method {
            "POST" | "PUT" => rng.log_uniform(400.0, 40_000.0) as u64,
            _ => rng.range(90, 980),
        };

        // --- timing (integer milliseconds, printed with 3 decimals)
        let first_byte_ms = match (result, status) {
            (_, 504) => rng.range(29_000, 31_000),
            (_, 0) => rng.exponential(400.0) as u64,
            ("Hit", _) => rng.exponential(4.0) as u64 + u64::from(rng.permille(900)),
            ("RefreshHit", _) => 5 + rng.exponential(30.0) as u64,
            _ => 8 + rng.exponential(110.0) as u64,
        };
        let throughput = rng.log_uniform(400_000.0, 60_000_000.0); // bytes/s
        let transfer_ms = (sc_bytes as f64 / throughput * 1000.0) as u64;
        let time_taken_ms = first_byte_ms + transfer_ms;

        // --- protocol
        let https = rng.permille(960);
        let protocol = if https {
            if method == "GET" && rng.permille(3) {
                "wss"
            } else {
                "https"
            }
        } else {
            "http"
        };
        let protocol_version = match rng.below(100) {
            0..=61 => "HTTP/2.0",
            62..=93 => "HTTP/1.1",
            _ => "HTTP/3.0",
        };
        let (ssl_protocol, ssl_cipher) = if !https {
            ("-", "-")
        } else if rng.permille(760) {
            ("TLSv1.3", *rng.pick(&TLS13_CIPHERS))
        } else {
            ("TLSv1.2", *rng.pick(&TLS12_CIPHERS))
        };

        // --- write the line
        let _ = write!(
            out,
            "{DATE}\t{HOUR:02}:{:02}:{:02}\t{}\t{sc_bytes}\t{ip}\t{method}\t{CF_DOMAIN}\t",
            minute,
            sec % 60,
            EDGES[rng.skewed(EDGES.len())],
        );
        expand(rng, path.0, out, self.hot_ids);
        let _ = write!(out, "\t{status:03}\t");
        if rng.permille(520) {
            out.push('-');
        } else {
            let referer = *rng.pick(&REFERERS);
            expand(rng, referer, out, self.hot_ids);
        }
        out.push('\t');
        out.push_str(ua);
        out.push('\t');
        if rng.permille(260) {
            let query = *rng.pick(&QUERIES);
            expand(rng, query, out, self.hot_ids);
        } else {
            out.push('-');
        }
        out.push('\t');
        if rng.permille(40) {
            let _ = write!(
                out,
                "session-id={:016x};%20theme=dark",
                rng.next_u64() & 0xffff_ffff_ffff
            );
        } else {
            out.push('-');
        }
        let _ = write!(out, "\t{result}\t");
        for _ in 0..54 {
            out.push(B64[rng.below(64) as usize] as char);
        }
        out.push_str("==\t");
        out.push_str(match rng.below(100) {
            0..=79 => "www.example.com",
            80..=94 => "cdn.example.com",
            _ => CF_DOMAIN,
        });
        let _ = write!(out, "\t{protocol}\t{cs_bytes}\t");
        push_seconds(out, time_taken_ms);
        out.push('\t');
        if rng.permille(80) {
            let xff = random_ipv4(rng);
            out.push_str(&xff);
        } else {
            out.push('-');
        }
        let _ = write!(
            out,
            "\t{ssl_protocol}\t{ssl_cipher}\t{response_result}\t{protocol_version}\t-\t-\t{}\t",
            rng.range(1024, 65535)
        );
        push_seconds(out, first_byte_ms.min(time_taken_ms));
        let content_type = match status {
            304 | 0 => "-",
            301 | 302 => "text/html",
            200 | 206 => kind.content_type(),
            _ => {
                if kind == Kind::Json {
                    "application/json"
                } else {
                    "text/html"
                }
            }
        };
        let _ = write!(out, "\t{detailed}\t{content_type}\t");
        match content_len {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => out.push('-'),
        }
        match range {
            Some((s, e)) => {
                let _ = write!(out, "\t{s}\t{e}");
            }
            None => out.push_str("\t-\t-"),
        }
        out.push('\n');

        // --- totals
        totals.records += 1;
        totals.lines += 1;
        totals.uncompressed_bytes += (out.len() - start_len) as u64;
        totals.sc_bytes += sc_bytes;
        totals.cs_bytes += cs_bytes;
        totals.time_taken_ms += time_taken_ms;
        totals.first_minute = Some(totals.first_minute.map_or(minute, |m| m.min(minute)));
        totals.last_minute = Some(totals.last_minute.map_or(minute, |m| m.max(minute)));
        totals.minutes |= 1 << minute;
        *totals.result_types.entry(result).or_default() += 1;
        *totals
            .status_classes
            .entry(format!("{}xx", status / 100))
            .or_default() += 1;
    }
}

fn header(totals: &mut Totals) -> String {
    let h = format!("#Version: 1.0\n{FIELDS}\n");
    totals.lines += 2;
    totals.uncompressed_bytes += h.len() as u64;
    h
}

/// Writes records `range` to `w` in chunks.
fn write_records(
    generator: &mut Generator,
    range: std::ops::Range<u64>,
    w: &mut impl Write,
    totals: &mut Totals,
) -> io::Result<()> {
    let mut buf = String::with_capacity(1 << 17);
    for i in range {
        generator.record(i, &mut buf, totals);
        if buf.len() >= 1 << 16 {
            w.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    w.write_all(buf.as_bytes())
}

struct Args {
    records: u64,
    out: String,
    seed: u64,
    members: u64,
    hot_ids: u64,
}

const USAGE: &str = "usage: gen_logs --records N --out FILE [--seed S] [--members K] \
  [--hot-ids PERMILLE]\n\
  FILE ending in .gz -> gzip (K members, default 1), otherwise plain text.\n\
  Totals are printed to stderr as JSON.";

fn parse_args() -> Result<Args, String> {
    let mut records = None;
    let mut out = None;
    let mut seed = 42;
    let mut members = 1;
    let mut hot_ids = 700;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        match name.as_str() {
            "-h" | "--help" => return Err(USAGE.to_string()),
            "--records" | "-n" | "--out" | "-o" | "--seed" | "--members" | "--hot-ids" => {}
            _ => return Err(format!("unknown argument {name}\n{USAGE}")),
        }
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .ok_or_else(|| format!("missing value for {name}\n{USAGE}"))?,
        };
        let num = |v: &str| -> Result<u64, String> {
            v.replace('_', "")
                .parse()
                .map_err(|e| format!("invalid number for {name}: {v:?}: {e}"))
        };
        match name.as_str() {
            "--records" | "-n" => records = Some(num(&value)?),
            "--out" | "-o" => out = Some(value),
            "--seed" => seed = num(&value)?,
            "--hot-ids" => hot_ids = num(&value)?,
            _ => members = num(&value)?,
        }
    }
    let records = records.ok_or_else(|| format!("--records is required\n{USAGE}"))?;
    let out = out.ok_or_else(|| format!("--out is required\n{USAGE}"))?;
    if members == 0 {
        return Err("--members must be at least 1".to_string());
    }
    if hot_ids > 1000 {
        return Err("--hot-ids is per mille: 0 to 1000".to_string());
    }
    Ok(Args {
        records,
        out,
        seed,
        members,
        hot_ids,
    })
}

fn run(args: &Args) -> io::Result<Totals> {
    let mut generator = Generator::new(args.seed, args.records, args.hot_ids);
    let mut totals = Totals::default();
    let file = File::create(&args.out)?;
    if args.out.ends_with(".gz") {
        let mut file = BufWriter::with_capacity(1 << 16, file);
        let members = args.members;
        for m in 0..members {
            let from = args.records * m / members;
            let to = args.records * (m + 1) / members;
            let mut enc = GzEncoder::new(&mut file, Compression::default());
            enc.write_all(header(&mut totals).as_bytes())?;
            write_records(&mut generator, from..to, &mut enc, &mut totals)?;
            enc.finish()?;
            totals.members += 1;
        }
        file.flush()?;
    } else {
        let mut file = BufWriter::with_capacity(1 << 16, file);
        file.write_all(header(&mut totals).as_bytes())?;
        write_records(&mut generator, 0..args.records, &mut file, &mut totals)?;
        file.flush()?;
        totals.members = 1;
    }
    Ok(totals)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(totals) => {
            eprintln!("{}", totals.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_logs: {}: {e}", args.out);
            ExitCode::FAILURE
        }
    }
}

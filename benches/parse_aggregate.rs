//! Parse and aggregate, per 33-field record, on realistic lines in memory (no I/O, no gzip).
//!
//! Three functions over the same buffer, measured in the same run so their ratios mean something:
//! - `cflm/parse_aggregate`: this project's `FileProcessor` (parse every line, aggregate per
//!   minute with exact latency distributions), then datums;
//! - `peer/cloudfront_logs_parse`: the `cloudfront-logs` crate's validated borrowed line parser
//!   alone (no aggregation), the fastest public Rust CloudFront parser;
//! - `floor/memchr_split`: splitting lines and counting tabs with memchr, a lower bound.
//!
//! `scripts/bench.sh` prints ns per record and the ratios from criterion's estimates.

use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::datum::datums;
use cloudfront_log_metrics::pipeline::FileProcessor;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Records per iteration.
pub const RECORDS: usize = 20_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// A legacy 33-field log of `RECORDS` lines over one hour, values varied like real traffic.
fn log() -> Vec<u8> {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut s = String::from(
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n",
    );
    let pops = [
        "IAD89-C1", "FRA56-P3", "LHR61-C2", "NRT57-C1", "SFO53-P7", "GRU3-C1",
    ];
    let results = [
        "Hit",
        "Hit",
        "Hit",
        "RefreshHit",
        "Miss",
        "Miss",
        "Error",
        "Redirect",
    ];
    let statuses = [
        "200", "200", "200", "206", "304", "404", "403", "500", "502", "000",
    ];
    let paths = [
        "/index.html",
        "/static/js/app.4f9c2d.js",
        "/img/hero-1920.webp",
        "/api/v2/items",
        "/video/seg-00421.ts",
    ];
    let types = [
        "text/html",
        "application/javascript",
        "image/webp",
        "application/json",
        "video/MP2T",
    ];
    for i in 0..RECORDS {
        let sec = (i * 3600 / RECORDS) as u64 + r.next() % 3;
        let ms = r.next() % 2000;
        let result = r.pick(&results);
        s.push_str(&format!(
            "2024-05-14\t13:{:02}:{:02}\t{}\t{}\t203.0.113.{}\tGET\td111111abcdef8.cloudfront.net\t{}\t{}\t-\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/124.0.0.0%20Safari/537.36\t{}\t-\t{}\t{:016x}{:016x}{:016x}==\twww.example.com\thttps\t{}\t{}.{:03}\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t{}\tHTTP/2.0\t-\t-\t{}\t{}.{:03}\t{}\t{}\t{}\t-\t-\n",
            (sec / 60).min(59),
            sec % 60,
            r.pick(&pops),
            r.next() % 5_000_000,
            r.next() % 256,
            r.pick(&paths),
            r.pick(&statuses),
            if r.next().is_multiple_of(4) { "v=3&lang=en" } else { "-" },
            result,
            r.next(),
            r.next(),
            r.next(),
            200 + r.next() % 800,
            ms / 1000,
            ms % 1000,
            result,
            1024 + r.next() % 60_000,
            ms / 2000,
            (ms / 2) % 1000,
            result,
            r.pick(&types),
            r.next() % 5_000_000,
        ));
    }
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let data = log();
    let config = MetricsConfig::default();
    let now = 1_715_698_800_000; // 2024-05-14T15:00:00Z: every record publishable
    let mut g = c.benchmark_group("per_record");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("cflm/parse_aggregate", |b| {
        b.iter(|| {
            let mut p = FileProcessor::new(&config, "EBENCHMARK123", now);
            p.feed(black_box(&data)).unwrap();
            let (_, stats, agg) = p.finish().unwrap();
            assert_eq!(stats.records, RECORDS as u64);
            black_box(datums(&agg, &config).len())
        })
    });
    let text = std::str::from_utf8(&data).unwrap();
    g.bench_function("peer/cloudfront_logs_parse", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for line in black_box(text).lines() {
                if line.starts_with('#') {
                    continue;
                }
                if let Ok(rec) = cloudfront_logs::ValidatedRawLogline::try_from(line) {
                    n += rec.sc_bytes.len() as u64;
                }
            }
            black_box(n)
        })
    });
    g.bench_function("floor/memchr_split", |b| {
        b.iter(|| {
            let mut tabs = 0usize;
            for line in black_box(&data[..]).split(|&b| b == b'\n') {
                tabs += memchr::memchr_iter(b'\t', line).count();
            }
            black_box(tabs)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

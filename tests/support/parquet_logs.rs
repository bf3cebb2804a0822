//! CloudFront-shaped Parquet logs for the moto and runtime-API tests: the 33 legacy fields as
//! standard logging v2's Parquet output carries them (see [`super::parquet_writer`]).

use super::logs::{Rng, date_time};
use super::parquet_writer::{ColumnType, Options, athena_name, write};
use cloudfront_log_metrics::parse::fields::LEGACY_ORDER;

/// What a generated file holds, to compare with what was published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub sc_bytes: u64,
}

/// A Parquet log of the 33 legacy fields as string columns, named as AWS's Athena table for the
/// Parquet output names them (`x_edge_location`, `cs_user_agent`, ...): `rows` requests spread
/// over `minutes` minutes from `start_ms` (epoch ms, whole minutes), with long viewer columns
/// (user agent, cookie, query, request id) the metrics never read.
pub fn cloudfront_file(
    rows: usize,
    start_ms: i64,
    minutes: i64,
    options: Options,
    seed: u64,
) -> (Vec<u8>, Totals) {
    let names: Vec<String> = LEGACY_ORDER.iter().map(|f| athena_name(f)).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rng = Rng::new(seed);
    let mut totals = Totals::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let ts = start_ms + (i as i64 % minutes) * 60_000 + rng.below(60_000) as i64;
        let (date, time) = date_time(ts);
        let sc_bytes = rng.below(200_000);
        totals.requests += 1;
        totals.sc_bytes += sc_bytes;
        let mut hex = |n: usize| {
            (0..n)
                .map(|_| format!("{:016x}", rng.next_u64()))
                .collect::<String>()
        };
        let (agent, query, cookie, request_id) = (hex(1), hex(2), hex(3), hex(3));
        let r = rng.next_u64();
        let v: [String; 33] = [
            date,
            time,
            ["IAD89-C1", "FRA56-P2", "NRT57-C3", "GRU3-C1"][(r % 4) as usize].to_owned(),
            sc_bytes.to_string(),
            format!("198.51.{}.{}", r >> 8 & 255, r >> 16 & 255),
            ["GET", "GET", "HEAD", "POST"][(r >> 24 & 3) as usize].to_owned(),
            "d111111abcdef8.cloudfront.net".to_owned(),
            format!("/assets/{}/app.js", r >> 28 & 1023),
            ["200", "200", "304", "404", "503"][(r >> 40) as usize % 5].to_owned(),
            "https://www.example.com/".to_owned(),
            format!("Mozilla/5.0%20(X11;%20Linux%20x86_64)%20Build/{agent}"),
            format!("q={query}"),
            format!("session={cookie}"),
            ["Hit", "Miss", "RefreshHit", "Error"][(r >> 44 & 3) as usize].to_owned(),
            format!("{request_id}=="),
            "www.example.com".to_owned(),
            "https".to_owned(),
            (r >> 48 & 2047).to_string(),
            format!("0.{:03}", (r >> 20) % 1000),
            "-".to_owned(),
            "TLSv1.3".to_owned(),
            "TLS_AES_128_GCM_SHA256".to_owned(),
            "Hit".to_owned(),
            "HTTP/2.0".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
            (r >> 32 & 0xffff).to_string(),
            format!("0.{:03}", (r >> 4) % 1000),
            "Hit".to_owned(),
            "application/javascript".to_owned(),
            sc_bytes.to_string(),
            "-".to_owned(),
            "-".to_owned(),
        ];
        out.push(v.into_iter().map(Some).collect());
    }
    let types = vec![ColumnType::Utf8; names.len()];
    (write(&names, &types, &out, options), totals)
}

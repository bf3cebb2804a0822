//! Making log files: the clock and civil time, hour stamps of CloudFront's file names, gzip,
//! a deterministic PRNG, the sample logs under `tests/fixtures/`, and generated requests.
//!
//! Everything that computes an *expected* value here is written independently of the library:
//! civil time ↔ epoch conversion, the PRNG and gzip framing.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock in epoch milliseconds (the moto tests publish near now: CloudWatch keeps two
/// weeks).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Path of a file under `tests/fixtures/`.
pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The bytes of `tests/fixtures/samples/<name>`.
pub fn sample(name: &str) -> Vec<u8> {
    let p = fixture_path("samples").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Epoch milliseconds of a UTC civil time, by counting days (deliberately naive, independent of
/// the library's `days_from_civil`). Years from 1970 on.
pub fn epoch_ms(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    assert!(y >= 1970 && (1..=12).contains(&mo) && (1..=31).contains(&d));
    let mut days: i64 = 0;
    for year in 1970..y {
        days += if is_leap(year) { 366 } else { 365 };
    }
    let month_days = [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    for md in &month_days[..(mo - 1) as usize] {
        days += md;
    }
    days += i64::from(d) - 1;
    ((days * 24 + i64::from(h)) * 60 + i64::from(mi)) * 60_000 + i64::from(s) * 1000
}

/// Epoch milliseconds of `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (or with a space instead of `T`, `Z`
/// optional).
pub fn at(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> u32 { s[r].parse().unwrap() };
    let base = epoch_ms(
        i64::from(n(0..4)),
        n(5..7),
        n(8..10),
        n(11..13),
        n(14..16),
        n(17..19),
    );
    let ms = if s.len() > 20 && &s[19..20] == "." {
        i64::from(n(20..23))
    } else {
        0
    };
    base + ms
}

/// Civil time of epoch milliseconds, as (y, mo, d, h, mi, s, ms); inverse of [`epoch_ms`].
pub fn civil(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    assert!(ms >= 0);
    let mut days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let mut y = 1970;
    loop {
        let len = if is_leap(y) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        y += 1;
    }
    let mut mo = 1;
    loop {
        let len = match mo {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if days < len {
            break;
        }
        days -= len;
        mo += 1;
    }
    (
        y,
        mo,
        days as u32 + 1,
        (rem / 3_600_000) as u32,
        (rem / 60_000 % 60) as u32,
        (rem / 1000 % 60) as u32,
        (rem % 1000) as u32,
    )
}

/// `YYYY-MM-DD` and `HH:MM:SS` of epoch milliseconds: the `date` and `time` fields of a log line.
pub fn date_time(ms: i64) -> (String, String) {
    let (y, mo, d, h, mi, s, _) = civil(ms);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        format!("{h:02}:{mi:02}:{s:02}"),
    )
}

/// `YYYY-MM-DD-HH` of epoch milliseconds: the hour in a CloudFront log file's name.
pub fn hour_stamp(ms: i64) -> String {
    let (d, t) = date_time(ms);
    format!("{d}-{}", &t[..2])
}

/// Start of the minute of epoch milliseconds.
pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(60_000)
}

/// Gzip of `data`, one member.
pub fn gzip(data: impl AsRef<[u8]>) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data.as_ref()).unwrap();
    e.finish().unwrap()
}

/// Gzip of `data` as several members, cut at the given byte offsets (not necessarily at line
/// ends), concatenated as `cat a.gz b.gz` would.
pub fn gzip_members(data: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts.iter().chain(std::iter::once(&data.len())) {
        out.extend(gzip(&data[start..c]));
        start = c;
    }
    out
}

/// SplitMix64: a small deterministic PRNG.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// One generated request of the moto tests, holding what their expected totals count.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub ts: i64,
    pub bytes: u64,
    pub latency_ms: u64,
    pub hit: bool,
}

impl Request {
    /// A request at `ts`: sc-bytes below 100 000, time-taken below 1.5 s, a hit two times in three.
    pub fn draw(rng: &mut Rng, ts: i64) -> Request {
        let bytes = rng.below(100_000);
        let latency_ms = rng.below(1500);
        let hit = rng.below(3) != 0;
        Request {
            ts,
            bytes,
            latency_ms,
            hit,
        }
    }

    /// `x-edge-result-type` (and its kin): `Hit` or `Miss`.
    pub fn result_type(&self) -> &'static str {
        if self.hit { "Hit" } else { "Miss" }
    }

    /// `time-taken` in seconds, `s.mmm`.
    pub fn time_taken(&self) -> String {
        format!("{}.{:03}", self.latency_ms / 1000, self.latency_ms % 1000)
    }
}

/// The `#Fields` of [`small_log`].
pub const SMALL_LOG_HEADER: &str =
    "#Version: 1.0\n#Fields: date time sc-bytes sc-status x-edge-result-type time-taken\n";

/// A six-field log of `n` requests, all at `ts_ms` and hits with status 200; request `i` has
/// sc-bytes `bytes(i)` and time-taken `i % 1000` ms.
pub fn small_log(ts_ms: i64, n: usize, bytes: impl Fn(usize) -> u64) -> String {
    let (d, t) = date_time(ts_ms);
    let mut s = String::from(SMALL_LOG_HEADER);
    for i in 0..n {
        s.push_str(&format!(
            "{d}\t{t}\t{}\t200\tHit\t0.{:03}\n",
            bytes(i),
            i % 1000
        ));
    }
    s
}

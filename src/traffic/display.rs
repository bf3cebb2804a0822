//! Numbers as people read them, shared by the text and HTML renderers: thousands separators,
//! byte units, percentages, the time range, a ranking's exactness and its rows.

use super::model::{Ranking, Report};

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in B, kB, MB, GB, TB (powers of 1000).
pub fn bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// A ratio as a percentage with one decimal, `-` when undefined.
pub fn pct(r: Option<f64>) -> String {
    r.map_or("-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// Says whether a ranking's counts are exact, or their error bound.
pub fn exactness(r: &Ranking) -> String {
    if r.exact {
        "exact".to_owned()
    } else {
        format!(
            "approximate: counts high by at most {}",
            thousands(r.max_overcount)
        )
    }
}

/// One row of a ranking as shown: its rank (from 1), its count (bytes or requests) and share
/// formatted, and its value.
pub struct Row<'a> {
    pub rank: usize,
    pub count: String,
    pub share: String,
    pub value: &'a str,
}

/// The rows of a ranking, counts in bytes or in requests.
pub fn rows(r: &Ranking, as_bytes: bool) -> impl Iterator<Item = Row<'_>> {
    r.entries.iter().enumerate().map(move |(i, e)| Row {
        rank: i + 1,
        count: if as_bytes {
            bytes(e.count)
        } else {
            thousands(e.count)
        },
        share: pct(e.share),
        value: &e.value,
    })
}

/// The report's time range in words.
pub fn range(r: &Report) -> String {
    match (&r.since, &r.until) {
        (None, None) => "all records".to_owned(),
        (a, b) => format!(
            "from {} to {}",
            a.as_deref().unwrap_or("the first record"),
            b.as_deref().unwrap_or("the last record")
        ),
    }
}

//! The report as plain text: aligned tables no wider than [`WIDTH`] columns, for a terminal or
//! a CI log.

use super::display::{bytes, exactness, pct, range, rows, thousands};
use super::model::{Distribution, Percentiles, Ranking, Report};
use std::fmt::Write;

/// Widest line written, in characters.
pub const WIDTH: usize = 100;

fn ms(v: Option<u32>) -> String {
    v.map_or("-".to_owned(), |v| v.to_string())
}

fn pcts(p: &Percentiles) -> String {
    format!("{}/{}/{}", ms(p.p50), ms(p.p90), ms(p.p99))
}

/// `s` cut to `width` characters, `…` marking a cut.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn ranking(s: &mut String, title: &str, what: &str, r: &Ranking, as_bytes: bool) {
    let _ = writeln!(
        s,
        "{}",
        fit(&format!("{title} by {what} ({})", exactness(r)), WIDTH)
    );
    if r.entries.is_empty() {
        let _ = writeln!(s, "  (none in these logs)");
        return;
    }
    for row in rows(r, as_bytes) {
        let _ = writeln!(
            s,
            "{:>4} {:>13} {:>7}  {}",
            row.rank,
            row.count,
            row.share,
            fit(row.value, WIDTH - 34)
        );
    }
}

fn distribution(s: &mut String, d: &Distribution) {
    let t = &d.totals;
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", "=".repeat(WIDTH));
    let span = match (&d.first_record, &d.last_record) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "no records".to_owned(),
    };
    let _ = writeln!(
        s,
        "{}",
        fit(&format!("Distribution {}: {span}", d.id), WIDTH)
    );
    let _ = writeln!(s, "{}", "=".repeat(WIDTH));
    let _ = writeln!(
        s,
        "Requests {}   bytes out {}   bytes in {}",
        thousands(t.requests),
        bytes(t.bytes_out),
        bytes(t.bytes_in),
    );
    let _ = writeln!(
        s,
        "Cache hits (Hit+RefreshHit) {}   errors (4xx+5xx) {}",
        pct(t.cache_hit_ratio),
        pct(t.error_ratio)
    );
    let _ = writeln!(
        s,
        "Status 2xx {}  3xx {}  4xx {}  5xx {}  000 {}",
        thousands(t.status_2xx),
        thousands(t.status_3xx),
        thousands(t.status_4xx),
        thousands(t.status_5xx),
        thousands(t.status_000)
    );
    let visitors = match t.unique_visitors {
        None => "- (no c-ip in these logs)".to_owned(),
        Some(v) if t.unique_visitors_exact => thousands(v),
        Some(v) => format!("~{} (HyperLogLog, ±1.6% standard error)", thousands(v)),
    };
    let _ = writeln!(s, "Unique visitors (client IPs) {visitors}");
    let _ = writeln!(
        s,
        "Latency ms p50/p90/p99: time-taken {}   time-to-first-byte {}",
        pcts(&t.time_taken_ms),
        pcts(&t.time_to_first_byte_ms)
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<20} {:>12} {:>12} {:>7} {:>10} {:>10} {:>8} {:>8}",
        "hour (UTC)", "requests", "bytes", "hit %", "4xx", "5xx", "p50 ms", "p99 ms"
    );
    for h in &d.hours {
        let _ = writeln!(
            s,
            "{:<20} {:>12} {:>12} {:>7} {:>10} {:>10} {:>8} {:>8}",
            h.hour,
            thousands(h.requests),
            bytes(h.bytes),
            pct(h.cache_hit_ratio),
            thousands(h.status_4xx),
            thousands(h.status_5xx),
            ms(h.p50_ms),
            ms(h.p99_ms)
        );
    }
    for l in d.lists() {
        let _ = writeln!(s);
        ranking(s, l.title, "requests", &l.by_requests, false);
        ranking(s, l.title, "bytes", &l.by_bytes, true);
    }
}

/// The whole report as text.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "cflogs traffic report ({})", r.schema);
    let range = range(r);
    let _ = writeln!(s, "Range: {range}");
    let _ = writeln!(
        s,
        "Files read {}, failed {}; records {}; lines rejected {}; outside the range {}",
        thousands(r.counts.files_read),
        thousands(r.counts.files_failed),
        thousands(r.counts.records),
        thousands(r.counts.rejected_lines),
        thousands(r.counts.outside_range)
    );
    let _ = writeln!(
        s,
        "Top {} per list; sketches of capacity {} (lists say whether they are exact)",
        r.top_n,
        thousands(r.sketch_capacity as u64)
    );
    if !r.counts.problems.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Broken files and lines:");
        for p in &r.counts.problems {
            let at = p.line.map_or(String::new(), |l| format!(" line {l}"));
            let _ = writeln!(s, "{}", fit(&format!("  {}{at}:", p.file), WIDTH));
            let _ = writeln!(s, "{}", fit(&format!("      {}", p.reason), WIDTH));
        }
        if r.counts.problems_omitted > 0 {
            let _ = writeln!(s, "  ... and {} more", thousands(r.counts.problems_omitted));
        }
    }
    for d in &r.distributions {
        distribution(&mut s, d);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(pct(Some(0.1234)), "12.3%");
        assert_eq!(fit("abcdef", 4), "abc…");
    }
}

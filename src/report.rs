//! Run summaries for people: the per-distribution table of `cflogs process --output table` and
//! the closing summary on stderr.

use crate::aggregate::{Cell, Histogram};
use crate::catalogue::Metric;
use crate::config::DimensionKey;
use crate::parse::Format;
use crate::pipeline::ProcessedFile;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Totals of one distribution over a run.
#[derive(Debug, Clone, Default)]
pub struct DistributionSummary {
    pub requests: u64,
    pub bytes_downloaded: u64,
    pub hits: u64,
    pub misses: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub time_taken: Histogram,
}

impl DistributionSummary {
    /// Cache hit ratio: (Hit + RefreshHit) / (Hit + RefreshHit + Miss).
    pub fn hit_ratio(&self) -> Option<f64> {
        let n = self.hits as f64 + self.misses as f64;
        (n > 0.0).then(|| self.hits as f64 / n)
    }
}

/// Totals of a run over all files.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub files: u64,
    pub failed_files: u64,
    pub records: u64,
    pub rejected: u64,
    /// Records dropped outside CloudWatch's window (publishing).
    pub skipped_stale: u64,
    /// Records outside CloudWatch's window that a dry run kept.
    pub kept_outside_window: u64,
    pub datums: u64,
    pub requests: u64,
    pub compressed_bytes: u64,
    pub bytes: u64,
    /// Files skipped because their marker says they were published before.
    pub duplicates: u64,
    /// Real-time records whose distribution could not be resolved (not published).
    pub unresolved: u64,
    pub distributions: BTreeMap<String, DistributionSummary>,
}

impl RunSummary {
    /// Adds a processed file.
    pub fn add(&mut self, f: &ProcessedFile) {
        self.files += 1;
        self.records += f.report.parse.records;
        self.rejected += f.report.parse.rejected;
        self.skipped_stale += f.report.skipped_stale;
        self.kept_outside_window += f.report.kept_outside_window;
        self.datums += f.datum_count() as u64;
        self.requests += f.batches.len() as u64;
        self.compressed_bytes += f.report.stream.compressed_bytes;
        self.bytes += f.report.stream.bytes;
        self.unresolved += f.report.unresolved;
        if f.report.format == Some(Format::Realtime) {
            // Real-time records name their distribution one by one: the rows of a set that is
            // `DistributionId` alone say how the file's totals split.
            let rows = f.aggregate.rows.iter().filter(|r| {
                r.dimensions.len() == 1 && r.dimensions[0].0 == DimensionKey::DistributionId
            });
            let first = rows.clone().map(|r| r.set).min();
            let mut cells: BTreeMap<&str, Cell> = BTreeMap::new();
            for r in rows.filter(|r| Some(r.set) == first) {
                cells.entry(&r.dimensions[0].1).or_default().merge(&r.cell);
            }
            if !cells.is_empty() {
                for (id, cell) in cells {
                    self.add_cell(id, &cell);
                }
                return;
            }
        }
        let id = match f.report.distribution_id.as_str() {
            "" => "(per record)",
            id => id,
        };
        self.add_cell(id, &f.aggregate.totals.cell);
    }

    fn add_cell(&mut self, id: &str, t: &Cell) {
        let d = self.distributions.entry(id.to_owned()).or_default();
        // Saturating, like the file's own sums: many files of huge sums cannot wrap either.
        d.requests = d.requests.saturating_add(t.requests);
        d.bytes_downloaded = d.bytes_downloaded.saturating_add(t.bytes_downloaded);
        d.hits = d
            .hits
            .saturating_add(t.sum(Metric::Hit))
            .saturating_add(t.sum(Metric::RefreshHit));
        d.misses = d.misses.saturating_add(t.sum(Metric::Miss));
        d.status_4xx = d.status_4xx.saturating_add(t.sum(Metric::Status4xx));
        d.status_5xx = d.status_5xx.saturating_add(t.sum(Metric::Status5xx));
        if let Some(h) = t.histogram(Metric::TimeTaken) {
            d.time_taken.merge(h);
        }
    }

    /// Notes that a file added with [`RunSummary::add`] was a duplicate: nothing of it was sent.
    pub fn add_duplicate(&mut self, f: &ProcessedFile) {
        self.duplicates += 1;
        self.requests -= f.batches.len() as u64;
    }

    /// Counts a file that failed.
    pub fn add_failure(&mut self) {
        self.files += 1;
        self.failed_files += 1;
    }

    /// The per-distribution table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<16} {:>12} {:>10} {:>7} {:>6} {:>6} {:>8} {:>8} {:>8}",
            "distribution",
            "requests",
            "GB out",
            "hit %",
            "4xx %",
            "5xx %",
            "p50 ms",
            "p90 ms",
            "p99 ms"
        );
        let pct = |n: u64, d: u64| {
            if d == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}", n as f64 * 100.0 / d as f64)
            }
        };
        for (id, d) in &self.distributions {
            let p = |q: f64| {
                d.time_taken
                    .percentile(q)
                    .map_or("-".to_owned(), |v| v.to_string())
            };
            let _ = writeln!(
                s,
                "{:<16} {:>12} {:>10.3} {:>7} {:>6} {:>6} {:>8} {:>8} {:>8}",
                id,
                d.requests,
                d.bytes_downloaded as f64 / 1e9,
                d.hit_ratio()
                    .map_or("-".to_owned(), |r| format!("{:.1}", r * 100.0)),
                pct(d.status_4xx, d.requests),
                pct(d.status_5xx, d.requests),
                p(50.0),
                p(90.0),
                p(99.0),
            );
        }
        s
    }

    /// The closing one-paragraph summary. A dry run keeps the records outside CloudWatch's
    /// window and says how many a publish would skip.
    pub fn closing(&self, elapsed: Duration, dry_run: bool) -> String {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let duplicates = if self.duplicates > 0 {
            format!(", {} already published", self.duplicates)
        } else {
            String::new()
        };
        let outside = self.skipped_stale + self.kept_outside_window;
        let outside = if dry_run {
            format!("{outside} (kept in this dry run)")
        } else {
            format!("{outside} skipped")
        };
        let unresolved = if self.unresolved > 0 {
            format!(
                ", real-time records of no known distribution (not published): {}",
                self.unresolved
            )
        } else {
            String::new()
        };
        format!(
            "files: {} ({} failed{duplicates}), records: {}, rejected lines: {}{unresolved}, outside CloudWatch's window: {outside}, datums: {}, PutMetricData requests{}: {}, read {:.1} MB ({:.1} MB decompressed) in {:.2} s, {:.1} MB/s",
            self.files,
            self.failed_files,
            self.records,
            self.rejected,
            self.datums,
            if dry_run { " it would make" } else { "" },
            self.requests,
            self.compressed_bytes as f64 / 1e6,
            self.bytes as f64 / 1e6,
            secs,
            self.bytes as f64 / 1e6 / secs,
        )
    }
}

//! The traffic report (`cflogs report`): a second consumer of parsed records beside the metric
//! aggregator. Per distribution it keeps totals, hours, latency percentiles, approximate unique
//! visitors and bounded-memory top-N lists ([`collect`], over the summaries of [`sketch`] and
//! the keys of [`classify`]), merges them across files ([`Traffic`]), and renders the result
//! ([`model::Report`]) as text, JSON or one self-contained HTML page.
//!
//! Privacy: client IPs only ever enter the unique-visitor sketch as hashes; query strings are
//! read only when asked to keep them; cookies and request ids are never read at all.

pub mod classify;
pub mod collect;
pub mod display;
pub mod html;
pub mod latency;
pub mod list;
pub mod model;
pub mod sketch;
pub mod text;

pub use collect::{DistTraffic, FileTraffic, List, TrafficOptions, TrafficProcessor};
pub use model::Report;

use std::collections::BTreeMap;

/// Capacity of each top-N sketch unless configured: the lists are exact while a list of one
/// distribution holds at most this many distinct values.
pub const DEFAULT_CAPACITY: usize = 1000;

/// Entries per top-N list unless configured.
pub const DEFAULT_TOP: usize = 20;

/// Broken files and lines listed in a report; more are only counted.
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// A broken file, or a broken line of a file: never fatal, always reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file's path or `s3://bucket/key`.
    pub file: String,
    /// The 1-based line for a broken line; `None` when the whole file failed (or for a count).
    pub line: Option<u64>,
    pub reason: String,
}

/// What a run read and what went wrong, as the report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounts {
    pub files_read: u64,
    pub files_failed: u64,
    pub records: u64,
    pub rejected_lines: u64,
    pub outside_range: u64,
    pub unresolved: u64,
    pub problems: Vec<Problem>,
    /// Problems counted but not listed (past [`MAX_LISTED_PROBLEMS`]).
    pub problems_omitted: u64,
}

/// The traffic of a run: every file's [`FileTraffic`] merged, with what went wrong.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub distributions: BTreeMap<String, DistTraffic>,
    pub counts: RunCounts,
}

impl Traffic {
    fn problem(&mut self, p: Problem) {
        let c = &mut self.counts;
        if c.problems.len() < MAX_LISTED_PROBLEMS {
            c.problems.push(p);
        } else {
            c.problems_omitted += 1;
        }
    }

    /// Merges one file's traffic, listing its broken lines.
    pub fn add_file(&mut self, file: &str, t: &FileTraffic) {
        self.counts.files_read += 1;
        self.counts.records += t.parse.records;
        self.counts.rejected_lines += t.parse.rejected;
        self.counts.outside_range += t.outside_range;
        self.counts.unresolved += t.unresolved;
        for r in &t.parse.reject_samples {
            self.problem(Problem {
                file: file.to_owned(),
                line: Some(r.line),
                reason: r.reason.to_string(),
            });
        }
        let unlisted = t.parse.rejected - t.parse.reject_samples.len() as u64;
        if unlisted > 0 {
            self.problem(Problem {
                file: file.to_owned(),
                line: None,
                reason: format!("{unlisted} more lines rejected"),
            });
        }
        for (id, d) in &t.distributions {
            match self.distributions.get_mut(id) {
                Some(m) => m.merge(d),
                None => {
                    self.distributions.insert(id.clone(), d.clone());
                }
            }
        }
    }

    /// Counts a file that could not be read, with why.
    pub fn add_failure(&mut self, file: &str, reason: String) {
        self.counts.files_failed += 1;
        self.problem(Problem {
            file: file.to_owned(),
            line: None,
            reason,
        });
    }
}

//! Stage "export": any CloudFront log record to a typed, privacy-safe JSON document, for search
//! engines (OpenSearch, Elasticsearch) and query engines (DuckDB, Athena). A second consumer of
//! log lines beside the metric aggregator: it needs every field, not the few the metrics read,
//! so it frames lines itself (headers, JSON objects, tab-separated records with or without a
//! `#Fields` header, real-time records by their field selection) and hands each record's
//! columns to [`document`]. Output: NDJSON, or OpenSearch `_bulk` action/document pairs with a
//! deterministic `_id`.

pub mod document;
pub mod privacy;
pub mod schema;

use crate::distribution::HostMap;
use crate::hash::fnv64;
use crate::parse::RealtimeFields;
use crate::parse::fields::{LEGACY_ORDER, REALTIME_ORDER};
use crate::parse::value;
use document::{Context, DocError};
use privacy::Privacy;

/// How documents are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    /// One document per line.
    Ndjson,
    /// `_bulk` pairs: `{"index":{"_index":INDEX,"_id":ID}}` then the document.
    OpenSearchBulk { index: String },
}

/// What the exporter is configured with.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    pub format: OutputFormat,
    pub privacy: Privacy,
    /// The field selection of real-time records (headerless lines starting with a timestamp).
    pub realtime: Option<RealtimeFields>,
    pub hosts: HostMap,
}

/// What became of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// A document was written.
    Document,
    /// A header or comment line (`#...`), or a blank line: nothing to write.
    Header,
    /// The record makes no document.
    Rejected(Reject),
}

/// Why a line makes no document. Never carries the line's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Doc(DocError),
    /// Fewer fields than the header declares, or not the real-time selection's count.
    FieldCount {
        got: usize,
        want: usize,
    },
    /// Not a JSON object.
    BadJson,
    /// A tab-separated line before any header, in no known layout.
    UnknownLayout,
    /// Longer than [`crate::parse::MAX_RECORD_BYTES`].
    TooLong,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::Doc(e) => e.fmt(f),
            Reject::FieldCount { got, want } => write!(f, "{got} fields where {want} are expected"),
            Reject::BadJson => f.write_str("not a valid JSON object"),
            Reject::UnknownLayout => {
                f.write_str("a tab-separated line before any #Fields header, in no known layout")
            }
            Reject::TooLong => write!(f, "longer than {} bytes", crate::parse::MAX_RECORD_BYTES),
        }
    }
}

/// Counts of one file or batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub lines: u64,
    pub documents: u64,
    pub rejected: u64,
    /// The first rejections: (line number, reason).
    pub reject_samples: Vec<(u64, Reject)>,
}

/// Column layout in force: the field index of each column (`None`: unknown, left out), and
/// whether a line must have exactly that many columns.
#[derive(Debug, Clone)]
struct Layout {
    columns: Vec<Option<usize>>,
    exact: bool,
}

impl Layout {
    fn of<'a>(names: impl Iterator<Item = &'a [u8]>, exact: bool) -> Layout {
        Layout {
            columns: names.map(schema::lookup).collect(),
            exact,
        }
    }
}

/// Exports the lines of one file (or one batch of records).
#[derive(Debug)]
pub struct Exporter<'c> {
    config: &'c ExportConfig,
    source: String,
    distribution_id: String,
    layout: Option<Layout>,
    stats: ExportStats,
}

impl<'c> Exporter<'c> {
    /// An exporter of the records of `source`, whose distribution is `distribution_id` unless a
    /// record names its own (empty: none).
    pub fn new(config: &'c ExportConfig, source: &str, distribution_id: &str) -> Self {
        Exporter {
            config,
            source: source.to_owned(),
            distribution_id: distribution_id.to_owned(),
            layout: None,
            stats: ExportStats::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> &ExportStats {
        &self.stats
    }

    fn layout_for(&self, first: &[u8], columns: usize) -> Option<Layout> {
        if value::date_field(first).is_ok() {
            return Some(Layout::of(LEGACY_ORDER.iter().map(|n| n.as_bytes()), false));
        }
        if !matches!(value::epoch_seconds_field(first), Ok(Some(_))) {
            return None;
        }
        if let Some(f) = &self.config.realtime {
            return Some(Layout::of(f.names().iter().map(|n| n.as_bytes()), true));
        }
        let names = REALTIME_ORDER.iter().map(|n| n.as_bytes());
        match columns {
            46 => Some(Layout::of(names, true)),
            45 => Some(Layout::of(names.filter(|n| *n != b"s-ip"), true)),
            _ => None,
        }
    }

    /// Exports one record read elsewhere (a Parquet file's row): its non-empty fields, appending
    /// its document to `out`.
    pub fn record(&mut self, r: &crate::parse::Record<'_>, out: &mut Vec<u8>) -> LineOutcome {
        self.stats.lines += 1;
        let mut cols: Vec<(usize, &[u8])> = crate::parse::Field::ALL
            .into_iter()
            .filter_map(|f| {
                let v = r.field(f);
                (!v.is_empty()).then(|| Some((schema::lookup(f.name().as_bytes())?, v)))?
            })
            .collect();
        let outcome = self.emit(&mut cols, out);
        self.count(outcome);
        outcome
    }

    /// Counts rows a reader rejected before they reached the exporter (a Parquet row with an
    /// unreadable value).
    pub fn count_rejected(&mut self, rejected: u64) {
        self.stats.lines += rejected;
        self.stats.rejected += rejected;
    }

    /// Counts a line the caller gave up on (longer than [`crate::parse::MAX_RECORD_BYTES`]).
    pub fn reject_overlong(&mut self) {
        self.stats.lines += 1;
        self.count(LineOutcome::Rejected(Reject::TooLong));
    }

    fn count(&mut self, outcome: LineOutcome) {
        match outcome {
            LineOutcome::Document => self.stats.documents += 1,
            LineOutcome::Header => {}
            LineOutcome::Rejected(r) => {
                self.stats.rejected += 1;
                if self.stats.reject_samples.len() < crate::parse::MAX_REJECT_SAMPLES {
                    self.stats.reject_samples.push((self.stats.lines, r));
                }
            }
        }
    }

    /// Exports one line (without its newline), appending its document and the format's framing
    /// to `out`.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> LineOutcome {
        self.stats.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let outcome = self.frame(line, out);
        self.count(outcome);
        outcome
    }

    fn frame(&mut self, line: &[u8], out: &mut Vec<u8>) -> LineOutcome {
        let first = line.iter().position(|b| !matches!(b, b' ' | b'\t'));
        let Some(first) = first else {
            return LineOutcome::Header;
        };
        match line[first] {
            b'#' => {
                if let Some(rest) = line.strip_prefix(b"#Fields:") {
                    let names = rest
                        .split(|&b| b == b' ' || b == b'\t')
                        .filter(|n| !n.is_empty());
                    self.layout = Some(Layout::of(names, false));
                }
                LineOutcome::Header
            }
            b'{' => self.json(line, out),
            _ => self.tsv(line, out),
        }
    }

    fn json(&mut self, line: &[u8], out: &mut Vec<u8>) -> LineOutcome {
        let Ok(map) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line)
        else {
            return LineOutcome::Rejected(Reject::BadJson);
        };
        let values: Vec<(usize, String)> = map
            .iter()
            .filter_map(|(k, v)| {
                let i = schema::lookup(k.as_bytes())?;
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((i, text))
            })
            .collect();
        let mut cols: Vec<(usize, &[u8])> =
            values.iter().map(|(i, t)| (*i, t.as_bytes())).collect();
        self.emit(&mut cols, out)
    }

    fn tsv(&mut self, line: &[u8], out: &mut Vec<u8>) -> LineOutcome {
        let columns = memchr::memchr_iter(b'\t', line).count() + 1;
        if self.layout.is_none() {
            let first = line.split(|&b| b == b'\t').next().unwrap_or(b"");
            match self.layout_for(first, columns) {
                Some(l) => self.layout = Some(l),
                None => return LineOutcome::Rejected(Reject::UnknownLayout),
            }
        }
        let Some(layout) = &self.layout else {
            return LineOutcome::Rejected(Reject::UnknownLayout);
        };
        let want = layout.columns.len();
        if columns < want || (layout.exact && columns != want) {
            return LineOutcome::Rejected(Reject::FieldCount { got: columns, want });
        }
        let mut cols: Vec<(usize, &[u8])> = line
            .split(|&b| b == b'\t')
            .zip(&layout.columns)
            .filter_map(|(v, c)| Some(((*c)?, v)))
            .collect();
        self.emit(&mut cols, out)
    }

    fn emit(&mut self, cols: &mut [(usize, &[u8])], out: &mut Vec<u8>) -> LineOutcome {
        let ctx = Context {
            source: &self.source,
            distribution_id: &self.distribution_id,
            hosts: &self.config.hosts,
            privacy: self.config.privacy,
        };
        let mark = out.len();
        if let OutputFormat::OpenSearchBulk { index } = &self.config.format {
            // Deterministic: the same line of the same source always gets the same _id, so a
            // re-run overwrites instead of duplicating.
            let id = fnv64(format!("{}\n{}", self.source, self.stats.lines).as_bytes());
            out.extend_from_slice(b"{\"index\":{\"_index\":");
            let _ = serde_json::to_writer(&mut *out, index);
            out.extend_from_slice(format!(",\"_id\":\"{id:016x}\"}}}}\n").as_bytes());
        }
        match document::write(cols, &ctx, out) {
            Ok(()) => {
                out.push(b'\n');
                LineOutcome::Document
            }
            Err(e) => {
                out.truncate(mark);
                LineOutcome::Rejected(Reject::Doc(e))
            }
        }
    }

    /// Exports every complete line of `data`, returning how many bytes were consumed (the rest,
    /// a partial last line, is passed again with more data); with `eof`, everything.
    pub fn feed(&mut self, data: &[u8], eof: bool, out: &mut Vec<u8>) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            match memchr::memchr(b'\n', &data[pos..]) {
                Some(i) => {
                    self.line(&data[pos..pos + i], out);
                    pos += i + 1;
                }
                None if eof => {
                    self.line(&data[pos..], out);
                    pos = data.len();
                }
                None => break,
            }
        }
        pos
    }
}

#[cfg(test)]
mod tests;

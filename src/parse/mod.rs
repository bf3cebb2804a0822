//! Stage "parse": turns decompressed log bytes into [`Record`]s, header-driven.
//!
//! One [`LogParser`] reads one file. It is fed bytes in chunks of any size ([`LogParser::process`]
//! returns how much it consumed, the caller keeps the rest) and detects the format per line from
//! the content: `#` lines are headers (a new `#Fields` line remaps the columns from there on), `{`
//! starts a JSON record, anything else is a tab-separated record. A malformed line is counted as
//! rejected and skipped; it never ends the file.
//!
//! [`LogParser::process`] only detects the format of each line and dispatches; each format is
//! framed in its own module behind one small interface (`frame`: the shared state, the line and
//! the step a framing returns): `w3c_frame` (records under a `#Fields` header, the hot path, and
//! the headers), `json_frame` (JSON objects, which may span lines) and `tsv` (tab-separated lines
//! without a header).

pub mod fields;
mod frame;
pub mod json;
mod json_frame;
pub mod realtime;
mod record;
pub mod tabs;
mod tsv;
pub mod value;
pub mod w3c;
mod w3c_frame;

use std::fmt;

pub use fields::{FIELD_COUNT, Field, FieldSet};
use frame::{Line, State, Step};
pub use realtime::{RealtimeFields, RealtimeFieldsError};
pub use record::Record;
use value::BadValue;

/// Longest record accepted, in bytes; a longer line is rejected and skipped.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Longest JSON record accepted, in bytes: a pretty-printed object may span lines, but one that
/// stays open longer than this is rejected, so an unclosed `{` cannot hold up the file.
pub const MAX_JSON_RECORD_BYTES: usize = 64 * 1024;

/// How many rejected lines are kept with their line number and reason, per file.
pub const MAX_REJECT_SAMPLES: usize = 5;

/// The detected format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Tab-separated lines mapped by a `#Fields` header (legacy standard logs, v2 W3C).
    W3c,
    /// Tab-separated lines without a header, mapped by CloudFront's canonical column order.
    W3cHeaderless,
    /// One JSON object per record (standard logging v2, JSON output).
    Json,
    /// Real-time log records of a configured field selection (no header).
    Realtime,
    /// Apache Parquet (standard logging v2), read by `crate::columnar`.
    Parquet,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::W3c => "w3c",
            Format::W3cHeaderless => "w3c_headerless",
            Format::Json => "json",
            Format::Realtime => "realtime",
            Format::Parquet => "parquet",
        })
    }
}

/// Why a line was rejected. Never carries the line's content: log lines hold viewer IPs and
/// cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Fewer tab-separated fields than the header declares.
    TooFewFields { got: usize, want: usize },
    /// A real-time record whose field count is not the configured selection's.
    FieldCount { got: usize, want: usize },
    /// A field we read holds an unreadable value.
    BadValue { field: Field, problem: BadValue },
    /// The record has no usable time (no date+time, timestamp or timestamp(ms)).
    NoTime,
    /// Not a valid JSON object.
    BadJson,
    /// A data line before any header, in a layout that cannot be recognised.
    UnknownLayout { columns: usize },
    /// Longer than [`MAX_RECORD_BYTES`].
    TooLong,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::TooFewFields { got, want } => {
                write!(f, "{got} fields where the header declares {want}")
            }
            RejectReason::FieldCount { got, want } => write!(
                f,
                "{got} fields where the real-time log field selection has {want} \
                 (REALTIME_FIELDS / --realtime-fields must list the fields the stream's \
                 real-time log configuration selects)"
            ),
            RejectReason::BadValue { field, problem } => {
                let what = match problem {
                    BadValue::NotANumber => "not a number",
                    BadValue::Overflow => "out of range",
                    BadValue::BadTime => "not a valid date/time",
                    BadValue::Implausible => "above its plausible maximum",
                };
                write!(f, "field {} is {what}", field.name())?;
                match (problem, field) {
                    (BadValue::Implausible, Field::ScBytes | Field::CsBytes) => {
                        write!(f, " ({} bytes)", value::MAX_BYTES)
                    }
                    (BadValue::Implausible, _) => write!(f, " ({} ms)", value::MAX_LATENCY_MS),
                    _ => Ok(()),
                }
            }
            RejectReason::NoTime => f.write_str("no date/time, timestamp or timestamp(ms) value"),
            RejectReason::BadJson => f.write_str("not a valid JSON object"),
            RejectReason::UnknownLayout { columns } => write!(
                f,
                "a line of {columns} fields before any #Fields header, in no known layout"
            ),
            RejectReason::TooLong => write!(f, "longer than {MAX_RECORD_BYTES} bytes"),
        }
    }
}

/// One rejected line: its 1-based line number and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub line: u64,
    pub reason: RejectReason,
}

/// Why a whole file cannot be read as a CloudFront log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotALog {
    #[error("binary content (byte {byte:#04x} at offset {offset}): not gzip, not text")]
    Binary { byte: u8, offset: usize },
    #[error(
        "first line is neither a #-header, a JSON object nor a tab-separated CloudFront record"
    )]
    UnknownText,
    #[error(
        "Apache Parquet: read for metrics (`cflogs process`, the Lambda); this command reads the text formats"
    )]
    Parquet,
    #[error("a JSON object without any CloudFront log field")]
    ForeignJson,
}

/// Whether the first bytes of a file (decompressed) can be a CloudFront log: no Parquet magic
/// (read by [`crate::columnar`]), no binary bytes in the first KiB, a first line that is a
/// `#` header, a JSON object naming at least one CloudFront field, or a record starting with a
/// digit (a date or an epoch timestamp). The one check every reader makes, so that each refuses
/// the same files with the same reason.
pub fn check_log(data: &[u8]) -> Result<(), NotALog> {
    LogParser::check_text(data)?;
    let start = data
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let Some(start) = start.filter(|&i| data[i] == b'{') else {
        return Ok(());
    };
    // The first object, when it ends in these bytes (else it is judged as its lines are).
    let mut objects =
        serde_json::Deserializer::from_slice(&data[start..]).into_iter::<serde_json::Value>();
    match objects.next() {
        Some(Ok(serde_json::Value::Object(map))) => {
            // By name in any spelling (`cs(User-Agent)`, `cs-user-agent`, `cs_user_agent`).
            let known = map.keys().any(|k| {
                let k = fields::normalize(k);
                k == "cs_referrer"
                    || fields::Field::ALL
                        .iter()
                        .any(|f| fields::normalize(f.name()) == k)
            });
            if known {
                Ok(())
            } else {
                Err(NotALog::ForeignJson)
            }
        }
        _ => Ok(()),
    }
}

/// Line counts of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Lines seen (headers and blank lines included).
    pub lines: u64,
    /// Records accepted.
    pub records: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// The first [`MAX_REJECT_SAMPLES`] rejections.
    pub reject_samples: Vec<Rejection>,
}

/// The streaming parser of one file. See the module documentation.
#[derive(Debug, Default)]
pub struct LogParser {
    /// What the framings share.
    st: State,
    checked_text: bool,
    /// Inside an overlong line the caller gave up on: input is skipped up to its end.
    skipping: bool,
}

impl LogParser {
    /// A parser for a new file.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser for a new file whose tab-separated records fill only `fields` (plus
    /// [`FieldSet::CORE`]); the others read as empty. Splitting a line costs a few instructions
    /// per field filled.
    pub fn reading(fields: FieldSet) -> Self {
        LogParser {
            st: State {
                fields: fields.union(FieldSet::CORE),
                ..State::default()
            },
            ..Self::default()
        }
    }

    /// A parser for real-time records of the selection `realtime` (headerless lines that start
    /// with an epoch timestamp), filling `fields` plus [`FieldSet::CORE`]. A `#Fields` header
    /// or a headerless line that starts with a date still selects a standard log's layout.
    pub fn realtime(realtime: &RealtimeFields, fields: FieldSet) -> Self {
        let mut p = Self::reading(fields);
        p.st.realtime = Some(w3c::Columns::realtime(realtime).reading(p.st.fields));
        p
    }

    /// The first format seen in the file, if any line was recognised.
    pub fn format(&self) -> Option<Format> {
        self.st.format
    }

    /// Line counts so far.
    pub fn stats(&self) -> &ParseStats {
        &self.st.stats
    }

    /// Consumes the parser, returning its counts.
    pub fn into_stats(self) -> ParseStats {
        self.st.stats
    }

    /// Rejects the partial line the caller holds (it grew past [`MAX_RECORD_BYTES`]) and skips
    /// input up to its end.
    pub fn reject_overlong(&mut self) {
        self.st.stats.reject_next_line(RejectReason::TooLong);
        self.skipping = true;
    }

    fn check_text(data: &[u8]) -> Result<(), NotALog> {
        if data.starts_with(b"PAR1") {
            return Err(NotALog::Parquet);
        }
        let head = &data[..data.len().min(1024)];
        if let Some(offset) = head
            .iter()
            .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        {
            return Err(NotALog::Binary {
                byte: head[offset],
                offset,
            });
        }
        let first = head
            .iter()
            .copied()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        match first {
            None | Some(b'#') | Some(b'{') | Some(b'0'..=b'9') => Ok(()),
            Some(_) => Err(NotALog::UnknownText),
        }
    }

    /// Parses the complete lines (and JSON objects) at the start of `data`, calling `on_record`
    /// for each accepted record, and returns how many bytes were consumed; the caller passes the
    /// rest again with more data appended. With `eof`, everything is consumed (a last line
    /// without newline included). Errs only when the file as a whole is not a CloudFront log,
    /// which is decided on the first bytes.
    pub fn process<F: FnMut(&Record<'_>)>(
        &mut self,
        data: &[u8],
        eof: bool,
        mut on_record: F,
    ) -> Result<usize, NotALog> {
        if !self.checked_text {
            if data.len() < 1024 && !eof {
                return Ok(0);
            }
            check_log(data)?;
            self.checked_text = true;
        }
        let st = &mut self.st;
        st.ensure_scratch();
        let mut pos = 0usize;
        while pos < data.len() {
            if self.skipping {
                match memchr::memchr(b'\n', &data[pos..]) {
                    Some(i) => {
                        pos += i + 1;
                        self.skipping = false;
                        continue;
                    }
                    None => return Ok(data.len()),
                }
            }
            // The hot path: a tab-separated record under a known header, split while its end is
            // found, in one pass over its bytes.
            let hot = match data.get(pos) {
                Some(b'0'..=b'9') => w3c_frame::record(st, data, pos, eof, &mut on_record),
                _ => None,
            };
            let step = match hot {
                Some(step) => step,
                None => Self::frame_line(st, data, pos, eof, &mut on_record),
            };
            match step {
                Step::Consumed(next) => pos = next,
                Step::NeedMore => break,
            }
        }
        Ok(pos)
    }

    /// Frames the line at `data[pos..]` by what it starts with: a blank line, a `#` header, a `{`
    /// JSON object or a tab-separated record. Not inlined: it keeps the hot path's loop small.
    #[inline(never)]
    fn frame_line<F: FnMut(&Record<'_>)>(
        st: &mut State,
        data: &[u8],
        pos: usize,
        eof: bool,
        on_record: &mut F,
    ) -> Step {
        let Some(line) = Line::at(data, pos, eof) else {
            return Step::NeedMore;
        };
        if line.len > MAX_RECORD_BYTES {
            st.stats.reject_next_line(RejectReason::TooLong);
            return Step::Consumed(line.next);
        }
        match line.first() {
            None => {
                st.stats.lines += 1;
                Step::Consumed(line.next)
            }
            Some(b'#') => w3c_frame::header(st, &line),
            Some(b'{') => json_frame::object(st, data, &line, eof, on_record),
            Some(_) => tsv::record(st, &line, on_record),
        }
    }
}

#[cfg(test)]
mod tests;

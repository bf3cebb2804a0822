//! The interface between [`LogParser::process`](super::LogParser::process), which detects the
//! format of each line and dispatches, and the per-format framings (`w3c_frame`, `json_frame`,
//! `tsv`): the state they share, the line the dispatcher hands them and the step they return.

use super::fields::{FIELD_COUNT, FieldSet};
use super::value::DayCache;
use super::w3c::{ColumnStarts, Columns};
use super::{Format, MAX_REJECT_SAMPLES, ParseStats, Record, RejectReason, Rejection};

/// What a framing did with the input at its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// It framed (and counted) what starts there; the next one starts at this offset.
    Consumed(usize),
    /// The input ends inside it: the caller passes it again with more data appended.
    NeedMore,
}

/// The state of one file's parse that every framing reads or updates.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The column mapping in force: from the last `#Fields` header, or a headerless layout.
    pub columns: Option<Columns>,
    /// The first format seen.
    pub format: Option<Format>,
    pub stats: ParseStats,
    /// Unescaped JSON values, one buffer per field slot (allocated once per parser).
    pub scratch: Vec<Vec<u8>>,
    pub days: DayCache,
    /// The fields records fill (the others read as empty).
    pub fields: FieldSet,
    pub starts: ColumnStarts,
    /// The configured real-time layout, taken by the first headerless line that starts with an
    /// epoch timestamp.
    pub realtime: Option<Columns>,
}

impl State {
    /// The JSON scratch buffers, one per field slot, allocated once per parser.
    pub fn ensure_scratch(&mut self) {
        if self.scratch.is_empty() {
            self.scratch = vec![Vec::new(); FIELD_COUNT];
        }
    }
}

impl ParseStats {
    /// Counts a parsed line: an accepted record goes to `on_record`, a rejection to the stats.
    #[inline]
    pub(crate) fn deliver<F: FnMut(&Record<'_>)>(
        &mut self,
        line: u64,
        result: Result<Record<'_>, RejectReason>,
        on_record: &mut F,
    ) {
        match result {
            Ok(rec) => {
                self.records += 1;
                on_record(&rec);
            }
            Err(reason) => self.reject(line, reason),
        }
    }

    /// Counts line `line` as rejected for `reason`.
    pub(crate) fn reject(&mut self, line: u64, reason: RejectReason) {
        self.rejected += 1;
        if self.reject_samples.len() < MAX_REJECT_SAMPLES {
            self.reject_samples.push(Rejection { line, reason });
        }
    }

    /// Counts one more line, rejected for `reason`.
    pub(crate) fn reject_next_line(&mut self, reason: RejectReason) {
        self.lines += 1;
        self.reject(self.lines, reason);
    }
}

/// One line the dispatcher found, for the framings that start from a whole line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// The line without its newline and a `\r` before it.
    pub text: &'a [u8],
    /// Its offset in the data.
    pub start: usize,
    /// The offset after its newline (the end of the data for a last line without one).
    pub next: usize,
    /// Its length without the newline (a `\r` included).
    pub len: usize,
}

impl<'a> Line<'a> {
    /// The line at `data[pos..]`, or `None` when it has no newline yet and more data may follow.
    #[inline]
    pub fn at(data: &'a [u8], pos: usize, eof: bool) -> Option<Line<'a>> {
        let rest = &data[pos..];
        let len = match memchr::memchr(b'\n', rest) {
            Some(i) => i,
            None if eof => rest.len(),
            None => return None,
        };
        let text = &rest[..len];
        Some(Line {
            text: text.strip_suffix(b"\r").unwrap_or(text),
            start: pos,
            next: pos + (len + 1).min(rest.len()),
            len,
        })
    }

    /// Its first byte that is not a space or a tab, `None` for a blank line.
    #[inline]
    pub fn first(&self) -> Option<u8> {
        self.text
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .map(|i| self.text[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_ends_at_its_newline_without_the_cr() {
        let data = b"ab\r\n \t{x\n";
        let l = Line::at(data, 0, false).map(|l| (l.text, l.start, l.next, l.len));
        assert_eq!(l, Some((&b"ab"[..], 0, 4, 3)));
        let l = Line::at(data, 4, false);
        assert_eq!(l.map(|l| (l.text, l.next)), Some((&b" \t{x"[..], 9)));
        assert_eq!(l.and_then(|l| l.first()), Some(b'{'));
    }

    #[test]
    fn a_last_line_without_newline_waits_for_more_unless_at_the_end() {
        assert!(Line::at(b"x\n12", 2, false).is_none());
        let l = Line::at(b"x\n12", 2, true).map(|l| (l.text, l.next));
        assert_eq!(l, Some((&b"12"[..], 4)));
        let blank = Line::at(b" \t\r\n", 0, false).map(|l| l.first());
        assert_eq!(blank, Some(None));
    }
}

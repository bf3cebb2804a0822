//! W3C framing: tab-separated records under a known `#Fields` header (the hot path, each split
//! in one pass while its end is found) and the `#` header lines that (re)map the columns.

use super::fields::FIELD_COUNT;
use super::frame::{Line, State, Step};
use super::w3c::Columns;
use super::{Format, MAX_RECORD_BYTES, Record, RejectReason};

/// Frames the tab-separated record at `data[pos..]` by the columns of the header in force, or
/// returns `None` when no header (or headerless layout) mapped any yet.
#[inline(always)]
pub(crate) fn record<F: FnMut(&Record<'_>)>(
    st: &mut State,
    data: &[u8],
    pos: usize,
    eof: bool,
    on_record: &mut F,
) -> Option<Step> {
    let columns = st.columns.as_ref()?;
    let mut raw = [&b""[..]; FIELD_COUNT];
    let end = columns.split_line(&data[pos..], &mut st.starts, &mut raw);
    if !end.newline && !eof {
        return Some(Step::NeedMore);
    }
    st.stats.lines += 1;
    let line_no = st.stats.lines;
    let result = if end.len > MAX_RECORD_BYTES {
        Err(RejectReason::TooLong)
    } else {
        columns
            .check(end.columns)
            .and_then(|()| Record::from_raw(&raw, &mut st.days))
    };
    st.stats.deliver(line_no, result, on_record);
    Some(Step::Consumed(pos + end.len + usize::from(end.newline)))
}

/// Frames a `#` line: a `#Fields` header maps the columns from here on; other headers
/// (`#Version`, comments) are only counted.
pub(crate) fn header(st: &mut State, line: &Line<'_>) -> Step {
    st.stats.lines += 1;
    if let Some(columns) = Columns::from_fields_line(line.text) {
        st.format.get_or_insert(Format::W3c);
        st.columns = Some(columns.reading(st.fields));
    }
    Step::Consumed(line.next)
}

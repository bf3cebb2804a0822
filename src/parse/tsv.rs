//! Tab-separated framing of a line the hot path did not take: before any header it recognises a
//! headerless layout (legacy when the line starts with a date, real-time when it starts with an
//! epoch timestamp) and maps the columns by it from there on; it then splits the line.

use super::fields::FIELD_COUNT;
use super::frame::{Line, State, Step};
use super::w3c::{self, Columns};
use super::{Format, Record, RejectReason, value};

/// Frames one tab-separated line (any line neither blank, a `#` header nor a JSON object).
pub(crate) fn record<F: FnMut(&Record<'_>)>(
    st: &mut State,
    line: &Line<'_>,
    on_record: &mut F,
) -> Step {
    st.stats.lines += 1;
    let line_no = st.stats.lines;
    if st.columns.is_none() {
        match headerless_columns(line.text) {
            Ok(c) => {
                st.format.get_or_insert(Format::W3cHeaderless);
                st.columns = Some(c.reading(st.fields));
            }
            Err(reason) => {
                st.stats.reject(line_no, reason);
                return Step::Consumed(line.next);
            }
        }
    }
    let mut raw = [&b""[..]; FIELD_COUNT];
    let result = match &st.columns {
        Some(c) => c
            .split(line.text, &mut st.starts, &mut raw)
            .and_then(|()| Record::from_raw(&raw, &mut st.days)),
        None => Err(RejectReason::NoTime),
    };
    st.stats.deliver(line_no, result, on_record);
    Step::Consumed(line.next)
}

/// The layout of a data line met before any header: legacy when it starts with a date,
/// real-time when it starts with an epoch timestamp.
fn headerless_columns(line: &[u8]) -> Result<Columns, RejectReason> {
    let first = line.split(|&b| b == b'\t').next().unwrap_or(b"");
    let columns = w3c::count_columns(line);
    if value::date_field(first).is_ok() {
        return Ok(Columns::legacy_headerless());
    }
    if matches!(value::epoch_seconds_field(first), Ok(Some(_)))
        && let Some(c) = Columns::realtime_headerless(columns)
    {
        return Ok(c);
    }
    Err(RejectReason::UnknownLayout { columns })
}

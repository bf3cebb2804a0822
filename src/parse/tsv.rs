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
        match headerless_columns(line.text, st.realtime.clone()) {
            Ok((c, format)) => {
                st.format.get_or_insert(format);
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
/// real-time when it starts with an epoch timestamp (the configured selection's layout when there
/// is one, else the canonical one by the line's field count).
fn headerless_columns(
    line: &[u8],
    configured: Option<Columns>,
) -> Result<(Columns, Format), RejectReason> {
    let first = line.split(|&b| b == b'\t').next().unwrap_or(b"");
    let columns = w3c::count_columns(line);
    if value::date_field(first).is_ok() {
        return Ok((Columns::legacy_headerless(), Format::W3cHeaderless));
    }
    if matches!(value::epoch_seconds_field(first), Ok(Some(_))) {
        if let Some(c) = configured {
            return Ok((c, Format::Realtime));
        }
        if let Some(c) = Columns::realtime_headerless(columns) {
            return Ok((c, Format::W3cHeaderless));
        }
    }
    Err(RejectReason::UnknownLayout { columns })
}

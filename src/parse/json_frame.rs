//! JSON framing: finds where each JSON record ends (an object may be pretty-printed over lines,
//! or followed by another on the same line), unescapes its values into the scratch buffers and
//! turns it into a record. The object itself is read by [`json::scan_object`].

use super::fields::FIELD_COUNT;
use super::frame::{Line, State, Step};
use super::json;
use super::{Format, MAX_JSON_RECORD_BYTES, Record, RejectReason};

/// Where the line of a JSON record ends.
enum JsonTail {
    /// At this offset, after the newline.
    LineEnd(usize),
    /// Another object starts here on the same line.
    NextObject(usize),
    /// Something else follows on the line: the line is rejected up to this offset.
    Garbage(usize),
}

/// Frames the JSON object that starts on `line` (its first non-blank byte is `{`), reading on
/// past the line's end while the object stays open.
pub(crate) fn object<F: FnMut(&Record<'_>)>(
    st: &mut State,
    data: &[u8],
    line: &Line<'_>,
    eof: bool,
    on_record: &mut F,
) -> Step {
    let pos = line.start;
    let start = pos + line.text.iter().position(|&b| b == b'{').unwrap_or(0);
    let mut raw = [&b""[..]; FIELD_COUNT];
    let window = &data[start..data.len().min(start + MAX_JSON_RECORD_BYTES)];
    let (end, escapes) = match json::scan_object(window, &mut raw, st.fields) {
        Ok((end, escapes)) => (start + end, escapes),
        Err(json::JsonError::Incomplete) if !eof && window.len() < MAX_JSON_RECORD_BYTES => {
            return Step::NeedMore;
        }
        Err(_) => {
            st.stats.reject_next_line(RejectReason::BadJson);
            return Step::Consumed(line.next);
        }
    };
    // What follows the object decides where its line ends; it is read before the record is
    // counted, so a wait for more data never counts the same record twice.
    let mut after = end;
    while matches!(data.get(after), Some(b' ' | b'\t' | b'\r')) {
        after += 1;
    }
    let tail = match data.get(after) {
        Some(b'\n') => JsonTail::LineEnd(after + 1),
        Some(b'{') => JsonTail::NextObject(after),
        None if eof => JsonTail::LineEnd(after),
        None => return Step::NeedMore,
        Some(_) => match memchr::memchr(b'\n', &data[after..]) {
            Some(i) => JsonTail::Garbage(after + i + 1),
            None if eof => JsonTail::Garbage(data.len()),
            None => return Step::NeedMore,
        },
    };
    let line_no = st.stats.lines + 1;
    // A pretty-printed object spans lines.
    st.stats.lines += memchr::memchr_iter(b'\n', &data[pos..end]).count() as u64;
    st.format.get_or_insert(Format::Json);
    let mut ok = true;
    if escapes != 0 {
        for (slot, (v, buf)) in raw.iter().zip(st.scratch.iter_mut()).enumerate() {
            if escapes & (1 << slot) != 0 {
                ok &= json::unescape(v, buf);
            }
        }
        for (slot, (v, buf)) in raw.iter_mut().zip(st.scratch.iter()).enumerate() {
            if escapes & (1 << slot) != 0 {
                *v = buf;
            }
        }
    }
    // Anything but another object after the object makes the line malformed: it is rejected as a
    // whole.
    let result = if ok && !matches!(tail, JsonTail::Garbage(_)) {
        Record::from_raw(&raw, &mut st.days)
    } else {
        Err(RejectReason::BadJson)
    };
    st.stats.deliver(line_no, result, on_record);
    match tail {
        JsonTail::LineEnd(p) | JsonTail::Garbage(p) => {
            st.stats.lines += 1;
            Step::Consumed(p)
        }
        JsonTail::NextObject(p) => Step::Consumed(p),
    }
}

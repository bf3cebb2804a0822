//! One accepted record: converts the raw field slots of a line (tab-separated or JSON) into a
//! [`Record`] of the values this project uses, or the reason the line is rejected.

use super::RejectReason;
use super::fields::{FIELD_COUNT, Field};
use super::value::{self, BadValue};

/// One accepted log record: the values this project uses, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Request time, epoch milliseconds (UTC).
    pub timestamp_ms: i64,
    /// `sc-bytes` (0 when empty), at most [`value::MAX_BYTES`].
    pub sc_bytes: u64,
    /// `cs-bytes` (0 when empty), at most [`value::MAX_BYTES`].
    pub cs_bytes: u64,
    /// `sc-status`; `Some(0)` for `000`.
    pub sc_status: Option<u16>,
    /// `time-taken` in milliseconds.
    pub time_taken_ms: Option<u32>,
    /// `time-to-first-byte` in milliseconds.
    pub time_to_first_byte_ms: Option<u32>,
    /// `origin-fbl` in milliseconds.
    pub origin_fbl_ms: Option<u32>,
    /// `origin-lbl` in milliseconds.
    pub origin_lbl_ms: Option<u32>,
    /// The line's field slots, borrowed rather than copied (this is the per-record hot path).
    raw: &'a [&'a [u8]; FIELD_COUNT],
}

impl<'a> Record<'a> {
    /// The raw value of a field, `b""` when absent or `-`.
    #[inline]
    pub fn field(&self, f: Field) -> &'a [u8] {
        let v = self.raw[f.slot()];
        if v == b"-" { b"" } else { v }
    }

    /// Converts the raw slots of one line into a record.
    #[inline]
    pub fn from_raw(
        raw: &'a [&'a [u8]; FIELD_COUNT],
        day_cache: &mut value::DayCache,
    ) -> Result<Record<'a>, RejectReason> {
        let bad = |field: Field| move |problem: BadValue| RejectReason::BadValue { field, problem };
        let get = |f: Field| raw[f.slot()];
        let timestamp_ms = if let Some(ms) =
            value::epoch_millis_field(get(Field::TimestampMs)).map_err(bad(Field::TimestampMs))?
        {
            ms
        } else if let Some(ms) =
            value::epoch_seconds_field(get(Field::Timestamp)).map_err(bad(Field::Timestamp))?
        {
            ms
        } else {
            let (d, t) = (get(Field::Date), get(Field::Time));
            if value::is_empty(d) || value::is_empty(t) {
                return Err(RejectReason::NoTime);
            }
            let days = day_cache.days(d).map_err(bad(Field::Date))?;
            let secs = value::time_field(t).map_err(bad(Field::Time))?;
            (days * 86_400 + secs) * 1000
        };
        // Not a closure: this runs four times per record and must inline.
        #[inline(always)]
        fn ms(raw: &[&[u8]; FIELD_COUNT], f: Field) -> Result<Option<u32>, RejectReason> {
            value::latency_field(raw[f.slot()])
                .map_err(|problem| RejectReason::BadValue { field: f, problem })
        }
        Ok(Record {
            timestamp_ms,
            sc_bytes: value::bytes_field(get(Field::ScBytes))
                .map_err(bad(Field::ScBytes))?
                .unwrap_or(0),
            cs_bytes: value::bytes_field(get(Field::CsBytes))
                .map_err(bad(Field::CsBytes))?
                .unwrap_or(0),
            sc_status: value::status_field(get(Field::ScStatus)).map_err(bad(Field::ScStatus))?,
            time_taken_ms: ms(raw, Field::TimeTaken)?,
            time_to_first_byte_ms: ms(raw, Field::TimeToFirstByte)?,
            origin_fbl_ms: ms(raw, Field::OriginFbl)?,
            origin_lbl_ms: ms(raw, Field::OriginLbl)?,
            raw,
        })
    }
}

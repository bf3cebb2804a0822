//! Field value conversions: integers, seconds-with-milliseconds, dates and times, all from bytes
//! and exact (no floating point).
//!
//! `-` (and an empty field) means "no value" in every field, numeric ones included. Byte counts
//! and latencies have a plausible range ([`MAX_BYTES`], [`MAX_LATENCY_MS`]): a value outside it is
//! [`BadValue::Implausible`] and rejects its line, so that no crafted line can dominate a sum.

/// Why a value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadValue {
    /// Not a number where one was expected.
    NotANumber,
    /// Too large for its type.
    Overflow,
    /// Not a valid date or time.
    BadTime,
    /// A number, but outside the field's plausible range.
    Implausible,
}

/// Largest `sc-bytes` / `cs-bytes` of one line: 1 PiB (2^50 bytes), some 20,000 times the largest
/// object CloudFront serves. With it, the sum of 16,384 lines still fits a `u64`, and sums
/// saturate beyond that.
pub const MAX_BYTES: u64 = 1 << 50;

/// Largest latency (`time-taken`, `time-to-first-byte`, `origin-fbl`, `origin-lbl`) of one line:
/// 7 days, in milliseconds. CloudFront's timeouts keep origin latencies to minutes, but
/// `time-taken` covers a whole response, and a slow viewer's download or a WebSocket connection
/// can last hours.
pub const MAX_LATENCY_MS: u32 = 7 * 86_400_000;

/// Whether a field holds no value (`-` or empty).
#[inline]
pub fn is_empty(v: &[u8]) -> bool {
    v.is_empty() || v == b"-"
}

/// Parses an unsigned integer; `-`/empty is `None`.
#[inline]
pub fn u64_field(v: &[u8]) -> Result<Option<u64>, BadValue> {
    if is_empty(v) {
        return Ok(None);
    }
    let mut n: u64 = 0;
    // Up to 19 digits cannot overflow: the common case needs no checked arithmetic.
    let short = v.len() <= 19;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(BadValue::NotANumber);
        }
        n = if short {
            n * 10 + u64::from(d)
        } else {
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))
                .ok_or(BadValue::Overflow)?
        };
    }
    Ok(Some(n))
}

/// Parses a byte count (`sc-bytes`, `cs-bytes`): an unsigned integer up to [`MAX_BYTES`].
#[inline]
pub fn bytes_field(v: &[u8]) -> Result<Option<u64>, BadValue> {
    match u64_field(v)? {
        Some(n) if n > MAX_BYTES => Err(BadValue::Implausible),
        n => Ok(n),
    }
}

/// Parses a latency: seconds with up to millisecond precision ([`millis_field`]), up to
/// [`MAX_LATENCY_MS`].
#[inline]
pub fn latency_field(v: &[u8]) -> Result<Option<u32>, BadValue> {
    match millis_field(v)? {
        Some(ms) if ms > MAX_LATENCY_MS => Err(BadValue::Implausible),
        ms => Ok(ms),
    }
}

/// Parses `sc-status`: three digits, `000` included (viewer closed the connection).
#[inline]
pub fn status_field(v: &[u8]) -> Result<Option<u16>, BadValue> {
    if is_empty(v) {
        return Ok(None);
    }
    if v.len() != 3 {
        return Err(BadValue::NotANumber);
    }
    let mut n: u16 = 0;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(BadValue::NotANumber);
        }
        n = n * 10 + u16::from(d);
    }
    Ok(Some(n))
}

/// Parses seconds with up to millisecond precision ("0.082") into integer milliseconds (82).
///
/// Digits past the third decimal are rounded half up. Values over `u32::MAX` ms (49 days) are
/// rejected as overflow.
#[inline]
pub fn millis_field(v: &[u8]) -> Result<Option<u32>, BadValue> {
    // The form CloudFront writes, a digit of seconds and three of milliseconds, in straight-line
    // code: this runs for several fields of every record.
    if let &[s, b'.', a, b, c] = v {
        let d = [s, a, b, c].map(|x| u32::from(x.wrapping_sub(b'0')));
        if d.iter().all(|&x| x <= 9) {
            return Ok(Some(d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]));
        }
    }
    if is_empty(v) {
        return Ok(None);
    }
    // One pass, no search for the dot.
    let mut ms: u64 = 0;
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        ms = ms * 10 + u64::from(d);
        if ms > u64::from(u32::MAX) {
            return Err(BadValue::Overflow);
        }
        i += 1;
    }
    ms *= 1000;
    match v.get(i) {
        None => {}
        Some(b'.') => {
            let frac = &v[i + 1..];
            if i == 0 && frac.is_empty() {
                return Err(BadValue::NotANumber);
            }
            let (frac_ms, round_up) = fraction_millis(frac)?;
            ms += frac_ms + u64::from(round_up);
        }
        Some(_) => return Err(BadValue::NotANumber),
    }
    u32::try_from(ms).map(Some).map_err(|_| BadValue::Overflow)
}

/// The digits after a decimal point as milliseconds (the first three), and whether the fourth
/// rounds them up; any non-digit is an error.
#[inline]
fn fraction_millis(frac: &[u8]) -> Result<(u64, bool), BadValue> {
    let mut ms = 0u64;
    let mut scale = 100;
    let mut round_up = false;
    for (k, &b) in frac.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(BadValue::NotANumber);
        }
        if k < 3 {
            ms += u64::from(d) * scale;
            scale /= 10;
        } else if k == 3 {
            round_up = d >= 5;
        }
    }
    Ok((ms, round_up))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
#[inline]
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[inline]
fn digits<const N: usize>(v: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in v.get(..N)? {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u32::from(d);
    }
    Some(n)
}

/// Parses `date` (`YYYY-MM-DD`) into days since the epoch.
#[inline]
pub fn date_field(v: &[u8]) -> Result<i64, BadValue> {
    if v.len() != 10 || v[4] != b'-' || v[7] != b'-' {
        return Err(BadValue::BadTime);
    }
    let y = digits::<4>(v).ok_or(BadValue::BadTime)?;
    let m = digits::<2>(&v[5..]).ok_or(BadValue::BadTime)?;
    let d = digits::<2>(&v[8..]).ok_or(BadValue::BadTime)?;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(BadValue::BadTime),
    };
    if !(1..=month_days).contains(&d) {
        return Err(BadValue::BadTime);
    }
    Ok(days_from_civil(i64::from(y), m, d))
}

/// Remembers the last `date` value read: a log file's records share a handful of dates, so the
/// calendar arithmetic runs once per date rather than once per record.
#[derive(Debug, Clone, Default)]
pub struct DayCache {
    last: Option<([u8; 10], i64)>,
}

impl DayCache {
    /// [`date_field`], from the cache when `v` is the date seen last.
    #[inline]
    pub fn days(&mut self, v: &[u8]) -> Result<i64, BadValue> {
        if let Some((date, days)) = &self.last
            && v == date
        {
            return Ok(*days);
        }
        let days = date_field(v)?;
        if let Ok(date) = <[u8; 10]>::try_from(v) {
            self.last = Some((date, days));
        }
        Ok(days)
    }
}

/// Parses `time` (`HH:MM:SS`) into seconds of the day.
#[inline]
pub fn time_field(v: &[u8]) -> Result<i64, BadValue> {
    if v.len() != 8 || v[2] != b':' || v[5] != b':' {
        return Err(BadValue::BadTime);
    }
    let h = digits::<2>(v).ok_or(BadValue::BadTime)?;
    let m = digits::<2>(&v[3..]).ok_or(BadValue::BadTime)?;
    let s = digits::<2>(&v[6..]).ok_or(BadValue::BadTime)?;
    if h > 23 || m > 59 || s > 60 {
        return Err(BadValue::BadTime);
    }
    Ok(i64::from(h * 3600 + m * 60 + s))
}

/// Parses `timestamp` (epoch seconds, optionally with milliseconds: `1607374321.541`) into
/// epoch milliseconds.
#[inline]
pub fn epoch_seconds_field(v: &[u8]) -> Result<Option<i64>, BadValue> {
    if is_empty(v) {
        return Ok(None);
    }
    let (int, frac) = match memchr::memchr(b'.', v) {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &v[v.len()..]),
    };
    let secs = u64_field(int)?.ok_or(BadValue::NotANumber)?;
    // Truncated to the millisecond, as CloudFront writes it.
    let (ms, _) = fraction_millis(frac)?;
    secs.checked_mul(1000)
        .and_then(|s| s.checked_add(ms))
        .and_then(|t| i64::try_from(t).ok())
        .map(Some)
        .ok_or(BadValue::Overflow)
}

/// Parses `timestamp(ms)` (epoch milliseconds).
#[inline]
pub fn epoch_millis_field(v: &[u8]) -> Result<Option<i64>, BadValue> {
    match u64_field(v)? {
        None => Ok(None),
        Some(n) => i64::try_from(n).map(Some).map_err(|_| BadValue::Overflow),
    }
}

/// Formats epoch milliseconds as an RFC 3339 UTC timestamp with second precision
/// (`2026-11-21T12:34:00Z`).
pub fn format_rfc3339(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_is_empty_everywhere() {
        assert_eq!(u64_field(b"-"), Ok(None));
        assert_eq!(u64_field(b""), Ok(None));
        assert_eq!(millis_field(b"-"), Ok(None));
        assert_eq!(status_field(b"-"), Ok(None));
        assert_eq!(epoch_seconds_field(b"-"), Ok(None));
    }

    #[test]
    fn integers() {
        assert_eq!(u64_field(b"392"), Ok(Some(392)));
        assert_eq!(u64_field(b"18446744073709551615"), Ok(Some(u64::MAX)));
        assert_eq!(u64_field(b"18446744073709551616"), Err(BadValue::Overflow));
        assert_eq!(u64_field(b"12a"), Err(BadValue::NotANumber));
        assert_eq!(u64_field(b"-5"), Err(BadValue::NotANumber));
        // 19 digits take the unchecked path: the largest cannot overflow.
        assert_eq!(
            u64_field(b"9999999999999999999"),
            Ok(Some(9_999_999_999_999_999_999))
        );
        assert_eq!(u64_field(b"0000000000000000001"), Ok(Some(1)));
        // 20 digits and more are checked, leading zeros included.
        assert_eq!(
            u64_field(b"10000000000000000000"),
            Ok(Some(10_000_000_000_000_000_000))
        );
        assert_eq!(u64_field(b"99999999999999999999"), Err(BadValue::Overflow));
        assert_eq!(u64_field(b"000000000000000000000042"), Ok(Some(42)));
        assert_eq!(
            u64_field(b"1x000000000000000000000"),
            Err(BadValue::NotANumber)
        );
    }

    #[test]
    fn byte_counts_are_bounded() {
        assert_eq!(bytes_field(b"-"), Ok(None));
        assert_eq!(bytes_field(b"1125899906842624"), Ok(Some(MAX_BYTES)));
        assert_eq!(bytes_field(b"1125899906842625"), Err(BadValue::Implausible));
        assert_eq!(
            bytes_field(b"18446744073709551615"),
            Err(BadValue::Implausible)
        );
        assert_eq!(
            bytes_field(b"18446744073709551616"),
            Err(BadValue::Overflow)
        );
        assert_eq!(latency_field(b"604800.000"), Ok(Some(MAX_LATENCY_MS)));
        assert_eq!(latency_field(b"604800.001"), Err(BadValue::Implausible));
        assert_eq!(latency_field(b"4294967.295"), Err(BadValue::Implausible));
        assert_eq!(latency_field(b"0.082"), Ok(Some(82)));
        assert_eq!(latency_field(b"-"), Ok(None));
    }

    #[test]
    fn status_000_is_valid() {
        assert_eq!(status_field(b"000"), Ok(Some(0)));
        assert_eq!(status_field(b"502"), Ok(Some(502)));
        assert!(status_field(b"20").is_err());
        assert!(status_field(b"2x0").is_err());
    }

    #[test]
    fn seconds_to_exact_milliseconds() {
        assert_eq!(millis_field(b"0.082"), Ok(Some(82)));
        assert_eq!(millis_field(b"0.001"), Ok(Some(1)));
        assert_eq!(millis_field(b"0.000"), Ok(Some(0)));
        assert_eq!(millis_field(b"12.5"), Ok(Some(12_500)));
        assert_eq!(millis_field(b"3"), Ok(Some(3000)));
        assert_eq!(millis_field(b"1.0005"), Ok(Some(1001)));
        assert_eq!(millis_field(b"1.0004"), Ok(Some(1000)));
        assert_eq!(millis_field(b".5"), Ok(Some(500)));
        assert_eq!(millis_field(b"0.1x"), Err(BadValue::NotANumber));
        assert_eq!(millis_field(b"."), Err(BadValue::NotANumber));
        assert_eq!(millis_field(b"5."), Ok(Some(5000)));
        assert_eq!(millis_field(b"1x"), Err(BadValue::NotANumber));
        assert_eq!(millis_field(b"1.2.3"), Err(BadValue::NotANumber));
        // The five-byte form's fast path falls back to the full check on anything else.
        assert_eq!(millis_field(b"9.999"), Ok(Some(9_999)));
        assert_eq!(millis_field(b"1.2x4"), Err(BadValue::NotANumber));
        assert_eq!(millis_field(b"x.123"), Err(BadValue::NotANumber));
        assert_eq!(millis_field(b"1:234"), Err(BadValue::NotANumber));
        assert_eq!(millis_field(b"4294967.295"), Ok(Some(u32::MAX)));
        assert_eq!(millis_field(b"4294967.296"), Err(BadValue::Overflow));
        assert_eq!(millis_field(b"99999999999"), Err(BadValue::Overflow));
        // No float drift: every millisecond value round-trips.
        for ms in (0..100_000u32).step_by(7) {
            let s = format!("{}.{:03}", ms / 1000, ms % 1000);
            assert_eq!(millis_field(s.as_bytes()), Ok(Some(ms)));
        }
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date_field(b"1970-01-01"), Ok(0));
        assert_eq!(date_field(b"2019-12-04"), Ok(18_234));
        assert_eq!(time_field(b"21:02:31"), Ok(75_751));
        assert!(date_field(b"2019-13-04").is_err());
        let mut cache = DayCache::default();
        for _ in 0..2 {
            assert_eq!(cache.days(b"2019-12-04"), Ok(18_234));
            assert_eq!(cache.days(b"1970-01-01"), Ok(0));
            assert_eq!(cache.days(b"2019-02-29"), Err(BadValue::BadTime));
        }
        assert!(date_field(b"2024-02-30").is_err());
        assert!(date_field(b"2023-02-29").is_err());
        assert_eq!(date_field(b"2024-02-29"), Ok(days_from_civil(2024, 2, 29)));
        assert!(date_field(b"2019/12/04").is_err());
        assert!(time_field(b"24:00:00").is_err());
        assert!(time_field(b"21:02").is_err());
        for z in [-1000i64, 0, 18_234, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn epoch_timestamps() {
        assert_eq!(
            epoch_seconds_field(b"1607374321.541"),
            Ok(Some(1_607_374_321_541))
        );
        assert_eq!(
            epoch_seconds_field(b"1607374321"),
            Ok(Some(1_607_374_321_000))
        );
        assert_eq!(
            epoch_millis_field(b"1731620046814"),
            Ok(Some(1_731_620_046_814))
        );
        assert!(epoch_seconds_field(b"16073x").is_err());
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(1_731_620_046_814), "2024-11-14T21:34:06Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    }
}

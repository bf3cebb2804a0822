//! JSON records (standard logging v2, JSON output): one flat object per record, keys are the W3C
//! field names, every value a string. A hand-written scanner over bytes: values are borrowed from
//! the input and only unescaped when they hold a backslash.

use super::fields::{FIELD_COUNT, Field, FieldSet};

/// Why an object could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// The input ends inside the object: more data is needed.
    Incomplete,
    /// Not a valid JSON object.
    Invalid,
}

/// Deepest nesting accepted inside a value we skip.
const MAX_DEPTH: usize = 64;

#[inline]
fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while let Some(&b) = buf.get(i) {
        if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// Scans a string starting at `buf[i] == '"'`; returns (content range end index of closing quote,
/// whether it holds escapes).
#[inline]
fn scan_string(buf: &[u8], i: usize) -> Result<(usize, bool), JsonError> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        let k = match memchr::memchr2(b'"', b'\\', &buf[j..]) {
            Some(k) => j + k,
            None => return Err(JsonError::Incomplete),
        };
        if buf[k] == b'"' {
            return Ok((k, escaped));
        }
        escaped = true;
        if k + 1 >= buf.len() {
            return Err(JsonError::Incomplete);
        }
        j = k + 2;
    }
}

/// Skips any JSON value starting at `buf[i]`; returns the index after it and the raw bytes of a
/// scalar (strings without their quotes).
fn scan_value(buf: &[u8], i: usize) -> Result<(usize, &[u8], bool), JsonError> {
    match buf.get(i) {
        None => Err(JsonError::Incomplete),
        Some(b'"') => {
            let (end, escaped) = scan_string(buf, i)?;
            Ok((end + 1, &buf[i + 1..end], escaped))
        }
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match buf.get(j) {
                    None => return Err(JsonError::Incomplete),
                    Some(b'"') => {
                        let (end, _) = scan_string(buf, j)?;
                        j = end + 1;
                        continue;
                    }
                    Some(b'{') | Some(b'[') => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Err(JsonError::Invalid);
                        }
                    }
                    Some(b'}') | Some(b']') => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok((j + 1, &[], false));
                        }
                    }
                    Some(_) => {}
                }
                j += 1;
            }
        }
        Some(_) => {
            let mut j = i;
            while let Some(&b) = buf.get(j) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            if j == buf.len() {
                return Err(JsonError::Incomplete);
            }
            let tok = &buf[i..j];
            let ok = tok == b"null"
                || tok == b"true"
                || tok == b"false"
                || tok
                    .iter()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
            if !ok || tok.is_empty() {
                return Err(JsonError::Invalid);
            }
            Ok((j, if tok == b"null" { &[] } else { tok }, false))
        }
    }
}

/// Scans one object starting at `buf[0] == '{'`, filling the slots of the fields in `fields`
/// (the others, private ones included, are skipped unread).
/// Returns the index just after the closing brace and a bit mask of slots whose value holds
/// escapes (to be unescaped with [`unescape`]).
pub fn scan_object<'a>(
    buf: &'a [u8],
    raw: &mut [&'a [u8]; FIELD_COUNT],
    fields: FieldSet,
) -> Result<(usize, u32), JsonError> {
    if buf.first() != Some(&b'{') {
        return Err(JsonError::Invalid);
    }
    let mut escapes = 0u32;
    let mut i = skip_ws(buf, 1);
    match buf.get(i) {
        None => return Err(JsonError::Incomplete),
        Some(b'}') => return Ok((i + 1, 0)),
        _ => {}
    }
    loop {
        if buf.get(i) != Some(&b'"') {
            return if i >= buf.len() {
                Err(JsonError::Incomplete)
            } else {
                Err(JsonError::Invalid)
            };
        }
        let (kend, kesc) = scan_string(buf, i)?;
        let key = &buf[i + 1..kend];
        i = skip_ws(buf, kend + 1);
        match buf.get(i) {
            None => return Err(JsonError::Incomplete),
            Some(b':') => {}
            Some(_) => return Err(JsonError::Invalid),
        }
        i = skip_ws(buf, i + 1);
        let (vend, value, vesc) = scan_value(buf, i)?;
        if !kesc
            && let Some(f) = Field::from_name(key)
            && fields.contains(f)
        {
            raw[f.slot()] = value;
            if vesc {
                escapes |= 1 << f.slot();
            } else {
                escapes &= !(1 << f.slot());
            }
        }
        i = skip_ws(buf, vend);
        match buf.get(i) {
            None => return Err(JsonError::Incomplete),
            Some(b',') => i = skip_ws(buf, i + 1),
            Some(b'}') => return Ok((i + 1, escapes)),
            Some(_) => return Err(JsonError::Invalid),
        }
    }
}

fn hex4(s: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in s.get(..4)? {
        n = n * 16 + char::from(b).to_digit(16)?;
    }
    Some(n)
}

/// Unescapes a JSON string body into `out` (cleared first). Returns `false` on a bad escape.
pub fn unescape(s: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&e) = s.get(i + 1) else {
            return false;
        };
        i += 2;
        let c = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let Some(hi) = hex4(&s[i..]) else {
                    return false;
                };
                i += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    let lo = match (s.get(i..i + 2), hex4(s.get(i + 2..).unwrap_or(&[]))) {
                        (Some(b"\\u"), Some(lo)) if (0xDC00..0xE000).contains(&lo) => lo,
                        _ => return false,
                    };
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            _ => return false,
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Result<(usize, u32, [Vec<u8>; FIELD_COUNT]), JsonError> {
        let mut raw = [&b""[..]; FIELD_COUNT];
        let (end, esc) = scan_object(s.as_bytes(), &mut raw, FieldSet::ALL)?;
        Ok((end, esc, raw.map(|v| v.to_vec())))
    }

    #[test]
    fn string_values_borrowed() {
        let line = r#"{"date":"2024-11-15","sc-bytes":"1068","c-ip":"1.2.3.4","timestamp(ms)":"1731699951183"}"#;
        let (end, esc, raw) = scan(line).unwrap();
        assert_eq!(end, line.len());
        assert_eq!(esc, 0);
        assert_eq!(raw[Field::ScBytes.slot()], b"1068");
        assert_eq!(raw[Field::TimestampMs.slot()], b"1731699951183");
    }

    #[test]
    fn pretty_printed_and_numbers_and_nested() {
        let s = "{\n\"sc-bytes\": 12,\n \"x\": {\"a\": [1, \"}\"]},\n\"time\": \"10:00:00\"\n}";
        let (end, _, raw) = scan(s).unwrap();
        assert_eq!(end, s.len());
        assert_eq!(raw[Field::ScBytes.slot()], b"12");
        assert_eq!(raw[Field::Time.slot()], b"10:00:00");
    }

    #[test]
    fn incomplete_versus_invalid() {
        assert_eq!(scan(r#"{"date":"2024"#).unwrap_err(), JsonError::Incomplete);
        assert_eq!(scan(r#"{"date" "x"}"#).unwrap_err(), JsonError::Invalid);
        assert_eq!(scan(r#"{"date":nope}"#).unwrap_err(), JsonError::Invalid);
        assert_eq!(scan(r#"{"date":"x",}"#).unwrap_err(), JsonError::Invalid);
        assert_eq!(scan("{").unwrap_err(), JsonError::Incomplete);
    }

    #[test]
    fn escapes_are_flagged_and_unescaped() {
        let (_, esc, raw) = scan(r#"{"cache-behavior-path-pattern":"\/img\/*\u00e9"}"#).unwrap();
        let slot = Field::CacheBehaviorPathPattern.slot();
        assert_eq!(esc, 1 << slot);
        let mut out = Vec::new();
        assert!(unescape(&raw[slot], &mut out));
        assert_eq!(out, "/img/*é".as_bytes());
        assert!(unescape(br"\ud83d\ude00", &mut out));
        assert_eq!(out, "😀".as_bytes());
        assert!(!unescape(br"\x", &mut out));
        assert!(!unescape(br"\ud83d", &mut out));
    }
}

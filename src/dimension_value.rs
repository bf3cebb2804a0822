//! Dimension values as sent: whatever bytes a log field holds become a value CloudWatch accepts
//! (1 to 1024 ASCII characters, no control character, at least one that is not whitespace).
//!
//! One invalid value fails a whole PutMetricData request, and so every retry of its file; the
//! mapping is therefore done in the sink-independent aggregate stage, where a dry run shows
//! exactly what is sent. It is deterministic, stays readable, and keeps distinct values distinct:
//!
//! - printable ASCII is kept as is, except `%`, which becomes `%25`;
//! - every other byte (control characters, DEL, the bytes of non-ASCII UTF-8 or of invalid UTF-8)
//!   becomes `%XX`, the uppercase hex of the raw byte: `café` is `caf%C3%A9`;
//! - an empty value is `-`, like `-` itself (a log's "no value", which the parser reads as
//!   empty);
//! - a value of spaces only has its spaces escaped (`%20`), so that it holds a non-whitespace
//!   character;
//! - a value longer than 1024 characters once escaped is cut at 1007 characters, never inside an
//!   escape (nor, where it can be helped, inside the escapes of one UTF-8 character), and ends
//!   with `~` and the 16 hex digits of the FNV-1a 64 hash of the whole original value, so that
//!   long values differing only past the cut stay distinct.
//!
//! Every output short of the cut is a percent-encoding of its input, which it decodes back to:
//! two distinct values never map to the same string, except through a 64-bit hash collision of
//! two long values (or a value crafted to spell out another one's cut form).

use crate::hash::fnv64;

/// Longest dimension value CloudWatch accepts, in characters (all ASCII here, so bytes too).
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;

/// The value sent for an empty field.
pub const EMPTY_VALUE: &str = "-";

/// Length of the suffix of a cut value: `~` and 16 hex digits.
const HASH_SUFFIX_CHARS: usize = 17;

/// Whether a byte is kept as it is: printable ASCII, except `%`.
#[inline]
fn kept(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'%'
}

/// The value CloudWatch is sent for the raw bytes `v` of a field. See the module documentation.
pub fn dimension_value(v: &[u8]) -> String {
    if v.is_empty() {
        return EMPTY_VALUE.to_owned();
    }
    let (mut all_kept, mut all_spaces) = (true, true);
    for &b in v {
        all_kept &= kept(b);
        all_spaces &= b == b' ';
    }
    // The common case: a short value of printable ASCII, without `%`, sent as it is.
    if all_kept && !all_spaces && v.len() <= MAX_DIMENSION_VALUE_CHARS {
        return v.iter().map(|&b| char::from(b)).collect();
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity((v.len() * 3).min(4 * MAX_DIMENSION_VALUE_CHARS));
    for &b in v {
        if kept(b) && !all_spaces {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        // Past this length the value is cut anyway: stop escaping bytes that would be dropped.
        if out.len() > MAX_DIMENSION_VALUE_CHARS + 3 {
            break;
        }
    }
    if out.len() > MAX_DIMENSION_VALUE_CHARS {
        let cut = cut_point(
            out.as_bytes(),
            MAX_DIMENSION_VALUE_CHARS - HASH_SUFFIX_CHARS,
        );
        out.truncate(cut);
        out.push('~');
        out.push_str(&format!("{:016x}", fnv64(v)));
    }
    out
}

/// Where to cut an escaped value so that it keeps at most `max` characters: never inside a `%XX`
/// escape, and not between the escaped bytes of one UTF-8 character when backing off up to three
/// escapes avoids it.
fn cut_point(escaped: &[u8], max: usize) -> usize {
    let mut cut = max;
    // `%` only ever starts an escape: one in the last two kept places would be split.
    for back in 1..=2 {
        if escaped.get(max - back) == Some(&b'%') {
            cut = max - back;
        }
    }
    // An escaped UTF-8 continuation byte (%80 to %BF) right after the cut: its character started
    // before it.
    let continues = |at: usize| {
        escaped.get(at) == Some(&b'%')
            && matches!(escaped.get(at + 1), Some(b'8' | b'9' | b'A' | b'B'))
    };
    let mut c = cut;
    for _ in 0..3 {
        if !continues(c) || c < 3 || escaped[c - 3] != b'%' {
            break;
        }
        c -= 3;
        if !continues(c) {
            // `c` is the start of the character: cut before it.
            return c;
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CloudWatch's rules, written independently of the escape.
    fn valid(v: &str) -> bool {
        (1..=MAX_DIMENSION_VALUE_CHARS).contains(&v.len())
            && v.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
            && v.bytes().any(|b| !b.is_ascii_whitespace())
    }

    #[test]
    fn the_mapping() {
        let table: [(&[u8], &str); 14] = [
            (b"E2Q4ABCDEFGH", "E2Q4ABCDEFGH"),
            (b"text/html; charset=utf-8", "text/html; charset=utf-8"),
            (b"/images/*", "/images/*"),
            (b"100%", "100%25"),
            (b"%25", "%2525"),
            ("café.example".as_bytes(), "caf%C3%A9.example"),
            (b"a\x00b\x1fc\x7f", "a%00b%1Fc%7F"),
            (b"a\tb", "a%09b"),
            (b"\xff\xfeok", "%FF%FEok"),
            (b"", "-"),
            (b" ", "%20"),
            (b"   ", "%20%20%20"),
            (b" a ", " a "),
            (b"\t", "%09"),
        ];
        for (raw, want) in table {
            let got = dimension_value(raw);
            assert_eq!(got, want, "{raw:?}");
            assert!(valid(&got), "{raw:?} -> {got:?}");
        }
    }

    #[test]
    fn long_values_are_cut_with_a_hash_of_the_whole() {
        let long = "x".repeat(2000);
        let got = dimension_value(long.as_bytes());
        assert_eq!(got.len(), MAX_DIMENSION_VALUE_CHARS);
        assert!(valid(&got));
        assert_eq!(&got[..1007], &long[..1007]);
        assert_eq!(&got[1007..], format!("~{:016x}", fnv64(long.as_bytes())));
        // Two long values differing only at their end stay distinct.
        let other = format!("{}y", &long[..1999]);
        assert_ne!(dimension_value(other.as_bytes()), got);
        // Exactly 1024 characters is not cut; 1025 is.
        assert_eq!(dimension_value(&[b'a'; 1024]), "a".repeat(1024));
        assert_eq!(dimension_value(&[b'a'; 1025]).len(), 1024);
        assert!(dimension_value(&[b'a'; 1025]).contains('~'));
        // An escaped value that only grows past the limit is cut too.
        let pct = dimension_value(&[b'%'; 400]);
        assert!(valid(&pct) && pct.contains('~'), "{pct}");
    }

    #[test]
    fn cuts_never_split_an_escape_or_a_character() {
        for prefix in 0..6 {
            let mut raw = vec![b'a'; prefix];
            while raw.len() < 1500 {
                raw.extend_from_slice("é€".as_bytes());
            }
            let got = dimension_value(&raw);
            assert!(valid(&got), "{got}");
            let (body, hash) = got.split_at(got.rfind('~').unwrap());
            assert_eq!(hash.len(), HASH_SUFFIX_CHARS);
            // The body is whole escapes ...
            let body = body.trim_start_matches('a');
            assert_eq!(body.len() % 3, 0, "{prefix}: {body}");
            assert!(body.as_bytes().chunks(3).all(|c| c[0] == b'%'));
            // ... of whole characters.
            let bytes: Vec<u8> = body
                .as_bytes()
                .chunks(3)
                .map(|c| u8::from_str_radix(std::str::from_utf8(&c[1..]).unwrap(), 16).unwrap())
                .collect();
            assert!(std::str::from_utf8(&bytes).is_ok(), "{prefix}: {body}");
            assert!(body.len() >= 1007 - prefix - 9);
        }
    }

    #[test]
    fn every_byte_alone_and_in_company_is_valid() {
        for b in 0..=255u8 {
            for raw in [vec![b], vec![b, b'x'], vec![b; 2000]] {
                let got = dimension_value(&raw);
                assert!(valid(&got), "{raw:?} -> {got:?}");
            }
        }
    }
}

//! Tab-separated records (standard logs, legacy and v2 W3C): the `#Fields` header mapping and the
//! line splitter. Columns are always mapped by name, never by fixed position.

use super::RejectReason;
use super::fields::{FIELD_COUNT, Field, LEGACY_ORDER, REALTIME_ORDER};
use super::tabs;

/// Marks a column this project does not read.
const UNUSED: u8 = u8::MAX;

/// Most columns a header may declare (v2 has about 70 selectable fields).
pub const MAX_COLUMNS: usize = 256;

/// How the columns of a tab-separated line map to [`Field`] slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// For each column, the slot it fills, or [`UNUSED`].
    slots: Vec<u8>,
    /// Fewest columns a line must have (the header's count; lower for headerless layouts).
    min_columns: usize,
}

impl Columns {
    /// Builds the mapping from a `#Fields:` line (names separated by spaces or tabs).
    /// Returns `None` when the line is not a `#Fields` line.
    pub fn from_fields_line(line: &[u8]) -> Option<Columns> {
        let rest = line.strip_prefix(b"#Fields:")?;
        let names = rest
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|n| !n.is_empty());
        Some(Self::from_names(names))
    }

    fn from_names<'a>(names: impl Iterator<Item = &'a [u8]>) -> Columns {
        let mut slots = Vec::new();
        for name in names.take(MAX_COLUMNS) {
            let slot = match Field::from_name(name) {
                // A repeated name keeps its first column.
                Some(f) if !slots.contains(&(f as u8)) => f as u8,
                _ => UNUSED,
            };
            slots.push(slot);
        }
        let min_columns = slots.len();
        Columns { slots, min_columns }
    }

    /// The legacy 33-field layout, for headerless lines starting with a date. Older files carry a
    /// prefix of it; a line must reach `sc-status` (9 columns).
    pub fn legacy_headerless() -> Columns {
        let mut c = Self::from_names(LEGACY_ORDER.iter().map(|n| n.as_bytes()));
        c.min_columns = 9;
        c
    }

    /// The real-time record layout, for headerless lines starting with an epoch timestamp: the
    /// canonical 46 columns, or the 45 seen in real records (without `s-ip`).
    pub fn realtime_headerless(columns: usize) -> Option<Columns> {
        let names: Vec<&[u8]> = match columns {
            46 => REALTIME_ORDER.iter().map(|n| n.as_bytes()).collect(),
            45 => REALTIME_ORDER
                .iter()
                .filter(|n| **n != "s-ip")
                .map(|n| n.as_bytes())
                .collect(),
            _ => return None,
        };
        Some(Self::from_names(names.into_iter()))
    }

    /// Whether the header maps any time field (date+time, timestamp or timestamp(ms)).
    pub fn has_time(&self) -> bool {
        let has = |f: Field| self.slots.contains(&(f as u8));
        (has(Field::Date) && has(Field::Time)) || has(Field::Timestamp) || has(Field::TimestampMs)
    }

    /// Number of columns the header declares.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the header declares no column.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Splits one line (no newline) into the field slots. Extra trailing columns are ignored (the
    /// AWS docs example has a trailing empty one); fewer columns than the header is a rejection.
    #[inline]
    pub fn split<'a>(
        &self,
        line: &'a [u8],
        raw: &mut [&'a [u8]; FIELD_COUNT],
    ) -> Result<(), RejectReason> {
        let mut col = 0usize;
        let mut start = 0usize;
        let slots = &self.slots[..];
        let mut field = |col: usize, start: usize, end: usize| {
            if let Some(&s) = slots.get(col)
                && s != UNUSED
            {
                raw[usize::from(s)] = &line[start..end];
            }
        };
        // Tabs are dense (one every ~13 bytes): take them from a bit mask per 64-byte block.
        let (blocks, rest) = line.as_chunks::<{ tabs::BLOCK }>();
        let masks = blocks
            .iter()
            .map(tabs::mask)
            .chain((!rest.is_empty()).then(|| tabs::mask_partial(rest)));
        for (b, mut m) in masks.enumerate() {
            while m != 0 {
                let tab = b * tabs::BLOCK + m.trailing_zeros() as usize;
                field(col, start, tab);
                col += 1;
                start = tab + 1;
                m &= m - 1;
            }
        }
        field(col, start, line.len());
        col += 1;
        if col < self.min_columns {
            return Err(RejectReason::TooFewFields {
                got: col,
                want: self.min_columns,
            });
        }
        Ok(())
    }
}

/// Number of tab-separated columns in a line.
pub fn count_columns(line: &[u8]) -> usize {
    memchr::memchr_iter(b'\t', line).count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(c: &Columns, line: &[u8]) -> Result<[Vec<u8>; FIELD_COUNT], RejectReason> {
        let mut raw = [&b""[..]; FIELD_COUNT];
        c.split(line, &mut raw)?;
        Ok(raw.map(|v| v.to_vec()))
    }

    #[test]
    fn header_with_spaces_or_tabs() {
        let a = Columns::from_fields_line(b"#Fields: date time sc-bytes").unwrap();
        let b = Columns::from_fields_line(b"#Fields:\tdate\ttime\tsc-bytes").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert!(a.has_time());
        assert!(Columns::from_fields_line(b"#Version: 1.0").is_none());
    }

    #[test]
    fn maps_by_name_in_any_order() {
        let c = Columns::from_fields_line(b"#Fields: sc-bytes c-ip time date").unwrap();
        let raw = split(&c, b"123\t1.2.3.4\t10:00:00\t2024-01-02").unwrap();
        assert_eq!(raw[Field::ScBytes.slot()], b"123");
        assert_eq!(raw[Field::Date.slot()], b"2024-01-02");
        assert_eq!(raw[Field::Time.slot()], b"10:00:00");
    }

    #[test]
    fn short_lines_rejected_extra_columns_ignored() {
        let c = Columns::from_fields_line(b"#Fields: date time sc-bytes").unwrap();
        assert_eq!(
            split(&c, b"2024-01-02\t10:00:00"),
            Err(RejectReason::TooFewFields { got: 2, want: 3 })
        );
        let raw = split(&c, b"2024-01-02\t10:00:00\t5\t").unwrap();
        assert_eq!(raw[Field::ScBytes.slot()], b"5");
    }

    #[test]
    fn swar_split_agrees_with_a_plain_split() {
        let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
        let mut header = String::from("#Fields:");
        for (i, n) in names.iter().enumerate() {
            // Map a few real fields at varied positions.
            let name = match i {
                0 => "date",
                3 => "sc-bytes",
                17 => "time-taken",
                38 => "c-country",
                _ => n,
            };
            header.push(' ');
            header.push_str(name);
        }
        let c = Columns::from_fields_line(header.as_bytes()).unwrap();
        for seed in 0..200u64 {
            let mut line = Vec::new();
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for col in 0..40 {
                if col > 0 {
                    line.push(b'\t');
                }
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                for k in 0..(x % 23) {
                    // Bytes around TAB (0x08, 0x0a, 0x89) must not be taken for it.
                    line.push([b'a', 0x08, 0x0a, 0x89, b'9', 0x19][(k as usize + col) % 6]);
                }
            }
            let mut raw = [&b""[..]; FIELD_COUNT];
            c.split(&line, &mut raw).unwrap();
            let plain: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            assert_eq!(raw[Field::Date.slot()], plain[0]);
            assert_eq!(raw[Field::ScBytes.slot()], plain[3]);
            assert_eq!(raw[Field::TimeTaken.slot()], plain[17]);
            assert_eq!(raw[Field::CCountry.slot()], plain[38]);
        }
    }

    #[test]
    fn header_without_time() {
        let c = Columns::from_fields_line(b"#Fields: sc-bytes date").unwrap();
        assert!(!c.has_time());
    }

    #[test]
    fn realtime_layouts() {
        assert!(Columns::realtime_headerless(45).is_some());
        assert!(Columns::realtime_headerless(46).is_some());
        assert!(Columns::realtime_headerless(20).is_none());
    }
}

//! Tab-separated records (standard logs, legacy and v2 W3C): the `#Fields` header mapping and the
//! line splitter. Columns are always mapped by name, never by fixed position.

use super::RejectReason;
use super::fields::{FIELD_COUNT, Field, FieldSet, LEGACY_ORDER, REALTIME_ORDER};
use super::realtime::RealtimeFields;
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
    /// The (column, slot) pairs to fill from a split line: the mapped columns whose field is read.
    /// Columns are below [`MAX_COLUMNS`] (256), so a `u8` indexes the starts without a check.
    reads: Vec<(u8, u8)>,
    /// One past the last column read: past it, a line's tabs are only counted.
    read_through: usize,
    /// Fewest columns a line must have (the header's count; lower for headerless layouts).
    min_columns: usize,
    /// Whether a line must have exactly `min_columns` columns (a real-time field selection: a
    /// record with another count was written under another selection, and would be mis-mapped).
    exact: bool,
}

/// Where [`Columns::split_line`] found the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineEnd {
    /// The line's length, without its newline.
    pub len: usize,
    /// Whether a newline ended it (otherwise it runs to the end of the data).
    pub newline: bool,
    /// How many tab-separated columns it has.
    pub columns: usize,
}

/// Scratch space of the splitter: where each column of the current line starts.
#[derive(Debug, Clone)]
pub struct ColumnStarts(Box<[usize; STARTS]>);

/// Column starts kept: one per column up to [`MAX_COLUMNS`], one past the last read column, and
/// a last entry that every further column overwrites.
const STARTS: usize = MAX_COLUMNS + 2;

impl Default for ColumnStarts {
    fn default() -> Self {
        ColumnStarts(Box::new([0; STARTS]))
    }
}

impl Columns {
    /// Builds the mapping from a `#Fields:` line (names separated by spaces or tabs).
    /// Returns `None` when the line is not a `#Fields` line.
    pub fn from_fields_line(line: &[u8]) -> Option<Columns> {
        let rest = line.strip_prefix(b"#Fields:")?;
        let names = rest
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|n| !n.is_empty());
        Some(Self::from_names(names, Field::from_name))
    }

    fn from_names<'a>(
        names: impl Iterator<Item = &'a [u8]>,
        lookup: fn(&[u8]) -> Option<Field>,
    ) -> Columns {
        let mut slots = Vec::new();
        for name in names.take(MAX_COLUMNS) {
            let slot = match lookup(name) {
                // A repeated name keeps its first column.
                Some(f) if !slots.contains(&(f as u8)) => f as u8,
                _ => UNUSED,
            };
            slots.push(slot);
        }
        let reads = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| usize::from(**s) < FIELD_COUNT)
            .filter_map(|(c, &s)| Some((u8::try_from(c).ok()?, s)))
            .collect();
        let min_columns = slots.len();
        Columns {
            slots,
            reads,
            read_through: 0,
            min_columns,
            exact: false,
        }
        .reading(FieldSet::ALL)
    }

    /// The same mapping, filling only the slots of `fields`: the others read as empty. Splitting
    /// costs a few instructions per field filled, so a parser fills only what its caller uses.
    pub fn reading(mut self, fields: FieldSet) -> Columns {
        self.reads
            .retain(|&(_, slot)| fields.contains(Field::ALL[usize::from(slot)]));
        self.read_through = self
            .reads
            .iter()
            .map(|&(c, _)| usize::from(c) + 1)
            .max()
            .unwrap_or(0);
        self
    }

    /// The legacy 33-field layout, for headerless lines starting with a date. Older files carry a
    /// prefix of it; a line must reach `sc-status` (9 columns).
    pub fn legacy_headerless() -> Columns {
        let mut c = Self::from_names(LEGACY_ORDER.iter().map(|n| n.as_bytes()), Field::from_name);
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
        Some(Self::from_names(
            names.into_iter(),
            Field::from_realtime_name,
        ))
    }

    /// The layout of real-time records of a configured field selection: exactly its columns.
    pub fn realtime(fields: &RealtimeFields) -> Columns {
        let mut c = Self::from_names(
            fields.names().iter().map(|n| n.as_bytes()),
            Field::from_realtime_name,
        );
        c.exact = true;
        c
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
    pub fn split<'a>(
        &self,
        line: &'a [u8],
        starts: &mut ColumnStarts,
        raw: &mut [&'a [u8]; FIELD_COUNT],
    ) -> Result<(), RejectReason> {
        let end = self.split_line(line, starts, raw);
        self.check(end.columns)
    }

    /// Whether a line of `columns` columns has all the header's.
    #[inline]
    pub fn check(&self, columns: usize) -> Result<(), RejectReason> {
        if self.exact && columns != self.min_columns {
            return Err(RejectReason::FieldCount {
                got: columns,
                want: self.min_columns,
            });
        }
        if columns < self.min_columns {
            return Err(RejectReason::TooFewFields {
                got: columns,
                want: self.min_columns,
            });
        }
        Ok(())
    }

    /// Splits the line at the start of `data` into the field slots, finding its end (the first
    /// newline) in the same pass over the bytes. A `\r` before the newline is not part of the
    /// last field. The caller checks the column count with [`Columns::check`].
    #[inline]
    pub fn split_line<'a>(
        &self,
        data: &'a [u8],
        starts: &mut ColumnStarts,
        raw: &mut [&'a [u8]; FIELD_COUNT],
    ) -> LineEnd {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = tabs::Avx2::detect() {
            // SAFETY: `avx2` exists, so this CPU has AVX2.
            return unsafe { self.split_line_avx2(avx2, data, starts, raw) };
        }
        self.split_line_with(tabs::Baseline, data, starts, raw)
    }

    /// [`Columns::split_line`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn split_line_avx2<'a>(
        &self,
        avx2: tabs::Avx2,
        data: &'a [u8],
        starts: &mut ColumnStarts,
        raw: &mut [&'a [u8]; FIELD_COUNT],
    ) -> LineEnd {
        self.split_line_with(avx2, data, starts, raw)
    }

    /// [`Columns::split_line`] with the masks of `scanner`.
    #[inline(always)]
    pub(crate) fn split_line_with<'a, S: tabs::Scanner>(
        &self,
        scanner: S,
        data: &'a [u8],
        starts: &mut ColumnStarts,
        raw: &mut [&'a [u8]; FIELD_COUNT],
    ) -> LineEnd {
        let starts = &mut *starts.0;
        // Column `c` is `data[starts[c]..starts[c + 1] - 1]`: each tab (and the line's end) writes
        // the start of the column after it. Tabs are dense (one every ~13 bytes): they come from a
        // bit mask per 64-byte block, and the loop over them neither branches nor checks bounds
        // beyond the one test per block that `col + 64` stays within the array.
        let (mut col, mut base) = (0usize, 0usize);
        starts[0] = 0;
        let (len, newline) = loop {
            let m = match data
                .get(base..)
                .and_then(|d| d.first_chunk::<{ tabs::BLOCK }>())
            {
                Some(block) => scanner.masks(block),
                None => tabs::masks_partial(scanner, data.get(base..).unwrap_or(b"")),
            };
            let (mut t, stop) = if m.newlines != 0 {
                let nl = m.newlines.trailing_zeros();
                (m.tabs & ((1u64 << nl) - 1), Some(base + nl as usize))
            } else {
                (m.tabs, None)
            };
            if col >= self.read_through {
                // Every column read has its start and end: the rest of the line is only counted.
                col += t.count_ones() as usize;
            } else if let Some(window) = starts.get_mut(col + 1..col + 1 + tabs::BLOCK) {
                let mut k = 0;
                while t != 0 {
                    window[k & (tabs::BLOCK - 1)] = base + t.trailing_zeros() as usize + 1;
                    k += 1;
                    t &= t - 1;
                }
                col += k;
            } else {
                // Past MAX_COLUMNS: further columns are counted, their starts overwrite the last.
                while t != 0 {
                    starts[(col + 1).min(STARTS - 1)] = base + t.trailing_zeros() as usize + 1;
                    col += 1;
                    t &= t - 1;
                }
            }
            if let Some(end) = stop {
                break (end, true);
            }
            base += tabs::BLOCK;
            if base >= data.len() {
                break (data.len(), false);
            }
        };
        let last_start = starts[col.min(STARTS - 1)];
        let last = if len > last_start && data.get(len - 1) == Some(&b'\r') {
            len - 1
        } else {
            len
        };
        starts[(col + 1).min(STARTS - 1)] = last + 1;
        let columns = col + 1;
        for &(c, slot) in &self.reads {
            let c = usize::from(c);
            if c < columns
                && let Some(v) = raw.get_mut(usize::from(slot))
            {
                *v = data
                    .get(starts[c]..starts[c + 1].saturating_sub(1))
                    .unwrap_or(b"");
            }
        }
        LineEnd {
            len,
            newline,
            columns,
        }
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
        c.split(line, &mut ColumnStarts::default(), &mut raw)?;
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
                    // Bytes around TAB and LF (0x08, 0x0b, 0x89, 0x8a) must not be taken for
                    // them.
                    line.push([b'a', 0x08, 0x0b, 0x89, 0x8a, 0x19][(k as usize + col) % 6]);
                }
            }
            let mut raw = [&b""[..]; FIELD_COUNT];
            c.split(&line, &mut ColumnStarts::default(), &mut raw)
                .unwrap();
            let plain: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            assert_eq!(raw[Field::Date.slot()], plain[0]);
            assert_eq!(raw[Field::ScBytes.slot()], plain[3]);
            assert_eq!(raw[Field::TimeTaken.slot()], plain[17]);
            assert_eq!(raw[Field::CCountry.slot()], plain[38]);
        }
    }

    #[test]
    fn split_line_finds_the_end_in_the_same_pass() {
        let c = Columns::from_fields_line(b"#Fields: date time sc-bytes").unwrap();
        // Line ends at every offset of a block, with and without a CR, and at the data's end.
        for pad in 0..140 {
            let bytes = "7".repeat(pad);
            for cr in ["", "\r"] {
                let data = format!("2024-01-02\t10:00:00\t{bytes}{cr}\n9\t9\t9\n");
                let mut raw = [&b""[..]; FIELD_COUNT];
                let end = c.split_line(data.as_bytes(), &mut ColumnStarts::default(), &mut raw);
                // The baseline scanner, whatever this CPU picks, gives the same.
                let mut base_raw = [&b""[..]; FIELD_COUNT];
                let base_end = c.split_line_with(
                    tabs::Baseline,
                    data.as_bytes(),
                    &mut ColumnStarts::default(),
                    &mut base_raw,
                );
                assert_eq!((end, raw), (base_end, base_raw));
                let want = 20 + pad + cr.len();
                assert_eq!((end.len, end.newline, end.columns), (want, true, 3));
                assert_eq!(raw[Field::ScBytes.slot()], bytes.as_bytes());
                assert_eq!(raw[Field::Date.slot()], b"2024-01-02");
                let unterminated = &data.as_bytes()[..want];
                let end = c.split_line(unterminated, &mut ColumnStarts::default(), &mut raw);
                assert_eq!((end.len, end.newline, end.columns), (want, false, 3));
                assert_eq!(raw[Field::ScBytes.slot()], bytes.as_bytes());
            }
        }
        // Columns past the header's, and past MAX_COLUMNS, land in the spare slot.
        let long = format!("2024-01-02\t10:00:00\t5{}", "\tx".repeat(300));
        let mut raw = [&b""[..]; FIELD_COUNT];
        assert_eq!(
            c.split_line(long.as_bytes(), &mut ColumnStarts::default(), &mut raw)
                .columns,
            303
        );
        assert_eq!(raw[Field::ScBytes.slot()], b"5");
        assert_eq!(raw[Field::Date.slot()], b"2024-01-02");
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

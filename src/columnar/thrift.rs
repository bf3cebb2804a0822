//! Just enough of Thrift's compact protocol to read a Parquet page header, and to check that a
//! footer's every declared length fits in the footer before the `parquet` crate decodes it.
//!
//! Reads borrow from a slice and never allocate: a length read from the file is compared with
//! the bytes left before anything is skipped, so no declared size is trusted.

/// Why a header or footer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThriftError {
    #[error("ends inside a Thrift structure")]
    Truncated,
    #[error("declares {declared} bytes or elements with only {left} bytes left")]
    Length { declared: u64, left: usize },
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("unknown Thrift type {0}")]
    BadType(u8),
    #[error("a varint longer than 10 bytes")]
    BadVarint,
    #[error("{0}")]
    Invalid(&'static str),
}

/// Nesting accepted (Parquet's own structures nest a handful of levels).
const MAX_DEPTH: usize = 64;

const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

/// A reader over a compact-protocol byte slice.
pub struct Input<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Input { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, ThriftError> {
        let b = *self.buf.get(self.pos).ok_or(ThriftError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), ThriftError> {
        let left = self.left();
        if n > left as u64 {
            return Err(ThriftError::Length { declared: n, left });
        }
        self.pos += n as usize;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, ThriftError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ThriftError::BadVarint)
    }

    fn zigzag(&mut self) -> Result<i64, ThriftError> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32, ThriftError> {
        i32::try_from(self.zigzag()?).map_err(|_| ThriftError::Invalid("an i32 out of range"))
    }

    /// The next field's `(id, type)`, `None` at the struct's end.
    fn field(&mut self, last: &mut i16) -> Result<Option<(i16, u8)>, ThriftError> {
        let b = self.byte()?;
        if b == STOP {
            return Ok(None);
        }
        let kind = b & 0x0f;
        let delta = b >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| ThriftError::Invalid("a field id"))?
        } else {
            last.checked_add(i16::from(delta))
                .ok_or(ThriftError::Invalid("a field id"))?
        };
        *last = id;
        Ok(Some((id, kind)))
    }

    /// A collection header's `(size, element type)`; every element takes a byte at least, so a
    /// size beyond the bytes left is an error.
    fn list_header(&mut self) -> Result<(u64, u8), ThriftError> {
        let b = self.byte()?;
        let size = match b >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        self.check_count(size)?;
        Ok((size, b & 0x0f))
    }

    fn check_count(&self, n: u64) -> Result<(), ThriftError> {
        let left = self.left();
        if n > left as u64 {
            return Err(ThriftError::Length { declared: n, left });
        }
        Ok(())
    }

    /// Skips one value of compact type `kind`.
    pub fn skip(&mut self, kind: u8, depth: usize) -> Result<(), ThriftError> {
        if depth > MAX_DEPTH {
            return Err(ThriftError::TooDeep);
        }
        match kind {
            TRUE | FALSE => Ok(()),
            BYTE => self.skip_bytes(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip_bytes(8),
            BINARY => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            LIST | SET => {
                let (size, elem) = self.list_header()?;
                for _ in 0..size {
                    self.skip_element(elem, depth + 1)?;
                }
                Ok(())
            }
            MAP => {
                let size = self.varint()?;
                self.check_count(size)?;
                if size == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                for _ in 0..size {
                    self.skip_element(kv >> 4, depth + 1)?;
                    self.skip_element(kv & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => self.skip_struct(depth + 1),
            other => Err(ThriftError::BadType(other)),
        }
    }

    /// In collections a boolean is a whole byte.
    fn skip_element(&mut self, kind: u8, depth: usize) -> Result<(), ThriftError> {
        match kind {
            TRUE | FALSE => self.skip_bytes(1),
            other => self.skip(other, depth),
        }
    }

    /// Skips a struct's fields up to and including its stop byte.
    pub fn skip_struct(&mut self, depth: usize) -> Result<(), ThriftError> {
        if depth > MAX_DEPTH {
            return Err(ThriftError::TooDeep);
        }
        let mut last = 0;
        while let Some((_, kind)) = self.field(&mut last)? {
            self.skip(kind, depth)?;
        }
        Ok(())
    }

    fn bool_field(&mut self, kind: u8) -> Result<bool, ThriftError> {
        match kind {
            TRUE => Ok(true),
            FALSE => Ok(false),
            _ => Err(ThriftError::Invalid("a boolean field of another type")),
        }
    }
}

/// Checks that `footer` (a `FileMetaData`) is one well-formed struct whose every length and
/// count fits in it, so that decoding it allocates nothing a footer of its size could not hold.
pub fn check_struct(footer: &[u8]) -> Result<(), ThriftError> {
    let mut input = Input::new(footer);
    input.skip_struct(0)
}

/// The page types read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageType {
    Data,
    Index,
    Dictionary,
    DataV2,
}

/// A data page's (v1 or v2) or a dictionary page's own header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sub {
    pub num_values: i32,
    pub encoding: i32,
    pub def_encoding: i32,
    pub rep_encoding: i32,
    pub num_nulls: i32,
    pub num_rows: i32,
    pub def_len: i32,
    pub rep_len: i32,
    /// v2 only: whether the values are compressed (default true).
    pub is_compressed: bool,
    pub is_sorted: bool,
}

/// A Parquet page header, the fields read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    pub kind: PageType,
    pub uncompressed: i32,
    pub compressed: i32,
    pub data: Option<Sub>,
    pub dictionary: Option<Sub>,
    pub data_v2: Option<Sub>,
}

/// Reads a page header from the start of `buf`; returns it and its length in bytes.
pub fn page_header(buf: &[u8]) -> Result<(PageHeader, usize), ThriftError> {
    let mut input = Input::new(buf);
    let mut last = 0;
    let (mut kind, mut uncompressed, mut compressed) = (None, None, None);
    let (mut data, mut dictionary, mut data_v2) = (None, None, None);
    while let Some((id, t)) = input.field(&mut last)? {
        match (id, t) {
            (1, I32) => {
                kind = Some(match input.i32()? {
                    0 => PageType::Data,
                    1 => PageType::Index,
                    2 => PageType::Dictionary,
                    3 => PageType::DataV2,
                    _ => return Err(ThriftError::Invalid("an unknown page type")),
                })
            }
            (2, I32) => uncompressed = Some(input.i32()?),
            (3, I32) => compressed = Some(input.i32()?),
            (5, STRUCT) => data = Some(sub(&mut input, SubKind::Data)?),
            (7, STRUCT) => dictionary = Some(sub(&mut input, SubKind::Dictionary)?),
            (8, STRUCT) => data_v2 = Some(sub(&mut input, SubKind::DataV2)?),
            (_, t) => input.skip(t, 1)?,
        }
    }
    let missing = ThriftError::Invalid("a page header without its type or sizes");
    let header = PageHeader {
        kind: kind.ok_or(missing.clone())?,
        uncompressed: uncompressed.ok_or(missing.clone())?,
        compressed: compressed.ok_or(missing)?,
        data,
        dictionary,
        data_v2,
    };
    Ok((header, input.position()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SubKind {
    Data,
    Dictionary,
    DataV2,
}

fn sub(input: &mut Input<'_>, kind: SubKind) -> Result<Sub, ThriftError> {
    let mut s = Sub {
        is_compressed: true,
        ..Sub::default()
    };
    let mut last = 0;
    while let Some((id, t)) = input.field(&mut last)? {
        match (kind, id, t) {
            (_, 1, I32) => s.num_values = input.i32()?,
            (_, 2, I32) if kind != SubKind::DataV2 => s.encoding = input.i32()?,
            (SubKind::Data, 3, I32) => s.def_encoding = input.i32()?,
            (SubKind::Data, 4, I32) => s.rep_encoding = input.i32()?,
            (SubKind::Dictionary, 3, TRUE | FALSE) => s.is_sorted = input.bool_field(t)?,
            (SubKind::DataV2, 2, I32) => s.num_nulls = input.i32()?,
            (SubKind::DataV2, 3, I32) => s.num_rows = input.i32()?,
            (SubKind::DataV2, 4, I32) => s.encoding = input.i32()?,
            (SubKind::DataV2, 5, I32) => s.def_len = input.i32()?,
            (SubKind::DataV2, 6, I32) => s.rep_len = input.i32()?,
            (SubKind::DataV2, 7, TRUE | FALSE) => s.is_compressed = input.bool_field(t)?,
            (_, _, t) => input.skip(t, 2)?,
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_lengths_beyond_the_input_are_errors() {
        // A struct whose field 1 is a binary declaring 2^31 bytes.
        let buf = [0x18, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
        assert!(matches!(
            check_struct(&buf),
            Err(ThriftError::Length { .. })
        ));
        // A list declaring 1000 elements in 3 bytes.
        let buf = [0x19, 0xf5, 0xe8, 0x07, 0x00];
        assert!(matches!(
            check_struct(&buf),
            Err(ThriftError::Length { .. })
        ));
        // Deep nesting.
        let buf = [0x1c; 200];
        assert_eq!(check_struct(&buf), Err(ThriftError::TooDeep));
        assert_eq!(check_struct(&[]), Err(ThriftError::Truncated));
    }
}

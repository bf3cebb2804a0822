//! Parquet columns to log fields: which of a file's columns fill the fields read, by name, and
//! how each column's values are turned into text.
//!
//! AWS's Athena table definitions for CloudFront's Parquet output name the columns with
//! underscores (`x_edge_location`, `cs_user_agent`, `time_to_first_byte`); the fields' own names
//! are hyphenated (`x-edge-location`, `cs(User-Agent)`), and a public dataset of real files shows
//! mixed case (`cs_User_Agent`). AWS does not document the spelling inside the files, so names
//! are compared normalised: lower case, every run of characters other than ASCII letters and
//! digits one `_`, none at either end. Both spellings (and any case) therefore match. The legacy
//! Athena table's `cs_referrer` is accepted for `cs(Referer)`.

use super::ParquetError;
use crate::parse::{Field, FieldSet};
use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::schema::types::SchemaDescriptor;

/// How a column's values become the text the value parsers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Strings (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY): as they are.
    Text,
    /// INT32 / INT64: decimal.
    Int,
    /// FLOAT / DOUBLE: the shortest decimal that reads back as the same number.
    Float,
    /// INT32 of logical type DATE (days since 1970-01-01): `YYYY-MM-DD`.
    Date,
}

/// One column read: its index among the schema's leaf columns, its name, the field it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projected {
    pub index: usize,
    pub name: String,
    pub field: Field,
    pub kind: Kind,
    /// The column may hold nulls (read as empty values).
    pub optional: bool,
}

pub use crate::parse::fields::normalize;

/// The field a column of this (normalised) name fills, if any: a standard log's field.
pub fn field_for(normalized: &str) -> Option<Field> {
    if normalized == "cs_referrer" {
        return Some(Field::CsReferer);
    }
    Field::ALL.into_iter().find(|&f| {
        // Real-time-only fields (`cs-host`, ...) are not in standard logs.
        Field::from_name(f.name().as_bytes()) == Some(f) && normalize(f.name()) == normalized
    })
}

/// The columns of `schema` that fill `fields`, first column first where two names normalise to
/// the same field. Errs when a needed column has a shape or type that is not read, or when no
/// column gives the request time.
pub fn project(
    schema: &SchemaDescriptor,
    fields: FieldSet,
) -> Result<Vec<Projected>, ParquetError> {
    let mut out: Vec<Projected> = Vec::new();
    for (index, col) in schema.columns().iter().enumerate() {
        let name = col.path().string();
        let Some(field) = field_for(&normalize(&name)) else {
            continue;
        };
        if !fields.contains(field) || out.iter().any(|p| p.field == field) {
            continue;
        }
        let unsupported = |what: String| ParquetError::UnsupportedColumn {
            column: name.clone(),
            what,
        };
        if col.path().parts().len() != 1 || col.max_rep_level() > 0 {
            return Err(unsupported("a nested or repeated column".to_owned()));
        }
        let logical = col.logical_type_ref();
        let kind = match col.physical_type() {
            PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY => match logical {
                None | Some(LogicalType::String | LogicalType::Enum | LogicalType::Json) => {
                    Kind::Text
                }
                Some(other) => return Err(unsupported(format!("logical type {other:?}"))),
            },
            PhysicalType::INT32 if is_date(logical, col.converted_type()) => Kind::Date,
            PhysicalType::INT32 | PhysicalType::INT64 => match logical {
                None | Some(LogicalType::Integer { .. }) => Kind::Int,
                Some(other) => return Err(unsupported(format!("logical type {other:?}"))),
            },
            PhysicalType::FLOAT | PhysicalType::DOUBLE => Kind::Float,
            other => return Err(unsupported(format!("physical type {other}"))),
        };
        out.push(Projected {
            index,
            name,
            field,
            kind,
            optional: col.max_def_level() > 0,
        });
    }
    let has = |f: Field| out.iter().any(|p| p.field == f);
    if !(has(Field::TimestampMs) || has(Field::Timestamp) || (has(Field::Date) && has(Field::Time)))
    {
        let columns: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
        return Err(ParquetError::NoTimeColumn {
            columns: columns.join(", "),
        });
    }
    Ok(out)
}

fn is_date(logical: Option<&LogicalType>, converted: ConvertedType) -> bool {
    matches!(logical, Some(LogicalType::Date)) || converted == ConvertedType::DATE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_and_any_case_match() {
        for (name, field) in [
            ("x-edge-location", Field::XEdgeLocation),
            ("x_edge_location", Field::XEdgeLocation),
            ("cs(User-Agent)", Field::CsUserAgent),
            ("cs_user_agent", Field::CsUserAgent),
            ("cs_User_Agent", Field::CsUserAgent),
            ("timestamp(ms)", Field::TimestampMs),
            ("timestamp_ms", Field::TimestampMs),
            ("timestamp", Field::Timestamp),
            ("cs(Host)", Field::CsHostStandard),
            ("cs_host", Field::CsHostStandard),
            ("cs_referrer", Field::CsReferer),
            ("cs_referer", Field::CsReferer),
            ("time_to_first_byte", Field::TimeToFirstByte),
        ] {
            assert_eq!(field_for(&normalize(name)), Some(field), "{name}");
        }
        assert_eq!(field_for(&normalize("x_edge_request_id")), None);
        assert_eq!(field_for(&normalize("primary_distribution_id")), None);
        assert_eq!(normalize("__A--b__"), "a_b");
    }
}

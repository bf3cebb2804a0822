//! The field selection of a real-time log configuration: real-time records carry no header, only
//! the selected fields in CloudFront's canonical order ([`REALTIME_FIELDS`]), whatever order the
//! configuration lists them in. [`RealtimeFields`] turns a selection into the column mapping that
//! splits such records, rejecting a record whose field count is not the selection's.

use super::fields::REALTIME_FIELDS;
use std::fmt;

/// A validated selection of real-time log fields, in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealtimeFields {
    names: Vec<&'static str>,
}

/// Why a field selection is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealtimeFieldsError {
    #[error("unknown real-time log field {name:?}; known fields: {}", REALTIME_FIELDS.join(","))]
    Unknown { name: String },
    #[error("no real-time log field selected")]
    Empty,
    #[error(
        "the selection has no timestamp field: real-time records without it cannot be placed in a minute"
    )]
    NoTimestamp,
}

impl RealtimeFields {
    /// Parses a comma-separated list of field names, in any order (spaces around names and
    /// repeated names are allowed). Unknown names are an error that lists the known ones.
    pub fn parse(list: &str) -> Result<RealtimeFields, RealtimeFieldsError> {
        let mut chosen = [false; REALTIME_FIELDS.len()];
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let i = REALTIME_FIELDS
                .iter()
                .position(|f| f.eq_ignore_ascii_case(name))
                .ok_or_else(|| RealtimeFieldsError::Unknown {
                    name: name.to_owned(),
                })?;
            chosen[i] = true;
        }
        let names: Vec<&'static str> = REALTIME_FIELDS
            .iter()
            .zip(chosen)
            .filter_map(|(n, c)| c.then_some(*n))
            .collect();
        if names.is_empty() {
            return Err(RealtimeFieldsError::Empty);
        }
        if !names.contains(&"timestamp") {
            return Err(RealtimeFieldsError::NoTimestamp);
        }
        Ok(RealtimeFields { names })
    }

    /// The selected names, in canonical order: the columns of a record.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Number of fields a record of this selection has.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true: a selection has at least `timestamp`.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(&name)
    }
}

/// The selection as a comma-separated list in canonical order (what `REALTIME_FIELDS` accepts).
impl fmt::Display for RealtimeFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Field, FieldSet, LogParser, RejectReason};

    /// Parses `text` as real-time records of `fields`: (timestamp ms, sc-bytes, status) of each
    /// record and the rejections.
    type Seen = Vec<(i64, u64, Option<u16>)>;

    fn parse(fields: &str, text: &str) -> (Seen, Vec<RejectReason>) {
        let f = RealtimeFields::parse(fields).unwrap();
        let mut p = LogParser::realtime(&f, FieldSet::ALL);
        let mut out = Vec::new();
        p.process(text.as_bytes(), true, |r| {
            out.push((r.timestamp_ms, r.sc_bytes, r.sc_status))
        })
        .unwrap();
        assert_eq!(p.format(), Some(crate::parse::Format::Realtime));
        let rejects = p.stats().reject_samples.iter().map(|r| r.reason).collect();
        (out, rejects)
    }

    #[test]
    fn records_map_by_the_selection_in_canonical_order() {
        let (r, bad) = parse(
            "sc-bytes,sc-status,timestamp",
            "1700000000.123\t200\t512\r\n1700000001.000\t-\t-\n",
        );
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            r,
            [
                (1_700_000_000_123, 512, Some(200)),
                (1_700_000_001_000, 0, None)
            ]
        );
    }

    #[test]
    fn a_wrong_field_count_is_rejected_naming_both_counts() {
        let (r, bad) = parse(
            "timestamp,sc-status,sc-bytes",
            "1700000000.123\t200\n1700000000.123\t200\t5\t9\n1700000000.5\t404\t7\n",
        );
        assert_eq!(r.len(), 1);
        assert_eq!(
            bad,
            [
                RejectReason::FieldCount { got: 2, want: 3 },
                RejectReason::FieldCount { got: 4, want: 3 }
            ]
        );
        let text = bad[0].to_string();
        assert!(text.starts_with("2 fields where the real-time log field selection has 3"));
    }

    #[test]
    fn the_sample_record_of_45_fields_reads_with_its_selection() {
        // aws-solutions/centralized-logging-with-opensearch's real record (tests/fixtures/realtime),
        // shortened: the 45 fields without s-ip, values kept where this project reads them.
        let names: Vec<&str> = REALTIME_FIELDS[..46]
            .iter()
            .copied()
            .filter(|n| *n != "s-ip")
            .collect();
        let mut values = vec!["-"; 45];
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        values[at("timestamp")] = "1671005351.148";
        values[at("sc-status")] = "200";
        values[at("sc-bytes")] = "2212";
        values[at("time-taken")] = "0.001";
        values[at("cs-host")] = "d2omsvnrx2yu4i.cloudfront.net";
        values[at("primary-distribution-id")] = "E2Q4ABCDEFGH";
        let line = values.join("\t") + "\n";
        let f = RealtimeFields::parse(&names.join(",")).unwrap();
        let mut p = LogParser::realtime(&f, FieldSet::ALL);
        let mut seen = Vec::new();
        p.process(line.as_bytes(), true, |r| {
            seen.push((
                r.timestamp_ms,
                r.time_taken_ms,
                r.field(Field::CsHost).to_vec(),
                r.field(Field::PrimaryDistributionId).to_vec(),
            ))
        })
        .unwrap();
        assert_eq!(p.stats().rejected, 0, "{:?}", p.stats().reject_samples);
        assert_eq!(
            seen,
            [(
                1_671_005_351_148,
                Some(1),
                b"d2omsvnrx2yu4i.cloudfront.net".to_vec(),
                b"E2Q4ABCDEFGH".to_vec()
            )]
        );
        // The same line read as the 44-field selection is refused, not mis-mapped.
        let short = RealtimeFields::parse(&names[..44].join(",")).unwrap();
        let mut p = LogParser::realtime(&short, FieldSet::ALL);
        p.process(line.as_bytes(), true, |_| panic!("mis-mapped"))
            .unwrap();
        assert_eq!(
            p.stats().reject_samples[0].reason,
            RejectReason::FieldCount { got: 45, want: 44 }
        );
    }

    #[test]
    fn a_standard_log_still_reads_by_its_header() {
        let f = RealtimeFields::parse("timestamp,sc-bytes").unwrap();
        let mut p = LogParser::realtime(&f, FieldSet::ALL);
        let text = "#Version: 1.0\n#Fields: date time sc-bytes\n2023-11-14\t22:13:20\t9\n";
        let mut n = 0;
        p.process(text.as_bytes(), true, |r| {
            assert_eq!(r.sc_bytes, 9);
            n += 1
        })
        .unwrap();
        assert_eq!((n, p.format()), (1, Some(crate::parse::Format::W3c)));
    }

    #[test]
    fn any_order_becomes_canonical_order() {
        let f = RealtimeFields::parse(" sc-bytes,timestamp , sc-status,sc-bytes").unwrap();
        assert_eq!(f.names(), ["timestamp", "sc-status", "sc-bytes"]);
        assert_eq!(f.to_string(), "timestamp,sc-status,sc-bytes");
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let e = RealtimeFields::parse("timestamp,cs(Host)").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("\"cs(Host)\""), "{text}");
        assert!(
            text.contains("cs-host") && text.contains("connection-id"),
            "{text}"
        );
        assert_eq!(
            RealtimeFields::parse(" , "),
            Err(RealtimeFieldsError::Empty)
        );
        assert_eq!(
            RealtimeFields::parse("sc-status"),
            Err(RealtimeFieldsError::NoTimestamp)
        );
    }

    #[test]
    fn every_canonical_field_can_be_selected() {
        let all = RealtimeFields::parse(&REALTIME_FIELDS.join(",")).unwrap();
        assert_eq!(all.names(), REALTIME_FIELDS);
    }
}

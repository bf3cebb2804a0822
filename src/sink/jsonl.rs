//! The dry-run sink: one JSON object per datum, exactly as it would be sent.
//!
//! `{"namespace":"CloudFront/AccessLogs","metric_name":"Requests","dimensions":{"DistributionId":"E2Q..."},"timestamp":"2026-11-21T12:34:00Z","unit":"Count","value":17}`;
//! a distribution datum has `"values":[...],"counts":[...]` instead of `value`.

use crate::datum::{Datum, DatumValue, STORAGE_RESOLUTION};
use crate::parse::value::format_rfc3339;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::io::{self, Write};

struct Dimensions<'a>(&'a Datum);

impl Serialize for Dimensions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.dimensions.len()))?;
        for (k, v) in self.0.dimensions.iter() {
            m.serialize_entry(k.name(), v)?;
        }
        m.end()
    }
}

/// A datum with its namespace, serialized in the dry-run JSON shape.
pub struct JsonDatum<'a> {
    pub namespace: &'a str,
    pub datum: &'a Datum,
}

impl Serialize for JsonDatum<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.datum;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("namespace", self.namespace)?;
        m.serialize_entry("metric_name", d.metric.name())?;
        m.serialize_entry("dimensions", &Dimensions(d))?;
        m.serialize_entry("timestamp", &format_rfc3339(d.timestamp_ms))?;
        m.serialize_entry("unit", d.metric.unit().as_str())?;
        m.serialize_entry("storage_resolution", &STORAGE_RESOLUTION)?;
        match &d.value {
            DatumValue::Value(v) => m.serialize_entry("value", v)?,
            DatumValue::Distribution { values, counts } => {
                m.serialize_entry("values", values)?;
                m.serialize_entry("counts", counts)?;
            }
        }
        m.end()
    }
}

/// Writes datums as JSON lines.
pub fn write<W: Write>(out: &mut W, namespace: &str, datums: &[Datum]) -> io::Result<()> {
    for datum in datums {
        serde_json::to_writer(&mut *out, &JsonDatum { namespace, datum })?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Metric;
    use crate::config::DimensionKey;
    use std::sync::Arc;

    #[test]
    fn shape_matches_the_contract() {
        let dims: Arc<[(DimensionKey, String)]> = Arc::from(vec![
            (DimensionKey::DistributionId, "E2Q4ABCDEFGH".to_owned()),
            (DimensionKey::EdgeLocation, "IAD89-C1".to_owned()),
        ]);
        let datums = vec![
            Datum {
                metric: Metric::Requests,
                dimensions: dims.clone(),
                timestamp_ms: 1_795_264_440_000,
                value: DatumValue::Value(17),
            },
            Datum {
                metric: Metric::TimeTaken,
                dimensions: dims,
                timestamp_ms: 1_795_264_440_000,
                value: DatumValue::Distribution {
                    values: vec![1, 82],
                    counts: vec![3, 1],
                },
            },
        ];
        let mut out = Vec::new();
        write(&mut out, "CloudFront/AccessLogs", &datums).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"namespace":"CloudFront/AccessLogs","metric_name":"Requests","dimensions":{"DistributionId":"E2Q4ABCDEFGH","EdgeLocation":"IAD89-C1"},"timestamp":"2026-11-21T12:34:00Z","unit":"Count","storage_resolution":60,"value":17}"#
        );
        assert!(lines[1].ends_with(
            r#""unit":"Milliseconds","storage_resolution":60,"values":[1,82],"counts":[3,1]}"#
        ));
    }
}

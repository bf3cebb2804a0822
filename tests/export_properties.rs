//! Property test of the export (issue 14): the same request logged as legacy W3C (with a
//! `#Fields` header), as v2 JSON and as a real-time record (by its field selection) gives the
//! same document, whatever its values.

use cloudfront_log_metrics::distribution::HostMap;
use cloudfront_log_metrics::export::privacy::Privacy;
use cloudfront_log_metrics::export::{ExportConfig, Exporter, OutputFormat};
use cloudfront_log_metrics::parse::RealtimeFields;
use proptest::prelude::*;
use serde_json::Value;

/// (W3C name, real-time name) of the fields the property covers.
const FIELDS: [(&str, &str); 10] = [
    ("c-ip", "c-ip"),
    ("sc-status", "sc-status"),
    ("sc-bytes", "sc-bytes"),
    ("cs-method", "cs-method"),
    ("cs(Host)", "cs-host"),
    ("cs-uri-stem", "cs-uri-stem"),
    ("x-edge-location", "x-edge-location"),
    ("time-taken", "time-taken"),
    ("cs(User-Agent)", "cs-user-agent"),
    ("x-edge-result-type", "x-edge-result-type"),
];

fn values() -> impl Strategy<Value = (i64, Vec<String>)> {
    (
        1_700_000_000i64..1_800_000_000,
        (
            prop_oneof![
                (0u8..=255, 0u8..=255).prop_map(|(a, b)| format!("198.51.{a}.{b}")),
                Just("2001:db8::1".to_owned()),
                Just("-".to_owned())
            ],
            prop_oneof![
                (100u16..600).prop_map(|s| s.to_string()),
                Just("-".to_owned())
            ],
            (0u64..10_000_000).prop_map(|b| b.to_string()),
            prop_oneof![Just("GET"), Just("POST"), Just("-")].prop_map(str::to_owned),
            "[a-z0-9]{1,10}\\.cloudfront\\.net",
            "/[A-Za-z0-9_./-]{0,20}(%20[a-z]{1,5})?",
            "[A-Z]{3}[0-9]{1,2}-[A-Z][0-9]",
            (0u32..600_000).prop_map(|ms| format!("{}.{:03}", ms / 1000, ms % 1000)),
            "[A-Za-z0-9/.;()-]{1,20}(%20[A-Za-z0-9/.]{1,8})?",
            prop_oneof![Just("Hit"), Just("Miss"), Just("Error"), Just("-")]
                .prop_map(str::to_owned),
        ),
    )
        .prop_map(|(secs, v)| (secs, vec![v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9]))
}

fn export(config: &ExportConfig, text: &str) -> Value {
    let mut e = Exporter::new(config, "src", "E2EXAMPLE1234");
    let mut out = Vec::new();
    e.feed(text.as_bytes(), true, &mut out);
    assert_eq!(
        e.stats().rejected,
        0,
        "{text}: {:?}",
        e.stats().reject_samples
    );
    serde_json::from_slice(&out).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn w3c_json_and_real_time_give_the_same_document((secs, v) in values()) {
        let realtime_names: Vec<&str> = std::iter::once("timestamp")
            .chain(FIELDS.iter().map(|f| f.1))
            .collect();
        let selection = RealtimeFields::parse(&realtime_names.join(",")).unwrap();
        let config = ExportConfig {
            format: OutputFormat::Ndjson,
            privacy: Privacy::default(),
            realtime: Some(selection.clone()),
            hosts: HostMap::default(),
        };
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = cloudfront_log_metrics::parse::value::civil_from_days(days);
        let (date, time) = (
            format!("{y:04}-{m:02}-{d:02}"),
            format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60),
        );
        let w3c = format!(
            "#Version: 1.0\n#Fields: date time {}\n{date}\t{time}\t{}\n",
            FIELDS.map(|f| f.0).join(" "),
            v.join("\t")
        );
        let mut obj = serde_json::Map::new();
        obj.insert("date".into(), date.clone().into());
        obj.insert("time".into(), time.clone().into());
        for (f, val) in FIELDS.iter().zip(&v) {
            obj.insert(f.0.into(), val.clone().into());
        }
        let json = Value::Object(obj).to_string() + "\n";
        // Real-time records carry the selection in canonical order.
        let by_name: std::collections::HashMap<&str, &String> =
            FIELDS.iter().map(|f| f.1).zip(&v).collect();
        let cols: Vec<String> = selection
            .names()
            .iter()
            .map(|n| match *n {
                "timestamp" => format!("{secs}.000"),
                n => by_name[n].clone(),
            })
            .collect();
        let realtime = cols.join("\t") + "\n";
        let a = export(&config, &w3c);
        prop_assert_eq!(&a, &export(&config, &json));
        prop_assert_eq!(&a, &export(&config, &realtime));
    }
}

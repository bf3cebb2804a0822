//! Unit tests of the settings reader: every variable, valid and invalid, from the environment and from flags.

use super::*;
use crate::catalogue::{Metric, MetricSet};
use crate::config::DimensionKey;
use std::collections::HashMap;

fn cfg(pairs: &[(&str, &str)]) -> Result<MetricsConfig, ConfigError> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    MetricsConfig::from_lookup(|k| m.get(k).map(|v| (v.clone(), k)))
}

#[test]
fn defaults() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.namespace, "CloudFront/AccessLogs");
    assert_eq!(c.dimension_sets, vec![vec![DimensionKey::DistributionId]]);
    assert_eq!(c.max_dimension_values, 50);
    assert!(c.include.contains(Metric::TimeTaken));
}

#[test]
fn dimension_sets_parse() {
    let c = cfg(&[(
        "METRICS_DIMENSIONS",
        "DistributionId; DistributionId,EdgeLocation;distributionid,statuscode",
    )])
    .unwrap();
    assert_eq!(c.dimension_sets.len(), 3);
    assert_eq!(
        c.dimension_sets[2],
        vec![DimensionKey::DistributionId, DimensionKey::StatusCode]
    );
    let e = cfg(&[("METRICS_DIMENSIONS", "DistributionId,ClientIp")]).unwrap_err();
    assert!(e.to_string().contains("ClientIp"), "{e}");
    assert!(cfg(&[("METRICS_DIMENSIONS", "Host,Host")]).is_err());
    assert!(cfg(&[("METRICS_DIMENSIONS", ";")]).is_err());
}

#[test]
fn include_and_numbers() {
    let c = cfg(&[("METRICS_INCLUDE", "Requests, BytesDownloaded")]).unwrap();
    assert!(c.include.contains(Metric::Requests));
    assert!(!c.include.contains(Metric::Hit));
    assert!(cfg(&[("METRICS_INCLUDE", "Requests,Nope")]).is_err());
    assert!(cfg(&[("METRICS_MAX_DIMENSION_VALUES", "0")]).is_err());
    assert!(cfg(&[("METRICS_MAX_DIMENSION_VALUES", "abc")]).is_err());
    assert!(cfg(&[("METRICS_NAMESPACE", "AWS/CloudFront")]).is_err());
    assert!(cfg(&[("DISTRIBUTION_ID", "not-an-id")]).is_err());
    assert_eq!(
        cfg(&[("DISTRIBUTION_ID", "E2EXAMPLE123")])
            .unwrap()
            .distribution_id
            .as_deref(),
        Some("E2EXAMPLE123")
    );
}

#[test]
fn settings_defaults_and_errors() {
    let m: HashMap<&str, &str> = HashMap::new();
    let s = Settings::from_lookup(|k| m.get(k).map(|v| (v.to_string(), k))).unwrap();
    assert_eq!(s, Settings::default());
    assert!(s.idempotency);
    let m: HashMap<&str, &str> = [
        ("METRICS_SINK", "emf"),
        ("IDEMPOTENCY", "off"),
        ("PUT_CONCURRENCY", "8"),
        ("MARKER_LEASE_SECONDS", "30"),
    ]
    .into_iter()
    .collect();
    let s = Settings::from_lookup(|k| m.get(k).map(|v| (v.to_string(), k))).unwrap();
    assert_eq!(s.sink, crate::sink::SinkKind::Emf);
    assert!(!s.idempotency);
    assert_eq!(s.put_concurrency, 8);
    assert_eq!(s.marker_lease_seconds, 30);
    let m: HashMap<&str, &str> = [("METRICS_SINK", "kinesis")].into_iter().collect();
    let e = Settings::from_lookup(|k| m.get(k).map(|v| (v.to_string(), k))).unwrap_err();
    assert!(e.to_string().contains("METRICS_SINK"), "{e}");
}

/// Settings from `pairs`, each found under the source `from` gives for its variable (the
/// variable itself for the environment, a flag name for `cflogs`).
fn settings_from(
    pairs: &[(&'static str, &str)],
    from: impl Fn(&'static str) -> &'static str,
) -> Result<Settings, ConfigError> {
    Settings::from_lookup(|k| {
        pairs
            .iter()
            .find(|(var, _)| *var == k)
            .map(|(_, v)| (v.to_string(), from(k)))
    })
}

/// Every variable, through the environment and through a flag: valid values with what they
/// set, invalid ones with the exact error, naming the variable or the flag.
#[test]
fn every_variable_valid_and_invalid() {
    type Check = fn(&Settings) -> bool;
    let valid: &[(&str, &str, Check)] = &[
        (env::NAMESPACE, " Test/CF ", |s| {
            s.metrics.namespace == "Test/CF"
        }),
        (
            env::DIMENSIONS,
            "DistributionId;DistributionId,Country",
            |s| s.metrics.dimension_sets.len() == 2,
        ),
        (env::INCLUDE, "Requests,timetaken", |s| {
            s.metrics.include.contains(Metric::TimeTaken)
                && !s.metrics.include.contains(Metric::Hit)
        }),
        (env::INCLUDE, "all", |s| {
            s.metrics.include == MetricSet::all()
        }),
        (env::MAX_DIMENSION_VALUES, "10000", |s| {
            s.metrics.max_dimension_values == 10_000
        }),
        (env::DISTRIBUTION_ID, "E2EXAMPLE123", |s| {
            s.metrics.distribution_id.as_deref() == Some("E2EXAMPLE123")
        }),
        (env::REALTIME_FIELDS, "sc-bytes, timestamp", |s| {
            s.metrics.realtime.as_ref().map(|f| f.to_string()) == Some("timestamp,sc-bytes".into())
        }),
        (
            env::DISTRIBUTION_HOSTS,
            "d111abcdef8.cloudfront.net=E2EXAMPLE123, www.example.com=E3EXAMPLE456",
            |s| s.metrics.distribution_hosts.get(b"WWW.example.com") == Some("E3EXAMPLE456"),
        ),
        (env::REALTIME_PUBLISH_DELAY_SECONDS, "5", |s| {
            s.realtime_publish_delay_seconds == 5
        }),
        (env::EXPORT_CLIENT_IP, "Remove", |s| {
            s.privacy.client_ip == crate::export::privacy::IpMode::Remove
        }),
        (env::EXPORT_COOKIES, "on", |s| s.privacy.cookies),
        (env::EXPORT_QUERY_STRINGS, "true", |s| {
            s.privacy.query_strings
        }),
        (env::EXPORT_REQUEST_IDS, "1", |s| s.privacy.request_ids),
        (env::EXPORT_HEADERS, "on", |s| s.privacy.headers),
        (env::EXPORT_SESSION_IDS, "on", |s| s.privacy.session_ids),
        (env::EXPORT_CONNECTION_IDS, "true", |s| {
            s.privacy.connection_ids
        }),
        (env::SINK, "EMF", |s| s.sink == crate::sink::SinkKind::Emf),
        (env::SINK, "cloudwatch", |s| {
            s.sink == crate::sink::SinkKind::CloudWatch
        }),
        (env::MAX_PARQUET_PAGE_BYTES, "1048576", |s| {
            s.max_parquet_page_bytes == 1 << 20
        }),
        (env::MAX_DECOMPRESSED_BYTES, "1", |s| {
            s.max_decompressed_bytes == 1
        }),
        (env::MAX_DECOMPRESSED_BYTES, "18446744073709551615", |s| {
            s.max_decompressed_bytes == u64::MAX
        }),
        (env::FILE_CONCURRENCY, "16", |s| s.file_concurrency == 16),
        (env::PUT_CONCURRENCY, " 1 ", |s| s.put_concurrency == 1),
        (env::IDEMPOTENCY, "on", |s| s.idempotency),
        (env::IDEMPOTENCY, "TRUE", |s| s.idempotency),
        (env::IDEMPOTENCY, "1", |s| s.idempotency),
        (env::IDEMPOTENCY, "Off", |s| !s.idempotency),
        (env::IDEMPOTENCY, "false", |s| !s.idempotency),
        (env::IDEMPOTENCY, "0", |s| !s.idempotency),
        (env::MARKER_BUCKET, " markers ", |s| {
            s.marker_bucket.as_deref() == Some("markers")
        }),
        (env::MARKER_PREFIX, "m/", |s| s.marker_prefix == "m/"),
        (env::ALLOW_NAMESPACE_OVERRIDE, "true", |s| {
            s.allow_namespace_override
        }),
        (env::ALLOW_NAMESPACE_OVERRIDE, "off", |s| {
            !s.allow_namespace_override
        }),
        (env::EXPORT_PREFIX, " export/ ", |s| {
            s.export_prefix == "export/"
        }),
        (env::BATCH_OPERATIONS_PREFIX, "b/", |s| {
            s.batch_operations_prefix == "b/"
        }),
        (env::MARKER_LEASE_SECONDS, "30", |s| {
            s.marker_lease_seconds == 30
        }),
        (env::NOW, "2026-11-20T13:00:00Z", |s| {
            s.now_ms == Some(1_795_179_600_000)
        }),
        (env::NOW, "2026-11-20t15:00:00.250+02:00", |s| {
            s.now_ms == Some(1_795_179_600_250)
        }),
        (env::NOW, "2026-11-20T13:00:00z", |s| {
            s.now_ms == Some(1_795_179_600_000)
        }),
        // Empty or blank: the default.
        (env::MAX_DECOMPRESSED_BYTES, " ", |s| {
            s.max_decompressed_bytes == DEFAULT_MAX_DECOMPRESSED_BYTES
        }),
    ];
    let invalid: &[(&str, &str, &str)] = &[
        (
            env::EXPORT_CLIENT_IP,
            "hash",
            r#""hash" is not one of truncate, remove, keep"#,
        ),
        (
            env::EXPORT_COOKIES,
            "maybe",
            r#""maybe" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::EXPORT_QUERY_STRINGS,
            "maybe",
            r#""maybe" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::EXPORT_REQUEST_IDS,
            "maybe",
            r#""maybe" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::EXPORT_HEADERS,
            "maybe",
            r#""maybe" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::EXPORT_SESSION_IDS,
            "maybe",
            r#""maybe" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::EXPORT_CONNECTION_IDS,
            "yes",
            r#""yes" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::MAX_PARQUET_PAGE_BYTES,
            "0",
            r#""0" is not a positive whole number"#,
        ),
        (
            env::REALTIME_FIELDS,
            "sc-status",
            "the selection has no timestamp field: real-time records without it cannot be placed in a minute",
        ),
        (
            env::DISTRIBUTION_HOSTS,
            "d111abcdef8.cloudfront.net=nope",
            r#""nope" is not a CloudFront distribution ID"#,
        ),
        (
            env::REALTIME_PUBLISH_DELAY_SECONDS,
            "-1",
            r#""-1" is not a positive whole number"#,
        ),
        (
            env::NAMESPACE,
            "AWS/CloudFront",
            r#"namespace "AWS/CloudFront" must be 1 to 255 characters and not start with "AWS/""#,
        ),
        (
            env::DIMENSIONS,
            "DistributionId,ClientIp",
            r#"unknown dimension key "ClientIp" (supported: DistributionId, EdgeLocation, Host, StatusCode, Method, Protocol, HttpVersion, ResultType, DetailedResultType, ContentType, Country, PathPattern)"#,
        ),
        (
            env::DIMENSIONS,
            "Host,host",
            r#"dimension set "Host,host" names Host twice"#,
        ),
        (env::DIMENSIONS, ";", "no dimension set given"),
        (
            env::INCLUDE,
            "Requests,Nope",
            r#"unknown metric "Nope" (see the metric catalogue in README)"#,
        ),
        (env::INCLUDE, ",", "no metric selected"),
        (
            env::MAX_DIMENSION_VALUES,
            "0",
            r#""0" is not a whole number from 1 to 10000"#,
        ),
        (
            env::MAX_DIMENSION_VALUES,
            "10001",
            r#""10001" is not a whole number from 1 to 10000"#,
        ),
        (
            env::DISTRIBUTION_ID,
            "not-an-id",
            r#""not-an-id" is not a CloudFront distribution ID"#,
        ),
        (
            env::SINK,
            "kinesis",
            r#""kinesis" is not one of cloudwatch, emf"#,
        ),
        (
            env::MAX_DECOMPRESSED_BYTES,
            "0",
            r#""0" is not a positive whole number"#,
        ),
        (
            env::MAX_DECOMPRESSED_BYTES,
            "-5",
            r#""-5" is not a positive whole number"#,
        ),
        (
            env::MAX_DECOMPRESSED_BYTES,
            "20GiB",
            r#""20GiB" is not a positive whole number"#,
        ),
        (
            env::MAX_PARQUET_PAGE_BYTES,
            "16MiB",
            r#""16MiB" is not a positive whole number"#,
        ),
        (
            env::FILE_CONCURRENCY,
            "0",
            r#""0" is not a whole number from 1 to 10000"#,
        ),
        (
            env::PUT_CONCURRENCY,
            "many",
            r#""many" is not a whole number from 1 to 10000"#,
        ),
        (
            env::IDEMPOTENCY,
            "yes",
            r#""yes" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::ALLOW_NAMESPACE_OVERRIDE,
            "yes",
            r#""yes" is not one of on, off (or true, false, 1, 0)"#,
        ),
        (
            env::MARKER_LEASE_SECONDS,
            "0",
            r#""0" is not a positive whole number"#,
        ),
        (
            env::MARKER_LEASE_SECONDS,
            "45s",
            r#""45s" is not a positive whole number"#,
        ),
        (
            env::NOW,
            "2026-11-20",
            r#""2026-11-20" is not an RFC 3339 time such as 2026-11-20T13:00:00Z"#,
        ),
        (
            env::NOW,
            "2026-11-20T13:00:00",
            r#""2026-11-20T13:00:00" is not an RFC 3339 time such as 2026-11-20T13:00:00Z"#,
        ),
    ];
    // Every variable has a row of each kind (AWS_MAX_ATTEMPTS is read by aws-config).
    for var in env::LAMBDA.iter().chain(&[env::NOW]) {
        let var = *var;
        if var == env::MAX_ATTEMPTS {
            continue;
        }
        assert!(valid.iter().any(|r| r.0 == var), "no valid value of {var}");
        let none_invalid = [
            env::MARKER_BUCKET,
            env::MARKER_PREFIX,
            env::EXPORT_PREFIX,
            env::BATCH_OPERATIONS_PREFIX,
        ];
        assert!(
            none_invalid.contains(&var) || invalid.iter().any(|r| r.0 == var),
            "no invalid value of {var}"
        );
    }
    let flag = |_: &'static str| "--some-flag";
    for &(var, value, check) in valid {
        for from in [(|v| v) as fn(&'static str) -> &'static str, flag] {
            let s = settings_from(&[(var, value)], from)
                .unwrap_or_else(|e| panic!("{var}={value:?}: {e}"));
            assert!(check(&s), "{var}={value:?}: {s:?}");
        }
    }
    for &(var, value, error) in invalid {
        let e = settings_from(&[(var, value)], |v| v).unwrap_err();
        assert_eq!(e.to_string(), format!("{var}: {error}"));
        let e = settings_from(&[(var, value)], flag).unwrap_err();
        assert_eq!(e.to_string(), format!("--some-flag: {error}"));
    }
}

/// `cflogs` overlays its flags on the environment: the flag's value wins, and its errors
/// name the flag.
#[test]
fn a_flag_overrides_the_environment() {
    let env: HashMap<&str, &str> = [("METRICS_NAMESPACE", "Env/NS"), ("PUT_CONCURRENCY", "2")]
        .into_iter()
        .collect();
    let flags: HashMap<&str, (&str, &'static str)> =
        [("METRICS_NAMESPACE", ("Flag/NS", "--namespace"))]
            .into_iter()
            .collect();
    let lookup = |k: &'static str| {
        flags
            .get(k)
            .map(|(v, f)| (v.to_string(), *f))
            .or_else(|| env.get(k).map(|v| (v.to_string(), k)))
    };
    let s = Settings::from_lookup(lookup).unwrap();
    assert_eq!(s.metrics.namespace, "Flag/NS");
    assert_eq!(s.put_concurrency, 2);
}

#[test]
fn fingerprint_tracks_what_shapes_datums() {
    let a = cfg(&[]).unwrap();
    let b = cfg(&[("METRICS_INCLUDE", "Requests")]).unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint(), cfg(&[]).unwrap().fingerprint());
    assert_eq!(a.fingerprint().len(), 16);
}

/// Issue 29: a Batch Operations job's `userArguments.namespace` may not publish elsewhere than
/// METRICS_NAMESPACE unless the stack allows it (ALLOW_NAMESPACE_OVERRIDE): the role's
/// cloudwatch:namespace condition does not apply to the EMF sink, whose namespace is just a
/// field of a log line.
#[test]
fn a_job_may_override_the_namespace_only_when_allowed() {
    use super::overrides::{ArgumentError, job_settings};
    use std::collections::BTreeMap;
    let args = |ns: &str| BTreeMap::from([("namespace".to_owned(), ns.to_owned())]);
    let base = settings_from(&[(env::NAMESPACE, "Mine/CDN"), (env::SINK, "emf")], |v| v).unwrap();
    assert!(!base.allow_namespace_override, "refused by default");
    let e = job_settings(&base, &args("Someone/Else")).unwrap_err();
    assert!(
        matches!(e, ArgumentError::NamespaceOverride { .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "userArguments.namespace: \"Someone/Else\" differs from METRICS_NAMESPACE \"Mine/CDN\"; \
         the function publishes to another namespace only with ALLOW_NAMESPACE_OVERRIDE=true"
    );
    // The function's own namespace is no override.
    let same = job_settings(&base, &args(" Mine/CDN ")).unwrap();
    assert_eq!(same.settings.metrics.namespace, "Mine/CDN");
    // Allowed by the stack: the job publishes where it says.
    let allowing = settings_from(
        &[
            (env::NAMESPACE, "Mine/CDN"),
            (env::ALLOW_NAMESPACE_OVERRIDE, "true"),
        ],
        |v| v,
    )
    .unwrap();
    assert!(allowing.allow_namespace_override);
    let other = job_settings(&allowing, &args("Backfill/Test")).unwrap();
    assert_eq!(other.settings.metrics.namespace, "Backfill/Test");
    // A bad value is still a bad value, allowed or not.
    assert!(matches!(
        job_settings(&allowing, &args("AWS/CloudFront")),
        Err(ArgumentError::Value(_))
    ));
}

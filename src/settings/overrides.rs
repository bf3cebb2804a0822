//! Per-job overrides of the metrics settings, as an S3 Batch Operations job's `userArguments`
//! carry them (and `cflogs backfill --argument` checks them before creating the job): read by
//! the same parsers as the environment. The job works in the function's own markers: a file's
//! marker records the series families published for it, and a job publishes only those missing.

use super::Settings;
use crate::config::{
    ConfigError, parse_dimension_sets, parse_include, parse_max_values, parse_namespace,
    parse_switch,
};
use std::collections::BTreeMap;

/// The `userArguments` keys, each with the name errors give it.
pub const ARGUMENTS: [(&str, &str); 5] = [
    ("namespace", "userArguments.namespace"),
    ("dimensions", "userArguments.dimensions"),
    ("include", "userArguments.include"),
    ("maxDimensionValues", "userArguments.maxDimensionValues"),
    ("dryRun", "userArguments.dryRun"),
];

/// `userArguments` that cannot be used: every task of the job fails for good.
#[derive(Debug, thiserror::Error)]
pub enum ArgumentError {
    #[error(
        "userArguments: unknown key {0:?} (known: namespace, dimensions, include, maxDimensionValues, dryRun)"
    )]
    Unknown(String),
    #[error(transparent)]
    Value(#[from] ConfigError),
    /// A namespace other than the function's, which the stack does not allow: with the EMF
    /// sink no IAM condition would stop it.
    #[error(
        "userArguments.namespace: {value:?} differs from METRICS_NAMESPACE {namespace:?}; the function publishes to another namespace only with ALLOW_NAMESPACE_OVERRIDE=true"
    )]
    NamespaceOverride { value: String, namespace: String },
}

/// The settings a job runs with: the function's, with the job's overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    pub settings: Settings,
    pub dry_run: bool,
}

/// Applies a job's `userArguments` to the function's settings (see the module documentation).
pub fn job_settings(
    base: &Settings,
    args: &BTreeMap<String, String>,
) -> Result<JobSettings, ArgumentError> {
    let mut s = base.clone();
    let mut dry_run = false;
    for (key, value) in args {
        let Some(&(_, from)) = ARGUMENTS.iter().find(|(k, _)| k == key) else {
            return Err(ArgumentError::Unknown(key.clone()));
        };
        let m = &mut s.metrics;
        match key.as_str() {
            "namespace" => {
                m.namespace = parse_namespace(from, value)?;
                if m.namespace != base.metrics.namespace && !base.allow_namespace_override {
                    return Err(ArgumentError::NamespaceOverride {
                        value: m.namespace.clone(),
                        namespace: base.metrics.namespace.clone(),
                    });
                }
            }
            "dimensions" => m.dimension_sets = parse_dimension_sets(from, value)?,
            "include" => m.include = parse_include(from, value)?,
            "maxDimensionValues" => m.max_dimension_values = parse_max_values(from, value)?,
            _ => dry_run = parse_switch(from, value)?,
        }
    }
    Ok(JobSettings {
        settings: s,
        dry_run,
    })
}

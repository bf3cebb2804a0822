//! cloudfront-log-metrics: CloudFront access logs in, CloudWatch metrics out.
//!
//! The pipeline is the architecture, one module per stage:
//! event → object stream ([`source`]) → decompress ([`decompress`]) → detect format and parse
//! ([`parse`]) → aggregate ([`aggregate`]) → datums ([`datum`]) → batches ([`batch`]) → sink
//! ([`sink`]). [`pipeline`] wires the core stages for one file; [`config`] holds the settings and
//! [`distribution`] finds a file's distribution ID from its key. [`idempotency`] makes publishing
//! exactly-once per log file version (S3 marker objects), and [`handler`] puts it all together
//! for the Lambda; [`backfill`] is the `cflogs` run over local files and S3 prefixes, on the same
//! core and publishing path.

pub mod aggregate;
pub mod aws;
pub mod backfill;
pub mod batch;
pub mod catalogue;
pub mod config;
pub mod datum;
pub mod decompress;
pub mod decompress_async;
pub mod dimension_value;
pub mod distribution;
pub mod error;
pub mod event;
pub mod handler;
pub mod hash;
pub mod idempotency;
pub mod memory;
pub mod object_store;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod report;
pub mod s3_object;
pub mod settings;
pub mod sink;
pub mod source;

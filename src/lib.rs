//! cloudfront-log-metrics: CloudFront access logs in, CloudWatch metrics out.
//!
//! The pipeline is the architecture: input → decompress/decode → parse → aggregate → datums →
//! batches → publish → sink. The **core** knows no AWS and no async runtime: plain functions
//! over bytes, testable with a string, each stage importing only the stages below it. The
//! **edges** (event shapes, object stores, sinks, markers, settings, entry points) depend on the
//! core, never the other way. `tests/architecture.rs` checks both, and that no imports form a
//! circle. The binaries (`src/main.rs`, the Lambda; `src/bin/cflogs/`) only read settings,
//! wire clients and map results to exit codes.

// ---- core, lowest stage first ----------------------------------------------------------------
// FNV-1a, the one stable hash (fingerprints, digests, long names).
pub mod hash;
// The metric catalogue: names, units, what each is computed from.
pub mod catalogue;
// Stage "parse": decompressed bytes to borrowed records, per line, format detected.
pub mod parse;
// Stage "decode", columnar: standard logging v2's Parquet files to the same records.
pub mod columnar;
// A log file's distribution ID and hour, from its key.
pub mod distribution;
// Errors that fail a whole file, naming it.
pub mod error;
// The metrics configuration (namespace, dimension sets, metrics, cardinality guard).
pub mod config;
// Stage "decompress": gzip or plain, sniffed, streamed over `Read`.
pub mod decompress;
// Dimension values escaped to what CloudWatch accepts.
pub mod dimension_value;
// Stage "aggregate": per distribution, minute and dimension row.
pub mod aggregate;
// Stage "datums": aggregates to CloudWatch datums.
pub mod datum;
// Stage "batches": datums to PutMetricData-sized batches.
pub mod batch;
// One file through the core stages.
pub mod pipeline;
// The state a Kinesis shard carries between invocations (checkpoint, pending rows, outbox).
pub mod shard_state;
// Run summaries for people (tables, closing lines).
pub mod report;
// Stage "export": records to typed, privacy-safe JSON documents (NDJSON, OpenSearch _bulk).
pub mod export;
// The traffic report (`cflogs report`): sketches, top-N lists, the report and its renderers.
pub mod traffic;

// ---- edges ------------------------------------------------------------------------------------
// Runtime settings from the environment and flags, one reader for the Lambda and `cflogs`.
pub mod settings;
// Lambda events: S3 notifications, SQS, EventBridge, on-failure records, Batch Operations jobs.
pub mod event;
// The S3 side of the object stream: GetObject and listing behind a small trait.
pub mod object_store;
// Local files and directories for `cflogs`.
pub mod source;
// The async twin of [`decompress`] for S3 byte streams.
pub mod decompress_async;
// Where batches go: PutMetricData, EMF, JSON lines.
pub mod sink;
// A neutral conditional object store (get with ETag; put if absent / if match).
pub mod conditional;
// Exactly-once bookkeeping: marker, store, claim and lease.
pub mod idempotency;
// The one publish loop and the ledger trait it records into (file markers, shard outboxes).
pub mod ledger;
// The one publish path: a unit's batches, exactly once under a marker, to a sink.
pub mod publish;
// One S3 object read and published through the publish path.
pub mod s3_object;
// Entry point: the Kinesis data stream: real-time records per shard, through the shard's state.
pub mod kinesis;
// Entry point: the Firehose transformation: records to documents.
pub mod firehose;
// Entry point: S3 Batch Operations tasks through the publish path, answered with result codes.
pub mod batch_ops;
// Entry point: the Lambda handler over events (dispatches on the event's shape).
pub mod handler;
// `cflogs export`: inputs streamed through the exporter into one output.
pub mod export_run;
// Entry point: the `cflogs process` run over local files and S3 prefixes.
pub mod backfill;
// Entry point: `cflogs backfill`, a prefix as an S3 Batch Operations job (manifest, CreateJob,
// progress and completion report).
pub mod backfill_job;
// Entry point: the `cflogs report` run over the same inputs, through the traffic core.
pub mod traffic_run;
// AWS clients built from the environment.
pub mod aws;
// In-memory doubles of the object store, conditional store and sink, for tests.
pub mod memory;

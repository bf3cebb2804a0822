#!/usr/bin/env bash
# Real-time logs, cost and delay at the defaults (issue 13): one shard at a steady 1,000
# records/s, delivered in batches of 10,000 every 10 s, through the Kinesis entry point with the
# in-memory state store and metric sink, in simulated time. Prints, per minute, the PutMetricData
# calls it took and how long after its end it was published; the test asserts <= 2 and <= 90 s.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --release --lib one_shard_at_1000_records_per_second -- --nocapture 2>&1 |
    grep -E '^minute|test result'

#!/usr/bin/env bash
# Real-time logs, cost and delay at the defaults (issue 13): one shard at a steady 1,000
# records/s, delivered in batches of 10,000 every 10 s, through the Kinesis entry point with the
# real S3 and CloudWatch clients against the moto stack, in simulated time. Prints, per minute,
# the PutMetricData calls it took and how long after its end it was published; the test asserts
# <= 2 calls and <= 90 s, and that CloudWatch holds each minute's 60,000 requests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-$(bash scripts/dev-venv.sh)}" cargo test --locked --release --test realtime_moto \
    one_shard_at_1000_records_per_second_over_moto -- --nocapture 2>&1 |
    grep -E '^minute|test result'

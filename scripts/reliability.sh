#!/usr/bin/env bash
# Runs the exactly-once / fault-injection scenarios of tests/exactly_once.rs against moto, in
# release mode, one at a time (so that each measures its own peak RSS), the heavy ones included
# (200-file soak, 4 GiB decompression bomb), and prints the reliability table as Markdown.
#
#   bash scripts/reliability.sh            # the table on stdout, test output in $OUT_DIR
#   VENV=/path/to/venv bash scripts/reliability.sh
#
# Needs the dev venv (scripts/dev-venv.sh). Columns: events = invocations (deliveries, Lambda's
# retries included); duplicates = files skipped because their marker said done; faults = faults
# injected by the adapter (or simulated by the test's sink); records = log records in the files;
# exact = CloudWatch's totals equal the totals computed while generating the logs; peak RSS = the
# test process's VmHWM during the scenario (the function's side; moto runs in its own process).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT_DIR=${OUT_DIR:-target/reliability}
mkdir -p "$OUT_DIR"
table="$OUT_DIR/rows.tsv"
log="$OUT_DIR/cargo-test.log"
: > "$table"

# CI=true: a missing venv fails instead of silently skipping every scenario.
started=$(date +%s)
if ! CI=true RUST_BACKTRACE=0 RELIABILITY_TABLE="$PWD/$table" \
    cargo test --release --test exactly_once -- \
    --include-ignored --test-threads=1 --nocapture >"$log" 2>&1; then
    status=failed
else
    status=passed
fi
elapsed=$(( $(date +%s) - started ))

echo "| scenario | events | duplicates | faults injected | records | totals exact | peak RSS (MB) | notes |"
echo "| --- | ---: | ---: | ---: | ---: | :---: | ---: | --- |"
awk -F'\t' '$1 == "RELIABILITY" {
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7, $8, $9
}' "$table"
echo
tests=$(grep -E '^test result:' "$log" | tail -1 || true)
echo "cargo test --release --test exactly_once (one at a time, ignored included): ${tests:-no result} (${elapsed} s wall, build included)"
if [ "$status" = failed ]; then
    echo "FAILED: see $log" >&2
    grep -E 'panicked|FAILED' "$log" >&2 || true
    exit 1
fi

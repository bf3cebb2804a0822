#!/usr/bin/env bash
# Instructions per record (callgrind), parse + aggregate + datums vs the `cloudfront-logs` crate's
# parser alone, on the same generated 33-field log. Counts are repeatable whatever else the
# machine runs, unlike the nanoseconds of `cargo bench` on a shared VM.
#
#   scripts/instructions.sh            # 20,000 records (RECORDS=...)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RECORDS=${RECORDS:-20000}
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --locked --example gen_logs >&2
cargo build --profile bench --locked --example per_record >&2
LOG=target/bench/plain-$RECORDS.log
mkdir -p target/bench
[[ -s $LOG ]] || target/release/examples/gen_logs --records "$RECORDS" --out "$LOG" 2>/dev/null
probe=target/release/examples/per_record # the bench profile writes to target/release
count() { # iterations mode
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$probe" "$LOG" "$1" "$2" 2>&1 |
        awk '/Collected/ { print $4 }'
}
per_record() { # mode
    local one five
    one=$(count 1 "$1")
    five=$(count 5 "$1")
    echo $(((five - one) / 4 / RECORDS))
}
CFLM=$(per_record cflm)
PEER=$(per_record peer)
echo "instructions per record ($RECORDS records, $(wc -c <"$LOG") bytes):"
echo "- cflm parse + aggregate + datums: $CFLM"
echo "- peer (cloudfront-logs ValidatedRawLogline) parse alone: $PEER"
awk -v c="$CFLM" -v p="$PEER" 'BEGIN { printf "- ratio peer / cflm: %.2f\n", p / c }'

#!/usr/bin/env bash
# Instructions per record (callgrind), parse + aggregate + datums vs the `cloudfront-logs` crate's
# parser alone, on the same generated 33-field log. Counts are repeatable whatever else the
# machine runs, unlike the nanoseconds of `cargo bench` on a shared VM.
#
#   scripts/instructions.sh            # 20,000 records (RECORDS=...)
#   BREAKDOWN=1 scripts/instructions.sh  # also: where cflm's instructions go, per stage
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

if [[ ${BREAKDOWN:-} == 1 ]]; then
    command -v callgrind_annotate >/dev/null || { echo "callgrind_annotate is required" >&2; exit 1; }
    out=target/bench/callgrind.out
    valgrind --tool=callgrind --callgrind-out-file="$out" "$probe" "$LOG" 5 cflm >/dev/null 2>&1
    # Inlining splits a function over several lines of the listing (one per source file); the
    # largest one is its inclusive total. Per record over 5 iterations, start-up included.
    echo "where cflm's instructions go (callgrind_annotate --inclusive, per record, approximate):"
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
        awk -v n=$((5 * RECORDS)) '
            $0 !~ /=>/ && match($0, /(split_line_avx2|split_line_with|Record::from_raw|Aggregator::add|datum::datums)( |$)/) {
                name = substr($0, RSTART, RLENGTH); sub(/ $/, "", name)
                ir = $1; gsub(",", "", ir)
                if (ir + 0 > best[name] + 0) best[name] = ir
            }
            END {
                split("split_line_avx2 split_line_with Record::from_raw Aggregator::add datum::datums", order, " ")
                for (i = 1; i <= 5; i++) if (order[i] in best) printf "- %-20s %6d\n", order[i], best[order[i]] / n
            }'
fi

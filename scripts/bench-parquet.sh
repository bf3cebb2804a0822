#!/usr/bin/env bash
# Benchmark of issue 16: the same records as a Parquet file (standard logging v2's Parquet output:
# string columns, Snappy, row groups of 100,000 rows) and as a gzip'd W3C log, each through
# `cflogs process --dry-run --output none`, in one run: wall time, CPU time (user + system) and
# peak RSS, medians of RUNS runs, and the Parquet / W3C ratios. Run by scripts/bench.sh too.
#
#   scripts/bench-parquet.sh                   # 1,400,000 records
#   RECORDS=200000 RUNS=3 scripts/bench-parquet.sh
#
# Output: a markdown report on stdout, also saved to target/bench/report-parquet-<size>.md.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS=${RECORDS:-1400000}
RUNS=${RUNS:-5}
SEED=${SEED:-42}
GROUP_ROWS=${GROUP_ROWS:-100000}
OUT_DIR=target/bench
mkdir -p "$OUT_DIR"
log() { echo "bench-parquet: $*" >&2; }

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
need_gnu_time

log "building release binaries"
cargo build --release --bin cflogs --example gen_logs --example w3c_to_parquet
CFLOGS=${CFLOGS_BIN:-target/release/cflogs}

W3C=$OUT_DIR/parquet-bench-$RECORDS.log.gz
PARQUET=$OUT_DIR/parquet-bench-$RECORDS-$GROUP_ROWS.parquet
if [[ ! -s $W3C ]]; then
    log "generating $W3C"
    target/release/examples/gen_logs --records "$RECORDS" --seed "$SEED" --out "$W3C.tmp.gz" 2>/dev/null
    mv "$W3C.tmp.gz" "$W3C"
fi
if [[ ! -s $PARQUET ]]; then
    log "converting to $PARQUET"
    target/release/examples/w3c_to_parquet "$W3C" "$PARQUET.tmp" --rows "$GROUP_ROWS"
    mv "$PARQUET.tmp" "$PARQUET"
fi

# gen_logs writes 2024-05-14 13:00-13:59 UTC: pin the clock so no record is skipped as stale.
ARGS=(process --dry-run --output none --distribution-id EBENCHMARK1 --now 2024-05-14T15:00:00Z)

# Both must give the same datums before their times mean anything.
"$CFLOGS" process --dry-run --output jsonl --distribution-id EBENCHMARK1 --now 2024-05-14T15:00:00Z "$W3C" | sort >"$OUT_DIR/parquet-bench-w3c.jsonl"
"$CFLOGS" process --dry-run --output jsonl --distribution-id EBENCHMARK1 --now 2024-05-14T15:00:00Z "$PARQUET" | sort >"$OUT_DIR/parquet-bench-parquet.jsonl"
if ! cmp -s "$OUT_DIR/parquet-bench-w3c.jsonl" "$OUT_DIR/parquet-bench-parquet.jsonl"; then
    echo "the Parquet file and the W3C log give different datums" >&2
    exit 1
fi
DATUMS=$(wc -l <"$OUT_DIR/parquet-bench-w3c.jsonl")

declare -A WALL CPU RSS
for kind in w3c parquet; do
    file=$W3C
    [[ $kind == parquet ]] && file=$PARQUET
    "$CFLOGS" "${ARGS[@]}" "$file" >/dev/null # warm-up
    : >"$OUT_DIR/parquet-bench-$kind.times"
    for ((r = 0; r < RUNS; r++)); do
        /usr/bin/time -f '%e %U %S %M' -a -o "$OUT_DIR/parquet-bench-$kind.times" "$CFLOGS" "${ARGS[@]}" "$file" >/dev/null
    done
    WALL[$kind]=$(awk '{ print $1 }' "$OUT_DIR/parquet-bench-$kind.times" | median)
    CPU[$kind]=$(awk '{ print $2 + $3 }' "$OUT_DIR/parquet-bench-$kind.times" | median)
    RSS[$kind]=$(awk '{ print $4 / 1024 }' "$OUT_DIR/parquet-bench-$kind.times" | median)
done

REPORT=$OUT_DIR/report-parquet-$RECORDS.md
{
    echo "## Parquet vs gzip'd W3C, the same $RECORDS records"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(nproc) CPUs; git: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "- W3C: \`$W3C\` ($(awk "BEGIN { printf \"%.1f\", $(stat -c %s "$W3C") / 1e6 }") MB gzip'd, 33 fields)"
    echo "- Parquet: \`$PARQUET\` ($(awk "BEGIN { printf \"%.1f\", $(stat -c %s "$PARQUET") / 1e6 }") MB, 33 string columns, Snappy, $GROUP_ROWS rows per row group)"
    echo "- command: \`cflogs ${ARGS[*]} FILE\`, medians of $RUNS runs after a warm-up (/usr/bin/time); both give the same $DATUMS datums"
    echo
    echo "| input | wall s | CPU s (user+sys) | peak RSS MiB |"
    echo "|---|---:|---:|---:|"
    for kind in w3c parquet; do
        printf '| %s | %.2f | %.2f | %.1f |\n' "$kind" "${WALL[$kind]}" "${CPU[$kind]}" "${RSS[$kind]}"
    done
    echo
    echo "Parquet / W3C: wall $(ratio "${WALL[parquet]}" "${WALL[w3c]}")×, CPU $(ratio "${CPU[parquet]}" "${CPU[w3c]}")×, peak RSS $(ratio "${RSS[parquet]}" "${RSS[w3c]}")×"
} | tee "$REPORT"
